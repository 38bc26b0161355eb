"""What a user sees, pinned so that a broken pipeline fails here (in-process; the server and
browser tests cover the same promises through ComfyUI).

Every test here was checked to fail against a deliberate bug (named in its docstring); most of
those bugs are kept as named mutants in ``scripts/mutation_check.py``, which CI runs.
Randomness is seeded (``torch.Generator`` / ``np.random.default_rng``), never global.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from skimage import data

import smartmask.blur as blur_mod
from smartmask import interrupt
from smartmask.align import _warp_cpu, _warp_torch
from smartmask.blur import box_blur, gaussian_blur
from smartmask.feather import grow
from smartmask.pipeline import FeatherOptions, MaskOptions, auto, composite, difference_mask

from pack import load_pack


# ---------------------------------------------------------------------------------------- helpers
def astronaut() -> torch.Tensor:
    """The astronaut photo ``[1, 512, 512, 3]``: one upright face, chin at y = 168, collar below."""
    return torch.from_numpy(data.astronaut().astype(np.float32) / 255.0)[None]


def region(h: int, w: int, y0: int, y1: int, x0: int, x1: int, batch: int = 1) -> torch.Tensor:
    m = torch.zeros(batch, h, w)
    m[:, y0:y1, x0:x1] = 1.0
    return m


def recolour(o: torch.Tensor, where: torch.Tensor, seed: int = 0, noise: float = 0.004) -> torch.Tensor:
    """An editor's result: ``where`` recoloured (channels swapped, red halved), plus seeded noise
    everywhere (the editor's re-encoding)."""
    g = torch.Generator().manual_seed(seed)
    r = where[..., None]
    swapped = torch.stack([o[..., 2], o[..., 0] * 0.5, o[..., 1]], -1)
    e = o * (1 - r) + swapped * r
    return (e + torch.randn(e.shape, generator=g) * noise).clamp(0, 1)


def changed(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[B, H, W]`` bool: pixels where any channel differs at all."""
    return (a != b).any(-1)


# ------------------------------------------------------------------------------------------ faces
def neckline_edit_with_face_drift() -> tuple[torch.Tensor, torch.Tensor]:
    """The astronaut with the collar, neck and jaw recoloured (the edit reaches the chin) and the
    face itself only drifted (3 % brighter), as editors do. The face is NOT what the edit changed."""
    o = astronaut()
    e = o.clone()
    e[:, 40:175, 150:300] = (e[:, 40:175, 150:300] * 1.03 + 0.01).clamp(0, 1)  # drift only
    return o, recolour(e, region(512, 512, 160, 330, 140, 320))


@pytest.fixture(scope="module")
def neckline_runs():
    o, e = neckline_edit_with_face_drift()
    guarded = auto(o, e, faces=True, face_detector="mtcnn")  # the offline detector: no model file needed
    unguarded = auto(o, e, faces=False)
    return o, e, guarded, unguarded


def test_face_is_pixel_identical_when_the_edit_reaches_the_jaw(neckline_runs):
    """Bug caught: faces (and protect) no longer cut out of the mask, while the node still reports
    'faces protected: 1'."""
    o, _, guarded, unguarded = neckline_runs
    face = guarded.faces[0] >= 1.0
    assert face[95:150, 200:255].all(), "the face mask covers eyes, nose and mouth"
    assert "faces protected: 1 (detector: mtcnn)" in guarded.describe()
    # premise: without the guard the edit's mask reaches into the face and changes it
    assert changed(unguarded.image, o)[0][face].sum() > 200
    assert not changed(guarded.image, o)[0][face].any(), "a protected face pixel changed"
    assert guarded.mask[0][face].max() == 0
    # and the edit itself still happens below the face
    assert changed(guarded.image, o)[0, 220:320, 160:300].float().mean() > 0.9


def test_protect_is_kept_exactly_in_auto():
    """Bug caught: auto's ``protect`` input ignored (or only half applied, e.g. not after feathering)."""
    o = astronaut()
    edit = region(512, 512, 300, 480, 60, 460)
    e = recolour(o, edit, seed=3)
    protect = region(512, 512, 280, 512, 260, 512)  # the right half of the edit, and its surroundings
    res = auto(o, e, faces=False, protect=protect)
    keep = protect[0] > 0
    plain = auto(o, e, faces=False)
    assert changed(plain.image, o)[0][keep].sum() > 10_000, "premise: the edit reaches the protected area"
    assert not changed(res.image, o)[0][keep].any(), "a protected pixel changed"
    assert res.mask[0][keep].max() == 0
    assert changed(res.image, o)[0, 320:460, 80:240].float().mean() > 0.9, "the unprotected half is edited"


# ------------------------------------------------------------------------------------------ batches
def test_each_frame_of_a_batch_gets_its_own_mask():
    """Bug caught: every frame of a batch given frame 0's mask (or frame 0's edit)."""
    o = astronaut()
    boxes = [(300, 420, 40, 160), (300, 420, 200, 320), (40, 140, 360, 480)]
    e = torch.cat([recolour(o, region(512, 512, *b), seed=i) for i, b in enumerate(boxes)])
    diff = difference_mask(o, e)
    res = auto(o, e, faces=False)
    for i in range(len(boxes)):
        for j, (v0, v1, u0, u1) in enumerate(boxes):
            covered = diff.mask[i, v0:v1, u0:u1].mean().item()
            taken = changed(res.image[i : i + 1], o)[0, v0:v1, u0:u1].float().mean().item()
            if i == j:
                assert covered > 0.9 and taken > 0.9, (i, covered, taken)
            else:
                assert covered < 0.02 and taken < 0.02, f"frame {i} took frame {j}'s edit: {covered}, {taken}"


def test_a_face_the_detector_misses_in_one_video_frame_is_still_protected():
    """Bug caught: a video frame whose face the detector missed (motion blur of a fast head turn)
    left unguarded, so the edit reaching the jaw changes that frame's face while its neighbours
    keep theirs: a flash of the drifted face."""
    o = astronaut()
    kernel = torch.full((1, 1, 1, 31), 1 / 31)  # 31 px of horizontal motion blur: no face found there
    blurred = torch.nn.functional.conv2d(
        torch.nn.functional.pad(o.permute(3, 0, 1, 2), (15, 15, 0, 0), mode="replicate"), kernel
    ).permute(1, 2, 3, 0)
    frames = torch.cat([o, blurred, o])
    edits = []
    for i in range(3):
        e = frames[i : i + 1].clone()
        e[:, 40:175, 150:300] = (e[:, 40:175, 150:300] * 1.03 + 0.01).clamp(0, 1)  # the face only drifts
        edits.append(recolour(e, region(512, 512, 160, 330, 140, 320), seed=i))
    alone = auto(blurred, edits[1], face_detector="mtcnn")
    face = (slice(95, 150), slice(200, 255))
    assert alone.face_info["faces_per_frame"] == [0], "premise: the blurred frame alone has no face found"
    assert changed(alone.image, blurred)[0][face].any(), "premise: unguarded, the edit reaches the face"
    res = auto(frames, torch.cat(edits), face_detector="mtcnn")
    assert res.face_info["faces_per_frame"] == [1, 1, 1]
    assert not changed(res.image, frames)[:, face[0], face[1]].any(), "a frame's face changed"
    assert changed(res.image, frames)[:, 220:320, 160:300].float().mean() > 0.9, "the edit still happens"


# ------------------------------------------------------------------------------------------ composite
def test_multiband_through_auto_keeps_the_outside_and_blends_the_seam():
    """Bugs caught: multiband that leaks outside the mask, that is ignored (alpha used), or that
    does not take the edit inside."""
    o = astronaut()
    edit = region(512, 512, 300, 470, 80, 430)
    e = recolour(o, edit, seed=5)
    alpha = auto(o, e, faces=False, method="alpha")
    multi = auto(o, e, faces=False, method="multiband")
    outside = multi.mask[0] == 0
    assert outside.float().mean() > 0.5
    assert not changed(multi.image, o)[0][outside].any(), "multiband changed a pixel where the mask is 0"
    inside = multi.mask[0] == 1
    assert inside[330:440, 120:390].float().mean() > 0.7
    assert (multi.image[0][inside] - e[0][inside]).abs().max() < 1e-3, "multiband does not take the edit inside"
    seam = (multi.mask[0] > 0.05) & (multi.mask[0] < 0.95)
    assert seam.sum() > 500
    assert (multi.image[0][seam] - alpha.image[0][seam]).abs().max() > 0.02, "multiband is the alpha blend"


def test_feather_in_pixels_with_exclude_keeps_the_excluded_area_at_zero():
    """Bug caught: Feather's exclude applied before feathering (the soft edge then spreads back in)."""
    from smartmask.pipeline import exclude_after, feather_pixels

    m = region(128, 128, 30, 100, 30, 100)
    face = region(128, 128, 0, 40, 0, 128)
    soft = exclude_after(feather_pixels(m, None, 6, 4.0, 0), face)
    assert soft[0, :40].max() == 0
    assert soft[0, 40:46, 60].min() > 0.2, "the soft edge is still there just below the excluded area"
    assert soft[0, 70, 70] == 1.0


def test_manual_threshold_is_used_and_reported():
    """Bug caught: a user's threshold ignored (the automatic levels used instead)."""
    o = astronaut()[:, ::2, ::2].contiguous()
    e = recolour(o, region(256, 256, 150, 240, 30, 200))
    res = difference_mask(o, e, MaskOptions(threshold=37.5))
    lv = res.levels[0]
    assert (lv.low, lv.high) == (18.75, 37.5)
    assert "high 37.50" in res.describe()
    assert difference_mask(o, e).levels[0].high != 37.5


# ------------------------------------------------------------------------------------------ blurs
def _impulse_width(img: np.ndarray) -> float:
    w = img.sum(0)
    x = np.arange(len(w))
    c = (w * x).sum() / w.sum()
    return float(np.sqrt((w * (x - c) ** 2).sum() / w.sum()))


@pytest.fixture(params=["opencv", "torch"])
def blur_path(request, monkeypatch):
    """Both twins of the blurs: OpenCV (CPU float32) and torch (what a GPU runs)."""
    if request.param == "torch":
        monkeypatch.setattr(blur_mod, "_on_cpu", lambda x: False)
    return request.param


@pytest.mark.parametrize("sigma", [0.8, 1.5, 4.0, 7.0, 12.0, 30.0])
def test_gaussian_blur_width_matches_scipy(sigma, blur_path):
    """Bugs caught: a blur twice (or half) as wide, or the pyramid path's sigma wrong; a blur
    that returns the image mean. The impulse response is compared with scipy's: its width within
    3 %, its values within 3 % of the peak (a 2x sigma gives 75 %)."""
    x = torch.zeros(1, 1, 257, 257)
    x[0, 0, 128, 128] = 1.0
    ours = gaussian_blur(x, sigma)[0, 0].numpy().astype(np.float64)
    ref = ndi.gaussian_filter(x[0, 0].numpy().astype(np.float64), sigma, mode="mirror")
    assert abs(_impulse_width(ours) / sigma - 1) < 0.03, _impulse_width(ours)
    assert np.abs(ours - ref).max() < 0.03 * ref.max()


@pytest.mark.parametrize("radius", [1, 3, 10, 30])
def test_box_blur_is_the_window_mean(radius, blur_path):
    """Bug caught: a box of the wrong size (r instead of 2r + 1) in either twin."""
    g = np.random.default_rng(radius)
    x = torch.from_numpy(g.random((2, 3, 97, 83), dtype=np.float32))
    got = box_blur(x, radius).numpy()
    want = ndi.uniform_filter(x.numpy().astype(np.float64), size=(1, 1, 2 * radius + 1, 2 * radius + 1), mode="mirror")
    assert np.abs(got - want).max() < 1e-5


# ------------------------------------------------------------------------------------------ twins
def test_gaussian_and_box_blur_twins_agree(monkeypatch):
    """The torch path (GPU) and the OpenCV path (CPU) of each blur give the same result."""
    g = np.random.default_rng(11)
    x = torch.from_numpy(g.random((2, 3, 61, 47), dtype=np.float32))
    cv = [gaussian_blur(x, s) for s in (1.0, 5.0, 9.0)] + [box_blur(x, r) for r in (1, 4, 20)]
    monkeypatch.setattr(blur_mod, "_on_cpu", lambda t: False)
    th = [gaussian_blur(x, s) for s in (1.0, 5.0, 9.0)] + [box_blur(x, r) for r in (1, 4, 20)]
    for a, b in zip(cv, th):
        assert (a - b).abs().max() < 1e-5


@pytest.mark.parametrize("radius", [1, 2, 5, 12, 20, -5, -12])
def test_grow_twins_differ_only_by_octagon_versus_disk(radius):
    """``grow``'s OpenCV path dilates by a disk (cv2 ellipse), the torch path (GPU) by an octagon
    of the same radius (beyond 16 px: a distance transform's disk): the octagon contains the disk
    and adds at most 17 % of its area, or 4 px (at radius 12: 64 px of 477; at 20: 204 of 1257),
    all in the octagon's corners. Erosion is the mirror image."""
    m = torch.zeros(1, 101, 101)
    m[0, 50, 50] = 1.0
    if radius < 0:
        m = 1.0 - m
    disk, octagon = grow(m, radius), grow(m.double(), radius).float()  # float64 takes the torch path
    if radius < 0:
        disk, octagon = 1 - disk, 1 - octagon
    disk, octagon = disk[0] > 0.5, octagon[0] > 0.5
    r = abs(radius)
    assert disk.sum() >= math.pi * r * r * 0.9
    assert (octagon | disk).equal(octagon), "the octagon contains the disk"
    extra = (octagon & ~disk).sum().item()
    assert extra <= max(4, 0.17 * disk.sum().item()), extra
    if extra:
        ys, xs = torch.nonzero(octagon & ~disk, as_tuple=True)
        dist = torch.hypot(ys.float() - 50, xs.float() - 50)
        assert dist.min() > 0.7 * r, "the extra pixels are in the corners, not along the axes"
    # on a seeded random mask the two agree except near those corners
    g = torch.Generator().manual_seed(abs(radius))
    blobs = (torch.rand(2, 80, 90, generator=g) > 0.98).float()
    a, b = grow(blobs, r), grow(blobs.double(), r).float()
    assert (a <= b).all() and (a != b).float().mean() < 0.15


@pytest.mark.parametrize(
    "matrix",
    [
        [[1.006, 0.0, -2.3], [0.0, 1.006, 1.7]],
        [[math.cos(0.02), -math.sin(0.02), 3.3], [math.sin(0.02), math.cos(0.02), -4.1]],
        [[1.0, 0.0, 0.75], [0.0, 1.0, -0.6]],
    ],
)
def test_warp_twins_agree(matrix):
    """The OpenCV warp (CPU) and the ``grid_sample`` warp (GPU) give the same image: bicubic with
    a = -0.75 both, the border strip taken from the original in both (measured: 3e-5 at most)."""
    img = astronaut()[0]
    g = torch.Generator().manual_seed(2)
    other = torch.rand(img.shape, generator=g)  # where a source pixel lies outside, the original shows
    m = np.array(matrix)
    a, b = _warp_cpu(img, other, m), _warp_torch(img, other, m)
    assert (a - b).abs().max() < 1e-4
    outside = (a - other).abs().sum(-1) == 0
    assert outside.sum() > 0 and torch.equal(outside, (b - other).abs().sum(-1) == 0)


# ------------------------------------------------------------------------------------------ interruption
class Interrupted(Exception):
    pass


@pytest.fixture
def stages():
    """Installs a check that records the checkpoints passed, and raises where ``state["stop"]`` says."""
    seen: list[str] = []
    state = {"stop": None}

    def check(stage):
        seen.append(stage)
        if state["stop"] is not None and state["stop"](stage, seen):
            raise Interrupted(stage)

    interrupt.set_check(check)
    try:
        yield seen, state
    finally:
        interrupt.set_check(None)


def test_interrupt_reaches_inside_one_large_frame(stages):
    """Bug caught: Cancel only honoured between frames, so one large photo ran to the end."""
    seen, state = stages
    o = astronaut()
    e = recolour(o, region(512, 512, 300, 470, 80, 430))
    auto(o, e, faces=False)
    order = [stage for stage in seen if stage in ("difference", "feather", "composite")]
    assert order == ["difference", "feather", "composite"], seen
    for stop in ("difference", "feather", "composite"):
        seen.clear()
        state["stop"] = lambda stage, _seen, stop=stop: stage == stop
        with pytest.raises(Interrupted):
            auto(o, e, faces=False)
        assert seen[-1] == stop


def test_interrupt_reaches_the_face_detection(stages):
    """Bug caught: the face detection (a worker thread in auto) ran every frame of the chunk after
    Cancel; it must stop at the next frame and the error must reach the caller."""
    seen, state = stages
    o = astronaut()
    frames = torch.cat([o, o.flip(2), o.flip(1), o * 0.9])  # four different frames, no reuse
    e = torch.cat([recolour(f[None], region(512, 512, 300, 470, 80, 430), seed=i) for i, f in enumerate(frames)])
    state["stop"] = lambda stage, seen_: stage == "faces" and seen_.count("faces") == 2
    with pytest.raises(Interrupted):
        auto(frames, e, faces=True, face_detector="mtcnn")
    assert seen.count("faces") == 2, "face detection went on after the interruption"
    assert "feather" not in seen and "composite" not in seen


def test_nodes_install_comfyuis_interrupt_check(monkeypatch):
    """The nodes hand ComfyUI's interrupt check to the core's checkpoints (in a server this is
    ``comfy.model_management.throw_exception_if_processing_interrupted``)."""
    import sys
    import types

    pack = load_pack()  # first: its comfy_api import needs the real ``comfy`` package
    calls = []
    mm = types.ModuleType("comfy.model_management")
    mm.throw_exception_if_processing_interrupted = lambda: calls.append(1)
    comfy = types.ModuleType("comfy")
    comfy.model_management = mm
    monkeypatch.setitem(sys.modules, "comfy", comfy)
    monkeypatch.setitem(sys.modules, "comfy.model_management", mm)
    try:
        pack.nodes._comfy.install_interrupt_check()
        pack.smartmask.interrupt.checkpoint("test")
        assert calls == [1]
    finally:
        pack.smartmask.interrupt.set_check(None)


def test_composite_outside_the_mask_is_the_original_bit_for_bit():
    """Bug caught: a composite computed in float16 (or through a rounding round trip): half the
    untouched pixels would be off by one level."""
    o = astronaut()
    e = recolour(o, region(512, 512, 200, 400, 100, 400))
    m = region(512, 512, 190, 410, 90, 410)
    for method in ("alpha", "multiband"):
        out = composite(o, e, m, method)
        assert torch.equal(out[0][m[0] == 0], o[0][m[0] == 0]), method


def test_feather_options_change_the_soft_edge():
    """Bug caught: FeatherOptions ignored by auto (the defaults always used)."""
    o = astronaut()
    e = recolour(o, region(512, 512, 300, 470, 80, 430))
    narrow = auto(o, e, faces=False, feather_opts=FeatherOptions(feather=0.001, edge_aware=False))
    wide = auto(o, e, faces=False, feather_opts=FeatherOptions(feather=0.01, edge_aware=False))
    soft = lambda m: ((m > 0.02) & (m < 0.98)).sum().item()  # noqa: E731
    assert soft(wide.mask) > 2 * soft(narrow.mask)
