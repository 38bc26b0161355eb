#!/usr/bin/env bash
# The demo on a fresh machine: Smart Mask on the bundled example pair, outside ComfyUI.
#
# Installs only what the demo needs into its own virtual environment, .venv-demo: a CPU build of
# torch and the pack's requirements.txt (numpy, Pillow, OpenCV, the MTCNN weights). No ComfyUI,
# no browser, no test tools: those are set up by the test command (scripts/test.sh) only.
# The first run takes about a minute and about 1 GB of disk (README, "On a fresh machine");
# later runs start at once. Then it prints the folder it wrote result.png, mask.png and
# side_by_side.png into. Arguments go to the demo, e.g.
#   bash scripts/demo.sh --out demo_output
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[demo] %s\n' "$*"; }
# pip, minus the noise of local index folders that do not exist ("Location ... is ignored").
quiet_pip() {
    "$VPY" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    return "${PIPESTATUS[0]}"
}

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv-demo"
VPY="$VENV/bin/python"
# The CPU build: on Linux x86-64 PyPI's torch is the CUDA build (about 5.5 GB with its CUDA
# libraries), so the CPU build comes from PyTorch's own index when that answers; elsewhere
# (macOS, Windows, Linux on ARM) PyPI's torch is already CPU-only.
TORCH="torch==2.13.0"
TORCH_CPU_INDEX="${SMARTMASK_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"

want_stamp="$(
    { cat "$ROOT/scripts/demo.sh" "$ROOT/requirements.txt"; "$PYTHON" -c 'import sys; print(sys.version)'; uname -sm; } \
        | sha256sum | cut -d' ' -f1
)"
STAMP="$VENV/.smartmask-demo-stamp"

if [[ -x "$VPY" && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
    log "virtual environment .venv-demo is up to date"
else
    t0=$SECONDS
    log "first run: installing torch (CPU) and requirements.txt into .venv-demo" \
        "(about a minute after the downloads, about 1.2 GB of disk)"
    [[ -x "$VPY" ]] || { log "creating .venv-demo with $("$PYTHON" --version)"; "$PYTHON" -m venv "$VENV"; }
    PIP=(quiet_pip install --disable-pip-version-check --progress-bar off -q)
    if [[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] \
        && "$VPY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/torch/', timeout=5)" \
            "$TORCH_CPU_INDEX" 2>/dev/null; then
        log "installing $TORCH, CPU build, from $TORCH_CPU_INDEX (about 190 MB)"
        "${PIP[@]}" --index-url "$TORCH_CPU_INDEX" "$TORCH"
    else
        log "installing $TORCH from the package index (a CPU build except on Linux x86-64)"
        "${PIP[@]}" "$TORCH"
    fi
    log "installing requirements.txt"
    "${PIP[@]}" -r "$ROOT/requirements.txt"
    echo "$want_stamp" >"$STAMP"
    log "ready in $((SECONDS - t0)) s; .venv-demo takes $(du -sh "$VENV" | cut -f1)"
fi

exec "$VPY" -m smartmask demo "$@"
