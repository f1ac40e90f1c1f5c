'use strict';
// Backfill from the browser (ui/src/views/backfill.js, tab_backfills.js):
// plan a range, see the dry run's runs, start it, and watch the scheduler
// run it to the end with no terminal open; a Viewer gets neither the
// button nor the API.
const fs = require('fs');
const path = require('path');

const DAG = 'ui_scn_backfill';
const DAG_FILE = `# written by tests/ui/scenarios/backfill.js
${DAG}:
  schedule: "@daily"
  start_date: 2024-01-01
  catchup: false
  tasks:
    - task_id: work
      operator: bash
      bash_command: 'echo "day $UPDRAFT_RUN_ID"'
`;

const {rest, until} = require('../rest');

async function loaded(t) {
  fs.writeFileSync(path.join(process.env.UPDRAFT__CORE__DAGS_FOLDER, `${DAG}.yaml`), DAG_FILE);
  await until('the DAG to be parsed', async () => (await rest(t, 'admin', 'GET', `/api/v1/dags/${DAG}`)).status === 200);
}

/* Sets a form field's value as a user would (input event). */
async function setValue(page, selector, value) {
  await page.evaluate((sel, v) => {
    const e = document.querySelector(sel);
    e.value = v;
    e.dispatchEvent(new Event('input', { bubbles: true }));
  }, selector, value);
}

module.exports = {
  'a backfill planned in the browser lists its runs, starts, and the scheduler runs it to the end': async (t) => {
    await loaded(t);
    const page = t.page;
    await t.login(page, 'admin');
    await page.goto(t.url(`/dags/${DAG}/grid`));
    await page.click('#backfill');
    await page.waitFor('#backfill-modal');
    await setValue(page, '#backfill-from', '2024-03-01T00:00');
    await setValue(page, '#backfill-to', '2024-03-03T00:00');
    await setValue(page, '#backfill-max', '2');
    await page.click('#backfill-check');
    await page.waitFor(() => /3 runs will be created/.test(document.querySelector('#backfill-preview').textContent));
    t.equal(await page.count('#backfill-preview li'), 3, 'dates listed by the dry run');
    await page.screenshot('backfill-dry-run');
    await page.click('#backfill-start');
    await page.waitFor(() => location.pathname.endsWith('/backfills'));
    const list = await rest(t, 'admin', 'GET', `/api/v2/backfills?dag_id=${DAG}`);
    t.equal(list.status, 200, 'backfills listed');
    t.equal(list.body.backfills.length, 1, 'one backfill stored');
    const id = list.body.backfills[0].id;
    t.equal(list.body.backfills[0].max_active_runs, 2, 'max active runs from the form');
    // The page follows it to the end by itself.
    await page.waitFor(`tr[data-backfill-id="${id}"][data-completed="yes"]`, 90000);
    const runs = await rest(t, 'admin', 'GET', `/api/v1/dags/${DAG}/dagRuns?order_by=execution_date`);
    const backfilled = runs.body.dag_runs.filter((r) => r.run_type === 'backfill');
    t.equal(backfilled.length, 3, 'runs the backfill made');
    t.assert(backfilled.every((r) => r.state === 'success'), `every run succeeded: ${JSON.stringify(backfilled.map((r) => r.state))}`);
    t.equal(backfilled[0].logical_date.slice(0, 10), '2024-03-01', 'first logical date');
    await page.screenshot('backfill-done');
  },

  'a Viewer sees no backfill button and the API refuses one': async (t) => {
    await loaded(t);
    const page = t.page;
    await t.login(page, 'viewer');
    await page.goto(t.url(`/dags/${DAG}/backfills`));
    await page.waitFor('section.backfills');
    t.equal(await page.count('#backfill'), 0, 'backfill buttons in the header');
    t.equal(await page.count('#backfill-new'), 0, 'new-backfill buttons');
    const r = await rest(t, 'viewer', 'POST', '/api/v2/backfills',
      { dag_id: DAG, from_date: '2024-04-01T00:00:00Z', to_date: '2024-04-02T00:00:00Z' });
    t.equal(r.status, 403, 'the API answers a Viewer');
    await page.screenshot('backfill-viewer');
  },
};
