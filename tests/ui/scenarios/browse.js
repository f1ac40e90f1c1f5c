'use strict';
// The Browse and Admin pages (ui/src/views/browse*.js): each lists what the
// REST API has, the forms change what the API then shows, a connection's
// password never reaches the browser, and a Viewer is offered no change the
// server would refuse.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

/* The REST API as a user, with basic auth (not the browser's session). */
async function rest(t, who, method, path, body) {
  const u = t.users[who];
  const res = await fetch(t.url(path), {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64'),
      Accept: 'application/json',
      ...(body !== undefined ? {'Content-Type': 'application/json'} : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    // not JSON
  }
  return {status: res.status, json, text};
}

/* Signs in and lands on the Jobs page (a page of this file's, whatever /dags needs). */
async function signedIn(t, who) {
  const page = t.page;
  await page.goto(t.url('/login?next=/jobs'));
  await t.login(page, who);
  return page;
}

/* Opens a UI path and waits until the table sel is drawn (not "Loading…"). */
async function open(page, t, path, sel) {
  await page.goto(t.url(path));
  await page.waitFor((s) => {
    const e = document.querySelector(s);
    return e && !document.querySelector('#view').innerText.includes('Loading…');
  }, undefined, sel);
}

const rows = (page, sel) => page.count(`${sel} tbody tr[data-key]`);

/* Waits for the modal's form, fills fields {selector: value}, submits, waits for it to close. */
async function submitForm(page, t, fields) {
  await page.waitFor('#modal-form');
  for (const [sel, v] of Object.entries(fields)) await page.type(`#modal-form ${sel}`, v);
  await page.click('#form-submit');
  await page.waitFor(() => !document.querySelector('#modal-form'));
}

const uniq = () => crypto.randomBytes(4).toString('hex');

module.exports = {
  'every Browse and Admin page loads and lists what the API has': async (t) => {
    const page = await signedIn(t, 'admin');
    const key = `ui_known_${uniq()}`;
    t.equal((await rest(t, 'admin', 'POST', '/api/v1/variables', {key, value: 'known-value-1'})).status, 200, 'variable made');

    const runs = (await rest(t, 'admin', 'POST', '/api/v1/dags/~/dagRuns/list', {})).json;
    await open(page, t, '/runs', '#run-list');
    t.equal(await rows(page, '#run-list'), runs.total_entries, 'runs listed');
    const first = runs.dag_runs[0];
    t.assert(await page.count(`#run-list a[href="/dags/${first.dag_id}/runs/${first.dag_run_id}"]`) === 1, 'a run links to its page');
    await page.screenshot('browse-runs');

    const tis = (await rest(t, 'admin', 'POST', '/api/v1/dags/~/dagRuns/~/taskInstances/list', {})).json;
    await open(page, t, '/task-instances?state=all', '#ti-list');
    t.equal(await rows(page, '#ti-list'), Math.min(50, tis.total_entries), 'task instances listed');
    await page.screenshot('browse-task-instances');
    await open(page, t, '/task-instances', '#ti-list');
    t.equal(await page.evaluate(() => document.querySelector('#filter-state').value), 'failing', 'default filter');

    // A DAG file that fails to load, in the folder the server reads (its configuration says which).
    const core = (await rest(t, 'admin', 'GET', '/api/v1/config?section=core')).json;
    const folder = core.sections[0].options.find((o) => o.key === 'dags_folder').value;
    const bad = path.join(folder, `ui_broken_${uniq()}.yaml`);
    fs.writeFileSync(bad, 'dag_id: <b>broken</b>\ntasks:\n  - task_id: a\n    operator: bash\n    bash_command: [unclosed\n');
    let ies;
    for (const until = Date.now() + 20000; Date.now() < until;) {
      ies = (await rest(t, 'admin', 'GET', '/api/v1/importErrors')).json;
      if (ies.import_errors.some((e) => e.filename === bad)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const ie = ies.import_errors.find((e) => e.filename === bad);
    t.assert(ie, `the broken file is an import error: ${JSON.stringify(ies)}`);
    await open(page, t, '/import-errors', '#import-error-list');
    t.equal(await rows(page, '#import-error-list'), ies.total_entries, 'import errors listed');
    const shown = await page.evaluate((f) => document.querySelector(`#import-error-list tr[data-key="${f}"] pre`).textContent, bad);
    t.equal(shown, ie.stack_trace, 'the message shows as text');
    t.assert(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+(:\\d+)?$`).test(
      await page.text(`#import-error-list tr[data-key="${bad}"] td:nth-child(2)`)), 'file:line:col shows');
    await page.screenshot('browse-import-errors');
    fs.unlinkSync(bad);

    await open(page, t, '/jobs', '#job-list');
    const jobs = (await rest(t, 'admin', 'GET', '/ui/jobs')).json;
    t.assert(jobs.jobs.some((j) => j.job_type === 'SchedulerJob') && jobs.jobs.some((j) => j.job_type === 'WorkerJob'),
      `/ui/jobs lists a scheduler and a worker: ${JSON.stringify(jobs)}`);
    t.equal(await rows(page, '#job-list'), jobs.total_entries, 'jobs listed');
    t.assert((await page.text('#job-list')).includes('Scheduler'), 'a scheduler shows');
    const worker = jobs.jobs.find((j) => j.job_type === 'WorkerJob' && j.healthy);
    t.equal(worker && worker.slots, 2, 'the worker registered its concurrency as its slots');
    const slots = await page.text(`#job-list tr[data-key="${worker.id}"] td.slots`);
    t.assert(/^\s*\d+ \/ 2\s*$/.test(slots), `the worker's slots show used / total: "${slots}"`);
    t.equal(await page.count(`#job-list tr[data-key="${worker.id}"] td.slots meter[max="2"]`), 1, 'a meter of the slots');
    await page.screenshot('browse-jobs');

    await open(page, t, '/pools', '#pool-list');
    t.equal(await page.count('#pool-list tr[data-key="default_pool"]'), 1, 'default_pool listed');
    t.equal(await page.count('#pool-list tr[data-key="default_pool"] button.delete'), 0, 'default_pool has no delete');
    await page.screenshot('browse-pools');

    await open(page, t, '/variables', '#variable-list');
    await page.click(`#variable-list tr[data-key="${key}"] button.show-value`);
    await page.waitFor((k) => {
      const c = document.querySelector(`#variable-list tr[data-key="${k}"] td.value`);
      return c && c.innerText.includes('known-value-1');
    }, undefined, key);
    await page.screenshot('browse-variables');
    await open(page, t, `/variables?key=${key}`, '#variable-list');
    t.equal(await rows(page, '#variable-list'), 1, 'the key filter keeps one row');

    const conns = (await rest(t, 'admin', 'GET', '/api/v1/connections')).json;
    await open(page, t, '/connections', '#connection-list');
    t.equal(await rows(page, '#connection-list'), Math.min(50, conns.total_entries), 'connections listed');
    await page.screenshot('browse-connections');

    await open(page, t, '/users', '#user-list');
    t.equal(await page.count(`#user-list tr[data-key="${t.users.admin.username}"]`), 1, 'the admin listed');
    t.equal(await page.count(`#user-list tr[data-key="${t.users.viewer.username}"]`), 1, 'the viewer listed');
    await page.screenshot('browse-users');

    await open(page, t, '/events?event=api.post_variable', '#event-list');
    const evs = (await rest(t, 'admin', 'GET', '/api/v1/eventLogs?event=api.post_variable')).json;
    t.equal(await rows(page, '#event-list'), Math.min(50, evs.total_entries), 'events listed');
    t.assert(evs.total_entries >= 1, 'the variable made an event');
    await page.screenshot('browse-events');

    await open(page, t, '/config', '#section-core');
    t.assert((await page.text('#section-core')).includes('dags_folder'), 'core.dags_folder shows');
    const cfg = await page.text('#view');
    t.assert(!/postgres(ql)?:\/\/[^<\s]*:[^<\s]*@/.test(cfg), 'no database password in the configuration page');
    const fernet = process.env.UPDRAFT__CORE__FERNET_KEY;
    t.assert(!fernet || !cfg.includes(fernet), 'the Fernet key is not in the configuration page');
    await page.screenshot('browse-config');

    await rest(t, 'admin', 'DELETE', `/api/v1/variables/${key}`);
  },

  'the variable list pages and filters on the server, one page per request, never a secret value': async (t) => {
    const page = await signedIn(t, 'admin');
    const u = uniq();
    const prefix = `zz_page_${u}`; // sorts after the other scenarios' variables
    const keys = [];
    for (let i = 0; i < 55; i++) keys.push(`${prefix}_${String(i).padStart(2, '0')}`);
    keys.push(`${prefix}_api_key`); // a sensitive name: its value never asked for
    const decoy = `zz_pageX${u}_00`; // matches the filter only if its _ were a wildcard
    const made = [];
    for (const key of [...keys, decoy]) {
      made.push((await rest(t, 'admin', 'POST', '/api/v1/variables', {key, value: `value of ${key}`})).status);
    }
    t.assert(made.every((c) => c === 200), `57 variables made: ${made.join(' ')}`);
    const listed = () => page.evaluate(() => performance.getEntriesByType('resource')
      .map((e) => e.name).filter((n) => n.includes('/api/v1/variables?')));

    await open(page, t, `/variables?key=${prefix}_`, '#variable-list');
    t.equal(await rows(page, '#variable-list'), 50, 'the first page holds 50 variables');
    t.equal(await page.text('#total'), '1–50 of 56', 'the pager counts the matches, the decoy not among them');
    t.equal(await page.count(`#variable-list tr[data-key="${decoy}"]`), 0, 'the filter\'s _ is not a wildcard');
    t.equal(await page.count(`#variable-list tr[data-key="${keys[0]}"]`), 1, 'ordered by key: the first on page one');
    let asked = await listed();
    t.equal(asked.length, 1, `one list request for the page: ${asked.join(' ')}`);
    const q = new URL(asked[0]).searchParams;
    t.equal(`${q.get('limit')} ${q.get('offset')} ${q.get('order_by')} ${q.get('variable_key_pattern')}`,
      `50 0 key ${prefix.replace(/_/g, '\\_')}\\_`, 'the page, its order and the escaped pattern go to the server');
    await page.screenshot('browse-variables-paged');

    await page.click('.pager a.button');
    await page.waitFor(() => {
      const e = document.querySelector('#total');
      return e && e.innerText.startsWith('51') && document.querySelector('#variable-list');
    });
    t.equal(await rows(page, '#variable-list'), 6, 'the second page holds the other 6');
    t.equal(await page.text('#total'), '51–56 of 56', 'the pager says where it is');
    t.equal(await page.count(`#variable-list tr[data-key="${keys[55]}"]`), 1, 'the sensitive one is on page two');
    t.equal(await page.text(`#variable-list tr[data-key="${keys[55]}"] td.value`), '***', 'its value is not shown');
    t.equal(await page.count(`#variable-list tr[data-key="${keys[55]}"] button.show-value`), 0, 'nor offered');
    asked = await listed();
    t.equal(asked.length, 2, 'one list request more for page two');
    t.equal(new URL(asked[1]).searchParams.get('offset'), '50', 'at offset 50');
    const gets = await page.evaluate(() => performance.getEntriesByType('resource')
      .map((e) => e.name).filter((n) => /\/api\/v1\/variables\/[^?]/.test(n)));
    t.equal(gets.length, 0, `no value asked for without a click: ${gets.join(' ')}`);

    // The API's pattern is LIKE's: unescaped, its _ matches the decoy's X too.
    const raw = (await rest(t, 'admin', 'GET', `/api/v1/variables?variable_key_pattern=${prefix}&limit=100`)).json;
    t.equal(raw.total_entries, 57, 'the API\'s pattern: _ is a wildcard, the decoy matches');
    t.assert(raw.variables.every((v) => !('value' in v)), 'the API\'s list holds no value');
    const lit = (await rest(t, 'admin', 'GET', '/api/v1/variables' +
      `?variable_key_pattern=${encodeURIComponent(prefix.replace(/_/g, '\\_'))}&limit=100`)).json;
    t.equal(lit.total_entries, 56, 'escaped with \\, the decoy does not');
    for (const key of [...keys, decoy]) await rest(t, 'admin', 'DELETE', `/api/v1/variables/${key}`);
  },

  'a variable and a pool are created, edited and deleted through the forms': async (t) => {
    const page = await signedIn(t, 'admin');
    const key = `ui_var_${uniq()}`;
    await open(page, t, '/variables', '#variable-list');
    await page.click('#add');
    await submitForm(page, t, {'#f-key': key, '#f-value': 'first value', '#f-description': 'made in the UI'});
    await page.waitFor(`#variable-list tr[data-key="${key}"]`);
    let v = await rest(t, 'admin', 'GET', `/api/v1/variables/${key}`);
    t.equal(v.json && v.json.value, 'first value', 'the API has the new variable');
    await page.screenshot('variable-created');

    await page.click(`#variable-list tr[data-key="${key}"] button.edit`);
    await page.waitFor(() => document.querySelector('#f-value') && document.querySelector('#f-value').value === 'first value');
    await submitForm(page, t, {'#f-value': 'second value'});
    await page.click(`#variable-list tr[data-key="${key}"] button.show-value`);
    await page.waitFor((k) => {
      const c = document.querySelector(`#variable-list tr[data-key="${k}"] td.value`);
      return c && c.innerText.includes('second value');
    }, undefined, key);
    v = await rest(t, 'admin', 'GET', `/api/v1/variables/${key}`);
    t.equal(v.json.value, 'second value', 'the API has the edited value');
    t.equal(v.json.description, 'made in the UI', 'the description kept');

    await page.click(`#variable-list tr[data-key="${key}"] button.delete`);
    await page.waitFor('#modal-form');
    await page.screenshot('variable-delete-confirm');
    await page.click('#form-submit');
    await page.waitFor((k) => !document.querySelector(`#variable-list tr[data-key="${k}"]`) && document.querySelector('#variable-list'), undefined, key);
    t.equal((await rest(t, 'admin', 'GET', `/api/v1/variables/${key}`)).status, 404, 'the API no longer has it');

    // A refusal shows in the form: a pool with a bad slot count.
    const pool = `ui_pool_${uniq()}`;
    await open(page, t, '/pools', '#pool-list');
    await page.click('#add');
    await page.type('#modal-form #f-name', pool);
    await page.type('#modal-form #f-slots', '-5');
    await page.click('#form-submit');
    await page.waitFor('#modal-form .error');
    const refusal = await page.text('#modal-form .error');
    t.assert(refusal.startsWith('400'), `the API's refusal shows in the form: ${refusal}`);
    t.equal(page.takeLog().map((e) => e.text).join('\n'), `400 POST ${t.url('/api/v1/pools')}`, 'the refused request');
    await page.screenshot('pool-refused');
    await page.type('#modal-form #f-slots', '3');
    await page.click('#form-submit');
    await page.waitFor(() => !document.querySelector('#modal-form'));
    await page.waitFor(`#pool-list tr[data-key="${pool}"]`);
    t.equal((await rest(t, 'admin', 'GET', `/api/v1/pools/${pool}`)).json.slots, 3, 'the API has the pool');

    await page.click(`#pool-list tr[data-key="${pool}"] button.edit`);
    await submitForm(page, t, {'#f-slots': '7'});
    await page.waitFor((p) => {
      const r = document.querySelector(`#pool-list tr[data-key="${p}"]`);
      return r && r.children[1].innerText === '7';
    }, undefined, pool);
    t.equal((await rest(t, 'admin', 'GET', `/api/v1/pools/${pool}`)).json.slots, 7, 'the API has the new slots');
    await page.screenshot('pool-edited');

    await page.click(`#pool-list tr[data-key="${pool}"] button.delete`);
    await page.waitFor('#modal-form');
    await page.click('#form-submit');
    await page.waitFor((p) => !document.querySelector(`#pool-list tr[data-key="${p}"]`) && document.querySelector('#pool-list'), undefined, pool);
    t.equal((await rest(t, 'admin', 'GET', `/api/v1/pools/${pool}`)).status, 404, 'the pool is gone');
  },

  'a user is created with a password, given a role, deactivated and deleted through the forms': async (t) => {
    const page = await signedIn(t, 'admin');
    const name = `ui_user_${uniq()}`;
    await open(page, t, '/users', '#user-list');
    await page.click('#add');
    await submitForm(page, t, {'#f-username': name, '#f-first_name': 'Una', '#f-last_name': 'Form',
      '#f-email': `${name}@example.com`, '#f-password': `Pw-${uniq()}-long-enough`});
    await page.waitFor(`#user-list tr[data-key="${name}"]`);
    let u = (await rest(t, 'admin', 'GET', `/api/v1/users/${name}`)).json;
    t.equal(u.roles.map((r) => r.name).join(','), 'Viewer', 'the new user is a Viewer');
    t.assert(!('password' in u), 'the API sends no password');

    await page.click(`#user-list tr[data-key="${name}"] button.edit`);
    await page.waitFor('#modal-form');
    t.equal(await page.count('#modal-form #f-password'), 0, 'no password field when editing');
    await page.click('#f-roles input[value="Op"]');
    await page.click('#f-active');
    await page.screenshot('user-edit');
    await page.click('#form-submit');
    await page.waitFor(() => !document.querySelector('#modal-form'));
    await page.waitFor((n) => {
      const r = document.querySelector(`#user-list tr[data-key="${n}"]`);
      return r && r.innerText.includes('Op');
    }, undefined, name);
    u = (await rest(t, 'admin', 'GET', `/api/v1/users/${name}`)).json;
    t.equal(u.roles.map((r) => r.name).sort().join(','), 'Op,Viewer', 'the roles changed');
    t.equal(u.active, false, 'the user is inactive');
    await page.screenshot('browse-users-after-edit');

    await page.click(`#user-list tr[data-key="${name}"] button.delete`);
    await page.waitFor('#modal-form');
    await page.click('#form-submit');
    await page.waitFor((n) => !document.querySelector(`#user-list tr[data-key="${n}"]`) && document.querySelector('#user-list'), undefined, name);
    t.equal((await rest(t, 'admin', 'GET', `/api/v1/users/${name}`)).status, 404, 'the user is gone');
  },

  'the connections page never carries the password that was set': async (t) => {
    const page = await signedIn(t, 'admin');
    // Every answer the page receives, kept to search it after.
    const ids = [];
    const orig = page.onEvent.bind(page);
    page.onEvent = (method, p) => {
      if (method === 'Network.loadingFinished') ids.push(p.requestId);
      orig(method, p);
    };
    const id = `ui_conn_${uniq()}`;
    const secret = `Sekret-${uniq()}-pw`;
    await open(page, t, '/connections', '#connection-list');
    await page.click('#add');
    await submitForm(page, t, {'#f-connection_id': id, '#f-conn_type': 'postgres', '#f-host': 'db.example',
      '#f-port': '5432', '#f-login': 'etl', '#f-password': secret});
    await page.waitFor(`#connection-list tr[data-key="${id}"]`);
    const stored = await rest(t, 'admin', 'GET', `/api/v1/connections/${id}`);
    t.equal(stored.json.host, 'db.example', 'the API has the connection');
    t.assert(!stored.text.includes(secret), 'the API does not send the password');

    // Editing opens the form (GET /connections/{id}): the password field is empty.
    await page.click(`#connection-list tr[data-key="${id}"] button.edit`);
    await page.waitFor('#f-password');
    t.equal(await page.evaluate(() => document.querySelector('#f-password').value), '', 'the password field is empty');
    t.equal(await page.count('#form-test'), 0, 'no Test button while core.test_connection is Disabled');
    await page.screenshot('connection-edit');
    await page.type('#modal-form #f-description', 'edited');
    await page.click('#form-submit');
    await page.waitFor(() => !document.querySelector('#modal-form'));
    await page.waitFor((c) => {
      const r = document.querySelector(`#connection-list tr[data-key="${c}"]`);
      return r && r.innerText.includes('edited');
    }, undefined, id);
    await page.screenshot('connections-after-edit');
    t.assert(!(await page.evaluate(() => document.documentElement.outerHTML)).includes(secret), 'the page has no password');
    let searched = 0;
    for (const requestId of ids) {
      const r = await page.send('Network.getResponseBody', {requestId}).catch(() => null);
      if (!r) continue;
      const text = r.base64Encoded ? Buffer.from(r.body, 'base64').toString('latin1') : r.body;
      t.assert(!text.includes(secret), `an answer carries the password (request ${requestId})`);
      searched++;
    }
    t.assert(searched >= 3, `the answers were searched (${searched})`);
    await rest(t, 'admin', 'DELETE', `/api/v1/connections/${id}`);
  },

  'a viewer is offered no change and the API refuses one': async (t) => {
    const page = await signedIn(t, 'viewer');
    await page.goto(t.url('/pools'));
    await page.waitFor('#pool-list');
    t.equal(await page.count('#add, button.edit, button.delete'), 0, 'buttons on the pools page');
    await page.screenshot('viewer-pools');
    const menu = await page.evaluate(() => [...document.querySelectorAll('#top a')].map((a) => a.getAttribute('href')));
    t.assert(!menu.includes('/users'), `the Users page is not in the menu: ${menu}`);
    t.assert(!menu.includes('/variables') && !menu.includes('/connections'), `nor variables or connections: ${menu}`);
    t.assert(menu.includes('/jobs') && menu.includes('/pools'), `jobs and pools are: ${menu}`);
    await open(page, t, '/jobs', '#job-list');
    t.assert(await rows(page, '#job-list') >= 2, 'the viewer reads the jobs');
    await page.screenshot('viewer-jobs');
    // The page's own session, as a forged click would use it: 403.
    const status = await page.evaluate(async () => {
      const csrf = decodeURIComponent((document.cookie.match(/(?:^|;\s*)updraft_csrf=([^;]*)/) || [])[1] || '');
      const r = await fetch('/api/v1/pools', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
        body: JSON.stringify({name: 'viewer_pool', slots: 1})});
      return r.status;
    });
    t.equal(status, 403, 'a create from the viewer\'s session');
    t.equal(page.takeLog().map((e) => e.text).join('\n'), `403 POST ${t.url('/api/v1/pools')}`, 'the refused request');
    t.equal((await rest(t, 'viewer', 'POST', '/api/v1/variables', {key: 'v', value: 'x'})).status, 403, 'a variable create as the viewer');
    t.equal((await rest(t, 'admin', 'GET', '/api/v1/pools/viewer_pool')).status, 404, 'no pool was made');
  },
};
