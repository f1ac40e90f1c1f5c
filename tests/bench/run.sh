#!/usr/bin/env bash
# updraft benchmarks (issue 3). See tests/bench/README.md.
#
#   tests/bench/run.sh            full size  -> tests/bench/results/latest.json
#   tests/bench/run.sh --quick    small size -> tests/bench/results/quick.json
#   --keep                        keep the work folder (daemon logs, DAG files)
#   --only ui                     scenario 8 alone -> tests/bench/results/ui.json
#   --only LIST                   only these of chain, throughput, peers, ui, metrics (comma-separated)
#                                 -> tests/bench/results/only-LIST.json (ui alone: ui.json)
#
# Starts its own Postgres (fsync and synchronous_commit on: every state
# change is durable) and Redis, runs the scenarios, prints one table.
# Timings are figures, never assertions: the exit status is 1 only when a
# scenario could not run (a daemon failed, a run never finished).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${BIN:-bin}
BIN=$(cd "$BIN" 2>/dev/null && pwd) || { echo "bench: no binary folder ${BIN}; run make first" >&2; exit 1; }
QUICK=0
KEEP=0
ONLY=""
while [ $# -gt 0 ]; do
  a=$1; shift
  case $a in
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    --only) ONLY=${1:-}; shift || true
            for s in ${ONLY//,/ }; do
              case $s in chain|throughput|peers|ui|metrics) ;;
                *) echo "bench: --only takes a comma-separated list of chain, throughput, peers, ui, metrics" >&2; exit 2 ;;
              esac
            done
            [ -n "$ONLY" ] || { echo "bench: --only needs a list" >&2; exit 2; } ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $a" >&2; exit 2 ;;
  esac
done
for c in curl jq python3 wrk cc; do
  command -v "$c" >/dev/null 2>&1 || { echo "bench: $c is missing (make deps)" >&2; exit 1; }
done
for b in updraft updraft-scheduler updraft-worker updraft-webserver; do
  [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b is missing; run make" >&2; exit 1; }
done

source tests/lib/services.sh
export SVC_PG_FSYNC=on

# ---------------------------------------------------------------- sizes
if [ "$QUICK" = 1 ]; then
  MODE=quick
  CHAIN_LEN=10;    CHAIN_RUNS=2;   CHAIN_BUDGET_S=20
  TP_TASKS=100;    TP_RUNS=5                 # 500 tasks per phase
  SPAWN_N=2000
  PARSE_FILES=200; RESCANS=2; LONG_CHAIN=2000
  HIST_TRIGGERS=5; HIST_RUNS=100             # 100 runs x 100 tasks = 10k rows
  API_DAGS=100;    WRK_SECONDS=2
  UI_RUNS=200;     UI_TASKS=100;  UI_DAGS=500;   UI_REQS=10; UI_PAINTS=2; UI_GRAPH=1000
  M_ROUNDS=1;      M_CHAIN_RUNS=1; M_TP_TASKS=100; M_TP_RUNS=5   # 500 tasks per mode
  WAIT_S=90
  OUT=tests/bench/results/quick.json
else
  MODE=full
  CHAIN_LEN=40;    CHAIN_RUNS=5;   CHAIN_BUDGET_S=120
  TP_TASKS=1000;   TP_RUNS=20                # 20,000 tasks per phase
  SPAWN_N=20000
  PARSE_FILES=10000; RESCANS=5; LONG_CHAIN=20000
  HIST_TRIGGERS=20; HIST_RUNS=10000          # 10,000 runs x 100 tasks = 1M rows
  API_DAGS=100;    WRK_SECONDS=10
  UI_RUNS=1000;    UI_TASKS=100;  UI_DAGS=10000; UI_REQS=30; UI_PAINTS=5; UI_GRAPH=1000
  M_ROUNDS=4;      M_CHAIN_RUNS=2; M_TP_TASKS=1000; M_TP_RUNS=5  # 5,000 tasks per mode and round
  WAIT_S=400
  OUT=tests/bench/results/latest.json
fi
# want SCENARIO: run it (every scenario when --only is not given)
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
if [ "$ONLY" = ui ]; then OUT=tests/bench/results/ui.json
elif [ -n "$ONLY" ]; then OUT=tests/bench/results/only-${ONLY//,/-}.json
fi
# Two workers on two cores. One process per task: a few tries in flight per
# core hide the commit latency. Orchestration only: more in flight, since
# nothing runs but database round trips.
CONC_A=${BENCH_CONCURRENCY_A:-8}
CONC_B=${BENCH_CONCURRENCY_B:-64}

tmp=$(mktemp -d /tmp/updraft-bench.XXXXXX)
FIGS=$tmp/figures.jsonl
: >"$FIGS"
ERRORS=0
declare -A PIDS=()

T_START=$(date +%s)
log() { printf '# [%3ss] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }
err() { printf 'bench: ERROR: %s\n' "$*" >&2; ERRORS=$((ERRORS + 1)); }

stop_daemon() {
  local name=$1 pid=${PIDS[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PIDS[$name]"
}

cleanup() {
  local n
  for n in "${!PIDS[@]}"; do stop_daemon "$n"; done
  svc_stop "$tmp"
  if [ "$ERRORS" -ne 0 ]; then
    for f in "$tmp"/logs/*.log; do
      [ -f "$f" ] || continue
      echo "# --- $f (last lines)" >&2; tail -15 "$f" | sed 's/^/#   /' >&2
    done
  fi
  if [ "$KEEP" = 1 ]; then echo "bench: work folder kept: $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_daemon NAME DB_URL CMD... : runs CMD with that database, log in logs/NAME.log
start_daemon() {
  local name=$1 url=$2; shift 2
  UPDRAFT__DATABASE__URL=$url "$@" >"$tmp/logs/$name.log" 2>&1 &
  PIDS[$name]=$!
}
alive() { kill -0 "${PIDS[$1]:-0}" 2>/dev/null || { err "$1 is not running (see its log)"; return 1; }; }

# /proc figures in MB: mem PID VmRSS|VmHWM
mem_mb() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# psql against database URL $1
q() { local url=$1; shift; UPDRAFT__DATABASE__URL=$url svc_psql -c "$*"; }

# wait_sql URL TIMEOUT_S CONDITION: server-side poll (20 ms) until the SQL
# boolean CONDITION holds; each check sees a fresh snapshot (read committed).
wait_sql() {
  local url=$1 t=$2 cond=$3
  q "$url" "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
       LOOP
         EXIT WHEN ($cond);
         IF clock_timestamp() - t0 > interval '$t seconds' THEN RAISE EXCEPTION 'timed out'; END IF;
         PERFORM pg_sleep(0.02);
       END LOOP; END \$\$;" >/dev/null 2>"$tmp/wait.err"
}

# wait_up URL TIMEOUT_S CONDITION DAEMON...: wait_sql, giving up early when a daemon has died.
wait_up() {
  local url=$1 t=$2 cond=$3 d end; shift 3
  end=$(( $(date +%s) + t ))
  while :; do
    wait_sql "$url" 2 "$cond" && return 0
    grep -q 'timed out' "$tmp/wait.err" || return 1
    for d in "$@"; do kill -0 "${PIDS[$d]:-0}" 2>/dev/null || { echo "$d exited" >"$tmp/wait.err"; return 1; }; done
    [ "$(date +%s)" -lt "$end" ] || return 1
  done
}

# fig NAME UNIT MEDIAN P99 N TARGET CHECK NOTE
#   TARGET is shown; CHECK is evaluated by report.py ("median<=5", "p99<=10", ...; "" = no target).
fig() {
  jq -nc --arg name "$1" --arg unit "$2" --arg median "$3" --arg p99 "$4" --arg n "$5" \
    --arg target "$6" --arg check "$7" --arg note "${8:-}" '
    def num: if . == "" or . == "-" then null else tonumber end;
    {name: $name, unit: $unit, median: ($median|num), p99: ($p99|num), n: ($n|num),
     target: (if $target == "" then null else $target end),
     check: (if $check == "" then null else $check end),
     note: (if $note == "" then null else $note end)}' >>"$FIGS"
  printf '#   %-40s %s %s %s\n' "$1" "${3:--}" "${4:+p99 $4}" "$2" >&2
}

# ---------------------------------------------------------------- setup
mkdir -p "$tmp/logs" "$tmp/dags" "$tmp/dags_hist" "$tmp/dags_parse" "$tmp/bin"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "mode=$MODE bin=$BIN work=$tmp loadavg=$LOAD_START"
# Run a private copy of the binaries: a rebuild during the run must not mix versions.
cp "$BIN"/updraft "$BIN"/updraft-scheduler "$BIN"/updraft-worker "$BIN"/updraft-webserver "$tmp/bin/" ||
  { echo "bench: cannot copy the binaries" >&2; exit 1; }
BIN=$tmp/bin
# The bash a worker runs tasks with (worker/executor.h: /bin/bash, else PATH).
BASH_BIN=/bin/bash
[ -x "$BASH_BIN" ] || BASH_BIN=$(command -v bash)
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$tmp/spawn_ceiling" tests/bench/spawn_ceiling.c ||
  { echo "bench: cannot build spawn_ceiling" >&2; exit 1; }
# BullMQ's pinned npm packages, installed before anything is timed (once:
# later runs find them in build/bench/bullmq). Without node, npm or the
# registry the BullMQ figures are skipped, and the report says why.
BULLMQ_SKIP=""
if want peers && ! bash tests/bench/bullmq/run.sh --install-only >"$tmp/logs/bullmq-install.log" 2>&1; then
  BULLMQ_SKIP="its npm packages could not be installed: $(tail -1 "$tmp/logs/bullmq-install.log")"
fi
svc_start_pg "$tmp" >"$tmp/logs/pg-start.log" 2>&1 || { cat "$tmp/logs/pg-start.log" >&2; exit 1; }
svc_start_redis "$tmp" >"$tmp/logs/redis-start.log" 2>&1 || { cat "$tmp/logs/redis-start.log" >&2; exit 1; }
URL=$UPDRAFT__DATABASE__URL
URL_HIST=${URL%/*}/updraft_hist
URL_PARSE=${URL%/*}/updraft_parse
q "$URL" "CREATE DATABASE updraft_hist" >/dev/null
q "$URL" "CREATE DATABASE updraft_parse" >/dev/null
for u in "$URL" "$URL_HIST" "$URL_PARSE"; do
  UPDRAFT__DATABASE__URL=$u "$BIN/updraft" db migrate >>"$tmp/logs/migrate.log" 2>&1 ||
    { cat "$tmp/logs/migrate.log" >&2; exit 1; }
done
log "postgres $(q "$URL" "SHOW server_version") fsync=$(q "$URL" "SHOW fsync") synchronous_commit=$(q "$URL" "SHOW synchronous_commit")"

export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__LOGGING__LEVEL=info
# The API figures are of the API itself; a login costs one indexed lookup more.
export UPDRAFT__WEBSERVER__AUTH=none
unset UPDRAFT_CONFIG

# trigger_run URL DAG RUN_ID, then wait_run URL DAG RUN_ID TIMEOUT
trigger_run() {
  UPDRAFT__DATABASE__URL=$1 "$BIN/updraft" dags trigger "$2" --run-id "$3" >>"$tmp/logs/trigger.log" 2>&1 ||
    { err "trigger $2 $3 failed: $(tail -1 "$tmp/logs/trigger.log")"; return 1; }
}
wait_run() { # URL DAG RUN_ID TIMEOUT DAEMON...
  local url=$1 dag=$2 rid=$3 t=$4
  shift 4
  wait_up "$url" "$t" "EXISTS (SELECT 1 FROM dag_run WHERE dag_id = '$dag' AND run_id = '$rid' AND state IN ('success', 'failed'))" "$@" ||
    { err "run $dag $rid did not finish within $t s: $(cat "$tmp/wait.err")"; return 1; }
  local st
  st=$(q "$url" "SELECT state FROM dag_run WHERE dag_id = '$dag' AND run_id = '$rid'")
  [ "$st" = success ] || { err "run $dag $rid ended $st"; return 1; }
}

# Scenarios 1-6 (with --only: chain and throughput, on the main database).
if want chain || want throughput; then
# DAG files: python3 writes them (10,000 files in a second).
python3 - "$tmp" "$CHAIN_LEN" "$TP_TASKS" "$TP_RUNS" "$API_DAGS" "$PARSE_FILES" <<'EOF'
import os, sys
tmp, chain_len, tp_tasks, tp_runs, api_dags, parse_files = sys.argv[1], *map(int, sys.argv[2:])
def write(path, text):
    with open(path, "w") as f:
        f.write(text)
head = "  schedule: null\n  start_date: 2024-01-01\n  is_paused_upon_creation: false\n"
# 1. chain of sequential bash tasks, ~10 ms of work each
t = ["bench_chain:\n", head, "  max_active_tasks: 4\n  tasks:\n"]
for i in range(1, chain_len + 1):
    t.append(f"    - task_id: t{i:03d}\n      operator: bash\n      bash_command: sleep 0.01\n")
    if i > 1:
        t.append(f"      dependencies: [t{i-1:03d}]\n")
write(f"{tmp}/dags/bench_chain.yaml", "".join(t))
# 2. throughput: independent tasks, one DAG per phase
for dag in ("bench_tp_a", "bench_tp_b"):
    t = [f"{dag}:\n", head, f"  max_active_tasks: {tp_tasks}\n  max_active_runs: {tp_runs}\n  tasks:\n"]
    for i in range(1, tp_tasks + 1):
        t.append(f"    - task_id: t{i:04d}\n      operator: bash\n      bash_command: \"true\"\n")
    write(f"{tmp}/dags/{dag}.yaml", "".join(t))
# 6. the DAG list of the API: API_DAGS small DAGs beside the three above
for i in range(1, api_dags + 1):
    write(f"{tmp}/dags/api_{i:03d}.yaml",
          f"api_{i:03d}:\n  description: filler DAG {i}\n  schedule: \"0 3 * * *\"\n"
          f"  start_date: 2024-01-01\n  catchup: false\n  is_paused_upon_creation: true\n"
          f"  tags: [bench, api]\n  tasks:\n    - task_id: a\n      operator: bash\n      bash_command: echo a\n"
          f"    - task_id: b\n      operator: bash\n      bash_command: echo b\n      dependencies: [a]\n")
# 4. history: a small DAG to trigger, and the DAG whose history is inserted
write(f"{tmp}/dags_hist/bench_hist.yaml",
      "bench_hist:\n" + head + "  tasks:\n    - task_id: first\n      operator: bash\n      bash_command: \"true\"\n"
      "    - task_id: second\n      operator: bash\n      bash_command: \"true\"\n      dependencies: [first]\n")
write(f"{tmp}/dags_hist/bench_hist_old.yaml",
      "bench_hist_old:\n  schedule: \"@hourly\"\n  start_date: 2024-01-01\n  is_paused_upon_creation: true\n  tasks:\n"
      + "".join(f"    - task_id: t{i:03d}\n      operator: bash\n      bash_command: \"true\"\n" for i in range(1, 101)))
# 3. parse: PARSE_FILES files of one DAG of 10 tasks each (a chain, Airflow-like keys)
for n in range(parse_files):
    t = [f"parse_{n:05d}:\n  description: generated DAG {n}\n  schedule: \"{n % 60} {n % 24} * * *\"\n"
         f"  start_date: 2024-01-01\n  catchup: false\n  tags: [bench, parse]\n"
         f"  default_args:\n    owner: bench\n    retries: 1\n    retry_delay_sec: 60\n  tasks:\n"]
    for i in range(10):
        t.append(f"    - task_id: step_{i}\n      operator: bash\n      bash_command: echo step {i} of {n}\n")
        if i:
            t.append(f"      dependencies: [step_{i-1}]\n")
    write(f"{tmp}/dags_parse/parse_{n:05d}.yaml", "".join(t))
EOF
[ $? -eq 0 ] || { echo "bench: cannot write DAG files" >&2; exit 1; }
if ! "$BIN/updraft" dags validate "$tmp/dags/bench_chain.yaml" "$tmp/dags/bench_tp_a.yaml" \
     "$tmp/dags_hist" "$tmp/dags_parse/parse_00000.yaml" >"$tmp/logs/validate.log" 2>&1; then
  cat "$tmp/logs/validate.log" >&2; echo "bench: generated DAG files do not validate" >&2; exit 1
fi
MAIN_DAGS=$((API_DAGS + 3))

# ---------------------------------------------------------------- daemons (main database)
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
WEB_PORT=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$WEB_PORT
# wrk's 32 connections all come from 127.0.0.1, as a reverse proxy's would:
# no per-address cap, as docs/security.md advises behind a proxy.
export UPDRAFT__WEBSERVER__MAX_CONNECTIONS_PER_ADDRESS=0
start_daemon scheduler "$URL" "$BIN/updraft-scheduler"
start_daemon worker1 "$URL" "$BIN/updraft-worker" --hostname bench-w1 --concurrency "$CONC_A"
start_daemon worker2 "$URL" "$BIN/updraft-worker" --hostname bench-w2 --concurrency "$CONC_A"
start_daemon webserver "$URL" "$BIN/updraft-webserver"
# A second webserver with logins on, to measure what identifying a caller costs.
AUTH_PORT=$(svc_free_port)
BENCH_PW=bench-$RANDOM-$RANDOM
UPDRAFT__DATABASE__URL=$URL "$BIN/updraft" users create --username bench --firstname B \
  --lastname B --email bench@example.com --role Viewer --password "$BENCH_PW" >>"$tmp/logs/users.log" 2>&1 ||
  err "cannot create the bench user: $(tail -2 "$tmp/logs/users.log")"
BENCH_TOKEN=$(UPDRAFT__DATABASE__URL=$URL "$BIN/updraft" users token create --username bench 2>>"$tmp/logs/users.log")
UPDRAFT__WEBSERVER__AUTH=password UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$AUTH_PORT \
  start_daemon webserver_auth "$URL" "$BIN/updraft-webserver"
if ! wait_up "$URL" 60 "(SELECT count(*) FROM dag WHERE is_active) >= $MAIN_DAGS
                         AND (SELECT count(*) FROM job WHERE job_type = 'WorkerJob' AND state = 'running') >= 2" \
     scheduler worker1 worker2 webserver webserver_auth; then
  err "daemons did not come up: $(cat "$tmp/wait.err")"; exit 1
fi
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$WEB_PORT/health" >/dev/null && break; sleep 0.1; done

# ---------------------------------------------------------------- 5. memory, idle
sleep 2
log "5. memory (idle)"
fig memory.scheduler_idle_rss MB "$(mem_mb "${PIDS[scheduler]}" VmRSS)" "" 1 "" "" "$MAIN_DAGS DAGs loaded"
w1=$(mem_mb "${PIDS[worker1]}" VmRSS); w2=$(mem_mb "${PIDS[worker2]}" VmRSS)
fig memory.worker_idle_rss MB "$(python3 -c "print(max($w1, $w2))")" "" 2 "<= 10 MB" "median<=10" "larger of the two workers ($w1, $w2)"
fig memory.webserver_idle_rss MB "$(mem_mb "${PIDS[webserver]}" VmRSS)" "" 1 "" "" ""

# ---------------------------------------------------------------- 1. chain
if want chain; then
log "1. chain of $CHAIN_LEN tasks (sleep 0.01), up to $CHAIN_RUNS runs"
chain_ok=0
t_end=$(( $(now_ms) + CHAIN_BUDGET_S * 1000 ))
for r in $(seq 1 "$CHAIN_RUNS"); do
  alive scheduler && alive worker1 && alive worker2 || break
  trigger_run "$URL" bench_chain "chain_$r" && wait_run "$URL" bench_chain "chain_$r" "$WAIT_S" scheduler worker1 worker2 || break
  chain_ok=$r
  [ "$(now_ms)" -lt "$t_end" ] || break
done
if [ "$chain_ok" -gt 0 ]; then
  # per run: total, sum of task execution, overhead per task
  read -r c_total c_total99 c_exec c_over c_over99 < <(q "$URL" "
    WITH r AS (
      SELECT dr.id, extract(epoch FROM dr.end_date - dr.start_date) * 1000 AS total,
             (SELECT sum(extract(epoch FROM ti.end_date - ti.start_date)) * 1000
                FROM task_instance ti WHERE ti.dag_run_id = dr.id) AS exec
        FROM dag_run dr WHERE dr.dag_id = 'bench_chain' AND dr.state = 'success')
    SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY total)::numeric, 2),
           round(max(total)::numeric, 2),
           round(percentile_cont(0.5) WITHIN GROUP (ORDER BY exec)::numeric, 2),
           round(percentile_cont(0.5) WITHIN GROUP (ORDER BY (total - exec) / $CHAIN_LEN)::numeric, 3),
           round(max((total - exec) / $CHAIN_LEN)::numeric, 3)
      FROM r" | tr '|' ' ')
  read -r h_p50 h_p99 h_n < <(q "$URL" "
    WITH h AS (
      SELECT extract(epoch FROM ti.start_date - lag(ti.end_date) OVER (PARTITION BY ti.dag_run_id ORDER BY ti.task_id)) * 1000 AS ms
        FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
       WHERE dr.dag_id = 'bench_chain' AND dr.state = 'success')
    SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
           round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3), count(ms)
      FROM h WHERE ms IS NOT NULL" | tr '|' ' ')
  fig chain.total ms "$c_total" "" "$chain_ok" "" "" "run end - run start, $CHAIN_LEN tasks; worst run $c_total99 ms"
  fig chain.task_execution_sum ms "$c_exec" "" "$chain_ok" "" "" "sum of (end_date - start_date) of the tasks"
  fig chain.overhead_per_task ms "$c_over" "" "$chain_ok" "<= 5 ms" "median<=5" "(total - sum of execution) / $CHAIN_LEN; median over runs, worst $c_over99 ms"
  fig chain.hop_latency ms "$h_p50" "$h_p99" "$h_n" "p50 <= 2 ms, p99 <= 10 ms" "median<=2 p99<=10" "upstream end_date -> downstream start_date"
else
  err "chain: no run finished"
fi
fi # chain

# ---------------------------------------------------------------- 2. throughput (+ 5. peak memory)
# tp_phase DAG LABEL: triggers TP_RUNS runs, waits, records tasks/s
tp_phase() {
  local dag=$1 r total
  total=$((TP_TASKS * TP_RUNS))
  for r in $(seq 1 "$TP_RUNS"); do trigger_run "$URL" "$dag" "tp_$r" || return 1; done
  if ! wait_up "$URL" "$WAIT_S" "NOT EXISTS (SELECT 1 FROM dag_run WHERE dag_id = '$dag' AND state IN ('queued', 'running'))" \
       scheduler worker1 worker2; then
    err "$dag: runs did not finish within $WAIT_S s: $(cat "$tmp/wait.err") ($(q "$URL" "SELECT count(*) FROM task_instance WHERE dag_id = '$dag' AND state = 'success'") of $total tasks done)"
    return 1
  fi
  read -r TP_N TP_SEC TP_BAD < <(q "$URL" "
    SELECT count(*) FILTER (WHERE ti.state = 'success'),
           extract(epoch FROM max(ti.end_date) - (SELECT min(queued_at) FROM dag_run WHERE dag_id = '$dag')),
           count(*) FILTER (WHERE ti.state <> 'success')
      FROM task_instance ti WHERE ti.dag_id = '$dag'" | tr '|' ' ')
  [ "$TP_BAD" = 0 ] || err "$dag: $TP_BAD tasks did not succeed"
  TP_RATE=$(python3 -c "print(round($TP_N / $TP_SEC, 1))")
}
hwm_max() { # the larger VmHWM so far of the workers, remembered across restarts
  local w v
  for w in worker1 worker2; do
    v=$(mem_mb "${PIDS[$w]}" VmHWM)
    [ -n "$v" ] && WORKER_HWM=$(python3 -c "print(max(${WORKER_HWM:-0}, $v))")
  done
}

if want throughput; then
log "2. throughput: $TP_RUNS runs x $TP_TASKS tasks per phase, 2 workers"
# A bash task's process is `bash -c COMMAND` (worker/executor.h): the bash
# ceiling is what one process per task is measured against.
ceil_true=$("$tmp/spawn_ceiling" 2 "$SPAWN_N" /bin/true) || err "spawn_ceiling failed"
ceil_bash=$("$tmp/spawn_ceiling" 2 "$SPAWN_N" "$BASH_BIN" -c true) || err "spawn_ceiling (bash) failed"
fig throughput.spawn_ceiling_true tasks/s "$ceil_true" "" "$SPAWN_N" "" "" "posix_spawn+waitpid of /bin/true, 2 processes: the machine's floor cost of a process"
fig throughput.spawn_ceiling_bash tasks/s "$ceil_bash" "" "$SPAWN_N" "" "" "the same with $BASH_BIN -c true: what a bash task starts, the ceiling for one process per task"
WORKER_HWM=0
if alive scheduler && alive worker1 && alive worker2 && tp_phase bench_tp_a; then
  fig throughput.bash_true tasks/s "$TP_RATE" "" "$TP_N" "" "" "one process per task (bash -c true); --concurrency $CONC_A x 2 workers; ${TP_SEC}s"
  fig throughput.bash_true_vs_ceiling % "$(python3 -c "print(round(100 * $TP_RATE / $ceil_bash, 1))")" "" "$TP_N" \
    ">= 75 %" "median>=75" "throughput (a) / spawn ceiling of bash -c true, the same run"
  fig throughput.bash_true_vs_true_ceiling % "$(python3 -c "print(round(100 * $TP_RATE / $ceil_true, 1))")" "" "$TP_N" \
    "" "" "throughput (a) / spawn ceiling of /bin/true (the ratio before tasks ran with bash)"
fi
hwm_max
ORCH_FLAG=0
"$BIN/updraft-worker" --help 2>&1 | grep -q -- '--orchestration-only' && ORCH_FLAG=1
if [ "$ORCH_FLAG" = 1 ]; then
  stop_daemon worker1; stop_daemon worker2
  start_daemon worker1 "$URL" "$BIN/updraft-worker" --hostname bench-w1 --concurrency "$CONC_B" --orchestration-only
  start_daemon worker2 "$URL" "$BIN/updraft-worker" --hostname bench-w2 --concurrency "$CONC_B" --orchestration-only
  wait_up "$URL" 30 "(SELECT count(*) FROM job WHERE job_type = 'WorkerJob' AND state = 'running' AND hostname LIKE 'bench-w%'
                      AND latest_heartbeat > now() - interval '1 minute' AND start_date > now() - interval '30 seconds') >= 2" worker1 worker2 ||
    err "orchestration-only workers did not start"
  if alive worker1 && alive worker2 && tp_phase bench_tp_b; then
    fig throughput.orchestration_only tasks/s "$TP_RATE" "" "$TP_N" ">= 5000/s" "median>=5000" \
      "worker --orchestration-only (claim, running, success; no process); --concurrency $CONC_B x 2; ${TP_SEC}s"
  fi
  hwm_max
else
  fig throughput.orchestration_only tasks/s "" "" "" ">= 5000/s" "median>=5000" "not available: updraft-worker has no --orchestration-only"
fi
fig memory.scheduler_peak_rss MB "$(mem_mb "${PIDS[scheduler]}" VmHWM)" "" 1 "" "" "VmHWM after scenario 2"
fig memory.worker_peak_rss MB "$WORKER_HWM" "" 2 "" "" "largest VmHWM of the workers in scenario 2"
fi # throughput

# Scenarios 6, 4 and 3 run in full runs only (not with --only).
if [ -z "$ONLY" ]; then

# ---------------------------------------------------------------- 6. api
# wrk_fig NAME URL TARGET CHECK NOTE
# WRK_HDR (an array of curl/wrk arguments) adds headers to both.
WRK_HDR=()
wrk_fig() {
  local name=$1 url=$2 code out
  code=$(curl -s -o "$tmp/api.json" -w '%{http_code}' "${WRK_HDR[@]}" "$url")
  if [ "$code" != 200 ]; then err "api: $url answered $code"; return 1; fi
  out=$tmp/logs/wrk_${name##*.}.log
  wrk -t2 -c32 -d"${WRK_SECONDS}s" --latency "${WRK_HDR[@]}" "$url" >"$out" 2>&1 || { err "wrk failed: $(tail -3 "$out")"; return 1; }
  read -r rps p50 p99 non2xx < <(python3 - "$out" <<'EOF'
import re, sys
txt = open(sys.argv[1]).read()
def ms(v, u):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[u]
pct = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", txt, re.M)}
rps = re.search(r"Requests/sec:\s+([\d.]+)", txt)
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", txt)
print(rps.group(1) if rps else "", round(pct.get("50", -1), 3), round(pct.get("99", -1), 3), bad.group(1) if bad else 0)
EOF
)
  [ "${non2xx:-0}" = 0 ] || err "api: $non2xx non-2xx answers from $url"
  fig "$name" req/s "$rps" "" 1 "$3" "$4" "$5"
  fig "$name.latency" ms "$p50" "$p99" 1 "${6:-}" "${7:-}" "wrk -t2 -c32 -d${WRK_SECONDS}s; wrk's latency distribution"
}
log "6. api (wrk -t2 -c32 -d${WRK_SECONDS}s)"
API=http://127.0.0.1:$WEB_PORT/api/v1
if alive webserver; then
  ndags=$(curl -sf "$API/dags" | jq '.dags | length')
  wrk_fig api.dags "$API/dags" ">= 5000 req/s" "median>=5000" "GET /api/v1/dags, $ndags DAGs in the answer" "p99 <= 20 ms" "p99<=20"
  wrk_fig api.task_instances "$API/dags/bench_tp_a/dagRuns/tp_1/taskInstances?limit=1000" "" "" \
    "GET .../taskInstances?limit=1000 of a $TP_TASKS-task run"
fi
AUTH_API=http://127.0.0.1:$AUTH_PORT/api/v1
if alive webserver_auth; then
  WRK_HDR=(-H "Authorization: Basic $(printf 'bench:%s' "$BENCH_PW" | base64 -w0)")
  wrk_fig api.dags_basic_auth "$AUTH_API/dags" "" "" "the same with webserver.auth password, HTTP Basic (a remembered password: one user lookup per request)"
  WRK_HDR=(-H "Authorization: Bearer $BENCH_TOKEN")
  wrk_fig api.dags_token "$AUTH_API/dags" "" "" "the same with a bearer token (one token lookup per request)"
  WRK_HDR=()
fi

# ---------------------------------------------------------------- 4. history
stop_daemon worker1; stop_daemon worker2; stop_daemon webserver; stop_daemon webserver_auth; stop_daemon scheduler
log "4. history: $HIST_TRIGGERS triggers, empty then with $((HIST_RUNS * 100)) finished task instances"
UPDRAFT__DATABASE__URL=$URL_HIST "$BIN/updraft" db migrate >>"$tmp/logs/migrate.log" 2>&1 || err "migrate (history) failed"
UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags_hist UPDRAFT__LOGGING__LEVEL=debug \
  start_daemon scheduler_hist "$URL_HIST" "$BIN/updraft-scheduler"
start_daemon worker_hist "$URL_HIST" "$BIN/updraft-worker" --hostname bench-wh --concurrency 4
# hist_round TAG: HIST_TRIGGERS sequential runs; HL_* = trigger-to-first-running (ms)
hist_round() {
  local tag=$1 i
  for i in $(seq 1 "$HIST_TRIGGERS"); do
    trigger_run "$URL_HIST" bench_hist "${tag}_$i" && wait_run "$URL_HIST" bench_hist "${tag}_$i" 60 scheduler_hist worker_hist || return 1
  done
  read -r HL_P50 HL_P99 HL_N < <(q "$URL_HIST" "
    WITH l AS (
      SELECT extract(epoch FROM (SELECT min(ti.start_date) FROM task_instance ti WHERE ti.dag_run_id = dr.id) - dr.queued_at) * 1000 AS ms
        FROM dag_run dr WHERE dr.dag_id = 'bench_hist' AND dr.run_id LIKE '${tag}\_%')
    SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
           round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3), count(*) FROM l" | tr '|' ' ')
}
# pass_times FROM_LINE: scheduler pass durations (ms) logged after line FROM_LINE, if it logs them
pass_times() {
  tail -n +"$1" "$tmp/logs/scheduler_hist.log" | python3 -c '
import re, sys, statistics
v = []
for line in sys.stdin:
    # "ts=... level=... component=... event text key=value ..." (or msg="event text")
    body = re.sub(r"^(\S+=\S+\s+){0,3}", "", line.strip())
    m = re.match(r"msg=\"([^\"]*)\"", body) or re.match(r"(.*?)(?=\s\w+=|$)", body)
    if not m or "pass" not in m.group(1):
        continue
    d = re.search(r"\b(ms|us|duration_ms|pass_ms|elapsed_ms)=([\d.]+)", line)
    if d:
        v.append(float(d.group(2)) / (1000.0 if d.group(1) == "us" else 1.0))
if v:
    v.sort()
    print(round(statistics.median(v), 3), round(v[min(len(v) - 1, int(0.99 * len(v)))], 3), len(v))'
}
if wait_up "$URL_HIST" 30 "(SELECT count(*) FROM dag) >= 2 AND (SELECT count(*) FROM job WHERE job_type = 'WorkerJob' AND state = 'running') >= 1" \
     scheduler_hist worker_hist \
   && hist_round empty; then
  e_p50=$HL_P50
  fig history.trigger_latency_empty ms "$HL_P50" "$HL_P99" "$HL_N" "" "" "dag_run.queued_at -> first task start_date, empty database"
  read -r pe_p50 pe_p99 pe_n < <(pass_times 1)
  mark=$(($(wc -l <"$tmp/logs/scheduler_hist.log") + 1))
  t0=$(now_ms)
  q "$URL_HIST" "
    INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date,
                         data_interval_start, data_interval_end, queued_at, start_date, end_date)
    SELECT 'bench_hist_old', 'scheduled__' || g, (SELECT version_id FROM dag WHERE dag_id = 'bench_hist_old'),
           'scheduled', CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'success' END,
           timestamptz '2020-01-01' + g * interval '1 hour', timestamptz '2020-01-01' + (g - 1) * interval '1 hour',
           timestamptz '2020-01-01' + g * interval '1 hour', timestamptz '2020-01-01' + g * interval '1 hour',
           timestamptz '2020-01-01' + g * interval '1 hour' + interval '1 second',
           timestamptz '2020-01-01' + g * interval '1 hour' + interval '5 minutes'
      FROM generate_series(1, $HIST_RUNS) g;
    INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, try_number, max_tries, operator,
                               hostname, queued_at, start_date, end_date, duration, updated_at)
    SELECT dr.id, dr.dag_id, dr.run_id, 't' || lpad(k::text, 3, '0'),
           CASE WHEN dr.state = 'failed' AND k = 100 THEN 'failed'
                WHEN k % 17 = 0 THEN 'skipped' ELSE 'success' END,
           1, 0, 'BashOperator', 'old-worker', dr.start_date, dr.start_date + k * interval '1 second',
           dr.start_date + k * interval '1 second' + interval '200 ms', 0.2, dr.end_date
      FROM dag_run dr CROSS JOIN generate_series(1, 100) k WHERE dr.dag_id = 'bench_hist_old';
    " >/dev/null 2>"$tmp/logs/hist_insert.log" || err "history insert failed: $(cat "$tmp/logs/hist_insert.log")"
  # As autovacuum would have done on a database that grew to this size.
  q "$URL_HIST" "VACUUM ANALYZE dag_run" >/dev/null && q "$URL_HIST" "VACUUM ANALYZE task_instance" >/dev/null ||
    err "vacuum analyze failed"
  rows=$(q "$URL_HIST" "SELECT count(*) FROM task_instance WHERE dag_id = 'bench_hist_old'")
  log "   inserted $rows task instances in $(( $(now_ms) - t0 )) ms"
  if hist_round full; then
    fig history.trigger_latency_history ms "$HL_P50" "$HL_P99" "$HL_N" "" "" "the same with $rows finished task instances of another DAG"
    fig history.trigger_latency_ratio x "$(python3 -c "print(round($HL_P50 / $e_p50, 3) if $e_p50 > 0 else '')")" "" "$HL_N" \
      "<= 1.2" "median<=1.2" "median with history / median empty"
    read -r pf_p50 pf_p99 pf_n < <(pass_times "$mark")
    if [ -n "${pe_p50:-}" ] && [ -n "${pf_p50:-}" ]; then
      fig history.pass_time_empty ms "$pe_p50" "$pe_p99" "$pe_n" "" "" "scheduler pass, from its log"
      fig history.pass_time_history ms "$pf_p50" "$pf_p99" "$pf_n" "" "" "scheduler pass with $rows rows, from its log"
      fig history.pass_time_ratio x "$(python3 -c "print(round($pf_p50 / $pe_p50, 3) if $pe_p50 > 0 else '')")" "" "$pf_n" \
        "<= 1.2" "median<=1.2" "median with history / median empty"
    else
      fig history.pass_time_ratio x "" "" "" "<= 1.2" "median<=1.2" "not available: the scheduler does not log its pass time"
    fi
  fi
else
  err "history: $(cat "$tmp/wait.err" 2>/dev/null)"
fi
stop_daemon worker_hist; stop_daemon scheduler_hist

# ---------------------------------------------------------------- 3. parse
log "3. parse: $PARSE_FILES DAG files of 10 tasks"
UPDRAFT__DATABASE__URL=$URL_PARSE "$BIN/updraft" db migrate >>"$tmp/logs/migrate.log" 2>&1 || err "migrate (parse) failed"
t0=$(now_ms)
UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags_parse UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=true \
  start_daemon scheduler_parse "$URL_PARSE" "$BIN/updraft-scheduler"
if wait_up "$URL_PARSE" "$WAIT_S" "(SELECT count(*) FROM dag WHERE is_active) >= $PARSE_FILES" scheduler_parse; then
  t1=$(now_ms)
  fig parse.first_full_parse s "$(python3 -c "print(round(($t1 - $t0) / 1000, 3))")" "" "$PARSE_FILES" "<= 10 s" "median<=10" \
    "scheduler start -> all $PARSE_FILES DAGs in the dag table (polled every 20 ms)"
  scans() { grep -Ec 'dags? folder scanned' "$tmp/logs/scheduler_parse.log"; }
  for _ in $(seq 1 $(( (RESCANS + 3) * 20 ))); do [ "$(scans)" -gt "$RESCANS" ] && break; alive scheduler_parse || break; sleep 0.25; done
  fig parse.scheduler_rss MB "$(mem_mb "${PIDS[scheduler_parse]}" VmRSS)" "" 1 "<= 64 MB" "median<=64" "scheduler VmRSS with $PARSE_FILES DAGs loaded"
  if [ "$(scans)" -gt "$RESCANS" ]; then
    read -r s_first s_p50 s_p99 s_n < <(grep -E 'dags? folder scanned' "$tmp/logs/scheduler_parse.log" | python3 -c '
import re, sys, statistics
v = [float(m.group(1)) for m in (re.search(r"\bms=([\d.]+)", l) for l in sys.stdin) if m]
r = sorted(v[1:])
print(v[0], statistics.median(r), r[min(len(r) - 1, int(0.99 * len(r)))], len(r))')
    fig parse.first_scan_logged ms "$s_first" "" 1 "" "" "first scan pass as the scheduler logs it"
    fig parse.unchanged_rescan ms "$s_p50" "$s_p99" "$s_n" "<= 500 ms" "median<=500" \
      "scan pass with nothing changed, from the scheduler's log (whole ms)"
  else
    t0=$(now_ms)
    "$BIN/updraft" dags validate "$tmp/dags_parse" >/dev/null 2>&1 || err "dags validate failed on the parse folder"
    t1=$(now_ms)
    fig parse.unchanged_rescan ms "$((t1 - t0))" "" 1 "<= 500 ms" "median<=500" \
      "PROXY: wall time of updraft dags validate on the folder (the scheduler logs no scan time)"
  fi
else
  err "parse: the DAGs did not all reach the dag table within $WAIT_S s ($(q "$URL_PARSE" "SELECT count(*) FROM dag"))"
fi
stop_daemon scheduler_parse

# One DAG of LONG_CHAIN tasks, each after the one before: the DAG-level
# work (linking, sorting, effective priorities) on a long chain.
python3 - "$tmp/long_chain.yaml" "$LONG_CHAIN" <<'PY'
import sys
n = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    f.write("long_chain:\n  tasks:\n    t0: {operator: bash, bash_command: x}\n")
    for i in range(1, n):
        f.write(f"    t{i}: {{operator: bash, bash_command: x, dependencies: [t{i - 1}]}}\n")
PY
v=()
for _ in 1 2 3; do
  t0=$(now_ms)
  "$BIN/updraft" dags validate "$tmp/long_chain.yaml" >/dev/null 2>&1 || { err "dags validate failed on the long chain"; break; }
  v+=($(($(now_ms) - t0)))
done
if [ ${#v[@]} = 3 ]; then
  fig parse.validate_long_chain ms "$(printf '%s\n' "${v[@]}" | sort -n | sed -n 2p)" "" 3 "<= 2000 ms" "median<=2000" \
    "wall time of updraft dags validate on one DAG of $LONG_CHAIN chained tasks, median of 3"
fi

fi # scenarios 6, 4, 3
fi # scenarios 1-6

# ---------------------------------------------------------------- 9. metrics on beside off
# The chain's hop latency and the throughput with metrics on (StatsD sent to a
# local UDP sink, every daemon's /metrics scraped each second) beside the same
# with metrics off, in rounds that alternate off and on, each mode with daemons
# of its own on one database of its own. "Off" means metrics.statsd_on false
# and nobody scraping: recording itself (one buffer append per call) is never
# switched off.
# A quick run (make test) leaves it out unless asked for by --only: its
# figures need the rounds of a full run to mean anything.
if want metrics && { [ "$QUICK" = 0 ] || [[ ",$ONLY," == *",metrics,"* ]]; }; then
log "9. metrics on beside off: $M_ROUNDS round(s), chain of $CHAIN_LEN x $M_CHAIN_RUNS, $((M_TP_TASKS * M_TP_RUNS)) tasks per mode"
URL_M=${URL%/*}/updraft_metrics
mkdir -p "$tmp/dags_metrics"
python3 - "$tmp/dags_metrics" "$CHAIN_LEN" "$M_TP_TASKS" "$M_TP_RUNS" <<'PY'
import sys
d, chain_len, tasks, runs = sys.argv[1], *map(int, sys.argv[2:])
head = "  schedule: null\n  start_date: 2024-01-01\n  is_paused_upon_creation: false\n"
with open(f"{d}/bench_m_chain.yaml", "w") as f:
    f.write("bench_m_chain:\n" + head + "  max_active_tasks: 4\n  tasks:\n")
    for i in range(1, chain_len + 1):
        f.write(f"    - task_id: t{i:03d}\n      operator: bash\n      bash_command: sleep 0.01\n")
        if i > 1:
            f.write(f"      dependencies: [t{i-1:03d}]\n")
with open(f"{d}/bench_m_tp.yaml", "w") as f:
    f.write(f"bench_m_tp:\n{head}  max_active_tasks: {tasks}\n  max_active_runs: {runs}\n  tasks:\n")
    for i in range(1, tasks + 1):
        f.write(f"    - task_id: t{i:04d}\n      operator: bash\n      bash_command: \"true\"\n")
PY
M_ORCH=()
"$BIN/updraft-worker" --help 2>&1 | grep -q -- '--orchestration-only' && M_ORCH=(--orchestration-only)
M_SINK=$tmp/statsd_sink
M_OK=0
# m_up SINCE: the DAGs loaded and two workers started after SINCE heartbeating
m_up() {
  wait_up "$URL_M" 30 "(SELECT count(*) FROM dag WHERE is_active AND dag_id LIKE 'bench\_m\_%') = 2
    AND (SELECT count(*) FROM job WHERE job_type = 'WorkerJob' AND state = 'running'
           AND hostname LIKE 'bench-m_' AND start_date >= '$1') >= 2" m_scheduler m_worker1 m_worker2
}
# metrics_mode MODE ROUND: a scheduler and two workers with MODE's settings;
# the chain with workers that run their tasks, then the throughput with
# --orchestration-only workers (every transition committed, no process: the
# path where recording weighs most).
metrics_mode() {
  local mode=$1 round=$2 hp_s hp_1 hp_2 t0 r env=(UPDRAFT__METRICS__STATSD_ON=false)
  hp_s=$(svc_free_port); hp_1=$(svc_free_port); hp_2=$(svc_free_port)
  [ "$mode" = on ] && env=(UPDRAFT__METRICS__STATSD_ON=true UPDRAFT__METRICS__STATSD_HOST=127.0.0.1
                            UPDRAFT__METRICS__STATSD_PORT="$(cat "$M_SINK.port")")
  t0=$(q "$URL_M" "SELECT now()")
  start_daemon m_scheduler "$URL_M" env "${env[@]}" UPDRAFT__CORE__DAGS_FOLDER="$tmp/dags_metrics" \
    "$BIN/updraft-scheduler" --health-port "$hp_s"
  start_daemon m_worker1 "$URL_M" env "${env[@]}" "$BIN/updraft-worker" --hostname bench-m1 --concurrency "$CONC_A" --health-port "$hp_1"
  start_daemon m_worker2 "$URL_M" env "${env[@]}" "$BIN/updraft-worker" --hostname bench-m2 --concurrency "$CONC_A" --health-port "$hp_2"
  [ "$mode" = on ] && start_daemon m_scraper "" python3 tests/bench/metrics_aux.py scrape "$tmp/scrape_${round}" \
    "http://127.0.0.1:$hp_s/metrics" "http://127.0.0.1:$hp_1/metrics" "http://127.0.0.1:$hp_2/metrics"
  m_up "$t0" || { err "metrics $mode: daemons did not come up: $(cat "$tmp/wait.err")"; return 1; }
  for r in $(seq 1 "$M_CHAIN_RUNS"); do
    trigger_run "$URL_M" bench_m_chain "${mode}_${round}_$r" &&
      wait_run "$URL_M" bench_m_chain "${mode}_${round}_$r" "$WAIT_S" m_scheduler m_worker1 m_worker2 || return 1
  done
  stop_daemon m_worker1; stop_daemon m_worker2
  t0=$(q "$URL_M" "SELECT now()")
  start_daemon m_worker1 "$URL_M" env "${env[@]}" "$BIN/updraft-worker" --hostname bench-m1 --concurrency "$CONC_B" \
    --health-port "$hp_1" "${M_ORCH[@]}"
  start_daemon m_worker2 "$URL_M" env "${env[@]}" "$BIN/updraft-worker" --hostname bench-m2 --concurrency "$CONC_B" \
    --health-port "$hp_2" "${M_ORCH[@]}"
  m_up "$t0" || { err "metrics $mode: workers did not come back: $(cat "$tmp/wait.err")"; return 1; }
  for r in $(seq 1 "$M_TP_RUNS"); do trigger_run "$URL_M" bench_m_tp "${mode}_${round}_$r" || return 1; done
  wait_up "$URL_M" "$WAIT_S" "NOT EXISTS (SELECT 1 FROM dag_run WHERE dag_id = 'bench_m_tp' AND run_id LIKE '${mode}\_${round}\_%'
                                AND state IN ('queued', 'running'))" m_scheduler m_worker1 m_worker2 ||
    { err "metrics $mode: throughput runs did not finish: $(cat "$tmp/wait.err")"; return 1; }
  stop_daemon m_scraper
  stop_daemon m_worker1; stop_daemon m_worker2; stop_daemon m_scheduler
}
if q "$URL" "CREATE DATABASE updraft_metrics" >/dev/null &&
   UPDRAFT__DATABASE__URL=$URL_M "$BIN/updraft" db migrate >>"$tmp/logs/migrate.log" 2>&1; then
  start_daemon m_sink "" python3 tests/bench/metrics_aux.py sink "$M_SINK"
  for _ in $(seq 1 100); do [ -s "$M_SINK.port" ] && break; sleep 0.05; done
  M_OK=1
  for round in $(seq 1 "$M_ROUNDS"); do
    order="off on"; [ $((round % 2)) = 0 ] && order="on off"   # drift weighs on both
    for mode in $order; do
      metrics_mode "$mode" "$round" || { M_OK=0; break 2; }
    done
  done
  for d in m_scraper m_worker1 m_worker2 m_scheduler m_sink; do stop_daemon "$d"; done
else
  err "metrics: the database could not be made: $(tail -3 "$tmp/logs/migrate.log")"
fi
if [ "$M_OK" = 1 ]; then
  # m_hops MODE: p50 p99 n of the chain's hops (ms)
  m_hops() {
    q "$URL_M" "
      WITH h AS (
        SELECT extract(epoch FROM ti.start_date - lag(ti.end_date) OVER (PARTITION BY ti.dag_run_id ORDER BY ti.task_id)) * 1000 AS ms
          FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
         WHERE dr.dag_id = 'bench_m_chain' AND dr.state = 'success' AND dr.run_id LIKE '$1\_%')
      SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
             round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3), count(ms)
        FROM h WHERE ms IS NOT NULL" | tr '|' ' '
  }
  # m_rate MODE: tasks/s (median over rounds: successes / (last end - first queued_at)), tasks
  m_rate() {
    q "$URL_M" "
      WITH r AS (
        SELECT split_part(dr.run_id, '_', 2) AS round,
               count(*) FILTER (WHERE ti.state = 'success') AS n,
               extract(epoch FROM max(ti.end_date) - min(dr.queued_at)) AS sec
          FROM dag_run dr JOIN task_instance ti ON ti.dag_run_id = dr.id
         WHERE dr.dag_id = 'bench_m_tp' AND dr.run_id LIKE '$1\_%' GROUP BY 1)
      SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY n / sec)::numeric, 1), sum(n) FROM r" | tr '|' ' '
  }
  read -r off50 off99 offn < <(m_hops off)
  read -r on50 on99 onn < <(m_hops on)
  read -r off_rate off_tasks < <(m_rate off)
  read -r on_rate on_tasks < <(m_rate on)
  read -r sd_n sd_lines sd_bytes <"$M_SINK" 2>/dev/null || sd_n=""
  read -r sc_ok sc_bad sc_bytes sc_ms < <(cat "$tmp"/scrape_* 2>/dev/null |
    awk '{ ok += $1; bad += $2; b = $3; ms = $4 } END { print ok + 0, bad + 0, b + 0, ms + 0 }')
  how="workers running bash -c true"
  [ ${#M_ORCH[@]} -gt 0 ] && how="workers --orchestration-only"
  fig metrics.chain_hop_off ms "$off50" "$off99" "$offn" "" "" "metrics off: upstream end_date -> downstream start_date, chain of $CHAIN_LEN"
  fig metrics.chain_hop_on ms "$on50" "$on99" "$onn" "" "" "metrics on: StatsD to a UDP sink, every /metrics scraped each second"
  fig metrics.chain_hop_ratio x "$(python3 -c "print(round($on50 / $off50, 3) if $off50 > 0 else '')")" "" "$onn" \
    "within noise (<= 1.2)" "median<=1.2" "p50 on / p50 off; rounds alternate off-on and on-off"
  fig metrics.throughput_off tasks/s "$off_rate" "" "$off_tasks" "" "" \
    "metrics off; $how, --concurrency $CONC_B x 2; median over $M_ROUNDS round(s)"
  fig metrics.throughput_on tasks/s "$on_rate" "" "$on_tasks" "" "" "metrics on, the same"
  fig metrics.throughput_ratio x "$(python3 -c "print(round($on_rate / $off_rate, 3) if $off_rate > 0 else '')")" "" "$on_tasks" \
    "within noise (>= 0.9)" "median>=0.9" "tasks/s on / tasks/s off"
  fig metrics.statsd_datagrams count "${sd_n:-0}" "" "${sd_lines:-0}" "" "" \
    "datagrams the UDP sink received while metrics were on (n: StatsD lines; ${sd_bytes:-0} bytes)"
  fig metrics.scrape_bytes bytes "$sc_bytes" "" "$sc_ok" "" "" \
    "one /metrics answer, median of the last round's scrapes (n: scrapes answered; $sc_bad failed), answered in $sc_ms ms (median)"
  [ "${sd_n:-0}" -gt 0 ] || err "metrics: the StatsD sink received nothing while metrics were on"
  [ "${sc_ok:-0}" -gt 0 ] || err "metrics: no /metrics scrape was answered"
fi
fi # scenario 9

# ---------------------------------------------------------------- 8. ui
# The web UI's data endpoints on rows made with SQL (tests/bench/ui_data.sql),
# in a database of their own, through a webserver of their own. Each figure
# is the client's time (curl's time_total) over UI_REQS sequential requests
# after five unmeasured ones (the webserver's threads and the pooled
# connection warm).
if want ui; then
log "8. ui: grid of $UI_RUNS runs x $UI_TASKS tasks, DAG list of $UI_DAGS DAGs"
URL_UI=${URL%/*}/updraft_ui
# curl_ms URL N: p50, p99 (ms) and the count of N sequential GETs that answered 200
# ("- - 0" when none did: no figure, so no target met)
curl_ms() {
  local url=$1 n=$2 i
  for i in 1 2 3 4 5; do curl -s -o /dev/null "$url"; done
  for i in $(seq 1 "$n"); do curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$url"; done | python3 -c '
import sys
v = sorted(float(t) * 1000 for c, t in (l.split() for l in sys.stdin) if c == "200")
print(round(v[len(v) // 2], 3), round(v[min(len(v) - 1, int(0.99 * len(v)))], 3), len(v)) if v else print("-", "-", 0)'
}
t0=$(now_ms)
if q "$URL" "CREATE DATABASE updraft_ui" >/dev/null &&
   UPDRAFT__DATABASE__URL=$URL_UI "$BIN/updraft" db migrate >>"$tmp/logs/migrate.log" 2>&1 &&
   UPDRAFT__DATABASE__URL=$URL_UI svc_psql -q -v runs="$UI_RUNS" -v tasks="$UI_TASKS" -v dags="$UI_DAGS" \
     -v graph_tasks="$UI_GRAPH" -f tests/bench/ui_data.sql >"$tmp/logs/ui_data.log" 2>&1 &&
   q "$URL_UI" "VACUUM ANALYZE task_instance" >/dev/null; then
  log "   rows made in $(( $(now_ms) - t0 )) ms"
  UI_PORT=$(svc_free_port)
  UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$UI_PORT start_daemon webserver_ui "$URL_UI" "$BIN/updraft-webserver"
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$UI_PORT/health" >/dev/null && break; sleep 0.1; done
  UI=http://127.0.0.1:$UI_PORT/ui
  read -r g_p50 g_p99 g_n < <(curl_ms "$UI/grid/bench_grid?limit=$UI_RUNS" "$UI_REQS")
  [ "$g_n" = "$UI_REQS" ] || err "ui: /ui/grid answered 200 to $g_n of $UI_REQS requests"
  g_kb=$(curl -s "$UI/grid/bench_grid?limit=$UI_RUNS" | wc -c | awk '{ printf "%d", $1 / 1024 }')
  fig ui.grid ms "$g_p50" "$g_p99" "$g_n" "p50 <= 100 ms" "median<=100" \
    "GET /ui/grid/bench_grid?limit=$UI_RUNS: $UI_RUNS runs x $UI_TASKS tasks (one mapped over 4), $g_kb KB, sequential requests"
  read -r d_p50 d_p99 d_n < <(curl_ms "$UI/dags?limit=100" "$UI_REQS")
  [ "$d_n" = "$UI_REQS" ] || err "ui: /ui/dags answered 200 to $d_n of $UI_REQS requests"
  fig ui.dags ms "$d_p50" "$d_p99" "$d_n" "" "" \
    "GET /ui/dags?limit=100 among $((UI_DAGS + 1)) DAGs, each with its recent runs and latest task states"
  read -r d_p50 d_p99 d_n < <(curl_ms "$UI/dags?limit=100&offset=$((UI_DAGS - 100))&dag_id_pattern=ui_&order_by=-next_dagrun" "$UI_REQS")
  fig ui.dags_last_page ms "$d_p50" "$d_p99" "$d_n" "" "" "the same: the last page, filtered, ordered by next_dagrun"
  # The same views drawn in headless Chromium: from the navigation's start
  # until the data is on the page (tests/ui/paint.js).
  if node tests/ui/paint.js "http://127.0.0.1:$UI_PORT" "$UI_PAINTS" >"$tmp/logs/paint.out" 2>"$tmp/logs/paint.err"; then
    while read -r name p50 pmax pn kb; do
      case $name in
      ui.paint_dags) fig "$name" ms "$p50" "$pmax" "$pn" "first paint <= 1000 ms" "median<=1000" \
        "/dags among $((UI_DAGS + 1)) DAGs drawn in Chromium (max in the p99 column); $kb KB of compressed JavaScript" ;;
      ui.paint_grid) fig "$name" ms "$p50" "$pmax" "$pn" "first paint <= 1000 ms" "median<=1000" \
        "the grid of $UI_RUNS runs x $UI_TASKS tasks drawn in Chromium (max in the p99 column)" ;;
      ui.paint_graph) fig "$name" ms "$p50" "$pmax" "$pn" "" "" "bench_grid's graph ($UI_TASKS tasks) laid out and drawn in Chromium" ;;
      ui.paint_graph_1000) fig "$name" ms "$p50" "$pmax" "$pn" "laid out and drawn <= 2000 ms" "median<=2000" \
        "bench_graph's graph: $UI_GRAPH tasks in groups of 50, every task laid out (dagre, a graph per group) and drawn in Chromium" ;;
      ui.paint_graph_1000_folded) fig "$name" ms "$p50" "$pmax" "$pn" "" "" \
        "the same with its groups folded (?groups=folded)" ;;
      *) fig "$name" ms "$p50" "$pmax" "$pn" "" "" "" ;;
      esac
    done <"$tmp/logs/paint.out"
  else
    err "ui: the browser figures failed: $(tail -3 "$tmp/logs/paint.err")"
  fi
  stop_daemon webserver_ui
else
  err "ui: the rows could not be made: $(tail -3 "$tmp/logs/ui_data.log" 2>/dev/null)"
fi
fi # ui

# ---------------------------------------------------------------- 7. peers: Celery, BullMQ
# Each on the same machine and the same Redis as updraft, after updraft's
# daemons stopped. What each commits differs (report.py prints it): updraft
# every transition in Postgres with fsync; Celery and BullMQ only Redis,
# which runs here without persistence.
CELERY_JSON=""
BULLMQ_JSON=""
if want peers; then
  for d in "${!PIDS[@]}"; do stop_daemon "$d"; done
  if [ -f tests/bench/celery/run.sh ]; then
    log "7. beside Celery (tests/bench/celery/run.sh)"
    cargs=(--redis-url "$UPDRAFT__REDIS__URL"); [ "$QUICK" = 1 ] && cargs+=(--quick)
    if timeout $((QUICK ? 150 : 600)) bash tests/bench/celery/run.sh "${cargs[@]}" >"$tmp/celery.json" 2>"$tmp/logs/celery.log" &&
       jq -e 'type == "object"' "$tmp/celery.json" >/dev/null 2>&1; then
      CELERY_JSON=$tmp/celery.json
    else
      err "celery comparison failed: $(tail -3 "$tmp/logs/celery.log")"
    fi
  fi
  if [ -n "$BULLMQ_SKIP" ]; then
    log "7. beside BullMQ: skipped, $BULLMQ_SKIP"
  else
    log "7. beside BullMQ (tests/bench/bullmq/run.sh): 2 workers x concurrency $CONC_B, as updraft's orchestration-only phase"
    bargs=(--redis-url "$UPDRAFT__REDIS__URL" --workers 2 --concurrency "$CONC_B"); [ "$QUICK" = 1 ] && bargs+=(--quick)
    if timeout $((QUICK ? 300 : 900)) bash tests/bench/bullmq/run.sh "${bargs[@]}" >"$tmp/bullmq.json" 2>"$tmp/logs/bullmq.log" &&
       jq -e 'type == "object"' "$tmp/bullmq.json" >/dev/null 2>&1; then
      BULLMQ_JSON=$tmp/bullmq.json
    else
      err "bullmq comparison failed: $(tail -3 "$tmp/logs/bullmq.log")"
    fi
  fi
fi

# ---------------------------------------------------------------- report
log "report"
mkdir -p "$(dirname "$OUT")"
python3 tests/bench/report.py --figures "$FIGS" --out "$OUT" --mode "$MODE" ${CELERY_JSON:+--celery "$CELERY_JSON"} \
  ${BULLMQ_JSON:+--bullmq "$BULLMQ_JSON"} \
  --setting "postgres_fsync=$(q "$URL" "SHOW fsync")" \
  --setting "postgres_synchronous_commit=$(q "$URL" "SHOW synchronous_commit")" \
  --setting "worker_concurrency_a=$CONC_A" --setting "worker_concurrency_b=$CONC_B" \
  --setting "workers=2" --setting "loadavg_at_start=$LOAD_START" \
  ${BULLMQ_SKIP:+--setting "bullmq_skipped=$BULLMQ_SKIP"} \
  --setting "loadavg_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" --setting "wall_seconds=$(( $(date +%s) - T_START ))" \
  --errors "$ERRORS" || ERRORS=$((ERRORS + 1))
[ "$ERRORS" -eq 0 ]
