"""Region logic on binary masks: clean-up, hole filling and which regions count as the edit.

These run on the analysis-resolution mask on the CPU (OpenCV): connected components and flood
fills are sequential algorithms, and the map is small, so the transfer costs little.
"""

from __future__ import annotations

import cv2
import numpy as np

REGION_MODES = ("all", "largest", "relative")


def disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def seeded(weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """The connected (8-neighbourhood) parts of ``weak`` that hold a pixel of ``strong``: bool."""
    n, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[weak.astype(bool) & strong.astype(bool)])] = True
    keep[0] = False
    return keep[labels]


def open_close(mask: np.ndarray, open_px: int, close_px: int) -> np.ndarray:
    """Opening removes specks and hair-thin bridges, closing bridges small gaps inside an edit."""
    m = mask.astype(np.uint8)
    if open_px > 0:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, disk(open_px))
    if close_px > 0:
        pad = close_px + 1  # pad so regions touching the border close like interior ones
        m = cv2.copyMakeBorder(m, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, disk(close_px))[pad:-pad, pad:-pad]
    return m.astype(bool)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill every background area that does not touch the image border."""
    m = mask.astype(np.uint8)
    h, w = m.shape
    framed = np.zeros((h + 2, w + 2), np.uint8)
    framed[1:-1, 1:-1] = m
    flood = framed.copy()
    cv2.floodFill(flood, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    return mask.astype(bool) | holes


def select_regions(mask: np.ndarray, mode: str = "all", min_area: float = 0.0005, relative: float = 0.1) -> np.ndarray:
    """Keep the regions that are the edit.

    ``all``: every region of at least ``min_area`` (fraction of the image);
    ``largest``: only the largest region; ``relative``: every region at least ``relative`` times
    the largest (and at least ``min_area``).
    """
    if mode not in REGION_MODES:
        raise ValueError(f"unknown region mode {mode!r}: use one of {', '.join(REGION_MODES)}")
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(mask.shape, bool)
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    keep = areas >= min_area * mask.size
    if mode == "largest":
        keep = np.zeros_like(keep)
        keep[int(np.argmax(areas))] = True
    elif mode == "relative":
        keep &= areas >= relative * areas.max()
    lut = np.concatenate([[False], keep])
    return lut[labels]


def guard_evidence(d: np.ndarray, guarded: np.ndarray, zone: float, factor: float) -> np.ndarray:
    """Difference map with guarded pixels zeroed and their surroundings weakened by ``factor``.

    The surroundings reach ``zone`` times each guarded region's own radius, so a small face gets a
    small zone and a close-up face a large one. Strong changes next to a face (a new collar) still
    count; the weaker tone drift an editor spreads over face and neck does not.
    """
    if not guarded.any():
        return d
    n, labels, stats, _ = cv2.connectedComponentsWithStats(guarded.astype(np.uint8), connectivity=8)
    near = np.zeros(guarded.shape, np.uint8)
    h, w = guarded.shape
    for i in range(1, n):
        r = max(1, int(round(zone * np.sqrt(stats[i, cv2.CC_STAT_AREA] / np.pi))))
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        x0, y0, x1, y1 = max(0, x - r), max(0, y - r), min(w, x + bw + r), min(h, y + bh + r)
        # within r of the region: a distance transform costs the same for any r (a disk dilation does not)
        far = cv2.distanceTransform((labels[y0:y1, x0:x1] != i).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        near[y0:y1, x0:x1] |= (far <= r).astype(np.uint8)
    out = np.where(near > 0, d / factor, d)
    out[guarded] = 0.0
    return out


# A region counts as part of the edit when its evidence is strong (mean change at least STRONG times
# the high level: an earring, a recoloured hat) or when it carries at least SHARE of the main region's
# evidence mass (a second beret, weakly recoloured, carries about 2 %); weak scattered islands of
# re-rendered texture that just passed the levels carry well under 1 % each (0.1-0.4 % measured on
# re-rendered hair and blossoms) and go.
STRONG, SHARE = 2.0, 0.01


# In a stitched inpaint (``threshold.STITCHED_NOISE``) a region drops the textured pixels whose change
# is under this share of its own core (the CORE_PERCENTILE of its change), keeping what stays
# connected to pixels twice as strong. An inpainter regenerates everything under its mask, which is
# drawn larger than the object: the striped sleeve round an erased apple is redrawn too, weaker than
# the apple's removal, and is not what was asked for. Only texture is trimmed (an edge in both
# images nearby: stripes moved, grain renewed, the re-render of ``evidence.rerender_weight``); a
# smooth weak change next to the object, its shadow gone from a plain table, belongs to the edit,
# and restoring it would leave a ghost shadow. A uniformly weak edit (a faint recolour) is its own
# core and stays whole.
SURROUND_SHARE, CORE_PERCENTILE = 0.25, 90.0
# A region this small (pixels of the analysis copy, 8 x 8) is mostly its own anti-aliased outline,
# which changes by less than the share too; it has no surround worth trimming.
UNTRIMMED_AREA = 64


def trim_to_core(mask: np.ndarray, d: np.ndarray, textured: np.ndarray, share: float = SURROUND_SHARE) -> np.ndarray:
    """``mask`` without each region's weak textured surround: per connected region, a hysteresis at
    ``share`` and ``2 * share`` times the region's core change, where ``textured`` (bool, both
    images have texture there; see ``SURROUND_SHARE``). Regions under ``UNTRIMMED_AREA`` pixels
    stay whole."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    flat, values = labels.ravel(), d.ravel()
    inside = np.flatnonzero(flat)
    order = inside[np.lexsort((values[inside], flat[inside]))]  # by region, then by change
    counts = np.bincount(flat[inside], minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts[1:])[:-1]])
    pick = starts + np.minimum((CORE_PERCENTILE / 100.0 * counts[1:]).astype(np.int64), counts[1:] - 1)
    core = np.concatenate([[np.inf], values[order[pick]]])
    small = np.concatenate([[False], counts[1:] < UNTRIMMED_AREA])
    level = share * core[labels]
    weak = mask & ((d > level) | ~textured)
    return seeded(weak, d > 2.0 * level) | (small[labels] & mask)


def coherent_regions(mask: np.ndarray, d: np.ndarray, high: float) -> np.ndarray:
    """``mask`` without the weak islands: each region's strength (mean of ``d`` / ``high``, capped at
    4 so one hard edge cannot carry a region) and mass (strength x area) decide, not its area alone.
    The region with the largest mass is the main edit and always stays."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool)
    strength_px = np.minimum(d / max(high, 1e-6), 4.0).ravel()
    flat = labels.ravel()
    area = np.bincount(flat, minlength=n)[1:].astype(np.float64)
    mass = np.bincount(flat, weights=strength_px, minlength=n)[1:]
    strength = mass / np.maximum(area, 1)
    keep = (strength >= STRONG) | (mass >= SHARE * mass.max())
    return np.concatenate([[False], keep])[labels]
