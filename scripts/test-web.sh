#!/usr/bin/env bash
# test-web.sh — the browser test of the demo page (issues 6 and 17), end to end:
#   1. setup.sh --browser (Debian chromium; npm ci --ignore-scripts in web/),
#   2. npm run build (page + vendored onnxruntime-web + CIFAR-100 sample images into web/dist),
#   3. Go writes the test data: a lecture CNN trained briefly on real CIFAR-100, exported to ONNX,
#      20 test images as PNG files of several sizes and GoMLX's predictions for them, parity images
#      (EXIF-rotated JPEG, PNG with alpha), a 3000×3000 JPEG and a 100-output model,
#   4. `cnnlab predict --json` on the parity images (the page must agree with it),
#   5. node --test web/test/ in headless Chromium, against `cnnlab serve`.
# Exits non-zero on any failure. Artefacts (screenshots, latency.json, axe reports) go to
# $CNNLAB_WEB_ARTIFACTS (default out/web-test). Needs CIFAR-100 in $CNNLAB_DATA_DIR.
# CNNLAB_WEB_SKIP_SETUP=1 skips step 1 (browser and npm packages already installed).
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The data set directory, defaulting as Go's datasets.DefaultDir does.
export CNNLAB_DATA_DIR="${CNNLAB_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cnnlab}"

if [[ "${CNNLAB_WEB_SKIP_SETUP:-0}" != 1 ]]; then
  bash scripts/setup.sh --browser
fi
(cd web && npm run build)

fixtures="$(mktemp -d "${TMPDIR:-/tmp}/cnnlab-web-XXXXXX")"
trap 'rm -rf "$fixtures"' EXIT
go build -o "$fixtures/cnnlab" ./cmd/cnnlab
# CNNLAB_WEB_MODEL100: a trained 100-class model directory (e.g. out/cifar100-1h/model) for the page's
# 100-class checks, instead of the untrained 100-output lecture CNN.
go run ./onnxexport/internal/webgen --out "$fixtures" ${CNNLAB_WEB_MODEL100:+--model100 "$CNNLAB_WEB_MODEL100"}
"$fixtures/cnnlab" predict --json --model-dir "$fixtures/saved" "$fixtures"/parity/* > "$fixtures/predict.json"

export CNNLAB_WEB_FIXTURES="$fixtures" CNNLAB_BIN="$fixtures/cnnlab"
export CNNLAB_WEB_ARTIFACTS="${CNNLAB_WEB_ARTIFACTS:-$ROOT/out/web-test}"
(cd web && node --test --test-concurrency=1 test/)
echo "test-web: artefacts in $CNNLAB_WEB_ARTIFACTS"
