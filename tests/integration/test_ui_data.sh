#!/usr/bin/env bash
# The web UI's aggregated JSON reads (webserver/api_ui.c, docs/api.md "UI
# endpoints") on runs that really ran: a DAG with a task group, a mapped
# task, a task that fails its first try and one that fails in one run,
# three manual runs on two days, a paused DAG beside it, a broken file and
# then the paused DAG's file broken too.
# Each endpoint's values are checked (states, counts, order, alignment of
# the grid's cells to its task list, earlier tries), and its 404 and 400
# problems.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=25
t_setup
mkdir -p "$tmp/dags"
chmod 777 "$tmp"

# flaky fails its first try in every run (a flag file per run), then
# succeeds; maybe_fail fails in the runs whose id starts with bad, and
# last is then upstream_failed.
cat >"$tmp/dags/ui.yaml" <<EOF
ui_grid:
  tags: [ui, grid]
  default_args:
    owner: data-eng
  task_groups:
    - group_name: grp
      tooltip: the group
  tasks:
    - task_id: first
      operator: bash
      bash_command: 'echo first'
    - task_id: inner
      operator: bash
      bash_command: 'echo inner'
      task_group_name: grp
      dependencies: [first]
    - task_id: mapped
      operator: bash
      bash_command: 'echo "item \$ITEM"'
      expand:
        env: [{ITEM: a}, {ITEM: b}, {ITEM: c}]
      dependencies: [first]
    - task_id: flaky
      operator: bash
      retries: 1
      retry_delay_sec: 1
      bash_command: 'if [ -f $tmp/flag_\$UPDRAFT_RUN_ID ]; then echo second; else touch $tmp/flag_\$UPDRAFT_RUN_ID; exit 1; fi'
      dependencies: [grp]
    - task_id: maybe_fail
      operator: bash
      bash_command: 'case "\$UPDRAFT_RUN_ID" in bad*) exit 1 ;; esac'
      dependencies: [flaky, mapped]
    - task_id: last
      operator: bash
      bash_command: 'echo last'
      dependencies: [maybe_fail]
EOF
cat >"$tmp/dags/other.yaml" <<EOF
ui_other:
  schedule: "@daily"
  start_date: 2024-01-01
  catchup: false
  is_paused_upon_creation: true
  tags: [other]
  default_args:
    owner: other-team
  tasks:
    - task_id: only
      operator: bash
      bash_command: 'true'
EOF
printf 'broken:\n  tasks: [\n' >"$tmp/dags/broken.yaml"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
base=http://127.0.0.1:$port
api=$base/api/v1

check "db migrate" "$BIN/updraft" db migrate
start_scheduler scheduler
start_worker worker w1 4
start_webserver webserver

dags_up() { json_ok "$api/dags" '[.dags[].dag_id] | index("ui_grid") and index("ui_other")'; }
check "DAGs load" wait_for 30 dags_up

# get PATH: prints the status; the body is in $tmp/r.json
get() { curl -s -o "$tmp/r.json" -w '%{http_code}' "$base$1"; }
# is STATUS PATH JQ: PATH answers STATUS and the body satisfies JQ
is() { [ "$(get "$2")" = "$1" ] && jq -e "$3" "$tmp/r.json" >/dev/null; }
problem() { is "$1" "$2" ".status == $1 and (.detail | length > 0)"; }

trigger() {
  curl -s -o "$tmp/t.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"dag_run_id\": \"$1\", \"logical_date\": \"$2\"}" "$api/dags/ui_grid/dagRuns"
}
check_eq "trigger good_1" 200 "$(trigger good_1 2024-03-01T06:00:00+00:00)"
check_eq "trigger bad_2" 200 "$(trigger bad_2 2024-03-02T06:00:00+00:00)"
check_eq "trigger good_3" 200 "$(trigger good_3 2024-03-02T18:00:00+00:00)"
for r in good_1 bad_2 good_3; do check "$r finishes" wait_for 120 api_run_done ui_grid "$r"; done
check_eq "run states" "success failed success" \
  "$(for r in good_1 bad_2 good_3; do api_run_state ui_grid "$r"; done | xargs)"
check "the broken file is an import error" wait_for 30 json_ok "$api/importErrors" '.total_entries == 1'

# ---- the routes and their permissions ------------------------------------

"$BIN/updraft-webserver" --routes >"$tmp/routes.tsv"
check_eq "the aggregated UI routes and the permission each needs" \
  "GET /ui/dags can_read DAGs Viewer|GET /ui/grid/{} can_read Task Instances Viewer|GET /ui/gantt/{}/{} can_read Task Instances Viewer|GET /ui/durations/{} can_read Task Instances Viewer|GET /ui/calendar/{} can_read DAG Runs Viewer" \
  "$(awk -F'\t' '$2 ~ /^\/ui\/(dags|grid|gantt|durations|calendar)/ { printf "%s%s %s %s %s", sep, $1, $2, $3, $4 " " $5; sep = "|" }' "$tmp/routes.tsv")"

# ---- /ui/dags ------------------------------------------------------------

check "dags: both DAGs, one import error" is 200 /ui/dags \
  '.total_entries == 2 and .import_errors == 1 and ([.dags[].dag_id] == ["ui_grid", "ui_other"])'
check "dags: ui_grid's fields" is 200 /ui/dags '.dags[0] | .owners == ["data-eng"]
  and .tags == ["ui", "grid"] and .is_paused == false and .schedule == null
  and .timetable_description == "Never, external triggers only" and .next_dagrun == null
  and .has_import_errors == false and .description == null'
check "dags: recent runs newest first, with their states" is 200 /ui/dags \
  '[.dags[0].recent_runs[] | "\(.run_id)=\(.state)"] == ["good_3=success", "bad_2=failed", "good_1=success"]
   and .dags[0].recent_runs[0].logical_date == "2024-03-02T18:00:00.000000+00:00"'
check "dags: the newest run's task states counted (8 instances, all success)" is 200 /ui/dags \
  '.dags[0].latest_run_counts == {"success": 8}'
check "dags: a DAG without runs" is 200 /ui/dags '.dags[1] | .recent_runs == []
  and .latest_run_counts == {} and .is_paused == true and .schedule == "@daily"
  and .timetable_description == "At 00:00" and .owners == ["other-team"]
  and (.next_dagrun | test("^20[0-9-]+T00:00:00"))'
check "dags: tags filter" is 200 "/ui/dags?tags=other&tags=nosuch" \
  '.total_entries == 1 and [.dags[].dag_id] == ["ui_other"]'
check "dags: owners filter" is 200 "/ui/dags?owners=data-eng" '[.dags[].dag_id] == ["ui_grid"]'
check "dags: paused filter" is 200 "/ui/dags?paused=false" '[.dags[].dag_id] == ["ui_grid"] and .total_entries == 1'
check "dags: dag_id_pattern, any case" is 200 "/ui/dags?dag_id_pattern=OTH" '[.dags[].dag_id] == ["ui_other"]'
check "dags: order_by=-dag_id" is 200 "/ui/dags?order_by=-dag_id" '[.dags[].dag_id] == ["ui_other", "ui_grid"]'
check "dags: a page of one, total of all" is 200 "/ui/dags?limit=1&offset=1" \
  '[.dags[].dag_id] == ["ui_other"] and .total_entries == 2'
check "dags: unknown order_by is 400" problem 400 "/ui/dags?order_by=fileloc"
check "dags: bad paused is 400" problem 400 "/ui/dags?paused=maybe"
check "dags: bad limit is 400" problem 400 "/ui/dags?limit=-3"
check "dags: an unknown parameter is 400" problem 400 "/ui/dags?only_active=true"
# A file that stops loading keeps its DAGs: ui_other now has an import error.
printf 'ui_broken_later:\n  tasks: [\n' >>"$tmp/dags/other.yaml"
check "other.yaml is an import error too" wait_for 30 json_ok "$api/importErrors" '.total_entries == 2'
check "dags: has_import_errors for the DAG of a broken file" is 200 /ui/dags \
  '.import_errors == 2 and ([.dags[] | "\(.dag_id)=\(.has_import_errors)"] == ["ui_grid=false", "ui_other=true"])'

# ---- /ui/grid ------------------------------------------------------------

get /ui/grid/ui_grid >/dev/null
cp "$tmp/r.json" "$tmp/grid.json"
# idx TASK: the position of TASK in the grid's task list
idx() { jq --arg t "$1" '[.tasks[].task_id] | index($t)' "$tmp/grid.json"; }
gq() { jq -e "$1" "$tmp/grid.json" >/dev/null; }
check "grid: the tasks, each once" gq '[.tasks[].task_id] | sort == ["first", "flaky", "grp.inner", "last", "mapped", "maybe_fail"]'
check "grid: tasks in a topological order" gq '[.tasks[].task_id] as $o
  | all(.tasks[]; . as $t | all($t.upstream[]; ($o | index(.)) < ($o | index($t.task_id))))'
check "grid: the group, the mapped task, operators, upstream ids" gq '
  (.tasks[] | select(.task_id == "grp.inner") | .group == "grp" and .upstream == ["first"])
  and (.tasks[] | select(.task_id == "mapped") | .is_mapped and .group == null)
  and (.tasks[] | select(.task_id == "first") | .is_mapped == false and .operator == "BashOperator")
  and (.tasks[] | select(.task_id == "maybe_fail") | .upstream | sort == ["flaky", "mapped"])'
check "grid: the group tree" gq '.groups[0].group_id == "grp" and .groups[0].tooltip == "the group"'
check "grid: runs newest first" gq '[.runs[] | "\(.run_id)=\(.state)=\(.run_type)"]
  == ["good_3=success=manual", "bad_2=failed=manual", "good_1=success=manual"] and .more == false'
check "grid: run fields" gq '.runs[0] | .logical_date == "2024-03-02T18:00:00.000000+00:00"
  and (.queued_at | type) == "string" and (.start_date | type) == "string"
  and (.end_date | type) == "string" and .note == null'
check "grid: one cell per task in every run" gq '(.tasks | length) as $n | all(.runs[]; (.tis | length) == $n)'
i_first=$(idx first) i_mapped=$(idx mapped) i_flaky=$(idx flaky) i_fail=$(idx maybe_fail) i_last=$(idx last)
check "grid: the state codes' names, in Airflow's grid order" gq '.states == ["failed", "upstream_failed",
  "up_for_retry", "up_for_reschedule", "queued", "scheduled", "deferred", "running", "restarting", "none",
  "success", "skipped", "removed"]'
check "grid: an unmapped cell is [state code, try_number, start, duration]" gq ".states as \$s | .runs[2].tis[$i_first]
  | length == 4 and \$s[.[0]] == \"success\" and .[1] == 1 and (.[2] | type) == \"number\" and .[3] >= 0 and .[3] < 600"
check "grid: the mapped cell counts its instances" gq ".states as \$s | .runs[0].tis[$i_mapped]
  | length == 5 and \$s[.[0]] == \"success\" and .[1] == 1 and .[4] == {\"success\": 3} and .[3] >= 0"
check "grid: the retried task's cell shows try 2" gq ".states as \$s | .runs[0].tis[$i_flaky] | \$s[.[0]] == \"success\" and .[1] == 2"
check_eq "grid: the bad run's cells" '"failed" "upstream_failed"' \
  "$(jq -r ".states as \$s | .runs[1].tis | [\$s[.[$i_fail][0]], \$s[.[$i_last][0]]] | map(tojson) | join(\" \")" "$tmp/grid.json")"
check "grid: cells agree with the REST API" is 200 "/api/v1/dags/ui_grid/dagRuns/good_1/taskInstances/flaky" \
  ".try_number == $(jq ".runs[2].tis[$i_flaky][1]" "$tmp/grid.json") and .state == \"success\""
check "grid: limit=1 pages with more" is 200 "/ui/grid/ui_grid?limit=1" '[.runs[].run_id] == ["good_3"] and .more'
check "grid: before a logical date" is 200 "/ui/grid/ui_grid?before=2024-03-02T18:00:00Z" \
  '[.runs[].run_id] == ["bad_2", "good_1"] and .more == false'
check "grid: before, limit 1" is 200 "/ui/grid/ui_grid?before=2024-03-02T18:00:00Z&limit=1" \
  '[.runs[].run_id] == ["bad_2"] and .more'
check "grid: a DAG without runs" is 200 /ui/grid/ui_other \
  '.runs == [] and [.tasks[].task_id] == ["only"] and .groups == [] and .more == false'
check "grid: unknown DAG is 404" problem 404 /ui/grid/nosuch
check "grid: bad before is 400" problem 400 "/ui/grid/ui_grid?before=yesterday"
check "grid: bad limit is 400" problem 400 "/ui/grid/ui_grid?limit=x"
check "grid: offset is not a grid parameter (400)" problem 400 "/ui/grid/ui_grid?offset=1"

# ---- /ui/gantt -----------------------------------------------------------

check "gantt: the run and its 8 task instances" is 200 /ui/gantt/ui_grid/good_1 \
  '.run_id == "good_1" and .state == "success" and (.task_instances | length) == 8 and .truncated == false'
check "gantt: instances by start, each queued <= start <= end" is 200 /ui/gantt/ui_grid/good_1 '
  [.task_instances[].start_date] == ([.task_instances[].start_date] | sort)
  and all(.task_instances[]; .queued_dttm <= .start_date and .start_date <= .end_date)'
check "gantt: mapped instances by map_index" is 200 /ui/gantt/ui_grid/good_1 \
  '[.task_instances[] | select(.task_id == "mapped") | .map_index] | sort == [0, 1, 2]'
check "gantt: the retried task's earlier try" is 200 /ui/gantt/ui_grid/good_1 '
  .task_instances[] | select(.task_id == "flaky") | .try_number == 2 and .state == "success"
  and (.tries | length) == 1 and .tries[0].try_number == 1 and .tries[0].state == "up_for_retry"
  and .tries[0].start_date <= .tries[0].end_date and .tries[0].end_date <= .start_date
  and .tries[0].hostname == "w1"'
check "gantt: tasks that ran once have no earlier tries" is 200 /ui/gantt/ui_grid/good_1 \
  '[.task_instances[] | select(.task_id != "flaky") | .tries | length] | add == 0'
# isoepoch: an ISO timestamp of the API as epoch seconds with its fraction
ISOEPOCH='def isoepoch: (.[0:19] + "Z" | fromdateiso8601)
  + ((capture("\\.(?<f>[0-9]+)") | "0." + .f | tonumber) // 0);'
grid_start=$(jq ".runs[2].tis[$i_first][2]" "$tmp/grid.json")
grid_end=$(jq ".runs[2].tis[$i_first] | .[2] + .[3]" "$tmp/grid.json")
check "grid: a cell's epoch seconds are the Gantt's start to the millisecond" is 200 /ui/gantt/ui_grid/good_1 "
  $ISOEPOCH .task_instances[] | select(.task_id == \"first\") | (.start_date | isoepoch) - $grid_start | fabs < 0.0011"
check "grid: start plus duration is the Gantt's end to the millisecond" is 200 /ui/gantt/ui_grid/good_1 "
  $ISOEPOCH .task_instances[] | select(.task_id == \"first\") | (.end_date | isoepoch) - $grid_end | fabs < 0.0011"
check "gantt: unknown run is 404" is 404 /ui/gantt/ui_grid/nosuch '.title == "DAGRun not found"'
check "gantt: unknown DAG is 404" is 404 /ui/gantt/nosuch/good_1 '.title == "DAG not found"'
check "gantt: a query parameter is 400" problem 400 "/ui/gantt/ui_grid/good_1?limit=1"

# ---- /ui/durations -------------------------------------------------------

check "durations: two newest runs, tasks aligned" is 200 "/ui/durations/ui_grid?limit=2" '
  [.runs[].run_id] == ["good_3", "bad_2"] and (.tasks | length) == 6
  and all(.runs[]; (.task_durations | length) == 6 and (.landing_times | length) == 6)'
d_first=$(jq '[.tasks[].task_id] | index("first")' "$tmp/grid.json")
check "durations: same task order as the grid" is 200 /ui/durations/ui_grid \
  "$(jq -c '[.tasks[].task_id]' "$tmp/grid.json") == .tasks"
check "durations: a finished task's duration and landing time" is 200 /ui/durations/ui_grid "
  .runs[0] | (.task_durations[$d_first] | type) == \"number\" and .task_durations[$d_first] >= 0
  and .landing_times[$d_first] > 0 and .duration > 0 and .data_interval_end != null"
# epoch: an ISO timestamp of the API as epoch seconds (whole seconds)
EPOCH='def epoch: sub("\\.[0-9]+"; "") | sub("\\+00:00$"; "Z") | fromdateiso8601;'
get /ui/gantt/ui_grid/good_1 >/dev/null
first_end=$(jq "$EPOCH"' .task_instances[] | select(.task_id == "first") | .end_date | epoch' "$tmp/r.json")
check "durations: landing time = the task's end - the run's data_interval_end" is 200 /ui/durations/ui_grid "
  $EPOCH .runs[2] | .run_id == \"good_1\"
  and ((.landing_times[$d_first] + (.data_interval_end | epoch)) - $first_end | fabs) < 1.01"
check "durations: default limit covers all three" is 200 /ui/durations/ui_grid '(.runs | length) == 3'
check "durations: unknown DAG is 404" problem 404 /ui/durations/nosuch
check "durations: bad limit is 400" problem 400 "/ui/durations/ui_grid?limit=-1"

# ---- /ui/calendar --------------------------------------------------------

check "calendar: runs per UTC day and state" is 200 "/ui/calendar/ui_grid?year=2024" \
  '.year == 2024 and .days == {"2024-03-01": {"success": 1}, "2024-03-02": {"failed": 1, "success": 1}}'
check "calendar: a year without runs" is 200 "/ui/calendar/ui_grid?year=2023" '.days == {}'
check "calendar: the current year by default" is 200 /ui/calendar/ui_grid ".year == $(date -u +%Y)"
check "calendar: unknown DAG is 404" problem 404 /ui/calendar/nosuch
check "calendar: bad year is 400" problem 400 "/ui/calendar/ui_grid?year=20x4"
check "calendar: year out of range is 400" problem 400 "/ui/calendar/ui_grid?year=0"

echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
