'use strict';
// One BullMQ worker process of the benchmark (started by driver.js):
//
//   node worker.js REDIS_URL QUEUE CONCURRENCY
//
// A `noop` job does nothing. A `hop` job (a link of a flow chain) returns
// the monotonic clock (CLOCK_MONOTONIC, shared by every process of the
// machine) at the start and at the end of its body, in milliseconds, so the
// driver can measure the time from one job's end to the next one's start
// across worker processes. Prints "ready" once connected; SIGTERM closes
// the worker (waiting for the jobs in flight) and exits.
const { Worker } = require('bullmq');
const IORedis = require('ioredis');

const [url, queue, concArg] = process.argv.slice(2);
const concurrency = Number(concArg);
if (!url || !queue || !(concurrency >= 1)) {
  console.error('usage: node worker.js REDIS_URL QUEUE CONCURRENCY');
  process.exit(2);
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

async function main() {
  // A worker's connection blocks on the queue: BullMQ requires no retry limit on it.
  const connection = new IORedis(url, { maxRetriesPerRequest: null });
  const worker = new Worker(
    queue,
    async (job) => {
      if (job.name === 'hop') {
        const s = now();
        return { s, e: now() };
      }
      return null;
    },
    { connection, concurrency },
  );
  worker.on('error', (err) => console.error(`bullmq-worker: ${err.message}`));
  let closing = false;
  process.on('SIGTERM', async () => {
    if (closing) return;
    closing = true;
    await worker.close();
    await connection.quit();
    process.exit(0);
  });
  await worker.waitUntilReady();
  process.stdout.write('ready\n');
}

main().catch((err) => {
  console.error(`bullmq-worker: ${err.stack || err}`);
  process.exit(1);
});
