#!/usr/bin/env bash
# Run and try semantics against real Postgres, Redis, a scheduler and a
# worker: max_active_runs holds queued runs back (sampled from the database
# while they run), dagrun_timeout fails a run and kills its running task,
# max_consecutive_failed_dag_runs pauses the DAG, exit code 99 and
# skip_on_exit_code skip a task, retry_exponential_backoff spaces the tries
# as Airflow 2 does (from stored timestamps), and a task instance whose task
# is not in its run's version ends 'removed'.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_cleanup_extra() {
  for p in $(pgrep -f "updraft_rs_nap_$(basename "$tmp")"); do kill -KILL "$p" 2>/dev/null || true; done
}
t_setup
mkdir -p "$tmp/dags"
marker=updraft_rs_nap_$(basename "$tmp")

cat >"$tmp/dags/rs.yaml" <<YAML
rs_one_at_a_time:
  schedule: null
  start_date: 2024-01-01
  max_active_runs: 1
  tasks:
    - {task_id: a, operator: bash, bash_command: "sleep 1"}
    - {task_id: b, operator: bash, bash_command: "sleep 0.5", dependencies: [a]}
rs_timeout:
  schedule: null
  start_date: 2024-01-01
  dagrun_timeout: {__type__: datetime.timedelta, seconds: 2}
  max_consecutive_failed_dag_runs: 2
  tasks:
    - {task_id: nap, operator: bash, bash_command: 'exec bash -c "sleep 60; true" $marker'}
    - {task_id: after, operator: bash, bash_command: "true", dependencies: [nap]}
rs_skip:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: s99, operator: bash, bash_command: "exit 99"}
    - {task_id: s3, operator: bash, bash_command: "exit 3", skip_on_exit_code: [3, 4]}
    - {task_id: f99, operator: bash, bash_command: "exit 99", skip_on_exit_code: null}
    - {task_id: down, operator: bash, bash_command: "true", dependencies: [s99]}
rs_backoff:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: flap
      operator: bash
      bash_command: "echo try \$AIRFLOW_CTX_TRY_NUMBER; exit 1"
      retries: 3
      retry_delay: {__type__: datetime.timedelta, seconds: 1}
      retry_exponential_backoff: true
      max_retry_delay: {__type__: datetime.timedelta, seconds: 3}
rs_removed:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: first, operator: bash, bash_command: "sleep 2"}
    - {task_id: second, operator: bash, bash_command: "true", dependencies: [first]}
YAML

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
check "db migrate" "$BIN/updraft" db migrate >/dev/null

start_scheduler scheduler
start_worker worker w1 8
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id LIKE 'rs\_%' AND version_id IS NOT NULL")" = 5 ]; }
check "DAGs are parsed" wait_for 30 dags_in
check_eq "no ignored-key warnings for the new keys" 0 \
  "$("$BIN/updraft" dags list-import-errors 2>&1 | grep -c 'rs.yaml' || true)"

ti_state() {
  q "SELECT ti.state FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
      WHERE dr.dag_id = '$1' AND dr.run_id = '$2' AND ti.task_id = '$3'"
}

# --- max_active_runs: 1 with three runs triggered at once ---------------------
for i in 1 2 3; do
  "$BIN/updraft" dags trigger rs_one_at_a_time --run-id m$i \
    --logical-date "2024-02-0${i}T00:00:00+00:00" >/dev/null 2>&1 || not_ok "trigger m$i"
done
max_running=0 samples=0 queued_seen=0
deadline=$(( $(date +%s) + 60 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  row=$(q "SELECT count(*) FILTER (WHERE state = 'running') || ' ' ||
                  count(*) FILTER (WHERE state = 'queued') || ' ' ||
                  count(*) FILTER (WHERE state IN ('success', 'failed'))
             FROM dag_run WHERE dag_id = 'rs_one_at_a_time'")
  read -r running queued done <<<"$row"
  samples=$((samples + 1))
  [ "$running" -gt "$max_running" ] && max_running=$running
  [ "$queued" -gt 0 ] && [ "$running" -gt 0 ] && queued_seen=1
  [ "$done" = 3 ] && break
  sleep 0.1
done
echo "# max_active_runs: $samples samples, at most $max_running running"
check_eq "max_active_runs 1: never two runs running (sampled)" 1 "$max_running"
check_eq "max_active_runs 1: queued runs waited while one ran" 1 "$queued_seen"
check_eq "all three runs succeeded" "success success success" \
  "$(run_state rs_one_at_a_time m1) $(run_state rs_one_at_a_time m2) $(run_state rs_one_at_a_time m3)"
check_eq "they ran one after the other, oldest logical date first" 0 "$(q "
  SELECT count(*) FROM dag_run a JOIN dag_run b ON b.dag_id = a.dag_id AND b.logical_date > a.logical_date
   WHERE a.dag_id = 'rs_one_at_a_time' AND b.start_date < a.end_date")"

# --- a paused DAG's queued scheduled run stays queued --------------------------
q "UPDATE dag SET is_paused = true WHERE dag_id = 'rs_one_at_a_time'" >/dev/null
q "INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, logical_date)
   SELECT dag_id, 'scheduled__held', version_id, 'scheduled', '2024-03-01' FROM dag
    WHERE dag_id = 'rs_one_at_a_time'" >/dev/null
sleep 3
check_eq "paused DAG: its queued scheduled run stays queued" queued \
  "$(run_state rs_one_at_a_time scheduled__held)"
q "UPDATE dag SET is_paused = false WHERE dag_id = 'rs_one_at_a_time'" >/dev/null
q "SELECT pg_notify('updraft_scheduler', 'x')" >/dev/null
check "unpaused: the queued run starts (no task instances: it succeeds)" \
  wait_run rs_one_at_a_time scheduled__held 20

# --- dagrun_timeout and max_consecutive_failed_dag_runs -------------------------
"$BIN/updraft" dags trigger rs_timeout --run-id t1 >/dev/null 2>&1 || not_ok "trigger t1"
check "timed-out run finishes" wait_run rs_timeout t1 30
check_eq "dagrun_timeout: the run failed" failed "$(run_state rs_timeout t1)"
check_eq "dagrun_timeout: running and waiting tasks skipped" "skipped skipped" \
  "$(ti_state rs_timeout t1 nap) $(ti_state rs_timeout t1 after)"
check_eq "dagrun_timeout: failed about 2 s after it started" t \
  "$(q "SELECT end_date - start_date BETWEEN interval '1.9 s' AND interval '6 s'
          FROM dag_run WHERE dag_id = 'rs_timeout' AND run_id = 't1'")"
gone() { ! pgrep -f "$marker" >/dev/null; }
check "dagrun_timeout: the worker killed the running task (fencing)" wait_for 15 gone
check "the worker logs the lost guard" grep -q "try lost its guard" "$tmp/worker.log"
check_eq "one failed run: the DAG is not paused yet" f \
  "$(q "SELECT is_paused FROM dag WHERE dag_id = 'rs_timeout'")"
"$BIN/updraft" dags trigger rs_timeout --run-id t2 >/dev/null 2>&1 || not_ok "trigger t2"
check "second timed-out run finishes" wait_run rs_timeout t2 30
check_eq "max_consecutive_failed_dag_runs 2: the DAG is paused" t \
  "$(q "SELECT is_paused FROM dag WHERE dag_id = 'rs_timeout'")"
check "the pause is logged" grep -q "consecutive failed runs dag_id=rs_timeout" "$tmp/scheduler.log" "$tmp/worker.log"

# --- skip_on_exit_code ----------------------------------------------------------
"$BIN/updraft" dags trigger rs_skip --run-id k1 >/dev/null 2>&1 || not_ok "trigger k1"
check "rs_skip run finishes" wait_run rs_skip k1 30
check_eq "exit 99 skips; skip_on_exit_code [3,4] skips exit 3; null fails exit 99; skip propagates" \
  "skipped skipped failed skipped" \
  "$(ti_state rs_skip k1 s99) $(ti_state rs_skip k1 s3) $(ti_state rs_skip k1 f99) $(ti_state rs_skip k1 down)"
check_eq "a skipped try is not retried" 1 \
  "$(q "SELECT try_number FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        WHERE dr.dag_id = 'rs_skip' AND dr.run_id = 'k1' AND ti.task_id = 's99'")"
check_eq "the task log says why" 1 "$(q "SELECT count(*) FROM task_log l JOIN task_instance ti ON ti.id = l.ti_id
  JOIN dag_run dr ON dr.id = ti.dag_run_id WHERE dr.dag_id = 'rs_skip' AND ti.task_id = 's99'
  AND l.data LIKE '%returned exit code 99. Skipping.%'")"

# --- retry_exponential_backoff: spacing from stored timestamps -------------------
"$BIN/updraft" dags trigger rs_backoff --run-id b1 --logical-date 2024-01-01T00:00:00+00:00 \
  >/dev/null 2>&1 || not_ok "trigger b1"
check "rs_backoff run finishes" wait_run rs_backoff b1 60
check_eq "four tries, then failed" "4 failed" \
  "$(q "SELECT ti.try_number || ' ' || ti.state FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        WHERE dr.dag_id = 'rs_backoff' AND dr.run_id = 'b1'")"
# Each try's log rows: the first is written at most one flush after it
# started, the last with its outcome (end_date). The gap between the end of
# try k and the start of try k+1 is the delay: Airflow 2's formula gives
# 1, 3, 3 s here (1 * 2^(k-1) plus sha1 jitter, capped at max_retry_delay 3);
# without backoff it would be 1, 1, 1.
gaps=$(q "WITH t AS (SELECT l.try_number, min(l.created_at) AS first, max(l.created_at) AS last
                       FROM task_log l JOIN task_instance ti ON ti.id = l.ti_id
                       JOIN dag_run dr ON dr.id = ti.dag_run_id
                      WHERE dr.dag_id = 'rs_backoff' AND dr.run_id = 'b1' GROUP BY l.try_number)
          SELECT string_agg(round(extract(epoch FROM n.first - t.last)::numeric, 1)::text, ' ' ORDER BY t.try_number)
            FROM t JOIN t n ON n.try_number = t.try_number + 1")
echo "# retry gaps (s): $gaps (expected about 1 3 3)"
read -r g1 g2 g3 <<<"$gaps"
within() { awk -v g="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(g >= lo && g <= hi) }'; }
check "gap after try 1 is about 1 s" within "${g1:-0}" 0.9 2.5
check "gap after try 2 is about 3 s (2^1 with jitter, capped at 3)" within "${g2:-0}" 2.9 4.5
check "gap after try 3 is about 3 s (capped by max_retry_delay)" within "${g3:-0}" 2.9 4.5

# --- removed: a task instance whose task is not in the run's version ------------
"$BIN/updraft" dags trigger rs_removed --run-id x1 >/dev/null 2>&1 || not_ok "trigger x1"
q "INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, operator)
   SELECT id, dag_id, run_id, 'ghost', 'BashOperator' FROM dag_run
    WHERE dag_id = 'rs_removed' AND run_id = 'x1'" >/dev/null
check "rs_removed run finishes" wait_run rs_removed x1 30
check_eq "the run succeeds; the stray task instance is removed" "success removed success" \
  "$(run_state rs_removed x1) $(ti_state rs_removed x1 ghost) $(ti_state rs_removed x1 second)"

check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
