#!/usr/bin/env bash
# JSON answers gzip'ed (webserver/http.c): a JSON body of 1 KB or more goes
# out with Content-Encoding: gzip to a client whose Accept-Encoding takes
# gzip, and decompresses to the very bytes the identity answer holds; never
# to a client that did not ask (or refused with q=0); small answers and
# problem bodies stay as they are; every candidate answer says Vary:
# Accept-Encoding. The API cache's hits (/api/v1/dags) and the UI's
# endpoints go the same way; the UI's assets keep their build-time gzip.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=25
ws_pid=
t_cleanup_extra() {
  [ -n "$ws_pid" ] && kill -TERM "$ws_pid" 2>/dev/null && wait "$ws_pid" 2>/dev/null
  return 0
}
t_setup
quiet() { "$@" >/dev/null; }

check "db migrate" quiet "$BIN/updraft" db migrate
mkdir -p "$tmp/dags"
for i in $(seq 1 12); do
  printf 'gz_%02d:\n  schedule: null\n  tags: [gzip, test]\n  tasks:\n    - task_id: t\n      operator: bash\n      bash_command: "true"\n' "$i" >"$tmp/dags/gz_$i.yaml"
done
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
start_scheduler scheduler

port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
base=http://127.0.0.1:$port
api=$base/api/v1
"$BIN/updraft-webserver" >"$tmp/webserver.log" 2>&1 &
ws_pid=$!
check "webserver answers" wait_for 10 curl -sf "$base/health"
check "DAGs load" wait_for 30 json_ok "$api/dags" '.total_entries == 12'

J=(-H 'Content-Type: application/json')
for i in $(seq 1 30); do
  curl -s -o /dev/null "${J[@]}" -d "{\"key\":\"var_$i\",\"value\":\"value number $i\"}" "$api/variables"
done

# get URL ARGS... -> raw body in $tmp/raw, headers in $tmp/hdr, status in $code
get() {
  local url=$1; shift
  code=$(curl -s -D "$tmp/hdr" -o "$tmp/raw" -w '%{http_code}' "$@" "$url")
}
hdr() { grep -i "^$1:" "$tmp/hdr" | head -1 | cut -d: -f2- | tr -d ' \r'; }
gz_is_json() { gzip -dc "$tmp/raw" >"$tmp/inflated" 2>/dev/null && jq -e . "$tmp/inflated" >/dev/null; }

# ---- a large answer: compressed only when asked, to the same bytes --------
get "$api/variables?limit=100"
cp "$tmp/raw" "$tmp/identity"
check_eq "variables: 200" 200 "$code"
check "variables: more than 1 KB" test "$(wc -c <"$tmp/identity")" -ge 1024
check_eq "no Accept-Encoding: no Content-Encoding" "" "$(hdr Content-Encoding)"
check_eq "no Accept-Encoding: Vary still said" "Accept-Encoding" "$(hdr Vary)"
check "no Accept-Encoding: plain JSON" quiet jq -e '.total_entries == 30' "$tmp/identity"

get "$api/variables?limit=100" -H 'Accept-Encoding: gzip, deflate'
check_eq "gzip asked: Content-Encoding gzip" gzip "$(hdr Content-Encoding)"
check_eq "gzip asked: Vary" "Accept-Encoding" "$(hdr Vary)"
check_eq "gzip asked: still application/json" "application/json" "$(hdr Content-Type)"
check "gzip asked: the body is gzip of JSON" gz_is_json
check "gzip asked: Content-Length is the compressed length" test "$(hdr Content-Length)" = "$(wc -c <"$tmp/raw")"
check "gzip asked: smaller than the identity answer" test "$(wc -c <"$tmp/raw")" -lt "$(wc -c <"$tmp/identity")"
check "gzip asked: the same bytes once inflated" cmp -s "$tmp/inflated" "$tmp/identity"
check "curl --compressed reads the same JSON" cmp -s <(curl -s --compressed "$api/variables?limit=100") "$tmp/identity"

get "$api/variables?limit=100" -H 'Accept-Encoding: gzip;q=0, deflate'
check_eq "gzip refused (q=0): no Content-Encoding" "" "$(hdr Content-Encoding)"
check "gzip refused: plain JSON" cmp -s "$tmp/raw" "$tmp/identity"
get "$api/variables?limit=100" -H 'Accept-Encoding: br'
check_eq "only br taken: no Content-Encoding" "" "$(hdr Content-Encoding)"

# ---- small answers and problems stay as they are ----------------------------
get "$api/variables/var_1" -H 'Accept-Encoding: gzip'
check_eq "small answer: 200" 200 "$code"
check_eq "small answer: not compressed" "" "$(hdr Content-Encoding)"
check_eq "small answer: no Vary" "" "$(hdr Vary)"
check "small answer: plain JSON" quiet jq -e '.key == "var_1"' "$tmp/raw"
get "$api/variables/nope" -H 'Accept-Encoding: gzip'
check_eq "problem: 404" 404 "$code"
check_eq "problem: not compressed" "" "$(hdr Content-Encoding)"
check "problem: plain problem JSON" quiet jq -e '.status == 404' "$tmp/raw"
get "$api/variables/var_1" -X DELETE -H 'Accept-Encoding: gzip'
check_eq "204: no body, no Content-Encoding" "204 " "$code $(hdr Content-Encoding)"

# ---- the API cache's hits and the UI's endpoints ----------------------------
get "$api/dags?limit=100"
cp "$tmp/raw" "$tmp/dags_identity"
for n in 1 2; do  # the second is the cache's hit
  get "$api/dags?limit=100" -H 'Accept-Encoding: gzip'
  check_eq "dags ($n): Content-Encoding gzip" gzip "$(hdr Content-Encoding)"
  check "dags ($n): the same bytes once inflated" eval 'gz_is_json && cmp -s "$tmp/inflated" "$tmp/dags_identity"'
done
get "$base/ui/dags?limit=100" -H 'Accept-Encoding: gzip'
check_eq "/ui/dags: Content-Encoding gzip" gzip "$(hdr Content-Encoding)"
check "/ui/dags: 12 DAGs once inflated" eval 'gz_is_json && jq -e ".dags | length == 12" "$tmp/inflated" >/dev/null'

# ---- the UI's assets: still their build-time gzip ----------------------------
asset=$(curl -s "$base/dags" | grep -o '/assets/main-[A-Za-z0-9]*\.js' | head -1)
check "the page names its script" test -n "$asset"
get "$base$asset" -H 'Accept-Encoding: gzip'
check_eq "asset: Content-Encoding gzip" gzip "$(hdr Content-Encoding)"
check "asset: one Vary header" test "$(grep -ci '^Vary:' "$tmp/hdr")" = 1
get "$base$asset"
check_eq "asset without Accept-Encoding: identity" "" "$(hdr Content-Encoding)"

check "webserver still running" kill -0 "$ws_pid"
echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
