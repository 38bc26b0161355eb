"""Through a real ComfyUI server (fixture ``comfy``): what is not edited comes back bit for bit
(LoadImage -> node -> SaveImage), and the Cancel button (``POST /interrupt``) stops a run.

ComfyUI's LoadImage divides by 255 in float32 and SaveImage multiplies by 255 and truncates;
that round trip is exact for every 8-bit level, so "unchanged" means equal bytes here.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import numpy as np

from comfy_server import ComfyServer
from test_comfyui_server import EXAMPLES, _fail_with_log, node, read_rgb, upload_example_pair


def _saved(comfy: ComfyServer, entry: dict, node_id: str) -> np.ndarray:
    images = comfy.output_images(entry, node_id)
    assert len(images) == 1, f"node {node_id} saved {len(images)} images"
    return images[0]


def test_load_save_round_trip_is_exact():
    """The premise of the tests below: 8-bit level k -> k / 255 (float32) -> 255 * x truncated is k."""
    k = np.arange(256, dtype=np.uint8)
    x = k.astype(np.float32) / 255.0
    assert np.array_equal(np.clip(255.0 * x, 0, 255).astype(np.uint8), k)


def test_composite_node_keeps_every_unmasked_pixel_exactly(comfy):
    """Bug caught: a node that returns float16 or otherwise re-rounds the image (half the untouched
    pixels one level off); a composite that lets the edit leak outside its mask."""
    info = comfy.object_info()
    original, edited = upload_example_pair(comfy)
    h, w = read_rgb(EXAMPLES / "original.png").shape[:2]
    mask = np.zeros((h, w, 3), np.uint8)
    mask[300:480, 60:460] = 255
    mask[280:300, 60:460] = 128  # a soft edge
    mask_name = comfy.upload_image(mask, "keep_mask.png")
    prompt = {
        "1": node(info, "LoadImage", image=original),
        "2": node(info, "LoadImage", image=edited),
        "3": node(info, "LoadImageMask", image=mask_name, channel="red"),
        "4": node(info, "SmartMaskComposite", original=["1", 0], edited=["2", 0], mask=["3", 0]),
        "5": node(info, "SaveImage", images=["4", 0], filename_prefix="keep"),
    }
    o, e = read_rgb(EXAMPLES / "original.png"), read_rgb(EXAMPLES / "edited.png")
    zero = mask[..., 0] == 0
    for method in ("alpha", "multiband"):
        for harmonize in (True, False):
            prompt["4"]["inputs"].update(method=method, harmonize=harmonize)
            entry = comfy.run(prompt, timeout=300)
            what = f"composite {method}, harmonize {harmonize}"
            assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, what)
            served = _saved(comfy, entry, "5")[..., :3]
            assert np.array_equal(served[zero], o[zero]), (
                f"{what}: {(served[zero] != o[zero]).any(-1).mean():.3%} of the unmasked pixels changed"
            )
            if not harmonize:  # harmonize adjusts the edit's colours near the seam, by design
                assert np.array_equal(served[300:480, 60:460], e[300:480, 60:460]), f"{what}: the edit is not taken"


def test_auto_node_keeps_the_unedited_area_exactly(comfy):
    """The same promise for Smart Mask (auto), with its own mask: where the saved mask is 0 (a few
    pixels away from its soft edge, where it is below half a level), the saved image is the
    original, byte for byte."""
    info = comfy.object_info()
    original, edited = upload_example_pair(comfy)
    prompt = {
        "1": node(info, "LoadImage", image=original),
        "2": node(info, "LoadImage", image=edited),
        "3": node(info, "SmartMaskAuto", original=["1", 0], edited=["2", 0]),
        "4": node(info, "SaveImage", images=["3", 0], filename_prefix="auto_keep"),
        "5": node(info, "MaskToImage", mask=["3", 1]),
        "6": node(info, "SaveImage", images=["5", 0], filename_prefix="auto_keep_mask"),
    }
    entry = comfy.run(prompt, timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "auto keep")
    served = _saved(comfy, entry, "4")[..., :3]
    mask = _saved(comfy, entry, "6")[..., 0]
    o = read_rgb(EXAMPLES / "original.png")
    from scipy import ndimage as ndi

    far = ~ndi.binary_dilation(mask > 0, iterations=4)
    assert 0.3 < far.mean() < 0.99, f"mask covers {1 - far.mean():.1%}: the example edit was not found"
    assert np.array_equal(served[far], o[far]), (
        f"{(served[far] != o[far]).any(-1).mean():.3%} of unedited pixels changed"
    )
    assert (served[mask == 255] != o[mask == 255]).any(-1).mean() > 0.5, "the edit was not taken"


def neckline_edit(original: np.ndarray) -> np.ndarray:
    """An editor's result for the astronaut: collar, neck and jaw recoloured (the edit reaches the
    chin), the face itself only drifted 3 % brighter, seeded noise everywhere."""
    o = original.astype(np.float32) / 255.0
    e = o.copy()
    e[40:175, 150:300] = np.clip(e[40:175, 150:300] * 1.03 + 0.01, 0, 1)
    y, x = slice(160, 330), slice(140, 320)
    e[y, x] = np.stack([o[y, x, 2], o[y, x, 0] * 0.5, o[y, x, 1]], -1)
    e += np.random.default_rng(0).normal(0.0, 0.004, e.shape).astype(np.float32)
    return np.clip(np.round(e * 255.0), 0, 255).astype(np.uint8)


def test_auto_node_keeps_the_face_exactly_when_the_edit_reaches_the_jaw(comfy):
    """Bug caught: faces no longer cut out of the mask while the node still reports them. The
    example workflow's edit never comes near the face, so this edit does."""
    info = comfy.object_info()
    o = read_rgb(EXAMPLES / "original.png")
    original = comfy.upload_image(EXAMPLES / "original.png")
    edited = comfy.upload_image(neckline_edit(o), "neckline_edit.png")
    prompt = {
        "1": node(info, "LoadImage", image=original),
        "2": node(info, "LoadImage", image=edited),
        "3": node(info, "SmartMaskAuto", original=["1", 0], edited=["2", 0]),
        "4": node(info, "SaveImage", images=["3", 0], filename_prefix="face_keep"),
        "5": node(info, "MaskToImage", mask=["3", 4]),
        "6": node(info, "SaveImage", images=["5", 0], filename_prefix="face_keep_faces"),
    }
    entry = comfy.run(prompt, timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "auto with a neckline edit")
    served = _saved(comfy, entry, "4")[..., :3]
    face = _saved(comfy, entry, "6")[..., 0] == 255
    assert face[95:150, 200:255].all(), "the face (eyes to mouth) is not in the faces output"
    assert (served[220:320, 160:300] != o[220:320, 160:300]).any(-1).mean() > 0.9, "the collar edit was not taken"
    changed = (served[face] != o[face]).any(-1)
    assert not changed.any(), f"{changed.sum()} face pixels changed"


class _Events:
    """The server's websocket messages for this client (progress, executing, ...), collected in a thread."""

    def __init__(self, comfy: ComfyServer):
        self.url = f"ws://127.0.0.1:{comfy.port}/ws?clientId={comfy.client_id}"
        self.messages: list[dict] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)

    async def _listen(self) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(self.url) as ws:
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        msg = await ws.receive(timeout=0.2)
                    except asyncio.TimeoutError:
                        continue
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        self.messages.append(json.loads(msg.data))
                    elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        return

    def __enter__(self) -> _Events:
        self._thread.start()
        assert self._ready.wait(30), "could not open the server's websocket"
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def progress(self, node_id: str) -> list[dict]:
        return [
            m["data"] for m in list(self.messages) if m.get("type") == "progress" and m["data"].get("node") == node_id
        ]

    def wait_for_start(self, node_id: str, timeout: float) -> None:
        """Until the server says it is executing ``node_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m.get("type") == "executing" and m["data"].get("node") == node_id for m in list(self.messages)):
                return
            time.sleep(0.02)
        raise AssertionError(f"node {node_id} did not start; messages: {self.messages[-10:]}")


FRAMES = 24


def test_interrupt_stops_a_running_batch_and_the_server_keeps_working(comfy):
    """Bug caught: Smart Mask (auto) ignoring ComfyUI's Cancel (it would run all the frames and
    save them; ComfyUI would then stop only before the next node). The interrupt is sent as soon
    as the server says the node started."""
    info = comfy.object_info()
    original, edited = upload_example_pair(comfy)
    prompt = {
        "1": node(info, "LoadImage", image=original),
        "2": node(info, "LoadImage", image=edited),
        "3": node(info, "RepeatImageBatch", image=["2", 0], amount=FRAMES),
        "4": node(info, "SmartMaskAuto", original=["1", 0], edited=["3", 0]),
        "5": node(info, "SaveImage", images=["4", 0], filename_prefix="interrupted"),
    }
    with _Events(comfy) as events:
        prompt_id = comfy.queue(prompt)
        events.wait_for_start("4", timeout=300)
        status, body = comfy._request("POST", "/interrupt", b"{}", {"Content-Type": "application/json"})
        assert status == 200, body
        entry = comfy.wait(prompt_id, timeout=300)
        reached = max([p["value"] for p in events.progress("4")], default=0)
    assert ComfyServer.status(entry) == "error", _fail_with_log(comfy, entry, "the interrupted prompt")
    interrupted = [data for event, data in entry["status"]["messages"] if event == "execution_interrupted"]
    assert interrupted, f"not reported as interrupted: {entry['status']['messages']}"
    assert interrupted[0]["node_type"] == "SmartMaskAuto"
    assert reached < FRAMES, "every frame was processed after Cancel"
    assert not comfy.output_images(entry, "5"), "the interrupted batch was saved"
    # the next prompt runs normally (the interrupt flag was consumed)
    prompt["3"]["inputs"]["amount"] = 1
    entry = comfy.run(prompt, timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "the prompt after the interrupt")
