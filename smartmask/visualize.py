"""Pictures for people: a difference heat-map and a mask overlay."""

from __future__ import annotations

import colorsys
import functools
import math

import cv2
import numpy as np
import torch

from .blur import opencv_frames, upscale
from .tensors import copy_around_box, expand_batch, new_like

# A compact perceptual ramp (black -> blue -> magenta -> orange -> yellow), 'inferno'-like.
_RAMP = torch.tensor(
    [
        [0.0, 0.0, 0.02],
        [0.26, 0.04, 0.41],
        [0.58, 0.15, 0.40],
        [0.87, 0.32, 0.23],
        [0.99, 0.65, 0.04],
        [0.98, 1.0, 0.64],
    ]
)


def heatmap(d: torch.Tensor, scale: float) -> torch.Tensor:
    """Colour ``[B, H, W]`` differences as ``[B, H, W, 3]``; ``scale`` (the high threshold) maps to 2/3 of the ramp.

    On the CPU the ramp is read from a 256-entry table by OpenCV (a step of 1/256 of the ramp is
    invisible, and it is eight times faster than the interpolation below)."""
    t = _position(d, scale)
    if t.device.type == "cpu":
        return opencv_frames(_table_index(t), _colour)
    return _ramp(t)


def heatmap_at(d: torch.Tensor, scale: float, size: tuple[int, int]) -> torch.Tensor:
    """``heatmap(d, scale)`` enlarged (bilinear) to ``size`` (h, w): ``[B, h, w, 3]``.

    On the CPU the ramp position is enlarged as one uint8 channel and coloured at full size by the
    look-up table, instead of enlarging three float colour channels (timings: benchmarks/README.md,
    "Fast paths").
    """
    if d.device.type != "cpu":
        return upscale(heatmap(d, scale).permute(0, 3, 1, 2), size).permute(0, 2, 3, 1).contiguous()
    index = _table_index(_position(d, scale))
    # coloured straight into one numpy-allocated batch (huge pages; no per-frame result to stack)
    out = np.empty((index.shape[0], size[0], size[1], 3), np.float32)
    for f, dst in zip(index, out):
        _colour(cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_LINEAR), dst)
    return torch.from_numpy(out)


def _position(d: torch.Tensor, scale: float) -> torch.Tensor:
    """Where each difference lies along the ramp, 0..1 (``scale`` at 2/3)."""
    return (d / max(scale * 1.5, 1e-6)).clamp(0, 1)


def _table_index(t: torch.Tensor) -> np.ndarray:
    """Ramp positions as indices (uint8) into ``_ramp_table``."""
    return (t * 255.0 + 0.5).to(torch.uint8).numpy()


def _colour(index: np.ndarray, dst: np.ndarray | None = None) -> np.ndarray:
    """Colours ``[H, W, 3]`` of a uint8 index frame, read from ``_ramp_table`` (into ``dst`` when given)."""
    return cv2.LUT(cv2.merge([index, index, index]), _ramp_table(), dst=dst)


def _ramp(t: torch.Tensor) -> torch.Tensor:
    """Colours ``[..., 3]`` of positions ``t`` in 0..1 along the ramp (piecewise linear)."""
    t = t * (len(_RAMP) - 1)
    i0 = t.floor().long().clamp(max=len(_RAMP) - 2)
    f = (t - i0.float()).unsqueeze(-1)
    ramp = _RAMP.to(t.device)
    return ramp[i0] * (1 - f) + ramp[i0 + 1] * f


@functools.cache
def _ramp_table() -> np.ndarray:
    """The ramp at 256 positions, as an OpenCV look-up table ``[256, 1, 3]``."""
    return _ramp(torch.linspace(0, 1, 256)).numpy().reshape(256, 1, 3).astype(np.float32)


def overlay(
    image: torch.Tensor, mask: torch.Tensor, color=(1.0, 0.2, 0.1), opacity: float = 0.5, outline: bool = True
) -> torch.Tensor:
    """Tint ``image`` ``[B, H, W, 3]`` where ``mask`` ``[B, H, W]`` is set, and draw its outline.

    Only the mask's bounding box is tinted and outlined; the rest is a copy of the image (the same
    result as tinting the whole frame with weight 0 there, at a third of the time on a photo).
    """
    n = max(image.shape[0], mask.shape[0])
    image, mask = expand_batch(image, n), expand_batch(mask.to(image.dtype), n)
    if opacity <= 0 and not outline:
        return new_like(image).copy_(image)
    c = torch.tensor(color, device=image.device, dtype=image.dtype)
    out, box = copy_around_box(image, mask)
    if box is None:
        return out
    y, x = slice(box[0], box[1]), slice(box[2], box[3])
    inside = out[:, y, x]
    torch.lerp(image[:, y, x], c.expand(inside.shape), opacity * mask[:, y, x].unsqueeze(-1), out=inside)
    inside.clamp_(0, 1)
    if outline:
        # the outline lies within one pixel of the box; beyond that margin the mask is 0, as the
        # replicated border of the crop is, so the crop's outline is the frame's
        h, w = mask.shape[1:]
        y = slice(max(box[0] - 1, 0), min(box[1] + 1, h))
        x = slice(max(box[2] - 1, 0), min(box[3] + 1, w))
        edge, region = _outline(mask[:, y, x] > 0.5), out[:, y, x]
        if out.device.type == "cpu":  # a boolean write of the sparse outline
            region.numpy()[edge.numpy()] = np.asarray(color, np.float32)
        else:
            region.copy_(torch.where(edge.unsqueeze(-1), c, region))
    return out


FALLBACK_TINT = (1.0, 0.1, 0.9)  # magenta: for a grey masked area, where no hue dominates


def contrasting_color(image: torch.Tensor, mask: torch.Tensor) -> tuple[float, float, float]:
    """A tint that stands out on what ``mask`` covers: the complement of its mean hue, saturated.

    A fixed red tint vanishes on a red or orange subject (the bundled example's suit); the
    complement of the masked area's hue does not. The mean hue is taken on the colour-opponent
    plane (r - (g + b) / 2, sqrt(3) / 2 (g - b)), so saturated pixels weigh more than grey ones;
    a nearly grey area (mean chroma below 0.05) gets ``FALLBACK_TINT``.
    """
    n = max(image.shape[0], mask.shape[0])
    rgb = expand_batch(image, n)[..., :3].float()
    w = (expand_batch(mask, n) > 0.5).float()
    total = float(w.sum())
    if total == 0:
        return FALLBACK_TINT
    r, g, b = rgb.unbind(-1)
    a = float(((r - 0.5 * (g + b)) * w).sum()) / total
    c = float(((0.8660254 * (g - b)) * w).sum()) / total
    if math.hypot(a, c) < 0.05:
        return FALLBACK_TINT
    hue = (math.atan2(c, a) / (2 * math.pi) + 0.5) % 1.0
    return tuple(float(v) for v in colorsys.hsv_to_rgb(hue, 1.0, 1.0))


def _outline(hard: torch.Tensor) -> torch.Tensor:
    """Pixels of a boolean ``[B, H, W]`` mask whose 3x3 neighbourhood holds both values."""
    if hard.device.type == "cpu":
        k = np.ones((3, 3), np.uint8)
        return (
            opencv_frames(
                hard.to(torch.uint8).numpy(),
                lambda f: cv2.morphologyEx(f, cv2.MORPH_GRADIENT, k, borderType=cv2.BORDER_REPLICATE),
            )
            > 0
        )
    x = hard.float().unsqueeze(1)
    pool = torch.nn.functional.max_pool2d
    return (pool(x, 3, 1, 1) + pool(-x, 3, 1, 1))[:, 0] > 0
