#!/usr/bin/env python3
"""Turns the figures a benchmark run collected into one table and a JSON file.

    report.py --figures figures.jsonl --out results/latest.json --mode full
              [--celery celery.json] [--setting key=value ...] [--errors N]

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


def celery_figures(cel, figs):
    """Celery's figures (tests/bench/celery/run.sh), then updraft's as ratios to them.

    Known keys: throughput_noop_per_s.{median,runs}, chain_hop_latency_ms.{p50,p99,samples},
    chain_per_hop_ms.{median,runs}, worker_rss_mb.{idle,peak}. Any other numeric
    leaf is kept as a plain figure; strings go to the settings.
    """
    out = []
    known = set()

    def add(name, unit, median, p99=None, n=None, note="tests/bench/celery/run.sh"):
        if median is None:
            return
        out.append({"name": name, "unit": unit, "median": median, "p99": p99, "n": n,
                    "target": None, "check": None, "note": note})

    def runs(key):
        r = cel.get(key, {}).get("runs") if isinstance(cel.get(key), dict) else None
        return len(r) if isinstance(r, list) else None

    conc = cel.get("concurrency")
    add("celery.throughput_noop", "tasks/s", dig(cel, "throughput_noop_per_s", "median"),
        n=runs("throughput_noop_per_s"),
        note=f"Celery {cel.get('celery_version', '')} {cel.get('pool', '')} concurrency {conc}: "
             f"{cel.get('n_tasks', '?')} no-op tasks, median of runs")
    add("celery.chain_hop_latency", "ms", dig(cel, "chain_hop_latency_ms", "p50"),
        dig(cel, "chain_hop_latency_ms", "p99"), dig(cel, "chain_hop_latency_ms", "samples"),
        note=f"chain of {cel.get('chain_length', '?')}: previous task end -> next task start")
    add("celery.chain_per_hop", "ms", dig(cel, "chain_per_hop_ms", "median"), n=runs("chain_per_hop_ms"),
        note="chain wall time / hops, median of runs")
    add("celery.worker_idle_rss", "MB", dig(cel, "worker_rss_mb", "idle"),
        note="all processes of the Celery worker (prefork parent + children)")
    add("celery.worker_peak_rss", "MB", dig(cel, "worker_rss_mb", "peak"))
    add("celery.worker_idle_pss", "MB", dig(cel, "worker_pss_mb", "idle"),
        note="proportional set size: shared pages counted once across the worker's processes")
    add("celery.worker_peak_pss", "MB", dig(cel, "worker_pss_mb", "peak"))
    known.update({"throughput_noop_per_s", "chain_hop_latency_ms", "chain_per_hop_ms", "worker_rss_mb",
                  "worker_pss_mb", "concurrency", "n_tasks", "chain_length", "worker_processes"})
    for k, v in cel.items():
        if k not in known and "loadavg" not in k:
            for path, val in flatten(v, k):
                add(f"celery.{path}", "", val)

    by = {f["name"]: f for f in figs + out}

    def ratio(name, ours, theirs, note):
        a = by.get(ours, {}).get("median")
        b = by.get(theirs, {}).get("median")
        if a is None or not b:
            return
        out.append({"name": name, "unit": "x", "median": round(a / b, 3), "p99": None, "n": None,
                    "target": None, "check": None, "note": f"{ours} / {theirs}; {note}"})

    ratio("vs_celery.throughput_orchestration_only", "throughput.orchestration_only",
          "celery.throughput_noop", "> 1: updraft moves more tasks per second")
    ratio("vs_celery.throughput_bash_true", "throughput.bash_true", "celery.throughput_noop",
          "updraft starting a process per task against Celery's in-process no-op; > 1 is faster")
    ratio("vs_celery.chain_hop_latency", "chain.hop_latency", "celery.chain_hop_latency",
          "p50 against p50; < 1: updraft hops faster, with every state committed")
    ratio("vs_celery.worker_idle_rss", "memory.worker_idle_rss", "celery.worker_idle_rss",
          "< 1: updraft's worker is smaller")
    ratio("vs_celery.worker_peak_rss", "memory.worker_peak_rss", "celery.worker_peak_rss",
          "< 1: updraft's worker is smaller")
    return out


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
