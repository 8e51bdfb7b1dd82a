#!/usr/bin/env bash
# test-lab-widgets.sh — the interactive (widget) path of the notebooks in JupyterLab, in headless
# Chromium: builds a scratch notebook from notebook 02's set-up cells and its convolution-arithmetic
# explorer (and of notebooks 05 and 03: the upload cell, the live training curves), starts JupyterLab
# with the GoNB kernel on them (no token, localhost, a free port), and runs web/lab-test/*.test.mjs:
# moves a slider and checks that the output changes, uploads an image file and checks its top-5,
# and checks that the training curves are drawn while the model trains.
# Needs `scripts/setup.sh --notebooks --browser`. Screenshots go to $CNNLAB_LAB_ARTIFACTS
# (default out/lab-test). Exits non-zero on any failure.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CNNLAB_HOME="${CNNLAB_HOME:-$HOME/.local/share/cnnlab}"
VENV="$CNNLAB_HOME/venv"
if [ ! -x "$VENV/bin/jupyter" ] || [ ! -d web/node_modules/playwright-core ]; then
  bash scripts/setup.sh --notebooks --browser
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/cnnlab-lab-XXXXXX")"
lab_pid=""
cleanup() {
  if [ -n "$lab_pid" ]; then kill "$lab_pid" 2>/dev/null || true; wait "$lab_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# The scratch notebooks, each a notebook's set-up cells (the `go mod edit` cell and its definitions)
# and one cell: notebook 02's explorer (widgets.ipynb), notebook 05's upload cell (upload.ipynb) and
# notebook 03's first training cell with live curves (live.ipynb).
"$VENV/bin/python" - "$ROOT/notebooks" "$work" <<'PY'
import os
import sys
import nbformat
def scratch(source, marker, target):
    src = nbformat.read(os.path.join(sys.argv[1], source), as_version=4)
    code = [c for c in src.cells if c.cell_type == "code"]
    cells = [c for c in code if marker in c.source]
    if len(code) < 2 or not cells:
        sys.exit(f"{source}: set-up cells or the cell with {marker} not found")
    nb = nbformat.v4.new_notebook(metadata=src.metadata)
    nb.cells = [nbformat.v4.new_code_cell(c.source) for c in (code[0], code[1], cells[0])]
    nbformat.write(nb, os.path.join(sys.argv[2], target))
scratch("02_convolution.ipynb", "notebook.Interact(", "widgets.ipynb")
scratch("05_onnx.ipynb", "notebook.InteractUpload(", "upload.ipynb")
scratch("03_cnn_three_classes.ipynb", "notebook.RunLive(", "live.ipynb")
PY
port="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export CNNLAB_ROOT="$ROOT" JUPYTER_DATA_DIR="$VENV/share/jupyter"
GOBIN_DIR="$(GOTOOLCHAIN=local go env GOPATH)/bin"
export PATH="$VENV/bin:$GOBIN_DIR:$PATH"
unset CNNLAB_HEADLESS
# CI-sized trainings in a scratch output directory: the live-curves cell must train, not reload.
export CNNLAB_QUICK=1 CNNLAB_NOTEBOOK_OUT="$work/out"
root_flag=()
if [ "$(id -u)" = 0 ]; then root_flag=(--allow-root); fi  # CI containers run as root
"$VENV/bin/jupyter" lab "${root_flag[@]}" --no-browser --ip=127.0.0.1 --port="$port" --notebook-dir="$work" \
  --ServerApp.token='' --ServerApp.password='' --LabApp.expose_app_in_browser=True \
  > "$work/lab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/api/status" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$lab_pid" 2>/dev/null; then cat "$work/lab.log" >&2; echo "test-lab-widgets: JupyterLab did not start" >&2; exit 1; fi
  sleep 1
done
export CNNLAB_LAB_URL="http://127.0.0.1:$port"
export CNNLAB_LAB_ARTIFACTS="${CNNLAB_LAB_ARTIFACTS:-$ROOT/out/lab-test}"
if ! (cd web && node --test --test-concurrency=1 lab-test/); then
  tail -40 "$work/lab.log" >&2
  exit 1
fi
echo "test-lab-widgets: passed; screenshots in $CNNLAB_LAB_ARTIFACTS"
