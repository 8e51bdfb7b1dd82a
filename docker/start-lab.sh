#!/usr/bin/env bash
# start-lab.sh — the image's command: JupyterLab from the project's venv, with the GoNB kernel that
# scripts/setup.sh --notebooks registered there, on the notebooks/ directory (as `make lab`, but
# listening on all interfaces so that `docker run -p 8888:8888` reaches it).
#
# Environment: JUPYTER_TOKEN      the login token (default: a random one, printed in the log)
#              CNNLAB_LAB_IP      address to listen on (default 0.0.0.0)
#              CNNLAB_LAB_PORT    port (default 8888; the HEALTHCHECK probes the same variable)
#              CNNLAB_NOTEBOOKS   directory JupyterLab opens (default notebooks/ of the repository)
# Extra arguments go to `jupyter lab`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CNNLAB_HOME="${CNNLAB_HOME:-$HOME/.local/share/cnnlab}"
VENV="$CNNLAB_HOME/venv"
if [ ! -x "$VENV/bin/jupyter" ] || [ ! -f "$VENV/share/jupyter/kernels/gonb/kernel.json" ]; then
  echo "start-lab.sh: no Jupyter with the GoNB kernel in $VENV (run scripts/setup.sh --notebooks)" >&2
  exit 1
fi
extra=()
# The image runs as its notebook user; root (CI's check, or `docker run --user 0`) must say so.
if [ "$(id -u)" = 0 ]; then extra+=(--allow-root); fi
export CNNLAB_ROOT="$ROOT"
export JUPYTER_DATA_DIR="$VENV/share/jupyter"
export PATH="$VENV/bin:$PATH"
exec "$VENV/bin/jupyter" lab --no-browser \
  --ip="${CNNLAB_LAB_IP:-0.0.0.0}" --port="${CNNLAB_LAB_PORT:-8888}" --ServerApp.port_retries=0 \
  --ServerApp.root_dir="${CNNLAB_NOTEBOOKS:-$ROOT/notebooks}" "${extra[@]}" "$@"
