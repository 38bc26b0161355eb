#!/usr/bin/env bash
# The demo on a fresh machine: prepares the environment (scripts/setup_env.sh: .venv with a pinned
# CPU torch, quick once done), then runs Smart Mask on the bundled example pair and prints the
# folder it wrote result.png, mask.png and side_by_side.png into. Arguments go to the demo, e.g.
#   bash scripts/demo.sh --out demo_output
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
exec "$ROOT/.venv/bin/python" -m smartmask demo "$@"
