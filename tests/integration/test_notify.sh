#!/usr/bin/env bash
# The daemons speak systemd's notify protocol (core/notify.h) as a
# Type=notify unit needs: each daemon runs with NOTIFY_SOCKET naming a unix
# datagram socket that socat reads here, in place of the service manager.
# READY=1 comes once the daemon is usable (the webserver: not while the
# database is down), WATCHDOG=1 repeats at half of WATCHDOG_USEC while the
# daemon's loop turns and stops while it is frozen, STOPPING=1 comes on a
# stop, and a task never sees the worker's NOTIFY_SOCKET. A scheduling loop
# blocked on a database lock stops sending WATCHDOG=1 while the process lives.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

if ! command -v socat >/dev/null 2>&1; then
  echo "ok 1 # skip socat is not installed (make deps installs it)"
  exit 0
fi

readers=()
t_cleanup_extra() { for p in "${readers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
t_setup
mkdir -p "$tmp/dags"
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
check "db migrate" bash -c "\"$BIN/updraft\" db migrate >/dev/null"

# listen NAME: a notify socket at $tmp/NAME.sock; each datagram becomes
# lines of $tmp/NAME.notify (a message may hold several NAME=VALUE lines)
listen() {
  socat -u "UNIX-RECVFROM:$tmp/$1.sock,fork" SYSTEM:'cat; echo' >>"$tmp/$1.notify" 2>/dev/null &
  readers+=($!)
  wait_for 5 test -S "$tmp/$1.sock"
}
has() { grep -qx "$2" "$tmp/$1.notify" 2>/dev/null; }
count() { grep -cx "$2" "$tmp/$1.notify" 2>/dev/null || true; }
exited() { ! kill -0 "$1" 2>/dev/null; }

# --- the webserver: ready only once it reaches the database ----------------------------
listen web
bindir=$(svc_pg_bindir)
svc_as_pg "$bindir/pg_ctl" -D "$(svc_pg_data "$tmp")" -m fast -w stop >/dev/null
wport=$(svc_free_port)
NOTIFY_SOCKET=$tmp/web.sock WATCHDOG_USEC=1000000 \
  start_webserver webserver --listen "127.0.0.1:$wport"
web=$!
listening() { curl -s -o /dev/null "http://127.0.0.1:$wport/api/v1/health"; }
check "the webserver listens while Postgres is down" wait_for 10 listening
sleep 1.5
check "no READY=1 while the database cannot be reached" bash -c "! grep -qx READY=1 '$tmp/web.notify'"
check "but its loop sends WATCHDOG=1 meanwhile" has web WATCHDOG=1
svc_start_pg "$tmp" >/dev/null || not_ok "postgres starts again"
check "READY=1 once the database is back" wait_for 10 has web READY=1
check "with a STATUS= line" has web STATUS=serving
check_eq "the API answers once READY=1 came" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$wport/api/v1/dags")"
n0=$(count web WATCHDOG=1)
sleep 2
n1=$(count web WATCHDOG=1)
check "WATCHDOG=1 repeats at half of WATCHDOG_USEC (1 s): 2 to 6 in 2 s (got $((n1 - n0)))" \
  test $((n1 - n0)) -ge 2 -a $((n1 - n0)) -le 6
kill -STOP "$web"
sleep 0.3
n0=$(count web WATCHDOG=1)
sleep 1.5
n1=$(count web WATCHDOG=1)
kill -CONT "$web"
check_eq "a frozen webserver sends no WATCHDOG=1" "$n0" "$n1"
kill -TERM "$web"
check "the webserver stops" wait_for 10 exited "$web"
check "STOPPING=1 on the stop" has web STOPPING=1

# --- the scheduler: ready after a pass with Postgres and Redis ---------------------------
listen sched
NOTIFY_SOCKET=$tmp/sched.sock WATCHDOG_USEC=1000000 start_scheduler scheduler
sched=$!
check "the scheduler sends READY=1" wait_for 20 has sched READY=1
check_eq "it had registered its job row by then" 1 \
  "$(q "SELECT count(*) FROM job WHERE job_type = 'SchedulerJob' AND state = 'running'")"
check "STATUS=scheduling" has sched STATUS=scheduling
n0=$(count sched WATCHDOG=1)
sleep 2
n1=$(count sched WATCHDOG=1)
check "the scheduling loop sends WATCHDOG=1 every 0.5 s: 2 to 6 in 2 s (got $((n1 - n0)))" \
  test $((n1 - n0)) -ge 2 -a $((n1 - n0)) -le 6
# A loop stuck in the database (its heartbeat waits on a lock) misses the
# watchdog although the process and its other threads are alive.
svc_psql -c "BEGIN; LOCK TABLE job IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;" >/dev/null 2>&1 &
locker=$!
sleep 1.5
n0=$(count sched WATCHDOG=1)
sleep 2
n1=$(count sched WATCHDOG=1)
wait "$locker"
check_eq "a scheduling loop blocked on a lock sends no WATCHDOG=1" "$n0" "$n1"
check "the process was alive all along" kill -0 "$sched"
n0=$(count sched WATCHDOG=1)
sleep 1.5
check "and WATCHDOG=1 resumes once the loop turns again" test "$(count sched WATCHDOG=1)" -gt "$n0"
# Waiting for a lost database is not being stuck: the watchdog keeps coming.
svc_as_pg "$bindir/pg_ctl" -D "$(svc_pg_data "$tmp")" -m fast -w stop >/dev/null
lost() { grep -q '^STATUS=database connection lost' "$tmp/sched.notify"; }
check "the scheduler reports the lost database in its STATUS" wait_for 10 lost
n0=$(count sched WATCHDOG=1)
sleep 2
n1=$(count sched WATCHDOG=1)
check "and keeps sending WATCHDOG=1 while it waits for it (got $((n1 - n0)) in 2 s)" test $((n1 - n0)) -ge 2
svc_start_pg "$tmp" >/dev/null || not_ok "postgres starts again"
back() { [ "$(tail -1 "$tmp/sched.notify")" = STATUS=scheduling ] || [ "$(grep -c '^STATUS=scheduling' "$tmp/sched.notify")" -ge 2 ]; }
check "STATUS=scheduling once it is back" wait_for 20 back

# --- the worker: ready once it consumes; its tasks do not inherit the socket -----------
listen worker
NOTIFY_SOCKET=$tmp/worker.sock WATCHDOG_USEC=1000000 start_worker worker w1 2
worker=$!
check "the worker sends READY=1" wait_for 20 has worker READY=1
check_eq "its job row was written by then" 1 \
  "$(q "SELECT count(*) FROM job WHERE job_type = 'WorkerJob' AND hostname = 'w1' AND state = 'running'")"
check "STATUS= names its queues" grep -q '^STATUS=consuming queues=default' "$tmp/worker.notify"
cat >"$tmp/dags/nt.yaml" <<YAML
nt_env:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: env, operator: bash, bash_command: 'env > $tmp/task.env; sleep 1.5'}
YAML
chmod 755 "$tmp/dags"
dag_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id = 'nt_env' AND version_id IS NOT NULL")" = 1 ]; }
check "the DAG is parsed" wait_for 30 dag_in
"$BIN/updraft" dags trigger nt_env --run-id n1 >/dev/null 2>&1 || not_ok "trigger nt_env"
check "the task runs" wait_for 30 test -s "$tmp/task.env"
n0=$(count worker WATCHDOG=1)
sleep 1.2
n1=$(count worker WATCHDOG=1)
check "WATCHDOG=1 keeps coming while a task runs (got $((n1 - n0)) in 1.2 s)" test $((n1 - n0)) -ge 2
check "a task sees neither NOTIFY_SOCKET nor WATCHDOG_USEC" \
  bash -c "! grep -qE '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=' '$tmp/task.env'"
check "the run succeeds" wait_run nt_env n1 30
check_eq "in success" success "$(run_state nt_env n1)"
kill -TERM "$worker" "$sched"
check "the worker stops" wait_for 15 exited "$worker"
check "the scheduler stops" wait_for 15 exited "$sched"
check "both sent STOPPING=1" bash -c "grep -qx STOPPING=1 '$tmp/worker.notify' && grep -qx STOPPING=1 '$tmp/sched.notify'"

# --- without NOTIFY_SOCKET nothing is sent, nothing fails ----------------------------
# (every other test runs the daemons so; here: WATCHDOG_USEC alone is harmless)
WATCHDOG_USEC=1000000 start_scheduler scheduler2
s2=$!
job_rows() { [ "$(q "SELECT count(*) FROM job WHERE job_type = 'SchedulerJob' AND state = 'running'")" = 1 ]; }
check "a scheduler without NOTIFY_SOCKET runs" wait_for 20 job_rows
kill -TERM "$s2"
check "and stops" wait_for 15 exited "$s2"
