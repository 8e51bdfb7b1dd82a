#!/usr/bin/env bash
# lint-dockerfiles.sh — lints the Dockerfiles with hadolint and the Docker scripts with shellcheck,
# both pinned (with sha256) in scripts/requirements-lint.txt and installed from PyPI into
# ${CNNLAB_HOME:-~/.local/share/cnnlab}/lint-venv (idempotent: reinstalled only when the pins change).
# Also `bash -n` on every shell script of scripts/, docker/ and .ci/.
# Ends with "lint: N passed, N failed"; exits non-zero on any finding.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CNNLAB_HOME="${CNNLAB_HOME:-$HOME/.local/share/cnnlab}"
VENV="$CNNLAB_HOME/lint-venv"
REQ="$ROOT/scripts/requirements-lint.txt"
cd "$ROOT"

stamp="$VENV/.requirements.sha256"
sum="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ -x "$VENV/bin/hadolint" ] && [ -x "$VENV/bin/shellcheck" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
  echo "lint: linters already in $VENV"
else
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --require-hashes --only-binary=:all: -r "$REQ"
  echo "$sum" > "$stamp"
  echo "lint: installed linters into $VENV"
fi
echo "lint: $("$VENV/bin/hadolint" --version), shellcheck $("$VENV/bin/shellcheck" --version | sed -n 's/^version: //p')"

passed=0 failed=0
check() { # check NAME COMMAND...
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); echo "lint: ok $name"; else failed=$((failed + 1)); echo "lint: FAIL $name" >&2; fi
}

# Every Dockerfile of the repository (tracked or new), at the failure threshold "info": any finding
# fails. Rules are ignored only inline, each with its reason beside it.
mapfile -t dockerfiles < <({ git ls-files; git ls-files --others --exclude-standard; } 2>/dev/null |
  grep -E '(^|/)(Dockerfile|Containerfile)[^/]*$|\.dockerfile$' | sort -u)
[ "${#dockerfiles[@]}" -gt 0 ] || { echo "lint: no Dockerfile found" >&2; exit 1; }
for f in "${dockerfiles[@]}"; do
  check "hadolint $f" "$VENV/bin/hadolint" --failure-threshold info "$f"
done

# The scripts the image runs, the Docker checks and the GPU plugin installer: shellcheck; every shell
# script: bash -n.
for f in docker/*.sh scripts/docker-build.sh scripts/docker-run-check.sh scripts/lint-dockerfiles.sh scripts/xla-cuda-from-jax.sh; do
  check "shellcheck $f" "$VENV/bin/shellcheck" --shell=bash "$f"
done
for f in scripts/*.sh docker/*.sh .ci/run; do
  [ -f "$f" ] && check "bash -n $f" bash -n "$f"
done

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
