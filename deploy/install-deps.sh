#!/usr/bin/env bash
# Installs what updraft needs to build, test and run standalone on Debian 12.
# Idempotent: it asks pkg-config and `command -v` first and calls apt-get
# only for what is missing. Needs root (or sudo) only when something is.
set -euo pipefail

need=()
pc() { pkg-config --exists "$1" 2>/dev/null || need+=("$2"); }
cmd() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
file() { [ -e "$1" ] || need+=("$2"); }
# Python modules for the Celery comparison benchmark, from Debian (not pip).
pymod() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import $1" 2>/dev/null || need+=("$2"); }

# Tasks run with `bash -c` (worker/executor.h), as Airflow's BashOperator:
# essential on Debian, listed for a base that lacks it.
cmd bash bash
cmd cc gcc
# gcc without its recommends leaves out the C library's headers.
file /usr/include/stdio.h libc6-dev
cmd make make
cmd pkg-config pkg-config
pc hiredis libhiredis-dev
pc libpq libpq-dev
pc libcyaml libcyaml-dev
pc yaml-0.1 libyaml-dev
pc libcurl libcurl4-openssl-dev
pc libcjson libcjson-dev
file /usr/include/civetweb.h libcivetweb-dev
pc cmocka libcmocka-dev
pc libxcrypt libcrypt-dev
pc openssl libssl-dev
# sd_notify (Type=notify units, the watchdog: deploy/systemd).
pc libsystemd libsystemd-dev
# gzip of the JSON answers (webserver/http.c).
pc zlib zlib1g-dev
cmd redis-server redis-server
cmd redis-cli redis-tools
cmd curl curl
cmd jq jq
cmd python3 python3
cmd runuser util-linux
cmd wrk wrk
# The OpenAPI response check (tests/openapi) runs on Node.js with Debian's
# packaged ajv 6 and js-yaml 4 (no package registry needed, versions fixed by
# the release).
cmd node nodejs
file /usr/share/nodejs/ajv/package.json node-ajv
file /usr/share/nodejs/js-yaml/package.json node-js-yaml
# The deployment files' test (integration/test_k8s_manifests.sh) renders the
# Kubernetes manifests offline with kubectl's kustomize (any kubectl will do;
# Debian's is kubernetes-client) and validates the Compose file with
# Debian's docker-compose (16 small Python packages, no Docker engine).
cmd kubectl kubernetes-client
cmd docker-compose docker-compose
# The web UI is bundled at build time by esbuild from Debian's packaged
# front-end libraries (no package registry; nothing of them runs on the server).
cmd esbuild esbuild
file /usr/share/nodejs/dagre/package.json node-dagre-layout
file /usr/share/nodejs/marked/package.json node-marked
file /usr/share/nodejs/dompurify/package.json node-dompurify
file /usr/share/nodejs/diff/package.json node-diff
file /usr/share/javascript/chart.js/chart.esm.js libjs-chart.js
# The browser tests (tests/ui, integration/test_ui.sh) drive Debian's
# Chromium headless over the DevTools protocol; without a font its pages
# render no text.
cmd chromium chromium
file /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core
# What the test scripts call besides the above: pgrep/pkill/ps, ip (the
# multi-host test's network namespaces) and clang-format for the
# tree checks.
cmd pgrep procps
cmd ip iproute2
cmd clang-format clang-format
# The PgBouncer test (tests/integration/test_pooler.sh, UPDRAFT_TEST_POOLER)
# runs its own pgbouncer on a free loopback port; the package's own service
# is not used.
file /usr/sbin/pgbouncer pgbouncer
file /usr/share/zoneinfo/UTC tzdata
# The deployment tests: systemd-analyze verify of deploy/systemd's units,
# socat as the service manager's notify socket (test_notify.sh), nginx with
# a certificate openssl makes in front of the webserver (test_tls_proxy.sh).
cmd systemd-analyze systemd
cmd socat socat
cmd openssl openssl
file /usr/sbin/nginx nginx-light
# `promtool check metrics` checks what GET /metrics answers (docs/metrics.md;
# tests/unit/test_metrics.c, integration/test_metrics.sh), and the end-to-end
# metrics test (integration/test_prometheus.sh) runs Debian's prometheus on a
# free loopback port (the package's own service is not used).
cmd promtool prometheus
file /usr/bin/prometheus prometheus
pymod celery python3-celery
pymod redis python3-redis
# The BullMQ comparison (tests/bench/bullmq) runs on Node.js; npm installs
# the exact versions of its package-lock.json into build/bench/bullmq, once.
cmd npm npm
# The Postgres server binaries (initdb, pg_ctl, postgres) live outside PATH on Debian.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi

if [ "${#need[@]}" -eq 0 ]; then
  echo "install-deps: nothing missing"
  exit 0
fi

# De-duplicate.
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "install-deps: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts packaged daemons on install; updraft runs its own private
# instances, so leave any system-wide ones alone but never depend on them.
echo "install-deps: done"
