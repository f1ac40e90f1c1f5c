# Common frame of the integration tests: source after services.sh and assert.sh.
#
#   t_setup      creates $tmp, starts a private Postgres and Redis there and
#                arranges the cleanup below for when the script exits
#   pids+=($!)   daemons started in the background are stopped at exit
#                (start_scheduler, start_worker, start_webserver in db.sh do this)
#
# At exit the daemons get T_KILL_SIGNAL (default TERM) and are waited for,
# t_cleanup_extra runs when the script defines it, the services stop
# (a Prometheus that svc_start_prometheus started in $tmp too), and
# when a check failed the tail (T_LOG_TAIL lines) of every $tmp/*.log is
# printed as comments.
# UPDRAFT_TEST_POOLER=transaction puts Debian's pgbouncer in transaction
# pooling mode between the daemons and Postgres (svc_start_pgbouncer in
# services.sh), so that any test runs the way a deployment behind PgBouncer
# does; q and svc_psql still talk to Postgres itself.
#
# The webservers of the tests that are about something else than logins
# run with webserver.auth none (allowed on loopback only); the tests of
# authentication (test_auth*.sh) set it to password, the default.
t_setup() {
  export UPDRAFT__WEBSERVER__AUTH=${UPDRAFT__WEBSERVER__AUTH:-none}
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  pids=()
  trap t_cleanup EXIT
  svc_start_pg "$tmp" || { not_ok "postgres starts"; exit 1; }
  svc_start_redis "$tmp" || { not_ok "redis starts"; exit 1; }
  if [ "${UPDRAFT_TEST_POOLER:-}" = transaction ]; then
    svc_start_pgbouncer "$tmp" || { not_ok "pgbouncer starts (UPDRAFT_TEST_POOLER=transaction)"; exit 1; }
    echo "# through pgbouncer (transaction pooling) on port $SVC_PGB_PORT"
  fi
}

t_cleanup() {
  for p in "${pids[@]}"; do kill -"${T_KILL_SIGNAL:-TERM}" "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if declare -F t_cleanup_extra >/dev/null; then t_cleanup_extra; fi
  svc_stop_prometheus "$tmp"
  svc_stop_pgbouncer "$tmp"
  svc_stop "$tmp"
  if [ "${T_FAILED:-0}" -ne 0 ]; then
    for f in "$tmp"/*.log; do
      [ -f "$f" ] && { echo "# --- $f"; tail -"${T_LOG_TAIL:-30}" "$f" | sed 's/^/# /'; }
    done
  fi
  rm -rf "$tmp"
}

# shellcheck source=db.sh
source "$(dirname "${BASH_SOURCE[0]}")/db.sh"
