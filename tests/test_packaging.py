"""How the repository behaves when it is not imported the way ComfyUI imports it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from comfy_server import comfyui_dir
from yunet_model import REPO_ROOT


def test_repository_init_imports_as_a_lone_module():
    """pytest 8 and later import the repository's __init__.py as a lone module (no package) when
    the clone's folder name is not a module name, as with the README's `comfyui-smart-mask`: that
    import must succeed (registering no nodes), or every test stops at collection."""
    spec = importlib.util.spec_from_file_location("__init__", REPO_ROOT / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.NODE_CLASS_MAPPINGS == {} and module.WEB_DIRECTORY == "./js"


def test_repository_imports_as_a_package_with_its_nodes(tmp_path):
    """As ComfyUI imports it (a package named after its folder), it registers the six nodes."""
    (tmp_path / "smart_mask_pack").symlink_to(REPO_ROOT, target_is_directory=True)
    code = (
        "import smart_mask_pack as p; print(sorted(p.NODE_CLASS_MAPPINGS)); "
        "assert len(p.NODE_CLASS_MAPPINGS) == 6, p.NODE_CLASS_MAPPINGS"
    )
    # ComfyUI's folder on the path, as inside ComfyUI (node definitions may import its comfy_api)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(comfyui_dir()), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
