#!/usr/bin/env bash
# Builds Prometheus's promtool (used to unit-test the chart's alerting rules) from the Go module proxy into
# target/tools. Does nothing when it is there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

PROMETHEUS_VERSION=v0.316.0
tools="$PWD/target/tools"
mkdir -p "$tools"

if [ -x "$tools/promtool" ] && [ "$(cat "$tools/.promtool-version" 2>/dev/null)" = "$PROMETHEUS_VERSION" ]; then
  exit 0
fi
echo "building promtool (prometheus $PROMETHEUS_VERSION) into target/tools (once)"
GOBIN="$tools" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
  "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
echo "$PROMETHEUS_VERSION" > "$tools/.promtool-version"
