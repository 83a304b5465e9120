#!/usr/bin/env bash
# Builds the command-line tools the tests use that no package provides (helm), from the Go module proxy,
# into target/tools. Does nothing when they are there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
tools="$PWD/target/tools"
mkdir -p "$tools"

if [ -x "$tools/helm" ] && [ "$(cat "$tools/.helm-version" 2>/dev/null)" = "$HELM_VERSION" ]; then
  exit 0
fi
echo "building helm $HELM_VERSION into target/tools (once)"
GOBIN="$tools" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$HELM_VERSION" > "$tools/.helm-version"
