"""Face Guard: keep faces out of an edit mask.

AI editors drift faces (identity, skin tone, expression) even when asked to change something
else, and a difference mask then happily takes the drifted face from the edited image. Face Guard
detects faces on the original image and subtracts a soft face-shaped region from the mask.

The region is an ellipse built from the five landmarks (eyes, nose, mouth corners), not the
detector's box: a box cuts a hard rectangle through hair and neck, and boxes differ between
detectors by tens of pixels, while landmark geometry gives the face's true centre, size and roll.
The ellipse is sized to reach from the forehead to the chin and across the cheeks up to the ears,
but to stop at the jaw, so an edit of the neckline, collar, earrings or hair can still come right up
to the face.

Detection itself lives in ``face_detect`` (OpenCV, CPU); the mask math here is torch on whatever
device the inputs are on.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch

from . import face_intent
from .blur import downscale, fit_size, shrink_hwc, upscale_crop
from .face_detect import (
    DETECT_MAX_SIDE,
    DETECTORS,
    Face,
    LoadedDetector,
    detect_faces,
    find_mtcnn,
    find_yunet,
    load_detector,
    offline,
)
from .interrupt import checkpoint
from .tensors import as_image, as_mask, batch_size, expand_batch, match_mask, new_like

__all__ = [
    "Face",
    "DETECTORS",
    "detect_faces",
    "load_detector",
    "find_yunet",
    "find_mtcnn",
    "offline",
    "face_ellipse",
    "face_mask",
    "guard_faces",
    "judge_faces",
    "intent_masks",
    "FaceIntent",
    "DEFAULT_PADDING",
    "DEFAULT_SOFTNESS",
]

DEFAULT_PADDING = 0.1
DEFAULT_SOFTNESS = 0.15

# Face proportions in units of the eye-mouth distance D (about 70 mm on an adult; pupil distance is
# about 0.9 D). Vertically the region runs from the hairline (~1.05 D above the eye line) to the chin
# (~1.6 D below it). Horizontally it covers the face proper, cheek to cheek, reaching the ears but
# not covering them: ears, earrings and hair are common edit targets and carry no identity. The
# cheek edge lies ~1.0 D to the side of and ~0.6 D behind the eye midpoint, so a head turned by yaw
# shows it at 1.0 cos(yaw) + 0.6 sin(yaw) on the far side; the nose tip is ~0.4 D in front of the
# eye-mouth plane. (A larger depth, reaching the ear, put earrings of profile portraits under the
# face mask in the edit bench; this one does not.)
_ABOVE_EYES = 1.05
_BELOW_EYES = 1.6
_CHEEK_SIDE = 1.0
_CHEEK_BACK = 0.6
_NOSE_DEPTH = 0.4
_MARGIN = 0.1  # jitter of the landmarks
_EYE_PER_D = 1.08  # eye distance / eye-mouth distance measured on frontal faces (both detectors)


def face_ellipse(face: Face) -> tuple[float, float, float, float, float]:
    """(cx, cy, a, b, theta): centre, half-width, half-height and roll (radians) of the face region.

    From landmarks: the roll comes from the eye line (from the eye-mouth line when the eyes
    nearly coincide, as in a profile), the height from the eye-mouth distance, which a head turn
    does not shorten. The head's yaw is read from how far the nose tip sits to the side of the
    eye-mouth midline and from how much the eye distance shrank; a turned face then extends
    further on the far cheek's side than on the nose side, so the ellipse covers the cheek rather
    than empty background in front of the nose. Without landmarks, or with landmarks that make no
    sense for the box, the ellipse inscribed in the box is used.
    """
    x0, y0, x1, y1 = face.box
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    box_ellipse = ((x0 + x1) / 2, (y0 + y1) / 2, bw / 2, bh / 2, 0.0)
    if not face.landmarks or len(face.landmarks) < 5:
        return box_ellipse
    p = np.asarray(face.landmarks, np.float64)
    if not np.isfinite(p).all():
        return box_ellipse
    eye_r, eye_l, nose, mouth_r, mouth_l = p
    eyes = (eye_r + eye_l) / 2
    mouth = (mouth_r + mouth_l) / 2
    em = mouth - eyes
    d_em = float(np.linalg.norm(em))
    d_eye = float(np.linalg.norm(eye_l - eye_r))
    if d_em < 1e-3:
        return box_ellipse
    u_em = np.array([em[1], -em[0]]) / d_em  # eyes->mouth turned by -90 degrees
    u_eye = (eye_l - eye_r) / max(d_eye, 1e-9)
    w = min(max((d_eye / d_em - 0.3) / 0.4, 0.0), 1.0)  # trust the eye line unless the eyes coincide
    u = w * u_eye + (1 - w) * u_em
    if np.linalg.norm(u) < 1e-6 or np.dot(u, u_em) < 0:  # eye line upside down relative to the mouth
        return box_ellipse
    u = u / np.linalg.norm(u)  # along the eyes, image-left to image-right
    v = np.array([-u[1], u[0]])  # towards the chin
    d_mouth = float(np.dot(em, v))
    if d_mouth <= 0:
        return box_ellipse
    d = max(d_mouth, 0.9 * d_eye / _EYE_PER_D)  # looking down shortens eye-mouth, not eye distance
    if d < 0.05 * max(bw, bh) or d > 2 * max(bw, bh):
        return box_ellipse

    # Yaw: the nose offset gives direction and amount; at strong turns detectors squeeze the
    # landmarks, so the shrunken eye distance may raise the amount (never the direction).
    nose_off = float(np.dot(nose - (eyes + mouth) / 2, u))
    sin_nose = min(max(nose_off / (_NOSE_DEPTH * d), -1.0), 1.0)
    yaw = math.asin(abs(sin_nose))
    if abs(sin_nose) > 0.3:
        yaw = max(yaw, math.acos(min(d_eye / (_EYE_PER_D * d), 1.0)))
    sy, cy_ = math.sin(yaw), math.cos(yaw)
    back = _CHEEK_SIDE * cy_ + _CHEEK_BACK * sy + _MARGIN
    front = max(_CHEEK_SIDE * cy_ - _CHEEK_BACK * sy + _MARGIN, abs(nose_off) / d + _MARGIN)
    ext_plus, ext_minus = (front, back) if sin_nose >= 0 else (back, front)  # extents along +u / -u
    a = (ext_plus + ext_minus) / 2 * d
    b = (_ABOVE_EYES + _BELOW_EYES) / 2 * d
    centre = eyes + u * ((ext_plus - ext_minus) / 2 * d) + v * ((_BELOW_EYES - _ABOVE_EYES) / 2 * d)
    theta = math.atan2(u[1], u[0])
    return float(centre[0]), float(centre[1]), float(a), float(b), theta


def face_mask(
    faces: Sequence[Face],
    height: int,
    width: int,
    padding: float = DEFAULT_PADDING,
    softness: float = DEFAULT_SOFTNESS,
    device: torch.device | str | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Soft face mask ``[height, width]`` in 0..1: 1 inside each padded face ellipse, smooth falloff outside.

    ``padding`` grows both semi-axes by that fraction of the face's size (the mean of the ellipse's
    two semi-axes, about half the hairline-to-chin height); ``softness`` is the width of the
    falloff outside the padded ellipse, as a fraction of the same size. At the defaults the mask is
    1 down to about 1 cm below the chin and fades out by about 2 cm: the jaw line is protected,
    the neck is not. The falloff lies entirely outside so the face itself is always fully
    protected. Each face is evaluated only inside its own bounding rectangle, so many small faces
    in a large frame cost little. ``out`` (optional, zero ``[height, width]``) receives the mask.
    """
    if out is None:
        out = torch.zeros((height, width), dtype=torch.float32, device=device)
    padding = max(float(padding), 0.0)
    softness = max(float(softness), 0.0)
    for face in faces:
        cx, cy, a, b, th = face_ellipse(face)
        size = (a + b) / 2  # mean radius
        a, b = a + padding * size, b + padding * size
        soft = softness * size
        c, s = math.cos(th), math.sin(th)
        # Axis-aligned extent of the rotated ellipse plus the falloff ring.
        ex = math.sqrt((a * c) ** 2 + (b * s) ** 2) + soft + 1
        ey = math.sqrt((a * s) ** 2 + (b * c) ** 2) + soft + 1
        xa, xb = max(int(math.floor(cx - ex)), 0), min(int(math.ceil(cx + ex)) + 1, width)
        ya, yb = max(int(math.floor(cy - ey)), 0), min(int(math.ceil(cy + ey)) + 1, height)
        if xa >= xb or ya >= yb:
            continue
        xs = torch.arange(xa, xb, dtype=torch.float32, device=device) - cx
        ys = torch.arange(ya, yb, dtype=torch.float32, device=device) - cy
        dx, dy = xs[None, :], ys[:, None]
        pu = dx * c + dy * s  # along the eye line
        pv = -dx * s + dy * c  # towards the chin
        r = torch.sqrt((pu / a) ** 2 + (pv / b) ** 2)
        # Distance outside the ellipse, first order: (r - 1) / |grad r|; exact on the axes, close elsewhere.
        grad = torch.sqrt((pu / a**2) ** 2 + (pv / b**2) ** 2) / r.clamp_min(1e-6)
        dist = (r - 1) / grad.clamp_min(1e-9)
        if soft > 0:
            t = (dist / soft).clamp(0, 1)
            m = 1 - t * t * (3 - 2 * t)  # smoothstep: no visible seam at either end
        else:
            m = (dist <= 0).float()
        m = torch.where(r <= 1, torch.ones_like(m), m)
        region = out[ya:yb, xa:xb]
        torch.maximum(region, m, out=region)
    return out


def _frame_uint8(frame: torch.Tensor, max_side: int = DETECT_MAX_SIDE) -> np.ndarray:
    """``[H, W, 3]`` float 0..1 on any device -> uint8 numpy copy on the CPU with the long side at
    most ``max_side``. On a GPU, shrinking (area) and quantising happen there, so only the small
    detection copy crosses to the CPU; on the CPU OpenCV does both."""
    h, w = frame.shape[:2]
    if frame.device.type == "cpu":  # OpenCV: no channels-first round trip, one pass to uint8
        a = np.ascontiguousarray(frame.detach().float().numpy())
        if max(h, w) > max_side:
            a = shrink_hwc(a, fit_size(h, w, max_side))
        return cv2.convertScaleAbs(a, alpha=255.0)
    if max(h, w) > max_side:
        frame = downscale(frame.permute(2, 0, 1)[None], max_side)[0].permute(1, 2, 0)
    return (frame.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def face_masks(
    image: torch.Tensor,
    detector: str | LoadedDetector = "auto",
    model_dirs: Sequence[str | os.PathLike] = (),
    padding: float = DEFAULT_PADDING,
    softness: float = DEFAULT_SOFTNESS,
    progress: Callable[[int, int], None] | None = None,
    detect_copy: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """Soft face masks ``[B, H, W]`` of an ``[B, H, W, 3]`` image, and ``info`` (see ``guard_faces``).

    ``detect_copy`` (optional) is an area-reduced copy of ``image`` with the same aspect ratio and a
    long side of at least ``DETECT_MAX_SIDE``, which the caller already has: faces are then found on
    it, and the full-resolution frames are not read again. ``info["faces"]`` lists each frame's
    faces (full-resolution pixels), which ``judge_faces`` weighs against the edit. In a video, a
    face missed for a frame or two between two frames that have it is put back
    (``fill_missed_faces``).
    """
    image = as_image(image, "image")
    h, w = image.shape[1:3]
    source = image if detect_copy is None else detect_copy
    det = detector if isinstance(detector, LoadedDetector) else load_detector(detector, model_dirs)
    frames = image.shape[0]
    faces = new_like(image, (frames, h, w), zeros=True)  # on the CPU, pages no face touches cost nothing
    counts: list[int] = []
    per_frame: list[list[Face]] = []
    thumbs: list[np.ndarray] = []  # what each frame looks like, to tell a video's shots apart
    prev_u8: np.ndarray | None = None
    prev_faces: list[Face] = []
    if det.name == "none":
        if progress is not None:
            progress(frames, frames)
        return faces, {
            "detector": det.name,
            "message": det.message,
            "faces_per_frame": [0] * frames,
            "faces": [[] for _ in range(frames)],
        }
    for i in range(frames):
        checkpoint("faces")
        # cv2 runs on the CPU only (OpenCV DNN has no torch device): detection uses a uint8 CPU
        # copy of each frame, while the mask math below stays on the input's device.
        u8 = _frame_uint8(source[i])
        back = w / u8.shape[1]
        if prev_u8 is not None and np.array_equal(u8, prev_u8):
            found = prev_faces  # still frame in a video: same faces, same mask
            faces[i] = faces[i - 1]
        else:
            found = det.detect(u8)
            if back != 1.0:
                found = [face.scaled(back) for face in found]
            face_mask(found, h, w, padding, softness, image.device, out=faces[i])
        prev_u8, prev_faces = u8, found
        counts.append(len(found))
        per_frame.append(found)
        thumbs.append(face_intent.thumbnail(u8.astype(np.float32) / 255.0))
        if progress is not None:
            progress(i + 1, frames)
    for i, found in fill_missed_faces(per_frame, thumbs).items():
        per_frame[i], counts[i] = found, len(found)
        face_mask(found, h, w, padding, softness, image.device, out=faces[i])
    return faces, {"detector": det.name, "message": det.message, "faces_per_frame": counts, "faces": per_frame}


def fill_missed_faces(per_frame: Sequence[Sequence[Face]], thumbs: Sequence[np.ndarray]) -> dict[int, list[Face]]:
    """The frames of a video whose detector missed a face it found just before and just after,
    with that face put back: ``{frame: its faces, the missed ones added}``.

    A fast head turn blurs a frame or two and the detector misses the face there, so that frame's
    face drift would be kept while its neighbours are restored: a flash of the drifted face. A face
    found in frame ``i`` and again in frame ``j`` (at most ``face_intent.TRACK_GAP`` frames missed in
    between, boxes overlapping by ``face_intent.TRACK_IOU``, all of it one shot) is in the frames
    between too, at the box (and landmarks) interpolated between the two.
    """
    out: dict[int, list[Face]] = {}
    n = len(per_frame)
    # cut[k]: frames k and k + 1 are not one shot (measured once per pair of frames)
    cut = [not face_intent.same_shot(thumbs[k], thumbs[k + 1]) for k in range(n - 1)]
    for i in range(n - 2):
        for gap in range(1, face_intent.TRACK_GAP + 1):
            j = i + gap + 1
            if j >= n or any(cut[i:j]):
                break
            for a in per_frame[i]:
                b = max(per_frame[j], key=lambda f: face_intent.box_iou(a.box, f.box), default=None)
                if b is None or face_intent.box_iou(a.box, b.box) < face_intent.TRACK_IOU:
                    continue
                for k in range(i + 1, j):
                    t = (k - i) / (j - i)
                    mid = _between(a, b, t)
                    have = out.get(k, list(per_frame[k]))
                    if all(face_intent.box_iou(mid.box, f.box) < face_intent.TRACK_IOU for f in have):
                        out[k] = have + [mid]
    return out


def _between(a: Face, b: Face, t: float) -> Face:
    """The face ``t`` of the way from ``a`` to ``b`` (box, landmarks when both have them, score)."""

    def lerp(u, v):
        return tuple(x + t * (y - x) for x, y in zip(u, v, strict=True))

    marks = None
    if a.landmarks is not None and b.landmarks is not None:
        marks = tuple(lerp(p, q) for p, q in zip(a.landmarks, b.landmarks, strict=True))
    return Face(lerp(a.box, b.box), marks, min(a.score, b.score))


def judge_faces(
    faces: Sequence[Face],
    size: tuple[int, int],
    original: np.ndarray,
    edited: np.ndarray,
    change: np.ndarray,
    low: float,
    high: float,
    padding: float = DEFAULT_PADDING,
    softness: float = DEFAULT_SOFTNESS,
    tracks: face_intent.FaceTracks | None = None,
    frame: int = 0,
) -> list[face_intent.FaceDecision]:
    """Kept or changed, for each face of one frame (see ``face_intent``).

    ``faces`` are in full-resolution pixels of a frame of ``size`` (H, W); ``original``, ``edited``
    (aligned and drift-compensated) ``[h, w, 3]`` and ``change`` ``[h, w]`` are the pipeline's
    analysis-size arrays, with the frame's ``low`` and ``high`` levels. A kept face's covered part
    is looked for as far as its guard reaches (``padding`` and ``softness`` as in ``face_mask``).
    ``tracks`` (video): the batch's ``face_intent.FaceTracks``, which steadies each face's evidence
    over the frames of a shot; ``frame`` is this frame's index in the whole batch.
    """
    s = change.shape[1] / size[1]
    ellipses = [face_ellipse(f.scaled(s)) for f in faces]
    evidence = [face_intent.face_evidence(el, original, edited, change, low, high) for el in ellipses]
    ids = [None] * len(faces)
    if tracks is not None:
        evidence, ids = tracks.steady(frame, original, [f.box for f in faces], evidence)
    # the guard reaches beyond the ellipse by its padding and soft edge: so does the cover
    reach = 1.0 + padding + softness
    return [
        replace(face_intent.with_cover(face_intent.decide(ev), el, change, high, reach), track=t)
        for el, ev, t in zip(ellipses, evidence, ids, strict=True)
    ]


def intent_masks(
    faces: Sequence[Face],
    decisions: Sequence[face_intent.FaceDecision],
    all_faces: torch.Tensor,
    change: np.ndarray,
    padding: float = DEFAULT_PADDING,
    softness: float = DEFAULT_SOFTNESS,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(guard, take)`` of one frame from its faces' decisions.

    ``guard`` ``[H, W]``: the soft mask of the kept faces, with the changed part of a partly covered
    face cut out; ``all_faces`` (every face's mask, as ``face_masks`` made it) when every face was
    kept whole. ``take`` ``[H, W]`` (0/1) or None: the changed faces, which join the edit whole.
    """
    if all(d.kept and d.cover is None for d in decisions):
        return all_faces, None
    h, w = all_faces.shape
    kept = [f for f, d in zip(faces, decisions, strict=True) if d.kept]
    guard = face_mask(kept, h, w, padding, softness, all_faces.device)
    s = change.shape[1] / w
    for d in decisions:
        if not d.kept or d.cover is None:
            continue
        (y0, y1, x0, x1), part = d.cover
        small = np.zeros(change.shape, np.float32)
        small[y0:y1, x0:x1] = part
        box = (
            max(0, int(y0 / s)),
            min(h, int(math.ceil(y1 / s)) + 1),
            max(0, int(x0 / s)),
            min(w, int(math.ceil(x1 / s)) + 1),
        )
        cover = upscale_crop(torch.from_numpy(small)[None, None].to(guard.device), (h, w), box)[0, ..., 0]
        guard[box[0] : box[1], box[2] : box[3]] *= 1 - cover.clamp(0, 1)
    changed = [f for f, d in zip(faces, decisions, strict=True) if not d.kept]
    take = None
    if changed:
        take = (face_mask(changed, h, w, padding, 0.0, all_faces.device) > 0.5).float()
    return guard, take


def guard_faces(
    image: torch.Tensor,
    mask: torch.Tensor,
    protect: torch.Tensor | None = None,
    detector: str | LoadedDetector = "auto",
    model_dirs: Sequence[str | os.PathLike] = (),
    padding: float = DEFAULT_PADDING,
    softness: float = DEFAULT_SOFTNESS,
    progress: Callable[[int, int], None] | None = None,
    edited: torch.Tensor | None = None,
    mode: str = "always",
):
    """Remove faces (and an optional protect mask) from an edit mask.

    ``image`` ``[B, H, W, 3]`` is the ORIGINAL image (faces are found where they were before the
    edit); ``mask`` and ``protect`` are ``[B, H, W]``; a batch of 1 broadcasts against N, and masks of
    another size are resized when the aspect ratio agrees. Returns ``(guarded, faces, info)``:
    ``guarded = mask * (1 - max(faces, protect))``, the soft faces mask, and
    ``info = {"detector", "message", "faces_per_frame", "faces"}``. ``progress(done, total)`` is
    called after each frame's detection. ``detector`` is a name from ``DETECTORS`` or an already
    loaded detector.

    ``mode`` (``face_intent.FACE_MODES``): ``always`` protects every face; ``never`` none (only
    ``protect``); ``auto`` judges each face against ``edited`` (the edit of ``image``) and protects
    only those the edit kept, adding those it changed to the mask (``info["summary"]`` says which).
    Without ``edited`` nothing can be judged and ``auto`` protects every face.
    """
    mode = face_intent.resolve_mode(mode)
    image = as_image(image, "image")
    mask = as_mask(mask, "mask")
    protect = as_mask(protect, "protect") if protect is not None else None
    n = batch_size(image, mask, protect, None if edited is None or mode != "auto" else as_image(edited, "edited"))
    h, w = image.shape[1:3]
    device = image.device
    mask = match_mask(mask.to(device), h, w, "mask")
    if protect is not None:
        protect = match_mask(protect.to(device), h, w, "protect")
    if mode == "never":
        detector = "none"
    faces, info = face_masks(image, detector, model_dirs, padding, softness, progress)
    faces_n = expand_batch(faces, n)
    mask = expand_batch(mask, n)
    if mode == "auto" and edited is not None and any(info["faces"]):
        faces_n, mask, info = _judge_batch(image, edited, faces_n, mask, info, padding, softness)
    elif mode == "auto" and any(info["faces"]):
        info["summary"] = "no edited image connected: every face protected (connect 'edited' to judge each face)"
    shield = faces_n if protect is None else torch.maximum(faces_n, expand_batch(protect, n))
    guarded = mask * (1 - shield)
    if image.shape[0] == 1 and n > 1 and len(info["faces_per_frame"]) == 1:
        info["faces_per_frame"] = info["faces_per_frame"] * n
    return guarded.contiguous(), faces_n.contiguous(), info


def _judge_batch(
    image: torch.Tensor,
    edited: torch.Tensor,
    faces: torch.Tensor,
    mask: torch.Tensor,
    info: dict,
    padding: float,
    softness: float,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Face intent for ``guard_faces``: the difference stage of the pipeline runs on the pair (with
    its alignment, drift compensation and levels) and hands each frame's evidence to the same
    ``FaceIntent`` hook Smart Mask (auto) uses, so Face Guard judges faces exactly as auto does."""
    from .pipeline import MaskOptions, _difference, prepare_pair

    o, e = prepare_pair(image, edited)
    n = o.shape[0]
    faces = expand_batch(faces, n)
    found = dict(info, faces=info["faces"] * n if len(info["faces"]) == 1 else info["faces"])
    intent = FaceIntent("auto", lambda: (faces, found), padding, softness)
    # only the evidence the difference stage hands the guard is used, not its mask
    _difference(o, e, MaskOptions(), lambda i, evidence: intent.guard(i, evidence)[None], None)
    mask = expand_batch(mask, n).clone()
    faces, info = intent.finish(mask)  # the changed faces join ``mask`` whole
    return faces, mask, info


class FaceIntent:
    """The face-intent hook of ``pipeline.auto`` (decisions in ``face_intent``, masks here).

    ``guard(i, evidence)`` gives frame ``i``'s faces to protect: in mode ``auto`` only the faces the
    edit kept, judged on the difference stage's evidence; ``finish(mask)`` adds the faces the edit
    changed to the difference mask (they are edit, whole) and returns the protected faces and the
    info with each decision and the node's summary. In a video each face is decided on its evidence
    over the last frames of the shot (``face_intent.FaceTracks``), so ``guard`` must be called in
    frame order.
    """

    def __init__(
        self,
        mode: str,
        found,
        padding: float = DEFAULT_PADDING,
        softness: float = DEFAULT_SOFTNESS,
        tracks: face_intent.FaceTracks | None = None,
        first: int = 0,
    ):
        self.mode, self.found = mode, found
        self.padding, self.softness = padding, softness  # of the face masks ``found`` gives
        # a video's face tracks, shared by its chunks; ``first``: this chunk's first frame in the batch
        self.tracks = face_intent.FaceTracks() if tracks is None else tracks
        self.first = first
        self.guards: dict[int, torch.Tensor] = {}
        self.takes: dict[int, torch.Tensor] = {}
        self.decisions: dict[int, list] = {}

    def guard(self, i: int, evidence) -> torch.Tensor:
        """Frame ``i``'s faces to protect ``[H, W]``; ``evidence`` is the difference stage's
        ``edit_mask.FrameEvidence`` of that frame."""
        masks, info = self.found()
        faces = info["faces"][i]
        if self.mode != "auto":
            return masks[i]
        original = evidence.original[0].permute(1, 2, 0).cpu().numpy()
        if not faces:  # the tracks still see the frame: a cut, or a face missing from it
            self.tracks.steady(self.first + i, original, [], [])
            return masks[i]
        lv = evidence.levels
        size = tuple(masks.shape[1:3])
        decisions = judge_faces(
            faces,
            size,
            original,
            evidence.edited[0].permute(1, 2, 0).cpu().numpy(),
            evidence.change,
            lv.low,
            lv.high,
            self.padding,
            self.softness,
            self.tracks,
            self.first + i,
        )
        found = masks[i]
        g, take = intent_masks(faces, decisions, found, evidence.change, self.padding, self.softness)
        self.decisions[i] = decisions
        if g is not found:
            self.guards[i] = g
        if take is not None:
            self.takes[i] = take
        return g

    def finish(self, mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
        masks, info = self.found()
        for i, take in self.takes.items():
            torch.maximum(mask[i], take, out=mask[i])
        if self.guards:  # some face was not kept whole: the protected faces differ from those found
            masks = masks.clone()
            for i, g in self.guards.items():
                masks[i] = g
        info = dict(info)
        if self.mode == "auto":
            per_frame = [
                self.decisions.get(i, [face_intent.FaceDecision(True, "not judged")] * len(f))
                for i, f in enumerate(info["faces"])
            ]
            info["decisions"] = per_frame
            info["faces_per_frame"] = [sum(d.kept for d in ds) for ds in per_frame]
            info["summary"] = face_intent.face_summary(self.mode, per_frame)
        return masks, info
