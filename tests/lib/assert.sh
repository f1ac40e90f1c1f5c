# Tiny TAP-style assertions for integration tests. tests/run.sh counts
# lines starting "ok " and "not ok ".
T_N=0
T_FAILED=0
ok()      { T_N=$((T_N+1)); echo "ok $T_N - $1"; }
not_ok()  { T_N=$((T_N+1)); T_FAILED=$((T_FAILED+1)); echo "not ok $T_N - $1"; [ -n "${2:-}" ] && echo "#   $2"; return 0; }
# check NAME CMD...: passes when CMD succeeds
check()   { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "command failed: $*"; fi; }
# check_eq NAME EXPECTED ACTUAL
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected '$2', got '$3'"; fi; }
# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds; 1 on timeout
wait_for() { local deadline=$(( $(date +%s) + $1 )); shift
  while ! "$@" >/dev/null 2>&1; do [ "$(date +%s)" -ge "$deadline" ] && return 1; sleep 0.05; done; }
# json_ok URL FILTER: the request succeeds and jq -e FILTER holds on its body.
# (jq 1.6's -e exits 0 on empty input, so "curl -sf URL | jq -e F" passes
# when nothing answers; never pipe curl into jq -e directly.)
json_ok() { local body; body=$(curl -sf "$1") && [ -n "$body" ] && jq -e "$2" <<<"$body" >/dev/null; }
