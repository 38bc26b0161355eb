"""The pack's front end (``js/smart_mask.js``) in a real browser against the real ComfyUI server.

Debian's Chromium, headless, driven by Playwright (never ``playwright install``), opens the
ComfyUI 0.3.75 editor (front end 1.32.9) served by the ``comfy`` fixture. Every request that
would leave the loopback interface is blocked. The tests check that

* the pack's extension script loads and registers, with no console error of its own;
* the nodes can be found through the editor's node search and added to the graph;
* the example workflows run from the editor (``app.queuePrompt``) and the nodes then show their
  previews and their text (chosen threshold, faces protected);
* the before/after compare widget answers a real mouse drag: screenshots of the picture before
  and after differ where the slider swept and nowhere else; the overlay toggle tints the mask;
* with a batch, the frame arrows change the frame shown;
* every shipped workflow, loaded and run, leaves each preview of the pack in the clear: no other
  node's box overlaps it, and on screen it shows the picture the node sent (the workflows needing
  model files get a real run's outputs instead); Face Guard's text wraps inside the node;
* a preview survives a page reload and a re-run served from ComfyUI's cache (a second server with
  the cache on), also on a workflow loaded afresh;
* every node's help page (js/docs) is served, describes each input and shows served pictures.

Screenshots of the widget for the README (``docs/``), the help pages' pictures
(``js/docs/images/``) and the template thumbnails (``example_workflows/<name>.jpg``) are written
when they are missing there or when ``SMARTMASK_UPDATE_SCREENSHOTS=1`` is set (otherwise into pytest's temporary folder, so that
a test run leaves the checkout as it was).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comfy_server import NODE_DISPLAY_NAMES, ComfyServer

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
WORKFLOWS = REPO_ROOT / "example_workflows"
DOCS = REPO_ROOT / "docs"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1200}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

EXTENSION_NAME = "SmartMask.Preview"
EXTENSION_PATH = "/extensions/smart_mask/smart_mask.js"
# What marks a message as the pack's own: its script's URL, its extension's name, its log prefix.
# (Messages of the editor itself that merely name a node type, such as its blocked registry
# look-ups of https://api.comfy.org/comfy-nodes/<type>/node, are not the pack's.)
OWN_MARKERS = ("/extensions/smart_mask/", "smartmask.preview", "[smart mask]")
WIDGET = "smartmask_preview"


# Where the page's objects live (the extension API's shims read the same ones).
JS_PRELUDE = "const app = window.comfyAPI.app.app; const api = window.comfyAPI.api.api;"


# ---------------------------------------------------------------------------------- browser
def _post_setting(comfy: ComfyServer, key: str, value) -> None:
    req = urllib.request.Request(
        f"{comfy.url}/settings/{urllib.parse.quote(key)}",
        method="POST",
        data=json.dumps(value).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200, f"POST /settings/{key} -> HTTP {r.status}"


class Editor:
    """The ComfyUI editor in one Chromium page, with what the page logged."""

    def __init__(self, comfy: ComfyServer, context):
        self.comfy = comfy
        self.context = context
        self.console: list[tuple[str, str, str]] = []  # (type, text, source url)
        self.page_errors: list[str] = []
        self.blocked: list[str] = []
        self.requested: list[str] = []
        self.bad_responses: list[str] = []
        self.extension_status: int | None = None
        context.route("**/*", self._route)
        self.page = context.pages[0] if context.pages else context.new_page()
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.page_errors.append(f"{exc}\n{getattr(exc, 'stack', '') or ''}"))
        self.page.on("response", self._on_response)
        self.page.on(
            "requestfailed",
            lambda req: (
                self.bad_responses.append(f"{req.url}: {req.failure}")
                if "smart_mask" in urllib.parse.urlsplit(req.url).path
                else None
            ),
        )

    # every request that leaves loopback is refused
    def _route(self, route):
        self.requested.append(route.request.url)
        parts = urllib.parse.urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOOPBACK_HOSTS:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _on_console(self, msg):
        loc = msg.location or {}
        self.console.append((msg.type, msg.text, loc.get("url", "")))

    def _on_response(self, resp):
        path = urllib.parse.urlsplit(resp.url).path
        if path == EXTENSION_PATH:
            self.extension_status = resp.status
        if resp.status >= 400 and "smart_mask" in path:
            self.bad_responses.append(f"{resp.url}: HTTP {resp.status}")

    def own_errors(self) -> list[str]:
        """Console errors and uncaught exceptions that come from the pack's script or name the pack."""
        found = []
        for kind, text, url in self.console:
            if kind in ("error", "assert") and any(m in (text + " " + url).lower() for m in OWN_MARKERS):
                found.append(f"console.{kind}: {text} ({url})")
        found += [f"uncaught: {e}" for e in self.page_errors if any(m in e.lower() for m in OWN_MARKERS)]
        found += [f"request: {r}" for r in self.bad_responses]
        return found

    def js(self, body: str, arg=None):
        """Evaluate ``body`` (statements ending in a return) as an async function of ``arg``."""
        return self.page.evaluate(f"async (arg) => {{ {JS_PRELUDE} {body} }}", arg)

    def settle(self, ms: int = 150) -> None:
        """Let the canvas draw what changed (two animation frames and a short pause)."""
        self.js(
            "app.canvas.setDirty(true, true); "
            "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); return null;"
        )
        self.page.wait_for_timeout(ms)

    def diagnostics(self) -> str:
        errors = [f"{k}: {t} ({u})" for k, t, u in self.console if k in ("error", "warning")]
        return (
            "console errors/warnings:\n"
            + "\n".join(errors[-30:])
            + "\npage errors:\n"
            + "\n".join(self.page_errors)
            + "\nserver log tail:\n"
            + self.comfy.log_text()[-5000:]
        )


@pytest.fixture(scope="module")
def playwright_driver():
    """One Playwright driver for the module (its sync API allows one at a time)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. "
            "Install it with `bash scripts/setup_env.sh` (as root) or `apt-get install chromium`."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the 'playwright' Python package is missing: run `bash scripts/setup_env.sh` "
            "(it only drives /usr/bin/chromium; never run `playwright install`)"
        )
    with sync_playwright() as pw:
        yield pw


@contextlib.contextmanager
def open_editor(pw, comfy: ComfyServer, profile: Path):
    """The ComfyUI editor of ``comfy`` in a fresh headless Chromium profile, ready to use."""
    for name in ("original.png", "edited.png"):
        assert (EXAMPLES / name).is_file(), f"example image {EXAMPLES / name} is missing"
        comfy.upload_image(EXAMPLES / name)
    # Without this a templates dialog covers the canvas of a fresh user; the minimap would cover a corner.
    _post_setting(comfy, "Comfy.TutorialCompleted", True)
    _post_setting(comfy, "Comfy.Minimap.Visible", False)
    context = pw.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,
        device_scale_factor=1,
    )
    try:
        ed = Editor(comfy, context)
        ed.page.set_default_timeout(60_000)
        ed.page.goto(comfy.url + "/", wait_until="load")
        wait_for_app(ed)
        yield ed
    finally:
        context.close()


def wait_for_app(ed: Editor) -> None:
    try:
        ed.page.wait_for_function(
            "() => window.comfyAPI?.app?.app?.graph && window.LiteGraph?.registered_node_types?.SmartMaskAuto"
            " && window.comfyAPI.app.app.canvas",
            timeout=90_000,
        )
    except Exception as exc:
        pytest.fail(f"the ComfyUI editor did not start: {exc}\n{ed.diagnostics()}")
    ed.settle(500)


@pytest.fixture(scope="module")
def editor(playwright_driver, comfy, tmp_path_factory):
    _SCRATCH["dir"] = tmp_path_factory.mktemp("screenshots")
    with open_editor(playwright_driver, comfy, tmp_path_factory.mktemp("chromium-profile")) as ed:
        yield ed


# ---------------------------------------------------------------------------------- helpers
def load_workflow(ed: Editor, name: str) -> dict:
    path = WORKFLOWS / name
    assert path.is_file(), f"{path} is missing"
    workflow = json.loads(path.read_text())
    ed.js("await app.loadGraphData(arg); return null;", workflow)
    ed.settle(300)
    return workflow


def queue_and_wait(ed: Editor, timeout_s: float = 240) -> dict:
    """``app.queuePrompt(0)`` as the Run button does; wait for the end; the server's history entry."""
    before = set(ed.comfy.get_json("/history"))
    ed.js("""
        window.__smartmaskDone = null;
        const done = (status) => (e) => { window.__smartmaskDone ??= {status, detail: e.detail ?? null}; };
        api.addEventListener('execution_success', done('success'), {once: true});
        api.addEventListener('execution_error', done('error'), {once: true});
        await app.queuePrompt(0);
        return null;""")
    try:
        ed.page.wait_for_function("() => window.__smartmaskDone !== null", timeout=timeout_s * 1000)
    except Exception as exc:
        errors = ed.js("return JSON.stringify(window.comfyAPI?.app?.app?.lastNodeErrors ?? null);")
        pytest.fail(
            f"the workflow queued from the editor did not finish: {exc}\nnode errors: {errors}\n{ed.diagnostics()}"
        )
    done = ed.js("return window.__smartmaskDone;")
    history = ed.comfy.get_json("/history")
    new = [pid for pid in history if pid not in before]
    assert len(new) == 1, f"expected one new prompt in /history, got {new}"
    entry = history[new[0]]
    assert done["status"] == "success" and ComfyServer.status(entry) == "success", (
        f"run from the editor failed: {json.dumps(done)[:3000]}\n{ComfyServer.error_message(entry)}\n{ed.diagnostics()}"
    )
    ed.settle(300)
    return entry


def nodes_of_type(ed: Editor, node_type: str) -> list[int]:
    return ed.js("return app.graph.nodes.filter(n => n.type === arg).map(n => n.id);", node_type)


def preview_state(ed: Editor, node_id: int) -> dict | None:
    """What the node's preview widget holds and shows (None when it has none)."""
    return ed.js(
        f"""
        const node = app.graph.getNodeById(arg);
        const w = node?.widgets?.find(w => w.name === '{WIDGET}');
        if (!w) return null;
        const s = w.smartmask;
        return {{view: s.view, views: s.views, frame: s.frame, frames: s.frames.length, overlay: s.overlay,
                slider: s.slider, text: s.text, tint: s.tint, lines: s.textLines(), ready: s.isReady(),
                image: s.layout.image, buttons: s.layout.buttons.map(b => ({{id: b.id, label: b.label,
                x: b.x, y: b.y, w: b.w, h: b.h}})), payload: s.payload,
                serialized: node.serialize().widgets_values ?? null}};""",
        node_id,
    )


def wait_ready(ed: Editor, node_id: int, timeout_ms: int = 30_000) -> dict:
    """Wait until the node's preview has loaded its pictures and drawn them (on screen)."""
    try:
        ed.page.wait_for_function(
            f"""(id) => {{ const n = window.comfyAPI.app.app.graph.getNodeById(id);
                 const s = n?.widgets?.find(w => w.name === '{WIDGET}')?.smartmask;
                 return !!(s && s.isReady()); }}""",
            arg=node_id,
            timeout=timeout_ms,
        )
        if not preview_state(ed, node_id)["image"]:  # LiteGraph draws only the nodes in view
            ed.js(
                "app.canvas.centerOnNode(app.graph.getNodeById(arg)); app.canvas.setDirty(true, true); return null;",
                node_id,
            )
        ed.page.wait_for_function(
            f"""(id) => !!window.comfyAPI.app.app.graph.getNodeById(id)
                 .widgets.find(w => w.name === '{WIDGET}').smartmask.layout.image""",
            arg=node_id,
            timeout=timeout_ms,
        )
    except Exception as exc:
        pytest.fail(
            f"the preview of node {node_id} never became ready: {exc}\n"
            f"state: {json.dumps(preview_state(ed, node_id))[:3000]}\n{ed.diagnostics()}"
        )
    ed.settle()
    return preview_state(ed, node_id)


def focus_node(ed: Editor, node_id: int, scale: float = 1.0, width: int | None = None) -> None:
    """Show the node alone, at ``scale``, in the middle of the canvas (``width``: resize it first)."""
    ed.js(
        """
        const node = app.graph.getNodeById(arg.id);
        if (arg.width) node.setSize([arg.width, node.size[1] + (arg.width - node.size[0])]);
        // alone on the canvas: to the right of every other node, so none overlaps it
        const others = app.graph.nodes.filter(n => n !== node);
        const right = Math.max(0, ...others.map(n => { const b = n.getBounding(); return b[0] + b[2]; }));
        if (others.some(n => n.pos[0] + n.size[0] > node.pos[0] - 40)) node.pos = [right + 200, 0];
        app.canvas.bringToFront?.(node);
        app.canvas.ds.scale = arg.scale;
        app.canvas.centerOnNode(node);
        app.canvas.setDirty(true, true);
        return null;""",
        {"id": node_id, "scale": scale, "width": width},
    )
    ed.settle(300)


def to_client(ed: Editor, node_id: int, rect: dict) -> dict:
    """A rectangle in node coordinates -> page coordinates (CSS px)."""
    return ed.js(
        """
        const node = app.graph.getNodeById(arg.id);
        const box = app.canvas.canvas.getBoundingClientRect();
        const [x0, y0] = app.canvas.ds.convertOffsetToCanvas([node.pos[0] + arg.r.x, node.pos[1] + arg.r.y]);
        const [x1, y1] = app.canvas.ds.convertOffsetToCanvas([node.pos[0] + arg.r.x + arg.r.w, node.pos[1] + arg.r.y + arg.r.h]);
        return {x: box.left + x0, y: box.top + y0, w: x1 - x0, h: y1 - y0};""",
        {"id": node_id, "r": rect},
    )


def node_client_rect(ed: Editor, node_id: int, pad: int = 24) -> dict:
    return ed.js(
        """
        const node = app.graph.getNodeById(arg.id);
        const b = node.getBounding();
        const box = app.canvas.canvas.getBoundingClientRect();
        const [x0, y0] = app.canvas.ds.convertOffsetToCanvas([b[0], b[1]]);
        const [x1, y1] = app.canvas.ds.convertOffsetToCanvas([b[0] + b[2], b[1] + b[3]]);
        return {x: box.left + x0 - arg.pad, y: box.top + y0 - arg.pad, w: x1 - x0 + 2 * arg.pad, h: y1 - y0 + 2 * arg.pad};""",
        {"id": node_id, "pad": pad},
    )


def shot(ed: Editor, r: dict, path: Path | None = None) -> np.ndarray:
    """Screenshot of a page rectangle, as uint8 RGB; also saved to ``path`` when given."""
    clip = {"x": round(r["x"]), "y": round(r["y"]), "width": round(r["w"]), "height": round(r["h"])}
    png = ed.page.screenshot(clip=clip)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    return np.array(Image.open(io.BytesIO(png)).convert("RGB"))


def doc_shot(name: str) -> Path:
    """Where the README screenshot ``name`` goes: ``docs/`` when it is missing or asked for, else a temp folder."""
    target = DOCS / name
    if os.environ.get("SMARTMASK_UPDATE_SCREENSHOTS") == "1" or not target.exists():
        return target
    return Path(_SCRATCH["dir"]) / name


_SCRATCH: dict = {}


def fetch_preview(ed: Editor, ref: dict, size: tuple[int, int]) -> np.ndarray:
    """A preview PNG the node sent, read through /view and resized to ``size`` (w, h), as float."""
    img = Image.fromarray(ed.comfy.view(ref))
    return np.asarray(img.convert("RGB").resize(size, Image.BILINEAR), dtype=np.float64)


def click_button(ed: Editor, node_id: int, button_id: str) -> None:
    st = preview_state(ed, node_id)
    button = next((b for b in st["buttons"] if b["id"] == button_id), None)
    assert button is not None, f"node {node_id} has no '{button_id}' button: {[b['id'] for b in st['buttons']]}"
    r = to_client(ed, node_id, button)
    ed.page.mouse.click(r["x"] + r["w"] / 2, r["y"] + r["h"] / 2)
    ed.settle()


def drag(ed: Editor, x0: float, x1: float, y: float, steps: int = 12) -> None:
    m = ed.page.mouse
    m.move(x0, y)
    m.down()
    for i in range(1, steps + 1):
        m.move(x0 + (x1 - x0) * i / steps, y)
    m.up()
    ed.settle()


def check_preview_sent(entry: dict, node_id: int, layers: set[str]) -> dict:
    out = entry["outputs"].get(str(node_id), {})
    payloads = out.get("smartmask_preview")
    assert payloads and payloads[0]["frames"], f"node {node_id} sent no preview: {sorted(out)}"
    payload = payloads[0]
    missing = layers - set(payload["frames"][0])
    assert not missing, f"node {node_id}'s preview lacks {missing}: {payload['frames'][0]}"
    assert max(payload["width"], payload["height"]) <= 1024
    for ref in payload["frames"][0].values():
        if isinstance(ref, dict):
            assert ref["type"] == "temp" and ref["filename"].endswith(".png"), ref
    return payload


# ---------------------------------------------------------------------------------- tests
def test_extension_loads_without_errors(editor):
    ed = editor
    assert ed.extension_status == 200, f"{EXTENSION_PATH} answered {ed.extension_status}\n{ed.diagnostics()}"
    names = ed.js("return (app.extensionManager?.extensions ?? app.extensions ?? []).map(e => e.name);")
    if not names:  # older/newer stores: ask the extension service directly
        names = ed.js("return [...(window.comfyAPI.app.app.extensions ?? [])].map(e => e.name);")
    assert EXTENSION_NAME in names, f"extension {EXTENSION_NAME} not registered; registered: {names}"
    assert not ed.own_errors(), "the pack's front end logged errors:\n" + "\n".join(ed.own_errors())


def test_nodes_found_by_search_and_added(editor):
    ed = editor
    registered = ed.js("return Object.keys(LiteGraph.registered_node_types);")
    missing = [t for t in NODE_DISPLAY_NAMES if t not in registered]
    assert not missing, f"the editor does not know {missing}"

    # The node search box (double-click on an empty canvas) finds them by their display names.
    ed.js("app.graph.clear(); return null;")
    ed.settle()
    canvas = ed.page.locator("#graph-canvas")
    box = canvas.bounding_box()
    ed.page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    search = ed.page.get_by_role("combobox").or_(ed.page.locator(".comfy-vue-node-search-container input")).first
    search.wait_for(state="visible", timeout=15_000)
    search.fill("Smart Mask")
    ed.page.get_by_role("option").filter(has_text="Composite (Smart Mask)").first.wait_for(timeout=15_000)
    options = ed.page.get_by_role("option").all_inner_texts()
    found = [name for name in NODE_DISPLAY_NAMES.values() if any(name in o for o in options)]
    assert len(found) == len(NODE_DISPLAY_NAMES), f"search 'Smart Mask' shows {options[:20]}, finds only {found}"
    search.fill("Composite (Smart Mask)")
    option = ed.page.get_by_role("option").filter(has_text="Composite (Smart Mask)").first
    option.wait_for(timeout=15_000)
    option.click()
    try:  # the editor adds the node asynchronously: slower on a loaded machine
        ed.page.wait_for_function("() => app.graph.nodes.some(n => n.type === 'SmartMaskComposite')", timeout=15_000)
    except Exception:
        pass  # the assertion below reports what was added instead
    ed.settle()
    assert nodes_of_type(ed, "SmartMaskComposite"), (
        f"choosing it in the node search added {ed.js('return app.graph.nodes.map(n => n.type);')}"
    )

    # Every node can be created and added; its widgets are its inputs, and no preview yet.
    info = ed.comfy.object_info()
    added = ed.js(
        """
        const out = {};
        for (const type of arg) {
            const node = LiteGraph.createNode(type);
            app.graph.add(node);
            out[type] = {widgets: (node.widgets ?? []).map(w => w.name), outputs: node.outputs.map(o => o.name),
                         title: node.title};
        }
        return out;""",
        list(NODE_DISPLAY_NAMES),
    )
    for node_type, got in added.items():
        spec = info[node_type]
        assert got["title"] == NODE_DISPLAY_NAMES[node_type]
        assert got["outputs"] == spec["output_name"], (node_type, got["outputs"])
        assert WIDGET not in got["widgets"], f"{node_type} shows a preview before it ran"
        widget_inputs = [
            n
            for n, s in spec["input"]["required"].items()
            if isinstance(s[0], list) or s[0] in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
        ]
        assert [w for w in got["widgets"] if w in widget_inputs] == widget_inputs, (node_type, got["widgets"])
    ed.js("app.graph.clear(); return null;")
    assert not ed.own_errors(), "\n".join(ed.own_errors())


def test_basic_workflow_runs_from_editor_and_compare_widget_follows_drag(editor):
    ed = editor
    load_workflow(ed, "smart_mask_basic.json")
    diff_id, guard_id, comp_id = (
        nodes_of_type(ed, t)[0] for t in ("SmartMaskDifference", "SmartMaskFaceGuard", "SmartMaskComposite")
    )
    widgets_before = preview_state(ed, comp_id)
    assert widgets_before is None, "the composite shows a preview before it ran"
    entry = queue_and_wait(ed)

    # Difference Mask: heat-map and mask previews, and the threshold it chose.
    check_preview_sent(entry, diff_id, {"original", "result", "mask", "heatmap"})
    st = wait_ready(ed, diff_id)
    sent_text = "\n".join(entry["outputs"][str(diff_id)]["text"])
    assert st["text"] == sent_text and "threshold" in sent_text, (st["text"], sent_text)
    assert {"compare", "heatmap", "mask"} <= set(st["views"]), st["views"]
    assert any("threshold" in line for line in st["lines"]), st["lines"]

    # Face Guard: the number of faces protected, and the faces drawn.
    check_preview_sent(entry, guard_id, {"original", "mask", "faces"})
    st = wait_ready(ed, guard_id)
    sent_text = "\n".join(entry["outputs"][str(guard_id)]["text"])
    assert st["text"] == sent_text and "faces protected" in sent_text, (st["text"], sent_text)
    # Its text (with the face model's path, one long word) wraps inside the node: nothing is cut.
    wrapped = ed.js(
        """const n = app.graph.getNodeById(arg);
        return n.widgets.find(w => w.name === 'smartmask_preview').smartmask.wrapped(n.size[0]);""",
        guard_id,
    )
    assert max(wrapped["widths"]) <= wrapped["room"], f"a line is wider than the node: {wrapped}"
    assert "".join(wrapped["lines"]).replace(" ", "") == "".join(st["lines"]).replace(" ", ""), (
        f"the wrapped text lost characters: {wrapped['lines']} vs {st['lines']}"
    )
    assert "detector" in sent_text and len(wrapped["lines"]) > len(st["lines"]), wrapped
    assert int(sent_text.split("faces protected:")[1].split()[0]) >= 1, (
        f"the astronaut's face was not found: {sent_text}"
    )

    # Composite: the compare widget; the preview widget is not saved with the node's values.
    payload = check_preview_sent(entry, comp_id, {"original", "result", "mask"})
    st = wait_ready(ed, comp_id)
    assert st["view"] == "compare" and abs(st["slider"] - 0.5) < 1e-9, st
    workflow = json.loads((WORKFLOWS / "smart_mask_basic.json").read_text())
    saved = next(n for n in workflow["nodes"] if n["id"] == comp_id)["widgets_values"]
    assert st["serialized"] == saved, f"the preview changed the composite's widgets_values: {st['serialized']}"

    focus_node(ed, comp_id, width=480)
    st = preview_state(ed, comp_id)
    img = to_client(ed, comp_id, st["image"])
    w, h = round(img["w"]), round(img["h"])
    assert w > 200 and h > 200, f"the picture is drawn too small: {img}"
    header = to_client(ed, comp_id, {"x": st["image"]["x"], "y": 0, "w": st["image"]["w"], "h": st["image"]["y"] - 2})

    # Where original and result differ, column by column (from the PNGs the node sent).
    frame = payload["frames"][0]
    original = fetch_preview(ed, frame["original"], (w, h))
    result = fetch_preview(ed, frame["result"], (w, h))
    changed = np.abs(original - result).max(axis=2) > 40
    assert changed.mean() > 0.02, "the example's result hardly differs from its original"
    cols = changed.sum(axis=0)
    left, right = cols[int(0.1 * w) : int(0.5 * w)].sum(), cols[int(0.5 * w) : int(0.9 * w)].sum()
    target = 0.1 if left >= right else 0.9

    y = img["y"] + img["h"] * 0.75
    ed.page.mouse.move(img["x"] + img["w"] * 0.5, y)
    ed.settle()
    before = shot(ed, img)
    header_before = shot(ed, header)
    drag(ed, img["x"] + img["w"] * 0.5, img["x"] + img["w"] * target, y)
    st = preview_state(ed, comp_id)
    assert abs(st["slider"] - target) < 0.02, f"slider at {st['slider']}, dragged to {target}"
    after = shot(ed, img)
    header_after = shot(ed, header)
    assert before.shape == after.shape

    delta = np.abs(before.astype(int) - after.astype(int)).max(axis=2)
    guard = 14  # px around the old and new slider line and handle
    lo, hi = sorted((target, 0.5))
    swept = np.zeros_like(changed)
    swept[:, int(lo * w) + guard : int(hi * w) - guard] = True
    kept = np.zeros_like(changed)
    if target < 0.5:
        kept[:, int(0.5 * w) + guard :] = True
    else:
        kept[:, : int(0.5 * w) - guard] = True
    sweep_changes = swept & changed
    assert sweep_changes.sum() > 200, "the swept band holds no edit to see"
    # In the swept band the picture switched between original and result exactly where they differ ...
    assert (delta[sweep_changes] > 20).mean() > 0.9, (
        f"only {(delta[sweep_changes] > 20).mean():.1%} of the edited pixels in the swept band changed on screen"
    )
    assert (delta[swept & ~changed] > 60).mean() < 0.02, "pixels the edit did not touch changed in the swept band"
    # ... while the rest of the picture and the toolbar above it stayed as they were.
    # (the canvas may resample a handful of pixels a few levels differently from one frame to the next)
    assert delta[kept].max() <= 12 and (delta[kept] > 2).mean() < 0.001, (
        f"the picture changed outside the swept band (max {delta[kept].max()}, "
        f"{(delta[kept] > 2).sum()} px, at {np.argwhere(kept & (delta > 2))[:10].tolist()}, "
        f"size {w}x{h}, target {target})"
    )
    assert np.array_equal(header_before, header_after), "the toolbar/text above the picture changed"
    # And what is shown is the right picture: the result on the right of the slider, the original on the left.
    shown = after.astype(np.float64)
    side_result = np.zeros_like(changed)
    side_original = np.zeros_like(changed)
    if target < 0.5:
        side_result[:, int(target * w) + guard :] = True
    else:
        side_original[:, : int(target * w) - guard] = True
    if side_result.any():
        err_r = np.abs(shown - result).max(axis=2)[side_result & changed].mean()
        err_o = np.abs(shown - original).max(axis=2)[side_result & changed].mean()
        assert err_r < err_o, f"right of the slider shows the original (err to result {err_r}, to original {err_o})"
    if side_original.any():
        err_r = np.abs(shown - result).max(axis=2)[side_original & changed].mean()
        err_o = np.abs(shown - original).max(axis=2)[side_original & changed].mean()
        assert err_o < err_r, f"left of the slider shows the result (err to original {err_o}, to result {err_r})"

    # The overlay toggle tints the mask, and only the mask.
    mask = fetch_preview(ed, frame["mask"], (w, h))[..., 0] / 255.0
    drag(ed, img["x"] + img["w"] * target, img["x"] + img["w"] * 0.45, y)
    plain = shot(ed, img)
    click_button(ed, comp_id, "overlay")
    assert preview_state(ed, comp_id)["overlay"] is True
    tinted = shot(ed, img)
    d = np.abs(plain.astype(int) - tinted.astype(int)).max(axis=2)
    inside, outside = mask > 0.9, mask < 0.01
    assert inside.sum() > 500, "the example's mask is empty"
    assert (d[inside] > 20).mean() > 0.9, "the overlay does not tint the masked area"
    # The tint contrasts with what it covers: on the orange suit, the complement of its mean hue.
    tint = np.array(preview_state(ed, comp_id)["tint"], dtype=np.float64)
    under = plain[inside].astype(np.float64).mean(axis=0)
    assert np.linalg.norm(tint - under) > 200, f"the tint {tint} is close to the masked area's colour {under}"
    closer = np.linalg.norm(plain[inside].astype(np.float64) - tint, axis=1) - np.linalg.norm(
        tinted[inside].astype(np.float64) - tint, axis=1
    )
    assert closer.mean() > 30, f"the overlay does not tint towards {tint} ({closer.mean():.1f})"
    assert (d[outside] > 2).mean() < 0.01, "the overlay changed pixels outside the mask"
    shot(ed, node_client_rect(ed, comp_id), doc_shot("compare_overlay.png"))
    click_button(ed, comp_id, "overlay")
    drag(ed, img["x"] + img["w"] * 0.45, img["x"] + img["w"] * 0.4, y)
    shot(ed, node_client_rect(ed, comp_id), doc_shot("compare_widget.png"))

    # The Difference node's views: the heat-map, then the mask, each a different picture.
    focus_node(ed, diff_id, width=420)
    click_button(ed, diff_id, "view:heatmap")
    st = wait_ready(ed, diff_id)
    assert st["view"] == "heatmap"
    rect = to_client(ed, diff_id, st["image"])
    heat = shot(ed, rect)
    shot(ed, node_client_rect(ed, diff_id), doc_shot("difference_heatmap.png"))
    click_button(ed, diff_id, "view:mask")
    st = wait_ready(ed, diff_id)
    shown_mask = shot(ed, rect).astype(np.float64)
    diff_mask = fetch_preview(
        ed,
        entry["outputs"][str(diff_id)]["smartmask_preview"][0]["frames"][0]["mask"],
        (shown_mask.shape[1], shown_mask.shape[0]),
    )
    assert np.abs(shown_mask - diff_mask).mean() < 6, "the mask view does not show the mask"
    assert np.abs(heat.astype(np.float64) - shown_mask).mean() > 10, "heat-map and mask views look the same"
    assert not ed.own_errors(), "\n".join(ed.own_errors())


def test_auto_workflow_shows_threshold_faces_and_heatmap(editor):
    ed = editor
    load_workflow(ed, "smart_mask_auto.json")
    auto_id = nodes_of_type(ed, "SmartMaskAuto")[0]
    entry = queue_and_wait(ed)
    check_preview_sent(entry, auto_id, {"original", "result", "mask", "heatmap", "faces"})
    st = wait_ready(ed, auto_id)
    sent_text = "\n".join(entry["outputs"][str(auto_id)]["text"])
    assert st["text"] == sent_text, (st["text"], sent_text)
    assert any("threshold" in line for line in st["lines"]) and any(
        "faces protected" in line for line in st["lines"]
    ), st["lines"]
    # and which face detector it used, and why (the detector's own message)
    assert any(
        line.startswith(("YuNet face detector", "using the offline MTCNN", "MTCNN face detector"))
        for line in st["lines"]
    ), st["lines"]
    assert st["views"] == ["compare", "heatmap", "faces", "mask"], st["views"]
    focus_node(ed, auto_id, width=420)
    st = preview_state(ed, auto_id)
    rect = to_client(ed, auto_id, st["image"])
    compare = shot(ed, rect)
    click_button(ed, auto_id, "view:faces")
    st = wait_ready(ed, auto_id)
    faces = shot(ed, rect)
    assert np.abs(faces.astype(int) - compare.astype(int)).max(axis=2).mean() > 2, "the faces view looks like compare"
    click_button(ed, auto_id, "view:heatmap")
    st = wait_ready(ed, auto_id)
    assert st["view"] == "heatmap"
    heat = shot(ed, rect)
    assert np.abs(heat.astype(int) - compare.astype(int)).max(axis=2).mean() > 10, (
        "the heat-map view looks like compare"
    )
    shot(ed, node_client_rect(ed, auto_id), doc_shot("auto_heatmap.png"))
    assert not ed.own_errors(), "\n".join(ed.own_errors())


def test_batch_frames_can_be_picked(editor):
    ed = editor
    # original = [original, edited], edited = [edited, original], mask = 1: the composite's
    # result is the edited frame, so the two frames show the pair one way round, then the other.
    comp_id = ed.js("""
        app.graph.clear();
        const add = (type, pos, values = {}) => {
            const n = LiteGraph.createNode(type);
            n.pos = pos;
            app.graph.add(n);
            for (const [k, v] of Object.entries(values)) n.widgets.find(w => w.name === k).value = v;
            return n;
        };
        const link = (a, out, b, input) => a.connect(out, b, b.findInputSlot(input));
        const o = add('LoadImage', [0, 0], {image: 'original.png'});
        const e = add('LoadImage', [0, 420], {image: 'edited.png'});
        const b1 = add('ImageBatch', [360, 0]);
        const b2 = add('ImageBatch', [360, 200]);
        const m = add('SolidMask', [360, 400], {value: 1.0, width: 512, height: 512});
        const c = add('SmartMaskComposite', [650, 0]);
        const p = add('PreviewImage', [1100, 0]);
        link(o, 0, b1, 'image1'); link(e, 0, b1, 'image2');
        link(e, 0, b2, 'image1'); link(o, 0, b2, 'image2');
        link(b1, 0, c, 'original'); link(b2, 0, c, 'edited'); link(m, 0, c, 'mask');
        link(c, 0, p, 'images');
        return c.id;""")
    entry = queue_and_wait(ed)
    payload = check_preview_sent(entry, comp_id, {"original", "result", "mask"})
    assert payload["batch"] == 2 and [f["index"] for f in payload["frames"]] == [0, 1], payload
    st = wait_ready(ed, comp_id)
    labels = [b["label"] for b in st["buttons"]]
    assert "frame 1/2" in labels, labels
    focus_node(ed, comp_id)
    st = preview_state(ed, comp_id)
    rect = to_client(ed, comp_id, st["image"])
    first = shot(ed, rect)
    click_button(ed, comp_id, "next")
    st = wait_ready(ed, comp_id)
    assert st["frame"] == 1 and "frame 2/2" in [b["label"] for b in st["buttons"]], st
    second = shot(ed, rect)
    w, h = second.shape[1], second.shape[0]
    frame = payload["frames"][1]
    # frame 2: the edited image left of the slider (its "original"), the original right of it.
    expect = np.concatenate(
        [
            fetch_preview(ed, frame["original"], (w, h))[:, : w // 2 - 12],
            fetch_preview(ed, frame["result"], (w, h))[:, w // 2 + 12 :],
        ],
        axis=1,
    )
    got = np.concatenate([second[:, : w // 2 - 12], second[:, w // 2 + 12 :]], axis=1).astype(np.float64)
    assert np.abs(got - expect).mean() < 6, "frame 2 is not what the node sent"
    assert np.abs(second.astype(int) - first.astype(int)).max(axis=2).mean() > 2, "the frame arrows change nothing"
    click_button(ed, comp_id, "next")
    assert preview_state(ed, comp_id)["frame"] == 0, "the arrows do not wrap around"
    assert not ed.own_errors(), "\n".join(ed.own_errors())


def test_no_request_left_loopback_and_no_errors_of_ours(editor):
    ed = editor
    assert not ed.own_errors(), "\n".join(ed.own_errors())
    # Blocked requests are fine (the editor probes the internet for news and templates); none of them is ours.
    # The previews were fetched, from the ComfyUI server itself.
    previews = [u for u in ed.requested if "filename=smartmask_" in u]
    assert previews, "no preview image was requested"
    outside = [
        u
        for u in previews + [u for u in ed.requested if "/extensions/smart_mask/" in u]
        if urllib.parse.urlsplit(u).hostname not in LOOPBACK_HOSTS
    ]
    assert not outside, f"the pack's front end reached beyond loopback: {outside}"


# ---------------------------------------------------------------------------------- layout
SHIPPED_WORKFLOWS = sorted(p.name for p in WORKFLOWS.glob("*.json"))
PACK_CATEGORY = "Smart Mask"
# Workflows that need model files the test machine does not have: their Smart Mask nodes are
# given the output of a real run of the auto workflow on the bundled pair instead.
NEEDS_MODELS = {"flux_kontext_smart_mask.json"}


def graph_boxes(ed: Editor) -> list[dict]:
    """Every node's bounding box in graph coordinates (title bar included), and whether it shows a preview."""
    return ed.js(f"""
        return app.graph.nodes.map(n => {{
            const b = n.getBounding();
            return {{id: n.id, type: n.type, x: b[0], y: b[1], w: b[2], h: b[3],
                    preview: !!n.widgets?.find(w => w.name === '{WIDGET}')?.smartmask?.payload}};
        }});""")


def overlap(a: dict, b: dict) -> float:
    w = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(w, 0) * max(h, 0)


def expected_picture(ed: Editor, st: dict, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """What the node's picture should show in its current view (w, h), and where to compare."""
    w, h = size
    frame = st["payload"]["frames"][st["frame"]]
    where = np.ones((h, w), bool)
    where[:22] = False  # the "original" / "result" tags
    if st["view"] == "compare":
        cut = int(st["slider"] * w)
        expect = np.concatenate(
            [fetch_preview(ed, frame["original"], size)[:, :cut], fetch_preview(ed, frame["result"], size)[:, cut:]],
            axis=1,
        )
        where[:, max(cut - 14, 0) : cut + 14] = False  # the slider's line and handle
    elif st["view"] == "faces":
        expect = fetch_preview(ed, frame["original"], size)
        where &= fetch_preview(ed, frame["faces"], size)[..., 0] < 3
    else:
        expect = fetch_preview(ed, frame[st["view"]], size)
    return expect, where


def assert_previews_in_view(ed: Editor, name: str) -> list[int]:
    """No node's box touches a preview node's box, and on screen each preview shows its picture."""
    boxes = graph_boxes(ed)
    shown = [b for b in boxes if b["preview"]]
    assert shown, f"{name}: no node shows a preview after the run"
    covered = [
        f"{b['type']} #{b['id']} overlaps {o['type']} #{o['id']} by {overlap(b, o):.0f} px²"
        for b in shown
        for o in boxes
        if o["id"] != b["id"] and overlap(b, o) > 0
    ]
    where = [f"  {b['type']} #{b['id']}: x {b['x']:.0f}, y {b['y']:.0f}, {b['w']:.0f} x {b['h']:.0f}" for b in boxes]
    assert not covered, f"{name}: after a run at the default zoom\n" + "\n".join(covered + ["boxes:"] + where)
    # The screenshot: at zoom 1, the picture on screen is the picture the node sent (a node
    # drawn over it, or a preview left out of the node, would show up here).
    for b in shown:
        st = wait_ready(ed, b["id"])
        ed.js("app.canvas.ds.scale = 1; app.canvas.centerOnNode(app.graph.getNodeById(arg)); return null;", b["id"])
        ed.settle(300)
        st = preview_state(ed, b["id"])
        rect = to_client(ed, b["id"], st["image"])
        got = shot(ed, rect).astype(np.float64)
        expect, where = expected_picture(ed, st, (got.shape[1], got.shape[0]))
        err = np.abs(got - expect).max(axis=2)[where].mean()
        assert err < 8, (
            f"{name}: {b['type']} #{b['id']} does not show its {st['view']} picture on screen (error {err:.1f})"
        )
    return [b["id"] for b in shown]


def fit_view(ed: Editor) -> None:
    """The whole graph in the window, as the editor's 'fit view' does."""
    ed.js("""
        const bs = app.graph.nodes.map(n => n.getBounding());
        const x0 = Math.min(...bs.map(b => b[0])), y0 = Math.min(...bs.map(b => b[1]));
        const x1 = Math.max(...bs.map(b => b[0] + b[2])), y1 = Math.max(...bs.map(b => b[1] + b[3]));
        app.canvas.ds.fitToBounds([x0 - 20, y0 - 20, x1 - x0 + 40, y1 - y0 + 40]);
        app.canvas.setDirty(true, true);
        return null;""")
    ed.settle(300)


_AUTO_OUTPUT: dict = {}


def run_or_feed(ed: Editor, name: str) -> dict | None:
    """Run the loaded workflow from the editor (its history entry); for one that needs model files,
    give its Smart Mask nodes the outputs of a real run of the auto workflow on the bundled pair."""
    if name not in NEEDS_MODELS:
        entry = queue_and_wait(ed)
        if name == "smart_mask_auto.json":
            auto_id = nodes_of_type(ed, "SmartMaskAuto")[0]
            _AUTO_OUTPUT["output"] = entry["outputs"][str(auto_id)]
        return entry
    if "output" not in _AUTO_OUTPUT:
        workflow = json.loads(ed.js("return JSON.stringify(app.graph.serialize());"))
        load_workflow(ed, "smart_mask_auto.json")
        run_or_feed(ed, "smart_mask_auto.json")
        ed.js("await app.loadGraphData(arg); return null;", workflow)
        ed.settle(300)
    fed = ed.js(
        """
        const nodes = app.graph.nodes.filter(n => n.type === 'SmartMaskAuto');
        for (const n of nodes) n.onExecuted(arg);
        app.canvas.setDirty(true, true);
        return nodes.length;""",
        _AUTO_OUTPUT["output"],
    )
    assert fed, f"{name} has no Smart Mask (auto) node"
    ed.settle(300)


@pytest.mark.parametrize("name", SHIPPED_WORKFLOWS)
def test_shipped_workflow_previews_are_not_covered(editor, name):
    """Each shipped workflow, loaded and run from the editor: every preview of the pack is in the
    clear (no other node overlaps it) and shows its picture on screen. Writes the workflow's
    template-browser thumbnail (example_workflows/<name>.jpg) when it is missing or
    SMARTMASK_UPDATE_SCREENSHOTS=1."""
    ed = editor
    load_workflow(ed, name)
    entry = run_or_feed(ed, name)
    shown = assert_previews_in_view(ed, name)
    if name in ("smart_mask_basic.json", "smart_mask_auto.json"):
        help_pictures(ed, entry, shown)
    # The thumbnail: the before/after picture on the main Smart Mask node, from this run.
    main = next(i for t in ("SmartMaskAuto", "SmartMaskComposite") for i in nodes_of_type(ed, t) if i in shown)
    ed.js("app.canvas.ds.scale = 1; app.canvas.centerOnNode(app.graph.getNodeById(arg)); return null;", main)
    ed.settle(300)
    thumb_path = WORKFLOWS / name.replace(".json", ".jpg")
    png = ed.page.screenshot(clip=_clip(to_client(ed, main, preview_state(ed, main)["image"])))
    target = (
        thumb_path
        if (os.environ.get("SMARTMASK_UPDATE_SCREENSHOTS") == "1" or not thumb_path.exists())
        else Path(_SCRATCH["dir"]) / thumb_path.name
    )
    Image.open(io.BytesIO(png)).convert("RGB").save(target, quality=85)
    # and the whole graph, for people to look at (pytest's temporary folder)
    fit_view(ed)
    ed.page.screenshot(path=str(Path(_SCRATCH["dir"]) / name.replace(".json", "_graph.png")))
    assert not ed.own_errors(), "\n".join(ed.own_errors())


HELP_PICTURES = REPO_ROOT / "js" / "docs" / "images"


def help_pictures(ed: Editor, entry: dict, shown: list[int]) -> None:
    """The pictures of the node help pages (js/docs/images/<NodeType>.jpg), from the basic workflow's
    run: each previewing node as it looks, and Mask Preview's output. Written when missing or when
    SMARTMASK_UPDATE_SCREENSHOTS=1 (else into pytest's temporary folder)."""

    def target(node_type: str) -> Path:
        path = HELP_PICTURES / f"{node_type}.jpg"
        if os.environ.get("SMARTMASK_UPDATE_SCREENSHOTS") == "1" or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            return path
        return Path(_SCRATCH["dir"]) / path.name

    views = {"SmartMaskDifference": "view:heatmap", "SmartMaskFaceGuard": "view:faces"}
    for node_id in shown:
        node_type = ed.js("return app.graph.getNodeById(arg).type;", node_id)
        ed.js("app.canvas.ds.scale = 1; app.canvas.centerOnNode(app.graph.getNodeById(arg)); return null;", node_id)
        ed.settle(300)
        if node_type in views:
            click_button(ed, node_id, views[node_type])
            wait_ready(ed, node_id)
        png = ed.page.screenshot(clip=_clip(node_client_rect(ed, node_id, pad=8)))
        Image.open(io.BytesIO(png)).convert("RGB").save(target(node_type), quality=80)
    previews = [nid for nid, n in entry["prompt"][2].items() if n["class_type"] == "SmartMaskPreview"]
    for nid, out in entry["outputs"].items():
        source = entry["prompt"][2][nid]["inputs"].get("images")
        if previews and source and source[0] == previews[0] and out.get("images"):
            Image.fromarray(ed.comfy.view(out["images"][0])).convert("RGB").save(target("SmartMaskPreview"), quality=80)


def _clip(r: dict) -> dict:
    return {"x": max(round(r["x"]), 0), "y": max(round(r["y"]), 0), "width": round(r["w"]), "height": round(r["h"])}


def test_every_shipped_workflow_has_a_thumbnail():
    for name in SHIPPED_WORKFLOWS:
        thumb = WORKFLOWS / name.replace(".json", ".jpg")
        assert thumb.is_file(), f"{thumb} (the template browser's picture of {name}) is missing"
        with Image.open(thumb) as im:
            assert min(im.size) >= 250, f"{thumb} is {im.size}: too small to show a preview"


# ---------------------------------------------------------------------------------- persistence
@pytest.fixture(scope="module")
def cached_comfy():
    """A second server with ComfyUI's own cache on, as users run it (the session's runs every node)."""
    server = ComfyServer(cache=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_preview_survives_reload_and_cached_rerun(playwright_driver, cached_comfy, tmp_path_factory):
    """Run, reload the page, run again (ComfyUI serves every node from its cache): the preview of
    every Smart Mask node is there after the reload and after the cached run, on a workflow
    loaded afresh too."""
    with open_editor(playwright_driver, cached_comfy, tmp_path_factory.mktemp("chromium-profile-cached")) as ed:
        load_workflow(ed, "smart_mask_auto.json")
        auto_id = nodes_of_type(ed, "SmartMaskAuto")[0]
        entry = queue_and_wait(ed)
        first = wait_ready(ed, auto_id)
        sent = entry["outputs"][str(auto_id)]["smartmask_preview"][0]
        assert first["payload"] == sent

        ed.page.reload(wait_until="load")  # the editor restores the open workflow from its storage
        wait_for_app(ed)
        assert nodes_of_type(ed, "SmartMaskAuto") == [auto_id], "the reload did not restore the workflow"
        after_reload = wait_ready(ed, auto_id)
        assert after_reload["payload"] == sent and after_reload["text"] == first["text"], (
            "the preview is gone after a reload"
        )

        cached = queue_and_wait(ed)
        status = cached.get("status", {}).get("messages", [])
        cached_nodes = next((m[1]["nodes"] for m in status if m[0] == "execution_cached"), [])
        assert str(auto_id) in cached_nodes, f"the second run was not served from the cache: {status}"
        again = wait_ready(ed, auto_id)
        assert again["payload"] == sent, "the preview changed or vanished on the cached run"

        # A fresh copy of the workflow (no stored preview) run against the cache: the server re-sends it.
        load_workflow(ed, "smart_mask_auto.json")
        assert preview_state(ed, auto_id) is None
        queue_and_wait(ed)
        fresh = wait_ready(ed, auto_id)
        assert fresh["payload"] == sent, "a cached run shows no preview on a freshly loaded workflow"
        assert not ed.own_errors(), "\n".join(ed.own_errors())


# ---------------------------------------------------------------------------------- help pages
def test_node_help_pages_are_served_with_their_pictures(comfy):
    """ComfyUI's node help panel reads WEB_DIRECTORY/docs/<NodeType>.md (after <NodeType>/<locale>.md)
    and resolves pictures against WEB_DIRECTORY/docs/: every node has a page, every input of the
    node is described on it, and every picture it shows is served."""
    import re

    info = comfy.object_info()
    for node_type in NODE_DISPLAY_NAMES:
        status, body = comfy._request("GET", f"/extensions/smart_mask/docs/{node_type}.md")
        assert status == 200, f"no help page for {node_type}: HTTP {status}"
        page = body.decode()
        spec = info[node_type]["input"]
        inputs = list(spec.get("required", {})) + list(spec.get("optional", {}))
        missing = [name for name in inputs if f"`{name}`" not in page]
        assert not missing, f"the help page of {node_type} does not describe {missing}"
        pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page)
        assert pictures, f"the help page of {node_type} shows no picture"
        for src in pictures:
            status, _ = comfy._request("GET", f"/extensions/smart_mask/docs/{src}")
            assert status == 200, f"{node_type}'s help picture {src} is not served: HTTP {status}"


def test_template_browser_lists_the_workflows_with_their_pictures(comfy):
    """The editor's template browser lists a pack's example_workflows/*.json and shows, for each,
    /api/workflow_templates/<pack>/<name>.jpg (front end 1.32.9: mediaSubtype "jpg")."""
    listed = comfy.get_json("/workflow_templates").get("smart_mask", [])
    assert sorted(listed) == sorted(n[: -len(".json")] for n in SHIPPED_WORKFLOWS), listed
    for name in listed:
        status, body = comfy._request("GET", f"/api/workflow_templates/smart_mask/{name}.jpg")
        assert status == 200 and body[:3] == b"\xff\xd8\xff", (
            f"the picture of {name} is not served as a JPEG: HTTP {status}"
        )
