"""Mask shaping on ``[B, H, W]`` tensors: grow/shrink, gap closing, gaussian and edge-aware feather.

Everything here is plain tensor math (pooling, separable blurs, box filters), so it runs on the
GPU when the mask is there.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .blur import box_blur, gaussian_blur, opencv_frames


def _pool_max(m: torch.Tensor, radius: int) -> torch.Tensor:
    """Grey dilation of ``[B, 1, H, W]`` by a square of side 2r+1, separably (two 1-D passes)."""
    k = 2 * radius + 1
    m = F.max_pool2d(F.pad(m, (radius, radius, 0, 0), mode="replicate"), (1, k), stride=1)
    return F.max_pool2d(F.pad(m, (0, 0, radius, radius), mode="replicate"), (k, 1), stride=1)


def grow(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate (``pixels`` > 0) or erode (< 0) a ``[B, H, W]`` mask by about that many pixels.

    On the CPU OpenCV dilates by a disk. The torch path (a GPU) runs a square step and then 3x3
    crosses, an octagon of the same radius: it contains the disk and adds at most 17 % of its area
    (4 px at radius 2, 64 of 477 at radius 12, 204 of 1257 at 20), all in the diagonal corners
    (``tests/test_user_behaviour.py::test_grow_twins_differ_only_by_octagon_versus_disk``).
    """
    if pixels == 0:
        return mask
    if mask.device.type == "cpu" and mask.dtype == torch.float32:
        if abs(pixels) > FAR_GROW:
            return opencv_frames(mask.detach().contiguous().numpy(), lambda a: _grow_far(a, pixels))
        # OpenCV's dilate/erode with a disk: exact and fast on the CPU for small radii
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(pixels) + 1,) * 2)
        op = cv2.dilate if pixels > 0 else cv2.erode
        return opencv_frames(mask.detach().contiguous().numpy(), lambda a: op(a, k, borderType=cv2.BORDER_REPLICATE))
    x = mask.unsqueeze(1)
    if pixels < 0:
        x = 1.0 - x
    r = abs(int(pixels))
    # square steps of radius <= 1 alternating with crosses give an octagon of radius r
    cross = torch.tensor([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=x.dtype, device=x.device)
    big = r // 2
    if big:
        x = _pool_max(x, big)  # the square half...
    for _ in range(r - big):  # ...the cross half rounds it
        x = _dilate_cross(x, cross)
    if pixels < 0:
        x = 1.0 - x
    return x[:, 0]


# Beyond this radius OpenCV's disk kernel costs about the radius squared per pixel (a 220 px grow
# of a 4K mask: over three minutes). A binary mask then grows by a distance transform (a disk of
# any radius, about 0.2 s at 4K); a soft one by a square and a run of 3x3 crosses (an octagon,
# linear in the radius: about 5 s for 220 px at 4K).
FAR_GROW = 16


def _grow_far(a: np.ndarray, pixels: int) -> np.ndarray:
    """``grow`` of one ``[H, W]`` float32 frame by more than ``FAR_GROW`` pixels (image borders
    replicated, as in the small-radius path)."""
    r = abs(pixels)
    if np.all((a == 0.0) | (a == 1.0)):
        # distance of every pixel to the nearest pixel of the other kind (outside the frame counts as neither)
        if pixels > 0:
            d = cv2.distanceTransform((a < 0.5).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            return (d <= r).astype(np.float32)
        d = cv2.distanceTransform((a > 0.5).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return (d > r).astype(np.float32)
    op = cv2.dilate if pixels > 0 else cv2.erode
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * (r // 2) + 1,) * 2)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    a = op(a, square, borderType=cv2.BORDER_REPLICATE)
    return op(a, cross, iterations=r - r // 2, borderType=cv2.BORDER_REPLICATE)


def _dilate_cross(x: torch.Tensor, cross: torch.Tensor) -> torch.Tensor:
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    h, w = x.shape[-2:]
    return torch.maximum(
        torch.maximum(
            p[..., 1 : h + 1, 1 : w + 1], torch.maximum(p[..., 0:h, 1 : w + 1], p[..., 2 : h + 2, 1 : w + 1])
        ),
        torch.maximum(p[..., 1 : h + 1, 0:w], p[..., 1 : h + 1, 2 : w + 2]),
    )


def close_gaps(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Morphological closing: bridges gaps narrower than about ``2 * pixels`` without growing the outline."""
    if pixels <= 0:
        return mask
    return grow(grow(mask, pixels), -pixels)


def gaussian_feather(mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """Soft edge of ``sigma`` pixels (a separable or pyramid gaussian, cheap at any radius)."""
    if sigma <= 0:
        return mask
    return gaussian_blur(mask.unsqueeze(1), sigma)[:, 0].clamp(0, 1)


def guided_filter(mask: torch.Tensor, guide: torch.Tensor, radius: int, eps: float = 1e-3) -> torch.Tensor:
    """Edge-aware refinement of ``mask`` ``[B, H, W]`` guided by ``guide`` ``[B, H, W, 3]`` (He et al. 2010).

    Within each window the output is a linear function of the guide's luminance, so the mask's
    edge snaps to the real edge of the garment in the original photo and never leaks across it.
    """
    if radius <= 0:
        return mask
    g = (guide[..., 0] * 0.299 + guide[..., 1] * 0.587 + guide[..., 2] * 0.114).unsqueeze(1)
    p = mask.unsqueeze(1)
    mean_g, mean_p = box_blur(g, radius), box_blur(p, radius)
    cov = box_blur(g * p, radius) - mean_g * mean_p
    var = box_blur(g * g, radius) - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_p - a * mean_g
    q = box_blur(a, radius) * g + box_blur(b, radius)
    return q[:, 0].clamp(0, 1)


def snap(mask: torch.Tensor, tol: float = 1.0 / 1024, inplace: bool = False) -> torch.Tensor:
    """Make near-0 and near-1 values exact, so 'keep' pixels come out bit-identical to the original.

    With ``inplace`` (for a mask the caller owns) a CPU mask is snapped by OpenCV's thresholds in
    place: at full resolution that is a tenth of the time of the torch ops and allocates nothing.
    """
    if inplace and mask.device.type == "cpu" and mask.dtype == torch.float32 and mask.is_contiguous():
        a = mask.numpy().reshape(-1, mask.shape[-1])
        # in blocks of rows, so the scratch for 'above 1 - tol' is small and reused (a fresh
        # full-size scratch costs more in page faults than the thresholds themselves)
        scratch = np.empty((min(256, a.shape[0]), a.shape[1]), np.float32)
        for r in range(0, a.shape[0], scratch.shape[0]):
            blk = a[r : r + scratch.shape[0]]
            hi = cv2.threshold(blk, 1 - tol, 1.0, cv2.THRESH_BINARY, dst=scratch[: blk.shape[0]])[1]
            cv2.threshold(blk, tol, 0.0, cv2.THRESH_TOZERO, dst=blk)  # below tol -> 0
            cv2.max(blk, hi, dst=blk)  # above 1 - tol -> 1
        return mask
    out = torch.where(mask > 1 - tol, 1.0, mask)
    return out.masked_fill_(mask < tol, 0.0)


def feather(
    mask: torch.Tensor,
    grow_px: int = 0,
    feather_px: float = 0.0,
    close_px: int = 0,
    guide: torch.Tensor | None = None,
    edge_radius: int = 0,
) -> torch.Tensor:
    """Full feather stage: close gaps, grow/shrink, optional edge-aware refinement, gaussian edge."""
    m = close_gaps(mask, close_px)
    m = grow(m, grow_px)
    if guide is not None and edge_radius > 0:
        m = guided_filter(m, guide, edge_radius)
    m = gaussian_feather(m, feather_px)
    return snap(m)
