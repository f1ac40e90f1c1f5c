/*
 * browse_misc.js - the read-only pages: /import-errors (the DAG files that
 * failed to load, each message as text), /jobs (the schedulers and workers
 * alive, GET /ui/jobs, refreshed every few seconds; a worker's slots as
 * running tries / concurrency), /events (the audit
 * log, newest first) and /config (the configuration, secrets already
 * hidden by the server).
 */
import { api, qs, V1 } from '../api.js';
import { el, fill, fmtTime, fmtDuration, secondsBetween, errorBox } from '../dom.js';
import { PAGE, readFilters, pager, textFilter, selectFilter, toolbar, listTable, muted } from './browse_kit.js';

/* ---- import errors ------------------------------------------------------- */

/* The first "path:line:col" of a message, when it has one. */
function position(trace, filename) {
  const m = String(trace || '').match(/^(\S+?):(\d+)(?::(\d+))?:/m);
  if (m) return `${m[1]}:${m[2]}${m[3] ? ':' + m[3] : ''}`;
  return filename || '';
}

export async function renderImportErrors(root, query) {
  const base = '/import-errors';
  const f = readFilters(query, []);
  const body = el('div', null, muted('Loading…'));
  fill(root, toolbar('Import errors'), body);
  let data;
  try {
    data = await api(`${V1}/importErrors` + qs({ limit: PAGE, offset: f.offset, order_by: '-timestamp' }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const rows = data.import_errors.map((e) => el('tr', { 'data-key': e.filename },
    el('td', { class: 'mono' }, el('b', null, e.filename)),
    el('td', { class: 'mono' }, position(e.stack_trace, e.filename)),
    el('td', null, el('pre', { class: 'trace' }, e.stack_trace || '')),
    el('td', null, fmtTime(e.timestamp))));
  fill(body,
    listTable('import-error-list', ['File', 'Where', 'Message', 'When'], rows, 'Every DAG file loads.'),
    pager(base, f, data.import_errors.length, data.total_entries));
}

/* ---- jobs ------------------------------------------------------------------- */

const JOBS_REFRESH_MS = 5000;

function ago(iso) {
  const s = secondsBetween(iso, null);
  return s === null ? '' : `${fmtDuration(Math.max(0, s))} ago`;
}

/* A worker's slots used / total, with a meter; a dash for a scheduler. */
function slotsCell(j) {
  if (j.running_tasks === null || j.running_tasks === undefined) return muted('—');
  if (j.slots === null || j.slots === undefined) return String(j.running_tasks);
  return el('span', { class: 'slots', title: `${j.running_tasks} of ${j.slots} slots in use` },
    el('meter', { min: '0', max: String(j.slots), value: String(Math.min(j.running_tasks, j.slots)) }),
    ` ${j.running_tasks} / ${j.slots}`);
}

function jobRow(j) {
  const stale = !j.healthy;
  return el('tr', { 'data-key': j.id, class: stale ? 'stale' : null },
    el('td', null, j.job_type === 'SchedulerJob' ? 'Scheduler' : j.job_type === 'WorkerJob' ? 'Worker' : j.job_type),
    el('td', null, j.hostname),
    el('td', null, String(j.pid)),
    el('td', null, stale
      ? el('span', { class: 'state st-failed', title: 'no heartbeat within the health threshold' }, 'stale')
      : el('span', { class: 'state st-running' }, j.state)),
    el('td', null, (j.queues || []).map((q) => el('span', { class: 'tag' }, q))),
    el('td', { class: 'slots' }, slotsCell(j)),
    el('td', null, fmtTime(j.start_date)),
    el('td', { title: fmtTime(j.latest_heartbeat) }, fmtTime(j.latest_heartbeat), ' ', muted(`(${ago(j.latest_heartbeat)})`)),
    el('td', null, j.dag_processor_heartbeat ? ago(j.dag_processor_heartbeat) : muted('—')));
}

export async function renderJobs(root, query) {
  const base = '/jobs';
  const f = readFilters(query, ['job_type']);
  const body = el('div', null, muted('Loading…'));
  fill(root, toolbar('Jobs',
    selectFilter(base, f, 'job_type', [['', 'Schedulers and workers'], ['SchedulerJob', 'Schedulers'],
      ['WorkerJob', 'Workers']], 'job type')), body);
  let timer = null;
  let stopped = false;
  const draw = async () => {
    let data;
    try {
      data = await api('/ui/jobs' + qs({ job_type: f.job_type }));
    } catch (e) {
      if (!stopped) fill(body, errorBox(e));
      return;
    }
    if (stopped) return;
    const stale = data.jobs.filter((j) => !j.healthy).length;
    fill(body,
      listTable('job-list', ['Type', 'Host', 'PID', 'State', 'Queues', 'Slots used', 'Started',
        'Latest heartbeat', 'DAG processor'], data.jobs.map(jobRow), 'No scheduler or worker is running.'),
      el('p', { class: 'muted', id: 'total' }, `${data.total_entries} job${data.total_entries === 1 ? '' : 's'}`,
        stale ? `, ${stale} stale (no heartbeat for ${data.health_threshold_seconds} s)` : '',
        '. Refreshed every few seconds.'));
    timer = setTimeout(draw, JOBS_REFRESH_MS);
  };
  await draw();
  return () => { stopped = true; clearTimeout(timer); };
}

/* ---- the audit log -------------------------------------------------------- */

export async function renderEvents(root, query) {
  const base = '/events';
  const f = readFilters(query, ['event', 'dag_id', 'owner']);
  const body = el('div', null, muted('Loading…'));
  fill(root, toolbar('Audit log',
    textFilter(base, f, 'event', 'Event'), textFilter(base, f, 'dag_id', 'DAG id'), textFilter(base, f, 'owner', 'Owner')),
  body);
  let data;
  try {
    data = await api(`${V1}/eventLogs` + qs({ limit: PAGE, offset: f.offset, order_by: '-when',
      event: f.event, dag_id: f.dag_id, owner: f.owner }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const rows = data.event_logs.map((e) => el('tr', { 'data-key': String(e.event_log_id) },
    el('td', null, fmtTime(e.when)),
    el('td', { class: 'mono' }, e.event || ''),
    el('td', null, e.dag_id || ''),
    el('td', null, e.task_id || ''),
    el('td', { class: 'mono' }, e.run_id || ''),
    el('td', null, e.owner || ''),
    el('td', { class: 'mono' }, e.extra || '')));
  fill(body,
    listTable('event-list', ['When', 'Event', 'DAG', 'Task', 'Run', 'Owner', 'Extra'], rows, 'No event matches.'),
    pager(base, f, data.event_logs.length, data.total_entries));
}

/* ---- configuration -------------------------------------------------------- */

export async function renderConfig(root) {
  const body = el('div', null, muted('Loading…'));
  fill(root, toolbar('Configuration'), body);
  let data;
  try {
    data = await api(`${V1}/config`);
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const sections = data.sections || [];
  fill(body,
    el('p', { class: 'muted' }, 'The settings this webserver runs with; secrets show as < hidden >.'),
    el('div', { class: 'toolbar' }, sections.map((s) => el('a', { class: 'tag', href: `#section-${s.name}`,
      onclick: (e) => { e.preventDefault(); document.getElementById(`section-${s.name}`).scrollIntoView(); } }, s.name))),
    sections.map((s) => el('section', { class: 'panel', id: `section-${s.name}` },
      el('h2', { style: { marginTop: 0 } }, `[${s.name}]`),
      listTable(`config-${s.name}`, ['Key', 'Value'], (s.options || []).map((o) => el('tr', { 'data-key': `${s.name}.${o.key}` },
        el('td', { class: 'mono' }, o.key),
        el('td', { class: 'mono' }, typeof o.value === 'string' ? o.value : JSON.stringify(o.value))))))));
}
