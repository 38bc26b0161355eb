"""The stages chained: face guard, difference mask, feather, composite.

Each stage is a function of tensors; the nodes expose them one by one and "Smart Mask (auto)"
runs them all. Sizes that depend on the picture (clean-up radii, feather width) are fractions of
the image diagonal, so a 400 px thumbnail and a 4K photo get the same look with no knob touched.
"""
from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from . import regions as R
from .align import IDENTITY, MatchCopy, Motion, estimate_motion, gray_u8, rescale_matrix, warp_to_original
from .blur import downscale, first_halvings, upscale
from .composite import alpha_composite, harmonize_seam, multiband_composite
from .difference import ANALYSIS_LONG_SIDE, analysis_copy, compensate_drift, difference_map
from .face_intent import face_summary, resolve_mode
from .feather import feather, snap
from .preview import heatmap_at
from .tensors import (as_image, as_mask, batch_size, binarize, copy_around_box, expand_batch, mask_for, match_size,
                      new_like, nonzero_box)
from .threshold import Levels, auto_levels, hysteresis, manual_levels


# How far (fraction of the diagonal) weak evidence may extend a strongly changed region.
GROW_REACH = 0.015
# Clean-up radii (fractions of the diagonal): the opening removes specks and thin slivers of
# re-rendered texture along an edit's border, the closing bridges small gaps inside an edit.
OPEN_RADIUS, CLOSE_RADIUS = 0.004, 0.006
# Frames per chunk when a long batch (video) runs through the whole pipeline.
CHUNK_FRAMES = 8
# Near a guarded area (a face), within this fraction of the area's own radius, a change must be this
# many times stronger to count: editors drift faces, and the drift runs down the neck.
NEAR_GUARD_ZONE, NEAR_GUARD_FACTOR = 0.6, 2.0


@dataclass
class MaskOptions:
    """Difference-mask settings; every default is automatic."""
    threshold: float = 0.0      # delta E; 0 = estimated per image from the drift noise
    space: str = "lab"          # "lab" (delta E) or "rgb"
    regions: str = "all"        # "all", "largest" or "relative" (see regions.select_regions)
    relative: float = 0.1       # for "relative": fraction of the largest region
    min_region: float = 0.0005  # smallest region kept, as a fraction of the image area
    fill_holes: bool = True
    cleanup: float = 1.0        # scale of the opening/closing radii (0 = off)
    align: bool = True
    resize: bool = True         # resize an edited image of another size to the original's


@dataclass
class FeatherOptions:
    grow: float = 0.004         # fraction of the diagonal (negative shrinks)
    feather: float = 0.003      # gaussian sigma, fraction of the diagonal
    close: float = 0.0          # gap closing radius, fraction of the diagonal
    edge_aware: bool = True     # guided-filter refinement on the original image


# Window radius of the edge-aware (guided filter) step, fraction of the diagonal.
EDGE_RADIUS = 0.004


NO_MOTION = Motion(IDENTITY.copy(), 0, 0.0)


@dataclass
class FrameEvidence:
    """What the difference stage knows about one frame when it asks for the guard: the analysis
    copies of the original and of the aligned, drift-compensated edit (``[1, 3, h, w]``), the
    difference map ``[h, w]`` (numpy) and the levels. Face intent judges each face on these."""
    original: torch.Tensor
    edited: torch.Tensor
    change: np.ndarray
    levels: Levels


@dataclass
class DiffResult:
    mask: torch.Tensor          # [B, H, W] binary, full resolution
    heatmap: torch.Tensor       # [B, H, W, 3]
    aligned: torch.Tensor       # [B, H, W, 3] edited image in the original's frame
    levels: list[Levels] = field(default_factory=list)
    motions: list[Motion] = field(default_factory=list)

    def describe(self) -> str:
        parts = []
        for i, (lv, mo) in enumerate(zip(self.levels, self.motions)):
            prefix = f"frame {i}: " if len(self.levels) > 1 else ""
            parts.append(prefix + lv.describe() + "; " + mo.describe())
        return "\n".join(parts)


def prepare_pair(original: torch.Tensor, edited: torch.Tensor, resize: bool = True):
    """Validate and broadcast an (original, edited) pair to one batch size and the original's size."""
    o = as_image(original, "original")
    e = as_image(edited, "edited")
    n = batch_size(o, e)
    e = match_size(o, e, resize)
    return expand_batch(o, n), expand_batch(e, n)


def _radius(frac: float, h: int, w: int) -> int:
    return int(round(frac * math.hypot(h, w)))


def difference_mask(original: torch.Tensor, edited: torch.Tensor, opts: MaskOptions | None = None,
                    progress=None, guard: torch.Tensor | None = None) -> DiffResult:
    """Binary edit mask from an original and an edited image (batches of frames welcome).

    ``guard`` (optional ``[B, H, W]``, e.g. Face Guard's faces) marks areas that must stay original:
    they are removed from the mask, and close to them only twice the usual evidence counts, so an
    editor's face drift running down the neck cannot join the face to a garment edit.
    """
    opts = opts or MaskOptions()
    o, e = prepare_pair(original, edited, opts.resize)
    if guard is not None:
        o, guard = mask_for(o, guard, "guard")
        e = expand_batch(e, o.shape[0])
    return _difference(o, e, opts, guard, progress, keep_small=False)[0]


def _difference(o: torch.Tensor, e: torch.Tensor, opts: MaskOptions, guard, progress,
                small_o: torch.Tensor | None = None, keep_small: bool = True):
    """``difference_mask`` on validated frames. With ``keep_small`` it also returns the analysis copy
    of the aligned edit and its drift-compensated version, which the later stages of ``auto`` reuse
    (``small_o``: the original's analysis copy, when the caller has it). ``guard`` may also be a
    function returning it: ``auto`` passes one that waits for the face detection, which then runs
    while the first frame is aligned and compared.

    A moved frame's mask is computed from a warp of its analysis copy; the full-resolution warp,
    needed only for the output, runs in a worker thread meanwhile.
    """
    masks, heats, levels, motions, aligned, small = [], [], [], [], [], []
    with ThreadPoolExecutor(1) as warper:
        for i, (oa, ea, mo) in enumerate(_aligned_frames(o, e, opts.align, small_o)):
            oi, ei = o[i:i + 1], e[i:i + 1]
            if not mo.is_identity:
                ei = warper.submit(warp_to_original, ei[0], oi[0], mo.matrix)
                ea = _warp_small(ea, oa, mo.matrix, oi.shape[1:3])
            m, heat, lv, ec = _frame_mask(oa, ea, oi.shape[1:3], opts,
                                          None if guard is None else functools.partial(_frame_of, guard, i))
            masks.append(m)
            heats.append(heat)
            levels.append(lv)
            motions.append(mo)
            aligned.append(ei)
            if keep_small:
                small.append((ea, ec))
            if progress:
                progress(i + 1, o.shape[0])
        aligned = [a if isinstance(a, torch.Tensor) else a.result()[None] for a in aligned]
    # nothing moved: the input batch itself is the aligned batch (no copy)
    e = e if all(mo.is_identity for mo in motions) else _cat(aligned)
    result = DiffResult(_cat(masks), _cat(heats), e, levels, motions)
    if not keep_small:
        return result, None
    return result, (_cat([s[0] for s in small]), _cat([s[1] for s in small]))


def _frame_of(masks, i: int, evidence=None) -> torch.Tensor:
    """Frame ``i`` ``[1, H, W]`` of ``masks``; when ``masks`` is a function, what it returns for
    ``(i, evidence)`` (``auto``'s face intent: which faces to guard depends on what the frame shows)."""
    return masks(i, evidence) if callable(masks) else masks[i:i + 1]


def _warp_small(ea: torch.Tensor, oa: torch.Tensor, matrix: np.ndarray, size) -> torch.Tensor:
    """The analysis copy ``[1, 3, h, w]`` of the edit warped by a full-size ``matrix`` (the same
    resampling as the full-resolution warp, on a tenth of the pixels)."""
    s = max(oa.shape[-2:]) / max(size)  # analysis copy size / full size, exact along the long side
    m = rescale_matrix(matrix, 1.0 / s)  # full-size pixels -> analysis-copy pixels
    hwc = warp_to_original(ea[0].permute(1, 2, 0).contiguous(), oa[0].permute(1, 2, 0).contiguous(), m)
    return hwc.permute(2, 0, 1)[None].contiguous()


# Frames whose motion is estimated ahead, in worker threads, while the current frame is analysed.
ALIGN_WORKERS = max(1, min(8, (os.cpu_count() or 2) // 2))


def _aligned_frames(o: torch.Tensor, e: torch.Tensor, align: bool, small_o: torch.Tensor | None):
    """Yield ``(analysis copy of the original, of the edit, motion)`` frame by frame.

    Motion estimation is host work (OpenCV features and a numpy refinement on grey copies) that
    releases the GIL, so in a batch the next frames' motions are estimated by worker threads while
    this thread analyses the current frame on the tensors' device. Only ``ALIGN_WORKERS`` frames
    are ahead at any time, so memory stays bounded. A single frame has nothing ahead: there the
    original's features are found by a worker while this thread makes the edit's copy.
    """
    n, size = o.shape[0], tuple(o.shape[1:3])

    def copies(i):
        oa = analysis_copy(o[i:i + 1]) if small_o is None else small_o[i:i + 1]
        return oa, analysis_copy(e[i:i + 1])

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


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat`` that does not copy a single frame."""
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _frame_mask(oa: torch.Tensor, ea: torch.Tensor, size, opts: MaskOptions, guard=None):
    """Binary mask, heat-map, levels and drift-compensated copy of one frame. ``guard`` (optional)
    is a function of the frame's ``FrameEvidence`` returning its ``[1, H, W]`` guard, called only
    once it is needed (the face detection of ``auto`` may still be running until then)."""
    h, w = size
    ec = compensate_drift(oa, ea)
    d = difference_map(oa, ec, opts.space)
    lv = manual_levels(opts.threshold) if opts.threshold > 0 else auto_levels(d)
    dn = d[0, 0].float().cpu().numpy()
    ah, aw = dn.shape
    if guard is not None:
        guard = guard(FrameEvidence(oa, ec, dn, lv))
        ga = downscale(guard.unsqueeze(1), ANALYSIS_LONG_SIDE)[0, 0].float().cpu().numpy()
        dn = R.guard_evidence(dn, ga > 0.5, NEAR_GUARD_ZONE, NEAR_GUARD_FACTOR)
    mask = hysteresis(dn, lv, reach=max(2, _radius(GROW_REACH, ah, aw)))
    if opts.cleanup > 0:
        mask = R.open_close(mask, max(1, _radius(OPEN_RADIUS * opts.cleanup, ah, aw)),
                            _radius(CLOSE_RADIUS * opts.cleanup, ah, aw))
    if opts.fill_holes:
        mask = R.fill_holes(mask)
    mask = R.select_regions(mask, opts.regions, opts.min_region, opts.relative)
    mt = torch.from_numpy(mask.astype(np.float32)).to(oa.device)[None, None]
    full = binarize(upscale(mt, (h, w))[:, 0])
    if guard is not None:
        full = _cut_out(full, guard)
    return full, heatmap_at(d[:, 0], lv.high, (h, w)), lv, ec


def _cut_out(mask: torch.Tensor, guard: torch.Tensor, box=None) -> torch.Tensor:
    """``mask * (1 - guard)`` in place on a mask the caller owns; only the guard's bounding box
    ``box`` (found when not given; faces are a small part of the frame) is touched."""
    box = box or nonzero_box(guard)
    if box is not None:
        y, x = slice(box[0], box[1]), slice(box[2], box[3])
        mask[:, y, x] *= 1.0 - guard[:, y, x]
    return mask


def feather_mask(mask: torch.Tensor, image: torch.Tensor | None = None, opts: FeatherOptions | None = None,
                 guide_small: torch.Tensor | None = None) -> torch.Tensor:
    """Feather with sizes relative to the diagonal; ``image`` (the original) guides the edge-aware step.

    ``guide_small`` optionally passes ``analysis_copy(image)`` when the caller already has it.
    """
    opts = opts or FeatherOptions()
    guide = as_image(image, "image") if image is not None and opts.edge_aware else None
    h, w = (guide if guide is not None else as_mask(mask)).shape[1:3]  # the output's size
    diag = math.hypot(h, w)
    return feather_pixels(mask, guide, int(round(opts.grow * diag)), opts.feather * diag,
                          int(round(opts.close * diag)), guide_small if guide is not None else None)


# Smallest feather sigma (pixels at the reduced size) for which feathering on the analysis-size
# copy and enlarging the result is as good as feathering at full resolution.
MIN_REDUCED_SIGMA = 1.5


def feather_pixels(mask: torch.Tensor, image: torch.Tensor | None, grow_px: int, feather_px: float,
                   close_px: int, guide_small: torch.Tensor | None = None) -> torch.Tensor:
    """Feather with sizes in pixels; with ``image`` (the original) the edge is snapped to its edges
    (guided filter, radius ``EDGE_RADIUS`` of the diagonal) and the mask is fitted to its size.

    A soft edge is smooth at the scale of its sigma, so when the sigma is wide enough the whole
    stage runs on the analysis-size copy (a tenth of the pixels of a 6 MP photo) and only the
    finished soft mask is enlarged; a narrow or hard edge is shaped at full resolution.
    """
    m = as_mask(mask)
    guide = None
    if image is not None:
        guide, m = mask_for(as_image(image, "image"), m)
    h, w = m.shape[1:3]
    radius = max(1, int(round(EDGE_RADIUS * math.hypot(h, w)))) if guide is not None else 0
    s = min(1.0, ANALYSIS_LONG_SIDE / max(h, w))
    if s == 1.0 or feather_px * s < MIN_REDUCED_SIGMA:
        return feather(m, grow_px=grow_px, feather_px=feather_px, close_px=close_px, guide=guide, edge_radius=radius)
    small = downscale(m.unsqueeze(1), ANALYSIS_LONG_SIDE)[:, 0]
    g = None
    if guide is not None:
        g = (guide_small if guide_small is not None else analysis_copy(guide)).permute(0, 2, 3, 1)
    soft = feather(small, grow_px=int(round(grow_px * s)), feather_px=feather_px * s, close_px=int(round(close_px * s)),
                   guide=g, edge_radius=max(1, int(round(radius * s))) if g is not None else 0)
    return snap(upscale(soft.unsqueeze(1), (h, w))[:, 0], inplace=True)


def exclude_after(mask: torch.Tensor, exclude: torch.Tensor | None, inplace: bool = False) -> torch.Tensor:
    """``mask * (1 - exclude)``: applied after feathering, so a soft edge never reaches a protected area.

    With ``inplace`` the result is ``mask`` itself, cut where it is (for a mask the caller made and
    owns, of the frames' size: no full-size copy).
    """
    if exclude is None:
        return mask
    mask, ex = mask_for(mask, exclude, "exclude")
    # faces cover a small part of the frame: only their bounding box is multiplied
    box = nonzero_box(ex)
    if inplace:
        return _cut_out(mask, ex, box) if box is not None else mask
    if box is None:
        return mask.contiguous()  # a batch of 1 may have been broadcast: give each frame its memory
    return _cut_out(new_like(mask).copy_(mask), ex, box)


def composite(original: torch.Tensor, edited: torch.Tensor, mask: torch.Tensor, method: str = "alpha",
              resize: bool = True, harmonize: bool = True, small: tuple | None = None) -> torch.Tensor:
    """Composite an edited image into the original under ``mask`` ('alpha' or 'multiband'),
    with the seam's colours harmonised (see ``composite.harmonize_seam``) unless ``harmonize`` is off.

    ``small`` optionally passes ``(analysis_copy(original), analysis_copy(edited))``, and the edit's
    drift-compensated copy as a third item, when the caller already has them; the result is the same.
    """
    if method not in ("alpha", "multiband"):
        raise ValueError(f"unknown composite method {method!r}: use 'alpha' or 'multiband'")
    o, e = prepare_pair(original, edited, resize)
    o, m = mask_for(o, mask)
    e = expand_batch(e, o.shape[0])
    if method == "multiband":
        return multiband_composite(o, harmonize_seam(o, e, m, small=small) if harmonize else e, m)
    # alpha: only the mask's bounding box can differ from the original; the rest is copied as it is
    out, box = copy_around_box(o, m)
    if box is None:
        return out
    y, x = slice(box[0], box[1]), slice(box[2], box[3])
    inside = out[:, y, x]
    # the harmonised edit is written into the result's box, then blended there in place
    e = harmonize_seam(o, e, m, small=small, box=box, out=inside) if harmonize else e[:, y, x]
    alpha_composite(o[:, y, x], e, m[:, y, x], out=inside)
    return out


@dataclass
class AutoResult:
    image: torch.Tensor
    mask: torch.Tensor
    diff: DiffResult
    faces: torch.Tensor
    face_info: dict

    def describe(self) -> str:
        faces = self.face_info.get("faces_per_frame", [])
        det = self.face_info.get("detector", "none")
        text = self.diff.describe() + f"\nfaces protected: {sum(faces)} (detector: {det})"
        if self.face_info.get("summary"):
            text += "\n" + self.face_info["summary"]
        return text


def auto(original: torch.Tensor, edited: torch.Tensor, mask_opts: MaskOptions | None = None,
         feather_opts: FeatherOptions | None = None, faces: bool | str = "auto", face_detector: str = "auto",
         model_dirs=(), protect: torch.Tensor | None = None, method: str = "alpha", harmonize: bool = True,
         progress=None, chunk: int = CHUNK_FRAMES) -> AutoResult:
    """The whole default pipeline: face guard -> difference -> feather -> composite.

    Faces are found first (on the original), so the difference stage can keep the editor's face
    drift from joining the edit through the neck; the same faces are removed from the mask and
    kept out of the feathered edge. ``faces`` is a mode of ``face_intent.FACE_MODES``: ``auto``
    protects only the faces the edit kept (a face the edit changed joins the edit whole),
    ``always`` every face, ``never`` none (True/False: auto/never). Long batches (video) run
    ``chunk`` frames at a time, so the working memory stays that of a few frames whatever the
    batch length.
    """
    o, e = prepare_pair(original, edited, (mask_opts or MaskOptions()).resize)
    faces = resolve_mode(faces)
    if protect is not None:
        o, protect = mask_for(o, protect, "protect")
        e = expand_batch(e, o.shape[0])
    total = o.shape[0]
    if total <= chunk:
        return _auto_frames(o, e, mask_opts, feather_opts, faces, face_detector, model_dirs, protect, method,
                            harmonize, progress)
    out: dict[str, torch.Tensor] = {}
    levels, motions, counts, decisions, first_info = [], [], [], [], None
    for start in range(0, total, chunk):
        sl = slice(start, min(start + chunk, total))
        sub = None if progress is None else (lambda done, _n, s0=start: progress(s0 + done, total))
        r = _auto_frames(o[sl], e[sl], mask_opts, feather_opts, faces, face_detector, model_dirs,
                         None if protect is None else protect[sl], method, harmonize, sub)
        # write each chunk straight into preallocated outputs: the batch never exists twice
        parts = {"image": r.image, "mask": r.mask, "faces": r.faces, "diff_mask": r.diff.mask,
                 "heatmap": r.diff.heatmap, "aligned": r.diff.aligned}
        for k, t in parts.items():
            if k not in out:
                out[k] = new_like(t, (total,) + tuple(t.shape[1:]))
            out[k][sl] = t
        levels += r.diff.levels
        motions += r.diff.motions
        counts += r.face_info["faces_per_frame"]
        decisions += r.face_info.get("decisions", [])
        first_info = first_info or r.face_info
        del r, parts
    info = {"faces_per_frame": counts, "detector": first_info["detector"], "message": first_info.get("message", ""),
            "decisions": decisions, "summary": face_summary(faces, decisions)}
    diff = DiffResult(out["diff_mask"], out["heatmap"], out["aligned"], levels, motions)
    return AutoResult(out["image"], out["mask"], diff, out["faces"], info)


def _auto_frames(o, e, mask_opts, feather_opts, faces, face_detector, model_dirs, protect, method, harmonize,
                 progress) -> AutoResult:
    """``auto`` on one chunk of already validated, equally sized frames (``faces``: a face mode)."""
    from .faces import DETECT_MAX_SIDE, FaceIntent, face_masks

    detect = faces != "never"
    with ThreadPoolExecutor(1) as pool:
        # faces are found on the original while the first frame is aligned (both are mostly
        # OpenCV work that releases the GIL); the difference stage waits for them when it needs them
        # the halvings both reduced copies of the original start with are made once (a 6 MP
        # photo is then read once, not twice, by the two threads)
        start = first_halvings(o, ANALYSIS_LONG_SIDE, DETECT_MAX_SIDE) if detect else o
        job = pool.submit(face_masks, o, face_detector, model_dirs, detect_copy=start) if detect else None
        oa = analysis_copy(start)  # one reduced copy serves alignment, difference, feather and seam

        @functools.cache
        def found() -> tuple[torch.Tensor, dict]:
            if job is not None:
                return job.result()
            return new_like(o, o.shape[:3], zeros=True), {"faces_per_frame": [0] * o.shape[0],
                                                          "detector": "off", "message": "",
                                                          "faces": [[] for _ in range(o.shape[0])]}

        intent = FaceIntent(faces, found)  # the face-intent hook: which faces stay guarded
        guard = None
        if detect or protect is not None:
            def guard(i: int, evidence: FrameEvidence) -> torch.Tensor:
                """What must stay original in frame ``i``: its kept faces and the protect mask."""
                g = intent.guard(i, evidence)[None]
                return g if protect is None else torch.maximum(g, protect[i:i + 1])
        diff, (ea, ec) = _difference(o, e, mask_opts or MaskOptions(), guard, progress, oa)
    face_mask, info = intent.finish(diff.mask)
    shield = face_mask if protect is None else torch.maximum(face_mask, protect)
    soft = feather_mask(diff.mask, o, feather_opts, guide_small=oa)
    # the feather may spread back over a protected area: faces (and protect) win; the soft mask is
    # cut in place unless the feather left the difference mask itself (feathering turned off)
    soft = exclude_after(soft, shield if guard is not None else None,
                         inplace=soft.untyped_storage().data_ptr() != diff.mask.untyped_storage().data_ptr())
    image = composite(o, diff.aligned, soft, method, harmonize=harmonize, small=(oa, ea, ec))
    return AutoResult(image, soft, diff, face_mask, info)
