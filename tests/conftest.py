"""Shared pytest fixtures.

``comfy``: one real ComfyUI server for the whole session, with the Smart Mask pack installed
(see ``tests/comfy_server.py``). It starts only when a test asks for it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
# `import comfy_server` / `import workflow_api` from the tests, `import smartmask` from the root.
for path in (str(TESTS_DIR), str(REPO_ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from comfy_server import ComfyServer  # noqa: E402
from pack import prepare_comfyui_imports  # noqa: E402

prepare_comfyui_imports()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def comfy():
    server = ComfyServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
