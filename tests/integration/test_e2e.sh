#!/usr/bin/env bash
# End to end: real Postgres, Redis, scheduler, two workers and the webserver.
# Triggers the example DAGs, follows them through the REST API to their final
# states, reads a task log, and shows that a broken DAG file is reported
# under importErrors while the other DAGs keep running.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=25
t_setup
mkdir -p "$tmp/dags"
cp -r examples/dags/*.y*ml examples/dags/callables "$tmp/dags/"
printf 'broken_dag:\n  schedule: "@daily"\n  tasks:\n    - task_id: a\n      operator: bash\n      bash_command: "echo a"\n      dependencies: [missing_task]\n' >"$tmp/dags/broken.yaml"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=true
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
api=http://127.0.0.1:$port/api/v1
# As updraft standalone sets them for the examples.
export CONFIG_ROOT_DIR=$tmp/dags
export UPDRAFT_CONN_LOCAL_API=http://127.0.0.1:$port

check "db migrate" "$BIN/updraft" db migrate
check "db migrate is idempotent" "$BIN/updraft" db migrate
check "db check" "$BIN/updraft" db check

start_scheduler scheduler
start_worker worker1 w1 4
start_worker worker2 w2 4 --queues default,io,cpu
start_webserver webserver

dag_count() { json_ok "$api/dags" '[.dags[].dag_id] | index("example_etl") and index("example_retry") and index("example_hello")'; }
check "example DAGs appear in GET /api/v1/dags" wait_for 30 dag_count

health_ok() { json_ok "http://127.0.0.1:$port/health" '.metadatabase.status == "healthy" and .scheduler.status == "healthy"'; }
check "/health reports metadatabase and scheduler healthy" wait_for 20 health_ok

# Unpause through the API, trigger through the CLI and the API.
for d in example_etl example_retry example_hello; do
  curl -sf -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": false}' "$api/dags/$d" >/dev/null
done
check_eq "PATCH is_paused=false" "false" "$(curl -sf "$api/dags/example_etl" | jq -r .is_paused)"
check "dags trigger (CLI)" "$BIN/updraft" dags trigger example_etl --run-id e2e_etl --conf '{"k": 1}'
check "dags trigger example_retry" "$BIN/updraft" dags trigger example_retry --run-id e2e_retry
code=$(curl -s -o "$tmp/post.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"dag_run_id": "e2e_hello"}' "$api/dags/example_hello/dagRuns")
check_eq "POST dagRuns answers 200" "200" "$code"

check "example_etl run finishes" wait_for 60 api_run_done example_etl e2e_etl
check "example_retry run finishes" wait_for 60 api_run_done example_retry e2e_retry
check "example_hello run finishes" wait_for 60 api_run_done example_hello e2e_hello

check_eq "example_etl run state" success "$(curl -sf "$api/dags/example_etl/dagRuns/e2e_etl" | jq -r .state)"
tis=$(curl -sf "$api/dags/example_etl/dagRuns/e2e_etl/taskInstances")
check "example_etl has several task instances" test "$(echo "$tis" | jq '.total_entries')" -ge 4
check_eq "every example_etl task succeeded" "success" "$(echo "$tis" | jq -r '[.task_instances[].state] | unique | join(",")')"
check_eq "example_etl tasks ran on both workers or one (hostname set)" "0" \
  "$(echo "$tis" | jq '[.task_instances[] | select(.operator == "BashOperator" and .hostname == "")] | length')"

rtis=$(curl -sf "$api/dags/example_retry/dagRuns/e2e_retry/taskInstances")
check_eq "example_retry run succeeds after a retry" success "$(curl -sf "$api/dags/example_retry/dagRuns/e2e_retry" | jq -r .state)"
check "a task of example_retry needed two tries" test "$(echo "$rtis" | jq '[.task_instances[].try_number] | max')" -ge 2

check_eq "example_hello run state" success "$(curl -sf "$api/dags/example_hello/dagRuns/e2e_hello" | jq -r .state)"

# A task's log, through the API, in JSON and plain text.
task=$(echo "$tis" | jq -r '[.task_instances[] | select(.operator == "BashOperator")][0].task_id')
try=$(echo "$tis" | jq -r "[.task_instances[] | select(.task_id == \"$task\")][0].try_number")
logjson=$(curl -sf "$api/dags/example_etl/dagRuns/e2e_etl/taskInstances/$task/logs/$try")
check "task log (JSON) has content" test -n "$(echo "$logjson" | jq -r '.content // empty')"
logtext=$(curl -sf -H 'Accept: text/plain' "$api/dags/example_etl/dagRuns/e2e_etl/taskInstances/$task/logs/$try")
check "task log (text/plain) mentions the exit code" grep -qi 'exit' <<<"$logtext"
# Airflow's context variables reach the task (the hello DAG echoes them).
hlog=$(for t in $(curl -sf "$api/dags/example_hello/dagRuns/e2e_hello/taskInstances" | jq -r '.task_instances[].task_id'); do
  curl -sf -H 'Accept: text/plain' "$api/dags/example_hello/dagRuns/e2e_hello/taskInstances/$t/logs/1"; done)
check "AIRFLOW_CTX_DAG_ID reaches the task" grep -q 'example_hello' <<<"$hlog"

# Every other example runs as shipped (the one-per-feature examples).
more="example_operators example_branching example_mapping example_pools example_queues example_timeout example_trigger_rules example_task_groups"
for d in $more; do
  curl -sf -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": false}' "$api/dags/$d" >/dev/null ||
    not_ok "unpause $d"
  "$BIN/updraft" dags trigger "$d" --run-id "e2e_$d" >/dev/null 2>&1 || not_ok "trigger $d"
done
for d in $more; do
  check "$d run finishes" wait_for 90 api_run_done "$d" "e2e_$d"
done
states=""
for d in $more; do states="$states $d=$(curl -sf "$api/dags/$d/dagRuns/e2e_$d" | jq -r .state)"; done
check_eq "every example run succeeds" \
  "$(for d in $more; do printf ' %s=success' "$d"; done)" "$states"
check_eq "example_operators: python result mapped into three instances, each pushed its result" \
  "0:0 1:10 2:20" \
  "$(svc_psql -c "SELECT string_agg(map_index || ':' || value::text, ' ' ORDER BY map_index) FROM xcom
                   WHERE dag_id = 'example_operators' AND task_id = 'process_batch' AND key = 'return_value'")"
check_eq "the API lists the mapped instances" "0 1 2" \
  "$(curl -sf "$api/dags/example_operators/dagRuns/e2e_example_operators/taskInstances/process_batch/listMapped" |
     jq -r '[.task_instances[].map_index | tostring] | join(" ")')"
check_eq "and one by its map index" "process_batch 2 success" \
  "$(curl -sf "$api/dags/example_operators/dagRuns/e2e_example_operators/taskInstances/process_batch/2" |
     jq -r '"\(.task_id) \(.map_index) \(.state)"')"
check_eq "example_branching: one path taken, short circuit skipped processing, manual run publishes" \
  "1 skipped success" \
  "$(svc_psql -c "SELECT (SELECT count(*) FROM task_instance WHERE dag_id = 'example_branching' AND run_id = 'e2e_example_branching' AND task_id LIKE '%_path' AND state = 'success')
                    || ' ' || (SELECT state FROM task_instance WHERE dag_id = 'example_branching' AND run_id = 'e2e_example_branching' AND task_id = 'process')
                    || ' ' || (SELECT state FROM task_instance WHERE dag_id = 'example_branching' AND run_id = 'e2e_example_branching' AND task_id = 'publish')")"
check_eq "example_timeout: too_slow timed out twice, cleanup ran" "failed 2 success" \
  "$(svc_psql -c "SELECT (SELECT state || ' ' || try_number FROM task_instance WHERE dag_id = 'example_timeout' AND run_id = 'e2e_example_timeout' AND task_id = 'too_slow')
                    || ' ' || (SELECT state FROM task_instance WHERE dag_id = 'example_timeout' AND run_id = 'e2e_example_timeout' AND task_id = 'cleanup')")"

# The broken file is an import error with path:line:col, the rest runs on.
ie() { json_ok "$api/importErrors" 'any(.import_errors[]; .filename | endswith("broken.yaml"))'; }
check "broken DAG file listed in /api/v1/importErrors" wait_for 20 ie
trace=$(curl -sf "$api/importErrors" | jq -r '.import_errors[] | select(.filename | endswith("broken.yaml")) | .stack_trace')
check "import error is path:line:col: message" grep -Eq 'broken\.yaml:[0-9]+:[0-9]+: .*missing_task' <<<"$trace"
check_eq "broken DAG is not in the DAG list" "0" "$(curl -sf "$api/dags" | jq '[.dags[] | select(.dag_id == "broken_dag")] | length')"
"$BIN/updraft" dags list-import-errors >"$tmp/ie.txt" 2>&1
check_eq "dags list-import-errors exits 1" 1 "$?"
check "dags list-import-errors prints path:line:col" grep -Eq 'broken\.yaml:[0-9]+:[0-9]+:' "$tmp/ie.txt"

# Fixing the file clears the error.
printf 'broken_dag:\n  tasks:\n    - task_id: a\n      operator: bash\n      bash_command: "echo fixed"\n' >"$tmp/dags/broken.yaml"
ie_gone() { ! ie && curl -sf "$api/dags/broken_dag" >/dev/null; }
check "fixed file: import error gone, DAG present" wait_for 20 ie_gone

# API problem bodies.
code=$(curl -s -o "$tmp/p.json" -w '%{http_code}' "$api/dags/no_such_dag")
check_eq "unknown DAG is 404" 404 "$code"
check_eq "404 has a problem body" 404 "$(jq -r .status "$tmp/p.json")"
code=$(curl -s -o "$tmp/p.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{bad json' "$api/dags/example_hello/dagRuns")
check_eq "malformed JSON is 400" 400 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"dag_run_id": "e2e_hello"}' "$api/dags/example_hello/dagRuns")
check_eq "duplicate dag_run_id is 409" 409 "$code"

# Figures for the notes (not assertions): trigger-to-first-task and hop times.
svc_psql -c "
  select '# trigger->first task running (ms): ' || round(extract(epoch from min(ti.start_date) - dr.queued_at) * 1000, 1)
    from dag_run dr join task_instance ti on ti.dag_run_id = dr.id
   where dr.run_id = 'e2e_hello' and ti.start_date is not null group by dr.queued_at;" || true
svc_psql -c "
  select '# chain hop upstream end -> downstream start (ms, example_hello): ' ||
         string_agg(round(extract(epoch from d.start_date - u.end_date) * 1000, 1)::text, ' ' order by d.start_date)
    from task_instance d join task_instance u on u.dag_run_id = d.dag_run_id
    join dag_run dr on dr.id = d.dag_run_id
    join dag_version v on v.id = dr.dag_version_id
   where dr.run_id = 'e2e_hello' and d.operator = 'BashOperator' and u.operator = 'BashOperator'
     and (v.data->'tasks'->d.task_id->'upstream_task_ids') ? u.task_id;" || true

# Clean shutdown: every daemon exits 0 on SIGTERM.
rcs=""
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs$?"; done
pids=()
check_eq "daemons exit 0 on SIGTERM" "0000" "$rcs"
no_sanitizer_reports() { ! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp"/*.log; }
check "no sanitizer reports in daemon logs" no_sanitizer_reports
[ "$T_FAILED" -eq 0 ]
