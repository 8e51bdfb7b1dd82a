#!/usr/bin/env bash
# docker-ci-check.sh — does here what docker/Dockerfile does, without a Docker engine: in a fresh HOME
# and a clean environment it installs Go with docker/install-go.sh, runs scripts/setup.sh --notebooks
# (the same script and user-level paths as the image), checks what it installed, runs it again
# (nothing may be installed twice), executes one notebook with the GoNB kernel installed in that HOME,
# and starts JupyterLab with docker/start-lab.sh and probes it with docker/healthcheck.sh.
# Ends with "docker-check: N passed, N failed"; exits non-zero on any failure. Cleans up after itself.
#
# Usage: scripts/docker-ci-check.sh [--fresh-caches] [--keep] [NOTEBOOK.ipynb]
#   NOTEBOOK        the notebook to execute (default: the first of notebooks/*.ipynb, as in the image)
#   --fresh-caches  share nothing with this machine's caches (as slow as the image build)
#   --keep          keep the temporary HOME and print where it is
#
# Shared by default, to stay within CI time: the Go module cache (GOMODCACHE: every module is checked
# against go.sum, and `go mod download` still runs), the Go build cache (GOCACHE: only compiled
# objects keyed by their inputs), pip's HTTP cache (PIP_CACHE_DIR: downloads, still checked against
# the index), and the toolchain archive in the module cache (install-go.sh checks its sha256). These
# are caches of downloads and compilations, never of installed state: every install step of setup.sh
# (tools into $HOME/go/bin, the plugin into $HOME/.local/lib/go-xla, the venv and the kernel under
# $HOME/.local/share/cnnlab) still has to run, and a step missing from it fails here as in the image.
#
# Environment: CNNLAB_DATA_DIR          passed on (the image's /data): the notebook's data set
#              CNNLAB_DOCKER_CHECK_DIR  where the fresh HOME is made (default /var/tmp; not under /tmp)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GO_TOOLCHAIN=go1.27.3
share_caches=1 keep=0 notebook=""
for arg in "$@"; do
  case "$arg" in
    --fresh-caches) share_caches=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "docker-ci-check.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) [ -z "$notebook" ] || { echo "docker-ci-check.sh: one notebook only" >&2; exit 2; }
       notebook="$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")" ;;
  esac
done
if [ -z "$notebook" ]; then
  shopt -s nullglob
  notebooks=("$ROOT"/notebooks/*.ipynb)
  shopt -u nullglob
  [ "${#notebooks[@]}" -gt 0 ] || { echo "docker-ci-check.sh: no notebooks/*.ipynb and no NOTEBOOK given" >&2; exit 2; }
  notebook="${notebooks[0]}"
fi
[ -f "$notebook" ] || { echo "docker-ci-check.sh: no notebook $notebook" >&2; exit 2; }

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "docker-check: PASS $1"; }
fail() { failed=$((failed + 1)); echo "docker-check: FAIL $1" >&2; }
summary() { echo "docker-check: $passed passed, $failed failed"; }

# Not under /tmp: `gonb --install` copies itself into the kernel directory when its path starts with
# /tmp/ (or $TMPDIR), which the image (HOME=/home/student) never does.
base_dir="${CNNLAB_DOCKER_CHECK_DIR:-/var/tmp}"
case "$base_dir/" in /tmp/*|"${TMPDIR:-/tmp}"/*)
  echo "docker-ci-check.sh: CNNLAB_DOCKER_CHECK_DIR must not be under /tmp or \$TMPDIR" >&2; exit 2 ;;
esac
mkdir -p "$base_dir"
tmp="$(mktemp -d "$base_dir/cnnlab-docker-check.XXXXXX")"
lab_pid=""
stop_lab() { # stops the JupyterLab this script started (by its PID): TERM, then KILL after 15 s
  [ -n "$lab_pid" ] || return 0
  kill "$lab_pid" 2>/dev/null || true
  for _ in $(seq 1 15); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 1; done
  kill -KILL "$lab_pid" 2>/dev/null || true
  wait "$lab_pid" 2>/dev/null || true
  lab_pid=""
}
cleanup() {
  stop_lab
  if [ "$keep" = 1 ]; then
    echo "docker-check: kept $tmp"
  else
    chmod -R u+w "$tmp" 2>/dev/null || true # the Go module cache is read-only
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

home="$tmp/home" goroot="$tmp/go"
mkdir -p "$home"

# Caches of this machine, found with the outer go (if any) and pip.
outer_modcache="" outer_gocache="" outer_pipcache=""
if command -v go >/dev/null; then
  outer_modcache="$(GOTOOLCHAIN=local go env GOMODCACHE)"
  outer_gocache="$(GOTOOLCHAIN=local go env GOCACHE)"
fi
outer_pipcache="$(python3 -m pip cache dir 2>/dev/null || true)"

# The image's environment: nothing of this shell's Go, CNNLAB_* or Jupyter settings, only the machine's
# settings for reaching the registries and the data set's location (the image's /data volume).
path_clean=""
IFS=: read -r -a path_entries <<< "$PATH"
for dir in "${path_entries[@]}"; do
  [ -n "$dir" ] || continue
  # Drop every directory with a Go toolchain or Go tools: the fresh HOME must bring its own.
  for tool in go gofmt gonb goimports gotestsum; do
    [ -x "$dir/$tool" ] && continue 2
  done
  path_clean="${path_clean:+$path_clean:}$dir"
done
fresh_env=(env -i
  HOME="$home" USER="${USER:-student}" LANG="${LANG:-C.UTF-8}" TERM="${TERM:-dumb}"
  PATH="$home/go/bin:$goroot/bin:$path_clean"
  GOTOOLCHAIN="$GO_TOOLCHAIN" CNNLAB_QUICK=1)
for var in CNNLAB_DATA_DIR CNNLAB_REQUIRE_DATA CI PYENV_ROOT PYENV_VERSION \
           PIP_CERT PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_DEFAULT_TIMEOUT \
           PIP_DISABLE_PIP_VERSION_CHECK GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOINSECURE \
           SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE \
           HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
  if [ -n "${!var:-}" ]; then fresh_env+=("$var=${!var}"); fi
done
toolchain_zip=""
if [ "$share_caches" = 1 ]; then
  [ -n "$outer_modcache" ] && fresh_env+=("GOMODCACHE=$outer_modcache")
  [ -n "$outer_gocache" ] && fresh_env+=("GOCACHE=$outer_gocache")
  [ -n "$outer_pipcache" ] && fresh_env+=("PIP_CACHE_DIR=$outer_pipcache")
  zip="$outer_modcache/cache/download/golang.org/toolchain/@v/v0.0.1-$GO_TOOLCHAIN.linux-amd64.zip"
  [ -n "$outer_modcache" ] && [ -f "$zip" ] && toolchain_zip="$zip"
fi
in_fresh() { (cd "$ROOT" && exec "${fresh_env[@]}" "$@"); }
echo "docker-check: fresh HOME $home (caches shared: $([ "$share_caches" = 1 ] && echo "modules, build, pip" || echo none))"

# 1. Go, as the image's base stage installs it.
t0=$(date +%s)
if in_fresh GO_TOOLCHAIN_ZIP="$toolchain_zip" bash docker/install-go.sh "$goroot" &&
   [ "$(in_fresh go env GOVERSION GOROOT | paste -sd' ')" = "$GO_TOOLCHAIN $goroot" ]; then
  pass "docker/install-go.sh installed $GO_TOOLCHAIN as GOROOT ($(( $(date +%s) - t0 ))s)"
else
  fail "docker/install-go.sh"; summary; exit 1
fi

# 2. The setup script, as the image's build stage runs it.
t0=$(date +%s)
if in_fresh bash scripts/setup.sh --notebooks; then
  pass "scripts/setup.sh --notebooks in a fresh HOME ($(( $(date +%s) - t0 ))s)"
else
  fail "scripts/setup.sh --notebooks in a fresh HOME"; summary; exit 1
fi

# 3. What it must have installed, at the image's paths.
venv="$home/.local/share/cnnlab/venv"
missing=()
for f in "$home/go/bin/gonb" "$home/go/bin/goimports" "$home/go/bin/gotestsum" \
         "$home/.local/lib/go-xla/pjrt_c_api_cpu_plugin.so" "$venv/bin/jupyter" \
         "$venv/share/jupyter/kernels/gonb/kernel.json"; do
  [ -e "$f" ] || missing+=("${f#"$home"/}")
done
if [ "${#missing[@]}" -eq 0 ]; then
  pass "tools, XLA CPU plugin, venv and kernel spec are under the fresh HOME"
else
  fail "missing under the fresh HOME: ${missing[*]}"
fi
kernels="$(in_fresh env JUPYTER_DATA_DIR="$venv/share/jupyter" "$venv/bin/jupyter" kernelspec list 2>&1 || true)"
echo "$kernels"
if grep -Eq "^ *gonb +$venv/share/jupyter/kernels/gonb\$" <<< "$kernels" &&
   grep -q "\"$home/go/bin/gonb\"" "$venv/share/jupyter/kernels/gonb/kernel.json"; then
  pass "jupyter kernelspec list shows the GoNB kernel, which runs $home/go/bin/gonb"
else
  fail "GoNB kernel not registered in $venv/share/jupyter as expected"
fi

# 4. Idempotence: a second run installs nothing.
second="$(in_fresh bash scripts/setup.sh --notebooks 2>&1)" || true
echo "$second" | tail -n 1
if grep -q "installed: 0," <<< "$second"; then
  pass "a second scripts/setup.sh run installs nothing"
else
  fail "a second scripts/setup.sh run installed again or failed: $(grep -E '^setup(: installed|\.sh: error)' <<< "$second" | tr '\n' ' ')"
fi

# 5. One notebook with the kernel installed in the fresh HOME (the image's build-time smoke test).
t0=$(date +%s)
if in_fresh bash scripts/run-notebooks.sh run "$notebook"; then
  pass "notebook $(basename "$notebook") ran with the fresh HOME's GoNB kernel ($(( $(date +%s) - t0 ))s)"
else
  fail "notebook $(basename "$notebook") with the fresh HOME's GoNB kernel"
fi

# 6. The image's command and HEALTHCHECK: JupyterLab on loopback only, probed, then stopped.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
# Not through in_fresh (a function, so a subshell of its own): $! must be JupyterLab itself.
(cd "$ROOT" && exec "${fresh_env[@]}" CNNLAB_LAB_IP=127.0.0.1 CNNLAB_LAB_PORT="$port" JUPYTER_TOKEN="$token" \
  CNNLAB_NOTEBOOKS="$(dirname "$notebook")" bash docker/start-lab.sh) > "$tmp/lab.log" 2>&1 &
lab_pid=$!
healthy=0
for _ in $(seq 1 60); do
  if in_fresh CNNLAB_LAB_PORT="$port" bash docker/healthcheck.sh > "$tmp/health.log" 2>&1; then healthy=1; break; fi
  kill -0 "$lab_pid" 2>/dev/null || break
  sleep 1
done
cat "$tmp/health.log"
if [ "$healthy" = 1 ] &&
   python3 - "http://127.0.0.1:$port/api/kernelspecs?token=$token" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    specs = json.load(r)["kernelspecs"]
sys.exit(0 if "gonb" in specs else 1)
PY
then
  pass "docker/start-lab.sh serves JupyterLab with the gonb kernel; docker/healthcheck.sh reports healthy"
else
  fail "JupyterLab from docker/start-lab.sh (log: $(tail -n 5 "$tmp/lab.log" | tr '\n' ' '))"
fi
stop_lab

summary
[ "$failed" -eq 0 ]
