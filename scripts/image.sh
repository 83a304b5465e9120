#!/usr/bin/env bash
# Builds the operator image without Docker, offline: static (musl) builds of `acp-cvo` and `ac` in the
# `image` cargo profile, the file system `scripts/image-rootfs.sh` writes, packed by umoci into the OCI image
# layout target/oci, tagged with the workspace version. The Dockerfile builds the same image for users
# with Docker. Copy it to a registry with skopeo:
#
#   skopeo copy oci:target/oci:0.1.0 docker://ghcr.io/acp-cvo/acp-cvo:0.1.0
#
# Needs umoci and the x86_64-unknown-linux-musl Rust target (scripts/install-prereqs.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
# Not under target/image: cargo keeps the `image` profile's build scripts there.
layout=target/oci
rootfs=target/oci-rootfs
image="$layout:$version"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

cargo build --locked --profile image --target x86_64-unknown-linux-musl -p acp-operator --bin acp-cvo -p acp-cli --bin ac
bash scripts/image-rootfs.sh "target/$target/image" "$rootfs"

rm -rf "$layout"
umoci init --layout "$layout"
umoci new --image "$image"
umoci insert --image "$image" --history.created "$created" --history.created_by "scripts/image-rootfs.sh" \
  "$rootfs" /
umoci config --image "$image" --no-history --created "$created" --os linux --architecture amd64 \
  --config.user 65532:65532 --config.entrypoint /usr/local/bin/acp-cvo --config.exposedports 8080/tcp \
  --config.env PATH=/usr/local/bin
umoci gc --layout "$layout"

size=$(du -cb "$layout"/blobs/sha256/* | tail -n1 | cut -f1)
echo "image $image: $((size / 1024)) KiB in the registry ($(du -sb "$rootfs" | cut -f1 | awk '{printf "%d", $1/1024}') KiB unpacked)"
