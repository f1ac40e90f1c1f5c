#!/usr/bin/env bash
# Hostile DAG files, against `updraft dags validate` and a running
# scheduler and webserver:
#   - 200,000 aliases of a 1 MiB string (a 1.6 MB file that once took
#     20 GB) are refused at the alias, under a 1 GiB memory cap, and the
#     scheduler does not parse that file again while it is unchanged;
#   - a 50,000-task chain validates (it took minutes when priority weights
#     were quadratic), and so does a defaults file of 120,000 tags (138 s
#     when each tag was searched for and insertion-sorted);
#   - a FIFO named like a DAG file, a symlink to one, and a FIFO named
#     defaults.yml are import errors, never opened to wait: the other DAGs
#     load, /health reports the DAG processor healthy, the DAG source route
#     answers, and SIGTERM stops the scheduler;
#   - /health reports a DAG processor that stopped making progress;
#   - $UPDRAFT__CORE__FERNET_KEY and $UPDRAFT__DATABASE__URL in a DAG file
#     are errors at their line:col, and neither value reaches a table or
#     an API answer.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=40
unlock() { q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hostile_locker'" >/dev/null 2>&1; }
t_cleanup_extra() { unlock; true; }
t_setup
quiet() { "$@" >/dev/null 2>&1; }
exited() { ! kill -0 "$1" 2>/dev/null; }

fernet=$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')
export UPDRAFT__CORE__FERNET_KEY=$fernet

# ---- the files ----------------------------------------------------------------------
mkdir -p "$tmp/cli" "$tmp/dags/team"
# 200,000 aliases of a 1 MiB string, read into a DAG's params
python3 - "$tmp/cli/aliases.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('big: &s "%s"\n' % ("x" * (1 << 20)))
    f.write("aliases:\n  start_date: 2024-01-01\n  params:\n    p:\n      default:\n")
    f.write("        - *s\n" * 200000)
PY
# 50,000 tasks, each after the one before
python3 - "$tmp/cli/chain.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("chain:\n  tasks:\n    t0: {operator: bash, bash_command: x}\n")
    for i in range(1, 50000):
        f.write("    t%d: {operator: bash, bash_command: x, dependencies: [t%d]}\n" % (i, i - 1))
PY
# a defaults file of 120,000 tags in reverse order, over one DAG
mkdir -p "$tmp/cli/tags"
python3 -c 'print("tags: [" + ", ".join("t%06d" % i for i in range(120000, 0, -1)) + "]")' >"$tmp/cli/tags/defaults.yml"
printf 'tagged:\n  tasks:\n    t: {operator: bash, bash_command: x}\n' >"$tmp/cli/tags/tagged.yaml"
cat >"$tmp/cli/secret.yaml" <<'YAML'
secret:
  description: "key=${UPDRAFT__CORE__FERNET_KEY} db=$UPDRAFT__DATABASE__URL"
  tasks:
    t: {operator: bash, bash_command: 'echo $HOME'}
YAML

# ---- dags validate ------------------------------------------------------------------
out=$( (ulimit -v 1048576; timeout 60 "$BIN/updraft" dags validate "$tmp/cli/aliases.yaml") 2>&1)
rc=$?
if [ $rc = 1 ] && grep -qE "^$tmp/cli/aliases.yaml:[0-9]+:11: document too large once aliases and defaults are expanded" <<<"$out"; then
  ok "200,000 aliases of a 1 MiB string are refused at an alias within 1 GiB and 60 s"
else
  not_ok "200,000 aliases of a 1 MiB string are refused at an alias within 1 GiB and 60 s" "rc=$rc: ${out:0:300}"
fi

out=$(timeout 60 "$BIN/updraft" dags validate "$tmp/cli/chain.yaml" 2>&1)
rc=$?
check_eq "a 50,000-task chain validates (well within 60 s)" "0:1 file, 1 DAG, 0 errors, 0 warnings" "$rc:$out"

out=$(timeout 60 "$BIN/updraft" dags validate "$tmp/cli/tags" 2>&1)
rc=$?
check_eq "a defaults file of 120,000 tags validates (well within 60 s)" "0:1 file, 1 DAG, 0 errors, 0 warnings" "$rc:$out"

out=$("$BIN/updraft" dags validate "$tmp/cli/secret.yaml" 2>&1)
rc=$?
if [ $rc = 1 ] && grep -q "^$tmp/cli/secret.yaml:2:21: \$UPDRAFT__CORE__FERNET_KEY is one of updraft's own settings or secrets" <<<"$out" &&
  grep -q "^$tmp/cli/secret.yaml:2:53: \$UPDRAFT__DATABASE__URL is one of" <<<"$out" &&
  ! grep -qF "$fernet" <<<"$out" && ! grep -qF "$UPDRAFT__DATABASE__URL" <<<"$out"; then
  ok "naming the fernet key or the database URL in a DAG file is an error at its line:col"
else
  not_ok "naming the fernet key or the database URL in a DAG file is an error at its line:col" "rc=$rc: ${out:0:400}"
fi

# ---- the scheduler: aliases and secrets ------------------------------------------------
cat >"$tmp/dags/good.yaml" <<'YAML'
good:
  description: a DAG beside hostile files
  tasks:
    t: {operator: bash, bash_command: 'echo $HOME'}
YAML
cat >"$tmp/dags/team/t.yaml" <<'YAML'
team:
  tasks:
    t: {operator: bash, bash_command: 'echo team'}
YAML
cp "$tmp/cli/aliases.yaml" "$tmp/cli/secret.yaml" "$tmp/dags/"

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
check "db migrate" quiet "$BIN/updraft" db migrate
# under a memory cap: the aliases once took 20 GB
(ulimit -v 2097152 && exec "$BIN/updraft-scheduler") >"$tmp/scheduler.log" 2>&1 &
sched_pid=$!
pids+=("$sched_pid")
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
base=http://127.0.0.1:$port
start_webserver webserver
check "webserver answers" wait_for 20 curl -sf "$base/health"

check "the other DAGs load" \
  wait_for 30 q_is 2 "SELECT count(*) FROM dag WHERE dag_id IN ('good', 'team') AND version_id IS NOT NULL"
errors_are() { q_is "$1" "SELECT count(*) FROM import_error"; }
check "the aliases and the secrets are import errors" wait_for 30 errors_are 2
err_of() { q "SELECT stack_trace FROM import_error WHERE filename = '$tmp/dags/$1'"; }
check "the aliases are an import error at an alias" \
  grep -qE "^$tmp/dags/aliases.yaml:[0-9]+:11: document too large once aliases" <<<"$(err_of aliases.yaml)"
check "naming the fernet key is an import error at its line:col" \
  grep -q "^$tmp/dags/secret.yaml:2:21: \$UPDRAFT__CORE__FERNET_KEY is one of" <<<"$(err_of secret.yaml)"

dump() { "$(svc_pg_bindir)/pg_dump" --data-only "$UPDRAFT__DATABASE__URL"; }
leaks=$( (dump; curl -s "$base/api/v1/dags"; curl -s "$base/api/v1/importErrors"; curl -s "$base/api/v1/dags/good/details") |
  grep -cF -e "$fernet" -e "$UPDRAFT__DATABASE__URL")
check_eq "the fernet key and the database URL reach no table and no API answer" 0 "$leaks"

# Unchanged files that failed are not parsed again: the next scans parse nothing.
scans() { grep -c "dag folder scanned" "$tmp/scheduler.log"; }
more_scans() { [ "$(scans)" -ge $(($1 + 4)) ]; }
check "the processor keeps scanning" wait_for 30 more_scans "$(scans)"
parsed=$(grep "dag folder scanned" "$tmp/scheduler.log" | tail -3 | grep -o "parsed=[0-9]*" | sort -u | tr '\n' ' ')
check_eq "files that failed are not parsed again while unchanged" "parsed=0 " "$parsed"

proc_status() { curl -sf "$base/health" | jq -r '.dag_processor.status'; }
proc_healthy() { [ "$(proc_status)" = healthy ]; }
check "/health reports the DAG processor healthy" wait_for 15 proc_healthy
check "/health gives the DAG processor's heartbeat" \
  json_ok "$base/health" '.dag_processor.latest_dag_processor_heartbeat | type == "string"'

# ---- FIFOs ----------------------------------------------------------------------------
token=$(curl -sf "$base/api/v1/dags/good" | jq -r .file_token)
mkfifo "$tmp/dags/pipe.yaml" "$tmp/dags/team/defaults.yml" "$tmp/fifo"
ln -s "$tmp/fifo" "$tmp/dags/link.yaml"
touch "$tmp/dags/team/t.yaml" # read again, with the defaults over it
check "a FIFO, a symlink to one and a FIFO named defaults.yml are import errors" wait_for 30 errors_are 5
check_eq "a FIFO named like a DAG file is an import error" \
  "$tmp/dags/pipe.yaml: not a regular file" "$(err_of pipe.yaml)"
check_eq "a symlink to a FIFO is an import error" \
  "$tmp/dags/link.yaml: not a regular file" "$(err_of link.yaml)"
check_eq "a FIFO named defaults.yml fails the DAG files below it" \
  "$tmp/dags/team/defaults.yml: not a regular file" "$(err_of team/t.yaml)"
check "the processor keeps scanning beside FIFOs" wait_for 30 more_scans "$(scans)"
check "/health reports the DAG processor healthy beside FIFOs" wait_for 15 proc_healthy

# The DAG source route does not wait on a FIFO put in place of a DAG file:
# it serves the text stored with the DAG's version, not the folder's file.
rm "$tmp/dags/good.yaml"
mkfifo "$tmp/dags/good.yaml"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$base/api/v1/dagSources/$token")
check_eq "the DAG source of a file replaced by a FIFO is the stored text, at once" 200 "$code"
good_fifo() { [ "$(err_of good.yaml)" = "$tmp/dags/good.yaml: not a regular file" ]; }
check "a DAG file replaced by a FIFO becomes an import error" wait_for 30 good_fifo

# A processor that stops making progress: hold the table its next store
# writes, touch a broken file, and wait past the threshold (30 s).
PGAPPNAME=hostile_locker svc_psql -c "BEGIN; LOCK TABLE import_error IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(300)" >/dev/null 2>&1 &
locker=$!
locked() { q_is 1 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hostile_locker' AND state = 'active'"; }
check "a session holds the import_error table" wait_for 10 locked
echo "# touched" >>"$tmp/dags/secret.yaml"
proc_unhealthy() { [ "$(proc_status)" = unhealthy ]; }
check "/health reports a DAG processor stuck for 30 s as unhealthy" wait_for 60 proc_unhealthy
check_eq "... while the scheduler itself is healthy" healthy "$(curl -sf "$base/health" | jq -r .scheduler.status)"
unlock
wait "$locker" 2>/dev/null
check "/health reports it healthy once it progresses again" wait_for 30 proc_healthy

kill -TERM "$sched_pid"
check "SIGTERM stops the scheduler with FIFOs in the DAG folder" wait_for 15 exited "$sched_pid"
