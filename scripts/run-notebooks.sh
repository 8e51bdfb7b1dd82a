#!/usr/bin/env bash
# run-notebooks.sh — executes cnnlab's GoNB notebooks headlessly (or checks the committed ones).
#
# Usage: scripts/run-notebooks.sh [run|check] [--write] [--timeout S] [NOTEBOOK.ipynb ...]
#   run (default)  execute each notebook top to bottom in a fresh GoNB kernel; prints "N passed, N failed".
#   check          check the committed notebooks: executed in order, no errors, clean metadata.
#   --write        save the executed outputs into the notebooks (for committing a full run).
# Environment: CNNLAB_QUICK=1 makes notebooks use CI-sized settings; CNNLAB_DATA_DIR as everywhere.
# Needs `scripts/setup.sh --notebooks` (run here if the venv is missing).
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CNNLAB_HOME="${CNNLAB_HOME:-$HOME/.local/share/cnnlab}"
VENV="$CNNLAB_HOME/venv"
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$VENV/share/jupyter/kernels/gonb/kernel.json" ]; then
  bash "$ROOT/scripts/setup.sh" --notebooks
fi
export CNNLAB_ROOT="$ROOT"
export JUPYTER_DATA_DIR="$VENV/share/jupyter"
GOBIN_DIR="$(GOTOOLCHAIN=local go env GOPATH)/bin"
export PATH="$VENV/bin:$GOBIN_DIR:$PATH"
mode=run
if [ "${1:-}" = run ] || [ "${1:-}" = check ]; then mode="$1"; shift; fi
exec "$VENV/bin/python" "$ROOT/scripts/notebooks.py" "$mode" "$@"
