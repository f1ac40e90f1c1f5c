#!/usr/bin/env bash
# Behind PgBouncer in transaction pooling mode (database.pooler:
# transaction), as Airflow's Helm chart deploys it: a scheduler, two
# workers and the webserver reach Postgres only through Debian's pgbouncer
# with a pool of 4 server connections, and LISTEN over database.direct_url.
#
# Migrations run through the pooler (two at once) and leave no advisory
# lock behind; DAGs with dependencies, XCom, a retry, a 2-slot pool and a
# trigger_dag_run (the operator runner's own pooled connection) run many
# tasks, each exactly once; the REST API and the live /ui/changes work;
# pgbouncer's server connections never exceed the pool (sampled while the
# tasks run); Postgres sees only those plus the four direct LISTEN
# connections; no log line shows a lost prepared statement. The database's
# own time zone is not UTC, so the session's time zone must survive pooling.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  ok "pgbouncer end to end # SKIP Debian's pgbouncer is not installed (make deps)"
  exit 0
fi

POOL=4
RUNS=8
T_LOG_TAIL=30
t_setup
check "pgbouncer starts in transaction mode" svc_start_pgbouncer "$tmp" "$POOL"
check_eq "its pool mode is transaction" transaction \
  "$(svc_pgb_admin "SHOW CONFIG" | awk '$1 == "pool_mode" {print $2}')"
# Every new server session starts in another time zone than UTC.
q "ALTER DATABASE updraft SET timezone TO 'Pacific/Chatham'" >/dev/null

# The mode's configuration is checked when a program starts.
out=$(UPDRAFT__DATABASE__DIRECT_URL='' "$BIN/updraft" db check 2>&1)
check "pooler: transaction without direct_url is refused" grep -q "database.direct_url" <<<"$out"
out=$(UPDRAFT__DATABASE__POOLER=session "$BIN/updraft" db check 2>&1)
check "an unknown pooler mode is refused" grep -q "not a pooler mode" <<<"$out"

# Migrations through the pooler: two at once, both fine, no lock left over.
"$BIN/updraft" db migrate >"$tmp/migrate1.log" 2>&1 &
m1=$!
"$BIN/updraft" db migrate >"$tmp/migrate2.log" 2>&1
m2=$?
wait "$m1"
check_eq "two concurrent migrations through pgbouncer succeed" "0 0" "$? $m2"
check "db check through pgbouncer" "$BIN/updraft" db check
check_eq "no advisory lock is left on a pooled server connection" 0 \
  "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")"

mkdir -p "$tmp/dags"
rec='echo "$AIRFLOW_CTX_DAG_ID $AIRFLOW_CTX_DAG_RUN_ID $AIRFLOW_CTX_TASK_ID $AIRFLOW_CTX_TRY_NUMBER" >>'"$tmp/ran.log"
{
  printf 'pz_chain:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - task_id: produce\n      operator: bash\n      bash_command: '\''%s; echo "val-{{ run_id }}"'\''\n' "$rec"
  printf '    - task_id: consume\n      operator: bash\n      dependencies: [produce]\n'
  printf '      bash_command: '\''%s; test "{{ ti.xcom_pull(task_ids=\"produce\") }}" = "val-{{ run_id }}"'\''\n' "$rec"
  printf '    - task_id: flaky\n      operator: bash\n      dependencies: [produce]\n      retries: 2\n      retry_delay_sec: 1\n'
  printf '      bash_command: '\''%s; [ "$AIRFLOW_CTX_TRY_NUMBER" -ge 2 ]'\''\n' "$rec"
  for i in 1 2 3 4 5 6; do
    printf '    - task_id: fan%d\n      operator: bash\n      pool: pz\n      dependencies: [consume]\n' "$i"
    printf '      bash_command: '\''%s; sleep 0.2'\''\n' "$rec"
  done
  printf '    - task_id: kick\n      operator: trigger_dag_run\n      dependencies: [consume]\n'
  printf '      trigger_dag_id: pz_target\n      trigger_run_id: "t-{{ run_id }}"\n'
  printf '    - task_id: join\n      operator: bash\n      dependencies: [fan1, fan2, fan3, fan4, fan5, fan6, flaky, kick]\n'
  printf '      bash_command: '\''%s'\''\n' "$rec"
  printf 'pz_target:\n  schedule: null\n  start_date: 2024-01-01\n  tasks:\n'
  printf '    - task_id: hit\n      operator: bash\n      bash_command: '\''%s'\''\n' "$rec"
} >"$tmp/dags/pz.yaml"
q "INSERT INTO slot_pool (pool, slots) VALUES ('pz', 2)" >/dev/null

export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=6
base=http://127.0.0.1:$port
api=$base/api/v1

start_scheduler scheduler
start_worker worker1 w1 4
start_worker worker2 w2 4
start_webserver webserver
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE version_id IS NOT NULL")" = 2 ]; }
check "the DAGs are parsed through the pooler" wait_for 30 dags_in
check "the webserver answers" wait_for 10 curl -sf -o /dev/null "$base/health"
health_ok() { json_ok "$base/health" '.metadatabase.status == "healthy" and .scheduler.status == "healthy"'; }
check "/health: metadatabase and scheduler healthy" wait_for 20 health_ok
check "the API lists both DAGs" json_ok "$api/dags" '[.dags[].dag_id] | index("pz_chain") and index("pz_target")'

# The four LISTEN connections (the scheduler's loop and alerter, the
# webserver's cache and live feed) go to Postgres directly.
listens() { [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'")" -ge 4 ]; }
check "LISTEN runs on direct connections" wait_for 20 listens

# A page waiting for changes of pz_chain.
tok=$(curl -s "$base/ui/changes" | jq -r .token)
curl -s "$base/ui/changes?after=$tok&dag_id=pz_chain" >"$tmp/wait.json" &
waiter=$!
sleep 0.5

code=$(curl -s -o "$tmp/post.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"dag_run_id": "r1", "logical_date": "2026-01-02T03:04:05Z"}' "$api/dags/pz_chain/dagRuns")
check_eq "POST dagRuns through the pooler answers 200" 200 "$code"
wait "$waiter"
check_eq "the waiting page learns of the new run (NOTIFY reached the direct LISTEN)" true \
  "$(jq -r .changed "$tmp/wait.json")"
check_eq "logical_date comes back in UTC although the database's zone is not" \
  "2026-01-02T03:04:05.000000+00:00" "$(jq -r .logical_date "$tmp/post.json")"
for i in $(seq 2 "$RUNS"); do
  curl -sf -X POST -H 'Content-Type: application/json' -d "{\"dag_run_id\": \"r$i\"}" \
    "$api/dags/pz_chain/dagRuns" >/dev/null || not_ok "trigger r$i"
done

# Sample pgbouncer's server connections (SHOW POOLS: sv_active, sv_idle,
# sv_used, sv_tested, sv_login; cl_waiting) and Postgres's backends while
# the tasks run.
all_done() {
  [ "$(q "SELECT count(*) FROM dag_run WHERE state IN ('success', 'failed')")" = $((RUNS * 2)) ]
}
sample_pools() {
  while [ ! -e "$tmp/stop-sampling" ]; do
    echo "$(svc_pgb_col "SHOW POOLS" updraft sv_active sv_idle sv_used sv_tested sv_login)" \
      "$(svc_pgb_col "SHOW POOLS" updraft cl_waiting)"
    sleep 0.02
  done >"$tmp/pools.txt"
}
sample_backends() {
  while [ ! -e "$tmp/stop-sampling" ]; do
    # not counting this test's own psql sessions
    q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> 'psql'"
    sleep 0.02
  done >"$tmp/backends.txt"
}
sample_pools &
s1=$!
sample_backends &
s2=$!
check "every run finishes" wait_for 180 all_done
touch "$tmp/stop-sampling"
wait "$s1" "$s2"
samples=$(wc -l <"$tmp/pools.txt")
max_sv=$(awk 'BEGIN {m = 0} $1 > m {m = $1} END {print m}' "$tmp/pools.txt")
max_wait=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$tmp/pools.txt")
max_be=$(sort -n "$tmp/backends.txt" | tail -1)
echo "# samples=$samples max pgbouncer server connections=$max_sv max clients waiting=$max_wait max postgres backends=$max_be"
check "pgbouncer's server connections stay within the pool of $POOL (sampled)" test "$max_sv" -le "$POOL" -a "$max_sv" -ge 1
check "postgres sees at most the pool plus the 4 LISTEN connections (sampled)" test "$max_be" -le $((POOL + 4))
check_eq "every run succeeded" "pz_chain=$RUNS pz_target=$RUNS" \
  "$(q "SELECT string_agg(dag_id || '=' || n, ' ' ORDER BY dag_id) FROM (SELECT dag_id, count(*) n FROM dag_run WHERE state = 'success' GROUP BY dag_id) s")"
check_eq "every task instance succeeded" "success" \
  "$(q "SELECT string_agg(DISTINCT state, ',') FROM task_instance")"

# Exactly once: each (dag, run, task, try) ran once, and the tries are the expected ones.
check_eq "no task try ran twice" "" "$(sort "$tmp/ran.log" | uniq -d)"
check_eq "every try ran: 11 per pz_chain run (flaky twice), 1 per pz_target run" \
  $((RUNS * 11 + RUNS)) "$(wc -l <"$tmp/ran.log")"
check_eq "flaky needed exactly two tries in every run" "$RUNS" \
  "$(q "SELECT count(*) FROM task_instance WHERE task_id = 'flaky' AND try_number = 2")"
check_eq "the 2-slot pool never had more than 2 at once" 0 \
  "$(q "SELECT count(*) FROM task_instance a JOIN task_instance b ON a.id < b.id JOIN task_instance c ON b.id < c.id
        WHERE a.pool = 'pz' AND b.pool = 'pz' AND c.pool = 'pz'
          AND greatest(a.start_date, b.start_date, c.start_date) < least(a.end_date, b.end_date, c.end_date)")"
check_eq "XCom through the API" 'val-r3' \
  "$(curl -sf "$api/dags/pz_chain/dagRuns/r3/taskInstances/produce/xcomEntries/return_value" | jq -r .value)"
check_eq "trigger_dag_run made its run through the pooler" success \
  "$(curl -sf "$api/dags/pz_target/dagRuns/t-r5" | jq -r .state)"
check_eq "the API lists the runs" "$RUNS" \
  "$(curl -sf "$api/dags/pz_chain/dagRuns?state=success" | jq .total_entries)"
check_eq "taskInstances of a run" 11 \
  "$(curl -sf "$api/dags/pz_chain/dagRuns/r2/taskInstances" | jq .total_entries)"

xacts=$(svc_pgb_col "SHOW STATS" updraft total_xact_count)
echo "# pgbouncer transactions=$xacts"
check "the daemons' work went through pgbouncer" test "${xacts:-0}" -gt 500

# The direct LISTEN connections die: each program opens its own again, and
# a waiting page still learns of a new run.
q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'" >/dev/null
check "the LISTEN connections come back" wait_for 30 listens
tok=$(curl -s "$base/ui/changes" | jq -r .token)
curl -s "$base/ui/changes?after=$tok&dag_id=pz_target" >"$tmp/wait2.json" &
waiter=$!
sleep 0.5
check "a run after the LISTEN connections died is accepted" \
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"dag_run_id": "after_listen"}' \
  "$api/dags/pz_target/dagRuns"
wait "$waiter"
check_eq "and a waiting page learns of it" true "$(jq -r .changed "$tmp/wait2.json")"
check "and it runs" wait_for 60 run_done pz_target after_listen

# PgBouncer restarts: every program reconnects through it.
svc_stop_pgbouncer "$tmp"
gone() { ! svc_pgb_admin "SHOW VERSION" >/dev/null 2>&1; }
wait_for 10 gone
check "pgbouncer restarts" svc_start_pgbouncer "$tmp" "$POOL"
post_after() {
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"dag_run_id": "after_restart"}' \
    "$api/dags/pz_chain/dagRuns" || [ "$(run_state pz_chain after_restart)" != "" ]
}
check "the API answers again after the restart" wait_for 30 post_after
check "a run after the restart finishes" wait_for 90 run_done pz_chain after_restart
check_eq "and succeeds" success "$(run_state pz_chain after_restart)"

# 26000: prepared statement does not exist; 42P05: it exists already.
check_eq "no lost or clashing prepared statements in any log" 0 \
  "$(cat "$tmp"/*.log | grep -cE 'sqlstate=(26000|42P05)|prepared statement')"

t_cleanup
