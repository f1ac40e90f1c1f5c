#!/usr/bin/env bash
# Backfills stored and driven by the scheduler (REST API v2, Airflow 3's
# contract), with no CLI process, and two schedulers sharing the work: a
# dry run lists the dates, a
# backfill created through the API is run by the scheduler and worker
# within its max_active_runs, a second one for the same DAG is refused
# (409), pausing stops new runs and unpausing resumes them, the backfill
# completes, cancelling fails its queued runs and creates no more, and a
# Viewer may read backfills but not create one (403). Then `dags
# backfill` stores one the same way, and stopping it (SIGINT) leaves the
# backfill running to its end.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
export UPDRAFT__WEBSERVER__AUTH=password
t_setup

mkdir -p "$tmp/dags"
cat >"$tmp/dags/bf.yaml" <<'YAML'
bf_api:
  schedule: "@daily"
  start_date: 2024-01-01
  catchup: false
  max_active_runs: 16
  tasks:
    - task_id: work
      operator: bash
      bash_command: "sleep 1; echo $AIRFLOW_CTX_LOGICAL_DATE"
YAML
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=true
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__BASE_URL=http://127.0.0.1:$port
base=http://127.0.0.1:$port
v2=$base/api/v2

check "db migrate" "$BIN/updraft" db migrate >/dev/null
mkuser() { # NAME ROLE
  "$BIN/updraft" users create --username "$1" --firstname "${1^}" --lastname Tester \
    --email "$1@example.com" --role "$2" --password "Pw-$RANDOM-$1-x9" >/dev/null 2>&1
}
token_of() { "$BIN/updraft" users token create --username "$1" 2>/dev/null | grep -o 'udt_[A-Za-z0-9_-]*' | head -1; }
mkuser opuser Op
mkuser viewer Viewer
tok_op=$(token_of opuser)
tok_viewer=$(token_of viewer)
check "tokens are made" test -n "$tok_op" -a -n "$tok_viewer"

start_scheduler scheduler
start_scheduler scheduler2
start_worker worker w1 4
start_webserver webserver
check "webserver answers" wait_for 10 curl -sf "$base/health"
check "the DAG is parsed" wait_for 30 q_is 1 "select count(*) from dag where dag_id = 'bf_api' and version_id is not null"

# req TOKEN METHOD PATH [BODY] -> status in $code, body in $tmp/body
req() {
  local tok=$1 method=$2 path=$3 body=${4:-}
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $tok")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
  code=$(curl "${args[@]}" "$v2$path")
}
jb() { jq -r "$1" "$tmp/body"; }
runs_of() { q_tags "select count(*) from dag_run where dag_id = 'bf_api' and logical_date >= '$1' and logical_date <= '$2'"; }

# ---- dry run ---------------------------------------------------------------
week='{"dag_id":"bf_api","from_date":"2024-03-01T00:00:00Z","to_date":"2024-03-06T00:00:00Z","max_active_runs":2,"dag_run_conf":{"k":"v"}}'
req "$tok_op" POST /backfills/dry_run "$week"
check_eq "dry run: 200" 200 "$code"
check_eq "dry run: six logical dates" 6 "$(jb .total_entries)"
dry=$(jq -r '.backfills[].logical_date' "$tmp/body")
check_eq "dry run: the first is the range's start" "2024-03-01T00:00:00+00:00" "$(head -1 <<<"$dry")"
check_eq "dry run stores nothing" "0 0" "$(q_tags "select count(*) from dag_run where dag_id = 'bf_api'") $(q_tags "select count(*) from backfill")"

# ---- permissions -------------------------------------------------------------
req "$tok_viewer" POST /backfills "$week"
check_eq "a Viewer may not create a backfill: 403" 403 "$code"
req "$tok_viewer" POST /backfills/dry_run "$week"
check_eq "nor dry-run one: 403" 403 "$code"
req "$tok_viewer" GET "/backfills?dag_id=bf_api"
check_eq "a Viewer may list backfills: 200" 200 "$code"

# ---- bad requests ------------------------------------------------------------
req "$tok_op" POST /backfills '{"dag_id":"bf_api","from_date":"2024-03-01T00:00:00Z"}'
check_eq "to_date missing: 400" 400 "$code"
req "$tok_op" POST /backfills '{"dag_id":"bf_api","from_date":"2024-03-05T00:00:00Z","to_date":"2024-03-01T00:00:00Z"}'
check_eq "end before start: 422" 422 "$code"
req "$tok_op" POST /backfills '{"dag_id":"nope","from_date":"2024-03-01T00:00:00Z","to_date":"2024-03-02T00:00:00Z"}'
check_eq "unknown DAG: 404" 404 "$code"
req "$tok_op" POST /backfills '{"dag_id":"bf_api","from_date":"2024-03-01T00:00:00Z","to_date":"2024-03-02T00:00:00Z","reprocess_behavior":"all"}'
check_eq "unknown reprocess_behavior: 400" 400 "$code"

# ---- create, pause, unpause, complete --------------------------------------
req "$tok_op" POST /backfills "$week"
check_eq "create: 200" 200 "$code"
id=$(jb .id)
check_eq "create: the fields of BackfillResponse" "bf_api|false|none|2|null|v" \
  "$(jq -r '[.dag_id, .is_paused, .reprocess_behavior, .max_active_runs, .completed_at, .dag_run_conf.k] | join("|")' "$tmp/body" | sed 's/||/|null|/')"
req "$tok_op" POST /backfills "$week"
check_eq "a second active backfill of the DAG: 409" 409 "$code"

check "the scheduler starts runs with no CLI running" wait_for 30 q_is t \
  "select count(*) > 0 from dag_run where dag_id = 'bf_api' and run_type = 'backfill'"
req "$tok_op" PUT "/backfills/$id/pause"
check_eq "pause: 200, is_paused" "200 true" "$code $(jb .is_paused)"
check "the runs started before the pause finish" wait_for 60 q_is 0 \
  "select count(*) from dag_run where dag_id = 'bf_api' and state in ('queued', 'running')"
paused_runs=$(runs_of 2024-03-01 2024-03-06)
sleep 3
check_eq "no run is created while paused" "$paused_runs" "$(runs_of 2024-03-01 2024-03-06)"
check "some dates are still to do" test "$paused_runs" -lt 6
req "$tok_op" PUT "/backfills/$id/unpause"
check_eq "unpause: 200, not paused" "200 false" "$code $(jb .is_paused)"
done_q="select count(*) from backfill where id = $id and completed_at is not null"
check "the backfill completes" wait_for 120 q_is 1 "$done_q"
check_eq "six backfill runs, all succeeded" "backfill success 6" \
  "$(q_tags "select run_type || ' ' || state || ' ' || count(*) from dag_run where dag_id = 'bf_api' group by run_type, state")"
check_eq "the runs are the dry run's dates" "$dry" \
  "$(q_tags "select to_char(logical_date at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') from dag_run where dag_id = 'bf_api' order by logical_date")"
check_eq "each run got the backfill's conf" 6 "$(q_tags "select count(*) from dag_run where dag_id = 'bf_api' and conf->>'k' = 'v'")"
check_eq "never more than max_active_runs=2 runs at once" 0 "$(q_tags "
  select count(*) from dag_run a where a.dag_id = 'bf_api' and
    (select count(*) from dag_run b where b.dag_id = 'bf_api' and b.start_date <= a.start_date
        and (b.end_date is null or b.end_date > a.start_date)) > 2")"
req "$tok_op" GET "/backfills/$id"
check_eq "get: completed_at set" "200 true" "$code $(jq -r '.completed_at != null' "$tmp/body")"
req "$tok_op" PUT "/backfills/$id/pause"
check_eq "pausing a completed backfill: 409" 409 "$code"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $tok_viewer" "$base/ui/backfills?dag_id=bf_api")
check_eq "the UI's list has the progress" "200 6 6 0" "$code $(jq -r '.backfills[0].runs | "\(.total) \(.success) \(.pending)"' "$tmp/body")"

# ---- reprocess: failed runs only, completed ones are left alone --------------
q "update dag_run set state = 'failed' where dag_id = 'bf_api' and logical_date = '2024-03-02'" >/dev/null
q "update task_instance set state = 'failed' where dag_id = 'bf_api' and run_id like '%2024-03-02%'" >/dev/null
req "$tok_op" POST /backfills/dry_run '{"dag_id":"bf_api","from_date":"2024-03-01T00:00:00Z","to_date":"2024-03-07T00:00:00Z","reprocess_behavior":"failed"}'
check_eq "dry run with reprocess failed: the failed date and the new one" \
  "2024-03-02T00:00:00+00:00 2024-03-07T00:00:00+00:00" "$(jq -r '[.backfills[].logical_date] | join(" ")' "$tmp/body")"
req "$tok_op" POST /backfills '{"dag_id":"bf_api","from_date":"2024-03-01T00:00:00Z","to_date":"2024-03-07T00:00:00Z","reprocess_behavior":"failed"}'
id2=$(jb .id)
check "the reprocessing backfill completes" wait_for 60 q_is 1 "select count(*) from backfill where id = $id2 and completed_at is not null"
check_eq "the failed run ran again (try 2) and succeeded" "success 2" \
  "$(q_tags "select d.state || ' ' || t.try_number from dag_run d join task_instance t on t.dag_run_id = d.id where d.dag_id = 'bf_api' and d.logical_date = '2024-03-02'")"
check_eq "a successful run was not touched" 1 \
  "$(q_tags "select t.try_number from task_instance t join dag_run d on d.id = t.dag_run_id where d.dag_id = 'bf_api' and d.logical_date = '2024-03-03'")"
check_eq "the skipped dates say why" "already exists 5" \
  "$(q_tags "select exception_reason || ' ' || count(*) from backfill_dag_run where backfill_id = $id2 and exception_reason is not null group by exception_reason")"

# ---- cancel ----------------------------------------------------------------
req "$tok_op" POST /backfills '{"dag_id":"bf_api","from_date":"2024-04-01T00:00:00Z","to_date":"2024-04-20T00:00:00Z","max_active_runs":1}'
id3=$(jb .id)
check "the cancelled backfill had started" wait_for 30 q_is t \
  "select count(*) > 0 from backfill_dag_run where backfill_id = $id3 and started_at is not null"
req "$tok_op" PUT "/backfills/$id3/cancel"
check_eq "cancel: 200, paused and completed" "200 true true" "$code $(jb .is_paused) $(jq -r '.completed_at != null' "$tmp/body")"
april=$(runs_of 2024-04-01 2024-04-20)
check "the live runs end" wait_for 60 q_is 0 \
  "select count(*) from dag_run where dag_id = 'bf_api' and state in ('queued', 'running')"
sleep 2
check_eq "no run is created after the cancel" "$april" "$(runs_of 2024-04-01 2024-04-20)"
check "the cancel left most of the 20 dates without a run" test "$april" -lt 10
check_eq "the April runs never overlapped (max_active_runs=1)" 0 "$(q_tags "
  select count(*) from dag_run a where a.dag_id = 'bf_api' and a.logical_date >= '2024-04-01' and
    (select count(*) from dag_run b where b.dag_id = 'bf_api' and b.logical_date >= '2024-04-01'
        and b.start_date <= a.start_date and (b.end_date is null or b.end_date > a.start_date)) > 1")"
check_eq "cancelled: its planned dates left undone" "$((20 - april))" \
  "$(q_tags "select count(*) from backfill_dag_run where backfill_id = $id3 and started_at is null")"
req "$tok_op" PUT "/backfills/$id3/cancel"
check_eq "cancelling again: 409" 409 "$code"
req "$tok_op" GET "/backfills/999999"
check_eq "an unknown backfill: 404" 404 "$code"
req "$tok_op" GET "/backfills?dag_id=bf_api&order_by=-id"
check_eq "list: three backfills, newest first" "3 $id3" "$(jb .total_entries) $(jb '.backfills[0].id')"

# ---- the CLI: the same mechanism; Ctrl-C stops only the following ---------
timeout -s INT 2 "$BIN/updraft" dags backfill bf_api -s 2024-05-01 -e 2024-05-04 >"$tmp/cli.out" 2>&1
check "the command said the backfill goes on" grep -q 'Ctrl-C stops following' "$tmp/cli.out"
check_eq "the command stored a backfill" 1 "$(q_tags "select count(*) from backfill where from_date = '2024-05-01'")"
check "the interrupted command's backfill completes" wait_for 60 q_is 1 \
  "select count(*) from backfill where from_date = '2024-05-01' and completed_at is not null"
check_eq "its four runs succeeded" "success 4" \
  "$(q_tags "select state || ' ' || count(*) from dag_run where dag_id = 'bf_api' and logical_date >= '2024-05-01' group by state")"

no_sanitizer_reports() { ! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp"/*.log; }
check "no sanitizer reports" no_sanitizer_reports
[ "$T_FAILED" -eq 0 ]
