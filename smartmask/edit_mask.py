"""Which pixels are the edit, for one frame: the difference stage's decisions in order.

Drift compensated (learned where the structure agrees: ``evidence``), change measured with
re-rendered texture discounted, levels chosen, evidence near guarded areas weakened, regions grown
from strong seeds (in a stitched inpaint, trimmed to their core: ``regions.trim_to_core``), cleaned
and filled; weak scattered islands dropped (``regions.coherent_regions``),
smooth patches that end in a gradual colour shift dropped (``seams``), regions selected; a global
edit taken whole (``global_edit``); then the mask is enlarged to the frame's size with the guarded
areas cut out. Everything but the last step runs at the analysis size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from . import regions as R
from .blur import downscale, upscale
from .difference import ANALYSIS_LONG_SIDE, compared_copies, compensate_drift, difference_map
from .global_edit import coverage_reason, relight_reason
from .visualize import heatmap_at
from .seams import drop_gradual_pieces, image_edges
from .tensors import binarize, nonzero_box
from .threshold import Levels, auto_levels, hysteresis, manual_levels

# How far (fraction of the diagonal) weak evidence may extend a strongly changed region.
GROW_REACH = 0.015
# Clean-up radii (fractions of the diagonal): the opening removes specks and thin slivers of
# re-rendered texture along an edit's border, the closing bridges small gaps inside an edit.
OPEN_RADIUS, CLOSE_RADIUS = 0.004, 0.006
# A stitched inpaint's weak surround is trimmed only where both images have an edge or texture within
# this fraction of the diagonal (``regions.trim_to_core``): a band of stripes counts as texture inside.
TEXTURE_REACH = 0.005
# Near a guarded area (a face), within this fraction of the area's own radius, a change must be this
# many times stronger to count: editors drift faces, and the drift runs down the neck.
NEAR_GUARD_ZONE, NEAR_GUARD_FACTOR = 0.6, 2.0


@dataclass
class FrameEvidence:
    """What the difference stage knows about one frame when it asks for the guard: the analysis
    copies of the original and of the aligned, drift-compensated edit (``[1, 3, h, w]``), the
    change map ``[h, w]`` (numpy; re-rendered texture discounted) and the levels. Face intent
    (``faces.FaceIntent``) judges each face on these."""

    original: torch.Tensor
    edited: torch.Tensor
    change: np.ndarray
    levels: Levels


def radius(frac: float, h: int, w: int) -> int:
    """``frac`` of the diagonal of an ``h`` x ``w`` picture, in whole pixels."""
    return int(round(frac * math.hypot(h, w)))


def frame_mask(oa: torch.Tensor, ea: torch.Tensor, size, opts, guard=None):
    """Binary mask ``[1, H, W]`` at the frame's ``size``, heat-map, levels, the drift-compensated
    analysis copy of one frame, and why the edit is global ('' when it is not: see ``global_edit``).

    ``oa``/``ea``: the analysis copies ``[1, 3, h, w]`` (the edit's in the original's frame);
    ``opts``: ``pipeline.MaskOptions``. ``guard`` (optional) is a function of the frame's
    ``FrameEvidence`` returning its ``[1, H, W]`` guard, called only once it is needed (the face
    detection of ``auto`` may still be running until then)."""
    h, w = size
    ec = compensate_drift(oa, ea)
    a, b = compared_copies(oa, ec, opts.space)
    fine, d = difference_map(a, b)
    lv = manual_levels(opts.threshold) if opts.threshold > 0 else auto_levels(fine)
    dn = d[0, 0].float().cpu().numpy()
    ah, aw = dn.shape
    if guard is not None:
        guard = guard(FrameEvidence(oa, ec, dn, lv))
        ga = downscale(guard.unsqueeze(1), ANALYSIS_LONG_SIDE)[0, 0].float().cpu().numpy()
        dn = R.guard_evidence(dn, ga > 0.5, NEAR_GUARD_ZONE, NEAR_GUARD_FACTOR)
    mask = hysteresis(dn, lv, reach=max(2, radius(GROW_REACH, ah, aw)))
    if lv.stitched:  # (only automatic levels are ever stitched)
        mask = R.trim_to_core(mask, dn, textured_in_both(a, b, max(2, radius(TEXTURE_REACH, ah, aw))))
    if opts.cleanup > 0:
        mask = R.open_close(
            mask, max(1, radius(OPEN_RADIUS * opts.cleanup, ah, aw)), radius(CLOSE_RADIUS * opts.cleanup, ah, aw)
        )
    if opts.fill_holes:
        mask = R.fill_holes(mask)
    if opts.regions == "all":
        mask = R.coherent_regions(mask, dn, lv.high)
        mask = drop_gradual_pieces(mask, dn, lv.low, lv.high, image_edges(a, b))
    mask = R.select_regions(mask, opts.regions, opts.min_region, opts.relative)
    reason = (relight_reason(ea, ec) or coverage_reason(mask)) if opts.threshold <= 0 else ""
    if reason:  # a global edit: all of it is the edit, faces included (see global_edit)
        full = torch.ones((1, h, w), device=oa.device)
    else:
        mt = torch.from_numpy(mask.astype(np.float32)).to(oa.device)[None, None]
        full = binarize(upscale(mt, (h, w))[:, 0])
        if guard is not None:
            full = cut_out(full, guard)
    return full, heatmap_at(d[:, 0], lv.high, (h, w)), lv, ec, reason


def textured_in_both(a: torch.Tensor, b: torch.Tensor, reach: int) -> np.ndarray:
    """Where both analysis copies ``a`` and ``b`` have an edge or texture (``seams.image_edges``)
    within ``reach`` pixels: bool ``[h, w]``."""
    k = R.disk(reach)
    return (cv2.dilate(image_edges(a).astype(np.uint8), k) & cv2.dilate(image_edges(b).astype(np.uint8), k)) > 0


def cut_out(mask: torch.Tensor, guard: torch.Tensor, box=None) -> torch.Tensor:
    """``mask * (1 - guard)`` in place on a mask the caller owns; only the guard's bounding box
    ``box`` (found when not given; faces are a small part of the frame) is touched."""
    box = box or nonzero_box(guard)
    if box is not None:
        y, x = slice(box[0], box[1]), slice(box[2], box[3])
        mask[:, y, x] *= 1.0 - guard[:, y, x]
    return mask
