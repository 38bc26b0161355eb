"""The pack imported in-process as ComfyUI imports it: the repository root as a package, so that
its relative imports work (its modules are then ``smart_mask_pack.nodes...`` and
``smart_mask_pack.smartmask...``, a second copy of the core beside the tests' ``smartmask``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACK = "smart_mask_pack"


def load_pack():
    if PACK not in sys.modules:
        root = Path(__file__).resolve().parent.parent
        spec = importlib.util.spec_from_file_location(
            PACK, root / "__init__.py", submodule_search_locations=[str(root)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACK] = module
        spec.loader.exec_module(module)
    return sys.modules[PACK]
