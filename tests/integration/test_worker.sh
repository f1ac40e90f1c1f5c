#!/usr/bin/env bash
# updraft-worker against real Postgres and Redis, without a scheduler: task
# instances are put in 'queued' by psql and their messages XADDed by hand.
# Covers a run with its log and context variables, duplicate messages
# (exactly one execution), retry/failed outcomes, stale messages, a try
# taken away while it runs, and both shutdown signals.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=40
T_KILL_SIGNAL=KILL
t_setup
if [ -x "$BIN/updraft" ] && "$BIN/updraft" db migrate >"$tmp/migrate.log" 2>&1; then
  ok "schema migrated (updraft db migrate)"
else
  # Until the CLI is built: apply the SQL and record it as db_migrate does.
  check "schema migrated (psql)" svc_psql -q -f proto/migrations/0001_init.sql \
    -c "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now())" \
    -c "INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init')"
fi

export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__LOG_FLUSH_MS=100
export UPDRAFT__WORKER__MAX_LOG_BYTES_PER_TRY=1024
export UPDRAFT__LOGGING__LEVEL=info

# One DAG version with one task per scenario.
out=$tmp/out
mkdir -p "$out"
data=$(jq -n --arg out "$out" '{
  format: 1, dag_id: "wtest", fileloc: "/dags/wtest.yaml", owner: "data-eng",
  task_order: ["hello", "dup", "fail_retry", "fail_final", "stale", "slow", "lost", "hard", "outage", "timeout", "big", "noop"],
  tasks: {
    hello: {task_id: "hello", operator: "BashOperator", owner: "data-eng", retry_delay_sec: 300,
      bash_command: "echo hello-from-task; echo \"ctx=$AIRFLOW_CTX_DAG_ID|$AIRFLOW_CTX_TASK_ID|$AIRFLOW_CTX_DAG_RUN_ID|$AIRFLOW_CTX_TRY_NUMBER|$AIRFLOW_CTX_LOGICAL_DATE|$AIRFLOW_CTX_EXECUTION_DATE|$AIRFLOW_CTX_DAG_OWNER|$UPDRAFT_MAP_INDEX|$TARGET\"; printf \"bin:\\377\\000:end\\n\"; pwd >&2",
      env: {TARGET: "warehouse"}, append_env: true, cwd: null},
    dup: {task_id: "dup", operator: "BashOperator", bash_command: ("echo run >> " + $out + "/dup.txt")},
    fail_retry: {task_id: "fail_retry", operator: "BashOperator", retry_delay_sec: 300, bash_command: "echo failing; exit 3"},
    fail_final: {task_id: "fail_final", operator: "BashOperator", bash_command: "exit 4"},
    stale: {task_id: "stale", operator: "BashOperator", bash_command: ("echo ran >> " + $out + "/stale.txt")},
    slow: {task_id: "slow", operator: "BashOperator", bash_command: "sleep 1; echo slow-done"},
    timeout: {task_id: "timeout", operator: "BashOperator", execution_timeout_sec: 1, bash_command: "sleep 30"},
    big: {task_id: "big", operator: "BashOperator", bash_command: "head -c 5000 /dev/zero | tr \"\\\\000\" x; echo; echo after-big"},
    noop: {task_id: "noop", operator: "EmptyOperator"},
    outage: {task_id: "outage", operator: "BashOperator", bash_command: "echo before; sleep 2; echo outage-done"},
    lost: {task_id: "lost", operator: "BashOperator", bash_command: ("echo $$ > " + $out + "/lost.pid; exec sleep 60")},
    hard: {task_id: "hard", operator: "BashOperator", bash_command: ("echo $$ > " + $out + "/hard.pid; exec sleep 60")}
  }}')
q "INSERT INTO dag (dag_id, fileloc) VALUES ('wtest', '/dags/wtest.yaml')"
ver=$(svc_psql -q -c "INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)
       VALUES ('wtest', 1, 'h', \$j\$$data\$j\$::jsonb, '/dags/wtest.yaml') RETURNING id")
run_id='manual__2024-01-01T00:00:00+00:00'
dr=$(svc_psql -q -c "INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date)
       VALUES ('wtest', '$run_id', $ver, 'manual', 'running', '2024-01-01T00:00:00Z') RETURNING id")
check "fixture: dag run created" test -n "$dr"

# new_ti TASK TRY MAX_TRIES -> task_instance id, state queued
new_ti() {
  svc_psql -q -c "INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, try_number,
      max_tries, operator, queued_at) VALUES ($dr, 'wtest', '$run_id', '$1', 'queued', $2, $3,
      'BashOperator', now()) RETURNING id"
}
send() { rcli XADD updraft:q:default '*' v 1 ti "$1" try "$2" >/dev/null; }
state_of() { svc_psql -c "SELECT state FROM task_instance WHERE id = $1"; }
state_is() { [ "$(state_of "$1")" = "$2" ]; }
log_of() { svc_psql -c "SELECT string_agg(data, '' ORDER BY id) FROM task_log WHERE ti_id = $1 AND try_number = ${2:-1}"; }
pending() { rcli XPENDING updraft:q:default updraft-workers | head -1; }
drained() { [ "$(pending)" = "0" ] && [ "$(rcli XLEN updraft:q:default)" = "0" ]; }

"$BIN/updraft-worker" --hostname wtest-host --concurrency 4 --queues default >"$tmp/worker.log" 2>&1 &
wpid=$!
pids+=("$wpid")
job_running() { [ "$(svc_psql -c "SELECT count(*) FROM job WHERE job_type = 'WorkerJob' AND pid = $wpid AND state = 'running'")" = 1 ]; }
check "worker registers a running job row" wait_for 15 job_running

# --- a task runs, its log is stored, context variables are set
ti=$(new_ti hello 1 0)
send "$ti" 1
check "hello: reaches success" wait_for 15 state_is "$ti" success
log=$(log_of "$ti")
check "hello: log has the task's output" grep -q hello-from-task <<<"$log"
check "hello: log starts with the command line" grep -q '{worker} INFO - Running command: echo hello-from-task' <<<"$log"
check "hello: log ends with the exit code" grep -q 'Command exited with return code 0' <<<"$log"
check "hello: invalid UTF-8 and NUL output is stored repaired" grep -q 'bin:�' <<<"$log"
check_eq "hello: AIRFLOW_CTX_* and task env are set" \
  "ctx=wtest|hello|$run_id|1|2024-01-01T00:00:00+00:00|2024-01-01T00:00:00+00:00|data-eng|-1|warehouse" \
  "$(grep -o '^ctx=.*' <<<"$log")"
check "hello: runs in a temporary directory" grep -q '/updraft-tmp' <<<"$log"
tmpdir=$(grep -o '^/.*/updraft-tmp[A-Za-z0-9]*' <<<"$log" | head -1)
check "hello: the temporary directory is removed" test ! -e "${tmpdir:-/nonexistent-x}"
check_eq "hello: hostname, pid, worker id, dates, duration set" "wtest-host|t|t|t|t" \
  "$(svc_psql -c "SELECT ti.hostname, ti.pid = $wpid, ti.worker_id = j.id, ti.end_date >= ti.start_date,
      ti.duration >= 0 FROM task_instance ti JOIN job j ON j.pid = $wpid WHERE ti.id = $ti")"
check "hello: message acknowledged and deleted" wait_for 5 drained

# --- the same message twice: exactly one execution, both entries acked
ti=$(new_ti dup 1 0)
send "$ti" 1
send "$ti" 1
check "dup: reaches success" wait_for 15 state_is "$ti" success
check "dup: both entries acknowledged" wait_for 5 drained
send "$ti" 1   # a late re-send after the outcome is stale too
check "dup: late re-send acknowledged" wait_for 5 drained
sleep 0.3
check_eq "dup: the command ran exactly once" "1" "$(wc -l <"$out/dup.txt" 2>/dev/null | tr -d ' ')"

# --- failing commands: retry while tries remain, else failed
ti=$(new_ti fail_retry 1 1)
send "$ti" 1
check "fail_retry: up_for_retry" wait_for 15 state_is "$ti" up_for_retry
check_eq "fail_retry: next_try_at = end_date + retry_delay_sec" "t" \
  "$(svc_psql -c "SELECT next_try_at BETWEEN end_date + interval '299 s' AND end_date + interval '301 s' FROM task_instance WHERE id = $ti")"
check "fail_retry: exit code in the log" grep -q 'Command exited with return code 3' <<<"$(log_of "$ti")"
ti=$(new_ti fail_final 1 0)
send "$ti" 1
check "fail_final: failed" wait_for 15 state_is "$ti" failed
check_eq "fail_final: no next_try_at, end_date set" "t|t" \
  "$(svc_psql -c "SELECT next_try_at IS NULL, end_date IS NOT NULL FROM task_instance WHERE id = $ti")"

# --- a message whose try does not match the row: dropped, nothing runs
ti=$(new_ti stale 2 3)
send "$ti" 1
check "stale: entry acknowledged" wait_for 10 drained
stale_logged() { grep -q "stale message dropped ti=$ti try_number=1" "$tmp/worker.log"; }
check "stale: logged at info" wait_for 5 stale_logged
check_eq "stale: row untouched" "queued||" \
  "$(svc_psql -c "SELECT state, hostname, worker_id FROM task_instance WHERE id = $ti")"
check "stale: nothing ran" test ! -e "$out/stale.txt"

# --- invalid message: acknowledged and dropped with a warning
rcli XADD updraft:q:default '*' v 1 ti notanumber try 1 >/dev/null
check "invalid message acknowledged" wait_for 10 drained
invalid_logged() { grep -q "invalid message dropped" "$tmp/worker.log"; }
check "invalid message logged" wait_for 5 invalid_logged

# --- execution timeout: the process group is stopped and the try fails
ti=$(new_ti timeout 1 0)
send "$ti" 1
check "timeout: failed after execution_timeout_sec" wait_for 10 state_is "$ti" failed
check "timeout: said in the log" grep -q 'Task timed out after 1 seconds' <<<"$(log_of "$ti")"

# --- output past max_log_bytes_per_try is cut with one notice
ti=$(new_ti big 1 0)
send "$ti" 1
check "big: success" wait_for 10 state_is "$ti" success
big_log=$(log_of "$ti")
check "big: truncation notice" grep -q 'WARNING - Log truncated' <<<"$big_log"
check "big: output past the cap dropped" test "$(grep -cx after-big <<<"$big_log")" -eq 0
check "big: log size bounded" test "${#big_log}" -lt 1600

# --- an empty operator that reaches a worker succeeds without a process
ti=$(new_ti noop 1 0)
send "$ti" 1
check "noop: success" wait_for 10 state_is "$ti" success

# --- a try taken away while it runs (e.g. reaped as a zombie): killed, no outcome written
ti=$(new_ti lost 1 0)
send "$ti" 1
lost_started() { [ -s "$out/lost.pid" ] && state_is "$ti" running; }
check "lost: running" wait_for 15 lost_started
lpid=$(cat "$out/lost.pid" 2>/dev/null)
q "UPDATE task_instance SET state = 'failed' WHERE id = $ti"
proc_gone() { ! kill -0 "$1" 2>/dev/null; }
check "lost: process killed after the heartbeat finds the guard gone" wait_for 10 proc_gone "${lpid:-1}"
check "lost: message acknowledged" wait_for 5 drained
check_eq "lost: the worker wrote no outcome" "failed|" \
  "$(svc_psql -c "SELECT state, end_date FROM task_instance WHERE id = $ti")"

# --- Postgres goes away while a task runs: the task keeps running, the
# outcome waits in memory and is written once Postgres is back
ti=$(new_ti outage 1 0)
send "$ti" 1
check "outage: running" wait_for 15 state_is "$ti" running
svc_as_pg "$(svc_pg_bindir)/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null
sleep 3.5
svc_start_pg "$tmp" >/dev/null || not_ok "postgres restarts"
check "outage: outcome written after Postgres is back" wait_for 20 state_is "$ti" success
outage_log=$(log_of "$ti")
check "outage: output from before and after the outage is in the log" \
  grep -q 'before' <<<"$outage_log"
check "outage: the end of the output is in the log" grep -q 'outage-done' <<<"$outage_log"
check "outage: message acknowledged" wait_for 5 drained

# --- SIGTERM while a 1 s task runs: it finishes and reports, worker exits 0
ti=$(new_ti slow 1 0)
send "$ti" 1
check "slow: running" wait_for 15 state_is "$ti" running
kill -TERM "$wpid"
wait "$wpid"
rc=$?
check_eq "SIGTERM: worker exits 0" "0" "$rc"
check_eq "SIGTERM: the running try finished with success" "success" "$(state_of "$ti")"
check "SIGTERM: its log is complete" grep -q slow-done <<<"$(log_of "$ti")"
check_eq "SIGTERM: job row marked success" "success|t" \
  "$(svc_psql -c "SELECT state, end_date IS NOT NULL FROM job WHERE pid = $wpid AND job_type = 'WorkerJob'")"
check "SIGTERM: message acknowledged" drained

# --- a second signal kills the running tries' process groups
"$BIN/updraft-worker" --hostname wtest-host2 >"$tmp/worker2.log" 2>&1 &
w2=$!
pids+=("$w2")
ti=$(new_ti hard 1 0)
send "$ti" 1
hard_started() { [ -s "$out/hard.pid" ] && state_is "$ti" running; }
check "hard: running" wait_for 15 hard_started
hpid=$(cat "$out/hard.pid" 2>/dev/null)
kill -TERM "$w2"
sleep 0.5
check "hard: first signal leaves the task running" kill -0 "${hpid:-1}"
kill -TERM "$w2"
wait "$w2"
rc=$?
check "hard: second signal exits non-zero" test "$rc" -ne 0
check "hard: task process group killed" wait_for 5 proc_gone "${hpid:-1}"

# --- missing schema: clear message, non-zero exit
"$(svc_pg_bindir)/psql" -h 127.0.0.1 -p "$SVC_PG_PORT" -U updraft -d postgres -qc "CREATE DATABASE empty_db"
UPDRAFT__DATABASE__URL="postgresql://updraft@127.0.0.1:$SVC_PG_PORT/empty_db" \
  timeout 20 "$BIN/updraft-worker" >"$tmp/worker3.log" 2>&1
rc=$?
check "no schema: exits non-zero" test "$rc" -ne 0 -a "$rc" -ne 124
check "no schema: says so" grep -qi "schema" "$tmp/worker3.log"

echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
