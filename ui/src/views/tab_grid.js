/*
 * tab_grid.js - /dags/{dag_id}/grid: the last N runs as columns (newest on
 * the right) and the tasks as rows, task groups collapsible, a mapped task
 * one row with its instances counted per state; each cell coloured by the
 * task instance's state. One request (GET /ui/grid/{dag_id}?limit=N) and
 * one pass that builds the rows into a DocumentFragment: a cell is a bare
 * element with a class, and one delegated listener per kind of event
 * serves them all (1,000 runs x 100 tasks is 100,000 cells). Clicking a
 * cell (or Enter on the selected one; arrow keys move it) opens the task
 * instance's panel, clicking a run's bar opens the run.
 *
 * Live: while a shown run is queued or running and the page is visible,
 * the grid is read again every 5 s and redrawn when it changed.
 */
import { api, qs } from '../api.js';
import { el, fill, fmtTime, fmtDuration, secondsBetween, stateBadge, errorBox, path } from '../dom.js';
import { go } from '../nav.js';

const SIZES = [25, 50, 100, 365, 1000];
const POLL_MS = 5000;
/* The state a group's (or a mapped task's) cell shows: the first of these any of its instances has. */
const ORDER = ['failed', 'upstream_failed', 'up_for_retry', 'up_for_reschedule', 'queued',
  'scheduled', 'deferred', 'running', 'restarting', 'none', 'success', 'skipped', 'removed'];
const RANK = Object.fromEntries(ORDER.map((s, i) => [s, i]));

/* A state as a class name ('none' for null or anything unexpected). */
const stCls = (s) => (s && RANK[s] !== undefined ? s : 'none');
const epochIso = (t) => (t === null || t === undefined ? null : new Date(t * 1000).toISOString());

/* ---- structure: the rows ---------------------------------------------------- */

/*
 * The tree of groups and tasks in the tasks' (topological) order: a group
 * comes where its first task does. Nodes: {kind: 'group', id, label,
 * tooltip, kids, tasks (indexes of every task under it)} or {kind:
 * 'task', idx}.
 */
function buildTree(data) {
  const info = new Map();
  const walk = (gs, parent) => {
    for (const g of gs || []) {
      info.set(g.group_id, { parent, label: g.label || g.group_id, tooltip: g.tooltip || '' });
      walk(g.children, g.group_id);
    }
  };
  walk(data.groups, null);
  const root = { kind: 'group', id: null, kids: [], tasks: [] };
  const nodes = new Map([[null, root]]);
  const groupNode = (id) => {
    if (nodes.has(id)) return nodes.get(id);
    const i = info.get(id) || { parent: null, label: id, tooltip: '' };
    const parent = groupNode(i.parent !== undefined && i.parent !== id ? i.parent : null);
    const n = { kind: 'group', id, label: i.label, tooltip: i.tooltip, kids: [], tasks: [] };
    nodes.set(id, n);
    parent.kids.push(n);
    return n;
  };
  data.tasks.forEach((t, idx) => {
    const g = groupNode(t.group || null);
    g.kids.push({ kind: 'task', idx });
    for (let p = t.group || null; ; p = (info.get(p) || {}).parent ?? null) {
      nodes.get(p).tasks.push(idx);
      if (p === null) break;
    }
  });
  return root;
}

/* The rows shown: [{kind, depth, node}] with collapsed groups' insides left out. */
function flatten(root, collapsed) {
  const rows = [];
  const visit = (n, depth) => {
    for (const k of n.kids) {
      rows.push({ kind: k.kind, depth, node: k });
      if (k.kind === 'group' && !collapsed.has(k.id)) visit(k, depth + 1);
    }
  };
  visit(root, 0);
  return rows;
}

/* A group's cell in one run: [state, counts] over its tasks' instances. */
function groupCell(run, tasks) {
  let best = null;
  const counts = {};
  for (const i of tasks) {
    const c = run.tis[i];
    if (!c) continue;
    const add = (s, n) => { counts[s] = (counts[s] || 0) + n; };
    if (c.length > 4 && c[4] && Object.keys(c[4]).length) for (const [s, n] of Object.entries(c[4])) add(s, n);
    else add(stCls(c[0]), 1);
    const s = stCls(c[0]);
    if (best === null || RANK[s] < RANK[best]) best = s;
  }
  return best === null ? null : [best, counts];
}

/* ---- drawing ------------------------------------------------------------------ */

function collapsedKey(dagId) {
  return 'updraft.grid.collapsed.' + dagId;
}

function loadCollapsed(dagId) {
  try {
    return new Set(JSON.parse(localStorage.getItem(collapsedKey(dagId)) || '[]'));
  } catch (e) {
    return new Set();
  }
}

function runDuration(r) {
  return r.start_date ? secondsBetween(r.start_date, r.end_date) : null;
}

export async function render(container, dag, query) {
  const dagId = dag.dag_id;
  const n = SIZES.includes(Number(query.get('runs'))) ? Number(query.get('runs')) : 25;
  const before = query.get('before') || '';
  const collapsed = loadCollapsed(dagId);
  let data = null, cols = [], rows = [], tree = null, sig = '';
  let sel = null; // {r: row index (-1: the run bars), c: column}
  let panelKey = null; // what the panel shows: {run_id, key}
  let timer = null, stopped = false;

  const sizeSel = el('select', { id: 'grid-runs', 'aria-label': 'runs shown' },
    SIZES.map((s) => el('option', { value: String(s), selected: s === n }, `${s} runs`)));
  sizeSel.addEventListener('change', () =>
    go(path.dag(dagId, 'grid') + qs({ runs: sizeSel.value === '25' ? '' : sizeSel.value, before }), true));
  const pager = el('span');
  const live = el('span', { class: 'muted', id: 'grid-live' });
  const status = el('div');
  const grid = el('div', { class: 'grid', id: 'grid', tabindex: '0', role: 'grid', 'aria-label': 'runs and tasks' });
  const panel = el('aside', { class: 'grid-panel', id: 'grid-panel', hidden: true });
  fill(container,
    el('div', { class: 'toolbar' }, 'Show ', sizeSel, pager, el('span', { class: 'spacer' }), live),
    status,
    el('div', { class: 'grid-layout' }, grid, panel));

  /* Row keys survive a redraw: 't:<task_id>' or 'g:<group_id>'. */
  const rowKey = (row) => (row.kind === 'task' ? 't:' + data.tasks[row.node.idx].task_id : 'g:' + row.node.id);

  function draw() {
    const keepLeft = grid.scrollLeft, keepTop = grid.scrollTop;
    const wasAtRight = grid.scrollLeft + grid.clientWidth >= grid.scrollWidth - 4;
    const selKey = sel ? { run: sel.c >= 0 && cols[sel.c] ? cols[sel.c].run_id : null, row: sel.r >= 0 && rows[sel.r] ? rowKey(rows[sel.r]) : null, bar: sel.r < 0 } : null;
    cols = data.runs.slice().reverse();
    rows = flatten(tree, collapsed);
    const frag = document.createDocumentFragment();

    /* The run bars: height by duration, colour by state. */
    const maxDur = Math.max(1, ...cols.map((r) => runDuration(r) || 0));
    const head = el('div', { class: 'g-row g-head', role: 'row' },
      el('div', { class: 'g-name' }, cols.length ? el('span', { class: 'muted' },
        `${cols.length} run${cols.length === 1 ? '' : 's'}`) : null));
    for (const r of cols) {
      const d = runDuration(r);
      const b = document.createElement('i');
      b.className = 'rb st-' + stCls(r.state);
      b.style.height = Math.max(4, Math.round(((d || 0) / maxDur) * 40)) + 'px';
      head.appendChild(b);
    }
    frag.appendChild(head);

    /* The rows: a name, then one cell per run. */
    rows.forEach((row, ri) => {
      const line = document.createElement('div');
      line.className = 'g-row';
      line.setAttribute('role', 'row');
      line.dataset.row = String(ri);
      let name;
      if (row.kind === 'task') {
        const t = data.tasks[row.node.idx];
        line.dataset.task = t.task_id;
        const short = t.group && t.task_id.startsWith(t.group + '.') ? t.task_id.slice(t.group.length + 1) : t.task_id;
        let mapped = null;
        if (t.is_mapped) {
          const last = cols.length ? cols[cols.length - 1].tis[row.node.idx] : null;
          const total = last && last[4] ? Object.values(last[4]).reduce((a, b) => a + b, 0) : 0;
          mapped = el('span', { class: 'muted' }, ` [${total || ' '}]`);
        }
        name = el('div', { class: 'g-name', title: t.task_id, style: { paddingLeft: 8 + row.depth * 14 + 'px' } }, short, mapped);
        line.appendChild(name);
        for (const r of cols) {
          const c = r.tis[row.node.idx];
          const x = document.createElement('i');
          x.className = c ? (c.length > 4 ? 'c m st-' : 'c st-') + stCls(c[0]) : 'c empty';
          line.appendChild(x);
        }
      } else {
        const g = row.node;
        line.dataset.group = g.id;
        line.classList.add('g-group');
        const open = !collapsed.has(g.id);
        name = el('div', { class: 'g-name', title: g.tooltip || g.id, style: { paddingLeft: 4 + row.depth * 14 + 'px' } },
          el('button', { class: 'g-toggle linkish', 'data-toggle': g.id, 'aria-expanded': open ? 'true' : 'false',
            title: open ? 'collapse' : 'expand' }, open ? '▾' : '▸'),
          g.label, el('span', { class: 'muted' }, ` (${g.tasks.length})`));
        line.appendChild(name);
        for (const r of cols) {
          const c = groupCell(r, g.tasks);
          const x = document.createElement('i');
          x.className = c ? 'c grp st-' + c[0] : 'c empty';
          line.appendChild(x);
        }
      }
      frag.appendChild(line);
    });
    if (!rows.length) frag.appendChild(el('p', { class: 'muted' }, 'This DAG has no tasks.'));
    else if (!cols.length) frag.appendChild(el('p', { class: 'muted', style: { padding: '0 8px' } }, 'No runs yet.'));
    grid.replaceChildren(frag);

    /* Where the user was: the same run and row, the same scroll (or the newest runs). */
    sel = null;
    if (selKey) {
      const c = cols.findIndex((r) => r.run_id === selKey.run);
      const r = selKey.bar ? -1 : rows.findIndex((row) => rowKey(row) === selKey.row);
      if (c >= 0 && (r >= 0 || selKey.bar)) select(r, c, false);
    }
    grid.scrollTop = keepTop;
    grid.scrollLeft = wasAtRight || !sig ? grid.scrollWidth : keepLeft;
    if (panelKey) showPanel(panelKey.run_id, panelKey.key);
  }

  /* ---- selection and the panel ---- */

  const cellAt = (r, c) => {
    const line = r < 0 ? grid.firstChild : grid.children[r + 1];
    return line ? line.children[c + 1] : null;
  };

  function select(r, c, scroll = true) {
    if (sel) { const old = cellAt(sel.r, sel.c); if (old) old.classList.remove('sel'); }
    sel = { r, c };
    const x = cellAt(r, c);
    if (x) {
      x.classList.add('sel');
      if (scroll) x.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }
  }

  function cellTitle(r, c) {
    const run = cols[c];
    if (!run) return '';
    if (r < 0) {
      const d = runDuration(run);
      return `${run.run_id}\n${run.state}` + (d !== null ? `, ${fmtDuration(d)}` : '') +
        `\n${fmtTime(run.logical_date)}`;
    }
    const row = rows[r];
    if (!row) return '';
    if (row.kind === 'group') {
      const g = groupCell(run, row.node.tasks);
      return `${row.node.id} in ${run.run_id}\n` + (g ? Object.entries(g[1]).map(([s, k]) => `${s}: ${k}`).join(', ') : 'no instances');
    }
    const t = data.tasks[row.node.idx], x = run.tis[row.node.idx];
    if (!x) return `${t.task_id} in ${run.run_id}\nno instance`;
    const d = x[2] ? (x[3] ? x[3] - x[2] : Date.now() / 1000 - x[2]) : null;
    return `${t.task_id} in ${run.run_id}\n${x[0] || 'no status'}` + (d !== null ? `, ${fmtDuration(d)}` : '') +
      (x.length > 4 ? '\n' + Object.entries(x[4]).map(([s, k]) => `${s}: ${k}`).join(', ') : '');
  }

  const fact = (k, ...v) => [el('dt', null, k), el('dd', null, ...v)];

  /* The panel of the task instance (key 't:task') or group ('g:group') in a run. */
  function showPanel(runId, key) {
    const run = data.runs.find((r) => r.run_id === runId);
    const close = el('button', { class: 'linkish g-close', title: 'close', 'aria-label': 'close',
      onclick: () => { panelKey = null; panel.hidden = true; grid.focus(); } }, '✕');
    if (!run) { panelKey = null; panel.hidden = true; return; }
    panelKey = { run_id: runId, key };
    panel.hidden = false;
    const runLink = el('a', { href: path.run(dagId, run.run_id) }, run.run_id);
    if (key.startsWith('g:')) {
      const node = (function find(n) {
        if (n.kind === 'group' && 'g:' + n.id === key) return n;
        for (const k of n.kids || []) { const f = find(k); if (f) return f; }
        return null;
      })(tree);
      const g = node ? groupCell(run, node.tasks) : null;
      fill(panel, close, el('h2', null, 'Group ', el('span', { class: 'mono' }, node ? node.id : key.slice(2))),
        el('dl', { class: 'facts' },
          fact('Run', runLink),
          fact('State', stateBadge(g ? g[0] : null)),
          fact('Tasks', node ? String(node.tasks.length) : ''),
          g ? fact('Instances', Object.entries(g[1]).map(([s, k]) => el('span', { class: `state st-${stCls(s)}`, style: { marginRight: '3px' } }, `${s.replace(/_/g, ' ')}: ${k}`))) : null),
        node && node.tooltip ? el('p', { class: 'muted' }, node.tooltip) : null);
      return;
    }
    const ti = data.tasks.findIndex((t) => 't:' + t.task_id === key);
    if (ti < 0) { panelKey = null; panel.hidden = true; return; }
    const t = data.tasks[ti], x = run.tis[ti];
    const start = x ? epochIso(x[2]) : null, end = x ? epochIso(x[3]) : null;
    fill(panel, close,
      el('h2', null, el('span', { class: 'mono', id: 'panel-task' }, t.task_id)),
      el('dl', { class: 'facts' },
        fact('Run', runLink),
        fact('State', el('span', { id: 'panel-state' }, stateBadge(x ? x[0] : null))),
        fact('Operator', t.operator || ''),
        x ? fact('Try', String(x[1])) : null,
        x ? fact('Started', start ? fmtTime(start) : '—') : null,
        x ? fact('Ended', end ? fmtTime(end) : '—') : null,
        x && start ? fact('Duration', fmtDuration(secondsBetween(start, end))) : null,
        x && x.length > 4 ? fact('Mapped', Object.keys(x[4]).length
          ? Object.entries(x[4]).map(([s, k]) => el('span', { class: `state st-${stCls(s)}`, style: { marginRight: '3px' } }, `${s.replace(/_/g, ' ')}: ${k}`))
          : 'not expanded yet') : null,
        t.upstream && t.upstream.length ? fact('Upstream', t.upstream.join(', ')) : null),
      x ? el('div', { class: 'toolbar', style: { marginTop: '12px' } },
        el('a', { class: 'button', id: 'panel-log', href: path.ti(dagId, run.run_id, t.task_id, 'logs') }, 'Log'),
        el('a', { class: 'button', id: 'panel-details', href: path.ti(dagId, run.run_id, t.task_id) }, 'Details'))
        : el('p', { class: 'muted' }, 'This run has no instance of the task.'));
  }

  function open(r, c) {
    const run = cols[c];
    if (!run) return;
    if (r < 0) { go(path.run(dagId, run.run_id)); return; }
    if (rows[r]) showPanel(run.run_id, rowKey(rows[r]));
  }

  /* Which cell an event is on: {r, c} or null. */
  function hit(target) {
    if (!(target instanceof Element) || target.tagName !== 'I') return null;
    const line = target.parentNode;
    if (!line || line.parentNode !== grid) return null;
    const c = Array.prototype.indexOf.call(line.children, target) - 1;
    const r = line.classList.contains('g-head') ? -1 : Number(line.dataset.row);
    return c >= 0 ? { r, c } : null;
  }

  grid.addEventListener('click', (e) => {
    const tg = e.target.closest && e.target.closest('[data-toggle]');
    if (tg) {
      const id = tg.getAttribute('data-toggle');
      if (collapsed.has(id)) collapsed.delete(id); else collapsed.add(id);
      try { localStorage.setItem(collapsedKey(dagId), JSON.stringify([...collapsed])); } catch (err) { /* private mode */ }
      draw();
      return;
    }
    const h = hit(e.target);
    if (!h) return;
    select(h.r, h.c, false);
    open(h.r, h.c);
  });
  grid.addEventListener('mouseover', (e) => {
    const h = hit(e.target);
    if (h && !e.target.title) e.target.title = cellTitle(h.r, h.c);
  });
  grid.addEventListener('keydown', (e) => {
    if (!cols.length || !rows.length) return;
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    if (moves[e.key]) {
      e.preventDefault();
      if (!sel) { select(0, cols.length - 1); return; }
      const r = Math.min(rows.length - 1, Math.max(-1, sel.r + moves[e.key][0]));
      const c = Math.min(cols.length - 1, Math.max(0, sel.c + moves[e.key][1]));
      select(r, c);
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      select(sel ? sel.r : 0, e.key === 'Home' ? 0 : cols.length - 1);
    } else if (e.key === 'Enter' && sel) {
      e.preventDefault();
      open(sel.r, sel.c);
    } else if (e.key === 'Escape' && panelKey) {
      panelKey = null;
      panel.hidden = true;
    }
  });

  /* ---- data and live updates ---- */

  const active = () => data && data.runs.some((r) => r.state === 'running' || r.state === 'queued');

  async function load() {
    const d = await api(`/ui/grid/${encodeURIComponent(dagId)}` + qs({ limit: n, before }));
    if (stopped) return;
    const s = JSON.stringify([d.tasks, d.groups, d.runs]);
    if (s === sig) return;
    data = d;
    tree = buildTree(d);
    draw();
    sig = s;
    fill(pager,
      d.more && d.runs.length ? el('a', { class: 'button', id: 'grid-older', href: path.dag(dagId, 'grid') +
        qs({ runs: n === 25 ? '' : n, before: d.runs[d.runs.length - 1].logical_date }) }, '← Older runs') : null,
      before ? el('a', { class: 'button', href: path.dag(dagId, 'grid') + qs({ runs: n === 25 ? '' : n }) }, 'Newest runs') : null);
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (stopped) return;
    const on = active();
    live.textContent = on ? (document.visibilityState === 'visible' ? '● live' : 'paused while hidden') : '';
    if (on && document.visibilityState === 'visible') {
      timer = setTimeout(async () => {
        try {
          await load();
          fill(status);
        } catch (e) {
          if (!stopped) fill(status, errorBox(e));
        }
        schedule();
      }, POLL_MS);
    }
  }
  const onVisible = () => schedule();
  document.addEventListener('visibilitychange', onVisible);

  try {
    await load();
  } catch (e) {
    fill(status, errorBox(e));
  }
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
