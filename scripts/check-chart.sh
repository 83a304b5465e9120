#!/usr/bin/env bash
# The Helm chart installs exactly what deploy/ installs: same CRDs byte for byte, same RBAC rules, and it lints.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
for f in deploy/crds/*.yaml; do
  c="charts/acp-cvo/crds/$(basename "$f")"
  if ! cmp -s "$f" "$c"; then
    echo "charts/acp-cvo/crds differs from deploy/crds ($(basename "$f")): run 'cp deploy/crds/*.yaml charts/acp-cvo/crds/'" >&2
    fail=1
  fi
done
for c in charts/acp-cvo/crds/*.yaml; do
  [ -f "deploy/crds/$(basename "$c")" ] || { echo "$c has no counterpart in deploy/crds: remove it" >&2; fail=1; }
done

helm="target/tools/helm"
if [ ! -x "$helm" ]; then
  bash scripts/tools.sh
fi
"$helm" lint --strict charts/acp-cvo

# RBAC rules of the chart and of deploy/ must not drift apart.
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
"$helm" template acp-cvo charts/acp-cvo >"$rendered"
python3 - "$rendered" deploy/operator/rbac.yaml <<'PY' || fail=1
import sys, yaml
def rules(path):
    out = {}
    for doc in yaml.safe_load_all(open(path)):
        if doc and doc.get("kind") in ("ClusterRole", "Role"):
            out[(doc["kind"], doc["metadata"]["name"])] = doc.get("rules")
    return out
chart, plain = rules(sys.argv[1]), rules(sys.argv[2])
if chart != plain:
    for key in sorted(set(chart) | set(plain)):
        if chart.get(key) != plain.get(key):
            print(f"RBAC drift in {key[0]} {key[1]}: charts/acp-cvo/templates/rbac.yaml and deploy/operator/rbac.yaml differ", file=sys.stderr)
    sys.exit(1)
PY
exit "$fail"
