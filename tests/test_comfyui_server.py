"""The pack inside a real ComfyUI 0.3.75 server (fixture ``comfy``, see ``tests/comfy_server.py``).

Everything goes through ComfyUI's HTTP API, as the editor would use it: ``/object_info``,
``/upload/image``, ``/prompt``, ``/history`` and ``/view``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi

from comfy_server import NODE_DISPLAY_NAMES, ComfyServer
from yunet_model import MISSING_REASON
from workflow_api import node_types, ui_to_api

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
WORKFLOWS = REPO_ROOT / "example_workflows"
BASIC_WORKFLOW = WORKFLOWS / "smart_mask_basic.json"
PACK_MODULE = "custom_nodes.smart_mask"

SMART_MASK_NODES = list(NODE_DISPLAY_NAMES)


# ---------------------------------------------------------------------------------- helpers
def _options(spec) -> dict:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def _inputs(info: dict, node_type: str, sections=("required", "optional")):
    for section in sections:
        for name, spec in info[node_type]["input"].get(section, {}).items():
            yield section, name, spec


def _default(spec):
    """The value the editor puts in a fresh widget (None for sockets)."""
    kind, opts = spec[0], _options(spec)
    if "default" in opts:
        return opts["default"]
    if isinstance(kind, list):
        return kind[0] if kind else None
    if kind == "COMBO":
        return (opts.get("options") or [None])[0]
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}.get(kind)


def node(info: dict, node_type: str, **inputs) -> dict:
    """An API-format node: every required widget at its default, overridden by ``inputs``."""
    values = {}
    for _, name, spec in _inputs(info, node_type, ("required",)):
        default = _default(spec)
        if default is not None:
            values[name] = default
    values.update(inputs)
    return {"class_type": node_type, "inputs": values}


def load_workflow(path: Path) -> dict:
    return json.loads(path.read_text())


def _fail_with_log(comfy: ComfyServer, entry: dict, what: str) -> str:
    return (
        f"{what}: status {ComfyServer.status(entry)!r}, error {ComfyServer.error_message(entry)!r}\n"
        f"messages: {json.dumps(entry.get('status', {}).get('messages'), indent=1)[:4000]}\n"
        f"server log tail:\n{comfy.log_text()[-6000:]}"
    )


def upload_example_pair(comfy: ComfyServer) -> tuple[str, str]:
    for name in ("original.png", "edited.png"):
        assert (EXAMPLES / name).is_file(), f"example image {EXAMPLES / name} is missing"
    return comfy.upload_image(EXAMPLES / "original.png"), comfy.upload_image(EXAMPLES / "edited.png")


def read_rgb(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


# ---------------------------------------------------------------------------------- (a)
def test_object_info_lists_every_smart_mask_node_with_tooltips(comfy):
    info = comfy.object_info()
    missing = [n for n in SMART_MASK_NODES if n not in info]
    assert not missing, f"/object_info lacks {missing}; server log:\n{comfy.log_text()[-6000:]}"
    problems = []
    for name in SMART_MASK_NODES:
        entry = info[name]
        if not entry["category"].startswith("Smart Mask"):
            problems.append(f"{name}: category {entry['category']!r} does not start with 'Smart Mask'")
        if entry.get("python_module") != PACK_MODULE:
            problems.append(f"{name}: comes from {entry.get('python_module')!r}, not {PACK_MODULE!r}")
        if not entry.get("output"):
            problems.append(f"{name}: has no outputs")
        for section, inp, spec in _inputs(info, name):
            if not str(_options(spec).get("tooltip", "")).strip():
                problems.append(f"{name}.{inp} ({section}) has no tooltip")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------- (b)
@pytest.fixture(scope="module")
def cli_composite(comfy, tmp_path_factory) -> np.ndarray:
    """``python -m smartmask composite examples/original.png examples/edited.png -o OUT.png``.

    Every setting at its default. Two flags change no setting: they give the command line the
    server's device (the CPU) and the server's face model (YuNet, in its models folder)."""
    out = tmp_path_factory.mktemp("cli") / "out.png"
    cmd = [
        sys.executable,
        "-m",
        "smartmask",
        "composite",
        "examples/original.png",
        "examples/edited.png",
        "-o",
        str(out),
        "--device",
        "cpu",
        "--model-dir",
        str(comfy.base_dir / "models" / "facedetection"),
    ]
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "SMARTMASK_OFFLINE": "1"}
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return read_rgb(out)


@pytest.mark.parametrize("workflow_name", ["smart_mask_basic.json", "smart_mask_auto.json"])
def test_example_workflow_matches_command_line(comfy, cli_composite, workflow_name):
    info = comfy.object_info()
    path = WORKFLOWS / workflow_name
    assert path.is_file(), f"{path} is missing"
    prompt = ui_to_api(load_workflow(path), info)

    # The workflow loads the example pair by name: upload the two files under those names.
    loads = [n["inputs"]["image"] for n in prompt.values() if n["class_type"] == "LoadImage"]
    assert sorted(loads) == ["edited.png", "original.png"], loads
    upload_example_pair(comfy)

    # The comparison with the command line only holds if the workflow keeps every default.
    changed = []
    for nid, n in prompt.items():
        if n["class_type"] not in SMART_MASK_NODES:
            continue
        for _, name, spec in _inputs(info, n["class_type"]):
            value, default = n["inputs"].get(name), _options(spec).get("default")
            if isinstance(value, list) or value is None or default is None:
                continue
            if value != default and not (isinstance(default, float) and abs(value - default) < 1e-9):
                changed.append(f"node {nid} {n['class_type']}.{name} = {value!r}, default {default!r}")
    assert not changed, f"{workflow_name} does not use the defaults:\n" + "\n".join(changed)

    entry = comfy.run(prompt, timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, workflow_name)

    # The result: the SaveImage fed by the composite's (or the auto node's) image output.
    composites = {nid for nid, n in prompt.items() if n["class_type"] in ("SmartMaskComposite", "SmartMaskAuto")}
    saves = [
        nid
        for nid, n in prompt.items()
        if n["class_type"] == "SaveImage" and n["inputs"]["images"] in ([c, 0] for c in composites)
    ]
    assert len(saves) == 1, f"expected one SaveImage of the composite in {workflow_name}, found {saves}"
    images = comfy.output_images(entry, saves[0])
    assert len(images) == 1, f"expected one saved composite, got {len(images)}"
    served = images[0][..., :3]

    cli = cli_composite
    assert served.shape == cli.shape, f"server {served.shape} vs command line {cli.shape}"
    # The two may differ by one level wherever the composite is not exactly an 8-bit level (the
    # edit, its soft edge and the edge's faint tail): ComfyUI's SaveImage truncates 255 * x, the
    # command line rounds it. Byte-exactness where the mask is 0 is pinned in test_comfyui_keep.py.
    diff = np.abs(served.astype(int) - cli.astype(int))
    assert diff.max() <= 1, (
        f"server result differs from the command line: max {diff.max()}/255 at "
        f"{np.argwhere(diff == diff.max())[:5].tolist()}, {(diff > 1).mean():.4%} of values"
    )

    # And it is a real composite: the edit is kept and the untouched drift is undone.
    original, edited = read_rgb(EXAMPLES / "original.png"), read_rgb(EXAMPLES / "edited.png")
    if edited.shape == original.shape:
        assert np.any(served != edited), "the composite is just the edited image"
    assert np.any(served != original), "the composite is just the original image"


# ---------------------------------------------------------------------------------- (c)
def _batch_prompt(info: dict, original: str, edited: str, n_original: int, n_edited: int) -> dict:
    """original x n_original and edited x n_edited (RepeatImageBatch) -> SmartMaskAuto -> SaveImage."""
    return {
        "1": node(info, "LoadImage", image=original),
        "2": node(info, "LoadImage", image=edited),
        "3": node(info, "RepeatImageBatch", image=["1", 0], amount=n_original),
        "4": node(info, "RepeatImageBatch", image=["2", 0], amount=n_edited),
        "5": node(info, "SmartMaskAuto", original=["3", 0], edited=["4", 0]),
        "6": node(info, "SaveImage", images=["5", 0], filename_prefix="batch"),
    }


def test_mismatched_batches_fail_clearly_and_server_keeps_working(comfy):
    info = comfy.object_info()
    original, edited = upload_example_pair(comfy)

    entry = comfy.run(_batch_prompt(info, original, edited, 2, 3), timeout=300)
    assert ComfyServer.status(entry) == "error", _fail_with_log(comfy, entry, "batch 2 vs 3 should fail")
    error = ComfyServer.execution_error(entry) or {}
    assert error.get("node_type", "").startswith("SmartMask"), f"failed elsewhere than in Smart Mask: {error}"
    message = error.get("exception_message", "")
    assert re.search(r"\b2\b", message) and re.search(r"\b3\b", message) and "batch" in message.lower(), (
        f"the error should name both batch sizes (2 and 3): {message!r}"
    )

    # The server is still usable: a batch of 1 against a batch of 2 broadcasts.
    entry = comfy.run(_batch_prompt(info, original, edited, 1, 2), timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "prompt after the failure")
    images = comfy.output_images(entry, "6")
    h, w = read_rgb(EXAMPLES / "original.png").shape[:2]
    assert len(images) == 2 and all(im.shape[:2] == (h, w) for im in images), [im.shape for im in images]


# ---------------------------------------------------------------------------------- (d)
def test_every_example_workflow_uses_known_nodes(comfy):
    info = comfy.object_info()
    paths = sorted(WORKFLOWS.glob("*.json"))
    assert BASIC_WORKFLOW in paths, f"{BASIC_WORKFLOW.name} missing from {WORKFLOWS}"
    assert len(paths) >= 2, f"expected the basic and the Flux Kontext workflow, found {[p.name for p in paths]}"
    kontext = []
    for path in paths:
        workflow = load_workflow(path)
        kinds = node_types(workflow)
        unknown = sorted(k for k in kinds if k not in info)
        assert not unknown, f"{path.name}: node types not in ComfyUI 0.3.75 + Smart Mask: {unknown}"
        assert kinds & set(SMART_MASK_NODES), f"{path.name} uses no Smart Mask node"
        ui_to_api(workflow, info)  # widget values match the nodes' inputs
        if any("Kontext" in k for k in kinds):
            kontext.append(path.name)
    assert kontext, "no example workflow uses Flux Kontext nodes"


# ---------------------------------------------------------------------------------- (e)
def test_face_guard_finds_the_face_with_yunet(comfy):
    if comfy.yunet_model is None:
        pytest.skip(MISSING_REASON)
    info = comfy.object_info()
    original, edited = upload_example_pair(comfy)
    prompt = {
        "1": node(info, "LoadImage", image=original),
        "2": node(info, "LoadImage", image=edited),
        "3": node(info, "SmartMaskDifference", original=["1", 0], edited=["2", 0]),
        "4": node(info, "SmartMaskFaceGuard", image=["1", 0], mask=["3", 0]),
        "5": node(info, "MaskToImage", mask=["4", 1]),
        "6": node(info, "SaveImage", images=["5", 0], filename_prefix="faces"),
    }
    entry = comfy.run(prompt, timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "face guard workflow")
    faces = comfy.output_images(entry, "6")
    assert len(faces) == 1
    face = faces[0][..., 0] >= 128
    # examples/original.png is the astronaut: one face, box about (178, 63)-(268, 176), eyes at
    # y = 103, mouth at y = 145; the mask must cover eyes to mouth and stay near that box
    assert face[95:150, 200:255].all(), "the faces mask does not cover the eyes, nose and mouth"
    ys, xs = np.nonzero(face)
    assert ys.min() > 63 - 45 and ys.max() < 176 + 45 and xs.min() > 178 - 45 and xs.max() < 268 + 45, (
        f"the faces mask reaches beyond the face: rows {ys.min()}-{ys.max()}, columns {xs.min()}-{xs.max()}"
    )
    assert abs(ys.mean() - 120) < 15 and abs(xs.mean() - 223) < 12, (ys.mean(), xs.mean())
    # The node reports what it did: "faces protected: N (detector: yunet)".
    text = " ".join(entry.get("outputs", {}).get("4", {}).get("text", []))
    found = re.search(r"faces protected: (\d+) \(detector: (\w+)\)", text)
    assert found, f"Face Guard did not report its faces: {text!r}"
    assert int(found.group(1)) == 1 and found.group(2) == "yunet", f"expected one face found by YuNet: {text!r}"


# ---------------------------------------------------------------------------------- face intent
@pytest.fixture(scope="module")
def face_pairs(comfy):
    """The synthetic pairs of ``test_face_intent`` (astronaut, same drift and garment edit; the face
    kept or replaced by a cat's), uploaded: names of the original and of each edit."""
    from skimage import data
    from test_face_intent import _cat_face, _drift, _garment_edit

    original = data.astronaut()
    edited = _garment_edit(original)
    names = {
        "original": comfy.upload_image(original, "face_original.png"),
        "kept": comfy.upload_image(_drift(edited, 1), "face_kept.png"),
        "replaced": comfy.upload_image(_drift(_cat_face(edited), 1), "face_replaced.png"),
    }
    return original, names


def _auto_prompt(info: dict, original: str, edited: str, protect_faces) -> dict:
    """Original + edit -> Smart Mask (auto) -> its image and its aligned edit, both saved."""
    return {
        "1": node(info, "LoadImage", image=original),
        "2": node(info, "LoadImage", image=edited),
        "3": node(info, "SmartMaskAuto", original=["1", 0], edited=["2", 0], protect_faces=protect_faces),
        "4": node(info, "SaveImage", images=["3", 0], filename_prefix="face_intent"),
        "5": node(info, "SaveImage", images=["3", 3], filename_prefix="face_intent_aligned"),
    }


def test_smart_mask_keeps_a_drifted_face_and_takes_a_replaced_one(comfy, face_pairs):
    from test_face_intent import FACE_CORE

    info = comfy.object_info()
    original, names = face_pairs
    entry = comfy.run(_auto_prompt(info, names["original"], names["kept"], "auto"), timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "face kept")
    out = comfy.output_images(entry, "4")[0][..., :3]
    assert np.array_equal(out[FACE_CORE], original[FACE_CORE]), "the face the edit kept is not the original"
    text = " ".join(entry.get("outputs", {}).get("3", {}).get("text", []))
    assert "1 face kept" in text, text

    entry = comfy.run(_auto_prompt(info, names["original"], names["replaced"], "auto"), timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "face replaced")
    out = comfy.output_images(entry, "4")[0][..., :3].astype(int)
    aligned = comfy.output_images(entry, "5")[0][..., :3].astype(int)
    core = (slice(FACE_CORE[0].start + 5, FACE_CORE[0].stop - 5), slice(FACE_CORE[1].start + 5, FACE_CORE[1].stop - 5))
    assert np.abs(out[core] - aligned[core]).max() <= 2, "the new face is not taken from the edit"
    assert np.abs(out[core] - original[core].astype(int)).mean() > 20, "the original face came back"
    text = " ".join(entry.get("outputs", {}).get("3", {}).get("text", []))
    assert "1 face edited" in text, text

    # a workflow saved with the old on/off switch still runs: on protects faces the edit kept
    entry = comfy.run(_auto_prompt(info, names["original"], names["kept"], True), timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "protect_faces = true")
    assert np.array_equal(comfy.output_images(entry, "4")[0][..., :3][FACE_CORE], original[FACE_CORE])


def test_a_video_batch_keeps_one_decision_per_face_through_the_server(comfy):
    """Five frames batched by ComfyUI's own ImageBatch: the editor turned the face into a cat, less
    so in frame 2. Alone, frame 2's face reads as kept; in the clip it is edited like its
    neighbours (one decision per face, ``face_intent.FaceTracks``), and the node says so once."""
    from skimage import data
    from test_face_intent import FACE_CORE, _blend_cat, _drift

    info = comfy.object_info()
    rng = np.random.default_rng(5)
    astronaut = data.astronaut()
    alphas = (1.0, 1.0, 0.4, 1.0, 1.0)
    frames = [np.clip(astronaut + rng.normal(0, 1.0, astronaut.shape), 0, 255).astype(np.uint8) for _ in alphas]
    edits = [_drift(_blend_cat(f, a), 10 + k) for k, (f, a) in enumerate(zip(frames, alphas))]
    prompt = {}
    for side, pictures in (("o", frames), ("e", edits)):
        for k, picture in enumerate(pictures):
            prompt[f"{side}{k}"] = node(info, "LoadImage", image=comfy.upload_image(picture, f"clip_{side}{k}.png"))
        prompt[f"{side}b1"] = node(info, "ImageBatch", image1=[f"{side}0", 0], image2=[f"{side}1", 0])
        for k in range(2, len(pictures)):
            prompt[f"{side}b{k}"] = node(info, "ImageBatch", image1=[f"{side}b{k - 1}", 0], image2=[f"{side}{k}", 0])
    prompt["auto"] = node(info, "SmartMaskAuto", original=["ob4", 0], edited=["eb4", 0])
    prompt["save"] = node(info, "SaveImage", images=["auto", 0], filename_prefix="clip")
    alone = {
        "o": prompt["o2"],
        "e": prompt["e2"],
        "auto": node(info, "SmartMaskAuto", original=["o", 0], edited=["e", 0]),
        "save": node(info, "SaveImage", images=["auto", 0], filename_prefix="clip_alone"),
    }
    core = (slice(FACE_CORE[0].start + 5, FACE_CORE[0].stop - 5), slice(FACE_CORE[1].start + 5, FACE_CORE[1].stop - 5))

    entry = comfy.run(alone, timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "frame 2 alone")
    text = " ".join(entry.get("outputs", {}).get("auto", {}).get("text", []))
    assert "edited:" not in text, f"premise: frame 2 alone reads as kept, or this test proves nothing: {text!r}"
    alone_face = comfy.output_images(entry, "save")[0][..., :3].astype(int)[core]

    entry = comfy.run(prompt, timeout=600)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "five-frame clip")
    text = " ".join(entry.get("outputs", {}).get("auto", {}).get("text", []))
    assert "1 face edited: changed structure (5 frames)" in text, text
    outs = comfy.output_images(entry, "save")
    assert len(outs) == 5
    clip_face = outs[2][..., :3].astype(int)[core]
    original_face = frames[2].astype(int)[core]
    # in the clip frame 2's face is the edit's (the half-cat), not the original restored in part
    assert np.abs(clip_face - original_face).mean() > np.abs(alone_face - original_face).mean() + 5


def test_a_stitched_eraser_keeps_the_redrawn_surround_original_through_the_server(comfy):
    """An eraser that pasted its zone back into the original (everything else identical to the
    bit) also redrew the sleeve round the erased apple: Smart Mask (auto) takes the erasure, gives
    the sleeve back from the original and says it read the pair as a stitched inpaint."""
    from test_edit_regions import _stitched_eraser

    info = comfy.object_info()
    o, e, apple, surround = _stitched_eraser()
    o8, e8 = (np.round(a * 255).astype(np.uint8) for a in (o, e))
    prompt = {
        "o": node(info, "LoadImage", image=comfy.upload_image(o8, "eraser_original.png")),
        "e": node(info, "LoadImage", image=comfy.upload_image(e8, "eraser_result.png")),
        "auto": node(info, "SmartMaskAuto", original=["o", 0], edited=["e", 0]),
        "save": node(info, "SaveImage", images=["auto", 0], filename_prefix="eraser"),
    }
    entry = comfy.run(prompt, timeout=300)
    assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, "stitched eraser")
    text = " ".join(entry.get("outputs", {}).get("auto", {}).get("text", []))
    assert "a stitched inpaint" in text, text
    out = comfy.output_images(entry, "save")[0][..., :3].astype(int)
    inner = ndi.binary_erosion(apple, iterations=3)
    assert np.abs(out[inner] - e8[inner].astype(int)).max() <= 2, "the apple must stay erased"
    restored = np.abs(out[surround] - o8[surround].astype(int)).max(axis=1) == 0
    assert restored.mean() > 0.6, f"only {restored.mean():.2f} of the redrawn sleeve is the original again"


def test_face_guard_auto_mode_judges_faces_against_the_edit(comfy, face_pairs):
    from test_face_intent import FACE_CORE

    info = comfy.object_info()
    original, names = face_pairs
    for edit, kept in (("kept", True), ("replaced", False)):
        prompt = {
            "1": node(info, "LoadImage", image=names["original"]),
            "2": node(info, "LoadImage", image=names[edit]),
            "3": node(info, "SmartMaskFaceGuard", image=["1", 0], edited=["2", 0], mode="auto"),
            "4": node(info, "MaskToImage", mask=["3", 1]),
            "5": node(info, "SaveImage", images=["4", 0], filename_prefix="guard_faces"),
        }
        entry = comfy.run(prompt, timeout=300)
        assert ComfyServer.status(entry) == "success", _fail_with_log(comfy, entry, f"face guard, face {edit}")
        faces = comfy.output_images(entry, "5")[0][..., 0].astype(float) / 255.0
        text = " ".join(entry.get("outputs", {}).get("3", {}).get("text", []))
        assert (faces[FACE_CORE].min() > 0.99) == kept, (edit, text)
        assert ("1 face kept" if kept else "1 face edited") in text, text


# ---------------------------------------------------------------------------------- converter
CHROMIUM = "/usr/bin/chromium"


def test_workflow_converter_agrees_with_the_editor(comfy):
    """``tests/workflow_api.py`` gives, for every example workflow, the prompt that ComfyUI's own
    editor (front end 1.32.9, in Debian's headless Chromium) builds with ``app.graphToPrompt()``."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: run `bash scripts/setup_env.sh` as root"
    from playwright.sync_api import sync_playwright
    from urllib.parse import urlparse

    info = comfy.object_info()
    upload_example_pair(comfy)
    paths = sorted(WORKFLOWS.glob("*.json"))
    assert paths, f"no workflows in {WORKFLOWS}"

    def loopback_only(route):
        url = urlparse(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in ("127.0.0.1", "localhost"):
            route.abort()
        else:
            route.continue_()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.route("**/*", loopback_only)
            page.goto(comfy.url + "/", wait_until="load")
            page.wait_for_function(
                "() => window.comfyAPI?.app?.app?.graph && window.LiteGraph?.registered_node_types?.SmartMaskAuto",
                timeout=90_000,
            )
            for path in paths:
                workflow = load_workflow(path)
                editor = page.evaluate(
                    """async (workflow) => {
                    const app = window.comfyAPI.app.app;
                    await app.loadGraphData(workflow);
                    return (await app.graphToPrompt()).output;
                }""",
                    workflow,
                )
                ours = ui_to_api(workflow, info)
                strip = lambda prompt: {
                    k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()
                }
                assert strip(ours) == strip(editor), (
                    f"{path.name}: converter and editor disagree\nours:   {json.dumps(strip(ours), sort_keys=True)}\n"
                    f"editor: {json.dumps(strip(editor), sort_keys=True)}"
                )
        finally:
            browser.close()
