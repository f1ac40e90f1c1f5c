#!/usr/bin/env bash
# The metrics end to end, through a real Prometheus: Postgres, Redis, a
# scheduler and two workers with --health-port and a webserver with logins;
# Debian's prometheus scrapes the four /metrics each second (the webserver's
# with a bearer token). A DAG whose tasks succeed, fail, retry and succeed,
# and retry and fail runs twice; then PromQL through Prometheus's HTTP API
# gives the finished tries by state, the tries started, the task durations
# observed and the failed runs that Postgres holds; every target is up;
# promtool check metrics finds no problem in any exposition; and the Grafana
# dashboard (deploy/grafana/updraft.json) names only metrics the daemons
# expose, each of its expressions evaluating in Prometheus.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  echo "ok 1 - prometheus end to end # SKIP prometheus or promtool is not installed (bash deploy/install-deps.sh installs Debian's prometheus)"
  exit 0
fi

t_setup
mkdir -p "$tmp/dags"
D=prom_mix
cat >"$tmp/dags/prom.yaml" <<YAML
$D:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: ok, operator: bash, bash_command: "true"}
    - {task_id: boom, operator: bash, bash_command: "exit 1"}
    - task_id: flaky
      operator: bash
      bash_command: 'if [ "\$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then exit 1; fi'
      retries: 1
      retry_delay_sec: 0
    - task_id: hopeless
      operator: bash
      bash_command: "exit 3"
      retries: 1
      retry_delay_sec: 0
    - {task_id: after_boom, operator: bash, bash_command: "true", dependencies: [boom]}
    - {task_id: after_ok, operator: bash, bash_command: "true", dependencies: [ok]}
YAML

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
quiet() { "$@" >/dev/null 2>&1; }
check "db migrate" quiet "$BIN/updraft" db migrate

# The webserver's /metrics is behind its logins: Prometheus presents a token.
pw=Prom-$RANDOM-pass
"$BIN/updraft" users create --username prom --firstname Prom --lastname Scraper --email prom@example.com \
  --role Viewer --password "$pw" >/dev/null 2>"$tmp/cli.err" || not_ok "create the scraping user" "$(cat "$tmp/cli.err")"
"$BIN/updraft" users token create --username prom 2>/dev/null | grep -o 'udt_[A-Za-z0-9_-]*' | head -1 >"$tmp/prom.token"
chmod 600 "$tmp/prom.token"
check "a token for Prometheus" test -s "$tmp/prom.token"

hs=$(svc_free_port); hw1=$(svc_free_port); hw2=$(svc_free_port); wp=$(svc_free_port)
start_scheduler scheduler --health-port "$hs"
start_worker worker1 prom-w1 4 --health-port "$hw1"
start_worker worker2 prom-w2 4 --health-port "$hw2"
UPDRAFT__WEBSERVER__AUTH=password UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$wp start_webserver webserver

svc_start_prometheus "$tmp" "scheduler=127.0.0.1:$hs" "worker=127.0.0.1:$hw1" "worker=127.0.0.1:$hw2" \
  "webserver=127.0.0.1:$wp,bearer_file=$tmp/prom.token" >"$tmp/prometheus-start.log" 2>&1
rc=$?
check_eq "prometheus starts on loopback" 0 "$rc"
[ "$rc" -eq 0 ] || { sed 's/^/# /' "$tmp/prometheus-start.log"; exit 1; }

dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id = '$D' AND version_id IS NOT NULL")" = 1 ]; }
check "the DAG is parsed" wait_for 30 dags_in
for r in r1 r2; do "$BIN/updraft" dags trigger "$D" --run-id "$r" >/dev/null 2>&1 || not_ok "trigger $r"; done
check "both runs finish" wait_for 90 q_is 2 "SELECT count(*) FROM dag_run WHERE dag_id = '$D' AND state IN ('success', 'failed')"
check_eq "Postgres: the tasks ended as written" \
  "after_boom upstream_failed 0|after_ok success 1|boom failed 1|flaky success 2|hopeless failed 2|ok success 1" \
  "$(q "SELECT string_agg(DISTINCT task_id || ' ' || state || ' ' || try_number, '|' ORDER BY task_id || ' ' || state || ' ' || try_number)
          FROM task_instance WHERE dag_id = '$D'")"

# ---- what Postgres says, what Prometheus says ------------------------------------
# Every try that ran ended in one callback event (migration 0009): task_success,
# task_failure or task_retry, written in the transaction of its outcome.
pg_finish=$(q "SELECT string_agg(st || '=' || n, ' ' ORDER BY st) FROM (
                 SELECT CASE kind WHEN 'task_success' THEN 'success' WHEN 'task_failure' THEN 'failed'
                                  WHEN 'task_retry' THEN 'up_for_retry' END AS st, count(*) AS n
                   FROM callback_event WHERE dag_id = '$D' AND kind LIKE 'task\_%' GROUP BY 1) s")
pg_tries=$(q "SELECT count(*) FROM callback_event WHERE dag_id = '$D' AND kind LIKE 'task\_%'")
pg_failed_runs=$(q "SELECT count(*) FROM dag_run WHERE dag_id = '$D' AND state = 'failed'")
echo "# Postgres: finished tries by state: $pg_finish; tries: $pg_tries; failed runs: $pg_failed_runs"

# promql_vec PROMQL: the instant vector as "label=value ..." sorted (the one
# label it is summed by, or the value alone for a scalar-like single series).
promql_vec() {
  svc_prom_query "$1" | jq -r '
    if .status != "success" then "error: \(.error)" else
    [.data.result[] | ((.metric | to_entries | map(.value) | join(",")) as $k
      | (.value[1] | tonumber | round | tostring) as $v | if $k == "" then $v else "\($k)=\($v)" end)]
    | sort | join(" ") end'
}
# prom_is EXPECTED PROMQL (for wait_for): Prometheus has scraped what Postgres holds
prom_is() { [ "$(promql_vec "$2")" = "$1" ]; }
finish_q="sum by (state) (updraft_ti_finish_total{dag_id=\"$D\"})"
wait_for 30 prom_is "$pg_finish" "$finish_q"
check_eq "PromQL: finished tries by state equal Postgres's ($finish_q)" "$pg_finish" "$(promql_vec "$finish_q")"
wait_for 10 prom_is "$pg_tries" "sum(updraft_ti_start_total{dag_id=\"$D\"})"
check_eq "PromQL: tries started equal the tries Postgres recorded" "$pg_tries" \
  "$(promql_vec "sum(updraft_ti_start_total{dag_id=\"$D\"})")"
wait_for 10 prom_is "$pg_tries" "sum(updraft_task_duration_seconds_count{dag_id=\"$D\"})"
check_eq "PromQL: one task duration observed per try" "$pg_tries" \
  "$(promql_vec "sum(updraft_task_duration_seconds_count{dag_id=\"$D\"})")"
wait_for 10 prom_is "$pg_failed_runs" "sum(updraft_dagrun_duration_failed_seconds_count{dag_id=\"$D\"})"
check_eq "PromQL: one failed-run duration per failed run" "$pg_failed_runs" \
  "$(promql_vec "sum(updraft_dagrun_duration_failed_seconds_count{dag_id=\"$D\"})")"
# ti_successes and ti_failures carry no DAG: this cluster runs no other.
pg_sf=$(q "SELECT count(*) FILTER (WHERE kind = 'task_success') || ' ' || count(*) FILTER (WHERE kind IN ('task_failure', 'task_retry'))
             FROM callback_event WHERE kind LIKE 'task\_%'")
check_eq "PromQL: ti_successes and ti_failures (failed and up_for_retry) equal Postgres's" "$pg_sf" \
  "$(promql_vec 'sum(updraft_ti_successes_total)') $(promql_vec 'sum(updraft_ti_failures_total)')"
check_eq "PromQL: finished tries by task equal Postgres's" \
  "$(q "SELECT string_agg(task_id || '=' || n, ' ' ORDER BY task_id || '=' || n) FROM (
          SELECT task_id, count(*) AS n FROM callback_event WHERE dag_id = '$D' AND kind LIKE 'task\_%' GROUP BY 1) s")" \
  "$(promql_vec "sum by (task_id) (updraft_ti_finish_total{dag_id=\"$D\"})")"

up_all() { [ "$(promql_vec 'sum by (job) (up == 1)')" = "scheduler=1 webserver=1 worker=2" ]; }
wait_for 20 up_all
check_eq "up is 1 for every target" "scheduler=1 webserver=1 worker=2" "$(promql_vec 'sum by (job) (up == 1)')"
# positive PROMQL: the single value it gives is above 0
positive() { local v; v=$(promql_vec "$1"); [[ $v =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ]; }
check "the scheduler's heartbeats reach Prometheus" positive 'sum(updraft_scheduler_heartbeat_total{component="scheduler"})'
check "Prometheus holds series of all three components" \
  test "$(promql_vec 'count(count by (component) ({__name__=~"updraft_.+"}))')" = 3
check_eq "every series carries component and hostname" "" \
  "$(svc_prom_query 'count by (__name__) ({__name__=~"updraft_.+", component=""} or {__name__=~"updraft_.+", hostname=""})' |
     jq -r '.data.result[].metric.__name__' | sort -u | tr '\n' ' ')"

# ---- each exposition: promtool, labels, credentials ------------------------------
curl -sf "http://127.0.0.1:$hs/metrics" >"$tmp/expo_scheduler.txt"
curl -sf "http://127.0.0.1:$hw1/metrics" >"$tmp/expo_worker1.txt"
curl -sf "http://127.0.0.1:$hw2/metrics" >"$tmp/expo_worker2.txt"
curl -sf -H "Authorization: Bearer $(cat "$tmp/prom.token")" "http://127.0.0.1:$wp/metrics" >"$tmp/expo_webserver.txt"
for e in scheduler worker1 worker2 webserver; do
  f=$tmp/expo_$e.txt
  if [ ! -s "$f" ]; then
    not_ok "$e: /metrics answers" "empty or refused"
    continue
  fi
  promtool check metrics <"$f" >"$tmp/promtool_$e.out" 2>&1
  rc=$?
  check_eq "$e: promtool check metrics finds no problem" "0:" "$rc:$(tr '\n' ' ' <"$tmp/promtool_$e.out")"
  comp=${e%[12]}
  check "$e: its series say component=\"$comp\"" grep -q "^updraft_[a-z_]*{.*component=\"$comp\"" "$f"
done
check "worker 1's series name its hostname" grep -q 'hostname="prom-w1"' "$tmp/expo_worker1.txt"
check_eq "the webserver's /metrics refuses a caller without credentials" 401 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$wp/metrics")"

# ---- the Grafana dashboard against the live metrics ------------------------------
python3 tests/deploy/grafana_check.py deploy/grafana/updraft.json --docs docs/metrics.md --exposition "$tmp"/expo_*.txt >"$tmp/grafana.out" 2>&1
while read -r verdict rest; do
  case $verdict in
    PASS) ok "dashboard (live /metrics): $rest" ;;
    FAIL) not_ok "dashboard (live /metrics): ${rest%%: *}" "${rest#*: }" ;;
  esac
done <"$tmp/grafana.out"
bad=""; empty=""; n=0
while IFS=$'\t' read -r pid ref expr; do
  n=$((n + 1))
  st=$(svc_prom_query "$expr" | jq -r '.status + " " + (.data.result | length | tostring)' 2>/dev/null)
  case $st in
    "success 0") empty="$empty $pid$ref" ;;
    success*) ;;
    *) bad="$bad panel $pid $ref;" ;;
  esac
done < <(python3 tests/deploy/grafana_check.py deploy/grafana/updraft.json --exprs)
check_eq "Prometheus evaluates every one of the dashboard's $n expressions" "" "$bad"
echo "# expressions without data in this short run (panel id and refId):${empty:- none}"
# The panels this run must have fed.
for expr in "sum by (state) (rate(updraft_ti_finish_total{dag_id=~\".*\"}[1m]))" \
            "histogram_quantile(0.99, sum by (le) (rate(updraft_task_duration_seconds_bucket[1m])))" \
            "histogram_quantile(0.5, sum by (le, hostname) (rate(updraft_scheduler_loop_duration_seconds_bucket[1m])))" \
            "sum by (hostname) (updraft_worker_slots_free)"; do
  check "the dashboard's \"$expr\" has data" test "$(svc_prom_query "$expr" | jq '.data.result | length')" != 0
done
