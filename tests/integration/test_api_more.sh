#!/usr/bin/env bash
# The rest of the REST API v1 against DAGs the scheduler parsed from real
# files and runs created through the API: version, config (secrets hidden,
# sections, text), health's triggerer and dag_processor, dagStats,
# dagSources (text and JSON, the text stored with the version), DAG details,
# tasks, PATCH of several DAGs, DELETE and setNote of a run, setNote of a
# task instance (mapped too), updateTaskInstancesState, the batch lists
# and the "~" wildcards, and connections/test (403 by default, real tests
# of Postgres and HTTP connections when enabled). Happy paths and the
# 400/404 answers of each.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=25
t_setup
mkdir -p "$tmp/dags"
chmod 755 "$tmp/dags"

cat >"$tmp/dags/more.yaml" <<'EOF'
more:
  description: three steps
  schedule: "@daily"
  start_date: 2024-01-01
  catchup: false
  tags: [api, more]
  dagrun_timeout: 3600
  params:
    who:
      __type__: airflow.models.param.Param
      default: world
      type: string
      description: whom to greet
  default_args:
    owner: data-eng
    retries: 2
    retry_delay_sec: 90
  tasks:
    - task_id: a
      operator: bash
      bash_command: echo a
    - task_id: b
      operator: bash
      bash_command: echo b
      dependencies: [a]
    - task_id: c
      operator: empty
      dependencies: [b]
other:
  schedule: null
  tasks:
    - task_id: solo
      operator: bash
      bash_command: echo solo
EOF
echo "not a DAG" >"$tmp/dags/notes.txt"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1

check "db migrate" "$BIN/updraft" db migrate
# The scheduler parses the files, then stops: every change below is the API's.
start_scheduler scheduler
sched_pid=$!
check "the scheduler parsed both DAGs" wait_for 30 q_is 2 "SELECT count(*) FROM dag WHERE version_id IS NOT NULL"
kill -TERM "$sched_pid" && wait "$sched_pid" 2>/dev/null
pids=()

port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=4
base=http://127.0.0.1:$port
api=$base/api/v1
start_webserver webserver

# Every request goes through req, so that credentials are added in one place
# (REQ_AUTH: extra curl arguments). req [CURL ARGS...] URL: the body lands in
# $tmp/body, the status in $code, the content type in $ctype.
REQ_AUTH=()
req() {
  local out
  out=$(curl -s -o "$tmp/body" -w '%{http_code} %{content_type}' "${REQ_AUTH[@]}" "$@")
  code=${out%% *}
  ctype=${out#* }
}
jreq() { # METHOD URL BODY: a JSON request
  req -X "$1" -H 'Content-Type: application/json' -d "$3" "$2"
}
jb() { jq -r "$1" "$tmp/body"; }
jqe() { jq -e "$1" "$tmp/body" >/dev/null; }
answers() { req "$1" && [ "$code" = 200 ]; }
problem_ok() { # STATUS: a problem document with that status
  [ "$code" = "$1" ] && [ "$ctype" = "application/problem+json" ] &&
    jq -e --argjson s "$1" '.status == $s and (.title|type) == "string" and (.detail|type) == "string"' \
      "$tmp/body" >/dev/null
}
check_problem() { # NAME STATUS
  if problem_ok "$2"; then ok "$1"; else not_ok "$1" "expected a $2 problem, got $code $(head -c 300 "$tmp/body")"; fi
}

check "webserver answers" wait_for 10 answers "$base/health"

# ---- version, health -------------------------------------------------------
req "$api/version"
check_eq "version: the CLI's release" "200 $("$BIN/updraft" version)" "$code $(jb .version)"
check "version: git_version is a string or null" jqe '(.git_version | type) as $t | $t == "string" or $t == "null"'
check "version: nothing else" jqe 'keys == ["git_version", "version"]'
req "$api/health"
check "health: triggerer and dag_processor with null status and heartbeat" \
  jqe '.triggerer == {"status": null, "latest_triggerer_heartbeat": null} and .dag_processor == {"status": null, "latest_dag_processor_heartbeat": null}'
check "health: schedulers and workers lists kept" jqe '(.schedulers|type) == "array" and (.workers|type) == "array"'

# ---- config ----------------------------------------------------------------
req -H 'Accept: application/json' "$api/config"
check_eq "config: 200 JSON" "200 application/json" "$code $ctype"
check_eq "config: dags_folder shown" "$tmp/dags" \
  "$(jb '.sections[] | select(.name == "core") | .options[] | select(.key == "dags_folder") | .value')"
check_eq "config: database.url hidden" "< hidden >" \
  "$(jb '.sections[] | select(.name == "database") | .options[] | select(.key == "url") | .value')"
check_eq "config: fernet_key hidden" "< hidden >" \
  "$(jb '.sections[] | select(.name == "core") | .options[] | select(.key == "fernet_key") | .value')"
check "config: the key itself never appears" bash -c "! grep -qF -- '$UPDRAFT__CORE__FERNET_KEY' '$tmp/body'"
check "config: every value a string" jqe '[.sections[].options[].value | type] | unique == ["string"]'
check_eq "config: test_connection defaults to Disabled" Disabled \
  "$(jb '.sections[] | select(.name == "core") | .options[] | select(.key == "test_connection") | .value')"
req "$api/config?section=worker"
check_eq "config: ?section= only that section" "200 worker" "$code $(jb '[.sections[].name] | join(",")')"
req "$api/config?section="
check_eq "config: an empty section is every section" "200 alerts,core,database,logging,metrics,redis,scheduler,webserver,worker" \
  "$code $(jb '[.sections[].name] | sort | join(",")')"
req "$api/config?section=nope"
check_problem "config: unknown section 404" 404
check_eq "config: Airflow's wording" "section not found. section=nope not found." "$(jb '.title + " " + .detail')"
req -H 'Accept: text/plain' "$api/config?section=core"
check_eq "config: text/plain" "200 text/plain" "$code $ctype"
check_eq "config: text starts with the section" "[core]" "$(head -1 "$tmp/body")"
check "config: text lines are 'key = value'" grep -qx "dags_folder = $tmp/dags" "$tmp/body"
req "$api/config?sect=core"
check_problem "config: unknown parameter 400" 400

# ---- DAGs: details, tasks, sources ------------------------------------------
req "$api/dags/more/details"
check_eq "details: 200" 200 "$code"
check "details: the DAG's members and DAGDetail's" \
  jqe '.dag_id == "more" and .catchup == false and .concurrency == 16 and .timezone == "UTC" and .orientation == "LR" and .default_view == "grid"'
check "details: dag_run_timeout as TimeDelta" \
  jqe '.dag_run_timeout == {"__type": "TimeDelta", "days": 0, "seconds": 3600, "microseconds": 0}'
check "details: params as Param dumps" \
  jqe '.params.who == {"__class": "airflow.models.param.Param", "value": "world", "description": "whom to greet", "schema": {"type": "string"}}'
check "details: dates and tags" \
  jqe '(.start_date | startswith("2024-01-01T00:00:00")) and .end_date == null and ([.tags[].name] | sort) == ["api", "more"]'
req "$api/dags/other/details"
check "details: no params, no timeout" jqe '.params == {} and .dag_run_timeout == null and .schedule_interval == null'
req "$api/dags/nope/details"
check_problem "details: unknown DAG 404" 404

req "$api/dags/more/tasks"
check_eq "tasks: in task_id order" "200 a,b,c" "$code $(jb '[.tasks[].task_id] | join(",")')"
check "tasks: only the spec's members" \
  jqe '.tasks[0] | keys == (["class_ref","depends_on_past","doc_md","downstream_task_ids","end_date","execution_timeout","executor","extra_links","is_mapped","owner","pool","pool_slots","priority_weight","queue","retries","retry_delay","retry_exponential_backoff","start_date","sub_dag","task_display_name","task_id","template_fields","trigger_rule","ui_color","ui_fgcolor","wait_for_downstream","weight_rule"] | sort)'
check "tasks: a as Airflow's Task" \
  jqe '.tasks[0] | .class_ref == {"module_path": "airflow.operators.bash", "class_name": "BashOperator"} and .owner == "data-eng" and .retries == 2 and .retry_delay == {"__type": "TimeDelta", "days": 0, "seconds": 90, "microseconds": 0} and .downstream_task_ids == ["b"] and .template_fields == ["bash_command", "env", "cwd"] and .is_mapped == false and .trigger_rule == "all_success"'
check "tasks: c is an EmptyOperator" jqe '.tasks[2].class_ref.class_name == "EmptyOperator" and .tasks[2].downstream_task_ids == []'
req "$api/dags/more/tasks?order_by=-task_id"
check_eq "tasks: order_by=-task_id" "c,b,a" "$(jb '[.tasks[].task_id] | join(",")')"
req "$api/dags/more/tasks?order_by=class_ref"
check_problem "tasks: order_by on an object member 400" 400
req "$api/dags/more/tasks?order_by=nope"
check_problem "tasks: order_by on no member 400" 400
req "$api/dags/more/tasks/b"
check "tasks/{id}: one task" jqe '.task_id == "b" and .downstream_task_ids == ["c"]'
req "$api/dags/more/tasks/nope"
check_problem "tasks/{id}: unknown task 404" 404
req "$api/dags/nope/tasks"
check_problem "tasks: unknown DAG 404" 404

req "$api/dags/more"
token=$(jb .file_token)
check_eq "file_token of GET /dags/{id} is the path's URL-safe base64" \
  "$(printf %s "$tmp/dags/more.yaml" | base64 -w0 | tr '+/' '-_' | tr -d '=')" "$token"
req -H 'Accept: text/plain' "$api/dagSources/$token"
check_eq "dagSources: text/plain 200" "200 text/plain" "$code $ctype"
check "dagSources: the file's text" cmp -s "$tmp/body" "$tmp/dags/more.yaml"
req -H 'Accept: application/json' "$api/dagSources/$token"
check_eq "dagSources: JSON {content}" "$(cat "$tmp/dags/more.yaml")" "$(jb .content)"
notes_token=$(printf %s "$tmp/dags/notes.txt" | base64 -w0 | tr '+/' '-_' | tr -d '=')
req "$api/dagSources/$notes_token"
check_problem "dagSources: a file no DAG has is 404 (tokens are not paths)" 404
q "INSERT INTO dag (dag_id, fileloc, is_active) VALUES ('outside', '/etc/passwd', false)" >/dev/null
req "$api/dags?only_active=false&dag_id_pattern=outside"
out_token=$(jb '.dags[0].file_token')
req -H 'Accept: text/plain' "$api/dagSources/$out_token"
check_problem "dagSources: a DAG without a stored text is 404 (the file is never read)" 404
check "dagSources: nothing of it served" bash -c "! grep -q root: '$tmp/body'"
ln -s /etc/passwd "$tmp/dags/link.yaml"
q "UPDATE dag SET fileloc = '$tmp/dags/link.yaml' WHERE dag_id = 'outside'" >/dev/null
req "$api/dags?only_active=false&dag_id_pattern=outside"
req -H 'Accept: text/plain' "$api/dagSources/$(jb '.dags[0].file_token')"
check_problem "dagSources: a link out of the folder is 404" 404
q "DELETE FROM dag WHERE dag_id = 'outside'" >/dev/null
req "$api/dagSources/not-a-token"
check_problem "dagSources: bad token 404" 404

# ---- PATCH /dags ------------------------------------------------------------
jreq PATCH "$api/dags?dag_id_pattern=~&update_mask=is_paused" '{"is_paused": false}'
check_eq "PATCH dags ~: every DAG, by dag_id" "200 2 more:false,other:false" \
  "$code $(jb .total_entries) $(jb '[.dags[] | "\(.dag_id):\(.is_paused)"] | join(",")')"
check_eq "PATCH dags: stored" "false false" "$(q "SELECT string_agg(is_paused::text, ' ') FROM dag")"
jreq PATCH "$api/dags?dag_id_pattern=OTH" '{"is_paused": true}'
check_eq "PATCH dags: pattern (case-insensitive substring)" "200 other:true" \
  "$code $(jb '[.dags[] | "\(.dag_id):\(.is_paused)"] | join(",")')"
check_eq "PATCH dags: the others untouched" f "$(q "SELECT is_paused FROM dag WHERE dag_id = 'more'")"
jreq PATCH "$api/dags?dag_id_pattern=~&limit=1" '{"is_paused": true}'
check_eq "PATCH dags: only the page is patched, total counts all" "2 more" "$(jb .total_entries) $(jb '[.dags[].dag_id] | join(",")')"
check_eq "PATCH dags: stored for the page only" "more:true other:true" \
  "$(q "SELECT string_agg(dag_id || ':' || is_paused, ' ' ORDER BY dag_id) FROM dag")"
jreq PATCH "$api/dags?dag_id_pattern=~&tags=api" '{"is_paused": false}'
check_eq "PATCH dags: tags filter" "more" "$(jb '[.dags[].dag_id] | join(",")')"
jreq PATCH "$api/dags" '{"is_paused": true}'
check_problem "PATCH dags: dag_id_pattern required" 400
jreq PATCH "$api/dags?dag_id_pattern=~&update_mask=description" '{"is_paused": true}'
check_problem "PATCH dags: update_mask other than is_paused 400" 400
jreq PATCH "$api/dags?dag_id_pattern=~" '{"is_paused": "yes"}'
check_problem "PATCH dags: is_paused not a boolean 400" 400
jreq PATCH "$api/dags?dag_id_pattern=~&paused=true" '{"is_paused": true}'
check_problem "PATCH dags: a parameter the spec does not list 400" 400

# ---- runs: created through the API ------------------------------------------
for i in 1 2 3; do
  jreq POST "$api/dags/more/dagRuns" "{\"dag_run_id\": \"r$i\", \"logical_date\": \"2024-05-0${i}T00:00:00+00:00\"}"
  [ "$code" = 200 ] || not_ok "POST run r$i" "$code $(cat "$tmp/body")"
done
jreq POST "$api/dags/other/dagRuns" '{"dag_run_id": "o1", "logical_date": "2024-05-01T00:00:00+00:00"}'
check_eq "runs created" "3 1" "$(q "SELECT count(*) FILTER (WHERE dag_id = 'more') || ' ' || count(*) FILTER (WHERE dag_id = 'other') FROM dag_run")"
q "UPDATE dag_run SET state = 'success' WHERE run_id = 'r1'; UPDATE dag_run SET state = 'failed' WHERE run_id = 'r2'" >/dev/null

# ---- dagStats ---------------------------------------------------------------
req "$api/dagStats?dag_ids=more,other,nope"
check_eq "dagStats: existing DAGs only" "200 2 more,other" "$code $(jb .total_entries) $(jb '[.dags[].dag_id] | join(",")')"
check_eq "dagStats: every state counted, zeros included" "queued:1 running:0 success:1 failed:1" \
  "$(jb '[.dags[] | select(.dag_id == "more") | .stats[] | "\(.state):\(.count)"] | join(" ")')"
check_eq "dagStats: other" "queued:1 running:0 success:0 failed:0" \
  "$(jb '[.dags[] | select(.dag_id == "other") | .stats[] | "\(.state):\(.count)"] | join(" ")')"
req "$api/dagStats"
check_problem "dagStats: dag_ids required 400" 400
req "$api/dagStats?dag_ids=nope"
check_eq "dagStats: no such DAG -> empty" "200 0" "$code $(jb .total_entries)"

# ---- ~ wildcards --------------------------------------------------------------
req "$api/dags/~/dagRuns"
check_eq "GET dags/~/dagRuns: every DAG's runs" "200 4" "$code $(jb .total_entries)"
req "$api/dags/~/dagRuns/~/taskInstances"
check_eq "GET dags/~/dagRuns/~/taskInstances: every task instance" "200 10" "$code $(jb .total_entries)"
req "$api/dags/more/dagRuns/~/taskInstances"
check_eq "GET dags/more/dagRuns/~/taskInstances: one DAG's" "200 9 more" \
  "$code $(jb .total_entries) $(jb '[.task_instances[].dag_id] | unique | join(",")')"
req "$api/dags/~/dagRuns/r1/taskInstances"
check_eq "GET dags/~/dagRuns/r1/taskInstances: one run id across DAGs" "200 3" "$code $(jb .total_entries)"

# ---- batch lists ----------------------------------------------------------------
jreq POST "$api/dags/~/dagRuns/list" '{}'
check_eq "dagRuns/list: {} lists every run" "200 4" "$code $(jb .total_entries)"
jreq POST "$api/dags/~/dagRuns/list" '{"dag_ids": ["more"], "states": ["success", "failed"], "order_by": "-dag_run_id"}'
check_eq "dagRuns/list: dag_ids, states, order_by" "2 r2,r1" "$(jb .total_entries) $(jb '[.dag_runs[].dag_run_id] | join(",")')"
jreq POST "$api/dags/~/dagRuns/list" '{"page_limit": 1, "page_offset": 1, "order_by": "dag_run_id"}'
check_eq "dagRuns/list: page_limit, page_offset" "4 r1" "$(jb .total_entries) $(jb '[.dag_runs[].dag_run_id] | join(",")')"
jreq POST "$api/dags/~/dagRuns/list" '{"execution_date_gte": "2024-05-02T00:00:00+00:00", "dag_ids": []}'
check_eq "dagRuns/list: date range (an empty list filters nothing)" "2" "$(jb .total_entries)"
jreq POST "$api/dags/~/dagRuns/list" '{"page_limit": 0}'
check_problem "dagRuns/list: page_limit 0 400" 400
jreq POST "$api/dags/~/dagRuns/list" '{"dag_ids": "more"}'
check_problem "dagRuns/list: dag_ids not a list 400" 400
jreq POST "$api/dags/~/dagRuns/list" '{"states": [1]}'
check_problem "dagRuns/list: a state not a string 400" 400
jreq POST "$api/dags/~/dagRuns/list" '{"execution_date_gte": "2024-05-02T00:00:00"}'
check_problem "dagRuns/list: naive datetime 400" 400
jreq POST "$api/dags/~/dagRuns/list" '{"order_by": "nope"}'
check_problem "dagRuns/list: bad order_by 400" 400
jreq POST "$api/dags/~/dagRuns/list" '{"dag_id": ["more"]}'
check_problem "dagRuns/list: unknown member 400" 400

jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{}'
check_eq "taskInstances/list: {} lists every task instance" "200 10" "$code $(jb .total_entries)"
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"dag_ids": ["more"], "dag_run_ids": ["r1", "r2"], "task_ids": ["a"]}'
check_eq "taskInstances/list: dag_ids, dag_run_ids, task_ids" "2 a" "$(jb .total_entries) $(jb '[.task_instances[].task_id] | unique | join(",")')"
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"state": [null], "page_limit": 2}'
check_eq "taskInstances/list: state null (not yet scheduled), page_limit" "10 2" "$(jb .total_entries) $(jb '.task_instances | length')"
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"executor": ["CeleryExecutor"]}'
check_eq "taskInstances/list: an executor list matches none (default executor)" "0" "$(jb .total_entries)"
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"duration_gte": "x"}'
check_problem "taskInstances/list: duration not a number 400" 400
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"order_by": "id"}'
asc=$(jb '[.task_instances[] | .dag_run_id + "/" + .task_id] | join(",")')
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"order_by": "-id"}'
check_eq "taskInstances/list: order_by -id is id reversed" "$asc" "$(jb '[.task_instances[] | .dag_run_id + "/" + .task_id] | reverse | join(",")')"
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"order_by": "nosuch"}'
check_problem "taskInstances/list: unknown order_by 400" 400
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"task_ids": [null]}'
check_problem "taskInstances/list: null task id 400" 400
jreq POST "$api/dags/~/dagRuns/~/taskInstances/list" '{"page_offset": -1}'
check_problem "taskInstances/list: negative page_offset 400" 400

# ---- run notes, DELETE ------------------------------------------------------------
jreq PATCH "$api/dags/more/dagRuns/r1/setNote" '{"note": "checked by hand"}'
check_eq "run setNote: answers the DAGRun with its note" "200 r1 checked by hand" "$code $(jb .dag_run_id) $(jb .note)"
req "$api/dags/more/dagRuns/r1"
check_eq "run setNote: GET shows it" "checked by hand" "$(jb .note)"
jreq PATCH "$api/dags/more/dagRuns/r1/setNote" '{"note": null}'
check_eq "run setNote: null clears it" "200 null" "$code $(jb .note)"
jreq PATCH "$api/dags/more/dagRuns/r1/setNote" "{\"note\": \"$(printf 'é%.0s' $(seq 1000))\"}"
check_eq "run setNote: 1000 characters (not bytes) fit" 200 "$code"
jreq PATCH "$api/dags/more/dagRuns/r1/setNote" "{\"note\": \"$(printf 'x%.0s' $(seq 1001))\"}"
check_problem "run setNote: 1001 characters 400" 400
jreq PATCH "$api/dags/more/dagRuns/r1/setNote" '{}'
check_problem "run setNote: note required 400" 400
jreq PATCH "$api/dags/more/dagRuns/r1/setNote" '{"note": 5}'
check_problem "run setNote: note not a string 400" 400
jreq PATCH "$api/dags/more/dagRuns/nope/setNote" '{"note": "x"}'
check_problem "run setNote: unknown run 404" 404

req -X DELETE "$api/dags/more/dagRuns/r3"
check_eq "DELETE run: 204, empty body" "204 0" "$code $(wc -c <"$tmp/body")"
check_eq "DELETE run: the run and its task instances gone" "0 0" \
  "$(q "SELECT (SELECT count(*) FROM dag_run WHERE run_id = 'r3') || ' ' || (SELECT count(*) FROM task_instance WHERE run_id = 'r3')")"
req -X DELETE "$api/dags/more/dagRuns/r3"
check_problem "DELETE run: again 404" 404
req -X DELETE "$api/dags/nope/dagRuns/r1"
check_problem "DELETE run: unknown DAG 404" 404

jreq PATCH "$api/dags/more/dagRuns/r2" '{"state": "queued"}'
check_eq "PATCH run: state queued" "200 queued" "$code $(jb .state)"
jreq PATCH "$api/dags/more/dagRuns/r2" '{"state": "running"}'
check_problem "PATCH run: another state 400" 400

# ---- task instance notes ---------------------------------------------------------
jreq PATCH "$api/dags/more/dagRuns/r1/taskInstances/a/setNote" '{"note": "flaky host"}'
check_eq "TI setNote: answers the TaskInstance with its note" "200 a -1 flaky host" \
  "$code $(jb .task_id) $(jb .map_index) $(jb .note)"
req "$api/dags/more/dagRuns/r1/taskInstances/a"
check_eq "TI setNote: GET shows it" "flaky host" "$(jb .note)"
req "$api/dags/more/dagRuns/r1/taskInstances"
check_eq "TI note in the list (null elsewhere)" "flaky host|null|null" "$(jb '[.task_instances[] | .note // "null"] | join("|")')"
q "INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, map_index, operator)
   SELECT dag_run_id, dag_id, run_id, 'c', i, operator FROM task_instance, generate_series(0, 1) i
   WHERE run_id = 'r1' AND task_id = 'c'" >/dev/null
jreq PATCH "$api/dags/more/dagRuns/r1/taskInstances/c/1/setNote" '{"note": "second one"}'
check_eq "mapped TI setNote: that map index" "200 1 second one" "$code $(jb .map_index) $(jb .note)"
check_eq "mapped TI setNote: stored on that row only" "1:second one" \
  "$(q "SELECT string_agg(map_index || ':' || note, ',') FROM task_instance WHERE run_id = 'r1' AND task_id = 'c' AND note IS NOT NULL")"
jreq PATCH "$api/dags/more/dagRuns/r1/taskInstances/c/7/setNote" '{"note": "x"}'
check_problem "mapped TI setNote: no such map index 404" 404
jreq PATCH "$api/dags/more/dagRuns/r1/taskInstances/c/abc/setNote" '{"note": "x"}'
check_problem "mapped TI setNote: not a map index 404" 404
jreq PATCH "$api/dags/more/dagRuns/r1/taskInstances/nope/setNote" '{"note": "x"}'
check_problem "TI setNote: unknown task 404" 404
jreq PATCH "$api/dags/more/dagRuns/r1/taskInstances/a/setNote" '{"notes": "x"}'
check_problem "TI setNote: unknown member 400" 400

# ---- updateTaskInstancesState ----------------------------------------------------
sbody() { # STATE EXTRA-MEMBERS: a body naming run r1 and task a
  printf '{"task_id": "a", "dag_run_id": "r1", "new_state": "%s", "include_upstream": false, "include_downstream": %s, "include_future": false, "include_past": false%s}' "$1" "$2" "${3:-}"
}
jreq POST "$api/dags/more/updateTaskInstancesState" "$(sbody success false)"
check_eq "updateTaskInstancesState: dry run by default lists a" "200 a r1 more" \
  "$code $(jb '[.task_instances[] | "\(.task_id) \(.dag_run_id) \(.dag_id)"] | join(",")')"
check "updateTaskInstancesState: references carry execution_date" jqe '.task_instances[0].execution_date | startswith("2024-05-01T00:00:00")'
check_eq "updateTaskInstancesState: dry run changes nothing" none "$(q "SELECT state FROM task_instance WHERE run_id = 'r1' AND task_id = 'a'")"
jreq POST "$api/dags/more/updateTaskInstancesState" "$(sbody success true)"
check_eq "updateTaskInstancesState: include_downstream adds b and c (every map index)" "a,b,c,c,c" \
  "$(jb '[.task_instances[].task_id] | sort | join(",")')"
q "UPDATE task_instance SET state = 'failed' WHERE run_id = 'r1' AND task_id = 'b'" >/dev/null
jreq POST "$api/dags/more/updateTaskInstancesState" "$(sbody success false ', "dry_run": false')"
check_eq "updateTaskInstancesState: dry_run false sets a" "200 a" "$code $(jb '[.task_instances[].task_id] | join(",")')"
check_eq "updateTaskInstancesState: stored with an end date" "success true" \
  "$(q "SELECT state || ' ' || (end_date IS NOT NULL) FROM task_instance WHERE run_id = 'r1' AND task_id = 'a'")"
check_eq "updateTaskInstancesState: failed downstream b resumed (cleared)" none \
  "$(q "SELECT state FROM task_instance WHERE run_id = 'r1' AND task_id = 'b'")"
jreq POST "$api/dags/more/updateTaskInstancesState" "$(sbody success false)"
check_eq "updateTaskInstancesState: already in the state -> not listed" "200 0" "$code $(jb '.task_instances | length')"
jreq POST "$api/dags/more/updateTaskInstancesState" \
  '{"task_id": "a", "execution_date": "2024-05-02T00:00:00+00:00", "new_state": "success", "include_upstream": false, "include_downstream": false, "include_future": false, "include_past": true, "dry_run": false}'
check_eq "updateTaskInstancesState: by execution_date, include_past reaches r1 (where a is success already)" "200 a r2" \
  "$code $(jb '[.task_instances[] | "\(.task_id) \(.dag_run_id)"] | join(",")')"
check_eq "updateTaskInstancesState: r2's a success" success "$(q "SELECT state FROM task_instance WHERE run_id = 'r2' AND task_id = 'a'")"
jreq POST "$api/dags/more/updateTaskInstancesState" \
  '{"task_id": "a", "dag_run_id": "r1", "execution_date": "2024-05-01T00:00:00+00:00", "new_state": "success", "include_upstream": false, "include_downstream": false, "include_future": false, "include_past": false}'
check_problem "updateTaskInstancesState: both dag_run_id and execution_date 400" 400
jreq POST "$api/dags/more/updateTaskInstancesState" \
  '{"task_id": "a", "new_state": "success", "include_upstream": false, "include_downstream": false, "include_future": false, "include_past": false}'
check_problem "updateTaskInstancesState: neither 400" 400
jreq POST "$api/dags/more/updateTaskInstancesState" \
  '{"task_id": "a", "dag_run_id": "r1", "new_state": "success", "include_downstream": false, "include_future": false, "include_past": false}'
check_problem "updateTaskInstancesState: include_upstream required 400" 400
jreq POST "$api/dags/more/updateTaskInstancesState" "$(sbody running false)"
check_problem "updateTaskInstancesState: new_state running 400" 400
jreq POST "$api/dags/nope/updateTaskInstancesState" "$(sbody success false)"
check_problem "updateTaskInstancesState: unknown DAG 404" 404
jreq POST "$api/dags/more/updateTaskInstancesState" \
  '{"task_id": "zz", "dag_run_id": "r1", "new_state": "success", "include_upstream": false, "include_downstream": false, "include_future": false, "include_past": false}'
check_problem "updateTaskInstancesState: unknown task 404" 404
jreq POST "$api/dags/more/updateTaskInstancesState" \
  '{"task_id": "a", "dag_run_id": "r9", "new_state": "success", "include_upstream": false, "include_downstream": false, "include_future": false, "include_past": false}'
check_problem "updateTaskInstancesState: unknown run 404" 404

# ---- connections/test ----------------------------------------------------------------
pg_conn() { # DATABASE: a postgres connection to the test's server
  printf '{"connection_id": "pg", "conn_type": "postgres", "host": "127.0.0.1", "port": %s, "login": "updraft", "schema": "%s"}' \
    "$SVC_PG_PORT" "$1"
}
jreq POST "$api/connections/test" "$(pg_conn updraft)"
check_problem "connections/test: disabled by default 403" 403
check "connections/test: Airflow's message" jqe '.detail | startswith("Testing connections is disabled in Airflow configuration")'

port2=$(svc_free_port)
UPDRAFT__CORE__TEST_CONNECTION=Enabled UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port2 start_webserver webserver2
api2=http://127.0.0.1:$port2/api/v1
check "second webserver (core.test_connection Enabled) answers" wait_for 10 answers "$api2/version"
jreq POST "$api2/connections/test" "$(pg_conn updraft)"
check_eq "connections/test: postgres reached" "200 true Connection successfully tested" "$code $(jb .status) $(jb .message)"
jreq POST "$api2/connections/test" "$(pg_conn no_such_db)"
check_eq "connections/test: postgres refused -> status false, libpq's reason" "200 false" "$code $(jb .status)"
check "connections/test: the reason names the database" jqe '.message | test("no_such_db")'
jreq POST "$api2/connections/test" "{\"connection_id\": \"web\", \"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$port2/health\"}"
check_eq "connections/test: http reached" "200 true" "$code $(jb .status)"
jreq POST "$api2/connections/test" "{\"connection_id\": \"web\", \"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$port2/nope\"}"
check_eq "connections/test: http 404 -> false, code:reason" "200 false 404:Not Found" "$code $(jb .status) $(jb .message)"
jreq POST "$api2/connections/test" "{\"connection_id\": \"web\", \"conn_type\": \"http\", \"host\": \"127.0.0.1\", \"port\": $(svc_free_port), \"schema\": \"http\"}"
check_eq "connections/test: http nothing listening -> false" "200 false" "$code $(jb .status)"
jreq POST "$api2/connections/test" '{"connection_id": "s3", "conn_type": "aws"}'
check_eq "connections/test: other types not supported" "200 false" "$code $(jb .status)"
check "connections/test: says so" jqe '.message | test("not supported")'
jreq POST "$api2/connections/test" '{"connection_id": "x"}'
check_problem "connections/test: conn_type required 400" 400
jreq POST "$api2/connections/test" '{"connection_id": "x", "conn_type": "http", "port": "80x"}'
check_problem "connections/test: bad port 400" 400
check_eq "connections/test: nothing stored" 0 "$(q "SELECT count(*) FROM connection")"

# ---- GET /ui/jobs: the live jobs, stale ones marked ----------------------------------
q "DELETE FROM job" >/dev/null
q "INSERT INTO job (job_type, hostname, pid, queues, latest_heartbeat, concurrency) VALUES
   ('WorkerJob', 'fresh-host', 11, '{default,etl}', now(), 8),
   ('WorkerJob', 'stale-host', 12, '{default}', now() - interval '5 minutes', NULL),
   ('SchedulerJob', 'sched-host', 13, '{}', now(), NULL)" >/dev/null
q "INSERT INTO job (job_type, hostname, pid, state, end_date) VALUES ('WorkerJob', 'ended-host', 14, 'success', now())" >/dev/null
fresh=$(q "SELECT id FROM job WHERE hostname = 'fresh-host'")
ti=$(q "SELECT id FROM task_instance ORDER BY id LIMIT 1")
ti_state=$(q "SELECT coalesce(state, '') FROM task_instance WHERE id = $ti")
q "UPDATE task_instance SET state = 'running', worker_id = $fresh WHERE id = $ti" >/dev/null
req "$base/ui/jobs"
check_eq "ui/jobs: 200, the three running jobs (not the ended one)" "200 3 sched-host,fresh-host,stale-host" \
  "$code $(jb .total_entries) $(jb '[.jobs[].hostname] | join(",")')"
check "ui/jobs: a fresh worker is healthy with its queues and running task" \
  jqe '.jobs[] | select(.hostname == "fresh-host") | .id == "'"$fresh"'" and .healthy and .queues == ["default","etl"] and .running_tasks == 1 and .slots == 8 and .state == "running"'
check "ui/jobs: an old heartbeat is stale" jqe '.health_threshold_seconds == 30 and (.jobs[] | select(.hostname == "stale-host") | .healthy == false and .running_tasks == 0)'
check "ui/jobs: a worker row without recorded slots answers null" jqe '.jobs[] | select(.hostname == "stale-host") | .slots == null'
check "ui/jobs: a scheduler has no running_tasks" jqe '.jobs[] | select(.hostname == "sched-host") | .running_tasks == null and .slots == null and (.latest_heartbeat | test("^[0-9-]+T"))'
req "$base/ui/jobs?job_type=WorkerJob"
check_eq "ui/jobs: job_type narrows" "2" "$(jb .total_entries)"
req "$base/ui/jobs?job_type=Nope"
check_problem "ui/jobs: unknown job_type 400" 400
q "UPDATE task_instance SET state = nullif('$ti_state', ''), worker_id = NULL WHERE id = $ti" >/dev/null

# ---- docs list every route --------------------------------------------------------
for path in /api/v1/version /api/v1/config /api/v1/dagStats '/api/v1/dagSources/{file_token}' \
  '/api/v1/dags/{dag_id}/details' '/api/v1/dags/{dag_id}/tasks' '/api/v1/dags/{dag_id}/tasks/{task_id}' \
  '/api/v1/dags/{dag_id}/updateTaskInstancesState' /api/v1/dags/~/dagRuns/list \
  /api/v1/dags/~/dagRuns/~/taskInstances/list /api/v1/connections/test \
  '/setNote' /ui/jobs; do
  check "docs/api.md lists $path" grep -qF -- "$path" docs/api.md
done
