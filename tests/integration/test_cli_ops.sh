#!/usr/bin/env bash
# The operator commands against real Postgres, Redis, a scheduler and a
# worker: dags backfill (dry run, a week of a daily DAG, existing runs,
# max_active_runs), dags state / tasks state, tasks clear (a new try, the
# run succeeds again, refusal without -y off a terminal, a running task
# cleared is killed by its worker), and dags test (logs, exit status).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

# The commands' own output (*.out) is shown too when a check failed.
t_cleanup_extra() {
  [ "${T_FAILED:-0}" -ne 0 ] || return 0
  for f in "$tmp"/*.out; do [ -f "$f" ] && { echo "# --- $f"; tail -30 "$f" | sed 's/^/# /'; }; done
  return 0
}
t_setup

mkdir -p "$tmp/dags"
cat >"$tmp/dags/ops.yaml" <<'YAML'
bf_daily:
  schedule: "@daily"
  start_date: 2024-01-01
  catchup: false
  max_active_runs: 2
  tasks:
    - task_id: extract
      operator: bash
      bash_command: "echo extracting $AIRFLOW_CTX_LOGICAL_DATE"
    - task_id: load
      operator: bash
      bash_command: "echo loaded"
      dependencies: [extract]
clear_dag:
  schedule: None
  start_date: 2024-01-01
  tasks:
    - task_id: first
      operator: bash
      bash_command: "echo first try $AIRFLOW_CTX_TRY_NUMBER"
    - task_id: second
      operator: bash
      bash_command: "echo second"
      dependencies: [first]
    - task_id: other
      operator: bash
      bash_command: "echo other"
slow_dag:
  schedule: None
  start_date: 2024-01-01
  tasks:
    - task_id: nap
      operator: bash
      bash_command: 'if [ "$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then exec bash -c "sleep 30; true" NAP_MARKER; fi; echo woke on try $AIRFLOW_CTX_TRY_NUMBER'
good_dag:
  schedule: None
  start_date: 2024-01-01
  tasks:
    - task_id: hello
      operator: bash
      bash_command: "echo hello-from-dags-test"
    - task_id: bye
      operator: bash
      bash_command: "echo bye"
      dependencies: [hello]
bad_dag:
  schedule: None
  start_date: 2024-01-01
  tasks:
    - task_id: boom
      operator: bash
      bash_command: "echo about-to-fail; exit 3"
YAML

# The first try's process is found by a name unique to this test run.
marker=updraft_nap_$(basename "$tmp")
sed -i "s/NAP_MARKER/$marker/" "$tmp/dags/ops.yaml"
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=true
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1

check "db migrate" "$BIN/updraft" db migrate >/dev/null
start_scheduler scheduler
start_worker worker w1 4
check "DAGs are parsed" wait_for 30 q_is 5 "select count(*) from dag where version_id is not null"

# --- backfill --------------------------------------------------------------
"$BIN/updraft" dags backfill bf_daily -s 2024-03-01 -e 2024-03-07 --dry-run >"$tmp/dry.out" 2>&1
check_eq "backfill --dry-run exits 0" 0 $?
check_eq "--dry-run lists 7 runs to create" 7 "$(grep -c '^create backfill__2024-03-0' "$tmp/dry.out")"
check_eq "--dry-run creates nothing" 0 "$(q_tags "select count(*) from dag_run where dag_id = 'bf_daily'")"

# Not a terminal: one plain line per finished run.
timeout 120 "$BIN/updraft" dags backfill bf_daily --start-date 2024-03-01 --end-date 2024-03-07 >"$tmp/bf.out" 2>&1
check_eq "backfill over a week exits 0" 0 $?
expected=$(for d in 01 02 03 04 05 06 07; do echo "backfill__2024-03-${d}T00:00:00+00:00"; done)
check_eq "exactly the 7 expected run ids" "$expected" \
  "$(q_tags "select run_id from dag_run where dag_id = 'bf_daily' order by logical_date")"
check_eq "logical dates and data intervals are the days" \
  "2024-03-01 00:00:00+00|2024-03-01 00:00:00+00|2024-03-02 00:00:00+00" \
  "$(q_tags "select logical_date, data_interval_start, data_interval_end from dag_run where dag_id = 'bf_daily' order by logical_date limit 1")"
check_eq "every backfill run is run_type backfill and succeeded" "backfill success 7" \
  "$(q_tags "select run_type || ' ' || state || ' ' || count(*) from dag_run where dag_id = 'bf_daily' group by run_type, state")"
check_eq "one line per finished run" 7 "$(grep -cE '^backfill__2024-03-0[1-7]T00:00:00\+00:00 success' "$tmp/bf.out")"
# max_active_runs: 2 bounds the runs live at once: every run started after
# at least (its rank - 2) runs had ended.
check_eq "never more than max_active_runs=2 runs at once" 0 "$(q_tags "
  select count(*) from dag_run a where a.dag_id = 'bf_daily' and
    (select count(*) from dag_run b where b.dag_id = 'bf_daily' and b.start_date <= a.start_date
        and (b.end_date is null or b.end_date > a.start_date)) > 2")"
check_eq "dags state by run id" success "$("$BIN/updraft" dags state bf_daily 'backfill__2024-03-03T00:00:00+00:00')"
check_eq "dags state by logical date" success "$("$BIN/updraft" dags state bf_daily 2024-03-04)"
check_eq "dags state of no run prints None" None "$("$BIN/updraft" dags state bf_daily 2020-01-01)"
check_eq "tasks state" success "$("$BIN/updraft" tasks state bf_daily load 2024-03-05)"

# Existing runs are skipped; --dry-run shows it.
"$BIN/updraft" dags backfill bf_daily -s 2024-03-06 -e 2024-03-08 --dry-run >"$tmp/dry2.out" 2>&1
check "existing runs are skipped, the new date created (dry run)" \
  grep -q '^create backfill__2024-03-08' "$tmp/dry2.out"
check_eq "two existing runs shown as skipped" 2 "$(grep -c '^skip (exists)' "$tmp/dry2.out")"
"$BIN/updraft" dags backfill bf_daily -s 2024-03-06 -e 2024-03-07 --reset-dagruns </dev/null >"$tmp/reset.out" 2>&1
check_eq "--reset-dagruns off a terminal without -y refuses" 2 $?
timeout 60 "$BIN/updraft" dags backfill bf_daily -s 2024-03-06 -e 2024-03-07 --reset-dagruns -y >"$tmp/reset.out" 2>&1
check_eq "--reset-dagruns -y re-runs the runs and exits 0" 0 $?
check_eq "reset runs ran their tasks a second time" "2 2" \
  "$(q_tags "select min(try_number) || ' ' || max(try_number) from task_instance where dag_id = 'bf_daily' and run_id in ('backfill__2024-03-06T00:00:00+00:00', 'backfill__2024-03-07T00:00:00+00:00')")"
check_eq "no run was added by the reset" 7 "$(q_tags "select count(*) from dag_run where dag_id = 'bf_daily'")"

# --- clear -----------------------------------------------------------------
check "trigger clear_dag" "$BIN/updraft" dags trigger clear_dag --run-id c1
run_is() { q_is "$2" "select state from dag_run where run_id = '$1'"; }
check "clear_dag run succeeds" wait_for 30 run_is c1 success
"$BIN/updraft" tasks clear clear_dag -t '^first$' </dev/null >"$tmp/noyes.out" 2>&1
check_eq "tasks clear without -y off a terminal refuses" 2 $?
check "and says to pass -y" grep -q -- '-y' "$tmp/noyes.out"
check_eq "nothing was cleared" 1 "$(q_tags "select try_number from task_instance where run_id = 'c1' and task_id = 'first'")"
"$BIN/updraft" tasks clear clear_dag -t '^first$' --downstream -y >"$tmp/clear.out" 2>&1
check_eq "tasks clear -t ^first$ --downstream -y exits 0" 0 $?
check_eq "it listed first and second, not other" "2" "$(grep -cE '<TaskInstance: clear_dag\.(first|second) c1' "$tmp/clear.out")"
check "run ends success again" wait_for 30 run_is c1 success
check_eq "first ran again as try 2" "2" "$(q_tags "select try_number from task_instance where run_id = 'c1' and task_id = 'first'")"
check_eq "second (downstream) ran again as try 2" "2" "$(q_tags "select try_number from task_instance where run_id = 'c1' and task_id = 'second'")"
check_eq "other was not cleared" "1" "$(q_tags "select try_number from task_instance where run_id = 'c1' and task_id = 'other'")"
check "try 2's log says so" q_is 1 "select count(*) from task_log l join task_instance t on t.id = l.ti_id where t.run_id = 'c1' and t.task_id = 'first' and l.try_number = 2 and l.data like '%first try 2%'"
out=$("$BIN/updraft" tasks clear clear_dag --only-failed -y 2>&1)
check "--only-failed with nothing failed clears nothing" grep -q 'No task instances to clear' <<<"$out"

# A running task that is cleared is killed by its worker.
check "trigger slow_dag" "$BIN/updraft" dags trigger slow_dag --run-id s1
nap_running() { q_is running "select state from task_instance where run_id = 's1' and task_id = 'nap'"; }
check "nap is running" wait_for 30 nap_running
nap_pids() { pgrep -f "$marker" ; }
check "its process exists" wait_for 10 nap_pids
t0=$(date +%s)
"$BIN/updraft" tasks clear slow_dag -t nap -y >"$tmp/clear_running.out" 2>&1
check_eq "tasks clear of the running task" 0 $?
pid_gone() { ! nap_pids; }
check "the cleared try's process is gone within 10 s" wait_for 10 pid_gone
check "the run ends success with a new try" wait_for 30 run_is s1 success
check "well before the 30 s sleep would have ended" test $(( $(date +%s) - t0 )) -lt 25
check_eq "nap's final try is 2" 2 "$(q_tags "select try_number from task_instance where run_id = 's1' and task_id = 'nap'")"
check "the worker logged the lost guard" grep -q 'lost its guard' "$tmp/worker.log"

# --- dags test ---------------------------------------------------------------
timeout 60 "$BIN/updraft" dags test good_dag 2024-05-01 >"$tmp/test_good.out" 2>&1
check_eq "dags test of a good DAG exits 0" 0 $?
check "it prints the task's log" grep -q 'hello-from-dags-test' "$tmp/test_good.out"
check "it prints state changes" grep -qE 'hello: .* -> success' "$tmp/test_good.out"
check "it prints the final state" grep -q 'finished: success' "$tmp/test_good.out"
check_eq "the run is manual__<date>" manual "$(q_tags "select run_type from dag_run where run_id = 'manual__2024-05-01T00:00:00+00:00' and dag_id = 'good_dag'")"
timeout 60 "$BIN/updraft" dags test good_dag 2024-05-01 >/dev/null 2>&1
rc=$?
check_eq "dags test again at the same date replaces the run" "0 1" \
  "$rc $(q_tags "select count(*) from dag_run where dag_id = 'good_dag'")"
timeout 60 "$BIN/updraft" dags test bad_dag >"$tmp/test_bad.out" 2>&1
check_eq "dags test of a failing DAG exits 1" 1 $?
check "its log is printed" grep -q 'about-to-fail' "$tmp/test_bad.out"
check "the failed state is printed" grep -qE 'boom: .* -> failed' "$tmp/test_bad.out"

no_sanitizer_reports() { ! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp"/*.log "$tmp"/*.out; }
check "no sanitizer reports" no_sanitizer_reports
[ "$T_FAILED" -eq 0 ]
