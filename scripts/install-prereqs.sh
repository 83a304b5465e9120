#!/usr/bin/env bash
# Installs what building and testing need on a fresh machine; does nothing when it is all there.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi
if ! command -v go >/dev/null 2>&1; then
  echo "go is missing: the test harness builds Kubernetes from Go sources; install Go >= 1.24" >&2
  exit 1
fi
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
  pip install --quiet pyyaml
fi
# Static (musl) builds for the operator image.
if command -v rustup >/dev/null 2>&1 &&
  ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  rustup target add x86_64-unknown-linux-musl
fi
# Debian packages, installed only when their command is missing: a real OCI registry for the release-bundle
# tests; chromium and its WebDriver for the console's browser test; musl-gcc for the static builds' C code
# (ring); umoci to pack the operator image (scripts/image.sh) and unpack it, runc to run it (container
# tests); shellcheck, which actionlint runs on the workflow's scripts.
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v musl-gcc >/dev/null 2>&1 || missing+=(musl-tools)
command -v umoci >/dev/null 2>&1 || missing+=(umoci)
[ -x /usr/sbin/runc ] || command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
