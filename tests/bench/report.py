#!/usr/bin/env python3
"""Turns the figures a benchmark run collected into one table and a JSON file.

    report.py --figures figures.jsonl --out results/latest.json --mode full
              [--celery celery.json] [--bullmq bullmq.json] [--setting key=value ...] [--errors N]

figures.jsonl holds one object per line: name, unit, median, p99, n, target
(text shown), check (what "met" means: space-separated conditions such as
"median<=5 p99<=10"), note. Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import sys


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_mb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_mb = round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "mem_total_mb": mem_mb,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


COND = re.compile(r"^(median|p99)(<=|>=|<|>)([-\d.]+)$")


def evaluate(fig):
    """True/False when the figure has a target, None when it has none."""
    check = fig.get("check")
    if not check:
        return None
    for cond in check.split():
        m = COND.match(cond)
        if not m:
            raise ValueError(f"bad check {cond!r} in {fig['name']}")
        v = fig.get(m.group(1))
        if v is None:
            return False
        lim = float(m.group(3))
        ok = {"<=": v <= lim, ">=": v >= lim, "<": v < lim, ">": v > lim}[m.group(2)]
        if not ok:
            return False
    return True


def flatten(obj, prefix=""):
    """Numeric leaves of a JSON object as (dotted.path, value)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix, float(obj)


def dig(obj, *path):
    for k in path:
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj if isinstance(obj, (int, float)) and not isinstance(obj, bool) else None


# What each system has committed when it reports a task done: printed under
# the table and kept in the settings, so no ratio is read without it.
COMMITS = {
    "updraft": "every state transition committed to Postgres (fsync and synchronous_commit on)",
    "celery": "broker and result backend only (Redis, no persistence here); no durable database",
    "bullmq": "Redis only (no persistence here): job state lives in Redis; no durable database",
}


def peer_figures(peer, data, figs, source, describe):
    """A peer's figures (celery/run.sh, bullmq/run.sh), then updraft's as ratios to them.

    Known keys: throughput_noop_per_s.{median,runs}, chain_hop_latency_ms.{p50,p99,samples},
    chain_per_hop_ms.{median,runs}, worker_rss_mb.{idle,peak}, worker_pss_mb.{idle,peak}.
    Any other numeric leaf is kept as a plain figure; strings go to the settings.
    """
    out = []
    known = set()

    def add(name, unit, median, p99=None, n=None, note=source):
        if median is None:
            return
        out.append({"name": name, "unit": unit, "median": median, "p99": p99, "n": n,
                    "target": None, "check": None, "note": note})

    def runs(key):
        r = data.get(key, {}).get("runs") if isinstance(data.get(key), dict) else None
        return len(r) if isinstance(r, list) else None

    add(f"{peer}.throughput_noop", "tasks/s", dig(data, "throughput_noop_per_s", "median"),
        n=runs("throughput_noop_per_s"), note=describe["throughput"])
    add(f"{peer}.chain_hop_latency", "ms", dig(data, "chain_hop_latency_ms", "p50"),
        dig(data, "chain_hop_latency_ms", "p99"), dig(data, "chain_hop_latency_ms", "samples"),
        note=describe["hop"])
    add(f"{peer}.chain_per_hop", "ms", dig(data, "chain_per_hop_ms", "median"), n=runs("chain_per_hop_ms"),
        note="chain wall time / hops, median of runs")
    add(f"{peer}.worker_idle_rss", "MB", dig(data, "worker_rss_mb", "idle"), note=describe["rss"])
    add(f"{peer}.worker_peak_rss", "MB", dig(data, "worker_rss_mb", "peak"))
    add(f"{peer}.worker_idle_pss", "MB", dig(data, "worker_pss_mb", "idle"),
        note="proportional set size: shared pages counted once across the worker's processes")
    add(f"{peer}.worker_peak_pss", "MB", dig(data, "worker_pss_mb", "peak"))
    known.update({"throughput_noop_per_s", "chain_hop_latency_ms", "chain_per_hop_ms", "worker_rss_mb",
                  "worker_pss_mb", "concurrency", "n_tasks", "n_jobs", "chain_length", "worker_processes",
                  "workers"})
    for k, v in data.items():
        if k not in known and "loadavg" not in k:
            for path, val in flatten(v, k):
                add(f"{peer}.{path}", "", val)

    by = {f["name"]: f for f in figs + out}

    def ratio(name, ours, theirs, note, field="median"):
        a = by.get(ours, {}).get(field)
        b = by.get(theirs, {}).get(field)
        if a is None or not b:
            return
        out.append({"name": name, "unit": "x", "median": round(a / b, 3), "p99": None, "n": None,
                    "target": None, "check": None, "note": f"{ours} / {theirs} ({field}); {note}"})

    vs = f"vs_{peer}"
    ratio(f"{vs}.throughput_orchestration_only", "throughput.orchestration_only",
          f"{peer}.throughput_noop", "> 1: updraft moves more tasks per second, committing each transition")
    ratio(f"{vs}.throughput_bash_true", "throughput.bash_true", f"{peer}.throughput_noop",
          f"updraft starting a process per task against {describe['name']}'s in-process no-op; > 1 is faster")
    ratio(f"{vs}.chain_hop_latency", "chain.hop_latency", f"{peer}.chain_hop_latency",
          "p50 against p50; < 1: updraft hops faster, with every state committed")
    ratio(f"{vs}.chain_hop_latency_p99", "chain.hop_latency", f"{peer}.chain_hop_latency",
          "p99 against p99; < 1: updraft hops faster", field="p99")
    ratio(f"{vs}.worker_idle_rss", "memory.worker_idle_rss", f"{peer}.worker_idle_rss",
          "< 1: updraft's worker is smaller")
    ratio(f"{vs}.worker_peak_rss", "memory.worker_peak_rss", f"{peer}.worker_peak_rss",
          "< 1: updraft's worker is smaller")
    return out


def celery_figures(cel, figs):
    conc = cel.get("concurrency")
    return peer_figures("celery", cel, figs, "tests/bench/celery/run.sh", {
        "name": "Celery",
        "throughput": f"Celery {cel.get('celery_version', '')} {cel.get('pool', '')} concurrency {conc}: "
                      f"{cel.get('n_tasks', '?')} no-op tasks, median of runs",
        "hop": f"chain of {cel.get('chain_length', '?')}: previous task end -> next task start",
        "rss": "all processes of the Celery worker (prefork parent + children)",
    })


def bullmq_figures(bq, figs):
    return peer_figures("bullmq", bq, figs, "tests/bench/bullmq/run.sh", {
        "name": "BullMQ",
        "throughput": f"BullMQ {bq.get('bullmq_version', '')} on Node {bq.get('node', '')}, "
                      f"{bq.get('workers', '?')} worker processes x concurrency {bq.get('concurrency', '?')}: "
                      f"{bq.get('n_jobs', '?')} no-op jobs, first enqueue -> last completion, median of runs",
        "hop": f"flow chain of {bq.get('chain_length', '?')} (each job the parent of the one before): "
               "a job's body end -> the next job's body start (monotonic clock)",
        "rss": "the larger of the worker processes",
    })


def print_peers(figs, peers):
    """updraft's figures beside each peer's, with updraft's ratio to each."""
    by = {f["name"]: f for f in figs}
    rows = [  # label, updraft's figure, field, the peer's figure
        ("throughput, tasks/s (updraft orchestration-only)", "throughput.orchestration_only", "median",
         "throughput_noop"),
        ("throughput, tasks/s (updraft a process per task)", "throughput.bash_true", "median", "throughput_noop"),
        ("chain hop p50, ms", "chain.hop_latency", "median", "chain_hop_latency"),
        ("chain hop p99, ms", "chain.hop_latency", "p99", "chain_hop_latency"),
        ("worker RSS idle, MB", "memory.worker_idle_rss", "median", "worker_idle_rss"),
    ]
    head = ["", "updraft"] + peers + [f"updraft/{p}" for p in peers]
    table = [head]
    for label, ours, field, theirs in rows:
        a = by.get(ours, {}).get(field)
        vals = [by.get(f"{p}.{theirs}", {}).get(field) for p in peers]
        table.append([label, fmt(a)] + [fmt(v) for v in vals] +
                     [fmt(round(a / v, 3)) if a is not None and v else "-" for v in vals])
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    print()
    for k, r in enumerate(table):
        print("| " + " | ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--figures", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--celery")
    ap.add_argument("--bullmq")
    ap.add_argument("--setting", action="append", default=[])
    ap.add_argument("--errors", type=int, default=0)
    a = ap.parse_args()

    figs = []
    with open(a.figures) as f:
        for line in f:
            if line.strip():
                figs.append(json.loads(line))
    if a.celery:
        with open(a.celery) as f:
            cel = json.load(f)
        figs.extend(celery_figures(cel, figs))
        for k, v in cel.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool) and not k.endswith("_per_s"):
                a.setting.append(f"{k if k.startswith('celery') else 'celery_' + k}={v}")
            elif "loadavg" in k and isinstance(v, dict):
                a.setting.append(f"celery_{k}=" + " ".join(f"{kk} {vv}" for kk, vv in v.items()))
    if a.bullmq:
        with open(a.bullmq) as f:
            bq = json.load(f)
        figs.extend(bullmq_figures(bq, figs))
        for k, v in bq.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                a.setting.append(f"{k if k.startswith('bullmq') else 'bullmq_' + k}={v}")
            elif "loadavg" in k and isinstance(v, dict):
                a.setting.append(f"bullmq_{k}=" + " ".join(f"{kk} {vv}" for kk, vv in v.items()))
    peers = ["updraft"] + [p for p, given in (("celery", a.celery), ("bullmq", a.bullmq)) if given]
    if len(peers) > 1:
        a.setting.extend(f"commits_{p}={COMMITS[p]}" for p in peers)
    for fig in figs:
        fig["met"] = evaluate(fig)

    rows = [("figure", "median", "p99", "unit", "target", "met?")]
    for fig in figs:
        met = {True: "yes", False: "NO", None: ""}[fig["met"]]
        if fig["met"] is False and fig.get("median") is None:
            met = "n/a"
        rows.append((fig["name"], fmt(fig.get("median")), fmt(fig.get("p99")), fig.get("unit") or "",
                     fig.get("target") or "", met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {1, 2}
    for k, r in enumerate(rows):
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        print("| " + " | ".join(cells) + " |")
        if k == 0:
            print("|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                                 for i, w in enumerate(widths)) + "|")
    notes = [f for f in figs if f.get("note")]
    print()
    for f in notes:
        print(f"  {f['name']}: {f['note']}")
    m = machine()
    st = dict(x.split("=", 1) for x in a.setting)
    print(f"\nmachine: {m['nproc']} x {m['cpu_model']}, {m['mem_total_mb']} MB, {m['date']}; mode {a.mode}; "
          f"load average {st.get('loadavg_at_start', '?')} at start")
    if len(peers) > 1:
        print_peers(figs, peers[1:])
        print("\nwhat each has committed when a task is done:")
        for p in peers:
            print(f"  {p}: {COMMITS[p]}")
    targets = [f for f in figs if f["met"] is not None]
    print(f"targets met: {sum(1 for f in targets if f['met'])} of {len(targets)}")

    doc = {
        "mode": a.mode,
        "machine": m,
        "settings": dict(s.split("=", 1) for s in a.setting),
        "errors": a.errors,
        "figures": [{k: f.get(k) for k in ("name", "unit", "median", "p99", "n", "target", "met", "note")}
                    for f in figs],
    }
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
