#!/usr/bin/env bash
# StatsD under Airflow's names: a UDP receiver on loopback gets the lines of
# a scheduler and two workers (metrics.statsd_on, prefix "airflow") while
# DAG runs have a task that succeeds (and its downstream, which the
# worker's mini-scheduler takes directly), one that fails, one that fails
# and succeeds on its retry, and a zombie: the first worker is kill -9'd in
# the middle of a try, the scheduler reaps it after
# scheduler.zombie_threshold_sec and the second worker runs the retry.
# The counts must equal what the database says; docs/metrics.md says
# which process sends what.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
source tests/lib/statsd.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_cleanup_extra() {
  [ -n "${w1:-}" ] && kill -KILL "$w1" 2>/dev/null
  for p in $(pgrep -f "updraft_sd_nap_$(basename "$tmp")"); do kill -KILL "$p" 2>/dev/null || true; done
}
t_setup
mkdir -p "$tmp/dags"
marker=updraft_sd_nap_$(basename "$tmp")

cat >"$tmp/dags/mx.yaml" <<YAML
mx:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: ok, operator: bash, bash_command: "sleep 0.2"}
    - {task_id: down, operator: bash, bash_command: "true", dependencies: [ok]}
    - {task_id: bad, operator: bash, bash_command: "exit 3", retries: 0}
    - task_id: flaky
      operator: bash
      bash_command: '[ "\$AIRFLOW_CTX_TRY_NUMBER" -gt 1 ]'
      retries: 1
      retry_delay_sec: 0
mz:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: nap
      operator: bash
      bash_command: 'if [ "\$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then exec bash -c "exec -a $marker sleep 60"; fi; echo second try'
      retries: 1
      retry_delay_sec: 0
YAML

sd=$tmp/statsd.txt
check "a StatsD receiver listens on loopback" sd_listen "$sd"
export UPDRAFT__METRICS__STATSD_ON=true
export UPDRAFT__METRICS__STATSD_HOST=127.0.0.1
export UPDRAFT__METRICS__STATSD_PORT=$SD_PORT
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__ZOMBIE_THRESHOLD_SEC=3
export UPDRAFT__SCHEDULER__ZOMBIE_DETECTION_INTERVAL_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
check "db migrate" "$BIN/updraft" db migrate >/dev/null

start_scheduler scheduler; sched=$!
hport=$(svc_free_port)
start_worker worker1 w1 4 --health-port "$hport"; w1=$!
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id IN ('mx', 'mz') AND version_id IS NOT NULL")" = 2 ]; }
check "DAGs are parsed" wait_for 30 dags_in

# ---- the zombie first: w1 dies in the middle of try 1
"$BIN/updraft" dags trigger mz --run-id z1 >/dev/null 2>&1 || not_ok "trigger mz"
ti() { q "SELECT $3 FROM task_instance WHERE dag_id = '$1' AND task_id = '$2'"; }
napping() { [ "$(ti mz nap "state || ' ' || hostname")" = "running w1" ] && pgrep -f "$marker" >/dev/null; }
check "try 1 of mz.nap runs on w1" wait_for 30 napping
# what w1 exposes for Prometheus meanwhile (the same records)
scrape=$(curl -s -m 5 "http://127.0.0.1:$hport/metrics")
check "w1's /metrics: a try started (updraft_ti_start_total)" \
  grep -Eq '^updraft_ti_start_total\{.*dag_id="mz".*task_id="nap".*\} 1(\.0+)?$' <<<"$scrape"
check "w1's /metrics: one slot of 4 used" \
  bash -c 'grep -Eq "^updraft_worker_slots_used(\{[^}]*\})? 1(\.0+)?$" <<<"$1" && grep -Eq "^updraft_worker_slots_free(\{[^}]*\})? 3(\.0+)?$" <<<"$1"' _ "$scrape"
# The claim's ti.start is sent before the kill: a kill -9 loses only what
# the sender had not sent yet (docs/metrics.md).
sent_start() { [ "$(sd_sum "$sd" "airflow\.ti\.start\.mz\.nap")" = 1 ]; }
check "w1 sent ti.start.mz.nap while the try runs" wait_for 10 sent_start
kill -KILL "$w1"; wait "$w1" 2>/dev/null; w1=
for p in $(pgrep -f "$marker"); do kill -KILL "$p" 2>/dev/null; done
start_worker worker2 w2 4; w2=$!
z_done() { [ "$(run_state mz z1)" = success ]; }
check "the zombie is reaped and w2 runs the retry" wait_for 60 z_done
check_eq "mz.nap: try 2 succeeded on w2" "success 2 w2" "$(ti mz nap "state || ' ' || try_number || ' ' || hostname")"

# ---- success, downstream, failure, retry
"$BIN/updraft" dags trigger mx --run-id r1 >/dev/null 2>&1 || not_ok "trigger mx"
check "the mx run ends" wait_run mx r1 60
check_eq "mx states in the database" "bad failed 1|down success 1|flaky success 2|ok success 1" \
  "$(q "SELECT string_agg(task_id || ' ' || state || ' ' || try_number, '|' ORDER BY task_id)
          FROM task_instance WHERE dag_id = 'mx'")"

# Stopped, they send what they still hold (metrics_stop).
kill -TERM "$w2" "$sched"; wait "$w2" "$sched" 2>/dev/null
sleep 0.5

p=airflow
check_eq "ti.start: one per claim (mx.ok, flaky twice, down, mz.nap twice)" "1 2 1 2" \
  "$(sd_sum "$sd" "$p\.ti\.start\.mx\.ok") $(sd_sum "$sd" "$p\.ti\.start\.mx\.flaky") $(sd_sum "$sd" "$p\.ti\.start\.mx\.down") $(sd_sum "$sd" "$p\.ti\.start\.mz\.nap")"
check_eq "ti.finish.mx.ok.success:1|c" 1 "$(sd_sum "$sd" "$p\.ti\.finish\.mx\.ok\.success")"
check_eq "ti.finish.mx.down.success (taken directly by the mini-scheduler)" 1 \
  "$(sd_sum "$sd" "$p\.ti\.finish\.mx\.down\.success")"
check_eq "ti.finish.mx.bad.failed:1|c" 1 "$(sd_sum "$sd" "$p\.ti\.finish\.mx\.bad\.failed")"
check_eq "ti.finish.mx.flaky.up_for_retry then .success" "1 1" \
  "$(sd_sum "$sd" "$p\.ti\.finish\.mx\.flaky\.up_for_retry") $(sd_sum "$sd" "$p\.ti\.finish\.mx\.flaky\.success")"
check_eq "ti.finish.mz.nap: the worker counts only the try it ended (the zombie is the scheduler's)" \
  "0 1" "$(sd_sum "$sd" "$p\.ti\.finish\.mz\.nap\.up_for_retry") $(sd_sum "$sd" "$p\.ti\.finish\.mz\.nap\.success")"
check_eq "ti.finish in all equals the outcomes workers committed (callback events not from the reaper)" \
  "$(q "SELECT count(*) FROM callback_event e WHERE e.kind LIKE 'task\_%'
          AND NOT EXISTS (SELECT 1 FROM task_log l WHERE l.ti_id = e.ti_id AND l.try_number = e.try_number
                            AND l.data LIKE '%[reaper] ERROR - zombie%')")" \
  "$(sd_sum "$sd" "$p\.ti\.finish\..*")"

# The scheduler's lines are the ones from the port that sent its heartbeat.
sched_ports=$(sd_ports "$sd" "$p\.scheduler_heartbeat")
check "airflow.scheduler_heartbeat:1|c received" test -n "$sched_ports"
worker_ports=$(sd_ports "$sd" "$p\.ti\.finish\..*")
check_eq "ti_successes from the workers: ok, down, flaky's retry, nap's retry" 4 \
  "$(sd_sum "$sd" "$p\.ti_successes" "$worker_ports")"
check_eq "ti_failures from the workers: bad (failed), flaky (up_for_retry)" 2 \
  "$(sd_sum "$sd" "$p\.ti_failures" "$worker_ports")"
check_eq "the zombie counter (scheduler): task_instances_without_heartbeats_killed" 1 \
  "$(sd_sum "$sd" "$p\.task_instances_without_heartbeats_killed(\..*)?" "$sched_ports")"
timers=$(sd_timers "$sd" "$p\.dag\.mx\.ok\.duration")
check "dag.mx.ok.duration:<ms>|ms, about the 0.2 s the task sleeps" \
  awk -v t="${timers:-x}" 'BEGIN { exit !(t ~ /^[0-9.]+$/ && t >= 150 && t < 5000) }'
check "dag.mx.ok.queued_duration:<ms>|ms" test -n "$(sd_timers "$sd" "$p\.dag\.mx\.ok\.queued_duration")"
check "claim.latency and hop.latency timers, per queue" \
  test -n "$(sd_timers "$sd" "$p\.claim\.latency(\.default)?")" -a -n "$(sd_timers "$sd" "$p\.hop\.latency(\.default)?")"
check "worker.slots.used and worker.slots.free gauges" \
  bash -c 'grep -Eq " $1\.worker\.slots\.used:[0-9]+\|g" "$2" && grep -Eq " $1\.worker\.slots\.free:[0-9]+\|g" "$2"' _ "$p" "$sd"
echo "# claim.latency ms: $(sd_timers "$sd" "$p\.claim\.latency(\.default)?" | paste -sd' ')"
echo "# hop.latency ms: $(sd_timers "$sd" "$p\.hop\.latency(\.default)?" | paste -sd' ')"
echo "# $(wc -l <"$sd") StatsD lines received"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
