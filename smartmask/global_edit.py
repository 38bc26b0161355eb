"""Is the edit global (a relight, a restyle, everything changed)? Then there is nothing to keep.

Compositing a global edit back into the original gives a patchwork: the drift model takes part of
a relight for drift, and the mask keeps islands of the original. When the change covers the frame,
the honest answer is the edit itself, with a mask of ones that shows why, and a line on the node.

Two kinds of evidence, either is enough:
- the change mask covers most of the frame, and does so evenly (every cell of a coarse grid is
  mostly changed): a new background behind an unchanged person is large but not even;
- the drift model had to correct far more than editors drift: on every pair we have (ten real
  editor outputs and the synthetic drift ranges) the median correction is at most about 6 delta E;
  a relight or a restyle moves the whole frame by more than twice that.
"""

from __future__ import annotations

import numpy as np
import torch

from .blur import downscale
from .color import to_space

# Share of the frame, and of each cell of a GRID x GRID grid, that must be changed.
COVER_FRAME, COVER_CELL, GRID = 0.85, 0.5, 3
# Median colour correction (delta E) of the drift model above which the whole frame was re-lit.
RELIGHT_DELTA_E = 12.0
# Long side (pixels) of the copies on which that median is taken.
LEVEL_LONG_SIDE = 192


def coverage_reason(mask: np.ndarray) -> str:
    """Why the analysis-size binary ``mask`` makes the edit global ('' when it does not)."""
    share = float(mask.mean()) if mask.size else 0.0
    if share < COVER_FRAME:
        return ""
    h, w = mask.shape
    ys, xs = np.linspace(0, h, GRID + 1).astype(int), np.linspace(0, w, GRID + 1).astype(int)
    cells = [
        mask[ys[i] : ys[i + 1], xs[j] : xs[j + 1]].mean()
        for i in range(GRID)
        for j in range(GRID)
        if ys[i + 1] > ys[i] and xs[j + 1] > xs[j]
    ]
    if min(cells, default=0.0) < COVER_CELL:
        return ""
    return f"the change covers {100 * share:.0f} % of the frame evenly"


def relight_reason(edited: torch.Tensor, compensated: torch.Tensor) -> str:
    """Why the drift model's correction (``edited`` -> ``compensated``, ``[1, 3, h, w]`` analysis
    copies) makes the edit global ('' when it does not)."""
    # a global level: a small copy measures it as well as the analysis copy, in a fraction of the time
    small = lambda x: to_space(downscale(x, LEVEL_LONG_SIDE), "lab")  # noqa: E731
    d = (small(compensated) - small(edited)).pow(2).sum(1).sqrt()
    level = float(d.flatten().median())
    if level < RELIGHT_DELTA_E:
        return ""
    return f"the whole frame was re-lit or restyled (colour change {level:.1f} delta E)"
