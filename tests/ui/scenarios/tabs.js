'use strict';
// The DAG page's chart and list tabs (gantt, durations, landing times,
// calendar, code, runs, events) against example_hello and its finished run:
// each loads without a console error and shows what the API answers.

const DAG = 'example_hello';
const D = `/dags/${DAG}`;

/* GET path as the signed-in page (its session cookie), parsed JSON. */
const get = (page, p) => page.evaluate(async (u) => {
  const r = await fetch(u, {headers: {Accept: 'application/json'}});
  return r.json();
}, p);

async function signedIn(t, who = 'admin') {
  await t.page.goto(t.url('/login'));
  await t.login(t.page, who);
  return t.page;
}

const pathOf = async (page) => new URL(await page.url()).pathname;

module.exports = {
  'gantt: one row per task instance of the latest run, bars open the task instance': async (t) => {
    const page = await signedIn(t);
    const runs = await get(page, `/api/v1${D}/dagRuns?order_by=-execution_date&limit=1`);
    t.assert(runs.dag_runs.length === 1, 'the DAG has a run');
    const run = runs.dag_runs[0].dag_run_id;
    const g = await get(page, `/ui/gantt/${DAG}/${encodeURIComponent(run)}`);
    await page.goto(t.url(`${D}/gantt`));
    await page.waitFor('#gantt');
    t.equal(await page.evaluate(() => document.querySelector('#gantt-run').value), run, 'the picked run');
    const rows = await page.evaluate(() => [...document.querySelectorAll('#gantt g.row')].map((r) =>
      `${r.dataset.taskId}/${r.dataset.mapIndex}/${r.querySelectorAll('rect.bar-run').length}`));
    t.equal(rows.join(' '), g.task_instances.map((ti) => `${ti.task_id}/${ti.map_index}/${ti.start_date ? 1 : 0}`).join(' '),
      'rows (task/map index/running bars)');
    const title = await page.evaluate(() => document.querySelector('#gantt rect.bar-run title').textContent);
    t.assert(/try \d+: success[\s\S]*started: [\s\S]*ran: /.test(title), `a bar's title tells its times: ${title}`);
    t.assert(await page.count('#gantt text.tick') >= 2, 'the time axis has ticks');
    t.equal(await page.evaluate(() => [...document.querySelector('#gantt').childNodes].filter((n) => n.nodeType === 3).length),
      0, 'text nodes straight in the chart');
    await page.screenshot('tabs-gantt');
    const first = g.task_instances[0].task_id;
    await page.click(`#gantt g.row[data-task-id="${first}"] rect.bar-run`);
    await page.waitFor((p) => location.pathname === p, 5000, `${D}/runs/${encodeURIComponent(run)}/tasks/${first}`);
  },

  'durations and landing times: a line per task and one for the run, over the last N runs': async (t) => {
    const page = await signedIn(t);
    const data = await get(page, `/ui/durations/${DAG}?limit=25`);
    for (const tab of ['durations', 'landing-times']) {
      await page.goto(t.url(`${D}/${tab}`));
      await page.waitFor('#durations-chart');
      const c = await page.evaluate(() => {
        const e = document.querySelector('#durations-chart');
        return {runs: e.dataset.runs, series: e.dataset.series, w: e.width, rows: e.querySelectorAll('tr[data-run-id]').length};
      });
      t.equal(Number(c.runs), data.runs.length, `${tab}: runs`);
      t.equal(Number(c.series), data.tasks.length + 1, `${tab}: series`);
      t.equal(c.rows, data.runs.length, `${tab}: rows of the chart's table`);
      t.assert(c.w > 300, `${tab}: the chart is drawn (canvas ${c.w} wide)`);
      await new Promise((r) => setTimeout(r, 300));
      await page.screenshot(`tabs-${tab}`);
    }
    await page.select('#durations-limit', '50');
    await page.waitFor(() => location.search === '?limit=50' && document.querySelector('#durations-chart'), 5000);
    await page.send('Emulation.setEmulatedMedia', {features: [{name: 'prefers-color-scheme', value: 'dark'}]});
    await new Promise((r) => setTimeout(r, 300));
    await page.screenshot('tabs-landing-times-dark');
  },

  'calendar: the year of days, the runs\' days coloured by outcome': async (t) => {
    const page = await signedIn(t);
    const year = new Date().getUTCFullYear();
    const cal = await get(page, `/ui/calendar/${DAG}?year=${year}`);
    await page.goto(t.url(`${D}/calendar`));
    await page.waitFor('#calendar');
    const days = await page.count('#calendar rect.day');
    t.equal(days, (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 366 : 365, 'days drawn');
    const shown = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#calendar rect.day')]
      .filter((r) => !['none', 'planned'].includes(r.dataset.outcome)).map((r) => [r.dataset.date, r.dataset.outcome])));
    const want = Object.fromEntries(Object.entries(cal.days).map(([d, c]) =>
      [d, c.failed ? 'failed' : (c.running || c.queued) ? 'running' : 'success']));
    t.equal(JSON.stringify(shown), JSON.stringify(want), 'days with runs');
    t.assert(Object.keys(want).length > 0, 'the run is in this year');
    await page.screenshot('tabs-calendar');
    await page.click('#calendar-prev');
    await page.waitFor((y) => location.search === `?year=${y}` && document.querySelector('#calendar-summary') &&
      document.querySelector('#calendar-summary').textContent === `No runs in ${y}.`, 5000, year - 1);
  },

  'code: the DAG file\'s text with line numbers': async (t) => {
    const page = await signedIn(t);
    const dag = await get(page, `/api/v1${D}/details`);
    const src = await get(page, `/api/v1/dagSources/${encodeURIComponent(dag.file_token)}`);
    await page.goto(t.url(`${D}/code`));
    await page.waitFor('#dag-code');
    const text = await page.evaluate(() => [...document.querySelectorAll('#dag-code .tx')].map((e) => e.textContent).join('\n'));
    t.equal(text, src.content.replace(/\n$/, ''), 'the text shown');
    const lines = src.content.replace(/\n$/, '').split('\n').length;
    t.equal(await page.evaluate(() => [...document.querySelectorAll('#dag-code .ln')].pop().textContent),
      String(lines), 'the last line number');
    t.equal(await page.text('#code-file'), dag.fileloc, 'the file named');
    await page.screenshot('tabs-code');
  },

  'runs: the runs the API lists, newest first, filtered by state and type': async (t) => {
    const page = await signedIn(t);
    const api = await get(page, `/api/v1${D}/dagRuns?order_by=-execution_date&limit=25`);
    await page.goto(t.url(`${D}/runs`));
    await page.waitFor('#dag-runs');
    const ids = await page.evaluate(() => [...document.querySelectorAll('#dag-runs tr[data-run-id]')].map((r) => r.dataset.runId));
    t.equal(ids.join(' '), api.dag_runs.map((r) => r.dag_run_id).join(' '), 'runs listed');
    await page.screenshot('tabs-runs');
    await page.select('#runs-state', 'failed');
    const shown = () => { const e = document.querySelector('#dag-runs'); return e && e.dataset.query === location.search; };
    await page.waitFor({ js: `(${shown})() && location.search === '?state=failed'` }, 5000);
    const failed = await get(page, `/api/v1${D}/dagRuns?state=failed`);
    t.equal(await page.count('#dag-runs tr[data-run-id]'), failed.dag_runs.length, 'failed runs listed');
    await page.select('#runs-type', 'scheduled');
    await page.waitFor({ js: `(${shown})() && /run_type=scheduled/.test(location.search)` }, 5000);
    t.equal(await page.count('#dag-runs tr[data-run-id]'), 0, 'no scheduled failed run');
    if (ids.length) {
      await page.select('#runs-state', '');
      await page.waitFor({ js: `(${shown})() && !/state=/.test(location.search)` }, 5000);
      await page.select('#runs-type', '');
      await page.waitFor({ js: `(${shown})() && location.search === '' && !!document.querySelector('#dag-runs tr[data-run-id]')` }, 5000);
      await page.click(`#dag-runs tr[data-run-id="${ids[0]}"] a`);
      await page.waitFor((p) => location.pathname === p, 5000, `${D}/runs/${encodeURIComponent(ids[0])}`);
    }
  },

  'events: the DAG\'s audit log for who may read it, a note for who may not': async (t) => {
    const page = await signedIn(t);
    const api = await get(page, `/api/v1/eventLogs?dag_id=${DAG}&order_by=-when&limit=50`);
    await page.goto(t.url(`${D}/events`));
    await page.waitFor('#dag-events');
    const ids = await page.evaluate(() => [...document.querySelectorAll('#dag-events tr[data-event-id]')].map((r) => r.dataset.eventId));
    t.equal(ids.join(' '), api.event_logs.map((e) => String(e.event_log_id)).join(' '), 'events listed');
    await page.screenshot('tabs-events');

    const viewer = await t.newPage();
    await viewer.goto(t.url('/login'));
    await t.login(viewer, 'viewer');
    const me = await get(viewer, '/ui/me');
    const may = me.permissions.some(([a, r]) => a === 'can_read' && r === 'Audit Logs');
    await viewer.goto(t.url(`${D}/events`));
    await viewer.waitFor(may ? '#dag-events' : '#events-denied');
  },
};
