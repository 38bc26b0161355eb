"""Composite: the edit under the mask, the original everywhere else."""

from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..smartmask.pipeline import composite
from ._comfy import to_compute, to_output
from ._frontend_previews import preview_ui


class SmartMaskComposite(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SmartMaskComposite",
            display_name="Composite (Smart Mask)",
            category="Smart Mask",
            description="Composite the edit into the original: pixel-identical to the original where the mask is 0.",
            inputs=[
                io.Image.Input("original", tooltip="The image before the edit; kept exactly where the mask is 0."),
                io.Image.Input(
                    "edited",
                    tooltip="The edited image (best: 'aligned_edited' from Difference Mask); "
                    "taken exactly where the mask is 1.",
                ),
                io.Mask.Input("mask", tooltip="Soft mask, 1 = take the edited image (e.g. from Feather)."),
                io.Combo.Input(
                    "method",
                    options=["alpha", "multiband"],
                    default="alpha",
                    tooltip="alpha: exact blend under the mask. multiband: Laplacian-pyramid "
                    "blend that hides colour seams over a wider band.",
                ),
                io.Boolean.Input(
                    "resize_edited",
                    default=True,
                    tooltip="Resize an edited image of another size to the original's size. "
                    "Off: a size mismatch is an error.",
                ),
                io.Boolean.Input(
                    "harmonize",
                    default=True,
                    tooltip="Match the edit's colour and exposure to the original near the seam "
                    "(the editor's drift, fitted on the unchanged pixels, fades out a "
                    "short way inside the edit). Pixels outside the mask are never "
                    "changed.",
                ),
            ],
            outputs=[io.Image.Output(display_name="image", tooltip="The original with the edit composited in.")],
            is_output_node=True,  # its preview is re-sent when ComfyUI serves the node from its cache
        )

    @classmethod
    def execute(cls, original, edited, mask, method, resize_edited, harmonize=True) -> io.NodeOutput:
        original, edited, mask = to_compute(original, edited, mask)
        image = composite(original, edited, mask, method, resize_edited, harmonize)
        return io.NodeOutput(*to_output(image), ui=preview_ui("composite", original=original, result=image, mask=mask))
