#!/usr/bin/env bash
# REST API v1 and /health against a private Postgres seeded with psql:
# every implemented endpoint's shape and values (Airflow's field names),
# pagination and ordering, problem bodies for bad input, log reading in JSON
# and text/plain, PATCH is_paused, POST dagRuns (with its task instances and
# the 409 on a repeated run id), health with a live, a stale and no
# scheduler, the response cache's freshness (own writes at once, other
# writers' within a second, bypassed across a Postgres restart), and the
# database down.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=25
ws_pid=
t_cleanup_extra() {
  [ -n "$ws_pid" ] && kill -TERM "$ws_pid" 2>/dev/null && wait "$ws_pid" 2>/dev/null
  return 0
}
t_setup

if [ -x "$BIN/updraft" ]; then
  check "db migrate" "$BIN/updraft" db migrate
else
  check "schema applied" svc_psql -q -f proto/migrations/0001_init.sql
fi

# Seed: two active DAGs and an inactive one, a version each, three runs of
# etl with two task instances each, three log chunks, two import errors and
# a live scheduler.
svc_psql -q <<'SQL' || { not_ok "seed"; exit 1; }
INSERT INTO dag (dag_id, fileloc, is_paused, description, schedule, tags, owners, last_parsed_time,
                 next_dagrun, next_dagrun_create_after, start_date)
VALUES ('etl', '/dags/etl.yaml', false, 'Daily ETL', '@daily', '{etl,daily}', 'data-eng, ops',
        '2024-03-10 11:00:00.123456+00', '2024-03-10 00:00:00+00', '2024-03-11 00:00:00+00', '2024-01-01'),
       ('manual_only', '/dags/manual.yaml', true, NULL, NULL, '{}', 'airflow', now(), NULL, NULL, NULL),
       ('gone', '/dags/gone.yaml', true, NULL, '0 * * * *', '{old}', 'airflow', now(), NULL, NULL, NULL);
UPDATE dag SET is_active = false WHERE dag_id = 'gone';
INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)
SELECT d, 1, 'h', jsonb_build_object('format', 1, 'dag_id', d, 'task_order', jsonb_build_array('extract', 'load'),
       'tasks', jsonb_build_object('extract', jsonb_build_object('task_id', 'extract', 'operator', 'BashOperator', 'retries', 2),
                                   'load', jsonb_build_object('task_id', 'load', 'operator', 'EmptyOperator'))), '/dags/x.yaml'
FROM unnest(ARRAY['etl', 'manual_only']) d;
UPDATE dag SET version_id = v.id FROM dag_version v WHERE v.dag_id = dag.dag_id;
INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date, data_interval_start,
                     data_interval_end, start_date, end_date, conf, external_trigger)
SELECT 'etl', 'scheduled__2024-03-0' || i || 'T00:00:00+00:00', (SELECT id FROM dag_version WHERE dag_id = 'etl'),
       'scheduled', CASE WHEN i = 3 THEN 'running' ELSE 'success' END,
       ('2024-03-0' || i)::timestamptz, ('2024-03-0' || i)::timestamptz, ('2024-03-0' || i)::timestamptz + interval '1 day',
       ('2024-03-0' || i)::timestamptz + interval '1 day 5 seconds',
       CASE WHEN i = 3 THEN NULL ELSE ('2024-03-0' || i)::timestamptz + interval '1 day 65.5 seconds' END,
       '{"k": 1}', false
FROM generate_series(1, 3) i;
INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, try_number, max_tries, operator,
                           hostname, pid, start_date, end_date, duration, queued_at)
SELECT dr.id, dr.dag_id, dr.run_id, t,
       CASE WHEN dr.state = 'running' AND t = 'load' THEN 'none' WHEN dr.state = 'running' THEN 'running' ELSE 'success' END,
       CASE WHEN t = 'load' AND dr.state = 'running' THEN 0 ELSE 1 END, 2,
       CASE WHEN t = 'extract' THEN 'BashOperator' ELSE 'EmptyOperator' END,
       'worker-1', 4242, dr.start_date, dr.end_date, 12.5, dr.start_date - interval '1 second'
FROM dag_run dr, unnest(ARRAY['extract', 'load']) t;
INSERT INTO task_log (ti_id, try_number, data)
SELECT ti.id, 1, x FROM task_instance ti, unnest(ARRAY[E'line one\n', E'line two\n', E'line three\n']) x
WHERE ti.run_id = 'scheduled__2024-03-01T00:00:00+00:00' AND ti.task_id = 'extract';
INSERT INTO import_error (filename, stack_trace, "timestamp") VALUES
  ('/dags/broken.yaml', '/dags/broken.yaml:3:5: unknown key ''schedul''', '2024-03-10 12:00:00+00'),
  ('/dags/etl.yaml', '/dags/etl.yaml:1:1: something', '2024-03-10 12:00:01+00');
INSERT INTO job (job_type, hostname, pid, state, latest_heartbeat) VALUES ('SchedulerJob', 'host', 1, 'running', now());
INSERT INTO job (job_type, hostname, pid, state, latest_heartbeat, queues) VALUES ('WorkerJob', 'wk1', 7, 'running', now(), '{default,gpu}');
INSERT INTO job (job_type, hostname, pid, state, latest_heartbeat, queues) VALUES ('WorkerJob', 'wk2', 8, 'running', now() - interval '10 minutes', '{default}');
INSERT INTO job (job_type, hostname, pid, state, latest_heartbeat, end_date) VALUES ('WorkerJob', 'gone', 9, 'success', now(), now());
SQL

port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=4
base=http://127.0.0.1:$port
api=$base/api/v1
"$BIN/updraft-webserver" >"$tmp/webserver.log" 2>&1 &
ws_pid=$!
check "webserver answers" wait_for 10 curl -sf "$base/health"

# get URL -> body in $tmp/body, status in $code, content type in $ctype
get() {
  local out
  out=$(curl -s -o "$tmp/body" -w '%{http_code} %{content_type}' "$@")
  code=${out%% *}; ctype=${out#* }
}
jb() { jq -r "$1" "$tmp/body"; }
jqe() { jq -e "$@" >/dev/null; }
problem_ok() { # STATUS: the body is a problem document with that status
  [ "$code" = "$1" ] && [ "$ctype" = "application/problem+json" ] &&
    jq -e --argjson s "$1" '.status == $s and (.type|type) == "string" and (.title|type) == "string" and (.detail|type) == "string"' "$tmp/body" >/dev/null
}
RUN1='scheduled__2024-03-01T00%3A00%3A00%2B00%3A00'

# ---- health
get "$base/health"
check_eq "GET /health 200" 200 "$code"
check_eq "health: metadatabase healthy" healthy "$(jb .metadatabase.status)"
check_eq "health: scheduler healthy" healthy "$(jb .scheduler.status)"
check "health: heartbeat with microseconds and offset" \
  jqe '.scheduler.latest_scheduler_heartbeat | test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00:00$")' "$tmp/body"
check_eq "health: each scheduler listed" "host healthy" "$(jb '.schedulers[] | "\(.hostname) \(.status)"')"
check_eq "health: live workers with status and queues (ended ones not listed)" \
  "wk1 healthy default,gpu|wk2 unhealthy default" \
  "$(jb '[.workers[] | "\(.hostname) \(.status) \(.queues | join(","))"] | join("|")')"
get "$api/health"
check_eq "GET /api/v1/health healthy" healthy "$(jb .scheduler.status)"
svc_psql -c "UPDATE job SET latest_heartbeat = now() - interval '5 minutes'" >/dev/null
get "$base/health"
check_eq "health: stale heartbeat -> unhealthy" unhealthy "$(jb .scheduler.status)"
check "health: stale heartbeat still reported" jqe '.scheduler.latest_scheduler_heartbeat != null' "$tmp/body"
svc_psql -c "DELETE FROM job" >/dev/null
get "$base/health"
check_eq "health: no scheduler -> unhealthy" unhealthy "$(jb .scheduler.status)"
check_eq "health: no scheduler -> null heartbeat" null "$(jb .scheduler.latest_scheduler_heartbeat)"

# ---- DAGs
get "$api/dags"
check_eq "GET dags 200 application/json" "200 application/json" "$code $ctype"
check_eq "dags: only active by default" "etl manual_only" "$(jb '[.dags[].dag_id] | join(" ")')"
check_eq "dags: total_entries" 2 "$(jb .total_entries)"
check "dags: every DAG field present" jqe '.dags[0] | has("dag_id") and has("dag_display_name") and has("root_dag_id")
  and has("is_paused") and has("is_active") and has("is_subdag") and has("last_parsed_time") and has("last_pickled")
  and has("last_expired") and has("scheduler_lock") and has("pickle_id") and has("default_view") and has("fileloc")
  and has("file_token") and has("owners") and has("description") and has("schedule_interval")
  and has("timetable_description") and has("tags") and has("max_active_tasks") and has("max_active_runs")
  and has("has_task_concurrency_limits") and has("has_import_errors") and has("next_dagrun")
  and has("next_dagrun_data_interval_start") and has("next_dagrun_data_interval_end") and has("next_dagrun_create_after")' "$tmp/body"
get "$api/dags?only_active=false"
check_eq "dags: only_active=false lists inactive" 3 "$(jb .total_entries)"
get "$api/dags?only_active=false&order_by=-dag_id&limit=1&offset=1"
check_eq "dags: order_by -dag_id, limit, offset" "gone 3 1" "$(jb '[.dags[0].dag_id, .total_entries, (.dags|length)] | join(" ")')"
get "$api/dags?paused=true"
check_eq "dags: paused=true" manual_only "$(jb '[.dags[].dag_id] | join(" ")')"
get "$api/dags?tags=daily&tags=nothing"
check_eq "dags: tags filter (any)" etl "$(jb '[.dags[].dag_id] | join(" ")')"
get "$api/dags?dag_id_pattern=NUAL"
check_eq "dags: dag_id_pattern (case-insensitive substring)" manual_only "$(jb '[.dags[].dag_id] | join(" ")')"
get "$api/dags?order_by=secret_column"
check "dags: bad order_by -> 400 problem" problem_ok 400
get "$api/dags?limit=abc"
check "dags: non-integer limit -> 400 problem" problem_ok 400
get "$api/dags?offset=-1"
check "dags: negative offset -> 400 problem" problem_ok 400
get "$api/dags?only_active=maybe"
check "dags: bad boolean -> 400 problem" problem_ok 400
get "$api/dags?bogus=1"
check "dags: unknown query parameter -> 400 problem" problem_ok 400
get "$api/dags?limit=5000"
check_eq "dags: limit above maximum is clamped" 200 "$code"

get "$api/dags/etl"
check_eq "GET dag 200" 200 "$code"
check_eq "dag: values" "etl|etl|false|true|false|grid|/dags/etl.yaml|data-eng,ops|Daily ETL|etl,daily|16|16|true|false" \
  "$(jb '[.dag_id, .dag_display_name, .is_paused, .is_active, .is_subdag, .default_view, .fileloc, (.owners|join(",")), .description, ([.tags[].name]|join(",")), .max_active_tasks, .max_active_runs, .has_import_errors, .has_task_concurrency_limits] | map(tostring) | join("|")')"
check_eq "dag: schedule_interval is a CronExpression" '{"__type":"CronExpression","value":"@daily"}' "$(jq -c .schedule_interval "$tmp/body")"
check_eq "dag: last_parsed_time keeps microseconds" "2024-03-10T11:00:00.123456+00:00" "$(jb .last_parsed_time)"
check_eq "dag: next dagrun and its interval" "2024-03-10T00:00:00.000000+00:00 2024-03-10T00:00:00.000000+00:00 2024-03-11T00:00:00.000000+00:00 2024-03-11T00:00:00.000000+00:00" \
  "$(jb '[.next_dagrun, .next_dagrun_data_interval_start, .next_dagrun_data_interval_end, .next_dagrun_create_after] | join(" ")')"
check_eq "dag: nulls as Airflow" "null null null null null" "$(jq -c '[.root_dag_id, .last_pickled, .last_expired, .scheduler_lock, .pickle_id] | map(tostring) | join(" ")' -r "$tmp/body")"
get "$api/dags/manual_only"
check_eq "dag: no schedule -> null schedule_interval" null "$(jb .schedule_interval)"
get "$api/dags/nope"
check "GET unknown dag -> 404 problem" problem_ok 404

# ---- PATCH
get -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": true}' "$api/dags/etl?update_mask=is_paused"
check_eq "PATCH is_paused=true -> 200 with the DAG" "200 true" "$code $(jb .is_paused)"
check_eq "PATCH stored" t "$(svc_psql -c "SELECT is_paused FROM dag WHERE dag_id = 'etl'")"
get -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": false}' "$api/dags/etl"
check_eq "PATCH is_paused=false" "200 false" "$code $(jb .is_paused)"
get -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": "no"}' "$api/dags/etl"
check "PATCH non-boolean -> 400 problem" problem_ok 400
get -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": true}' "$api/dags/etl?update_mask=description"
check "PATCH other update_mask -> 400 problem" problem_ok 400
get -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": true}' "$api/dags/nope"
check "PATCH unknown dag -> 404 problem" problem_ok 404
get -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": tru' "$api/dags/etl"
check "PATCH malformed JSON -> 400 problem" problem_ok 400

# ---- DAG runs
get "$api/dags/etl/dagRuns"
check_eq "GET dagRuns 200, total 3" "200 3" "$code $(jb .total_entries)"
check_eq "dagRuns: default order is id" "scheduled__2024-03-01T00:00:00+00:00" "$(jb '.dag_runs[0].dag_run_id')"
check "dagRuns: every DAGRun field present" jqe '.dag_runs[0] | has("dag_run_id") and has("dag_id") and has("logical_date")
  and has("execution_date") and has("start_date") and has("end_date") and has("data_interval_start")
  and has("data_interval_end") and has("last_scheduling_decision") and has("run_type") and has("state")
  and has("external_trigger") and has("conf") and has("note")' "$tmp/body"
get "$api/dags/etl/dagRuns?order_by=-execution_date&limit=2"
check_eq "dagRuns: order_by -execution_date, limit 2" "scheduled__2024-03-03T00:00:00+00:00 2 3" \
  "$(jb '[.dag_runs[0].dag_run_id, (.dag_runs|length), .total_entries] | map(tostring) | join(" ")')"
get "$api/dags/etl/dagRuns?state=running&state=failed"
check_eq "dagRuns: state filter (repeatable)" "1 running" "$(jb '[.total_entries, .dag_runs[0].state] | map(tostring) | join(" ")')"
get "$api/dags/etl/dagRuns?run_type=scheduled&run_type=backfill"
check_eq "dagRuns: run_type filter (repeatable)" 3 "$(jb .total_entries)"
get "$api/dags/etl/dagRuns?run_type=manual"
check_eq "dagRuns: run_type filter leaves out other types" 0 "$(jb .total_entries)"
get "$api/dags/etl/dagRuns?execution_date_gte=2024-03-02T00:00:00%2B00:00&execution_date_lte=2024-03-02T12:00:00Z"
check_eq "dagRuns: execution_date range" "scheduled__2024-03-02T00:00:00+00:00" "$(jb '[.dag_runs[].dag_run_id] | join(" ")')"
get "$api/dags/etl/dagRuns?end_date_gte=2024-03-01T00:00:00Z"
check_eq "dagRuns: end_date filter leaves out the running run" 2 "$(jb .total_entries)"
get "$api/dags/etl/dagRuns?start_date_gte=not-a-date"
check "dagRuns: bad datetime -> 400 problem" problem_ok 400
get "$api/dags/etl/dagRuns?order_by=-nope"
check "dagRuns: bad order_by -> 400 problem" problem_ok 400
get "$api/dags/~/dagRuns?limit=1"
check_eq "dagRuns: ~ lists every DAG" 3 "$(jb .total_entries)"

get "$api/dags/etl/dagRuns/$RUN1"
check_eq "GET dagRun (encoded run id) 200" 200 "$code"
check_eq "dagRun: values" "scheduled__2024-03-01T00:00:00+00:00|etl|2024-03-01T00:00:00.000000+00:00|2024-03-01T00:00:00.000000+00:00|2024-03-02T00:00:05.000000+00:00|2024-03-02T00:01:05.500000+00:00|2024-03-01T00:00:00.000000+00:00|2024-03-02T00:00:00.000000+00:00|scheduled|success|false|{\"k\":1}" \
  "$(jb '[.dag_run_id, .dag_id, .logical_date, .execution_date, .start_date, .end_date, .data_interval_start, .data_interval_end, .run_type, .state, .external_trigger, (.conf|tojson)] | map(tostring) | join("|")')"
get "$api/dags/etl/dagRuns/scheduled__2024-03-01T00:00:00+00:00"
check_eq "GET dagRun with a literal + and : in the path" "200 scheduled__2024-03-01T00:00:00+00:00" "$code $(jb .dag_run_id)"
get "$api/dags/etl/dagRuns/no_such_run"
check "GET unknown dagRun -> 404 problem" problem_ok 404

# ---- POST dagRuns
J='Content-Type: application/json'
get -X POST -H "$J" -d '{"dag_run_id": "api_run:1+x", "logical_date": "2024-05-01T00:00:00Z", "conf": {"a": [1, 2]}, "note": "from the test"}' "$api/dags/etl/dagRuns"
check_eq "POST dagRuns 200" 200 "$code"
check_eq "POST dagRuns: returned run" "api_run:1+x|manual|queued|true|2024-05-01T00:00:00.000000+00:00|{\"a\":[1,2]}|from the test" \
  "$(jb '[.dag_run_id, .run_type, .state, .external_trigger, .logical_date, (.conf|tojson), .note] | map(tostring) | join("|")')"
check_eq "POST dagRuns: task instances created" "extract,load" \
  "$(svc_psql -c "SELECT string_agg(task_id, ',' ORDER BY task_id) FROM task_instance WHERE run_id = 'api_run:1+x' AND state = 'none'")"
get "$api/dags/etl/dagRuns/api_run%3A1%2Bx/taskInstances"
check_eq "POST dagRuns: task instances visible through the API" 2 "$(jb .total_entries)"
get -X POST -H "$J" -d '{"dag_run_id": "api_run:1+x"}' "$api/dags/etl/dagRuns"
check "POST same dag_run_id -> 409 problem" problem_ok 409
get -X POST -H "$J" -d '{"logical_date": "2024-05-01T00:00:00+00:00"}' "$api/dags/etl/dagRuns"
check "POST same logical_date -> 409 problem" problem_ok 409
get -X POST -H "$J" -d '{}' "$api/dags/etl/dagRuns"
check_eq "POST {} generates a manual run id" "200 manual__" "$code $(jb '.dag_run_id[0:8]')"
get -X POST -H "$J" -d '{}' "$api/dags/nope/dagRuns"
check "POST unknown dag -> 404 problem" problem_ok 404
get -X POST -H "$J" -d '{"dag_run_id": ' "$api/dags/etl/dagRuns"
check "POST malformed JSON -> 400 problem" problem_ok 400
get -X POST -H "$J" -d '[1, 2]' "$api/dags/etl/dagRuns"
check "POST non-object JSON -> 400 problem" problem_ok 400
get -X POST -H "$J" -d '{"state": "success"}' "$api/dags/etl/dagRuns"
check "POST unknown field -> 400 problem" problem_ok 400
get -X POST -H "$J" -d '{"dag_run_id": "bad id/x"}' "$api/dags/etl/dagRuns"
check "POST invalid run id -> 400 problem" problem_ok 400
get -X POST -H "$J" -d '{"conf": [1]}' "$api/dags/etl/dagRuns"
check "POST conf not an object -> 400 problem" problem_ok 400
get -X POST -H "$J" -d '{"logical_date": "2024-06-01T00:00:00Z", "execution_date": "2024-06-02T00:00:00Z"}' "$api/dags/etl/dagRuns"
check "POST logical_date != execution_date -> 400 problem" problem_ok 400
head -c 1100000 /dev/zero | tr '\0' ' ' >"$tmp/big.json"
get -X POST -H "$J" --data-binary @"$tmp/big.json" "$api/dags/etl/dagRuns"
check "POST body over 1 MiB -> 413 problem" problem_ok 413

# ---- task instances
get "$api/dags/etl/dagRuns/$RUN1/taskInstances"
check_eq "GET taskInstances 200, total 2" "200 2" "$code $(jb .total_entries)"
check "taskInstances: every TaskInstance field present" jqe '.task_instances[0] | has("task_id") and has("dag_id")
  and has("dag_run_id") and has("execution_date") and has("start_date") and has("end_date") and has("duration")
  and has("state") and has("try_number") and has("map_index") and has("max_tries") and has("hostname")
  and has("unixname") and has("pool") and has("pool_slots") and has("queue") and has("priority_weight")
  and has("operator") and has("queued_when") and has("pid") and has("executor_config") and has("note")
  and has("sla_miss") and has("rendered_fields") and has("trigger") and has("triggerer_job")' "$tmp/body"
get "$api/dags/etl/dagRuns/$RUN1/taskInstances?limit=1&offset=1"
check_eq "taskInstances: limit/offset" "1 2" "$(jb '[(.task_instances|length), .total_entries] | map(tostring) | join(" ")')"
get "$api/dags/etl/dagRuns/scheduled__2024-03-03T00%3A00%3A00%2B00%3A00/taskInstances?state=none"
check_eq "taskInstances: state=none filter, null state" "load null" "$(jb '[.task_instances[0].task_id, (.task_instances[0].state|tostring)] | join(" ")')"
get "$api/dags/etl/dagRuns/$RUN1/taskInstances?duration_gte=abc"
check "taskInstances: bad duration -> 400 problem" problem_ok 400
get "$api/dags/etl/dagRuns/$RUN1/taskInstances/extract"
check_eq "GET taskInstance 200" 200 "$code"
check_eq "taskInstance: values" "extract|etl|scheduled__2024-03-01T00:00:00+00:00|2024-03-01T00:00:00.000000+00:00|success|1|-1|2|worker-1|default_pool|1|default|1|BashOperator|4242|12.5|{}|{}|2024-03-02T00:00:04.000000+00:00" \
  "$(jb '[.task_id, .dag_id, .dag_run_id, .execution_date, .state, .try_number, .map_index, .max_tries, .hostname, .pool, .pool_slots, .queue, .priority_weight, .operator, .pid, .duration, .executor_config, (.rendered_fields|tojson), .queued_when] | map(tostring) | join("|")')"
get "$api/dags/etl/dagRuns/$RUN1/taskInstances/nope"
check "GET unknown taskInstance -> 404 problem" problem_ok 404

# ---- logs
L="$api/dags/etl/dagRuns/$RUN1/taskInstances/extract/logs/1"
get "$L"
check_eq "GET logs: JSON by default" "200 application/json" "$code $ctype"
check_eq "logs: content is the concatenated chunks" "$(printf 'line one\nline two\nline three\n')" "$(jb .content)"
tok=$(jb .continuation_token)
check "logs: continuation token present" test -n "$tok"
get "$L?token=$tok"
check_eq "logs: token -> nothing new" "" "$(jb .content)"
svc_psql -c "INSERT INTO task_log (ti_id, try_number, data) SELECT id, 1, E'line four\n' FROM task_instance WHERE run_id = 'scheduled__2024-03-01T00:00:00+00:00' AND task_id = 'extract'" >/dev/null
get "$L?token=$tok"
check_eq "logs: token -> only the new chunk" "line four" "$(jb .content)"
get "$L?full_content=true"
check_eq "logs: full_content" 4 "$(jb '.content | split("\n") | map(select(length > 0)) | length')"
get -H 'Accept: text/plain' "$L"
check_eq "logs: text/plain when asked" "200 text/plain; charset=utf-8" "$code $ctype"
check_eq "logs: text/plain body" "$(printf 'line one\nline two\nline three\nline four')" "$(cat "$tmp/body")"
get "$L?token=garbage"
check "logs: bad token -> 400 problem" problem_ok 400
get "$api/dags/etl/dagRuns/$RUN1/taskInstances/extract/logs/2"
check_eq "logs: a try without logs is empty" "200 " "$code $(jb .content)"
get "$api/dags/etl/dagRuns/$RUN1/taskInstances/nope/logs/1"
check "logs: unknown task -> 404 problem" problem_ok 404

# ---- import errors
get "$api/importErrors"
check_eq "GET importErrors 200, total 2" "200 2" "$code $(jb .total_entries)"
check_eq "importErrors: fields" "1|2024-03-10T12:00:00.000000+00:00|/dags/broken.yaml|/dags/broken.yaml:3:5: unknown key 'schedul'" \
  "$(jb '.import_errors[0] | [.import_error_id, .timestamp, .filename, .stack_trace] | map(tostring) | join("|")')"
check "importErrors: id is an integer" jqe '.import_errors[0].import_error_id | type == "number"' "$tmp/body"
get "$api/importErrors?order_by=-timestamp&limit=1"
check_eq "importErrors: order_by -timestamp, limit 1" "/dags/etl.yaml 1" "$(jb '[.import_errors[0].filename, (.import_errors|length)] | map(tostring) | join(" ")')"
get "$api/importErrors?order_by=stack_trace"
check "importErrors: bad order_by -> 400 problem" problem_ok 400
get "$api/importErrors/1"
check_eq "GET importError" "200 /dags/broken.yaml" "$code $(jb .filename)"
get "$api/importErrors/999"
check "GET unknown importError -> 404 problem" problem_ok 404
get "$api/importErrors/abc"
check "GET importError with a non-integer id -> 400 problem" problem_ok 400

# ---- routing
get "$api/nothing/here"
check "unknown path -> 404 problem" problem_ok 404
get "$base/api"
check "/api -> 404 problem" problem_ok 404
get -X DELETE "$api/dags/etl"
check "unsupported method -> 405 problem" problem_ok 405
get "$api/dags/etl/dagRuns/%zz"
check "malformed escape in path -> 400 problem" problem_ok 400
get "$base/../../etc/passwd" --path-as-is
check "no file serving" test "$code" != 200
check "webserver still running" kill -0 "$ws_pid"

# ---- response cache (webserver/apicache.h): fresh for this webserver's
# writes at once, for other writers within the notification delay, and
# bypassed while the database is away.
# within_1s CMD...: CMD succeeds within 20 tries 50 ms apart
within_1s() { local i; for i in $(seq 20); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
dags_field() { curl -sf "$api/dags" | jq -r "$1"; }
desc_is() { [ "$(dags_field '.dags[] | select(.dag_id == "etl") | .description')" = "$1" ]; }
get "$api/dags"; get "$api/dags"
check_eq "cache: repeated GET dags answers the same" "etl manual_only" "$(jb '[.dags[].dag_id] | join(" ")')"
# A change the triggers do not see (replica role skips them) stays
# invisible: the cached answer is what is being served.
svc_psql -c "SET session_replication_role = replica; UPDATE dag SET description = 'silent' WHERE dag_id = 'etl'" >/dev/null
check_eq "cache: answers come from the cache" "Daily ETL" "$(dags_field '.dags[] | select(.dag_id == "etl") | .description')"
get -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": true}' "$api/dags/etl"
check_eq "cache: PATCH is visible in the next GET dags" "true silent" \
  "$(dags_field '.dags[] | select(.dag_id == "etl") | [.is_paused, .description] | map(tostring) | join(" ")')"
check_eq "cache: PATCH is visible in the next GET dag" true "$(curl -sf "$api/dags/etl" | jq -r .is_paused)"
get -X PATCH -H 'Content-Type: application/json' -d '{"is_paused": false}' "$api/dags/etl"
check_eq "cache: PATCH back is visible at once" false "$(dags_field '.dags[] | select(.dag_id == "etl") | .is_paused')"
svc_psql -c "UPDATE dag SET description = 'out of band' WHERE dag_id = 'etl'" >/dev/null
check "cache: an out-of-band UPDATE dag shows within a second" within_1s desc_is "out of band"
get "$api/importErrors"
svc_psql -c "DELETE FROM import_error WHERE filename = '/dags/etl.yaml'" >/dev/null
ie_total() { [ "$(curl -sf "$api/importErrors" | jq -r .total_entries)" = "$1" ]; }
check "cache: an out-of-band DELETE FROM import_error shows within a second" within_1s ie_total 1
svc_psql -c "UPDATE dag SET description = 'Daily ETL' WHERE dag_id = 'etl'" >/dev/null
check "cache: description restored" within_1s desc_is "Daily ETL"

# Restart Postgres: while it is down the cache is bypassed (503, not the
# cached 200); once it is back, answers are fresh.
get "$api/dags"
svc_stop "$tmp"
get "$api/dags"
check "cache: bypassed while Postgres is down (503)" problem_ok 503
get "$api/dags/etl"
check "cache: a cached DAG is not served while Postgres is down" problem_ok 503
svc_start_pg "$tmp" >/dev/null || not_ok "postgres restarts"
dags_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$api/dags")" = 200 ]; }
check "cache: GET dags answers again after the restart" wait_for 15 dags_up
svc_psql -c "UPDATE dag SET description = 'after restart' WHERE dag_id = 'etl'" >/dev/null
check "cache: changes after the restart show within a second" within_1s desc_is "after restart"

# ---- database down: health says so, the API answers 503
svc_stop "$tmp"
get "$base/health"
check_eq "health with the database down: 200" 200 "$code"
check_eq "health: metadatabase unhealthy" unhealthy "$(jb .metadatabase.status)"
check_eq "health: scheduler unhealthy" unhealthy "$(jb .scheduler.status)"
get "$api/dags"
check "API with the database down -> 503 problem" problem_ok 503
check "webserver survives the outage" kill -0 "$ws_pid"

echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
