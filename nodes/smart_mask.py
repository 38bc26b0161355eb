"""Smart Mask (auto): the whole pipeline in one node, after your edit node."""

from __future__ import annotations

from comfy_api.v0_0_2 import io

from ..smartmask.face_intent import FACE_MODES, resolve_mode
from ..smartmask.pipeline import AutoOptions, MaskOptions, auto
from ._comfy import face_model_dirs, progress, to_compute, to_output
from ._frontend_previews import preview_ui
from .difference_mask import CATEGORY, pair_inputs, threshold_input


class SmartMaskAuto(io.ComfyNode):
    """One node after your edit node: difference -> face guard -> feather -> composite."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SmartMaskAuto",
            display_name="Smart Mask (auto)",
            category=CATEGORY,
            description="Fully automatic: keeps everything the edit was not meant to change, faces included.",
            inputs=[
                *pair_inputs(),
                threshold_input(),
                io.Combo.Input(
                    "protect_faces",
                    options=list(FACE_MODES),
                    default="auto",
                    tooltip="auto: keep the faces the edit only drifted pixel-identical to the original; a face the "
                    "edit changed (a new face, a mask, a headset, another species) is taken from the edit "
                    "whole. always: keep every detected face original. never: no face protection. "
                    "(Workflows saved with the old on/off switch: on = auto, off = never.)",
                ),
                io.Combo.Input(
                    "composite",
                    options=["alpha", "multiband"],
                    default="alpha",
                    tooltip="alpha: exact blend under the feathered mask. multiband: "
                    "Laplacian-pyramid blend, hides colour seams over a wider band.",
                ),
                io.Mask.Input(
                    "protect",
                    optional=True,
                    tooltip="Extra areas to keep original (from the mask editor or any other node).",
                ),
            ],
            outputs=[
                io.Image.Output(
                    display_name="image", tooltip="The original with only the edit taken from the AI result."
                ),
                io.Mask.Output(display_name="mask", tooltip="The final soft mask used for the composite."),
                io.Image.Output(display_name="heatmap", tooltip="Difference heat-map."),
                io.Image.Output(
                    display_name="aligned_edited", tooltip="The edited image moved back into the original's frame."
                ),
                io.Mask.Output(display_name="faces", tooltip="The protected face regions."),
            ],
            is_output_node=True,  # its preview is re-sent when ComfyUI serves the node from its cache
        )

    @classmethod
    def validate_inputs(cls, protect_faces) -> bool | str:
        """Accepts the face modes and the old on/off value of ``protect_faces`` (saved workflows)."""
        try:
            resolve_mode(protect_faces)
        except ValueError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, original, edited, threshold, protect_faces, composite, protect=None) -> io.NodeOutput:
        original, edited, protect = to_compute(original, edited, protect)
        opts = AutoOptions(
            MaskOptions(threshold=threshold),
            faces=resolve_mode(protect_faces),
            model_dirs=face_model_dirs(),
            method=composite,
        )
        res = auto(original, edited, opts, protect=protect, progress=progress(original.shape[0]))
        text = res.describe()
        if res.face_info.get("message"):  # which face detector, and why
            text += "\n" + res.face_info["message"]
        ui = preview_ui(
            "auto", text, original=original, result=res.image, mask=res.mask, heatmap=res.diff.heatmap, faces=res.faces
        )
        return io.NodeOutput(*to_output(res.image, res.mask, res.diff.heatmap, res.diff.aligned, res.faces), ui=ui)
