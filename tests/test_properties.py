"""Property-based tests (hypothesis) of the core entry points over hostile inputs.

Shapes, dtypes, value ranges, batch sizes and masks of other sizes are drawn at random (seeded:
``derandomize``, no example database), with small images so no example can run long. For every
input, each entry point either

* returns a result of the documented shape and dtype, in 0..1, that keeps the (validated)
  original bit-exact wherever the mask is 0, without changing any of its inputs, or
* raises ``SmartMaskError`` (the pack's own, readable error),

and never anything else.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from smartmask.faces import guard_faces
from smartmask.pipeline import (
    FeatherOptions,
    MaskOptions,
    auto,
    composite,
    difference_mask,
    feather_mask,
)
from smartmask.tensors import SmartMaskError, as_image, expand_batch, mask_for

PROPERTY_SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=60),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def _values(rng: np.random.Generator, shape, scale: str, smooth: bool) -> np.ndarray:
    """A picture-like (smooth + a patch) or random array of ``shape`` on the named value scale."""
    a = rng.random(shape).astype(np.float64)
    if smooth and a.size:  # ramps along the rows, so alignment and the difference have structure
        a = 0.25 + 0.5 * np.cumsum(a, axis=-2) / a.shape[-2]
    if scale == "overshoot":
        a = a * 1.3 - 0.15
    elif scale == "0..255":
        a = a * 255.0
    elif scale == "nan" and a.size:
        a.flat[rng.integers(a.size)] = np.nan
    elif scale == "inf" and a.size:
        a.flat[rng.integers(a.size)] = np.inf
    elif scale == "negative":
        a = a - 2.0
    return a


def _tensor(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    t = torch.from_numpy(np.nan_to_num(a, nan=0.0, posinf=255.0) if not dtype.is_floating_point else a)
    if dtype == torch.bool:
        return t > 0.5
    if not dtype.is_floating_point:
        return t.clamp(-1e6, 1e6).round().to(dtype)
    return t.to(dtype)


# Most examples are valid inputs in one of the accepted forms (so the result's properties are
# really checked); about a third carry one hostile twist, which must give a SmartMaskError.
IMAGE_TWISTS = ["none"] * 6 + ["dtype", "scale", "channels", "batch", "size", "empty", "nan"]
MASK_TWISTS = ["none"] * 6 + ["aspect", "image", "scale", "batch", "dtype"]


@st.composite
def image_pairs(draw):
    """(original, edited) IMAGE tensors: sizes 2..40 px, batches 1..3, accepted layouts and dtypes,
    and now and then one hostile twist."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    twist = draw(st.sampled_from(IMAGE_TWISTS))
    h, w = draw(st.integers(2, 40)), draw(st.integers(2, 40))
    b = 0 if twist == "empty" else draw(st.sampled_from([1, 1, 2, 3]))
    c = draw(st.sampled_from([2, 5])) if twist == "channels" else draw(st.sampled_from([3, 3, 4, 1]))
    scale = (
        draw(st.sampled_from(["0..255", "negative"]))
        if twist == "scale"
        else draw(st.sampled_from(["unit", "unit", "overshoot"]))
    )
    if twist == "nan":
        scale = draw(st.sampled_from(["nan", "inf"]))
    o = _values(rng, (b, h, w, c), scale, smooth=True)
    e = o.copy()
    if e.size:
        # the edit: a patch changed, plus (sometimes) a little drift everywhere
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        e[:, y0 : y0 + max(1, h // 3), x0 : x0 + max(1, w // 3)] = rng.random(c)
        e = e * draw(st.sampled_from([1.0, 1.02])) + draw(st.sampled_from([0.0, 0.01]))
        if scale == "unit":
            e = np.clip(e, 0.0, 1.0)
    eb = draw(st.sampled_from([2, 3])) if twist == "batch" and b > 1 else draw(st.sampled_from([b, b, 1]))
    if eb != b and e.size:
        e = np.repeat(e[:1], eb, axis=0) if eb > b or eb == 1 else e[:eb]
    size = "other" if twist == "size" else draw(st.sampled_from(["same", "same", "same", "rounded", "double"]))
    if size != "same" and e.size:
        eh, ew = {"rounded": (h + (-h) % 8, w + (-w) % 8), "double": (2 * h, 2 * w), "other": (h + 17, max(2, w - 3))}[
            size
        ]
        ys, xs = np.arange(eh) * h // eh, np.arange(ew) * w // ew
        e = e[:, ys][:, :, xs]  # nearest-neighbour resize
    ok = [torch.float32, torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16]
    bad = [torch.uint8, torch.int64, torch.int16]
    o_t = _tensor(o, draw(st.sampled_from(bad if twist == "dtype" else ok)))
    e_t = _tensor(e, draw(st.sampled_from(ok)))
    if draw(st.booleans()) and o_t.shape[0] == 1:
        o_t = o_t[0]  # no batch axis
    if draw(st.integers(0, 5)) == 0 and o_t.is_floating_point():
        o_t.requires_grad_(True)
    return o_t, e_t


@st.composite
def masks_for(draw, image: torch.Tensor):
    """A MASK for ``image``: its size or another of the same aspect, batch 1 or N, soft or binary,
    [H, W] / [B, H, W] / [B, 1, H, W], bool; now and then one hostile twist."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    twist = draw(st.sampled_from(MASK_TWISTS))
    shape = image.shape if image.ndim == 4 else (1, *image.shape)
    b, h, w = (int(v) for v in shape[:3])
    size = "other" if twist == "aspect" else draw(st.sampled_from(["same", "same", "same", "double", "half"]))
    mh, mw = {"double": (2 * h, 2 * w), "half": (max(1, h // 2), max(1, w // 2)), "other": (h, w + 9)}.get(size, (h, w))
    mb = b + 1 if twist == "batch" and b > 0 else draw(st.sampled_from([b, b, 1]))
    values = "0..255" if twist == "scale" else draw(st.sampled_from(["binary", "binary", "soft", "zero", "one"]))
    a = {
        "binary": lambda: (rng.random((mb, mh, mw)) < 0.3).astype(np.float64),
        "soft": lambda: rng.random((mb, mh, mw)),
        "zero": lambda: np.zeros((mb, mh, mw)),
        "one": lambda: np.ones((mb, mh, mw)),
        "0..255": lambda: 1.0 + rng.random((mb, mh, mw)) * 254.0,
    }[values]()
    if values in ("binary", "soft") and a.size:
        a[:, : max(1, mh // 2)] = 0.0  # a surely untouched half
    dtype = (
        draw(st.sampled_from([torch.uint8, torch.int32]))
        if twist == "dtype"
        else draw(st.sampled_from([torch.float32, torch.float32, torch.float64, torch.bool]))
    )
    t = _tensor(a, dtype)
    layout = "image" if twist == "image" else draw(st.sampled_from(["bhw", "bhw", "hw", "b1hw"]))
    if layout == "hw" and t.shape[0] == 1:
        t = t[0]
    elif layout == "b1hw":
        t = t[:, None]
    elif layout == "image":
        t = t[..., None].expand(*t.shape, 3)
    return t


def _snapshot(*tensors):
    return [None if t is None else t.detach().clone() for t in tensors]


def _unchanged(before, *tensors):
    for b, t in zip(before, tensors):
        if t is not None:
            torch.testing.assert_close(
                t.detach(), b, rtol=0, atol=0, equal_nan=True, msg="an input tensor was changed in place"
            )


def _check_image(out: torch.Tensor, n: int, h: int, w: int):
    assert out.dtype == torch.float32 and tuple(out.shape) == (n, h, w, 3)
    assert not out.requires_grad
    assert bool(torch.isfinite(out).all()) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def _keeps_original(out: torch.Tensor, original: torch.Tensor, mask: torch.Tensor):
    """``out`` equals the validated original bit for bit wherever ``mask`` (fitted to it) is 0."""
    o = as_image(original, "original")
    o, m = mask_for(o, mask)
    o = expand_batch(o, out.shape[0])
    m = expand_batch(m, out.shape[0])
    keep = m == 0
    assert torch.equal(out[keep], o[keep]), "a pixel where the mask is 0 differs from the original"


@PROPERTY_SETTINGS
@given(data=st.data())
def test_composite_keeps_the_original_where_the_mask_is_0_or_raises_the_packs_error(data):
    o, e = data.draw(image_pairs())
    m = data.draw(masks_for(o))
    method = data.draw(st.sampled_from(["alpha", "multiband"]))
    harmonize = data.draw(st.booleans())
    before = _snapshot(o, e, m)
    try:
        out = composite(o, e, m, method, harmonize=harmonize)
    except SmartMaskError as exc:
        event(f"SmartMaskError: {str(exc).split(':')[1].strip()[:40] if ':' in str(exc) else str(exc)[:40]}")
        _unchanged(before, o, e, m)
        return
    _unchanged(before, o, e, m)
    oi = as_image(o)
    _check_image(out, out.shape[0], oi.shape[1], oi.shape[2])
    _keeps_original(out, o, m)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_auto_keeps_the_original_where_its_mask_is_0_or_raises_the_packs_error(data):
    o, e = data.draw(image_pairs())
    protect = data.draw(st.one_of(st.none(), masks_for(o)))
    faces = data.draw(st.booleans())
    before = _snapshot(o, e, protect)
    try:
        res = auto(
            o,
            e,
            mask_opts=MaskOptions(threshold=data.draw(st.sampled_from([0.0, 0.0, 5.0]))),
            faces=faces,
            face_detector="none",
            protect=protect,
            method=data.draw(st.sampled_from(["alpha", "multiband"])),
        )
    except SmartMaskError as exc:
        event(f"SmartMaskError: {str(exc).split(':')[1].strip()[:40] if ':' in str(exc) else str(exc)[:40]}")
        _unchanged(before, o, e, protect)
        return
    _unchanged(before, o, e, protect)
    oi = as_image(o)
    n = res.image.shape[0]
    _check_image(res.image, n, oi.shape[1], oi.shape[2])
    assert tuple(res.mask.shape) == (n, oi.shape[1], oi.shape[2])
    assert float(res.mask.min()) >= 0.0 and float(res.mask.max()) <= 1.0
    _keeps_original(res.image, o, res.mask)
    if protect is not None:
        _, p = mask_for(oi, protect, "protect")
        assert float(expand_batch(res.mask, n)[expand_batch(p, n) >= 1.0].sum()) == 0.0, "a protected pixel is edited"


@PROPERTY_SETTINGS
@given(data=st.data())
def test_difference_mask_is_binary_of_the_originals_size_or_raises_the_packs_error(data):
    o, e = data.draw(image_pairs())
    before = _snapshot(o, e)
    try:
        res = difference_mask(o, e, MaskOptions(regions=data.draw(st.sampled_from(["all", "largest", "relative"]))))
    except SmartMaskError as exc:
        event(f"SmartMaskError: {str(exc).split(':')[1].strip()[:40] if ':' in str(exc) else str(exc)[:40]}")
        _unchanged(before, o, e)
        return
    _unchanged(before, o, e)
    oi = as_image(o)
    n = res.mask.shape[0]
    assert tuple(res.mask.shape) == (n, oi.shape[1], oi.shape[2]) and res.mask.dtype == torch.float32
    assert bool(((res.mask == 0) | (res.mask == 1)).all())
    _check_image(res.aligned, n, oi.shape[1], oi.shape[2])


@PROPERTY_SETTINGS
@given(data=st.data())
def test_feather_stays_in_0_1_and_keeps_zero_masks_zero_or_raises_the_packs_error(data):
    o, _ = data.draw(image_pairs())
    m = data.draw(masks_for(o))
    guide = data.draw(st.sampled_from([None, o]))
    opts = FeatherOptions(
        grow=data.draw(st.sampled_from([-0.05, -0.004, 0.0, 0.004, 0.05])),
        feather=data.draw(st.sampled_from([0.0, 0.003, 0.05])),
        close=data.draw(st.sampled_from([0.0, 0.01, 0.05])),
        edge_aware=guide is not None,
    )
    before = _snapshot(o, m)
    try:
        out = feather_mask(m, guide, opts)
    except SmartMaskError as exc:
        event(f"SmartMaskError: {str(exc).split(':')[1].strip()[:40] if ':' in str(exc) else str(exc)[:40]}")
        _unchanged(before, o, m)
        return
    _unchanged(before, o, m)
    assert out.dtype == torch.float32 and out.ndim == 3 and not out.requires_grad
    assert bool(torch.isfinite(out).all()) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    if guide is not None:
        assert tuple(out.shape[1:]) == tuple(as_image(o).shape[1:3])
    if float(m.float().abs().sum()) == 0.0:
        assert float(out.sum()) == 0.0, "feathering an empty mask made something"


@PROPERTY_SETTINGS
@given(data=st.data())
def test_face_guard_without_a_detector_only_removes_or_raises_the_packs_error(data):
    o, _ = data.draw(image_pairs())
    m = data.draw(masks_for(o))
    protect = data.draw(st.one_of(st.none(), masks_for(o)))
    before = _snapshot(o, m, protect)
    try:
        guarded, faces, info = guard_faces(o, m, protect, detector="none")
    except SmartMaskError as exc:
        event(f"SmartMaskError: {str(exc).split(':')[1].strip()[:40] if ':' in str(exc) else str(exc)[:40]}")
        _unchanged(before, o, m, protect)
        return
    _unchanged(before, o, m, protect)
    oi = as_image(o)
    _, mm = mask_for(oi, m)
    n = guarded.shape[0]
    mm = expand_batch(mm, n)
    assert tuple(guarded.shape) == (n, oi.shape[1], oi.shape[2]) and guarded.dtype == torch.float32
    assert float(faces.sum()) == 0.0 and info["faces_per_frame"] == [0] * n
    assert bool((guarded <= mm).all()) and bool((guarded[mm == 0] == 0).all())
