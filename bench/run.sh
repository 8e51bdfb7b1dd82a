#!/usr/bin/env bash
# One command for the whole benchmark (issue 8): creates the peers' venv (scripts/requirements-bench.txt),
# builds cnnlab, runs cnnlab bench (GoMLX: xla:cpu, go) and the PyTorch / JAX / ONNX Runtime peers on the
# same models, batches, float32 and thread count, interleaved model by model, then writes
# bench/results/<stamp>.json + .csv and the table of docs/benchmarks.md.
#
#   bash bench/run.sh                 # everything (about 15-25 minutes on 2 cores)
#   BENCH_QUICK=1 bash bench/run.sh   # 1 repetition, batch 128 only, no go backend (a smoke run)
#
# Environment: CNNLAB_BENCH_VENV (default ~/.cache/cnnlab/bench-venv), BENCH_MODELS (cnn3,cnn100,mlp),
# BENCH_BATCHES (32,128,512), BENCH_REPS (5), BENCH_GO_BACKEND (1: also the pure-Go backend),
# BENCH_ROUNDS (1: repeat everything, median over rounds), BENCH_TORCH_MODES (eager,compile),
# BENCH_TAG (names the generated block of docs/benchmarks.md), BENCH_THREADS (default: all cores), PYTHON (python3 ≥ 3.11 to create the venv), CNNLAB_BIN
# (a built cnnlab to use), GOEXPERIMENT (set to simd by default, as the Makefile should).
# Not part of CI (too slow); machines are noisy: compare figures of the same run only.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
export GOEXPERIMENT=${GOEXPERIMENT-simd} # GoMLX's pure-Go backend: 8× faster matrix products.
VENV=${CNNLAB_BENCH_VENV:-$HOME/.cache/cnnlab/bench-venv}
MODELS=${BENCH_MODELS:-cnn3,cnn100,mlp}
BATCHES=${BENCH_BATCHES:-32,128,512}
REPS=${BENCH_REPS:-5}
GO_BACKEND=${BENCH_GO_BACKEND:-1}
THREADS=${BENCH_THREADS:-$(nproc)}
ROUNDS=${BENCH_ROUNDS:-1}
TORCH_MODES=${BENCH_TORCH_MODES:-eager,compile}
if [[ -n "${BENCH_QUICK:-}" ]]; then BATCHES=128; REPS=1; GO_BACKEND=0; fi
REQ=scripts/requirements-bench.txt

# 1. The peers' venv, fully pinned (torch from PyPI pulls its CUDA libraries: ~5 GB, once).
if [[ ! -x "$VENV/bin/python" ]] || ! cmp -s "$REQ" "$VENV/.requirements-bench.txt"; then
  echo "== creating $VENV from $REQ"
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$REQ"
  cp "$REQ" "$VENV/.requirements-bench.txt"
fi
PY="$VENV/bin/python"

# 2. cnnlab (CNNLAB_BIN: use that binary instead of building one).
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [[ -n "${CNNLAB_BIN:-}" ]]; then cp "$CNNLAB_BIN" "$WORK/cnnlab"; else go build -o "$WORK/cnnlab" ./cmd/cnnlab; fi
HELP=$("$WORK/cnnlab" help 2>&1 || true)
if ! grep -q '^  bench ' <<<"$HELP"; then
  echo "cnnlab has no bench command: add \"bench\": {..., runBench} to commands() in cmd/cnnlab/main.go" >&2
  exit 1
fi

STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
LOAD_BEFORE=$(uptime | sed 's/.*load average: //')
echo "== $STAMP, load average before: $LOAD_BEFORE, $THREADS threads"
export OMP_NUM_THREADS=$THREADS GOMAXPROCS=$THREADS
# Every framework with the memory cnnlab gives itself (backend.HugePagesTunable): glibc malloc on
# transparent huge pages. CNNLAB_HUGEPAGES=0 measures all of them without.
if [[ "${CNNLAB_HUGEPAGES:-1}" != 0 ]]; then export GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1; fi
RAW="$WORK/raw"; mkdir -p "$RAW"
# 3. Model by model, each framework in turn (so that a load change hits all of them alike).
# BENCH_ROUNDS > 1 repeats the whole sequence; the report takes the median over the rounds.
IFS=, read -ra MODEL_LIST <<<"$MODELS"
for round in $(seq 1 "$ROUNDS"); do
for m in "${MODEL_LIST[@]}"; do
  echo "== $m (round $round of $ROUNDS)"
  "$WORK/cnnlab" bench --backends xla:cpu --models "$m" --batches "$BATCHES" --reps "$REPS" \
    --onnx-dir "$RAW/onnx" --out "$RAW/go-xla-$m-$round.json"
  (cd bench/peers && "$PY" torch_bench.py --models "$m" --batches "$BATCHES" --reps "$REPS" --threads "$THREADS" --modes "$TORCH_MODES" --out "$RAW/torch-$m-$round.json")
  (cd bench/peers && "$PY" jax_bench.py --models "$m" --batches "$BATCHES" --reps "$REPS" --threads "$THREADS" --out "$RAW/jax-$m-$round.json")
  LAST_BATCH=${BATCHES##*,}
  (cd bench/peers && "$PY" ort_bench.py --onnx-dir "$RAW/onnx" --models "$m" --batch "$LAST_BATCH" --reps "$REPS" --threads "$THREADS" --out "$RAW/ort-$m-$round.json")
done
done
if [[ "$GO_BACKEND" == 1 ]]; then
  echo "== pure-Go backend"
  "$WORK/cnnlab" bench --backends go --models "$MODELS" --batches "$BATCHES" --reps "$REPS" --out "$RAW/go-go.json"
fi
LOAD_AFTER=$(uptime | sed 's/.*load average: //')
# 4. Results and the table.
"$PY" bench/report.py "$STAMP" "$LOAD_BEFORE" "$LOAD_AFTER" "$RAW"/go-*.json -- "$RAW"/torch-*.json "$RAW"/jax-*.json "$RAW"/ort-*.json
