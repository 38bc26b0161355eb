"""Difference Mask: original + edited -> the mask of what the edit changed."""

from __future__ import annotations

from ..smartmask.pipeline import MaskOptions, difference_mask
from ._comfy import options_from_inputs, progress, to_compute, to_output
from ._frontend_previews import preview_ui

CATEGORY = "Smart Mask"

# The tuning inputs (colour space, region sizes, hole filling, clean-up) are "advanced": the editor
# folds them away; threshold, regions, align and resize stay in view.
MASK_INPUTS = {
    "threshold": (
        "FLOAT",
        {
            "default": 0.0,
            "min": 0.0,
            "max": 100.0,
            "step": 0.1,
            "tooltip": "Colour difference (delta E) that counts as a change. 0 = automatic: estimated per "
            "image from the editor's drift noise; the value chosen is shown on the node.",
        },
    ),
    "color_space": (
        ["lab", "rgb"],
        {
            "advanced": True,
            "default": "lab",
            "tooltip": "lab: perceptual CIELAB delta E (recommended). rgb: plain RGB distance.",
        },
    ),
    "regions": (
        ["all", "largest", "relative"],
        {
            "default": "all",
            "tooltip": "all: every changed region above the minimum size (several garments, "
            "several people). largest: only the biggest region. relative: regions "
            "at least 'relative' times the biggest.",
        },
    ),
    "relative": (
        "FLOAT",
        {
            "advanced": True,
            "default": 0.1,
            "min": 0.0,
            "max": 1.0,
            "step": 0.01,
            "tooltip": "For regions = relative: keep regions at least this fraction of the largest one.",
        },
    ),
    "min_region": (
        "FLOAT",
        {
            "advanced": True,
            "default": 0.0005,
            "min": 0.0,
            "max": 0.5,
            "step": 0.0001,
            "tooltip": "Smallest region kept, as a fraction of the image area (0.0005 = 0.05 %).",
        },
    ),
    "fill_holes": (
        "BOOLEAN",
        {"advanced": True, "default": True, "tooltip": "Fill enclosed holes inside a changed region."},
    ),
    "cleanup": (
        "FLOAT",
        {
            "advanced": True,
            "default": 1.0,
            "min": 0.0,
            "max": 4.0,
            "step": 0.1,
            "tooltip": "Strength of the morphological clean-up (removes specks, bridges small gaps). 0 = off.",
        },
    ),
    "align": (
        "BOOLEAN",
        {
            "default": True,
            "tooltip": "Undo a global shift / scale / small rotation of the edited image before comparing. "
            "Nothing is warped when no motion is found.",
        },
    ),
    "resize_edited": (
        "BOOLEAN",
        {
            "default": True,
            "tooltip": "If the edited image has another size (editors round to multiples of 8 or 16), "
            "resize it to the original's size. Off: a size mismatch is an error.",
        },
    ),
}

PAIR_INPUTS = {
    "original": ("IMAGE", {"tooltip": "The image before the AI edit."}),
    "edited": ("IMAGE", {"tooltip": "The AI editor's result (same framing; a batch of 1 is used for every frame)."}),
}


# Node inputs whose names differ from their MaskOptions field; every other input has its field's name.
OPTION_FIELDS = {"color_space": "space", "resize_edited": "resize"}


class SmartMaskDifference:
    """Original + edited -> mask of what the edit changed, a heat-map and the aligned edited image."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {**PAIR_INPUTS, **MASK_INPUTS},
            "optional": {
                "guard": (
                    "MASK",
                    {
                        "tooltip": "Areas that must stay original, e.g. Face Guard's 'faces': removed from the mask, and "
                        "near them only strong changes count, so face drift cannot join the edit through the neck."
                    },
                )
            },
        }

    RETURN_TYPES = ("MASK", "IMAGE", "IMAGE")
    RETURN_NAMES = ("mask", "heatmap", "aligned_edited")
    OUTPUT_TOOLTIPS = (
        "Where the edit changed the image (1) and where it did not (0).",
        "Difference heat-map (brighter = more change) after drift compensation.",
        "The edited image moved back into the original's frame (identical to the input when no motion was found).",
    )
    OUTPUT_NODE = True  # its preview is re-sent when ComfyUI serves the node from its cache
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = "Finds the region an AI edit was meant to change, ignoring drift, noise and small global shifts."

    def run(self, original, edited, guard=None, **kw):
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
        return {"ui": ui, "result": to_output(res.mask, res.heatmap, res.aligned)}
