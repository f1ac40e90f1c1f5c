#!/usr/bin/env bash
# Task execution semantics against real Postgres, Redis, a scheduler and
# workers that serve different queues:
#   - queue routing: every try runs on a worker that serves the task's
#     queue (task_instance.worker_id -> job.queues), for tasks the
#     scheduler queues and for downstream tasks a worker queues itself
#     after an upstream ends; a task on a queue nobody serves stays queued
#     until a worker for it starts;
#   - execution_timeout: the try fails with "timed out" in its log, and its
#     whole process tree is gone afterwards (children, grandchildren, an
#     orphaned grandchild, and a child that ignores SIGTERM, which only the
#     SIGKILL after worker/supervisor.c's KILL_GRACE_US of 5 s ends); with
#     retries: 1 the task times out twice and ends failed on try 2;
#   - environment: a bash task without env inherits the worker's
#     environment, env replaces it, append_env layers env over it;
#   - the shell: bash_command runs with `bash -c`, as Airflow's
#     BashOperator (Debian's /bin/sh is dash): [[ ]], arrays, brace
#     expansion, $'..', `set -o pipefail` failing a pipeline with its
#     status, exit 99 skipping, in the task's cwd;
#   - examples/dags/example_queues.yaml and example_timeout.yaml run.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

# The workers run with TMPDIR=$tmp/work, so every task process starts in a
# directory $tmp/work/updraft-tmp* (worker/executor.c): a live process whose
# cwd is there is a task process of this test.
task_procs() { # [DAG_ID]: pids of this test's task processes still alive (not zombies)
  local d p cwd
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    cwd=$(readlink "$d/cwd" 2>/dev/null) || continue
    case $cwd in "$tmp/work/updraft-tmp"*) ;; *) continue ;; esac
    if [ -n "${1:-}" ]; then
      tr '\0' '\n' 2>/dev/null <"$d/environ" | grep -qx "AIRFLOW_CTX_DAG_ID=$1" || continue
    fi
    [ "$(proc_state "$p")" = Z ] && continue
    echo "$p"
  done
}
proc_state() { sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null; }
t_cleanup_extra() {
  for p in $(task_procs); do kill -KILL "$p" 2>/dev/null || true; done
}
t_setup
mkdir -p "$tmp/dags" "$tmp/work"
export ES_MARK=updraft_es_$(basename "$tmp")

# --- DAGs ----------------------------------------------------------------------
# A try can be queued three ways, each checked on its own:
#   - by the scheduler (roots of qr_routing: five per queue, and g_root);
#   - by the worker that ran an upstream, planning its run at once (the
#     x chains of qr_routing cross queues at every step, and g_after
#     follows x1_alpha);
#   - by a worker filling the max_active_tasks headroom a finished try
#     left (qr_headroom: max_active_tasks 1, roots on alternating queues;
#     the scheduler queues one, the rest wait 'scheduled').
# No worker serves gamma until the test starts one.
{
  printf 'qr_routing:\n  schedule: null\n  start_date: 2024-01-01\n  max_active_tasks: 64\n'
  printf '  default_args: {retries: 0}\n  tasks:\n'
  for i in 1 2 3 4 5; do
    printf '    - {task_id: a%s, operator: bash, bash_command: "sleep 0.2", queue: alpha}\n' "$i"
    printf '    - {task_id: b%s, operator: bash, bash_command: "sleep 0.2", queue: beta}\n' "$i"
    printf '    - {task_id: d%s, operator: bash, bash_command: "sleep 0.2"}\n' "$i"
  done
  for c in 1 2; do
    printf '    - {task_id: x%s_alpha, operator: bash, bash_command: "true", queue: alpha}\n' "$c"
    printf '    - {task_id: x%s_beta, operator: bash, bash_command: "true", queue: beta, dependencies: [x%s_alpha]}\n' "$c" "$c"
    printf '    - {task_id: x%s_default, operator: bash, bash_command: "true", queue: default, dependencies: [x%s_beta]}\n' "$c" "$c"
    printf '    - {task_id: x%s_alpha_again, operator: bash, bash_command: "true", queue: alpha, dependencies: [x%s_default]}\n' "$c" "$c"
  done
  printf '    - {task_id: g_root, operator: bash, bash_command: "true", queue: gamma}\n'
  printf '    - {task_id: g_after, operator: bash, bash_command: "true", queue: gamma, dependencies: [x1_alpha]}\n'
  printf 'qr_headroom:\n  schedule: null\n  start_date: 2024-01-01\n  max_active_tasks: 1\n'
  printf '  default_args: {retries: 0}\n  tasks:\n'
  for i in 1 2; do
    for qn in alpha beta default; do
      printf '    - {task_id: h%s_%s, operator: bash, bash_command: "true", queue: %s}\n' "$i" "$qn" "$qn"
    done
  done
} >"$tmp/dags/routing.yaml"

# to_tree: a try whose process tree outlives SIGTERM in part. Every pid
# goes to @PIDS@ ($$ is the task's own bash in `bash -c`; ${P:?} rather
# than $P, which the loader would expand were P set in its environment):
#   the task's shell; a background sleep; a background shell and its
#   sleep; a sleep whose parent shell exits at once (re-parented, still in
#   the process group); a background shell that ignores SIGTERM and its
#   sleep (which inherits the ignored signal).
# to_retry: times out on both of its tries.
cat >"$tmp/dags/timeout.yaml" <<'YAML'
to_tree:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: tree
      operator: bash
      retries: 0
      execution_timeout: {__type__: datetime.timedelta, seconds: 2}
      bash_command: |
        P=@PIDS@
        echo $$ >> "${P:?}"
        sleep 300 & echo $! >> "${P:?}"
        sh -c 'echo $$ >> "$1"; sleep 300 & echo $! >> "$1"; wait' sub "$P" &
        sh -c 'sh -c "sleep 300 & echo \$! >> \"\$1\"" inner "$1"' outer "$P"
        sh -c 'trap "" TERM; echo $$ >> "$1"; sleep 300 & echo $! >> "$1"; wait' stubborn "$P" &
        echo "tree started"
        wait
to_retry:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - task_id: slow
      operator: bash
      bash_command: "echo try ${AIRFLOW_CTX_TRY_NUMBER:-unset}; sleep 60"
      execution_timeout_sec: 2
      retries: 1
      retry_delay: {__type__: datetime.timedelta, seconds: 0}
YAML
sed -i "s|@PIDS@|$tmp/tree.pids|" "$tmp/dags/timeout.yaml"
# ex_env: the environment a bash task gets (Airflow's BashOperator: env
# None inherits the worker's environment; env replaces it; append_env
# layers env over it). The workers run with ES_MARK set; so does the
# scheduler, whose loader expands $ES_MARK in DAG files (docs/dag-format.md),
# so the commands use ${ES_MARK:-}, which it leaves for the shell.
cat >"$tmp/dags/env.yaml" <<'YAML'
ex_env:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 0}
  tasks:
    - {task_id: inherit, operator: bash,
       bash_command: 'echo "ES_MARK=${ES_MARK:-unset}"; test "${ES_MARK:-}" = @MARK@'}
    - {task_id: replace, operator: bash, env: {ONLY: "1"},
       bash_command: 'echo "ES_MARK=${ES_MARK:-unset} ONLY=${ONLY:-unset}"; test -z "${ES_MARK:-}" && test "${ONLY:-}" = 1'}
    - {task_id: append, operator: bash, env: {ONLY: "1"}, append_env: true,
       bash_command: 'echo "ES_MARK=${ES_MARK:-unset} ONLY=${ONLY:-unset}"; test "${ES_MARK:-}" = @MARK@ && test "${ONLY:-}" = 1'}
YAML
sed -i "s|@MARK@|$ES_MARK|g" "$tmp/dags/env.yaml"
# ex_bash: bash syntax. Under a POSIX sh (dash) each of these fails or
# prints something else: [[ is not a command, arrays, $'..' and {1..3}
# are not expanded, `set -o pipefail` is an illegal option (exit 2, not
# the pipeline's 3), and a skip behind [[ ]] never reaches exit 99.
mkdir -p "$tmp/bashcwd"
cat >"$tmp/dags/bash.yaml" <<'YAML'
ex_bash:
  schedule: null
  start_date: 2024-01-01
  default_args: {retries: 0}
  tasks:
    - task_id: dbl_bracket
      operator: bash
      bash_command: |
        x=abc
        if [[ $x == a* && -n $x ]]; then echo "out=dbl_ok"; else exit 1; fi
    - task_id: array
      operator: bash
      bash_command: |
        a=(one "two words" three)
        echo "out=${a[1]}|${a[@]: -1}"
    - task_id: brace
      operator: bash
      bash_command: echo "out=$(echo x{1..3})"
    - task_id: ansi_c
      operator: bash
      bash_command: |
        s=$'a\tb'
        [ "$s" = "$(printf 'a\tb')" ] && echo "out=ansi_ok"
    - task_id: pipefail
      operator: bash
      bash_command: |
        set -o pipefail
        echo "out=before"
        (exit 3) | sort
    - task_id: no_pipefail
      operator: bash
      bash_command: "(exit 3) | sort"
    - task_id: skip
      operator: bash
      bash_command: "[[ -n ${BASH_VERSION:-} ]] && exit 99"
    - task_id: in_cwd
      operator: bash
      cwd: @CWD@
      bash_command: |
        [[ $PWD == */bashcwd ]] && echo "out=cwd_ok"
YAML
sed -i "s|@CWD@|$tmp/bashcwd|" "$tmp/dags/bash.yaml"
cp examples/dags/example_queues.yaml examples/dags/example_timeout.yaml "$tmp/dags/"
validate_examples() {
  "$BIN/updraft" dags validate examples/dags/example_queues.yaml examples/dags/example_timeout.yaml >/dev/null
}
check "examples validate" validate_examples

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
migrate() { "$BIN/updraft" db migrate >/dev/null; }
check "db migrate" migrate

start_scheduler scheduler
TMPDIR=$tmp/work start_worker worker-alpha w-alpha 4 --queues alpha
TMPDIR=$tmp/work start_worker worker-beta w-beta 4 --queues beta
TMPDIR=$tmp/work start_worker worker-default w-default 8 --queues default
TMPDIR=$tmp/work start_worker worker-io-cpu w-io-cpu 2 --queues io,cpu
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id IN ('qr_routing', 'qr_headroom', 'to_tree',
  'to_retry', 'ex_env', 'ex_bash', 'example_queues', 'example_timeout')
  AND version_id IS NOT NULL")" = 8 ]; }
check "DAGs are parsed" wait_for 30 dags_in
workers_up() { [ "$(q "SELECT count(*) FROM job WHERE job_type = 'WorkerJob' AND state = 'running'")" = 4 ]; }
check "four workers registered" wait_for 30 workers_up
check_eq "job.queues of the workers" "w-alpha={alpha} w-beta={beta} w-default={default} w-io-cpu={io,cpu}" \
  "$(q "SELECT string_agg(hostname || '=' || queues::text, ' ' ORDER BY hostname) FROM job
        WHERE job_type = 'WorkerJob'")"

ti_field() { # DAG RUN TASK COLUMN
  q "SELECT ti.$4 FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
      WHERE dr.dag_id = '$1' AND dr.run_id = '$2' AND ti.task_id = '$3'"
}
for d in qr_routing qr_headroom ex_env ex_bash example_queues example_timeout; do
  "$BIN/updraft" dags trigger "$d" --run-id r1 >/dev/null 2>&1 || not_ok "trigger $d"
done

# --- queue routing ---------------------------------------------------------------
# Tries that ran on a worker that does not serve their queue, as
# "task@queue->worker" (or "->none" when the try has no worker).
misrouted() { # DAG TASK_ID_REGEX
  q "SELECT coalesce(string_agg(ti.task_id || '@' || ti.queue || '->' || coalesce(j.hostname, 'none'), ' '
                                ORDER BY ti.task_id), '')
       FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
       LEFT JOIN job j ON j.id = ti.worker_id
      WHERE dr.dag_id = '$1' AND dr.run_id = 'r1' AND ti.task_id ~ '$2'
        AND ti.state NOT IN ('queued', 'scheduled', 'none')
        AND (j.id IS NULL OR NOT ti.queue = ANY (j.queues))"
}
others_done() {
  [ "$(q "SELECT count(*) FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
          WHERE dr.dag_id = 'qr_routing' AND dr.run_id = 'r1' AND ti.queue <> 'gamma'
            AND ti.state IN ('success', 'failed', 'upstream_failed', 'skipped')")" = 23 ]
}
check "qr_routing: every task off gamma finishes" wait_for 30 others_done
check_eq "qr_routing: all 23 of them succeeded" 23 \
  "$(q "SELECT count(*) FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        WHERE dr.dag_id = 'qr_routing' AND ti.queue <> 'gamma' AND ti.state = 'success'")"
check_eq "queued by the scheduler: each root ran on a worker serving its queue" "" \
  "$(misrouted qr_routing '^[abd][0-9]$')"
check_eq "five tasks per queue, each queue's on its own worker" \
  "alpha=w-alpha:5 beta=w-beta:5 default=w-default:5" \
  "$(q "SELECT string_agg(queue || '=' || hostname || ':' || n, ' ' ORDER BY queue) FROM (
          SELECT ti.queue, j.hostname, count(*) AS n FROM task_instance ti
            JOIN dag_run dr ON dr.id = ti.dag_run_id JOIN job j ON j.id = ti.worker_id
           WHERE dr.dag_id = 'qr_routing' AND ti.task_id ~ '^[abd][0-9]$'
           GROUP BY 1, 2) s")"
check_eq "queued by a worker after its upstream: each ran on a worker serving its queue" "" \
  "$(misrouted qr_routing '^x')"
check "qr_headroom: the run finishes" wait_run qr_headroom r1 30
check_eq "qr_headroom: all six succeeded" "success 6" \
  "$(run_state qr_headroom r1) $(q "SELECT count(*) FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
                                     WHERE dr.dag_id = 'qr_headroom' AND ti.state = 'success'")"
check_eq "queued by a worker into max_active_tasks headroom: each ran on a worker serving its queue" "" \
  "$(misrouted qr_headroom .)"
check_eq "the hostname column names the same worker as worker_id" 0 \
  "$(q "SELECT count(*) FROM task_instance ti JOIN job j ON j.id = ti.worker_id
        WHERE ti.hostname <> j.hostname")"
# The gamma tasks: still queued, after everything else finished and a moment more.
sleep 1
check_eq "gamma (served by no worker): the root is still queued, unclaimed" "queued||" \
  "$(q "SELECT ti.state || '|' || ti.hostname || '|' || coalesce(ti.worker_id::text, '')
        FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        WHERE dr.dag_id = 'qr_routing' AND ti.task_id = 'g_root'")"
check_eq "gamma (served by no worker): the task after x1_alpha is still queued, unclaimed" "queued||" \
  "$(q "SELECT ti.state || '|' || ti.hostname || '|' || coalesce(ti.worker_id::text, '')
        FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id
        WHERE dr.dag_id = 'qr_routing' AND ti.task_id = 'g_after'")"
check_eq "qr_routing: the run waits for them" running "$(run_state qr_routing r1)"
TMPDIR=$tmp/work start_worker worker-gamma w-gamma 2 --queues gamma
check "a gamma worker starts: the run finishes" wait_run qr_routing r1 30
check_eq "qr_routing: the run succeeded" success "$(run_state qr_routing r1)"
check_eq "the gamma tasks ran on the gamma worker" "g_after=success@w-gamma g_root=success@w-gamma" \
  "$(q "SELECT string_agg(ti.task_id || '=' || ti.state || '@' || coalesce(j.hostname, 'none'), ' ' ORDER BY ti.task_id)
        FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id LEFT JOIN job j ON j.id = ti.worker_id
        WHERE dr.dag_id = 'qr_routing' AND ti.queue = 'gamma'")"

check "example_queues: the run finishes" wait_run example_queues r1 30
check_eq "example_queues: fetch on io, crunch on cpu, report on default; success" \
  "crunch@w-io-cpu fetch@w-io-cpu report@w-default success" \
  "$(q "SELECT string_agg(ti.task_id || '@' || coalesce(j.hostname, 'none'), ' ' ORDER BY ti.task_id)
        FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id LEFT JOIN job j ON j.id = ti.worker_id
        WHERE dr.dag_id = 'example_queues' AND dr.run_id = 'r1'") $(run_state example_queues r1)"
check_eq "example_queues: misrouted tries" "" "$(misrouted example_queues .)"

# --- execution_timeout: the whole process tree -----------------------------------
for d in to_tree to_retry; do
  "$BIN/updraft" dags trigger "$d" --run-id r1 >/dev/null 2>&1 || not_ok "trigger $d"
done
# The tree's shells write 7 pids at once; the timeout fires 2 s after the start.
pid_count() { [ "$(sort -u "$tmp/tree.pids" 2>/dev/null | grep -c .)" -ge "$1" ]; }
check "to_tree: the task recorded its 7 pids" wait_for 20 pid_count 7
mapfile -t tree_pids < <(sort -u "$tmp/tree.pids" 2>/dev/null)
live_pids() { # [-v]: the recorded pids still alive (not zombies); -v adds each one's command
  local p out=""
  for p in "${tree_pids[@]}"; do
    kill -0 "$p" 2>/dev/null || continue
    [ "$(proc_state "$p")" = Z ] && continue # exited; its new parent has not reaped it
    if [ "${1:-}" = -v ]; then
      out="$out $p($(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-40 | sed 's/ *$//'))"
    else
      out="$out $p"
    fi
  done
  echo "${out# }"
}
if [ "$(ti_field to_tree r1 tree state)" = running ]; then
  check_eq "to_tree: while it runs, every recorded pid is alive" 7 "$(live_pids | wc -w)"
else
  not_ok "to_tree: while it runs, every recorded pid is alive" "it was $(ti_field to_tree r1 tree state) already"
fi
check "to_tree: the run finishes" wait_run to_tree r1 20
ended_ms=$(( $(date +%s%N) / 1000000 ))
check_eq "to_tree: the try failed, once (retries: 0)" "failed 1 failed" \
  "$(ti_field to_tree r1 tree state) $(ti_field to_tree r1 tree try_number) $(run_state to_tree r1)"
check_eq "to_tree: ended about 2 s after it started" t \
  "$(ti_field to_tree r1 tree "end_date - ti.start_date BETWEEN interval '1.9 s' AND interval '9 s'")"
tree_log() {
  q "SELECT string_agg(l.data, '' ORDER BY l.id) FROM task_log l JOIN task_instance ti ON ti.id = l.ti_id
      JOIN dag_run dr ON dr.id = ti.dag_run_id WHERE dr.dag_id = 'to_tree' AND ti.task_id = 'tree'"
}
check "to_tree: the task's output is in its log" grep -q "tree started" <<<"$(tree_log)"
check "to_tree: the log says it timed out" grep -qi "timed out" <<<"$(tree_log)"
# SIGTERM at 2 s, SIGKILL 5 s later (KILL_GRACE_US): everything is gone
# about 7 s after the start, 5 s after the try ended; 12 s is the bound.
tree_gone() { [ -z "$(live_pids)" ]; }
if wait_for 12 tree_gone; then
  ok "to_tree: no recorded pid of the process tree is alive 12 s after the try ended"
  gone_ms=$(( $(date +%s%N) / 1000000 - ended_ms ))
  echo "# to_tree: the last of the tree was gone ${gone_ms} ms after the try ended"
  # The child that ignores SIGTERM lives until the SIGKILL: the grace is
  # respected (not a SIGKILL straight away), and it ends.
  check "to_tree: the SIGTERM-ignoring child outlived SIGTERM by the grace (3-12 s)" \
    test "$gone_ms" -ge 3000 -a "$gone_ms" -le 12500
else
  not_ok "to_tree: no recorded pid of the process tree is alive 12 s after the try ended" \
    "still alive: $(live_pids -v)"
fi
check_eq "to_tree: no other process of the task is left (by working directory)" "" \
  "$(task_procs to_tree | tr '\n' ' ' | sed 's/ $//')"
zombies=""
for p in "${tree_pids[@]}"; do
  [ "$(proc_state "$p")" = Z ] && zombies="$zombies $p(ppid $(awk '{print $4}' "/proc/$p/stat" 2>/dev/null))"
done
[ -n "$zombies" ] && echo "# to_tree: exited but not reaped by their new parent:$zombies"
check "the worker logs the timeout" grep -q "execution timeout, stopping task" "$tmp/worker-default.log"

check "to_retry: the run finishes" wait_run to_retry r1 30
check_eq "to_retry: timed out twice, failed on try 2" "failed 2 failed" \
  "$(ti_field to_retry r1 slow state) $(ti_field to_retry r1 slow try_number) $(run_state to_retry r1)"
check_eq "to_retry: both tries' logs say they timed out" "1 2" \
  "$(q "SELECT string_agg(DISTINCT l.try_number::text, ' ') FROM task_log l JOIN task_instance ti ON ti.id = l.ti_id
        JOIN dag_run dr ON dr.id = ti.dag_run_id WHERE dr.dag_id = 'to_retry' AND ti.task_id = 'slow'
        AND l.data ILIKE '%timed out%'")"

check "example_timeout: the run finishes" wait_run example_timeout r1 30
check_eq "example_timeout: too_slow failed on try 2, cleanup ran, the run succeeded" \
  "failed 2 success success" \
  "$(ti_field example_timeout r1 too_slow state) $(ti_field example_timeout r1 too_slow try_number) \
$(ti_field example_timeout r1 cleanup state) $(run_state example_timeout r1)"
ex_gone() { [ -z "$(task_procs example_timeout)" ] && [ -z "$(task_procs to_retry)" ]; }
check "example_timeout, to_retry: no process of theirs is left" wait_for 10 ex_gone

# --- the task's environment ---------------------------------------------------------
check "ex_env: the run finishes" wait_run ex_env r1 30
env_seen() { # TASK: its state and what it printed
  echo "$(ti_field ex_env r1 "$1" state): $(q "SELECT string_agg(l.data, '' ORDER BY l.id) FROM task_log l
    JOIN task_instance ti ON ti.id = l.ti_id JOIN dag_run dr ON dr.id = ti.dag_run_id
    WHERE dr.dag_id = 'ex_env' AND ti.task_id = '$1'" | grep -Eo 'ES_MARK=[^ $"]+( ONLY=[^ $"]+)?' | head -1)"
}
check_eq "ex_env: without env a task inherits the worker's environment (Airflow: env=None)" \
  "success: ES_MARK=$ES_MARK" "$(env_seen inherit)"
check_eq "ex_env: env replaces the inherited environment (append_env false)" \
  "success: ES_MARK=unset ONLY=1" "$(env_seen replace)"
check_eq "ex_env: append_env layers env over it" \
  "success: ES_MARK=$ES_MARK ONLY=1" "$(env_seen append)"

# --- the shell: bash -c ----------------------------------------------------------------
check "ex_bash: the run finishes" wait_run ex_bash r1 30
bash_seen() { # TASK: its state, then its out=... lines and the exit code the worker logged
  local log
  log=$(q "SELECT string_agg(l.data, '' ORDER BY l.id) FROM task_log l
    JOIN task_instance ti ON ti.id = l.ti_id JOIN dag_run dr ON dr.id = ti.dag_run_id
    WHERE dr.dag_id = 'ex_bash' AND ti.task_id = '$1'")
  echo "$(ti_field ex_bash r1 "$1" state):" \
    $(grep -Eo '^out=.*|exited with return code [0-9]+|exit code [0-9]+\. Skipping' <<<"$log")
}
check_eq "ex_bash: [[ ]] works" "success: out=dbl_ok exited with return code 0" "$(bash_seen dbl_bracket)"
check_eq "ex_bash: arrays work" "success: out=two words|three exited with return code 0" \
  "$(bash_seen array)"
check_eq "ex_bash: brace expansion works" "success: out=x1 x2 x3 exited with return code 0" \
  "$(bash_seen brace)"
check_eq "ex_bash: \$'..' quoting works" "success: out=ansi_ok exited with return code 0" \
  "$(bash_seen ansi_c)"
check_eq "ex_bash: set -o pipefail fails the pipeline with its status (3)" \
  "failed: out=before exited with return code 3" "$(bash_seen pipefail)"
check_eq "ex_bash: without pipefail the pipeline's status is its last command's" \
  "success: exited with return code 0" "$(bash_seen no_pipefail)"
check_eq "ex_bash: exit 99 after [[ ]] skips the task" \
  "skipped: exited with return code 99 exit code 99. Skipping" \
  "$(bash_seen skip)"
check_eq "ex_bash: the task runs in its cwd" "success: out=cwd_ok exited with return code 0" \
  "$(bash_seen in_cwd)"

check_eq "no sanitizer report in the daemon logs" 0 "$(cat "$tmp"/*.log | grep -c 'runtime error\|AddressSanitizer')"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
