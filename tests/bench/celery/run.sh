#!/usr/bin/env bash
# Scenario 7 of the benchmark: Celery 5 (Debian's python3-celery) on the same
# machine and the same Redis as updraft. See README.md next to this file.
#
#   tests/bench/celery/run.sh [--quick] [--redis-url URL]
#
# Without --redis-url it starts a private Redis (tests/lib/services.sh) and
# stops it afterwards. Prints one JSON object on stdout; progress on stderr.
# Environment: CELERY_BENCH_PYTHON (default /usr/bin/python3, the interpreter
# Debian's python3-celery is installed for).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)

quick=()
redis_url=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=(--quick) ;;
    --redis-url) [ $# -ge 2 ] || { echo "--redis-url needs a value" >&2; exit 2; }
                 redis_url=$2; shift ;;
    --redis-url=*) redis_url=${1#--redis-url=} ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

py=${CELERY_BENCH_PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
if ! "$py" -c 'import celery, redis' 2>/dev/null; then
  echo "celery-bench: $py cannot import celery and redis;" \
       "install the Debian packages python3-celery python3-redis (deploy/install-deps.sh)" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/celery-bench.XXXXXX")
own_redis=0
driver=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # No errexit here: a failing step must not skip the ones after it (and a
  # bare `return` inside a trap reports the status that fired the trap).
  set +e
  # The driver stops the worker itself; this covers an interrupted driver.
  if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
    kill -TERM "$driver" 2>/dev/null || true
    wait "$driver" 2>/dev/null || true
  fi
  if [ -f "$tmp/celery-worker.pid" ]; then
    local wpid
    wpid=$(cat "$tmp/celery-worker.pid")
    # The worker runs in its own session: its group is it plus its pool children.
    kill -TERM "$wpid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$wpid" 2>/dev/null || true
  fi
  if [ "$own_redis" -eq 1 ]; then svc_stop "$tmp"; fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$redis_url" ]; then
  # shellcheck source=../../lib/services.sh
  source "$root/tests/lib/services.sh"
  own_redis=1
  svc_start_redis "$tmp" >&2
  redis_url=$UPDRAFT__REDIS__URL
  echo "celery-bench: started a private Redis at $redis_url" >&2
fi

"$py" "$here/driver.py" "${quick[@]}" --redis-url "$redis_url" --workdir "$tmp" &
driver=$!
wait "$driver"
