"""Where the tests find the YuNet face model, without ever downloading it.

A user's clone has no ``../shared``; the model may be in any of these folders, first match wins:

1. ``../shared/models`` beside the repository (the team's machines and CI);
2. ``$COMFYUI_PATH/models/facedetection`` (a user's own ComfyUI, where the nodes look too);
3. the user cache ``${XDG_CACHE_HOME:-~/.cache}/smart-mask/models``, where the command line
   looks and where ``scripts/setup_env.sh`` fetches it once when the machine is online.

A file is used only when its sha256 is the published one. When no folder holds it, the tests
that are about YuNet itself skip with ``MISSING_REASON``, and the other face tests run on the
offline MTCNN detector that ``requirements.txt`` installs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"


def candidate_dirs() -> list[Path]:
    dirs = [REPO_ROOT.parent / "shared" / "models"]
    if os.environ.get("COMFYUI_PATH"):
        dirs.append(Path(os.environ["COMFYUI_PATH"]) / "models" / "facedetection")
    dirs.append(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smart-mask" / "models")
    return dirs


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_yunet_dir() -> Path | None:
    """The first candidate folder holding the YuNet model with the right sha256, else None."""
    for d in candidate_dirs():
        p = d / YUNET_FILE
        if p.is_file() and _sha256(p) == YUNET_SHA256:
            return d
    return None


MISSING_REASON = (
    f"the YuNet model ({YUNET_FILE}) is in none of "
    + ", ".join(str(d) for d in candidate_dirs())
    + "; `bash scripts/setup_env.sh` fetches it into the last one when online "
    "(the tests never download)"
)
