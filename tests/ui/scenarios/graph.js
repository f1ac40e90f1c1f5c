'use strict';
// The graph tab (/dags/{id}/graph): a DAG with nested task groups drawn as
// boxes, coloured by its run, a group folded into one node and unfolded,
// a task opening its instance; and a DAG of 1,000 tasks in 20 groups, laid
// out whole and folded.
//
// The scenarios write their DAG files into the scheduler's DAG folder
// ($UPDRAFT__CORE__DAGS_FOLDER, which tests/integration/test_ui.sh exports).
const fs = require('fs');
const path = require('path');

const DAG = 'ui_scn_graph';
const BIG = 'ui_scn_graph_big';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const DAG_FILE = `# written by tests/ui/scenarios/graph.js
${DAG}:
  tags: [ui-test]
  task_groups:
    - group_name: extract
      tooltip: read the sources
    - group_name: transform
    - group_name: aggregate
      parent_group_name: transform
  tasks:
    - task_id: start
      operator: bash
      bash_command: 'true'
    - task_id: a
      operator: bash
      bash_command: 'true'
      task_group_name: extract
      dependencies: [start]
    - task_id: b
      operator: bash
      bash_command: 'exit 1'
      retries: 0
      task_group_name: extract
      dependencies: [start]
    - task_id: clean
      operator: bash
      bash_command: 'true'
      task_group_name: transform
      trigger_rule: all_done
      dependencies: [extract]
    - task_id: total
      operator: bash
      bash_command: 'true'
      task_group_name: aggregate
      dependencies: [clean]
    - task_id: count
      operator: bash
      bash_command: 'true'
      task_group_name: aggregate
      dependencies: [clean]
    - task_id: report
      operator: bash
      bash_command: 'true'
      trigger_rule: all_done
      dependencies: [aggregate, start]
`;

/*
 * 1,000 tasks in groups g00..g19 of 50: a start, 4 lanes of 12, an end;
 * each group after the one before. Task ids are unique in a file, so each
 * carries its group's number (g03.l2s07_03).
 */
function bigDagFile() {
  const out = [`# written by tests/ui/scenarios/graph.js\n${BIG}:\n  tags: [ui-test]\n  is_paused_upon_creation: true\n  task_groups:\n`];
  const nn = (g) => String(g).padStart(2, '0');
  for (let g = 0; g < 20; g++) out.push(`    - group_name: g${nn(g)}\n`);
  out.push('  tasks:\n');
  const task = (id, g, deps) => out.push(`    - task_id: ${id}\n      operator: bash\n      bash_command: 'true'\n` +
    `      task_group_name: g${nn(g)}\n` + (deps.length ? `      dependencies: [${deps.join(', ')}]\n` : ''));
  const step = (l, s, g) => `l${l}s${nn(s)}_${nn(g)}`;
  for (let g = 0; g < 20; g++) {
    task(`start_${nn(g)}`, g, g ? [`end_${nn(g - 1)}`] : []);
    for (let s = 0; s < 12; s++) for (let l = 0; l < 4; l++) task(step(l, s, g), g, [s ? step(l, s - 1, g) : `start_${nn(g)}`]);
    task(`end_${nn(g)}`, g, [0, 1, 2, 3].map((l) => step(l, 11, g)));
  }
  return out.join('');
}

/* The REST API as the admin (basic auth), from Node. */
async function rest(t, method, p, body) {
  const u = t.users.admin;
  const res = await fetch(t.url('/api/v1' + p), {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64'),
      'Content-Type': 'application/json',
      Accept: 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (e) { /* not JSON */ }
  return {status: res.status, json, text};
}

async function until(what, fn, ms = 90000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(500);
  }
}

/* Both DAGs loaded, and one finished run of the small one (b fails), once for every scenario. */
let ready = null;
function setup(t) {
  if (!ready) {
    ready = (async () => {
      const folder = process.env.UPDRAFT__CORE__DAGS_FOLDER;
      t.assert(folder, 'UPDRAFT__CORE__DAGS_FOLDER is set');
      fs.writeFileSync(path.join(folder, `${DAG}.yaml`), DAG_FILE);
      fs.writeFileSync(path.join(folder, `${BIG}.yaml`), bigDagFile());
      await until('the DAG loads', async () => (await rest(t, 'GET', `/dags/${DAG}`)).status === 200);
      await rest(t, 'PATCH', `/dags/${DAG}`, {is_paused: false});
      const r = await rest(t, 'POST', `/dags/${DAG}/dagRuns`, {dag_run_id: 'run_1', logical_date: '2024-05-01T00:00:00Z'});
      t.assert(r.status === 200 || r.status === 409, `trigger: ${r.status} ${r.text}`);
      await until('the run finishes', async () => {
        const x = await rest(t, 'GET', `/dags/${DAG}/dagRuns/run_1`);
        return x.json && (x.json.state === 'success' || x.json.state === 'failed');
      });
      await until('the big DAG loads', async () => (await rest(t, 'GET', `/dags/${BIG}/tasks`)).status === 200);
    })();
    ready.catch(() => { ready = null; });
  }
  return ready;
}

async function openGraph(t, dag, query = '') {
  const page = t.page;
  await page.goto(t.url('/login'));
  await t.login(page, 'admin');
  await page.goto(t.url(`/dags/${dag}/graph${query}`));
  await page.waitFor('#graph[data-layout-ms]', 30000);
  return page;
}

const shown = (page) => page.evaluate(() => ({
  tasks: [...document.querySelectorAll('#graph g.node')].map((n) => n.dataset.task).sort(),
  states: Object.fromEntries([...document.querySelectorAll('#graph g.node')].map((n) => [n.dataset.task, n.dataset.state])),
  boxes: [...document.querySelectorAll('#graph g.cluster')].map((n) => n.dataset.group).sort(),
  folded: Object.fromEntries([...document.querySelectorAll('#graph g.folded')].map((n) => [n.dataset.group, n.dataset.state])),
  edges: document.querySelectorAll('#graph path.edge').length,
  layout: document.getElementById('graph').dataset.layout,
}));

module.exports = {
  'graph: groups are boxes, tasks coloured by the run; a group folds into one node and unfolds; a task opens its instance': async (t) => {
    await setup(t);
    const page = await openGraph(t, DAG);
    const tasks = (await rest(t, 'GET', `/dags/${DAG}/tasks`)).json.tasks.map((x) => x.task_id).sort();
    let g = await shown(page);
    t.equal(JSON.stringify(g.tasks), JSON.stringify(tasks), 'one node per task');
    t.equal(JSON.stringify(g.boxes), JSON.stringify(['extract', 'transform', 'transform.aggregate']), 'a box per group, the nested one too');
    t.equal(g.layout, 'compound', 'a small DAG is one compound dagre graph');
    t.equal(g.edges, 9, 'an edge per dependency');
    const tis = (await rest(t, 'GET', `/dags/${DAG}/dagRuns/run_1/taskInstances`)).json.task_instances;
    for (const ti of tis) t.equal(g.states[ti.task_id], ti.state, `${ti.task_id}'s colour`);
    t.equal(g.states['extract.b'], 'failed', 'the failing task is failed');
    await page.screenshot('graph-groups');

    await page.click('#graph g.cluster[data-group="extract"] > text');
    await page.waitFor(() => document.querySelector('#graph g.folded[data-group="extract"]'), 5000);
    g = await shown(page);
    t.equal(JSON.stringify(g.tasks), JSON.stringify(tasks.filter((x) => !x.startsWith('extract.'))), 'the folded group\'s tasks are hidden');
    t.equal(g.folded.extract, 'failed', 'the folded group shows its worst state');
    t.equal(g.layout, 'nested', 'laid out a group at a time');
    t.assert(!g.boxes.includes('extract') && g.boxes.includes('transform'), `the other boxes stay (${g.boxes})`);
    t.equal(g.edges, 7, 'the edges to and from the folded group, once per pair');
    await page.screenshot('graph-folded');

    await page.click('#graph g.folded[data-group="extract"]');
    await page.waitFor(() => !document.querySelector('#graph g.folded') && document.querySelector('#graph g.node[data-task="extract.a"]'), 5000);
    g = await shown(page);
    t.equal(JSON.stringify(g.tasks), JSON.stringify(tasks), 'unfolded: every task again');

    await page.click('#graph g.node[data-task="extract.b"]');
    await page.waitFor((p) => location.pathname === p, 5000, `/dags/${DAG}/runs/run_1/tasks/extract.b`);
  },

  'graph: 1,000 tasks in 20 groups laid out whole, then folded to 20 nodes and one unfolded': async (t) => {
    await setup(t);
    const page = await openGraph(t, BIG);
    let g = await shown(page);
    t.equal(g.tasks.length, 1000, 'every task drawn');
    t.equal(g.boxes.length, 20, 'a box per group');
    t.equal(g.layout, 'nested', 'laid out a group at a time');
    t.equal(g.edges, 20 * 52 + 19, 'an edge per dependency');
    const w = await page.evaluate(() => [document.getElementById('graph').dataset.workers, navigator.hardwareConcurrency]);
    t.equal(Number(w[0]), w[1] >= 2 ? Math.min(4, w[1]) : 0, `the groups were shared among Web Workers (${w[1]} cores)`);
    const timing = await page.text('#graph-timing');
    t.assert(/^1000 tasks · dagre layout \d+ ms, drawing \d+ ms$/.test(timing), `the timing is shown: ${timing}`);
    await page.screenshot('graph-1000');

    await page.click('#graph-fold');
    await page.waitFor(() => document.querySelectorAll('#graph g.folded').length === 20, 10000);
    g = await shown(page);
    t.equal(g.tasks.length, 0, 'folded: no task drawn');
    t.equal(g.edges, 19, 'folded: one edge between groups in a row');
    t.equal(g.folded.g00, 'none', 'no run: no state');
    await page.screenshot('graph-1000-folded');

    await page.click('#graph g.folded[data-group="g00"]');
    await page.waitFor(() => document.querySelectorAll('#graph g.node').length === 50, 10000);
    g = await shown(page);
    t.equal(Object.keys(g.folded).length, 19, 'the others stay folded');
    t.equal(JSON.stringify(g.boxes), JSON.stringify(['g00']), 'the unfolded group is a box');
    t.equal(g.edges, 52 + 1 + 18, 'its edges, those between the folded groups, and the one out of it');
    await page.screenshot('graph-1000-one-unfolded');
  },
};
