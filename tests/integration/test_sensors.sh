#!/usr/bin/env bash
# Sensors against real Postgres, Redis, a scheduler and workers: every
# sensor (file, http, sql, external_task, time_delta, date_time) waiting
# for its condition and reaching success in poke mode and in reschedule
# mode (which goes through up_for_reschedule, keeps its try number and
# appends every poke to the same try's log); a timeout with soft_fail
# (skipped) and without (failed without using its retries), in both modes; and a
# reschedule-mode sensor giving its slot back: on a worker with
# --concurrency 1 another task of the same DAG runs to success while the
# sensor waits for what that task makes.
# T_DEBUG=1 prints a few task logs at the end.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=60
t_setup
mkdir -p "$tmp/dags" "$tmp/files"
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__LOG_FLUSH_MS=100
check "db migrate" "$BIN/updraft" db migrate

# An HTTP endpoint that is 404 until its flag file exists.
hport=$(svc_free_port)
cat >"$tmp/server.py" <<'PY'
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, flag = int(sys.argv[1]), sys.argv[2]
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path.startswith("/ready") and os.path.exists(flag)
        body = b"ready" if ok else b"not yet"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
python3 "$tmp/server.py" "$hport" "$tmp/files/http_ready" >"$tmp/http.log" 2>&1 & pids+=($!)
check "http server answers" wait_for 10 bash -c "curl -s -o /dev/null http://127.0.0.1:$hport/ready"
check "http connection stored" "$BIN/updraft" connections add my_http --conn-type http \
  --conn-host 127.0.0.1 --conn-port "$hport"
check "postgres connection stored" "$BIN/updraft" connections add my_pg --conn-type postgres \
  --conn-host 127.0.0.1 --conn-port "$SVC_PG_PORT" --conn-schema updraft --conn-login updraft
q "CREATE TABLE t_ready (n int)"

f=$tmp/files
dt=$(date -u -d '+15 seconds' +%Y-%m-%dT%H:%M:%S+00:00)
P="poke_interval: 1"
R="mode: reschedule, poke_interval: 1"
cat >"$tmp/dags/sensors.yaml" <<YAML
s_file:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: poke, operator: FileSensor, filepath: $f/file_poke, $P}
    - {task_id: resched, operator: file_sensor, filepath: "$f/file_{{ 'resched' }}", $R}
    - {task_id: after, operator: bash, bash_command: "echo sensed", dependencies: [poke, resched]}
s_http:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: poke, operator: HttpSensor, http_conn_id: my_http, endpoint: ready, method: GET, $P}
    - {task_id: resched, operator: http_sensor, http_conn_id: my_http, endpoint: ready, method: GET, $R}
s_sql:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: poke, operator: SqlSensor, conn_id: my_pg, sql: "SELECT count(*) FROM t_ready", $P}
    - {task_id: resched, operator: sql_sensor, conn_id: my_pg, sql: "SELECT count(*) FROM t_ready", $R}
s_ext_target:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: done, operator: bash, bash_command: "true"}
s_ext:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: poke, operator: ExternalTaskSensor, external_dag_id: s_ext_target, external_task_id: done, $P}
    - {task_id: resched, operator: external_task_sensor, external_dag_id: s_ext_target, external_task_id: done, $R}
s_time:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: td_poke, operator: TimeDeltaSensor, delta: 4, $P}
    - {task_id: td_resched, operator: time_delta_sensor, delta: 4, $R}
    - {task_id: dt_poke, operator: DateTimeSensor, target_time: "$dt", $P}
    - {task_id: dt_resched, operator: date_time_sensor, target_time: "$dt", $R}
s_timeout:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 2, retry_delay_sec: 1}
  tasks:
    - {task_id: soft, operator: file_sensor, filepath: $f/never, timeout: 2, soft_fail: true, $P}
    - {task_id: hard, operator: file_sensor, filepath: $f/never, timeout: 2, $P}
    - {task_id: soft_resched, operator: file_sensor, filepath: $f/never, timeout: 2, soft_fail: true, $R}
    - {task_id: hard_resched, operator: file_sensor, filepath: $f/never, timeout: 2, $R}
s_slot:
  schedule: null
  start_date: 2024-01-01
  default_args: {queue: slot, weight_rule: absolute}
  tasks:
    - {task_id: sensor, operator: file_sensor, filepath: $f/slot_flag, priority_weight: 10, $R}
    - {task_id: other, operator: bash, bash_command: "sleep 1; touch $f/slot_flag", priority_weight: 1}
YAML

start_scheduler scheduler
start_worker worker sens-w 12 --queues default
start_worker worker_slot slot-w 1 --queues slot
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id LIKE 's\\_%'")" = 8 ]; }
check "DAGs are parsed" wait_for 30 dags_in
dags_in || "$BIN/updraft" dags list-import-errors 2>&1 | sed 's/^/# /'

ld=2024-05-01T00:00:00+00:00
for d in s_file s_http s_sql s_time s_timeout s_slot; do
  "$BIN/updraft" dags trigger "$d" --run-id r1 >/dev/null 2>&1 || not_ok "trigger $d"
done
"$BIN/updraft" dags trigger s_ext --run-id r1 --logical-date "$ld" >/dev/null 2>&1 || not_ok "trigger s_ext"

T_RUN_ID=r1   # run_state/run_done default to run r1 here
ti_where() { echo "ti.task_id = '$2' AND ti.dag_run_id =
  (SELECT id FROM dag_run WHERE dag_id = '$1' AND run_id = '${3:-r1}')"; }
ti_col() { q "SELECT ti.$3 FROM task_instance ti WHERE $(ti_where "$1" "$2")"; }
ti_state() { ti_col "$1" "$2" state; }
state_is() { [ "$(ti_state "$1" "$2")" = "$3" ]; }
ti_log() { q "SELECT string_agg(l.data, '' ORDER BY l.id) FROM task_log l JOIN task_instance ti
  ON ti.id = l.ti_id WHERE $(ti_where "$1" "$2")"; }
log_has() { ti_log "$1" "$2" | grep -q -- "$3"; }
# pokes DAG TASK: how many times the try's log says the operator ran
pokes() { ti_log "$1" "$2" | grep -c "Running operator:"; }

# --- wait until every sensor has poked without success, then make it true
check "file poke: not yet" wait_for 30 log_has s_file poke "Nothing matches"
check "http poke: not yet" wait_for 30 log_has s_http poke "404"
check "sql poke: not yet" wait_for 30 log_has s_sql poke "The first cell is false"
check "external poke: not yet" wait_for 30 log_has s_ext poke "not all allowed yet"
for d in s_file s_http s_sql s_ext; do
  check "$d reschedule mode: up_for_reschedule while not done" wait_for 30 state_is "$d" resched up_for_reschedule
done
# While it waits the row keeps try_number - 1 (queueing adds 1 again, so
# every poke runs as try 1, checked at the end), counts its pokes, and
# knows its first poke and its next one. Read in one statement, while the
# row is up_for_reschedule.
waiting_row() {
  [ "$(q "SELECT count(*) FROM task_instance ti WHERE $(ti_where s_file resched)
          AND ti.state = 'up_for_reschedule' AND ti.try_number = 0 AND ti.poke_count >= 1
          AND ti.first_poke_at IS NOT NULL AND ti.next_try_at > ti.first_poke_at")" = 1 ]
}
check "reschedule mode: waits at try_number 0 with poke_count, first_poke_at and next_try_at" \
  wait_for 30 waiting_row

touch "$f/file_poke" "$f/file_resched" "$f/http_ready"
q "INSERT INTO t_ready VALUES (1)"
"$BIN/updraft" dags trigger s_ext_target --run-id t1 --logical-date "$ld" >/dev/null 2>&1 ||
  not_ok "trigger s_ext_target"

for d in s_file s_http s_sql s_ext s_time s_timeout s_slot; do
  check "$d: run finishes" wait_run "$d" r1 60
done

for d in s_file s_http s_sql s_ext; do
  check_eq "$d: poke mode reaches success" success "$(ti_state "$d" poke)"
  check_eq "$d: reschedule mode reaches success" success "$(ti_state "$d" resched)"
  check "$d: reschedule mode poked more than once, in one try's log" \
    test "$(pokes "$d" resched)" -ge 2
  check_eq "$d: reschedule mode kept try 1, counters reset" "1 0 " \
    "$(ti_col "$d" resched try_number) $(ti_col "$d" resched poke_count) $(ti_col "$d" resched first_poke_at)"
done
check "file poke: one try, poked in a loop" log_has s_file poke "Success criteria met"
check_eq "file: the downstream task ran" success "$(ti_state s_file after)"
for t in td_poke td_resched dt_poke dt_resched; do
  check_eq "time: $t reaches success" success "$(ti_state s_time "$t")"
done
check "time: the reschedule-mode time_delta sensor waited" test "$(pokes s_time td_resched)" -ge 2
check "time: the reschedule-mode date_time sensor waited" test "$(pokes s_time dt_resched)" -ge 2

# --- timeouts
check_eq "timeout with soft_fail: skipped" skipped "$(ti_state s_timeout soft)"
check "timeout with soft_fail: the log says why" log_has s_timeout soft "Sensor has timed out"
check_eq "timeout: failed without using its retries" "failed 1" \
  "$(ti_state s_timeout hard) $(ti_col s_timeout hard try_number)"
check_eq "reschedule timeout with soft_fail: skipped" skipped "$(ti_state s_timeout soft_resched)"
check_eq "reschedule timeout: failed, try 1" "failed 1" \
  "$(ti_state s_timeout hard_resched) $(ti_col s_timeout hard_resched try_number)"
check "reschedule timeout: several pokes before" test "$(pokes s_timeout hard_resched)" -ge 2

# --- reschedule mode frees the slot (worker slot-w runs one task at a time)
check_eq "slot: both tasks succeeded" "success success" \
  "$(ti_state s_slot sensor) $(ti_state s_slot other)"
check "slot: the sensor poked before and after the other task" test "$(pokes s_slot sensor)" -ge 2
check_eq "slot: the other task ended before the sensor" t \
  "$(q "SELECT o.end_date < s.end_date FROM task_instance o, task_instance s
        WHERE o.dag_id = 's_slot' AND o.task_id = 'other' AND s.dag_id = 's_slot' AND s.task_id = 'sensor'")"
check_eq "slot: both ran on the one-slot worker" "slot-w slot-w" \
  "$(ti_col s_slot sensor hostname) $(ti_col s_slot other hostname)"

check_eq "no sanitizer report in the daemon or task logs" 0 \
  "$( (cat "$tmp"/*.log; q "SELECT data FROM task_log") | grep -c 'runtime error\|AddressSanitizer\|LeakSanitizer')"
if [ -n "${T_DEBUG:-}" ]; then
  for t in resched; do echo "# --- s_sql $t"; ti_log s_sql $t | sed 's/^/# /'; done
fi
echo "1..$T_N"
[ "${T_FAILED:-0}" -eq 0 ]
