#!/usr/bin/env bash
# The whole file system of the operator image, written into an empty directory: the two static binaries,
# a passwd and group entry for the non-root user 65532, and the CA certificates (registries and webhooks
# are reached over TLS). Nothing else: no shell, no libc, no package manager. `scripts/image.sh` and the
# Dockerfile both call this, so the image is the same whichever builds it.
#
#   scripts/image-rootfs.sh BIN_DIR ROOTFS_DIR [CA_BUNDLE]
#
# BIN_DIR holds the musl builds of `acp-cvo` and `ac`; CA_BUNDLE defaults to Debian's
# /etc/ssl/certs/ca-certificates.crt. Every file gets the time SOURCE_DATE_EPOCH (default 0), so the same
# binaries give the same layer.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: scripts/image-rootfs.sh BIN_DIR ROOTFS_DIR [CA_BUNDLE]" >&2
  exit 2
fi
bin=$1
rootfs=$2
ca=${3:-/etc/ssl/certs/ca-certificates.crt}
if [ ! -f "$ca" ]; then
  echo "no CA bundle at $ca: install Debian's ca-certificates or pass one" >&2
  exit 1
fi

rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs"
install -m 0755 "$bin/acp-cvo" "$bin/ac" "$rootfs/usr/local/bin/"
install -m 0644 "$ca" "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'nonroot:x:65532:\n' > "$rootfs/etc/group"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
find "$rootfs" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
