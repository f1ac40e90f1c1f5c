'use strict';
// BullMQ beside updraft (tests/bench/bullmq/README.md): starts the worker
// processes, measures flow chains and no-op throughput, stops the workers,
// removes the queue's keys and prints one JSON object on stdout (progress
// on stderr).
//
//   node driver.js --redis-url URL [--quick] [--workers N] [--concurrency N]
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { Queue, FlowProducer, QueueEvents, Job } = require('bullmq');
const IORedis = require('ioredis');

const QUEUE = 'updraft-bench-bullmq';

function log(msg) {
  process.stderr.write(`bullmq-bench: ${msg}\n`);
}

function parseArgs(argv) {
  const a = { quick: false, workers: 2, concurrency: 64, redisUrl: '' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--quick') a.quick = true;
    else if (k === '--redis-url') a.redisUrl = v();
    else if (k === '--workers') a.workers = Number(v());
    else if (k === '--concurrency') a.concurrency = Number(v());
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.redisUrl) throw new Error('--redis-url is required');
  if (!(a.workers >= 1 && a.workers <= 16)) throw new Error('--workers must be 1..16');
  if (!(a.concurrency >= 1 && a.concurrency <= 1024)) throw new Error('--concurrency must be 1..1024');
  return a;
}

const loadavg1 = () => Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// Nearest-rank percentile, as the Celery driver computes it.
const percentile = (xs, p) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
};
const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;

function rssMb(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function version(pkg) {
  for (const dir of (process.env.NODE_PATH || '').split(':').filter(Boolean)) {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, pkg, 'package.json'), 'utf8')).version;
    } catch {
      /* next */
    }
  }
  return 'unknown';
}

function startWorker(a) {
  const child = spawn(process.execPath, [path.join(__dirname, 'worker.js'), a.redisUrl, QUEUE, String(a.concurrency)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`a worker exited with status ${code} before it was ready`)));
  });
  return { child, ready };
}

function stopWorker(w) {
  return new Promise((resolve) => {
    if (w.child.exitCode !== null) return resolve();
    const t = setTimeout(() => w.child.kill('SIGKILL'), 10000);
    w.child.on('exit', () => {
      clearTimeout(t);
      resolve();
    });
    w.child.kill('SIGTERM');
  });
}

// A chain of n `hop` jobs as a flow: each job is the parent of the one
// before it, so BullMQ starts a job only once its child has completed.
function chainFlow(n, tag) {
  let node = { name: 'hop', queueName: QUEUE, data: { tag, i: 0 } };
  for (let i = 1; i < n; i++) node = { name: 'hop', queueName: QUEUE, data: { tag, i }, children: [node] };
  return node;
}

// Runs one chain; returns its hop latencies (ms) and wall time per hop.
async function runChain(flow, queue, events, n, tag) {
  const t0 = Date.now();
  const tree = await flow.add(chainFlow(n, tag));
  await tree.job.waitUntilFinished(events, 120000);
  const wall = Date.now() - t0;
  const ids = [];
  for (let node = tree; node; node = node.children && node.children[0]) ids.push(node.job.id);
  ids.reverse(); // first job to run first
  const jobs = await Promise.all(ids.map((id) => Job.fromId(queue, id)));
  const hops = [];
  for (let i = 1; i < jobs.length; i++) {
    const prev = jobs[i - 1].returnvalue;
    const next = jobs[i].returnvalue;
    if (!prev || !next) throw new Error(`chain ${tag}: job ${i} has no return value`);
    hops.push(next.s - prev.e);
  }
  return { hops, perHop: wall / n };
}

// Enqueues n no-op jobs in batches of 1,000 and waits for all of them to
// complete: n / (last completion - first enqueue). The completed set's
// scores are the completion times BullMQ records (ms).
async function runThroughput(queue, client, n, peak) {
  const completedKey = `${queue.opts.prefix || 'bull'}:${QUEUE}:completed`;
  const before = await queue.getCompletedCount();
  const batch = [];
  for (let i = 0; i < 1000; i++) batch.push({ name: 'noop', data: {} });
  const t0 = Date.now();
  for (let left = n; left > 0; left -= 1000) await queue.addBulk(left >= 1000 ? batch : batch.slice(0, left));
  const deadline = Date.now() + 600000;
  while ((await queue.getCompletedCount()) - before < n) {
    if (Date.now() > deadline) throw new Error('no-op jobs did not complete within 600 s');
    peak();
    await sleep(20);
  }
  const last = await client.zrevrange(completedKey, 0, 0, 'WITHSCORES');
  const t1 = Number(last[1]);
  return n / ((t1 - t0) / 1000);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const nJobs = a.quick ? 2000 : 20000;
  const tpRuns = a.quick ? 2 : 3;
  const chainLen = a.quick ? 10 : 40;
  const chainRuns = a.quick ? 3 : 5;
  const out = {
    bullmq_version: version('bullmq'),
    ioredis_version: version('ioredis'),
    node: process.versions.node,
    workers: a.workers,
    concurrency: a.concurrency,
    n_jobs: nJobs,
    chain_length: chainLen,
    loadavg_1m: { start: loadavg1() },
  };
  const client = new IORedis(a.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection: client });
  const flow = new FlowProducer({ connection: client });
  const eventsClient = new IORedis(a.redisUrl, { maxRetriesPerRequest: null });
  const events = new QueueEvents(QUEUE, { connection: eventsClient });
  const workers = [];
  try {
    await queue.obliterate({ force: true });
    await events.waitUntilReady();
    for (let i = 0; i < a.workers; i++) workers.push(startWorker(a));
    await Promise.all(workers.map((w) => w.ready));
    log(`${a.workers} workers x concurrency ${a.concurrency} ready`);
    await sleep(1000);
    const rss = () => Math.max(...workers.map((w) => rssMb(w.child.pid)));
    const mem = { idle: rss(), peak: 0 };
    const peak = () => {
      mem.peak = Math.max(mem.peak, rss());
    };

    // Warm-up, not counted: a short chain and a few no-ops.
    await runChain(flow, queue, events, 3, 'warm');
    await runThroughput(queue, client, 200, peak);

    const hops = [];
    const perHop = [];
    for (let r = 0; r < chainRuns; r++) {
      const c = await runChain(flow, queue, events, chainLen, `c${r}`);
      hops.push(...c.hops);
      perHop.push(c.perHop);
    }
    log(`chains: ${chainRuns} x ${chainLen}, hop p50 ${percentile(hops, 50).toFixed(3)} ms`);
    const rates = [];
    for (let r = 0; r < tpRuns; r++) {
      rates.push(await runThroughput(queue, client, nJobs, peak));
      log(`throughput run ${r + 1}: ${rates[r].toFixed(0)} jobs/s`);
    }
    peak();
    out.throughput_noop_per_s = { median: round(median(rates), 1), runs: rates.map((x) => round(x, 1)) };
    out.chain_per_hop_ms = { median: round(median(perHop), 3), runs: perHop.map((x) => round(x, 3)) };
    out.chain_hop_latency_ms = {
      p50: round(percentile(hops, 50), 3),
      p99: round(percentile(hops, 99), 3),
      samples: hops.length,
    };
    out.worker_rss_mb = { idle: round(mem.idle, 1), peak: round(mem.peak, 1) };
  } finally {
    await Promise.all(workers.map(stopWorker));
    try {
      await queue.obliterate({ force: true });
    } catch (err) {
      log(`cannot remove the queue's keys: ${err.message}`);
    }
    await events.close();
    await flow.close();
    await queue.close();
    eventsClient.disconnect();
    await client.quit();
  }
  out.loadavg_1m.end = loadavg1();
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

main().catch((err) => {
  log(err.stack || String(err));
  process.exit(1);
});
