#!/usr/bin/env bash
# Build stand-ins for images that cannot be pulled where no registry is reachable.
# Each stand-in is tagged with the upstream name the Dockerfiles and compose file use, so they
# build and run unchanged. An image that already exists (pulled or built before) is kept.
# Usage: scripts/offline-images.sh [base|all]   (run as root; needs debootstrap and docker)
set -euo pipefail

BASE_TAG=${BASE_TAG:-python:3.11-slim-bookworm}
WORK=${OFFLINE_WORK:-$(pwd)/.offline}
what=${1:-all}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The mirror comes from this machine's own apt configuration; no host name is written here.
apt_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  fi
  [ -n "$uri" ] || { echo "no Debian mirror found in /etc/apt" >&2; exit 1; }
  echo "$uri"
}

build_base() {
  if have_image "$BASE_TAG"; then echo "have $BASE_TAG"; return; fi
  if timeout 20 docker pull -q "$BASE_TAG" >/dev/null 2>&1; then echo "pulled $BASE_TAG"; return; fi
  command -v debootstrap >/dev/null || { echo "debootstrap is needed to build $BASE_TAG" >&2; exit 1; }
  local rootfs="$WORK/base-rootfs" mirror
  mirror=$(apt_mirror)
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  echo "building stand-in $BASE_TAG with debootstrap from $mirror"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  # Outgoing TLS may be re-signed by a local CA: trust what this machine trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -f "$rootfs"/usr/lib/python3.11/EXTERNALLY-MANAGED
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
  cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["python3"]' - "$BASE_TAG" >/dev/null
  rm -rf "$rootfs"
  echo "built $BASE_TAG"
}

mkdir -p "$WORK"
case "$what" in
  base) build_base ;;
  all) build_base ;;
  *) echo "usage: $0 [base|all]" >&2; exit 2 ;;
esac
