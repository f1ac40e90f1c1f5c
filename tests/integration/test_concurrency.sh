#!/usr/bin/env bash
# Concurrency of the claim and the critical section, in the spirit of
# PostgreSQL's isolation tests, against real Postgres and Redis: two
# schedulers queue the same runs while four workers race for every message,
# and a flood of duplicate stream entries (each message re-sent many times)
# races the claims. Invariants, from the database and the tasks' own side
# effects: no (task instance, try) runs twice, a 3-slot pool is never
# oversubscribed (sampled while it runs), every task ran exactly once.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
mkdir -p "$tmp/dags"
side=$tmp/side.txt
: >"$side"
{
  printf 'cc_pool:\n  schedule: null\n  start_date: 2024-01-01\n  max_active_tasks: 200\n'
  printf '  default_args: {pool: tiny}\n  tasks:\n'
  for i in $(seq 1 120); do
    printf "    - {task_id: p%03d, operator: bash, bash_command: 'echo \"\$UPDRAFT_RUN_ID \$UPDRAFT_TASK_ID \$UPDRAFT_TRY_NUMBER\" >> %s; sleep 0.05'}\n" "$i" "$side"
  done
  printf 'cc_wide:\n  schedule: null\n  start_date: 2024-01-01\n  max_active_tasks: 500\n  tasks:\n'
  for i in $(seq 1 300); do
    printf "    - {task_id: w%03d, operator: bash, bash_command: 'echo \"\$UPDRAFT_RUN_ID \$UPDRAFT_TASK_ID \$UPDRAFT_TRY_NUMBER\" >> %s'}\n" "$i" "$side"
  done
} >"$tmp/dags/cc.yaml"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__QUEUED_RESEND_AFTER_SEC=1
check "db migrate" "$BIN/updraft" db migrate >/dev/null
"$BIN/updraft" pools set tiny 3 "three slots" >/dev/null || not_ok "pool tiny"

for s in 1 2; do start_scheduler "scheduler$s"; done
for w in 1 2 3 4; do start_worker "worker$w" "w$w" 8; done
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id LIKE 'cc\_%' AND version_id IS NOT NULL")" = 2 ]; }
check "DAGs are parsed" wait_for 30 dags_in

# Duplicate every stream entry again and again while the runs go.
(
  for _ in $(seq 1 150); do
    redis-cli -p "$SVC_REDIS_PORT" EVAL "
      local e = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 200)
      for _, x in ipairs(e) do
        for k = 1, 3 do redis.call('XADD', KEYS[1], '*', unpack(x[2])) end
      end
      return #e" 1 updraft:q:default >>"$tmp/dups.txt" 2>&1
    sleep 0.05
  done
) & dup=$!; pids+=($dup)

for r in 1 2; do
  "$BIN/updraft" dags trigger cc_pool --run-id p$r >/dev/null 2>&1 || not_ok "trigger cc_pool p$r"
  "$BIN/updraft" dags trigger cc_wide --run-id w$r >/dev/null 2>&1 || not_ok "trigger cc_wide w$r"
done
max_used=0 samples=0
all_done() { [ "$(q "SELECT count(*) FROM dag_run WHERE dag_id LIKE 'cc\_%' AND state IN ('success', 'failed')")" = 4 ]; }
deadline=$(( $(date +%s) + 120 ))
while ! all_done && [ "$(date +%s)" -lt "$deadline" ]; do
  used=$(q "SELECT coalesce(sum(pool_slots), 0) FROM task_instance WHERE pool = 'tiny' AND state IN ('queued', 'running')")
  samples=$((samples + 1))
  [ "$used" -gt "$max_used" ] && max_used=$used
  sleep 0.05
done
kill "$dup" 2>/dev/null
dups=$(awk '{s += $1} END {print s + 0}' "$tmp/dups.txt")
echo "# $samples samples of the pool, at most $max_used slots used; $dups stream entries duplicated 3 times each"
check "all four runs finished" all_done
check_eq "every run succeeded" 4 "$(q "SELECT count(*) FROM dag_run WHERE dag_id LIKE 'cc\_%' AND state = 'success'")"
check "the pool was sampled while busy and never held more than its 3 slots" test "$max_used" -le 3 -a "$max_used" -ge 1 -a "$samples" -ge 10
check "duplicates were in the stream" test "$dups" -gt 0
q "CREATE TABLE side (run_id text, task_id text, try int)" >/dev/null
svc_psql -c "\copy side FROM '$side' WITH (DELIMITER ' ')" >/dev/null
check_eq "every task ran exactly once (840 executions, one per task instance)" "840 840" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT (run_id, task_id)) FROM side")"
check_eq "and as its first try" 0 "$(q "SELECT count(*) FROM side WHERE try <> 1")"
check_eq "no duplicate message started a second execution (stale claims fenced)" "840 1" \
  "$(q "SELECT count(*) || ' ' || max(try_number) FROM task_instance WHERE dag_id LIKE 'cc\_%'")"
check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
