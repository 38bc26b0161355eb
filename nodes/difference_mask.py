"""Difference Mask: original + edited -> the mask of what the edit changed."""

from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..smartmask.pipeline import MaskOptions, difference_mask
from ._comfy import advanced, options_from_inputs, progress, to_compute, to_output
from ._frontend_previews import preview_ui

CATEGORY = "Smart Mask"


def threshold_input() -> io.Float.Input:
    return io.Float.Input(
        "threshold",
        default=0.0,
        min=0.0,
        max=100.0,
        step=0.1,
        tooltip="Colour difference (delta E) that counts as a change. 0 = automatic: estimated per "
        "image from the editor's drift noise; the value chosen is shown on the node.",
    )


def mask_inputs() -> list:
    """Difference Mask's widgets, in the order saved workflows store them. The tuning inputs (colour
    space, region sizes, hole filling, clean-up) are advanced: the editor folds them away; threshold,
    regions, align and resize stay in view."""
    return [
        threshold_input(),
        advanced(
            io.Combo.Input(
                "color_space",
                options=["lab", "rgb"],
                default="lab",
                tooltip="lab: perceptual CIELAB delta E (recommended). rgb: plain RGB distance.",
            )
        ),
        io.Combo.Input(
            "regions",
            options=["all", "largest", "relative"],
            default="all",
            tooltip="all: every changed region above the minimum size (several garments, "
            "several people). largest: only the biggest region. relative: regions "
            "at least 'relative' times the biggest.",
        ),
        advanced(
            io.Float.Input(
                "relative",
                default=0.1,
                min=0.0,
                max=1.0,
                step=0.01,
                tooltip="For regions = relative: keep regions at least this fraction of the largest one.",
            )
        ),
        advanced(
            io.Float.Input(
                "min_region",
                default=0.0005,
                min=0.0,
                max=0.5,
                step=0.0001,
                tooltip="Smallest region kept, as a fraction of the image area (0.0005 = 0.05 %).",
            )
        ),
        advanced(io.Boolean.Input("fill_holes", default=True, tooltip="Fill enclosed holes inside a changed region.")),
        advanced(
            io.Float.Input(
                "cleanup",
                default=1.0,
                min=0.0,
                max=4.0,
                step=0.1,
                tooltip="Strength of the morphological clean-up (removes specks, bridges small gaps). 0 = off.",
            )
        ),
        io.Boolean.Input(
            "align",
            default=True,
            tooltip="Undo a global shift and scale of the edited image before comparing. "
            "Nothing is warped when no motion is found.",
        ),
        io.Boolean.Input(
            "resize_edited",
            default=True,
            tooltip="If the edited image has another size (editors round to multiples of 8 or 16), "
            "resize it to the original's size. Off: a size mismatch is an error.",
        ),
    ]


def pair_inputs() -> list:
    return [
        io.Image.Input("original", tooltip="The image before the AI edit."),
        io.Image.Input(
            "edited", tooltip="The AI editor's result (same framing; a batch of 1 is used for every frame)."
        ),
    ]


# Node inputs whose names differ from their MaskOptions field; every other input has its field's name.
OPTION_FIELDS = {"color_space": "space", "resize_edited": "resize"}


class SmartMaskDifference(io.ComfyNode):
    """Original + edited -> mask of what the edit changed, a heat-map and the aligned edited image."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SmartMaskDifference",
            display_name="Difference Mask (Smart Mask)",
            category=CATEGORY,
            description="Finds the region an AI edit was meant to change, ignoring drift, noise and small global "
            "shifts.",
            inputs=[
                *pair_inputs(),
                *mask_inputs(),
                io.Mask.Input(
                    "guard",
                    optional=True,
                    tooltip="Areas that must stay original, e.g. Face Guard's 'faces': removed from the mask, and "
                    "near them only strong changes count, so face drift cannot join the edit through the neck.",
                ),
            ],
            outputs=[
                io.Mask.Output(
                    display_name="mask", tooltip="Where the edit changed the image (1) and where it did not (0)."
                ),
                io.Image.Output(
                    display_name="heatmap",
                    tooltip="Difference heat-map (brighter = more change) after drift compensation.",
                ),
                io.Image.Output(
                    display_name="aligned_edited",
                    tooltip="The edited image moved back into the original's frame (identical to the input when no "
                    "motion was found).",
                ),
            ],
            is_output_node=True,  # its preview is re-sent when ComfyUI serves the node from its cache
        )

    @classmethod
    def execute(cls, original, edited, guard=None, **kw) -> io.NodeOutput:
        original, edited, guard = to_compute(original, edited, guard)
        res = difference_mask(
            original,
            edited,
            options_from_inputs(MaskOptions, kw, OPTION_FIELDS),
            progress(original.shape[0]),
            guard=guard,
        )
        ui = preview_ui(
            "difference",
            res.describe(),
            {"result": "aligned edit"},
            original=original,
            result=res.aligned,
            mask=res.mask,
            heatmap=res.heatmap,
        )
        return io.NodeOutput(*to_output(res.mask, res.heatmap, res.aligned), ui=ui)
