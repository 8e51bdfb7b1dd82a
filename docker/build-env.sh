#!/usr/bin/env bash
# build-env.sh — runs one downloading step of the image build (docker/Dockerfile) in the environment
# it needs, then returns its exit status:
#
#   - extra CA certificates (networks with a TLS-intercepting proxy): the build secret extra_ca, a PEM
#     bundle mounted at /run/secrets/extra_ca (`docker build --secret id=extra_ca,src=FILE`, or
#     scripts/docker-build.sh --extra-ca), is appended to the system's bundle in a temporary file that
#     SSL_CERT_FILE (Python, Go), PIP_CERT, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE name; the file is
#     removed before the step ends, so no layer of the image keeps it. Without the secret: nothing.
#   - registry settings passed as build arguments (GOPROXY, GOSUMDB, PIP_INDEX_URL,
#     PIP_EXTRA_INDEX_URL) are unset when empty (an empty PIP_INDEX_URL would make pip use no index).
#
# Usage: build-env.sh COMMAND [ARG...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: build-env.sh COMMAND [ARG...]" >&2; exit 2; }

for var in GOPROXY GOSUMDB PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
  if [ -z "${!var:-}" ]; then unset "$var"; fi
done

secret="${CNNLAB_EXTRA_CA_SECRET:-/run/secrets/extra_ca}"
if [ ! -s "$secret" ]; then
  exec "$@"
fi
grep -q 'BEGIN CERTIFICATE' "$secret" || { echo "build-env.sh: $secret holds no PEM certificate" >&2; exit 1; }
bundle="$(mktemp)"
trap 'rm -f "$bundle"' EXIT
system=/etc/ssl/certs/ca-certificates.crt
{ if [ -f "$system" ]; then cat "$system"; fi; cat "$secret"; } > "$bundle"
echo "build-env.sh: trusting $(grep -c 'BEGIN CERTIFICATE' "$secret") extra CA certificate(s) of the build secret for: $*"
export SSL_CERT_FILE="$bundle" PIP_CERT="$bundle" REQUESTS_CA_BUNDLE="$bundle" CURL_CA_BUNDLE="$bundle"
"$@"
