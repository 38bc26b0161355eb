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


def test_the_nodes_are_v3_schema_nodes_and_the_previewing_ones_are_output_nodes(pack):
    """Bug caught: a node left on the old class attributes, or a previewing node that is no longer an
    output node (ComfyUI would then not re-send its preview when it serves the node from its cache)."""
    from comfy_api.v0_0_2 import io

    assert all(issubclass(cls, io.ComfyNode) for cls in pack.NODE_CLASS_MAPPINGS.values())
    outputs = {name for name, cls in pack.NODE_CLASS_MAPPINGS.items() if cls.GET_SCHEMA().is_output_node}
    assert outputs == {"SmartMaskDifference", "SmartMaskFaceGuard", "SmartMaskComposite", "SmartMaskAuto"}


def test_auto_accepts_the_old_on_off_protect_faces_of_saved_workflows(pack):
    auto = pack.NODE_CLASS_MAPPINGS["SmartMaskAuto"]
    for value in ("auto", "always", "never", True, False):
        assert auto.validate_inputs(protect_faces=value) is True, value
    assert isinstance(auto.validate_inputs(protect_faces="sometimes"), str)


def test_composite_node_sends_its_preview_to_the_front_end(pack, monkeypatch, tmp_path):
    """The ``ui`` payload js/smart_mask.js reads: the preview layers under ``smartmask_preview``
    (written to a temporary folder here instead of ComfyUI's temp folder)."""
    monkeypatch.setattr(pack.nodes._frontend_previews, "temp_directory", lambda: str(tmp_path))
    o = torch.rand(1, 16, 16, 3, generator=torch.Generator().manual_seed(0))
    out = pack.NODE_CLASS_MAPPINGS["SmartMaskComposite"].execute(o, o, torch.zeros(1, 16, 16), "alpha", True)
    assert torch.equal(out.result[0], o)
    assert list(out.ui) == ["smartmask_preview"] and len(out.ui["smartmask_preview"]) == 1
    assert any(tmp_path.rglob("*.png")), "the preview pictures were not written"


def test_a_choice_outside_its_list_is_a_clear_error(pack):
    """ComfyUI 0.3.75 does not check a V3 combo's value against its options (it did check the classic
    list specs), so an API prompt can send any value: the two nodes that looked their choice up
    themselves (Mask Preview's colour, Feather's size_mode) name the allowed values instead of a
    KeyError or a silent fallback to pixel sizes; the core's choices already do."""
    m = torch.zeros(1, 16, 16)
    with pytest.raises(ValueError, match="unknown colour 'pink': use one of auto, red"):
        pack.NODE_CLASS_MAPPINGS["SmartMaskPreview"].execute(torch.zeros(1, 16, 16, 3), m, "pink", 0.5, True)
    with pytest.raises(ValueError, match="unknown size_mode 'px': use one of auto, pixels"):
        pack.NODE_CLASS_MAPPINGS["SmartMaskFeather"].execute(m, "px", 4, 3.0, 0, False)


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
        mod.SmartMaskDifference.execute(torch.zeros(1, 8, 8, 3), torch.zeros(1, 8, 8, 3), **chosen)
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
    node = pack.NODE_CLASS_MAPPINGS["SmartMaskFeather"]
    (soft,) = node.execute(mask, "pixels", grow=4, feather=3.0, close_gaps=0, edge_aware=False, exclude=exclude).result
    (plain,) = node.execute(mask, "pixels", grow=4, feather=3.0, close_gaps=0, edge_aware=False).result
    assert plain[0, 20:36].max() > 0.2, "premise: the grown, feathered edge reaches into the excluded rows"
    assert soft[0, :36].max() == 0
    assert torch.equal(soft[0, 36:], plain[0, 36:])
