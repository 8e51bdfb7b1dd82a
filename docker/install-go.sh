#!/usr/bin/env bash
# install-go.sh — installs the pinned Go toolchain as a plain GOROOT, from the Go module proxy.
#
# Usage: docker/install-go.sh DEST            (e.g. /usr/local/go; DEST must not exist yet)
#
# The image needs some `go` on PATH before scripts/setup.sh can run (setup.sh then finds the pinned
# toolchain already there and skips it). go.dev's download site is not a package registry, so this
# takes the very archive the go command itself fetches for GOTOOLCHAIN=go1.27.3: the module
# golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64 from the Go module proxy, checked against the
# sha256 pinned below (the same file the go command verified against sum.golang.org, h1 hash below).
#
# Environment: GO_TOOLCHAIN_ZIP  use this local copy of the archive instead of downloading it (still
#                                checked), e.g. the copy in a Go module cache.
#              GOPROXY           the first https:// entry is used (default https://proxy.golang.org).
set -euo pipefail

readonly GO_VERSION=go1.27.3
readonly GO_MODULE_VERSION="v0.0.1-${GO_VERSION}.linux-amd64"
readonly GO_ZIP_SHA256=af4c06478303fdd1bfb335fab86c7ccb9b12e529044a946a16a1c4bcc779f8d7
# sum.golang.org: golang.org/toolchain v0.0.1-go1.27.3.linux-amd64 h1:r0ub+FnqzZxoWm/dSUOI9DcIqYWn/mNYGFJcv7PyBzs=

die() { echo "install-go.sh: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DEST"
dest="$1"
[ ! -e "$dest" ] || die "$dest already exists"
[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || die "only linux/amd64 is pinned here, not $(uname -s)/$(uname -m)"
command -v python3 >/dev/null || die "python3 is needed (it downloads and unpacks the archive)"

proxy=https://proxy.golang.org
IFS=',|' read -r -a entries <<< "${GOPROXY:-}"
for entry in "${entries[@]}"; do
  case "$entry" in https://*) proxy="${entry%/}"; break ;; esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
zip="$work/go.zip"
if [ -n "${GO_TOOLCHAIN_ZIP:-}" ]; then
  cp "$GO_TOOLCHAIN_ZIP" "$zip"
else
  url="$proxy/golang.org/toolchain/@v/${GO_MODULE_VERSION}.zip"
  echo "install-go.sh: downloading $url"
  python3 - "$url" "$zip" <<'PY' || die "download failed"
import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=300) as r, open(sys.argv[2], "wb") as f:
    shutil.copyfileobj(r, f, 1 << 20)
PY
fi
got="$(sha256sum "$zip" | cut -d' ' -f1)"
[ "$got" = "$GO_ZIP_SHA256" ] || die "checksum mismatch for the $GO_VERSION archive: got $got, want $GO_ZIP_SHA256"

# Module zips keep no file modes: like the go command, make bin/ and pkg/tool/ executable.
python3 - "$zip" "$work/root" "golang.org/toolchain@${GO_MODULE_VERSION}/" <<'PY' || die "unpacking failed"
import os, sys, zipfile
zpath, out, prefix = sys.argv[1:]
with zipfile.ZipFile(zpath) as z:
    for info in z.infolist():
        name = info.filename
        if not name.startswith(prefix):
            raise SystemExit(f"unexpected entry {name!r}")
        rel = name[len(prefix):]
        if not rel or rel.endswith("/"):
            continue
        if rel.startswith("/") or ".." in rel.split("/"):
            raise SystemExit(f"unsafe entry {name!r}")
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        executable = rel.startswith("bin/") or rel.startswith("pkg/tool/")
        os.chmod(target, 0o755 if executable else 0o644)
PY
mkdir -p "$(dirname "$dest")"
mv "$work/root" "$dest"
version="$(GOTOOLCHAIN=local "$dest/bin/go" env GOVERSION)"
[ "$version" = "$GO_VERSION" ] || die "$dest/bin/go reports $version, want $GO_VERSION"
echo "install-go.sh: installed $GO_VERSION in $dest"
