#!/usr/bin/env bash
# Trigger rules and task groups against real Postgres, Redis, a scheduler and
# two workers. Every trigger rule meets every kind of upstream outcome, and
# each task's final state is compared with what Airflow 2 gives (its
# TriggerRuleDep); then the run states that follow from the leaves, and the
# task-group example with its prefixed ids and group-to-group ordering.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
mkdir -p "$tmp/dags"

# Upstream outcomes. The worker does not turn an exit code into "skipped"
# yet, so skipped and upstream_failed come from the rules themselves:
#   ok   success          (true)
#   bad  failed           (false, no retries)
#   skp  skipped          (all_failed on [ok]: ok did not fail)
#   uf   upstream_failed  (all_success on [bad])
# Combinations of direct upstream fed to each rule:
#   S=[ok]  SF=[ok,bad]  SK=[ok,skp]  F=[bad]  K=[skp]  U=[uf]
combos="S SF SK F K U"
deps_of() {
  case $1 in S) echo "ok" ;; SF) echo "ok, bad" ;; SK) echo "ok, skp" ;; F) echo "bad" ;; K) echo "skp" ;; U) echo "uf" ;; esac
}

# What Airflow 2 gives, read from airflow/ti_deps/deps/trigger_rule_dep.py
# (a task that runs is `true`, so "run" ends as success):
#              S        SF               SK       F                K        U
expected_table="
all_success                 success  upstream_failed  skipped  upstream_failed  skipped  upstream_failed
all_failed                  skipped  skipped          skipped  success          skipped  success
all_done                    success  success          success  success          success  success
all_skipped                 skipped  skipped          skipped  skipped          success  skipped
one_success                 success  success          success  upstream_failed  skipped  upstream_failed
one_failed                  skipped  success          skipped  success          skipped  success
one_done                    success  success          success  success          skipped  skipped
none_failed                 success  upstream_failed  success  upstream_failed  success  upstream_failed
none_failed_min_one_success success  upstream_failed  success  upstream_failed  skipped  upstream_failed
none_skipped                success  success          skipped  success          skipped  success
always                      success  success          success  success          success  success
"
# Notes on the table, from TriggerRuleDep:
# - all_failed counts upstream_failed as failed (U runs); any success or skip skips it.
# - one_success: all upstream done, none succeeded -> upstream_failed, unless all were
#   skipped -> skipped. It runs as soon as one upstream succeeded.
# - one_failed counts upstream_failed; all done without a failure -> skipped.
# - one_done needs a success or a *failed* (not upstream_failed) upstream, else skipped.
# - none_failed / none_failed_min_one_success: a failed or upstream_failed upstream ->
#   upstream_failed at once; the latter is skipped when every upstream was skipped.
# - none_skipped: any skipped upstream -> skipped; failures do not matter.
# - all_done_min_one_success (Airflow 3.1) has its own DAG below.
# A rule task never shares a combination's sources with another rule's
# outcome: every rule task is a leaf.

dagfile=$tmp/dags/trigger_rules.yaml
{
  printf 'tr_rules:\n  schedule: null\n  start_date: 2024-01-01\n  default_args: {retries: 0}\n  tasks:\n'
  printf '    - {task_id: ok, operator: bash, bash_command: "true"}\n'
  printf '    - {task_id: bad, operator: bash, bash_command: "false"}\n'
  printf '    - {task_id: skp, operator: bash, bash_command: "true", trigger_rule: all_failed, dependencies: [ok]}\n'
  printf '    - {task_id: uf, operator: bash, bash_command: "true", dependencies: [bad]}\n'
  echo "$expected_table" | while read -r rule _; do
    [ -n "$rule" ] || continue
    for c in $combos; do
      printf '    - {task_id: %s__%s, operator: bash, bash_command: "true", trigger_rule: %s, dependencies: [%s]}\n' \
        "$rule" "$c" "$rule" "$(deps_of "$c")"
    done
  done
  # Run states: Airflow decides from the leaves only (failed if any leaf is
  # failed or upstream_failed, success if every leaf is success or skipped).
  printf 'tr_run_skipped_leaf:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - {task_id: ok, operator: bash, bash_command: "true"}\n'
  printf '    - {task_id: skp, operator: bash, bash_command: "true", trigger_rule: all_failed, dependencies: [ok]}\n'
  printf 'tr_run_failed_leaf:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - {task_id: ok, operator: bash, bash_command: "true"}\n'
  printf '    - {task_id: bad, operator: bash, bash_command: "false", dependencies: [ok]}\n'
  printf 'tr_run_failure_handled:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - {task_id: bad, operator: bash, bash_command: "false"}\n'
  printf '    - {task_id: handle, operator: bash, bash_command: "true", trigger_rule: one_failed, dependencies: [bad]}\n'
  printf 'tr_deprecated_names:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - {task_id: bad, operator: bash, bash_command: "false"}\n'
  printf '    - {task_id: d, operator: bash, bash_command: "true", trigger_rule: dummy, dependencies: [bad]}\n'
  printf '    - {task_id: n, operator: bash, bash_command: "true", trigger_rule: none_failed_or_skipped, dependencies: [d]}\n'
} >"$dagfile"
# all_done_min_one_success (Airflow 3.1): skipped upstream -> skipped; all
# done without a success -> upstream_failed. In a file of its own: the
# loader refuses the rule until the planner evaluates it.
{
  printf 'tr_min_one:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - {task_id: ok, operator: bash, bash_command: "true"}\n'
  printf '    - {task_id: bad, operator: bash, bash_command: "false"}\n'
  printf '    - {task_id: skp, operator: bash, bash_command: "true", trigger_rule: all_failed, dependencies: [ok]}\n'
  printf '    - {task_id: uf, operator: bash, bash_command: "true", dependencies: [bad]}\n'
  for c in $combos; do
    printf '    - {task_id: m__%s, operator: bash, bash_command: "true", trigger_rule: all_done_min_one_success, dependencies: [%s]}\n' \
      "$c" "$(deps_of "$c")"
  done
} >"$tmp/dags/min_one.yaml"
cp examples/dags/example_task_groups.yaml examples/dags/example_trigger_rules.yaml "$tmp/dags/"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
check "db migrate" "$BIN/updraft" db migrate

start_scheduler scheduler
start_worker worker1 w1 4
start_worker worker2 w2 4
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id IN ('tr_rules', 'tr_run_skipped_leaf',
  'tr_run_failed_leaf', 'tr_run_failure_handled', 'tr_deprecated_names', 'example_task_groups',
  'example_trigger_rules')")" = 7 ]; }
check "DAGs are parsed" wait_for 30 dags_in

ti_state() {
  q "SELECT ti.state FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
      WHERE dr.dag_id = '$1' AND dr.run_id = 'r1' AND ti.task_id = '$2'"
}
for d in tr_rules tr_run_skipped_leaf tr_run_failed_leaf tr_run_failure_handled tr_deprecated_names \
         example_task_groups example_trigger_rules; do
  "$BIN/updraft" dags trigger "$d" --run-id r1 >/dev/null 2>&1 || not_ok "trigger $d"
done
for d in tr_rules tr_run_skipped_leaf tr_run_failed_leaf tr_run_failure_handled tr_deprecated_names \
         example_task_groups example_trigger_rules; do
  check "$d: run finishes" wait_run "$d" r1 90
done

# --- every rule against every upstream outcome
check_eq "sources: ok, bad, skp, uf" "success failed skipped upstream_failed" \
  "$(ti_state tr_rules ok) $(ti_state tr_rules bad) $(ti_state tr_rules skp) $(ti_state tr_rules uf)"
all_states=$(q "SELECT ti.task_id || '=' || ti.state FROM task_instance ti JOIN dag_run dr
                 ON dr.id = ti.dag_run_id WHERE dr.dag_id = 'tr_rules' AND dr.run_id = 'r1'")
while read -r rule s sf sk f k u; do
  [ -n "$rule" ] || continue
  got=""
  for c in $combos; do
    got="$got $(grep -E "^${rule}__${c}=" <<<"$all_states" | cut -d= -f2)"
  done
  check_eq "$rule: S SF SK F K U" "$s $sf $sk $f $k $u" "${got# }"
done <<<"$expected_table"
# Every leaf is failed, upstream_failed, success or skipped, and some are
# upstream_failed: Airflow and updraft both fail the run.
check_eq "tr_rules: run failed" failed "$(run_state tr_rules r1)"
check_eq "tr_rules: a rule that ran, ran once" 1 \
  "$(q "SELECT max(try_number) FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        WHERE dr.dag_id = 'tr_rules' AND ti.state = 'success'")"

# --- deprecated names behave as their new names (dummy = always,
# none_failed_or_skipped = none_failed_min_one_success)
check_eq "dummy runs after a failed upstream, as always" success "$(ti_state tr_deprecated_names d)"
check_eq "none_failed_or_skipped runs after a success" success "$(ti_state tr_deprecated_names n)"
check_eq "the stored rules are the new names" "always none_failed_min_one_success" \
  "$(q "SELECT v.data->'tasks'->'d'->>'trigger_rule' || ' ' || (v.data->'tasks'->'n'->>'trigger_rule')
        FROM dag_run dr JOIN dag_version v ON v.id = dr.dag_version_id
        WHERE dr.dag_id = 'tr_deprecated_names' AND dr.run_id = 'r1'")"

# --- run states from the leaves
check_eq "skipped leaf: run succeeds (Airflow: skipped is a success state)" success \
  "$(run_state tr_run_skipped_leaf r1)"
check_eq "failed leaf: run fails" failed "$(run_state tr_run_failed_leaf r1)"
check_eq "failure handled by one_failed: tasks failed, success" "failed success" \
  "$(ti_state tr_run_failure_handled bad) $(ti_state tr_run_failure_handled handle)"
# Airflow decides from the leaves only, so a failure handled downstream
# (the only leaf, handle, succeeded) gives a successful run.
check_eq "failure handled by one_failed: run succeeds, as in Airflow" success \
  "$(run_state tr_run_failure_handled r1)"

# --- all_done_min_one_success, once the planner evaluates it
if "$BIN/updraft" dags list-import-errors 2>&1 | grep -q "all_done_min_one_success.*not supported yet"; then
  echo "# KNOWN DIFFERENCE: all_done_min_one_success is refused by the loader until lib/model/planner.c evaluates it"
  check "all_done_min_one_success: refused with path:line:col" \
    bash -c "'$BIN/updraft' dags list-import-errors 2>&1 | grep -Eq 'min_one\.yaml:[0-9]+:[0-9]+: trigger_rule'"
else
  # Airflow 3.1:  S        SF       SK       F                K        U
  "$BIN/updraft" dags trigger tr_min_one --run-id r1 >/dev/null 2>&1
  check "tr_min_one: run finishes" wait_run tr_min_one r1 60
  got=""
  for c in $combos; do got="$got $(ti_state tr_min_one "m__$c")"; done
  check_eq "all_done_min_one_success: S SF SK F K U" \
    "success success skipped upstream_failed skipped upstream_failed" "${got# }"
fi

# --- the trigger-rule example
check_eq "example_trigger_rules: task states" \
  "success failed success success upstream_failed success skipped" \
  "$(for t in extract flaky_source load alert_on_failure publish cleanup report; do
       printf '%s ' "$(ti_state example_trigger_rules $t)"; done | sed 's/ $//')"

# --- nested task groups: prefixed ids, defaults, and group-to-group order
check_eq "example_task_groups: task ids, groups and states" \
  "extract.customers|extract|success extract.orders|extract|success publish||success start||success transform.aggregate.daily|transform.aggregate|success transform.aggregate.monthly|transform.aggregate|success transform.clean|transform|success" \
  "$(q "SELECT string_agg(ti.task_id || '|' || coalesce(v.data->'tasks'->ti.task_id->>'task_group', '') || '|' || ti.state,
                          ' ' ORDER BY ti.task_id COLLATE \"C\")
        FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        JOIN dag_version v ON v.id = dr.dag_version_id
        WHERE dr.dag_id = 'example_task_groups' AND dr.run_id = 'r1'")"
check_eq "example_task_groups: run succeeded" success "$(run_state example_task_groups r1)"
order_ok() {
  # every root of transform starts after every leaf of extract ended; publish
  # starts after the leaves of transform (the aggregate tasks) ended
  [ "$(q "SELECT count(*) FROM task_instance a JOIN task_instance b ON b.dag_run_id = a.dag_run_id
          JOIN dag_run dr ON dr.id = a.dag_run_id
          WHERE dr.dag_id = 'example_task_groups' AND dr.run_id = 'r1'
            AND ((a.task_id LIKE 'extract.%' AND b.task_id = 'transform.clean')
              OR (a.task_id LIKE 'transform.aggregate.%' AND b.task_id = 'publish')
              OR (a.task_id = 'start' AND b.task_id LIKE 'extract.%'))
            AND b.start_date < a.end_date")" = 0 ]
}
check "example_task_groups: groups run in order" order_ok
check_eq "example_task_groups: transform's default_args reach its nested group" "1 1 0" \
  "$(q "SELECT (v.data->'tasks'->'transform.aggregate.daily'->>'retries') || ' ' ||
               (v.data->'tasks'->'transform.clean'->>'retries') || ' ' ||
               (v.data->'tasks'->'extract.orders'->>'retries')
        FROM dag_version v JOIN dag_run dr ON dr.dag_version_id = v.id
        WHERE dr.dag_id = 'example_task_groups' AND dr.run_id = 'r1'")"
check_eq "example_task_groups: the group tree is stored" "extract,transform transform.aggregate" \
  "$(q "SELECT (SELECT string_agg(g->>'group_id', ',') FROM jsonb_array_elements(v.data->'task_groups') g) || ' ' ||
               (v.data->'task_groups'->1->'children'->0->>'group_id')
        FROM dag_version v JOIN dag_run dr ON dr.dag_version_id = v.id
        WHERE dr.dag_id = 'example_task_groups' AND dr.run_id = 'r1'")"

check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
