#!/usr/bin/env bash
# Creates the end-to-end topology with kind (needs Docker and kind on PATH): a global cluster and two
# workload clusters on different Kubernetes minors, writes their kubeconfigs to a directory, and prints the
# ACP_E2E_KUBECONFIGS value that makes the end-to-end tests use them instead of starting their own.
#
#   scripts/kind-up.sh [DIR]          default DIR: ./target/kind
#   scripts/kind-up.sh --down         delete the three clusters
#
# Node images (override to match your kind release):
#   KIND_IMAGE_GLOBAL (default kindest/node:v1.34.0), KIND_IMAGE_WORKLOAD_1 (kindest/node:v1.31.12),
#   KIND_IMAGE_WORKLOAD_2 (kindest/node:v1.33.4).
set -euo pipefail
cd "$(dirname "$0")/.."

clusters=(global workload-1 workload-2)
prefix="${KIND_CLUSTER_PREFIX:-acp-}"

for tool in kind docker; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "kind-up.sh: $tool is not on PATH; install it, or run the tests without ACP_E2E_KUBECONFIGS (they start their own control planes)." >&2
    exit 1
  fi
done

if [ "${1:-}" = "--down" ]; then
  for c in "${clusters[@]}"; do kind delete cluster --name "$prefix$c"; done
  exit 0
fi

dir="${1:-target/kind}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

image_for() {
  case "$1" in
    global) echo "${KIND_IMAGE_GLOBAL:-kindest/node:v1.34.0}" ;;
    workload-1) echo "${KIND_IMAGE_WORKLOAD_1:-kindest/node:v1.31.12}" ;;
    workload-2) echo "${KIND_IMAGE_WORKLOAD_2:-kindest/node:v1.33.4}" ;;
  esac
}

value=""
for c in "${clusters[@]}"; do
  kubeconfig="$dir/$c.kubeconfig"
  if kind get clusters 2>/dev/null | grep -qx "$prefix$c"; then
    echo "kind cluster $prefix$c exists; reusing it"
  else
    kind create cluster --name "$prefix$c" --config kind-config.yaml --image "$(image_for "$c")" --wait 120s
  fi
  # Embedded certificates and a 127.0.0.1 server, like the kubeconfigs of the kit's own clusters.
  kind get kubeconfig --name "$prefix$c" >"$kubeconfig"
  value="${value:+$value,}$c=$kubeconfig"
done

echo
echo "Kubeconfigs are in $dir. To run the end-to-end tests against these clusters:"
echo "  export ACP_E2E_KUBECONFIGS=$value"
