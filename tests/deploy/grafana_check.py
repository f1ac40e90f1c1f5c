#!/usr/bin/env python3
"""Checks deploy/grafana/updraft.json against what Grafana imports and what
updraft exposes. Standard library only.

    grafana_check.py DASHBOARD --docs docs/metrics.md [--exposition FILE...]
        the metric names and types from the generated table of docs/metrics.md;
        with /metrics answers besides, every metric they expose (their # TYPE
        lines) must be in that table with the same type
    grafana_check.py DASHBOARD --exprs
        prints every target's expression, the dashboard's variables given
        values that match everything (for a Prometheus to evaluate), one a line

Each check prints "PASS <name>" or "FAIL <name>: <why>"; the exit status is 1
when one failed. What is checked:

- Grafana's import shape: an object with uid (at most 40 characters of
  [A-Za-z0-9_-]), title, an integer schemaVersion of 36 or more, panels; the
  __inputs entry DS_PROMETHEUS; a templating variable "datasource" of type
  datasource (query prometheus) and query variables hostname and dag_id.
- Panels: unique integer ids (rows' nested panels too), known types, a gridPos
  of integers inside the 24 columns, no two panels overlapping; every panel
  but a row has a title, the Prometheus data source and at least one target,
  each with a unique refId and an expression.
- Expressions: every "$name" or "${name}" is a variable of the dashboard or
  one of Grafana's own; every expression names at least one updraft_ metric;
  every updraft_ name is a metric of the table (a histogram through its
  _bucket, _sum or _count series); histogram_quantile reads a histogram's
  _bucket; rate() and increase() read counters or histogram series, never a
  gauge; a gauge or counter is never read through _bucket.
- Coverage: every metric of the table is on some panel (ALLOWED_ABSENT lists
  the deliberate exceptions, with their reason).
- Live (--exposition): the answers expose updraft_ metrics, each of them in
  the table with the type the table gives.
"""
import json
import re
import sys

# Metrics deliberately not on the dashboard: none today.
ALLOWED_ABSENT = {}

GRAFANA_VARS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
                "__from", "__to", "__dashboard", "__org", "__user", "__name", "__all"}
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "piechart",
               "state-timeline", "status-history", "histogram"}
SUFFIXES = ("_bucket", "_sum", "_count")
# Values that match everything, for --exprs.
EXPR_VALUES = {"hostname": ".*", "dag_id": ".*", "__rate_interval": "1m", "__interval": "15s",
               "__range": "5m"}

failed = 0


def check(name, problems):
    global failed
    if problems:
        failed += 1
        more = f"; ... ({len(problems)})" if len(problems) > 6 else ""
        print(f"FAIL {name}: " + "; ".join(problems[:6]) + more)
    else:
        print(f"PASS {name}")


def names_from_docs(path):
    """{name: type} from the rows of docs/metrics.md's generated table that
    name an updraft_ metric and a type (counter, gauge, histogram)."""
    out = {}
    text = open(path, encoding="utf-8").read()
    begin = text.find("<!-- BEGIN generated")
    end = text.find("<!-- END generated", begin)
    if begin < 0 or end < 0:
        sys.exit(f"{path}: the markers of the generated table are missing")
    for line in text[begin:end].splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        name = next((m.group(0) for c in cells for m in [re.match(r"updraft_[a-z0-9_]+", c.strip("` "))] if m), None)
        kind = next((c.lower() for c in cells if c.lower() in ("counter", "gauge", "histogram")), None)
        if name and kind:
            out[name] = kind
    return out


def names_from_exposition(paths):
    """{name: type} from the # TYPE lines of Prometheus text expositions."""
    out = {}
    for p in paths:
        for line in open(p, encoding="utf-8"):
            m = re.match(r"# TYPE (updraft_[a-zA-Z0-9_:]+) (\w+)", line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels") or [])


def expr_vars(expr):
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", expr))


def substitute(expr):
    def val(m):
        return EXPR_VALUES.get(m.group(1) or m.group(2), ".*")
    return re.sub(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", val, expr)


def metric_refs(expr):
    """(name as written, base metric) for every updraft_ identifier."""
    refs = []
    for n in re.findall(r"\bupdraft_[a-z0-9_]+", expr):
        base = n
        for s in SUFFIXES:
            if n.endswith(s):
                base = n[: -len(s)]
        refs.append((n, base))
    return refs


def calls_over(expr, func):
    """The metric names read directly inside func(...)."""
    found = []
    for m in re.finditer(r"\b" + func + r"\s*\(", expr):
        depth, i = 1, m.end()
        while i < len(expr) and depth:
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            i += 1
        found += re.findall(r"\bupdraft_[a-z0-9_]+", expr[m.end():i])
    return found


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    dash = json.load(open(argv[1], encoding="utf-8"))
    targets = [(p, t) for p in walk_panels(dash.get("panels") or []) for t in p.get("targets") or []]
    if argv[2] == "--exprs":
        for p, t in targets:
            print(f"{p.get('id')}\t{t.get('refId')}\t{substitute(t.get('expr', ''))}")
        return 0
    if argv[2] != "--docs" or len(argv) < 4 or (len(argv) > 4 and argv[4] != "--exposition"):
        sys.exit(__doc__)
    table = names_from_docs(argv[3])
    check("the metric table names metrics", [] if len(table) >= 20 else [f"only {len(table)} metrics found"])
    if len(argv) > 5:
        live = names_from_exposition(argv[5:])
        probs = [] if live else ["no updraft_ metric in the answers"]
        probs += [f"{n} ({k}) is not in the table" for n, k in sorted(live.items()) if n not in table]
        probs += [f"{n} is a {k}, the table says {table[n]}" for n, k in sorted(live.items())
                  if n in table and table[n] != k]
        check(f"the {len(live)} metrics the daemons expose are in the table, of its types", probs)

    top = []
    if not isinstance(dash, dict):
        top.append("not a JSON object")
    uid = dash.get("uid")
    if not isinstance(uid, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
        top.append(f"uid {uid!r}")
    if not isinstance(dash.get("title"), str) or not dash["title"].strip():
        top.append("no title")
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        top.append(f"schemaVersion {dash.get('schemaVersion')!r}")
    if not isinstance(dash.get("panels"), list) or not dash["panels"]:
        top.append("no panels")
    if dash.get("id") not in (None,):
        top.append("id must be null in a dashboard to import")
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus"
               for i in dash.get("__inputs") or []):
        top.append("no __inputs DS_PROMETHEUS")
    check("Grafana's import shape (uid, title, schemaVersion, panels, __inputs)", top)

    variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list") or []}
    probs = []
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        probs.append("no datasource variable of type datasource for prometheus")
    for name in ("hostname", "dag_id"):
        v = variables.get(name)
        if not v or v.get("type") != "query" or "updraft_" not in json.dumps(v.get("query")):
            probs.append(f"no query variable {name} over updraft_ metrics")
    for name, v in variables.items():
        if v.get("type") == "query" and (v.get("datasource") or {}).get("uid") != "${datasource}":
            probs.append(f"variable {name} does not read the chosen data source")
    check("templating: datasource, hostname and dag_id variables", probs)

    probs, ids, boxes = [], set(), []
    for p in walk_panels(dash.get("panels") or []):
        pid = p.get("id")
        if not isinstance(pid, int):
            probs.append(f"panel {p.get('title')!r}: id {pid!r}")
        elif pid in ids:
            probs.append(f"panel id {pid} twice")
        ids.add(pid)
        if p.get("type") not in PANEL_TYPES:
            probs.append(f"panel {pid}: type {p.get('type')!r}")
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) and g.get(k) >= 0 for k in ("h", "w", "x", "y")) or \
                not g.get("h") or not g.get("w") or g["x"] + g["w"] > 24:
            probs.append(f"panel {pid}: gridPos {g}")
        else:
            for other_id, o in boxes:
                if g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"] and \
                        g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]:
                    probs.append(f"panels {other_id} and {pid} overlap")
            boxes.append((pid, g))
        if p.get("type") == "row":
            continue
        if not (p.get("title") or "").strip():
            probs.append(f"panel {pid}: no title")
        if (p.get("datasource") or {}).get("uid") not in ("${datasource}", "${DS_PROMETHEUS}"):
            probs.append(f"panel {pid}: data source {p.get('datasource')}")
        ts = p.get("targets") or []
        if not ts:
            probs.append(f"panel {pid}: no target")
        refs = [t.get("refId") for t in ts]
        if len(set(refs)) != len(refs) or not all(refs):
            probs.append(f"panel {pid}: refIds {refs}")
        for t in ts:
            if not (t.get("expr") or "").strip():
                probs.append(f"panel {pid} {t.get('refId')}: no expr")
    check("panels: unique ids, gridPos inside 24 columns without overlap, data source, targets", probs)

    probs, used = [], set()
    for p, t in targets:
        expr, where = t.get("expr") or "", f"panel {p.get('id')} {t.get('refId')}"
        for v in expr_vars(expr) - set(variables) - GRAFANA_VARS:
            probs.append(f"{where}: ${v} is not a variable")
        refs = metric_refs(expr)
        if not refs:
            probs.append(f"{where}: names no updraft_ metric")
        for written, base in refs:
            kind = table.get(written) or table.get(base)
            if written in table:
                base = written
            if kind is None:
                probs.append(f"{where}: {written} is not in the metric table")
                continue
            used.add(base)
            if written != base and kind != "histogram":
                probs.append(f"{where}: {written} read from a {kind}")
        for n in calls_over(expr, "histogram_quantile"):
            if not n.endswith("_bucket"):
                probs.append(f"{where}: histogram_quantile over {n}, not a _bucket series")
        for func in ("rate", "increase", "irate"):
            for n in calls_over(expr, func):
                base = n if n in table else re.sub(r"_(bucket|sum|count)$", "", n)
                if table.get(base) == "gauge":
                    probs.append(f"{where}: {func}() of the gauge {n}")
    check("expressions: variables defined, updraft_ names from the metric table, types read rightly", probs)

    absent = sorted(set(table) - used - set(ALLOWED_ABSENT))
    check("every metric of the table is on a panel", [f"{n} is on no panel" for n in absent])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
