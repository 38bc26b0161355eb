"""Difference Mask and Smart Mask (auto): the nodes that find what the edit changed."""
from __future__ import annotations

from ..smartmask.face_intent import FACE_MODES, resolve_mode
from ..smartmask.pipeline import FeatherOptions, MaskOptions, auto, difference_mask
from ._comfy import face_model_dirs, progress, to_compute, to_output
from ._ui import preview_ui

CATEGORY = "Smart Mask"

MASK_INPUTS = {
    "threshold": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 100.0, "step": 0.1,
                            "tooltip": "Colour difference (delta E) that counts as a change. 0 = automatic: estimated per "
                                       "image from the editor's drift noise; the value chosen is shown on the node."}),
    "color_space": (["lab", "rgb"], {"default": "lab",
                                     "tooltip": "lab: perceptual CIELAB delta E (recommended). rgb: plain RGB distance."}),
    "regions": (["all", "largest", "relative"], {"default": "all",
                                                 "tooltip": "all: every changed region above the minimum size (several garments, "
                                                            "several people). largest: only the biggest region. relative: regions "
                                                            "at least 'relative' times the biggest."}),
    "relative": ("FLOAT", {"default": 0.1, "min": 0.0, "max": 1.0, "step": 0.01,
                           "tooltip": "For regions = relative: keep regions at least this fraction of the largest one."}),
    "min_region": ("FLOAT", {"default": 0.0005, "min": 0.0, "max": 0.5, "step": 0.0001,
                             "tooltip": "Smallest region kept, as a fraction of the image area (0.0005 = 0.05 %)."}),
    "fill_holes": ("BOOLEAN", {"default": True, "tooltip": "Fill enclosed holes inside a changed region."}),
    "cleanup": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 4.0, "step": 0.1,
                          "tooltip": "Strength of the morphological clean-up (removes specks, bridges small gaps). 0 = off."}),
    "align": ("BOOLEAN", {"default": True,
                          "tooltip": "Undo a global shift / scale / small rotation of the edited image before comparing. "
                                     "Nothing is warped when no motion is found."}),
    "resize_edited": ("BOOLEAN", {"default": True,
                                  "tooltip": "If the edited image has another size (editors round to multiples of 8 or 16), "
                                             "resize it to the original's size. Off: a size mismatch is an error."}),
}

PAIR_INPUTS = {
    "original": ("IMAGE", {"tooltip": "The image before the AI edit."}),
    "edited": ("IMAGE", {"tooltip": "The AI editor's result (same framing; a batch of 1 is used for every frame)."}),
}


def mask_options(threshold, color_space, regions, relative, min_region, fill_holes, cleanup, align, resize_edited):
    return MaskOptions(threshold=threshold, space=color_space, regions=regions, relative=relative,
                       min_region=min_region, fill_holes=fill_holes, cleanup=cleanup, align=align,
                       resize=resize_edited)


class SmartMaskDifference:
    """Original + edited -> mask of what the edit changed, a heat-map and the aligned edited image."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {**PAIR_INPUTS, **MASK_INPUTS},
                "optional": {"guard": ("MASK", {
                    "tooltip": "Areas that must stay original, e.g. Face Guard's 'faces': removed from the mask, and "
                               "near them only strong changes count, so face drift cannot join the edit through the neck."})}}

    RETURN_TYPES = ("MASK", "IMAGE", "IMAGE")
    RETURN_NAMES = ("mask", "heatmap", "aligned_edited")
    OUTPUT_TOOLTIPS = ("Where the edit changed the image (1) and where it did not (0).",
                       "Difference heat-map (brighter = more change) after drift compensation.",
                       "The edited image moved back into the original's frame (identical to the input when no motion was found).")
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = "Finds the region an AI edit was meant to change, ignoring drift, noise and small global shifts."

    def run(self, original, edited, guard=None, **kw):
        original, edited, guard = to_compute(original, edited, guard)
        res = difference_mask(original, edited, mask_options(**kw), progress(original.shape[0]), guard=guard)
        ui = preview_ui("difference", res.describe(), {"result": "aligned edit"}, original=original,
                        result=res.aligned, mask=res.mask, heatmap=res.heatmap)
        return {"ui": ui, "result": to_output(res.mask, res.heatmap, res.aligned)}


class SmartMaskAuto:
    """One node after your edit node: difference -> face guard -> feather -> composite."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                **PAIR_INPUTS,
                "threshold": MASK_INPUTS["threshold"],
                "protect_faces": (list(FACE_MODES), {
                    "default": "auto",
                    "tooltip": "auto: keep the faces the edit only drifted pixel-identical to the original; a face the "
                               "edit changed (a new face, a mask, a headset, another species) is taken from the edit "
                               "whole. always: keep every detected face original. never: no face protection. "
                               "(Workflows saved with the old on/off switch: on = auto, off = never.)"}),
                "composite": (["alpha", "multiband"], {"default": "alpha",
                                                       "tooltip": "alpha: exact blend under the feathered mask. multiband: "
                                                                  "Laplacian-pyramid blend, hides colour seams over a wider band."}),
            },
            "optional": {
                "protect": ("MASK", {"tooltip": "Extra areas to keep original (from the mask editor or any other node)."}),
            },
        }

    RETURN_TYPES = ("IMAGE", "MASK", "IMAGE", "IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask", "heatmap", "aligned_edited", "faces")
    OUTPUT_TOOLTIPS = ("The original with only the edit taken from the AI result.",
                       "The final soft mask used for the composite.",
                       "Difference heat-map.",
                       "The edited image moved back into the original's frame.",
                       "The protected face regions.")
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
        res = auto(original, edited, MaskOptions(threshold=threshold), FeatherOptions(),
                   faces=resolve_mode(protect_faces), model_dirs=face_model_dirs(), protect=protect, method=composite,
                   progress=progress(original.shape[0]))
        ui = preview_ui("auto", res.describe(), original=original, result=res.image, mask=res.mask,
                        heatmap=res.diff.heatmap, faces=res.faces)
        return {"ui": ui, "result": to_output(res.image, res.mask, res.diff.heatmap, res.diff.aligned, res.faces)}
