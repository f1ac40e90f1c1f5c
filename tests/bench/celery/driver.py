"""Scenario 7 driver: starts a Celery worker, measures it, stops it.

Run through run.sh (which picks Debian's /usr/bin/python3 and a Redis).
Prints one JSON object on stdout; everything else goes to stderr.
"""

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print("celery-bench: " + msg, file=sys.stderr, flush=True)


def loadavg_1m():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(values)
    k = max(0, math.ceil(p / 100.0 * len(s)) - 1)
    return s[k]


# ---------------------------------------------------------------- memory

def children_of(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    if kids:
        return kids
    # Kernels without /proc/PID/task/TID/children: scan for the parent pid.
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(name))
    return kids


def proc_kb(pid, path, field):
    try:
        with open("/proc/%d/%s" % (pid, path)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def worker_memory(pid):
    """(VmRSS sum, Pss sum, process count) in kB for pid and its children."""
    pids = [pid] + children_of(pid)
    rss = sum(proc_kb(p, "status", "VmRSS") for p in pids)
    pss = sum(proc_kb(p, "smaps_rollup", "Pss") for p in pids)
    return rss, pss, len(pids)


def worker_cpu_seconds(pid):
    """user+system CPU seconds of pid and its (live) children."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in [pid] + children_of(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            pass
    return total / tick


def redis_cpu_seconds(client):
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class PeakSampler(threading.Thread):
    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = 0
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            rss, pss, _ = worker_memory(self.pid)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join()
        rss, pss, _ = worker_memory(self.pid)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)


# ---------------------------------------------------------------- worker

def start_worker(workdir, queue):
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "celery", "-A", "bench_tasks", "worker",
           "--pool", "prefork", "--concurrency", "2",
           "--loglevel", "WARNING",
           "--without-mingle", "--without-gossip",
           "-Q", queue, "-n", "updraft-bench@%h"]
    logf = open(os.path.join(workdir, "celery-worker.log"), "ab")
    proc = subprocess.Popen(cmd, cwd=HERE, env=env, stdin=subprocess.DEVNULL,
                            stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)
    logf.close()
    with open(os.path.join(workdir, "celery-worker.pid"), "w") as f:
        f.write("%d\n" % proc.pid)
    log("worker pid %d: %s" % (proc.pid, " ".join(cmd[1:])))
    return proc


def stop_worker(proc, workdir):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            log("worker ignored SIGTERM, killing its process group")
    # The prefork children share the worker's session/process group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)
    try:
        os.unlink(os.path.join(workdir, "celery-worker.pid"))
    except OSError:
        pass


def wait_ready(app, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("worker exited with status %d" % proc.returncode)
        replies = app.control.ping(timeout=0.5)
        if any(k.startswith("updraft-bench@") for r in replies for k in r):
            return
    raise RuntimeError("worker not ready after %d s" % timeout)


def delete_keys(redis_url, queue):
    """Remove what Celery left in the shared Redis (results, queue, bindings)."""
    import redis
    r = redis.Redis.from_url(redis_url)
    n = 0
    for pattern in ("celery-task-meta-*", "_kombu.binding.*"):
        batch = []
        for key in r.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                n += r.delete(*batch)
                batch = []
        if batch:
            n += r.delete(*batch)
    n += r.delete(queue, "unacked", "unacked_index", "unacked_mutex")
    r.close()
    return n


# ---------------------------------------------------------------- scenarios

def run_throughput(tasks, n, timeout, worker_pid, rcli):
    """Returns (tasks/s, peak RSS kB, peak PSS kB, CPU seconds used by
    client, worker and Redis)."""
    from celery import group
    g = group(tasks.noop.s() for _ in range(n))
    sampler = PeakSampler(worker_pid)
    sampler.start()
    cpu0 = (time.process_time(), worker_cpu_seconds(worker_pid), redis_cpu_seconds(rcli))
    t0 = time.perf_counter()
    res = g.apply_async()
    out = res.get(timeout=timeout)
    t1 = time.perf_counter()
    cpu1 = (time.process_time(), worker_cpu_seconds(worker_pid), redis_cpu_seconds(rcli))
    sampler.stop()
    if len(out) != n or any(x is not None for x in out):
        raise RuntimeError("throughput: unexpected results")
    cpu = tuple(b - a for a, b in zip(cpu0, cpu1))
    return n / (t1 - t0), sampler.peak_rss, sampler.peak_pss, cpu


def run_chain(tasks, length, timeout):
    from celery import chain
    c = chain(tasks.stamp.si() for _ in range(length))
    t0 = time.perf_counter()
    res = c.apply_async()
    res.get(timeout=timeout)
    t1 = time.perf_counter()
    nodes = []
    r = res
    while r is not None:
        nodes.append(r)
        r = r.parent
    nodes.reverse()
    if len(nodes) != length:
        raise RuntimeError("chain: %d results for %d tasks" % (len(nodes), length))
    # A chain step sends the next message before storing its own result, so
    # wait for each one rather than reading the backend once.
    stamps = [r.get(timeout=timeout) for r in nodes]
    hops = [(stamps[i + 1][0] - stamps[i][1]) * 1000.0 for i in range(length - 1)]
    return (t1 - t0) * 1000.0 / length, hops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--redis-url", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()

    queue = os.environ.setdefault("CELERY_BENCH_QUEUE", "updraft-bench-celery")
    os.environ["CELERY_BENCH_URL"] = args.redis_url
    sys.path.insert(0, HERE)
    import celery
    import bench_tasks

    n_tasks = 1000 if args.quick else 10000
    chain_len = 10 if args.quick else 40
    reps = 3
    chain_reps = 3 if args.quick else 5

    load_start = loadavg_1m()
    log("load average (1 min) before: %.2f on %d CPUs" % (load_start, os.cpu_count()))
    import redis
    rcli = redis.Redis.from_url(args.redis_url)
    delete_keys(args.redis_url, queue)
    proc = start_worker(args.workdir, queue)
    try:
        wait_ready(bench_tasks.app, proc, 60)
        time.sleep(1.0)
        idle = [worker_memory(proc.pid) for _ in range(3)]
        idle_rss = max(x[0] for x in idle)
        idle_pss = max(x[1] for x in idle)
        nproc = idle[-1][2]
        log("worker ready: %d processes, idle RSS %.1f MB, PSS %.1f MB"
            % (nproc, idle_rss / 1024, idle_pss / 1024))

        # Warm-up: imports, connections and the pool's first tasks.
        run_throughput(bench_tasks, 200, 60, proc.pid, rcli)
        run_chain(bench_tasks, 5, 60)

        # Chains first, on a worker and client that have not just drained
        # a burst of 10,000 results.
        per_hop, hops = [], []
        for i in range(chain_reps):
            ms, h = run_chain(bench_tasks, chain_len, 120)
            per_hop.append(ms)
            hops += h
            log("chain run %d: %d tasks, %.2f ms per hop, hop latency median %.2f ms"
                % (i + 1, chain_len, ms, statistics.median(h)))

        rates, peak_rss, peak_pss, cpus = [], idle_rss, idle_pss, []
        for i in range(reps):
            rate, prss, ppss, cpu = run_throughput(bench_tasks, n_tasks, 600, proc.pid, rcli)
            rates.append(rate)
            cpus.append(cpu)
            peak_rss, peak_pss = max(peak_rss, prss), max(peak_pss, ppss)
            log("throughput run %d: %d no-op tasks, %.0f tasks/s, peak RSS %.1f MB, "
                "CPU s client %.1f worker %.1f redis %.1f"
                % (i + 1, n_tasks, rate, prss / 1024, cpu[0], cpu[1], cpu[2]))
    except Exception:
        log("failed; worker log follows")
        stop_worker(proc, args.workdir)
        with open(os.path.join(args.workdir, "celery-worker.log"), "rb") as f:
            sys.stderr.write(f.read()[-4000:].decode("utf-8", "replace"))
        raise
    stop_worker(proc, args.workdir)
    load_end = loadavg_1m()
    log("load average (1 min) after: %.2f" % load_end)
    log("removed %d Celery keys from Redis" % delete_keys(args.redis_url, queue))

    r2 = lambda x: round(x, 2)
    result = {
        "celery_version": celery.__version__,
        "python": platform.python_version(),
        "pool": "prefork",
        "concurrency": 2,
        "broker": "redis",
        "result_backend": "redis",
        "n_tasks": n_tasks,
        "chain_length": chain_len,
        "throughput_noop_per_s": {"median": round(statistics.median(rates), 1),
                                  "runs": [round(x, 1) for x in rates]},
        "chain_per_hop_ms": {"median": r2(statistics.median(per_hop)),
                             "runs": [r2(x) for x in per_hop]},
        "chain_hop_latency_ms": {"p50": r2(percentile(hops, 50)),
                                 "p99": r2(percentile(hops, 99)),
                                 "samples": len(hops)},
        "worker_rss_mb": {"idle": round(idle_rss / 1024, 1),
                          "peak": round(peak_rss / 1024, 1)},
        "worker_pss_mb": {"idle": round(idle_pss / 1024, 1),
                          "peak": round(peak_pss / 1024, 1)},
        "worker_processes": nproc,
        # CPU time per task during the throughput runs (median): a figure
        # that moves less than tasks/s when the box is busy.
        "throughput_cpu_ms_per_task": {
            k: round(statistics.median(c[j] for c in cpus) * 1000.0 / n_tasks, 3)
            for j, k in enumerate(("client", "worker", "redis"))},
        "loadavg_1m": {"start": load_start, "end": load_end},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
