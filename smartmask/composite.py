"""Putting the edit back into the original.

``alpha_composite`` is exact: where the mask is 0 the result *is* the original (bit-identical
after an 8-bit save), where it is 1 it *is* the edited image. ``multiband_composite`` blends
each frequency band with a mask blurred to that band's scale (Burt & Adelson 1983), so a colour
difference between edit and surroundings fades over a wide band while fine detail switches over
a narrow one: no halo and no visible seam. It keeps the exactness guarantee by falling back to the
original wherever the mask is exactly 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .blur import downscale, gaussian_blur, upscale_crop
from .difference import ANALYSIS_LONG_SIDE, analysis_copy, compensate_drift
from .tensors import nonzero_box

# Width (fraction of the diagonal) of the band inside the edit over which the seam is harmonised.
HARMONIZE_BAND = 0.005


def alpha_composite(
    original: torch.Tensor, edited: torch.Tensor, mask: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``original * (1 - m) + edited * m`` for ``[B, H, W, 3]`` images and a ``[B, H, W]`` mask.

    One fused ``lerp`` pass. It is exact at the ends (ATen computes ``a + w (b - a)`` for w < 0.5 and
    ``b - (b - a)(1 - w)`` otherwise), so where the mask is 0 the result is the original bit for bit
    and where it is 1 the edited image. ``out`` (optional) receives the result, e.g. a view into
    a larger frame.
    """
    if out is None:
        return torch.lerp(original, edited, mask.unsqueeze(-1)).clamp_(0, 1)
    return torch.lerp(original, edited, mask.unsqueeze(-1), out=out).clamp_(0, 1)


def _down(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(gaussian_blur(x, 1.0), 2, ceil_mode=True)


def _up(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def multiband_composite(
    original: torch.Tensor, edited: torch.Tensor, mask: torch.Tensor, levels: int = 5
) -> torch.Tensor:
    """Laplacian-pyramid blend of ``[B, H, W, 3]`` images under a ``[B, H, W]`` mask."""
    o = original.permute(0, 3, 1, 2)
    e = edited.permute(0, 3, 1, 2)
    m = mask.unsqueeze(1)
    levels = max(1, min(levels, int(torch.log2(torch.tensor(float(min(o.shape[-2:])))).item()) - 3))
    go, ge, gm = [o], [e], [m]
    for _ in range(levels):
        go.append(_down(go[-1]))
        ge.append(_down(ge[-1]))
        gm.append(_down(gm[-1]))
    out = go[-1] * (1 - gm[-1]) + ge[-1] * gm[-1]
    for i in range(levels - 1, -1, -1):
        size = go[i].shape[-2:]
        lo = go[i] - _up(go[i + 1], size)
        le = ge[i] - _up(ge[i + 1], size)
        out = _up(out, size) + lo * (1 - gm[i]) + le * gm[i]
    out = out.permute(0, 2, 3, 1).clamp(0, 1)
    mk = mask.unsqueeze(-1)
    return torch.where(mk <= 0, original, torch.where(mk >= 1, edited, out))


def harmonize_seam(
    original: torch.Tensor,
    edited: torch.Tensor,
    mask: torch.Tensor,
    band: float = HARMONIZE_BAND,
    small: tuple | None = None,
    box: tuple[int, int, int, int] | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pull the edit's colours towards the original's near the mask boundary only.

    The editor's colour/exposure drift is the difference stage's model: gain and offset per channel
    plus a smooth lighting field, fitted on the pixels that did not change, at analysis resolution
    (used only when at least 5 % of the frame lies outside the mask). It is undone fully at the seam
    and fades out over ``band`` (fraction of the diagonal) inside the edit, so both sides of the seam match
    while the edit itself keeps its own colours. The composite is still exactly the original
    wherever the mask is 0. ``small`` optionally passes the analysis-size ``[B, 3, h, w]`` copies of
    the original and the edit, and may add a third: the edit's copy with the drift already
    compensated (``compensate_drift(o, e)``, which the difference stage computes anyway).
    With ``box`` (y0, y1, x0, x1), which must hold every pixel where the mask is above 0, only that
    part of the harmonised edit is returned; ``out`` (optional, box-sized) receives it.
    """
    h, w = mask.shape[1:3]
    if box is None:
        if nonzero_box(mask) is None:  # nothing of the edit is used
            return edited
        box = (0, h, 0, w)
    y0, y1, x0, x1 = box
    crop = edited[:, y0:y1, x0:x1]

    def unchanged() -> torch.Tensor:
        return crop if out is None else out.copy_(crop)

    if small is None:
        small = (analysis_copy(original), analysis_copy(edited))
    o, e = small[:2]
    compensated = small[2] if len(small) > 2 else None
    m_small = downscale(mask.unsqueeze(1), ANALYSIS_LONG_SIDE)
    outside = (m_small <= 1e-3).float()
    if outside.mean() < 0.05:  # almost everything is the edit: nothing reliable to match against
        return unchanged()
    # the drift model of the difference stage: gain/offset and smooth field fitted on unchanged pixels
    shift = (compensated if compensated is not None else compensate_drift(o, e)) - e
    # the fading weight is built at analysis size too: only the finished correction is enlarged
    scale = m_small.shape[-1] / w
    width = max(1.0, band * math.hypot(h, w) * scale)
    inner = gaussian_blur((m_small > 0.5).float(), width)  # 0.5 at the edge, 0.84 at ``band`` inside, 1 deep inside
    corr = shift * (2.0 * (1.0 - inner)).clamp(0, 1)
    # the correction is enlarged straight into the result, and the edit added to it in place
    return upscale_crop(corr, (h, w), box, out=out).add_(crop).clamp_(0, 1)
