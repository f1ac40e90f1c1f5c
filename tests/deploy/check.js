// Structural checks of the deployment files, for
// tests/integration/test_k8s_manifests.sh. Each check prints one line,
// "PASS <name>" or "FAIL <name>: <why>"; the script turns them into TAP.
//
//   node check.js k8s RENDERED.yaml LABEL [--base] [--stream NAME]
//       the output of `kubectl kustomize` for one overlay
//   node check.js compose RESOLVED.yaml
//       the output of `docker-compose config`
//   node check.js dockerfile Dockerfile [--runtime-packages a,b] [--build-packages c,d]
//
// Debian's node-js-yaml (NODE_PATH=/usr/share/nodejs).
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');

let failed = 0;
function pass(name) { console.log(`PASS ${name}`); }
function fail(name, why) { failed++; console.log(`FAIL ${name}: ${why}`); }
// check(name, problems): one line for a list of problems found.
function check(name, problems) {
  if (problems.length === 0) pass(name);
  else fail(name, problems.slice(0, 6).join('; ') + (problems.length > 6 ? `; ... (${problems.length})` : ''));
}

// Environment variables that carry a secret, by name.
const SECRET_ENV = /^(UPDRAFT__DATABASE__URL|UPDRAFT__REDIS__URL|UPDRAFT__CORE__FERNET_KEY)$|PASSWORD|SECRET|TOKEN|FERNET|_KEY$/;

function imageProblems(where, image) {
  if (!image) return [`${where}: no image`];
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  if (colon <= slash && !image.includes('@')) return [`${where}: image ${image} has no tag`];
  if (colon > slash && noDigest.slice(colon + 1) === 'latest') return [`${where}: image ${image} is tagged latest`];
  return [];
}

function checkK8s(file, label, opts) {
  const docs = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter((d) => d && d.kind);
  const byKind = (k) => docs.filter((d) => d.kind === k);
  const workloads = docs.filter((d) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(d.kind));
  const deployments = byKind('Deployment');
  const L = (n) => `${label}: ${n}`;
  check(L('renders Deployments, a Job, PDBs and NetworkPolicies'),
    [['Deployment', 3], ['Job', 1], ['PodDisruptionBudget', 3], ['NetworkPolicy', 1], ['ConfigMap', 1], ['Service', 1]]
      .filter(([k, n]) => byKind(k).length < n).map(([k, n]) => `fewer than ${n} ${k}`));

  const probes = [], limits = [], nonroot = [], escal = [], caps = [], rofs = [], images = [], healthPort = [];
  for (const w of workloads) {
    const pod = w.spec.template.spec;
    const podSc = pod.securityContext || {};
    const all = [...(pod.initContainers || []).map((c) => [c, true]), ...(pod.containers || []).map((c) => [c, false])];
    for (const [c, init] of all) {
      const where = `${w.kind}/${w.metadata.name}/${c.name}`;
      const sc = c.securityContext || {};
      // A Job runs to completion and init containers may not have probes.
      if (!init && w.kind !== 'Job') {
        for (const p of ['livenessProbe', 'readinessProbe']) {
          const pr = c[p];
          if (!pr) { probes.push(`${where}: no ${p}`); continue; }
          if (pr.httpGet && pr.httpGet.path !== '/health') probes.push(`${where}: ${p} on ${pr.httpGet.path}, not /health`);
          // The probe's port is one the container declares...
          const port = pr.httpGet ? pr.httpGet.port : null;
          const cp = (c.ports || []).find((x) => x.name === port || x.containerPort === port);
          if (pr.httpGet && !cp) probes.push(`${where}: ${p} port ${port} is not a container port`);
          // ...and the daemon's --health-port listens on it, on every
          // address (a bare port is loopback, which the kubelet cannot reach).
          const args = [...(c.command || []), ...(c.args || [])];
          const i = args.findIndex((a) => a === '--health-port' || a.startsWith('--health-port='));
          if (i >= 0 && cp) {
            const v = args[i] === '--health-port' ? args[i + 1] : args[i].slice(14);
            const m = /^(?:(.*):)?(\d+)$/.exec(v || '');
            if (!m || !m[1] || /^(127\.|localhost|\[?::1)/.test(m[1])) healthPort.push(`${where}: --health-port ${v} is loopback only`);
            else if (Number(m[2]) !== cp.containerPort) healthPort.push(`${where}: --health-port ${v} but the probe is on ${cp.containerPort}`);
          } else if (i < 0 && /updraft-(scheduler|worker)/.test(args.join(' '))) {
            healthPort.push(`${where}: no --health-port`);
          }
        }
      }
      const r = c.resources || {};
      for (const k of ['requests', 'limits']) for (const q of ['cpu', 'memory']) {
        if (!r[k] || r[k][q] === undefined) limits.push(`${where}: no ${k}.${q}`);
      }
      const runAsNonRoot = sc.runAsNonRoot !== undefined ? sc.runAsNonRoot : podSc.runAsNonRoot;
      if (runAsNonRoot !== true) nonroot.push(`${where}: runAsNonRoot is not true`);
      const uid = sc.runAsUser !== undefined ? sc.runAsUser : podSc.runAsUser;
      if (uid === 0) nonroot.push(`${where}: runAsUser 0`);
      if (sc.allowPrivilegeEscalation !== false) escal.push(`${where}: allowPrivilegeEscalation is not false`);
      if (sc.privileged) escal.push(`${where}: privileged`);
      const drop = ((sc.capabilities || {}).drop || []);
      if (!drop.includes('ALL')) caps.push(`${where}: capabilities do not drop ALL`);
      if ((sc.capabilities || {}).add) caps.push(`${where}: adds capabilities`);
      if (sc.readOnlyRootFilesystem !== true) rofs.push(`${where}: root filesystem writable`);
      images.push(...imageProblems(where, c.image));
    }
  }
  check(L('every daemon container has liveness and readiness probes on /health'), probes);
  check(L('the probes reach --health-port (on the pod address, the probed port)'), healthPort);
  check(L('every container has cpu and memory requests and limits'), limits);
  check(L('every container runs as non-root'), nonroot);
  check(L('no container may escalate privileges'), escal);
  check(L('every container drops ALL capabilities'), caps);
  check(L('every root filesystem is read-only'), rofs);
  check(L('every image has a tag, not latest'), images);

  // Schedulers: 2 in the base (HA), at least 1 anywhere.
  const sched = deployments.find((d) => d.metadata.labels && d.metadata.labels['app.kubernetes.io/component'] === 'scheduler');
  if (!sched) fail(L('a scheduler Deployment'), 'none');
  else if (opts.base) check(L('the base runs 2 schedulers'), sched.spec.replicas === 2 ? [] : [`replicas ${sched.spec.replicas}`]);
  else check(L('at least one scheduler'), sched.spec.replicas >= 1 ? [] : [`replicas ${sched.spec.replicas}`]);

  // A PDB whose selector picks each Deployment's pods.
  const pdbs = byKind('PodDisruptionBudget');
  const matches = (sel, labels) => sel && sel.matchLabels && Object.entries(sel.matchLabels).every(([k, v]) => labels[k] === v);
  check(L('a PodDisruptionBudget covers each Deployment'), deployments
    .filter((d) => !pdbs.some((p) => matches(p.spec.selector, d.spec.template.metadata.labels)))
    .map((d) => `no PDB for ${d.metadata.name}`));
  check(L('no PDB blocks every eviction'), pdbs
    .filter((p) => p.spec.maxUnavailable === 0 || p.spec.maxUnavailable === '0%')
    .map((p) => `${p.metadata.name}: maxUnavailable 0`));

  // Secrets by reference only: no Secret object, secret-named variables from
  // secretKeyRef, no secret key in the configuration file.
  const lit = [];
  for (const s of byKind('Secret')) lit.push(`a Secret ${s.metadata.name} is rendered with its values`);
  for (const w of workloads) {
    const pod = w.spec.template.spec;
    for (const c of [...(pod.initContainers || []), ...(pod.containers || [])]) {
      for (const e of c.env || []) {
        if (SECRET_ENV.test(e.name) && (e.value !== undefined || !(e.valueFrom && e.valueFrom.secretKeyRef)))
          lit.push(`${w.metadata.name}/${c.name}: ${e.name} is not a secretKeyRef`);
      }
      for (const ef of c.envFrom || []) if (ef.configMapRef) lit.push(`${w.metadata.name}/${c.name}: envFrom a ConfigMap`);
    }
  }
  for (const cm of byKind('ConfigMap')) {
    for (const [k, v] of Object.entries(cm.data || {})) {
      if (!/\.ya?ml$/.test(k) || !/updraft-config/.test(cm.metadata.name)) continue;
      let conf;
      try { conf = yaml.load(v) || {}; } catch (e) { lit.push(`${cm.metadata.name}/${k}: not YAML (${e.message})`); continue; }
      if (conf.database && conf.database.url) lit.push(`${cm.metadata.name}/${k}: database.url in the ConfigMap`);
      if (conf.redis && conf.redis.url) lit.push(`${cm.metadata.name}/${k}: redis.url in the ConfigMap`);
      if (conf.core && conf.core.fernet_key) lit.push(`${cm.metadata.name}/${k}: core.fernet_key in the ConfigMap`);
    }
  }
  for (const ta of byKind('TriggerAuthentication')) {
    for (const k of Object.keys(ta.spec || {})) if (k !== 'secretTargetRef') lit.push(`TriggerAuthentication/${ta.metadata.name}: ${k}`);
  }
  for (const so of byKind('ScaledObject')) {
    for (const t of so.spec.triggers || []) {
      for (const k of ['connection', 'password', 'address', 'connectionString'])
        if (t.metadata && t.metadata[k]) lit.push(`ScaledObject/${so.metadata.name}: ${t.type} metadata.${k} is literal`);
    }
  }
  check(L('secrets are references (no literal secret values)'), lit);

  // Every ConfigMap and Secret a pod mounts or reads: the ConfigMaps exist
  // in the output (kustomize rewrote their hashed names); Secrets are the
  // user's updraft-secrets.
  const cms = new Set(byKind('ConfigMap').map((c) => c.metadata.name));
  const refs = [];
  for (const w of workloads) {
    const pod = w.spec.template.spec;
    for (const v of pod.volumes || []) if (v.configMap && !cms.has(v.configMap.name)) refs.push(`${w.metadata.name}: ConfigMap ${v.configMap.name} is not rendered`);
    for (const c of [...(pod.initContainers || []), ...(pod.containers || [])])
      for (const e of c.env || []) if (e.valueFrom && e.valueFrom.secretKeyRef && e.valueFrom.secretKeyRef.name !== 'updraft-secrets')
        refs.push(`${w.metadata.name}: Secret ${e.valueFrom.secretKeyRef.name}`);
  }
  check(L('mounted ConfigMaps exist; secrets come from updraft-secrets'), refs);

  // The migration Job.
  const jobs = byKind('Job').filter((j) => j.spec.template.spec.containers.some((c) => (c.command || []).join(' ') === 'updraft db migrate'));
  check(L('a Job runs `updraft db migrate`'), jobs.length === 1 ? [] : [`${jobs.length} such Jobs`]);

  // NetworkPolicies: a default deny over updraft's pods, and the webserver
  // reachable only from the ingress controller.
  const nps = byKind('NetworkPolicy');
  const deny = nps.find((n) => (n.spec.policyTypes || []).includes('Ingress') && (n.spec.policyTypes || []).includes('Egress') && !n.spec.ingress && !n.spec.egress);
  const np = [];
  if (!deny) np.push('no default-deny policy');
  for (const n of nps) {
    for (const rule of n.spec.ingress || []) {
      if (!rule.from || rule.from.length === 0) np.push(`${n.metadata.name}: an ingress rule from anywhere`);
      for (const f of rule.from || []) {
        if (f.ipBlock) np.push(`${n.metadata.name}: ingress from an ipBlock`);
        if (!f.namespaceSelector || !f.podSelector) np.push(`${n.metadata.name}: ingress not limited to the controller's namespace and pods`);
      }
    }
  }
  for (const d of deployments) {
    const covered = deny && matches(deny.spec.podSelector, d.spec.template.metadata.labels);
    if (!covered) np.push(`${d.metadata.name}: not under the default deny`);
  }
  check(L('NetworkPolicies: default deny; ingress only from the ingress controller'), np);

  // KEDA: the ScaledObject names a rendered Deployment, which leaves its
  // replica count to the autoscaler; the stream is updraft's queue stream.
  const confMap = byKind('ConfigMap').find((x) => /^updraft-config/.test(x.metadata.name));
  const conf = confMap ? yaml.load(confMap.data['updraft.yaml']) || {} : {};
  const concurrency = Number((conf.worker || {}).concurrency || 16);
  const queue = String((conf.worker || {}).queues || 'default').split(',')[0].trim();
  for (const so of byKind('ScaledObject')) {
    const p = [];
    // The triggers count in the workers' own slots and queue.
    for (const t of so.spec.triggers || []) {
      if (t.type === 'postgresql') {
        const q = t.metadata.query || '';
        if (!new RegExp(`/\\s*${concurrency}\\s*\\)`).test(q)) p.push(`postgresql: the query does not divide by worker.concurrency ${concurrency}`);
        if (!q.includes(`queue = '${queue}'`)) p.push(`postgresql: the query does not count the queue ${queue}`);
      }
      if (t.type === 'redis-streams' && Number(t.metadata.streamLength) !== concurrency)
        p.push(`redis-streams: streamLength ${t.metadata.streamLength}, worker.concurrency ${concurrency}`);
    }
    const target = deployments.find((d) => d.metadata.name === so.spec.scaleTargetRef.name);
    if (!target) p.push(`target ${so.spec.scaleTargetRef.name} is not rendered`);
    else if (target.spec.replicas !== undefined) p.push(`${target.metadata.name} still sets replicas (${target.spec.replicas})`);
    for (const t of so.spec.triggers || []) {
      if (t.type === 'redis-streams' && opts.stream && t.metadata.stream !== opts.stream) p.push(`stream ${t.metadata.stream}, expected ${opts.stream}`);
      if (t.authenticationRef && !byKind('TriggerAuthentication').some((a) => a.metadata.name === t.authenticationRef.name))
        p.push(`${t.type}: TriggerAuthentication ${t.authenticationRef.name} is not rendered`);
    }
    check(L(`ScaledObject ${so.metadata.name} scales a rendered Deployment on ${opts.stream || 'its stream'}`), p);
  }
}

function checkCompose(file) {
  const c = yaml.load(fs.readFileSync(file, 'utf8'));
  const s = c.services || {};
  const want = ['postgres', 'redis', 'updraft-init', 'updraft-scheduler', 'updraft-webserver', 'updraft-worker'];
  check('compose: the services of Airflow\'s shape', want.filter((n) => !s[n]).map((n) => `no ${n}`));
  const hc = [];
  for (const [n, v] of Object.entries(s)) {
    if (n === 'updraft-init') continue;
    if (!v.healthcheck || v.healthcheck.disable || !v.healthcheck.test) hc.push(`${n}: no health check`);
  }
  check('compose: every long-running service has a health check', hc);
  const dep = [];
  for (const n of ['updraft-scheduler', 'updraft-webserver', 'updraft-worker']) {
    const d = (s[n] || {}).depends_on || {};
    if (Array.isArray(d)) { dep.push(`${n}: depends_on without conditions`); continue; }
    if (!d['updraft-init'] || d['updraft-init'].condition !== 'service_completed_successfully') dep.push(`${n}: does not wait for updraft-init to complete`);
    for (const db of ['postgres', 'redis']) if (!d[db] || d[db].condition !== 'service_healthy') dep.push(`${n}: does not wait for ${db} to be healthy`);
  }
  const init = s['updraft-init'] || {};
  const id = init.depends_on || {};
  if (!id.postgres || id.postgres.condition !== 'service_healthy') dep.push('updraft-init: does not wait for postgres');
  check('compose: depends_on with conditions (init after postgres, daemons after init)', dep);
  const cmd = [].concat(init.command || []).join(' ');
  check('compose: the init service migrates and creates the admin user',
    [/updraft db migrate/.test(cmd) ? null : 'no `updraft db migrate`', /users create/.test(cmd) ? null : 'no `users create`',
      /--password|-p /.test(cmd) ? 'a password on the command line' : null].filter(Boolean));
  const w = s['updraft-worker'] || {};
  check('compose: workers scale (no container_name, no published port)',
    [w.container_name ? 'container_name set' : null, w.ports ? 'ports published' : null].filter(Boolean));
  const img = [];
  for (const [n, v] of Object.entries(s)) img.push(...imageProblems(n, v.image));
  check('compose: every image has a tag, not latest', img);
  const ports = [];
  for (const [n, v] of Object.entries(s)) for (const p of v.ports || []) {
    const txt = typeof p === 'string' ? p : `${p.host_ip || ''}:${p.published}:${p.target}`;
    if (!/^127\.0\.0\.1:/.test(txt)) ports.push(`${n}: ${txt} is published beyond loopback`);
  }
  check('compose: only loopback ports are published', ports);
  const sec = [];
  for (const [n, v] of Object.entries(s)) if (/^updraft-/.test(n)) {
    if (!(v.cap_drop || []).includes('ALL')) sec.push(`${n}: cap_drop ALL missing`);
    if (!(v.security_opt || []).some((o) => /^no-new-privileges(:true)?$/.test(o))) sec.push(`${n}: no-new-privileges missing`);
  }
  check('compose: updraft containers drop capabilities and privileges', sec);
}

function checkDockerfile(file, opts) {
  // Continuation lines joined; comments dropped.
  const lines = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages = [];
  for (const l of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const ins = m[1].toUpperCase();
    if (ins === 'FROM') stages.push({ from: m[2], ins: [] });
    else if (stages.length) stages[stages.length - 1].ins.push([ins, m[2]]);
  }
  check('Dockerfile: more than one stage', stages.length >= 2 ? [] : [`${stages.length} stage(s)`]);
  const names = new Set(stages.map((st) => (/\s+AS\s+(\S+)/i.exec(st.from) || [])[1]).filter(Boolean));
  check('Dockerfile: every FROM is pinned to a tag, not latest', stages.flatMap((st) => {
    const image = st.from.split(/\s+/).filter((t) => !t.startsWith('--'))[0];
    if (names.has(image)) return [];
    return imageProblems('FROM', image);
  }));
  check('Dockerfile: the build stage is Debian 12 slim', /^debian:12[.\d]*-slim\b/.test(stages[0] ? stages[0].from : '') ? [] : [`FROM ${stages[0] && stages[0].from}`]);
  const last = stages[stages.length - 1] || { from: '', ins: [] };
  check('Dockerfile: the runtime stage is Debian 12 slim', /^debian:12[.\d]*-slim\b/.test(last.from) ? [] : [`FROM ${last.from}`]);
  const users = last.ins.filter(([i]) => i === 'USER').map(([, a]) => a);
  const u = users[users.length - 1];
  check('Dockerfile: the final stage runs as a non-root user',
    !u ? ['no USER'] : /^(0|root)(:|$)/.test(u) ? [`USER ${u}`] : []);
  check('Dockerfile: the final stage has a HEALTHCHECK', last.ins.some(([i, a]) => i === 'HEALTHCHECK' && !/^NONE/i.test(a)) ? [] : ['none']);
  const runs = last.ins.filter(([i]) => i === 'RUN').map(([, a]) => a).join(' ');
  const dev = (runs.match(/\b[\w.+-]+-dev\b/g) || []).concat((runs.match(/\b(gcc|make|esbuild|pkg-config)\b/g) || []));
  check('Dockerfile: the runtime stage installs no build tools or -dev packages', dev);
  const rt = ['libpq5', 'libhiredis0.14', 'libcyaml1', 'libyaml-0-2', 'libcurl4', 'libcjson1', 'libcivetweb1', 'libssl3', 'libcrypt1', 'zlib1g'];
  check('Dockerfile: the runtime stage installs the runtime libraries', rt.filter((p) => !new RegExp(`(^|\\s)${p.replace(/[.+]/g, '\\$&')}(\\s|$)`).test(runs)).map((p) => `no ${p}`));
  // Against the build as it is: the packages of the libraries the binaries
  // load (from their NEEDED entries) in the runtime stage, the build
  // libraries deploy/install-deps.sh installs in the build stage. libc6 is
  // the base image's own.
  const has = (text, p) => new RegExp(`(^|\\s)${p.replace(/[.+]/g, '\\$&')}(\\s|$)`).test(text);
  if (opts.runtime) {
    check('Dockerfile: the runtime stage installs the package of every library the binaries load',
      opts.runtime.filter((p) => p !== 'libc6' && !has(runs, p)).map((p) => `no ${p}`));
  }
  if (opts.build) {
    const buildRuns = stages.length > 1 ? stages[0].ins.filter(([i]) => i === 'RUN').map(([, a]) => a).join(' ') : '';
    check('Dockerfile: the build stage installs the build libraries of install-deps.sh',
      opts.build.filter((p) => !has(buildRuns, p)).map((p) => `no ${p}`));
  }
  const copies = last.ins.filter(([i, a]) => i === 'COPY' && /--from=/.test(a)).map(([, a]) => a).join(' ');
  check('Dockerfile: the four binaries come from the build stage',
    ['updraft', 'updraft-scheduler', 'updraft-worker', 'updraft-webserver'].filter((b) => !new RegExp(`bin/${b}(\\s|$)`).test(copies)).map((b) => `no ${b}`));
}

const [mode, file, ...rest] = process.argv.slice(2);
try {
  if (mode === 'k8s') {
    const opts = { base: rest.includes('--base') };
    const si = rest.indexOf('--stream');
    if (si >= 0) opts.stream = rest[si + 1];
    checkK8s(file, rest[0], opts);
  } else if (mode === 'compose') checkCompose(file);
  else if (mode === 'dockerfile') {
    const opt = (n) => { const i = rest.indexOf(n); return i >= 0 ? rest[i + 1].split(',').filter(Boolean) : null; };
    checkDockerfile(file, { runtime: opt('--runtime-packages'), build: opt('--build-packages') });
  }
  else { console.error('usage: check.js k8s|compose|dockerfile FILE ...'); process.exit(2); }
} catch (e) {
  fail(`${mode} ${file}`, `cannot check: ${e.message}`);
}
process.exit(failed ? 1 : 0);
