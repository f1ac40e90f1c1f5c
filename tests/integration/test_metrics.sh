#!/usr/bin/env bash
# GET /metrics (docs/metrics.md): the scheduler's and the worker's on their
# --health-port (no authentication, like /health), the webserver's behind
# authentication (401 without credentials, 403 for a Public user, 200 for a
# Viewer by HTTP Basic and by bearer token); each answer is Prometheus's
# text format 0.0.4 with the constant labels component and hostname, and
# passes `promtool check metrics` (Debian's prometheus package; skipped
# with the reason when it is missing). With metrics.statsd_on the daemons
# start and run; a statsd_host that does not resolve stops a daemon with a
# message naming the key.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
export UPDRAFT__WEBSERVER__AUTH=password
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
quiet() { "$@" >/dev/null 2>&1; }
mkdir -p "$tmp/dags"
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
cp examples/dags/example_hello.yaml "$tmp/dags/"

check "db migrate" quiet "$BIN/updraft" db migrate
pw_viewer=View-$RANDOM-pass-1 pw_public=Pub-$RANDOM-pass-2
mkuser() { # NAME ROLE PASSWORD
  "$BIN/updraft" users create --username "$1" --firstname "${1^}" --lastname Tester \
    --email "$1@example.com" --role "$2" --password "$3" >/dev/null
}
check "a Viewer is made" mkuser viewer Viewer "$pw_viewer"
check "a Public user is made" mkuser public_u Public "$pw_public"
tok_viewer=$("$BIN/updraft" users token create --username viewer 2>/dev/null | grep -o 'udt_[A-Za-z0-9_-]*' | head -1)
check "a Viewer token is made" test -n "$tok_viewer"

# StatsD on, towards a port nobody reads: sending must never get in the way.
export UPDRAFT__METRICS__STATSD_ON=true
export UPDRAFT__METRICS__STATSD_PORT=$(svc_free_port)

have_promtool=1
command -v promtool >/dev/null 2>&1 || have_promtool=0
# promtool_ok NAME FILE: the exposition passes promtool check metrics (or a skip).
promtool_ok() {
  if [ "$have_promtool" = 0 ]; then
    ok "$1 # SKIP promtool is not installed (Debian's prometheus package; make deps installs it)"
    return
  fi
  local out
  if out=$(promtool check metrics <"$2" 2>&1) && [ -z "$out" ]; then ok "$1"; else
    not_ok "$1" "$(echo "$out" | head -5 | tr '\n' ' ')"; fi
}
# scrape URL FILE [CURL ARGS...]: the status, the body in FILE, the content type in FILE.type
scrape() {
  local url=$1 file=$2
  shift 2
  curl -s -o "$file" -w '%{http_code} %{content_type}' "$@" "$url" >"$file.meta"
  cut -d' ' -f1 "$file.meta"
}

# ---- the scheduler and a worker on their health ports -------------------------
sport=$(svc_free_port)
wport=$(svc_free_port)
UPDRAFT__CORE__HOSTNAME=metrics-sched start_scheduler scheduler --health-port "$sport"
start_worker worker metrics-w1 2 --health-port "$wport"
check "the scheduler's /metrics answers" wait_for 20 curl -sf "http://127.0.0.1:$sport/metrics"
check "the worker's /metrics answers" wait_for 20 curl -sf "http://127.0.0.1:$wport/metrics"

check_eq "scheduler /metrics: 200" 200 "$(scrape "http://127.0.0.1:$sport/metrics" "$tmp/sched.prom")"
check "scheduler /metrics: Prometheus text format 0.0.4" \
  grep -q ' text/plain; version=0.0.4; charset=utf-8$' "$tmp/sched.prom.meta"
check "scheduler /metrics: the dropped-events counter with component and hostname" \
  grep -qx 'updraft_metrics_dropped_total{component="scheduler",hostname="metrics-sched"} 0' "$tmp/sched.prom"
check "scheduler /metrics: HELP and TYPE lines" \
  grep -qx '# TYPE updraft_metrics_dropped_total counter' "$tmp/sched.prom"
promtool_ok "scheduler /metrics passes promtool check metrics" "$tmp/sched.prom"

check_eq "worker /metrics: 200" 200 "$(scrape "http://127.0.0.1:$wport/metrics" "$tmp/worker.prom")"
check "worker /metrics: component worker, its --hostname" \
  grep -qx 'updraft_metrics_dropped_total{component="worker",hostname="metrics-w1"} 0' "$tmp/worker.prom"
promtool_ok "worker /metrics passes promtool check metrics" "$tmp/worker.prom"

check_eq "health port: POST /metrics is 405" 405 \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$sport/metrics")"
check_eq "health port: /metricsx is not /metrics" 404 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sport/metricsx")"
check "health port: /health still answers" quiet curl -sf "http://127.0.0.1:$sport/health"

# ---- the webserver, behind authentication -------------------------------------
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__BASE_URL=http://127.0.0.1:$port
base=http://127.0.0.1:$port
UPDRAFT__CORE__HOSTNAME=metrics-web start_webserver webserver
check "webserver answers" wait_for 20 curl -sf "$base/health"

check_eq "webserver /metrics without credentials: 401" 401 "$(scrape "$base/metrics" "$tmp/web.none")"
check_eq "webserver /metrics with a wrong password: 401" 401 \
  "$(scrape "$base/metrics" "$tmp/web.wrong" -u "viewer:not-$pw_viewer")"
check_eq "webserver /metrics as a Public user: 403" 403 \
  "$(scrape "$base/metrics" "$tmp/web.public" -u "public_u:$pw_public")"
check "the 401 and 403 bodies hold no metric" \
  bash -c "! grep -q updraft_ '$tmp/web.none' '$tmp/web.public'"
check_eq "webserver /metrics as a Viewer (Basic): 200" 200 \
  "$(scrape "$base/metrics" "$tmp/web.prom" -u "viewer:$pw_viewer")"
check "webserver /metrics: Prometheus text format 0.0.4" \
  grep -q ' text/plain; version=0.0.4; charset=utf-8$' "$tmp/web.prom.meta"
check "webserver /metrics: component webserver, core.hostname" \
  grep -qx 'updraft_metrics_dropped_total{component="webserver",hostname="metrics-web"} 0' "$tmp/web.prom"
promtool_ok "webserver /metrics passes promtool check metrics" "$tmp/web.prom"
check_eq "webserver /metrics with a Viewer's bearer token: 200" 200 \
  "$(scrape "$base/metrics" "$tmp/web.tok" -H "Authorization: Bearer $tok_viewer")"

# ---- a StatsD host that does not resolve ---------------------------------------
UPDRAFT__METRICS__STATSD_HOST=no-such-host.invalid timeout 20 "$BIN/updraft-scheduler" \
  --health-port "$(svc_free_port)" >"$tmp/badhost.log" 2>&1
rc=$?
check "a statsd_host that does not resolve stops the scheduler" test "$rc" -ne 0 -a "$rc" -ne 124
check "... with a message naming metrics.statsd_host" grep -q 'metrics.statsd_host' "$tmp/badhost.log"

# The daemons ran with StatsD on all along.
check "the scheduler is still running" kill -0 "${pids[0]}"
check "the worker is still running" kill -0 "${pids[1]}"
echo "# $T_N checks, ${T_FAILED:-0} failed"
[ "${T_FAILED:-0}" -eq 0 ]
