#!/usr/bin/env bash
# The webserver's HTTP surface against a hostile client (docs/security.md,
# "HTTP hardening"), one check per defect it once had:
#   - slow sockets: 45 idle, slow-header and slow-body connections from one
#     address hold at most that address's share of the worker threads, so
#     /health still answers another address at once; a trickled body is
#     cut at the request timeout; the API answers again afterwards;
#   - cross-site and rebinding requests: a JSON body needs its Content-Type,
#     a Host that is not this server's is refused, so is a state change
#     from a foreign Origin, and no CORS grant is given;
#   - requests that should be refused: two Content-Lengths, Content-Length
#     with Transfer-Encoding, application/json-evil, a NUL escaped in a JSON
#     string, a year-0 date, and civetweb's own errors as problem bodies.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

t_setup
quiet() { "$@" >/dev/null 2>&1; }

mkdir -p "$tmp/dags"
cat >"$tmp/dags/h.yaml" <<'EOF'
h:
  tasks:
    - task_id: t
      operator: bash
      bash_command: 'true'
EOF
export UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags
export UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL=1
port=$(svc_free_port)
export UPDRAFT__WEBSERVER__LISTEN=127.0.0.1:$port
export UPDRAFT__WEBSERVER__BASE_URL=http://127.0.0.1:$port
export UPDRAFT__WEBSERVER__ALLOWED_HOSTS=api.example.test
export UPDRAFT__WEBSERVER__REQUEST_TIMEOUT_MS=3000
base=http://127.0.0.1:$port
api=$base/api/v1

check "db migrate" quiet "$BIN/updraft" db migrate
start_scheduler scheduler
start_webserver webserver
check "webserver answers" wait_for 10 curl -sf "$base/health"
check "the DAG is loaded" wait_for 20 json_ok "$api/dags" '[.dags[].dag_id] | index("h")'

# raw REQUEST: sends REQUEST (printf escapes) on its own connection and
# prints "STATUS CONTENT-TYPE" of the answer (000 when there is none).
cat >"$tmp/raw.py" <<'EOF'
import socket, sys
port, data = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    s.sendall(data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError:
    pass
head = out.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
status = head[0].split(" ")[1] if head[0].startswith("HTTP/") else "000"
ctype = next((h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("content-type:")), "-")
print(status, ctype)
EOF
raw() { python3 "$tmp/raw.py" "$port" "$1"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
var_exists() { [ "$(q "SELECT count(*) FROM variable WHERE key = '$1'")" = 1 ]; }
JSON=(-H 'Content-Type: application/json')

# ---- slow sockets -------------------------------------------------------------------
# hold.py MODE N SECONDS: N connections from 127.0.0.2, held SECONDS, then
# closed; "held" is written to $tmp/held once they are all open. MODE idle
# sends nothing, header sends a header line a second and never ends the
# head, body sends a whole head then one byte of its body a second.
cat >"$tmp/hold.py" <<'EOF'
import socket, sys, time
port, mode, n, secs, flag = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
head = {"idle": b"", "header": b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        "body": b"POST /api/v1/variables HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"}[mode]
socks = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(head)
    except OSError:
        pass
    socks.append(s)
open(flag, "w").write("held")
end = time.time() + secs
while time.time() < end:
    for s in socks:
        try:
            s.send(b"X-Slow: 1\r\n" if mode == "header" else b" " if mode == "body" else b"")
        except OSError:
            pass
    time.sleep(1)
EOF
for mode in idle header body; do
  rm -f "$tmp/held"
  python3 "$tmp/hold.py" "$port" "$mode" 45 6 "$tmp/held" &
  holder=$!
  wait_for 10 test -f "$tmp/held"
  sleep 0.5
  check_eq "while 45 $mode sockets of one address are held, /health answers another address within 2 s" 200 \
    "$(code -m 2 "$base/health")"
  # Refused means answered 429 or cut off at once (curl: empty reply 52,
  # reset 56), not left waiting (28).
  got=$(curl -s -o /dev/null -m 2 -w '%{http_code}' --interface 127.0.0.2 "$base/health")
  rc=$?
  case $got:$rc in 429:0 | 000:52 | 000:56) ok "the holding address is refused at once beyond its share ($mode: $got, curl $rc)" ;;
  *) not_ok "the holding address is refused at once beyond its share ($mode)" "got $got, curl exit $rc" ;; esac
  wait "$holder"
done
check "the API answers the holding address again once it lets go" \
  wait_for 5 test "$(code --interface 127.0.0.2 "$api/variables")" = 200

# One byte a second of a 1000-byte body: cut at the request timeout (3 s here).
start=$(date +%s)
res=$(python3 - "$port" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /api/v1/variables HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          b"Content-Length: 1000\r\n\r\n{")
s.settimeout(0.05)
out = b""
for i in range(60):
    try:
        s.send(b" ")
        b = s.recv(4096)
        if not b:
            break
        out += b
    except socket.timeout:
        pass
    except OSError:
        break
    time.sleep(0.5)
print(out.split(b"\r\n")[0].decode("latin-1") or "closed")
EOF
)
took=$(($(date +%s) - start))
if [ "$took" -le 8 ] && [[ $res == *" 408 "* || $res == closed ]]; then
  ok "a body trickled a byte at a time is cut at the request timeout ($res after ${took}s)"
else
  not_ok "a body trickled a byte at a time is cut at the request timeout" "$res after ${took}s"
fi

# ---- cross-site and rebinding requests -------------------------------------------------
check_eq "a JSON body without Content-Type is refused (415)" 415 \
  "$(code -H 'Content-Type:' --data-binary '{"key":"noct","value":"v"}' "$api/variables")"
if var_exists noct; then not_ok "and nothing was created"; else ok "and nothing was created"; fi
check_eq "a foreign Host (DNS rebinding) is refused (400)" 400 "$(code -H 'Host: evil.example:80' "$api/variables")"
check_eq "a Host that is only a suffix of an allowed one is refused (400)" 400 \
  "$(code -H 'Host: 127.0.0.1.evil.example' "$api/variables")"
check_eq "Host localhost is accepted on a loopback listener" 200 "$(code -H "Host: localhost:$port" "$api/variables")"
check_eq "Host of webserver.allowed_hosts is accepted" 200 "$(code -H 'Host: api.example.test' "$api/variables")"
check_eq "a state change from a foreign Origin is refused (403)" 403 \
  "$(code "${JSON[@]}" -H 'Origin: http://evil.example' -d '{"key":"xorigin","value":"v"}' "$api/variables")"
if var_exists xorigin; then not_ok "and nothing was created (cross-origin)"; else ok "and nothing was created (cross-origin)"; fi
check_eq "a state change from base_url's own Origin is accepted" 200 \
  "$(code "${JSON[@]}" -H "Origin: $base" -d '{"key":"sameorigin","value":"v"}' "$api/variables")"
check_eq "a read from a foreign Origin is answered (GET changes nothing)" 200 \
  "$(code -H 'Origin: http://evil.example' "$api/variables")"
pre=$(curl -s -D - -o /dev/null -X OPTIONS -H 'Origin: http://evil.example' \
  -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: content-type' "$api/variables")
if grep -qi '^access-control-allow' <<<"$pre"; then
  not_ok "a cross-origin preflight is granted nothing (no Access-Control-Allow-*)" "$(grep -i '^access-control' <<<"$pre" | tr -d '\r' | tr '\n' ' ')"
else ok "a cross-origin preflight is granted nothing (no Access-Control-Allow-*)"; fi

# ---- requests that should be refused ---------------------------------------------------------
B1='{"key":"smuggle1","value":"v"}' B2='{"key":"smuggle2","value":"v"}'
check_eq "two Content-Length headers are refused (400)" "400 application/problem+json" \
  "$(raw "POST /api/v1/variables HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${#B1}\r\nContent-Length: 5\r\n\r\n$B1")"
check_eq "Content-Length with Transfer-Encoding is refused (400)" "400 application/problem+json" \
  "$(raw "POST /api/v1/variables HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${#B2}\r\nTransfer-Encoding: chunked\r\n\r\n$(printf %x ${#B2})\r\n$B2\r\n0\r\n\r\n")"
if var_exists smuggle1 || var_exists smuggle2; then not_ok "and neither smuggled a variable in"; else ok "and neither smuggled a variable in"; fi
check_eq "application/json-evil is not JSON (415)" 415 \
  "$(code -H 'Content-Type: application/json-evil' -d '{"key":"evil","value":"v"}' "$api/variables")"
check_eq "application/json; charset=utf-8 is JSON" 200 \
  "$(code -H 'Content-Type: application/json; charset=utf-8' -d '{"key":"charset","value":"v"}' "$api/variables")"
check_eq "a run id with an escaped NUL is refused (400), not cut short" 400 \
  "$(code "${JSON[@]}" -d '{"dag_run_id":"nul\u0000tail"}' "$api/dags/h/dagRuns")"
check_eq "and no run was made of what comes before the NUL" 0 "$(q "SELECT count(*) FROM dag_run WHERE run_id LIKE 'nul%'")"
check_eq "a NUL escaped in any string is refused too (a variable's value, 400)" 400 \
  "$(code "${JSON[@]}" -d '{"key":"nulval","value":"a\u0000b"}' "$api/variables")"
check_eq "logical_date 0000-01-01 is refused (400), not a 500" 400 \
  "$(code "${JSON[@]}" -d '{"dag_run_id":"year0","logical_date":"0000-01-01T00:00:00+00:00"}' "$api/dags/h/dagRuns")"
check_eq "a year-0 date in a query is refused (400)" 400 \
  "$(code "$api/dags/h/dagRuns?execution_date_gte=0000-01-01T00:00:00Z")"
check_eq "the earliest date (0001-01-01) is still taken" 200 \
  "$(code "${JSON[@]}" -d '{"dag_run_id":"year1","logical_date":"0001-01-01T00:00:00+00:00"}' "$api/dags/h/dagRuns")"
check_eq "an unsupported HTTP version is a JSON problem (505)" "505 application/problem+json" \
  "$(raw 'GET /health HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n')"
check_eq "an unknown method is a JSON problem (400)" "400 application/problem+json" \
  "$(raw 'FOO /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')"
check_eq "an unreadable Content-Length is a JSON problem (411)" "411 application/problem+json" \
  "$(raw 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n')"
check_eq "a header line without a colon is a JSON problem (400)" "400 application/problem+json" \
  "$(raw 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n')"

check "the server is still up" curl -sf -o /dev/null "$base/health"

echo "# $T_N checks, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
