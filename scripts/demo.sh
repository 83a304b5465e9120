#!/usr/bin/env bash
# The demo: a global and two workload clusters on local control planes, upgraded end to end by the operator
# and driven by `ac`. The first run builds the control planes (minutes); later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-prereqs.sh
echo "==> local Kubernetes control planes (tests/harness, cached under target/harness)"
# The demo's clusters run Kubernetes 1.32 to 1.34, which the main build serves; the 1.30 control plane
# (target k8s-1.30) only the suites need.
ACP_HARNESS_TARGETS=main bash tests/harness/build.sh
echo "==> building acp-cvo, ac and the demo"
cargo build --quiet --locked -p acp-operator -p acp-cli -p acp-demo
export ACP_BIN_DIR="$PWD/target/debug"
exec ./target/debug/acp-demo
