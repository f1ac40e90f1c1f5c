# A StatsD receiver for the integration tests (python3, which every
# machine the tests run on has).
#
#   sd_listen FILE    receives UDP datagrams on a free loopback port (in
#                     $SD_PORT once it returns) and appends each StatsD line
#                     to FILE as "SOURCE_PORT LINE": the source port tells
#                     the sending processes apart. The receiver's pid is in
#                     pids (stopped at exit).
#   sd_sum FILE ERE [PORTS]
#                     the sum of the values of the counter lines (|c) whose
#                     name matches the extended regular expression ERE
#                     (anchored at both ends), only from the source ports
#                     listed in PORTS (space-separated) when given
#   sd_timers FILE ERE
#                     the values of the timer lines (|ms) whose name matches
#                     ERE, one a line
#   sd_ports FILE ERE the source ports that sent a line whose name matches ERE
sd_listen() {
  local out=$1 portfile
  portfile=$(mktemp "$tmp/sdport.XXXXXX")
  : >"$out"
  python3 -u - "$out" "$portfile" <<'EOF' &
import socket, sys
out, portfile = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("127.0.0.1", 0))
with open(portfile, "w") as f:
    f.write(str(s.getsockname()[1]))
with open(out, "a") as f:
    while True:
        data, addr = s.recvfrom(65536)
        for line in data.decode("utf-8", "replace").split("\n"):
            if line:
                f.write("%d %s\n" % (addr[1], line))
        f.flush()
EOF
  pids+=($!)
  SD_PORT=
  for _ in $(seq 1 100); do
    SD_PORT=$(cat "$portfile" 2>/dev/null)
    [ -n "$SD_PORT" ] && break
    sleep 0.05
  done
  [ -n "$SD_PORT" ]
}

# name:value|type[|@rate][|#tags] -> the name, value and type of each line
sd_fields() { awk '{ split($2, a, "|"); n = a[1]; sub(/:[^:]*$/, "", n); v = a[1]; sub(/^.*:/, "", v);
                     print $1, n, v, a[2] }' "$1"; }

sd_sum() {
  sd_fields "$1" | awk -v re="^($2)\$" -v ports=" ${3:-} " '
    $4 == "c" && $2 ~ re && (ports == "  " || index(ports, " " $1 " ")) { s += $3 }
    END { printf "%d\n", s }'
}

sd_timers() { sd_fields "$1" | awk -v re="^($2)\$" '$4 == "ms" && $2 ~ re { print $3 }'; }

sd_ports() { sd_fields "$1" | awk -v re="^($2)\$" '$2 ~ re { print $1 }' | sort -un | paste -sd' '; }
