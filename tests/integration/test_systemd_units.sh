#!/usr/bin/env bash
# deploy/systemd: every unit passes `systemd-analyze verify` (offline: it
# needs no systemd as PID 1, only the unit files and their ExecStart
# binaries, which point at the built ones here), keeps the settings the
# deployment relies on (Type=notify with a watchdog, the updraft user, the
# hardening, the secrets file), accepts its own command line, and the
# sysusers snippet creates the user. The units are not started here: that
# needs systemd as PID 1 (docs/deploy.md says so).
set -u
cd "$(dirname "$0")/../.."
source tests/lib/assert.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "ok 1 # skip systemd-analyze is not installed (package systemd; make deps installs it)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
units=(updraft-scheduler.service updraft-webserver.service updraft-worker@.service)

# The units as installed, with the binaries and the settings file of this
# checkout in place of /usr/local/bin and /etc/updraft/updraft.yaml.
mkdir -p "$tmp/units"
for u in "${units[@]}"; do
  sed -e "s|/usr/local/bin/|$BIN/|g" -e "s|/etc/updraft/updraft.yaml|$PWD/deploy/updraft.yaml.example|g" \
    "deploy/systemd/$u" >"$tmp/units/$u"
done

# verify UNIT...: exit status 0 and nothing said (it only warns about
# unknown keys and bad values, and still exits 0)
verify() { (cd "$tmp/units" && systemd-analyze verify "$@") >"$tmp/verify.out" 2>&1 && [ ! -s "$tmp/verify.out" ]; }
for u in updraft-scheduler.service updraft-webserver.service updraft-worker@etl.service; do
  if verify "$u"; then ok "systemd-analyze verify $u"; else
    not_ok "systemd-analyze verify $u" "$(tr '\n' ' ' <"$tmp/verify.out")"; fi
done
# the check itself can fail: a misspelt key and a missing binary are caught
sed -e 's/^WatchdogSec=/WatchdogSecs=/' "$tmp/units/updraft-scheduler.service" >"$tmp/units/broken-a.service"
sed -e "s|$BIN/updraft-webserver|$BIN/updraft-nonexistent|" "$tmp/units/updraft-webserver.service" \
  >"$tmp/units/broken-b.service"
out=$(cd "$tmp/units" && systemd-analyze verify broken-a.service 2>&1)
check "verify reports a misspelt key" grep -q "Unknown key 'WatchdogSecs'" <<<"$out"
check "verify fails on a missing binary" bash -c "! (cd '$tmp/units' && systemd-analyze verify broken-b.service) >/dev/null 2>&1"
rm -f "$tmp/units"/broken-*.service

# key UNIT KEY VALUE: the unit sets KEY=VALUE
key() { grep -qx "$2=$3" "deploy/systemd/$1"; }
for u in "${units[@]}"; do
  for kv in Type=notify NotifyAccess=main WatchdogSec=60s Restart=on-failure User=updraft \
    NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    EnvironmentFile=/etc/updraft/updraft.env; do
    check "$u sets $kv" key "$u" "${kv%%=*}" "${kv#*=}"
  done
  check "$u limits its restarts" grep -q '^StartLimitBurst=' "deploy/systemd/$u"
done
check "the worker template reads its instance's environment file" \
  key updraft-worker@.service EnvironmentFile -/etc/updraft/worker-%i.env
check "the worker template writes only its instance's state directory" \
  bash -c "grep -qx 'StateDirectory=updraft/worker-%i' deploy/systemd/updraft-worker@.service && ! grep -q '^ReadWritePaths=' deploy/systemd/updraft-worker@.service"
check "a stop signals the worker alone, which lets its tasks finish (KillMode=mixed)" \
  key updraft-worker@.service KillMode mixed
check "the scheduler and the webserver write nowhere" \
  bash -c "! grep -q '^ReadWritePaths=\|^StateDirectory=' deploy/systemd/updraft-scheduler.service deploy/systemd/updraft-webserver.service"

# Each ExecStart's command line is accepted by its program (--print-config
# parses it and the settings file, then exits).
for u in "${units[@]}"; do
  cmd=$(sed -n 's/^ExecStart=//p' "$tmp/units/$u")
  # shellcheck disable=SC2086
  if env -u UPDRAFT__DATABASE__URL $cmd --print-config >"$tmp/cmd.out" 2>&1; then
    ok "$u: its ExecStart command line is accepted"
  else
    not_ok "$u: its ExecStart command line is accepted" "$cmd: $(head -3 "$tmp/cmd.out" | tr '\n' ' ')"
  fi
done

# The exposure systemd-analyze computes (0 best, 10 worst), for the record
# and as a floor the units must not fall below.
for u in "${units[@]}"; do
  score=$( (cd "$tmp/units" && systemd-analyze security --offline=yes "$u" 2>/dev/null) |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "# $u exposure $score"
  limit=2.0
  [ "$u" = updraft-worker@.service ] && limit=6.5 # tasks are arbitrary programs
  check "$u: exposure $score at most $limit" awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s != "" && s <= l) }'
done

# The sysusers snippet creates the user and group the units run as.
if command -v systemd-sysusers >/dev/null 2>&1; then
  mkdir -p "$tmp/root/etc"
  systemd-sysusers --root="$tmp/root" "$PWD/deploy/systemd/updraft.sysusers.conf" >/dev/null 2>&1
  check "sysusers creates the updraft user, home /var/lib/updraft, no login" \
    grep -q '^updraft:x:[0-9]*:[0-9]*:.*:/var/lib/updraft:/usr/sbin/nologin$' "$tmp/root/etc/passwd"
  check "and its group" grep -q '^updraft:x:' "$tmp/root/etc/group"
else
  echo "ok $((T_N + 1)) # skip systemd-sysusers is not installed"
fi
