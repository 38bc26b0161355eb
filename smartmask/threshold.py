"""Automatic thresholds and hysteresis.

The threshold comes from the image itself: the noise scale of the difference map (its lower
quarter, see ``robust_scale``) times a margin. Two levels are used: pixels above the *high*
level are certain changes and seed regions; a region then grows through connected pixels above
the *low* level. A garment with a faint fold inside is filled; the background, which never
reaches the high level, is not picked up however noisy it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .difference import robust_scale
from .regions import seeded

# Margins over the noise scale. A noise-only difference map has almost no pixel above 4x its
# lower-quartile scale; the floors (delta E) stop a perfectly clean pair from calling compression
# noise an edit.
LOW_FACTOR, HIGH_FACTOR = 4.0, 8.0
LOW_FLOOR, HIGH_FLOOR = 3.0, 6.0
# Editors' drift noise (after compensation) stays well below this; a larger lower quartile means
# most of the frame really changed (a restyled photo, another image), and the levels are capped
# so those changes are found instead of being taken for noise.
NOISE_CEILING = 2.5
# Below this noise (delta E) at least a quarter of the frame is the original to the bit: the editor
# pasted its result back into the original through a mask (an API eraser, an inpaint stitched back
# with ImageCompositeMasked or a crop-and-stitch node). Every editor that re-renders the whole frame
# drifts by 0.49 delta E or more on the public pairs. Pixel noise then says nothing about the level of
# "no change" inside the pasted zone: see ``regions.trim_to_core``.
STITCHED_NOISE = 0.1


@dataclass
class Levels:
    low: float
    high: float
    noise: float
    capped: bool = False
    stitched: bool = False

    def describe(self) -> str:
        note = "; most of the frame changed" if self.capped else ""
        note += "; a stitched inpaint: its weak surround left out" if self.stitched else ""
        return f"threshold low {self.low:.2f} / high {self.high:.2f} (noise {self.noise:.2f}{note})"


def auto_levels(d: torch.Tensor) -> Levels:
    """Hysteresis levels for one difference map (any shape)."""
    measured = robust_scale(d)
    noise = min(measured, NOISE_CEILING)
    low = max(LOW_FACTOR * noise, LOW_FLOOR)
    high = max(HIGH_FACTOR * noise, HIGH_FLOOR, 1.5 * low)
    stitched = measured < STITCHED_NOISE and float(d.max()) > high  # (an unchanged pair is not one)
    return Levels(low, high, measured, capped=measured > NOISE_CEILING, stitched=stitched)


def manual_levels(threshold: float) -> Levels:
    """A user's fixed threshold: regions grow down to half of it."""
    return Levels(0.5 * threshold, threshold, 0.0)


def hysteresis(d: np.ndarray, levels: Levels, reach: int = 0) -> np.ndarray:
    """Pixels above ``low`` connected (8-neighbourhood) to a pixel above ``high``.

    With ``reach`` > 0 a region grows at most that many pixels away from its strong seed, so weak
    evidence can fill a garment but cannot creep along faint background texture across the frame.
    Connected components and flood fills are sequential, so this runs on the CPU (OpenCV) on the
    analysis-resolution map, which is small.
    """
    weak = (d > levels.low).astype(np.uint8)
    strong = (d > levels.high).astype(np.uint8)
    if reach <= 0:
        return seeded(weak, strong)
    # geodesic dilation of the seeds inside the weak mask, ``reach`` steps of one pixel
    grown = strong & weak
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(reach):
        nxt = cv2.dilate(grown, kernel) & weak
        if np.array_equal(nxt, grown):
            break
        grown = nxt
    return grown.astype(bool)
