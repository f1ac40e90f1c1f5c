#!/usr/bin/env bash
# The workers' mini-scheduler against real Postgres, Redis, a scheduler and
# workers: a chain runs with each worker planning and taking the next task
# itself (only the first task goes through Redis) and settling the run; a
# duplicate message for a task the worker took directly is fenced; with two
# workers and a fan-out over max_active_tasks, every try runs exactly once
# and the DAG's limit holds.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
out=$tmp/out
mkdir -p "$tmp/dags" "$out"
{
  printf 'ms_chain:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  for i in 0 1 2 3 4 5; do
    printf '    - task_id: c%d\n      operator: bash\n      bash_command: "echo c%d >> %s/chain.txt"\n' "$i" "$i" "$out"
    [ "$i" -gt 0 ] && printf '      dependencies: [c%d]\n' $((i - 1))
  done
  printf 'ms_fan:\n  schedule: null\n  start_date: 2024-01-01\n  max_active_tasks: 3\n  tasks:\n'
  printf '    - task_id: root\n      operator: bash\n      bash_command: "true"\n'
  for i in $(seq 1 12); do
    printf '    - task_id: f%02d\n      operator: bash\n      bash_command: "echo f%02d >> %s/fan.txt; sleep 0.2"\n      dependencies: [root]\n' "$i" "$i" "$out"
  done
  printf '    - task_id: join\n      operator: bash\n      bash_command: "true"\n      dependencies: [%s]\n' \
    "$(seq -s, -f 'f%02g' 1 12)"
} >"$tmp/dags/ms.yaml"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__LOGGING__LEVEL=debug
check "db migrate" "$BIN/updraft" db migrate

start_scheduler scheduler
start_worker worker1 w1 4
dags_in() { [ "$(q "SELECT count(*) FROM dag")" = 2 ]; }
check "DAGs are parsed" wait_for 30 dags_in

# --- a chain: the worker plans each next task and runs it itself
check "chain: triggered" "$BIN/updraft" dags trigger ms_chain --run-id r1
check "chain: run finishes" wait_run ms_chain r1 30
check_eq "chain: run succeeded" success "$(run_state ms_chain r1)"
check_eq "chain: every task succeeded once, in order" "c0 c1 c2 c3 c4 c5" "$(tr '\n' ' ' <"$out/chain.txt" | sed 's/ $//')"
check_eq "chain: only the first task went through redis" 1 \
  "$(rcli XINFO STREAM updraft:q:default | awk 'p {print; exit} /^entries-added$/ {p=1}')"
check "chain: the worker claimed downstream tasks directly" grep -q 'claimed directly' "$tmp/worker1.log"
check "chain: the worker settled the run" grep -q 'component=worker dag run finished dag_id=ms_chain' "$tmp/worker1.log"
check_eq "chain: start follows the upstream end" 0 \
  "$(q "SELECT count(*) FROM task_instance a JOIN task_instance b ON b.dag_run_id = a.dag_run_id
        AND b.task_id = 'c' || (substr(a.task_id, 2)::int + 1)
        WHERE a.dag_id = 'ms_chain' AND b.start_date < a.end_date")"

# --- a duplicate message for a task the worker took directly is fenced
c3=$(q "SELECT ti.id FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        WHERE dr.dag_id = 'ms_chain' AND dr.run_id = 'r1' AND ti.task_id = 'c3'")
rcli XADD updraft:q:default '*' v 1 ti "$c3" try 1 >/dev/null
drained() { [ "$(rcli XPENDING updraft:q:default updraft-workers | head -1)" = 0 ] && [ "$(rcli XLEN updraft:q:default)" = 0 ]; }
check "duplicate: message acknowledged" wait_for 10 drained
sleep 0.3
check_eq "duplicate: c3 ran once" 1 "$(grep -c '^c3$' "$out/chain.txt")"
check_eq "duplicate: c3 keeps its try and state" "1|success" \
  "$(q "SELECT try_number || '|' || state FROM task_instance WHERE id = $c3")"

# --- two workers, a fan-out wider than max_active_tasks
start_worker worker2 w2 4
sleep 0.5
check "fan: triggered" "$BIN/updraft" dags trigger ms_fan --run-id f1
check "fan: run finishes" wait_run ms_fan f1 60
check_eq "fan: run succeeded" success "$(run_state ms_fan f1)"
check_eq "fan: each of the 12 tasks ran exactly once" "12|12" \
  "$(wc -l <"$out/fan.txt" | tr -d ' ')|$(sort -u "$out/fan.txt" | wc -l | tr -d ' ')"
check_eq "fan: every try is the first" "1" \
  "$(q "SELECT string_agg(DISTINCT try_number::text, ',') FROM task_instance WHERE dag_id = 'ms_fan'")"
check "fan: at most max_active_tasks (3) ran at once" test "$(q "
  SELECT max(n) FROM (SELECT (SELECT count(*) FROM task_instance b WHERE b.dag_id = 'ms_fan'
    AND b.task_id LIKE 'f%' AND b.start_date <= a.start_date AND b.end_date > a.start_date) n
  FROM task_instance a WHERE a.dag_id = 'ms_fan' AND a.task_id LIKE 'f%') s")" -le 3
check_eq "fan: no try was lost to a guard" 0 \
  "$(cat "$tmp"/worker*.log | grep -c 'rejected by the guard\|lost its guard')"
check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"

echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
