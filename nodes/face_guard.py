"""Face Guard: remove faces (and any protect mask) from an edit mask."""

from __future__ import annotations

import torch
from comfy_api.v0_0_2 import io

from ..smartmask.face_intent import FACE_MODES
from ..smartmask.faces import DEFAULT_PADDING, DEFAULT_SOFTNESS, guard_faces
from ._comfy import face_model_dirs, progress, to_compute, to_output
from ._frontend_previews import preview_ui


class SmartMaskFaceGuard(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SmartMaskFaceGuard",
            display_name="Face Guard (Smart Mask)",
            category="Smart Mask",
            description="Keeps faces out of the edit: soft ellipses from detector landmarks, so a neckline edit can "
            "still reach the jaw. With the edited image connected (mode auto) only the faces the edit kept are "
            "protected.",
            inputs=[
                io.Image.Input("image", tooltip="The ORIGINAL image: faces are found where they were before the edit."),
                io.Combo.Input(
                    "detector",
                    options=["auto", "yunet", "mtcnn", "none"],
                    default="auto",
                    tooltip="auto: YuNet when models/facedetection/face_detection_yunet_2023mar.onnx is present "
                    "(fetched once on first use when online), else the built-in offline MTCNN. "
                    "none: only the protect mask is used.",
                ),
                io.Float.Input(
                    "padding",
                    default=DEFAULT_PADDING,
                    min=0.0,
                    max=1.0,
                    step=0.01,
                    tooltip="Grow each face ellipse by this fraction of the face size.",
                ),
                io.Float.Input(
                    "softness",
                    default=DEFAULT_SOFTNESS,
                    min=0.0,
                    max=1.0,
                    step=0.01,
                    tooltip="Width of the soft edge of each face ellipse, as a fraction of the face size.",
                ),
                io.Combo.Input(
                    "mode",
                    options=list(FACE_MODES),
                    default="auto",
                    tooltip="auto: protect only the faces the edit kept (drift), judged against 'edited'; a face the "
                    "edit changed (a new face, a mask, a headset, another species) joins the edit mask whole. "
                    "Without 'edited' every face is protected. always: protect every face. never: no face, "
                    "only the protect mask.",
                ),
                io.Mask.Input(
                    "mask",
                    optional=True,
                    tooltip="The edit mask to protect faces from (e.g. from Difference Mask). "
                    "Not connected: the output mask is everything except the faces.",
                ),
                io.Mask.Input(
                    "protect",
                    optional=True,
                    tooltip="Extra areas to keep original (from the mask editor or any other node).",
                ),
                io.Image.Input(
                    "edited",
                    optional=True,
                    tooltip="The AI editor's result: with mode auto, each face is protected only if the edit kept it.",
                ),
            ],
            outputs=[
                io.Mask.Output(display_name="mask", tooltip="The input mask with faces and protected areas removed."),
                io.Mask.Output(display_name="faces", tooltip="The soft face regions that were protected."),
            ],
            is_output_node=True,  # its preview is re-sent when ComfyUI serves the node from its cache
        )

    @classmethod
    def execute(
        cls, image, detector, padding, softness, mode="auto", mask=None, protect=None, edited=None
    ) -> io.NodeOutput:
        image, mask, protect, edited = to_compute(image, mask, protect, edited)
        if mask is None:
            mask = torch.ones(image.shape[:3], device=image.device)
        guarded, faces, info = guard_faces(
            image,
            mask,
            protect,
            detector=detector,
            model_dirs=face_model_dirs(),
            padding=padding,
            softness=softness,
            progress=progress(image.shape[0]),
            edited=edited,
            mode=mode,
        )
        counts = info["faces_per_frame"]
        text = f"faces protected: {sum(counts)} (detector: {info['detector']})"
        if info.get("summary"):
            text += "\n" + info["summary"]
        if info.get("message"):
            text += "\n" + info["message"]
        ui = preview_ui("faceguard", text, original=image, mask=guarded, faces=faces)
        return io.NodeOutput(*to_output(guarded, faces), ui=ui)
