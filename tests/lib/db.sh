# Database and daemon helpers of the integration tests; harness.sh sources
# this file, so a script has them after `source tests/lib/harness.sh`.
#
#   q SQL                 runs SQL quietly (tuples only, unaligned): prints the value(s)
#   q_tags SQL            the same, but psql also prints command tags ("INSERT 0 1")
#   q_is EXPECTED SQL     the query prints EXPECTED (for wait_for)
#   rcli ARGS...          redis-cli against the private Redis
#   run_state DAG [RUN]   the state of a DAG run (RUN defaults to $T_RUN_ID)
#   run_done DAG [RUN]    the run has finished (success or failed)
#   wait_run DAG RUN SEC  waits up to SEC seconds for run_done
#   api_run_state DAG RUN / api_run_done DAG RUN
#                         the same read through the REST API at $api
#   start_scheduler [LOG [ARGS...]]
#   start_worker LOG HOSTNAME CONCURRENCY [ARGS...]
#   start_webserver [LOG [ARGS...]]
#                         start a daemon from $BIN in the background, its output in
#                         $tmp/LOG.log (default: the program's name); the pid is
#                         in $! and joins pids, so t_cleanup stops it

q() { svc_psql -q -c "$1"; }
q_tags() { svc_psql -c "$1"; }

run_state() { q "SELECT state FROM dag_run WHERE dag_id = '$1' AND run_id = '${2:-${T_RUN_ID:-}}'"; }
run_done() { case "$(run_state "$@")" in success | failed) return 0 ;; esac; return 1; }
wait_run() { wait_for "$3" run_done "$1" "$2"; }

api_run_state() { curl -sf "$api/dags/$1/dagRuns/$2" | jq -r .state; }
api_run_done() { json_ok "$api/dags/$1/dagRuns/$2" '.state == "success" or .state == "failed"'; }

start_scheduler() {
  local log=${1:-scheduler}
  [ $# -gt 0 ] && shift
  "$BIN/updraft-scheduler" "$@" >"$tmp/$log.log" 2>&1 &
  pids+=($!)
}

start_worker() {
  local log=$1 host=$2 conc=$3
  shift 3
  "$BIN/updraft-worker" --hostname "$host" --concurrency "$conc" "$@" >"$tmp/$log.log" 2>&1 &
  pids+=($!)
}

start_webserver() {
  local log=${1:-webserver}
  [ $# -gt 0 ] && shift
  "$BIN/updraft-webserver" "$@" >"$tmp/$log.log" 2>&1 &
  pids+=($!)
}

# q_is EXPECTED SQL: the query prints EXPECTED (for wait_for)
q_is() { [ "$(q "$2" 2>/dev/null)" = "$1" ]; }

rcli() { redis-cli -p "$SVC_REDIS_PORT" "$@"; }
