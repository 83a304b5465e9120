#!/usr/bin/env bash
# What the chart gives Prometheus and Grafana: its alerting rules pass Prometheus's own unit tests
# (promtool, tests/monitoring/alerts.test.yaml), and its dashboard is valid JSON, identical to the copy in
# docs/, whose panels all query something. That every metric they name is one the operator exports is
# checked against a running operator by the notifications end-to-end suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/tools.sh
bash scripts/promtool.sh
helm=target/tools/helm
promtool=target/tools/promtool

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
enabled=(--set prometheusRule.enabled=true --set serviceMonitor.enabled=true --set dashboard.enabled=true)
"$helm" lint --strict charts/acp-cvo "${enabled[@]}"
"$helm" template acp-cvo charts/acp-cvo "${enabled[@]}" >"$work/chart.yaml"

python3 - "$work/chart.yaml" "$work/acp-cvo.rules.yaml" docs/dashboards/acp-cvo.json <<'PY'
import json, sys, yaml
rendered, rules_out, docs_dashboard = sys.argv[1:]
docs = {d["kind"]: d for d in yaml.safe_load_all(open(rendered)) if d}
for kind in ("PrometheusRule", "ServiceMonitor", "ConfigMap"):
    if kind not in docs:
        sys.exit(f"the chart renders no {kind} with its monitoring values enabled")
yaml.safe_dump(docs["PrometheusRule"]["spec"], open(rules_out, "w"), sort_keys=False, width=1000)

text = docs["ConfigMap"]["data"]["acp-cvo.json"]
if text.strip() != open(docs_dashboard).read().strip():
    sys.exit("charts/acp-cvo/dashboards/acp-cvo.json differs from docs/dashboards/acp-cvo.json: copy one over the other")
try:
    dashboard = json.loads(text)
except json.JSONDecodeError as err:
    sys.exit(f"the dashboard is not valid JSON: {err}")
if docs["ConfigMap"]["metadata"]["labels"].get("grafana_dashboard") != "1":
    sys.exit("the dashboard ConfigMap lacks the label grafana_dashboard: \"1\" Grafana's sidecar looks for")
for panel in dashboard["panels"]:
    if panel["type"] == "row":
        continue
    if not panel.get("targets") or not all(t.get("expr", "").strip() for t in panel["targets"]):
        sys.exit(f"dashboard panel {panel['title']!r} has a target without a query")
PY

"$promtool" check rules "$work/acp-cvo.rules.yaml"
cp tests/monitoring/alerts.test.yaml "$work/"
"$promtool" test rules "$work/alerts.test.yaml"
