#!/usr/bin/env bash
# dag-factory's own example files, validated as they are (`updraft dags
# validate`, no database): every file whose tasks need no Python loads, and
# the files dag-factory 1.x itself refuses are refused with dag-factory's
# reason. The examples are dag-factory's (Apache 2.0), kept unchanged in
# tests/dag-factory/examples; $DAG_FACTORY_EXAMPLES points elsewhere.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/assert.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

root=${DAG_FACTORY_EXAMPLES:-tests/dag-factory/examples}

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# validates FILE: no error (warnings for keys updraft ignores are allowed)
validates() {
  if "$BIN/updraft" dags validate "$root/$1" >"$out" 2>&1; then
    ok "$1 validates"
  else
    not_ok "$1 validates" "$(grep -v ': warning:' "$out" | head -3 | tr '\n' ' ')"
  fi
}
# refused FILE REASON: exit 1 and an error at a position that contains REASON
refused() {
  if "$BIN/updraft" dags validate "$root/$1" >"$out" 2>&1; then
    not_ok "$1 is refused ($2)" "it validated"
  elif grep -v ': warning:' "$out" | grep -qE "^[^ ]+:[0-9]+:[0-9]+: .*$2"; then
    ok "$1 is refused ($2)"
  else
    not_ok "$1 is refused ($2)" "$(grep -v ': warning:' "$out" | head -3 | tr '\n' ' ')"
  fi
}

# --- shell-only examples (BashOperator / EmptyOperator tasks)
for v in airflow2 airflow3; do
  validates current/dev/dags/$v/example_dag_factory_default_args.yml
  validates current/dev/dags/$v/example_custom_py_object_dag.yml
  validates current/dev/dags/$v/example_jinja2_template_dag.yml
  validates current/dev/dags/$v/example_task_group.yml
  validates current/dev/dags/$v/example_user_defined_macros.yml
  validates current/dev/dags/$v/example_dag_factory_multiple_config.yml
  validates current/dev/dags/$v/example_params.yml
  # dynamic task mapping over bash_command, start_date: 2 days (relative)
  validates current/dev/dags/$v/example_dynamic_task_mapping.yml
  # dag-factory merges `default` into each DAG key by key: a DAG's own task
  # list replaces the default one, so its task 'load' has no operator and
  # dag-factory fails to build the task
  refused current/dev/dags/$v/example_dag_factory_default_config.yml "task 'load' has no operator"
done
validates current/dev/dags/example_dag_factory.yml
validates current/dev/dags/example_callbacks.yml
validates current/dev/dags/example_dag_factory_default_config_dict.yml
validates current/dev/dags/example_dag_factory_tasks_taskgroups_as_dict_format.yml
validates current/dev/dags/example_timetable_schedule.yml
validates current/dev/dags/example_object_storage.yml
validates current/dev/dags/example_http_operator_task.yml
validates current/dev/dags/example_simple_http_operator_task.yml
validates current/dev/dags/comparison/example_hackernews_dagfactory.yml
validates current/scripts/airflow3/dags/example_dag_factory.yml
# dag-factory's test fixtures that need no Python
validates current/tests/fixtures/dag_factory_no_or_none_string_schedule.yml
validates current/tests/fixtures/dag_factory_schedule_interval.yml
validates current/tests/fixtures/dag_factory_task_group.yml
validates current/tests/fixtures/dag_factory_http_operator_task.yml
validates current/tests/fixtures/dag_factory_simple_http_operator_task.yml
validates current/tests/fixtures_without_default_yaml/dag_factory_timezone.yml
validates current/tests/fixtures_without_default_yaml/dag_md_docs.yml
# files that are not valid YAML, or hold a date that is not one
refused current/dev/dags/invalid.yaml "invalid yaml"
refused current/tests/fixtures/invalid_yaml.yml "invalid yaml"
refused current/tests/fixtures_without_default_yaml/invalid_dag_factory.yml \
  "start_date must be a date such as 2024-01-01 or 2024-01-01T10:00:00, not '205-01-01-01'"

# --- variables_as_arguments: the key is read (the file's default end_date,
# 2018-03-05, is before its relative start_date: that is the only error left)
"$BIN/updraft" dags validate "$root/current/tests/fixtures/dag_factory_variables_as_arguments.yml" >"$out" 2>&1
check_eq "variables_as_arguments is a known task key" 0 "$(grep -c "key 'variables_as_arguments'" "$out")"
check_eq "the fixture's remaining errors are its end_date before its relative start_date" \
  "end_date of dag 'example_dag' is before its start_date|end_date of dag 'second_example_dag' is before its start_date" \
  "$(grep -v ': warning:' "$out" | grep -v '^1 file' | sed 's/^[^ ]* //' | paste -sd'|')"

echo "1..$T_N"
[ "${T_FAILED:-0}" -eq 0 ]
