#!/usr/bin/env bash
# updraft standalone: a private Postgres and Redis under ./var/standalone,
# the schema, one scheduler, two workers and the webserver on
# 127.0.0.1:8080, loading examples/dags. Ctrl-C stops everything it started
# and keeps the data for the next start. Never touches a system-wide
# Postgres or Redis: its own run on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${UPDRAFT_STANDALONE_DIR:-$root/var/standalone}
bin=${UPDRAFT_BIN:-$root/bin}
mkdir -p "$dir/logs"
# shellcheck source=services.sh
source "$root/deploy/services.sh"

pids=()
stopping=0
stop_all() {
  [ "$stopping" -eq 1 ] && return
  stopping=1
  trap '' INT TERM   # a second Ctrl-C must not cut the shutdown short
  set +e             # best effort from here: stop everything we can
  echo
  echo "standalone: stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  svc_stop "$dir"
  echo "standalone: stopped; data kept in $dir"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

svc_start_pg "$dir"
svc_start_redis "$dir"
export UPDRAFT__CORE__DAGS_FOLDER=${UPDRAFT__CORE__DAGS_FOLDER:-$root/examples/dags}
# Standalone is for trying updraft: its example DAGs start unpaused.
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=${UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION:-false}
export UPDRAFT__WEBSERVER__LISTEN=${UPDRAFT__WEBSERVER__LISTEN:-127.0.0.1:8080}
# As dag-factory's examples: DAG files name their Python callables under it.
export CONFIG_ROOT_DIR=${CONFIG_ROOT_DIR:-$UPDRAFT__CORE__DAGS_FOLDER}
# The example HTTP task calls this webserver's own /health.
export UPDRAFT_CONN_LOCAL_API=${UPDRAFT_CONN_LOCAL_API:-http://$UPDRAFT__WEBSERVER__LISTEN}

"$bin/updraft" db migrate
# shellcheck source=standalone-admin.sh
source "$root/deploy/standalone-admin.sh"
login=$(standalone_admin "$bin" "$dir")

# A worker refuses to run tasks as root unless told (docs/security.md "Task
# isolation and secrets"). Started as root with neither setting made,
# standalone runs tasks as nobody when nobody can read the DAG folder, and
# otherwise (a checkout under /root, say) as root, saying so.
if [ "$(id -u)" -eq 0 ]; then
  cfg=$("$bin/updraft" --print-config)
  if grep -qx '  default_run_as_user: ""' <<<"$cfg" && grep -qx '  allow_root_tasks: false' <<<"$cfg"; then
    # nobody must also run the worker's binary: it is the operator runner.
    if runuser -u nobody -- test -r "$UPDRAFT__CORE__DAGS_FOLDER" -a -x "$UPDRAFT__CORE__DAGS_FOLDER" \
      -a -x "$bin/updraft-worker"; then
      export UPDRAFT__WORKER__DEFAULT_RUN_AS_USER=nobody
    else
      echo "standalone: user nobody cannot read $UPDRAFT__CORE__DAGS_FOLDER or run $bin/updraft-worker, so tasks run as root"
      export UPDRAFT__WORKER__ALLOW_ROOT_TASKS=true
    fi
  fi
fi

start() {
  local name=$1; shift
  "$@" >>"$dir/logs/$name.log" 2>&1 &
  pids+=($!)
}
start scheduler "$bin/updraft-scheduler"
start worker-1 "$bin/updraft-worker" --hostname "$(hostname)-1"
# The second worker also serves the example DAGs' other queues (example_queues.yaml).
start worker-2 "$bin/updraft-worker" --hostname "$(hostname)-2" --queues default,io,cpu
start webserver "$bin/updraft-webserver"

cat <<TXT

updraft standalone is running.

  ************************************************************************
  $login
  (kept in $dir/standalone_admin_password.txt)
  ************************************************************************

  web server / REST API : http://$UPDRAFT__WEBSERVER__LISTEN/api/v1/dags
  health                : http://$UPDRAFT__WEBSERVER__LISTEN/health
  DAG folder            : $UPDRAFT__CORE__DAGS_FOLDER
  daemon logs           : $dir/logs/
  tasks run as          : ${UPDRAFT__WORKER__DEFAULT_RUN_AS_USER:-$(id -un)}
  metadata database     : $UPDRAFT__DATABASE__URL
  CLI (in another shell): UPDRAFT__DATABASE__URL=$UPDRAFT__DATABASE__URL $bin/updraft dags list
Press Ctrl-C to stop.
TXT

# Exit (and stop the rest) when any daemon dies.
wait -n "${pids[@]}" || true
echo "standalone: a daemon exited; see $dir/logs/"
