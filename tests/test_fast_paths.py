"""The CPU fast paths (OpenCV, numpy, in-place, box-only) compute what their plain torch
definitions compute.

Each speed-up of issue 4 replaced a one-line torch expression with something quicker on the CPU;
these tests hold every one of them to that expression, on odd sizes and batches, so a later
speed-up cannot silently change a result.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from smartmask.align import MatchCopy, estimate_motion, gray_u8, warp_to_original
from smartmask.blur import downscale, first_halvings, upscale, upscale_crop
from smartmask.composite import harmonize_seam
from smartmask.difference import analysis_copy
from smartmask.feather import snap
from smartmask.pipeline import auto, composite, exclude_after
from smartmask.visualize import _ramp, heatmap, heatmap_at
from smartmask.schedule import warp_small
from smartmask.tensors import SmartMaskError, binarize, copy_outside, new_like, nonzero_box


@pytest.fixture(autouse=True)
def seeded():
    """Random test inputs are the same on every run."""
    torch.manual_seed(0)


def astronaut(h: int, w: int) -> torch.Tensor:
    img = torch.from_numpy(data.astronaut().astype(np.float32) / 255.0)[None].permute(0, 3, 1, 2)
    return F.interpolate(img, size=(h, w), mode="bilinear", align_corners=False).permute(0, 2, 3, 1).contiguous()


@pytest.mark.parametrize("channels", [1, 3])
def test_upscale_crop_is_the_crop_of_the_upscale(channels):
    x = torch.rand(2, channels, 37, 29)
    size = (131, 97)
    for box in [(0, 131, 0, 97), (10, 100, 5, 60), (0, 3, 90, 97), (128, 131, 0, 2)]:
        ref = upscale(x, size)[..., box[0] : box[1], box[2] : box[3]].permute(0, 2, 3, 1)
        got = upscale_crop(x, size, box)
        assert got.shape == ref.shape
        assert torch.allclose(got, ref, atol=1e-3), box
        into = torch.full((2, 140, 120, channels), -1.0)
        view = into[:, 5 : 5 + box[1] - box[0], 7 : 7 + box[3] - box[2]]
        assert upscale_crop(x, size, box, out=view).data_ptr() == view.data_ptr()
        assert torch.allclose(view, ref, atol=1e-3)
        assert (into[:, :5] == -1).all(), "nothing outside the view is written"


def test_in_place_snap_and_binarize_match_their_definitions():
    m = torch.rand(2, 301, 53)
    m[0, 0, :5] = torch.tensor([0.0, 1e-5, 0.9995, 1.0, 0.5])
    assert torch.equal(snap(m.clone(), inplace=True), snap(m))
    ref = torch.where(m > 1 - 1 / 1024, 1.0, m).masked_fill_(m < 1 / 1024, 0.0)
    assert torch.equal(snap(m.clone(), inplace=True), ref)
    assert torch.equal(binarize(m.clone()), (m > 0.5).float())
    strided = m.transpose(1, 2)  # not contiguous: the torch path, a new tensor
    assert torch.equal(binarize(strided), (strided > 0.5).float())


def test_nonzero_box_bounds_every_frame():
    assert nonzero_box(torch.zeros(3, 20, 30)) is None
    g = torch.Generator().manual_seed(1)
    for _ in range(10):
        m = (torch.rand(2, 40, 50, generator=g) > 0.995).float() * torch.rand(2, 40, 50, generator=g)
        if not (m > 0).any():
            continue
        ys, xs = torch.nonzero((m > 0).any(0), as_tuple=True)
        assert nonzero_box(m) == (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)


def test_copy_outside_leaves_the_box_alone():
    src = torch.rand(2, 30, 40, 3)
    out = torch.full_like(src, -1.0)
    copy_outside(out, src, (5, 20, 8, 33))
    inside = torch.zeros(30, 40, dtype=torch.bool)
    inside[5:20, 8:33] = True
    assert (out[:, inside] == -1).all()
    assert torch.equal(out[:, ~inside], src[:, ~inside])
    assert torch.equal(new_like(src).copy_(src), src) and torch.count_nonzero(new_like(src, (4, 5), zeros=True)) == 0


def test_heatmap_table_matches_the_ramp():
    d = torch.rand(2, 33, 41) * 20
    ref = _ramp((d / 9.0).clamp(0, 1))
    assert torch.allclose(heatmap(d, 6.0), ref, atol=0.01)  # a 1/256 step of the ramp
    # a difference map is smooth at its own scale (it is compared after a blur)
    d = upscale(torch.rand(2, 1, 6, 8) * 20, (33, 41))[:, 0]
    big = heatmap_at(d, 6.0, (99, 123))
    assert big.shape == (2, 99, 123, 3) and big.is_contiguous()
    smooth = upscale(heatmap(d, 6.0).permute(0, 3, 1, 2), (99, 123)).permute(0, 2, 3, 1)
    # enlarging the ramp position instead of the colours differs only where the ramp bends
    assert (big - smooth).abs().mean() < 0.01


@pytest.mark.parametrize("h,w", [(1240, 940), (1241, 939), (1624, 1624)])
def test_area_shrink_with_halving_is_an_area_average(h, w):
    x = astronaut(h, w).permute(0, 3, 1, 2)
    got = downscale(x, 300)
    assert got.is_contiguous() and max(got.shape[-2:]) == 300
    # the reference: OpenCV's area average in one step
    one = cv2.resize(x[0].permute(1, 2, 0).numpy(), got.shape[-2:][::-1], interpolation=cv2.INTER_AREA)
    # (a one-pixel shift would be 0.03 to 0.04 here)
    assert np.abs(got[0].permute(1, 2, 0).numpy() - one).mean() < 3e-3


@pytest.mark.parametrize(
    "h,w,keep,halvings", [(1400, 1000, 300, 2), (1400, 1000, 400, 1), (1401, 1000, 300, 0), (500, 400, 100, 0)]
)
def test_shared_first_halvings_give_the_same_analysis_copy(h, w, keep, halvings):
    x = torch.cat([astronaut(h, w), astronaut(h, w).flip(2)])
    start = first_halvings(x, 200, keep)
    assert tuple(start.shape) == (2, h >> halvings, w >> halvings, 3)
    assert max(start.shape[1:3]) >= keep or halvings == 0
    # shrinking the shared copy is shrinking the frames: the same pixels, bit for bit
    assert torch.equal(analysis_copy_at(start, 200), analysis_copy_at(x, 200))
    if halvings == 0:
        assert start is x
    ref = x[1].numpy()
    for _ in range(halvings):
        ref = cv2.resize(ref, (ref.shape[1] // 2, ref.shape[0] // 2), interpolation=cv2.INTER_AREA)
    assert np.array_equal(start[1].numpy(), ref)


def analysis_copy_at(images: torch.Tensor, side: int) -> torch.Tensor:
    return downscale(images.permute(0, 3, 1, 2), side)


def test_exclusion_in_place_cuts_the_same_as_the_copy():
    soft = torch.rand(3, 41, 37)
    faces = torch.zeros(3, 41, 37)
    faces[1, 5:20, 8:30] = torch.rand(15, 22)
    ref = soft * (1 - faces)
    copied = exclude_after(soft, faces)
    assert copied.data_ptr() != soft.data_ptr() and torch.allclose(copied, ref, atol=1e-7)
    cut = exclude_after(soft, faces, inplace=True)
    assert cut is soft and torch.allclose(cut, ref, atol=1e-7)
    # nothing guarded: the mask itself, untouched
    assert exclude_after(soft, torch.zeros(3, 41, 37), inplace=True) is soft


def test_harmonised_edit_written_into_a_view_is_the_same():
    o = astronaut(200, 160)
    e = (o * 0.9 + 0.02).clamp(0, 1)
    m = torch.zeros(1, 200, 160)
    m[:, 50:150, 40:120] = 1
    box = nonzero_box(m)
    alone = harmonize_seam(o, e, m, box=box)
    frame = torch.zeros(1, 200, 160, 3)
    harmonize_seam(o, e, m, box=box, out=frame[:, 50:150, 40:120])
    assert torch.equal(frame[:, 50:150, 40:120], alone)
    # and the boxed composite is the plain lerp of that harmonised edit, the original outside
    c = composite(o, e, m)
    full = e.clone()
    full[:, 50:150, 40:120] = alone
    assert torch.equal(c, torch.lerp(o, full, m.unsqueeze(-1)).clamp(0, 1))


def test_warping_the_analysis_copy_matches_copying_the_warp():
    o = astronaut(1500, 1100)
    m = np.array([[1.002, 0.001, 3.3], [-0.001, 1.002, -2.1]])
    e = warp_to_original(o[0], o[0], np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2])[None]
    mo = estimate_motion(gray_u8(analysis_copy(o)), gray_u8(analysis_copy(e)), (1500, 1100))
    assert not mo.is_identity
    small = warp_small(analysis_copy(e), analysis_copy(o), mo.matrix, (1500, 1100))
    ref = analysis_copy(warp_to_original(e[0], o[0], mo.matrix)[None])
    assert (small - ref).abs().mean() < 3e-3


def test_features_found_ahead_in_a_worker_give_the_same_motion():
    from concurrent.futures import ThreadPoolExecutor

    o = astronaut(1500, 1100)
    m = np.array([[1.004, 0.0, -4.5], [0.0, 1.004, 2.2]])
    e = warp_to_original(o[0], o[0], m)[None]
    go, ge = gray_u8(analysis_copy(o)), gray_u8(analysis_copy(e))
    ref = estimate_motion(go, ge, (1500, 1100))
    assert not ref.is_identity and ref.inliers >= 50
    with ThreadPoolExecutor(1) as pool:
        mo = MatchCopy(go)
        mo.prefetch(pool)
        got = estimate_motion(mo, MatchCopy(ge), (1500, 1100))
    assert np.array_equal(got.matrix, ref.matrix) and got.inliers == ref.inliers
    with pytest.raises(ValueError, match="one size"):
        estimate_motion(go, ge[:-2], (1500, 1100))


def test_face_detector_errors_reach_the_caller_from_the_worker(monkeypatch):
    # faces are found in a worker thread while the frame is aligned: its errors must still surface
    o = astronaut(64, 64)
    with pytest.raises(SmartMaskError, match="unknown face detector"):
        auto(o, o.clone(), face_detector="bogus")

    def broken(*args, **kwargs):
        raise RuntimeError("detector crashed")

    monkeypatch.setattr("smartmask.faces.face_mask", broken)
    with pytest.raises(RuntimeError, match="detector crashed"):
        auto(o, o.clone(), face_detector="mtcnn")


@pytest.mark.parametrize("opacity,outline", [(0.5, True), (0.0, True), (1.0, False)])
def test_overlay_tints_only_the_box_and_matches_the_whole_frame_formula(opacity, outline):
    from smartmask.visualize import _outline, overlay

    img = torch.rand(2, 90, 70, 3)
    m = torch.zeros(2, 90, 70)
    m[:, 20:50, 10:40] = 1
    m[1, 60:80] = 0.7
    m[0, 89, 69] = 1  # touches the frame's corner
    c = torch.tensor((0.1, 0.9, 0.2))
    ref = torch.lerp(img, c.expand_as(img), opacity * m.unsqueeze(-1))
    if outline:
        ref = torch.where(_outline(m > 0.5).unsqueeze(-1), c, ref)
    assert torch.equal(overlay(img, m, (0.1, 0.9, 0.2), opacity, outline), ref.clamp(0, 1))
    assert torch.equal(overlay(img, torch.zeros(1, 90, 70)), img)
