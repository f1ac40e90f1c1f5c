#!/usr/bin/env bash
# .airflowignore in the DAG folder (model/dagignore.h): the scheduler's
# DAG processor does not list what the ignore files match, in the default
# glob syntax and in core.dag_ignore_file_syntax: regexp; patterns of a
# subfolder's file apply below it only; a DAG whose file becomes ignored
# goes inactive like a deleted file's and comes back when the pattern goes;
# a bad regexp line is reported once, and an unknown syntax is refused.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${UPDRAFT_BIN:-$PWD/bin}
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh

t_setup
check "db migrate" "$BIN/updraft" db migrate >/dev/null
D=$tmp/dags
mkdir -p "$D/scratch" "$D/team/inner" "$D/team/keep_me"
dag() { printf '%s:\n  schedule: null\n  start_date: 2024-01-01T00:00:00\n  tasks:\n    - {task_id: t, operator: empty}\n' "$1" >"$D/$2"; }
dag a a.yaml
dag skipped_test skip_test.yaml
dag in_scratch scratch/b.yaml
dag team_c team/c.yaml
dag team_inner_c team/inner/c.yaml
dag team_d team/d.yaml
dag kept_tmp team/keep_me/x.tmp.yaml
dag other_tmp y.tmp.yaml
printf '# tests, scratch work and temporary files\n*_test.yaml\nscratch/   # a folder\n*.tmp.yaml\n' >"$D/.airflowignore"
printf '/c.yaml\n!keep_me/*.tmp.yaml\n' >"$D/team/.airflowignore"

export UPDRAFT__CORE__DAGS_FOLDER=$D
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
active() { q "SELECT coalesce(string_agg(dag_id, ' ' ORDER BY dag_id), '') FROM dag WHERE is_active"; }
wait_active() { # expected
  for _ in $(seq 1 100); do [ "$(active)" = "$1" ] && return 0; sleep 0.2; done
  return 1
}

start_scheduler scheduler1; s=$!
check "glob (the default): the active DAGs are those of the files not ignored" \
  wait_active "a kept_tmp team_d team_inner_c"
check_eq "the active DAGs" "a kept_tmp team_d team_inner_c" "$(active)"
check_eq "no ignored file was parsed (no DAG row, no import error)" "0 0" \
  "$(q "SELECT (SELECT count(*) FROM dag WHERE dag_id IN ('skipped_test', 'in_scratch', 'team_c', 'other_tmp'))
          || ' ' || (SELECT count(*) FROM import_error)")"

printf '/a.yaml\n' >>"$D/.airflowignore"
check "a DAG whose file becomes ignored goes inactive" wait_active "kept_tmp team_d team_inner_c"
check_eq "and stays in the database as a deleted file's DAG" "f" "$(q "SELECT is_active FROM dag WHERE dag_id = 'a'")"
sed -i '/^\/a.yaml$/d' "$D/.airflowignore"
check "and comes back when the pattern goes" wait_active "a kept_tmp team_d team_inner_c"
kill -TERM "$s"; wait "$s" 2>/dev/null

# regexp: a search in the path relative to the ignore file's folder
printf '_test\\.yaml$\n^scratch\n[.]tmp[.]\n(unclosed\n' >"$D/.airflowignore"
printf '^c\\.yaml$\n' >"$D/team/.airflowignore"
UPDRAFT__CORE__DAG_IGNORE_FILE_SYNTAX=regexp start_scheduler scheduler2; s=$!
check "regexp: the same files are ignored, and the re-include is not a regexp feature" \
  wait_active "a team_d team_inner_c"
sleep 2.5 # a few more scans
check_eq "a bad regexp line is reported once, with its line" 1 \
  "$(grep -c "ignore file patterns skipped path=$D/.airflowignore count=1 first=\"line 4: '(unclosed' is not a regular expression" "$tmp/scheduler2.log")"
kill -TERM "$s"; wait "$s" 2>/dev/null

out=$(UPDRAFT__CORE__DAG_IGNORE_FILE_SYNTAX=gitignore timeout 20 "$BIN/updraft-scheduler" 2>&1); rc=$?
check "an unknown syntax stops the scheduler (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "and says which values it takes" grep -q "core.dag_ignore_file_syntax: 'gitignore' is not an ignore file syntax (regexp, glob)" <<<"$out"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
