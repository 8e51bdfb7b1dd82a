#!/usr/bin/env bash
# healthcheck.sh — the image's HEALTHCHECK: JupyterLab answers on its API (GET /api needs no token).
# Exits 0 when healthy, 1 otherwise. Environment: CNNLAB_LAB_PORT (default 8888).
set -euo pipefail
exec python3 - "http://127.0.0.1:${CNNLAB_LAB_PORT:-8888}/api" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        version = json.load(r)["version"]
except Exception as e:  # any failure means unhealthy
    print(f"unhealthy: {sys.argv[1]}: {e}")
    sys.exit(1)
print(f"healthy: Jupyter Server {version}")
PY
