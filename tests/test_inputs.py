"""Input validation of the core (``smartmask.tensors``): what the nodes and the command line share.

Every bad input is a ``SmartMaskError`` whose message says what was received and what to do; the
checks run before any work.
"""

from __future__ import annotations

import pytest
import torch

from smartmask.pipeline import auto, composite, difference_mask, feather_mask
from smartmask.tensors import SmartMaskError, as_image, as_mask, match_size, sizes_compatible


def test_image_in_0_255_is_an_error_that_says_divide_by_255():
    x = torch.rand(1, 16, 16, 3) * 255.0
    with pytest.raises(SmartMaskError, match=r"edited: values run from .* to .*0\.\.255 pixel values: divide by 255"):
        as_image(x, "edited")
    with pytest.raises(SmartMaskError, match="divide by 255"):
        auto(torch.rand(1, 16, 16, 3), x, faces=False)


def test_small_overshoot_is_clamped_not_refused():
    x = torch.rand(1, 16, 16, 3) * 1.2 - 0.1
    out = as_image(x)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert float(x.max()) > 1.0, "the input itself is not clamped in place"


def test_far_out_of_range_values_are_an_error():
    with pytest.raises(SmartMaskError, match="rescale it to 0..1"):
        as_image(torch.rand(1, 8, 8, 3) * 1000.0)
    with pytest.raises(SmartMaskError, match="values run from -3"):
        as_mask(torch.full((1, 8, 8), -3.0))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32, torch.int64])
def test_integer_tensors_are_an_error_that_says_what_was_received(dtype):
    x = torch.randint(0, 100, (1, 8, 8, 3)).to(dtype)
    with pytest.raises(
        SmartMaskError,
        match=rf"original: got an integer tensor \({str(dtype)[6:]}, shape \[1, 8, 8, 3\], "
        r"values \d+\.\.\d+\).*\.float\(\) / 255",
    ):
        as_image(x, "original")
    with pytest.raises(SmartMaskError, match="integer tensor"):
        as_mask(x[..., 0], "mask")


def test_boolean_mask_is_taken_as_0_and_1():
    m = torch.zeros(1, 8, 8, dtype=torch.bool)
    m[:, 2:4, 2:4] = True
    out = as_mask(m)
    assert out.dtype == torch.float32 and float(out.sum()) == 4.0


def test_empty_batches_are_an_error_not_a_reduction_failure():
    with pytest.raises(SmartMaskError, match=r"original: the batch is empty \(0 frames"):
        auto(torch.rand(0, 16, 16, 3), torch.rand(1, 16, 16, 3), faces=False)
    with pytest.raises(SmartMaskError, match="batch is empty"):
        as_mask(torch.rand(0, 16, 16))
    with pytest.raises(SmartMaskError, match="empty"):
        as_image(torch.rand(1, 0, 16, 3))


def test_tensors_that_require_grad_are_used_without_gradients():
    o = torch.rand(1, 24, 24, 3, requires_grad=True)
    e = o.detach().clone()
    e[:, 8:16, 8:16] = 0.9
    e.requires_grad_(True)
    m = torch.zeros(1, 24, 24, requires_grad=True)
    c = composite(o, e, m)
    assert not c.requires_grad and torch.equal(c, o.detach())
    assert not feather_mask(m, o).requires_grad
    assert not difference_mask(o, e).mask.requires_grad
    assert not auto(o, e, faces=False).image.requires_grad


def test_complex_and_non_tensor_inputs():
    with pytest.raises(SmartMaskError, match="complex"):
        as_image(torch.zeros(1, 4, 4, 3, dtype=torch.complex64))
    with pytest.raises(SmartMaskError, match="expected an IMAGE tensor, got ndarray"):
        as_image(torch.zeros(1, 4, 4, 3).numpy())


# ------------------------------------------------------------------ near-miss sizes
@pytest.mark.parametrize(
    "orig, edit",
    [
        ((1000, 750), (1008, 752)),  # both sides rounded up to a multiple of 16
        ((1000, 750), (992, 744)),  # ... and down to a multiple of 8
        ((2788, 2108), (1024, 776)),  # worked at a 1024 px long side, rounded to a multiple of 8
        ((100, 160), (96, 160)),  # one side rounded down to 16
        ((512, 512), (513, 511)),  # a pixel or two off
        ((1000, 1000), (1024, 1024)),  # a multiple of 64 that moves the side by 2.4 %
        ((30, 20), (32, 24)),  # a tiny image rounded to 8
    ],
)
def test_editor_rounding_is_accepted(orig, edit):
    (oh, ow), (eh, ew) = orig, edit
    assert sizes_compatible(oh, ow, eh, ew)
    out = match_size(torch.rand(1, oh, ow, 3), torch.rand(1, eh, ew, 3))
    assert out.shape == (1, oh, ow, 3)


@pytest.mark.parametrize(
    "orig, edit",
    [
        ((512, 512), (528, 512)),  # padded by 16 px: 512 is already a multiple of 16
        ((64, 64), (80, 64)),  # 16 px on a 64 px image is a quarter of it
        ((1000, 750), (1000, 766)),  # padded, not a multiple of 8
        ((1000, 1000), (1000, 940)),  # cropped by 6 %
        ((40, 40), (64, 40)),  # "rounded" to 64: a 60 % stretch
    ],
)
def test_a_pad_or_crop_beyond_rounding_is_an_error_naming_both_sizes(orig, edit):
    (oh, ow), (eh, ew) = orig, edit
    assert not sizes_compatible(oh, ow, eh, ew)
    with pytest.raises(SmartMaskError, match=rf"original is {ow}x{oh} but edited is {ew}x{eh}"):
        match_size(torch.rand(1, oh, ow, 3), torch.rand(1, eh, ew, 3))
