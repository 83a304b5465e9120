#!/usr/bin/env bash
# The demo: until the operator lands, evaluate the policy offline over the sample inventories.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin ac
for inv in deploy/samples/inventory-*.yaml; do
  [ -f "$inv" ] || continue
  echo "==> $inv"
  ./target/debug/ac adm upgrade plan --inventory "$inv" --to 4.3.1 || true
done
