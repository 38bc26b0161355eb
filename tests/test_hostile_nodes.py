"""Out-of-range node inputs in a real ComfyUI server: the user sees the pack's one-line message.

A value past a widget's range is refused by ComfyUI itself when the prompt is queued; a value in
range that would still ruin the result (a gap closing of a quarter of the picture, which fills the
frame) is the pack's SmartMaskError, shown as the node's error.
"""

from __future__ import annotations

from comfy_server import ComfyError, ComfyServer


def _prompt(close_gaps: int) -> dict:
    """A 64x64 mask with two small squares -> Feather (pixels) -> preview."""
    return {
        "1": {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": 64, "height": 64}},
        "2": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 8, "height": 8}},
        "3": {
            "class_type": "MaskComposite",
            "inputs": {"destination": ["1", 0], "source": ["2", 0], "x": 8, "y": 8, "operation": "add"},
        },
        "4": {
            "class_type": "SmartMaskFeather",
            "inputs": {
                "mask": ["3", 0],
                "size_mode": "pixels",
                "grow": 0,
                "feather": 0.0,
                "close_gaps": close_gaps,
                "edge_aware": False,
            },
        },
        "5": {"class_type": "MaskToImage", "inputs": {"mask": ["4", 0]}},
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}},
    }


def test_a_frame_filling_gap_closing_is_the_packs_message(comfy):
    entry = comfy.run(_prompt(40), timeout=120)
    assert ComfyServer.status(entry) == "error"
    error = ComfyServer.execution_error(entry) or {}
    assert error.get("node_type") == "SmartMaskFeather", error
    assert "close_gaps = 40 px" in error.get("exception_message", ""), error
    assert error.get("exception_type", "").endswith("SmartMaskError"), error
    # in range for this picture: runs
    assert ComfyServer.status(comfy.run(_prompt(16), timeout=120)) == "success"


def test_a_value_past_the_widget_range_is_refused_when_queued(comfy):
    try:
        comfy.queue(_prompt(300))
    except ComfyError as e:
        assert "close_gaps" in str(e) and "256" in str(e)
    else:
        raise AssertionError("ComfyUI accepted close_gaps = 300 past the widget's maximum of 256")
