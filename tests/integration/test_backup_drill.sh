#!/usr/bin/env bash
# The backup and restore drill of docs/operations.md "Backup and restore",
# on a live cluster: a scheduler and a worker catch up an hourly DAG while
# pg_dump -Fc takes the metadata database; everything stops; the dump is
# restored into a new database and the daemons start on it with a fresh
# Redis and the same fernet key. The runs continue: every run of the dump
# ends in success (those in flight included), new runs are made, none twice
# and no hour skipped; the connection saved before the dump still decrypts;
# with another fernet key it does not, and the command says why.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_cleanup_extra() {
  svc_stop "$tmp/redis2" # the fresh Redis (no Postgres there)
  [ "${T_FAILED:-0}" -ne 0 ] || return 0
  for f in "$tmp"/*.out; do [ -f "$f" ] && { echo "# --- $f"; tail -30 "$f" | sed 's/^/# /'; }; done
  return 0
}
t_setup
pgbin=$(svc_pg_bindir)

mkdir -p "$tmp/dags"
# 30 hours of catchup, two runs at a time; a try lost with a daemon is retried.
start=$(date -u -d '30 hours ago' +%Y-%m-%dT%H:00:00)
cat >"$tmp/dags/drill.yaml" <<YAML
drill:
  schedule: "@hourly"
  start_date: $start
  catchup: true
  max_active_runs: 2
  default_args:
    retries: 3
    retry_delay_sec: 1
  tasks:
    - task_id: work
      operator: bash
      bash_command: "sleep 0.5; echo drill \$AIRFLOW_CTX_LOGICAL_DATE"
    - task_id: after
      operator: bash
      bash_command: "echo after"
      dependencies: [work]
YAML
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__SCHEDULER__ZOMBIE_THRESHOLD_SEC=4
export UPDRAFT__SCHEDULER__ZOMBIE_DETECTION_INTERVAL_SEC=1
export UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)
key=$UPDRAFT__CORE__FERNET_KEY
old_url=$UPDRAFT__DATABASE__URL

"$BIN/updraft" db migrate >/dev/null
check_eq "db migrate exits 0" 0 $?
"$BIN/updraft" connections add drill_pg --conn-uri 'postgres://drill:s3cret-pw@db.example:5432/app' \
  >"$tmp/connadd.out" 2>&1
check_eq "a connection with a password is saved" 0 $?
check_eq "its password is stored encrypted" "true 0" \
  "$(q "select is_encrypted || ' ' || position('s3cret-pw' in password) from connection where conn_id = 'drill_pg'")"

start_scheduler scheduler1
sched1=$!
start_worker worker1 w1 4
worker1=$!
succeeded() { q "select count(*) from dag_run where dag_id = 'drill' and state = 'success'"; }
at_least() { [ "$(succeeded)" -ge "$1" ]; }
check "the first cluster finishes some runs" wait_for 90 at_least 4

# The backup, taken while the cluster runs (pg_dump reads one snapshot).
"$pgbin/pg_dump" -Fc -f "$tmp/updraft.dump" "$old_url" 2>"$tmp/dump.out"
check_eq "pg_dump -Fc of the live database exits 0" 0 $?
kill -TERM "$sched1" "$worker1"
wait "$sched1" "$worker1" 2>/dev/null

# What the dump holds, read back from the file itself.
"$pgbin/createdb" -h 127.0.0.1 -p "$SVC_PG_PORT" -U updraft updraft_restored
new_url="postgresql://updraft@127.0.0.1:$SVC_PG_PORT/updraft_restored"
"$pgbin/pg_restore" --no-owner -d "$new_url" "$tmp/updraft.dump" >"$tmp/restore.out" 2>&1
check_eq "pg_restore into a new database exits 0" 0 $?
# The first database goes away: only the restored one can serve what follows.
"$pgbin/dropdb" -h 127.0.0.1 -p "$SVC_PG_PORT" -U updraft updraft
export UPDRAFT__DATABASE__URL=$new_url
qn() { "$pgbin/psql" "$new_url" -v ON_ERROR_STOP=1 -tAXc "$1"; }
check_eq "db check passes on the restored database" "database ok" "$("$BIN/updraft" db check 2>&1)"
dumped_runs=$(qn "select count(*) from dag_run where dag_id = 'drill'")
dumped_live=$(qn "select count(*) from dag_run where dag_id = 'drill' and state in ('queued', 'running')")
qn "select run_id from dag_run where dag_id = 'drill' order by run_id" >"$tmp/dumped_runs.txt"
echo "# the dump holds $dumped_runs runs, $dumped_live of them in flight"

# A fresh Redis: nothing of the first cluster's queue.
svc_start_redis "$tmp/redis2" || not_ok "a fresh redis starts"
check_eq "the fresh Redis is empty" 0 "$(redis-cli -p "$(cat "$tmp/redis2/redis.port")" dbsize)"

start_scheduler scheduler2
start_worker worker2 w2 4
# The runs due now: one per hour from start_date to the last whole hour
# (recomputed at each poll, as an hour may turn during the test).
due() { echo $(( ( $(date -u +%s) / 3600 * 3600 - $(date -u -d "$start" +%s) ) / 3600 )); }
all_done() { q_is "$(due) 0" "select count(*) filter (where state = 'success') || ' ' || count(*) filter (where state <> 'success') from dag_run where dag_id = 'drill'"; }
check "the restored cluster catches up: every hourly run due succeeds" wait_for 180 all_done
check_eq "every run of the dump is still there and succeeded" "$(cat "$tmp/dumped_runs.txt")" \
  "$(qn "select d.run_id from dag_run d where d.dag_id = 'drill' and d.run_id in ($(sed "s/.*/'&'/" "$tmp/dumped_runs.txt" | paste -sd,)) and d.state = 'success' order by d.run_id")"
check "runs were created after the restore" [ "$(qn "select count(*) from dag_run where dag_id = 'drill'")" -gt "$dumped_runs" ]
check_eq "no hour twice, none skipped" "t" \
  "$(qn "select count(distinct logical_date) = count(*) and (extract(epoch from max(logical_date) - min(logical_date)) / 3600 + 1)::int = count(*) from dag_run where dag_id = 'drill'")"
check_eq "the first run is start_date's" "$start" \
  "$(qn "select to_char(min(logical_date) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') from dag_run where dag_id = 'drill'")"
check_eq "every task instance of every run succeeded" "0" \
  "$(qn "select count(*) from task_instance where dag_id = 'drill' and state <> 'success'")"

# The fernet key: the same key decrypts, another one does not.
"$BIN/updraft" connections get drill_pg -o json >"$tmp/conn.out" 2>&1
check_eq "connections get on the restored database exits 0" 0 $?
check_eq "the password decrypts with the backed-up key" s3cret-pw "$(jq -r .password "$tmp/conn.out")"
UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32) "$BIN/updraft" connections get drill_pg \
  >"$tmp/wrongkey.out" 2>&1
check_eq "with another fernet key: exit 1" 1 $?
check "and the message says the key does not decrypt it" grep -qiE 'key|decrypt' "$tmp/wrongkey.out"
check "and the password is not printed" bash -c "! grep -q s3cret-pw '$tmp/wrongkey.out'"
echo "# with another key: $(head -1 "$tmp/wrongkey.out")"

no_sanitizer_reports() { ! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp"/*.log "$tmp"/*.out; }
check "no sanitizer reports" no_sanitizer_reports
[ "$T_FAILED" -eq 0 ]
