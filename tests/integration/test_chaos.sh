#!/usr/bin/env bash
# Chaos: 3,000 task instances over 100 DAG runs, run by two schedulers and
# three workers while the test kill -9s a random worker every few seconds
# (and starts a new one), restarts Redis once, restarts Postgres once and
# kill -9s one scheduler. Each task appends "(run, task, try, pid)" to a
# side-effect file before doing its work. Afterwards: every run is final,
# no (task instance, try) executed twice, every successful task instance
# executed its final try, and no try ran that the database does not know.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
T_LOG_TAIL=15

t_cleanup_extra() {
  for p in $(pgrep -f "updraft_chaos_$(basename "$tmp")"); do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${wpids[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
}
wpids=()
t_setup
mkdir -p "$tmp/dags"
side=$tmp/side_effects.txt
: >"$side"
marker=updraft_chaos_$(basename "$tmp")

{
  printf 'chaos:\n  schedule: "@hourly"\n  start_date: 2024-01-01T00:00:00\n  end_date: 2024-01-05T03:00:00\n'
  printf '  catchup: true\n  max_active_runs: 25\n  max_active_tasks: 64\n'
  printf '  default_args: {retries: 6, retry_delay_sec: 0}\n  tasks:\n'
  cmd='echo "$UPDRAFT_RUN_ID $UPDRAFT_TASK_ID $UPDRAFT_TRY_NUMBER $$" >> '"$side"'; exec bash -c "sleep 0.$((RANDOM % 6 + 4))" '"$marker"
  printf "    - {task_id: root, operator: bash, bash_command: '%s'}\n" "$cmd"
  for i in $(seq 1 28); do
    printf "    - {task_id: t%02d, operator: bash, bash_command: '%s', dependencies: [root]}\n" "$i" "$cmd"
  done
  printf "    - {task_id: join, operator: bash, bash_command: '%s', dependencies: [%s]}\n" "$cmd" \
    "$(seq -f 't%02g' 1 28 | paste -sd, | sed 's/,/, /g')"
} >"$tmp/dags/chaos.yaml"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__ZOMBIE_THRESHOLD_SEC=3
export UPDRAFT__SCHEDULER__ZOMBIE_DETECTION_INTERVAL_SEC=1
export UPDRAFT__SCHEDULER__QUEUED_RESEND_AFTER_SEC=3
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
check "db migrate" "$BIN/updraft" db migrate >/dev/null

start_scheduler scheduler1; s1=$!
start_scheduler scheduler2
gen=0
respawn_worker() { # slot: a worker of a new generation in that slot
  gen=$((gen + 1))
  "$BIN/updraft-worker" --hostname "w$1-g$gen" --concurrency 16 >>"$tmp/worker$1.log" 2>&1 &
  wpids[$1]=$!
}
for w in 0 1 2; do respawn_worker $w; done

runs_final() { [ "$(q "SELECT count(*) FROM dag_run WHERE dag_id = 'chaos' AND state IN ('success', 'failed')")" = 100 ]; }
t0=$(date +%s)
kills=0 redis_done=0 pg_done=0 sched_done=0
deadline=$((t0 + 300))
while ! runs_final && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 2.5
  el=$(( $(date +%s) - t0 ))
  # a random worker dies without warning; a new one takes its place
  w=$((RANDOM % 3))
  kill -KILL "${wpids[$w]}" 2>/dev/null && kills=$((kills + 1))
  wait "${wpids[$w]}" 2>/dev/null
  respawn_worker $w
  if [ $redis_done = 0 ] && [ $el -ge 6 ]; then
    redis-cli -p "$SVC_REDIS_PORT" shutdown nosave >/dev/null 2>&1
    sleep 1
    svc_start_redis "$tmp" >/dev/null && redis_done=1
    echo "# redis restarted at ${el}s"
  fi
  if [ $sched_done = 0 ] && [ $el -ge 10 ]; then
    kill -KILL "$s1" && sched_done=1
    echo "# scheduler 1 killed at ${el}s"
  fi
  if [ $pg_done = 0 ] && [ $el -ge 14 ]; then
    svc_as_pg "$(svc_pg_bindir)/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null 2>&1
    sleep 1
    svc_start_pg "$tmp" >/dev/null && pg_done=1
    echo "# postgres restarted at ${el}s"
  fi
done
echo "# $kills worker kills, $(( $(date +%s) - t0 ))s, $(wc -l <"$side") executions recorded"
check "every DAG run reached a final state" runs_final
check_eq "redis restarted, postgres restarted, a scheduler killed, workers killed" "1 1 1 yes" \
  "$redis_done $pg_done $sched_done $([ $kills -ge 3 ] && echo yes)"
check_eq "3,000 task instances, all final" "3000 0" \
  "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE state NOT IN ('success', 'failed', 'skipped', 'upstream_failed'))
          FROM task_instance WHERE dag_id = 'chaos'")"
check_eq "every run succeeded (retries absorbed the kills)" 100 \
  "$(q "SELECT count(*) FROM dag_run WHERE dag_id = 'chaos' AND state = 'success'")"

# The side-effect file against the database.
q "CREATE TABLE side (run_id text, task_id text, try int, pid int)" >/dev/null
svc_psql -c "\copy side FROM '$side' WITH (DELIMITER ' ')" >/dev/null
check_eq "no (task instance, try) executed twice" 0 \
  "$(q "SELECT count(*) FROM (SELECT 1 FROM side GROUP BY run_id, task_id, try HAVING count(*) > 1) d")"
check_eq "every successful task instance executed its final try" 0 \
  "$(q "SELECT count(*) FROM task_instance t WHERE t.dag_id = 'chaos' AND t.state = 'success'
          AND NOT EXISTS (SELECT 1 FROM side s WHERE s.run_id = t.run_id AND s.task_id = t.task_id
                            AND s.try = t.try_number)")"
check_eq "no try executed that the database does not know" 0 \
  "$(q "SELECT count(*) FROM side s LEFT JOIN task_instance t ON t.dag_id = 'chaos'
          AND t.run_id = s.run_id AND t.task_id = s.task_id
         WHERE t.id IS NULL OR s.try > t.try_number OR s.try < 1")"
# A try the database counts but that never ran (its worker died between the
# claim and the spawn) must have been ended as a retry by the reaper.
check_eq "every try the database counts ran, or was recorded as ended without running" 0 \
  "$(q "SELECT count(*) FROM task_instance t, generate_series(1, t.try_number) g(try)
         WHERE t.dag_id = 'chaos'
           AND NOT EXISTS (SELECT 1 FROM side s WHERE s.run_id = t.run_id AND s.task_id = t.task_id
                             AND s.try = g.try)
           AND NOT EXISTS (SELECT 1 FROM callback_event e WHERE e.ti_id = t.id AND e.try_number = g.try
                             AND e.kind IN ('task_retry', 'task_failure'))")"
echo "# tries that never ran: $(q "SELECT count(*) FROM task_instance t, generate_series(1, t.try_number) g(try)
  WHERE t.dag_id = 'chaos' AND NOT EXISTS (SELECT 1 FROM side s WHERE s.run_id = t.run_id
  AND s.task_id = t.task_id AND s.try = g.try)")"
echo "# tries beyond the first: $(q "SELECT count(*) FROM side WHERE try > 1")"
check_eq "callback events agree: one success event per task instance" 3000 \
  "$(q "SELECT count(DISTINCT ti_id) FROM callback_event WHERE dag_id = 'chaos' AND kind = 'task_success'")"
check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
