#!/usr/bin/env bash
# Integration test of updraft-scheduler against private Postgres and Redis:
# DAG files to dag/dag_version/import_error rows, change detection, a
# scheduled run with the right logical date, a manual run whose tasks reach
# the Redis stream (empty tasks going straight to success), run completion,
# and a graceful stop. Run from the repository root after `make`:
#   bash tests/integration/test_scheduler.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${UPDRAFT_BIN:-$PWD/bin}
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh

for b in updraft-scheduler updraft; do
  [ -x "$BIN/$b" ] || { echo "not ok 1 - $BIN/$b missing: run make first"; exit 1; }
done
t_setup
DIR=$tmp
out=$(timeout 60 "$BIN/updraft-scheduler" 2>&1); rc=$?
check "refuses an unmigrated database" test "$rc" -ne 0 -a "$rc" -ne 124
check "tells the user to migrate" grep -q "updraft db migrate" <<<"$out"
check "db migrate" "$BIN/updraft" db migrate

q_ge() { local v; v=$(q_tags "$2" 2>/dev/null) && [ "${v:-0}" -ge "$1" ]; }

DAGS=$DIR/dags
mkdir -p "$DAGS/sub" "$DAGS/.hidden"
export UPDRAFT__CORE__DAGS_FOLDER=$DAGS
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__LOGGING__LEVEL=debug

START=$(date -u -d '3 days ago' +%Y-%m-%d)
YESTERDAY=$(date -u -d yesterday +%Y-%m-%d)

write_manual() {
  cat >"$DAGS/manual.yaml" <<YAML
manual_dag:
  schedule: None
  start_date: 2024-01-01
  tasks:
    - task_id: begin
      operator: airflow.operators.empty.EmptyOperator
    - task_id: work
      operator: airflow.operators.bash.BashOperator
      bash_command: $1
      dependencies: [begin]
    - task_id: finish
      operator: airflow.operators.empty.EmptyOperator
      dependencies: [work]
YAML
}
write_manual "echo one"
cat >"$DAGS/sub/daily.yaml" <<YAML
daily_dag:
  schedule: "@daily"
  start_date: $START
  catchup: false
  tasks:
    - task_id: only
      operator: airflow.operators.bash.BashOperator
      bash_command: echo daily
YAML
printf 'broken_dag:\n  tasks: [unclosed\n' >"$DAGS/broken.yaml"
cp "$DAGS/manual.yaml" "$DAGS/.hidden/ignored.yaml"

"$BIN/updraft-scheduler" >"$DIR/scheduler.log" 2>&1 &
SCHED_PID=$!
pids+=($SCHED_PID)

check "dag stored" wait_for 15 q_is 1 "select count(*) from dag where dag_id='manual_dag' and is_active"
check_eq "one version" 1 "$(q_tags "select count(*) from dag_version where dag_id='manual_dag'")"
check_eq "dag points at its version" 1 \
  "$(q_tags "select count(*) from dag d join dag_version v on v.id = d.version_id where d.dag_id='manual_dag' and v.version_number=1")"
check "import error for the broken file" wait_for 10 q_is 1 "select count(*) from import_error where filename like '%/broken.yaml'"
check_eq "dag in a subfolder loads beside the broken file" 1 \
  "$(q_tags "select count(*) from dag where dag_id='daily_dag' and is_active and not is_paused")"
check_eq "hidden folder skipped" 0 "$(q_tags "select count(*) from dag_file where path like '%/.hidden/%'")"

# Unchanged files are not re-stored.
parsed=$(q_tags "select last_parsed_at from dag_file where path like '%/manual.yaml'")
sleep 2.5
check_eq "unchanged rescan stores no new version" 1 "$(q_tags "select count(*) from dag_version where dag_id='manual_dag'")"
check_eq "unchanged rescan does not re-parse" "$parsed" "$(q_tags "select last_parsed_at from dag_file where path like '%/manual.yaml'")"

# A changed file stores version 2.
write_manual "echo two"
check "changed file stores version 2" wait_for 10 q_is 2 "select v.version_number from dag d join dag_version v on v.id = d.version_id where d.dag_id='manual_dag'"

# Scheduled run: catchup false, start a few days ago: exactly one, for yesterday.
check "scheduled run created" wait_for 10 q_ge 1 "select count(*) from dag_run where dag_id='daily_dag'"
sleep 1.5
check_eq "exactly one scheduled run" 1 "$(q_tags "select count(*) from dag_run where dag_id='daily_dag' and run_type='scheduled'")"
check_eq "logical date is the latest complete interval" "$YESTERDAY 00:00:00" \
  "$(q_tags "select to_char(logical_date at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') from dag_run where dag_id='daily_dag'")"
check_eq "run id as Airflow's" "scheduled__${YESTERDAY}T00:00:00+00:00" "$(q_tags "select run_id from dag_run where dag_id='daily_dag'")"
check_eq "next run is today" "$(date -u +%Y-%m-%d) 00:00:00" \
  "$(q_tags "select to_char(next_dagrun at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') from dag where dag_id='daily_dag'")"

# Manual run: empty task straight to success, the bash task to the stream.
check "trigger" "$BIN/updraft" dags trigger manual_dag -r itest_run >/dev/null
ti() { q_tags "select $2 from task_instance where run_id='itest_run' and task_id='$1'"; }
check "work task queued" wait_for 10 q_is queued "select state from task_instance where run_id='itest_run' and task_id='work'"
check_eq "empty task succeeded without a worker" "success|0" "$(ti begin "state, duration")"
check_eq "try number 1" 1 "$(ti work try_number)"
work_id=$(ti work id)
check "message on updraft:q:default" sh -c "redis-cli -p $SVC_REDIS_PORT XRANGE updraft:q:default - + | paste -sd' ' | grep -q 'ti $work_id try 1'"
begin_id=$(ti begin id)
check "no message for the empty task" sh -c "! redis-cli -p $SVC_REDIS_PORT XRANGE updraft:q:default - + | paste -sd' ' | grep -q 'ti $begin_id '"
check "XLEN counts the daily and the manual task" test "$(rcli XLEN updraft:q:default)" -ge 2
check_eq "run is running" running "$(q_tags "select state from dag_run where run_id='itest_run'")"
check_eq "conflicting trigger fails" 1 "$("$BIN/updraft" dags trigger manual_dag -r itest_run >/dev/null 2>&1; echo $?)"

# A worker's outcome (simulated) plans the rest and finishes the run.
q_tags "update task_instance set state='success' where id=$work_id; select pg_notify('updraft_scheduler', dag_run_id::text) from task_instance where id=$work_id" >/dev/null
check "run succeeds" wait_for 10 q_is success "select state from dag_run where run_id='itest_run'"
check_eq "downstream empty task succeeded" success "$(ti finish state)"

# Duplicate dag id in a second file: an import error naming the first.
cp "$DAGS/sub/daily.yaml" "$DAGS/dup.yaml"
dup_reported() { q_tags "select stack_trace from import_error where filename like '%/dup.yaml'" | grep -q "already defined in '.*sub/daily.yaml'"; }
check "duplicate dag id reported" wait_for 10 dup_reported
check_eq "original keeps the dag" 1 "$(q_tags "select fileloc from dag where dag_id='daily_dag'" | grep -c 'sub/daily.yaml')"
rm "$DAGS/dup.yaml"

# Fixing and removing files.
write_broken_fixed() { printf 'broken_dag:\n  schedule: None\n  start_date: 2024-01-01\n  tasks:\n    - task_id: t\n      operator: airflow.operators.empty.EmptyOperator\n' >"$DAGS/broken.yaml"; }
write_broken_fixed
check "fixed file clears its import error" wait_for 10 q_is 0 "select count(*) from import_error"
rm "$DAGS/manual.yaml"
check "removed file deactivates its dag" wait_for 10 q_is f "select is_active from dag where dag_id='manual_dag'"

check_eq "scheduler job heartbeating" 1 "$(q_tags "select count(*) from job where job_type='SchedulerJob' and state='running' and latest_heartbeat > now() - interval '5 seconds'")"

# Graceful stop.
kill -TERM "$SCHED_PID"
wait "$SCHED_PID"; rc=$?
SCHED_PID=
check_eq "exits 0 on SIGTERM" 0 "$rc"
check_eq "job marked success" success "$(q_tags "select state from job where job_type='SchedulerJob' order by id desc limit 1")"
check "no errors logged" sh -c "! grep -q 'level=error' '$DIR/scheduler.log'"

if [ "$T_FAILED" -ne 0 ]; then
  echo "# scheduler log:"; sed 's/^/# /' "$DIR/scheduler.log" | tail -40
fi
echo "# $((T_N - T_FAILED)) passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
