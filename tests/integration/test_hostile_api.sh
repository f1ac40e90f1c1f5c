#!/usr/bin/env bash
# Hostile input on every route (read from `updraft-webserver --routes`):
# path traversal, NUL bytes, SQL metacharacters, bad UTF-8 and oversized
# ids in every path parameter; SQL metacharacters in every query
# parameter; oversized, deeply nested and non-UTF-8 bodies on every route
# that takes one. Every answer is a 4xx (never a 5xx, never a change),
# the server stays up and no table is harmed (a read may answer 200 with
# an empty list under an unknown parent, as Airflow does). Then 10,000 wrong logins:
# the failure limits hold (429 with Retry-After), the server keeps
# answering and other users still get in.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
export UPDRAFT__WEBSERVER__AUTH=password
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=30
t_setup
quiet() { "$@" >/dev/null 2>&1; }

check "db migrate" quiet "$BIN/updraft" db migrate
pw_admin=Adm-$RANDOM-hostile pw_viewer=Vw-$RANDOM-hostile
check "admin created" quiet "$BIN/updraft" users create --username admin --firstname A --lastname D \
  --email admin@example.com --role Admin --password "$pw_admin"
check "viewer created" quiet "$BIN/updraft" users create --username viewer --firstname V --lastname W \
  --email viewer@example.com --role Viewer --password "$pw_viewer"
q "INSERT INTO variable (key, val) VALUES ('keep_me', 'v')" >/dev/null

port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=4
export UPDRAFT__WEBSERVER__LOGIN_FAILURES_PER_USER=5
export UPDRAFT__WEBSERVER__LOGIN_FAILURES_PER_ADDRESS=50
base=http://127.0.0.1:$port
start_webserver webserver
ws_pid=$!
check "webserver answers" wait_for 10 curl -sf "$base/health"
A=(-u "admin:$pw_admin")

"$BIN/updraft-webserver" --routes >"$tmp/routes.tsv"

# ---- path parameters ------------------------------------------------------------
ids=("..%2F..%2Fetc%2Fpasswd" ".." "%00" "a%00b" "%27%3B%20DROP%20TABLE%20dag%3B--"
  "%FF%FE%FD" "x%2F..%2F..%2Fvar" "%22%3E%3Cscript%3E" "$(head -c 5000 /dev/zero | tr '\0' a)")
while IFS=$'\t' read -r method pattern _a _r minrole _params; do
  [ "$minrole" = "-" ] && continue
  case $pattern in *"{}"*) ;; *) continue ;; esac
  bad=""
  for id in "${ids[@]}"; do
    path=${pattern//\{\}/$id}
    body=()
    case $method in POST | PATCH) body=(-H 'Content-Type: application/json' -d '{"name":"x"}') ;; esac
    got=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "${A[@]}" "${body[@]}" "$base$path")
    # A list under an unknown parent is an empty list (200), as in Airflow;
    # anything that would change something must be refused.
    # GET:302: an id of dots the client folds away ("/ui/gantt/../.." is "/", which goes to /dags).
    case $method:$got in *:4?? | GET:200 | GET:302) ;; *) bad+=" ${id:0:24}=$got" ;; esac
  done
  if [ -z "$bad" ]; then ok "hostile ids: $method $pattern"; else not_ok "hostile ids: $method $pattern" "$bad"; fi
done <"$tmp/routes.tsv"

# ---- query parameters -------------------------------------------------------------
sqlv="%27%20OR%201%3D1%20--%20%3B%20DROP%20TABLE%20variable%3B"
while IFS=$'\t' read -r method pattern _a _r minrole params; do
  [ "$minrole" = "-" ] || [ "$method" != GET ] || [ -z "$params" ] && continue
  path=${pattern//\{\}/nosuch}
  bad=""
  IFS=, read -ra ps <<<"$params"
  for p in "${ps[@]}"; do
    got=$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$base$path?$p=$sqlv")
    case $got in 200 | 4??) ;; *) bad+=" $p=$got" ;; esac
  done
  if [ -z "$bad" ]; then ok "SQL metacharacters in every query parameter: $pattern"; else
    not_ok "SQL metacharacters in every query parameter: $pattern" "$bad"; fi
done <"$tmp/routes.tsv"

# ---- bodies -------------------------------------------------------------------------
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' | sed 's/^/{"name": "/; s/$/"}/' >"$tmp/big.json"
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$tmp/deep.json"
printf '{"name": "\xff\xfe\xfd", "key": "k\xc3\x28", "value": "v"}' >"$tmp/badutf8.json"
# SQL metacharacters in every string member a route might read.
sq="x'); DROP TABLE variable; -- \\\" OR 1=1 \$\$"
jq -n --arg s "$sq" '{name: $s, key: $s, value: $s, connection_id: $s, conn_type: $s, host: $s,
  dag_run_id: $s, note: $s, username: $s, email: $s, password: $s, first_name: $s, last_name: $s,
  description: $s, task_id: $s, new_state: $s, state: $s, slots: 1}' >"$tmp/sql.json"
while IFS=$'\t' read -r method pattern _a _r minrole _params; do
  [ "$minrole" = "-" ] && continue
  case $method in POST | PATCH) ;; *) continue ;; esac
  path=${pattern//\{\}/nosuch}
  bad=""
  for f in big deep badutf8 sql; do
    got=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "${A[@]}" -H 'Content-Type: application/json' \
      --data-binary "@$tmp/$f.json" "$base$path")
    # SQL metacharacters are only text: a route may store them (2xx) or refuse the body (4xx).
    case $f:$got in *:4?? | sql:2??) ;; *) bad+=" $f=$got" ;; esac
  done
  if [ -z "$bad" ]; then ok "hostile bodies: $method $pattern"; else not_ok "hostile bodies: $method $pattern" "$bad"; fi
done <"$tmp/routes.tsv"

check "the server is still up" curl -sf -o /dev/null "$base/health"
check "still serving the API" curl -sf -o /dev/null "${A[@]}" "$base/api/v1/dags"
check_eq "no table was harmed" "1 1" \
  "$(q "SELECT (SELECT count(*) FROM variable WHERE key = 'keep_me') || ' ' || (SELECT count(*) FROM ab_user WHERE username = 'admin')")"
jq -n --arg s "$sq" '{key: $s, value: $s}' >"$tmp/sqlvar.json"
check_eq "POST /variables with SQL metacharacters in key and value: 200" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -H 'Content-Type: application/json' --data-binary "@$tmp/sqlvar.json" "$base/api/v1/variables")"
check_eq "they are stored as the key's text, once" 1 \
  "$(q "SELECT count(*) FROM variable WHERE key = \$sqv\$$sq\$sqv\$")"

# ---- 10,000 wrong logins ----------------------------------------------------------------
# One curl, one connection, 10,000 requests (each URL with its own output).
for i in $(seq 1 10000); do printf 'url = "%s"\noutput = "/dev/null"\n' "$base/api/v1/dags"; done >"$tmp/flood.cfg"
curl -s -K "$tmp/flood.cfg" -u "admin:wrong-password" -w '%{http_code}\n' >"$tmp/flood.codes"
check_eq "10,000 wrong logins were answered" 10000 "$(wc -l <"$tmp/flood.codes")"
n401=$(grep -c '^401$' "$tmp/flood.codes")
n429=$(grep -c '^429$' "$tmp/flood.codes")
check_eq "only the allowance of 5 was tried, the rest refused with 429" "5 9995" "$n401 $n429"
hdr=$(curl -s -D - -o /dev/null -u "admin:wrong-password" "$base/api/v1/dags")
check "429 says when to come back (Retry-After)" grep -qi '^retry-after: [1-9]' <<<"$hdr"
req_code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check_eq "the right password of the attacked user waits too (429)" 429 "$(req_code -u "admin:$pw_admin" --interface 127.0.0.3 "$base/api/v1/variables")"
check_eq "another user from another address still gets in" 200 "$(req_code -u "viewer:$pw_viewer" --interface 127.0.0.2 "$base/api/v1/dags")"
check_eq "the flooding address is held for every name once its allowance is spent" 429 \
  "$(for i in $(seq 1 60); do req_code -u "u$i:x" "$base/api/v1/dags" >/dev/null; done; req_code -u "viewer:$pw_viewer" "$base/api/v1/dags")"
check_eq "the login form is limited the same way" 429 \
  "$(req_code --data-urlencode username=admin --data-urlencode password=nope "$base/login")"
check "the server is still up after the flood" kill -0 "$ws_pid"
for i in $(seq 1 300); do printf 'url = "%s"\noutput = "/dev/null"\n' "$base/login"; done >"$tmp/form.cfg"
curl -s -K "$tmp/form.cfg" --interface 127.0.0.4 --data-urlencode username=viewer \
  --data-urlencode password=nope -w '%{http_code}\n' >"$tmp/form.codes"
check_eq "300 wrong form logins: 5 tried, 295 refused" "5 295" \
  "$(grep -c '^401$' "$tmp/form.codes") $(grep -c '^429$' "$tmp/form.codes")"
check_eq "and only the 5 tried are in the event log (a flood writes nothing)" 5 \
  "$(q "SELECT count(*) FROM event_log WHERE event = 'login_failed' AND address = '127.0.0.4'")"

echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
