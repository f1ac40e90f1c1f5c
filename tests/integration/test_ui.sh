#!/usr/bin/env bash
# The web UI in a real browser: Postgres, Redis, the scheduler, a worker and
# the webserver with password logins, an Admin and a Viewer made with the
# CLI, one small DAG with a finished run; then tests/ui/run.js drives a
# headless Chromium (Debian's chromium, through the DevTools protocol on a
# pipe: tests/ui/cdp.js) through the scenarios of tests/ui/scenarios/*.js.
# Each scenario is one "ok"/"not ok" line; screenshots go to
# build/ui-screens/ (UI_SCREENS), a failed scenario's as FAILED-*.png.
# Arguments are passed on to run.js as filters: `bash
# tests/integration/test_ui.sh login` runs the scenarios with "login" in
# their names.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
export UPDRAFT__WEBSERVER__AUTH=password
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
screens=${UI_SCREENS:-$PWD/build/ui-screens}

T_LOG_TAIL=30
# make test installs the browser (make deps); a missing install is a
# failure, never a skip.
if ! command -v node >/dev/null || ! [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  not_ok "the browser tests are installed" "node or chromium missing: run 'make deps' (Debian's nodejs, chromium, fonts-dejavu-core)"
  exit 1
fi
t_setup
quiet() { "$@" >/dev/null 2>&1; }

mkdir -p "$tmp/dags"
cp examples/dags/example_hello.yaml "$tmp/dags/"
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION=false
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
port=$(svc_free_port)
base=http://127.0.0.1:$port
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__BASE_URL=$base
export UPDRAFT__WEBSERVER__THREADS=4
# Connections with a password and secret variables are stored encrypted (docs/secrets.md).
export UPDRAFT__CORE__FERNET_KEY=$(openssl rand -base64 32)

check "db migrate" quiet "$BIN/updraft" db migrate
# A variable named like a secret, which tests/ui/dags/ui_run_page.yaml's ui_rendered prints.
check "a sensitive variable" quiet "$BIN/updraft" variables set ui_api_key ui-secret-4711
pw_admin=Admin-$RANDOM-ui-1 pw_viewer=View-$RANDOM-ui-2
mkuser() { # NAME FIRSTNAME ROLE PASSWORD
  "$BIN/updraft" users create --username "$1" --firstname "$2" --lastname Tester \
    --email "$1@example.com" --role "$3" --password "$4" >/dev/null 2>"$tmp/cli.err" ||
    not_ok "create user $1" "$(cat "$tmp/cli.err")"
}
mkuser admin Ada Admin "$pw_admin"
mkuser viewer Vic Viewer "$pw_viewer"

start_scheduler scheduler
start_worker worker w1 2
start_webserver webserver
check "webserver answers" wait_for 10 curl -sf "$base/health"
# api_ok PATH FILTER: json_ok as the admin
api_ok() { local body; body=$(curl -sf -u "admin:$pw_admin" "$base/api/v1$1") && [ -n "$body" ] && jq -e "$2" <<<"$body" >/dev/null; }
dag_loaded() { api_ok /dags/example_hello '.is_paused == false'; }
check "the DAG is loaded" wait_for 30 dag_loaded
check "a run is triggered" quiet "$BIN/updraft" dags trigger example_hello --run-id ui_run_1
run_ok() { api_ok /dags/example_hello/dagRuns/ui_run_1 '.state == "success"'; }
check "the run succeeds" wait_for 60 run_ok

# The browser: its profile and temporary files under $tmp, which the cleanup removes.
mkdir -p "$screens"
rm -f "$screens"/*.png
TMPDIR=$tmp UI_SCREENS=$screens UI_TAP_START=$T_N \
  UI_ADMIN_USER=admin UI_ADMIN_PASSWORD=$pw_admin UI_VIEWER_USER=viewer UI_VIEWER_PASSWORD=$pw_viewer \
  node tests/ui/run.js "$base" "$@" | tee "$tmp/ui.out"
rc=${PIPESTATUS[0]}
T_N=$((T_N + $(grep -Ec '^(not )?ok ' "$tmp/ui.out")))
T_FAILED=$((T_FAILED + $(grep -c '^not ok ' "$tmp/ui.out")))
if [ "$rc" -ne 0 ] && ! grep -q '^not ok ' "$tmp/ui.out"; then not_ok "the browser tests exit 0" "run.js exited $rc"; fi
echo "# screenshots: $screens"
echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
