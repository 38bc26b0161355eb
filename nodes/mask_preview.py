"""Mask Preview: the mask drawn over the image, to judge it at a glance."""

from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..smartmask.visualize import contrasting_color, overlay
from ..smartmask.tensors import as_image, mask_for
from ._comfy import to_compute, to_output

# "auto": the complement of the masked area's mean hue, so the tint never vanishes on a subject of its own colour.
COLORS = {
    "auto": None,
    "red": (1.0, 0.2, 0.1),
    "green": (0.1, 0.9, 0.2),
    "blue": (0.1, 0.4, 1.0),
    "magenta": (1.0, 0.1, 0.9),
}


class SmartMaskPreview(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SmartMaskPreview",
            display_name="Mask Preview (Smart Mask)",
            category="Smart Mask",
            description="Draws a mask over an image as a tinted overlay with an outline.",
            inputs=[
                io.Image.Input("image", tooltip="Image to draw on (usually the original)."),
                io.Mask.Input("mask", tooltip="Mask to show."),
                io.Combo.Input(
                    "color",
                    options=list(COLORS),
                    default="auto",
                    tooltip="Tint colour of the masked area. auto: the "
                    "complement of the masked area's mean hue (a blue tint on an orange "
                    "subject, magenta on green), so it always stands out.",
                ),
                io.Float.Input(
                    "opacity",
                    default=0.5,
                    min=0.0,
                    max=1.0,
                    step=0.05,
                    tooltip="How strongly the masked area is tinted.",
                ),
                io.Boolean.Input("outline", default=True, tooltip="Draw the mask's outline."),
            ],
            outputs=[io.Image.Output(display_name="overlay", tooltip="The image with the mask drawn over it.")],
        )

    @classmethod
    def execute(cls, image, mask, color, opacity, outline) -> io.NodeOutput:
        if color not in COLORS:  # ComfyUI 0.3.75 does not check a V3 combo's value against its options
            raise ValueError(f"unknown colour {color!r}: use one of {', '.join(COLORS)}")
        image, mask = to_compute(image, mask)
        img, m = mask_for(as_image(image, "image"), mask)
        rgb = COLORS[color] if COLORS[color] is not None else contrasting_color(img, m)
        return io.NodeOutput(*to_output(overlay(img, m, rgb, opacity, outline)))
