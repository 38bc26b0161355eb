"""Face intent: did the edit keep a face (drift) or change it (the face is the edit)?

Editors drift every face a little (tone, a pixel of warp, re-rendered skin), and Face Guard exists
to undo that. But when the user asked for a VR headset, a helmet, make-up, a mask or "turn him into
a gorilla", the face *is* the edit, and restoring the original face pastes it onto the new head.
So every face found on the original is judged on evidence from both images:

- **structure**: the correlation of the luminance gradients of original and edit inside the face,
  compared at one fixed face size. A face under drift keeps its edges (eyes, nostrils, lips, jaw)
  where they were, whatever its tone: on every face of the edit bench it is above 0.85. Two
  unrelated pictures have gradients that do not correlate (about 0); a cover over the eyes or a
  new face brings it below 0.35.
- **change**: the median change inside the face (the drift-compensated difference map of the
  pipeline) in units of the frame's own *high* level, the level that seeds certain changes. Drift
  stays below it over most of the face; a face painted, masked or recoloured as a whole does not.
- **surround**: the share of a ring around the face that changed beyond the frame's low level: a
  face inside a larger changed region (a new head, a costume) is part of that change.

A kept face may still be partly covered (sunglasses, a helmet over the forehead, a new background
at its edge): it is protected except where it changed by twice the certain-change level
(``covered_part``), as a hand-drawn label would keep only the part that stays. Twice is the factor
the pipeline already asks of changes next to a face; no drifted face of the bench reaches it. A changed face is
not protected at all: it becomes part of the edit, whole, so no original patch is left inside it.

The rule (``decide``) is one small function; everything here is pure numpy on the analysis-size
copies the pipeline already has, so judging a face costs well under a millisecond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from collections.abc import Sequence

import cv2
import numpy as np

FACE_MODES = ("auto", "always", "never")

# Faces are compared at a fixed size: the ellipse's half-height becomes this many pixels, so a
# thumbnail face and a 4K face give comparable structure numbers (and the cost is constant).
CROP_HALF_HEIGHT = 32
# Blur (pixels at the fixed size) before gradients: noise, JPEG blocks and a pixel of warp out,
# eyes, nostrils and lips (several pixels at this size) in.
STRUCTURE_BLUR = 1.0
# Structure agreement: below CHANGED the face is a new picture, at or above KEPT the same one;
# between them (a partial cover) other evidence decides. Drifted faces measure 0.86-1.0 on the
# edit bench and 20 more synthetic seeds; a VR headset 0.23, a replaced face 0.04, a blank mask
# 0.21, dark glasses 0.58.
STRUCTURE_CHANGED, STRUCTURE_KEPT = 0.35, 0.65
# Median change inside the face, in units of the frame's high level, above which the face as a
# whole was recoloured (paint, make-up, a mask of the same shape): drift stays below 0.8.
CHANGE_WHOLE = 1.5
# The ring around the face (radii in units of the face ellipse) whose changed share tells whether
# the face sits inside a larger changed region, and the share that counts as "inside".
RING_INNER, RING_OUTER = 1.15, 1.6
SURROUND_CHANGED = 0.5
# Inside a kept face, a change counts as a cover at this many times the frame's high level (the
# pipeline's NEAR_GUARD_FACTOR next to a face): on 46 drifted faces of the bench and 20 more
# synthetic seeds at most 0.1 % of a face reaches it, a helmet rim over the forehead 45 %.
COVER_FACTOR = 2.0
# A cover takes a real part of the face (dark glasses a third of it, a visor or a helmet rim
# half); where an edit only meets the face's border (a new background, an object erased beside
# it) under 5 % of the face changes that much, and there the face keeps its whole guard.
COVER_MIN_SHARE = 0.15


@dataclass(frozen=True)
class FaceEvidence:
    """What both images say about one face (see the module docstring)."""

    structure: float
    change: float
    surround: float


@dataclass(frozen=True)
class FaceDecision:
    """``kept``: protect this face (the edit only drifted it); ``partial``: protect only its unchanged
    part; ``reason``: why, in words for the node."""

    kept: bool
    reason: str
    evidence: FaceEvidence | None = None
    partial: bool = False
    # (box, part) from ``covered_part``: the part of a kept face that is not protected
    cover: tuple | None = field(default=None, compare=False, repr=False)
    # in a batch: which face this is (``FaceTracks``), the same number in every frame it is in
    track: int | None = field(default=None, compare=False)


def resolve_mode(value) -> str:
    """A face mode from a node widget or a caller: ``auto``, ``always`` or ``never``.

    Booleans are the old ``protect_faces`` widget of saved workflows: on (protect faces) is the
    new default ``auto``, which protects every face the edit did not change; off is ``never``.
    """
    if isinstance(value, bool):
        return "auto" if value else "never"
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return "auto" if text == "true" else "never"
    if text not in FACE_MODES:
        raise ValueError(f"unknown face mode {value!r}: use one of {', '.join(FACE_MODES)}")
    return text


def decide(ev: FaceEvidence | None) -> FaceDecision:
    """Kept, partly kept or changed, from the evidence of one face; the first rule that applies wins.

    1. Structure far below that of any drifted face: a new face, a cover, another species.
    2. The face's median change is well past the certain-change level: recoloured as a whole
       (paint, a mask of the same shape). The strongest synthetic face drift of the bench reaches
       0.8 of that level, real editors' drift 0.2.
    3. Structure as high as drifted faces have it: drift.
    4. Ambiguous structure inside a larger changed region: part of that change (a new head).
    5. Ambiguous structure otherwise: partly covered; its unchanged part is protected.

    No evidence (a face too small to judge at the analysis size) keeps the face: protecting is
    what Face Guard did before it could judge.
    """
    if ev is None:
        return FaceDecision(True, "too small to judge")
    if ev.structure < STRUCTURE_CHANGED:
        return FaceDecision(False, "changed structure", ev)
    if ev.change > CHANGE_WHOLE:
        return FaceDecision(False, "changed colour", ev)
    if ev.structure >= STRUCTURE_KEPT:
        return FaceDecision(True, "drift only", ev)
    if ev.surround > SURROUND_CHANGED:
        return FaceDecision(False, "inside a changed region", ev)
    return FaceDecision(True, "partly covered", ev, partial=True)


# Video: one face is judged once per frame, and a judgement near a boundary can flip from frame to
# frame (a video editor transforms a face a little less in one frame), which would swap the face
# between original and edit: the worst flicker there is. So a face's decision is made on the median
# of its evidence over the last TRACK_WINDOW frames of the same shot. A face is the same face as in
# an earlier frame when their boxes overlap by TRACK_IOU (a face moves a fraction of its size per
# frame) and it was seen at most TRACK_GAP frames before (a missed detection). Frames belong to one
# shot when their tiny grey thumbnails correlate by SAME_SHOT: consecutive video frames measure
# above 0.95 even while the camera pans; a cut, or a batch of unrelated photos, far below. A single
# image, and every frame after a cut, is judged on its own evidence alone, exactly as before. So is
# a frame whose original is the previous frame's picture exactly: one original under a batch of
# edits (an editor's variations) is not a video, and each variation keeps its own decision.
TRACK_WINDOW, TRACK_IOU, TRACK_GAP = 7, 0.3, 2
SAME_SHOT, THUMB_SIDE = 0.9, 16


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A ``THUMB_SIDE`` x ``THUMB_SIDE`` grey copy of a frame ``[h, w, 3]`` (0..1): what a shot is."""
    return cv2.resize(_grey(rgb), (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA).ravel()


def same_shot(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two ``thumbnail``s are consecutive frames of one shot (correlation >= SAME_SHOT)."""
    a, b = a - a.mean(), b - b.mean()
    energy = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return energy > 1e-9 and float((a * b).sum()) / energy >= SAME_SHOT


@dataclass
class _Track:
    box: tuple[float, float, float, float]
    last: int
    id: int
    history: list[FaceEvidence] = field(default_factory=list)


class FaceTracks:
    """Steady face evidence over the frames of a video (see TRACK_WINDOW above).

    ``steady`` is called once per frame, in frame order (a frame without faces too, so that a cut
    or a gap is seen), and returns each face's evidence as its decision should be made on.
    """

    def __init__(self):
        self._tracks: list[_Track] = []
        self._thumb: np.ndarray | None = None
        self._count = 0  # faces seen so far: the next face's number

    def steady(
        self,
        frame: int,
        original: np.ndarray,
        boxes: Sequence[Sequence[float]],
        evidence: Sequence[FaceEvidence | None],
    ) -> tuple[list[FaceEvidence | None], list[int]]:
        """``evidence`` of frame ``frame``'s faces (``boxes`` in any one pixel scale per video,
        ``original`` the frame's picture ``[h, w, 3]``) replaced by the median over each face's
        track in this shot, and each face's number (the same in every frame of its track)."""
        thumb = thumbnail(original)
        if self._thumb is not None and np.array_equal(thumb, self._thumb):  # the same picture again
            ids = list(range(self._count, self._count + len(boxes)))
            self._count += len(boxes)
            return list(evidence), ids
        if self._thumb is None or not same_shot(self._thumb, thumb):
            self._tracks = []
        self._thumb = thumb
        alive = [t for t in self._tracks if 0 < frame - t.last <= TRACK_GAP + 1]
        pairs = sorted(
            ((box_iou(b, t.box), i, k) for i, b in enumerate(boxes) for k, t in enumerate(alive)), reverse=True
        )
        match: dict[int, _Track] = {}
        taken: set[int] = set()
        for iou, i, k in pairs:
            if iou >= TRACK_IOU and i not in match and k not in taken:
                match[i] = alive[k]
                taken.add(k)
        out, ids = [], []
        for i, (box, ev) in enumerate(zip(boxes, evidence, strict=True)):
            track = match.get(i)
            if track is None:
                track = _Track(tuple(box), frame, self._count)
                self._count += 1
                self._tracks.append(track)
            track.box, track.last = tuple(box), frame
            if ev is not None:
                track.history = (track.history + [ev])[-TRACK_WINDOW:]
            out.append(median_evidence(track.history) if ev is not None else None)
            ids.append(track.id)
        self._tracks = [t for t in self._tracks if frame - t.last <= TRACK_GAP]
        return out, ids


def median_evidence(history: Sequence[FaceEvidence]) -> FaceEvidence:
    """Each measure's median over ``history`` (one frame's evidence is itself)."""
    return FaceEvidence(
        float(np.median([e.structure for e in history])),
        float(np.median([e.change for e in history])),
        float(np.median([e.surround for e in history])),
    )


def ellipse_radius(
    shape: tuple[int, int], ellipse: tuple[float, float, float, float, float], box: tuple[int, int, int, int]
) -> np.ndarray:
    """Normalised elliptical radius (1 on the ellipse) of every pixel of ``box`` = (y0, y1, x0, x1)."""
    cx, cy, a, b, th = ellipse
    y0, y1, x0, x1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xs - cx, ys - cy
    c, s = math.cos(th), math.sin(th)
    pu, pv = dx * c + dy * s, -dx * s + dy * c
    return np.sqrt((pu / max(a, 1e-3)) ** 2 + (pv / max(b, 1e-3)) ** 2)


def _box_around(ellipse, reach: float, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Pixel box (y0, y1, x0, x1) holding the ellipse grown ``reach`` times, clipped to the frame."""
    cx, cy, a, b, th = ellipse
    c, s = math.cos(th), math.sin(th)
    ex = reach * math.sqrt((a * c) ** 2 + (b * s) ** 2) + 1
    ey = reach * math.sqrt((a * s) ** 2 + (b * c) ** 2) + 1
    h, w = shape
    x0, x1 = max(int(math.floor(cx - ex)), 0), min(int(math.ceil(cx + ex)) + 1, w)
    y0, y1 = max(int(math.floor(cy - ey)), 0), min(int(math.ceil(cy + ey)) + 1, h)
    return None if x0 >= x1 or y0 >= y1 else (y0, y1, x0, x1)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.float32)


def structure_agreement(grey_o: np.ndarray, grey_e: np.ndarray, inside: np.ndarray) -> float:
    """Correlation (-1..1) of the gradient fields of two grey crops over the ``inside`` pixels.

    Normalised by both gradients' energy, so it ignores contrast and brightness (the drift the
    pipeline already compensated, or left over on the face); it only asks whether the edges are
    the same edges. A crop with no edges at all in either image (a blank patch) counts as 0.
    """
    gx_o = cv2.Sobel(grey_o, cv2.CV_32F, 1, 0, ksize=3)
    gy_o = cv2.Sobel(grey_o, cv2.CV_32F, 0, 1, ksize=3)
    gx_e = cv2.Sobel(grey_e, cv2.CV_32F, 1, 0, ksize=3)
    gy_e = cv2.Sobel(grey_e, cv2.CV_32F, 0, 1, ksize=3)
    dot = float((gx_o * gx_e + gy_o * gy_e)[inside].sum())
    energy = float((gx_o**2 + gy_o**2)[inside].sum()) * float((gx_e**2 + gy_e**2)[inside].sum())
    return dot / math.sqrt(energy) if energy > 1e-12 else 0.0


def face_evidence(
    ellipse: tuple[float, float, float, float, float],
    original: np.ndarray,
    edited: np.ndarray,
    change: np.ndarray,
    low: float,
    high: float,
) -> FaceEvidence | None:
    """Evidence for one face from the pipeline's analysis-size arrays.

    ``ellipse`` (cx, cy, a, b, theta) is the face region in the arrays' pixels; ``original`` and
    ``edited`` ``[h, w, 3]`` are the original and the aligned, drift-compensated edit (0..1);
    ``change`` ``[h, w]`` is the difference map and ``low``/``high`` the frame's levels. None when
    the face is too small at this size to judge (fewer than about 8 pixels across).
    """
    shape = change.shape
    box = _box_around(ellipse, RING_OUTER, shape)
    if box is None or min(ellipse[2], ellipse[3]) < 4:
        return None
    y0, y1, x0, x1 = box
    r = ellipse_radius(shape, ellipse, box)
    inside = r <= 1.0
    if inside.sum() < 16:
        return None
    d = change[y0:y1, x0:x1]
    ring = (r > RING_INNER) & (r <= RING_OUTER)
    surround = float((d[ring] > low).mean()) if ring.any() else 0.0
    level = float(np.median(d[inside])) / max(high, 1e-6)

    # structure at the fixed face size: ellipse half-height -> CROP_HALF_HEIGHT pixels
    f = CROP_HALF_HEIGHT / max(ellipse[3], 1e-3)
    size = (max(4, round((x1 - x0) * f)), max(4, round((y1 - y0) * f)))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    go = cv2.resize(_grey(original[y0:y1, x0:x1]), size, interpolation=interp)
    ge = cv2.resize(_grey(edited[y0:y1, x0:x1]), size, interpolation=interp)
    go = cv2.GaussianBlur(go, (0, 0), STRUCTURE_BLUR)
    ge = cv2.GaussianBlur(ge, (0, 0), STRUCTURE_BLUR)
    inside_small = cv2.resize(inside.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return FaceEvidence(structure_agreement(go, ge, inside_small), level, surround)


def with_cover(
    decision: FaceDecision,
    ellipse: tuple[float, float, float, float, float],
    change: np.ndarray,
    high: float,
    reach: float = 1.0,
) -> FaceDecision:
    """A kept face's decision with its covered part (``covered_part`` at ``COVER_FACTOR`` times the
    high level) attached, and marked partly edited, when the cover takes at least
    ``COVER_MIN_SHARE`` of the face; other decisions unchanged."""
    if not decision.kept:
        return decision
    cover = covered_part(ellipse, change, COVER_FACTOR * high, reach)
    if cover is None:
        return decision
    (y0, y1, x0, x1), part = cover
    inside = ellipse_radius(change.shape, ellipse, (y0, y1, x0, x1)) <= 1.0
    if (part & inside).sum() < COVER_MIN_SHARE * max(int(inside.sum()), 1):
        return decision
    return replace(decision, partial=True, reason="partly covered", cover=cover)


def covered_part(
    ellipse: tuple[float, float, float, float, float], change: np.ndarray, level: float, reach: float = 1.0
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The changed part of a partly covered face: ``(box, part)`` with ``part`` a boolean array over
    ``box`` (y0, y1, x0, x1) of ``change``'s pixels, or None when nothing inside changed.

    Pixels beyond ``level`` inside the face grown ``reach`` times, specks opened away, the rest
    grown by a tenth of the face's half-height: the cover's edge is then taken from the edit with
    the cover, not cut along its last pixel.
    """
    box = _box_around(ellipse, reach, change.shape)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    part = ((change[y0:y1, x0:x1] > level) & (ellipse_radius(change.shape, ellipse, box) <= reach)).astype(np.uint8)
    part = cv2.morphologyEx(part, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if not part.any():
        return None
    grow = max(1, int(round(0.1 * ellipse[3])))
    part = cv2.dilate(part, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return box, part.astype(bool)


def summary(decisions: Sequence[FaceDecision], frames: int = 1) -> str:
    """Words for the node: "2 faces kept, 1 face edited: changed structure" (reasons of the edited).

    Over ``frames`` > 1 frames of a batch, a face followed from frame to frame (``track``) counts
    once in each decision it got: "1 face kept (24 frames)", not "24 faces kept"."""

    def count(group: list[FaceDecision], what: str) -> str:
        n = len({d.track for d in group}) if all(d.track is not None for d in group) else len(group)
        return f"{n} face{'s' if n != 1 else ''} {what}"

    kept = [d for d in decisions if d.kept and not d.partial]
    partly = [d for d in decisions if d.partial]
    edited = [d for d in decisions if not d.kept]
    if not decisions:
        return "no face found"
    parts = [count(kept, "kept")] if kept else []
    if partly:
        parts.append(count(partly, "partly edited") + " (changed part taken from the edit)")
    if edited:
        reasons = sorted({d.reason for d in edited})
        parts.append(count(edited, "edited") + ": " + ", ".join(reasons))
    return ", ".join(parts) + (f" ({frames} frames)" if frames > 1 else "")


def face_summary(mode: str, per_frame: Sequence[Sequence[FaceDecision]]) -> str:
    """``summary`` of every frame's decisions in mode ``auto``; nothing to say in the other modes."""
    return summary([d for ds in per_frame for d in ds], len(per_frame)) if mode == "auto" else ""
