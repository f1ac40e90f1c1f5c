#!/usr/bin/env bash
# BullMQ beside updraft: no-op throughput and a flow chain's hop on the same
# machine and the same Redis. See README.md next to this file.
#
#   tests/bench/bullmq/run.sh [--quick] [--redis-url URL] [--workers N] [--concurrency N]
#   tests/bench/bullmq/run.sh --install-only
#
# The npm packages are those of package-lock.json (exact versions), installed
# with `npm ci` into build/bench/bullmq (BULLMQ_BENCH_DIR) the first time and
# again only when the lock changes; a run with them in place needs no network.
# Without --redis-url it starts a private Redis (tests/lib/services.sh) and
# stops it afterwards. Prints one JSON object on stdout; progress on stderr.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)

args=()
redis_url=""
install_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) args+=(--quick) ;;
    --redis-url) [ $# -ge 2 ] || { echo "--redis-url needs a value" >&2; exit 2; }
                 redis_url=$2; shift ;;
    --workers|--concurrency) [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
                 args+=("$1" "$2"); shift ;;
    --install-only) install_only=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

for c in node npm; do
  command -v "$c" >/dev/null 2>&1 ||
    { echo "bullmq-bench: $c is missing: install the Debian packages nodejs npm (deploy/install-deps.sh)" >&2; exit 1; }
done

# The packages: installed once per lock file, never from a range.
dir=${BULLMQ_BENCH_DIR:-$root/build/bench/bullmq}
lock_sum=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$dir/.lock-sha256" 2>/dev/null)" != "$lock_sum" ] || [ ! -d "$dir/node_modules/bullmq" ]; then
  echo "bullmq-bench: installing the pinned packages into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  # --ignore-scripts: no package's install script runs (msgpackr's native
  # part comes prebuilt as an optional package, or msgpackr runs without it).
  (cd "$dir" && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error) >&2 ||
    { echo "bullmq-bench: npm ci failed (the npm registry or its cache is needed the first time)" >&2; exit 1; }
  echo "$lock_sum" >"$dir/.lock-sha256"
fi
[ "$install_only" = 1 ] && exit 0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bullmq-bench.XXXXXX")
own_redis=0
driver=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  # The driver stops its workers itself; a TERM lets it do so when interrupted.
  if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
    kill -TERM "$driver" 2>/dev/null
    wait "$driver" 2>/dev/null
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
  echo "bullmq-bench: started a private Redis at $redis_url" >&2
fi

NODE_PATH=$dir/node_modules node "$here/driver.js" "${args[@]}" --redis-url "$redis_url" &
driver=$!
wait "$driver"
