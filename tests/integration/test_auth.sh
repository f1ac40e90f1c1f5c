#!/usr/bin/env bash
# Who gets in (docs/security.md): the permission matrix generated from the
# webserver's own route table (`updraft-webserver --routes`): every route
# x {no credentials, wrong password, expired token, revoked token, Public,
# Viewer, User, Op, Admin} gives 401, 403 or passes, as the role table
# says; Basic, bearer tokens and session cookies all identify callers;
# browser sessions need their CSRF token to change anything, end on
# logout, when idle and at their absolute end; every change and login is
# in the event log; no password, token or session id reaches a log line
# or the event log; auth "none" is refused beyond loopback.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
export UPDRAFT__WEBSERVER__AUTH=password
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

T_LOG_TAIL=40
t_setup
quiet() { "$@" >/dev/null 2>&1; }

check "db migrate" quiet "$BIN/updraft" db migrate

# ---- users and tokens, made with the CLI -----------------------------------
pw_public=Pub-$RANDOM-pass-1 pw_viewer=View-$RANDOM-pass-2 pw_user=User-$RANDOM-pass-3
pw_op=Op-$RANDOM-pass-4 pw_admin=Admin-$RANDOM-pass-5
mkuser() { # NAME ROLE PASSWORD
  "$BIN/updraft" users create --username "$1" --firstname "${1^}" --lastname Tester \
    --email "$1@example.com" --role "$2" --password "$3" >/dev/null 2>"$tmp/cli.err"
}
for u in "public_u Public $pw_public" "viewer Viewer $pw_viewer" "user User $pw_user" \
    "op Op $pw_op" "admin Admin $pw_admin"; do
    # shellcheck disable=SC2086
    mkuser $u || not_ok "create user ${u%% *}" "$(cat "$tmp/cli.err")"
  done
token_of() { "$BIN/updraft" users token create --username "$1" "${@:2}" 2>/dev/null | grep -o 'udt_[A-Za-z0-9_-]*' | head -1; }
tok_user=$(token_of user)
tok_expired=$(token_of viewer --expires-in 1s)
tok_revoked=$(token_of admin)
check "tokens are made" test -n "$tok_user" -a -n "$tok_expired" -a -n "$tok_revoked"
rev_id=$("$BIN/updraft" users token list --username admin -o json | jq -r '.[0].id')
check "a token is revoked" quiet "$BIN/updraft" users token revoke --id "$rev_id"

# ---- the webserver -----------------------------------------------------------
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__BASE_URL=http://127.0.0.1:$port
export UPDRAFT__WEBSERVER__THREADS=4
# The matrix makes hundreds of failed logins on purpose; the limits have a test of their own.
export UPDRAFT__WEBSERVER__LOGIN_FAILURES_PER_USER=100000
export UPDRAFT__WEBSERVER__LOGIN_FAILURES_PER_ADDRESS=100000
# Connection testing answers 403 of its own when disabled (as Airflow): on, so
# that a 403 here means a role was refused.
export UPDRAFT__CORE__TEST_CONNECTION=Enabled
base=http://127.0.0.1:$port
api=$base/api/v1
start_webserver webserver
check "webserver answers" wait_for 10 curl -sf "$base/health"

# req ARGS... -> status in $code, body in $tmp/body
req() { code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$@"); }

# A browser session for the op user: the cookie jar and the CSRF token.
jar=$tmp/op.jar
req -c "$jar" -H 'Content-Type: application/json' -d "{\"username\":\"op\",\"password\":\"$pw_op\"}" "$base/login"
check_eq "JSON login: 200" 200 "$code"
csrf=$(jq -r .csrf_token "$tmp/body")
check "JSON login: the CSRF token matches its cookie" grep -q "updraft_csrf.*$csrf" "$jar"
check "session cookie is HttpOnly" grep -q '^#HttpOnly_127.0.0.1.*updraft_session' "$jar"
sleep 1.2 # the viewer's 1-second token has expired by now

# ---- the matrix ------------------------------------------------------------
# nocsrf: the op's browser session without its CSRF token (a cross-site request).
idents=(none wrong expired revoked public viewer user op admin nocsrf)
rank() { case $1 in Public) echo 0 ;; Viewer) echo 1 ;; User) echo 2 ;; Op) echo 3 ;; Admin) echo 4 ;; *) echo 9 ;; esac; }
ident_args() {
  case $1 in
  none) ;;
  wrong) printf '%s\n' -u "viewer:not-$pw_viewer" ;;
  expired) printf '%s\n' -H "Authorization: Bearer $tok_expired" ;;
  revoked) printf '%s\n' -H "Authorization: Bearer $tok_revoked" ;;
  public) printf '%s\n' -u "public_u:$pw_public" ;;
  viewer) printf '%s\n' -u "viewer:$pw_viewer" ;;
  user) printf '%s\n' -H "Authorization: Bearer $tok_user" ;;
  op) printf '%s\n' -b "$jar" -H "X-CSRF-Token: $csrf" ;;
  admin) printf '%s\n' -u "admin:$pw_admin" ;;
  nocsrf) printf '%s\n' -b "$jar" ;;
  esac
}
ident_rank() { case $1 in public) echo 0 ;; viewer) echo 1 ;; user) echo 2 ;; op | nocsrf) echo 3 ;; admin) echo 4 ;; *) echo -1 ;; esac; }

"$BIN/updraft-webserver" --routes >"$tmp/routes.tsv"
check "the route table lists routes" test "$(wc -l <"$tmp/routes.tsv")" -ge 40
nroutes=0
while IFS=$'\t' read -r method pattern action resource minrole _params; do
  case $pattern in /login | /logout) continue ;; esac
  nroutes=$((nroutes + 1))
  path=${pattern//\{\}/nosuch}
  bad=""
  for id in "${idents[@]}"; do
    mapfile -t a < <(ident_args "$id")
    body=()
    case $method in POST | PATCH) body=(-H 'Content-Type: application/json' -d '{}') ;; esac
    got=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "${a[@]}" "${body[@]}" "$base$path")
    r=$(ident_rank "$id")
    if [ "$minrole" = "-" ]; then
      want=pass
    elif [ "$r" -lt 0 ]; then
      want=401
      # A browser page (the UI's paths) sends the anonymous to the login page.
      case $resource:$pattern in Website:/ui/*) ;; Website:*) [ "$id" = none ] && want=303 ;; esac
    elif [ "$r" -lt "$(rank "$minrole")" ]; then
      want=403
    else
      want=pass
    fi
    if [ "$id" = nocsrf ] && [ "$minrole" != "-" ] && [ "$want" = pass ]; then
      case $method in GET | HEAD) ;; *) want=403 ;; esac
    fi
    if [ "$want" = pass ]; then
      case $got in 401 | 403 | 429 | 5??) bad+=" $id=$got(want pass)" ;; esac
    elif [ "$got" != "$want" ]; then
      bad+=" $id=$got(want $want)"
    fi
  done
  if [ -z "$bad" ]; then ok "matrix: $method $pattern ($action $resource, $minrole and up)"; else
    not_ok "matrix: $method $pattern ($action $resource, $minrole and up)" "$bad"; fi
done <"$tmp/routes.tsv"
check "matrix covered every API route" test "$nroutes" -ge 40

# 401 and 403 bodies are Airflow's RFC 7807 problems.
req "$api/dags"
check_eq "no credentials: 401" 401 "$code"
check "401 is a problem body" quiet jq -e '.status == 401 and .title == "Unauthorized" and (.type|endswith("Unauthenticated")) and (.detail|type) == "string"' "$tmp/body"
req -u "viewer:$pw_viewer" "$api/variables"
check_eq "viewer reads variables: 403" 403 "$code"
check "403 is a problem body" quiet jq -e '.status == 403 and .title == "Forbidden" and (.type|endswith("PermissionDenied"))' "$tmp/body"
req -u "viewer:$pw_viewer" "$api/dags"
check_eq "viewer reads DAGs: 200" 200 "$code"

# ---- CSRF -------------------------------------------------------------------
J=(-H 'Content-Type: application/json')
req -b "$jar" -X POST "${J[@]}" -d '{"key":"csrf_probe","value":"1"}' "$api/variables"
check_eq "session write without the CSRF token: 403" 403 "$code"
req -b "$jar" -X POST "${J[@]}" -H "X-CSRF-Token: ${csrf}x" -d '{"key":"csrf_probe","value":"1"}' "$api/variables"
check_eq "session write with a wrong CSRF token: 403" 403 "$code"
req -b "$jar" "$api/variables"
check_eq "session read needs no CSRF token: 200" 200 "$code"
req -b "$jar" -X POST "${J[@]}" -H "X-CSRF-Token: $csrf" -d '{"key":"csrf_probe","value":"1"}' "$api/variables"
check_eq "session write with the CSRF token: 200" 200 "$code"
check_eq "the refused writes wrote nothing, the accepted one did" 1 "$(q "SELECT count(*) FROM variable WHERE key = 'csrf_probe'")"
req -u "op:$pw_op" -X DELETE "$api/variables/csrf_probe"
check_eq "Basic caller needs no CSRF token: 204" 204 "$code"

# ---- the login form -------------------------------------------------------------
req "$base/login"
check "login page: 200 with a form" test "$code" = 200 -a -n "$(grep -o 'name="password"' "$tmp/body")"
fjar=$tmp/form.jar
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -c "$fjar" \
  --data-urlencode username=viewer --data-urlencode "password=$pw_viewer" --data-urlencode next=/api/v1/dags "$base/login")
check_eq "form login: 303 to next" "303 $api/dags" "$code"
req -b "$fjar" "$api/dags"
check_eq "form session reads DAGs" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --data-urlencode username=viewer \
  --data-urlencode "password=$pw_viewer" --data-urlencode next=//evil.example/x "$base/login")
check_eq "form login: an off-site next goes home instead" "303 $base/" "$code"
req --data-urlencode username=viewer --data-urlencode password=wrong "$base/login"
wrong_body=$(sed 's/value="[^"]*"//g' "$tmp/body")
check_eq "wrong password: 401 page" 401 "$code"
req --data-urlencode username=nobody_at_all --data-urlencode password=wrong "$base/login"
check_eq "unknown user: 401 page" 401 "$code"
check_eq "unknown user and wrong password get the same page" "$wrong_body" "$(sed 's/value="[^"]*"//g' "$tmp/body")"
req -H "Origin: http://evil.example" --data-urlencode username=viewer --data-urlencode "password=$pw_viewer" "$base/login"
check_eq "a login form posted from another site: 403" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$base/")
check_eq "home page without a session: 303 to the login page" "303 $base/login?next=%2f" "${code,,}"
code=$(curl -s -o /dev/null -b "$fjar" -w '%{http_code} %{redirect_url}' "$base/")
check_eq "home page with a session: to the DAG list" "302 $base/dags" "$code"
req -b "$fjar" "$base/ui/me"
check "the UI learns the signed-in user and roles" jq -e '.display_name == "Viewer Tester" and .roles == ["Viewer"] and .session' "$tmp/body"
check "a Viewer's permissions read DAGs and edit none" jq -e '(.permissions | any(. == ["can_read", "DAGs"])) and (.permissions | any(. == ["can_edit", "DAGs"]) | not)' "$tmp/body"

# ---- sessions end ---------------------------------------------------------------
req -b "$fjar" -X POST "$base/logout"
check_eq "logout without the CSRF token: 403" 403 "$code"
fcsrf=$(awk '$6 == "updraft_csrf" {print $7}' "$fjar")
req -b "$fjar" -X POST --data-urlencode "csrf_token=$fcsrf" "$base/logout"
check_eq "logout with the form's CSRF token: 303" 303 "$code"
req -b "$fjar" "$api/dags"
check_eq "after logout the old cookie is refused: 401" 401 "$code"

ijar=$tmp/idle.jar
req -c "$ijar" "${J[@]}" -d "{\"username\":\"admin\",\"password\":\"$pw_admin\"}" "$base/login"
q "UPDATE web_session SET last_seen_at = now() - interval '9 hours'" >/dev/null
req -b "$ijar" "$api/dags"
check_eq "a session idle longer than session_idle_minutes: 401" 401 "$code"
req -c "$ijar" "${J[@]}" -d "{\"username\":\"admin\",\"password\":\"$pw_admin\"}" "$base/login"
req -b "$ijar" "$api/dags"
check_eq "a fresh session reads" 200 "$code"
q "UPDATE web_session SET expires_at = now() - interval '1 second'" >/dev/null
req -b "$ijar" "$api/dags"
check_eq "a session past its absolute end: 401" 401 "$code"

# A password change takes effect at once, even for a remembered Basic login.
req -u "viewer:$pw_viewer" "$api/dags"
check_eq "viewer reads before the password changes" 200 "$code"
check "users reset-password" quiet "$BIN/updraft" users reset-password --username viewer --password "New-$pw_viewer"
req -u "viewer:$pw_viewer" "$api/dags"
check_eq "the old password is refused at once" 401 "$code"
req -u "viewer:New-$pw_viewer" "$api/dags"
check_eq "the new one works" 200 "$code"
pw_viewer=New-$pw_viewer
check "a role removed takes effect at once" bash -c '
  "$0" users add-role --username user --role Op >/dev/null &&
  [ "$(curl -s -o /dev/null -w %{http_code} -H "Authorization: Bearer $1" "$2/variables")" = 200 ] &&
  "$0" users remove-role --username user --role Op >/dev/null &&
  [ "$(curl -s -o /dev/null -w %{http_code} -H "Authorization: Bearer $1" "$2/variables")" = 403 ]' \
  "$BIN/updraft" "$tok_user" "$api"

# ---- the event log ----------------------------------------------------------------
req -u "op:$pw_op" -X POST "${J[@]}" -d '{"name":"audited","slots":2}' "$api/pools"
check_eq "op creates a pool" 200 "$code"
check_eq "event log: the pool's creation, by op, from 127.0.0.1" "api.post_pool|op|127.0.0.1" \
  "$(q "SELECT event || '|' || owner || '|' || address FROM event_log WHERE event = 'api.post_pool' ORDER BY id DESC LIMIT 1")"
check "event log: the logins and the failed ones" test "$(q "SELECT count(DISTINCT event) FROM event_log WHERE event IN ('login','login_failed','logout')")" = 3
check_eq "event log: a failed login of an unknown name records no name" "" \
  "$(q "SELECT coalesce(owner, '') FROM event_log WHERE event = 'login_failed' AND owner IS NULL LIMIT 1")"
check "event log: CLI changes are there" test "$(q "SELECT count(*) FROM event_log WHERE event LIKE 'cli_users_%'")" -ge 5
req -u "viewer:$pw_viewer" "$api/eventLogs?event=api.post_pool"
check "GET /eventLogs serves it to a viewer" quiet jq -e '.total_entries >= 1 and .event_logs[0].owner == "op" and .event_logs[0].event == "api.post_pool"' "$tmp/body"
id=$(jq -r '.event_logs[0].event_log_id' "$tmp/body")
req -u "viewer:$pw_viewer" "$api/eventLogs/$id"
check "GET /eventLogs/{id}" quiet jq -e --argjson id "$id" '.event_log_id == $id' "$tmp/body"

# ---- users through the API (Admin) --------------------------------------------------
req -u "admin:$pw_admin" -X POST "${J[@]}" -d '{"username":"api_made","first_name":"A","last_name":"M","email":"am@example.com","password":"Api-made-pw-77","roles":[{"name":"Viewer"}]}' "$api/users"
check "POST /users: 200, no password in the answer" quiet jq -e '.username == "api_made" and .roles == [{"name":"Viewer"}] and (has("password")|not)' "$tmp/body"
req -u "api_made:Api-made-pw-77" "$api/dags"
check_eq "the new user reads DAGs" 200 "$code"
req -u "admin:$pw_admin" -X PATCH "${J[@]}" -d '{"roles":[{"name":"Op"}]}' "$api/users/api_made?update_mask=roles"
check "PATCH /users: roles replaced" quiet jq -e '.roles == [{"name":"Op"}]' "$tmp/body"
req -u "admin:$pw_admin" -X PATCH "${J[@]}" -d '{"active":false}' "$api/users/api_made?update_mask=active"
check "PATCH /users: active false" quiet jq -e '.active == false and .roles == [{"name":"Op"}]' "$tmp/body"
req -u "api_made:Api-made-pw-77" "$api/dags"
check_eq "an inactive user is refused" 401 "$code"
req -u "admin:$pw_admin" -X PATCH "${J[@]}" -d '{"active":"no"}' "$api/users/api_made"
check_eq "PATCH /users: active not a boolean 400" 400 "$code"
req -u "admin:$pw_admin" -X PATCH "${J[@]}" -d '{"active":true}' "$api/users/api_made"
req -u "api_made:Api-made-pw-77" "$api/dags"
check_eq "reactivated, the user reads DAGs again" 200 "$code"
req -u "admin:$pw_admin" -X DELETE "$api/users/api_made"
check_eq "DELETE /users: 204" 204 "$code"
req -u "api_made:Api-made-pw-77" "$api/dags"
check_eq "a deleted user is refused" 401 "$code"
req -u "admin:$pw_admin" "$api/roles"
check "GET /roles: the five roles, Viewer reads DAGs" quiet jq -e '.total_entries == 5 and ([.roles[].name] | sort) == ["Admin","Op","Public","User","Viewer"] and (.roles[] | select(.name == "Viewer") | .actions | any(.action.name == "can_read" and .resource.name == "DAGs"))' "$tmp/body"

# ---- no secret in any log or in the event log -------------------------------------------
sid_digestless=$(awk '$6 == "updraft_session" {print $7}' "$jar")
leaks=""
for s in "$pw_public" "$pw_viewer" "$pw_user" "$pw_op" "$pw_admin" Api-made-pw-77 "$tok_user" "$tok_expired" "$tok_revoked" "$sid_digestless"; do
  [ -z "$s" ] && continue
  grep -rlF -- "$s" "$tmp"/*.log >/dev/null 2>&1 && leaks+=" log:${s:0:6}..."
  [ "$(q "SELECT count(*) FROM event_log WHERE concat_ws('|', event, owner, owner_display_name, extra, dag_id, run_id, task_id) LIKE '%' || \$\$${s}\$\$ || '%'")" != 0 ] && leaks+=" event_log:${s:0:6}..."
  [ "$(q "SELECT count(*) FROM ab_user WHERE password LIKE '%' || \$\$${s}\$\$ || '%'")" != 0 ] && leaks+=" ab_user:${s:0:6}..."
done
check_eq "no password, token or session id in the logs, the event log or ab_user" "" "$leaks"
check "passwords are stored as yescrypt hashes" test "$(q "SELECT count(*) FROM ab_user WHERE password NOT LIKE '\$y\$%'")" = 0

# ---- auth none is for loopback only ----------------------------------------------------
p2=$(svc_free_port)
UPDRAFT__WEBSERVER__AUTH=none timeout 10 "$BIN/updraft-webserver" --listen "0.0.0.0:$p2" >"$tmp/none.out" 2>&1
rc=$?
check "auth none on 0.0.0.0: refused to start" test "$rc" -ne 0 -a "$rc" -ne 124
check "auth none on 0.0.0.0: the message says why" grep -q "only allowed on a loopback address" "$tmp/none.out"

echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
