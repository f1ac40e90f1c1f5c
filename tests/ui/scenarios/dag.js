'use strict';
// The DAG page (/dags/{id}/{tab}): the grid against the API's task states,
// the task-instance panel by mouse and keyboard, the graph, the trigger form
// built from the DAG's params, what a Viewer sees, and names made of HTML.
//
// The scenarios bring their own DAG: a file written into the scheduler's
// DAG folder ($UPDRAFT__CORE__DAGS_FOLDER, which tests/integration/test_ui.sh
// exports) with a task group, a mapped task, a failing task and typed
// params, and two runs of it that finish. The DAG and task named with HTML
// cannot come from a DAG file (ids are [A-Za-z0-9_.-]), so they are written
// into the database with psql ($UPDRAFT__DATABASE__URL), as a DAG another
// tool might have stored.
const fs = require('fs');
const path = require('path');
const {execFileSync} = require('child_process');

const DAG = 'ui_scn_dag';
const XSS = '<img src=x onerror=alert(1)>';
const shared = require('../rest');

const {until, sleep} = shared;
const enc = encodeURIComponent;

const DAG_FILE = `# written by tests/ui/scenarios/dag.js
${DAG}:
  description: Grid, graph and trigger in the browser
  tags: [ui-test]
  default_args:
    owner: ui-team
  params:
    who: {__type__: airflow.models.param.Param, default: world, type: string, description: Who to greet}
    times: {__type__: airflow.models.param.Param, default: 2, type: integer}
    loud: {__type__: airflow.models.param.Param, default: false, type: boolean}
    colour: {__type__: airflow.models.param.Param, default: red, type: string, enum: [red, green, blue]}
    items: {__type__: airflow.models.param.Param, default: [1, 2], type: array}
  task_groups:
    - group_name: grp
      tooltip: a group
  tasks:
    - task_id: first
      operator: bash
      bash_command: 'echo first'
    - task_id: inner
      operator: bash
      bash_command: 'echo inner'
      task_group_name: grp
      dependencies: [first]
    - task_id: mapped
      operator: bash
      bash_command: 'echo "item $ITEM"'
      expand:
        env: [{ITEM: a}, {ITEM: b}]
      dependencies: [first]
    - task_id: maybe_fail
      operator: bash
      bash_command: 'case "$UPDRAFT_RUN_ID" in bad*) exit 1 ;; esac'
      dependencies: [grp, mapped]
    - task_id: last
      operator: bash
      bash_command: 'echo last'
      dependencies: [maybe_fail]
`;

/* The REST API as the admin, from Node. */
const rest = (t, method, p, body) => shared.rest(t, 'admin', method, '/api/v1' + p, body);

/* The DAG loaded and two finished runs (good_1 succeeds, bad_2 fails), once for every scenario. */
let ready = null;
function setup(t) {
  if (!ready) {
    ready = (async () => {
      const folder = process.env.UPDRAFT__CORE__DAGS_FOLDER;
      t.assert(folder, 'UPDRAFT__CORE__DAGS_FOLDER is set');
      fs.writeFileSync(path.join(folder, 'ui_scn_dag.yaml'), DAG_FILE);
      await until('the DAG loads', async () => (await rest(t, 'GET', `/dags/${DAG}`)).status === 200);
      await rest(t, 'PATCH', `/dags/${DAG}`, {is_paused: false});
      for (const [id, date] of [['good_1', '2024-03-01T00:00:00Z'], ['bad_2', '2024-03-02T00:00:00Z']]) {
        const r = await rest(t, 'POST', `/dags/${DAG}/dagRuns`, {dag_run_id: id, logical_date: date});
        t.assert(r.status === 200 || r.status === 409, `trigger ${id}: ${r.status} ${r.text}`);
      }
      for (const id of ['good_1', 'bad_2']) {
        await until(`${id} finishes`, async () => {
          const r = await rest(t, 'GET', `/dags/${DAG}/dagRuns/${id}`);
          return r.json && (r.json.state === 'success' || r.json.state === 'failed');
        });
      }
    })();
    ready.catch(() => { ready = null; });
  }
  return ready;
}

/* The grid's geometry and the page position of cell (row r, column c; r = -1: the run bars). */
async function cellPoint(page, r, c) {
  return page.evaluate((r, c) => {
    const g = document.getElementById('grid');
    const d = g.dataset, b = g.getBoundingClientRect();
    const x = b.left + g.clientLeft + Number(d.nameW) + c * Number(d.cellW) + 7 - g.scrollLeft;
    const y = b.top + g.clientTop + (r < 0 ? Number(d.headH) - 8 : Number(d.headH) + r * Number(d.rowH) + 10) - g.scrollTop;
    return {x, y};
  }, r, c);
}

async function mouseClick(page, at) {
  const m = {x: at.x, y: at.y, button: 'left', clickCount: 1};
  await page.send('Input.dispatchMouseEvent', {type: 'mouseMoved', x: at.x, y: at.y});
  await page.send('Input.dispatchMouseEvent', {type: 'mousePressed', ...m});
  await page.send('Input.dispatchMouseEvent', {type: 'mouseReleased', ...m});
}

/* What the panel says: {task, state} (waits for the task). */
async function panel(page, task) {
  await page.waitFor((task) => {
    const p = document.getElementById('panel-task');
    return p && p.textContent === task;
  }, 5000, task);
  return page.evaluate(() => ({
    task: document.getElementById('panel-task').textContent,
    state: document.querySelector('#panel-state .state').getAttribute('title'),
    log: (document.getElementById('panel-log') || {}).getAttribute ? document.getElementById('panel-log').getAttribute('href') : null,
  }));
}

/* A mapped task's state as the grid summarises it. */
const ORDER = ['failed', 'upstream_failed', 'up_for_retry', 'up_for_reschedule', 'queued', 'scheduled',
  'deferred', 'running', 'restarting', 'none', 'success', 'skipped', 'removed'];
function summary(states) {
  return states.map((s) => s || 'none').sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))[0];
}

/* Sets a form field's value as typing would (input and change events). */
async function setValue(page, selector, value) {
  await page.evaluate((s, v) => {
    const e = document.querySelector(s);
    e.value = v;
    e.dispatchEvent(new Event('input', {bubbles: true}));
    e.dispatchEvent(new Event('change', {bubbles: true}));
  }, selector, value);
}

async function openGrid(t, page, dagId, runs) {
  if (!new URL(await page.url()).pathname.startsWith('/dags')) {
    await page.goto(t.url('/login'));
    await t.login(page, 'admin');
  }
  await page.goto(t.url(`/dags/${enc(dagId)}/grid`));
  await page.waitFor((n) => {
    const g = document.getElementById('grid');
    return g && g.dataset.runs === String(n);
  }, 15000, runs);
}

module.exports = {
  'the grid shows the runs and each task state as the API has it; a click opens the panel': async (t) => {
    await setup(t);
    const page = t.page;
    await openGrid(t, page, DAG, 2);
    t.equal(await page.text('#dag-title'), `DAG ${DAG}`, 'title');
    t.assert((await page.text('.dag-head')).includes('ui-team'), 'the owner is shown');
    const tasks = (await rest(t, 'GET', `/dags/${DAG}/tasks`)).json.tasks.map((x) => x.task_id);
    const rows = await page.evaluate(() => Number(document.getElementById('grid').dataset.rows));
    t.equal(rows, tasks.length + 1, 'rows: the tasks and the group');
    // Rows in the grid's order: first, grp, grp.inner, mapped, maybe_fail, last.
    const order = ['first', null, 'grp.inner', 'mapped', 'maybe_fail', 'last'];
    const runs = ['good_1', 'bad_2']; // oldest left
    for (let c = 0; c < runs.length; c++) {
      const tis = (await rest(t, 'GET', `/dags/${DAG}/dagRuns/${runs[c]}/taskInstances`)).json.task_instances;
      for (let r = 0; r < order.length; r++) {
        if (!order[r]) continue;
        await mouseClick(page, await cellPoint(page, r, c));
        const p = await panel(page, order[r]);
        const want = summary(tis.filter((x) => x.task_id === order[r]).map((x) => x.state));
        t.equal(p.state, want, `${order[r]} in ${runs[c]}`);
        t.equal(p.log, `/dags/${DAG}/runs/${runs[c]}/tasks/${enc(order[r])}/logs`, 'the log link');
      }
    }
    t.equal((await page.text('#panel-state')), 'upstream failed', 'last in bad_2');
    await page.screenshot('dag-grid-panel');
    // The run bar opens the run.
    await mouseClick(page, await cellPoint(page, -1, 1));
    await page.waitFor((p) => location.pathname === p, 5000, `/dags/${DAG}/runs/bad_2`);
  },

  'the grid by keyboard: arrows move the selection, Enter opens the panel': async (t) => {
    await setup(t);
    const page = t.page;
    await openGrid(t, page, DAG, 2);
    await page.evaluate(() => document.getElementById('grid').focus());
    await page.press('ArrowDown'); // the first selection: first task, newest run
    await page.press('Enter');
    t.equal((await panel(page, 'first')).task, 'first', 'Enter on the first cell');
    await page.press('ArrowDown');
    await page.press('ArrowDown');
    await page.press('ArrowDown');
    await page.press('ArrowDown');
    await page.press('Enter');
    const p = await panel(page, 'maybe_fail');
    t.equal(p.state, 'failed', 'maybe_fail in the newest run (bad_2)');
    await page.press('ArrowLeft');
    await page.press('Enter');
    await page.waitFor(() => document.querySelector('#panel-state .state').getAttribute('title') === 'success', 5000);
    await page.screenshot('dag-grid');
  },

  'collapsing a task group hides its tasks and the choice stays': async (t) => {
    await setup(t);
    const page = t.page;
    await openGrid(t, page, DAG, 2);
    const at = await page.evaluate(() => {
      const g = document.getElementById('grid'), b = g.getBoundingClientRect();
      return {x: b.left + 30, y: b.top + Number(g.dataset.headH) + 1 * Number(g.dataset.rowH) + 10};
    });
    await mouseClick(page, at);
    await page.waitFor(() => document.getElementById('grid').dataset.rows === '5', 5000);
    await page.goto(t.url(`/dags/${DAG}/grid`));
    await page.waitFor(() => (document.getElementById('grid') || {dataset: {}}).dataset.rows === '5', 10000);
    await mouseClick(page, at);
    await page.waitFor(() => document.getElementById('grid').dataset.rows === '6', 5000);
  },

  'the graph has one node per task, coloured by the newest run': async (t) => {
    await setup(t);
    const page = t.page;
    await page.goto(t.url('/login'));
    await t.login(page, 'admin');
    await page.goto(t.url(`/dags/${DAG}/graph`));
    await page.waitFor('#graph g.node', 15000);
    const tasks = (await rest(t, 'GET', `/dags/${DAG}/tasks`)).json.tasks.map((x) => x.task_id).sort();
    const nodes = await page.evaluate(() => [...document.querySelectorAll('#graph g.node')].map((n) => [n.dataset.task, n.dataset.state]));
    t.equal(JSON.stringify(nodes.map((n) => n[0]).sort()), JSON.stringify(tasks), 'one node per task');
    t.equal(await page.count('#graph g.cluster'), 1, 'the group is a box');
    const tis = (await rest(t, 'GET', `/dags/${DAG}/dagRuns/bad_2/taskInstances`)).json.task_instances;
    for (const [task, state] of nodes) {
      t.equal(state, summary(tis.filter((x) => x.task_id === task).map((x) => x.state)), `${task}'s colour`);
    }
    await page.screenshot('dag-graph');
    await page.select('#graph-run', '1');
    await page.waitFor(() => document.querySelector('#graph g.node[data-task="maybe_fail"]').dataset.state === 'success', 5000);
    t.equal(new URL(await page.url()).searchParams.get('run_id'), 'good_1', 'the chosen run is in the address');
    await page.click('#graph g.node[data-task="maybe_fail"]');
    await page.waitFor((p) => location.pathname === p, 5000, `/dags/${DAG}/runs/good_1/tasks/maybe_fail`);
  },

  'trigger with params from the form creates the run the API sees; a refusal shows in the form': async (t) => {
    await setup(t);
    const page = t.page;
    await openGrid(t, page, DAG, 2);
    await page.click('#trigger');
    await page.waitFor('#trigger-modal');
    t.equal(await page.evaluate(() => document.getElementById('param-who').value), 'world', 'the string default');
    t.equal(await page.evaluate(() => document.getElementById('param-loud').type), 'checkbox', 'a boolean is a checkbox');
    t.equal(await page.evaluate(() => document.getElementById('param-colour').tagName), 'SELECT', 'an enum is a choice');
    t.equal(await page.evaluate(() => document.getElementById('param-times').type), 'number', 'an integer is a number');
    t.assert((await page.text('#trigger-modal')).includes('Who to greet'), 'the description is shown');
    // A run id the API refuses: its problem shows in the form.
    await page.type('#trigger-run-id', 'bad id!');
    await page.click('#trigger-submit');
    await page.waitFor('#trigger-error .error', 5000);
    t.assert((await page.text('#trigger-error')).includes('400'), 'the API\'s refusal is shown');
    const log = page.takeLog().map((e) => `${e.type}: ${e.text}`);
    t.assert(log.length >= 1 && log.every((e) => /400/.test(e)), `only the refused request is logged: ${log.join('; ')}`);
    // The params as typed.
    await page.type('#trigger-run-id', 'ui_scn_triggered');
    await page.type('#param-who', 'browser');
    await setValue(page, '#param-times', '5');
    await page.click('#param-loud');
    await page.select('#param-colour', '2');
    await page.screenshot('dag-trigger');
    await page.click('#trigger-submit');
    await page.waitFor(() => !document.getElementById('trigger-modal'), 5000);
    const run = await until('the API has the run', async () => {
      const r = await rest(t, 'GET', `/dags/${DAG}/dagRuns/ui_scn_triggered`);
      return r.status === 200 && r.json;
    }, 10000);
    const sorted = (o) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
    t.equal(sorted(run.conf), sorted({who: 'browser', times: 5, loud: true, colour: 'blue', items: [1, 2]}), 'conf');
    await page.waitFor(() => Number((document.getElementById('grid') || {dataset: {}}).dataset.runs) === 3, 10000);
  },

  'the grid of a running run updates without a reload': async (t) => {
    await setup(t);
    const live = 'ui_scn_live';
    fs.writeFileSync(path.join(process.env.UPDRAFT__CORE__DAGS_FOLDER, 'ui_scn_live.yaml'),
      `${live}:\n  tasks:\n    - {task_id: wait, operator: bash, bash_command: 'sleep 6'}\n` +
      `    - {task_id: after, operator: bash, bash_command: 'true', dependencies: [wait]}\n`);
    await until('the DAG loads', async () => (await rest(t, 'GET', `/dags/${live}`)).status === 200);
    await rest(t, 'PATCH', `/dags/${live}`, {is_paused: false});
    const r = await rest(t, 'POST', `/dags/${live}/dagRuns`, {dag_run_id: 'live_1'});
    t.equal(r.status, 200, 'trigger');
    const page = t.page;
    await openGrid(t, page, live, 1);
    await page.waitFor(() => document.getElementById('grid-live').textContent.includes('live'), 5000);
    await mouseClick(page, await cellPoint(page, 1, 0));
    t.assert((await panel(page, 'after')).state !== 'success', 'after has not run yet');
    await page.waitFor(() => document.querySelector('#panel-state .state').getAttribute('title') === 'success', 30000);
    await page.waitFor(() => document.getElementById('grid-live').textContent === '', 10000);
  },

  'a Viewer sees the DAG page without the trigger or the pause toggle': async (t) => {
    await setup(t);
    const page = t.page;
    await page.goto(t.url('/login'));
    await t.login(page, 'viewer');
    await page.goto(t.url(`/dags/${DAG}/grid`));
    await page.waitFor('#grid[data-runs]', 15000);
    t.equal(await page.count('#trigger'), 0, 'trigger buttons');
    t.equal(await page.count('#pause-toggle'), 0, 'pause toggles');
    await page.goto(t.url(`/dags/${DAG}/details`));
    await page.waitFor('#dag-details');
    t.assert((await page.text('#dag-details')).includes('ui-team'), 'details list the owner');
    t.assert((await page.text('#details-params')).includes('Who to greet'), 'details list the params');
    await page.screenshot('dag-details');
  },

  'a DAG, task and run named with HTML render as text: no dialog, no injected element': async (t) => {
    await setup(t);
    const db = process.env.UPDRAFT__DATABASE__URL;
    t.assert(db, 'UPDRAFT__DATABASE__URL is set');
    const sql = `
      WITH src AS (SELECT v.data FROM dag_version v JOIN dag d ON d.version_id = v.id WHERE d.dag_id = '${DAG}'),
      v AS (INSERT INTO dag_version (dag_id, version_number, hash, data, fileloc)
            SELECT :'x', 1, 'ui-xss', replace(src.data::text, '"first"', to_json(:'x'::text)::text)::jsonb,
                   '/nonexistent/ui-xss.yaml' FROM src RETURNING id),
      d AS (INSERT INTO dag (dag_id, fileloc, is_paused, is_active, description, tags, owners, version_id)
            SELECT :'x', '/nonexistent/ui-xss.yaml', true, true, :'x', ARRAY[:'x'], :'x', id FROM v
            ON CONFLICT (dag_id) DO NOTHING RETURNING dag_id, version_id),
      r AS (INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state, logical_date, start_date, end_date)
            SELECT dag_id, :'x', version_id, 'manual', 'failed', '2024-01-01', '2024-01-01', '2024-01-01 00:01' FROM d
            RETURNING id, dag_id, run_id)
      INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, state, try_number, operator, start_date, end_date)
      SELECT r.id, r.dag_id, r.run_id, :'x', 'failed', 1, 'BashOperator', '2024-01-01', '2024-01-01 00:00:30' FROM r;`;
    execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', '-v', `x=${XSS}`, db], {input: sql, stdio: ['pipe', 'ignore', 'pipe']});
    const page = t.page;
    await openGrid(t, page, XSS, 1);
    t.equal(await page.text('#dag-title'), `DAG ${XSS}`, 'the title shows the id as text');
    await mouseClick(page, await cellPoint(page, 0, 0));
    t.equal((await panel(page, XSS)).state, 'failed', 'the panel shows the task id as text');
    t.equal(await page.text('#grid-panel h2'), XSS, 'the panel title');
    t.assert((await page.text('#grid-panel')).includes(XSS), 'the run id as text');
    await page.screenshot('dag-grid-html-names');
    await page.goto(t.url(`/dags/${enc(XSS)}/graph`));
    await page.waitFor('#graph g.node', 15000);
    t.assert(await page.evaluate((x) => [...document.querySelectorAll('#graph g.node text')].some((e) => e.textContent === x), XSS), 'the graph node shows it as text');
    await page.goto(t.url(`/dags/${enc(XSS)}/details`));
    await page.waitFor('#dag-details');
    await sleep(300);
    t.equal(await page.count('#view img'), 0, 'images in the page');
    t.equal(await page.count('#top img'), 0, 'images in the header');
  },
};
