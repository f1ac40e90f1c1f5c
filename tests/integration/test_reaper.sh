#!/usr/bin/env bash
# Tries whose worker is gone, against real Postgres, Redis, a scheduler and
# workers: a worker frozen (SIGSTOP) past scheduler.zombie_threshold_sec has
# its try reaped and retried on another worker; when it is thawed its guard
# fails, it kills the old try's process group and writes nothing; a try
# queued on a queue no worker serves fails after task_queued_timeout_sec.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_cleanup_extra() {
  for p in "${stopped[@]:-}"; do [ -n "$p" ] && kill -CONT "$p" 2>/dev/null; done
  for p in $(pgrep -f "updraft_reaper_nap_$(basename "$tmp")"); do kill -KILL "$p" 2>/dev/null || true; done
}
stopped=()
t_setup
mkdir -p "$tmp/dags"
marker=updraft_reaper_nap_$(basename "$tmp")

cat >"$tmp/dags/rp.yaml" <<YAML
rp_zombie:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: nap
      operator: bash
      bash_command: 'if [ "\$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then echo \$\$ > $tmp/try1.pid; exec bash -c "sleep 60" $marker; fi; echo second try'
      retries: 1
      retry_delay_sec: 0
rp_flush:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: after_flush, operator: bash, bash_command: "echo survived"}
rp_stuck:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: lonely, operator: bash, bash_command: "true", queue: nobody_serves_this}
YAML

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__ZOMBIE_THRESHOLD_SEC=3
export UPDRAFT__SCHEDULER__ZOMBIE_DETECTION_INTERVAL_SEC=1
export UPDRAFT__SCHEDULER__TASK_QUEUED_TIMEOUT_SEC=3
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
check "db migrate" "$BIN/updraft" db migrate >/dev/null

hport=$(svc_free_port)
start_scheduler scheduler --health-port "$hport"
start_worker worker1 w1 4; w1=$!
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id LIKE 'rp\_%' AND version_id IS NOT NULL")" = 3 ]; }
check "DAGs are parsed" wait_for 30 dags_in

ti() { q "SELECT $3 FROM task_instance WHERE dag_id = '$1' AND task_id = '$2'"; }
running_on_w1() { [ "$(ti rp_zombie nap "state || ' ' || hostname")" = "running w1" ] && [ -s "$tmp/try1.pid" ]; }

"$BIN/updraft" dags trigger rp_zombie --run-id z1 >/dev/null 2>&1 || not_ok "trigger rp_zombie"
check "try 1 runs on w1" wait_for 30 running_on_w1
kill -STOP "$w1"; stopped+=("$w1")
reaped() { [ "$(ti rp_zombie nap state)" != running ]; }
check "the frozen worker's try is reaped as a zombie" wait_for 20 reaped
case "$(ti rp_zombie nap "state || ' ' || try_number")" in
  "up_for_retry 1"|"scheduled 1"|"queued 2") ok "the zombie's try is retried (retries: 1, retry_delay 0)" ;;
  *) not_ok "the zombie's try is retried" "got '$(ti rp_zombie nap "state || ' ' || try_number")'" ;;
esac
check_eq "the try's log says why" 1 "$(q "SELECT count(*) FROM task_log l JOIN task_instance t ON t.id = l.ti_id
  WHERE t.dag_id = 'rp_zombie' AND l.try_number = 1 AND l.data LIKE '%zombie%'")"

start_worker worker2 w2 4
done_z() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'rp_zombie'")" = success ]; }
check "try 2 runs on another worker and the run succeeds" wait_for 30 done_z
check_eq "try 2 ran on w2" "success 2 w2" "$(ti rp_zombie nap "state || ' ' || try_number || ' ' || hostname")"

try1_pid=$(cat "$tmp/try1.pid")
check "the old try's process is still there while w1 is frozen" kill -0 "$try1_pid"
kill -CONT "$w1"; stopped=()
gone() { ! kill -0 "$try1_pid" 2>/dev/null && ! pgrep -f "$marker" >/dev/null; }
check "thawed, w1 finds its guard failed and kills the old try's process group" wait_for 20 gone
check "w1 logs the lost guard" grep -q "try lost its guard" "$tmp/worker1.log"
sleep 1
check_eq "w1 wrote nothing for the old try: the task stays as try 2 left it" "success 2 w2" \
  "$(ti rp_zombie nap "state || ' ' || try_number || ' ' || hostname")"
check_eq "callback events: one retry (the zombie), one success" "task_retry:1 task_success:2" \
  "$(q "SELECT string_agg(kind || ':' || try_number, ' ' ORDER BY id) FROM callback_event
         WHERE dag_id = 'rp_zombie' AND task_id = 'nap'")"

# --- libpq multi-host failover URLs -------------------------------------------
dead=$(svc_free_port)
multi="postgresql://updraft@127.0.0.1:$dead,127.0.0.1:$SVC_PG_PORT/updraft?target_session_attrs=read-write"
check "a multi-host database URL skips the dead host (libpq failover)" \
  env UPDRAFT__DATABASE__URL="$multi" "$BIN/updraft" db check

# --- liveness checks --------------------------------------------------------
sched_health() { json_ok "http://127.0.0.1:$hport/health" '.status == "healthy" and .component == "scheduler"'; }
check "scheduler --health-port answers healthy" wait_for 10 sched_health
check "jobs check: a live scheduler" bash -c "\"$BIN/updraft\" jobs check --job-type SchedulerJob >/dev/null"
check "jobs check: worker w2 by hostname" bash -c "\"$BIN/updraft\" jobs check --job-type worker --hostname w2 >/dev/null"
check_eq "jobs check: two live workers need --allow-multiple" "1 0" \
  "$("$BIN/updraft" jobs check --job-type worker --limit 5 >/dev/null; echo $?) $("$BIN/updraft" jobs check --job-type worker --limit 5 --allow-multiple >/dev/null; echo $?)"
check_eq "jobs check: no such host exits 1" "1 No alive jobs found." \
  "$(out=$("$BIN/updraft" jobs check --hostname nosuchhost); echo "$? $out")"

# --- Redis loses its data while a try is queued -----------------------------
w2=${pids[-1]}
kill -STOP "$w2"; stopped+=("$w2")
kill -STOP "$w1"; stopped+=("$w1")
"$BIN/updraft" dags trigger rp_flush --run-id f1 >/dev/null 2>&1 || not_ok "trigger rp_flush"
queued_f() { [ "$(ti rp_flush after_flush state)" = queued ]; }
check "the try is queued while no worker reads" wait_for 20 queued_f
check_eq "its message is in the stream" 1 "$(redis-cli -p "$SVC_REDIS_PORT" XLEN updraft:q:default)"
redis-cli -p "$SVC_REDIS_PORT" FLUSHALL >/dev/null
kill -CONT "$w2" "$w1"; stopped=()
t0=$(date +%s)
done_f() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'rp_flush'")" = success ]; }
check "after FLUSHALL the queue is rebuilt from Postgres and the try runs" wait_for 20 done_f
check "well before queued_resend_after_sec (30 s)" test $(( $(date +%s) - t0 )) -lt 15
check "the scheduler noticed the lost data" grep -q "redis has no marker" "$tmp/scheduler.log"

# --- stuck queued ------------------------------------------------------------
"$BIN/updraft" dags trigger rp_stuck --run-id s1 >/dev/null 2>&1 || not_ok "trigger rp_stuck"
done_s() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'rp_stuck'")" = failed ]; }
check "a try no worker takes fails after task_queued_timeout_sec" wait_for 30 done_s
check_eq "it was queued, never run" "failed 1 " "$(ti rp_stuck lonely "state || ' ' || try_number || ' ' || hostname")"
check "the scheduler says why" grep -q "queued for more than 3 seconds" "$tmp/scheduler.log"

check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
