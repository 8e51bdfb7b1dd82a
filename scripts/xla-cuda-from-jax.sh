#!/usr/bin/env bash
# Installs XLA's CUDA PJRT plugin for cnnlab (backend xla:cuda) from an existing JAX CUDA install
# (`pip install "jax[cuda13]"`, jax-cuda13-pjrt + the nvidia-* wheels) instead of downloading it:
# for GPU machines that cannot reach PyPI but already have JAX. It lays the files out exactly as
# `scripts/setup.sh --gpu` (scripts/xlainstall, after the pinned wheels) and go-xla's installer do:
#
#   $GOXLA_DIR/nvidia/pjrt_c_api_cuda_plugin.so   copy of jax_plugins/xla_cuda13/xla_cuda_plugin.so
#   $GOXLA_DIR/nvidia/<cu13, cudnn, ...>          links to site-packages/nvidia/*
#   $GOXLA_DIR/nvidia/bin/ptxas                   link to the CUDA assembler
#   $GOXLA_DIR/../libcublas.so.13, libcublasLt.so.13   links, as go-xla's installer makes them
#
# GOXLA_DIR defaults to ~/.local/lib/go-xla, one of the directories go-xla searches by default.
#
# Usage: scripts/xla-cuda-from-jax.sh [PYTHON]   (default: python3, the interpreter that has JAX)
set -euo pipefail
PY=${1:-python3}
DEST=${GOXLA_DIR:-$HOME/.local/lib/go-xla}

sp=$("$PY" - <<'EOF'
import importlib.util, os, sys
try:
    spec = importlib.util.find_spec("jax_plugins.xla_cuda13")
except ModuleNotFoundError:
    spec = None
if spec is None or not spec.submodule_search_locations:
    sys.exit("jax_plugins.xla_cuda13 is not installed: pip install 'jax[cuda13]' (jax-cuda13-pjrt) first")
print(os.path.dirname(os.path.dirname(list(spec.submodule_search_locations)[0])))
EOF
) || { echo "xla-cuda-from-jax: $PY has no JAX CUDA 13 plugin" >&2; exit 1; }

plugin="$sp/jax_plugins/xla_cuda13/xla_cuda_plugin.so"
[[ -f "$plugin" ]] || { echo "xla-cuda-from-jax: $plugin not found" >&2; exit 1; }
[[ -d "$sp/nvidia" ]] || { echo "xla-cuda-from-jax: $sp/nvidia (the nvidia-* wheels) not found" >&2; exit 1; }

nv="$DEST/nvidia"
mkdir -p "$nv/bin"
for d in "$sp"/nvidia/*; do
  name=$(basename "$d")
  [[ "$name" == bin || "$name" == __pycache__ ]] && continue
  ln -sfn "$d" "$nv/$name"
done
# A copy, not a link: the plugin finds its libraries relative to its own directory ($ORIGIN).
cp "$plugin" "$nv/.pjrt_c_api_cuda_plugin.so.tmp"
mv -f "$nv/.pjrt_c_api_cuda_plugin.so.tmp" "$nv/pjrt_c_api_cuda_plugin.so"

ptxas=""
for c in "$sp/nvidia/cu13/bin/ptxas" "$sp/nvidia/cuda_nvcc/bin/ptxas" "$(command -v ptxas || true)"; do
  if [[ -n "$c" && -x "$c" ]]; then ptxas=$c; break; fi
done
if [[ -n "$ptxas" ]]; then
  ln -sfn "$ptxas" "$nv/bin/ptxas"
else
  echo "xla-cuda-from-jax: warning: no ptxas found (XLA may fall back to the driver's compiler)" >&2
fi
libs=$(dirname "$DEST")
for lib in libcublasLt.so.13 libcublas.so.13; do
  [[ -e "$nv/cu13/lib/$lib" ]] && ln -sfn "./$(basename "$DEST")/nvidia/cu13/lib/$lib" "$libs/$lib"
done
echo "xla-cuda-from-jax: installed $nv/pjrt_c_api_cuda_plugin.so from $plugin (ptxas: ${ptxas:-none})"
