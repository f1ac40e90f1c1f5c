'use strict';
// DAG versions in the Code tab and doc_md rendered as Markdown. The
// scenario writes its own DAG (ui_versions) into the DAG folder
// (UPDRAFT__CORE__DAGS_FOLDER, which test_ui.sh exports), runs it, then
// changes one task's command so that the DAG has a second version and runs
// it again: the Code tab opens on the latest version, shows version 1 when
// picked, and the changes between the two as +/- lines; the run page links
// to the code of the run's own version. The DAG's doc_md becomes HTML (its
// heading an <h2>) but the <img onerror> written into it loses its
// handler; the task's doc_md shows on its task-instance page.
// DOMPurify parses the Markdown's HTML in an inert document, where Chrome
// still reports the inline handler as blocked by the page's CSP: each
// page that shows this DAG's doc_md takes that report from its log and
// checks that it is the only thing there.
const fs = require('fs');
const path = require('path');

const DAG = 'ui_versions';
const D = `/dags/${DAG}`;
const GIF = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

const dagFile = (word) => `# the DAG of the versions scenario
${DAG}:
  doc_md: |
    ## Versioned heading
    Some *emphasis*.
    <img id="doc-img" src="${GIF}" onerror="window.__pwned = 1">
  tasks:
    - task_id: say
      operator: bash
      bash_command: 'echo ${word}'
      doc_md: 'The task **says** a word.'
`;

async function api(t, method, p, body) {
  const u = t.users.admin;
  const res = await fetch(t.url(p), {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64'),
      Accept: 'application/json',
      ...(body === undefined ? {} : {'Content-Type': 'application/json'}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {status: res.status, body: await res.json().catch(() => null)};
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

async function finishedRun(t, run) {
  const r = await api(t, 'POST', `/api/v1${D}/dagRuns`, {dag_run_id: run});
  t.equal(r.status, 200, `triggering ${run}`);
  await until(async () => {
    const s = await api(t, 'GET', `/api/v1${D}/dagRuns/${run}`);
    return s.status === 200 && ['success', 'failed'].includes(s.body.state);
  }, 60000, `run ${run} to finish`);
}

let ready = null;
/* ui_versions with two versions, run r_one on version 1 and r_two on version 2 (once per test run). */
function twoVersions(t) {
  ready = ready || (async () => {
    const versions = async () => {
      const r = await api(t, 'GET', `/api/v2${D}/dagVersions`);
      return r.status === 200 ? r.body.total_entries : 0;
    };
    if (await versions() >= 2) return;
    const folder = process.env.UPDRAFT__CORE__DAGS_FOLDER;
    if (!folder) throw new Error('UPDRAFT__CORE__DAGS_FOLDER is not set: the scenario cannot add its DAG');
    const file = path.join(folder, 'ui_versions.yaml');
    fs.writeFileSync(file, dagFile('one'));
    await until(async () => (await versions()) === 1 &&
      (await api(t, 'GET', `/api/v1${D}`)).body.is_paused === false, 30000, `${DAG} to load`);
    await finishedRun(t, 'r_one');
    fs.writeFileSync(file, dagFile('two'));
    await until(async () => (await versions()) === 2, 30000, `${DAG}'s second version`);
    await finishedRun(t, 'r_two');
  })();
  ready.catch(() => {
    ready = null;
  });
  return ready;
}

async function signedIn(t, p) {
  await t.page.goto(t.url('/login'));
  await t.login(t.page, 'admin');
  await t.page.goto(t.url(p));
  return t.page;
}

/* Takes the page's log: only the CSP's reports of the blocked inline handler may be in it. */
function onlyBlockedHandlers(t, page) {
  const other = page.takeLog().filter((e) => !(e.type === 'console' &&
    /^Executing inline event handler violates .*The action has been blocked\.$/.test(e.text)));
  t.equal(JSON.stringify(other), '[]', 'the page log besides the blocked handler');
}

const codeText = (page) => page.evaluate(() => [...document.querySelectorAll('#dag-code .tx')].map((e) => e.textContent).join('\n'));

module.exports = {
  'code: the latest version, an older one picked, and the diff between them': async (t) => {
    await twoVersions(t);
    const page = await signedIn(t, `${D}/code`);
    await page.waitFor('#dag-code');
    t.equal(await page.evaluate(() => document.querySelector('#code-version').value), '2', 'the version shown first');
    t.equal(await codeText(page), dagFile('two').replace(/\n$/, ''), 'the latest text');
    t.equal(await page.evaluate(() => [...document.querySelectorAll('#code-version option')].map((o) => o.value).join(',')),
      '2,1', 'the versions offered, newest first');

    await page.select('#code-version', '1');
    await page.waitFor(() => /echo one/.test((document.querySelector('#dag-code') || {}).textContent || ''));
    t.equal(await codeText(page), dagFile('one').replace(/\n$/, ''), 'version 1\'s text');
    t.assert(/[?&]version=1\b/.test(new URL(await page.url()).search), 'the address keeps the version');
    await page.screenshot('versions-code-v1');

    await page.select('#code-compare', '2');
    await page.waitFor('#code-diff');
    const rows = await page.evaluate(() => ({
      del: [...document.querySelectorAll('#code-diff .tx.del')].map((e) => e.textContent),
      add: [...document.querySelectorAll('#code-diff .tx.add')].map((e) => e.textContent),
      same: document.querySelectorAll('#code-diff .tx.ctx').length,
      elements: document.querySelectorAll('#code-diff .tx *').length,
    }));
    t.equal(rows.del.join('|'), "-       bash_command: 'echo one'", 'the line removed');
    t.equal(rows.add.join('|'), "+       bash_command: 'echo two'", 'the line added');
    t.equal(rows.same, dagFile('one').split('\n').length - 2, 'the unchanged lines');
    t.equal(rows.elements, 0, 'elements inside diff lines (they are text)');
    t.equal(await page.text('#code-diff-summary'), '1 line added, 1 removed.', 'the summary');
    t.assert(/[?&]diff=2\b/.test(new URL(await page.url()).search), 'the address keeps the comparison');
    await page.screenshot('versions-code-diff');
    onlyBlockedHandlers(t, page);
  },

  'run page: the run\'s version, and a link to its code': async (t) => {
    await twoVersions(t);
    const page = await signedIn(t, `${D}/runs/r_one`);
    await page.waitFor('#run-code');
    t.assert((await page.text('#run-facts')).includes('v1 · Code of this run\'s version'), 'the run\'s version');
    await page.screenshot('versions-run-page');
    await page.click('#run-code');
    await page.waitFor(() => location.pathname.endsWith('/code') && document.querySelector('#dag-code'));
    t.equal(await page.evaluate(() => document.querySelector('#code-version').value), '1', 'the run\'s version picked');
    t.assert(/echo one/.test(await codeText(page)), 'its text');
    t.assert((await page.text('#code-note')).includes('the version run r_one uses'), 'the note names the run');
    onlyBlockedHandlers(t, page);
  },

  'doc_md: Markdown as HTML, without the handlers written into it': async (t) => {
    await twoVersions(t);
    const page = await signedIn(t, `${D}/grid`);
    await page.waitFor('#doc-md h2');
    t.equal(await page.text('#doc-md h2'), 'Versioned heading', 'the heading is an <h2>');
    t.equal(await page.text('#doc-md em'), 'emphasis', 'emphasis is an <em>');
    const img = await page.evaluate(() => {
      const i = document.querySelector('#doc-md img');
      return i ? {onerror: i.getAttribute('onerror'), handlers: [...i.attributes].filter((a) => /^on/i.test(a.name)).length} : null;
    });
    t.assert(img !== null, 'the image is kept');
    t.equal(img.handlers, 0, 'event handler attributes on the image');
    t.equal(await page.evaluate(() => window.__pwned === undefined), true, 'no handler ran');
    await page.screenshot('versions-doc-md');
    onlyBlockedHandlers(t, page);

    await page.goto(t.url(`${D}/runs/r_two/tasks/say`));
    await page.waitFor('#task-doc-md strong');
    t.equal(await page.text('#task-doc-md strong'), 'says', 'the task\'s doc_md');
    await page.screenshot('versions-task-doc');
    onlyBlockedHandlers(t, page);
  },
};
