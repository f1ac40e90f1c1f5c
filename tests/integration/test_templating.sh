#!/usr/bin/env bash
# Templating and XCom in the worker against real Postgres and Redis (task
# instances queued by psql, messages XADDed by hand): a bash_command and an
# env value using ds, params, var.value, conn.X.password and xcom_pull of an
# upstream's return_value; the password never stored in task_log; a render
# error failing the try with its position; return_value and
# do_xcom_push: false; a new try clearing the old XComs; the rendered
# fields stored with the try (masked, a huge one truncated, older runs'
# trimmed) and answered by the API; {{ task }} and {{ dag }} as Airflow prints
# them; variables_as_arguments; manual runs at a logical date get the
# inferred data interval.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=40
t_setup
check "db migrate" "$BIN/updraft" db migrate

export UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__LOG_FLUSH_MS=100
export UPDRAFT__CORE__MAX_NUM_RENDERED_TI_FIELDS_PER_TASK=2
PW='Tpl-s3cret-PW!42'
check "connection stored" "$BIN/updraft" connections add my_db --conn-type postgres \
  --conn-host db.example --conn-login alice --conn-password "$PW"
check "variable stored" "$BIN/updraft" variables set bucket my-bucket
check "sensitive variable stored" "$BIN/updraft" variables set api_token tok-ABCDEF-999
check "command variable stored" "$BIN/updraft" variables set cmd_var 'echo "from-var {{ ds }}"'
check "a 6,000-character variable stored" "$BIN/updraft" variables set longval "$(head -c 6000 /dev/zero | tr '\000' y)"
check "JSON variable with nested secrets stored" "$BIN/updraft" variables set json_cfg \
  '{"db": {"host": "h1", "password": "vj-pw-1111"}, "api": {"keys": [{"token": "vj-tok-2222"}]}}'
check "connection with a nested secret in its extra stored" "$BIN/updraft" connections add c \
  --conn-type http --conn-host api.example \
  --conn-extra '{"headers": {"Authorization": "Bearer cx-3333"}, "timeout": 5}'


data=$(jq -n '{
  format: 1, dag_id: "tpl", fileloc: "/dags/tpl.yaml", owner: "airflow", schedule: "@daily",
  task_order: ["up", "templated", "bad", "quiet", "bigline", "filepush", "badfile", "nested", "huge", "slow", "fromvar", "unsetvar"],
  tasks: {
    up: {task_id: "up", operator: "BashOperator", bash_command: "echo first; echo \"pushed {{ ds_nodash }}\"; echo"},
    templated: {task_id: "templated", operator: "BashOperator",
      bash_command: "echo \"ds={{ ds }} p={{ params.region | upper }} v={{ var.value.bucket }} pull={{ ti.xcom_pull(task_ids=\u0027up\u0027) }} interval={{ data_interval_end }}\"; echo \"pw=$DB_PW\"; echo \"tok={{ var.value.api_token }}\"; echo \"task={{ task }} dag={{ dag }}\"; echo tail",
      env: {DB_PW: "{{ conn.my_db.password }}", PATH: "/usr/bin:/bin"}, append_env: false},
    bad: {task_id: "bad", operator: "BashOperator", bash_command: "echo {{ ds_nodsh }}"},
    quiet: {task_id: "quiet", operator: "BashOperator", do_xcom_push: false, bash_command: "echo not-pushed"},
    filepush: {task_id: "filepush", operator: "BashOperator", bash_command: "echo \"file=$UPDRAFT_XCOM_FILE\"; echo \u0027{\"k1\": {\"a\": [1, 2]}, \"n\": 5}\u0027 > \"$UPDRAFT_XCOM_FILE\"; echo last-line"},
    badfile: {task_id: "badfile", operator: "BashOperator", bash_command: "echo not-json > \"$UPDRAFT_XCOM_FILE\""},
    nested: {task_id: "nested", operator: "BashOperator",
      bash_command: "echo \"cfg={{ var.json.json_cfg }}\"; echo \"cfgjson={{ var.json.json_cfg | tojson }}\"; echo \"extra={{ conn.c.extra_dejson | tojson }}\"; echo \"conf={{ dag_run.conf }}\"; echo \"params={{ params | tojson }}\"; echo \"param={{ params.api_token }}\"; echo \"envparam=$UPDRAFT_PARAM_api_token\"; echo \"envconf=$UPDRAFT_DAG_RUN_CONF\""},
    slow: {task_id: "slow", operator: "BashOperator", bash_command: "echo slow {{ ds }}; sleep 4"},
    fromvar: {task_id: "fromvar", operator: "BashOperator", bash_command: "echo as-written",
      variables_as_arguments: [{variable: "cmd_var", attribute: "bash_command"}]},
    unsetvar: {task_id: "unsetvar", operator: "BashOperator", bash_command: "echo as-written",
      variables_as_arguments: [{variable: "no_such_var", attribute: "bash_command"}]},
    huge: {task_id: "huge", operator: "BashOperator", bash_command: "echo {{ var.value.longval }} | wc -c"},
    bigline: {task_id: "bigline", operator: "BashOperator", bash_command: "head -c 60000 /dev/zero | tr \"\\\\000\" x; echo"}
  }}')
q "INSERT INTO dag (dag_id, fileloc) VALUES ('tpl', '/dags/tpl.yaml')"
ver=$(svc_psql -q -c "INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)
       VALUES ('tpl', 1, 'h', \$j\$$data\$j\$::jsonb, '/dags/tpl.yaml') RETURNING id")
run_id='scheduled__2024-03-05T00:00:00+00:00'
dr=$(svc_psql -q -c "INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date,
       data_interval_start, data_interval_end, conf)
       VALUES ('tpl', '$run_id', $ver, 'scheduled', 'running', '2024-03-05T00:00:00Z',
       '2024-03-05T00:00:00Z', '2024-03-06T00:00:00Z',
       '{\"region\": \"eu\", \"api_token\": \"conf-tok-1234\", \"nested\": {\"db_password\": \"conf-pw-5678\"}}') RETURNING id")
check "fixture: dag run created" test -n "$dr"

new_ti() {
  svc_psql -q -c "INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, try_number,
      max_tries, operator, queued_at) VALUES ($dr, 'tpl', '$run_id', '$1', 'queued', $2, $3,
      'BashOperator', now()) RETURNING id"
}
send() { rcli XADD updraft:q:default '*' v 1 ti "$1" try "$2" >/dev/null; }
state_is() { [ "$(svc_psql -c "SELECT state FROM task_instance WHERE id = $1")" = "$2" ]; }
log_of() { svc_psql -c "SELECT string_agg(data, '' ORDER BY id) FROM task_log WHERE ti_id = $1 AND try_number = ${2:-1}"; }
xcom_of() { svc_psql -c "SELECT value::text FROM xcom WHERE dag_run_id = $dr AND task_id = '$1' AND key = '${2:-return_value}'"; }

start_worker worker tpl-host 4 --queues default

# --- upstream pushes its last non-empty line
up=$(new_ti up 1 0)
send "$up" 1
check "up: reaches success" wait_for 15 state_is "$up" success
check_eq "up: return_value is the last non-empty line, as a JSON string" '"pushed 20240305"' "$(xcom_of up)"

# --- rendered fields of older runs, to be trimmed (keep the latest 2 runs' per task)
old_run() {
  svc_psql -q -c "INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date)
    VALUES ('tpl', 'old_$1', $ver, 'scheduled', 'success', '$1T00:00:00Z') RETURNING id"
}
old_rendered() { # run id, logical date, task
  svc_psql -q -c "WITH t AS (INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, try_number,
      operator) VALUES ($1, 'tpl', 'old_$2', '$3', 'success', 1, 'BashOperator') RETURNING id)
    INSERT INTO rendered_task_instance_fields (ti_id, try_number, dag_id, task_id, logical_date, rendered_fields)
    SELECT id, 1, 'tpl', '$3', '$2T00:00:00Z', '{\"bash_command\": \"old\"}' FROM t RETURNING ti_id"
}
dr3=$(old_run 2024-03-03); dr4=$(old_run 2024-03-04)
old3=$(old_rendered "$dr3" 2024-03-03 templated); old4=$(old_rendered "$dr4" 2024-03-04 templated)
old3up=$(old_rendered "$dr3" 2024-03-03 up)
check "fixture: older rendered rows" test -n "$old3" -a -n "$old4" -a -n "$old3up"
rf_of() { svc_psql -c "SELECT rendered_fields::text FROM rendered_task_instance_fields WHERE ti_id = $1"; }
rf_count() { svc_psql -c "SELECT count(*) FROM rendered_task_instance_fields WHERE ti_id = $1"; }

# --- the templated task
ti=$(new_ti templated 1 0)
send "$ti" 1
check "templated: reaches success" wait_for 15 state_is "$ti" success
log=$(log_of "$ti")
check_eq "templated: ds, params, var.value, xcom_pull, data_interval_end rendered" \
  "ds=2024-03-05 p=EU v=my-bucket pull=pushed 20240305 interval=2024-03-06T00:00:00+00:00" \
  "$(grep -o '^ds=.*' <<<"$log")"
check_eq "templated: {{ task }} and {{ dag }} print as Airflow's reprs" \
  "task=<Task(BashOperator): templated> dag=<DAG: tpl>" "$(grep -o '^task=.*' <<<"$log")"
check_eq "templated: conn password in env reaches the task, masked in the log" "pw=***" "$(grep -o '^pw=.*' <<<"$log")"
check_eq "templated: sensitive variable masked" "tok=***" "$(grep -o '^tok=.*' <<<"$log")"
check "templated: the logged command is the rendered one" grep -q 'Running command: echo "ds=2024-03-05' <<<"$log"
check_eq "the password is in no task_log row" 0 \
  "$(svc_psql -c "SELECT count(*) FROM task_log WHERE strpos(data, '$PW') > 0")"
check_eq "the sensitive variable is in no task_log row" 0 \
  "$(svc_psql -c "SELECT count(*) FROM task_log WHERE strpos(data, 'tok-ABCDEF-999') > 0")"
check_eq "the password is in no xcom row" 0 \
  "$(svc_psql -c "SELECT count(*) FROM xcom WHERE strpos(value::text, '$PW') > 0")"
check "the password is not in the worker's own log" bash -c '! grep -qF -- "$1" "$2"' _ "$PW" "$tmp/worker.log"
check_eq "templated: return_value pushed" '"tail"' "$(xcom_of templated)"
rf=$(rf_of "$ti")
check_eq "rendered: the fields of BashOperator, in order" "bash_command,env,cwd" "$(jq -r 'keys_unsorted | join(",")' <<<"$rf")"
check "rendered: bash_command has the date and the sensitive variable masked" \
  jq -e '.bash_command | startswith("echo \"ds=2024-03-05 p=EU v=my-bucket") and contains("echo \"tok=***\"")' <<<"$rf"
check_eq "rendered: env rendered, the connection password masked" '*** /usr/bin:/bin' \
  "$(jq -r '"\(.env.DB_PW) \(.env.PATH)"' <<<"$rf")"
check_eq "rendered: stored with the try number" 1 \
  "$(svc_psql -c "SELECT try_number FROM rendered_task_instance_fields WHERE ti_id = $ti")"
check_eq "rendered: the password and the sensitive variable are in no rendered row" 0 \
  "$(svc_psql -c "SELECT count(*) FROM rendered_task_instance_fields
     WHERE strpos(rendered_fields::text, '$PW') > 0 OR strpos(rendered_fields::text, 'tok-ABCDEF-999') > 0")"
check_eq "rendered: the task's row of the run before the latest 2 is trimmed" 0 "$(rf_count "$old3")"
check_eq "rendered: the task's row of the second latest run is kept" 1 "$(rf_count "$old4")"
check_eq "rendered: another task's old row waits for that task's next write" 1 "$(rf_count "$old3up")"

# --- a try still running: its fields came with its first log chunk
ti=$(new_ti slow 1 0)
send "$ti" 1
check "slow: running" wait_for 15 state_is "$ti" running
rendered_running() { [ "$(rf_count "$1")" = 1 ] && state_is "$1" running; }
check "slow: the rendered fields are stored while the try runs" wait_for 3 rendered_running "$ti"
check_eq "slow: rendered" "echo slow 2024-03-05; sleep 4" "$(rf_of "$ti" | jq -r .bash_command)"
check "slow: reaches success" wait_for 15 state_is "$ti" success

# --- a huge rendered value is stored truncated as Airflow does; the task gets all of it
ti=$(new_ti huge 1 0)
send "$ti" 1
check "huge: reaches success" wait_for 15 state_is "$ti" success
check "huge: the task got the whole value" grep -qx 6001 <<<"$(log_of "$ti" | grep -x '[0-9]*')"
rf=$(rf_of "$ti")
check "huge: stored truncated with Airflow's note" \
  jq -e '.bash_command | startswith("Truncated. You can change this behaviour in [core]max_templated_field_length. '"'"'echo yyyy") and endswith("yyy'"'"'... ")' <<<"$rf"
check_eq "huge: bounded by max_templated_field_length (4096 - 79 characters kept)" 4101 \
  "$(jq -r '.bash_command | length' <<<"$rf")"

# --- values under secret-looking keys, at any depth, printed whole or through the environment
ti=$(new_ti nested 1 0)
send "$ti" 1
check "nested: reaches success" wait_for 15 state_is "$ti" success
log=$(log_of "$ti")
for probe in vj-pw-1111 vj-tok-2222 cx-3333 conf-tok-1234 conf-pw-5678; do
  check_eq "nested secrets are masked in the log: $probe in no task_log row" 0 \
    "$(svc_psql -c "SELECT count(*) FROM task_log WHERE strpos(data, '$probe') > 0")"
done
check "nested: var.json printed whole, the password masked, the host kept" \
  grep -qF "cfg={'db': {'host': 'h1', 'password': '***'}" <<<"$log"
check "nested: tojson of extra_dejson masks the header" grep -qF 'extra={"headers": {"Authorization": "***"}' <<<"$log"
check_eq "nested: a param named like a secret, through the environment" "envparam=***" "$(grep -o '^envparam=.*' <<<"$log")"
check "nested: the conf in the environment, masked" grep -qF '"nested": {"db_password": "***"}' <<<"$log"

# --- a render error fails the try, with the position, and retries as usual
ti=$(new_ti bad 1 1)
send "$ti" 1
check "bad: goes up_for_retry" wait_for 15 state_is "$ti" up_for_retry
log=$(log_of "$ti")
check "bad: log names the field, position and name" \
  grep -q "cannot render bash_command: line 1, column .*'ds_nodsh' is undefined" <<<"$log"
check "bad: nothing ran" bash -c '! grep -q "Output:" <<<"$1"' _ "$log"
check_eq "bad: no rendered fields stored" 0 "$(rf_count "$ti")"
bad=$ti

# --- variables_as_arguments: a set Variable replaces bash_command, then is rendered
ti=$(new_ti fromvar 1 0)
send "$ti" 1
check "fromvar: reaches success" wait_for 15 state_is "$ti" success
check_eq "fromvar: the Variable's command ran, rendered" '"from-var 2024-03-05"' "$(xcom_of fromvar)"
ti=$(new_ti unsetvar 1 0)
send "$ti" 1
check "unsetvar: reaches success" wait_for 15 state_is "$ti" success
check_eq "unsetvar: an unset Variable leaves the command as written" '"as-written"' "$(xcom_of unsetvar)"

# --- do_xcom_push: false
ti=$(new_ti quiet 1 0)
send "$ti" 1
check "quiet: reaches success" wait_for 15 state_is "$ti" success
check_eq "quiet: nothing pushed" "" "$(xcom_of quiet)"

# --- a last line above the XCom size limit fails the try
ti=$(new_ti bigline 1 0)
send "$ti" 1
check "bigline: fails" wait_for 15 state_is "$ti" failed
check "bigline: log says why" grep -q "XCom return_value is larger than" <<<"$(log_of "$ti")"

# --- more keys through $UPDRAFT_XCOM_FILE
ti=$(new_ti filepush 1 0)
send "$ti" 1
check "filepush: reaches success" wait_for 15 state_is "$ti" success
check_eq "filepush: object value" '{"a": [1, 2]}' "$(xcom_of filepush k1)"
check_eq "filepush: number value" 5 "$(xcom_of filepush n)"
check_eq "filepush: return_value still the last line" '"last-line"' "$(xcom_of filepush)"
xf=$(grep -o '^file=.*' <<<"$(log_of "$ti")" | cut -d= -f2)
check "filepush: the file was named" test -n "$xf"
check "filepush: the file is removed" test ! -e "${xf:-/nonexistent}"
ti=$(new_ti badfile 1 0)
send "$ti" 1
check "badfile: fails" wait_for 15 state_is "$ti" failed
check "badfile: log says why" grep -q "Cannot push XComs: UPDRAFT_XCOM_FILE does not hold a JSON object" <<<"$(log_of "$ti")"

# --- a new try of up replaces its XComs (old keys go)
q "INSERT INTO xcom (dag_run_id, dag_id, run_id, task_id, key, value)
   VALUES ($dr, 'tpl', '$run_id', 'up', 'stale_key', '1')"
q "UPDATE task_instance SET state = 'queued', try_number = 2, max_tries = 1 WHERE id = $up"
send "$up" 2
check "up try 2: success" wait_for 15 state_is "$up" success
check_eq "up try 2: old keys cleared" "" "$(xcom_of up stale_key)"
check_eq "up try 2: return_value pushed again" '"pushed 20240305"' "$(xcom_of up)"
check_eq "up try 2: its rendered fields replace try 1's" "2 echo first" \
  "$(svc_psql -c "SELECT try_number || ' ' || left(rendered_fields->>'bash_command', 10) FROM rendered_task_instance_fields WHERE ti_id = $up")"
check_eq "up try 2: its write trimmed up's row of the older run" 0 "$(rf_count "$old3up")"

# --- updraft tasks render
out=$("$BIN/updraft" tasks render tpl templated "$run_id")
check "render: property header as Airflow's" grep -qx '# property: bash_command' <<<"$out"
check "render: rendered command" grep -qF 'echo "ds=2024-03-05 p=EU v=my-bucket pull=pushed 20240305 interval=2024-03-06T00:00:00+00:00"' <<<"$out"
check "render: env rendered, the password masked" grep -qF "'DB_PW': '***'" <<<"$out"
check "render: sensitive variable masked" grep -qF 'echo "tok=***"' <<<"$out"
check_eq "render: by logical date" "$out" "$("$BIN/updraft" tasks render tpl templated 2024-03-05T00:00:00+00:00)"
out=$("$BIN/updraft" tasks render tpl up 2025-01-02 2>&1)
check "render: a date without a run uses that date" grep -qF 'echo "pushed 20250102"' <<<"$out"
out=$("$BIN/updraft" tasks render tpl bad "$run_id" 2>&1); rc=$?
check_eq "render: an error exits 1" 1 "$rc"
check "render: the error names the position" grep -q "line 1, column .*'ds_nodsh' is undefined" <<<"$out"

# --- the XCom API
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=4
start_webserver webserver
check "webserver answers" wait_for 10 curl -sf "http://127.0.0.1:$port/health"
q "INSERT INTO xcom (dag_run_id, dag_id, run_id, task_id, key, value)
   VALUES ($dr, 'tpl', '$run_id', 'up', 'obj', '{\"a\": [1, 2]}')"
base="http://127.0.0.1:$port/api/v1/dags/tpl/dagRuns/$(jq -rn --arg x "$run_id" '$x|@uri')/taskInstances/up/xcomEntries"
body=$(curl -sf "$base")
check_eq "xcomEntries: total and keys" "2 obj,return_value" \
  "$(jq -r '"\(.total_entries) \([.xcom_entries[].key] | join(","))"' <<<"$body")"
check_eq "xcomEntries: entry fields" "tpl up -1 2024-03-05T00:00:00.000000+00:00" \
  "$(jq -r '.xcom_entries[0] | "\(.dag_id) \(.task_id) \(.map_index) \(.execution_date)"' <<<"$body")"
check_eq "xcomEntries?xcom_key filters" 1 "$(curl -sf "$base?xcom_key=obj" | jq .total_entries)"
check_eq "xcomEntries/return_value: the value" "pushed 20240305" "$(curl -sf "$base/return_value" | jq -r .value)"
check_eq "xcomEntries/obj: JSON text by default" '{"a": [1, 2]}' "$(curl -sf "$base/obj" | jq -r .value)"
check_eq "xcomEntries/obj?deserialize&stringify=false: JSON value" 2 \
  "$(curl -sf "$base/obj?deserialize=true&stringify=false" | jq '.value.a | length')"
check_eq "xcomEntries/missing: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$base/missing")"

# --- rendered_fields in the TaskInstance answers
tis="http://127.0.0.1:$port/api/v1/dags/tpl/dagRuns/$(jq -rn --arg x "$run_id" '$x|@uri')/taskInstances"
body=$(curl -sf "$tis/templated")
check "GET taskInstance: rendered_fields has the rendered command, secrets masked" \
  jq -e '.rendered_fields.bash_command | startswith("echo \"ds=2024-03-05") and contains("tok=***")' <<<"$body"
check_eq "GET taskInstance: rendered env" '***' "$(jq -r .rendered_fields.env.DB_PW <<<"$body")"
check_eq "GET taskInstance: none stored answers {}" '{}' "$(curl -sf "$tis/bad" | jq -c .rendered_fields)"
check_eq "list: each instance with its rendered_fields" "echo first" \
  "$(curl -sf "$tis" | jq -r '.task_instances[] | select(.task_id == "up") | .rendered_fields.bash_command[0:10]')"

# --- a manual run at a logical date gets Airflow 2's infer_manual_data_interval
# (tpl is @daily): the last complete interval ending at or before it
q "UPDATE dag SET version_id = $ver WHERE dag_id = 'tpl'" >/dev/null
interval_of() { q "SELECT to_char(data_interval_start AT TIME ZONE 'UTC', 'MM-DD HH24') || ' ' ||
  to_char(data_interval_end AT TIME ZONE 'UTC', 'MM-DD HH24') FROM dag_run WHERE dag_id = 'tpl' AND run_id = '$1'"; }
check "trigger at a logical date" "$BIN/updraft" dags trigger tpl --run-id man1 \
  --logical-date 2024-03-10T00:00:00+00:00 >/dev/null
check_eq "manual run on a boundary: [03-09, 03-10)" "03-09 00 03-10 00" "$(interval_of man1)"
check "trigger between boundaries" "$BIN/updraft" dags trigger tpl --run-id man2 \
  --logical-date 2024-03-11T13:30:00+00:00 >/dev/null
check_eq "manual run between boundaries: [03-10, 03-11), logical date kept" "03-10 00 03-11 00 2024-03-11 13:30" \
  "$(interval_of man2) $(q "SELECT to_char(logical_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM dag_run WHERE run_id = 'man2'")"
body=$(curl -s -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$port/api/v1/dags/tpl/dagRuns" \
  -d '{"dag_run_id": "man3", "logical_date": "2024-03-12T06:00:00+00:00"}')
check_eq "POST dagRuns with logical_date: the inferred interval" \
  "2024-03-11T00:00:00.000000+00:00 2024-03-12T00:00:00.000000+00:00" \
  "$(jq -r '"\(.data_interval_start) \(.data_interval_end)"' <<<"$body")"
body=$(curl -s -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$port/api/v1/dags/tpl/dagRuns" \
  -d '{"dag_run_id": "man4", "logical_date": "2024-03-13T06:00:00+00:00",
       "data_interval_start": "2024-03-13T01:00:00+00:00", "data_interval_end": "2024-03-13T02:00:00+00:00"}')
check_eq "POST dagRuns with a data interval: kept as given" \
  "2024-03-13T01:00:00.000000+00:00 2024-03-13T02:00:00.000000+00:00" \
  "$(jq -r '"\(.data_interval_start) \(.data_interval_end)"' <<<"$body")"

echo "1..$T_N"
[ "${T_FAILED:-0}" -eq 0 ]
