#!/usr/bin/env bash
# Redis failover under Sentinel: a master, one replica and three sentinels
# (redis-server --sentinel) on loopback, all with passwords; a scheduler and
# two workers that know only the sentinels (redis.url names a port where
# nothing listens, but carries the password and database 2). A DAG of 120
# tasks runs; when a sixth has succeeded the test kill -9s the master.
# The sentinels promote the replica, the daemons follow it, and:
#   - every task instance ends success, with one try, executed exactly once
#     (each task appends "task try" to a side-effect file);
#   - the queues live in database 2 of the promoted node;
#   - a duplicate message for a finished try, published on the new master,
#     is dropped by the worker's claim (Postgres's fencing), not run again.
# Then the killed node comes back (the sentinels make it a replica) and a
# planned failover (SENTINEL FAILOVER) moves the master back to it while a
# second run is in flight: the demoted master is alive this time, and the
# daemons must leave it for the new one. The same checks hold.
# Messages that Redis lost in the failover are the scheduler's resend pass's
# to recover; each run must still finish within a bound.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
T_LOG_TAIL=25

if ! redis-server --version 2>/dev/null | grep -qE 'v=([6-9]|[1-9][0-9])\.'; then
  echo "ok 1 # skip redis-server 6 or later is not installed (deploy/install-deps.sh)"
  exit 0
fi

PW=master-secret
SPW=sentinel-secret
t_cleanup_extra() {
  for f in "$tmp"/rs/*/redis.pid; do
    [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
  done
  return 0
}
t_setup

# ---- the Redis nodes: a master, a replica, three sentinels
mkdir -p "$tmp/rs"
# Five distinct free ports (svc_free_port may hand out one twice before it is bound).
ports=()
while [ ${#ports[@]} -lt 5 ]; do
  p=$(svc_free_port)
  printf '%s\n' "${ports[@]:-}" | grep -qx "$p" || ports+=("$p")
done
mport=${ports[0]} rport=${ports[1]}
sports=("${ports[@]:2:3}")
start_node() { # NAME PORT [ARGS...]
  local name=$1 port=$2
  shift 2
  mkdir -p "$tmp/rs/$name"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp/rs/$name" --save '' --appendonly no \
    --requirepass "$PW" --masterauth "$PW" --daemonize yes --pidfile "$tmp/rs/$name/redis.pid" \
    --logfile "$tmp/rs/$name/redis.log" "$@" >/dev/null
}
rc() { local port=$1; shift; REDISCLI_AUTH=$PW redis-cli -p "$port" "$@" 2>/dev/null; }
sc() { local port=$1; shift; REDISCLI_AUTH=$SPW redis-cli -p "$port" "$@" 2>/dev/null; }
start_node master "$mport"
start_node replica "$rport" --replicaof 127.0.0.1 "$mport"

for i in 1 2 3; do
  p=${sports[$((i - 1))]}
  mkdir -p "$tmp/rs/s$i"
  cat >"$tmp/rs/s$i/sentinel.conf" <<EOF
bind 127.0.0.1
port $p
daemonize yes
pidfile $tmp/rs/s$i/redis.pid
logfile $tmp/rs/s$i/redis.log
dir $tmp/rs/s$i
requirepass $SPW
sentinel monitor mymaster 127.0.0.1 $mport 2
sentinel auth-pass mymaster $PW
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 5000
sentinel parallel-syncs mymaster 1
EOF
  redis-server "$tmp/rs/s$i/sentinel.conf" --sentinel >/dev/null
done

master_addr() { sc "${sports[0]}" sentinel get-master-addr-by-name mymaster | paste -sd:; }
replica_synced() { rc "$rport" info replication | grep -q '^master_link_status:up'; }
sentinels_agree() { # every sentinel knows the others and the replica
  for p in "${sports[@]}"; do
    [ "$(sc "$p" sentinel master mymaster | awk 'prev == "num-other-sentinels" {print} {prev = $0}')" = 2 ] || return 1
    [ "$(sc "$p" sentinel master mymaster | awk 'prev == "num-slaves" {print} {prev = $0}')" = 1 ] || return 1
  done
}
check "the replica is in sync with the master" wait_for 20 replica_synced
check "three sentinels watch the master and see each other and the replica" wait_for 30 sentinels_agree
check_eq "the sentinels name the master" "127.0.0.1:$mport" "$(master_addr)"

# ---- updraft, configured only through the sentinels
export UPDRAFT__REDIS__URL="redis://:$PW@127.0.0.1:1/2" # nothing listens on port 1
export UPDRAFT__REDIS__SENTINELS="127.0.0.1:${sports[0]}, 127.0.0.1:${sports[1]},127.0.0.1:${sports[2]}"
export UPDRAFT__REDIS__MASTER_NAME=mymaster
export UPDRAFT__REDIS__SENTINEL_PASSWORD=$SPW
export UPDRAFT__REDIS__TIMEOUT_MS=2000
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__QUEUED_RESEND_AFTER_SEC=3
export UPDRAFT__WORKER__HEARTBEAT_SEC=1

# 24 chains of 5 tasks: c01_1 -> c01_2 -> ... -> c01_5, and so on.
side=$tmp/side_effects.txt
: >"$side"
mkdir -p "$tmp/dags"
{
  printf 'failover:\n  schedule: null\n  start_date: 2024-01-01T00:00:00\n  max_active_tasks: 64\n'
  printf '  default_args: {retries: 0}\n  tasks:\n'
  cmd='echo "$UPDRAFT_RUN_ID $UPDRAFT_TASK_ID $UPDRAFT_TRY_NUMBER" >> '"$side"'; sleep 0.$((RANDOM % 5 + 4))'
  for c in $(seq -w 1 24); do
    for l in 1 2 3 4 5; do
      dep=""
      [ "$l" -gt 1 ] && dep=", dependencies: [c${c}_$((l - 1))]"
      printf "    - {task_id: c%s_%s, operator: bash, bash_command: '%s'%s}\n" "$c" "$l" "$cmd" "$dep"
    done
  done
} >"$tmp/dags/failover.yaml"
ntasks=120

"$BIN/updraft" db migrate >/dev/null || { not_ok "db migrate"; exit 1; }
start_scheduler
start_worker worker1 w1 4
start_worker worker2 w2 4
connected() { grep -q "redis master from sentinel master=127.0.0.1:$mport" "$tmp/$1.log"; }
check "the scheduler found the master through the sentinels" wait_for 30 connected scheduler
check "worker 1 found the master through the sentinels" wait_for 30 connected worker1
check "worker 2 found the master through the sentinels" wait_for 30 connected worker2

for _ in $(seq 1 300); do
  "$BIN/updraft" dags trigger failover --run-id r1 >/dev/null 2>&1 && break
  sleep 0.2
done
done_count() { q "SELECT count(*) FROM task_instance WHERE dag_id = 'failover' AND run_id = '$1' AND state = 'success'"; }
sixth_done() { [ "$(done_count "$1")" -ge 20 ]; }
run_state() { q "SELECT state FROM dag_run WHERE dag_id = 'failover' AND run_id = '$1'"; }
run_final() { case "$(run_state "$1")" in success | failed) return 0 ;; esac; return 1; }
# run_checks RUN: the run succeeded, every task once, on its first try
run_checks() {
  check_eq "$1: the run succeeded" success "$(run_state "$1")"
  check_eq "$1: every task instance succeeded on its first try" "$ntasks $ntasks" \
    "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE state = 'success' AND try_number = 1)
            FROM task_instance WHERE dag_id = 'failover' AND run_id = '$1'")"
  check_eq "$1: every task executed exactly once" "$ntasks 1 1" \
    "$(grep "^$1 " "$side" | sort | uniq -c | awk '{n++; if ($1 > max) max = $1; if ($4 > t) t = $4} END {print n, max, t}')"
}
check "a sixth of the tasks ran through the first master" wait_for 120 sixth_done r1
check "the queues are in database 2 of the first master" \
  test "$(rc "$mport" -n 2 exists updraft:q:default)" = 1

# ---- the failover
t0=$(date +%s)
before=$(done_count r1)
kill -KILL "$(cat "$tmp/rs/master/redis.pid")"
echo "# master killed with $before of $ntasks tasks done"
promoted() { [ "$(master_addr)" = "127.0.0.1:$rport" ] && rc "$rport" role | head -1 | grep -qx master; }
check "the sentinels promote the replica" wait_for 30 promoted
echo "# replica promoted after $(( $(date +%s) - t0 ))s"
moved() { grep -q "redis master from sentinel master=127.0.0.1:$rport" "$tmp/$1.log"; }
for d in scheduler worker1 worker2; do
  check "$d moved to the promoted replica" wait_for 30 moved "$d"
done
check "the run finishes within 180 s of the kill" wait_for 180 run_final r1
echo "# run finished $(( $(date +%s) - t0 ))s after the kill"
check "tasks ran after the failover" test "$(( $(done_count r1) - before ))" -ge 30
run_checks r1
check "the queues are in database 2 of the promoted replica" \
  test "$(rc "$rport" -n 2 exists updraft:q:default)" = 1

# ---- a planned failover back to the restarted node, the old master alive
start_node master "$mport"
is_replica() { rc "$mport" info replication | grep -q '^master_link_status:up'; }
check "the restarted node rejoins as a replica of the promoted one" wait_for 60 is_replica
sentinels_see_replica() {
  for p in "${sports[@]}"; do
    sc "$p" sentinel replicas mymaster | grep -qx "127.0.0.1:$mport" || return 1
  done
}
wait_for 30 sentinels_see_replica
for _ in $(seq 1 50); do
  "$BIN/updraft" dags trigger failover --run-id r2 >/dev/null 2>&1 && break
  sleep 0.2
done
check "a sixth of the second run's tasks ran" wait_for 120 sixth_done r2
t0=$(date +%s)
before=$(done_count r2)
on_m() { grep -c "redis master from sentinel master=127.0.0.1:$mport" "$tmp/$1.log"; }
declare -A seen
for d in scheduler worker1 worker2; do seen[$d]=$(on_m "$d"); done
moved_back() { [ "$(on_m "$1")" -gt "${seen[$1]}" ]; }
check_eq "the sentinels accept a planned failover" OK "$(sc "${sports[0]}" sentinel failover mymaster)"
echo "# planned failover with $before of $ntasks tasks done"
back() { [ "$(master_addr)" = "127.0.0.1:$mport" ] && rc "$mport" role | head -1 | grep -qx master &&
  rc "$rport" role | head -1 | grep -qx slave; }
check "the master moves back; the old one, alive, becomes a replica" wait_for 30 back
for d in scheduler worker1 worker2; do
  check "$d moved back to the restarted node" wait_for 30 moved_back "$d"
done
check "the second run finishes within 180 s of the failover" wait_for 180 run_final r2
echo "# second run finished $(( $(date +%s) - t0 ))s after the failover"
run_checks r2
echo "# READONLY/UNBLOCKED replies seen: $(cat "$tmp"/*.log | grep -c 'cannot serve the queues')"

# ---- the fencing claim: a duplicate of a finished try is not run again
ti=$(q "SELECT id FROM task_instance WHERE dag_id = 'failover' AND run_id = 'r1' AND task_id = 'c01_1'")
lines=$(wc -l <"$side")
rc "$mport" -n 2 xadd updraft:q:default '*' v 1 ti "$ti" try 1 t "$(date +%s)000000" >/dev/null
dropped() { cat "$tmp"/worker1.log "$tmp"/worker2.log | grep -q "stale message dropped ti=$ti try_number=1"; }
check "a worker drops a duplicate message for a finished try (the claim fences it)" wait_for 20 dropped
sleep 1
check_eq "the duplicate did not execute" "$lines" "$(wc -l <"$side")"
echo "# stale messages dropped by the claim during the test: $(cat "$tmp"/worker*.log | grep -c 'stale message dropped')"

check_eq "no password in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c -e "$PW" -e "$SPW")"
check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
