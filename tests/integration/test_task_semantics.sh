#!/usr/bin/env bash
# Task semantics the planner decides, against real Postgres, Redis, a
# scheduler and workers: branch and short_circuit skipping what they do not
# follow, latest_only over a catch-up, depends_on_past and
# wait_for_downstream across two runs, dynamic task mapping over a literal
# list of 100 and over an upstream's XCom (including the empty and the
# unmappable case), and the callback events recorded for tries that ran.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
mkdir -p "$tmp/dags"
flag=$tmp/dop_ok

# latest_only: three catch-up runs end before today; only the newest is the latest.
start=$(date -u -d "3 days ago" +%Y-%m-%d)
envs=$(for i in $(seq 0 99); do printf '{N: "%d"}, ' "$i"; done)

cat >"$tmp/dags/ts.yaml" <<YAML
ts_branch:
  schedule: null
  start_date: 2024-01-01
  task_groups:
    grp: {tooltip: "a branch may name a group"}
  tasks:
    - {task_id: br, operator: branch, bash_command: 'echo "choosing"; echo left'}
    - {task_id: left, operator: bash, bash_command: "true", dependencies: [br]}
    - {task_id: right, operator: bash, bash_command: "true", dependencies: [br]}
    - {task_id: right_after, operator: bash, bash_command: "true", dependencies: [right]}
    - {task_id: join, operator: bash, bash_command: "true", trigger_rule: none_failed_min_one_success, dependencies: [left, right_after]}
    - {task_id: br3, operator: branch, bash_command: "echo grp"}
    - {task_id: x, operator: bash, bash_command: "true", task_group_name: grp, dependencies: [br3]}
    - {task_id: y, operator: bash, bash_command: "true", task_group_name: grp, dependencies: [x]}
    - {task_id: other, operator: bash, bash_command: "true", dependencies: [br3]}
ts_short:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: sc, operator: short_circuit, bash_command: "echo False"}
    - {task_id: d1, operator: bash, bash_command: "true", dependencies: [sc]}
    - {task_id: d2, operator: bash, bash_command: "true", trigger_rule: all_done, dependencies: [d1]}
    - {task_id: sc2, operator: short_circuit, bash_command: "echo 0", ignore_downstream_trigger_rules: false}
    - {task_id: e1, operator: bash, bash_command: "true", dependencies: [sc2]}
    - {task_id: e2, operator: bash, bash_command: "true", trigger_rule: all_done, dependencies: [e1]}
    - {task_id: sc3, operator: short_circuit, bash_command: "echo yes"}
    - {task_id: f1, operator: bash, bash_command: "true", dependencies: [sc3]}
ts_latest:
  schedule: "@daily"
  start_date: $start
  catchup: true
  tasks:
    - {task_id: lo, operator: latest_only}
    - {task_id: after, operator: bash, bash_command: "true", dependencies: [lo]}
ts_dop:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: a, operator: bash, bash_command: "test -e $flag", depends_on_past: true}
ts_wfd:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: a, operator: bash, bash_command: "true", wait_for_downstream: true}
    - {task_id: b, operator: bash, bash_command: "test -e $flag", dependencies: [a]}
ts_map:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: m
      operator: bash
      bash_command: 'echo "n=\$N"'
      expand:
        env: [$envs]
    - {task_id: after, operator: bash, bash_command: "true", dependencies: [m]}
    - {task_id: src, operator: bash, bash_command: "echo '[{\"X\": \"1\"}, {\"X\": \"2\"}, {\"X\": \"3\"}]'"}
    - task_id: each
      operator: bash
      bash_command: 'echo "x=\$X"'
      expand: {env: src.output}
      dependencies: [src]
    - {task_id: src0, operator: bash, bash_command: "echo '[]'"}
    - {task_id: each0, operator: bash, bash_command: "true", expand: {env: "+src0"}, dependencies: [src0]}
    - {task_id: srcbad, operator: bash, bash_command: "echo hello"}
    - {task_id: eachbad, operator: bash, bash_command: "true", expand: {env: "XcomArg(srcbad)"}, dependencies: [srcbad]}
ts_events:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: ok, operator: bash, bash_command: "true"}
    - {task_id: bad, operator: bash, bash_command: "exit 3", retries: 1, retry_delay_sec: 0}
    - {task_id: never, operator: bash, bash_command: "true", dependencies: [bad]}
YAML

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
check "db migrate" "$BIN/updraft" db migrate >/dev/null

start_scheduler scheduler
start_worker worker1 w1 16
start_worker worker2 w2 16
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id LIKE 'ts\_%' AND version_id IS NOT NULL")" = 7 ]; }
check "DAGs are parsed" wait_for 30 dags_in
"$BIN/updraft" dags list-import-errors 2>&1 | grep 'ts.yaml' | sed 's/^/# /'

ti_state() {
  q "SELECT string_agg(ti.state, ',' ORDER BY ti.map_index) FROM task_instance ti
      JOIN dag_run dr ON dr.id = ti.dag_run_id
     WHERE dr.dag_id = '$1' AND dr.run_id = '$2' AND ti.task_id = '$3'"
}
states() { # DAG RUN TASK... -> "task=state ..."
  local d=$1 r=$2 out="" t; shift 2
  for t in "$@"; do out="$out $t=$(ti_state "$d" "$r" "$t")"; done
  echo "${out# }"
}
trigger() { "$BIN/updraft" dags trigger "$1" --run-id "$2" ${3:+--logical-date "$3"} >/dev/null 2>&1 || not_ok "trigger $1 $2"; }

for d in ts_branch ts_short ts_map ts_events; do trigger $d r1; done
trigger ts_dop r1 2024-01-01T00:00:00+00:00
trigger ts_dop r2 2024-01-02T00:00:00+00:00
trigger ts_wfd r1 2024-01-01T00:00:00+00:00
trigger ts_wfd r2 2024-01-02T00:00:00+00:00
trigger ts_latest manual1

# --- branch and short_circuit --------------------------------------------------
check "branch run finishes" wait_run ts_branch r1 40
check_eq "bash branch: the named task runs, the other branch and its chain are skipped, the join runs" \
  "br=success left=success right=skipped right_after=skipped join=success" \
  "$(states ts_branch r1 br left right right_after join)"
check_eq "branch naming a task group follows the group's tasks only" \
  "br3=success grp.x=success grp.y=success other=skipped" "$(states ts_branch r1 br3 grp.x grp.y other)"
check_eq "the branch's decision is stored as Airflow's skipmixin XCom" '{"followed": ["left"]}' \
  "$(q "SELECT x.value::text FROM xcom x JOIN dag_run dr ON dr.id = x.dag_run_id
         WHERE dr.dag_id = 'ts_branch' AND x.task_id = 'br' AND x.key = 'skipmixin_key'")"
check "short_circuit run finishes" wait_run ts_short r1 40
check_eq "falsy short_circuit skips everything below it (ignore_downstream_trigger_rules default)" \
  "sc=success d1=skipped d2=skipped" "$(states ts_short r1 sc d1 d2)"
check_eq "ignore_downstream_trigger_rules false: only the direct downstream is skipped" \
  "sc2=success e1=skipped e2=success" "$(states ts_short r1 sc2 e1 e2)"
check_eq "truthy short_circuit follows" "sc3=success f1=success" "$(states ts_short r1 sc3 f1)"

# --- latest_only ---------------------------------------------------------------
latest_runs() { [ "$(q "SELECT count(*) FROM dag_run WHERE dag_id = 'ts_latest' AND state = 'success'")" -ge 4 ]; }
check "latest_only: three catch-up runs and a manual one finish" wait_for 40 latest_runs
check_eq "latest_only: only the newest scheduled run and the manual run go on" \
  "scheduled:skipped scheduled:skipped scheduled:success manual:success" \
  "$(q "SELECT string_agg(dr.run_type || ':' || ti.state, ' ' ORDER BY dr.run_type = 'manual', dr.logical_date)
          FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
         WHERE dr.dag_id = 'ts_latest' AND ti.task_id = 'after'")"

# --- depends_on_past and wait_for_downstream -----------------------------------
check "depends_on_past: the first run fails" wait_run ts_dop r1 30
sleep 2
check_eq "depends_on_past: run 2's task waits while run 1's failed" "failed none" \
  "$(ti_state ts_dop r1 a) $(ti_state ts_dop r2 a)"
check "wait_for_downstream: the first run fails downstream" wait_run ts_wfd r1 30
check_eq "wait_for_downstream: run 2's task waits for run 1's downstream" "success failed none" \
  "$(ti_state ts_wfd r1 a) $(ti_state ts_wfd r1 b) $(ti_state ts_wfd r2 a)"
touch "$flag"
"$BIN/updraft" tasks clear ts_dop -t '^a$' -s 2024-01-01 -e 2024-01-01 -y >/dev/null 2>&1 || not_ok "clear ts_dop r1"
"$BIN/updraft" tasks clear ts_wfd -t '^b$' -s 2024-01-01 -e 2024-01-01 -y >/dev/null 2>&1 || not_ok "clear ts_wfd r1"
check "depends_on_past: once run 1 succeeds, run 2 runs" wait_run ts_dop r2 30
check_eq "depends_on_past: both runs succeeded, run 2 after run 1" "success success t" \
  "$(run_state ts_dop r1) $(run_state ts_dop r2) $(q "SELECT b.start_date >= a.end_date
      FROM task_instance a, task_instance b
     WHERE a.dag_id = 'ts_dop' AND a.run_id = 'r1' AND b.dag_id = 'ts_dop' AND b.run_id = 'r2'")"
check "wait_for_downstream: run 2 runs once run 1's downstream succeeded" wait_run ts_wfd r2 30
check_eq "wait_for_downstream: run 2 succeeded" success "$(run_state ts_wfd r2)"

# --- dynamic task mapping ------------------------------------------------------
check "mapping run finishes" wait_run ts_map r1 60
check_eq "a literal list of 100 makes map indexes 0..99, all success" "100 0 99 100" \
  "$(q "SELECT count(*) || ' ' || min(map_index) || ' ' || max(map_index) || ' ' ||
               count(*) FILTER (WHERE state = 'success')
          FROM task_instance WHERE dag_id = 'ts_map' AND task_id = 'm'")"
check_eq "each mapped instance got its own element" 100 \
  "$(q "SELECT count(*) FROM xcom WHERE dag_id = 'ts_map' AND task_id = 'm'
          AND key = 'return_value' AND value = to_jsonb('n=' || map_index)")"
check_eq "the task after the mapped one ran once all instances were done" "success t" \
  "$(ti_state ts_map r1 after) $(q "SELECT min(a.start_date) >= max(m.end_date)
      FROM task_instance a, task_instance m WHERE a.dag_id = 'ts_map' AND a.task_id = 'after'
       AND m.dag_id = 'ts_map' AND m.task_id = 'm'")"
check_eq "mapping over an upstream's XCom list: one instance per element" \
  '0:"x=1" 1:"x=2" 2:"x=3"' \
  "$(q "SELECT string_agg(map_index || ':' || value::text, ' ' ORDER BY map_index) FROM xcom
         WHERE dag_id = 'ts_map' AND task_id = 'each' AND key = 'return_value'")"
check_eq "an empty list skips the mapped task" skipped "$(ti_state ts_map r1 each0)"
check_eq "a value that is not a list fails the mapped task" failed "$(ti_state ts_map r1 eachbad)"
check_eq "the scheduler says why" 1 "$(grep -c 'task cannot be mapped.*task_id=eachbad' "$tmp"/*.log | awk -F: '{s+=$2} END {print (s>0)}')"

# --- callback events -------------------------------------------------------------
check "events run finishes" wait_run ts_events r1 30
check_eq "events: a retry, then the failure, a success, and the run's failure" \
  "ok:task_success:1 bad:task_retry:1 bad:task_failure:2 -:dag_failure:" \
  "$(q "SELECT string_agg(coalesce(task_id, '-') || ':' || kind || ':' || coalesce(try_number::text, ''),
                          ' ' ORDER BY CASE WHEN task_id = 'ok' THEN 0 WHEN task_id IS NULL THEN 2 ELSE 1 END, id)
          FROM callback_event WHERE dag_id = 'ts_events'")"
check_eq "events: none for a task that never ran (upstream_failed)" "upstream_failed 0" \
  "$(ti_state ts_events r1 never) $(q "SELECT count(*) FROM callback_event WHERE dag_id = 'ts_events' AND task_id = 'never'")"
check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
