/*
 * browse_runs.js - /runs and /task-instances: the runs and the task
 * instances of every DAG, newest first, filtered by state and DAG id,
 * through the batch lists (POST /dags/~/dagRuns/list and
 * /dags/~/dagRuns/~/taskInstances/list), which take several states at once.
 */
import { api, V1 } from '../api.js';
import { el, fill, fmtTime, fmtDuration, secondsBetween, stateBadge, link, errorBox, path, STATES } from '../dom.js';
import { PAGE, readFilters, pager, textFilter, selectFilter, toolbar, listTable, muted } from './browse_kit.js';

const RUN_STATES = ['queued', 'running', 'success', 'failed'];
/* What is failing now: the task instance page's default. */
const FAILING = ['failed', 'up_for_retry', 'upstream_failed'];

function timeCell(iso) {
  return iso ? fmtTime(iso) : muted('—');
}

export async function renderRuns(root, query) {
  const base = '/runs';
  const f = readFilters(query, ['state', 'dag_id']);
  const body = el('div', null, muted('Loading…'));
  fill(root,
    toolbar('DAG runs',
      selectFilter(base, f, 'state', [['', 'Any state'], ...RUN_STATES.map((s) => [s, s])], 'state'),
      textFilter(base, f, 'dag_id', 'DAG id')),
    body);
  let data;
  try {
    data = await api(`${V1}/dags/~/dagRuns/list`, { method: 'POST', body: {
      dag_ids: f.dag_id ? [f.dag_id] : [], states: f.state ? [f.state] : [],
      order_by: '-id', page_offset: f.offset, page_limit: PAGE } });
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const rows = data.dag_runs.map((r) => el('tr', { 'data-key': `${r.dag_id}/${r.dag_run_id}` },
    el('td', null, stateBadge(r.state)),
    el('td', null, link(path.dag(r.dag_id), r.dag_id)),
    el('td', { class: 'mono' }, link(path.run(r.dag_id, r.dag_run_id), r.dag_run_id)),
    el('td', null, r.run_type || ''),
    el('td', null, timeCell(r.logical_date || r.execution_date)),
    el('td', null, timeCell(r.start_date)),
    el('td', null, timeCell(r.end_date)),
    el('td', null, r.start_date ? fmtDuration(secondsBetween(r.start_date, r.end_date)) : '')));
  fill(body,
    listTable('run-list', ['State', 'DAG', 'Run', 'Type', 'Logical date', 'Started', 'Ended', 'Duration'], rows,
      'No run matches.'),
    pager(base, f, data.dag_runs.length, data.total_entries));
}

export async function renderTaskInstances(root, query) {
  const base = '/task-instances';
  const f = readFilters(query, ['state', 'dag_id']);
  if (!query.has('state')) f.state = 'failing';
  const states = f.state === 'failing' ? FAILING : f.state === 'all' ? [] : [f.state];
  const body = el('div', null, muted('Loading…'));
  fill(root,
    toolbar('Task instances',
      selectFilter(base, f, 'state', [['failing', 'Failing now'], ['all', 'Any state'],
        ...STATES.filter((s) => s !== 'none').map((s) => [s, s.replace(/_/g, ' ')])], 'state'),
      textFilter(base, f, 'dag_id', 'DAG id')),
    body);
  let data;
  try {
    data = await api(`${V1}/dags/~/dagRuns/~/taskInstances/list`, { method: 'POST', body: {
      dag_ids: f.dag_id ? [f.dag_id] : [], state: states, order_by: '-id',
      page_offset: f.offset, page_limit: PAGE } });
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const rows = data.task_instances.map((t) => el('tr', { 'data-key': `${t.dag_id}/${t.dag_run_id}/${t.task_id}/${t.map_index}` },
    el('td', null, stateBadge(t.state)),
    el('td', null, link(path.dag(t.dag_id), t.dag_id)),
    el('td', { class: 'mono' }, link(path.run(t.dag_id, t.dag_run_id), t.dag_run_id)),
    el('td', null, link(path.ti(t.dag_id, t.dag_run_id, t.task_id, null, t.map_index),
      t.task_id, t.map_index >= 0 ? ` [${t.map_index}]` : '')),
    el('td', null, String(t.try_number ?? '')),
    el('td', null, timeCell(t.start_date)),
    el('td', null, timeCell(t.end_date)),
    el('td', null, t.duration !== null && t.duration !== undefined ? fmtDuration(t.duration) : ''),
    el('td', null, t.hostname || ''),
    el('td', null, t.pool || '')));
  fill(body,
    listTable('ti-list', ['State', 'DAG', 'Run', 'Task', 'Try', 'Started', 'Ended', 'Duration', 'Host', 'Pool'],
      rows, f.state === 'failing' ? 'Nothing is failing.' : 'No task instance matches.'),
    pager(base, f, data.task_instances.length, data.total_entries));
}
