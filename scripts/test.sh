#!/usr/bin/env bash
# The test command: prepares the environment (scripts/setup_env.sh, quick once done), then
# runs pytest in .venv from the repository root. Arguments go to pytest, e.g.
#   bash scripts/test.sh -q -k comfyui
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
exec "$ROOT/.venv/bin/python" -m pytest "$@"
