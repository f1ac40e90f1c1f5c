/*
 * tab_graph.js - /dags/{dag_id}/graph: the DAG's tasks and dependencies
 * laid out by dagre (left to right, task groups as boxes: a compound
 * graph) and drawn as SVG, each task coloured by its state in a chosen
 * run (?run_id=, the newest by default). Clicking a task opens its task
 * instance in that run; the wheel zooms, dragging pans.
 *
 * The structure and the states come from one request, GET
 * /ui/grid/{dag_id} (its tasks carry their group, operator and upstream
 * ids; its runs the states aligned to them). dagre is imported here, so
 * only this tab loads it.
 */
import { api, apiGrid, qs } from '../api.js';
import { el, fill, svg, fmtTime, stateBadge, errorBox, path } from '../dom.js';
import { go } from '../nav.js';

/* Airflow's state colours (style.css .st-*), for SVG fills. */
const COLOURS = {
  success: '#008000', running: '#01ff70', failed: '#ff0000', upstream_failed: '#ffa500',
  skipped: '#ff69b4', up_for_retry: '#ffd700', up_for_reschedule: '#40e0d0', queued: '#808080',
  scheduled: '#d2b48c', deferred: '#9370db', restarting: '#ee82ee', removed: '#d3d3d3',
};
const NODE_H = 40;
/* Above this many tasks dagre takes seconds: the graph is laid out by fastLayout. */
const BIG = 200;

function shortId(t) {
  return t.group && t.task_id.startsWith(t.group + '.') ? t.task_id.slice(t.group.length + 1) : t.task_id;
}

function groupInfo(groups) {
  const info = new Map();
  const walk = (gs, parent) => {
    for (const g of gs || []) {
      info.set(g.group_id, { parent, label: g.label || g.group_id, tooltip: g.tooltip || '' });
      walk(g.children, g.group_id);
    }
  };
  walk(groups, null);
  return info;
}

const nodeWidth = (t) => Math.min(320, Math.max(90, Math.max(shortId(t).length, (t.operator || '').length * 0.85) * 7.4 + 26));

/*
 * The layout both ways give: per task {x, y, width, height} (centres),
 * the groups' boxes {group, label, tooltip, x, y, width, height, depth},
 * the edges as lists of points, and the size of the whole.
 */

/* dagre's layout: a compound graph whose clusters are the task groups. */
function dagreLayout(dagre, data) {
  const g = new dagre.graphlib.Graph({ compound: true });
  g.setGraph({ rankdir: 'LR', nodesep: 26, ranksep: 48, edgesep: 6, marginx: 24, marginy: 30 });
  g.setDefaultEdgeLabel(() => ({}));
  const info = groupInfo(data.groups);
  const used = new Set();
  const addGroup = (id) => {
    if (used.has(id)) return;
    used.add(id);
    const i = info.get(id) || { parent: null, label: id };
    g.setNode('g\u0000' + id, { label: i.label, tooltip: i.tooltip, group: id });
    if (i.parent && i.parent !== id) {
      addGroup(i.parent);
      g.setParent('g\u0000' + id, 'g\u0000' + i.parent);
    }
  };
  const ids = new Set(data.tasks.map((t) => t.task_id));
  data.tasks.forEach((t, idx) => {
    g.setNode('t\u0000' + t.task_id, { width: nodeWidth(t), height: NODE_H, idx });
    if (t.group) {
      addGroup(t.group);
      g.setParent('t\u0000' + t.task_id, 'g\u0000' + t.group);
    }
  });
  for (const t of data.tasks) {
    for (const u of t.upstream || []) if (ids.has(u)) g.setEdge('t\u0000' + u, 't\u0000' + t.task_id);
  }
  dagre.layout(g);
  const depth = (v) => { let d = 0; for (let p = g.parent(v); p; p = g.parent(p)) d++; return d; };
  const gr = g.graph();
  return {
    nodes: data.tasks.map((t) => { const n = g.node('t\u0000' + t.task_id); return { x: n.x, y: n.y, width: n.width, height: n.height }; }),
    clusters: g.nodes().filter((v) => v.startsWith('g\u0000')).map((v) => {
      const n = g.node(v);
      /* Room for the label above the tasks. */
      return { group: n.group, label: n.label, tooltip: n.tooltip, x: n.x, y: n.y - 8, width: n.width, height: n.height + 16, depth: depth(v) };
    }),
    edges: g.edges().map((e) => g.edge(e).points),
    width: gr.width || 100,
    height: gr.height || 100,
  };
}

/*
 * The layout of large DAGs, where dagre takes many seconds: layers by
 * longest path from the sources, each layer ordered by the mean place of
 * its upstream tasks (a few sweeps down and up), each task placed at the
 * mean height of its upstream ones and pushed down to clear the one
 * above; groups as the boxes around their tasks. Linear in tasks and
 * dependencies per sweep.
 */
function fastLayout(data) {
  const n = data.tasks.length;
  const index = new Map(data.tasks.map((t, i) => [t.task_id, i]));
  const ups = data.tasks.map((t) => (t.upstream || []).map((u) => index.get(u)).filter((u) => u !== undefined));
  const downs = data.tasks.map(() => []);
  ups.forEach((us, i) => us.forEach((u) => downs[u].push(i)));
  /* Ranks in topological order (Kahn); tasks in a cycle, if any, after the rest. */
  const indeg = ups.map((us) => us.length), rank = new Array(n).fill(0), queue = [];
  for (let i = 0; i < n; i++) if (!indeg[i]) queue.push(i);
  for (let h = 0; h < queue.length; h++) {
    const u = queue[h];
    for (const v of downs[u]) {
      rank[v] = Math.max(rank[v], rank[u] + 1);
      if (--indeg[v] === 0) queue.push(v);
    }
  }
  const layers = [];
  for (let i = 0; i < n; i++) (layers[rank[i]] = layers[rank[i]] || []).push(i);
  for (let r = 0; r < layers.length; r++) layers[r] = layers[r] || [];
  const pos = new Array(n).fill(0);
  const number = (layer) => layer.forEach((v, k) => { pos[v] = k; });
  layers.forEach(number);
  const sweep = (range, nb) => {
    for (const r of range) {
      const key = new Map(layers[r].map((v) => {
        const ns = nb[v];
        return [v, ns.length ? ns.reduce((a, u) => a + pos[u], 0) / ns.length : pos[v]];
      }));
      layers[r].sort((a, b) => key.get(a) - key.get(b) || pos[a] - pos[b]);
      number(layers[r]);
    }
  };
  const down = [...layers.keys()].slice(1), up = [...layers.keys()].reverse().slice(1);
  for (let k = 0; k < 2; k++) { sweep(down, ups); sweep(up, downs); }
  sweep(down, ups);
  /* Coordinates. */
  const SEP = 10, RANKSEP = 60, M = 30;
  const widths = data.tasks.map(nodeWidth);
  const nodes = new Array(n);
  let x = M, height = 0;
  for (const layer of layers) {
    const lw = Math.max(0, ...layer.map((v) => widths[v]));
    let prevBottom = -Infinity;
    for (const v of layer) {
      const us = ups[v];
      let y = us.length ? us.reduce((a, u) => a + nodes[u].y, 0) / us.length : M + NODE_H / 2;
      y = Math.max(y, prevBottom + SEP + NODE_H / 2, M + NODE_H / 2);
      nodes[v] = { x: x + lw / 2, y, width: widths[v], height: NODE_H };
      prevBottom = y + NODE_H / 2;
    }
    height = Math.max(height, prevBottom);
    x += lw + RANKSEP;
  }
  const edges = [];
  ups.forEach((us, v) => us.forEach((u) => {
    const a = nodes[u], b = nodes[v];
    edges.push([{ x: a.x + a.width / 2, y: a.y }, { x: b.x - b.width / 2, y: b.y }]);
  }));
  /* Groups: the box around their tasks, and around their inner groups' boxes. */
  const info = groupInfo(data.groups), boxes = new Map();
  const grow = (id, x0, y0, x1, y1) => {
    for (let g = id, d = 0; g && d < 50; g = (info.get(g) || {}).parent, d++) {
      const b = boxes.get(g) || { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
      const pad = 10 + 4 * d;
      b.x0 = Math.min(b.x0, x0 - pad); b.y0 = Math.min(b.y0, y0 - pad - 8);
      b.x1 = Math.max(b.x1, x1 + pad); b.y1 = Math.max(b.y1, y1 + pad);
      boxes.set(g, b);
    }
  };
  data.tasks.forEach((t, i) => {
    if (t.group) { const a = nodes[i]; grow(t.group, a.x - a.width / 2, a.y - a.height / 2, a.x + a.width / 2, a.y + a.height / 2); }
  });
  const depthOf = (id) => { let d = 0; for (let p = (info.get(id) || {}).parent; p && d < 50; p = (info.get(p) || {}).parent) d++; return d; };
  const clusters = [...boxes].map(([id, b]) => {
    const i = info.get(id) || { label: id, tooltip: '' };
    return { group: id, label: i.label, tooltip: i.tooltip, x: (b.x0 + b.x1) / 2, y: (b.y0 + b.y1) / 2,
      width: b.x1 - b.x0, height: b.y1 - b.y0, depth: depthOf(id) };
  });
  return { nodes, clusters, edges, width: x - RANKSEP + M, height: height + M };
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
  const picker = el('select', { id: 'graph-run', 'aria-label': 'run' });
  const runInfo = el('span', { id: 'graph-run-state' });
  const box = el('div', { class: 'graph-box', id: 'graph' }, el('p', { class: 'muted', style: { padding: '8px' } }, 'Laying out…'));
  const timing = el('span', { class: 'muted', id: 'graph-timing' });
  fill(container,
    el('div', { class: 'toolbar' }, 'Run ', picker, runInfo, el('span', { class: 'spacer' }), timing,
      el('button', { id: 'graph-fit', title: 'fit the graph in the view', onclick: () => fit() }, 'Fit')),
    status, box);

  let data, dagre;
  try {
    const lib = import('dagre');
    data = await apiGrid(dagId, { limit: 25 });
    if (data.tasks.length <= BIG) dagre = await lib.then((m) => m.default || m);
    else lib.catch(() => {});
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

  const t0 = performance.now();
  const L = dagre ? dagreLayout(dagre, data) : fastLayout(data);
  const { width, height } = L;
  const t1 = performance.now();

  /* ---- drawing ---- */
  const root = svg('g', { class: 'viewport' });
  const clusters = svg('g'), edges = svg('g'), nodes = svg('g');
  root.append(clusters, edges, nodes);
  const nodeEls = new Array(data.tasks.length);
  /* Outer boxes first, so that inner ones are drawn over them. */
  for (const n of L.clusters.sort((a, b) => a.depth - b.depth)) {
    const x = n.x - n.width / 2, y = n.y - n.height / 2;
    const c = svg('g', { class: 'cluster', 'data-group': n.group },
      svg('rect', { x, y, width: n.width, height: n.height, rx: 8 }),
      svg('text', { x: x + 8, y: y + 13 }, n.label));
    if (n.tooltip) c.appendChild(svg('title', null, n.tooltip));
    clusters.appendChild(c);
  }
  for (const points of L.edges) {
    edges.appendChild(svg('path', { class: 'edge', d: edgePath(points), 'marker-end': 'url(#arrow)' }));
  }
  data.tasks.forEach((t, idx) => {
    const n = L.nodes[idx];
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
  const defs = svg('defs', null,
    svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0L10,5L0,10z', fill: 'currentColor', class: 'arrowhead' })));
  const sv = svg('svg', { role: 'img', 'aria-label': `graph of ${dagId}` }, defs, root);
  sv.style.color = 'var(--muted)';
  fill(box, sv);
  const t2 = performance.now();
  timing.textContent = `${data.tasks.length} tasks · ${dagre ? 'dagre' : 'layered'} layout ${Math.round(t1 - t0)} ms, drawing ${Math.round(t2 - t1)} ms`;
  box.dataset.layoutMs = String(Math.round(t1 - t0));

  /* ---- states of the chosen run ---- */
  function paint() {
    const run = data.runs[runIdx];
    fill(runInfo, run ? [' ', stateBadge(run.state), ' ', el('a', { href: path.run(dagId, run.run_id) }, 'open run')] : null);
    data.tasks.forEach((t, idx) => {
      const cell = run ? run.tis[idx] : null;
      const s = cell ? cell[0] : null;
      const col = s && COLOURS[s] ? COLOURS[s] : null;
      const n = nodeEls[idx];
      n.bar.setAttribute('fill', col || 'transparent');
      n.body.style.stroke = col || '';
      n.body.style.strokeWidth = col ? '2' : '';
      n.ge.setAttribute('data-state', s || 'none');
      const counts = cell && cell.length > 4 && cell[4] ? Object.entries(cell[4]).map(([k, v]) => `${k}: ${v}`).join(', ') : '';
      if (t.is_mapped) n.label.textContent = shortId(t) + ` [${cell && cell[4] ? Object.values(cell[4]).reduce((a, b) => a + b, 0) : ' '}]`;
      n.title.textContent = `${t.task_id}\n${t.operator || ''}\n${run ? (s || 'no status') : 'no run'}${counts ? '\n' + counts : ''}`;
    });
  }
  paint();
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

  /* One listener for every node: open its task instance in the chosen run. */
  box.addEventListener('click', (e) => {
    if (drag && drag.moved) return;
    const n = e.target.closest && e.target.closest('g.node');
    if (!n) return;
    const run = data.runs[runIdx];
    const t = data.tasks[Number(n.getAttribute('data-idx'))];
    if (run && t && run.tis[Number(n.getAttribute('data-idx'))]) go(path.ti(dagId, run.run_id, t.task_id));
    else fill(status, el('p', { class: 'notice' }, run ? `${t.task_id} has no instance in ${run.run_id}.` : 'This DAG has no runs yet.'));
  });
}
