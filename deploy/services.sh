# Private Postgres and Redis for tests, benchmarks and standalone mode.
#
#   source deploy/services.sh       (tests: tests/lib/services.sh)
#   svc_start_pg DIR      # initdb + start on a free loopback port; exports UPDRAFT__DATABASE__URL
#                         # (and SVC_PG_URL, the same: Postgres itself even behind a pooler)
#   svc_psql ARGS...      # psql on UPDRAFT__DATABASE__URL (behind a pooler in transaction mode:
#                         # UPDRAFT__DATABASE__DIRECT_URL)
#   svc_start_redis DIR   # start on a free loopback port; exports UPDRAFT__REDIS__URL
#   svc_stop DIR          # stop both (leaves data in DIR)
#
# Never touches a system-wide instance. Postgres refuses to run as root, so
# as root it runs as the unprivileged user SVC_PG_USER (default: nobody).

SVC_PG_USER=${SVC_PG_USER:-nobody}

svc_pg_bindir() {
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v pg_ctl)")"; return 0; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

svc_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Runs a command as the Postgres user (from /, which that user can always
# enter; paths given to it must be absolute).
svc_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u "$SVC_PG_USER" -- "$@"); else "$@"; fi
}

# The data directory as the Postgres user reaches it: DIR/pg, or where its
# link points when DIR itself is closed to that user (see svc_start_pg).
svc_pg_data() { readlink -f "$1/pg"; }

svc_start_pg() {
  local dir=$1 bindir port real data
  bindir=$(svc_pg_bindir)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ] && [ ! -e "$dir/pg" ]; then
    chmod 755 "$dir"
    # The unprivileged user must reach the data directory. When a parent
    # (e.g. /root) is closed to it, keep the data under /var/lib instead and
    # leave a link in DIR.
    if ! runuser -u "$SVC_PG_USER" -- test -x "$dir"; then
      real=/var/lib/updraft-pg/$(readlink -f "$dir" | cksum | cut -d' ' -f1)
      mkdir -p "$real" && chmod 755 /var/lib/updraft-pg "$real"
      ln -s "$real" "$dir/pg"
    fi
  fi
  if [ ! -f "$dir/pg/PG_VERSION" ]; then
    mkdir -p "$dir/pg/"
    [ "$(id -u)" -eq 0 ] && chown "$SVC_PG_USER" "$dir/pg/"
    svc_as_pg "$bindir/initdb" -D "$(svc_pg_data "$dir")" -U updraft --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
      echo "initdb failed:"; cat "$dir/initdb.log"; return 1; }
  fi
  data=$(svc_pg_data "$dir")
  port=$(cat "$dir/pg.port" 2>/dev/null || svc_free_port)
  echo "$port" >"$dir/pg.port"
  svc_as_pg "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k '' -c fsync=${SVC_PG_FSYNC:-on} -c max_connections=200" start >/dev/null || {
      echo "postgres failed to start:"; tail -20 "$data/server.log"; return 1; }
  if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U updraft -d postgres -tAc "select 1 from pg_database where datname='updraft'" | grep -q 1; then
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U updraft updraft
  fi
  export UPDRAFT__DATABASE__URL="postgresql://updraft@127.0.0.1:$port/updraft"
  export SVC_PG_URL=$UPDRAFT__DATABASE__URL
  export SVC_PG_PORT=$port
}

svc_start_redis() {
  local dir=$1 port
  mkdir -p "$dir/redis"
  port=$(cat "$dir/redis.port" 2>/dev/null || svc_free_port)
  echo "$port" >"$dir/redis.port"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis-cli -p "$port" ping >/dev/null 2>&1 || { echo "redis failed to start"; return 1; }
  export UPDRAFT__REDIS__URL="redis://127.0.0.1:$port/0"
  export SVC_REDIS_PORT=$port
}

svc_stop() {
  local dir=$1 bindir
  bindir=$(svc_pg_bindir)
  if [ -f "$dir/redis/redis.pid" ]; then
    kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    rm -f "$dir/redis/redis.pid"
  fi
  if [ -f "$dir/pg/postmaster.pid" ]; then
    svc_as_pg "$bindir/pg_ctl" -D "$(svc_pg_data "$dir")" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

svc_psql() {
  # Behind a pooler in transaction mode, Postgres itself (the direct URL);
  # else whatever database UPDRAFT__DATABASE__URL names for this call.
  local url=$UPDRAFT__DATABASE__URL
  [ "${UPDRAFT__DATABASE__POOLER:-none}" = transaction ] && url=${UPDRAFT__DATABASE__DIRECT_URL:-$url}
  "$(svc_pg_bindir)/psql" "$url" -v ON_ERROR_STOP=1 -tAX "$@"
}
