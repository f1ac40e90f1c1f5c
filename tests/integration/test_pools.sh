#!/usr/bin/env bash
# Pools, priorities and per-task limits against real Postgres, Redis, a
# scheduler and two workers: a 1-slot pool never has two task instances
# active (sampled from the database during the run) and runs its tasks in
# priority order; max_active_tis_per_dag holds across runs (sampled); a
# task in a pool that does not exist stays scheduled.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
mkdir -p "$tmp/dags"
{
  printf 'pl_prio:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  for w in 3 9 1 7 5 2; do
    printf '    - task_id: w%d\n      operator: bash\n      bash_command: "sleep 0.3"\n      pool: one\n      priority_weight: %d\n      weight_rule: absolute\n' "$w" "$w"
  done
  printf 'pl_lim:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - task_id: t\n      operator: bash\n      bash_command: "sleep 0.5"\n      max_active_tis_per_dag: 2\n'
  printf 'pl_nopool:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - task_id: t\n      operator: bash\n      bash_command: "true"\n      pool: missing\n'
} >"$tmp/dags/pl.yaml"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
check "db migrate" "$BIN/updraft" db migrate
check_eq "default_pool has 128 slots" 128 "$(q "SELECT slots FROM slot_pool WHERE pool = 'default_pool'")"
q "INSERT INTO slot_pool (pool, slots) VALUES ('one', 1)" >/dev/null

start_scheduler scheduler
start_worker worker1 w1 4
start_worker worker2 w2 4
dags_in() { [ "$(q "SELECT count(*) FROM dag")" = 3 ]; }
check "DAGs are parsed" wait_for 30 dags_in

runs_done() { [ "$(q "SELECT count(*) FROM dag_run WHERE dag_id = '$1' AND state IN ('success', 'failed')")" = "$2" ]; }
# Samples max(active) of a query until the runs are done; prints the max.
sample_max() {
  local max=0 v
  while ! runs_done "$1" "$2"; do
    v=$(q "$3")
    [ "${v:-0}" -gt "$max" ] && max=$v
    sleep 0.05
  done
  echo "$max"
}

check "1-slot pool: triggered" "$BIN/updraft" dags trigger pl_prio --run-id r1
m=$(sample_max pl_prio 1 "SELECT coalesce(sum(pool_slots), 0) FROM task_instance WHERE pool = 'one' AND state IN ('queued', 'running')")
check_eq "1-slot pool: run succeeded" success "$(q "SELECT state FROM dag_run WHERE dag_id = 'pl_prio'")"
check "1-slot pool: never two active at once (sampled)" [ "$m" -le 1 ]
check_eq "1-slot pool: no overlapping tries" 0 \
  "$(q "SELECT count(*) FROM task_instance a JOIN task_instance b ON a.pool = b.pool AND a.id < b.id
        WHERE a.pool = 'one' AND a.start_date < b.end_date AND b.start_date < a.end_date")"
check_eq "1-slot pool: ran in priority order" "9 7 5 3 2 1" \
  "$(q "SELECT string_agg(priority_weight::text, ' ' ORDER BY start_date) FROM task_instance WHERE dag_id = 'pl_prio'")"

for i in 1 2 3 4 5; do "$BIN/updraft" dags trigger pl_lim --run-id "r$i" >/dev/null; done
m=$(sample_max pl_lim 5 "SELECT count(*) FROM task_instance WHERE dag_id = 'pl_lim' AND task_id = 't' AND state IN ('queued', 'running')")
check_eq "max_active_tis_per_dag: runs succeeded" 5 "$(q "SELECT count(*) FROM dag_run WHERE dag_id = 'pl_lim' AND state = 'success'")"
check "max_active_tis_per_dag: never more than 2 queued or running (sampled)" [ "$m" -le 2 ]
# Exact, from the tries' own times: the most that ran at once is the limit.
check_eq "max_active_tis_per_dag: at most 2 ran at once, and 2 did" 2 \
  "$(q "SELECT max((SELECT count(*) FROM task_instance b
                    WHERE b.dag_id = 'pl_lim' AND b.task_id = 't'
                      AND b.start_date <= a.start_date AND a.start_date < b.end_date))
        FROM task_instance a WHERE a.dag_id = 'pl_lim' AND a.task_id = 't'")"
check_eq "max_active_tis_per_dag: on the row" 2 "$(q "SELECT DISTINCT max_active_tis_per_dag FROM task_instance WHERE dag_id = 'pl_lim'")"

check "missing pool: triggered" "$BIN/updraft" dags trigger pl_nopool --run-id r1
nopool_sched() { [ "$(q "SELECT state FROM task_instance WHERE dag_id = 'pl_nopool'")" = scheduled ]; }
check "missing pool: stays scheduled" wait_for 10 nopool_sched
warned() { grep -q 'pool does not exist' "$tmp/scheduler.log"; }
check "missing pool: warned" wait_for 10 warned
q "INSERT INTO slot_pool (pool, slots) VALUES ('missing', 2)" >/dev/null
check "missing pool: runs once the pool exists" wait_for 20 runs_done pl_nopool 1
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
