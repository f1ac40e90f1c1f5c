#!/usr/bin/env bash
# Worker shutdown against real Postgres, Redis and a scheduler. Warm
# (SIGTERM): the worker takes nothing new, lets a running try finish
# within worker.shutdown_grace_sec and exits 0. Past the grace, and at once
# on a cold stop (SIGQUIT), running tries are killed and handed back: they
# run again on another worker as the next try without consuming a retry.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_cleanup_extra() {
  for p in $(pgrep -f "updraft_sd_$(basename "$tmp")"); do kill -KILL "$p" 2>/dev/null || true; done
}
t_setup
mkdir -p "$tmp/dags"
marker=updraft_sd_$(basename "$tmp")

cat >"$tmp/dags/sd.yaml" <<YAML
sd_warm:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: first, operator: bash, bash_command: 'sleep 1.5; echo finished'}
    - {task_id: second, operator: bash, bash_command: 'echo second'}
sd_grace:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: long
      operator: bash
      bash_command: 'if [ "\$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then exec bash -c "sleep 60; true" $marker; fi; echo again'
sd_cold:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: long
      operator: bash
      bash_command: 'if [ "\$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then exec bash -c "sleep 60; true" $marker; fi; echo again'
      retries: 2
YAML

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__SHUTDOWN_GRACE_SEC=3
check "db migrate" "$BIN/updraft" db migrate >/dev/null
start_scheduler scheduler
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id LIKE 'sd\_%' AND version_id IS NOT NULL")" = 3 ]; }
check "DAGs are parsed" wait_for 30 dags_in
ti() { q "SELECT $3 FROM task_instance WHERE dag_id = '$1' AND task_id = '$2'"; }
exited() { ! kill -0 "$1" 2>/dev/null; }
start_one() { start_worker "worker-$1" "$1" 1; wpid=$!; }  # HOSTNAME: one slot, its pid in wpid
exited() { ! kill -0 "$1" 2>/dev/null; }

# --- the worker's own health endpoint ----------------------------------------------
hport=$(svc_free_port)
"$BIN/updraft-worker" --hostname w0 --health-port "$hport" >"$tmp/worker-w0.log" 2>&1 & w0=$!; pids+=($w0)
health_ok() { json_ok "http://127.0.0.1:$hport/health" '.status == "healthy" and .component == "worker"'; }
check "worker --health-port: GET /health 200 healthy" wait_for 10 health_ok
check_eq "worker --health-port: other paths 404" 404 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/nothing")"
check_eq "worker --health-port: GET /metrics 200 (docs/metrics.md)" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/metrics")"
check "worker --health-port: no CORS header" \
  bash -c "! curl -s -D- -o /dev/null -H 'Origin: http://evil.example' http://127.0.0.1:$hport/health | grep -qi '^access-control'"
# Sockets that connect and send nothing hold a thread each until the
# request timeout (2 s): a probe behind eight of them still gets its answer.
idlers=()
for _ in 1 2 3 4 5 6 7 8; do (exec 3<>"/dev/tcp/127.0.0.1/$hport"; sleep 15) & idlers+=($!); done
sleep 0.3
check_eq "worker --health-port: answered behind idle sockets" 200 \
  "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/health")"
kill "${idlers[@]}" 2>/dev/null; wait "${idlers[@]}" 2>/dev/null
kill -STOP "$w0"
check_eq "a frozen worker does not answer its probe" 000 \
  "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/health")"
kill -CONT "$w0"; kill -TERM "$w0"
check "it stops" wait_for 10 exited "$w0"

# --- warm: the running try finishes, nothing new is taken -------------------------
start_one w1
"$BIN/updraft" dags trigger sd_warm --run-id r1 >/dev/null 2>&1 || not_ok "trigger sd_warm"
running() { [ "$(ti "$1" "$2" state)" = running ]; }
check "first runs on w1" wait_for 20 running sd_warm first
kill -TERM "$wpid"; w1=$wpid
check "warm shutdown: w1 exits once its try finished" wait_for 15 exited "$w1"
wait "$w1"; rc=$?
check_eq "warm shutdown: exit status 0" 0 "$rc"
check_eq "the running try finished on w1" "success 1 w1" "$(ti sd_warm first "state || ' ' || try_number || ' ' || hostname")"
check_eq "w1 took nothing new while stopping: second waits" queued "$(ti sd_warm second state)"
start_one w2
done_warm() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'sd_warm'")" = success ]; }
check "another worker runs the rest" wait_for 20 done_warm

# --- past the grace: killed and handed back ------------------------------------------
"$BIN/updraft" dags trigger sd_grace --run-id g1 >/dev/null 2>&1 || not_ok "trigger sd_grace"
check "long runs on w2" wait_for 20 running sd_grace long
kill -TERM "$wpid"; w2=$wpid
check "after the 3 s grace w2 hands the try back and exits" wait_for 20 exited "$w2"
check_eq "the try went back to the queue (queued again at once), retries untouched (max_tries 0 -> 1)" 1 \
  "$(ti sd_grace long max_tries)"
gone() { ! pgrep -f "$marker" >/dev/null; }
check "its process is gone" wait_for 5 gone
check_eq "its log says why" 1 "$(q "SELECT count(*) FROM task_log l JOIN task_instance t ON t.id = l.ti_id
  WHERE t.dag_id = 'sd_grace' AND l.try_number = 1 AND l.data LIKE '%handed back%'")"
start_one w3
done_grace() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'sd_grace'")" = success ]; }
check "the next try runs on another worker and succeeds (retries: 0)" wait_for 20 done_grace
check_eq "as try 2, on w3" "success 2 w3" "$(ti sd_grace long "state || ' ' || try_number || ' ' || hostname")"
check_eq "no retry or failure event for the handed-back try" 0 \
  "$(q "SELECT count(*) FROM callback_event WHERE dag_id = 'sd_grace' AND kind IN ('task_retry', 'task_failure')")"

# --- cold: SIGQUIT hands back at once ---------------------------------------------------
"$BIN/updraft" dags trigger sd_cold --run-id c1 >/dev/null 2>&1 || not_ok "trigger sd_cold"
check "long runs on w3" wait_for 20 running sd_cold long
t0=$(date +%s)
kill -QUIT "$wpid"; w3=$wpid
check "cold shutdown: w3 exits without waiting for the grace" wait_for 10 exited "$w3"
check "within 2 s" test $(( $(date +%s) - t0 )) -le 2
check_eq "handed back: max_tries 2 -> 3" 3 "$(ti sd_cold long max_tries)"
check "its process is gone" wait_for 5 gone
start_one w4
done_cold() { [ "$(q "SELECT state FROM dag_run WHERE dag_id = 'sd_cold'")" = success ]; }
check "the next try succeeds on another worker" wait_for 20 done_cold

check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
