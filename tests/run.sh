#!/usr/bin/env bash
# Runs every test and ends with one line "N passed, N failed, N skipped".
#   unit:        every cmocka binary in $O/tests/test_*
#   fuzz replay: every fuzz target over its checked-in corpus (one check each)
#   integration: every tests/integration/test_*.sh and tests/cluster/test_*.sh (TAP-style "ok"/"not ok"
#                lines; "ok N - ... # SKIP reason" counts as skipped, never as passed)
#   check:       every tests/check/*.sh (the house rules: include direction, SQL only in lib/store,
#                formatting, no .c included by a test); one check each, its findings printed when it fails
#   bench:       the quick benchmark run (it must run; timings are not asserted)
# ONLY=unit|fuzz|integration|check|bench limits the run; SKIP_BENCH=1 leaves the benchmark out. Exit status 1 when anything failed.
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
BIN=${BIN:-bin}
export UPDRAFT_BIN=$PWD/$BIN
ONLY=${ONLY:-}
passed=0
failed=0
skipped=0
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

if want unit; then
  for t in "$O"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out="$logdir/$name.log"
    "$t" >"$out" 2>&1
    rc=$?
    p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$out" | grep -Eo '[0-9]+$' | tail -1)
    f=$(grep -Eo '^\[  FAILED  \] [0-9]+' "$out" | grep -Eo '[0-9]+$' | tail -1)
    k=$(grep -Eo '^\[  SKIPPED \] [0-9]+' "$out" | grep -Eo '[0-9]+$' | tail -1)
    p=${p:-0}; f=${f:-0}; k=${k:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed before reporting
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
    echo "unit $name: $p passed, $f failed, $k skipped"
    if [ "$f" -ne 0 ]; then
      grep -E '^\[  (FAILED|ERROR) +\]|^\[  ERROR   \]' "$out" | sed 's/^/    /'
      echo "    -- log tail --"
      sed 's/^/    /' "$out" | grep -v '^\s*\[ \(RUN\|       OK\) ' | tail -40
    fi
  done
fi

if want fuzz; then
  for t in "$O"/tests/fuzz_*; do
    [ -x "$t" ] || continue
    name=${t##*/fuzz_}
    corpus=tests/fuzz/corpus/$name
    if [ ! -d "$corpus" ]; then
      echo "fuzz $name: no corpus at $corpus"; failed=$((failed + 1)); continue
    fi
    if "$t" "$corpus" >"$logdir/fuzz_$name.log" 2>&1; then
      passed=$((passed + 1)); echo "fuzz $name: $(tail -1 "$logdir/fuzz_$name.log")"
    else
      failed=$((failed + 1)); echo "fuzz $name: FAILED"; tail -30 "$logdir/fuzz_$name.log" | sed 's/^/    /'
    fi
  done
fi

if want integration; then
  for s in tests/integration/test_*.sh tests/cluster/test_*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s" .sh)
    out="$logdir/$name.log"
    timeout 600 bash "$s" >"$out" 2>&1
    rc=$?
    k=$(grep -Eic '^ok [0-9]+.*# *skip' "$out")
    p=$(( $(grep -c '^ok ' "$out") - k ))
    f=$(grep -c '^not ok ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "integration $name: exited $rc"; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
    echo "integration $name: $p passed, $f failed, $k skipped"
    [ "$k" -ne 0 ] && grep -Ei '^ok [0-9]+.*# *skip' "$out" | sed 's/^/    /'
    if [ "$f" -ne 0 ]; then
      # The failing checks themselves first (with their "#" detail lines),
      # then the end of the log for context.
      awk '/^not ok /{show=1; print; next} show && /^#/{print; next} {show=0}' "$out" | sed 's/^/    /'
      echo "    -- log tail --"
      grep -v '^ok ' "$out" | tail -60 | sed 's/^/    /'
    fi
  done
fi

if want check; then
  for c in tests/check/*.sh; do
    [ -f "$c" ] || continue
    name=$(basename "$c" .sh)
    out="$logdir/check_$name.log"
    if timeout 300 bash "$c" >"$out" 2>&1; then
      passed=$((passed + 1)); echo "check $name: $(tail -1 "$out")"
    else
      failed=$((failed + 1)); echo "check $name: FAILED ($(tail -1 "$out"))"
      head -n -1 "$out" | head -40 | sed 's/^/    /'
      [ "$(wc -l <"$out")" -gt 41 ] && echo "    ... ($(($(wc -l <"$out") - 41)) more)"
    fi
  done
fi

# The quick benchmark run proves the harness works; its timings are not tests.
if want bench && [ -f tests/bench/run.sh ] && [ "${SKIP_BENCH:-0}" != 1 ]; then
  if BIN=$BIN timeout 300 bash tests/bench/run.sh --quick >"$logdir/bench.log" 2>&1; then
    passed=$((passed + 1)); echo "bench-quick: ran (see tests/bench/results/)"
  else
    failed=$((failed + 1)); echo "bench-quick: FAILED"; tail -40 "$logdir/bench.log" | sed 's/^/    /'
  fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
