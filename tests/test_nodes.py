"""The node classes in-process (the pack imported as ComfyUI imports it, see ``tests/pack.py``):
one node per module, inputs mapped onto the core's options by name, tuning inputs folded away.
The server tests check the same nodes through ComfyUI's API."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from comfy_server import NODE_DISPLAY_NAMES
from pack import load_pack


@pytest.fixture(scope="module")
def pack():
    return load_pack()


def test_the_pack_registers_its_nodes_one_per_module(pack):
    assert pack.NODE_DISPLAY_NAME_MAPPINGS == NODE_DISPLAY_NAMES
    modules = [cls.__module__ for cls in pack.NODE_CLASS_MAPPINGS.values()]
    assert len(set(modules)) == len(modules), modules
    assert pack.NODE_CLASS_MAPPINGS["SmartMaskAuto"].__module__.endswith("nodes.smart_mask")
    assert pack.NODE_CLASS_MAPPINGS["SmartMaskFaceGuard"].__module__.endswith("nodes.face_guard")


def test_difference_inputs_reach_their_mask_options_by_name(pack, monkeypatch):
    """Bug caught: a Difference Mask input that never reaches the core (a renamed field, a
    forgotten argument): every input is set to a non-default value and must arrive."""
    mod = pack.nodes.difference_mask
    options = pack.smartmask.pipeline.MaskOptions
    chosen = {
        "threshold": 12.5,
        "color_space": "rgb",
        "regions": "relative",
        "relative": 0.3,
        "min_region": 0.01,
        "fill_holes": False,
        "cleanup": 2.0,
        "align": False,
        "resize_edited": False,
    }
    spec = pack.NODE_CLASS_MAPPINGS["SmartMaskDifference"].INPUT_TYPES()["required"]
    assert set(chosen) == set(spec) - {"original", "edited"}, "a new input: give it a value here"
    for name, value in chosen.items():
        assert value != spec[name][1]["default"], name
    seen = {}

    def fake_difference_mask(original, edited, opts, progress=None, guard=None):
        seen["opts"] = opts
        raise RuntimeError("stop")

    monkeypatch.setattr(mod, "difference_mask", fake_difference_mask)
    with pytest.raises(RuntimeError, match="stop"):
        mod.SmartMaskDifference().run(torch.zeros(1, 8, 8, 3), torch.zeros(1, 8, 8, 3), **chosen)
    got = dataclasses.asdict(seen["opts"])
    want = {mod.OPTION_FIELDS.get(k, k): v for k, v in chosen.items()}
    assert got == want
    assert isinstance(seen["opts"], options)
    with pytest.raises(TypeError, match="no field for the node inputs"):
        pack.nodes._comfy.options_from_inputs(options, {"unknown_input": 1})


def test_difference_tuning_inputs_are_advanced(pack):
    spec = pack.NODE_CLASS_MAPPINGS["SmartMaskDifference"].INPUT_TYPES()["required"]
    advanced = {name for name, s in spec.items() if len(s) > 1 and s[1].get("advanced")}
    assert advanced == {"color_space", "relative", "min_region", "fill_holes", "cleanup"}


def test_feather_node_in_pixels_keeps_the_excluded_area_at_zero(pack):
    """Feather (size_mode = pixels) with an exclude mask, as the README's manual chain wires it
    (Face Guard's faces into exclude): the soft edge never reaches the excluded area."""
    mask = torch.zeros(1, 96, 96)
    mask[:, 30:80, 20:80] = 1.0
    exclude = torch.zeros(1, 96, 96)
    exclude[:, :36, :] = 1.0
    node = pack.NODE_CLASS_MAPPINGS["SmartMaskFeather"]()
    (soft,) = node.run(mask, "pixels", grow=4, feather=3.0, close_gaps=0, edge_aware=False, exclude=exclude)
    (plain,) = node.run(mask, "pixels", grow=4, feather=3.0, close_gaps=0, edge_aware=False)
    assert plain[0, 20:36].max() > 0.2, "premise: the grown, feathered edge reaches into the excluded rows"
    assert soft[0, :36].max() == 0
    assert torch.equal(soft[0, 36:], plain[0, 36:])
