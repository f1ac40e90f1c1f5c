#!/usr/bin/env bash
# The operators that are not bash, against real Postgres, Redis, a
# scheduler and a worker: the python operator (a callable file with
# op_args/op_kwargs and context, a module callable, skip and failure,
# ti.xcom_push), the HTTP operator against a local server (body to XCom
# pulled by a downstream template, status and response_check failures,
# request timeout and execution_timeout, basic auth from the connection),
# the SQL operator against the test Postgres (parameters, rows in XCom),
# trigger_dag_run passing conf and waiting, branch and short_circuit in
# bash and python (the skipmixin XCom and, with the planner, what is
# skipped), dynamic task mapping in the worker (expand values applied,
# {{ ti.map_index }}), and the connection passwords in no table and no log.
# T_DEBUG=1 prints a few task logs at the end.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=60
t_setup
mkdir -p "$tmp/dags" "$tmp/py"
command -v python3 >/dev/null || { not_ok "python3 is installed"; exit 1; }

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__LOG_FLUSH_MS=100
check "db migrate" "$BIN/updraft" db migrate

# --- a local HTTP server
hport=$(svc_free_port)
HTTP_PW='Http-s3cret-PW!77'
cat >"$tmp/server.py" <<'PY'
import base64, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, pw = int(sys.argv[1]), sys.argv[2]
class H(BaseHTTPRequestHandler):
    def reply(self, code, body):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        if self.path == "/ok":
            self.reply(200, "hello-body")
        elif self.path == "/fail":
            self.reply(500, "server error")
        elif self.path == "/slow":
            time.sleep(6)
            self.reply(200, "late")
        elif self.path == "/auth":
            want = "Basic " + base64.b64encode(("web:" + pw).encode()).decode()
            ok = self.headers.get("Authorization") == want
            self.reply(200 if ok else 401, "authorized" if ok else "denied")
        else:
            self.reply(404, "no such page")
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
python3 "$tmp/server.py" "$hport" "$HTTP_PW" >"$tmp/http.log" 2>&1 & pids+=($!)
check "http server answers" wait_for 10 curl -sf "http://127.0.0.1:$hport/ok"

# --- connections
SQL_PW='Sql-s3cret-PW!88'
check "http connection stored" "$BIN/updraft" connections add my_http --conn-type http \
  --conn-host 127.0.0.1 --conn-port "$hport" --conn-login web --conn-password "$HTTP_PW"
check "postgres connection stored" "$BIN/updraft" connections add my_pg --conn-type postgres \
  --conn-host 127.0.0.1 --conn-port "$SVC_PG_PORT" --conn-schema updraft --conn-login updraft \
  --conn-password "$SQL_PW"

# --- python callables
cat >"$tmp/py/callables.py" <<'PY'
def add(a, b, scale=1, ds=None, **kwargs):
    print("adding %s and %s, scale %s, ds %s, run %s, map_index %s"
          % (a, b, scale, ds, kwargs["run_id"], kwargs["ti"].map_index))
    return {"sum": (a + b) * scale, "ds": ds, "color": kwargs["params"].get("color")}

def only_named(x, templates_dict):
    # no **kwargs: only the names in the signature are passed
    return "%s/%s" % (x, templates_dict["when"])

def skipper():
    from airflow.exceptions import AirflowSkipException
    raise AirflowSkipException("nothing to do today")

def boom():
    raise ValueError("boom-in-callable")

def pushes(ti):
    ti.xcom_push(key="extra", value=[1, 2])

def pick():
    return "right_py"

def pick_bad():
    return "not_a_downstream_task"

def falsy():
    return 0

def numbers():
    return [1, 2, 3]

def times_ten(x):
    print("mapped x=%s" % x)
    return x * 10
PY
cat >"$tmp/py/mymod.py" <<'PY'
def hello(name):
    print("hello " + name)
    return "hi " + name
PY
export PYTHONPATH=$tmp/py
pyf=$tmp/py/callables.py

cat >"$tmp/dags/ops.yaml" <<YAML
op_python:
  schedule: null
  start_date: 2024-01-01
  params: {color: green}
  default_args: {retries: 0}
  tasks:
    - task_id: py_add
      operator: python
      python_callable_file: $pyf
      python_callable_name: add
      op_args: [2, 3]
      op_kwargs: {scale: 10}
    - task_id: py_named
      operator: PythonOperator
      python_callable_file: $pyf
      python_callable_name: only_named
      op_kwargs: {x: "{{ ds_nodash }}", unused: 1}
      templates_dict: {when: "{{ params.color }}"}
    - {task_id: py_module, operator: python, python_callable: mymod.hello, op_args: [world]}
    - {task_id: py_skip, operator: python, python_callable_file: $pyf, python_callable_name: skipper}
    - {task_id: py_fail, operator: python, python_callable_file: $pyf, python_callable_name: boom}
    - {task_id: py_push, operator: python, python_callable_file: $pyf, python_callable_name: pushes}
    - {task_id: py_quiet, operator: python, python_callable: mymod.hello, op_args: [quiet], do_xcom_push: false}
    - task_id: pull_py
      operator: bash
      bash_command: "echo \"pulled={{ ti.xcom_pull(task_ids='py_add')['sum'] }}\""
      dependencies: [py_add]
op_http:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 0}
  tasks:
    - {task_id: req, operator: http, http_conn_id: my_http, endpoint: ok, method: GET}
    - task_id: pull
      operator: bash
      bash_command: "echo \"got={{ ti.xcom_pull(task_ids='req') }}\""
      dependencies: [req]
    - {task_id: req_fail, operator: SimpleHttpOperator, http_conn_id: my_http, endpoint: fail, method: GET}
    - {task_id: req_check, operator: HttpOperator, http_conn_id: my_http, endpoint: ok, method: GET, response_check: "not-in-body"}
    - {task_id: req_timeout, operator: http, http_conn_id: my_http, endpoint: slow, method: GET, request_timeout: 1}
    - {task_id: req_exec_timeout, operator: http, http_conn_id: my_http, endpoint: slow, method: GET, execution_timeout: 2}
    - {task_id: req_auth, operator: http, http_conn_id: my_http, endpoint: auth, method: GET}
op_sql:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 0}
  tasks:
    - task_id: sql_create
      operator: sql
      conn_id: my_pg
      sql: ["CREATE TABLE t_ops (id int, name text)", "INSERT INTO t_ops VALUES (1, 'a'), (2, 'b'), (3, 'c')"]
    - task_id: sql_query
      operator: SQLExecuteQueryOperator
      conn_id: my_pg
      sql: "SELECT id, name FROM t_ops WHERE id >= %(min)s ORDER BY id"
      parameters: {min: 2}
      dependencies: [sql_create]
    - {task_id: sql_list, operator: PostgresOperator, postgres_conn_id: my_pg, sql: "SELECT %s + %s AS s", parameters: [2, 3]}
op_target:
  schedule: null
  start_date: 2024-01-01
  params: {color: red, size: 1}
  tasks:
    - task_id: show
      operator: bash
      bash_command: "echo \"conf={{ dag_run.conf['color'] }} p={{ params.color }} size={{ params.size }}\""
op_trigger:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 0}
  tasks:
    - task_id: trig
      operator: trigger_dag_run
      trigger_dag_id: op_target
      trigger_run_id: "from_{{ run_id }}"
      conf: {color: blue}
      wait_for_completion: true
      poke_interval: 1
    - task_id: trig_again
      operator: TriggerDagRunOperator
      trigger_dag_id: op_target
      trigger_run_id: "from_{{ run_id }}"
      skip_when_already_exists: true
      dependencies: [trig]
    - task_id: trig_dup
      operator: trigger_dag_run
      trigger_dag_id: op_target
      trigger_run_id: "from_{{ run_id }}"
      dependencies: [trig]
    - task_id: trig_reset
      operator: trigger_dag_run
      trigger_dag_id: op_target
      trigger_run_id: "from_{{ run_id }}"
      reset_dag_run: true
      wait_for_completion: true
      poke_interval: 1
      dependencies: [trig_again, trig_dup]
      trigger_rule: all_done
op_branch:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 0}
  task_groups:
    grp: {tooltip: "a group a branch names"}
  tasks:
    - {task_id: br, operator: branch, bash_command: 'echo "thinking"; echo right; echo grp; echo nonsense'}
    - {task_id: left, operator: bash, bash_command: "true", dependencies: [br]}
    - {task_id: right, operator: bash, bash_command: "true", dependencies: [br]}
    - {task_id: g1, operator: bash, bash_command: "true", task_group_name: grp, dependencies: [br]}
    - {task_id: br_none, operator: branch, bash_command: "echo nothing-matches"}
    - {task_id: none_after, operator: bash, bash_command: "true", dependencies: [br_none]}
    - {task_id: br_py, operator: BranchPythonOperator, python_callable_file: $pyf, python_callable_name: pick}
    - {task_id: left_py, operator: bash, bash_command: "true", dependencies: [br_py]}
    - {task_id: right_py, operator: bash, bash_command: "true", dependencies: [br_py]}
    - {task_id: br_bad, operator: branch, python_callable_file: $pyf, python_callable_name: pick_bad}
    - {task_id: bad_after, operator: bash, bash_command: "true", dependencies: [br_bad]}
    - {task_id: sc, operator: short_circuit, bash_command: 'echo working; echo "False"'}
    - {task_id: sc_after, operator: bash, bash_command: "true", dependencies: [sc]}
    - {task_id: sc_true, operator: short_circuit, bash_command: "echo yes"}
    - {task_id: sc_true_after, operator: bash, bash_command: "true", dependencies: [sc_true]}
    - {task_id: sc_py, operator: ShortCircuitOperator, python_callable_file: $pyf, python_callable_name: falsy}
    - {task_id: sc_py_after, operator: bash, bash_command: "true", dependencies: [sc_py]}
op_map:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 0}
  tasks:
    - task_id: m
      operator: bash
      bash_command: 'echo "item={{ ti.map_index }} val=\$V"'
      env: {W: "w"}
      append_env: true
      expand:
        env: [{V: a}, {V: b}, {V: c}]
    - {task_id: src, operator: python, python_callable_file: $pyf, python_callable_name: numbers}
    - task_id: pm
      operator: python
      python_callable_file: $pyf
      python_callable_name: times_ten
      expand:
        op_args: src.output
      dependencies: [src]
YAML

start_scheduler scheduler
mkdir -p "$tmp/wtmp"
TMPDIR=$tmp/wtmp start_worker worker ops-w 8
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id IN ('op_python', 'op_http', 'op_sql',
  'op_target', 'op_trigger', 'op_branch', 'op_map')")" = 7 ]; }
check "DAGs are parsed" wait_for 30 dags_in
if ! dags_in; then
  "$BIN/updraft" dags list-import-errors 2>&1 | sed 's/^/# /'
fi

T_RUN_ID=r1   # run_state/run_done default to run r1 here
ti_where() { echo "ti.task_id = '$2' AND ti.map_index = ${4:--1} AND ti.dag_run_id =
  (SELECT id FROM dag_run WHERE dag_id = '$1' AND run_id = '${3:-r1}')"; }
ti_state() { q "SELECT ti.state FROM task_instance ti WHERE $(ti_where "$@")"; }
ti_log() { q "SELECT string_agg(l.data, '' ORDER BY l.id) FROM task_log l JOIN task_instance ti
  ON ti.id = l.ti_id WHERE $(ti_where "$@")"; }
# xcom DAG TASK [KEY] [RUN] [MAP_INDEX]: the value as compact JSON
xcom() {
  local v
  v=$(q "SELECT value::text FROM xcom x WHERE x.task_id = '$2' AND x.key = '${3:-return_value}'
    AND x.map_index = ${5:--1} AND x.dag_run_id =
    (SELECT id FROM dag_run WHERE dag_id = '$1' AND run_id = '${4:-r1}')")
  [ -n "$v" ] && jq -cS . <<<"$v"
}

for d in op_python op_http op_sql op_trigger op_branch op_map; do
  "$BIN/updraft" dags trigger "$d" --run-id r1 --logical-date 2024-03-05T00:00:00+00:00 \
    >/dev/null 2>&1 || not_ok "trigger $d"
done
for d in op_python op_http op_sql op_trigger op_branch op_map; do
  check "$d: run finishes" wait_run "$d" r1 90
done

# --- python
check_eq "python: callable file with op_args, op_kwargs and context" \
  '{"color":"green","ds":"2024-03-05","sum":50}' "$(xcom op_python py_add)"
check "python: the callable's output is in the task log" \
  grep -q "adding 2 and 3, scale 10, ds 2024-03-05, run r1, map_index -1" <<<"$(ti_log op_python py_add)"
check "python: the return value is logged" grep -q "Done. Returned value was:" <<<"$(ti_log op_python py_add)"
check_eq "python: a signature without **kwargs gets only its names; templates rendered" \
  '"20240305/green"' "$(xcom op_python py_named)"
check_eq "python: module.function on PYTHONPATH" '"hi world"' "$(xcom op_python py_module)"
check_eq "python: AirflowSkipException skips" skipped "$(ti_state op_python py_skip)"
check_eq "python: an exception fails" failed "$(ti_state op_python py_fail)"
check "python: the traceback is in the log" grep -q "ValueError: boom-in-callable" <<<"$(ti_log op_python py_fail)"
check_eq "python: ti.xcom_push" '[1,2]' "$(xcom op_python py_push extra)"
check_eq "python: None is not pushed" "" "$(xcom op_python py_push)"
check_eq "python: do_xcom_push false pushes nothing" "" "$(xcom op_python py_quiet)"
check "python: a downstream template pulls the value" grep -q "^pulled=50" <<<"$(ti_log op_python pull_py)"

# --- http
check_eq "http: success" success "$(ti_state op_http req)"
check_eq "http: the body is return_value" '"hello-body"' "$(xcom op_http req)"
check "http: a downstream bash task pulls it" grep -q "^got=hello-body" <<<"$(ti_log op_http pull)"
check_eq "http: status 500 fails" failed "$(ti_state op_http req_fail)"
check "http: the failure shows the status" grep -q "500" <<<"$(ti_log op_http req_fail)"
check_eq "http: response_check not met fails" failed "$(ti_state op_http req_check)"
check_eq "http: request_timeout fails" failed "$(ti_state op_http req_timeout)"
check "http: request_timeout fails before the server answers" \
  bash -c '! grep -q "status 200" <<<"$1"' _ "$(ti_log op_http req_timeout)"
check_eq "http: execution_timeout fails" failed "$(ti_state op_http req_exec_timeout)"
check "http: execution_timeout is in the log" grep -q "timed out after 2 seconds" <<<"$(ti_log op_http req_exec_timeout)"
check_eq "http: basic auth from the connection" '"authorized"' "$(xcom op_http req_auth)"

# --- sql
check_eq "sql: statements in one task" success "$(ti_state op_sql sql_create)"
check_eq "sql: mapping parameters, rows in XCom" '[[2,"b"],[3,"c"]]' "$(xcom op_sql sql_query)"
check_eq "sql: list parameters" '[[5]]' "$(xcom op_sql sql_list)"

# --- trigger_dag_run
check_eq "trigger: waits and succeeds" success "$(ti_state op_trigger trig)"
check_eq "trigger: the triggered run succeeded" success "$(run_state op_target from_r1)"
check_eq "trigger: XCom trigger_run_id" '"from_r1"' "$(xcom op_trigger trig trigger_run_id)"
check "trigger: XCom trigger_execution_date_iso" \
  grep -Eq '^"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+\+00:00"$' <<<"$(xcom op_trigger trig trigger_execution_date_iso)"
check "trigger: conf reached the triggered DAG (dag_run.conf and params)" \
  grep -q "^conf=blue p=blue size=1" <<<"$(ti_log op_target show from_r1)"
check_eq "trigger: the run is manual" manual "$(q "SELECT run_type FROM dag_run WHERE run_id = 'from_r1'")"
check_eq "trigger: an existing run with skip_when_already_exists skips" skipped "$(ti_state op_trigger trig_again)"
check_eq "trigger: an existing run fails otherwise" failed "$(ti_state op_trigger trig_dup)"
check "trigger: the failure says why" grep -q "already exists" <<<"$(ti_log op_trigger trig_dup)"
check_eq "trigger: reset_dag_run clears the existing run and waits for it again" success \
  "$(ti_state op_trigger trig_reset)"
check_eq "trigger: the cleared run's task ran a second try" 2 \
  "$(q "SELECT ti.try_number FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        WHERE dr.dag_id = 'op_target' AND dr.run_id = 'from_r1' AND ti.task_id = 'show'")"

# --- branch and short_circuit (the worker's part)
check_eq "bash branch: succeeds" success "$(ti_state op_branch br)"
check_eq "bash branch: follows the named task and group, not the noise" '{"followed":["right","grp"]}' \
  "$(xcom op_branch br skipmixin_key)"
check "bash branch: logs what it follows" grep -q "Following branch: right, grp" <<<"$(ti_log op_branch br)"
check_eq "bash branch naming nothing: follows nothing" '{"followed":[]}' "$(xcom op_branch br_none skipmixin_key)"
check "bash branch naming nothing: warns with the downstream tasks" \
  grep -q "WARNING - No output line names a direct downstream task.*(none_after)" <<<"$(ti_log op_branch br_none)"
check_eq "python branch: follows the returned task" '{"followed":["right_py"]}' "$(xcom op_branch br_py skipmixin_key)"
check_eq "python branch: return_value pushed" '"right_py"' "$(xcom op_branch br_py)"
check_eq "python branch: an unknown task id fails the try" failed "$(ti_state op_branch br_bad)"
check "python branch: the failure names it" grep -q "Invalid tasks found: {'not_a_downstream_task'}" <<<"$(ti_log op_branch br_bad)"
check_eq "bash short_circuit: falsy writes followed []" '{"followed":[]}' "$(xcom op_branch sc skipmixin_key)"
check_eq "bash short_circuit: the try succeeds" success "$(ti_state op_branch sc)"
check "bash short_circuit: logs the decision" grep -q "Condition result is falsy, skipping downstream tasks" <<<"$(ti_log op_branch sc)"
check_eq "bash short_circuit: truthy writes nothing" "" "$(xcom op_branch sc_true skipmixin_key)"
check_eq "python short_circuit: falsy writes followed []" '{"followed":[]}' "$(xcom op_branch sc_py skipmixin_key)"
# What the planner does with them (lib/sched/planrun.c).
check_eq "planner: branch skips what it does not follow" "skipped success success" \
  "$(ti_state op_branch left) $(ti_state op_branch right) $(ti_state op_branch grp.g1)"
check_eq "planner: a branch following nothing skips its downstream" skipped "$(ti_state op_branch none_after)"
check_eq "planner: python branch" "skipped success" "$(ti_state op_branch left_py) $(ti_state op_branch right_py)"
check_eq "planner: short_circuit falsy skips, truthy runs" "skipped success skipped" \
  "$(ti_state op_branch sc_after) $(ti_state op_branch sc_true_after) $(ti_state op_branch sc_py_after)"

# --- dynamic task mapping (expanded by the planner, applied by the worker)
check_eq "mapping: three instances of m succeeded" "0:success 1:success 2:success" \
  "$(q "SELECT string_agg(map_index || ':' || state, ' ' ORDER BY map_index) FROM task_instance
        WHERE dag_id = 'op_map' AND task_id = 'm'")"
check "mapping: instance 1 got its env element and its map index" \
  grep -q "^item=1 val=b" <<<"$(ti_log op_map m r1 1)"
check_eq "mapping: each instance's return_value" '"item=2 val=c"' "$(xcom op_map m return_value r1 2)"
check_eq "mapping: op_args from an upstream's XCom" "10 20 30" \
  "$(for i in 0 1 2; do printf '%s ' "$(xcom op_map pm return_value r1 $i)"; done | sed 's/ $//')"

# --- files the worker and the runner made
check "no spec, result, python or XCom file is left behind" \
  bash -c '! ls "$1"/updraft-op-* "$1"/updraft-opres-* "$1"/updraft-py-* "$1"/updraft-pyres-* "$1"/updraft-xcom-* 2>/dev/null | grep -q .' _ "$tmp/wtmp"

# --- secrets
# (a file: the dump, rendered fields included, is larger than one argument may be)
"$(svc_pg_bindir)/pg_dump" "$UPDRAFT__DATABASE__URL" >"$tmp/dump.sql" 2>/dev/null
check "pg_dump works" test -s "$tmp/dump.sql"
check "the rendered fields are in the dump" grep -q "rendered_task_instance_fields (ti_id" "$tmp/dump.sql"
check "the http password is in no table" bash -c '! grep -qF -- "$1" "$2"' _ "$HTTP_PW" "$tmp/dump.sql"
check "the sql password is in no table" bash -c '! grep -qF -- "$1" "$2"' _ "$SQL_PW" "$tmp/dump.sql"
check "no password in any daemon log" bash -c '! cat "$1"/*.log | grep -qF -e "$2" -e "$3"' _ "$tmp" "$HTTP_PW" "$SQL_PW"

check_eq "no sanitizer report in the daemon or task logs" 0 \
  "$( (cat "$tmp"/*.log; q "SELECT data FROM task_log") | grep -c 'runtime error\|AddressSanitizer\|LeakSanitizer')"
if [ -n "${T_DEBUG:-}" ]; then
  for t in req_exec_timeout req_auth req_timeout; do echo "# --- $t"; ti_log op_http $t | sed 's/^/# /'; done
fi
echo "1..$T_N"
[ "${T_FAILED:-0}" -eq 0 ]
