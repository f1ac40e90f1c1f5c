#!/usr/bin/env bash
# logging.format json: a scheduler, a worker, a webserver and the CLI run a
# small DAG (one task retried) with UPDRAFT__LOGGING__FORMAT=json at debug
# level; every line each writes to stderr is one JSON object with timestamp,
# level, component and message, and the lines about a try carry its dag_id,
# run_id, task_id and try_number. An unknown format stops a program.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
mkdir -p "$tmp/dags"
cat >"$tmp/dags/jl.yaml" <<'YAML'
jl_dag:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: hello, operator: bash, bash_command: 'echo "hello \"quoted\" é"'}
    - task_id: flaky
      operator: bash
      bash_command: 'if [ "$AIRFLOW_CTX_TRY_NUMBER" = 1 ]; then echo "first try fails" >&2; exit 3; fi; echo ok'
      retries: 1
      retry_delay_sec: 1
      dependencies: [hello]
jl_sleep:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: long, operator: bash, bash_command: 'sleep 60'}
YAML

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__LOGGING__FORMAT=json
export UPDRAFT__LOGGING__LEVEL=debug
# A misspelt variable: its warning comes before anything else, in JSON too.
export UPDRAFT__LOGGING__FROMAT=json
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port

out=$(UPDRAFT__LOGGING__FORMAT=yaml "$BIN/updraft-scheduler" 2>&1)
check "an unknown logging.format stops the scheduler" test $? -ne 0
check "and says why" grep -q "is not a log format (text, json)" <<<"$out"

migrate() { "$BIN/updraft" db migrate >/dev/null 2>"$tmp/cli-migrate.log"; }
check "db migrate" migrate
start_scheduler scheduler
start_worker worker w1 2
wpid=$!
start_webserver webserver
dag_in() { q_is 2 "SELECT count(*) FROM dag WHERE dag_id LIKE 'jl\_%' AND version_id IS NOT NULL"; }
check "the DAG is parsed" wait_for 30 dag_in
trigger() { "$BIN/updraft" dags trigger jl_dag --run-id jl_1 >/dev/null 2>"$tmp/cli-trigger.log"; }
check "dags trigger" trigger
check "the run finishes" wait_run jl_dag jl_1 60
check_eq "with success" success "$(run_state jl_dag jl_1)"
check_eq "flaky took two tries" 2 "$(q "SELECT try_number FROM task_instance WHERE dag_id = 'jl_dag' AND task_id = 'flaky'")"
health() { curl -sf "http://127.0.0.1:$port/api/v1/dags/jl_dag" >/dev/null; }
check "the webserver answers" wait_for 10 health

# The worker's task guard writes to the worker's stderr, in its format: a
# worker killed with a try running leaves the guard to stop the task and say so.
"$BIN/updraft" dags trigger jl_sleep --run-id jl_s >/dev/null 2>&1 || not_ok "trigger jl_sleep"
check "the long try runs" wait_for 30 q_is running "SELECT state FROM task_instance WHERE dag_id = 'jl_sleep'"
kill -KILL "$wpid"
guard_said() { grep -q '"component":"worker-guard"' "$tmp/worker.log"; }
check "the guard logs the worker's end" wait_for 15 guard_said

# Stop the daemons so that their logs are complete (the stop lines too).
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

# Every line of every log: one JSON object (strict UTF-8, one per line)
# with the four members as strings; prints "file lines" per file.
check_json() {
  python3 - "$@" <<'PY'
import json, sys
ok = True
for path in sys.argv[1:]:
    n = 0
    with open(path, 'rb') as f:
        for raw in f:
            n += 1
            try:
                o = json.loads(raw.decode('utf-8'))
                assert isinstance(o, dict), 'not an object'
                for k in ('timestamp', 'level', 'component', 'message'):
                    assert isinstance(o.get(k), str), 'no ' + k
                assert o['timestamp'].endswith('Z') and len(o['timestamp']) == 24, o['timestamp']
                assert all(isinstance(v, str) or k == 'truncated' for k, v in o.items())
            except Exception as e:  # noqa: BLE001
                ok = False
                print('# %s:%d: %s: %r' % (path, n, e, raw[:200]))
    print('# %s: %d lines' % (path.rsplit('/', 1)[-1], n))
    if n == 0 and 'cli-' not in path:
        ok = False
        print('# %s: no lines' % path)
sys.exit(0 if ok else 1)
PY
}
check "every line of the scheduler, worker, webserver and CLI is JSON" \
  check_json "$tmp/scheduler.log" "$tmp/worker.log" "$tmp/webserver.log" "$tmp/cli-migrate.log" "$tmp/cli-trigger.log"

# jq over the lines: the first match of a filter, compact.
first() { jq -c "select($2)" "$tmp/$1.log" 2>/dev/null | head -1; }
started=$(first worker '.message == "try started" and .task_id == "hello"')
check_eq "the worker's try started line carries the try's ids" "jl_dag jl_1 hello 1 -1 worker" \
  "$(jq -r '"\(.dag_id) \(.run_id) \(.task_id) \(.try_number) \(.map_index) \(.component)"' <<<"${started:-{\}}")"
finished=$(first worker '.message == "try finished" and .task_id == "flaky" and .try_number == "2"')
check_eq "the second try of flaky finishes with its ids" "jl_dag jl_1 success" \
  "$(jq -r '"\(.dag_id) \(.run_id) \(.state)"' <<<"${finished:-{\}}")"
failed=$(first worker '.message == "try finished" and .task_id == "flaky" and .try_number == "1"')
check_eq "and its first try failed" "up_for_retry" "$(jq -r '.state' <<<"${failed:-{\}}")"
started=$(first scheduler '.message == "dag run started" and .run_id == "jl_1"')
check_eq "the scheduler's run lines carry dag_id and run_id" "jl_dag scheduler" \
  "$(jq -r '"\(.dag_id) \(.component)"' <<<"${started:-{\}}")"
# The run ends where its last try ends: the scheduler or the worker's mini-scheduler.
finished=$(cat "$tmp/scheduler.log" "$tmp/worker.log" | jq -c 'select(.message == "dag run finished" and .run_id == "jl_1")' | head -1)
check_eq "the run's end carries dag_id, run_id and state" "jl_dag success" \
  "$(jq -r '"\(.dag_id) \(.state)"' <<<"${finished:-{\}}")"
decided=$(first scheduler '.task_id == "flaky" and .run_id == "jl_1" and .dag_id == "jl_dag"')
check "a scheduler line about a task carries dag_id, run_id and task_id" test -n "$decided"
warned=$(first worker '.message == "unknown configuration variable ignored"')
check_eq "the warning about the environment is JSON too, from the worker" \
  "UPDRAFT__LOGGING__FROMAT warning worker" "$(jq -r '"\(.var) \(.level) \(.component)"' <<<"${warned:-{\}}")"
check "the CLI's warning is JSON" test -n "$(first cli-trigger '.component == "cli" and .var == "UPDRAFT__LOGGING__FROMAT"')"
check "the guard's line is JSON with its fields" \
  test -n "$(first worker '.component == "worker-guard" and .level == "warning" and (.groups | tonumber) >= 1')"
check "the webserver logs requests with fields" test -n "$(first webserver '.message == "request" and .method == "GET"')"
