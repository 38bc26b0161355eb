"""Every node parameter has a range, and no value in it runs for minutes or silently fills the frame.

The nodes are imported as ComfyUI imports the pack (``tests/pack.py``), without a server: they only
translate between ComfyUI and the core.
"""

from __future__ import annotations

import math

import pytest
import torch

from pack import load_pack


@pytest.fixture(scope="module")
def pack():
    return load_pack()


def _widgets(node):
    spec = node.INPUT_TYPES()
    for group in ("required", "optional"):
        yield from spec.get(group, {}).items()


def test_every_number_widget_has_a_finite_range_around_its_default(pack):
    seen = 0
    for cls_name, node in pack.NODE_CLASS_MAPPINGS.items():
        for name, value in _widgets(node):
            if value[0] not in ("INT", "FLOAT"):
                continue
            opts = value[1]
            seen += 1
            assert "min" in opts and "max" in opts, f"{cls_name}.{name} has no range"
            assert math.isfinite(opts["min"]) and math.isfinite(opts["max"]), f"{cls_name}.{name}"
            assert opts["min"] <= opts["default"] <= opts["max"], f"{cls_name}.{name}"
            assert opts.get("tooltip"), f"{cls_name}.{name} has no tooltip"
    assert seen >= 10


def test_feather_pixel_sizes_are_bounded_by_the_image(pack):
    SmartMaskError = pack.smartmask.tensors.SmartMaskError  # the pack's own copy of the core
    feather = pack.NODE_CLASS_MAPPINGS["SmartMaskFeather"]
    m = torch.zeros(1, 128, 96)
    m[:, 20:40, 20:30] = 1
    m[:, 90:110, 60:80] = 1
    with pytest.raises(SmartMaskError, match=r"close_gaps = 200 px .* 96x128 image's short side.*at most 24 px"):
        feather.execute(m, "pixels", 4, 3.0, 200, False)
    with pytest.raises(SmartMaskError, match="grow = -100 px"):
        feather.execute(m, "pixels", -100, 3.0, 0, False)
    # the largest allowed closing keeps the two regions apart from the frame: not the whole frame
    (out,) = feather.execute(m, "pixels", 0, 0.0, 24, False).result
    assert 0.0 < float(out.mean()) < 0.5
    # tiny images keep the defaults working
    (out,) = feather.execute(torch.ones(1, 12, 12), "pixels", 4, 3.0, 0, False).result
    assert out.shape == (1, 12, 12)


def test_a_large_grow_of_a_large_mask_is_not_quadratic(pack):
    """A 256 px grow (the widget's maximum) of a 2K mask: the distance transform, not a 513 px disk
    kernel (which took minutes). Checked by the result, not by time: an exact disk grow."""
    from smartmask.feather import grow

    m = torch.zeros(1, 1080, 1920)
    m[:, 540, 960] = 1
    g = grow(m, 256)
    assert int(g[0, 540].sum()) == 513 and int(g[0, :, 960].sum()) == 513
    r = 256 / math.sqrt(2)
    assert g[0, 540 + int(r) - 1, 960 + int(r) - 1] == 1 and g[0, 540 + int(r) + 2, 960 + int(r) + 2] == 0


def test_nodes_surface_the_pack_error_for_0_255_images(pack):
    SmartMaskError = pack.smartmask.tensors.SmartMaskError
    comp = pack.NODE_CLASS_MAPPINGS["SmartMaskComposite"]
    o = torch.rand(1, 16, 16, 3)
    with pytest.raises(SmartMaskError, match="edited: values run from .*divide by 255"):
        comp.execute(o, o * 255.0, torch.zeros(1, 16, 16), "alpha", True)
    with pytest.raises(SmartMaskError, match="integer tensor"):
        comp.execute((o * 255).to(torch.uint8), o, torch.zeros(1, 16, 16), "alpha", True)
    with pytest.raises(SmartMaskError, match="batch is empty"):
        comp.execute(o[:0], o, torch.zeros(1, 16, 16), "alpha", True)
