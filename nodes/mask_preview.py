"""Mask Preview: the mask drawn over the image, to judge it at a glance."""

from __future__ import annotations

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


class SmartMaskPreview:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Image to draw on (usually the original)."}),
                "mask": ("MASK", {"tooltip": "Mask to show."}),
                "color": (
                    list(COLORS),
                    {
                        "default": "auto",
                        "tooltip": "Tint colour of the masked area. auto: the "
                        "complement of the masked area's mean hue (a blue tint on an orange "
                        "subject, magenta on green), so it always stands out.",
                    },
                ),
                "opacity": (
                    "FLOAT",
                    {
                        "default": 0.5,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.05,
                        "tooltip": "How strongly the masked area is tinted.",
                    },
                ),
                "outline": ("BOOLEAN", {"default": True, "tooltip": "Draw the mask's outline."}),
            },
        }

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("overlay",)
    OUTPUT_TOOLTIPS = ("The image with the mask drawn over it.",)
    FUNCTION = "run"
    CATEGORY = "Smart Mask"
    DESCRIPTION = "Draws a mask over an image as a tinted overlay with an outline."

    def run(self, image, mask, color, opacity, outline):
        image, mask = to_compute(image, mask)
        img, m = mask_for(as_image(image, "image"), mask)
        rgb = COLORS[color] if COLORS[color] is not None else contrasting_color(img, m)
        return to_output(overlay(img, m, rgb, opacity, outline))
