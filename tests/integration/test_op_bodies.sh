#!/usr/bin/env bash
# The operator bodies (worker/op_http.c, op_sql.c, op_sensors.c) against a
# private, migrated Postgres: runs the cmocka program build/tests/test_ops
# with UPDRAFT_TEST_PG_URL set, so that its SQL operator, SqlSensor and
# ExternalTaskSensor tests run (make test runs the same program without a
# database, where they are skipped). Each cmocka test is one TAP line; a
# skipped test fails here.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
O=${O:-build}
prog=$O/tests/test_ops

if [ ! -x "$prog" ]; then
  make --no-print-directory -s "$prog" >/dev/null 2>&1 || true
fi
if [ ! -x "$prog" ]; then
  not_ok "test program $prog is built"
  exit 1
fi

t_setup
check "db migrate" "$BIN/updraft" db migrate

out=$tmp/test_ops.log
UPDRAFT_TEST_PG_URL=$UPDRAFT__DATABASE__URL timeout 120 "$prog" >"$out" 2>&1
rc=$?

n_ok=0
while IFS= read -r line; do
  case "$line" in
    "[       OK ] "*) ok "${line#\[       OK \] }"; n_ok=$((n_ok + 1)) ;;
    "[  FAILED  ] test_"*) not_ok "${line#\[  FAILED  \] }" ;;
    "[  SKIPPED ] test_"*) not_ok "${line#\[  SKIPPED \] } (skipped)" ;;
  esac
done < <(grep -E '^\[ +(OK|FAILED|SKIPPED) +\] test_' "$out" | sort -u)
check_eq "test_ops exit status" 0 "$rc"
if [ "$rc" -ne 0 ] || [ "$T_FAILED" -ne 0 ]; then
  sed 's/^/# /' "$out" | grep -v '^# \[ \(RUN\|       OK\) ' | tail -60
fi
[ "$n_ok" -gt 0 ] || not_ok "test_ops ran tests"
