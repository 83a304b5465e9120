#!/usr/bin/env bash
# Fetches the Cluster API CRDs (core Cluster/Machine/MachineDeployment/MachineSet and the KubeadmControlPlane),
# with their real schemas, from the Cluster API Go module on the Go module proxy into target/cluster-api/crds.
# The e2e suite installs them in the global cluster. Does nothing when they are there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER_API_VERSION=v1.13.6
proxy="${GOPROXY:-https://proxy.golang.org}"
proxy="${proxy%%,*}"
out="$PWD/target/cluster-api"
crds="$out/crds"

if [ -d "$crds" ] && [ "$(cat "$out/.version" 2>/dev/null)" = "$CLUSTER_API_VERSION" ]; then
  exit 0
fi
echo "fetching the Cluster API $CLUSTER_API_VERSION CRDs into target/cluster-api (once)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/module.zip" "$proxy/sigs.k8s.io/cluster-api/@v/$CLUSTER_API_VERSION.zip"
module="sigs.k8s.io/cluster-api@$CLUSTER_API_VERSION"
rm -rf "$crds" && mkdir -p "$crds"
for file in \
  config/crd/bases/cluster.x-k8s.io_clusters.yaml \
  config/crd/bases/cluster.x-k8s.io_machines.yaml \
  config/crd/bases/cluster.x-k8s.io_machinesets.yaml \
  config/crd/bases/cluster.x-k8s.io_machinedeployments.yaml \
  controlplane/kubeadm/config/crd/bases/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml; do
  unzip -p "$tmp/module.zip" "$module/$file" > "$crds/$(basename "$file")"
done
echo "$CLUSTER_API_VERSION" > "$out/.version"
