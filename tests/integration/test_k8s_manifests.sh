#!/usr/bin/env bash
# The Kubernetes manifests (deploy/k8s), the Dockerfile and the Compose
# file (deploy/docker), checked offline: no cluster and no image build
# happen here (docs/deploy-kubernetes.md says what was not run).
#
#   - every kustomize overlay (and the base) renders with `kubectl kustomize`
#     and tests/deploy/check.js finds, in the rendered objects: liveness and
#     readiness probes on /health for every daemon container, reaching the
#     port its --health-port listens on (on the pod's address); cpu and
#     memory requests and limits; runAsNonRoot, no privilege escalation, ALL
#     capabilities dropped, a read-only root filesystem; image tags that are
#     not `latest`; two schedulers in the base; a PodDisruptionBudget per
#     Deployment; secrets only by reference; the migration Job; the
#     NetworkPolicies; KEDA's ScaledObject on updraft's own stream name;
#   - the checks fail on manifests broken on purpose (one per kind of fault);
#   - the configuration file each overlay mounts is one updraft accepts, the
#     KEDA trigger's SQL runs against a migrated schema, and `updraft db
#     check` (what the init containers wait on) fails before the migration
#     and passes after it;
#   - the three daemons, started with their containers' commands and the
#     production overlay's configuration, answer the probes on a
#     non-loopback address and run a DAG from a folder laid out as the
#     kubelet mounts a ConfigMap;
#   - the Dockerfile's runtime stage installs the package of every library
#     the built binaries load (readelf), and its build stage the build
#     libraries of deploy/install-deps.sh;
#   - `docker-compose config` accepts the Compose file (and refuses it
#     without the fernet key), and the resolved file and the Dockerfile
#     pass their structural checks, which also fail on broken copies; the
#     init service's script, run twice on the test database, migrates,
#     creates admin once, and admin logs in with the password it was given.
#
# kubectl (Debian's kubernetes-client) and docker-compose come from
# deploy/install-deps.sh; where either is missing its checks say skip.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/services.sh
source tests/lib/assert.sh
source tests/lib/harness.sh
BIN=${UPDRAFT_BIN:-$PWD/bin}
KUBECTL=${KUBECTL:-kubectl}
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
CHECK=tests/deploy/check.js

if ! command -v node >/dev/null || ! node -e "require('js-yaml')" 2>/dev/null; then
  not_ok "the structural checks are installed" "node or js-yaml missing: run 'make deps' (Debian's nodejs, node-js-yaml)"
  exit 1
fi
t_setup

# checks LABEL EXPECT CMD...: runs a check.js command; with EXPECT pass each
# PASS/FAIL line becomes ok/not ok. With EXPECT "fail:PATTERN" the command
# must fail with PATTERN in a FAIL line (a fault the checks must catch).
checks() {
  local label=$1 expect=$2 out rc
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  if [ "$expect" = pass ]; then
    while IFS= read -r line; do
      case "$line" in
      PASS\ *) ok "${line#PASS }" ;;
      FAIL\ *) not_ok "${line#FAIL }" ;;
      *) echo "# $line" ;;
      esac
    done <<<"$out"
    [ "$rc" -eq 0 ] || grep -q '^FAIL ' <<<"$out" || not_ok "$label: check.js exited $rc"
  elif [ "$rc" -ne 0 ] && grep -q -- "^FAIL .*${expect#fail:}" <<<"$out"; then
    ok "$label"
  else
    not_ok "$label" "exit $rc, expected a FAIL line with '${expect#fail:}' in: $(tr '\n' '|' <<<"$out" | cut -c1-600)"
  fi
}

# mutate IN OUT JS: OUT is IN's YAML documents after the JavaScript JS ran
# on them (docs: the array; d(kind, name): one object; c(kind, name): its
# first container).
mutate() {
  node -e '
    const fs = require("fs"), yaml = require("js-yaml");
    const docs = yaml.loadAll(fs.readFileSync(process.argv[1], "utf8")).filter(Boolean);
    const d = (k, n) => docs.find((x) => x.kind === k && x.metadata.name === n);
    const c = (k, n) => d(k, n).spec.template.spec.containers[0];
    eval(process.argv[3]);
    fs.writeFileSync(process.argv[2], docs.map((x) => yaml.dump(x)).join("---\n"));
  ' "$1" "$2" "$3"
}

queue_prefix=$(sed -n 's/^#define QUEUE_STREAM_PREFIX "\(.*\)"$/\1/p' lib/core/queue.h)
check "the queue stream prefix is read from lib/core/queue.h" test -n "$queue_prefix"

# ---- Kubernetes ---------------------------------------------------------------
if ! command -v "$KUBECTL" >/dev/null 2>&1; then
  ok "kubernetes manifests # SKIP kubectl is not installed (bash deploy/install-deps.sh installs Debian's kubernetes-client)"
else
  echo "# $("$KUBECTL" version --client 2>/dev/null | head -1)"
  overlays=(base)
  for d in deploy/k8s/overlays/*/; do overlays+=("overlays/$(basename "$d")"); done
  check "there are dev, production and keda overlays" test "${#overlays[@]}" -ge 4
  for o in "${overlays[@]}"; do
    name=${o//\//-}
    if ! "$KUBECTL" kustomize "deploy/k8s/$o" >"$tmp/$name.yaml" 2>"$tmp/$name.err"; then
      not_ok "$o renders with kubectl kustomize" "$(head -5 "$tmp/$name.err")"
      continue
    fi
    ok "$o renders with kubectl kustomize"
    # The queue the workers serve, from the configuration they mount.
    queue=$(node -e '
      const yaml = require("js-yaml"), fs = require("fs");
      const cm = yaml.loadAll(fs.readFileSync(process.argv[1], "utf8")).find((x) => x && x.kind === "ConfigMap" && /^updraft-config/.test(x.metadata.name));
      const conf = yaml.load(cm.data["updraft.yaml"]);
      process.stdout.write(((conf.worker || {}).queues || "default").split(",")[0]);
      fs.writeFileSync(process.argv[2], cm.data["updraft.yaml"]);
    ' "$tmp/$name.yaml" "$tmp/$name.updraft.yaml")
    checks "$o" pass node "$CHECK" k8s "$tmp/$name.yaml" "$o" $([ "$o" = base ] && echo --base) --stream "$queue_prefix$queue"
    if "$BIN/updraft-webserver" --config "$tmp/$name.updraft.yaml" --print-config >/dev/null 2>"$tmp/$name.conf.err"; then
      ok "$o: updraft accepts the configuration it mounts"
    else
      not_ok "$o: updraft accepts the configuration it mounts" "$(head -3 "$tmp/$name.conf.err")"
    fi
  done

  # The same checks on copies broken on purpose: each fault is caught.
  P=$tmp/overlays-production.yaml
  W='c("Deployment", "updraft-worker")'
  mutate "$P" "$tmp/m1.yaml" "delete $W.livenessProbe"
  checks "a worker without a liveness probe is caught" "fail:no livenessProbe" node "$CHECK" k8s "$tmp/m1.yaml" m1
  mutate "$P" "$tmp/m2.yaml" 'c("Deployment", "updraft-scheduler").command = ["updraft-scheduler", "--health-port", "8974"]'
  checks "a --health-port on loopback is caught" "fail:loopback only" node "$CHECK" k8s "$tmp/m2.yaml" m2
  mutate "$P" "$tmp/m3.yaml" 'c("Deployment", "updraft-webserver").securityContext.runAsNonRoot = false'
  checks "runAsNonRoot false is caught" "fail:runAsNonRoot is not true" node "$CHECK" k8s "$tmp/m3.yaml" m3
  mutate "$P" "$tmp/m4.yaml" "$W.env[0] = {name: \"UPDRAFT__DATABASE__URL\", value: \"postgresql://u:pw@db/updraft\"}"
  checks "a literal database URL is caught" "fail:is not a secretKeyRef" node "$CHECK" k8s "$tmp/m4.yaml" m4
  mutate "$P" "$tmp/m5.yaml" "$W.image = \"registry.example.com/updraft:latest\""
  checks "an image tagged latest is caught" "fail:tagged latest" node "$CHECK" k8s "$tmp/m5.yaml" m5
  mutate "$P" "$tmp/m6.yaml" 'docs.splice(docs.indexOf(d("PodDisruptionBudget", "updraft-worker")), 1)'
  checks "a Deployment without a PDB is caught" "fail:no PDB for updraft-worker" node "$CHECK" k8s "$tmp/m6.yaml" m6
  mutate "$tmp/base.yaml" "$tmp/m7.yaml" 'd("Deployment", "updraft-scheduler").spec.replicas = 1'
  checks "one scheduler in the base is caught" "fail:base runs 2 schedulers" node "$CHECK" k8s "$tmp/m7.yaml" m7 --base
  mutate "$P" "$tmp/m8.yaml" 'd("NetworkPolicy", "updraft-webserver-ingress").spec.ingress[0].from = []'
  checks "webserver ingress from anywhere is caught" "fail:from anywhere" node "$CHECK" k8s "$tmp/m8.yaml" m8
  mutate "$P" "$tmp/m9.yaml" 'const cm = docs.find((x) => x.kind === "ConfigMap" && /^updraft-config/.test(x.metadata.name)); cm.data["updraft.yaml"] += "\ndatabase:\n  url: postgresql://u:pw@db/updraft\n"'
  checks "a database URL in the ConfigMap is caught" "fail:database.url in the ConfigMap" node "$CHECK" k8s "$tmp/m9.yaml" m9
  mutate "$P" "$tmp/m10.yaml" "$W.securityContext.allowPrivilegeEscalation = true"
  checks "privilege escalation is caught" "fail:allowPrivilegeEscalation is not false" node "$CHECK" k8s "$tmp/m10.yaml" m10
  mutate "$P" "$tmp/m11.yaml" "delete $W.resources.limits"
  checks "a container without limits is caught" "fail:no limits.cpu" node "$CHECK" k8s "$tmp/m11.yaml" m11
  if [ -f "$tmp/overlays-keda.yaml" ]; then
    mutate "$tmp/overlays-keda.yaml" "$tmp/m12.yaml" 'd("ScaledObject", "updraft-worker").spec.triggers.find((t) => t.type === "redis-streams").metadata.stream = "default"'
    checks "a ScaledObject on another stream is caught" "fail:expected ${queue_prefix}default" node "$CHECK" k8s "$tmp/m12.yaml" m12 --stream "${queue_prefix}default"
    mutate "$tmp/overlays-keda.yaml" "$tmp/m13.yaml" 'const cm = docs.find((x) => x.kind === "ConfigMap" && /^updraft-config/.test(x.metadata.name)); cm.data["updraft.yaml"] = cm.data["updraft.yaml"].replace(/concurrency: 16/, "concurrency: 8")'
    checks "KEDA triggers that no longer match worker.concurrency are caught" "fail:worker.concurrency 8" node "$CHECK" k8s "$tmp/m13.yaml" m13

    # The KEDA postgresql trigger's query against a migrated schema; what the
    # init containers wait on before and after the migration.
    node -e '
      const yaml = require("js-yaml"), fs = require("fs");
      const so = yaml.loadAll(fs.readFileSync(process.argv[1], "utf8")).find((x) => x && x.kind === "ScaledObject");
      process.stdout.write(so.spec.triggers.find((t) => t.type === "postgresql").metadata.query);
    ' "$tmp/overlays-keda.yaml" >"$tmp/keda.sql"
    if "$BIN/updraft" db check >"$tmp/dbcheck.out" 2>&1; then
      not_ok "updraft db check fails before the migration (the init containers wait)"
    else
      ok "updraft db check fails before the migration (the init containers wait)"
    fi
    check "db migrate" "$BIN/updraft" db migrate
    check "updraft db check passes after the migration" "$BIN/updraft" db check
    check_eq "the KEDA postgresql query runs on the schema (0 on an empty database)" 0 "$(q "$(cat "$tmp/keda.sql")" 2>&1)"

    # Each daemon as production runs it: its container's command, the
    # configuration its ConfigMap holds, and the kubelet's probe answered on
    # an address other than loopback (the pod's address, in a cluster). The
    # ports are free ones instead of 8974 and 8080. The DAG folder is laid
    # out as the kubelet mounts a ConfigMap: the files in a hidden dated
    # folder, `..data` linking to it, and one link per file through it.
    mkdir -p "$tmp/dags/..2026_01_01_00_00_00.000000001"
    cp deploy/k8s/base/dags/*.yaml "$tmp/dags/..2026_01_01_00_00_00.000000001/"
    ln -s ..2026_01_01_00_00_00.000000001 "$tmp/dags/..data"
    for f in deploy/k8s/base/dags/*.yaml; do ln -s "..data/${f##*/}" "$tmp/dags/${f##*/}"; done
    addr=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v '^127\.' | grep -v : | head -1)
    [ -n "$addr" ] || addr=127.0.0.1
    node -e '
      const yaml = require("js-yaml"), fs = require("fs");
      for (const d of yaml.loadAll(fs.readFileSync(process.argv[1], "utf8"))) {
        if (!d || d.kind !== "Deployment") continue;
        const c = d.spec.template.spec.containers[0];
        const port = (c.ports || []).find((p) => p.name === c.livenessProbe.httpGet.port || p.containerPort === c.livenessProbe.httpGet.port);
        console.log([d.metadata.name, port.containerPort, c.livenessProbe.httpGet.path, ...c.command].join("\t"));
      }
    ' "$tmp/overlays-production.yaml" >"$tmp/daemons.tsv"
    while IFS= read -r line; do
      IFS=$'\t' read -r -a f <<<"$line"
      name=${f[0]} cport=${f[1]} path=${f[2]}
      argv=("${f[@]:3}")
      port=$(svc_free_port)
      argv=("${argv[@]/#0.0.0.0:$cport/0.0.0.0:$port}")
      argv[0]=$BIN/${argv[0]}
      UPDRAFT_CONFIG=$tmp/overlays-production.updraft.yaml UPDRAFT__CORE__DAGS_FOLDER=$tmp/dags \
        UPDRAFT__WEBSERVER__LISTEN=0.0.0.0:$port UPDRAFT__WEBSERVER__AUTH=password \
        "${argv[@]}" >"$tmp/$name.log" 2>&1 &
      pids+=($!)
      [ "$name" = updraft-webserver ] && web_port=$port
      probe() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr:$1$2")" = 200 ]; }
      check "$name starts as production runs it and answers its probe on $addr ($path)" wait_for 30 probe "$port" "$path"
    done <"$tmp/daemons.tsv"
    check_eq "three daemons were started from the manifests" 3 "$(wc -l <"$tmp/daemons.tsv")"

    # Together they run a DAG: loaded once from the ConfigMap's layout (the
    # hidden folder is not read twice), no import error, and a run of it
    # succeeds on the worker, whose tasks write under its TMPDIR and HOME.
    dag_loaded() { [ "$(q "SELECT count(*) FROM dag WHERE dag_id = 'example_hello' AND is_active")" = 1 ]; }
    check "the DAG of the ConfigMap loads once" wait_for 60 dag_loaded
    check_eq "no import errors from the ConfigMap's layout" 0 "$(q "SELECT count(*) FROM import_error")"
    check "unpause example_hello" "$BIN/updraft" dags unpause example_hello
    check "trigger example_hello" "$BIN/updraft" dags trigger example_hello --run-id k8s1
    check "a run succeeds on the daemons started from the manifests" wait_run example_hello k8s1 90
    check_eq "its run is a success" success "$(run_state example_hello k8s1)"
  else
    not_ok "the keda overlay rendered"
  fi
fi

# ---- Containers ---------------------------------------------------------------
# The Debian packages of the shared libraries the binaries load, and the
# build libraries install-deps.sh installs (cmocka is for the tests only).
arch=$(uname -m)-linux-gnu
runtime_pkgs=$(for b in "$BIN"/updraft*; do readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done |
  sort -u | while read -r so; do dpkg -S "*/$arch/$so" 2>/dev/null | cut -d: -f1 | head -1; done | sort -u | paste -sd, -)
build_pkgs=$(sed -n -e 's/^pc [^ ]* \([^ ]*\)$/\1/p' -e 's|^file /usr/include/[^ ]* \([^ ]*\)$|\1|p' deploy/install-deps.sh |
  grep -v '^libcmocka-dev$' | sort -u | paste -sd, -)
echo "# the binaries load the libraries of: $runtime_pkgs"
check "the binaries' libraries map to Debian packages (libpq5 among them)" grep -q libpq5 <<<"$runtime_pkgs"
check "install-deps.sh names the build libraries (libpq-dev among them)" grep -q libpq-dev <<<"$build_pkgs"
checks "Dockerfile" pass node "$CHECK" dockerfile deploy/docker/Dockerfile --runtime-packages "$runtime_pkgs" --build-packages "$build_pkgs"
checks "a library the binaries load but the runtime stage lacks is caught" "fail:no libexample9" \
  node "$CHECK" dockerfile deploy/docker/Dockerfile --runtime-packages "$runtime_pkgs,libexample9"
checks "a build library install-deps.sh has but the build stage lacks is caught" "fail:no libexample-dev" \
  node "$CHECK" dockerfile deploy/docker/Dockerfile --build-packages "$build_pkgs,libexample-dev"
sed -e 's/^USER .*/USER root/' deploy/docker/Dockerfile >"$tmp/Dockerfile.root"
checks "a final stage running as root is caught" "fail:USER root" node "$CHECK" dockerfile "$tmp/Dockerfile.root"
sed -e '0,/^FROM debian:12-slim AS build/s//FROM debian AS build/' deploy/docker/Dockerfile >"$tmp/Dockerfile.untagged"
checks "an untagged FROM is caught" "fail:has no tag" node "$CHECK" dockerfile "$tmp/Dockerfile.untagged"
sed -e 's/libpq5 /libpq5 libpq-dev /' deploy/docker/Dockerfile >"$tmp/Dockerfile.dev"
checks "a -dev package in the runtime stage is caught" "fail:libpq-dev" node "$CHECK" dockerfile "$tmp/Dockerfile.dev"
ignored() { grep -qx -- "$1" .dockerignore; }
check ".dockerignore leaves out .git, build/ and bin/" eval 'ignored .git && ignored build/ && ignored bin/'

COMPOSE=deploy/docker/docker-compose.yaml
if ! command -v docker-compose >/dev/null 2>&1; then
  ok "docker-compose config # SKIP docker-compose is not installed (bash deploy/install-deps.sh installs it)"
else
  # docker-compose reads .env beside the file: an empty one decides here.
  : >"$tmp/empty.env"
  ( cd deploy/docker && env -u UPDRAFT_FERNET_KEY -u UPDRAFT_ADMIN_PASSWORD \
      docker-compose -f docker-compose.yaml --env-file "$tmp/empty.env" config ) >"$tmp/compose.none" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ] && grep -q UPDRAFT_FERNET_KEY "$tmp/compose.none"; then
    ok "docker-compose config refuses the file without UPDRAFT_FERNET_KEY"
  else
    not_ok "docker-compose config refuses the file without UPDRAFT_FERNET_KEY" "exit $rc: $(head -3 "$tmp/compose.none")"
  fi
  if ( cd deploy/docker && UPDRAFT_FERNET_KEY=$(openssl rand -base64 32) UPDRAFT_ADMIN_PASSWORD=pw-$RANDOM \
      docker-compose -f docker-compose.yaml --env-file "$tmp/empty.env" config ) >"$tmp/compose.yaml" 2>"$tmp/compose.err"; then
    ok "docker-compose config accepts the file"
    checks "compose" pass node "$CHECK" compose "$tmp/compose.yaml"
    # The init service's script, as the container's sh would run it (the
    # Compose file's $$ is a $), on this test's database: it migrates and
    # creates admin the first time, and leaves admin alone the second.
    node -e '
      const yaml = require("js-yaml"), fs = require("fs");
      const c = yaml.load(fs.readFileSync(process.argv[1], "utf8")).services["updraft-init"].command;
      fs.writeFileSync(process.argv[2], c[c.length - 1].replace(/\$\$/g, "$"));
    ' "$tmp/compose.yaml" "$tmp/init.sh"
    init_pw=Init-$RANDOM-pw
    run_init() { PATH=$BIN:$PATH UPDRAFT_ADMIN_PASSWORD=$init_pw sh "$tmp/init.sh" >"$tmp/init.$1.out" 2>&1; }
    check "compose's init script runs (migrate, create admin)" run_init 1
    check "compose's init script runs again (admin exists)" run_init 2
    check "the second run leaves admin as it is" grep -q "user admin exists" "$tmp/init.2.out"
    check_eq "one admin with the role Admin" 1 "$(q "SELECT count(*) FROM ab_user WHERE username = 'admin' AND 'Admin' = ANY(roles)" 2>&1)"
    if [ -n "${web_port:-}" ]; then
      login() { [ "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$init_pw" "http://127.0.0.1:$web_port/api/v1/dags")" = 200 ]; }
      check "admin logs in with the password the init script was given" login
    fi
    mutate "$tmp/compose.yaml" "$tmp/compose.m1" 'docs[0].services["updraft-worker"].container_name = "w"'
    checks "a worker with a fixed name (not scalable) is caught" "fail:container_name set" node "$CHECK" compose "$tmp/compose.m1"
    mutate "$tmp/compose.yaml" "$tmp/compose.m2" 'docs[0].services["updraft-scheduler"].depends_on = ["postgres"]'
    checks "depends_on without conditions is caught" "fail:without conditions" node "$CHECK" compose "$tmp/compose.m2"
    mutate "$tmp/compose.yaml" "$tmp/compose.m3" 'delete docs[0].services["updraft-worker"].healthcheck'
    checks "a service without a health check is caught" "fail:updraft-worker: no health check" node "$CHECK" compose "$tmp/compose.m3"
  else
    not_ok "docker-compose config accepts the file" "$(head -5 "$tmp/compose.err")"
  fi
fi
[ "$T_FAILED" -eq 0 ]
