#!/usr/bin/env bash
# Catchup: an unpaused @daily DAG whose start_date lies five days back gets
# exactly the five missed runs, one per complete data interval, with
# Airflow's logical dates, intervals and run ids; today's interval, not yet
# over, gets none. The same DAG with catchup: false gets only yesterday's.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
mkdir -p "$tmp/dags"
start=$(date -u -d '5 days ago' +%Y-%m-%d)
for c in true false; do
  printf 'catchup_%s:\n  schedule: "@daily"\n  start_date: %s\n  catchup: %s\n  max_active_runs: 16\n  tasks:\n    - task_id: t\n      operator: empty\n' \
    "$c" "$start" "$c" >"$tmp/dags/catchup_$c.yaml"
done
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1

check "db migrate" "$BIN/updraft" db migrate
start_scheduler scheduler

runs() { svc_psql -c "SELECT count(*) FROM dag_run WHERE dag_id = '$1'"; }
created() { [ "$(runs catchup_true)" -ge 5 ] && [ "$(runs catchup_false)" -ge 1 ]; }
check "catchup runs are created" wait_for 30 created
sleep 2   # further passes must not add runs

expected=""
for i in 5 4 3 2 1; do
  d=$(date -u -d "$i days ago" +%Y-%m-%d)
  e=$(date -u -d "$((i - 1)) days ago" +%Y-%m-%d)
  expected="$expected scheduled__${d}T00:00:00+00:00|${d} 00:00:00+00|${e} 00:00:00+00"
done
actual=$(svc_psql -c "SELECT string_agg(' ' || run_id || '|' || data_interval_start || '|' || data_interval_end, '' ORDER BY logical_date)
                        FROM dag_run WHERE dag_id = 'catchup_true' AND logical_date = data_interval_start")
check_eq "catchup: true gives exactly the five missed intervals" "$expected" "$actual"
check_eq "catchup: true runs are all scheduled runs" "5" \
  "$(svc_psql -c "SELECT count(*) FROM dag_run WHERE dag_id = 'catchup_true' AND run_type = 'scheduled'")"
y=$(date -u -d '1 day ago' +%Y-%m-%d)
check_eq "catchup: false gives only yesterday's interval" "scheduled__${y}T00:00:00+00:00" \
  "$(svc_psql -c "SELECT string_agg(run_id, ',') FROM dag_run WHERE dag_id = 'catchup_false'")"
today=$(date -u +%Y-%m-%d)
check_eq "next_dagrun is today's interval" "$today 00:00:00+00" \
  "$(svc_psql -c "SELECT next_dagrun FROM dag WHERE dag_id = 'catchup_true'")"
done_all() { [ "$(svc_psql -c "SELECT count(*) FROM dag_run WHERE dag_id LIKE 'catchup_%' AND state = 'success'")" = 6 ]; }
check "all six runs finish (empty tasks complete in the scheduler)" wait_for 30 done_all
[ "$T_FAILED" -eq 0 ]
