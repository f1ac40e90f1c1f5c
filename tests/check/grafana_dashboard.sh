#!/usr/bin/env bash
# deploy/grafana/updraft.json is a dashboard Grafana imports, over the metrics
# docs/metrics.md's generated table lists (tests/deploy/grafana_check.py says
# what is checked). Then the checker itself: copies of the dashboard with one
# fault each must fail it. integration/test_prometheus.sh checks the same
# dashboard against live /metrics answers and has Prometheus evaluate every
# expression.
set -u
cd "$(dirname "$0")/../.."
DASH=deploy/grafana/updraft.json
CHECK=tests/deploy/grafana_check.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bad=0

if ! python3 "$CHECK" "$DASH" --docs docs/metrics.md >"$work/out" 2>&1; then
  grep -v '^PASS' "$work/out"
  bad=$((bad + 1))
fi
checks=$(grep -c '^PASS' "$work/out")

# fault NAME JQ_FILTER: the dashboard changed by FILTER must fail the checker.
fault() {
  jq "$2" "$DASH" >"$work/fault.json" || { echo "$1: the filter does not apply"; bad=$((bad + 1)); return; }
  if python3 "$CHECK" "$work/fault.json" --docs docs/metrics.md >"$work/fault.out" 2>&1; then
    echo "$DASH with $1 passes the checker"
    bad=$((bad + 1))
  fi
}
fault "a panel id twice" '.panels[2].id = .panels[1].id'
fault "two panels overlapping" '.panels[2].gridPos = .panels[1].gridPos'
fault "a panel past the 24 columns" '.panels[1].gridPos.x = 20'
fault "a metric that does not exist" '.panels[1].targets[0].expr |= sub("updraft_scheduler_loop_duration_seconds"; "updraft_scheduler_loop_seconds")'
fault "rate() of a gauge" '(.panels[] | select(.title == "Queue length") | .targets[0].expr) = "rate(updraft_queue_length[5m])"'
fault "histogram_quantile over a counter" '.panels[1].targets[0].expr = "histogram_quantile(0.5, rate(updraft_ti_start_total[5m]))"'
fault "an undefined variable" '.panels[1].targets[0].expr |= sub("\\$hostname"; "$host")'
fault "an expression without an updraft_ metric" '.panels[1].targets[0].expr = "up"'
fault "a metric on no panel" 'del(.panels[] | select(.title == "Alerts backlog"))'
fault "no uid" 'del(.uid)'
fault "no dag_id variable" 'del(.templating.list[] | select(.name == "dag_id"))'

if [ "$bad" -ne 0 ]; then
  echo "grafana_dashboard: $bad problem(s)"
  exit 1
fi
echo "grafana_dashboard: $checks checks pass, 11 faulty copies refused"
