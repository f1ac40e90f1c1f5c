# Test harness entry point: the same private Postgres/Redis helpers that
# standalone mode uses (deploy/services.sh).
# shellcheck source=../../deploy/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/services.sh"

# The tests run as root in CI containers, and their tasks write into $tmp
# and read fixtures as root: a worker started by a test runs tasks that
# name no run_as_user as root, which updraft-worker refuses unless told
# (worker.allow_root_tasks, docs/security.md "Task isolation and secrets").
# A test about task isolation sets the key itself.
if [ "$(id -u)" -eq 0 ]; then
  export UPDRAFT__WORKER__ALLOW_ROOT_TASKS=${UPDRAFT__WORKER__ALLOW_ROOT_TASKS:-true}
fi

# svc_start_pgbouncer DIR [POOL_SIZE]: Debian's pgbouncer in transaction
# pooling mode on a free loopback port, in front of the Postgres that
# svc_start_pg started in DIR, as the Postgres user (pgbouncer refuses to
# run as root). Points the daemons at it the way a deployment behind
# PgBouncer does: UPDRAFT__DATABASE__URL -> pgbouncer,
# UPDRAFT__DATABASE__DIRECT_URL -> Postgres (LISTEN),
# UPDRAFT__DATABASE__POOLER=transaction. svc_psql keeps talking to Postgres.
# SVC_PGB_PORT is the port; `svc_pgb_admin "SHOW POOLS"` asks its console.
# Returns 2 when pgbouncer is not installed (deploy/install-deps.sh).
svc_start_pgbouncer() {
  local dir=$1 size=${2:-${SVC_PGB_POOL_SIZE:-8}} port conf
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || return 2
  mkdir -p "$dir/pgbouncer"
  port=$(cat "$dir/pgbouncer.port" 2>/dev/null || svc_free_port)
  echo "$port" >"$dir/pgbouncer.port"
  conf=$dir/pgbouncer/pgbouncer.ini
  printf '"updraft" ""\n' >"$dir/pgbouncer/userlist.txt"
  cat >"$conf" <<EOC
[databases]
updraft = host=127.0.0.1 port=$SVC_PG_PORT dbname=updraft user=updraft

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/pgbouncer/userlist.txt
pool_mode = transaction
default_pool_size = $size
max_db_connections = $size
max_client_conn = 1000
query_wait_timeout = 10
server_login_retry = 1
admin_users = updraft
stats_users = updraft
pidfile = $dir/pgbouncer/pgbouncer.pid
logfile = $dir/pgbouncer/pgbouncer.log
EOC
  [ "$(id -u)" -eq 0 ] && chown -R "$SVC_PG_USER" "$dir/pgbouncer"
  svc_as_pg "$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" -d "$conf" >/dev/null 2>&1 || {
    echo "pgbouncer failed to start:"; tail -20 "$dir/pgbouncer/pgbouncer.log"; return 1; }
  for _ in $(seq 1 100); do
    svc_pgb_admin "SHOW VERSION" >/dev/null 2>&1 && break
    sleep 0.05
  done
  export SVC_PGB_PORT=$port
  export SVC_PG_URL=${SVC_PG_URL:-$UPDRAFT__DATABASE__URL}
  export UPDRAFT__DATABASE__DIRECT_URL=$SVC_PG_URL
  export UPDRAFT__DATABASE__URL="postgresql://updraft@127.0.0.1:$port/updraft"
  export UPDRAFT__DATABASE__POOLER=transaction
  svc_pgb_admin "SHOW VERSION" >/dev/null 2>&1 || { echo "pgbouncer does not answer"; return 1; }
}

# svc_pgb_admin SQL: runs SQL on pgbouncer's admin console (SHOW POOLS,
# SHOW STATS...): a header line of column names, then one line per row,
# fields separated by spaces. svc_pgb_col SQL DB COLUMN... prints the sum
# of the named columns in DB's row.
svc_pgb_admin() {
  "$(svc_pg_bindir)/psql" "postgresql://updraft@127.0.0.1:${SVC_PGB_PORT:-$(cat "$tmp/pgbouncer.port" 2>/dev/null)}/pgbouncer" \
    -AX -F ' ' -P footer=off -c "$1"
}
svc_pgb_col() {
  local sql=$1 db=$2
  shift 2
  svc_pgb_admin "$sql" | awk -v db="$db" -v cols="$*" '
    NR == 1 { for (i = 1; i <= NF; i++) at[$i] = i; next }
    $1 == db { n = split(cols, c, " "); s = 0; for (i = 1; i <= n; i++) s += $(at[c[i]]); print s }'
}

svc_stop_pgbouncer() {
  local dir=$1
  if [ -f "$dir/pgbouncer/pgbouncer.pid" ]; then
    kill "$(cat "$dir/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
    rm -f "$dir/pgbouncer/pgbouncer.pid"
  fi
}

# svc_start_prometheus DIR TARGET...: Debian's prometheus on a free loopback
# port, scraping every TARGET each second, its data and configuration under
# DIR/prometheus. A TARGET is JOB=HOST:PORT, optionally followed by
# comma-separated options: path=/metrics (the default), bearer_file=FILE
# (an Authorization: Bearer header read from FILE), basic=USER:FILE (HTTP
# Basic, the password read from FILE). Targets of one JOB share one scrape
# configuration (the options of the JOB's first TARGET). Exports
# SVC_PROM_PORT and SVC_PROM_URL; t_cleanup stops it (svc_stop_prometheus).
# Returns 2 when prometheus is not installed (deploy/install-deps.sh
# installs it), 1 when its configuration is refused or it does not become
# ready.
svc_start_prometheus() {
  local dir=$1 bin port conf t job addr opts o olist path user jobs=()
  local -A addrs=() jopts=()
  shift
  bin=$(command -v prometheus || echo /usr/bin/prometheus)
  [ -x "$bin" ] || return 2
  mkdir -p "$dir/prometheus/data"
  port=$(svc_free_port)
  conf=$dir/prometheus/prometheus.yml
  for t in "$@"; do
    job=${t%%=*}
    addr=${t#*=}
    opts=""
    case $addr in *,*) opts=${addr#*,}; addr=${addr%%,*} ;; esac
    if [ -z "${addrs[$job]+set}" ]; then
      jobs+=("$job")
      addrs[$job]="'$addr'"
      jopts[$job]=$opts
    else
      addrs[$job]+=", '$addr'"
    fi
  done
  {
    echo "global:"
    echo "  scrape_interval: 1s"
    echo "  scrape_timeout: 1s"
    echo "  evaluation_interval: 1s"
    echo "scrape_configs:"
    for job in "${jobs[@]}"; do
      path=/metrics
      echo "  - job_name: '$job'"
      IFS=, read -ra olist <<<"${jopts[$job]}"
      for o in "${olist[@]}"; do
        case $o in
          path=*) path=${o#path=} ;;
          bearer_file=*) printf '    authorization:\n      type: Bearer\n      credentials_file: %s\n' "${o#*=}" ;;
          basic=*) user=${o#basic=}
                   printf '    basic_auth:\n      username: %s\n      password_file: %s\n' "${user%%:*}" "${user#*:}" ;;
          *) echo "svc_start_prometheus: unknown option $o of $job" >&2; return 1 ;;
        esac
      done
      echo "    metrics_path: '$path'"
      echo "    static_configs:"
      echo "      - targets: [${addrs[$job]}]"
    done
  } >"$conf"
  if command -v promtool >/dev/null 2>&1 && ! promtool check config "$conf" >"$dir/prometheus/check.log" 2>&1; then
    echo "prometheus configuration refused:"; cat "$dir/prometheus/check.log"; return 1
  fi
  "$bin" --config.file="$conf" --storage.tsdb.path="$dir/prometheus/data" \
    --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$port" \
    --log.level=warn >"$dir/prometheus/prometheus.log" 2>&1 &
  echo $! >"$dir/prometheus/prometheus.pid"
  export SVC_PROM_PORT=$port
  export SVC_PROM_URL=http://127.0.0.1:$port
  for _ in $(seq 1 300); do
    curl -sf "$SVC_PROM_URL/-/ready" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/prometheus/prometheus.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "prometheus did not become ready:"; tail -20 "$dir/prometheus/prometheus.log"
  return 1
}

svc_stop_prometheus() {
  local dir=$1 pid
  [ -f "$dir/prometheus/prometheus.pid" ] || return 0
  pid=$(cat "$dir/prometheus/prometheus.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/prometheus/prometheus.pid"
}

# svc_prom_query PROMQL: the JSON answer of Prometheus's instant query API.
svc_prom_query() {
  curl -sf --get --data-urlencode "query=$1" "$SVC_PROM_URL/api/v1/query"
}
