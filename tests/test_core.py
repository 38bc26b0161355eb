"""Core behaviour on tensors: validation, alignment, difference mask, feather, composite."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data

from smartmask.align import estimate_motion, warp_to_original
from smartmask.blur import box_blur
from smartmask.composite import alpha_composite, multiband_composite
from smartmask.feather import close_gaps, grow, guided_filter
from smartmask.pipeline import MaskOptions, auto, composite, difference_mask, feather_mask
from smartmask.tensors import SmartMaskError, as_image, as_mask, batch_size, match_size


def photo(size=384) -> torch.Tensor:
    img = torch.from_numpy(data.astronaut().astype(np.float32) / 255.0)[None]
    return torch.nn.functional.interpolate(img.permute(0, 3, 1, 2), size=(size, size), mode="area").permute(0, 2, 3, 1)


def box_region(h, w, y0, y1, x0, x1):
    m = torch.zeros(1, h, w)
    m[:, y0:y1, x0:x1] = 1
    return m


def drifted_edit(o: torch.Tensor, region: torch.Tensor, seed=0):
    """Recolour ``region`` and add editor-like drift: gain/offset and noise everywhere."""
    g = torch.Generator().manual_seed(seed)
    e = o.clone()
    r = region[..., None]
    recoloured = torch.stack([o[..., 2], o[..., 0] * 0.5, o[..., 1]], -1)
    e = e * (1 - r) + recoloured * r
    e = e * torch.tensor([1.02, 0.99, 1.01]) + 0.01
    e = e + torch.randn(e.shape, generator=g) * 0.006
    return e.clamp(0, 1)


@pytest.fixture(autouse=True)
def seeded():
    """Random test inputs are the same on every run."""
    torch.manual_seed(0)


# ------------------------------------------------------------------ validation
def test_rgba_and_grayscale_inputs_are_normalised():
    rgba = torch.rand(1, 8, 8, 4)
    assert torch.equal(as_image(rgba)[..., :3], rgba[..., :3])
    gray = torch.rand(2, 8, 8, 1)
    out = as_image(gray)
    assert out.shape == (2, 8, 8, 3) and torch.equal(out[..., 0], out[..., 2])
    assert as_image(torch.rand(8, 8, 3)).shape == (1, 8, 8, 3)


def test_nan_and_bad_shapes_give_actionable_errors():
    x = torch.rand(1, 8, 8, 3)
    x[0, 2, 2, 1] = float("nan")
    with pytest.raises(SmartMaskError, match="NaN"):
        as_image(x, "edited")
    with pytest.raises(SmartMaskError, match="channels"):
        as_image(torch.rand(1, 8, 8, 5))
    with pytest.raises(SmartMaskError, match="MASK"):
        as_mask(torch.rand(1, 8, 8, 3))
    with pytest.raises(SmartMaskError, match="at least 2x2"):
        as_image(torch.rand(1, 1, 1, 3))


def test_batches_broadcast_one_against_n_and_reject_mismatch():
    assert batch_size(torch.zeros(1, 2, 2, 3), torch.zeros(5, 2, 2, 3)) == 5
    with pytest.raises(SmartMaskError, match=r"batch sizes \[2, 3\]"):
        batch_size(torch.zeros(2, 2, 2, 3), torch.zeros(3, 2, 2, 3))


def test_size_mismatch_resizes_or_explains():
    o = torch.rand(1, 100, 160, 3)
    e = torch.rand(1, 96, 160, 3)  # an editor rounded to a multiple of 16
    assert match_size(o, e, resize=True).shape == o.shape
    with pytest.raises(SmartMaskError, match="160x100 but edited is 160x96"):
        match_size(o, e, resize=False)
    with pytest.raises(SmartMaskError, match="aspect ratios differ"):
        match_size(o, torch.rand(1, 160, 160, 3), resize=True)


# ------------------------------------------------------------------ blurs
def test_box_blur_is_window_mean():
    x = torch.rand(1, 1, 20, 20)
    ours = box_blur(x, 2)[0, 0]
    assert torch.allclose(ours[5:15, 5:15], torch.nn.functional.avg_pool2d(x, 5, 1)[0, 0][3:13, 3:13], atol=1e-5)


# ------------------------------------------------------------------ alignment
def test_alignment_recovers_shift_and_scale_subpixel():
    o = photo(384)[0]
    m_true = np.array([[1.006, 0.0, -2.3], [0.0, 1.006, 1.7]])
    e = warp_to_original(o, o, m_true)  # e(p) = o(M p): o moved by the inverse of M
    mo = estimate_motion(o.numpy(), e.numpy())
    assert not mo.is_identity
    # the estimate maps original coords to edited coords: composing must give the identity
    m3 = np.vstack([mo.matrix, [0, 0, 1]]) @ np.vstack([m_true, [0, 0, 1]])
    corners = np.array([[0, 0, 1], [383, 0, 1], [0, 383, 1], [383, 383, 1]], float)
    err = np.abs(corners @ m3[:2].T - corners[:, :2]).max()
    assert err < 0.35, f"alignment error {err:.2f} px"
    assert mo.matrix[0, 1] == mo.matrix[1, 0] == 0.0 and mo.matrix[0, 0] == mo.matrix[1, 1], "scale and shift only"


def test_scale_and_shift_are_fitted_to_the_feature_matches():
    from smartmask.align import _scale_shift_fit

    rng = np.random.default_rng(1)
    src = rng.uniform(0, 500, (60, 2))
    dst = 0.992 * src + [3.1, -1.4] + rng.normal(0, 0.2, src.shape)
    m = _scale_shift_fit(src, dst)
    assert abs(m[0, 0] - 0.992) < 1e-3 and m[0, 0] == m[1, 1] and m[0, 1] == m[1, 0] == 0.0
    assert np.abs(m[:, 2] - [3.1, -1.4]).max() < 0.2


def test_a_transform_must_keep_the_matched_features_on_their_matches():
    """The dense refinement's candidates are checked against the feature matches: a transform that
    moves the matched points of the original off their matches in the edit (a scale or rotation the
    robust residual slid to, over a frame that is mostly edit and smooth backdrop) is refused."""
    from smartmask.align import FEATURE_AGREE_PX, FEATURE_FLOOR_PX, IDENTITY, _agrees_with, _feature_tolerance

    rng = np.random.default_rng(0)
    src = rng.uniform(0, 400, (40, 2))
    true = np.array([[0.986, 0.0, 2.45], [0.0, 0.986, 4.54]])
    dst = src @ true[:, :2].T + true[:, 2] + rng.normal(0, 0.3, src.shape)
    agrees = _agrees_with((src, dst), FEATURE_AGREE_PX)
    assert agrees(true)
    assert agrees(true + [[0, 0, 0.5], [0, 0, -0.5]]), "a sub-pixel refinement of the features' answer passes"
    slid = np.array([[1.0419, 0.0271, -3.3], [-0.0271, 1.0419, -0.3]])  # measured on such a frame
    assert not agrees(slid) and not agrees(IDENTITY)
    assert _agrees_with((np.zeros((0, 2)), np.zeros((0, 2))), FEATURE_AGREE_PX)(slid), "no features: no veto"
    # the tolerance follows the features' own precision, between FEATURE_FLOOR_PX and FEATURE_AGREE_PX
    tol = _feature_tolerance((src, dst), true)
    assert FEATURE_FLOOR_PX <= tol <= FEATURE_AGREE_PX and tol < 3.0 * 0.3 * 1.2 + 0.01
    sloppy = src @ true[:, :2].T + true[:, 2] + rng.normal(0, 2.0, src.shape)
    assert _feature_tolerance((src, sloppy), true) == FEATURE_AGREE_PX


def test_batch_frames_are_aligned_each_with_its_own_motion(monkeypatch):
    """Batches estimate the next frames' motions in worker threads: every frame must still get
    its own motion, in order, exactly as when it runs alone."""
    import smartmask.schedule as P

    monkeypatch.setattr(P, "ALIGN_WORKERS", 2)
    o = photo(320)
    region = box_region(320, 320, 200, 300, 40, 200)
    shifts = [0.0, 2.5, -1.5, 3.0, 0.0]
    frames = []
    for k, dx in enumerate(shifts):
        e = drifted_edit(o, region, seed=k)[0]
        frames.append(warp_to_original(e, e, np.array([[1.0, 0, -dx], [0, 1.0, 0.0]])) if dx else e)
    batch = difference_mask(o, torch.stack(frames))
    for k, (dx, mo) in enumerate(zip(shifts, batch.motions)):
        alone = difference_mask(o, frames[k][None]).motions[0]
        assert np.allclose(mo.matrix, alone.matrix), k
        assert mo.is_identity == (dx == 0.0), (k, mo.describe())
        if dx:
            assert abs(mo.matrix[0, 2] - dx) < 0.3, (k, mo.describe())  # content moved by +dx


def test_interrupting_a_batch_stops_the_alignment_workers(monkeypatch):
    """ComfyUI interrupts by raising from the progress callback: the exception must reach the
    caller, and the worker threads that estimate the next frames' motions must be gone after it."""
    import threading

    import smartmask.schedule as P

    monkeypatch.setattr(P, "ALIGN_WORKERS", 2)
    o = photo(192)
    e = torch.cat([drifted_edit(o, box_region(192, 192, 100, 180, 20, 120), seed=s) for s in range(6)])
    before = threading.active_count()

    class Interrupted(Exception):
        pass

    def progress(done, total):
        if done == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        difference_mask(o, e, progress=progress)
    assert threading.active_count() == before


def test_no_warp_without_motion():
    o = photo(256)[0]
    e = (o * 1.02).clamp(0, 1)
    assert estimate_motion(o.numpy(), e.numpy()).is_identity


# ------------------------------------------------------------------ difference mask
def test_difference_mask_finds_edit_and_ignores_drift():
    o = photo(320)
    region = box_region(320, 320, 200, 300, 40, 200)
    e = drifted_edit(o, region)
    res = difference_mask(o, e)
    m = res.mask[0] > 0.5
    r = region[0] > 0.5
    iou = (m & r).sum().item() / (m | r).sum().item()
    assert iou > 0.85, iou


def test_difference_keeps_small_and_secondary_regions():
    o = photo(320)
    big = box_region(320, 320, 200, 310, 20, 220)
    small = box_region(320, 320, 60, 80, 250, 270)  # 0.4 % of the frame, far from the big one
    e = drifted_edit(o, ((big + small) > 0).float())
    m = difference_mask(o, e).mask[0] > 0.5
    assert m[65:75, 255:265].float().mean() > 0.9
    assert m[220:300, 40:200].float().mean() > 0.9
    largest = difference_mask(o, e, MaskOptions(regions="largest")).mask[0] > 0.5
    assert largest[65:75, 255:265].float().mean() < 0.1


def test_identical_and_all_changed_pairs():
    o = photo(128)
    assert difference_mask(o, o.clone()).mask.sum() == 0
    res = auto(o, 1.0 - o, faces=False)
    assert torch.isfinite(res.image).all() and res.image.shape == o.shape


def test_batch_of_one_original_against_n_edits():
    o = photo(160)
    region = box_region(160, 160, 100, 150, 20, 100)
    e = torch.cat([drifted_edit(o, region, seed=s) for s in range(3)])
    res = difference_mask(o, e)
    assert res.mask.shape == (3, 160, 160)
    assert (res.mask[:, 110:140, 30:90] > 0.5).float().mean() > 0.9


# ------------------------------------------------------------------ feather and composite
def test_grow_shrink_and_close():
    m = box_region(64, 64, 20, 40, 20, 40)
    assert grow(m, 3).sum() > m.sum() > grow(m, -3).sum()
    assert torch.equal(grow(grow(m, 4), -4), m)
    gap = box_region(64, 64, 20, 40, 10, 30) + box_region(64, 64, 20, 40, 33, 50)
    assert close_gaps(gap, 3)[0, 30, 31] == 1


def test_guided_filter_stops_at_image_edges():
    guide = torch.zeros(1, 64, 64, 3)
    guide[:, :, 32:] = 1.0  # a strong vertical edge at x = 32
    rough = box_region(64, 64, 0, 64, 0, 36)  # mask overshoots the edge by 4 px
    refined = guided_filter(rough, guide, radius=6, eps=1e-4)
    assert refined[0, 32, 20] > 0.9 and refined[0, 32, 45] < 0.1


def test_composite_is_exact_where_mask_is_zero_or_one():
    o, e = torch.rand(2, 48, 48, 3), torch.rand(2, 48, 48, 3)
    m = torch.zeros(2, 48, 48)
    m[:, 10:20, 10:20] = 1
    m[:, 20:30, 10:20] = 0.5
    for out in (alpha_composite(o, e, m), multiband_composite(o, e, m)):
        assert torch.equal(out[:, 30:, :], o[:, 30:, :])
        assert torch.equal(out[:, 10:20, 10:20], e[:, 10:20, 10:20])
    u8 = lambda t: (t * 255 + 0.5).to(torch.uint8)  # noqa: E731
    assert torch.equal(u8(composite(o, e, m))[m == 0], u8(o)[m == 0])


def test_auto_pipeline_keeps_unchanged_pixels_identical():
    o = photo(256)
    region = box_region(256, 256, 150, 240, 30, 160)
    e = drifted_edit(o, region)
    res = auto(o, e, faces=False)
    far = torch.ones(256, 256, dtype=torch.bool)
    far[130:256, 10:180] = False
    assert torch.equal(res.image[0][far], o[0][far])
    inner = res.image[0, 170:220, 50:140]
    assert torch.allclose(inner, e[0, 170:220, 50:140], atol=0.02)


def test_feather_scales_with_image_size():
    small = box_region(200, 200, 50, 150, 50, 150)
    big = torch.nn.functional.interpolate(small[None], scale_factor=4, mode="nearest")[0]
    fs, fb = feather_mask(small), feather_mask(big)
    width = lambda f: ((f > 0.05) & (f < 0.95)).sum().item() / math.sqrt(f.numel())  # noqa: E731
    assert width(fb) > 2 * width(fs)


def test_exclusion_after_feather_keeps_faces_untouched():
    from smartmask.pipeline import exclude_after

    m = box_region(64, 64, 10, 50, 10, 50)
    face = box_region(64, 64, 0, 20, 0, 64)
    soft = exclude_after(feather_mask(m), face)
    assert soft[:, :20].max() == 0 and soft[0, 35, 30] == 1


def test_harmonize_matches_seam_and_keeps_edit_interior():
    from smartmask.composite import harmonize_seam

    o = photo(256)
    region = box_region(256, 256, 60, 200, 60, 200)
    e = drifted_edit(o, region) * 0.9  # the editor also darkened everything by 10 %
    h = harmonize_seam(o, e, region)
    outside = region[0] == 0
    c = composite(o, e, region, harmonize=True)
    assert torch.equal(c[0][outside], o[0][outside]), "the composite stays exactly the original outside the mask"
    seam = (slice(70, 190), slice(60, 62))  # the first columns inside the left edge
    ratio = lambda x: (x[0][seam].mean() / e[0][seam].mean()).item()  # noqa: E731
    assert ratio(h) > 1.04, "at the seam the darkening is undone"
    assert torch.allclose(h[0, 110:150, 110:150], e[0, 110:150, 110:150], atol=1e-3), "the interior keeps the edit"


def test_guard_keeps_face_drift_from_joining_the_edit():
    from smartmask.regions import guard_evidence

    d = np.zeros((100, 100), np.float32)
    d[60:100, 20:80] = 40.0  # the garment edit: strong
    d[20:60, 45:55] = 8.0  # face/neck drift running down into it: moderate
    face = np.zeros((100, 100), bool)
    face[10:35, 35:65] = True
    out = guard_evidence(d, face, zone=0.6, factor=2.0)
    assert out[face].max() == 0
    assert out[40, 50] == 4.0, "near the face, moderate drift is halved"
    assert out[80, 50] == 40.0, "far from the face, the edit is untouched"
    o = photo(200)
    region = box_region(200, 200, 120, 200, 40, 160)
    guard = box_region(200, 200, 20, 60, 70, 130)
    e = drifted_edit(o, region)
    # face drift running down the neck (a 10 % brightening of this textured strip is now dropped as a
    # weak island even without the guard: 20 % keeps the premise below)
    e[:, 20:122, 90:110] = (e[:, 20:122, 90:110] * 1.2).clamp(0, 1)
    plain, guarded = difference_mask(o, e), difference_mask(o, e, guard=guard)
    neck = (0, slice(62, 110), slice(95, 105))
    assert plain.mask[neck].mean() > 0.1, "without the guard the neck drift joins the edit (test premise)"
    assert guarded.mask[neck].mean() < 0.02
    assert guarded.mask[0, 20:60, 70:130].max() == 0
    assert (guarded.mask[0, 130:] == plain.mask[0, 130:]).float().mean() > 0.98, "the garment is unaffected"


def test_long_batches_run_in_chunks_with_progress():
    o = photo(256)
    region = box_region(256, 256, 130, 240, 30, 160)
    e = torch.cat([drifted_edit(o, region, seed=s) for s in range(5)])
    e[2:4] = torch.roll(e[2:4], shifts=(2, 3), dims=(1, 2))  # the second chunk is warped, the others not
    calls = []
    whole = auto(o, e, faces=False, chunk=8)
    chunked = auto(o, e, faces=False, chunk=2, progress=lambda done, total: calls.append((done, total)))
    assert [m.is_identity for m in chunked.diff.motions] == [True, True, False, False, True]
    # every output, written chunk by chunk into the batch's tensors, is the one-chunk result
    for a, b in [
        (whole.image, chunked.image),
        (whole.mask, chunked.mask),
        (whole.faces, chunked.faces),
        (whole.diff.mask, chunked.diff.mask),
        (whole.diff.heatmap, chunked.diff.heatmap),
        (whole.diff.aligned, chunked.diff.aligned),
    ]:
        assert a.shape == b.shape and torch.equal(a, b)
    assert calls[-1] == (5, 5) and all(t == 5 for _, t in calls)
    assert len(chunked.diff.levels) == 5


def test_runs_under_inference_mode_like_comfyui():
    o = photo(96)
    e = drifted_edit(o, box_region(96, 96, 50, 90, 10, 60))
    with torch.inference_mode():
        res = auto(o.clone(), e.clone(), faces=False)
    assert res.mask.max() == 1


def test_all_changed_pair_is_taken_whole_and_reported():
    o = photo(128)
    res = auto(o, 1.0 - o, faces=False)
    assert res.mask.mean() > 0.6  # mid-grey pixels invert to themselves: they really did not change
    assert "most of the frame changed" in res.describe()
    assert "no global motion" in res.describe()


@pytest.mark.parametrize("size", [2, 3, 7, 16])
def test_tiny_images_do_not_crash(size):
    o, e = torch.rand(1, size, size + 1, 3), torch.rand(1, size, size + 1, 3)
    res = auto(o, e, faces=False)
    assert res.image.shape == o.shape and torch.isfinite(res.image).all()
