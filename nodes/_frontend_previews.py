"""Previews for the pack's front end (``js/smart_mask.js``): small PNGs in ComfyUI's temp folder.

A node returns ``{"ui": preview_ui(...), "result": ...}``. The ``ui`` dict keeps the node's text
under ``"text"`` (as before) and adds one entry under ``PREVIEW_KEY``::

    {"kind": "auto", "batch": 4, "labels": {"original": "original", "result": "result"},
     "frames": [{"index": 0, "original": REF, "result": REF, "mask": REF, "heatmap": REF}, ...]}

where ``REF`` is ``{"filename", "subfolder", "type": "temp"}``, the reference ComfyUI's ``/view``
takes (the same as the built-in PreviewImage node's). The key is not ``"images"``, so the front
end's stock image preview stays out of the way; the pack's extension draws them instead.

Kept cheap: every layer is downscaled to at most ``MAX_SIDE`` px on its long side (less for
batches: about 4 megapixels per layer in all), saved with fast PNG compression, and a batch sends
at most ``MAX_FRAMES`` frames, spread evenly over it.
Masks are saved as 8-bit grey PNGs; images as RGB. A preview that cannot be written (no
ComfyUI, a full disk) is logged and left out: it never fails the node.
"""

from __future__ import annotations

import logging
import math
import os
import uuid

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

log = logging.getLogger("smart_mask")

PREVIEW_KEY = "smartmask_preview"
MAX_SIDE = 1024
MAX_FRAMES = 16
PNG_COMPRESS_LEVEL = 1
MASK_LAYERS = ("mask", "faces")


def temp_directory() -> str | None:
    try:
        import folder_paths
    except ImportError:
        return None
    return folder_paths.get_temp_directory()


def frame_indices(batch: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """All frames of a small batch; ``max_frames`` evenly spread ones (first and last included) of a big one."""
    if batch <= max_frames:
        return list(range(batch))
    return sorted({int(round(i * (batch - 1) / (max_frames - 1))) for i in range(max_frames)})


def preview_size(h: int, w: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    s = min(1.0, max_side / max(h, w))
    return max(1, int(round(h * s))), max(1, int(round(w * s)))


def batch_max_side(frames: int, max_side: int = MAX_SIDE) -> int:
    """Long side for ``frames`` frames: ``max_side`` up to 4 frames, then smaller (16 frames: half)."""
    return int(min(max_side, max_side * math.sqrt(4.0 / max(frames, 1))))


def _frame(t: torch.Tensor, i: int, is_mask: bool) -> torch.Tensor:
    """Frame ``i`` of an IMAGE ``[B, H, W, C]`` or MASK ``[H, W]`` / ``[B, H, W]`` as float ``[H, W, C]`` on the CPU.

    A batch of 1 is shown with every frame.
    """
    if is_mask:
        if t.dim() == 4:  # [B, 1, H, W] or [B, H, W, 1]
            t = t[:, 0] if t.shape[1] == 1 else t[..., 0]
        if t.dim() == 2:
            t = t[None]
        x = t[min(i, t.shape[0] - 1)][..., None]
    else:
        if t.dim() == 3:
            t = t[None]
        x = t[min(i, t.shape[0] - 1)]
        x = x[..., :3] if x.shape[-1] >= 3 else x[..., :1].expand(-1, -1, 3)
    return x.detach().to("cpu", torch.float32)


def _png(x: torch.Tensor, size: tuple[int, int], is_mask: bool) -> Image.Image:
    if tuple(x.shape[:2]) != size:
        x = F.interpolate(x.permute(2, 0, 1)[None], size=size, mode="bilinear", align_corners=False, antialias=True)[
            0
        ].permute(1, 2, 0)
    arr = x.mul(255.0).add_(0.5).clamp_(0.0, 255.0).to(torch.uint8).numpy()
    return Image.fromarray(arr[..., 0], "L") if is_mask else Image.fromarray(np.ascontiguousarray(arr), "RGB")


def _shape(t: torch.Tensor, is_mask: bool) -> tuple[int, int, int]:
    """(batch, height, width) of an IMAGE or MASK tensor."""
    if is_mask:
        if t.dim() == 4:
            t = t[:, 0] if t.shape[1] == 1 else t[..., 0]
        return (1, *t.shape) if t.dim() == 2 else tuple(t.shape)
    return (1, *t.shape[:2]) if t.dim() == 3 else tuple(t.shape[:3])


def save_previews(
    kind: str,
    layers: dict,
    labels: dict | None = None,
    directory: str | None = None,
    max_frames: int = MAX_FRAMES,
    max_side: int = MAX_SIDE,
) -> dict | None:
    """Write the preview PNGs of ``layers`` (name -> IMAGE or MASK tensor, None skipped); the payload.

    Every layer is resized to the size of the first one, downscaled to ``max_side`` (less for a
    batch of more than 4 frames, see ``batch_max_side``).
    """
    directory = directory or temp_directory()
    layers = {k: v for k, v in layers.items() if isinstance(v, torch.Tensor)}
    if directory is None or not layers:
        return None
    shapes = {k: _shape(v, k in MASK_LAYERS) for k, v in layers.items()}
    batch = max(s[0] for s in shapes.values())
    indices = frame_indices(batch, max_frames)
    _, h, w = next(iter(shapes.values()))
    size = preview_size(h, w, batch_max_side(len(indices), max_side))
    os.makedirs(directory, exist_ok=True)
    stem = f"smartmask_{kind}_{uuid.uuid4().hex[:12]}"
    frames = []
    for i in indices:
        frame = {"index": i}
        for name, t in layers.items():
            is_mask = name in MASK_LAYERS
            filename = f"{stem}_{i:05d}_{name}.png"
            _png(_frame(t, i, is_mask), size, is_mask).save(
                os.path.join(directory, filename), compress_level=PNG_COMPRESS_LEVEL
            )
            frame[name] = {"filename": filename, "subfolder": "", "type": "temp"}
        frames.append(frame)
    return {
        "kind": kind,
        "batch": int(batch),
        "width": size[1],
        "height": size[0],
        "labels": dict(labels or {}),
        "frames": frames,
    }


def preview_ui(kind: str, text: str | None = None, labels: dict | None = None, **layers) -> dict:
    """The node's ``ui`` dict: ``text`` (when given) and the previews of ``layers`` (when they could be saved)."""
    ui: dict = {}
    if text is not None:
        ui["text"] = [text]
    try:
        payload = save_previews(kind, layers, labels)
    except Exception as exc:  # a preview must never fail the node
        log.warning("Smart Mask: could not save the %s preview: %s", kind, exc)
        payload = None
    if payload is not None:
        ui[PREVIEW_KEY] = [payload]
    return ui
