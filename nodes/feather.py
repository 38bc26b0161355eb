"""Feather: grow/shrink, close gaps, edge-aware refinement and a soft edge."""

from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..smartmask.pipeline import FeatherOptions, exclude_after, feather_mask, feather_pixels
from ..smartmask.tensors import as_image, as_mask, check_pixel_sizes
from ._comfy import to_compute, to_output

SIZE_MODES = ("auto", "pixels")


class SmartMaskFeather(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SmartMaskFeather",
            display_name="Feather Mask (Smart Mask)",
            category="Smart Mask",
            description="Grow or shrink, close gaps and feather a mask; optionally edge-aware on the original image.",
            inputs=[
                io.Mask.Input("mask", tooltip="The mask to shape."),
                io.Combo.Input(
                    "size_mode",
                    options=list(SIZE_MODES),
                    default="auto",
                    tooltip="auto: grow, feather and edge radius scale with the image diagonal (the defaults of "
                    "Smart Mask (auto)); the pixel values below are ignored. pixels: use them as given.",
                ),
                io.Int.Input(
                    "grow",
                    default=4,
                    min=-256,
                    max=256,
                    step=1,
                    tooltip="Pixels to grow (positive) or shrink (negative) the mask (size_mode = pixels). "
                    "At most a quarter of the image's short side (16 px on tiny images).",
                ),
                io.Float.Input(
                    "feather",
                    default=3.0,
                    min=0.0,
                    max=512.0,
                    step=0.5,
                    tooltip="Gaussian feather radius (sigma) in pixels (size_mode = pixels).",
                ),
                io.Int.Input(
                    "close_gaps",
                    default=0,
                    min=0,
                    max=256,
                    step=1,
                    tooltip="Bridge gaps narrower than about twice this many pixels (size_mode = pixels). "
                    "At most a quarter of the image's short side (16 px on tiny images).",
                ),
                io.Boolean.Input(
                    "edge_aware",
                    default=True,
                    tooltip="Snap the mask edge to real edges of the guide image (guided filter). "
                    "Needs the image input.",
                ),
                io.Image.Input("image", optional=True, tooltip="Guide for the edge-aware step: the ORIGINAL image."),
                io.Mask.Input(
                    "exclude",
                    optional=True,
                    tooltip="Areas forced back to 0 AFTER feathering, so the soft edge never spreads "
                    "into them: connect Face Guard's 'faces' output here.",
                ),
            ],
            outputs=[io.Mask.Output(display_name="mask", tooltip="The shaped, soft mask.")],
        )

    @classmethod
    def execute(cls, mask, size_mode, grow, feather, close_gaps, edge_aware, image=None, exclude=None) -> io.NodeOutput:
        mask, image, exclude = to_compute(mask, image, exclude)
        shaped = cls._shape(mask, size_mode, grow, feather, close_gaps, edge_aware, image)
        return io.NodeOutput(*to_output(exclude_after(shaped, exclude)))

    @staticmethod
    def _shape(mask, size_mode, grow, feather, close_gaps, edge_aware, image):
        if size_mode not in SIZE_MODES:  # ComfyUI 0.3.75 does not check a V3 combo's value against its options
            raise ValueError(f"unknown size_mode {size_mode!r}: use one of {', '.join(SIZE_MODES)}")
        guide = image if edge_aware else None
        if size_mode == "auto":
            return feather_mask(mask, guide, FeatherOptions(edge_aware=guide is not None))
        h, w = (as_mask(mask) if guide is None else as_image(guide, "image")).shape[1:3]
        check_pixel_sizes(h, w, grow=grow, close_gaps=close_gaps)
        return feather_pixels(mask, guide, grow, feather, close_gaps)
