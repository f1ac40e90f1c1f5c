#!/usr/bin/env bash
# The scheduler's metrics at /metrics on its --health-port, against real
# Postgres, Redis, a scheduler and workers: dagbag_size counts the DAGs and
# import_errors the broken file; a DAG through a 1-slot pool leaves its
# tasks starving for a while and the pool gauges back at the pool's size;
# each finished run is counted once in dagrun_duration_success (by the
# scheduler, or by the worker whose mini-scheduler ended it); a scheduled
# run records its schedule delay; the executor gauges add up the live
# workers' slots; a try on a queue nobody serves is counted as stuck in
# queued; a try whose worker is killed (-9) is counted as a zombie by
# dag_id and task_id.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_cleanup_extra() {
  # the zombie's task process outlives its killed worker
  local p
  p=$(cat "$tmp/nap.pid" 2>/dev/null) && [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
  return 0
}
t_setup
if ! command -v curl >/dev/null; then
  echo "ok 1 - scheduler metrics # SKIP curl is not installed (deploy/install-deps.sh installs it)"
  exit 0
fi
mkdir -p "$tmp/dags"

cat >"$tmp/dags/ms.yaml" <<YAML
ms_pool:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: a, operator: bash, bash_command: "sleep 1.5", pool: ms_one}
    - {task_id: b, operator: bash, bash_command: "sleep 1.5", pool: ms_one}
    - {task_id: c, operator: bash, bash_command: "sleep 1.5", pool: ms_one}
ms_daily:
  schedule: "@daily"
  start_date: 2024-01-01
  catchup: false
  tasks:
    - {task_id: t, operator: bash, bash_command: "true"}
ms_stuck:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: lonely, operator: bash, bash_command: "true", queue: ms_nobody_serves_this}
YAML
mkdir -p "$tmp/dags/sub"
cat >"$tmp/dags/sub/zombie.yaml" <<YAML
ms_zombie:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: nap
      operator: bash
      bash_command: 'if [ "\$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then echo \$\$ > $tmp/nap.pid; exec sleep 60; fi; echo second try'
      retries: 1
      retry_delay_sec: 0
YAML

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__SCHEDULER__ZOMBIE_THRESHOLD_SEC=3
export UPDRAFT__SCHEDULER__ZOMBIE_DETECTION_INTERVAL_SEC=1
export UPDRAFT__SCHEDULER__TASK_QUEUED_TIMEOUT_SEC=5
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
if "$BIN/updraft" db migrate >/dev/null; then ok "db migrate"; else not_ok "db migrate"; fi
q "INSERT INTO slot_pool (pool, slots) VALUES ('ms_one', 1)" >/dev/null

sport=$(svc_free_port)
wport=$(svc_free_port)
start_scheduler scheduler --health-port "$sport"
start_worker worker1 w1 4 --health-port "$wport"; w1=$!

# metric PORT NAME [key="value"...]: the sum of NAME's samples whose labels
# hold every key="value" given (empty when there is none).
metric() {
  local port=$1 name=$2
  shift 2
  curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/scrape.txt" || return 1
  awk -v name="$name" -v want="$*" '
    BEGIN { n = split(want, w, " ") }
    /^#/ { next }
    {
      split($0, parts, /[{ ]/)
      if (parts[1] != name) next
      for (i = 1; i <= n; i++) if (index($0, w[i]) == 0) next
      sum += $NF; found = 1
    }
    END { if (found) printf "%g\n", sum }' "$tmp/scrape.txt"
}
sched() { metric "$sport" "$@"; }
# the same metric summed over the scheduler and the worker
both() { local a b; a=$(metric "$sport" "$@"); b=$(metric "$wport" "$@"); echo $(( ${a:-0} + ${b:-0} )); }
is() { [ "$(sched "${@:2}")" = "$1" ]; }
at_least() { local v; v=$(sched "${@:2}"); [ -n "$v" ] && awk -v v="$v" -v n="$1" 'BEGIN { exit !(v >= n) }'; }
has() { [ -n "$(sched "$@")" ]; }

check "the scheduler answers /metrics" wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$sport/metrics"
check "dagbag_size counts the four DAGs" wait_for 30 is 4 updraft_dagbag_size
check_eq "no import errors yet" 0 "$(sched updraft_dag_processing_import_errors)"
check "a DAG file's parse time is labelled with its path under the DAGs folder" \
  wait_for 10 has updraft_dag_processing_last_duration_seconds 'file="sub/zombie.yaml"'
check "total_parse_time is recorded" has updraft_dag_processing_total_parse_time_seconds
check "the loop heartbeats" wait_for 10 at_least 2 updraft_scheduler_heartbeat_total
check "each pass is timed" at_least 1 updraft_scheduler_loop_duration_seconds_count
check "the Postgres round trip is timed" wait_for 10 at_least 1 updraft_db_round_trip_seconds_count

# The scheduled DAG's one run (catchup false): its schedule delay is recorded once.
daily_done() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'ms_daily'")" = success ]; }
check "ms_daily: its scheduled run succeeds" wait_for 60 daily_done
check_eq "ms_daily: schedule_delay recorded once" 1 \
  "$(both updraft_dagrun_schedule_delay_seconds_count 'dag_id="ms_daily"')"
check_eq "ms_daily: duration recorded once" 1 \
  "$(both updraft_dagrun_duration_success_seconds_count 'dag_id="ms_daily"')"
check_eq "ms_daily: first task scheduling delay recorded once" 1 \
  "$(both updraft_dagrun_first_task_scheduling_delay_seconds_count 'dag_id="ms_daily"')"

# A 1-slot pool with three parallel tasks: the critical section leaves
# tasks starving while one runs.
check "ms_pool: triggered" "$BIN/updraft" dags trigger ms_pool --run-id p1
pool_done() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'ms_pool'")" = success ]; }
maxst=0 maxrun=0
while ! pool_done; do
  v=$(sched updraft_scheduler_tasks_starving); [ "${v:-0}" -gt "$maxst" ] && maxst=$v
  v=$(sched updraft_pool_running_slots 'pool="ms_one"'); [ "${v:-0}" -gt "$maxrun" ] && maxrun=$v
  [ "$SECONDS" -gt 600 ] && break
  sleep 0.1
done
check "ms_pool: the run succeeds" pool_done
check "ms_pool: tasks were starving for the pool's slot (sampled)" test "$maxst" -ge 1
check_eq "ms_pool: the pool's running slots reached its size, never more (sampled)" 1 "$maxrun"
check_eq "ms_pool: duration recorded once" 1 \
  "$(both updraft_dagrun_duration_success_seconds_count 'dag_id="ms_pool"')"
check_eq "ms_pool: a manual run has no schedule delay" 0 \
  "$(both updraft_dagrun_schedule_delay_seconds_count 'dag_id="ms_pool"')"
check "pool gauges: ms_one open again at its size" wait_for 5 is 1 updraft_pool_open_slots 'pool="ms_one"'
check_eq "pool gauges: ms_one nothing queued" 0 "$(sched updraft_pool_queued_slots 'pool="ms_one"')"
check_eq "pool gauges: ms_one nothing starving" 0 "$(sched updraft_pool_starving_tasks 'pool="ms_one"')"
check_eq "pool gauges: default_pool open at its size" \
  "$(q "SELECT slots FROM slot_pool WHERE pool = 'default_pool'")" \
  "$(sched updraft_pool_open_slots 'pool="default_pool"')"
check_eq "executor: the live worker's 4 slots are open" 4 "$(sched updraft_executor_open_slots)"
check_eq "executor: nothing running" 0 "$(sched updraft_executor_running_tasks)"
check_eq "executor: nothing queued" 0 "$(sched updraft_executor_queued_tasks)"
check_eq "no alert deliveries pending" 0 "$(sched updraft_alerts_backlog)"
check "the default queue's stream is measured" has updraft_queue_length 'queue="default"'
check_eq "the default queue has nothing pending" 0 "$(sched updraft_queue_pending 'queue="default"')"
check_eq "the default queue has nothing undelivered (Redis 7's lag)" 0 "$(sched updraft_queue_lag 'queue="default"')"

# A broken file: one import error, the DAG count unchanged.
printf 'ms_broken:\n  tasks: [\n' >"$tmp/dags/broken.yaml"
check "import_errors counts the broken file" wait_for 20 is 1 updraft_dag_processing_import_errors
check_eq "dagbag_size unchanged by the broken file" 4 "$(sched updraft_dagbag_size)"

# A try on a queue no worker serves: ended after task_queued_timeout_sec.
check "ms_stuck: triggered" "$BIN/updraft" dags trigger ms_stuck --run-id s1
check "the try stuck in queued is counted" wait_for 30 is 1 updraft_scheduler_tasks_stuck_in_queued_total
check "the unserved queue is measured: one entry, not delivered" wait_for 5 is 1 updraft_queue_lag 'queue="ms_nobody_serves_this"'

# A worker killed mid-task: its try is a zombie after zombie_threshold_sec.
check "ms_zombie: triggered" "$BIN/updraft" dags trigger ms_zombie --run-id z1
nap_running() { [ "$(q "SELECT state FROM task_instance WHERE dag_id = 'ms_zombie'")" = running ] && [ -s "$tmp/nap.pid" ]; }
check "ms_zombie: the try runs" wait_for 30 nap_running
check "dagruns_running counts the live run" wait_for 5 is 1 updraft_scheduler_dagruns_running
check "executor: one try running" wait_for 5 is 1 updraft_executor_running_tasks
kill -KILL "$w1"
check "the killed worker's try is counted as a zombie, by dag_id and task_id" \
  wait_for 30 is 1 updraft_task_instances_without_heartbeats_killed_total 'dag_id="ms_zombie"' 'task_id="nap"'
start_worker worker2 w2 2
z_done() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'ms_zombie'")" = success ]; }
check "ms_zombie: the retry succeeds on another worker" wait_for 30 z_done
check_eq "the zombie is counted once" 1 \
  "$(sched updraft_task_instances_without_heartbeats_killed_total 'dag_id="ms_zombie"')"
check "executor: only the live worker's slots count once w1's heartbeat is stale" \
  wait_for 45 is 2 updraft_executor_open_slots
check_eq "every series names the scheduler component" 0 \
  "$(grep -v '^#' "$tmp/scrape.txt" | grep -c -v 'component="scheduler"')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
