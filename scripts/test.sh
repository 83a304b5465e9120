#!/usr/bin/env bash
# Runs every test the project has, installing what it needs first. Fails when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
bash scripts/install-prereqs.sh

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

if [ -f tests/harness/build.sh ]; then
  step "real Kubernetes control-plane binaries (cached under target/harness)"
  bash tests/harness/build.sh
fi

if [ -x scripts/check-generated.sh ]; then
  step "generated files match their sources"
  bash scripts/check-generated.sh
fi

step "tools the tests use: helm, cosign, actionlint (built once into target/tools)"
bash scripts/tools.sh

step "the operator image (static binaries, OCI layout in target/oci), for the container tests"
time bash scripts/image.sh

step "Helm chart matches deploy/ and lints"
bash scripts/check-chart.sh

step "alerting rules (promtool test rules) and the Grafana dashboard"
bash scripts/check-monitoring.sh

step "tests"
cargo test --workspace --locked --no-fail-fast
