"""Seams nobody sees: the mask must end where the change ends, not where a smooth shift of colour
happens to cross the threshold.

Editors shift the colour of smooth areas (a studio backdrop darkened, a sky warmed) by an amount
that varies slowly over the frame. Where such a shift crosses the threshold, the mask takes a patch
whose border runs through the middle of a smooth area, and the composite shows it: a darker patch
next to restored background, with a halo. A real edit ends at an outline, and just outside it the
evidence falls to the noise.

So the mask is cut into pieces where the change steps (a recoloured garment's outline separates it
from the slightly shifted backdrop beside it), and each piece's outside ring (pixels
outside the mask) is read: when most of it still carries change close to the low level, the piece
ends in a gradual shift, and it is left out whole (nothing of that background is taken: no seam),
as long as the shift runs on beyond the ring. A soft shadow that the edit took away or cast ends a
few ring widths out: it stays with the edit, or the composite would show a ghost shadow.
Only smooth pieces (almost no edge of either image inside: a backdrop, a sky, a wall) are judged;
pieces whose ring falls to the noise, and pieces inside the mask with no outside ring, stay.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

# A piece whose mean change is at least STRONG times the high level is never dropped, the same
# strength that keeps a region in ``regions.coherent_regions``: editors' tone drift on a backdrop
# stays below it.
from .regions import STRONG

# Width of the ring read outside each piece (fraction of the diagonal), skipping the first pixel.
RING = 0.006
# A ring pixel still 'changing' carries at least this share of the low level; a piece whose ring is
# mostly (GRADUAL_SHARE) such pixels ends in a gradual shift.
NEAR_LOW, GRADUAL_SHARE = 0.5, 0.6
# A gradual change that runs on (a shifted backdrop) still touches the low level on RUNS_ON_SHARE of
# a band out to WIDE_RING ring widths; one that ends within it (a soft shadow taken away or cast
# beside the edit) is local, and belongs to the edit: dropped, it would come back as a ghost.
WIDE_RING, RUNS_ON_SHARE = 4, 0.3
# Pieces smaller than this many squared ring widths are fragments, never judged.
MIN_PIECE = 16
# A smooth area: at most this share of its pixels are on an edge of the original or the edit, where
# the colour changes by EDGE_DELTA_E (delta E) or more across a 3x3 neighbourhood.
SMOOTH_EDGES, EDGE_DELTA_E = 0.05, 6.0
# A step of the change: the change map rises by at least this many times the low level across a
# 3x3 neighbourhood (a recoloured garment next to a slightly shifted backdrop); a gradual shift rises
# by a small fraction of it per pixel.
STEP = 2.0


def steps(d: np.ndarray, low: float) -> np.ndarray:
    """Where the change map ``d`` steps (bool ``[h, w]``): the outlines that cut the mask into pieces."""
    k = np.ones((3, 3), np.uint8)
    d = d.astype(np.float32)
    return (cv2.dilate(d, k) - cv2.erode(d, k)) >= STEP * low


def image_edges(*images: torch.Tensor) -> np.ndarray:
    """Real edges and texture ``[h, w]`` (bool) of any of the ``[1, 3, h, w]`` images (in delta E
    units: ``difference.compared_copies``)."""
    out = None
    k = np.ones((3, 3), np.uint8)
    for x in images:
        a = np.ascontiguousarray(x[0].permute(1, 2, 0).float().cpu().numpy())
        e = np.sqrt(((cv2.dilate(a, k) - cv2.erode(a, k)) ** 2).sum(-1)) >= EDGE_DELTA_E
        out = e if out is None else out | e
    return out


def _runs_on(pieces: np.ndarray, i: int, box, r: int, near: np.ndarray, outside: np.ndarray) -> bool:
    """Whether the gradual change round piece ``i`` (bounding box ``box``, ring width ``r``) runs on
    into the band from ``r`` to ``WIDE_RING * r`` outside it (a shifted backdrop), rather than ending
    there (a shadow taken away or cast: see module)."""
    h, w = pieces.shape
    x, y, bw, bh = box
    far = WIDE_RING * r
    x0, y0, x1, y1 = max(0, x - far), max(0, y - far), min(w, x + bw + far), min(h, y + bh + far)
    dist = cv2.distanceTransform(1 - (pieces[y0:y1, x0:x1] == i).astype(np.uint8), cv2.DIST_L2, 3)
    band = (dist > r) & (dist <= far) & outside[y0:y1, x0:x1]
    return band.sum() < 2 * far or near[y0:y1, x0:x1][band].mean() >= RUNS_ON_SHARE


def drop_gradual_pieces(mask: np.ndarray, d: np.ndarray, low: float, high: float, edges: np.ndarray) -> np.ndarray:
    """``mask`` without the smooth pieces (split where the change ``d`` steps; almost no ``edges`` of
    the images inside) that end in a gradual change (see module)."""
    mask = mask.astype(bool)
    if not mask.any():
        return mask
    edge = steps(d, low)
    h, w = mask.shape
    r = max(2, int(round(RING * np.hypot(h, w))))
    n, pieces, stats, _ = cv2.connectedComponentsWithStats((mask & ~edge).astype(np.uint8), connectivity=4)
    near = d >= NEAR_LOW * low
    outside = ~mask
    drop = np.zeros(n, bool)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < MIN_PIECE * r * r:
            continue  # a fragment of a textured edit (cut by its own detail), not a smooth patch
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        x0, y0, x1, y1 = max(0, x - r), max(0, y - r), min(w, x + bw + r), min(h, y + bh + r)
        piece = (pieces[y0:y1, x0:x1] == i).astype(np.uint8)
        inside = piece > 0
        if edges[y0:y1, x0:x1][inside].mean() > SMOOTH_EDGES:
            continue  # an object, textured or outlined: not a smooth background
        if d[y0:y1, x0:x1][inside].mean() >= STRONG * high:
            continue  # a strong change (a smooth garment recoloured) is an edit whatever its border
        dist = cv2.distanceTransform(1 - piece, cv2.DIST_L2, 3)
        ring = (dist > 1.5) & (dist <= r) & outside[y0:y1, x0:x1]
        if ring.sum() < 2 * r:
            continue  # inside the mask, or filling the frame: nothing to read
        drop[i] = near[y0:y1, x0:x1][ring].mean() >= GRADUAL_SHARE
        if drop[i]:
            drop[i] = _runs_on(pieces, i, (x, y, bw, bh), r, near, outside)
    if not drop.any():
        return mask
    dropped = drop[pieces]
    # the step pixels between pieces go with the nearer piece: between kept pieces they all stay (a
    # one-pixel dilation left the middle of a wide step band out, a line of the original through
    # the edit), next to a dropped piece they go with it
    kept = mask & ~dropped & ~edge
    to_kept = cv2.distanceTransform((~kept).astype(np.uint8), cv2.DIST_L2, 3)
    to_dropped = cv2.distanceTransform((~dropped).astype(np.uint8), cv2.DIST_L2, 3)
    return kept | (mask & edge & (to_kept <= to_dropped))
