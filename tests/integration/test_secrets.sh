#!/usr/bin/env bash
# Variables and Connections against a private Postgres: CLI and REST API
# CRUD, encryption at rest (the stored columns are never the plaintext,
# checked with psql), refusal without a key, environment overrides,
# export/import round trips in Airflow's formats, key rotation with two
# keys, GET never showing a password, 400/404/409 problem bodies, and no
# password in any log.
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

check "db migrate" "$BIN/updraft" db migrate

KEY1=$(openssl rand -base64 32)
KEY2=$(openssl rand -base64 32)
PW='S3cr3t-p@ss/word'
U=("$BIN/updraft")

# ---- without a key ---------------------------------------------------------
unset UPDRAFT__CORE__FERNET_KEY
check "plain variable stored without a key" "${U[@]}" variables set bucket my-bucket
out=$("${U[@]}" variables set db_password hunter2 2>&1); rc=$?
check_eq "sensitive variable refused without a key" 1 "$rc"
check "refusal names the setting" grep -q "fernet_key" <<<"$out"
out=$("${U[@]}" connections add nokey --conn-uri "postgresql://u:$PW@h/s" 2>&1); rc=$?
check_eq "connection with password refused without a key" 1 "$rc"
check_eq "no row stored after the refusal" 0 "$(svc_psql -tAc "SELECT count(*) FROM connection")"
check "connection without password or extra is fine" "${U[@]}" connections add plainconn --conn-type http --conn-host example.com
check_eq "invalid key is a configuration error" 1 \
  "$(UPDRAFT__CORE__FERNET_KEY=short "${U[@]}" variables list >/dev/null 2>&1; echo $?)"
ZERO_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
for prog in updraft-scheduler updraft-worker updraft-webserver; do
  out=$(UPDRAFT__CORE__FERNET_KEY=$ZERO_KEY timeout 20 "$BIN/$prog" 2>&1); rc=$?
  check "an all-zero key stops $prog at start (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
  check "$prog says the key is not random, never the key" \
    bash -c 'grep -q "core.fernet_key: key 1 is not random" <<<"$1" && ! grep -qF "$2" <<<"$1"' _ "$out" "$ZERO_KEY"
done

# ---- with a key -------------------------------------------------------------
export UPDRAFT__CORE__FERNET_KEY=$KEY1
check "--print-config masks the key" bash -c "'$BIN/updraft' --print-config | grep -q 'fernet_key: \"\\*\\*\\*\"'"
check "--print-config never shows the key" bash -c "! '$BIN/updraft' --print-config | grep -qF '$KEY1'"

check "variables set" "${U[@]}" variables set db_password hunter2 --description "the db password"
check "variables set json" "${U[@]}" variables set cfg '{"a": [1, 2]}' -j
check_eq "variables get" hunter2 "$("${U[@]}" variables get db_password)"
check_eq "variables get -j" 2 "$("${U[@]}" variables get cfg -j | jq '.a | length')"
check_eq "variables get --default on a missing key" dflt "$("${U[@]}" variables get nope -d dflt)"
check_eq "variables get missing exits 1" 1 "$("${U[@]}" variables get nope >/dev/null 2>&1; echo $?)"
stored=$(svc_psql -tAc "SELECT val FROM variable WHERE key = 'db_password'")
check "stored variable value is ciphertext" grep -q '^v1:[0-9a-f]\{8\}:' <<<"$stored"
check "stored variable value is not the plaintext" bash -c "! grep -q hunter2 <<<'$stored'"
check_eq "is_encrypted set" t "$(svc_psql -tAc "SELECT is_encrypted FROM variable WHERE key = 'db_password'")"
check_eq "variables list" "bucket cfg db_password" "$("${U[@]}" variables list -o plain | tr '\n' ' ' | sed 's/ $//')"

# environment overrides win over the database
check_eq "UPDRAFT_VAR_ override" from-env "$(UPDRAFT_VAR_BUCKET=from-env "${U[@]}" variables get bucket)"
check_eq "AIRFLOW_VAR_ override" from-af "$(AIRFLOW_VAR_ONLY_ENV=from-af "${U[@]}" variables get only_env)"

check "connections add --conn-uri" "${U[@]}" connections add my_pg \
  --conn-uri "postgresql://alice:S3cr3t-p%40ss%2Fword@db.example:5432/analytics?sslmode=require"
check "connections add --conn-json" "${U[@]}" connections add my_http \
  --conn-json '{"conn_type": "http", "host": "api.example", "password": "tok-123", "extra": {"api_key": "k-999", "timeout": 5}}'
check "connections add fields" "${U[@]}" connections add my_redis --conn-type redis --conn-host r \
  --conn-port 6379 --conn-password rpw --conn-description "cache"
check_eq "connections add duplicate exits 1" 1 \
  "$("${U[@]}" connections add my_pg --conn-uri "http://x" >/dev/null 2>&1; echo $?)"
check_eq "connections add bad uri exits 1" 1 \
  "$("${U[@]}" connections add bad --conn-uri "http://h:99999" >/dev/null 2>&1; echo $?)"
got=$("${U[@]}" connections get my_pg -o json)
check_eq "connections get decrypts the password" "$PW" "$(jq -r .password <<<"$got")"
check_eq "connections get conn_type" postgres "$(jq -r .conn_type <<<"$got")"
check_eq "connections get extra" require "$(jq -r '.extra | fromjson | .sslmode' <<<"$got")"
check_eq "connections get port" 5432 "$(jq -r .port <<<"$got")"
row=$(svc_psql -tAc "SELECT password || ' ' || extra FROM connection WHERE conn_id = 'my_pg'")
check "stored password and extra are ciphertext" grep -q '^v1:[0-9a-f]\{8\}:.* v1:[0-9a-f]\{8\}:' <<<"$row"
check "stored row holds no plaintext password" bash -c "! grep -qF '$PW' <<<'$row' && ! grep -q require <<<'$row'"
check "a plaintext password is refused by the database itself" \
  bash -c '! "$1" "$2" -v ON_ERROR_STOP=1 -qc "UPDATE connection SET password = '"'plain'"', is_encrypted = false WHERE conn_id = '"'my_pg'"'" 2>/dev/null' _ "$(svc_pg_bindir)/psql" "$UPDRAFT__DATABASE__URL"
check_eq "connections list" "my_http my_pg my_redis plainconn" \
  "$("${U[@]}" connections list -o plain | cut -f1 | tr '\n' ' ' | sed 's/ $//')"
check "connections list shows no password" bash -c "! '$BIN/updraft' connections list -o json | grep -q '$PW'"
env_conn=$(UPDRAFT_CONN_MY_PG='postgres://bob:envpw@envhost/x' "${U[@]}" connections get my_pg -o json)
check_eq "UPDRAFT_CONN_ override wins" envhost "$(jq -r .host <<<"$env_conn")"
env_conn=$(AIRFLOW_CONN_ONLY_ENV='{"conn_type": "http", "host": "jsonhost", "port": 8080}' "${U[@]}" connections get only_env -o json)
check_eq "AIRFLOW_CONN_ JSON form" "jsonhost:8080" "$(jq -r '.host + ":" + (.port|tostring)' <<<"$env_conn")"

# ---- export / import round trips ------------------------------------------
check "variables export" "${U[@]}" variables export "$tmp/vars.json"
check_eq "variables export format" hunter2 "$(jq -r '.db_password.value' "$tmp/vars.json")"
check_eq "variables export keeps JSON values" 2 "$(jq '.cfg.a | length' "$tmp/vars.json")"
check_eq "export file is private" 600 "$(stat -c %a "$tmp/vars.json")"
check "connections export json" "${U[@]}" connections export "$tmp/conns.json"
check_eq "connections export has the password" "$PW" "$(jq -r .my_pg.password "$tmp/conns.json")"
check "connections export env" "${U[@]}" connections export "$tmp/conns.env"
check "env export is URI per line" grep -q '^my_pg=postgres://alice:S3cr3t-p%40ss%2Fword@db.example:5432/analytics?sslmode=require$' "$tmp/conns.env"

svc_psql -qc "DELETE FROM variable; DELETE FROM connection"
check "variables import" "${U[@]}" variables import "$tmp/vars.json"
check_eq "imported variable" hunter2 "$("${U[@]}" variables get db_password)"
check_eq "imported description" "the db password" "$(svc_psql -tAc "SELECT description FROM variable WHERE key = 'db_password'")"
check_eq "imported JSON variable" 2 "$("${U[@]}" variables get cfg -j | jq '.a | length')"
check_eq "import -a fail with existing keys exits 1" 1 \
  "$("${U[@]}" variables import "$tmp/vars.json" -a fail >/dev/null 2>&1; echo $?)"
check "import -a skip" "${U[@]}" variables import "$tmp/vars.json" -a skip
check "connections import json" "${U[@]}" connections import "$tmp/conns.json"
check_eq "imported connection password" "$PW" "$("${U[@]}" connections get my_pg -o json | jq -r .password)"
check_eq "imported extra keeps api_key" k-999 "$("${U[@]}" connections get my_http -o json | jq -r '.extra | fromjson | .api_key')"
out=$("${U[@]}" connections import "$tmp/conns.json")
check "re-import without --overwrite skips" grep -q "Could not import connection my_pg: connection already exists." <<<"$out"
svc_psql -qc "DELETE FROM connection"
check "connections import env" "${U[@]}" connections import "$tmp/conns.env"
check_eq "env import round trip" "alice $PW 5432 analytics" \
  "$("${U[@]}" connections get my_pg -o json | jq -r '[.login, .password, (.port|tostring), .schema] | join(" ")')"

# ---- API ------------------------------------------------------------------
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=4
api=http://127.0.0.1:$port/api/v1
"$BIN/updraft-webserver" >"$tmp/webserver.log" 2>&1 &
ws_pid=$!
check "webserver answers" wait_for 10 curl -sf "http://127.0.0.1:$port/health"

req() { # METHOD PATH [BODY] -> $code, body in $tmp/body
  if [ $# -ge 3 ]; then
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' -d "$3" "$api$2")
  else
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$1" "$api$2")
  fi
}

req GET /variables
check_eq "GET /variables" 200 "$code"
check_eq "variables collection has no values" "null" "$(jq -c '.variables[0].value' "$tmp/body")"
check_eq "variables total_entries" 3 "$(jq .total_entries "$tmp/body")"
req GET "/variables?order_by=-key&limit=1"
check_eq "variables order_by -key" db_password "$(jq -r '.variables[0].key' "$tmp/body")"
req GET /variables/db_password
check_eq "GET variable value" hunter2 "$(jq -r .value "$tmp/body")"
req POST /variables '{"key": "api_token", "value": "tok-abc", "description": "d"}'
check_eq "POST variable" "200 tok-abc" "$code $(jq -r .value "$tmp/body")"
check_eq "posted variable stored encrypted" t "$(svc_psql -tAc "SELECT is_encrypted AND val NOT LIKE '%tok-abc%' FROM variable WHERE key = 'api_token'")"
req POST /variables '{"value": "x"}'
check_eq "POST variable without key: 400" 400 "$code"
check "400 body is a problem" jq -e '.status == 400 and (.detail | test("key"))' "$tmp/body"
req POST /variables '{"key": "k", "value": "v", "bogus": 1}'
check_eq "POST variable unknown field: 400" 400 "$code"
req POST /variables 'not json'
check_eq "POST variable bad JSON: 400" 400 "$code"
req PATCH "/variables/api_token?update_mask=description" '{"key": "api_token", "value": "ignored", "description": "new"}'
check_eq "PATCH variable with update_mask" "200 tok-abc new" "$code $(jq -r '.value + " " + .description' "$tmp/body")"
req PATCH /variables/api_token '{"key": "other", "value": "v"}'
check_eq "PATCH variable key mismatch: 400" 400 "$code"
req PATCH "/variables/api_token?update_mask=key" '{"key": "api_token", "value": "v"}'
check_eq "PATCH variable update_mask=key: 400" 400 "$code"
req PATCH /variables/missing '{"key": "missing", "value": "v"}'
check_eq "PATCH missing variable: 404" 404 "$code"
req DELETE /variables/api_token
check_eq "DELETE variable" 204 "$code"
req DELETE /variables/api_token
check_eq "DELETE missing variable: 404" 404 "$code"
req GET /variables/api_token
check_eq "GET deleted variable: 404" "404 Variable not found" "$code $(jq -r .title "$tmp/body")"

req GET /connections
check_eq "GET /connections" 200 "$code"
check "connections collection has no password or extra" jq -e '[.connections[] | has("password") or has("extra")] | any | not' "$tmp/body"
check_eq "connections collection ids" "my_http,my_pg,my_redis,plainconn" "$(jq -r '[.connections[].connection_id] | join(",")' "$tmp/body")"
req GET "/connections?order_by=-connection_id&limit=2&offset=1"
check_eq "connections order_by, limit, offset" "my_redis,my_pg 4" "$(jq -r '([.connections[].connection_id] | join(",")) + " " + (.total_entries|tostring)' "$tmp/body")"
req GET "/connections?order_by=password"
check_eq "connections order_by an unknown field: 400" 400 "$code"
req GET /connections/my_pg
check_eq "GET connection" "200 postgres db.example 5432" "$code $(jq -r '[.conn_type, .host, (.port|tostring)] | join(" ")' "$tmp/body")"
check "GET connection has no password field" jq -e 'has("password") | not' "$tmp/body"
check "GET connection body never holds the password" bash -c "! grep -qF '$PW' '$tmp/body'"
req POST /connections '{"connection_id": "api_hook", "conn_type": "webhook", "host": "http://127.0.0.1:9/hook/TOKENXYZ"}'
check_eq "POST a webhook connection (URL in the host)" 200 "$code"
check "its answer hides the URL" bash -c "! grep -q TOKENXYZ '$tmp/body'"
req GET /connections/api_hook
check_eq "GET a webhook connection shows *** for the URL in the host" "200 ***" "$code $(jq -r .host "$tmp/body")"
req GET /connections
check "connection listings never show it" bash -c "! grep -q TOKENXYZ '$tmp/body'"
req DELETE /connections/api_hook
req POST /connections '{"connection_id": "api_conn", "conn_type": "http", "host": "h", "port": 443, "password": "api-pw-777", "extra": "{\"token\": \"t-888\", \"region\": \"eu\"}"}'
check_eq "POST connection" 200 "$code"
check "POST answer has no password" jq -e 'has("password") | not' "$tmp/body"
check_eq "POST answer masks sensitive extra keys" '***:eu' "$(jq -r '.extra | fromjson | .token + ":" + .region' "$tmp/body")"
check_eq "API-stored password is ciphertext" t \
  "$(svc_psql -tAc "SELECT is_encrypted AND password LIKE 'v1:%' AND password NOT LIKE '%api-pw-777%' FROM connection WHERE conn_id = 'api_conn'")"
check_eq "API-stored password decrypts" api-pw-777 "$("${U[@]}" connections get api_conn -o json | jq -r .password)"
req POST /connections '{"connection_id": "api_conn", "conn_type": "http"}'
check_eq "POST duplicate connection: 409" 409 "$code"
req POST /connections '{"connection_id": "bad id!", "conn_type": "http"}'
check_eq "POST invalid connection_id: 400" 400 "$code"
req POST /connections '{"connection_id": "x"}'
check_eq "POST connection without conn_type: 400" 400 "$code"
req POST /connections '{"connection_id": "x", "conn_type": "http", "port": "80"}'
check_eq "POST connection with a string port: 400" 400 "$code"
req PATCH "/connections/api_conn?update_mask=description" '{"connection_id": "api_conn", "conn_type": "http", "host": "h2", "port": 1, "description": "d2"}'
check_eq "PATCH connection with update_mask" "200 h 443 d2" "$code $(jq -r '.host + " " + (.port|tostring) + " " + .description' "$tmp/body")"
check_eq "PATCH keeps the password" api-pw-777 "$("${U[@]}" connections get api_conn -o json | jq -r .password)"
# a whole body as Airflow clients send it (no password: it is write-only), same target
req PATCH /connections/api_conn '{"connection_id": "api_conn", "conn_type": "http", "host": "h", "port": 443, "login": null, "schema": null, "description": "d3"}'
check_eq "PATCH with the whole body and the same target keeps the password" "200 api-pw-777" \
  "$code $("${U[@]}" connections get api_conn -o json | jq -r .password)"
# changing where it points never carries the stored password (or a secret extra) along
req PATCH /connections/api_conn '{"connection_id": "api_conn", "conn_type": "http", "host": "127.0.0.1", "port": 15432}'
check_eq "changing a connection's host without its password is refused" 400 "$code"
check "the refusal says to send the password again" jq -e '.detail | test("changing its host, port needs its password and its extra, which holds secrets, again")' "$tmp/body"
check_eq "the refused change stored nothing" "h 443 api-pw-777" \
  "$("${U[@]}" connections get api_conn -o json | jq -r '[.host, (.port|tostring), .password] | join(" ")')"
for mask in host port schema login conn_type; do
  req PATCH "/connections/api_conn?update_mask=$mask" '{"connection_id": "api_conn", "conn_type": "https", "host": "evil.example", "port": 1, "schema": "s", "login": "l"}'
  check_eq "changing $mask (update_mask) without the password is refused" 400 "$code"
done
req PATCH /connections/api_conn '{"connection_id": "api_conn", "conn_type": "http", "host": "127.0.0.1", "password": "new-pw"}'
check_eq "with the password but not the extra that holds a token: refused" 400 "$code"
check "that refusal names the extra" jq -e '.detail | test("its extra, which holds secrets")' "$tmp/body"
req PATCH /connections/api_conn '{"connection_id": "api_conn", "conn_type": "http", "host": "h3", "password": "new-pw", "extra": "{\"token\": \"t-999\"}"}'
check_eq "with the password and the extra given again: accepted" "200 h3 new-pw" \
  "$code $("${U[@]}" connections get api_conn -o json | jq -r '[.host, .password] | join(" ")')"
req PATCH "/connections/api_conn?update_mask=host,password,extra" '{"connection_id": "api_conn", "conn_type": "http", "host": "h4"}'
check_eq "update_mask naming password and extra without values clears them" "200 h4 null null" \
  "$code $("${U[@]}" connections get api_conn -o json | jq -r '[.host, (.password|tostring), (.extra|tostring)] | join(" ")')"
req PATCH /connections/api_conn '{"connection_id": "api_conn", "conn_type": "http", "host": "h", "port": 443, "password": "rotated-pw", "extra": "{\"token\": \"t-888\", \"region\": \"eu\"}"}'
check_eq "PATCH connection password" 200 "$code"
check_eq "patched password decrypts" rotated-pw "$("${U[@]}" connections get api_conn -o json | jq -r .password)"
# the CLI replaces a whole connection: a password the file does not give is not kept
"${U[@]}" connections export "$tmp/moved.json" >/dev/null
jq '.api_conn.host = "127.0.0.1" | .api_conn.port = 15432 | del(.api_conn.password)' "$tmp/moved.json" >"$tmp/moved2.json"
check "connections import --overwrite of a moved connection" "${U[@]}" connections import "$tmp/moved2.json" --overwrite
check_eq "the CLI's overwrite keeps no password the file does not give" "127.0.0.1 null" \
  "$("${U[@]}" connections get api_conn -o json | jq -r '[.host, (.password|tostring)] | join(" ")')"
rm -f "$tmp/moved.json" "$tmp/moved2.json"
req PATCH /connections/api_conn '{"connection_id": "other", "conn_type": "http"}'
check_eq "PATCH connection_id: 400" 400 "$code"
req PATCH /connections/nope '{"connection_id": "nope", "conn_type": "http"}'
check_eq "PATCH missing connection: 404" 404 "$code"
req DELETE /connections/api_conn
check_eq "DELETE connection" 204 "$code"
req GET /connections/api_conn
check_eq "GET deleted connection: 404" "404 Connection not found" "$code $(jq -r .title "$tmp/body")"

# ---- rotation ---------------------------------------------------------------
before=$(svc_psql -tAc "SELECT password FROM connection WHERE conn_id = 'my_pg'")
id1=${before:3:8}
export UPDRAFT__CORE__FERNET_KEY="$KEY2,$KEY1"
check_eq "old ciphertext readable with NEW,OLD" "$PW" "$("${U[@]}" connections get my_pg -o json | jq -r .password)"
check "rotate-fernet-key" "${U[@]}" rotate-fernet-key
after=$(svc_psql -tAc "SELECT password FROM connection WHERE conn_id = 'my_pg'")
check "rotation changed the key id" test "${after:3:8}" != "$id1"
check_eq "no value left under the old key" "0 0" \
  "$(svc_psql -tAc "SELECT count(*) FROM connection WHERE password LIKE 'v1:$id1:%' OR extra LIKE 'v1:$id1:%'") $(svc_psql -tAc "SELECT count(*) FROM variable WHERE val LIKE 'v1:$id1:%'")" 
export UPDRAFT__CORE__FERNET_KEY="$KEY2"
check_eq "connection readable with the new key alone" "$PW" "$("${U[@]}" connections get my_pg -o json | jq -r .password)"
check_eq "variable readable with the new key alone" hunter2 "$("${U[@]}" variables get db_password)"
export UPDRAFT__CORE__FERNET_KEY="$KEY1"
out=$("${U[@]}" variables get db_password 2>&1); rc=$?
check_eq "the old key alone no longer reads" 1 "$rc"
check "the error names the key id, not the key" bash -c "grep -q 'not among the configured keys' <<<'$out' && ! grep -qF '$KEY2' <<<'$out'"

# ---- no secret in any log -------------------------------------------------
kill -TERM "$ws_pid" 2>/dev/null; wait "$ws_pid" 2>/dev/null; ws_pid=
check "webserver log holds no password" bash -c "! grep -qE 'S3cr3t|api-pw-777|rotated-pw|hunter2|tok-abc' '$tmp/webserver.log'"
check "postgres log holds no password" bash -c "! grep -rqE 'S3cr3t|api-pw-777|rotated-pw|hunter2' '$tmp'/pg/server.log 2>/dev/null"
check "the key is in no log" bash -c "! grep -rqF -e '$KEY1' -e '$KEY2' '$tmp'/*.log 2>/dev/null"
