#!/usr/bin/env bash
# Every REST API route's answers against Airflow's v1 OpenAPI spec: with the
# scheduler and a worker running, a mapped DAG's run completes (so runs, task
# instances, logs and XComs exist), then every route of webserver/api.c is
# called on its happy path, plus 400, 404, 405 and 409 cases, and each
# response is checked by tests/openapi/validate.js: status declared for the
# operation, content type declared, and the JSON body with every declared
# property present and nothing undeclared (problem bodies included). A route
# of the table that no call answered with 2xx fails the test.
#
# A new route is covered by one more `expect` line below.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
SPEC=tests/openapi/airflow-rest-api-v1.yaml

T_LOG_TAIL=25
# make test installs the check's packages (make deps); a missing install is
# a failure, never a skip. Debian's node-ajv and node-js-yaml live in
# /usr/share/nodejs.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
if ! command -v node >/dev/null || ! node -e "require('ajv'); require('js-yaml')" 2>/dev/null; then
  not_ok "the OpenAPI check is installed" "node, ajv or js-yaml missing: run 'make deps' (Debian's nodejs, node-ajv, node-js-yaml)"
  exit 1
fi
t_setup
mkdir -p "$tmp/dags" "$tmp/resp"
chmod 777 "$tmp"
cp examples/dags/example_mapping.yaml "$tmp/dags/"
printf 'broken_dag:\n  tasks: [unclosed\n' >"$tmp/dags/broken.yaml"
# every_90m and waiting: a fixed-interval schedule (a TimeDelta in the API)
# and a cron one, paused, without catch-up. waiting's run is held in a
# running task until the end (its second task not started: null fields);
# the run of fails ends failed, with an upstream_failed task.
cat >"$tmp/dags/shapes.yaml" <<'EOF'
every_90m:
  schedule: {__type__: datetime.timedelta, hours: 1, minutes: 30}
  start_date: 2024-01-01
  catchup: false
  is_paused_upon_creation: true
  tasks:
    - task_id: t
      operator: airflow.operators.empty.EmptyOperator
waiting:
  schedule: "5 4 * * *"
  start_date: 2024-01-01
  catchup: false
  is_paused_upon_creation: true
  tags: [a, b]
  tasks:
    - task_id: first
      operator: bash
      bash_command: 'sleep 120'
    - task_id: second
      operator: airflow.operators.empty.EmptyOperator
      dependencies: [first]
fails:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: boom
      operator: bash
      bash_command: 'exit 3'
    - task_id: after
      operator: airflow.operators.empty.EmptyOperator
      dependencies: [boom]
EOF

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__WEBSERVER__AUTH=password
export UPDRAFT__CORE__TEST_CONNECTION=Enabled
UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)
export UPDRAFT__CORE__FERNET_KEY
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
base=http://127.0.0.1:$port
api=$base/api/v1

# ---- the one way this test talks to the API -------------------------------
#
# call METHOD PATH [BODY [HEADER]]: sends one request (PATH from the server
# root, with its query), leaves the status in $code and the body in
# $tmp/r.json, and records the answer in $tmp/records.tsv for validate.js.
# Every request of this script (here and in the waits below) logs in as
# admin by HTTP Basic, through curl's own configuration file ($CURL_HOME);
# T_API_AUTH holds other credentials for one call ("-q" first: none at all).
# Not for $(...): the call counter and $code must survive.
pw_admin=Admin-$RANDOM-openapi pw_viewer=Viewer-$RANDOM-openapi
printf 'user = "admin:%s"\n' "$pw_admin" >"$tmp/.curlrc"
export CURL_HOME=$tmp
T_API_AUTH=()
ncall=0
code=
call() {
  local method=$1 path=$2 body=${3:-} header=${4:-} out meta ctype
  ncall=$((ncall + 1))
  out=resp/$ncall.body
  local args=("${T_API_AUTH[@]}" -s -o "$tmp/$out" -w '%{http_code}\t%{content_type}' -X "$method")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  [ -n "$header" ] && args+=(-H "$header")
  meta=$(curl "${args[@]}" "$base$path")
  code=${meta%%$'\t'*}
  ctype=${meta#*$'\t'}
  printf '%s\t%s\t-\t%s\t%s\t%s\n' "$method" "$path" "$code" "$ctype" "$out" >>"$tmp/records.tsv"
  cp "$tmp/$out" "$tmp/r.json"
}
# expect STATUS METHOD PATH [BODY [HEADER]]: call, and check the status.
expect() {
  local want=$1
  shift
  call "$@"
  check_eq "$1 $2${3:+ $3}${4:+ ($4)} -> $want" "$want" "$code"
}
jr() { jq -r "$1" "$tmp/r.json"; }

# ---- the check itself --------------------------------------------------------
#
# vcase NAME WANT METHOD PATH STATUS CTYPE BODY [PATTERN]: validate.js on one
# response passes (WANT pass) or fails with PATTERN in its report (WANT fail).
mkdir -p "$tmp/v"
vcase() {
  local name=$1 want=$2 out rc
  printf '%s\t%s\t-\t%s\t%s\tbody.json\n' "$3" "$4" "$5" "$6" >"$tmp/v/records.tsv"
  printf '%s' "$7" >"$tmp/v/body.json"
  out=$(node tests/openapi/validate.js ${VROUTES:+--routes "$VROUTES"} "$SPEC" "$tmp/v/records.tsv" 2>&1)
  rc=$?
  if [ "$want" = pass ]; then
    check_eq "validate.js: $name" 0 "$rc"
  elif [ "$rc" -eq 1 ] && grep -q -- "${8:-FAIL}" <<<"$out"; then
    ok "validate.js: $name"
  else
    not_ok "validate.js: $name" "exit $rc, expected 1 and '${8:-FAIL}' in: $out"
  fi
}
PROBLEM='"type": "t", "title": "Not Found", "status": 404, "detail": "d", "instance": "/x"'
POOL='"name": "p", "slots": 1, "description": null, "include_deferred": false, "occupied_slots": 0,
  "running_slots": 0, "queued_slots": 0, "scheduled_slots": 0, "deferred_slots": 0'
CONN='"connection_id": "c", "conn_type": "http", "description": null, "host": null, "login": null,
  "schema": null, "port": null, "extra": null'
HEALTH='"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": null},
  "triggerer": {"status": null, "latest_triggerer_heartbeat": null},
  "dag_processor": {"status": null, "latest_dag_processor_heartbeat": null}'
J=application/json
vcase "a complete Pool passes" pass GET /api/v1/pools/p 200 $J "{$POOL, \"open_slots\": 1}"
vcase "a missing property fails" fail GET /api/v1/pools/p 200 $J "{$POOL}" "required property 'open_slots'"
vcase "an undeclared property fails" fail GET /api/v1/pools/p 200 $J "{$POOL, \"open_slots\": 1, \"x\": 1}" \
  "additional properties 'x'"
vcase "null where the spec has no nullable fails" fail GET /api/v1/pools/p 200 $J "{$POOL, \"open_slots\": null}" "open_slots"
vcase "a writeOnly property (password) in a response fails" fail GET /api/v1/connections/c 200 $J \
  "{$CONN, \"password\": \"pw\"}" "additional properties 'password'"
vcase "allOf members merged: Connection without extra fails" fail GET /api/v1/connections/c 200 $J \
  "{${CONN%, \"extra\": null}}" "required property 'extra'"
vcase "an undeclared status fails" fail GET /api/v1/pools/p 418 $J "{$PROBLEM}" "status 418 is not declared"
vcase "400 is accepted on any operation as BadRequest" pass GET /api/v1/pools 400 application/problem+json \
  "{${PROBLEM/404/400}}"
vcase "an undeclared content type fails" fail GET /api/v1/pools/p 200 text/html "{$POOL, \"open_slots\": 1}" \
  "content-type"
vcase "a problem without instance fails" fail GET /api/v1/pools/p 404 application/problem+json \
  "{${PROBLEM%, \"instance\": \"/x\"}}" "required property 'instance'"
vcase "an unknown path's 404 is a NotFound problem" pass GET /api/v1/nothing 404 application/problem+json "{$PROBLEM}"
vcase "the discriminator holds: a TimeDelta labelled CronExpression fails" fail GET /api/v1/dags/d 200 $J \
  "$(jq -c '.schedule_interval = {"__type": "CronExpression", "days": 0, "seconds": 60, "microseconds": 0}' \
    tests/openapi/fixtures/dag.json)" "schedule_interval"
vcase "a DAG with a TimeDelta passes" pass GET /api/v1/dags/d 200 $J \
  "$(jq -c '.schedule_interval = {"__type": "TimeDelta", "days": 0, "seconds": 60, "microseconds": 0}' \
    tests/openapi/fixtures/dag.json)"
JOB='"hostname": "h", "pid": 1, "latest_heartbeat": null, "status": "healthy"'
vcase "/health: the schedulers and workers extension passes" pass GET /health 200 $J \
  "{$HEALTH, \"schedulers\": [{$JOB}], \"workers\": [{$JOB, \"queues\": [\"default\"]}]}"
vcase "/health: the extension's own shape is held (a worker's queues)" fail GET /health 200 $J \
  "{$HEALTH, \"schedulers\": [], \"workers\": [{$JOB}]}" "required property 'queues'"
vcase "/health: any other extra property fails" fail GET /health 200 $J "{$HEALTH, \"extra\": 1}" \
  "additional properties 'extra'"
printf 'GET\t/api/v1/pools/{}\tcan_read\tPools\tViewer\t\nGET\t/api/v1/pools\tcan_read\tPools\tViewer\tlimit\nGET\t/api/v1/nowhere\t-\t-\t-\t\n' >"$tmp/v/routes.c"
VROUTES=$tmp/v/routes.c vcase "a route without a 2xx call fails" fail GET /api/v1/pools/p 200 $J \
  "{$POOL, \"open_slots\": 1}" "route GET /api/v1/pools: no recorded call"
VROUTES=$tmp/v/routes.c vcase "a route the spec does not have fails" fail GET /api/v1/pools/p 200 $J \
  "{$POOL, \"open_slots\": 1}" "route GET /api/v1/nowhere: no path of the spec"

# ---- the stack and a finished run -------------------------------------------

check "db migrate" "$BIN/updraft" db migrate
check "admin created" "$BIN/updraft" users create --username admin --firstname A --lastname D \
  --email admin@example.com --role Admin --password "$pw_admin"
check "viewer created" "$BIN/updraft" users create --username viewer --firstname V --lastname W \
  --email viewer@example.com --role Viewer --password "$pw_viewer"
start_scheduler scheduler
start_worker worker w1 4
start_webserver webserver
dag_loaded() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$api/dags/example_mapping")" = 200 ]; }
check "example_mapping loads" wait_for 30 dag_loaded
import_error() { [ "$(curl -sf "$api/importErrors" | jq .total_entries)" -ge 1 ]; }
check "broken.yaml is an import error" wait_for 30 import_error

D=/api/v1/dags/example_mapping
R=$D/dagRuns/r1
expect 200 POST $D/dagRuns '{"dag_run_id": "r1", "conf": {"k": 1}}'
run_ok() { [ "$(curl -sf "$api/dags/example_mapping/dagRuns/r1" | jq -r .state)" = success ]; }
check "run r1 succeeds" wait_for 90 run_ok
expect 200 POST $D/dagRuns '{"dag_run_id": "r2"}'
run2_ok() { [ "$(curl -sf "$api/dags/example_mapping/dagRuns/r2" | jq -r .state)" = success ]; }
check "run r2 succeeds" wait_for 90 run2_ok

W=/api/v1/dags/waiting
expect 200 POST $W/dagRuns '{"dag_run_id": "held", "logical_date": "2024-05-01T00:00:00Z", "note": "held on purpose"}'
first_running() { [ "$(curl -sf "$api/dags/waiting/dagRuns/held/taskInstances/first" | jq -r .state)" = running ]; }
check "held: its first task runs" wait_for 30 first_running
F=/api/v1/dags/fails
expect 200 POST $F/dagRuns '{"dag_run_id": "f1"}'
run_failed() { [ "$(curl -sf "$api/dags/fails/dagRuns/f1" | jq -r .state)" = failed ]; }
check "f1 fails" wait_for 60 run_failed

# ---- every route, happy path -------------------------------------------------

expect 200 GET /health
expect 200 GET /api/v1/health

expect 200 GET /api/v1/dags
expect 200 GET "/api/v1/dags?limit=1&offset=0&order_by=-dag_id&tags=example&only_active=true"
expect 200 GET $D
expect 200 GET /api/v1/dags/every_90m
expect 200 GET $W
expect 200 GET $W/dagRuns/held
expect 200 GET $W/dagRuns/held/taskInstances
expect 200 GET $W/dagRuns/held/taskInstances/second
expect 200 GET $F/dagRuns/f1/taskInstances
expect 200 GET $F/dagRuns/f1/taskInstances/boom/logs/1
expect 200 PATCH "$D?update_mask=is_paused" '{"is_paused": false}'

expect 200 GET $D/dagRuns
expect 200 GET "$D/dagRuns?state=success&order_by=-execution_date&limit=5"
expect 200 GET $R
expect 200 PATCH $D/dagRuns/r2 '{"state": "success"}'
expect 200 POST $D/clearTaskInstances '{"dag_run_id": "r1", "only_failed": false}'

expect 200 GET $R/taskInstances
expect 200 GET "$R/taskInstances?state=success&limit=2"
expect 200 GET $R/taskInstances/list_files
expect 200 PATCH $R/taskInstances/list_files '{"new_state": "success"}'
expect 200 GET $R/taskInstances/list_files/logs/1
expect 200 GET "$R/taskInstances/list_files/logs/1?full_content=true" '' 'Accept: text/plain'
expect 200 GET $R/taskInstances/list_files/xcomEntries
expect 200 GET $R/taskInstances/list_files/xcomEntries/return_value
expect 200 GET "$R/taskInstances/list_files/xcomEntries/return_value?deserialize=true&stringify=false"
expect 200 GET "$R/taskInstances/list_files/xcomEntries?xcom_key=return_value&limit=1"
expect 200 GET /api/v1/dags/~/dagRuns
expect 200 GET "/api/v1/dags/~/dagRuns/~/taskInstances?state=running&state=none"
expect 200 GET $W/dagRuns/held/taskInstances/first/logs/1
expect 200 GET "$W/dagRuns/held/taskInstances/first/logs/1?token=$(jr .continuation_token)"
expect 200 GET $R/taskInstances/load/listMapped
expect 200 GET $R/taskInstances/load/1
expect 200 GET $R/taskInstances/load/logs/1?map_index=2

expect 200 GET "/api/v1/importErrors?order_by=-timestamp&limit=1"
ie=$(jr '.import_errors[0].import_error_id')
expect 200 GET /api/v1/importErrors/$ie

expect 200 POST /api/v1/variables '{"key": "v1", "value": "one", "description": "first"}'
expect 200 POST /api/v1/variables '{"key": "v2", "value": "{\"a\": [1, 2]}"}'
expect 200 GET "/api/v1/variables?limit=1&offset=1&order_by=key"
expect 200 GET /api/v1/variables/v1
expect 200 PATCH /api/v1/variables/v1 '{"key": "v1", "value": "uno"}'
expect 204 DELETE /api/v1/variables/v1

expect 200 POST /api/v1/connections '{"connection_id": "c1", "conn_type": "postgres", "host": "db", "port": 5432, "login": "u", "password": "secret-pw", "extra": "{\"sslmode\": \"require\"}"}'
expect 200 GET /api/v1/connections
expect 200 GET /api/v1/connections/c1
expect 400 PATCH /api/v1/connections/c1 '{"connection_id": "c1", "conn_type": "postgres", "host": "db2"}'
expect 200 PATCH /api/v1/connections/c1 '{"connection_id": "c1", "conn_type": "postgres", "host": "db2", "password": "secret-pw"}'
expect 204 DELETE /api/v1/connections/c1

expect 200 POST /api/v1/pools '{"name": "p1", "slots": 3, "description": "three"}'
expect 200 GET /api/v1/pools
expect 200 GET /api/v1/pools/p1
expect 200 PATCH /api/v1/pools/p1 '{"name": "p1", "slots": 4}'
expect 200 GET /api/v1/pools/default_pool
expect 200 POST /api/v1/pools '{"name": "p3", "slots": 0, "include_deferred": true}'

expect 200 GET /api/v1/users
expect 200 GET "/api/v1/users?order_by=-username&limit=1"
expect 200 GET /api/v1/users/viewer
expect 200 POST /api/v1/users '{"username": "u2", "first_name": "U", "last_name": "Two", "email": "u2@example.com", "password": "pw-u2-123456", "roles": [{"name": "User"}]}'
expect 200 PATCH "/api/v1/users/u2?update_mask=last_name" '{"last_name": "Deux"}'
expect 204 DELETE /api/v1/users/u2
expect 200 GET /api/v1/roles
expect 200 GET /api/v1/roles/Viewer
expect 200 GET /api/v1/permissions
expect 200 GET "/api/v1/eventLogs?event=api.post_pool&order_by=-when"
expect 200 GET /api/v1/eventLogs
ev=$(jr '.event_logs[0].event_log_id')
expect 200 GET /api/v1/eventLogs/$ev

expect 200 GET /api/v1/version
expect 200 GET /api/v1/config
expect 200 GET "/api/v1/config?section=webserver"
expect 200 PATCH "/api/v1/dags?dag_id_pattern=every_&update_mask=is_paused" '{"is_paused": true}'
expect 200 GET $D/details
expect 200 GET $D/tasks
expect 200 GET "$D/tasks?order_by=-task_id"
expect 200 GET $D/tasks/list_files
expect 200 GET $D
expect 200 GET "/api/v1/dagSources/$(jr .file_token)" '' 'Accept: application/json'
expect 200 GET "/api/v1/dagStats?dag_ids=example_mapping,fails"
expect 200 POST /api/v1/dags/~/dagRuns/list '{"dag_ids": ["example_mapping"], "page_limit": 5}'
expect 200 POST /api/v1/dags/~/dagRuns/~/taskInstances/list '{"dag_ids": ["example_mapping"], "state": ["success"]}'
expect 200 POST $D/updateTaskInstancesState '{"dry_run": true, "task_id": "list_files", "dag_run_id": "r1", "include_upstream": false, "include_downstream": true, "include_future": false, "include_past": false, "new_state": "success"}'
expect 200 PATCH $R/setNote '{"note": "checked"}'
expect 200 PATCH $R/taskInstances/list_files/setNote '{"note": "looked at"}'
expect 200 PATCH $R/taskInstances/load/1/setNote '{"note": "second of three"}'
expect 200 POST /api/v1/connections/test "{\"connection_id\": \"self\", \"conn_type\": \"http\", \"host\": \"127.0.0.1\", \"port\": $port}"

# ---- errors ---------------------------------------------------------------------
expect 404 GET /api/v1/dags/nope/details
expect 404 GET $D/tasks/nope
expect 404 GET /api/v1/dagSources/bm9wZQ
expect 404 DELETE $D/dagRuns/nope
expect 404 GET /api/v1/users/nope
expect 404 GET /api/v1/roles/Nope
expect 404 GET /api/v1/eventLogs/999999
expect 409 POST /api/v1/users '{"username": "viewer", "first_name": "V", "last_name": "W", "email": "other@example.com", "password": "pw-x-123456"}'

expect 404 GET /api/v1/dags/nope
expect 404 GET $D/dagRuns/nope
expect 404 GET $R/taskInstances/nope
expect 404 GET $R/taskInstances/nope/logs/1
expect 404 GET $R/taskInstances/list_files/xcomEntries/nope
expect 404 GET $R/taskInstances/load/7
expect 404 GET /api/v1/importErrors/999999
expect 404 GET /api/v1/variables/nope
expect 404 GET /api/v1/connections/nope
expect 404 GET /api/v1/pools/nope
expect 404 DELETE /api/v1/pools/nope
expect 404 PATCH $D/dagRuns/nope '{"state": "failed"}'
expect 404 GET /api/v1/nothing/here

expect 400 GET "/api/v1/dags?limit=abc"
expect 400 GET "/api/v1/dags?bogus=1"
expect 400 GET "$D/dagRuns?order_by=secret"
expect 400 PATCH $D '{"is_paused": "no"}'
expect 400 POST $D/dagRuns '{"conf": "x"}'
expect 400 POST $D/clearTaskInstances '{"dry_run": "yes"}'
expect 400 PATCH $R '{"state": "running"}'
expect 400 PATCH $R/taskInstances/list_files '{}'
expect 400 GET "$R/taskInstances/list_files/logs/1?token=%25%25"
expect 400 POST /api/v1/variables '{"value": "no key"}'
expect 400 POST /api/v1/connections '{"conn_type": "http"}'
expect 400 POST /api/v1/pools '{"name": "p2"}'

T_API_AUTH=(-q)
expect 401 GET /api/v1/dags
T_API_AUTH=(-q -u "admin:wrong")
expect 401 GET /api/v1/pools
T_API_AUTH=(-q -u "viewer:$pw_viewer")
expect 403 GET /api/v1/variables
expect 403 POST /api/v1/pools '{"name": "p9", "slots": 1}'
T_API_AUTH=()

expect 405 PUT $D '{}'
expect 405 DELETE /api/v1/health

expect 409 POST $D/dagRuns '{"dag_run_id": "r1"}'
expect 409 POST /api/v1/pools '{"name": "p1", "slots": 1}'
expect 200 POST /api/v1/connections '{"connection_id": "c2", "conn_type": "http"}'
expect 409 POST /api/v1/connections '{"connection_id": "c2", "conn_type": "http"}'
expect 204 DELETE /api/v1/pools/p1
expect 200 PATCH $W/dagRuns/held '{"state": "failed"}'
expect 204 DELETE $D/dagRuns/r2

# ---- the check -------------------------------------------------------------------

"$BIN/updraft-webserver" --routes >"$tmp/routes.tsv"
node tests/openapi/validate.js --routes "$tmp/routes.tsv" "$SPEC" "$tmp/records.tsv" >"$tmp/validate.out" 2>&1
rc=$?
sed 's/^/# /' "$tmp/validate.out"
check_eq "every recorded answer matches the spec and every route answered 2xx" 0 "$rc"

rcs=""
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs$?"; done
pids=()
check_eq "daemons exit 0 on SIGTERM" "000" "$rcs"
[ "$T_FAILED" -eq 0 ]
