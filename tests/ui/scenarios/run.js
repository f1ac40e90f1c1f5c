'use strict';
// The run page (/dags/{dag}/runs/{run}) and the task-instance page
// (/dags/{dag}/runs/{run}/tasks/{task}[/tab]): what they show against what
// the REST API has, a running task's log followed to its last line, log
// text that looks like HTML, clear and mark failed through their dry-run
// lists, and a Viewer without actions (the API refusing them too).
//
// The DAGs are tests/ui/dags/ui_run_page.yaml, copied into the DAG folder
// (UPDRAFT__CORE__DAGS_FOLDER, which test_ui.sh exports) by the first
// scenario that needs them; each scenario triggers the runs it changes.
const fs = require('fs');
const os = require('os');
const path = require('path');

const DAG = 'ui_run_page';
const FOLLOW = 'ui_follow';
const RENDERED = 'ui_rendered';

/* The REST API as `who` (HTTP Basic): {status, body}. */
async function api(t, who, method, p, body) {
  const u = t.users[who];
  const res = await fetch(t.url('/api/v1' + p), {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64'),
      Accept: 'application/json',
      ...(body === undefined ? {} : {'Content-Type': 'application/json'}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = text;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // not JSON: keep the text
  }
  return {status: res.status, body: json};
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* Polls fn until it returns a truthy value; throws with what after ms. */
async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

const enc = encodeURIComponent;
const runPath = (dag, run) => `/dags/${enc(dag)}/dagRuns/${enc(run)}`;

let loaded = null;
/* The scenarios' DAGs, loaded by the scheduler (once per test run). */
function dagsLoaded(t) {
  loaded = loaded || (async () => {
    const have = async () => (await api(t, 'admin', 'GET', `/dags/${FOLLOW}`)).status === 200 &&
      (await api(t, 'admin', 'GET', `/dags/${DAG}`)).status === 200 &&
      (await api(t, 'admin', 'GET', `/dags/${RENDERED}`)).status === 200;
    if (await have()) return;
    const folder = process.env.UPDRAFT__CORE__DAGS_FOLDER;
    if (!folder) throw new Error('UPDRAFT__CORE__DAGS_FOLDER is not set: the scenarios cannot add their DAGs');
    fs.copyFileSync(path.join(__dirname, '..', 'dags', 'ui_run_page.yaml'), path.join(folder, 'ui_run_page.yaml'));
    await until(have, 30000, `DAGs ${DAG} and ${FOLLOW} to load`);
  })();
  loaded.catch(() => {
    loaded = null;
  });
  return loaded;
}

/* Triggers run `run` of dag (unless it exists) and waits for it to finish. */
async function finishedRun(t, dag, run) {
  await dagsLoaded(t);
  let r = await api(t, 'admin', 'GET', runPath(dag, run));
  if (r.status === 404) {
    r = await api(t, 'admin', 'POST', `/dags/${enc(dag)}/dagRuns`, {dag_run_id: run});
    t.equal(r.status, 200, `triggering ${dag} ${run}: ${JSON.stringify(r.body)}`);
  }
  await until(async () => {
    const s = await api(t, 'admin', 'GET', runPath(dag, run));
    return s.status === 200 && ['success', 'failed'].includes(s.body.state);
  }, 60000, `run ${run} of ${dag} to finish`);
}

async function tis(t, dag, run) {
  const r = await api(t, 'admin', 'GET', `${runPath(dag, run)}/taskInstances?limit=1000`);
  t.equal(r.status, 200, 'listing task instances');
  return r.body.task_instances;
}

/* Opens path signed in as who (through the login form, which comes back to it). */
async function open(t, page, who, p) {
  await page.goto(t.url(p));
  if (new URL(await page.url()).pathname === '/login') await t.login(page, who);
  t.equal(new URL(await page.url()).pathname, p.split('?')[0], 'the page after signing in');
}

const tiPage = (dag, run, task, tab) => `/dags/${enc(dag)}/runs/${enc(run)}/tasks/${enc(task)}${tab ? '/' + tab : ''}`;
const logText = (page) => page.evaluate(() => (document.querySelector('#log') || {}).textContent || '');

module.exports = {
  'a run page lists its task instances as the API has them': async (t) => {
    await finishedRun(t, DAG, 'ui_run_a');
    const page = t.page;
    await open(t, page, 'admin', `/dags/${DAG}/runs/ui_run_a`);
    await page.waitFor('#ti-list tbody tr[data-task-id]');
    const shown = await page.evaluate(() => [...document.querySelectorAll('#ti-list tbody tr')].map((tr) =>
      [tr.dataset.taskId, Number(tr.dataset.mapIndex), tr.querySelector('.ti-state').innerText.trim().replace(/ /g, '_')].join(' ')));
    const expected = (await tis(t, DAG, 'ui_run_a')).map((x) => [x.task_id, x.map_index, x.state || 'none'].join(' '));
    t.equal(shown.slice().sort().join(', '), expected.slice().sort().join(', '), 'the task instances shown');
    t.equal(expected.length, 4, 'task instances of the run (marker, push, fan[0], fan[1])');
    const facts = await page.text('#run-facts');
    t.assert(facts.includes('ui_run_a') && facts.includes('manual'), `the run's facts: ${facts}`);
    t.assert((await page.text('#ti-list')).includes('BashOperator'), 'the operator is shown');
    t.equal(await page.count('#run-clear, #run-mark-failed, #run-delete'), 3, 'an admin may clear, mark failed and delete');
    t.equal(await page.count('#run-mark-success'), 0, 'mark success on a run that succeeded');
    // A task instance's row leads to its page.
    await page.click('#ti-list tr[data-task-id="marker"] a');
    await page.waitFor('#log');
    t.equal(new URL(await page.url()).pathname, tiPage(DAG, 'ui_run_a', 'marker'), 'the link of a row');
    await page.goto(t.url(`/dags/${DAG}/runs/ui_run_a`));
    await page.waitFor('#ti-list tbody tr[data-task-id]');
    await page.screenshot('run-page', {fullPage: true});
  },

  "a task's log page shows the log to its last line, HTML in it as text, levels coloured": async (t) => {
    await finishedRun(t, DAG, 'ui_run_a');
    const page = t.page;
    await open(t, page, 'admin', tiPage(DAG, 'ui_run_a', 'marker'));
    await page.waitFor(() => (document.querySelector('#log') || {}).textContent.includes('ui-marker-42-last'));
    const text = await logText(page);
    const api1 = await api(t, 'admin', 'GET', `${runPath(DAG, 'ui_run_a')}/taskInstances/marker/logs/1?full_content=true`);
    t.equal(text, api1.body.content, "the page's log is the API's");
    t.assert(text.includes('a log line with <b>html</b> and <img src=x onerror=alert(1)> in it'), 'the HTML of the line is shown as text');
    t.equal(await page.count('#log b, #log img, #log *:not(span)'), 0, 'elements made from the log text');
    t.assert((await page.text('#log .lv-ERROR')).includes('a line that looks like an error'), 'the ERROR line is coloured');
    // The download is the whole log as a file.
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'ui-download-'));
    try {
      await page.send('Browser.setDownloadBehavior', {behavior: 'allow', downloadPath: folder, browserContextId: page.contextId});
      await page.click('#log-download');
      const file = path.join(folder, `${DAG}__marker__ui_run_a__try1.log`);
      await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === api1.body.content, 10000, `${file} to hold the log`);
    } finally {
      fs.rmSync(folder, {recursive: true, force: true});
    }
    t.assert((await page.text('#ti-state')).includes('success'), 'the state in the header');
    await page.screenshot('ti-logs', {fullPage: true});
  },

  'the XCom, rendered and details tabs and a mapped task show what the API has': async (t) => {
    await finishedRun(t, DAG, 'ui_run_a');
    const page = t.page;
    await open(t, page, 'admin', tiPage(DAG, 'ui_run_a', 'push', 'xcom'));
    await page.waitFor('#xcom-list tr[data-key="return_value"]');
    const value = await page.text('#xcom-list tr[data-key="return_value"] .xcom-value');
    t.assert(value.includes('"rows": 3') && value.includes('<i>x</i>'), `the XCom value as JSON text: ${value}`);
    t.equal(await page.count('#xcom-list i'), 0, 'elements made from the XCom value');
    await page.screenshot('ti-xcom');

    await page.click('#ti-tabs a[href$="/rendered"]');
    await page.waitFor('#rendered .rendered-field[data-field="bash_command"] pre');
    t.assert((await page.text('#rendered .rendered-field[data-field="bash_command"] pre')).includes("echo '{\"rows\": 3"),
      'the command as it ran');

    await page.click('#ti-tabs a[href$="/details"]');
    await page.waitFor('#tries-list');
    const fields = await page.text('#ti-fields');
    for (const k of ['task_id', 'dag_run_id', 'try_number', 'hostname', 'pool', 'priority_weight']) {
      t.assert(fields.includes(k), `the details name ${k}`);
    }
    t.equal(await page.count('#tries-list tbody tr'), 1, 'tries');
    await page.screenshot('ti-details', {fullPage: true});

    // A mapped task without map_index lists its instances; each leads to its own page.
    await page.goto(t.url(tiPage(DAG, 'ui_run_a', 'fan')));
    await page.waitFor('#mapped-list tbody tr[data-map-index]');
    t.equal(await page.count('#mapped-list tbody tr[data-map-index]'), 2, 'mapped instances listed');
    await page.screenshot('ti-mapped');
    await page.click('#mapped-list tr[data-map-index="1"] a');
    await page.waitFor(() => (document.querySelector('#log') || {}).textContent.includes('instance 1 of two'));
    t.equal(new URL(await page.url()).search, '?map_index=1', 'the query of a mapped instance');
  },

  'the rendered tab says "not rendered yet" before the try, then shows each field rendered, secrets masked': async (t) => {
    await dagsLoaded(t);
    const page = t.page;
    const run = `ui_rendered_${Date.now()}`;
    const r = await api(t, 'admin', 'POST', `/dags/${RENDERED}/dagRuns`, {dag_run_id: run});
    t.equal(r.status, 200, `triggering ${RENDERED}: ${JSON.stringify(r.body)}`);
    const day = r.body.logical_date.slice(0, 10);
    // "templated" waits 10 s for "wait": its try has not started when the page opens.
    await until(async () => (await api(t, 'admin', 'GET', `${runPath(RENDERED, run)}/taskInstances/templated`)).status === 200,
      10000, 'the task instance to exist');
    await open(t, page, 'admin', tiPage(RENDERED, run, 'templated', 'rendered'));
    await page.waitFor('#not-rendered');
    t.assert((await page.text('#not-rendered')).startsWith('Not rendered yet'), 'not rendered yet before the try');
    t.equal(await page.count('#rendered .rendered-field'), 0, 'no field before the try');
    await page.screenshot('ti-rendered-not-yet');

    await finishedRun(t, RENDERED, run);
    const ti = (await api(t, 'admin', 'GET', `${runPath(RENDERED, run)}/taskInstances/templated`)).body;
    t.equal(ti.state, 'success', 'the templated task succeeded');
    await page.goto(t.url(tiPage(RENDERED, run, 'templated', 'rendered')));
    await page.waitFor('#rendered .rendered-field[data-field="bash_command"] pre');
    const command = await page.text('#rendered .rendered-field[data-field="bash_command"] pre');
    t.equal(command, `echo "day ${day} key ***"`, 'the rendered command: the date, the secret variable masked');
    t.equal(command, ti.rendered_fields.bash_command, 'as the API has it');
    t.equal(await page.text('#rendered .rendered-field[data-field="bash_command"] h2'), 'bash_command', 'the field name');
    t.equal(await page.count('#rendered .rendered-field'), Object.keys(ti.rendered_fields).length, 'one panel per field');
    t.assert((await page.text('#rendered-by')).includes('try 1'), 'which try rendered them');
    t.assert(!(await page.text('#ti-tab')).includes('ui-secret-4711'), 'the secret is not on the page');
    await page.screenshot('ti-rendered');
  },

  "a running task's log is followed to its last line without a reload": async (t) => {
    await dagsLoaded(t);
    const page = t.page;
    await open(t, page, 'admin', '/dags');
    // The task sleeps 3 s between its two lines. The page is opened as soon
    // as the task instance exists and follows from whatever state it finds;
    // on a machine so busy that the page first shows the log after the
    // final line, that attempt proves nothing and a new run is tried.
    const late = [];
    for (;;) {
      const run = `ui_follow_${Date.now()}`;
      const t0 = Date.now();
      const r = await api(t, 'admin', 'POST', `/dags/${FOLLOW}/dagRuns`, {dag_run_id: run});
      t.equal(r.status, 200, `triggering ${FOLLOW}`);
      await until(async () => (await api(t, 'admin', 'GET', `${runPath(FOLLOW, run)}/taskInstances/slow`)).status === 200,
        30000, 'the task instance of the new run');
      await page.goto(t.url(tiPage(FOLLOW, run, 'slow')));
      await page.waitFor(() => (document.querySelector('#log') || {}).textContent.includes('slow-first-2'));
      const seen = await page.evaluate(() => {
        window.__sameDocument = true;
        return {log: document.querySelector('#log').textContent, live: document.querySelector('#log-live').textContent};
      });
      if (!seen.log.includes('slow-final-42')) {
        t.assert(seen.live.includes('following'), `the page says it follows the log: ${seen.live}`);
        break;
      }
      late.push(`${run}: the page showed the first line ${Date.now() - t0} ms after the trigger, with the final one`);
      t.assert(late.length < 3, `the page never showed the log before its final line:\n${late.join('\n')}`);
    }
    await page.screenshot('ti-logs-following');
    await page.waitFor(() => (document.querySelector('#log') || {}).textContent.includes('slow-final-42'), 20000);
    t.equal(await page.evaluate('window.__sameDocument === true'), true, 'the page was not reloaded');
    await page.waitFor(() => (document.querySelector('#ti-state') || {}).textContent === 'success', 20000);
    await page.waitFor(() => (document.querySelector('#log-live') || {}).textContent === 'finished', 10000);
    const text = await logText(page);
    t.equal(text.split('slow-first-2').length, 2, 'the first line once (nothing drawn twice)');
    t.assert(/slow-first-2\n(.*\n)*slow-final-42\n/.test(text), 'the first line, then the final one');
    await page.screenshot('ti-logs-followed');
  },

  'clearing a run lists its task instances in a dry run, then clears them': async (t) => {
    const run = `ui_run_clear_${Date.now()}`;
    await finishedRun(t, DAG, run);
    const before = await tis(t, DAG, run);
    const page = t.page;
    await open(t, page, 'admin', `/dags/${DAG}/runs/${run}`);
    await page.click('#run-clear');
    await page.waitFor('#dry-run-list tbody tr');
    const listed = await page.evaluate(() => [...document.querySelectorAll('#dry-run-list tbody tr td:first-child')].map((td) => td.innerText.trim()));
    t.equal(listed.slice().sort().join(' '), before.map((x) => x.task_id).sort().join(' '), 'the dry run lists every task instance of the run');
    await page.screenshot('run-clear-dry-run');
    const still = await tis(t, DAG, run);
    t.equal(still.map((x) => x.state).join(), before.map((x) => x.state).join(), 'the dry run changed nothing');
    await page.click('#confirm-action');
    await page.waitFor(() => !document.querySelector('.modal-back'));
    const tries = Object.fromEntries(before.map((x) => [`${x.task_id}[${x.map_index}]`, x.try_number]));
    await until(async () => (await tis(t, DAG, run)).every((x) =>
      x.state !== 'success' || x.try_number > tries[`${x.task_id}[${x.map_index}]`]), 20000,
    'every task instance of the run to be cleared (not success, or run again)');
    await finishedRun(t, DAG, run);
  },

  'marking a task failed lists it in a dry run and the API sees it failed': async (t) => {
    const run = `ui_run_mark_${Date.now()}`;
    await finishedRun(t, DAG, run);
    const page = t.page;
    await open(t, page, 'admin', tiPage(DAG, run, 'push', 'details'));
    await page.click('#ti-mark-failed');
    await page.waitFor('#dry-run-list tbody tr');
    t.equal(await page.count('#dry-run-list tbody tr'), 1, 'task instances the dry run lists');
    t.equal(await page.text('#dry-run-list tbody td'), 'push', 'the task the dry run lists');
    await page.screenshot('ti-mark-failed-dry-run');
    await page.click('#confirm-action');
    await page.waitFor(() => (document.querySelector('#ti-state') || {}).textContent === 'failed');
    const r = await api(t, 'admin', 'GET', `${runPath(DAG, run)}/taskInstances/push`);
    t.equal(r.body.state, 'failed', 'the state the API has');
  },

  "a run marked failed then deleted from its page; an action the API refuses shows the API's reason": async (t) => {
    const run = `ui_run_del_${Date.now()}`;
    await finishedRun(t, DAG, run);
    const page = t.page;
    await open(t, page, 'admin', `/dags/${DAG}/runs/${run}`);
    await page.click('#run-mark-failed');
    await page.click('#confirm-action');
    await page.waitFor(() => (document.querySelector('#run-facts .state') || {}).textContent === 'failed');
    t.equal((await api(t, 'admin', 'GET', runPath(DAG, run))).body.state, 'failed', 'the run state the API has');
    await page.click('#run-delete');
    await page.waitFor('.modal #confirm-action');
    await page.screenshot('run-delete-confirm');
    await page.click('#confirm-action');
    await page.waitFor((p) => location.pathname === p, undefined, `/dags/${DAG}/runs`);
    t.equal((await api(t, 'admin', 'GET', runPath(DAG, run))).status, 404, 'the deleted run in the API');

    // A run deleted behind the page's back: clearing it shows the API's 404.
    const gone = `ui_run_gone_${Date.now()}`;
    await finishedRun(t, DAG, gone);
    await page.goto(t.url(`/dags/${DAG}/runs/${gone}`));
    await page.waitFor('#run-clear');
    t.equal((await api(t, 'admin', 'DELETE', runPath(DAG, gone))).status, 204, 'deleting the run through the API');
    await page.click('#run-clear');
    await page.waitFor('.modal .error');
    const err = await page.text('.modal .error');
    t.assert(err.includes('404') && err.includes(gone), `the refusal in the dialog: ${err}`);
    t.equal(await page.evaluate(() => document.querySelector('#confirm-action').disabled), true, 'the confirm button after a refusal');
    await page.screenshot('run-clear-refused');
    const log = page.takeLog().map((e) => `${e.type}: ${e.text}`);
    t.assert(log.length >= 1 && log.every((e) => / 404 POST .*clearTaskInstances|404 \(Not Found\)/.test(e)), `the page log holds the refused request only:\n${log.join('\n')}`);
  },

  'a note saved on the run page is the note the API has': async (t) => {
    await finishedRun(t, DAG, 'ui_run_a');
    const page = t.page;
    await open(t, page, 'admin', `/dags/${DAG}/runs/ui_run_a`);
    await page.click('#note-edit');
    await page.type('#note-text', 'checked by <b>ops</b>');
    await page.click('#note-save');
    await page.waitFor('#note .note-text');
    t.equal(await page.text('#note .note-text'), 'checked by <b>ops</b>', 'the note as text');
    const r = await api(t, 'admin', 'GET', runPath(DAG, 'ui_run_a'));
    t.equal(r.body.note, 'checked by <b>ops</b>', 'the note the API has');
  },

  'a Viewer sees no action on the run and task pages, and the API refuses them': async (t) => {
    await finishedRun(t, DAG, 'ui_run_a');
    const page = t.page;
    await open(t, page, 'viewer', `/dags/${DAG}/runs/ui_run_a`);
    await page.waitFor('#ti-list tbody tr[data-task-id]');
    t.equal(await page.count('#run-actions, #run-clear, #run-delete, #note-edit, button.danger'), 0, 'actions on the run page');
    await page.screenshot('run-page-viewer');
    await page.goto(t.url(tiPage(DAG, 'ui_run_a', 'marker', 'details')));
    await page.waitFor('#tries-list');
    t.equal(await page.count('#ti-actions, #ti-clear, #ti-mark-failed, #ti-mark-success, #note-edit'), 0, 'actions on the task page');
    await page.goto(t.url(tiPage(DAG, 'ui_run_a', 'marker')));
    await page.waitFor(() => (document.querySelector('#log') || {}).textContent.includes('ui-marker-42-last'));
    t.equal(await page.count('#ti-actions'), 0, 'actions on the log tab');
    await page.screenshot('ti-logs-viewer');

    const refused = [
      ['POST', `/dags/${DAG}/clearTaskInstances`, {dag_run_id: 'ui_run_a', dry_run: true}],
      ['POST', `/dags/${DAG}/updateTaskInstancesState`, {dag_run_id: 'ui_run_a', task_id: 'marker', new_state: 'failed',
        include_upstream: false, include_downstream: false, include_future: false, include_past: false, dry_run: true}],
      ['PATCH', runPath(DAG, 'ui_run_a'), {state: 'failed'}],
      ['PATCH', `${runPath(DAG, 'ui_run_a')}/setNote`, {note: 'no'}],
      ['PATCH', `${runPath(DAG, 'ui_run_a')}/taskInstances/marker/setNote`, {note: 'no'}],
      ['DELETE', runPath(DAG, 'ui_run_a')],
    ];
    for (const [method, p, body] of refused) {
      const r = await api(t, 'viewer', method, p, body);
      t.equal(r.status, 403, `${method} ${p} as the viewer`);
    }
    t.equal((await api(t, 'admin', 'GET', runPath(DAG, 'ui_run_a'))).body.state, 'success', 'the run after the refusals');
  },
};
