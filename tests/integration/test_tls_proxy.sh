#!/usr/bin/env bash
# deploy/nginx/updraft.conf in front of the webserver, as docs/deploy.md
# installs it: Debian's nginx on loopback with a certificate made here,
# its ports, paths and upstream rewritten, everything else as shipped. The
# UI and the API work over https, plain http redirects, HSTS is sent, the
# UI bundle keeps its gzip, a long-poll of /ui/changes gets its answer
# through, and the webserver believes X-Forwarded-For/-Proto from the
# proxy (webserver.trusted_proxies 127.0.0.1) and from nobody else: the
# audit log, the login limit per address and the session's Secure flag
# follow the forwarded client only then.
#
# Clients here connect from other loopback addresses (curl --interface
# 127.0.0.N) so that they are not the trusted proxy's 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ] || ! command -v openssl >/dev/null 2>&1; then
  echo "ok 1 # skip nginx or openssl is not installed (make deps installs nginx-light and openssl)"
  exit 0
fi
export UPDRAFT__WEBSERVER__AUTH=password
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
check "db migrate" bash -c "\"$BIN/updraft\" db migrate >/dev/null"
pw=Adm-$RANDOM-pass-9
"$BIN/updraft" users create --username admin --firstname A --lastname B --email a@example.com \
  --role Admin --password "$pw" >/dev/null 2>&1 || not_ok "create the admin user"

# --- the certificate and nginx ------------------------------------------------------
site=updraft.example.com
ng=$tmp/nginx
mkdir -p "$ng"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=$site" -addext "subjectAltName=DNS:$site" \
  -keyout "$ng/key.pem" -out "$ng/cert.pem" >/dev/null 2>&1
check "openssl makes a certificate" test -s "$ng/cert.pem"
wport=$(svc_free_port) sport=$(svc_free_port) hport=$(svc_free_port)
sed -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$wport;|" \
  -e "s|^\( *\)listen 80;|\1listen 127.0.0.1:$hport;|" \
  -e "s|^\( *\)listen 443 ssl http2;|\1listen 127.0.0.1:$sport ssl http2;|" \
  -e '/listen \[::\]/d' \
  -e "s|/etc/ssl/updraft/fullchain.pem|$ng/cert.pem|" -e "s|/etc/ssl/updraft/privkey.pem|$ng/key.pem|" \
  deploy/nginx/updraft.conf >"$ng/updraft.conf"
check "only ports, certificate paths and the upstream were rewritten" \
  test "$(diff deploy/nginx/updraft.conf "$ng/updraft.conf" | grep -c '^>')" = 5
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;" # workers stay root only because the test runs as root
cat >"$ng/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log;
events { worker_connections 256; }
http {
    access_log $ng/access.log;
    client_body_temp_path $ng/body;
    proxy_temp_path $ng/proxy;
    fastcgi_temp_path $ng/fastcgi;
    uwsgi_temp_path $ng/uwsgi;
    scgi_temp_path $ng/scgi;
    include $ng/updraft.conf;
}
EOF
check "nginx -t accepts the configuration" "$NGINX" -e "$ng/error.log" -p "$ng" -c "$ng/nginx.conf" -t -q
"$NGINX" -e "$ng/error.log" -p "$ng" -c "$ng/nginx.conf" -g 'daemon off;' >"$tmp/nginx.log" 2>&1 &
pids+=($!)

export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$wport
# http base_url, so that a Secure cookie can only come from X-Forwarded-Proto
export UPDRAFT__WEBSERVER__BASE_URL=http://$site
export UPDRAFT__WEBSERVER__TRUSTED_PROXIES=127.0.0.1
export UPDRAFT__WEBSERVER__LOGIN_FAILURES_PER_ADDRESS=3
export UPDRAFT__WEBSERVER__MAX_CONNECTIONS_PER_ADDRESS=2
start_webserver webserver
check "the webserver answers" wait_for 10 curl -sf "http://127.0.0.1:$wport/health"

# cl ADDR ARGS...: curl from 127.0.0.ADDR through nginx over https
https=https://$site:$sport
cl() { local a=$1; shift; curl -s --interface "127.0.0.$a" --cacert "$ng/cert.pem" \
  --resolve "$site:$sport:127.0.0.1" --resolve "$site:$hport:127.0.0.1" "$@"; }
check "nginx answers over https" wait_for 10 cl 3 -f "$https/login"

# --- the UI and the API through it -------------------------------------------------------
cl 3 -D "$tmp/h" -o "$tmp/b" "$https/login"
check "GET /login over https: 200 with the form" \
  bash -c "head -1 '$tmp/h' | grep -q ' 200' && grep -q 'name=\"password\"' '$tmp/b'"
check "HSTS is sent" grep -qi '^strict-transport-security: max-age=31536000' "$tmp/h"
check_eq "the API with Basic credentials over https" true \
  "$(cl 3 -u "admin:$pw" "$https/api/v1/dags" | jq -c 'has("dags")')"
check_eq "a certificate the client does not trust is refused" 60 \
  "$(curl -s -o /dev/null --resolve "$site:$sport:127.0.0.1" "$https/health"; echo $?)"
asset=$(cl 3 -u "admin:$pw" "$https/dags" | grep -o '/assets/[^"]*\.js' | head -1)
cl 3 -H 'Accept-Encoding: gzip' -D "$tmp/h" -o "$tmp/asset.gz" "$https$asset"
check "the UI bundle ($asset) comes through gzip'ed, once" \
  bash -c "[ -n '$asset' ] && grep -qi '^content-encoding: gzip' '$tmp/h' && gzip -t '$tmp/asset.gz'"

# plain http: a permanent redirect to https, nothing served
check_eq "http redirects to https (301, same path)" "301 https://$site/api/v1/dags?limit=1" \
  "$(cl 3 -o /dev/null -w '%{http_code} %{redirect_url}' "http://$site:$hport/api/v1/dags?limit=1")"

# --- a long-poll of /ui/changes --------------------------------------------------------
tok=$(cl 3 -u "admin:$pw" "$https/ui/changes" | jq -r .token)
check "a change token" test -n "$tok" -a "$tok" != null
start=$(date +%s%N)
cl 3 -u "admin:$pw" "$https/ui/changes?after=$tok&wait_ms=20000" >"$tmp/changes.json" &
poll=$!
sleep 1
q "NOTIFY updraft_scheduler, '1'" >/dev/null
wait "$poll"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "the waiting request gets the change through nginx (after $ms ms of the 20000 it may wait)" \
  bash -c "jq -e '.changed == true' '$tmp/changes.json' >/dev/null && [ $ms -lt 15000 ]"
check_eq "and a wait with no change ends with the webserver's answer, not nginx's" false \
  "$(cl 3 -u "admin:$pw" "$https/ui/changes?after=$(jq -r .token "$tmp/changes.json")&wait_ms=3000" | jq .changed)"

# --- the client address, only from the trusted proxy ------------------------------------
last_failed() { q "SELECT address FROM event_log WHERE event = 'login_failed' ORDER BY id DESC LIMIT 1"; }
login() { # ADDR USER PASS [via]: the status of POST /login from 127.0.0.ADDR, through nginx or direct
  local url=$https/login
  [ "${4:-}" = direct ] && url=http://127.0.0.1:$wport/login
  cl "$1" -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: 6.6.6.6" -H "X-Forwarded-Proto: https" \
    --data-urlencode "username=$2" --data-urlencode "password=$3" "$url"
}
login 3 admin wrong >/dev/null
check_eq "through nginx the audit log has the client's address, not the proxy's nor what it claimed" \
  127.0.0.3 "$(last_failed)"
login 5 admin wrong direct >/dev/null
check_eq "straight from an untrusted peer its X-Forwarded-For is ignored" 127.0.0.5 "$(last_failed)"
login 3 admin wrong >/dev/null
login 3 admin wrong >/dev/null
check_eq "the login limit counts the forwarded client: 127.0.0.3 is held after 3 failures" 429 \
  "$(login 3 admin "$pw")"
check_eq "while 127.0.0.4, behind the same proxy, still logs in" 303 "$(login 4 admin "$pw")"
check_eq "its session records 127.0.0.4" 127.0.0.4 \
  "$(q "SELECT address FROM web_session ORDER BY expires_at DESC LIMIT 1")"

# cookie ADDR [direct]: the Set-Cookie line of a good login
cookie() {
  local url=$https/login
  [ "${2:-}" = direct ] && url=http://127.0.0.1:$wport/login
  cl "$1" -D - -o /dev/null -H "X-Forwarded-Proto: https" --data-urlencode username=admin \
    --data-urlencode "password=$pw" "$url" | grep -i '^set-cookie: updraft_session='
}
check "over https through nginx the session cookie is Secure" bash -c "[[ '$(cookie 6)' == *'; Secure'* ]]"
out=$(cookie 7 direct)
check "from an untrusted peer that claims https it is not" bash -c "[ -n '$out' ] && [[ '$out' != *Secure* ]]"

# --- the proxy is exempt from max_connections_per_address (2 here) ----------------------
for i in 1 2 3 4 5 6; do cl 8 -o /dev/null -w '%{http_code}\n' -u "admin:$pw" \
  "$https/ui/changes?after=$(jq -r .token "$tmp/changes.json")&wait_ms=2000" >>"$tmp/many" & done
wait_all() { [ "$(wc -l <"$tmp/many" 2>/dev/null)" = 6 ]; }
wait_for 15 wait_all
check_eq "six requests held open at once through the proxy all get 200" 6 "$(grep -c '^200$' "$tmp/many")"
