#!/usr/bin/env bash
# Airflow 3's CronTriggerTimetable: with scheduler.create_cron_data_intervals
# false a plain "@daily" is read as one, and dag-factory's __type__ object
# (Airflow 2's timetable: key, with an interval) is one whatever the option
# says. Each run fires at a cron time t: its logical date is the start of
# its data interval [t - interval, t] (t itself without an interval), and
# with catchup every cron time since start_date gets a run, today's
# midnight included (a data-interval schedule would still be waiting for
# it to end). A fixed interval keeps Airflow 2's data intervals. The API
# shows the cron expression, not the stored form.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
mkdir -p "$tmp/dags"
start=$(date -u -d '3 days ago' +%Y-%m-%d)
cat >"$tmp/dags/trigger.yaml" <<YAML
plain:
  schedule: "@daily"
  start_date: $start
  catchup: true
  max_active_runs: 16
  tasks: [{task_id: t, operator: empty}]
explicit:
  timetable:
    __type__: airflow.timetables.trigger.CronTriggerTimetable
    __args__: ["0 0 * * *"]
    timezone: UTC
    interval: {__type__: datetime.timedelta, days: 1}
  start_date: $start
  catchup: false
  tasks: [{task_id: t, operator: empty}]
fixed:
  schedule: 1d
  start_date: $start
  catchup: true
  max_active_runs: 16
  tasks: [{task_id: t, operator: empty}]
YAML
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__SCHEDULER__CREATE_CRON_DATA_INTERVALS=false

check "db migrate" "$BIN/updraft" db migrate
start_scheduler scheduler

runs() { svc_psql -c "SELECT count(*) FROM dag_run WHERE dag_id = '$1'"; }
created() { [ "$(runs plain)" -ge 4 ] && [ "$(runs explicit)" -ge 1 ] && [ "$(runs fixed)" -ge 3 ]; }
check "runs are created" wait_for 30 created
sleep 2 # further passes must not add runs

rows() {
  svc_psql -c "SELECT string_agg(' ' || to_char(logical_date AT TIME ZONE 'UTC', 'MM-DD') || '|'
                 || to_char(data_interval_start AT TIME ZONE 'UTC', 'MM-DD HH24:MI') || '|'
                 || to_char(data_interval_end AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), '' ORDER BY logical_date)
               FROM dag_run WHERE dag_id = '$1'"
}
md() { date -u -d "$1" +%m-%d; }
want=""
for i in 3 2 1 0; do
  d=$(md "$i days ago")
  want="$want $d|$d 00:00|$d 00:00"
done
check_eq "a plain @daily read as a trigger: one run at each midnight since start_date, today's too, logical date = interval start = end" \
  "$want" "$(rows plain)"
check_eq "CronTriggerTimetable with interval and catchup off: only the latest cron time, interval [t - 1 day, t]" \
  " $(md '1 day ago')|$(md '1 day ago') 00:00|$(md today) 00:00" "$(rows explicit)"
want=""
for i in 3 2 1; do
  want="$want $(md "$i days ago")|$(md "$i days ago") 00:00|$(md "$((i - 1)) days ago") 00:00"
done
check_eq "a fixed interval keeps Airflow 2's data intervals" "$want" "$(rows fixed)"
check_eq "the trigger run ids are the cron times" "scheduled__$(date -u +%Y-%m-%d)T00:00:00+00:00" \
  "$(svc_psql -c "SELECT max(run_id) FROM dag_run WHERE dag_id = 'plain'")"
check_eq "the stored schedules" "explicit|@trigger 0 0 * * * interval=1d timezone=UTC,fixed|1d,plain|@trigger @daily" \
  "$(svc_psql -c "SELECT string_agg(dag_id || '|' || schedule, ',' ORDER BY dag_id) FROM dag")"

check_eq "next-execution: the following cron times" \
  "$(date -u -d tomorrow +%Y-%m-%d)T00:00:00+00:00 $(date -u -d '2 days' +%Y-%m-%d)T00:00:00+00:00" \
  "$("$BIN/updraft" dags next-execution plain -n 2 2>/dev/null | paste -sd' ')"

port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
start_webserver webserver
api=http://127.0.0.1:$port/api/v1
answers() { curl -sf -o /dev/null "$1"; }
check "webserver answers" wait_for 10 answers "$api/version"
check_eq "the API shows the cron expression and its description" \
  '{"__type":"CronExpression","value":"@daily"}|At 00:00|{"__type":"CronExpression","value":"0 0 * * *"}|0 0 * * *' \
  "$(curl -s "$api/dags/plain" | jq -c -j '.schedule_interval, "|", .timetable_description, "|"')$(curl -s "$api/dags/explicit" | jq -c -j '.schedule_interval, "|", .timetable_description')"
[ "$T_FAILED" -eq 0 ]
