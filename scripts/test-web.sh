#!/usr/bin/env bash
# test-web.sh — the browser test of the ONNX demo page (issue 6), end to end:
#   1. setup.sh --browser (Debian chromium; npm ci --ignore-scripts in web/),
#   2. npm run build (page + vendored onnxruntime-web into web/dist),
#   3. Go writes the test data: a lecture CNN trained briefly on real CIFAR-100, exported to ONNX,
#      20 test images as PNG files of several sizes and GoMLX's predictions for them,
#   4. node --test web/test/ in headless Chromium.
# Exits non-zero on any failure. Artefacts (screenshot, latency.json) go to
# $CNNLAB_WEB_ARTIFACTS (default web/test-results). Needs CIFAR-100 ($CNNLAB_DATA_DIR).
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh --browser
(cd web && npm run build)

fixtures="$(mktemp -d "${TMPDIR:-/tmp}/cnnlab-web-XXXXXX")"
trap 'rm -rf "$fixtures"' EXIT
go run ./onnxexport/internal/webgen --out "$fixtures"

export CNNLAB_WEB_FIXTURES="$fixtures"
export CNNLAB_WEB_ARTIFACTS="${CNNLAB_WEB_ARTIFACTS:-$ROOT/web/test-results}"
(cd web && node --test test/)
echo "test-web: artefacts in $CNNLAB_WEB_ARTIFACTS"
