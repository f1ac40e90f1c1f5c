// Where dagre's time goes on the bench's 1,000-task DAG (bench_graph of
// ui_data.sql: groups of 50, a start, 4 lanes of 12, an end), under Node:
//
//   NODE_PATH=/usr/share/nodejs esbuild tests/bench/graph_phases.js --bundle \
//     --platform=node --format=esm --log-level=warning | node --input-type=module - [TASKS]
//
// Prints, for each way of laying it out, the wall time and dagre's own
// per-phase times (its debugTiming) summed over the graphs laid out:
// rank, order (crossing minimisation), position (Brandes-Köpf), the rest.
// The graphs are laid out one after the other here (the page shares them
// among Web Workers). A figure, not a test.
import dagre from 'dagre';
import { layout, nodeWidth, NODE_H } from '../../ui/src/graph_layout.js';

const n = Number(process.argv[2]) || 1000;

/* The DAG as /ui/grid gives it. */
function benchGraph(count) {
  const gid = (g) => `g${String(g).padStart(2, '0')}`;
  const id = (g, i) => (i === 0 ? `${gid(g)}.start` : i === 49 ? `${gid(g)}.end`
    : `${gid(g)}.l${(i - 1) % 4}_s${String(Math.floor((i - 1) / 4)).padStart(2, '0')}`);
  const tasks = [];
  for (let k = 0; k < count; k++) {
    const g = Math.floor(k / 50), i = k % 50, up = [];
    if (i === 0) { for (const h of [g - 1, g - 2]) if (h >= 0) up.push(id(h, 49)); }
    else if (i <= 4) up.push(id(g, 0));
    else if (i < 49) { up.push(id(g, i - 4)); if (i % 11 === 0 && g > 0) up.push(id(g - 1, i)); }
    else for (let j = 45; j < 49; j++) up.push(id(g, j));
    tasks.push({ task_id: id(g, i), group: gid(g), operator: 'BashOperator', upstream: up.filter((u) => u) });
  }
  const groups = [...new Set(tasks.map((t) => t.group))].map((g) => ({ group_id: g, label: g, tooltip: '', children: [] }));
  return { tasks, groups };
}

/* dagre.layout with its debugTiming lines summed per phase. */
const phases = new Map();
function timedDagre() {
  const layoutFn = dagre.layout;
  return {
    ...dagre,
    layout(g) {
      const log = console.log;
      console.log = (line) => {
        const m = /^\s*(\S+) time: (\d+)ms/.exec(String(line));
        if (m) phases.set(m[1], (phases.get(m[1]) || 0) + Number(m[2]));
      };
      try {
        layoutFn(g, { debugTiming: true });
      } finally {
        console.log = log;
      }
    },
  };
}

async function report(name, fn) {
  phases.clear();
  const t0 = performance.now();
  const extra = (await fn()) || '';
  const ms = performance.now() - t0;
  const p = (k) => phases.get(k) || 0;
  const run = p('runLayout');
  console.log([name.padEnd(44), `${Math.round(ms)}`.padStart(6), `${p('rank')}`.padStart(6), `${p('order')}`.padStart(6),
    `${p('position')}`.padStart(6), `${run - p('rank') - p('order') - p('position')}`.padStart(6), extra].join(' '));
}

/* One flat dagre graph of every task, as dagre is usually called. */
function flat(data, ranker, compound) {
  const g = new dagre.graphlib.Graph({ compound });
  g.setGraph({ rankdir: 'LR', nodesep: 26, ranksep: 48, edgesep: 6, ranker });
  g.setDefaultEdgeLabel(() => ({}));
  for (const t of data.tasks) {
    g.setNode(t.task_id, { width: nodeWidth(t), height: NODE_H });
    if (compound) {
      g.setNode('g:' + t.group, {});
      g.setParent(t.task_id, 'g:' + t.group);
    }
  }
  for (const t of data.tasks) for (const u of t.upstream) g.setEdge(u, t.task_id);
  timedDagre().layout(g);
}

const data = benchGraph(n);
const edges = data.tasks.reduce((a, t) => a + t.upstream.length, 0);
console.log(`${n} tasks, ${edges} dependencies, ${data.groups.length} groups; milliseconds (Node ${process.version})`);
console.log(['way'.padEnd(44), 'wall'.padStart(6), 'rank'.padStart(6), 'order'.padStart(6), 'posn'.padStart(6), 'other'.padStart(6)].join(' '));
/* The first layout warms the JIT; every browser page load is cold, so both are shown. */
await report('nested (graph_layout.js), cold', async () => { const L = await layout(timedDagre(), data); return `${L.graphs} graphs, biggest ${L.biggest}`; });
await report('nested (graph_layout.js), warm', async () => { await layout(timedDagre(), data); });
await report('nested, groups folded', async () => { const L = await layout(timedDagre(), data, new Set(data.groups.map((g) => g.group_id))); return `${L.graphs} graph`; });
await report('one compound graph, network-simplex', () => flat(data, 'network-simplex', true));
await report('one compound graph, tight-tree', () => flat(data, 'tight-tree', true));
await report('one flat graph (no groups), network-simplex', () => flat(data, 'network-simplex', false));
await report('one flat graph (no groups), longest-path', () => flat(data, 'longest-path', false));
