"""The pack imported in-process as ComfyUI imports it: the repository root as a package, so that
its relative imports work (its modules are then ``smart_mask_pack.nodes...`` and
``smart_mask_pack.smartmask...``, a second copy of the core beside the tests' ``smartmask``).

The node classes are defined on ComfyUI's V3 schema (``comfy_api.v0_0_2``), so ComfyUI's folder
goes on the path (at its end: the repository's own modules come first). ComfyUI's model management
stays unimportable, as outside a server: importing it picks a CUDA device (and fails on a machine
without a GPU driver), which only a configured server may do; the nodes then run on the CPU, as
their ComfyUI services (nodes/_comfy.py) do outside ComfyUI. ComfyUI's temp folder (where the
nodes save their previews) is pointed at a folder of the test run's own, so in-process tests never
write into the ComfyUI install. The server tests run the nodes inside ComfyUI."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

from comfy_server import comfyui_dir

PACK = "smart_mask_pack"


_prepared = False


def prepare_comfyui_imports() -> None:
    """ComfyUI's folder on the path, its model management kept out, its temp folder the test run's
    own (see the module docstring). conftest.py calls this first: when the checkout's folder name is
    a module name, pytest imports the repository's ``__init__.py`` as a package, nodes included."""
    global _prepared
    if _prepared:
        return
    if str(comfyui_dir()) not in sys.path:
        sys.path.append(str(comfyui_dir()))
    sys.modules.setdefault("comfy.model_management", None)  # None: importing it raises ImportError
    import folder_paths

    folder_paths.set_temp_directory(tempfile.mkdtemp(prefix="smartmask-test-previews-"))
    _prepared = True


def load_pack():
    if PACK not in sys.modules:
        prepare_comfyui_imports()
        root = Path(__file__).resolve().parent.parent
        spec = importlib.util.spec_from_file_location(
            PACK, root / "__init__.py", submodule_search_locations=[str(root)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACK] = module
        spec.loader.exec_module(module)
    return sys.modules[PACK]
