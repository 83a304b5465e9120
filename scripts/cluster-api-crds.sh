#!/usr/bin/env bash
# Fetches the Cluster API CRDs (every core CRD, the KubeadmControlPlane and the kubeadm bootstrap kinds), with
# their real schemas, from the Cluster API Go module on the Go module proxy into target/cluster-api/crds.
# The e2e suite installs them in the global cluster. Does nothing when they are there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER_API_VERSION="$(tr -d '[:space:]' <tests/harness/cluster-api-version)"
proxy="${GOPROXY:-https://proxy.golang.org}"
proxy="${proxy%%,*}"
out="$PWD/target/cluster-api"
crds="$out/crds"

stamp="$CLUSTER_API_VERSION $(sha256sum <"$0" | cut -d' ' -f1)"
if [ -d "$crds" ] && [ "$(cat "$out/.version" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
echo "fetching the Cluster API $CLUSTER_API_VERSION CRDs into target/cluster-api (once)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/module.zip" "$proxy/sigs.k8s.io/cluster-api/@v/$CLUSTER_API_VERSION.zip"
module="sigs.k8s.io/cluster-api@$CLUSTER_API_VERSION"
rm -rf "$crds" && mkdir -p "$crds"
# Every core CRD (the core manager watches them all), the KubeadmControlPlane and kubeadm bootstrap kinds.
for file in \
  config/crd/bases/addons.cluster.x-k8s.io_clusterresourcesetbindings.yaml \
  config/crd/bases/addons.cluster.x-k8s.io_clusterresourcesets.yaml \
  config/crd/bases/cluster.x-k8s.io_clusterclasses.yaml \
  config/crd/bases/cluster.x-k8s.io_clusters.yaml \
  config/crd/bases/cluster.x-k8s.io_machinedeployments.yaml \
  config/crd/bases/cluster.x-k8s.io_machinedrainrules.yaml \
  config/crd/bases/cluster.x-k8s.io_machinehealthchecks.yaml \
  config/crd/bases/cluster.x-k8s.io_machinepools.yaml \
  config/crd/bases/cluster.x-k8s.io_machines.yaml \
  config/crd/bases/cluster.x-k8s.io_machinesets.yaml \
  config/crd/bases/ipam.cluster.x-k8s.io_ipaddressclaims.yaml \
  config/crd/bases/ipam.cluster.x-k8s.io_ipaddresses.yaml \
  config/crd/bases/runtime.cluster.x-k8s.io_extensionconfigs.yaml \
  controlplane/kubeadm/config/crd/bases/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml \
  controlplane/kubeadm/config/crd/bases/controlplane.cluster.x-k8s.io_kubeadmcontrolplanetemplates.yaml \
  bootstrap/kubeadm/config/crd/bases/bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml \
  bootstrap/kubeadm/config/crd/bases/bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml; do
  unzip -p "$tmp/module.zip" "$module/$file" > "$crds/$(basename "$file")"
done
echo "$stamp" > "$out/.version"
