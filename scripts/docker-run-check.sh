#!/usr/bin/env bash
# docker-run-check.sh — runs the image scripts/docker-build.sh built, as the image's non-root user
# `student`, and checks it: the extra CA certificates of the build are nowhere in its file system;
# JupyterLab (the image's ENTRYPOINT and CMD) answers, its HEALTHCHECK reports healthy, and it refuses
# API requests without the token (or with a wrong one); one notebook runs with the GoNB kernel against
# the data set bind-mounted read-only on /data; `cnnlab smoke`; a short `cnnlab reproduce --quick`;
# with --resolve-cuda, the CUDA variant's Python wheels resolve for the image's Python.
# Ends with "docker-run-check: N passed, N failed" and exits non-zero on any failure.
#
# Usage: scripts/docker-run-check.sh [--tag NAME] [--data DIR] [--notebook NB] [--epochs N]
#                                    [--resolve-cuda] [--help]
#   --tag           the image (default localhost/cnnlab:cpu)
#   --data          the directory holding cifar-100-binary/, mounted read-only on /data (default
#                   $CNNLAB_DATA_DIR)
#   --notebook      the notebook to execute, relative to the repository in the image (default
#                   notebooks/01_cifar100.ipynb)
#   --epochs        epochs of the reproduce run (default: --quick's own number)
#   --resolve-cuda  also resolve (pip install --dry-run, nothing installed) the CUDA variant's Python
#                   wheels for the image's Python: scripts/requirements-gpu.txt when there is one, else
#                   the JAX CUDA PJRT wheels that scripts/xlainstall pins, with their NVIDIA dependencies
#
# Engine: docker (`docker run`) when a Docker engine answers, else buildah (`buildah run --isolation
# chroot`: `podman run` fails where the runtime cannot set rlimits). CNNLAB_DOCKER_ENGINE overrides.
# Every run shares the host's network (JupyterLab listens on 127.0.0.1 only). When the host trusts
# extra CA certificates (/usr/local/share/ca-certificates/*.crt: a TLS-intercepting proxy), the runs
# get the host's bundle, bind-mounted read-only on /tmp/host-ca.pem (SSL_CERT_FILE, PIP_CERT), because
# GoNB runs `go get` for every cell; the image itself holds no such certificate (check 2).
set -euo pipefail

# All of it in one function, read whole before it runs: editing this file during a run cannot change it.
main() {

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
die() { echo "docker-run-check.sh: error: $*" >&2; exit 2; }
usage() { awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; }

tag=localhost/cnnlab:cpu data="${CNNLAB_DATA_DIR:-}" notebook=notebooks/01_cifar100.ipynb epochs="" resolve_cuda=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag|--data|--notebook|--epochs)
      [ $# -ge 2 ] || die "$1 needs a value (see --help)"
      case "$1" in
        --tag) tag="$2" ;;
        --data) data="$2" ;;
        --notebook) notebook="$2" ;;
        --epochs) epochs="$2" ;;
      esac
      shift 2 ;;
    --resolve-cuda) resolve_cuda=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -n "$data" ] || die "no data set: pass --data DIR or set CNNLAB_DATA_DIR (a directory holding cifar-100-binary/)"
[ -f "$data/cifar-100-binary/train.bin" ] || die "--data $data: no cifar-100-binary/train.bin in it"
data="$(cd "$data" && pwd)"
if [ -n "$epochs" ] && ! [[ "$epochs" =~ ^[1-9][0-9]*$ ]]; then die "--epochs $epochs: want a number >= 1"; fi

engine="${CNNLAB_DOCKER_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker; else engine=buildah; fi
fi
case "$engine" in docker|buildah) ;; *) die "CNNLAB_DOCKER_ENGINE must be docker or buildah, not $engine" ;; esac
# Image queries: buildah has no `image inspect`; podman reads the same image store.
images=docker
[ "$engine" = docker ] || images=podman
for tool in "$engine" "$images"; do
  command -v "$tool" >/dev/null || die "no $tool (scripts/docker-build.sh installs buildah and podman)"
done
"$images" image inspect "$tag" >/dev/null 2>&1 || die "no image $tag: build it with scripts/docker-build.sh"

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "docker-run-check: PASS $1"; }
fail() { failed=$((failed + 1)); echo "docker-run-check: FAIL $1" >&2; }

work="$(mktemp -d)"
ctr="" lab_pid=""
stop_lab() { # stops the JupyterLab run this script started (by its PID), after its own shutdown failed
  [ -n "$lab_pid" ] || return 0
  for _ in $(seq 1 20); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 1; done
  if kill -0 "$lab_pid" 2>/dev/null; then kill "$lab_pid" 2>/dev/null || true; sleep 2; kill -KILL "$lab_pid" 2>/dev/null || true; fi
  wait "$lab_pid" 2>/dev/null || true
  lab_pid=""
}
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
  stop_lab
  if [ "$engine" = buildah ] && [ -n "$ctr" ]; then
    buildah umount "$ctr" >/dev/null 2>&1 || true
    buildah rm "$ctr" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# in_image [-e VAR=VALUE]... [-v HOST:CTR[:ro]]... -- COMMAND...: COMMAND as the image's user student,
# in the image's working directory, with the data set on /data (read-only).
if [ "$engine" = buildah ]; then
  ctr="$(buildah from --pull=never --name "cnnlab-run-check-$$" "$tag")"
  # buildah 1.28 puts an anonymous volume on the image's VOLUME /data that hides a bind mount there:
  # the working container (not the image) drops it, so that the data set is what /data holds.
  buildah config --volume /data- "$ctr"
fi
# The Python of the image's venv (scripts/setup.sh --notebooks made it from the image's python3).
IMAGE_VENV_PYTHON=/home/student/.local/share/cnnlab/venv/bin/python3
run_opts=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  run_opts=(-v /etc/ssl/certs/ca-certificates.crt:/tmp/host-ca.pem:ro -e SSL_CERT_FILE=/tmp/host-ca.pem -e PIP_CERT=/tmp/host-ca.pem)
  echo "docker-run-check: the runs trust this host's CA bundle (it has extra CA certificates), mounted on /tmp/host-ca.pem"
fi
in_image() {
  local opts=("${run_opts[@]}")
  while [ "$1" != -- ]; do opts+=("$1" "$2"); shift 2; done
  shift
  if [ "$engine" = buildah ]; then
    buildah run --isolation chroot --user student -v "$data:/data:ro" "${opts[@]}" "$ctr" -- "$@"
  else
    docker run --rm -i --network host --user student -v "$data:/data:ro" "${opts[@]}" --entrypoint "$1" "$tag" "${@:2}"
  fi
}
config() { # config FIELD: a field of the image's configuration (User, Entrypoint, Cmd, Healthcheck), as JSON
  "$images" image inspect "$tag" | python3 -c '
import json, sys
image = json.load(sys.stdin)[0]
config = image.get("Config") or {}
# podman shows a Docker-format image'"'"'s HEALTHCHECK beside its Config, docker inside it.
print(json.dumps(config.get(sys.argv[1], image.get(sys.argv[1]))))' "$1"
}

size="$("$images" image inspect --format '{{.Size}}' "$tag")"
echo "docker-run-check: image $tag ($((size / 1000000)) MB), engine $engine, data $data on /data (read-only)"

# 1. The user, and the data mount.
# shellcheck disable=SC2016 # expanded in the image, not here
who="$(in_image -- sh -c 'echo "$(id -un) $(id -u) $HOME"; touch /data/.write-probe 2>/dev/null && echo /data-writable || true')"
echo "$who"
if [ "$(config User)" = '"1000"' ] && [ "$(head -n 1 <<< "$who")" = "student 1000 /home/student" ] && ! grep -q writable <<< "$who"; then
  pass "runs as the image's user student (uid 1000, HOME /home/student); /data is read-only"
else
  fail "user or /data mount: image User $(config User), in the image: $(tr '\n' ' ' <<< "$who")"
fi

# 2. No extra CA certificate of the build in the image: a line of each one's base64, searched in every
#    file of the image (buildah: its mounted root; docker: an exported copy).
patterns="$work/ca-lines"
: > "$patterns"
for crt in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$crt" ] || continue
  sed -n '/BEGIN CERTIFICATE/{n;p;q}' "$crt" >> "$patterns"
done
if [ ! -s "$patterns" ]; then
  echo "docker-run-check: no extra CA certificates on this host (/usr/local/share/ca-certificates): nothing to look for"
else
  if [ "$engine" = buildah ]; then
    root="$(buildah mount "$ctr")"
  else
    root="$work/rootfs"
    mkdir -p "$root"
    cid="$(docker create "$tag")"
    docker export "$cid" | tar -C "$root" -x
    docker rm "$cid" >/dev/null
  fi
  t0=$(date +%s)
  hits="$(grep -rlF -f "$patterns" "$root" 2>/dev/null || true)"
  secrets="$(find "$root/run/secrets" -type f 2>/dev/null || true)"
  if [ -z "$hits" ] && [ -z "$secrets" ]; then
    pass "none of the $(wc -l < "$patterns") extra CA certificates of this host is in the image's files ($(du -sh "$root" 2>/dev/null | cut -f1) searched in $(( $(date +%s) - t0 ))s); no /run/secrets file"
  else
    fail "extra CA certificate material in the image: ${hits//$root/} ${secrets//$root/}"
  fi
  if [ "$engine" = buildah ]; then buildah umount "$ctr" >/dev/null; fi
fi

# 3. JupyterLab as the image starts it (ENTRYPOINT + CMD), on 127.0.0.1 with a token; probed from
#    outside, its HEALTHCHECK run inside, then shut down through its API.
mapfile -t start_cmd < <(python3 -c 'import json, sys; [print(a) for part in sys.argv[1:] for a in (json.loads(part) or [])]' \
  "$(config Entrypoint)" "$(config Cmd)")
mapfile -t health_cmd < <(python3 -c 'import json, sys; t = (json.loads(sys.argv[1]) or {}).get("Test") or []; [print(a) for a in t[1:]] if t[:1] == ["CMD"] else None' \
  "$(config Healthcheck)")
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
echo "docker-run-check: starting ${start_cmd[*]} on 127.0.0.1:$port"
t0=$(date +%s)
in_image -e CNNLAB_LAB_IP=127.0.0.1 -e CNNLAB_LAB_PORT="$port" -e JUPYTER_TOKEN="$token" -- "${start_cmd[@]}" > "$work/lab.log" 2>&1 &
lab_pid=$!
up=0
for _ in $(seq 1 120); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://127.0.0.1:$port/api" 2>/dev/null; then up=1; break; fi
  kill -0 "$lab_pid" 2>/dev/null || break
  sleep 1
done
if [ "$up" = 1 ]; then
  pass "JupyterLab answers on /api $(( $(date +%s) - t0 ))s after start"
else
  fail "JupyterLab did not answer on 127.0.0.1:$port (log: $(tail -n 5 "$work/lab.log" | tr '\n' ' '))"
fi
if [ "$up" = 1 ]; then
  if [ "${#health_cmd[@]}" -gt 0 ] && health="$(in_image -e CNNLAB_LAB_PORT="$port" -- "${health_cmd[@]}" 2>&1)"; then
    pass "the image's HEALTHCHECK (${health_cmd[*]}): $health"
  else
    fail "the image's HEALTHCHECK (${health_cmd[*]:-none}): ${health:-}"
  fi
  if auth="$(python3 - "http://127.0.0.1:$port" "$token" <<'PY'
import json, sys, urllib.error, urllib.request
base, token = sys.argv[1:]
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None
opener = urllib.request.build_opener(NoRedirect)
def status(path, headers=None):
    try:
        with opener.open(urllib.request.Request(base + path, headers=headers or {}), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
problems = []
for path, headers, what in [("/api/kernelspecs", None, "no token"),
                            ("/api/kernelspecs?token=wrong-" + token, None, "a wrong token"),
                            ("/api/contents", {"Authorization": "token wrong"}, "a wrong token header")]:
    code, _ = status(path, headers)
    if code != 403:
        problems.append(f"GET {path.split('?')[0]} with {what}: {code}, want 403")
code, _ = status("/lab")
if code not in (302, 303):
    problems.append(f"GET /lab without a token: {code}, want a redirect to the login page")
code, body = status("/api/kernelspecs", {"Authorization": "token " + token})
specs = json.loads(body).get("kernelspecs", {}) if code == 200 else {}
if "gonb" not in specs:
    problems.append(f"GET /api/kernelspecs with the token: {code}, kernels {sorted(specs)}, want gonb")
code, _ = status("/lab?token=" + token)
if code != 200:
    problems.append(f"GET /lab?token=...: {code}, want 200")
print("; ".join(problems) or "403 without a token or with a wrong one, /lab redirects to the login page; with the token: 200 and the gonb kernel")
sys.exit(1 if problems else 0)
PY
)"; then
    pass "token auth: $auth"
  else
    fail "token auth: $auth"
  fi
  python3 - "http://127.0.0.1:$port/api/shutdown" "$token" <<'PY' || echo "docker-run-check: JupyterLab's /api/shutdown failed; stopping its run"
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], method="POST", headers={"Authorization": "token " + sys.argv[2]})
urllib.request.urlopen(req, timeout=10).close()
PY
fi
stop_lab

# 4. One notebook with the image's GoNB kernel, against /data.
t0=$(date +%s)
if in_image -e CNNLAB_QUICK=1 -- bash scripts/run-notebooks.sh run "$notebook" > "$work/notebook.log" 2>&1; then
  tail -n 3 "$work/notebook.log"
  pass "notebook $notebook ran with the GoNB kernel against /data ($(( $(date +%s) - t0 ))s)"
else
  tail -n 30 "$work/notebook.log" >&2
  fail "notebook $notebook in the image"
fi

# 5. cnnlab smoke (XLA CPU against the go backend).
t0=$(date +%s)
if in_image -- ./bin/cnnlab smoke --backend xla:cpu --compare go > "$work/smoke.log" 2>&1; then
  tail -n 3 "$work/smoke.log"
  pass "cnnlab smoke --backend xla:cpu --compare go ($(( $(date +%s) - t0 ))s)"
else
  tail -n 20 "$work/smoke.log" >&2
  fail "cnnlab smoke in the image"
fi

# 6. A short reproduce run on the read-only /data, its outputs in the container's /tmp.
t0=$(date +%s)
reproduce=(./bin/cnnlab reproduce --quick --no-progress --out /tmp/cnnlab-reproduce)
[ -z "$epochs" ] || reproduce+=(--epochs "$epochs")
if in_image -- sh -c '"$@" && test -s /tmp/cnnlab-reproduce/report.json' sh "${reproduce[@]}" > "$work/reproduce.log" 2>&1; then
  tail -n 4 "$work/reproduce.log"
  pass "${reproduce[*]} ($(( $(date +%s) - t0 ))s), report.json written"
else
  tail -n 20 "$work/reproduce.log" >&2
  fail "${reproduce[*]} in the image"
fi

# 7. The CUDA variant's wheels resolve for the image's Python and platform (nothing installed; pip
#    fetches what it needs to read their metadata): scripts/requirements-gpu.txt when there is one;
#    else what go-xla's installer (scripts/xlainstall, run by setup.sh --gpu) takes: the pinned
#    jax-PLUGIN-pjrt wheel and the nvidia-* requirements that PyPI lists for jax-PLUGIN-plugin.
if [ "$resolve_cuda" = 1 ]; then
  if [ -f scripts/requirements-gpu.txt ]; then
    what=(-r scripts/requirements-gpu.txt --require-hashes)
  else
    plugin="$(sed -n 's/^[[:space:]]*cudaPlugin[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' scripts/xlainstall/main.go)"
    version="$(sed -n 's/^[[:space:]]*cudaVersion[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' scripts/xlainstall/main.go)"
    [ -n "$plugin" ] && [ -n "$version" ] || die "cannot read cudaPlugin/cudaVersion from scripts/xlainstall/main.go"
    what=("jax-$plugin-pjrt==$version" --nvidia-of "jax-$plugin-plugin")
  fi
  t0=$(date +%s)
  if in_image -e PIP_DISABLE_PIP_VERSION_CHECK=1 -- "$IMAGE_VENV_PYTHON" - "${what[@]}" > "$work/cuda.log" 2>&1 <<'PY'
import json, subprocess, sys, urllib.request
args = sys.argv[1:]
if "--nvidia-of" in args:
    i = args.index("--nvidia-of")
    package = args[i + 1]
    with urllib.request.urlopen(f"https://pypi.org/pypi/{package}/json", timeout=120) as r:
        requires = json.load(r)["info"].get("requires_dist") or []
    # As go-xla's installer: every requirement whose name starts with "nvidia", markers dropped.
    nvidia = sorted({d.split(";")[0].strip() for d in requires if d.lower().startswith("nvidia")})
    if not nvidia:
        sys.exit(f"PyPI lists no nvidia-* requirement for {package}")
    args = args[:i] + nvidia + args[i + 2:]
print("Python", sys.version.split()[0], "resolving:", " ".join(args), flush=True)
subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                "--only-binary=:all:", "--target", "/tmp/cuda-resolve", "--report", "/tmp/cuda-report.json",
                *args], check=True)
with open("/tmp/cuda-report.json") as f:
    wheels = sorted(i["metadata"]["name"] + "==" + i["metadata"]["version"] for i in json.load(f)["install"])
print(len(wheels), "wheels:", " ".join(wheels))
PY
  then
    cat "$work/cuda.log"
    pass "the CUDA variant's wheels (${what[*]}) resolve for the image's Python ($(( $(date +%s) - t0 ))s)"
  else
    tail -n 20 "$work/cuda.log" >&2
    fail "resolving the CUDA variant's wheels (${what[*]}) for the image's Python"
  fi
fi

echo "docker-run-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
}

main "$@"; exit
