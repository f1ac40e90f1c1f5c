#!/usr/bin/env bash
# What a task can reach of the worker that runs it, with a real scheduler,
# worker, Postgres and Redis:
#   - a task's environment holds none of the worker's settings or secrets
#     (database URL, fernet key, connections and variables given in the
#     environment, PGPASSWORD), unless the task's own env gives one;
#   - a task running as the worker's own user cannot read the worker's
#     /proc/PID/environ (the worker is not dumpable);
# and, when the test runs as root (as in CI):
#   - a worker started as root with neither worker.default_run_as_user nor
#     worker.allow_root_tasks refuses to start, saying what to set;
#   - tasks run as worker.default_run_as_user (nobody) or their own
#     run_as_user, with that user's HOME and USER, in a temporary directory
#     that user owns; the operator runner (a sensor) runs as that user too;
#   - a task naming root is refused unless worker.allow_root_tasks;
#   - a task that swaps its XCom file for a symlink to a root-only file
#     does not get that file into XCom.
# Without root, those last checks are reported as skipped.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=40
t_setup
check "db migrate" "$BIN/updraft" db migrate

as_root=0
[ "$(id -u)" -eq 0 ] && as_root=1
# Tasks that run as another user exec the worker's binary (the operator
# runner) as that user, as from an installed /usr/local/bin: a checkout
# under /root or a private temporary folder is not theirs to enter, so the
# binaries run from a copy in the test's own (world-readable) folder.
if [ "$as_root" = 1 ]; then
  mkdir -p "$tmp/bin" && cp "$BIN"/updraft "$BIN"/updraft-* "$tmp/bin/" && chmod 755 "$tmp/bin" && BIN=$tmp/bin
fi
export UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__LOG_FLUSH_MS=100
# What the worker's environment carries and no task may see.
export UPDRAFT_CONN_ISO_DB='postgres://app:conn-env-pw-4471@db.example/app'
export AIRFLOW_CONN_ISO_API='http://svc:conn-env-pw-4472@api.example'
export UPDRAFT_VAR_ISO_TOKEN=var-env-tok-4473
export PGPASSWORD=pg-env-pw-4474
export ISO_PLAIN_SETTING=kept-setting-4475 # an ordinary variable: inherited as before

mkdir -p "$tmp/dags"
chmod 755 "$tmp/dags"
# The DAG file is read with $NAME expanded from the scheduler's environment
# (dag-factory's expandvars): what the tasks read from their own
# environment is read with printenv.
{
  cat <<'YAML'
iso:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 0}
  tasks:
    - task_id: envdump
      operator: bash
      queue: same
      bash_command: 'env | sort; echo env-done'
    - task_id: procenv
      operator: bash
      queue: same
      bash_command: 'if cat /proc/$PPID/environ >/dev/null 2>&1; then echo "worker environ READABLE"; tr "\0" "\n" </proc/$PPID/environ; else echo "worker environ unreadable"; fi'
    - task_id: given
      operator: bash
      queue: same
      env: {PGPASSWORD: given-by-the-task}
      append_env: true
      bash_command: 'echo "pg=$(printenv PGPASSWORD)"'
YAML
  if [ "$as_root" = 1 ]; then
    cat <<'YAML'
    - task_id: dflt
      operator: bash
      queue: qa
      bash_command: 'echo "who=$(id -un) uid=$(id -u) user=$(printenv USER) home=$(printenv HOME)"; touch made-here && echo "owner=$(stat -c %U .)"; echo "{\"k\": 1}" >"$UPDRAFT_XCOM_FILE"'
    - task_id: procenv_other
      operator: bash
      queue: qa
      bash_command: 'if cat /proc/$PPID/environ >/dev/null 2>&1; then echo "worker environ READABLE"; else echo "worker environ unreadable"; fi'
    - task_id: as_root
      operator: bash
      queue: qa
      run_as_user: root
      bash_command: 'echo should-not-run'
    - task_id: sensor
      operator: file_sensor
      queue: qa
      filepath: /etc/host*
      poke_interval: 1
      timeout: 20
    - task_id: steal
      operator: bash
      queue: qa
      bash_command: 'rm -f "$UPDRAFT_XCOM_FILE"; ln -s "$ROOT_ONLY" "$UPDRAFT_XCOM_FILE"; echo swapped'
      env: {ROOT_ONLY: ROOT_ONLY_PATH}
      append_env: true
    - task_id: as_nobody
      operator: bash
      queue: qb
      run_as_user: nobody
      bash_command: 'echo "who=$(id -un)"'
    - task_id: plain
      operator: bash
      queue: qb
      bash_command: 'echo "who=$(id -un)"'
YAML
  fi
} >"$tmp/dags/iso.yaml"
echo '{"stolen": "root-only-secret-4476"}' >"$tmp/root-only.json"
chmod 600 "$tmp/root-only.json"
sed -i "s|ROOT_ONLY_PATH|$tmp/root-only.json|" "$tmp/dags/iso.yaml"
check "the DAG file is valid" "$BIN/updraft" dags validate "$tmp/dags/iso.yaml"

start_scheduler scheduler

# ---- a task running as the worker's own user ---------------------------------
# As root, that user is nobody (setpriv runs the worker as nobody, and its
# tasks as itself); otherwise the user running the test.
if [ "$as_root" = 1 ]; then
  setpriv --reuid=nobody --regid=nogroup --init-groups -- \
    "$BIN/updraft-worker" --hostname iso-same --concurrency 4 --queues same >"$tmp/worker-same.log" 2>&1 &
  pids+=($!)
else
  start_worker worker-same iso-same 4 --queues same
fi

if [ "$as_root" = 1 ]; then
  # ---- a root worker must be told who tasks run as -------------------------
  out=$(env -u UPDRAFT__WORKER__ALLOW_ROOT_TASKS timeout 20 "$BIN/updraft-worker" --hostname iso-refused --queues none 2>&1); rc=$?
  check "a root worker with no run_as_user setting refuses to start (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
  check "the refusal says what to set" grep -q "set worker.default_run_as_user .* worker.allow_root_tasks: true" <<<"$out"
  out=$(env -u UPDRAFT__WORKER__ALLOW_ROOT_TASKS UPDRAFT__WORKER__DEFAULT_RUN_AS_USER=no-such-user-4477 timeout 20 "$BIN/updraft-worker" --hostname iso-refused --queues none 2>&1); rc=$?
  check "a default_run_as_user that does not exist stops the worker (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
  check "and names it" grep -q "worker.default_run_as_user: user 'no-such-user-4477'" <<<"$out"
  # qa: tasks default to nobody, root refused; qb: root allowed, run_as_user on the task
  UPDRAFT__WORKER__ALLOW_ROOT_TASKS=false UPDRAFT__WORKER__DEFAULT_RUN_AS_USER=nobody \
    start_worker worker-qa iso-qa 4 --queues qa
  UPDRAFT__WORKER__ALLOW_ROOT_TASKS=true start_worker worker-qb iso-qb 4 --queues qb
fi

check "dags trigger" wait_for 30 "$BIN/updraft" dags trigger iso --run-id iso1
check "the run finishes" wait_run iso iso1 90

ti_state() { q "SELECT state FROM task_instance WHERE dag_id = 'iso' AND run_id = 'iso1' AND task_id = '$1'"; }
log_of() { q "SELECT string_agg(l.data, '' ORDER BY l.id) FROM task_log l JOIN task_instance t ON t.id = l.ti_id
              WHERE t.dag_id = 'iso' AND t.run_id = 'iso1' AND t.task_id = '$1'"; }

log=$(log_of envdump)
check_eq "envdump: succeeded" success "$(ti_state envdump)"
check "envdump: the environment was printed (an ordinary variable is inherited)" grep -q '^ISO_PLAIN_SETTING=kept-setting-4475$' <<<"$log"
for name in UPDRAFT__DATABASE__URL UPDRAFT__CORE__FERNET_KEY UPDRAFT__REDIS__URL UPDRAFT_CONN_ISO_DB AIRFLOW_CONN_ISO_API UPDRAFT_VAR_ISO_TOKEN PGPASSWORD; do
  check "a task's environment has no $name" bash -c '! grep -q "^$1=" <<<"$2"' _ "$name" "$log"
done
check "no task log holds a secret of the worker's environment" bash -c \
  '! grep -qE "conn-env-pw-447|var-env-tok-4473|pg-env-pw-4474" <<<"$1"' _ "$(q "SELECT string_agg(data, '') FROM task_log")"
check "the key is in no task log" bash -c '! grep -qF -- "$1" <<<"$2"' _ "$UPDRAFT__CORE__FERNET_KEY" "$(q "SELECT string_agg(data, '') FROM task_log")"
check_eq "a task's own env still gives PGPASSWORD" "pg=given-by-the-task" "$(grep -o '^pg=.*' <<<"$(log_of given)")"
check_eq "a task as the worker's user cannot read /proc/<worker>/environ" "worker environ unreadable" \
  "$(grep -o '^worker environ .*' <<<"$(log_of procenv)")"

if [ "$as_root" != 1 ]; then
  ok "run_as_user, refusing root and the XCom symlink # SKIP they need root (running as uid $(id -u))"
  exit 0
fi

nobody_uid=$(id -u nobody)
log=$(log_of dflt)
check_eq "dflt: succeeded" success "$(ti_state dflt)"
check_eq "a task without run_as_user runs as worker.default_run_as_user" \
  "who=nobody uid=$nobody_uid user=nobody home=$(getent passwd nobody | cut -d: -f6)" "$(grep -o '^who=.*' <<<"$log")"
check_eq "its temporary directory belongs to that user" "owner=nobody" "$(grep -o '^owner=.*' <<<"$log")"
check "the log says who it runs as" grep -q "Running as user nobody (uid $nobody_uid)" <<<"$log"
check_eq "its XCom file was pushed" 1 "$(q "SELECT count(*) FROM xcom x JOIN dag_run r ON r.id = x.dag_run_id WHERE r.run_id = 'iso1' AND x.task_id = 'dflt' AND x.key = 'k'")"
check_eq "a task as another user cannot read /proc/<worker>/environ" "worker environ unreadable" \
  "$(grep -o '^worker environ .*' <<<"$(log_of procenv_other)")"
check_eq "a task naming root is refused without worker.allow_root_tasks" failed "$(ti_state as_root)"
check "the refusal is in its log, and nothing ran" bash -c \
  'grep -q "run_as_user .root. is root, and worker.allow_root_tasks is false" <<<"$1" && ! grep -q "^should-not-run" <<<"$1"' _ "$(log_of as_root)"
check_eq "the operator runner runs as that user too (file sensor)" success "$(ti_state sensor)"
check "the sensor's log says so" grep -q "Running as user nobody" <<<"$(log_of sensor)"
check_eq "a task that swaps its XCom file for a symlink fails" failed "$(ti_state steal)"
check "its log says why" grep -q "Cannot push XComs: cannot read UPDRAFT_XCOM_FILE: it is no longer a regular file" <<<"$(log_of steal)"
check_eq "the root-only file is in no XCom" 0 "$(q "SELECT count(*) FROM xcom WHERE value::text LIKE '%root-only-secret%'")"
check_eq "run_as_user on the task switches a root worker to that user" "who=nobody" "$(grep -o '^who=.*' <<<"$(log_of as_nobody)")"
check_eq "with worker.allow_root_tasks a task may run as root" "who=root" "$(grep -o '^who=.*' <<<"$(log_of plain)")"
no_tmpdir_left() { [ -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'updraft-tmp*' -user nobody -newer "$tmp/dags/iso.yaml" 2>/dev/null)" ]; }
check "the temporary directories of tasks run as nobody are removed" wait_for 10 no_tmpdir_left
