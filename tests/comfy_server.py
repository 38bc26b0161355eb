"""A real ComfyUI server for the tests, with the Smart Mask pack installed.

``ComfyServer`` starts ComfyUI's ``main.py`` on the CPU, on a free port of 127.0.0.1, with a
temporary ``--base-directory`` (models, custom_nodes, input, output, temp and user all live
there), so a test run never writes into the checkout nor into a user's ComfyUI checkout:

* the pack (the repository root) is linked into ``<base>/custom_nodes/smart_mask``;
* the YuNet face model is copied from where ``tests/yunet_model.py`` finds it into
  ``<base>/models/facedetection/`` when it is anywhere (``yunet_model`` says whether it was);
* the server runs with ``SMARTMASK_OFFLINE=1`` so the pack never tries to download anything;
* ``--cache-none``: every prompt executes all its nodes, so tests do not depend on their order.

ComfyUI comes from ``$COMFYUI_PATH`` when set, else from ``.cache/comfyui`` (installed by
``scripts/setup_env.sh``). The Python that runs it is ``$COMFYUI_PYTHON`` when set, else the
repository's ``.venv/bin/python``, else the interpreter running the tests.

Only the standard library and numpy/Pillow are used, so this module imports anywhere.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from yunet_model import YUNET_FILE, find_yunet_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
PACK_LINK_NAME = "smart_mask"
START_TIMEOUT_S = 120.0


# The pack's nodes and the names the user sees; the server and browser tests both check these.
NODE_DISPLAY_NAMES = {
    "SmartMaskDifference": "Difference Mask (Smart Mask)",
    "SmartMaskFaceGuard": "Face Guard (Smart Mask)",
    "SmartMaskFeather": "Feather Mask (Smart Mask)",
    "SmartMaskComposite": "Composite (Smart Mask)",
    "SmartMaskPreview": "Mask Preview (Smart Mask)",
    "SmartMaskAuto": "Smart Mask (auto)",
}


class ComfyError(RuntimeError):
    """The server misbehaved; the message carries the relevant part of its log."""


class PromptRejected(ComfyError):
    """``POST /prompt`` refused the prompt at validation. ``body`` is the server's JSON answer."""

    def __init__(self, body: dict):
        self.body = body
        super().__init__("ComfyUI rejected the prompt:\n" + json.dumps(body, indent=2)[:6000])


def comfyui_dir() -> Path:
    path = os.environ.get("COMFYUI_PATH")
    return Path(path).resolve() if path else REPO_ROOT / ".cache" / "comfyui"


def server_python() -> str:
    if os.environ.get("COMFYUI_PYTHON"):
        return os.environ["COMFYUI_PYTHON"]
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _to_png_bytes(image) -> bytes:
    """PNG bytes from a path, raw PNG bytes, a PIL image or an array (uint8, or float 0..1)."""
    if isinstance(image, (str, Path)):
        return Path(image).read_bytes()
    if isinstance(image, bytes):
        return image
    if not isinstance(image, Image.Image):
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            arr = np.clip(np.round(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
        image = Image.fromarray(arr)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


class ComfyServer:
    """One ComfyUI process. Use ``start()`` / ``stop()`` or a ``with`` block."""

    def __init__(self, comfy_dir: Path | None = None, python: str | None = None, cache: bool = False):
        self.cache = cache  # False: --cache-none; True: ComfyUI's own cache, as users run it
        self.comfy_dir = Path(comfy_dir) if comfy_dir else comfyui_dir()
        self.python = python or server_python()
        self.base_dir: Path | None = None
        self.log_path: Path | None = None
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.yunet_model: Path | None = None  # where the server finds YuNet, None if absent
        self.client_id = uuid.uuid4().hex
        self._object_info: dict | None = None

    # ------------------------------------------------------------------ life cycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ComfyServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _prepare_base_dir(self) -> None:
        if not (self.comfy_dir / "main.py").is_file():
            raise ComfyError(
                f"No ComfyUI at {self.comfy_dir} (no main.py). Run `bash scripts/setup_env.sh`, "
                "or set COMFYUI_PATH to a ComfyUI checkout."
            )
        self.base_dir = Path(tempfile.mkdtemp(prefix="smartmask-comfy-"))
        for sub in ("custom_nodes", "input", "output", "temp", "user", "models/facedetection"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        # The pack, as a user installs it: a folder in custom_nodes (here a link to the checkout).
        (self.base_dir / "custom_nodes" / PACK_LINK_NAME).symlink_to(REPO_ROOT, target_is_directory=True)
        found = find_yunet_dir()
        if found is not None:
            src = found / YUNET_FILE
            self.yunet_model = self.base_dir / "models" / "facedetection" / YUNET_FILE
            shutil.copyfile(src, self.yunet_model)
        self.log_path = self.base_dir / "comfyui.log"

    def start(self) -> ComfyServer:
        self._prepare_base_dir()
        env = dict(os.environ)
        env.update(
            SMARTMASK_OFFLINE="1",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            PYTHONUNBUFFERED="1",
        )
        for attempt in range(3):  # the free port may be taken between probing and binding
            self.port = _free_port()
            cmd = [
                self.python,
                "main.py",
                "--cpu",
                "--listen",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--disable-auto-launch",
                "--disable-api-nodes",
                "--database-url",
                "sqlite:///:memory:",
                "--base-directory",
                str(self.base_dir),
            ]
            if not self.cache:
                # Every prompt runs every node: a test sees its nodes' outputs and UI messages
                # however many earlier tests queued the same nodes on this server.
                cmd.append("--cache-none")
            with open(self.log_path, "ab") as log:
                log.write(f"\n=== {' '.join(cmd)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    cmd,
                    cwd=self.comfy_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if self._wait_ready():
                break
            if "address already in use" not in self.log_text().lower() or attempt == 2:
                self.stop(keep_base_dir=True)
                raise ComfyError(
                    f"ComfyUI did not answer /system_stats within {START_TIMEOUT_S:.0f} s "
                    f"(exit code {self.proc.poll()}). Server log:\n{self.log_text()[-12000:]}"
                )
            self._kill()
        self._check_pack_imported()
        return self

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/system_stats", timeout=5) as r:
                    if r.status == 200:
                        return True
            except (TimeoutError, urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.25)
        return False

    def _check_pack_imported(self) -> None:
        """ComfyUI logs one line per custom node: "<t> seconds: <path>" or "(IMPORT FAILED)"."""
        text = self.log_text()
        link = str(self.base_dir / "custom_nodes" / PACK_LINK_NAME)
        lines = [ln for ln in text.splitlines() if "seconds" in ln and ln.rstrip().endswith(link)]
        if not lines or any("IMPORT FAILED" in ln for ln in lines):
            state = "IMPORT FAILED" if lines else "no import line for it"
            self.stop(keep_base_dir=True)
            where = text.find(f"Cannot import {link}")
            excerpt = text[max(0, where - 8000) : where + 2000] if where >= 0 else text[-12000:]
            raise ComfyError(
                f"ComfyUI could not import the Smart Mask pack ({state}); log in {self.log_path}:\n{excerpt}"
            )

    def _kill(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def stop(self, keep_base_dir: bool = False) -> None:
        self._kill()
        if self.base_dir and not keep_base_dir and not os.environ.get("SMARTMASK_KEEP_COMFY_DIR"):
            # Unlink the pack first so that rmtree can never follow it into the checkout.
            link = self.base_dir / "custom_nodes" / PACK_LINK_NAME
            if link.is_symlink():
                link.unlink()
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    # ------------------------------------------------------------------ HTTP
    def _request(
        self, method: str, path: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 60
    ) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_json(self, path: str):
        status, body = self._request("GET", path)
        if status != 200:
            raise ComfyError(f"GET {path} -> HTTP {status}: {body[:2000]!r}")
        return json.loads(body)

    def object_info(self, node_type: str | None = None) -> dict:
        """``/object_info`` (cached: nodes do not change while the server runs)."""
        if self._object_info is None:
            self._object_info = self.get_json("/object_info")
        return self._object_info[node_type] if node_type else self._object_info

    def upload_image(self, image, name: str | None = None) -> str:
        """Upload a path, PNG bytes, PIL image or array to the input folder; returns its name."""
        if name is None:
            name = Path(image).name if isinstance(image, (str, Path)) else f"upload-{uuid.uuid4().hex[:8]}.png"
        boundary = uuid.uuid4().hex
        parts = []
        for field, value in (("overwrite", "true"), ("type", "input")):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
            f"Content-Type: image/png\r\n\r\n".encode()
            + _to_png_bytes(image)
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        status, body = self._request(
            "POST",
            "/upload/image",
            b"".join(parts),
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        if status != 200:
            raise ComfyError(f"upload of {name} failed: HTTP {status}: {body[:2000]!r}")
        answer = json.loads(body)
        return f"{answer['subfolder']}/{answer['name']}" if answer.get("subfolder") else answer["name"]

    def queue(self, prompt: dict) -> str:
        """``POST /prompt``; returns the prompt id, raises ``PromptRejected`` with the error body."""
        payload = json.dumps({"prompt": prompt, "client_id": self.client_id}).encode()
        status, body = self._request("POST", "/prompt", payload, {"Content-Type": "application/json"})
        try:
            answer = json.loads(body)
        except ValueError:
            raise ComfyError(f"POST /prompt -> HTTP {status}: {body[:2000]!r}") from None
        if status != 200 or "prompt_id" not in answer:
            raise PromptRejected(answer)
        return answer["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 180) -> dict:
        """Poll ``/history/<id>`` until the prompt finished (success or error); its entry."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.get_json(f"/history/{prompt_id}").get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None:
                if entry["status"].get("status_str") in ("success", "error"):
                    return entry
            if self.proc.poll() is not None:
                raise ComfyError(f"ComfyUI exited (code {self.proc.returncode}). Log:\n{self.log_text()[-12000:]}")
            time.sleep(0.2)
        raise ComfyError(
            f"prompt {prompt_id} did not finish within {timeout:.0f} s; queue: "
            f"{self.get_json('/queue')}\nServer log:\n{self.log_text()[-8000:]}"
        )

    def run(self, prompt: dict, timeout: float = 180) -> dict:
        """Queue a prompt and wait for its history entry."""
        return self.wait(self.queue(prompt), timeout)

    @staticmethod
    def status(entry: dict) -> str:
        return entry.get("status", {}).get("status_str", "?")

    @staticmethod
    def execution_error(entry: dict) -> dict | None:
        """The ``execution_error`` event of a failed prompt (node_id, node_type, exception_type,
        exception_message, traceback), or None."""
        for event, data in entry.get("status", {}).get("messages", []):
            if event == "execution_error":
                return data
        return None

    @classmethod
    def error_message(cls, entry: dict) -> str | None:
        """The exception message of a failed prompt, or None."""
        error = cls.execution_error(entry)
        return None if error is None else str(error.get("exception_message", ""))

    def view(self, ref: dict) -> np.ndarray:
        """One image (``{"filename", "subfolder", "type"}``) read through ``/view``, as uint8 HxWxC."""
        query = urllib.parse.urlencode(
            {"filename": ref["filename"], "subfolder": ref.get("subfolder", ""), "type": ref.get("type", "output")}
        )
        status, body = self._request("GET", "/view?" + query)
        if status != 200:
            raise ComfyError(f"/view {query} -> HTTP {status}")
        return np.array(Image.open(io.BytesIO(body)))

    def output_images(self, entry: dict, node_id: str | None = None) -> list[np.ndarray]:
        """Every image an output node reported (all nodes, or only ``node_id``), as uint8 arrays."""
        outputs = entry.get("outputs", {})
        ids = [str(node_id)] if node_id is not None else list(outputs)
        return [self.view(ref) for nid in ids for ref in outputs.get(nid, {}).get("images", [])]
