#!/usr/bin/env bash
# Slack and webhook alerts against real Postgres, Redis, a scheduler and a
# worker, delivered to local HTTP receivers started here (never the
# internet): a failing task gives exactly one Slack message with its
# fields, log lines and link; retry then failure messages; a 429 with
# Retry-After, then a 500, then a 200 give exactly one delivered message
# in 3 attempts; a scheduler killed (SIGKILL) before delivering delivers
# after its restart; no webhook URL in any log; bad webhook URLs refused
# when saved; alerts.on_task_failure for a DAG that declares nothing; a
# DAG run failure alert; an SLA miss reported once; `updraft alerts test`.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=60
t_setup
mkdir -p "$tmp/dags"

# --- HTTP receivers ------------------------------------------------------------
# Each records every request as $dir/NNNN.{path,body,status} and answers
# from $dir/plan, one status per request (429 carries Retry-After: 1), then
# 200. It logs nothing: its paths hold the webhook tokens.
cat >"$tmp/receiver.py" <<'PY'
import http.server, os, sys, threading, time
port_file, d = sys.argv[1], sys.argv[2]
lock = threading.Lock()
count = [0]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        with lock:
            count[0] += 1
            i = count[0]
            plan = []
            try:
                with open(os.path.join(d, "plan")) as f:
                    plan = [l.strip() for l in f if l.strip()]
            except OSError:
                pass
            status = plan[i - 1] if i <= len(plan) else "200"
            base = os.path.join(d, "%04d" % i)
            with open(base + ".path", "w") as f:
                f.write(self.path)
            with open(base + ".body", "wb") as f:
                f.write(body)
            with open(base + ".status", "w") as f:
                f.write(status)
        if status == "hang":  # never answer in time
            time.sleep(30)
            return
        status = int(status)
        out = b"ok" if status < 300 else b"try later" if status == 429 else b"no_service"
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
PY
start_receiver() { # NAME: starts receiver NAME, sets R_<NAME>_PORT
  mkdir -p "$tmp/recv_$1"
  python3 "$tmp/receiver.py" "$tmp/recv_$1/port" "$tmp/recv_$1" 2>"$tmp/recv_$1/stderr" &
  pids+=($!)
  wait_for 10 test -s "$tmp/recv_$1/port" || { not_ok "receiver $1 starts"; exit 1; }
  printf -v "R_${1}_PORT" '%s' "$(cat "$tmp/recv_$1/port")"
}
start_receiver main
start_receiver flaky
printf '429\n500\n200\n' >"$tmp/recv_flaky/plan"
start_receiver slow
printf 'hang\n200\n' >"$tmp/recv_slow/plan"

# requests of receiver R whose path contains P (and whose body matches jq filter F)
bodies() { # R PATH_PART [JQ_FILTER]
  local f
  for f in "$tmp/recv_$1"/*.body; do
    [ -e "$f" ] || continue
    grep -qF -- "$2" "${f%.body}.path" || continue
    if [ -n "${3:-}" ]; then jq -e "$3" "$f" >/dev/null 2>&1 || continue; fi
    echo "$f"
  done
}
count_bodies() { bodies "$@" | wc -l | tr -d ' '; }
have_bodies() { [ "$(count_bodies "$1" "$2" "${4:-}")" -ge "$3" ]; } # R PATH N [FILTER]

# --- configuration and connections -------------------------------------------------
SLACK_TOKEN=T0ALERT/B0ALERT/XXSECRETSLACK1
DEF_TOKEN=T0DEF/B0DEF/XXSECRETDEFAULT
HOOK_PATH=hook/XXSECRETHOOK
FLAKY_TOKEN=T0F/B0F/XXSECRETFLAKY
SLOW_TOKEN=T0S/B0S/XXSECRETSLOW
export UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__HEARTBEAT_SEC=1
export UPDRAFT__WORKER__LOG_FLUSH_MS=100
export UPDRAFT__WEBSERVER__BASE_URL=https://updraft.example.com/
export UPDRAFT__ALERTS__ON_TASK_FAILURE=slack_default
export UPDRAFT__ALERTS__SLA_CHECK_INTERVAL_SEC=1
export UPDRAFT__ALERTS__REQUEST_TIMEOUT_SEC=3
export UPDRAFT__ALERTS__MAX_BACKOFF_SEC=2
export UPDRAFT__LOGGING__LEVEL=debug
# the global default comes from the environment, as Airflow's AIRFLOW_CONN_*
export UPDRAFT_CONN_SLACK_DEFAULT="{\"conn_type\": \"slack_webhook\", \"password\": \"http://127.0.0.1:$R_main_PORT/services/$DEF_TOKEN\"}"
check "db migrate" "$BIN/updraft" db migrate

U=("$BIN/updraft")
quiet() { "$@" >/dev/null; }
check "slack_webhook connection with the URL in the password is stored" quiet "${U[@]}" connections add slack_test \
  --conn-type slack_webhook --conn-password "http://127.0.0.1:$R_main_PORT/services/$SLACK_TOKEN"
check "webhook connection with the URL in the host is stored" quiet "${U[@]}" connections add hook_test \
  --conn-type webhook --conn-host "http://localhost:$R_main_PORT/$HOOK_PATH"
check "slack_webhook connection for the flaky receiver is stored" quiet "${U[@]}" connections add slack_flaky \
  --conn-type slack_webhook --conn-password "http://127.0.0.1:$R_flaky_PORT/services/$FLAKY_TOKEN"
check "slack_webhook connection for the slow receiver is stored" quiet "${U[@]}" connections add slack_slow \
  --conn-type slack_webhook --conn-password "http://127.0.0.1:$R_slow_PORT/services/$SLOW_TOKEN"
check "an https Slack URL is accepted" quiet "${U[@]}" connections add slack_real \
  --conn-type slack_webhook --conn-password "https://hooks.slack.com/services/T1/B1/XXSECRETREAL"
check "a token alone is accepted (Slack's endpoint is assumed)" quiet "${U[@]}" connections add slack_token \
  --conn-type slack_webhook --conn-password "T1/B1/XXSECRETTOKEN"

# --- (6) bad URLs are refused when saved ------------------------------------------
refused() { # NAME EXPECTED_MESSAGE_PART ARGS...: exit 1, a clear message, never the URL
  local name=$1 want=$2 out rc; shift 2
  out=$("${U[@]}" connections add "$name" "$@" 2>&1); rc=$?
  check_eq "refused: $name exits 1" 1 "$rc"
  check "refused: $name says why ($want)" grep -qF -- "$want" <<<"$out"
  check "refused: $name does not echo the URL" bash -c '! grep -q "XXSECRET" <<<"$1"' _ "$out"
  check_eq "refused: $name is not stored" 0 "$(q "SELECT count(*) FROM connection WHERE conn_id = '$name'")"
}
refused bad_http "must use https" --conn-type slack_webhook --conn-password "http://hooks.example.com/services/XXSECRETBAD1"
refused bad_scheme "must start with https://" --conn-type webhook --conn-host "ftp://example.com/XXSECRETBAD2"
refused bad_empty "needs its webhook URL" --conn-type slack_webhook
refused bad_host "it has no host" --conn-type slack_webhook --conn-password "https:///services/XXSECRETBAD3"
refused bad_space "space or a control character" --conn-type webhook --conn-password "https://example.com/a b/XXSECRETBAD4"
refused bad_port "port" --conn-type webhook --conn-host "https://example.com:99999/XXSECRETBAD5"

# --- DAGs ----------------------------------------------------------------------------
sla_start=$(date -u -d "3 days ago" +%Y-%m-%d)
cat >"$tmp/dags/alerts.yaml" <<YAML
al_fail:
  schedule: null
  start_date: 2024-01-01
  default_args:
    on_failure_callback:
      callback: airflow.providers.slack.notifications.slack_webhook.send_slack_webhook_notification
      slack_webhook_conn_id: slack_test
      text: "{{ dag.dag_id }} failed on try {{ ti.try_number }} ({{ ds }}) <!here>"
  tasks:
    - task_id: boom
      operator: bash
      bash_command: 'for i in \$(seq 1 30); do echo "line \$i <a&b>"; done; echo "fence \\\`\\\`\\\` end"; exit 3'
al_retry:
  schedule: null
  start_date: 2024-01-01
  default_args:
    retries: 1
    retry_delay_sec: 1
    on_retry_alert: {webhook: hook_test}
    on_failure_alert: {webhook: hook_test, text: "{{ ti.task_id }} {{ no_such_name }}"}
  tasks:
    - {task_id: flaky, operator: bash, bash_command: "echo attempt; exit 1"}
al_429:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: t, operator: bash, bash_command: "exit 1", on_failure_alert: {slack: slack_flaky}}
al_kill:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: slow, operator: bash, bash_command: "sleep 4; echo dying; exit 1", on_failure_alert: slack_test}
al_lease:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: t, operator: bash, bash_command: "exit 1", on_failure_alert: {slack: slack_slow}}
al_plain:
  schedule: null
  start_date: 2024-01-01
  tasks:
    - {task_id: plain, operator: bash, bash_command: "echo plain; exit 2"}
    - {task_id: fine, operator: bash, bash_command: "true", dependencies: [plain], trigger_rule: all_done}
al_dagfail:
  schedule: null
  start_date: 2024-01-01
  on_failure_alert: {webhook: hook_test}
  on_success_alert: {webhook: hook_test}
  tasks:
    - {task_id: bad, operator: bash, bash_command: "exit 1", on_failure_callback: null}
al_ok:
  schedule: null
  start_date: 2024-01-01
  on_success_alert: {webhook: hook_test}
  tasks:
    - {task_id: good, operator: bash, bash_command: "true"}
al_sla:
  schedule: "@daily"
  start_date: $sla_start
  catchup: false
  sla_miss_alert: {webhook: hook_test}
  tasks:
    - {task_id: late, operator: bash, bash_command: "true", sla: 1}
    - {task_id: nosla, operator: bash, bash_command: "true"}
YAML

start_scheduler scheduler; sched=$!
start_worker worker w1 8
dags_in() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id LIKE 'al\_%' AND version_id IS NOT NULL")" = 9 ]; }
check "DAGs are parsed" wait_for 30 dags_in
"${U[@]}" dags list-import-errors 2>&1 | grep 'alerts.yaml' | sed 's/^/# /'

ti_state() { q "SELECT state FROM task_instance WHERE dag_id = '$1' AND run_id = '$2' AND task_id = '$3'"; }
ti_is() { [ "$(ti_state "$1" "$2" "$3")" = "$4" ]; }
trigger() { "${U[@]}" dags trigger "$1" --run-id "$2" >/dev/null 2>&1 || not_ok "trigger $1 $2"; }

# --- (1) a failing task: exactly one Slack message ------------------------------------
RUN1='manual__2024-05-01T10:00:00+00:00'
trigger al_fail "$RUN1"
check "al_fail: the run fails" wait_run al_fail "$RUN1" 30
check "al_fail: a Slack message arrives" wait_for 15 have_bodies main "/services/$SLACK_TOKEN" 1
sleep 2
check_eq "al_fail: exactly one message" 1 "$(count_bodies main "/services/$SLACK_TOKEN" '.blocks[2].fields[0].text | test("al_fail")')"
b=$(bodies main "/services/$SLACK_TOKEN" '.blocks[2].fields[0].text | test("al_fail")' | head -1)
field() { jq -r --arg l "*$1*" '.blocks[] | select(.fields) | .fields[].text | select(startswith($l)) | sub("^[^\n]*\n"; "")' "$b"; }
check_eq "al_fail: header" ":red_circle: Task failed: al_fail.boom" "$(jq -r '.blocks[0].text.text' "$b")"
check_eq "al_fail: the templated text, rendered" "al_fail failed on try 1 ($(date -u +%Y-%m-%d)) <!here>" "$(jq -r .text "$b")"
check_eq "al_fail: DAG field" al_fail "$(field DAG)"
check_eq "al_fail: task field" boom "$(field Task)"
check_eq "al_fail: run field" "$RUN1" "$(field Run)"
check_eq "al_fail: try 1/1, final" "1/1 (final)" "$(field Try)"
check_eq "al_fail: host" w1 "$(field Host)"
check "al_fail: logical date field" grep -q '^20[0-9][0-9]-' <<<"$(field 'Logical date')"
check "al_fail: duration field" grep -q ' s$' <<<"$(field Duration)"
logtext=$(jq -r '.blocks[] | select(.text.text? // "" | startswith("*Log*")) | .text.text' "$b")
check "al_fail: the log's last lines are there" grep -qF 'line 30 &lt;a&amp;b&gt;' <<<"$logtext"
check "al_fail: only the last 20 lines" bash -c '! grep -qF "line 5 " <<<"$1"' _ "$logtext"
block=$(sed -n '/^```$/,/^```$/p' <<<"$logtext" | sed '1d;$d')
check_eq "al_fail: a cut mark, then the last 20 lines in the code block" "[...] 20" \
  "$(head -1 <<<"$block") $(($(wc -l <<<"$block") - 1))"
check "al_fail: a fence in the log cannot close the code block" \
  bash -c '[ "$(grep -o "\`\`\`" <<<"$1" | wc -l)" -eq 2 ]' _ "$logtext"
enc_run=$(jq -rn --arg x "$RUN1" '$x|@uri')
check_eq "al_fail: link to the task's log" \
  "https://updraft.example.com/dags/al_fail/grid?dag_run_id=$enc_run&task_id=boom&tab=logs" \
  "$(jq -r '.blocks[] | select(.type == "actions") | .elements[0].url' "$b")"
check_eq "al_fail: the outbox row is delivered in one attempt" "delivered 1 200" \
  "$(q "SELECT d.state || ' ' || d.attempts || ' ' || d.last_status FROM alert_delivery d
          JOIN callback_event e ON e.id = d.event_id WHERE e.dag_id = 'al_fail' AND e.kind = 'task_failure'")"
check_eq "al_fail: the task-level alert replaces the config default" 0 \
  "$(count_bodies main "/services/$DEF_TOKEN" '.blocks[0].text.text | test("al_fail")')"

# --- (2) retry, then failure ------------------------------------------------------------
trigger al_retry r1
check "al_retry: the run fails" wait_run al_retry r1 30
check "al_retry: two webhook messages" wait_for 15 have_bodies main "/$HOOK_PATH" 2 '.dag_id == "al_retry"'
sleep 1
mapfile -t rb < <(bodies main "/$HOOK_PATH" '.dag_id == "al_retry"')
check_eq "al_retry: exactly two messages" 2 "${#rb[@]}"
check_eq "al_retry: first the retry (try 1/2, not final)" "task_retry 1/2 false flaky" \
  "$(jq -r '"\(.event) \(.tries) \(.final) \(.task_id)"' "${rb[0]}")"
check_eq "al_retry: then the failure (try 2/2, final)" "task_failure 2/2 true flaky" \
  "$(jq -r '"\(.event) \(.tries) \(.final) \(.task_id)"' "${rb[1]:-/dev/null}")"
check "al_retry: a text that cannot render falls back to the default and says why" \
  grep -q "^Task flaky in DAG al_retry failed (try 2/2, final).*could not be rendered.*no_such_name" \
  <<<"$(jq -r .text "${rb[1]:-/dev/null}" | tr '\n' ' ')"
check_eq "al_retry: the webhook body carries the log" "attempt" "$(jq -r '.log' "${rb[0]}" | grep -x attempt | head -1)"

# --- (3) 429 with Retry-After, 500, then 200 ------------------------------------------------
trigger al_429 r1
check "al_429: three attempts reach the receiver" wait_for 30 have_bodies flaky "/services/$FLAKY_TOKEN" 3
flaky_delivered() { [ "$(q "SELECT state FROM alert_delivery WHERE conn_id = 'slack_flaky'")" = delivered ]; }
check "al_429: the outbox row says delivered" wait_for 10 flaky_delivered
sleep 2
check_eq "al_429: answers 429, 500, 200 in that order, nothing more" "429 500 200" \
  "$(for f in "$tmp"/recv_flaky/*.status; do cat "$f"; echo; done | paste -sd' ')"
check_eq "al_429: delivered with attempts = 3, last status 200" "delivered 3 200" \
  "$(q "SELECT state || ' ' || attempts || ' ' || last_status FROM alert_delivery WHERE conn_id = 'slack_flaky'")"
check_eq "al_429: the three attempts sent the same body" 1 \
  "$(for f in "$tmp"/recv_flaky/*.body; do md5sum <"$f"; done | sort -u | wc -l)"
mtime() { stat -c %.3Y "$1"; }
check "al_429: Retry-After honoured (>= 1 s between the first two attempts)" \
  awk -v a="$(mtime "$tmp/recv_flaky/0001.body")" -v b="$(mtime "$tmp/recv_flaky/0002.body")" 'BEGIN{exit !(b - a >= 0.95)}'
check_eq "al_429: each failed attempt was recorded, then cleared on delivery" "" \
  "$(q "SELECT coalesce(last_error, '') FROM alert_delivery WHERE conn_id = 'slack_flaky'")"

# --- (7) the config default for a DAG that declares nothing ---------------------------------
trigger al_plain r1
check "al_plain: the run ends" wait_run al_plain r1 30
check "al_plain: the default connection gets the failure" wait_for 15 have_bodies main "/services/$DEF_TOKEN" 1 '.blocks[0].text.text | test("al_plain.plain")'
sleep 1
check_eq "al_plain: exactly one message, and none for the task that succeeded" 1 \
  "$(count_bodies main "/services/$DEF_TOKEN" '.blocks[0].text.text | test("al_plain")')"

# --- (8) DAG run failure and success -----------------------------------------------------------
trigger al_dagfail r1
trigger al_ok r1
check "al_dagfail: the run fails" wait_run al_dagfail r1 30
check "al_dagfail: a DAG run failure message" wait_for 15 have_bodies main "/$HOOK_PATH" 1 '.dag_id == "al_dagfail" and .event == "dag_failure"'
b=$(bodies main "/$HOOK_PATH" '.dag_id == "al_dagfail" and .event == "dag_failure"' | head -1)
check_eq "al_dagfail: run id, no task fields" "r1 null null null" "$(jq -r '"\(.run_id) \(.task_id) \(.try_number) \(.log)"' "$b")"
check_eq "al_dagfail: link to the run" "https://updraft.example.com/dags/al_dagfail/grid?dag_run_id=r1" "$(jq -r .log_url "$b")"
check_eq "al_dagfail: on_failure_callback: null on the task silences the config default" 0 \
  "$(count_bodies main "/services/$DEF_TOKEN" '.blocks[0].text.text | test("al_dagfail")')"
check "al_ok: a DAG run success message" wait_for 15 have_bodies main "/$HOOK_PATH" 1 '.dag_id == "al_ok" and .event == "dag_success"'
check_eq "al_ok: no other message for it" 1 "$(count_bodies main "/$HOOK_PATH" '.dag_id == "al_ok"')"

# --- (9) SLA miss, once ------------------------------------------------------------------------
sla_runs() { [ "$(q "SELECT count(*) FROM dag_run WHERE dag_id = 'al_sla' AND run_type = 'scheduled'")" -ge 1 ]; }
check "al_sla: a scheduled run is created" wait_for 30 sla_runs
check "al_sla: an SLA miss message" wait_for 20 have_bodies main "/$HOOK_PATH" 1 '.dag_id == "al_sla" and .event == "sla_miss"'
sleep 3
check_eq "al_sla: exactly one, for the task with an sla" "1 late" \
  "$(count_bodies main "/$HOOK_PATH" '.dag_id == "al_sla"') $(jq -r .task_id "$(bodies main "/$HOOK_PATH" '.dag_id == "al_sla"' | head -1)")"
check_eq "al_sla: recorded once" 1 "$(q "SELECT count(*) FROM sla_miss WHERE dag_id = 'al_sla'")"
b=$(bodies main "/$HOOK_PATH" '.dag_id == "al_sla"' | head -1)
check "al_sla: the deadline is the interval end + 1 s" grep -q 'T00:00:01' <<<"$(jq -r .sla_deadline "$b")"

# --- (4) the scheduler killed between the state change and the delivery -----------------------
trigger al_kill r1
check "al_kill: the task runs" wait_for 20 ti_is al_kill r1 slow running
kill -KILL "$sched"; wait "$sched" 2>/dev/null
check "al_kill: the task fails while no scheduler runs" wait_for 20 ti_is al_kill r1 slow failed
sleep 1
check_eq "al_kill: nothing sent yet" 0 "$(count_bodies main "/services/$SLACK_TOKEN" '.blocks[0].text.text | test("al_kill")')"
check_eq "al_kill: the event waits in the database" 1 \
  "$(q "SELECT count(*) FROM callback_event WHERE dag_id = 'al_kill' AND kind = 'task_failure' AND processed_at IS NULL")"
start_scheduler scheduler2; sched=$!
check "al_kill: delivered after the restart" wait_for 20 have_bodies main "/services/$SLACK_TOKEN" 1 '.blocks[0].text.text | test("al_kill")'
sleep 1
check_eq "al_kill: exactly once" 1 "$(count_bodies main "/services/$SLACK_TOKEN" '.blocks[0].text.text | test("al_kill")')"

# --- a delivery in flight when its scheduler dies is taken over after the lease ---------------
trigger al_lease r1
check "al_lease: the first attempt reaches a receiver that does not answer" \
  wait_for 20 have_bodies slow "/services/$SLOW_TOKEN" 1
check_eq "al_lease: the delivery is in flight" "sending 1" \
  "$(q "SELECT state || ' ' || attempts FROM alert_delivery WHERE conn_id = 'slack_slow'")"
kill -KILL "$sched"; wait "$sched" 2>/dev/null
# Retention (alerts.event_retention_days, 30): a restarted sender prunes old
# processed events and their finished deliveries, never a pending one.
q "INSERT INTO callback_event (kind, dag_run_id, dag_id, run_id, created_at, processed_at)
   SELECT k, id, dag_id, run_id, now() - interval '40 days', now() - interval '40 days'
     FROM dag_run, (VALUES ('dag_success'), ('dag_failure')) v(k) WHERE dag_id = 'al_kill'" >/dev/null
q "INSERT INTO alert_delivery (event_id, conn_id, kind, state)
   SELECT id, 'slack_test', 'slack', 'pending' FROM callback_event
    WHERE dag_id = 'al_kill' AND kind = 'dag_failure' AND created_at < now() - interval '30 days'" >/dev/null
q "UPDATE alert_delivery SET next_attempt_at = now() + interval '1 day'
    WHERE event_id IN (SELECT id FROM callback_event WHERE created_at < now() - interval '30 days')" >/dev/null
old_before=$(q "SELECT count(*) FROM callback_event WHERE created_at < now() - interval '30 days'")
recent_before=$(q "SELECT count(*) FROM callback_event WHERE created_at >= now() - interval '30 days'")
start_scheduler scheduler3; sched=$!
pruned() { [ "$(q "SELECT count(*) FROM callback_event WHERE created_at < now() - interval '30 days'")" = 1 ]; }
check "retention: the old processed event is pruned at start" wait_for 15 pruned
check_eq "retention: of the two old events, the one with a pending delivery stays" "2 dag_failure" \
  "$old_before $(q "SELECT kind FROM callback_event WHERE created_at < now() - interval '30 days'")"
check "retention: no recent event is pruned" test "$(q "SELECT count(*) FROM callback_event
  WHERE created_at >= now() - interval '30 days'")" -ge "$recent_before"
q "DELETE FROM callback_event WHERE created_at < now() - interval '30 days'" >/dev/null
slow_delivered() { [ "$(q "SELECT state FROM alert_delivery WHERE conn_id = 'slack_slow'")" = delivered ]; }
check "al_lease: taken over once the lease (request_timeout_sec + 5 s) ends, and delivered" \
  wait_for 25 slow_delivered
check_eq "al_lease: two attempts, the second answered" "2 200" \
  "$(q "SELECT attempts || ' ' || last_status FROM alert_delivery WHERE conn_id = 'slack_slow'")"
check_eq "al_lease: the receiver saw the same body twice (the one duplicate case)" "2 1" \
  "$(count_bodies slow "/services/$SLOW_TOKEN") $(for f in "$tmp"/recv_slow/*.body; do md5sum <"$f"; done | sort -u | wc -l)"

# --- updraft alerts test ------------------------------------------------------------------------
out=$("${U[@]}" alerts test slack_test 2>&1); rc=$?
check_eq "alerts test: exit 0" 0 "$rc"
check "alerts test: prints the HTTP status" grep -q '^HTTP 200' <<<"$out"
check "alerts test: the receiver got a test message" wait_for 5 have_bodies main "/services/$SLACK_TOKEN" 1 '.text | test("Test alert")'
check "alerts test: no URL printed" bash -c '! grep -q XXSECRET <<<"$1"' _ "$out"
"${U[@]}" connections add slack_dead --conn-type slack_webhook --conn-password "http://127.0.0.1:$(svc_free_port)/services/XXSECRETDEAD" >/dev/null
out=$("${U[@]}" alerts test slack_dead 2>&1); rc=$?
check_eq "alerts test: a receiver that is down exits 1" 1 "$rc"
check "alerts test: says why without the URL" bash -c 'grep -qi "connect" <<<"$1" && ! grep -q XXSECRET <<<"$1"' _ "$out"
out=$("${U[@]}" alerts test no_such_conn 2>&1); rc=$?
check_eq "alerts test: an unknown connection exits 1" 1 "$rc"
check "alerts test: names it" grep -q "connection 'no_such_conn' not found" <<<"$out"

# --- (5) no webhook URL and no password in any log ------------------------------------------------
check "no webhook URL or token in any log file" bash -c '! grep -l "XXSECRET" "$1"/*.log' _ "$tmp"
check "no webhook URL in the database's logs either" bash -c '! grep -rl "XXSECRET" "$1"/pg/server.log' _ "$tmp"
check "the logs name the connection" grep -q "alert delivered .*conn_id=slack_test" "$tmp/scheduler.log"

# A webhook URL kept in the host field is a secret in every listing too.
out=$("${U[@]}" connections add hook_listed --conn-type webhook --conn-host "http://127.0.0.1:9/hook/XXSECRETLISTED" 2>&1)
check "connections add does not echo a webhook URL kept in the host" bash -c '! grep -q XXSECRETLISTED <<<"$1"' _ "$out"
out=$("${U[@]}" connections list 2>&1; "${U[@]}" connections list -o json 2>&1)
check "connections list shows *** for it" bash -c '! grep -q XXSECRETLISTED <<<"$1" && grep -q "hook_listed.*\*\*\*" <<<"$1"' _ "$out"

echo "1..$T_N"
[ "${T_FAILED:-0}" -eq 0 ]
