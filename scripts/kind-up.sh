#!/usr/bin/env bash
# Creates the end-to-end topology with kind (needs Docker and kind on PATH): exactly the clusters listed in
# tests/e2e/kind-clusters (the roles the suites that run on existing clusters ask for, each on its kind node
# image), writes their kubeconfigs to a directory, and prints the ACP_E2E_KUBECONFIGS value that makes the
# end-to-end tests use them instead of starting their own.
#
#   scripts/kind-up.sh [DIR]          default DIR: ./target/kind
#   scripts/kind-up.sh --down         delete those clusters
#
# A node image can be overridden to match your kind release: KIND_IMAGE_<ROLE>, e.g. KIND_IMAGE_WORKLOAD_1.
set -euo pipefail
cd "$(dirname "$0")/.."

clusters=()
declare -A images
while read -r role image; do
  case "$role" in ''|'#'*) continue ;; esac
  clusters+=("$role")
  override="KIND_IMAGE_$(echo "$role" | tr 'a-z-' 'A-Z_')"
  images[$role]="${!override:-$image}"
done < tests/e2e/kind-clusters
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

value=""
for c in "${clusters[@]}"; do
  kubeconfig="$dir/$c.kubeconfig"
  if kind get clusters 2>/dev/null | grep -qx "$prefix$c"; then
    echo "kind cluster $prefix$c exists; reusing it"
  else
    kind create cluster --name "$prefix$c" --config kind-config.yaml --image "${images[$c]}" --wait 120s
  fi
  # Embedded certificates and a 127.0.0.1 server, like the kubeconfigs of the kit's own clusters.
  kind get kubeconfig --name "$prefix$c" >"$kubeconfig"
  value="${value:+$value,}$c=$kubeconfig"
done

echo
echo "Kubeconfigs are in $dir. To run the end-to-end tests against these clusters:"
echo "  export ACP_E2E_KUBECONFIGS=$value"
