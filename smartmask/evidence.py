"""Evidence that a pixel is unchanged, beyond colour closeness: does its fine structure agree?

An editor's drift (exposure, colour, a lighting ramp, blur and re-sharpening, noise, JPEG) keeps the
original's structure: the edges and texture of the edit lie where the original's are, with a
correlation close to 1. A new background, a new object or a re-rendered texture does not, even where
its colour happens to be close to the original's (a dark studio backdrop against the dark walls of a
street). So the drift model (``difference.compensate_drift``) learns only from pixels whose colour is
close *and* whose structure agrees; where neither image has structure (a smooth wall in both) colour
alone decides. This keeps the drift model right when the edit covers most of the frame: what is
unchanged is decided from evidence, not from being the majority.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .blur import gaussian_blur

# Scales (pixels of the copy it runs on) of the detail band compared, and of the window over which
# its correlation is measured.
DETAIL_SIGMA, WINDOW_SIGMA = 1.5, 3.0
# Detail amplitude (0..1 grey units, local RMS) from which a pixel counts as textured: grain, JPEG and
# re-sharpening of an editor stay below the lower value; real edges and texture are above the upper.
TEXTURE_LOW, TEXTURE_HIGH = 0.01, 0.03


def _grey(x: torch.Tensor) -> torch.Tensor:
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def structure_agreement(o: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """``[N, 1, H, W]`` in 0..1: 1 where the fine structure of ``o`` and ``e`` (``[N, 3, H, W]``)
    agrees or neither has any, towards 0 where one is textured and the other is not, or both are
    textured differently (local correlation of their detail bands)."""
    go, ge = _grey(o), _grey(e)
    do, de = go - gaussian_blur(go, DETAIL_SIGMA), ge - gaussian_blur(ge, DETAIL_SIGMA)
    eo = gaussian_blur(do * do, WINDOW_SIGMA)
    ee = gaussian_blur(de * de, WINDOW_SIGMA)
    cross = gaussian_blur(do * de, WINDOW_SIGMA)
    # correlation, with the weaker texture's energy floored at the grain level so that a smooth
    # area against a smooth area reads as agreeing, and smooth against textured as not
    floor = TEXTURE_LOW**2
    corr = cross / torch.sqrt(torch.maximum(eo, ee) * torch.maximum(torch.minimum(eo, ee), torch.full_like(eo, floor)))
    textured = ((torch.sqrt(torch.maximum(eo, ee)) - TEXTURE_LOW) / (TEXTURE_HIGH - TEXTURE_LOW)).clamp(0, 1)
    return 1.0 - textured * (1.0 - corr.clamp(0, 1))


# Scale (fraction of the diagonal) at which the coarse appearance is compared: a hair curl, a blossom,
# a fabric weave are smaller; a garment, a hat, a sofa's fabric colour are larger.
COARSE_SIGMA = 0.01
# Coarse change relative to the local texture amplitude: a re-render of the same texture leaves
# at most about RERENDER_LOW of it after the coarse blur; a new colour or material at least RERENDER_HIGH.
RERENDER_LOW, RERENDER_HIGH = 0.3, 0.8
# Texture amplitude (delta E, local RMS) that is noise: an editor's drift noise after compensation
# measures 0.5-1.8 (the levels' noise on every judge pair); re-rendered hair or blossoms 10 and more.
TEXTURE_FLOOR = 2.0


def rerender_weight(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[N, 1, H, W]`` in 0..1: how much of the fine-scale difference between ``a`` and ``b``
    (``[N, 3, H, W]`` in a perceptual space, already blurred at the comparison scale) counts as change.

    Texture re-rendered by the editor (new hair curls, blossoms, wood grain with the same colours)
    differs pixel by pixel but not once both are averaged over ``COARSE_SIGMA``: there the weight
    falls to 0. A new colour, material or object changes the coarse appearance by as much as the
    texture's own amplitude or more: weight 1. Where neither image is textured the weight is 1, so
    smooth areas are judged at the fine scale as before.
    """
    h, w = a.shape[-2:]
    if min(h, w) >= 64:
        # everything here is smooth at the coarse scale: half the resolution measures it as well
        a2, b2 = F.avg_pool2d(a, 2, ceil_mode=True), F.avg_pool2d(b, 2, ceil_mode=True)
        return F.interpolate(rerender_weight(a2, b2), size=(h, w), mode="bilinear", align_corners=False)
    sigma = max(1.0, COARSE_SIGMA * (h * h + w * w) ** 0.5)
    ca, cb = gaussian_blur(a, sigma), gaussian_blur(b, sigma)
    coarse = (ca - cb).pow(2).sum(1, keepdim=True).sqrt()
    # local texture amplitude of each image (RMS of its detail around the coarse copy)
    ta = gaussian_blur((a - ca).pow(2).sum(1, keepdim=True), sigma).sqrt()
    tb = gaussian_blur((b - cb).pow(2).sum(1, keepdim=True), sigma).sqrt()
    # a re-render has texture on both sides; noise is not texture (a plain backdrop that replaced a
    # textured wall is a change, not a re-render)
    texture = (torch.minimum(ta, tb) - TEXTURE_FLOOR).clamp_min(0)
    ratio = coarse / texture.clamp_min(1e-3)
    return ((ratio - RERENDER_LOW) / (RERENDER_HIGH - RERENDER_LOW)).clamp(0, 1)
