#!/usr/bin/env bash
# Fails when a generated file differs from what its source generates today.
# deploy/crds/*.yaml come from the Rust types in crates/api (crdgen).
set -euo pipefail
cd "$(dirname "$0")/.."

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! cargo run --quiet --locked -p acp-api --bin crdgen -- "$tmp/crds" 2>"$tmp/crdgen.log"; then
  cat "$tmp/crdgen.log" >&2
  echo "crdgen failed (output above): fix the build of crates/api, then run this script again." >&2
  exit 1
fi

if ! diff -ru deploy/crds "$tmp/crds" >"$tmp/crds.diff"; then
  cat "$tmp/crds.diff" >&2
  echo >&2
  echo "deploy/crds is out of date with the API types in crates/api (diff above: committed -> generated)." >&2
  echo "Regenerate and commit:  cargo run -p acp-api --bin crdgen && git add deploy/crds charts/acp-cvo/crds" >&2
  exit 1
fi
echo "deploy/crds matches crates/api"
