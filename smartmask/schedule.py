"""When and on which thread the pipeline's work runs: motion estimated ahead by worker threads,
full-size warps and face detection in the background, long batches in chunks.

Nothing here decides anything about the picture: the stages (``edit_mask``, ``feather``,
``composite``, ``faces``) do, and ``pipeline`` says in which order. This module only overlaps host
work (OpenCV, which releases the GIL) with the analysis, and keeps a long batch's working memory
to that of a few frames.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterator

import numpy as np
import torch

from .align import IDENTITY, MatchCopy, Motion, estimate_motion, gray_u8, rescale_matrix, warp_to_original
from .difference import analysis_copy
from .tensors import new_like

# Frames whose motion is estimated ahead, in worker threads, while the current frame is analysed.
ALIGN_WORKERS = max(1, min(8, (os.cpu_count() or 2) // 2))
# Frames per chunk when a long batch (video) runs through the whole pipeline.
CHUNK_FRAMES = 8

NO_MOTION = Motion(IDENTITY.copy(), 0, 0.0)


def aligned_frames(o: torch.Tensor, e: torch.Tensor, align: bool, small_o: torch.Tensor | None):
    """Yield ``(analysis copy of the original, of the edit, motion)`` frame by frame.

    Motion estimation is host work (OpenCV features and a numpy refinement on grey copies) that
    releases the GIL, so in a batch the next frames' motions are estimated by worker threads while
    this thread analyses the current frame on the tensors' device. Only ``ALIGN_WORKERS`` frames
    are ahead at any time, so memory stays bounded. A single frame has nothing ahead: there the
    original's features are found by a worker while this thread makes the edit's copy.
    ``small_o``: the original's analysis copy, when the caller has it.
    """
    n, size = o.shape[0], tuple(o.shape[1:3])

    def copies(i):
        oa = analysis_copy(o[i : i + 1]) if small_o is None else small_o[i : i + 1]
        return oa, analysis_copy(e[i : i + 1])

    if not align:
        for i in range(n):
            yield (*copies(i), NO_MOTION)
        return
    if n == 1:
        # feature matching is OpenCV work on the host: only grey uint8 analysis copies go there.
        # The original's features are found by a worker while the edit's copy is made and matched.
        with ThreadPoolExecutor(1) as ahead:
            oa = analysis_copy(o) if small_o is None else small_o
            mo = MatchCopy(gray_u8(oa))
            mo.prefetch(ahead)
            ea = analysis_copy(e)
            motion = estimate_motion(mo, MatchCopy(gray_u8(ea)), size)
        yield oa, ea, motion
        return
    with ThreadPoolExecutor(ALIGN_WORKERS) as pool:
        ahead: dict = {}

        def submit(i):
            oa, ea = copies(i)
            ahead[i] = (oa, ea, pool.submit(estimate_motion, gray_u8(oa), gray_u8(ea), size))

        for i in range(min(ALIGN_WORKERS + 1, n)):
            submit(i)
        for i in range(n):
            oa, ea, job = ahead.pop(i)
            if i + ALIGN_WORKERS + 1 < n:
                submit(i + ALIGN_WORKERS + 1)
            yield oa, ea, job.result()


def warp_small(ea: torch.Tensor, oa: torch.Tensor, matrix: np.ndarray, size) -> torch.Tensor:
    """The analysis copy ``[1, 3, h, w]`` of the edit warped by a full-size ``matrix`` (the same
    resampling as the full-resolution warp, on a tenth of the pixels)."""
    s = max(oa.shape[-2:]) / max(size)  # analysis copy size / full size, exact along the long side
    m = rescale_matrix(matrix, 1.0 / s)  # full-size pixels -> analysis-copy pixels
    hwc = warp_to_original(ea[0].permute(1, 2, 0).contiguous(), oa[0].permute(1, 2, 0).contiguous(), m)
    return hwc.permute(2, 0, 1)[None].contiguous()


def each_frame(
    o: torch.Tensor, e: torch.Tensor, align: bool, small_o: torch.Tensor | None, analyse: Callable, progress=None
) -> tuple[list, list[Motion], torch.Tensor]:
    """Align every frame and run ``analyse(i, oa, ea)`` on its analysis copies (the edit's already
    moved into the original's frame). Returns the per-frame results, the motions, and the edited
    batch in the original's frame (the input batch itself when nothing moved).

    A moved frame's analysis copy is warped here; its full-resolution warp, needed only for the
    output, runs in a worker thread meanwhile.
    """
    results, motions, aligned = [], [], []
    with ThreadPoolExecutor(1) as warper:
        for i, (oa, ea, mo) in enumerate(aligned_frames(o, e, align, small_o)):
            ei: torch.Tensor | Future = e[i : i + 1]
            if not mo.is_identity:
                ei = warper.submit(warp_to_original, e[i], o[i], mo.matrix)
                ea = warp_small(ea, oa, mo.matrix, o.shape[1:3])
            results.append(analyse(i, oa, ea))
            motions.append(mo)
            aligned.append(ei)
            if progress:
                progress(i + 1, o.shape[0])
        aligned = [a.result()[None] if isinstance(a, Future) else a for a in aligned]
    # nothing moved: the input batch itself is the aligned batch (no copy)
    return results, motions, e if all(mo.is_identity for mo in motions) else cat(aligned)


def cat(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat`` that does not copy a single frame."""
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def in_chunks(total: int, chunk: int, run: Callable, progress=None) -> Iterator:
    """Yield ``run(frames, progress)`` over ``chunk`` frames at a time (a slice each), one chunk's
    result at a time, each computed only when the caller asks for it.

    Long batches (video) run this way so the working memory stays that of a few frames: the caller
    stores each result (``stack_into``) before the next chunk runs."""
    for start in range(0, total, chunk):
        sub = None if progress is None else (lambda done, _n, s0=start: progress(s0 + done, total))
        yield run(slice(start, min(start + chunk, total)), sub)


def stack_into(out: dict, key: str, part: torch.Tensor, frames: slice, total: int) -> None:
    """Write one chunk's ``part`` into ``out[key]``, a ``total``-frame tensor allocated on first use:
    the batch never exists twice."""
    if key not in out:
        out[key] = new_like(part, (total,) + tuple(part.shape[1:]))
    out[key][frames] = part
