#!/usr/bin/env bash
# docker-build.sh — builds docker/Dockerfile into a local image, with Docker when a Docker engine answers,
# else daemonless with buildah (Debian's package; installed here when missing and run as root), and
# prints the build time and the image size. Repeated builds reuse the cached layers and base image.
#
# Usage: scripts/docker-build.sh [--variant cpu|cuda] [--tag NAME] [--base auto|registry|debootstrap]
#                                [--extra-ca PATH|none] [--bake-data DIR] [--smoke-notebook NB|none]
#                                [--fresh] [--help]
#   --variant         cpu (default) or cuda (scripts/setup.sh --gpu: the CUDA PJRT plugin, NVIDIA wheels)
#   --tag             image name (default localhost/cnnlab:VARIANT)
#   --base            where the base image comes from: registry (the Dockerfile's pinned BASE_IMAGE,
#                     pulled), debootstrap (the same Debian release built here with debootstrap
#                     --variant=minbase from Debian's archive, then imported), auto (default: the
#                     registry, else debootstrap)
#   --extra-ca        extra CA certificates (a PEM file, or a directory of *.crt/*.pem) that the
#                     downloading steps of the build trust, for networks with a TLS-intercepting proxy:
#                     passed as the build secret extra_ca, never stored in the image. Default: the
#                     host's /usr/local/share/ca-certificates/*.crt when there are any; none: no secret
#   --bake-data       bake DIR/cifar-100-binary into the image's /data (--build-context cifar=DIR)
#   --smoke-notebook  the notebook the build executes (Dockerfile's SMOKE_NOTEBOOK; default none:
#                     scripts/docker-run-check.sh executes one in the built image instead)
#   --fresh           first remove the image, the build's cached layers and the base image (the
#                     debootstrap one, and the registry's, pulled again): a build from scratch. With
#                     buildah the cached layers are the store's untagged images: all of them go
#                     (`buildah rmi --prune`), with docker the builder cache (`docker builder prune`)
#
# Environment: CNNLAB_DOCKER_ENGINE  docker or buildah (default: docker if `docker info` answers, else
#                                    buildah)
#              CNNLAB_DEBIAN_MIRROR  the Debian archive debootstrap uses (default: the first deb.debian.org-
#                                    style URI of this machine's apt sources, else http://deb.debian.org/debian)
#              GOPROXY, GOSUMDB, PIP_INDEX_URL, PIP_EXTRA_INDEX_URL and the *_PROXY variables are passed
#              to the build when set here.
# Prints "docker-build: built TAG with ENGINE in Ns (base ...)" and "docker-build: image size ...".
set -euo pipefail

# All of it in one function, read whole before it runs: editing this file during a run cannot change it.
main() {

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

die() { echo "docker-build.sh: error: $*" >&2; exit 1; }
usage() { awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; }

variant=cpu tag="" base_mode=auto extra_ca=default bake_data="" smoke_notebook=none fresh=0
while [ $# -gt 0 ]; do
  case "$1" in
    --variant|--tag|--base|--extra-ca|--bake-data|--smoke-notebook)
      [ $# -ge 2 ] || die "$1 needs a value (see --help)"
      case "$1" in
        --variant) variant="$2" ;;
        --tag) tag="$2" ;;
        --base) base_mode="$2" ;;
        --extra-ca) extra_ca="$2" ;;
        --bake-data) bake_data="$2" ;;
        --smoke-notebook) smoke_notebook="$2" ;;
      esac
      shift 2 ;;
    --fresh) fresh=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case "$variant" in cpu|cuda) ;; *) die "--variant must be cpu or cuda, not $variant" ;; esac
case "$base_mode" in auto|registry|debootstrap) ;; *) die "--base must be auto, registry or debootstrap, not $base_mode" ;; esac
tag="${tag:-localhost/cnnlab:$variant}"
if [ -n "$bake_data" ]; then
  [ -d "$bake_data/cifar-100-binary" ] || die "--bake-data $bake_data: no cifar-100-binary/ in it"
  bake_data="$(cd "$bake_data" && pwd)"
fi
if [ "$smoke_notebook" != none ] && [ ! -f "$smoke_notebook" ]; then
  die "--smoke-notebook $smoke_notebook: no such notebook (a path relative to the repository root, or none)"
fi

# The Dockerfile's pinned base (ARG BASE_IMAGE), the one the registry path pulls.
registry_base="$(sed -n 's/^ARG BASE_IMAGE=//p' docker/Dockerfile | head -n 1)"
[ -n "$registry_base" ] || die "docker/Dockerfile has no ARG BASE_IMAGE=... default"
# The local stand-in built with debootstrap: the same Debian release (the tag's codename).
codename="$(sed -n 's/^debian:\([a-z]*\)-.*/\1/p' <<< "$registry_base")"
[ -n "$codename" ] || die "cannot read the Debian codename from BASE_IMAGE $registry_base"
local_base="localhost/cnnlab-base:$codename-minbase"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- the engine -----------------------------------------------------------------------------------
engine="${CNNLAB_DOCKER_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker; else engine=buildah; fi
fi
case "$engine" in docker|buildah) ;; *) die "CNNLAB_DOCKER_ENGINE must be docker or buildah, not $engine" ;; esac

# need_packages installs Debian packages that provide the missing commands (as root), or says which.
need_packages() { # need_packages "cmd:package" ...
  local missing=() pkgs=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || { missing+=("${pair%%:*}"); pkgs+=("${pair#*:}"); }
  done
  [ "${#pkgs[@]}" -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "${missing[*]} missing: install Debian's ${pkgs[*]} (apt-get install ${pkgs[*]}, as root), or run as root"
  echo "docker-build: installing Debian's ${pkgs[*]} (for ${missing[*]})"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}") >/dev/null ||
    die "apt-get install ${pkgs[*]} failed"
}
if [ "$engine" = buildah ]; then
  [ "$(id -u)" = 0 ] || die "the daemonless build (buildah --isolation chroot) runs as root here; or set CNNLAB_DOCKER_ENGINE=docker with a Docker engine"
  # podman: `podman import` of the debootstrap base (buildah has no import); same image store.
  need_packages buildah:buildah podman:podman
fi
echo "docker-build: engine $engine ($("$engine" --version | head -n 1))"

# Image queries: buildah has no `image inspect`; podman reads the same image store.
images=docker
[ "$engine" = docker ] || images=podman
image_exists() { "$images" image inspect "$1" >/dev/null 2>&1; }
image_rm() { if image_exists "$1"; then "$images" rmi -f "$1" >/dev/null; fi; }

if [ "$fresh" = 1 ]; then
  echo "docker-build: --fresh: removing $tag, the cached layers and the local base"
  image_rm "$tag"
  if [ "$engine" = buildah ]; then
    # Every image no tag holds: the cached layers of earlier builds.
    buildah rmi --prune >/dev/null 2>&1 || true
  else
    docker builder prune --all --force >/dev/null
  fi
  image_rm "$local_base"
  image_rm "$registry_base"
fi

# --- the base image -------------------------------------------------------------------------------
t_start=$(date +%s)

# debian_mirror: CNNLAB_DEBIAN_MIRROR, else the first URI for Debian's main archive in apt's sources.
debian_mirror() {
  if [ -n "${CNNLAB_DEBIAN_MIRROR:-}" ]; then echo "$CNNLAB_DEBIAN_MIRROR"; return; fi
  local uri
  uri="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -Eo '(https?://[^ ]*/debian)/?( |$)' | grep -v -- '-security' | head -n 1 | tr -d ' ')" || true
  echo "${uri:-http://deb.debian.org/debian}"
}

# build_local_base makes $local_base: debootstrap --variant=minbase of $codename from Debian's archive,
# apt's sources as in Docker's debian images (the release, its updates and its security archive),
# upgraded, apt's lists and caches removed, then imported. Its package list (name=version) and that
# list's sha256 are labels of the image and printed; docker/base-packages.txt is the list last
# committed (a differing list is reported, not an error: the archive keeps only current versions).
build_local_base() {
  need_packages debootstrap:debootstrap
  local mirror dir list sum date
  mirror="$(debian_mirror)"
  dir="$(mktemp -d /var/tmp/cnnlab-rootfs.XXXXXX)"
  echo "docker-build: debootstrap --variant=minbase $codename from $mirror (into $dir)"
  if ! debootstrap --variant=minbase "$codename" "$dir" "$mirror" > "$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    rm -rf "$dir"
    die "debootstrap --variant=minbase $codename $mirror failed (log: $dir.log)"
  fi
  rm -f "$dir/etc/apt/sources.list"
  cat > "$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: ${codename} ${codename}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: ${codename}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  if ! chroot "$dir" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq' >> "$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    rm -rf "$dir"
    die "apt-get upgrade in the debootstrap root failed (log: $dir.log)"
  fi
  date="$(sed -n 's/^Date: //p' "$dir"/var/lib/apt/lists/*_dists_"${codename}"_InRelease | head -n 1)"
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log "$dir"/var/log/apt/* "$dir"/var/cache/debconf/*-old
  list="$dir.packages"
  # shellcheck disable=SC2016 # dpkg-query's format, not shell variables
  chroot "$dir" dpkg-query -W -f '${Package}=${Version}\n' | LC_ALL=C sort > "$list"
  sum="$(sha256sum "$list" | cut -d' ' -f1)"
  echo "docker-build: base packages: $(wc -l < "$list"), list sha256 $sum, archive $codename Release of $date"
  if [ -f docker/base-packages.txt ]; then
    if cmp -s "$list" docker/base-packages.txt; then
      echo "docker-build: base package list equals docker/base-packages.txt"
    else
      echo "docker-build: base package list differs from docker/base-packages.txt (the archive moved on):"
      diff docker/base-packages.txt "$list" | grep '^[<>]' | head -n 20 || true
      echo "docker-build: (to pin the new list: cp $list docker/base-packages.txt)"
    fi
  fi
  tar --numeric-owner --xattrs -C "$dir" -c . |
    podman import --change 'CMD ["bash"]' \
      --change "LABEL org.cnnlab.base.source=debootstrap-minbase-$codename" \
      --change "LABEL org.cnnlab.base.mirror=$mirror" \
      --change "LABEL org.cnnlab.base.archive-date=$date" \
      --change "LABEL org.cnnlab.base.packages-sha256=$sum" \
      - "$local_base" >/dev/null ||
    die "podman import of the debootstrap root $dir failed"
  rm -rf "$dir" "$dir.log"
  mkdir -p out/docker && mv "$list" "out/docker/base-packages.txt"
  echo "docker-build: imported $local_base (package list: out/docker/base-packages.txt)"
}

base=""
if [ "$base_mode" != debootstrap ]; then
  if image_exists "$registry_base"; then
    base="$registry_base"
  else
    echo "docker-build: pulling $registry_base"
    ref="$registry_base"
    [ "$engine" = buildah ] && ref="docker.io/library/$registry_base"
    if timeout 180 "$engine" pull -q "$ref" >/dev/null 2>"$work/pull.err"; then
      base="$registry_base"
      [ "$engine" = buildah ] && base="$ref"
    else
      echo "docker-build: cannot pull $registry_base: $(tail -n 1 "$work/pull.err")"
      [ "$base_mode" = registry ] && die "--base registry: no base image"
    fi
  fi
fi
if [ -z "$base" ]; then
  [ "$engine" = buildah ] || die "the debootstrap base is imported with podman: run with CNNLAB_DOCKER_ENGINE=buildah"
  if image_exists "$local_base"; then
    echo "docker-build: reusing $local_base (created $("$images" image inspect --format '{{.Created}}' "$local_base"); --fresh rebuilds it)"
  else
    build_local_base
  fi
  base="$local_base"
fi
t_base=$(date +%s)

# --- extra CA certificates, as a build secret -----------------------------------------------------
if [ "$extra_ca" = default ]; then
  extra_ca=none
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then extra_ca=/usr/local/share/ca-certificates; fi
fi
secret_args=()
if [ "$extra_ca" != none ]; then
  bundle="$work/extra-ca.pem"
  if [ -d "$extra_ca" ]; then
    shopt -s nullglob
    certs=("$extra_ca"/*.crt "$extra_ca"/*.pem)
    shopt -u nullglob
    [ "${#certs[@]}" -gt 0 ] || die "--extra-ca $extra_ca: no *.crt or *.pem in it"
    cat "${certs[@]}" > "$bundle"
  elif [ -f "$extra_ca" ]; then
    cat "$extra_ca" > "$bundle"
  else
    die "--extra-ca $extra_ca: no such file or directory"
  fi
  grep -q 'BEGIN CERTIFICATE' "$bundle" || die "--extra-ca $extra_ca: no PEM certificate in it"
  echo "docker-build: the downloading steps trust $(grep -c 'BEGIN CERTIFICATE' "$bundle") extra CA certificate(s) from $extra_ca (build secret extra_ca)"
  secret_args=(--secret "id=extra_ca,src=$bundle")
fi

# --- the build ------------------------------------------------------------------------------------
args=(-f docker/Dockerfile -t "$tag"
  --build-arg "BASE_IMAGE=$base" --build-arg "VARIANT=$variant"
  --build-arg "VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)"
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  "${secret_args[@]}")
args+=(--build-arg "SMOKE_NOTEBOOK=$smoke_notebook")
[ -z "$bake_data" ] || args+=(--build-context "cifar=$bake_data")
for var in GOPROXY GOSUMDB PIP_INDEX_URL PIP_EXTRA_INDEX_URL HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
  if [ -n "${!var:-}" ]; then args+=(--build-arg "$var=${!var}"); fi
done
echo "docker-build: building $tag (variant $variant, base $base)"
if [ "$engine" = buildah ]; then
  # chroot isolation: no daemon and no runtime that must set rlimits; --format docker keeps SHELL and
  # HEALTHCHECK; --layers caches every step's layer for the next build; --force-rm leaves no
  # working container behind when a step fails.
  buildah build --isolation chroot --format docker --layers --force-rm "${args[@]}" . ||
    die "buildah build of docker/Dockerfile failed"
else
  DOCKER_BUILDKIT=1 docker build "${args[@]}" . || die "docker build of docker/Dockerfile failed"
fi
t_end=$(date +%s)

size="$("$images" image inspect --format '{{.Size}}' "$tag")"
echo "docker-build: built $tag with $engine in $((t_end - t_start))s (base $base: $((t_base - t_start))s, Dockerfile: $((t_end - t_base))s)"
echo "docker-build: image size $((size / 1000000)) MB ($size bytes, uncompressed)"
}

main "$@"; exit
