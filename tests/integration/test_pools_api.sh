#!/usr/bin/env bash
# Pools through the REST API (/api/v1/pools: list, get, post, patch,
# delete, Airflow's fields and problems, default_pool protected) and the
# CLI (`updraft pools list|get|set|delete|import|export`, Airflow's JSON
# file format, an import/export round trip, all-or-nothing imports).
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

port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=4
base=http://127.0.0.1:$port
api=$base/api/v1
"$BIN/updraft-webserver" >"$tmp/webserver.log" 2>&1 &
ws_pid=$!
check "webserver answers" wait_for 10 curl -sf "$base/health"

# req ARGS... -> body in $tmp/body, status in $code, content type in $ctype
req() {
  local out
  out=$(curl -s -o "$tmp/body" -w '%{http_code} %{content_type}' "$@")
  code=${out%% *}; ctype=${out#* }
}
jb() { jq -r "$1" "$tmp/body"; }
problem_ok() {
  [ "$code" = "$1" ] && [ "$ctype" = "application/problem+json" ] &&
    jq -e --argjson s "$1" '.status == $s and (.detail|type) == "string"' "$tmp/body" >/dev/null
}
J=(-H 'Content-Type: application/json')

# ---- API ------------------------------------------------------------------
req "$api/pools"
check_eq "list: 200" 200 "$code"
check_eq "list: default_pool only" "default_pool 128 1" "$(jb '[.pools[0].name, .pools[0].slots, .total_entries] | join(" ")')"
check "list: Airflow's fields" quiet jq -e '.pools[0] | has("name","slots","occupied_slots","running_slots","queued_slots","scheduled_slots","deferred_slots","open_slots","description","include_deferred")' "$tmp/body"

req -X POST "${J[@]}" -d '{"name": "etl", "slots": 3, "description": "ETL"}' "$api/pools"
check_eq "post: 200" 200 "$code"
check_eq "post: body" "etl 3 3 ETL false" "$(jb '[.name, .slots, .open_slots, .description, .include_deferred] | join(" ")')"
req -X POST "${J[@]}" -d '{"name": "etl", "slots": 3}' "$api/pools"
check "post again: 409 problem" problem_ok 409
req -X POST "${J[@]}" -d '{"name": "x"}' "$api/pools"
check "post without slots: 400" problem_ok 400
req -X POST "${J[@]}" -d '{"name": "x", "slots": -2}' "$api/pools"
check "post slots -2: 400" problem_ok 400
req -X POST "${J[@]}" -d '{"name": "x", "slots": 1, "bogus": 1}' "$api/pools"
check "post unknown field: 400" problem_ok 400

req "$api/pools/etl"
check_eq "get: 200 slots" "200 3" "$code $(jb .slots)"
req "$api/pools/nope"
check "get unknown: 404 problem" problem_ok 404

req -X PATCH "${J[@]}" -d '{"name": "etl", "slots": 5}' "$api/pools/etl"
check_eq "patch: slots 5, description kept" "200 5 ETL" "$code $(jb .slots) $(jb .description)"
req -X PATCH "${J[@]}" -d '{"description": "new", "slots": 99}' "$api/pools/etl?update_mask=description"
check_eq "patch with update_mask: only description" "200 5 new" "$code $(jb .slots) $(jb .description)"
req -X PATCH "${J[@]}" -d '{"include_deferred": true}' "$api/pools/etl?update_mask=include_deferred"
check_eq "patch include_deferred" "200 true" "$code $(jb .include_deferred)"
req -X PATCH "${J[@]}" -d '{"name": "other", "slots": 5}' "$api/pools/etl"
check "patch rename: 400" problem_ok 400
req -X PATCH "${J[@]}" -d '{"name": "nope", "slots": 5}' "$api/pools/nope"
check "patch unknown: 404" problem_ok 404
req -X PATCH "${J[@]}" -d '{"slots": 5}' "$api/pools/etl"
check "patch without name or mask: 400" problem_ok 400

req "$api/pools?limit=1&offset=1"
check_eq "list paged" "1 2 etl" "$(jb '[(.pools|length), .total_entries, .pools[0].name] | join(" ")')"
req "$api/pools?order_by=name"
check "list: unknown query parameter refused" problem_ok 400

req -X DELETE "$api/pools/default_pool"
check "delete default_pool: 400" problem_ok 400
req -X DELETE "$api/pools/etl"
check_eq "delete: 204" 204 "$code"
req -X DELETE "$api/pools/etl"
check "delete again: 404" problem_ok 404
req "$api/pools"
check_eq "deleted pool gone" 1 "$(jb .total_entries)"

# ---- CLI ------------------------------------------------------------------
check "cli set" quiet "$BIN/updraft" pools set reports 4 "Report jobs"
check_eq "cli get json" "reports 4 Report jobs" "$("$BIN/updraft" pools get reports -o json | jq -r '.[0] | [.name, .slots, .description] | join(" ")')"
check "cli get table shows the pool" bash -c "'$BIN/updraft' pools get reports | grep -q '^reports '"
check "cli get unknown fails" bash -c "! '$BIN/updraft' pools get nope 2>/dev/null"
check "cli set bad slots is a usage error" bash -c "'$BIN/updraft' pools set x abc d 2>/dev/null; [ \$? -eq 2 ]"
check_eq "cli list json" "default_pool reports" "$("$BIN/updraft" pools list -o json | jq -r 'map(.name) | join(" ")')"
check "cli delete default_pool refused" bash -c "! '$BIN/updraft' pools delete default_pool 2>/dev/null"
check "cli export" quiet "$BIN/updraft" pools export "$tmp/pools.json"
check_eq "export: Airflow's format" "4 Report jobs false" "$(jq -r '.reports | [.slots, .description, .include_deferred] | join(" ")' "$tmp/pools.json")"
check "cli delete" quiet "$BIN/updraft" pools delete reports
check "cli delete unknown fails" bash -c "! '$BIN/updraft' pools delete reports 2>/dev/null"
check "cli import" quiet "$BIN/updraft" pools import "$tmp/pools.json"
"$BIN/updraft" pools export "$tmp/again.json" >/dev/null
check "import/export round trip" cmp -s <(jq -S . "$tmp/pools.json") <(jq -S . "$tmp/again.json")
echo '{"a": {"slots": 2, "description": "x"}, "b": {"slots": "many"}}' >"$tmp/bad.json"
check "cli import of a bad entry fails" bash -c "! '$BIN/updraft' pools import '$tmp/bad.json' 2>/dev/null"
check "cli import is all or nothing" bash -c "! '$BIN/updraft' pools get a >/dev/null 2>&1"
req "$api/pools/reports"
check_eq "CLI writes visible through the API" "200 4" "$code $(jb .slots)"

check "webserver still running" kill -0 "$ws_pid"
echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
