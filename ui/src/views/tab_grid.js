/*
 * tab_grid.js - /dags/{dag_id}/grid: the last N runs as columns (newest on
 * the right) and the tasks as rows, task groups collapsible, a mapped task
 * one row with its instances counted per state; each cell coloured by the
 * task instance's state. One request (GET /ui/grid/{dag_id}?limit=N); the
 * grid is painted on a canvas as large as the visible part (1,000 runs x
 * 100 tasks is 100,000 cells, too many elements for a fast page), and one
 * listener per kind of event finds the cell under the pointer. Clicking a
 * cell (or Enter on the selected one; arrow keys move it) opens the task
 * instance's panel, clicking a run's bar opens the run; clicking a group's
 * name folds or unfolds it.
 *
 * Live: live.js's watch() long-polls GET /ui/changes for this DAG while the
 * page is visible; on a change the grid is read again and redrawn when its
 * answer differs (no fixed-interval polling).
 */
import { apiGrid, qs } from '../api.js';
import { el, fill, fmtTime, fmtDuration, secondsBetween, stateBadge, errorBox, path } from '../dom.js';
import { go } from '../nav.js';
import { watch } from '../live.js';

const SIZES = [25, 50, 100, 365, 1000];
/* The state a group's (or a mapped task's) cell shows: the first of these any of its instances has. */
const ORDER = ['failed', 'upstream_failed', 'up_for_retry', 'up_for_reschedule', 'queued',
  'scheduled', 'deferred', 'running', 'restarting', 'none', 'success', 'skipped', 'removed'];
const RANK = Object.fromEntries(ORDER.map((s, i) => [s, i]));
/* Airflow's state colours (style.css .st-*), for the canvas. */
const COLOURS = {
  success: '#008000', running: '#01ff70', failed: '#ff0000', upstream_failed: '#ffa500',
  skipped: '#ff69b4', up_for_retry: '#ffd700', up_for_reschedule: '#40e0d0', queued: '#808080',
  scheduled: '#d2b48c', deferred: '#9370db', restarting: '#ee82ee', removed: '#d3d3d3',
};
/* The grid's geometry: the names' width, a run's column, a task's row, the run bars. */
const NAME_W = 260, CW = 14, RH = 20, HEAD_H = 52;

/* Writes s at (x, y) cut to end at most at max; returns where it ended. */
function text(ctx, s, x, y, max) {
  if (x >= max) return x;
  let w = ctx.measureText(s).width;
  if (x + w > max) {
    let lo = 0, hi = s.length;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ctx.measureText(s.slice(0, mid) + '…').width + x <= max) lo = mid; else hi = mid - 1; }
    s = s.slice(0, lo) + '…';
    w = ctx.measureText(s).width;
  }
  ctx.fillText(s, x, y);
  return x + w;
}

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
  let stopped = false;

  const sizeSel = el('select', { id: 'grid-runs', 'aria-label': 'runs shown' },
    SIZES.map((s) => el('option', { value: String(s), selected: s === n }, `${s} runs`)));
  sizeSel.addEventListener('change', () =>
    go(path.dag(dagId, 'grid') + qs({ runs: sizeSel.value === '25' ? '' : sizeSel.value, before }), true));
  const pager = el('span');
  const live = el('span', { class: 'muted', id: 'grid-live' });
  const status = el('div');
  const grid = el('div', { class: 'grid', id: 'grid', tabindex: '0', role: 'application',
    'aria-label': 'runs and tasks: arrow keys move, Enter opens' });
  const empty = el('p', { class: 'muted', id: 'grid-empty' });
  const panel = el('aside', { class: 'grid-panel', id: 'grid-panel', hidden: true });
  fill(container,
    el('div', { class: 'toolbar' }, 'Show ', sizeSel, pager, el('span', { class: 'spacer' }), live),
    status,
    el('div', { class: 'grid-layout' }, grid, panel), empty);

  /* Row keys survive a redraw: 't:<task_id>' or 'g:<group_id>'. */
  const rowKey = (row) => (row.kind === 'task' ? 't:' + data.tasks[row.node.idx].task_id : 'g:' + row.node.id);

  /*
   * The grid is drawn on a canvas the size of the visible part, kept in
   * view (position: sticky) inside a box as large as the whole grid,
   * whose scrollbars move what the canvas shows: the cost of a frame
   * depends on the window, not on the number of runs and tasks.
   */
  const inner = el('div', { class: 'g-inner' });
  const canvas = el('canvas', { class: 'g-canvas' });
  inner.appendChild(canvas);
  grid.appendChild(inner);
  Object.assign(grid.dataset, { nameW: NAME_W, cellW: CW, rowH: RH, headH: HEAD_H });
  let hover = null, colours = null, frame = 0;

  function readColours() {
    const cs = getComputedStyle(grid);
    const v = (n, d) => (cs.getPropertyValue(n) || '').trim() || d;
    colours = { bg: v('--panel', '#fff'), fg: v('--fg', '#1d2430'), muted: v('--muted', '#667085'),
      line: v('--line', '#dfe3e8'), hover: v('--hover', '#eef3fb'), accent: v('--accent', '#017cee') };
  }

  function layoutBox() {
    inner.style.width = NAME_W + cols.length * CW + 12 + 'px';
    inner.style.height = HEAD_H + rows.length * RH + 6 + 'px';
  }

  function paint() {
    frame = 0;
    if (!data) return;
    const w = grid.clientWidth, h = Math.min(grid.clientHeight, HEAD_H + rows.length * RH + 6);
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.width = w + 'px';
      canvas.style.height = h + 'px';
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const C = colours;
    const sx = grid.scrollLeft, sy = grid.scrollTop;
    ctx.fillStyle = C.bg;
    ctx.fillRect(0, 0, w, h);
    const c0 = Math.max(0, Math.floor(sx / CW)), c1 = Math.min(cols.length - 1, Math.ceil((sx + w - NAME_W) / CW));
    const r0 = Math.max(0, Math.floor(sy / RH)), r1 = Math.min(rows.length - 1, Math.ceil((sy + h - HEAD_H) / RH));
    const X = (c) => NAME_W + c * CW - sx + 1, Y = (r) => HEAD_H + r * RH - sy;
    if (hover && hover.r >= 0 && hover.r >= r0 && hover.r <= r1) {
      ctx.fillStyle = C.hover;
      ctx.fillRect(0, Y(hover.r), w, RH);
    }
    /* The cells. */
    for (let r = r0; r <= r1; r++) {
      const row = rows[r], y = Y(r);
      const task = row.kind === 'task';
      for (let c = c0; c <= c1; c++) {
        const run = cols[c];
        const cell = task ? run.tis[row.node.idx] : groupCell(run, row.node.tasks);
        if (!cell) continue;
        const s = stCls(cell[0]), x = X(c);
        if (s === 'none') {
          ctx.strokeStyle = C.line;
          ctx.strokeRect(x + 0.5, y + 3.5, 11, 13);
          continue;
        }
        ctx.fillStyle = COLOURS[s] || '#999';
        if (!task) ctx.fillRect(x, y + 5, 12, 10);
        else if (cell.length > 4) { ctx.beginPath(); ctx.roundRect(x, y + 3, 12, 14, 5); ctx.fill(); }
        else ctx.fillRect(x, y + 3, 12, 14);
      }
    }
    /* The run bars, over the cells that scrolled under them. */
    ctx.fillStyle = C.bg;
    ctx.fillRect(0, 0, w, HEAD_H);
    const maxDur = Math.max(1, ...cols.map((r) => runDuration(r) || 0));
    for (let c = c0; c <= c1; c++) {
      const run = cols[c], d = runDuration(run);
      const bh = Math.max(4, Math.round(((d || 0) / maxDur) * 38));
      ctx.fillStyle = COLOURS[stCls(run.state)] || '#999';
      ctx.fillRect(X(c), HEAD_H - 4 - bh, 12, bh);
    }
    ctx.fillStyle = C.line;
    ctx.fillRect(0, HEAD_H - 1, w, 1);
    /* The names, over the cells that scrolled under them. */
    ctx.fillStyle = C.bg;
    ctx.fillRect(0, 0, NAME_W, h);
    if (hover && hover.r >= r0 && hover.r <= r1) {
      ctx.fillStyle = C.hover;
      ctx.fillRect(0, Y(hover.r), NAME_W, RH);
    }
    ctx.textBaseline = 'middle';
    ctx.fillStyle = C.muted;
    ctx.font = '12px system-ui, "DejaVu Sans", sans-serif';
    ctx.fillText(cols.length ? `${cols.length} run${cols.length === 1 ? '' : 's'}` : '', 8, HEAD_H / 2);
    for (let r = r0; r <= r1; r++) {
      const row = rows[r], y = Y(r) + RH / 2;
      if (y < HEAD_H) continue;
      let x = 8 + row.depth * 14;
      if (row.kind === 'group') {
        ctx.fillStyle = C.accent;
        ctx.font = '12px system-ui, "DejaVu Sans", sans-serif';
        ctx.fillText(collapsed.has(row.node.id) ? '▸' : '▾', x, y);
        x += 14;
        ctx.fillStyle = C.fg;
        ctx.font = '600 13px system-ui, "DejaVu Sans", sans-serif';
        x = text(ctx, row.node.label, x, y, NAME_W - 8);
        ctx.fillStyle = C.muted;
        ctx.font = '13px system-ui, "DejaVu Sans", sans-serif';
        text(ctx, ` (${row.node.tasks.length})`, x, y, NAME_W - 8);
      } else {
        const t = data.tasks[row.node.idx];
        const short = t.group && t.task_id.startsWith(t.group + '.') ? t.task_id.slice(t.group.length + 1) : t.task_id;
        ctx.fillStyle = C.fg;
        ctx.font = '13px system-ui, "DejaVu Sans", sans-serif';
        x = text(ctx, short, x, y, NAME_W - 8);
        if (t.is_mapped) {
          const last = cols.length ? cols[cols.length - 1].tis[row.node.idx] : null;
          const total = last && last[4] ? Object.values(last[4]).reduce((a, b) => a + b, 0) : 0;
          ctx.fillStyle = C.muted;
          text(ctx, ` [${total || ' '}]`, x, y, NAME_W - 8);
        }
      }
    }
    ctx.fillStyle = C.line;
    ctx.fillRect(NAME_W - 1, 0, 1, h);
    /* The selection. */
    if (sel && sel.c >= c0 && sel.c <= c1 && (sel.r < 0 || (sel.r >= r0 && sel.r <= r1))) {
      const x = X(sel.c), y = sel.r < 0 ? 2 : Y(sel.r) + 1;
      ctx.strokeStyle = C.accent;
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 2, y, 16, sel.r < 0 ? HEAD_H - 4 : RH - 2);
      ctx.lineWidth = 1;
    }
  }

  const repaint = () => { if (!frame) frame = requestAnimationFrame(paint); };

  function draw() {
    const t0 = performance.now();
    const wasAtRight = grid.scrollLeft + grid.clientWidth >= grid.scrollWidth - 4;
    const selKey = sel ? { run: cols[sel.c] ? cols[sel.c].run_id : null,
      row: sel.r >= 0 && rows[sel.r] ? rowKey(rows[sel.r]) : null, bar: sel.r < 0 } : null;
    cols = data.runs.slice().reverse();
    rows = flatten(tree, collapsed);
    readColours();
    layoutBox();
    fill(empty, !rows.length ? 'This DAG has no tasks.' : !cols.length ? 'No runs yet.' : '');
    sel = null;
    if (selKey) {
      const c = cols.findIndex((r) => r.run_id === selKey.run);
      const r = selKey.bar ? -1 : rows.findIndex((row) => rowKey(row) === selKey.row);
      if (c >= 0 && (r >= 0 || selKey.bar)) sel = { r, c };
    }
    if (wasAtRight || !sig) grid.scrollLeft = grid.scrollWidth;
    paint();
    if (panelKey) showPanel(panelKey.run_id, panelKey.key);
    grid.dataset.drawMs = String(Math.round(performance.now() - t0));
    grid.dataset.runs = String(cols.length);
    grid.dataset.rows = String(rows.length);
  }

  /* ---- selection and the panel ---- */

  function select(r, c) {
    sel = { r, c };
    /* Into view: the cell's box inside the scrolled area. */
    const x = NAME_W + c * CW, y = HEAD_H + Math.max(0, r) * RH;
    if (x - NAME_W < grid.scrollLeft) grid.scrollLeft = x - NAME_W;
    else if (x + CW > grid.scrollLeft + grid.clientWidth) grid.scrollLeft = x + CW - grid.clientWidth;
    if (r >= 0 && y - HEAD_H < grid.scrollTop) grid.scrollTop = y - HEAD_H;
    else if (r >= 0 && y + RH > grid.scrollTop + grid.clientHeight) grid.scrollTop = y + RH - grid.clientHeight;
    repaint();
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

  /* What a point of the grid is: {area: 'name' | 'cell', r (-1: the run bars), c} or null. */
  function hit(e) {
    const b = grid.getBoundingClientRect();
    const x = e.clientX - b.left - grid.clientLeft, y = e.clientY - b.top - grid.clientTop;
    if (x < 0 || y < 0 || x >= grid.clientWidth || y >= grid.clientHeight) return null;
    const r = y < HEAD_H ? -1 : Math.floor((y - HEAD_H + grid.scrollTop) / RH);
    if (r >= rows.length) return null;
    if (x < NAME_W) return r >= 0 ? { area: 'name', r } : null;
    const c = Math.floor((x - NAME_W + grid.scrollLeft) / CW);
    return c >= 0 && c < cols.length ? { area: 'cell', r, c } : null;
  }

  grid.addEventListener('click', (e) => {
    const h = hit(e);
    if (!h) return;
    grid.focus({ preventScroll: true });
    if (h.area === 'name') {
      const row = rows[h.r];
      if (row.kind !== 'group') return;
      if (collapsed.has(row.node.id)) collapsed.delete(row.node.id); else collapsed.add(row.node.id);
      try { localStorage.setItem(collapsedKey(dagId), JSON.stringify([...collapsed])); } catch (err) { /* private mode */ }
      draw();
      return;
    }
    sel = { r: h.r, c: h.c };
    repaint();
    open(h.r, h.c);
  });
  grid.addEventListener('mousemove', (e) => {
    const h = hit(e);
    const r = h ? h.r : null;
    canvas.style.cursor = h && (h.area === 'cell' || (rows[h.r] && rows[h.r].kind === 'group')) ? 'pointer' : 'default';
    canvas.title = h && h.area === 'cell' ? cellTitle(h.r, h.c) : h && rows[h.r] ? (rows[h.r].kind === 'task' ? data.tasks[rows[h.r].node.idx].task_id : rows[h.r].node.tooltip || rows[h.r].node.id) : '';
    if ((hover ? hover.r : null) !== r) { hover = h ? { r } : null; repaint(); }
  });
  grid.addEventListener('mouseleave', () => { hover = null; repaint(); });
  grid.addEventListener('scroll', repaint, { passive: true });
  const resize = new ResizeObserver(repaint);
  resize.observe(grid);
  const scheme = window.matchMedia('(prefers-color-scheme: dark)');
  const onScheme = () => { readColours(); repaint(); };
  scheme.addEventListener('change', onScheme);
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
    const d = await apiGrid(dagId, { limit: n, before });
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

  const showLive = () => {
    live.textContent = active() ? '● live' : '';
  };

  try {
    await load();
  } catch (e) {
    fill(status, errorBox(e));
  }
  showLive();
  const stopWatch = watch(dagId, async () => {
    try {
      await load();
      fill(status);
    } catch (e) {
      if (!stopped) fill(status, errorBox(e));
    }
    showLive();
  });
  return () => {
    stopped = true;
    stopWatch();
    resize.disconnect();
    scheme.removeEventListener('change', onScheme);
  };
}
