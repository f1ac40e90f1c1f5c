/*
 * tab_graph.js - /dags/{dag_id}/graph: the DAG's tasks and dependencies
 * laid out by dagre (graph_layout.js: left to right, task groups as
 * boxes) and drawn as SVG, each task coloured by its state in a chosen
 * run (?run_id=, the newest by default). Clicking a task opens its task
 * instance in that run; clicking a group's title folds it into one node,
 * clicking that node unfolds it. A DAG of more than FOLD_ABOVE tasks
 * opens with its outermost groups folded (as Airflow's graph does);
 * ?groups=folded or ?groups=unfolded chooses. The wheel zooms, dragging
 * pans.
 *
 * The structure and the states come from one request, GET
 * /ui/grid/{dag_id} (its tasks carry their group, operator and upstream
 * ids; its runs the states aligned to them). dagre is imported here, so
 * only this tab loads it.
 */
import { api, apiGrid, qs } from '../api.js';
import { el, fill, svg, fmtTime, stateBadge, errorBox, path } from '../dom.js';
import { go } from '../nav.js';
import { layout, layoutSpec, shortId, groupInfo, COMPOUND_MAX } from '../graph_layout.js';

/* Airflow's state colours (style.css .st-*), for SVG fills. */
const COLOURS = {
  success: '#008000', running: '#01ff70', failed: '#ff0000', upstream_failed: '#ffa500',
  skipped: '#ff69b4', up_for_retry: '#ffd700', up_for_reschedule: '#40e0d0', queued: '#808080',
  scheduled: '#d2b48c', deferred: '#9370db', restarting: '#ee82ee', removed: '#d3d3d3',
};
/* A folded group shows the first of these states its tasks have in the run (as the grid's group rows). */
const ORDER = ['failed', 'upstream_failed', 'up_for_retry', 'up_for_reschedule', 'queued',
  'scheduled', 'deferred', 'running', 'restarting', 'success', 'skipped', 'removed'];
const RANK = Object.fromEntries(ORDER.map((s, i) => [s, i]));
/*
 * Above this many tasks the graph opens with its outermost groups folded:
 * 1,000 tasks in groups are laid out and drawn in under 2 s, and bigger
 * graphs are more legible as an overview first.
 */
const FOLD_ABOVE = 2000;

/*
 * The layout's Web Workers (graph_worker.js; GRAPH_WORKER is its address,
 * set by ui/build.sh), made once per page when a big graph needs them: as
 * many as the cores, at most 4. None with one core or without Worker: the
 * page lays out the graphs itself then.
 */
let pool = null;
function workers() {
  if (pool) return pool.filter((w) => !w.dead);
  pool = [];
  const n = Math.min(4, navigator.hardwareConcurrency || 1);
  if (n < 2 || typeof Worker === 'undefined' || typeof GRAPH_WORKER === 'undefined') return pool;
  for (let i = 0; i < n; i++) {
    try {
      const w = { worker: new Worker(GRAPH_WORKER), pending: new Map(), next: 0 };
      const failAll = (why) => {
        for (const p of w.pending.values()) p.reject(new Error(why));
        w.pending.clear();
      };
      w.worker.onmessage = (e) => {
        const p = w.pending.get(e.data.id);
        if (!p) return;
        w.pending.delete(e.data.id);
        if (e.data.error) p.reject(new Error(e.data.error));
        else p.resolve(e.data.results);
      };
      w.worker.onerror = (e) => {
        e.preventDefault();
        w.dead = true;
        failAll(`layout worker: ${e.message || 'failed'}`);
      };
      pool.push(w);
    } catch (e) {
      break;
    }
  }
  return pool.slice();
}

/*
 * graph_layout's run(): a level's graphs shared among the workers, the
 * biggest first to the least loaded; the page does it itself when the
 * level is small, and when a worker fails.
 */
function runner(dagre) {
  const here = (specs) => specs.map((sp) => layoutSpec(dagre, sp));
  /* run.used: how many workers shared the last level they laid out (0: none). */
  const run = async (specs) => {
    const cost = (sp) => sp.nodes.length + sp.edges.length;
    const ws = specs.length > 1 && specs.reduce((a, sp) => a + cost(sp), 0) >= 200 ? workers() : [];
    if (ws.length < 2) return here(specs);
    const bins = ws.map(() => ({ idx: [], load: 0 }));
    specs.map((sp, i) => i).sort((a, b) => cost(specs[b]) - cost(specs[a])).forEach((i) => {
      const b = bins.reduce((m, x) => (x.load < m.load ? x : m));
      b.idx.push(i);
      b.load += cost(specs[i]);
    });
    try {
      const parts = await Promise.all(bins.map((b, k) => {
        if (!b.idx.length) return [];
        const w = ws[k], id = ++w.next;
        return new Promise((resolve, reject) => {
          w.pending.set(id, { resolve, reject });
          w.worker.postMessage({ id, specs: b.idx.map((i) => specs[i]) });
        });
      }));
      const out = new Array(specs.length);
      bins.forEach((b, k) => b.idx.forEach((i, j) => { out[i] = parts[k][j]; }));
      run.used = Math.max(run.used, bins.filter((b) => b.idx.length).length);
      return out;
    } catch (e) {
      return here(specs);
    }
  };
  run.used = 0;
  return run;
}

function edgePath(points) {
  if (!points || !points.length) return '';
  let d = `M${points[0].x.toFixed(1)},${points[0].y.toFixed(1)}`;
  if (points.length === 2) {
    const [a, b] = points, m = (a.x + b.x) / 2;
    return d + `C${m.toFixed(1)},${a.y.toFixed(1)} ${m.toFixed(1)},${b.y.toFixed(1)} ${b.x.toFixed(1)},${b.y.toFixed(1)}`;
  }
  /* A smooth curve through the points: quadratic segments between midpoints. */
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i], q = points[i + 1];
    const mx = i === points.length - 2 ? q.x : (p.x + q.x) / 2, my = i === points.length - 2 ? q.y : (p.y + q.y) / 2;
    d += `Q${p.x.toFixed(1)},${p.y.toFixed(1)} ${mx.toFixed(1)},${my.toFixed(1)}`;
  }
  return d;
}

export async function render(container, dag, query) {
  const dagId = dag.dag_id;
  const status = el('div');
  /* The groups shown folded; the layout drawn and its elements. */
  const folded = new Set();
  let L = null, nodeEls = [], foldEls = [], width = 100, height = 100;
  const picker = el('select', { id: 'graph-run', 'aria-label': 'run' });
  const runInfo = el('span', { id: 'graph-run-state' });
  const box = el('div', { class: 'graph-box', id: 'graph' }, el('p', { class: 'muted', style: { padding: '8px' } }, 'Laying out…'));
  const timing = el('span', { class: 'muted', id: 'graph-timing' });
  fill(container,
    el('div', { class: 'toolbar' }, 'Run ', picker, runInfo, el('span', { class: 'spacer' }), timing,
      el('button', { id: 'graph-unfold', title: 'unfold every group', onclick: () => folded.size && refold(() => folded.clear()) }, 'Unfold all'),
      el('button', { id: 'graph-fold', title: 'fold the outermost groups', onclick: () => refold(() => foldTop()) }, 'Fold groups'),
      el('button', { id: 'graph-fit', title: 'fit the graph in the view', onclick: () => fit() }, 'Fit')),
    status, box);

  let data, dagre;
  try {
    const lib = import('dagre');
    data = await apiGrid(dagId, { limit: 25 });
    dagre = await lib.then((m) => m.default || m);
  } catch (e) {
    fill(box);
    fill(status, errorBox(e));
    return;
  }
  let runIdx = Math.max(0, data.runs.findIndex((r) => r.run_id === query.get('run_id')));
  if (query.get('run_id') && !data.runs.some((r) => r.run_id === query.get('run_id'))) {
    /* An older run than the grid's newest 25: read its task states on their own. */
    try {
      const tis = await api(`/api/v1/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(query.get('run_id'))}/taskInstances` + qs({ limit: 10000 }));
      const run = await api(`/api/v1/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(query.get('run_id'))}`);
      const by = new Map();
      for (const ti of tis.task_instances) if (!by.has(ti.task_id) || ti.map_index < 0) by.set(ti.task_id, ti.state);
      data.runs.push({ run_id: run.dag_run_id, state: run.state, logical_date: run.logical_date,
        tis: data.tasks.map((t) => (by.has(t.task_id) ? [by.get(t.task_id)] : null)) });
      runIdx = data.runs.length - 1;
    } catch (e) {
      fill(status, errorBox(e));
    }
  }
  fill(picker, data.runs.length
    ? data.runs.map((r, i) => el('option', { value: String(i), selected: i === runIdx }, `${fmtTime(r.logical_date)} · ${r.run_id}`))
    : el('option', { value: '' }, 'no runs yet'));
  picker.disabled = !data.runs.length;

  /* Folded groups: the outermost ones of a big DAG to start with. */
  const info = groupInfo(data.groups);
  const members = new Map(); /* group -> indices of the tasks in it, at any depth */
  data.tasks.forEach((t, i) => {
    for (let g = t.group, d = 0; g && d < 64; g = (info.get(g) || {}).parent, d++) {
      if (!members.has(g)) members.set(g, []);
      members.get(g).push(i);
    }
  });
  function foldTop() {
    for (const [g, i] of info) if (!i.parent && members.has(g)) folded.add(g);
  }
  const groupsMode = query.get('groups');
  if (groupsMode === 'folded' || (groupsMode !== 'unfolded' && data.tasks.length > FOLD_ABOVE)) foldTop();
  if (folded.size) {
    fill(status, el('p', { class: 'muted' }, `${data.tasks.length} tasks: the groups are folded; click one to unfold it.`));
  }

  /* ---- drawing ---- */
  const root = svg('g', { class: 'viewport' });
  const defs = svg('defs', null,
    svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0L10,5L0,10z', fill: 'currentColor', class: 'arrowhead' })));
  const sv = svg('svg', { role: 'img', 'aria-label': `graph of ${dagId}` }, defs, root);
  sv.style.color = 'var(--muted)';

  let drawing = 0;
  async function draw() {
    const seq = ++drawing;
    const t0 = performance.now();
    if (runLayouts) runLayouts.used = 0;
    const next = await layout(dagre, data, folded, runLayouts);
    if (seq !== drawing) return; /* a later fold or unfold won */
    L = next;
    ({ width, height } = L);
    const t1 = performance.now();
    const clusters = svg('g'), edges = svg('g'), nodes = svg('g');
    nodeEls = new Array(data.tasks.length).fill(null);
    foldEls = [];
    /* Outer boxes first, so that inner ones are drawn over them. */
    for (const n of L.clusters.sort((a, b) => a.depth - b.depth)) {
      const x = n.x - n.width / 2, y = n.y - n.height / 2;
      const c = svg('g', { class: 'cluster', 'data-group': n.group },
        svg('rect', { x, y, width: n.width, height: n.height, rx: 8 }),
        svg('rect', { class: 'head', x, y, width: n.width, height: 20, rx: 8 }),
        svg('text', { x: x + 8, y: y + 14 }, '\u25be ' + n.label),
        svg('title', null, `${n.label}: ${n.count} tasks${n.tooltip ? '\n' + n.tooltip : ''}\n(click the title to fold)`));
      clusters.appendChild(c);
    }
    for (const e of L.edges) {
      edges.appendChild(svg('path', { class: e.implied ? 'edge implied' : 'edge', d: edgePath(e.points), 'marker-end': 'url(#arrow)' }));
    }
    for (const n of L.folded) {
      const x = n.x - n.width / 2, y = n.y - n.height / 2;
      const body = svg('rect', { class: 'body', x, y, width: n.width, height: n.height, rx: 5 });
      const bar = svg('rect', { class: 'bar', x, y, width: 6, height: n.height, rx: 2 });
      const title = svg('title');
      const ge = svg('g', { class: 'folded', 'data-group': n.group },
        body, bar, svg('text', { x: x + 14, y: y + 17 }, '\u25b8 ' + n.label),
        svg('text', { class: 'op', x: x + 14, y: y + 32 }, `${n.count} tasks`), title);
      foldEls.push({ ge, body, bar, title, group: n.group, label: n.label, count: n.count });
      nodes.appendChild(ge);
    }
    data.tasks.forEach((t, idx) => {
      const n = L.nodes[idx];
      if (!n) return;
      const x = n.x - n.width / 2, y = n.y - n.height / 2;
      const body = svg('rect', { class: 'body', x, y, width: n.width, height: n.height, rx: 5 });
      const bar = svg('rect', { class: 'bar', x, y, width: 6, height: n.height, rx: 2 });
      const title = svg('title');
      const label = svg('text', { x: x + 14, y: y + 17 }, shortId(t));
      const ge = svg('g', { class: 'node', 'data-task': t.task_id, 'data-idx': idx },
        body, bar, label,
        svg('text', { class: 'op', x: x + 14, y: y + 32 }, t.operator || ''),
        title);
      nodeEls[idx] = { ge, body, bar, title, label };
      nodes.appendChild(ge);
    });
    fill(root, clusters, edges, nodes);
    if (sv.parentNode !== box) fill(box, sv);
    paint();
    const t2 = performance.now();
    const shown = L.nodes.filter(Boolean).length;
    timing.textContent = `${data.tasks.length} tasks` + (shown < data.tasks.length ? ` (${shown} shown, ${L.folded.length} folded groups)` : '') +
      ` · dagre layout ${Math.round(t1 - t0)} ms, drawing ${Math.round(t2 - t1)} ms`;
    box.dataset.layoutMs = String(Math.round(t1 - t0));
    box.dataset.layout = L.mode;
    box.dataset.workers = String(runLayouts ? runLayouts.used : 0);
  }

  /* ---- states of the chosen run ---- */
  function paint() {
    const run = data.runs[runIdx];
    fill(runInfo, run ? [' ', stateBadge(run.state), ' ', el('a', { href: path.run(dagId, run.run_id) }, 'open run')] : null);
    data.tasks.forEach((t, idx) => {
      const n = nodeEls[idx];
      if (!n) return;
      const cell = run ? run.tis[idx] : null;
      const s = cell ? cell[0] : null;
      const col = s && COLOURS[s] ? COLOURS[s] : null;
      n.bar.setAttribute('fill', col || 'transparent');
      n.body.style.stroke = col || '';
      n.body.style.strokeWidth = col ? '2' : '';
      n.ge.setAttribute('data-state', s || 'none');
      const counts = cell && cell.length > 4 && cell[4] ? Object.entries(cell[4]).map(([k, v]) => `${k}: ${v}`).join(', ') : '';
      if (t.is_mapped) n.label.textContent = shortId(t) + ` [${cell && cell[4] ? Object.values(cell[4]).reduce((a, b) => a + b, 0) : ' '}]`;
      n.title.textContent = `${t.task_id}\n${t.operator || ''}\n${run ? (s || 'no status') : 'no run'}${counts ? '\n' + counts : ''}`;
    });
    /* A folded group: the first state (in ORDER) of its tasks, and the count of each. */
    for (const f of foldEls) {
      let best = null;
      const counts = {};
      for (const i of members.get(f.group) || []) {
        const cell = run ? run.tis[i] : null;
        if (!cell || !cell[0]) continue;
        counts[cell[0]] = (counts[cell[0]] || 0) + 1;
        if (RANK[cell[0]] !== undefined && (best === null || RANK[cell[0]] < RANK[best])) best = cell[0];
      }
      const col = best && COLOURS[best] ? COLOURS[best] : null;
      f.bar.setAttribute('fill', col || 'transparent');
      f.body.style.stroke = col || '';
      f.body.style.strokeWidth = col ? '2' : '';
      f.ge.setAttribute('data-state', best || 'none');
      const list = Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(', ');
      f.title.textContent = `${f.label}: ${f.count} tasks\n${run ? list || 'no status' : 'no run'}\n(click to unfold)`;
    }
  }
  const runLayouts = data.tasks.length > COMPOUND_MAX ? runner(dagre) : null;
  await draw();
  picker.addEventListener('change', () => {
    runIdx = Number(picker.value) || 0;
    paint();
    const run = data.runs[runIdx];
    history.replaceState(null, '', path.dag(dagId, 'graph') + qs({ run_id: run ? run.run_id : '' }));
  });

  /* ---- pan and zoom ---- */
  let view = { x: 0, y: 0, k: 1 };
  const apply = () => root.setAttribute('transform', `translate(${view.x.toFixed(1)},${view.y.toFixed(1)}) scale(${view.k.toFixed(4)})`);
  function fit() {
    const W = box.clientWidth || 800, H = box.clientHeight || 500;
    const k = Math.min(1, W / width, H / height);
    view = { k, x: (W - width * k) / 2, y: Math.max(0, (H - height * k) / 2) };
    if (k < 0.35) { /* too small to read: start at the left, readable */
      view.k = 0.6;
      view.x = 10;
      view.y = (H - height * view.k) / 2 > 0 ? (H - height * view.k) / 2 : 10;
    }
    apply();
  }
  fit();
  box.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = box.getBoundingClientRect();
    const px = e.clientX - r.left, py = e.clientY - r.top;
    const k = Math.min(4, Math.max(0.05, view.k * Math.exp(-e.deltaY * 0.0015)));
    view.x = px - ((px - view.x) * k) / view.k;
    view.y = py - ((py - view.y) * k) / view.k;
    view.k = k;
    apply();
  }, { passive: false });
  let drag = null;
  box.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false };
  });
  box.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!drag.moved) { drag.moved = true; box.classList.add('dragging'); box.setPointerCapture(e.pointerId); }
    view.x = drag.vx + dx;
    view.y = drag.vy + dy;
    apply();
  });
  const endDrag = () => {
    if (drag && drag.moved) setTimeout(() => { drag = null; }, 0);
    else drag = null;
    box.classList.remove('dragging');
  };
  box.addEventListener('pointerup', endDrag);
  box.addEventListener('pointercancel', endDrag);

  /* One listener for every node and group: open a task's instance in the chosen run, fold or unfold a group. */
  /* Fold or unfold (change), then lay out and draw again; nothing before the first drawing. */
  async function refold(change) {
    if (!L) return;
    change();
    fill(status);
    await draw();
  }
  box.addEventListener('click', (e) => {
    if (drag && drag.moved) return;
    const target = e.target.closest ? e.target : null;
    if (!target) return;
    const f = target.closest('g.folded');
    if (f) return refold(() => folded.delete(f.getAttribute('data-group')));
    const head = target.closest('g.cluster > rect.head, g.cluster > text');
    if (head) return refold(() => folded.add(head.parentNode.getAttribute('data-group')));
    const n = target.closest('g.node');
    if (!n) return;
    const run = data.runs[runIdx];
    const t = data.tasks[Number(n.getAttribute('data-idx'))];
    if (run && t && run.tis[Number(n.getAttribute('data-idx'))]) go(path.ti(dagId, run.run_id, t.task_id));
    else fill(status, el('p', { class: 'notice' }, run ? `${t.task_id} has no instance in ${run.run_id}.` : 'This DAG has no runs yet.'));
  });
}
