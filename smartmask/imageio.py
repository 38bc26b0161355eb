"""Reading and writing image files as ComfyUI-layout tensors (command line only)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps


def load_image(path) -> torch.Tensor:
    """Image file -> ``[1, H, W, 3]`` float 0..1 (EXIF rotation applied, alpha dropped, gray expanded)."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I"):
            arr = np.asarray(im, np.float32) / 65535.0
            arr = np.repeat(arr[..., None], 3, -1)
        else:
            arr = np.asarray(im.convert("RGB"), np.float32) / 255.0
    return torch.from_numpy(arr.copy())[None]


def to_uint8(t: torch.Tensor) -> np.ndarray:
    return (t.detach().float().cpu().clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)


def save_image(t: torch.Tensor, path) -> None:
    """Save ``[H, W, 3]`` or ``[1, H, W, 3]`` as an 8-bit file (PNG unless the suffix says otherwise)."""
    if t.ndim == 4:
        t = t[0]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(t)).save(path)


def save_mask(m: torch.Tensor, path) -> None:
    """Save ``[H, W]`` or ``[1, H, W]`` as an 8-bit grayscale PNG (white = taken from the edited image)."""
    if m.ndim == 3:
        m = m[0]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(m), mode="L").save(path)
