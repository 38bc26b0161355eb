"""Smart Mask (auto): the whole pipeline in one node, after your edit node."""

from __future__ import annotations

from ..smartmask.face_intent import FACE_MODES, resolve_mode
from ..smartmask.pipeline import AutoOptions, MaskOptions, auto
from ._comfy import face_model_dirs, progress, to_compute, to_output
from ._frontend_previews import preview_ui
from .difference_mask import CATEGORY, MASK_INPUTS, PAIR_INPUTS


class SmartMaskAuto:
    """One node after your edit node: difference -> face guard -> feather -> composite."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                **PAIR_INPUTS,
                "threshold": MASK_INPUTS["threshold"],
                "protect_faces": (
                    list(FACE_MODES),
                    {
                        "default": "auto",
                        "tooltip": "auto: keep the faces the edit only drifted pixel-identical to the original; a face the "
                        "edit changed (a new face, a mask, a headset, another species) is taken from the edit "
                        "whole. always: keep every detected face original. never: no face protection. "
                        "(Workflows saved with the old on/off switch: on = auto, off = never.)",
                    },
                ),
                "composite": (
                    ["alpha", "multiband"],
                    {
                        "default": "alpha",
                        "tooltip": "alpha: exact blend under the feathered mask. multiband: "
                        "Laplacian-pyramid blend, hides colour seams over a wider band.",
                    },
                ),
            },
            "optional": {
                "protect": (
                    "MASK",
                    {"tooltip": "Extra areas to keep original (from the mask editor or any other node)."},
                ),
            },
        }

    RETURN_TYPES = ("IMAGE", "MASK", "IMAGE", "IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask", "heatmap", "aligned_edited", "faces")
    OUTPUT_TOOLTIPS = (
        "The original with only the edit taken from the AI result.",
        "The final soft mask used for the composite.",
        "Difference heat-map.",
        "The edited image moved back into the original's frame.",
        "The protected face regions.",
    )
    OUTPUT_NODE = True  # its preview is re-sent when ComfyUI serves the node from its cache
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = "Fully automatic: keeps everything the edit was not meant to change, faces included."

    @classmethod
    def VALIDATE_INPUTS(cls, protect_faces):
        """Accepts the face modes and the old on/off value of ``protect_faces`` (saved workflows)."""
        try:
            resolve_mode(protect_faces)
        except ValueError as e:
            return str(e)
        return True

    def run(self, original, edited, threshold, protect_faces, composite, protect=None):
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
        return {"ui": ui, "result": to_output(res.image, res.mask, res.diff.heatmap, res.diff.aligned, res.faces)}
