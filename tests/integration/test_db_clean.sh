#!/usr/bin/env bash
# `updraft db clean` and `db drop-archived` against a real Postgres, and the
# scheduler's task log retention (logging.retention_days): a dry run counts
# what would go; only rows older than the timestamp go; live runs and task
# instances stay, and the latest scheduled run of each DAG; archive tables
# hold the deleted rows unless --skip-archive; --batch-size 10 over 35 rows
# commits four batches; refusals (no -y off a terminal, an unknown table);
# old task logs are pruned in the background and recent ones stay.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_cleanup_extra() {
  [ "${T_FAILED:-0}" -ne 0 ] || return 0
  for f in "$tmp"/*.out; do [ -f "$f" ] && { echo "# --- $f"; tail -30 "$f" | sed 's/^/# /'; }; done
  return 0
}
t_setup
mkdir -p "$tmp/dags"
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
"$BIN/updraft" db migrate >/dev/null
check_eq "db migrate exits 0" 0 $?

# d1: 35 old finished runs (a task instance, an XCom and a log row each), a
# recent run, an old running run (a running and a finished task instance, a
# log row) and an old queued run. d2: 5 old scheduled runs and a later manual
# one: the latest scheduled run stays. Old: 2020; the cut: 2021-01-01.
q "
INSERT INTO dag (dag_id, fileloc) VALUES ('d1', 'x'), ('d2', 'x');
INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)
  VALUES ('d1', 1, 'h1', '{}', 'x'), ('d2', 1, 'h2', '{}', 'x');
INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date, start_date, queued_at)
  SELECT 'd1', 'old_' || g, (SELECT id FROM dag_version WHERE dag_id = 'd1'), 'scheduled', 'success',
         '2020-01-01'::timestamptz + g * interval '1 day', '2020-01-01'::timestamptz + g * interval '1 day',
         '2020-01-01'::timestamptz + g * interval '1 day'
    FROM generate_series(1, 35) g;
INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date, start_date, queued_at)
  VALUES ('d1', 'recent', (SELECT id FROM dag_version WHERE dag_id = 'd1'), 'scheduled', 'success',
          now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour'),
         ('d1', 'live_running', (SELECT id FROM dag_version WHERE dag_id = 'd1'), 'scheduled', 'running',
          '2020-06-01', '2020-06-01', '2020-06-01'),
         ('d1', 'live_queued', (SELECT id FROM dag_version WHERE dag_id = 'd1'), 'scheduled', 'queued',
          '2020-06-02', NULL, '2020-06-02');
INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date, start_date, queued_at)
  SELECT 'd2', 'sched_' || g, (SELECT id FROM dag_version WHERE dag_id = 'd2'), 'scheduled', 'success',
         '2020-01-01'::timestamptz + g * interval '1 day', '2020-01-01'::timestamptz + g * interval '1 day',
         '2020-01-01'::timestamptz + g * interval '1 day'
    FROM generate_series(1, 5) g;
INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date, start_date, queued_at,
                     external_trigger)
  VALUES ('d2', 'manual', (SELECT id FROM dag_version WHERE dag_id = 'd2'), 'manual', 'success',
          '2020-03-01', '2020-03-01', '2020-03-01', true);
INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, operator, start_date, try_number)
  SELECT id, dag_id, run_id, 't', 'success', 'bash', start_date, 1 FROM dag_run WHERE dag_id = 'd1';
UPDATE task_instance SET state = 'running' WHERE run_id = 'live_running';
UPDATE task_instance SET state = 'queued', start_date = NULL, updated_at = '2020-06-02' WHERE run_id = 'live_queued';
INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, operator, start_date, try_number)
  SELECT id, dag_id, run_id, 'done_early', 'success', 'bash', '2020-06-01', 1 FROM dag_run WHERE run_id = 'live_running';
INSERT INTO xcom (dag_run_id, dag_id, run_id, task_id, key, value, timestamp)
  SELECT dag_run_id, dag_id, run_id, task_id, 'k', '1', start_date FROM task_instance
   WHERE dag_id = 'd1' AND task_id = 't' AND start_date IS NOT NULL;
INSERT INTO task_log (ti_id, try_number, data, created_at)
  SELECT id, 1, 'line', start_date FROM task_instance WHERE task_id = 't' AND start_date IS NOT NULL;
INSERT INTO rendered_task_instance_fields (ti_id, try_number, dag_id, task_id, logical_date, rendered_fields, updated_at)
  SELECT i.id, 1, i.dag_id, i.task_id, r.logical_date, '{}', i.start_date
    FROM task_instance i JOIN dag_run r ON r.id = i.dag_run_id WHERE i.task_id = 't' AND i.start_date IS NOT NULL;
INSERT INTO event_log (dttm, event) SELECT '2020-02-01'::timestamptz + g * interval '1 hour', 'old'
  FROM generate_series(1, 10) g;
INSERT INTO event_log (dttm, event) VALUES (now(), 'new'), (now(), 'new');
INSERT INTO import_error (filename, stack_trace, timestamp) VALUES ('/old.yaml', 'x', '2020-01-01'),
  ('/new.yaml', 'y', now());
INSERT INTO job (job_type, hostname, pid, state, latest_heartbeat)
  VALUES ('SchedulerJob', 'h', 1, 'success', '2020-01-01'), ('WorkerJob', 'h', 2, 'running', '2020-01-01');
" >/dev/null
check_eq "fixture: 44 runs" 44 "$(q "select count(*) from dag_run")"
cut="2021-01-01T00:00:00Z"

# --- dry run ----------------------------------------------------------------
"$BIN/updraft" db clean --clean-before-timestamp "$cut" --dry-run >"$tmp/dry.out" 2>&1
check_eq "--dry-run exits 0" 0 $?
count_of() { awk -v t="$1" '$1 == t {print $2}' "$tmp/dry.out"; }
# d1's 35 old finished runs; d2's manual run and 4 of its 5 scheduled runs (the latest stays)
check_eq "dry run: dag_run rows (live runs and the latest scheduled run of d2 stay)" 40 "$(count_of dag_run)"
check_eq "dry run: task_instance rows (none of a live run)" 35 "$(count_of task_instance)"
check_eq "dry run: xcom rows" 35 "$(count_of xcom)"
check_eq "dry run: task_log rows (not the running try's)" 35 "$(count_of task_log)"
check_eq "dry run: rendered_task_instance_fields rows (not the running try's)" 35 \
  "$(count_of rendered_task_instance_fields)"
check_eq "dry run: event_log rows older than the cut" 10 "$(count_of event_log)"
check_eq "dry run: import_error rows" 1 "$(count_of import_error)"
check_eq "dry run: job rows (not a running one)" 1 "$(count_of job)"
check_eq "--dry-run deletes nothing" 44 "$(q "select count(*) from dag_run")"
check_eq "--dry-run makes no archive table" 0 \
  "$(q "select count(*) from pg_tables where tablename like '\_updraft\_deleted\_\_%'")"

# --- refusals ---------------------------------------------------------------
"$BIN/updraft" db clean --clean-before-timestamp "$cut" </dev/null >"$tmp/noyes.out" 2>&1
check_eq "without -y off a terminal: exit 2" 2 $?
check "and it says to pass -y" grep -q -- '-y' "$tmp/noyes.out"
check_eq "and nothing was deleted" 44 "$(q "select count(*) from dag_run")"
"$BIN/updraft" db clean --clean-before-timestamp "$cut" -t dag_run,nosuch -y >"$tmp/bad.out" 2>&1
check_eq "an unknown table: exit 2" 2 $?
check "and it names the table" grep -q "nosuch" "$tmp/bad.out"
"$BIN/updraft" db clean --clean-before-timestamp yesterday-ish -y >"$tmp/badts.out" 2>&1
check_eq "a malformed timestamp: exit 2" 2 $?
"$BIN/updraft" db clean -y >"$tmp/nots.out" 2>&1
check_eq "no --clean-before-timestamp: exit 2" 2 $?

# --- batches ----------------------------------------------------------------
"$BIN/updraft" db clean --clean-before-timestamp "$cut" -t task_instance --batch-size 10 -y -v \
  >"$tmp/ti.out" 2>&1
check_eq "task_instance clean exits 0" 0 $?
check_eq "35 rows in batches of 10: four committed batches" "10 10 10 5" \
  "$(grep '^task_instance: batch of' "$tmp/ti.out" | awk '{printf "%s%s", s, $4; s=" "}')"
check "it reports 35 rows deleted and the archive" grep -q '^task_instance: 35 rows deleted, archived in _updraft_deleted__task_instance__' "$tmp/ti.out"
arch_ti=$(q "select tablename from pg_tables where tablename like '\_updraft\_deleted\_\_task\_instance\_\_%'")
check_eq "the archive holds the 35 deleted task instances" 35 "$(q "select count(*) from \"$arch_ti\"")"
check_eq "the archive has the table's columns" \
  "$(q "select string_agg(column_name, ',' order by ordinal_position) from information_schema.columns where table_name = 'task_instance'")" \
  "$(q "select string_agg(column_name, ',' order by ordinal_position) from information_schema.columns where table_name = '$arch_ti'")"
check_eq "the live runs' task instances and the recent one stay" \
  "live_queued:t:queued live_running:done_early:success live_running:t:running recent:t:success" \
  "$(q "select string_agg(run_id || ':' || task_id || ':' || state, ' ' order by run_id, task_id) from task_instance")"
check_eq "their logs went with them (cascade): the running try's and the recent one stay" 2 \
  "$(q "select count(*) from task_log")"

# --- everything else ----------------------------------------------------------
"$BIN/updraft" db clean --clean-before-timestamp "$cut" -y >"$tmp/all.out" 2>&1
check_eq "clean of every table exits 0" 0 $?
check_eq "runs left: the live ones, the recent one, d2's latest scheduled run" \
  "d1:live_queued:queued d1:live_running:running d1:recent:success d2:sched_5:success" \
  "$(q "select string_agg(dag_id || ':' || run_id || ':' || state, ' ' order by dag_id, run_id) from dag_run")"
arch_run=$(q "select tablename from pg_tables where tablename like '\_updraft\_deleted\_\_dag\_run\_\_%'")
check_eq "the dag_run archive holds the 40 deleted runs" 40 "$(q "select count(*) from \"$arch_run\"")"
check_eq "d2's manual run is archived, its latest scheduled run is not" "manual 0" \
  "$(q "select (select run_id from \"$arch_run\" where dag_id = 'd2' and external_trigger) || ' ' || (select count(*) from \"$arch_run\" where run_id = 'sched_5')")"
check_eq "xcoms left: the recent run's and the live run's" 2 "$(q "select count(*) from xcom")"
check_eq "rendered fields left: the recent and the running task instance's" \
  "live_running:running recent:success" \
  "$(q "select string_agg(i.run_id || ':' || i.state, ' ' order by i.run_id) from rendered_task_instance_fields f join task_instance i on i.id = f.ti_id")"
check_eq "event_log: the old rows went, the new ones stay" 0 \
  "$(q "select count(*) from event_log where event = 'old'")"
check_eq "event_log new rows stay" 2 "$(q "select count(*) from event_log where event = 'new'")"
check_eq "import_error: only the recent one stays" /new.yaml "$(q "select string_agg(filename, ' ') from import_error")"
check_eq "job: the running job stays" "running" "$(q "select string_agg(state, ' ') from job")"
check_eq "the recent task log stays, and the running try's" 2 "$(q "select count(*) from task_log")"
check "a second clean finds nothing to delete" bash -c \
  "'$BIN/updraft' db clean --clean-before-timestamp '$cut' -t dag_run -y | grep -q '^dag_run: no rows to delete'"

# --- --skip-archive -------------------------------------------------------------
q "INSERT INTO event_log (dttm, event) SELECT '2020-05-01', 'old2' FROM generate_series(1, 7)" >/dev/null
before=$(q "select count(*) from pg_tables where tablename like '\_updraft\_deleted\_\_%'")
sleep 1 # another second: an archive would get a new name
"$BIN/updraft" db clean --clean-before-timestamp "$cut" -t event_log --skip-archive -y >"$tmp/skip.out" 2>&1
check_eq "--skip-archive clean exits 0" 0 $?
check_eq "--skip-archive deleted the 7 rows" 0 "$(q "select count(*) from event_log where event = 'old2'")"
check_eq "--skip-archive made no archive table" "$before" \
  "$(q "select count(*) from pg_tables where tablename like '\_updraft\_deleted\_\_%'")"
check "and says so (no archive named)" grep -q '^event_log: 7 rows deleted$' "$tmp/skip.out"

# --- progress on a terminal (script(1) gives the command a pty) --------------------
q "INSERT INTO event_log (dttm, event) SELECT '2020-05-01', 'old3' FROM generate_series(1, 25)" >/dev/null
if command -v script >/dev/null; then
  script -qec "'$BIN/updraft' db clean --clean-before-timestamp '$cut' -t event_log --skip-archive -y --batch-size 10" \
    /dev/null >"$tmp/tty.out" 2>&1
  check_eq "on a terminal: the progress line counts up per batch" "10/25 20/25 25/25" \
    "$(tr '\r' '\n' <"$tmp/tty.out" | sed -n 's|^event_log: \([0-9]*/25\) rows deleted.*|\1|p' | paste -sd' ')"
else
  echo "ok - # SKIP progress on a terminal: script(1) is not installed (bsdutils)"
fi
check_eq "off a terminal: no progress line" 0 "$(grep -c '/[0-9]* rows deleted' "$tmp/skip.out")"

# --- drop-archived ----------------------------------------------------------------
"$BIN/updraft" db drop-archived -t dag_run -y >"$tmp/drop1.out" 2>&1
check_eq "drop-archived -t dag_run exits 0" 0 $?
check_eq "only the dag_run archive went" "0 1" \
  "$(q "select (select count(*) from pg_tables where tablename like '\_updraft\_deleted\_\_dag\_run\_\_%') || ' ' || (select count(*) from pg_tables where tablename = '$arch_ti')")"
"$BIN/updraft" db drop-archived </dev/null >"$tmp/drop2.out" 2>&1
check_eq "drop-archived without -y off a terminal: exit 2" 2 $?
"$BIN/updraft" db drop-archived -y >"$tmp/drop3.out" 2>&1
check_eq "drop-archived -y exits 0" 0 $?
check "and names the 5 tables it dropped" grep -q '^dropped 5 archive tables$' "$tmp/drop3.out"
check_eq "no archive table is left" 0 \
  "$(q "select count(*) from pg_tables where tablename like '\_updraft\_deleted\_\_%'")"
check_eq "the clean itself is in the event log" 1 \
  "$(q "select count(*) from event_log where event = 'cli_db_clean' and extra = 'updraft db clean --clean-before-timestamp $cut -t event_log --skip-archive -y'")"

# --- task log retention (the scheduler's housekeeping) ----------------------------
q "
INSERT INTO task_log (ti_id, try_number, data, created_at)
  SELECT (SELECT id FROM task_instance WHERE run_id = 'recent'), 1, 'stale', now() - interval '3 days'
    FROM generate_series(1, 12) g;
INSERT INTO task_log (ti_id, try_number, data, created_at)
  SELECT (SELECT id FROM task_instance WHERE run_id = 'recent'), 1, 'fresh', now() - interval '1 day'
    FROM generate_series(1, 3) g;
" >/dev/null
UPDRAFT__LOGGING__RETENTION_DAYS=2 start_scheduler scheduler
check "logs older than logging.retention_days are pruned in the background" \
  wait_for 30 q_is 0 "select count(*) from task_log where data = 'stale'"
check_eq "logs within the retention stay" 3 "$(q "select count(*) from task_log where data = 'fresh'")"
# 13: the 12 stale rows and the running try's row of 2020 (retention goes by age alone)
check "the scheduler logs the pruning" grep -q 'pruned task log rows older than 2 days count=13' "$tmp/scheduler.log"

no_sanitizer_reports() { ! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp"/*.log "$tmp"/*.out; }
check "no sanitizer reports" no_sanitizer_reports
[ "$T_FAILED" -eq 0 ]
