"""Composite: the edit under the mask, the original everywhere else."""

from __future__ import annotations

from ..smartmask.pipeline import composite
from ._comfy import to_compute, to_output
from ._frontend_previews import preview_ui


class SmartMaskComposite:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "original": ("IMAGE", {"tooltip": "The image before the edit; kept exactly where the mask is 0."}),
                "edited": (
                    "IMAGE",
                    {
                        "tooltip": "The edited image (best: 'aligned_edited' from Difference Mask); "
                        "taken exactly where the mask is 1."
                    },
                ),
                "mask": ("MASK", {"tooltip": "Soft mask, 1 = take the edited image (e.g. from Feather)."}),
                "method": (
                    ["alpha", "multiband"],
                    {
                        "default": "alpha",
                        "tooltip": "alpha: exact blend under the mask. multiband: Laplacian-pyramid "
                        "blend that hides colour seams over a wider band.",
                    },
                ),
                "resize_edited": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Resize an edited image of another size to the original's size. "
                        "Off: a size mismatch is an error.",
                    },
                ),
                "harmonize": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Match the edit's colour and exposure to the original near the seam "
                        "(the editor's drift, fitted on the unchanged pixels, fades out a "
                        "short way inside the edit). Pixels outside the mask are never "
                        "changed.",
                    },
                ),
            },
        }

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The original with the edit composited in.",)
    OUTPUT_NODE = True  # its preview is re-sent when ComfyUI serves the node from its cache
    FUNCTION = "run"
    CATEGORY = "Smart Mask"
    DESCRIPTION = "Composite the edit into the original: pixel-identical to the original where the mask is 0."

    def run(self, original, edited, mask, method, resize_edited, harmonize=True):
        original, edited, mask = to_compute(original, edited, mask)
        image = composite(original, edited, mask, method, resize_edited, harmonize)
        return {"ui": preview_ui("composite", original=original, result=image, mask=mask), "result": to_output(image)}
