/*
 * graph_layout.js - the graph tab's layout, by dagre (left to right).
 *
 * layout(dagre, data, collapsed, run) places the tasks of data (as
 * /ui/grid gives them: tasks with group and upstream ids, the group tree)
 * with the groups named in the Set collapsed drawn as one node each; run,
 * when given, lays out a batch of independent graphs (in Web Workers:
 * graph_worker.js). It resolves to
 *   nodes:    per task {x, y, width, height} (centres), null when hidden
 *             in a collapsed group
 *   clusters: expanded groups' boxes {group, label, tooltip, x, y, width,
 *             height, depth, count}
 *   folded:   collapsed groups' nodes, the same fields
 *   edges:    [{points}] to draw, one per pair of things shown
 *   width, height, mode ('compound' or 'nested')
 *
 * Two ways, both dagre:
 *  - compound: up to COMPOUND_MAX tasks with nothing collapsed, one
 *    compound graph whose clusters are the groups (dagre's best picture;
 *    its cost grows fast with size: 5 s and more for 1,000 tasks);
 *  - nested: each expanded group laid out on its own (its tasks and its
 *    inner groups as single boxes of their laid-out size), then the level
 *    above, up to the DAG; dependencies already implied by a longer path
 *    (transitive reduction) are left out of dagre's input and drawn
 *    simply. dagre's crossing minimisation costs about ranks x nodes, so
 *    many small graphs cost far less than one big one.
 */
export const COMPOUND_MAX = 200;
export const NODE_H = 40;
/* Above this many nodes in one graph, dagre's network-simplex ranking
 * takes seconds (a minute on dense wide graphs): longest-path instead. */
const SIMPLEX_MAX = 150;
const PAD = 12, LABEL_H = 20;
const GRAPH = { rankdir: 'LR', nodesep: 26, ranksep: 48, edgesep: 6 };

export function shortId(t) {
  return t.group && t.task_id.startsWith(t.group + '.') ? t.task_id.slice(t.group.length + 1) : t.task_id;
}

export const nodeWidth = (t) => Math.min(320, Math.max(90, Math.max(shortId(t).length, (t.operator || '').length * 0.85) * 7.4 + 26));
const groupWidth = (label) => Math.min(320, Math.max(110, label.length * 7.4 + 40));

/* group id -> {parent, label, tooltip}, from the group tree. */
export function groupInfo(groups) {
  const info = new Map();
  const walk = (gs, parent) => {
    for (const g of gs || []) {
      if (!g || typeof g.group_id !== 'string' || info.has(g.group_id)) continue;
      info.set(g.group_id, { parent, label: g.label || g.group_id, tooltip: g.tooltip || '' });
      walk(g.children, g.group_id);
    }
  };
  walk(groups, null);
  return info;
}

/* A group's chain of ancestors, itself first (bounded: a malformed tree cannot loop). */
function ancestry(info, id) {
  const out = [];
  for (let g = id; g && out.length < 64 && !out.includes(g); g = (info.get(g) || {}).parent) out.push(g);
  return out;
}

/* The indices of the tasks each task depends on (unknown ids dropped, no duplicates). */
function upstreamIndices(tasks) {
  const index = new Map(tasks.map((t, i) => [t.task_id, i]));
  return tasks.map((t, i) => [...new Set((t.upstream || []).map((u) => index.get(u)))].filter((u) => u !== undefined && u !== i));
}

/*
 * Transitive reduction of a graph of n nodes given as out-lists: for each
 * edge, true when it is implied by a longer path. Descendant sets as
 * bitsets, computed in reverse topological order; a node's successors are
 * visited in topological order, so an edge is implied exactly when its
 * head is a descendant of an earlier successor. null when the graph has a
 * cycle (then nothing is left out).
 */
export function impliedEdges(n, outs) {
  const indeg = new Int32Array(n);
  for (const vs of outs) for (const v of vs) indeg[v]++;
  const topo = [];
  for (let i = 0; i < n; i++) if (!indeg[i]) topo.push(i);
  for (let h = 0; h < topo.length; h++) for (const v of outs[topo[h]]) if (--indeg[v] === 0) topo.push(v);
  if (topo.length !== n) return null;
  const pos = new Int32Array(n);
  topo.forEach((v, k) => { pos[v] = k; });
  const words = (n + 31) >>> 5, reach = new Uint32Array(n * words);
  const implied = outs.map((vs) => new Array(vs.length).fill(false));
  const covered = new Uint32Array(words);
  for (let k = n - 1; k >= 0; k--) {
    const u = topo[k], vs = outs[u], base = u * words;
    const order = vs.map((v, j) => j).sort((a, b) => pos[vs[a]] - pos[vs[b]]);
    covered.fill(0);
    for (const j of order) {
      const v = vs[j];
      if (covered[v >>> 5] & (1 << (v & 31))) implied[u][j] = true;
      const vb = v * words;
      for (let w = 0; w < words; w++) covered[w] |= reach[vb + w];
      covered[v >>> 5] |= 1 << (v & 31);
    }
    reach.set(covered, base);
  }
  return implied;
}

/* dagre's compound graph: the clusters are the groups. */
function compoundLayout(dagre, data, info) {
  const g = new dagre.graphlib.Graph({ compound: true });
  g.setGraph({ ...GRAPH, marginx: 24, marginy: 30 });
  g.setDefaultEdgeLabel(() => ({}));
  const used = new Set();
  const addGroup = (id) => {
    if (used.has(id)) return;
    used.add(id);
    const i = info.get(id) || { parent: null, label: id, tooltip: '' };
    g.setNode('g\u0000' + id, { label: i.label, tooltip: i.tooltip, group: id });
    if (i.parent && i.parent !== id && !ancestry(info, i.parent).includes(id)) {
      addGroup(i.parent);
      g.setParent('g\u0000' + id, 'g\u0000' + i.parent);
    }
  };
  data.tasks.forEach((t, idx) => {
    g.setNode('t\u0000' + t.task_id, { width: nodeWidth(t), height: NODE_H, idx });
    if (t.group) {
      addGroup(t.group);
      g.setParent('t\u0000' + t.task_id, 'g\u0000' + t.group);
    }
  });
  upstreamIndices(data.tasks).forEach((us, v) => {
    for (const u of us) g.setEdge('t\u0000' + data.tasks[u].task_id, 't\u0000' + data.tasks[v].task_id);
  });
  dagre.layout(g);
  const depth = (v) => { let d = 0; for (let p = g.parent(v); p; p = g.parent(p)) d++; return d; };
  const count = new Map();
  for (const t of data.tasks) for (const a of ancestry(info, t.group)) count.set(a, (count.get(a) || 0) + 1);
  const gr = g.graph();
  return {
    nodes: data.tasks.map((t) => { const n = g.node('t\u0000' + t.task_id); return { x: n.x, y: n.y, width: n.width, height: n.height }; }),
    clusters: g.nodes().filter((v) => v.startsWith('g\u0000')).map((v) => {
      const n = g.node(v);
      /* Room for the label above the tasks. */
      return { group: n.group, label: n.label, tooltip: n.tooltip, x: n.x, y: n.y - 8, width: n.width,
        height: n.height + 16, depth: depth(v), count: count.get(n.group) || 0 };
    }),
    folded: [],
    edges: g.edges().map((e) => ({ points: g.edge(e).points })),
    width: gr.width || 100,
    height: gr.height || 100,
    mode: 'compound',
  };
}

/*
 * The nested layout. Things shown ("items"): tasks outside collapsed
 * groups, and the outermost collapsed groups. Every expanded group is a
 * container of items and inner containers; the DAG is the root container.
 */
async function nestedLayout(run, data, info, collapsed) {
  const tasks = data.tasks, n = tasks.length;
  const chains = tasks.map((t) => (t.group ? ancestry(info, t.group).reverse() : [])); /* outermost first */
  /* What shows each task: itself (kind 't') or its outermost collapsed group. */
  const shownBy = tasks.map((t, i) => {
    const c = chains[i].find((g) => collapsed.has(g));
    return c === undefined ? 't\u0000' + i : 'g\u0000' + c;
  });
  /* Items, each with the chain of expanded groups it sits in. */
  const items = new Map(); /* key -> {key, chain, width, height, count, task, group} */
  tasks.forEach((t, i) => {
    const key = shownBy[i];
    let it = items.get(key);
    if (!it) {
      if (key.startsWith('t\u0000')) {
        it = { key, chain: chains[i], width: nodeWidth(t), height: NODE_H, count: 1, task: i };
      } else {
        const g = key.slice(2), cut = chains[i].indexOf(g), gi = info.get(g) || { label: g, tooltip: '' };
        it = { key, chain: chains[i].slice(0, cut), width: groupWidth(gi.label), height: NODE_H, count: 0, group: g };
      }
      items.set(key, it);
    }
    if (it.group !== undefined) it.count++;
  });
  const list = [...items.values()];
  const at = new Map(list.map((it, k) => [it.key, k]));
  /* Dependencies between items, once per pair; those a longer path implies marked. */
  const ups = upstreamIndices(tasks);
  const outs = list.map(() => []);
  const seen = new Set();
  ups.forEach((us, v) => {
    const b = at.get(shownBy[v]);
    for (const u of us) {
      const a = at.get(shownBy[u]);
      if (a === b || seen.has(a * list.length + b)) continue;
      seen.add(a * list.length + b);
      outs[a].push(b);
    }
  });
  const implied = impliedEdges(list.length, outs);

  /* Containers: '' is the DAG; an expanded group's id otherwise. */
  const containers = new Map();
  const container = (id) => {
    let c = containers.get(id);
    if (!c) containers.set(id, (c = { id, kids: [], groups: [], edges: new Map() }));
    return c;
  };
  container('');
  for (const it of list) {
    let parent = '';
    for (const g of it.chain) {
      const c = container(g);
      if (!container(parent).groups.includes(g)) container(parent).groups.push(g);
      parent = c.id;
    }
    container(parent).kids.push(it);
  }
  /* Each kept dependency belongs to the innermost container holding both ends. */
  const end = (it, depth) => (depth < it.chain.length ? 'c\u0000' + it.chain[depth] : 'i\u0000' + it.key);
  const drawn = [];
  outs.forEach((bs, a) => bs.forEach((b, j) => {
    const A = list[a], B = list[b];
    let d = 0;
    while (d < A.chain.length && d < B.chain.length && A.chain[d] === B.chain[d]) d++;
    const edge = { a: A, b: B, depth: d, simple: !!(implied && implied[a][j]) };
    drawn.push(edge);
    if (edge.simple) return;
    const c = containers.get(d ? A.chain[d - 1] : '');
    const k = end(A, d) + '\u0001' + end(B, d);
    if (!c.edges.has(k)) c.edges.set(k, { v: end(A, d), w: end(B, d) });
    edge.level = k;
    edge.container = c;
  }));

  /*
   * Lay out the containers innermost first, a level at a time: the graphs
   * of one level do not depend on each other, so run() may lay them out
   * in parallel. Each gives its size and its children's local places.
   */
  const levels = [];
  const depthOf = (c, d) => {
    (levels[d] = levels[d] || []).push(c);
    for (const g of c.groups) depthOf(containers.get(g), d + 1);
  };
  const root = containers.get('');
  depthOf(root, 0);
  let graphs = 0, biggest = 0;
  for (let d = levels.length - 1; d >= 0; d--) {
    const specs = levels[d].map((c) => {
      const nodes = c.kids.map((it) => ['i\u0000' + it.key, it.width, it.height]);
      for (const id of c.groups) {
        const s = containers.get(id);
        nodes.push(['c\u0000' + id, s.width, s.height]);
      }
      c.edgeList = [...c.edges.values()];
      graphs++;
      biggest = Math.max(biggest, nodes.length);
      return { nodes, edges: c.edgeList.map((e) => [e.v, e.w]) };
    });
    const results = await run(specs);
    levels[d].forEach((c, k) => {
      const r = results[k];
      c.pos = r.nodes;
      c.routes = new Map(c.edgeList.map((e, j) => [e, r.edges[j]]));
      const inner = c.id !== '';
      c.width = r.width + (inner ? 2 * PAD : 48);
      c.height = r.height + (inner ? 2 * PAD + LABEL_H : 60);
    });
  }

  /* Absolute places, outermost first; (ox, oy) is where the container's graph starts. */
  const nodes = new Array(n).fill(null), clusters = [], folded = [];
  const boxOf = new Map(); /* item key or group id -> absolute box */
  const count = new Map();
  for (const t of tasks) for (const a of ancestry(info, t.group)) count.set(a, (count.get(a) || 0) + 1);
  const abs = (c, ox, oy, depth) => {
    c.ox = ox;
    c.oy = oy;
    for (const it of c.kids) {
      const p = c.pos['i\u0000' + it.key];
      const box = { x: ox + p.x, y: oy + p.y, width: it.width, height: it.height };
      boxOf.set(it.key, box);
      if (it.task !== undefined) {
        nodes[it.task] = box;
      } else {
        const gi = info.get(it.group) || { label: it.group, tooltip: '' };
        folded.push({ group: it.group, label: gi.label, tooltip: gi.tooltip, ...box, depth, count: it.count });
      }
    }
    for (const id of c.groups) {
      const s = containers.get(id), p = c.pos['c\u0000' + id];
      const x0 = ox + p.x - s.width / 2, y0 = oy + p.y - s.height / 2;
      const gi = info.get(id) || { label: id, tooltip: '' };
      const box = { x: ox + p.x, y: oy + p.y, width: s.width, height: s.height };
      boxOf.set('c\u0000' + id, box);
      clusters.push({ group: id, label: gi.label, tooltip: gi.tooltip, ...box, depth, count: count.get(id) || 0 });
      abs(s, x0 + PAD, y0 + PAD + LABEL_H, depth + 1);
    }
  };
  abs(root, 24, 30, 0);

  /* The drawn edges: the level's route, entered from the tail's box and left to the head's. */
  const right = (b) => ({ x: b.x + b.width / 2, y: b.y });
  const left = (b) => ({ x: b.x - b.width / 2, y: b.y });
  const edges = drawn.map((e) => {
    const A = boxOf.get(e.a.key), B = boxOf.get(e.b.key);
    if (e.simple) return { points: [right(A), left(B)], implied: true };
    const c = e.container, le = c.edges.get(e.level);
    const route = c.routes.get(le).map((p) => ({ x: c.ox + p.x, y: c.oy + p.y }));
    const pts = [];
    if (e.depth < e.a.chain.length) {
      const outer = boxOf.get('c\u0000' + e.a.chain[e.depth]);
      pts.push(right(A), { x: outer.x + outer.width / 2, y: A.y });
    }
    pts.push(...route);
    if (e.depth < e.b.chain.length) {
      const outer = boxOf.get('c\u0000' + e.b.chain[e.depth]);
      pts.push({ x: outer.x - outer.width / 2, y: B.y }, left(B));
    }
    return { points: pts };
  });
  return { nodes, clusters, folded, edges, width: root.width, height: root.height, mode: 'nested', graphs, biggest, levels: levels.length };
}

/*
 * One flat dagre graph: spec {nodes: [[id, width, height]], edges: [[v, w]]}
 * -> {nodes: {id: {x, y}}, edges: [points] in the spec's order, width,
 * height}. Plain data both ways, so a Web Worker can run it
 * (graph_worker.js).
 */
export function layoutSpec(dagre, spec) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ ...GRAPH, ranker: spec.nodes.length > SIMPLEX_MAX ? 'longest-path' : 'network-simplex', marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const [id, width, height] of spec.nodes) g.setNode(id, { width, height });
  for (const [v, w] of spec.edges) g.setEdge(v, w);
  dagre.layout(g);
  const nodes = {};
  for (const [id] of spec.nodes) {
    const p = g.node(id);
    nodes[id] = { x: p.x, y: p.y };
  }
  const gr = g.graph();
  return { nodes, edges: spec.edges.map(([v, w]) => g.edge(v, w).points), width: gr.width || 0, height: gr.height || 0 };
}

/*
 * The layout (see the top). run(specs) lays out a level's graphs and
 * resolves to their results (layoutSpec's); by default here, one after
 * the other.
 */
export async function layout(dagre, data, collapsed = new Set(), run = null) {
  const info = groupInfo(data.groups);
  const known = [...collapsed].filter((g) => info.has(g));
  if (data.tasks.length <= COMPOUND_MAX && !known.length) return compoundLayout(dagre, data, info);
  return nestedLayout(run || (async (specs) => specs.map((sp) => layoutSpec(dagre, sp))), data, info, new Set(known));
}
