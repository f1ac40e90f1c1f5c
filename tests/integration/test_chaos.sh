#!/usr/bin/env bash
# Chaos: 3,000 task instances over 100 DAG runs, run by two schedulers and
# three workers while the test kill -9s a random worker every few seconds
# (and starts a new one), restarts Redis once, restarts Postgres once and
# kill -9s one scheduler. Each task appends "(run, task, try, pid)" to a
# side-effect file before doing its work. Afterwards: every run is final,
# no (task instance, try) executed twice, every successful task instance
# executed its final try, and no try ran that the database does not know.
#
# Before that, the kill -9 of a worker must take its tasks' processes with
# it (worker/guard.h): a DAG whose first tries linger (a shell, a bash and
# two sleeps in each task's process group, one task as run_as_user nobody
# when the test runs as root) loses its worker to kill -9; within a few
# seconds no process of those tries is left, and each retry runs elsewhere
# exactly once.
#
# Metrics: every process sends StatsD lines to one receiver under a prefix
# of its own (a worker generation "w<slot>g<gen>", the schedulers "s1" and
# "s2"). A worker stopped at the end sent a ti.finish for exactly each
# outcome it committed; one killed by kill -9 can have lost only the
# outcomes it committed in the last T_METRICS_WINDOW seconds (default 2)
# before the kill (what its sender had not sent yet; statsd_flush_ms 250); the schedulers' zombie counter
# likewise (docs/metrics.md "Exactness").
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
source tests/lib/statsd.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
T_LOG_TAIL=15

t_cleanup_extra() {
  for p in $(pgrep -f "updraft_chaos_$(basename "$tmp")"); do kill -KILL "$p" 2>/dev/null || true; done
  for p in $(pgrep -f "updraft_linger_$(basename "$tmp")"); do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${wpids[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
}
wpids=() wgen=() slotgen=() killed_at=()
t_setup
sd=$tmp/statsd.txt
sd_listen "$sd" || { not_ok "a StatsD receiver listens on loopback"; exit 1; }
export UPDRAFT__METRICS__STATSD_ON=true UPDRAFT__METRICS__STATSD_HOST=127.0.0.1
export UPDRAFT__METRICS__STATSD_PORT=$SD_PORT
# Drained and sent every 250 ms: what a kill -9 can take with it is the
# last 250 ms (plus this machine's scheduling delays, which
# T_METRICS_WINDOW covers).
export UPDRAFT__METRICS__STATSD_FLUSH_MS=250
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
} >"$tmp/chaos.yaml" # into the DAG folder once the kill -9 phase is over

lmark=updraft_linger_$(basename "$tmp")
lside=$tmp/linger_side.txt
: >"$lside"
chmod 666 "$lside"
# Try 1 lingers: sh -c (the task) runs bash, which runs two sleeps; every one
# of them has the marker in its command line. Later tries end at once.
linger_cmd="echo \"\$UPDRAFT_TASK_ID \$UPDRAFT_TRY_NUMBER\" >> $lside; [ \"\$UPDRAFT_TRY_NUMBER\" -gt 1 ] || bash -c '(exec -a $lmark sleep 300) & (exec -a $lmark sleep 300) & wait'"
linger_tasks="a b c"
{
  printf 'linger:\n  schedule: null\n  start_date: 2024-01-01T00:00:00\n'
  printf '  default_args: {retries: 2, retry_delay_sec: 0}\n  tasks:\n'
  for t in a b c; do
    printf '    - task_id: %s\n      operator: bash\n      bash_command: |\n        %s\n' "$t" "$linger_cmd"
  done
  if [ "$(id -u)" = 0 ]; then
    printf '    - task_id: as_nobody\n      operator: bash\n      run_as_user: nobody\n      bash_command: |\n        %s\n' "$linger_cmd"
    linger_tasks="a b c as_nobody"
  fi
} >"$tmp/dags/linger.yaml"
n_linger=$(wc -w <<<"$linger_tasks")

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__ZOMBIE_THRESHOLD_SEC=3
export UPDRAFT__SCHEDULER__ZOMBIE_DETECTION_INTERVAL_SEC=1
export UPDRAFT__SCHEDULER__QUEUED_RESEND_AFTER_SEC=3
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
check "db migrate" "$BIN/updraft" db migrate >/dev/null

UPDRAFT__METRICS__STATSD_PREFIX=s1 start_scheduler scheduler1; s1=$!
UPDRAFT__METRICS__STATSD_PREFIX=s2 start_scheduler scheduler2; s2=$!
gen=0
respawn_worker() { # slot: a worker of a new generation in that slot
  gen=$((gen + 1))
  UPDRAFT__METRICS__STATSD_PREFIX="w$1g$gen" \
    "$BIN/updraft-worker" --hostname "w$1-g$gen" --concurrency 16 >>"$tmp/worker$1.log" 2>&1 &
  wpids[$1]=$!
  wgen[$gen]=$1 slotgen[$1]=$gen
}
kill_worker() { # slot: kill -9 its worker, noting when (the metrics' bound); 1 if it was gone
  killed_at[${slotgen[$1]}]=$(date +%s.%N)
  kill -KILL "${wpids[$1]}" 2>/dev/null
}

# ---- kill -9 takes the worker's task processes with it
respawn_worker 0
lcount() { pgrep -f "$lmark" | wc -l; }
lsleeps() { pgrep -fx "$lmark 300" | wc -l; }
for _ in $(seq 1 300); do
  "$BIN/updraft" dags trigger linger --run-id linger1 >/dev/null 2>&1 && break
  sleep 0.2
done
for _ in $(seq 1 300); do [ "$(lsleeps)" -ge $((n_linger * 2)) ] && break; sleep 0.1; done
check_eq "every lingering try runs its two sleeps" $((n_linger * 2)) "$(lsleeps)"
echo "# $(lcount) processes of the lingering tries before the kill"
# The guard itself killed first: the worker starts another at once and
# tells it about every running group.
guard_of() { pgrep -P "$1" -fx "updraft-worker --guard"; }
g1=$(guard_of "${wpids[0]}")
check "the worker runs a guard process" test -n "$g1"
kill -KILL $g1
for _ in $(seq 1 50); do g2=$(guard_of "${wpids[0]}"); [ -n "$g2" ] && [ "$g2" != "$g1" ] && break; sleep 0.1; done
check "a killed guard is replaced at once" test -n "$g2" -a "$g2" != "$g1"
check_eq "the tries did not die with the guard" $((n_linger * 2)) "$(lsleeps)"
kill_worker 0
wait "${wpids[0]}" 2>/dev/null
for _ in $(seq 1 50); do [ "$(lcount)" = 0 ] && break; sleep 0.1; done
check_eq "no process of the killed worker's tries survives it (within 5 s)" 0 "$(lcount)"
check "the worker's guard said so in its log" grep -q "component=worker-guard.*killed the process groups of its tasks.* groups=$n_linger" "$tmp/worker0.log"
respawn_worker 1
linger_done() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'linger'")" = success ]; }
for _ in $(seq 1 600); do linger_done && break; sleep 0.1; done
check "the killed tries were retried elsewhere and the run succeeded" linger_done
check_eq "each task ran try 1 once and its retry once, on the new worker" \
  "$(for t in $linger_tasks; do echo "$t 1 1"; echo "$t 2 1"; done | sort)" \
  "$(sort "$lside" | uniq -c | awk '{print $2, $3, $1}')"
check_eq "the retries ran on the new worker" "$n_linger" \
  "$(q "SELECT count(*) FROM task_instance WHERE dag_id = 'linger' AND try_number = 2 AND hostname LIKE 'w1-%'")"

# ---- chaos
mv "$tmp/chaos.yaml" "$tmp/dags/chaos.yaml"
respawn_worker 0
respawn_worker 2

runs_final() { [ "$(q "SELECT count(*) FROM dag_run WHERE dag_id = 'chaos' AND state IN ('success', 'failed')")" = 100 ]; }
t0=$(date +%s)
kills=0 redis_done=0 pg_done=0 sched_done=0
deadline=$((t0 + 300))
while ! runs_final && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 2.5
  el=$(( $(date +%s) - t0 ))
  # a random worker dies without warning; a new one takes its place
  w=$((RANDOM % 3))
  kill_worker $w && kills=$((kills + 1))
  wait "${wpids[$w]}" 2>/dev/null
  respawn_worker $w
  if [ $redis_done = 0 ] && [ $el -ge 6 ]; then
    redis-cli -p "$SVC_REDIS_PORT" shutdown nosave >/dev/null 2>&1
    sleep 1
    svc_start_redis "$tmp" >/dev/null && redis_done=1
    echo "# redis restarted at ${el}s"
  fi
  if [ $sched_done = 0 ] && [ $el -ge 10 ]; then
    s1_killed_at=$(date +%s.%N)
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

# ---- metrics against the database
# The survivors stop (their senders send what they hold); then the counts.
for w in 0 1 2; do kill -TERM "${wpids[$w]}" 2>/dev/null; done
kill -TERM "$s2" 2>/dev/null
for w in 0 1 2; do wait "${wpids[$w]}" 2>/dev/null; done
wait "$s2" 2>/dev/null
sleep 0.5
win=${T_METRICS_WINDOW:-2}
# Outcomes a worker committed: the try events the reaper did not write.
by_worker="SELECT e.hostname, e.created_at FROM callback_event e
  WHERE e.kind LIKE 'task\_%' AND NOT EXISTS (SELECT 1 FROM task_log l WHERE l.ti_id = e.ti_id
    AND l.try_number = e.try_number AND l.data LIKE '%[reaper] ERROR - zombie%')"
by_reaper="SELECT e.created_at FROM callback_event e
  WHERE e.kind LIKE 'task\_%' AND EXISTS (SELECT 1 FROM task_log l WHERE l.ti_id = e.ti_id
    AND l.try_number = e.try_number AND l.data LIKE '%[reaper] ERROR - zombie%')"
vals=
for g in $(seq 1 $gen); do
  vals+="${vals:+, }('w${wgen[$g]}-g$g', ${killed_at[$g]:-NULL}::float8)"
done
survivors_off= killed_off= recv_all=0 db_all=0 late_all=0
while read -r host db late; do
  g=${host#*-g} slot=${host%%-*}
  recv=$(sd_sum "$sd" "${slot}g$g\.ti\.finish\..*")
  recv_all=$((recv_all + recv)) db_all=$((db_all + db)) late_all=$((late_all + late))
  if [ -z "${killed_at[$g]:-}" ]; then
    [ "$recv" = "$db" ] || survivors_off+=" $host:$recv/$db"
  elif [ "$recv" -gt "$db" ] || [ $((db - recv)) -gt "$late" ]; then
    killed_off+=" $host:$recv/$db(late $late)"
  fi
done < <(q "WITH k(host, killed) AS (VALUES $vals), e AS ($by_worker)
  SELECT k.host, count(e.created_at), count(e.created_at) FILTER (WHERE e.created_at > to_timestamp(k.killed - $win))
    FROM k LEFT JOIN e ON e.hostname = k.host GROUP BY k.host ORDER BY k.host" | tr '|' ' ')
echo "# ti.finish received $recv_all of the $db_all outcomes workers committed; committed within ${win}s of their worker's kill -9: $late_all"
check_eq "metrics: a worker stopped at the end sent one ti.finish per outcome it committed (host:sent/committed)" \
  "" "$survivors_off"
check_eq "metrics: a kill -9'd worker lost only outcomes of its last ${win}s (T_METRICS_WINDOW)" "" "$killed_off"
check_eq "metrics: every try event is a worker's outcome or a zombie the reaper ended" \
  "$(q "SELECT count(*) FROM callback_event WHERE kind LIKE 'task\_%'")" \
  "$(q "SELECT (SELECT count(*) FROM ($by_worker) w) + (SELECT count(*) FROM ($by_reaper) r)")"
zdb=$(q "SELECT count(*) FROM ($by_reaper) r")
zlate=$(q "SELECT count(*) FROM ($by_reaper) r WHERE r.created_at BETWEEN to_timestamp(${s1_killed_at:-0} - $win)
  AND to_timestamp(${s1_killed_at:-0} + 1)")
zrecv=$(sd_sum "$sd" "s[12]\.task_instances_without_heartbeats_killed(\..*)?")
echo "# zombies: the schedulers sent $zrecv, the reaper ended $zdb ($zlate within ${win}s of scheduler 1's kill -9)"
check "metrics: the schedulers' zombie counter equals the reaper's ends, less at most those of scheduler 1's last ${win}s" \
  test "$zrecv" -le "$zdb" -a "$zdb" -le $((zrecv + zlate))
check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
