#!/usr/bin/env bash
# Builds the command-line tools the tests use that no package provides, from the Go module proxy, into
# target/tools: helm (chart checks), cosign (signature interop tests) and actionlint (the users' GitHub
# workflow). Each is built once and rebuilt only when its pinned version changes. `scripts/tools.sh helm`
# (or cosign, actionlint) builds one.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
# v2 keeps cosign's key-based signatures in the registry as `sha256-<digest>.sig` images, the layout
# acp-bundle reads and writes.
COSIGN_VERSION=v2.6.5
ACTIONLINT_VERSION=v1.7.12
tools="$PWD/target/tools"
mkdir -p "$tools"

fresh() { [ -x "$tools/$1" ] && [ "$(cat "$tools/.$1-version" 2>/dev/null)" = "$2" ]; }

build_helm() {
  fresh helm "$HELM_VERSION" && return 0
  echo "building helm $HELM_VERSION into target/tools (once)"
  GOBIN="$tools" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "$HELM_VERSION" > "$tools/.helm-version"
}

build_cosign() {
  fresh cosign "$COSIGN_VERSION" && return 0
  echo "building cosign $COSIGN_VERSION into target/tools (once; several minutes)"
  GOBIN="$tools" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
    "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
  echo "$COSIGN_VERSION" > "$tools/.cosign-version"
}

build_actionlint() {
  fresh actionlint "$ACTIONLINT_VERSION" && return 0
  echo "building actionlint $ACTIONLINT_VERSION into target/tools (once)"
  GOBIN="$tools" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  echo "$ACTIONLINT_VERSION" > "$tools/.actionlint-version"
}

case "${1:-all}" in
  helm) build_helm ;;
  cosign) build_cosign ;;
  actionlint) build_actionlint ;;
  all) build_helm; build_cosign; build_actionlint ;;
  *) echo "usage: scripts/tools.sh [helm|cosign|actionlint|all]" >&2; exit 2 ;;
esac
