#!/usr/bin/env bash
# Multi-host: hosts are Linux network namespaces joined by veth pairs on a
# bridge: one for Postgres and Redis, two scheduler hosts, three worker
# hosts, each reaching the database over its own link. DAG runs spread over
# every worker host; then one worker host is cut off (link down) for longer
# than scheduler.zombie_threshold_sec while it runs a try, and brought
# back: its try is retried on another host and its late result refused.
# Needs root and a kernel that allows `ip netns`; skipped with a message
# (one "ok # SKIP" line) where it is refused.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

tag=u$$
if [ "$(id -u)" -ne 0 ] || ! ip netns add "${tag}probe" 2>/dev/null; then
  echo "ok 1 - # SKIP network namespaces are not available here (needs root and ip netns)"
  exit 0
fi
ip netns del "${tag}probe"

tmp=$(mktemp -d)
chmod 755 "$tmp"
net=10.$((RANDOM % 200 + 20)).$((RANDOM % 250))
hosts="db s1 s2 w1 w2 w3"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
  for p in $(pgrep -f "updraft_netns_$tag"); do kill -KILL "$p" 2>/dev/null || true; done
  ip netns exec "${tag}db" redis-cli -h "$net.1" -a "${rpass:-}" --no-auth-warning shutdown nosave >/dev/null 2>&1
  [ -f "$tmp/pg/postmaster.pid" ] && svc_as_pg "$(svc_pg_bindir)/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1
  for h in $hosts; do ip netns del "$tag$h" 2>/dev/null; ip link del "$tag-$h" 2>/dev/null; done
  ip link del "${tag}br" 2>/dev/null
  if [ "${T_FAILED:-0}" -ne 0 ]; then
    for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "# --- $f"; tail -15 "$f" | sed 's/^/# /'; }; done
  fi
  [ -n "${KEEP_LOGS:-}" ] && cp "$tmp"/*.log "$KEEP_LOGS"/ 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the network: a bridge in the test's namespace, one veth per host ----------
ip link add "${tag}br" type bridge && ip link set "${tag}br" up || { not_ok "bridge"; exit 1; }
i=0
for h in $hosts; do
  i=$((i + 1))
  ip netns add "$tag$h"
  ip link add "$tag-$h" type veth peer name eth0 netns "$tag$h"
  ip link set "$tag-$h" master "${tag}br" up
  ip netns exec "$tag$h" ip addr add "$net.$i/24" dev eth0
  ip netns exec "$tag$h" ip link set eth0 up
  ip netns exec "$tag$h" ip link set lo up
  eval "ip_$h=$net.$i"
done
on() { local h=$1; shift; ip netns exec "$tag$h" "$@"; }
# start_on HOST LOG CMD...: a daemon on HOST in the background. `ip netns
# exec` execs CMD, so the pid kept is the daemon's own (a backgrounded `on`
# would keep a subshell's, and the daemon would outlive the test).
start_on() { local h=$1 log=$2; shift 2; ip netns exec "$tag$h" "$@" >"$log" 2>&1 & pids+=($!); }

# --- Postgres and Redis on the database host ---------------------------------------
bindir=$(svc_pg_bindir)
mkdir -p "$tmp/pg" && chown "$SVC_PG_USER" "$tmp/pg"
svc_as_pg "$bindir/initdb" -D "$tmp/pg" -U updraft --auth=trust -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1
echo "host all all $net.0/24 trust" >>"$tmp/pg/pg_hba.conf"
on db runuser -u "$SVC_PG_USER" -- "$bindir/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/server.log" -w -t 60 \
  -o "-h $ip_db -p 5432 -k '' -c max_connections=200" start >/dev/null
on db "$bindir/createdb" -h "$ip_db" -U updraft updraft
# Off loopback Redis wants a password (protected mode), as it should.
rpass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
on db redis-server --bind "$ip_db" --port 6379 --requirepass "$rpass" --save '' --appendonly no \
  --daemonize yes --logfile "$tmp/redis.log" >/dev/null
sleep 0.3
export UPDRAFT__DATABASE__URL="postgresql://updraft@$ip_db:5432/updraft"
export UPDRAFT__REDIS__URL="redis://:$rpass@$ip_db:6379/0"
services_reachable() {
  on s1 "$bindir/psql" "$UPDRAFT__DATABASE__URL" -tAc 'select 1' | grep -q 1 &&
    on w1 redis-cli -h "$ip_db" -a "$rpass" --no-auth-warning ping | grep -q PONG
}
check "the database host serves Postgres and Redis to the others" wait_for 10 services_reachable
q() { on s1 "$bindir/psql" "$UPDRAFT__DATABASE__URL" -v ON_ERROR_STOP=1 -tAXq -c "$1"; }

mkdir -p "$tmp/dags"
cat >"$tmp/dags/net.yaml" <<YAML
net_spread:
  schedule: null
  start_date: 2024-01-01
  max_active_tasks: 64
  tasks:
$(for k in $(seq 1 24); do printf '    - {task_id: t%02d, operator: bash, bash_command: "sleep 0.3; hostname"}\n' "$k"; done)
net_cut:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: long
      operator: bash
      bash_command: 'if [ "\$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then exec bash -c "sleep 40; true" updraft_netns_$tag; fi; echo retried'
      retries: 2
      retry_delay_sec: 0
      queue: cut
YAML
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__ZOMBIE_THRESHOLD_SEC=4
export UPDRAFT__SCHEDULER__ZOMBIE_DETECTION_INTERVAL_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__REDIS__TIMEOUT_MS=1000
migrate() { on s1 "$BIN/updraft" db migrate >/dev/null; }
check "db migrate from a scheduler host" migrate

for h in s1 s2; do
  start_on $h "$tmp/scheduler-$h.log" "$BIN/updraft-scheduler"
done
start_on w1 "$tmp/worker-w1.log" "$BIN/updraft-worker" --hostname w1 --queues default,cut --concurrency 8
start_on w2 "$tmp/worker-w2.log" "$BIN/updraft-worker" --hostname w2 --queues default --concurrency 8
start_on w3 "$tmp/worker-w3.log" "$BIN/updraft-worker" --hostname w3 --queues default,cut --concurrency 8
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id LIKE 'net\_%' AND version_id IS NOT NULL")" = 2 ]; }
check "DAGs are parsed" wait_for 40 dags_in

# --- runs spread over every worker host ------------------------------------------
for r in 1 2 3; do on s2 "$BIN/updraft" dags trigger net_spread --run-id r$r >/dev/null 2>&1 || not_ok "trigger r$r"; done
spread_done() { [ "$(q "SELECT count(*) FROM dag_run WHERE dag_id = 'net_spread' AND state = 'success'")" = 3 ]; }
check "three runs of 24 tasks succeed" wait_for 60 spread_done
check_eq "tasks ran on all three worker hosts" "w1 w2 w3" \
  "$(q "SELECT string_agg(DISTINCT hostname, ' ' ORDER BY hostname) FROM task_instance WHERE dag_id = 'net_spread'")"
check_eq "both schedulers are alive" 2 \
  "$(q "SELECT count(*) FROM job WHERE job_type = 'SchedulerJob' AND state = 'running' AND latest_heartbeat > now() - interval '10 s'")"

# --- a worker host cut off past the zombie threshold ---------------------------------
on s1 "$BIN/updraft" dags trigger net_cut --run-id c1 >/dev/null 2>&1 || not_ok "trigger net_cut"
running() { [ "$(q "SELECT state FROM task_instance WHERE dag_id = 'net_cut'")" = running ]; }
check "the long try runs" wait_for 30 running
victim=$(q "SELECT hostname FROM task_instance WHERE dag_id = 'net_cut'")
other=w1; [ "$victim" = w1 ] && other=w3
echo "# cutting off $victim"
ip link set "$tag-$victim" down
moved() { [ "$(q "SELECT state || ' ' || try_number || ' ' || hostname FROM task_instance WHERE dag_id = 'net_cut'")" = "success 2 $other" ]; }
check "the cut-off host's try is reaped and retried on the other host" wait_for 40 moved
old_try_alive() { pgrep -f "updraft_netns_$tag" >/dev/null; }
check "the old try still runs on the cut-off host meanwhile" old_try_alive
ip link set "$tag-$victim" up
echo "# $victim is back"
gone() { ! old_try_alive; }
check "back on the network, the worker kills its reaped try" wait_for 40 gone
check "its log says the guard failed" grep -q "try lost its guard" "$tmp/worker-$victim.log"
sleep 2
check_eq "its late result is refused: the task stays as try 2 left it" "success 2 $other" \
  "$(q "SELECT state || ' ' || try_number || ' ' || hostname FROM task_instance WHERE dag_id = 'net_cut'")"
check_eq "the run succeeded" success "$(q "SELECT state FROM dag_run WHERE dag_id = 'net_cut'")"
check_eq "the cut-off worker heart-beats again" 1 \
  "$(q "SELECT count(*) FROM job WHERE job_type = 'WorkerJob' AND hostname = '$victim' AND state = 'running' AND latest_heartbeat > now() - interval '5 s'")"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
