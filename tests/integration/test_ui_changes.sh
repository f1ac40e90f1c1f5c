#!/usr/bin/env bash
# Live pages (GET /ui/changes, webserver/livefeed.c): a page waiting on a
# DAG wakes when a run of that DAG changes, waits out its time when nothing
# does, and a token it cannot know (another webserver's, a restart's)
# counts from now instead of waking it at once.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
mkdir -p "$tmp/dags"
cat >"$tmp/dags/live.yaml" <<'EOF'
live:
  schedule: null
  tasks:
    - task_id: one
      operator: empty
EOF
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
check "db migrate" "$BIN/updraft" db migrate
start_scheduler scheduler
check "the scheduler parsed the DAG" wait_for 30 q_is 1 "SELECT count(*) FROM dag WHERE version_id IS NOT NULL"
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=4
base=http://127.0.0.1:$port
start_webserver webserver
check "webserver answers" wait_for 10 curl -sf -o /dev/null "$base/health"

tok=$(curl -s "$base/ui/changes" | jq -r .token)
check "a first call gives a token at once" test -n "$tok" -a "$tok" != null

# Nothing happens: the wait ends with changed false and the same token.
out=$(curl -s "$base/ui/changes?after=$tok&dag_id=live&wait_ms=1500")
check_eq "no change: changed false" false "$(jq -r .changed <<<"$out")"
check_eq "no change: the same token" "$tok" "$(jq -r .token <<<"$out")"

# A waiting page wakes when a run of its DAG is made.
curl -s "$base/ui/changes?after=$tok&dag_id=live" >"$tmp/wait.json" &
waiter=$!
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"dag_run_id": "live1"}' "$base/api/v1/dags/live/dagRuns")
check_eq "a run is triggered" 200 "$code"
wait "$waiter"
check_eq "the waiting page learns of it" true "$(jq -r .changed "$tmp/wait.json")"
check "with a newer token" test "$(jq -r .token "$tmp/wait.json")" != "$tok"

# A token of another webserver counts from now: it does not wake at once.
foreign="00000000-5"
[ "${tok%%-*}" = 00000000 ] && foreign="00000001-5"
out=$(curl -s "$base/ui/changes?after=$foreign&dag_id=live&wait_ms=1000")
check_eq "a foreign token waits like a new one" false "$(jq -r .changed <<<"$out")"

code=$(curl -s -o "$tmp/bad.json" -w '%{http_code}' "$base/ui/changes?after=nonsense")
check_eq "a malformed token: 400" 400 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/ui/changes?after=$tok&wait_ms=99999999")
check_eq "a wait beyond the limit: 400" 400 "$code"

t_cleanup
