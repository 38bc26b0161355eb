"""Feather: grow/shrink, close gaps, edge-aware refinement and a soft edge."""

from __future__ import annotations

from ..smartmask.pipeline import FeatherOptions, exclude_after, feather_mask, feather_pixels
from ..smartmask.tensors import as_image, as_mask, check_pixel_sizes
from ._comfy import to_compute, to_output


class SmartMaskFeather:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mask": ("MASK", {"tooltip": "The mask to shape."}),
                "size_mode": (
                    ["auto", "pixels"],
                    {
                        "default": "auto",
                        "tooltip": "auto: grow, feather and edge radius scale with the image diagonal (the defaults of "
                        "Smart Mask (auto)); the pixel values below are ignored. pixels: use them as given.",
                    },
                ),
                "grow": (
                    "INT",
                    {
                        "default": 4,
                        "min": -256,
                        "max": 256,
                        "step": 1,
                        "tooltip": "Pixels to grow (positive) or shrink (negative) the mask (size_mode = pixels). "
                        "At most a quarter of the image's short side (16 px on tiny images).",
                    },
                ),
                "feather": (
                    "FLOAT",
                    {
                        "default": 3.0,
                        "min": 0.0,
                        "max": 512.0,
                        "step": 0.5,
                        "tooltip": "Gaussian feather radius (sigma) in pixels (size_mode = pixels).",
                    },
                ),
                "close_gaps": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 256,
                        "step": 1,
                        "tooltip": "Bridge gaps narrower than about twice this many pixels (size_mode = pixels). "
                        "At most a quarter of the image's short side (16 px on tiny images).",
                    },
                ),
                "edge_aware": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Snap the mask edge to real edges of the guide image (guided filter). "
                        "Needs the image input.",
                    },
                ),
            },
            "optional": {
                "image": ("IMAGE", {"tooltip": "Guide for the edge-aware step: the ORIGINAL image."}),
                "exclude": (
                    "MASK",
                    {
                        "tooltip": "Areas forced back to 0 AFTER feathering, so the soft edge never spreads "
                        "into them: connect Face Guard's 'faces' output here."
                    },
                ),
            },
        }

    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("mask",)
    OUTPUT_TOOLTIPS = ("The shaped, soft mask.",)
    FUNCTION = "run"
    CATEGORY = "Smart Mask"
    DESCRIPTION = "Grow or shrink, close gaps and feather a mask; optionally edge-aware on the original image."

    def run(self, mask, size_mode, grow, feather, close_gaps, edge_aware, image=None, exclude=None):
        mask, image, exclude = to_compute(mask, image, exclude)
        return to_output(
            exclude_after(self._shape(mask, size_mode, grow, feather, close_gaps, edge_aware, image), exclude)
        )

    @staticmethod
    def _shape(mask, size_mode, grow, feather, close_gaps, edge_aware, image):
        guide = image if edge_aware else None
        if size_mode == "auto":
            return feather_mask(mask, guide, FeatherOptions(edge_aware=guide is not None))
        h, w = (as_mask(mask) if guide is None else as_image(guide, "image")).shape[1:3]
        check_pixel_sizes(h, w, grow=grow, close_gaps=close_gaps)
        return feather_pixels(mask, guide, grow, feather, close_gaps)
