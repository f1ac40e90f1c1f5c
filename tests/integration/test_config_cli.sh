#!/usr/bin/env bash
# `updraft config list|get-value` (cli/cmd_config.c), as Airflow's
# `airflow config`: the values in effect (file < environment), secrets
# hidden, an unknown key an error with exit 1; no database is involved.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${UPDRAFT_BIN:-$PWD/bin}
source tests/lib/assert.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for v in $(env | grep -o '^UPDRAFT__[A-Z_]*'); do unset "$v"; done
printf 'scheduler:\n  dag_dir_list_interval: 9\nworker:\n  concurrency: 3\n' >"$tmp/u.yaml"
export UPDRAFT_CONFIG=$tmp/u.yaml
export UPDRAFT__WORKER__CONCURRENCY=7
export UPDRAFT__DATABASE__URL=postgresql://app:s3cr3t-pw@db.internal/updraft
export UPDRAFT__CORE__FERNET_KEY=aGu3Lm2tJ5hxxkBybqlUbHnHsPQwVRcZf4B5gxt4bDA=

list=$("$BIN/updraft" config list); rc=$?
check_eq "config list exits 0" 0 "$rc"
check "it prints INI sections in the table's order" \
  test "$(grep -n '^\[core\]$' <<<"$list" | cut -d: -f1)" -lt "$(grep -n '^\[alerts\]$' <<<"$list" | cut -d: -f1)"
check "a value from the file" grep -qx 'dag_dir_list_interval = 9' <<<"$list"
check "the environment wins over the file" grep -qx 'concurrency = 7' <<<"$list"
check "a default" grep -qx 'dags_folder = ./dags' <<<"$list"
check_eq "every key once" "$("$BIN/updraft" config list --markdown | grep -c '^| `')" "$(grep -c ' = ' <<<"$list")"
check_eq "no secret is printed" 0 "$(grep -c 's3cr3t-pw\|aGu3Lm2t' <<<"$list")"
check "secrets are hidden as the API hides them" grep -qx 'url = < hidden >' <<<"$list"
check "the fernet key too" grep -qx 'fernet_key = < hidden >' <<<"$list"
check "--defaults ignores the file and the environment" \
  grep -qx 'concurrency = 16' <<<"$("$BIN/updraft" config list --defaults)"

check_eq "get-value prints the value in effect" 7 "$("$BIN/updraft" config get-value worker concurrency)"
check_eq "a boolean" true "$("$BIN/updraft" config get-value core dags_are_paused_at_creation)"
check_eq "a secret is hidden" "< hidden >" "$("$BIN/updraft" config get-value database url)"
out=$("$BIN/updraft" config get-value core no_such_key 2>&1); rc=$?
check_eq "an unknown key exits 1" 1 "$rc"
check_eq "and says which" "updraft: the option [core/no_such_key] is not found in the configuration" "$out"
out=$("$BIN/updraft" config get-value worker 2>&1); rc=$?
check_eq "a missing argument is a usage error (exit 2)" 2 "$rc"
out=$("$BIN/updraft" config list --bogus 2>&1); rc=$?
check_eq "an unknown option is a usage error (exit 2)" 2 "$rc"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
