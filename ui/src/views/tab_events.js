/*
 * tab_events.js - /dags/{id}/events: the audit log of one DAG (who paused
 * it, triggered or cleared runs, how tasks ended), newest first, a page at
 * a time. Only for who may read the audit log.
 * Data: GET /api/v1/eventLogs?dag_id=&order_by=-when&limit&offset.
 */
import { api, can, qs, V1 } from '../api.js';
import { el, fill, fmtTime, link, errorBox, table, path } from '../dom.js';
import { pager, tabHref } from './tabs_common.js';

const PAGE = 50;

export async function render(container, dag, query) {
  const dagId = dag.dag_id;
  if (!can('can_read', 'Audit Logs')) {
    fill(container, el('p', { class: 'muted', id: 'events-denied' }, 'You may not read the audit log.'));
    return;
  }
  const offset = Math.max(0, parseInt(query.get('offset') || '0', 10) || 0);
  const body = el('div', null, el('p', { class: 'muted' }, 'Loading…'));
  fill(container, body);
  let data;
  try {
    data = await api(`${V1}/eventLogs` + qs({ dag_id: dagId, order_by: '-when', limit: PAGE, offset }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const events = data.event_logs || [];
  const rows = events.map((e) => [
    fmtTime(e.when),
    el('span', { class: 'mono' }, e.event || ''),
    e.owner || '',
    e.run_id ? link(path.run(dagId, e.run_id), e.run_id) : '',
    e.task_id && e.run_id ? link(path.ti(dagId, e.run_id, e.task_id, null, e.map_index), e.task_id,
      e.map_index >= 0 ? ` [${e.map_index}]` : '') : (e.task_id || ''),
    e.try_number ? String(e.try_number) : '',
    e.extra ? el('span', { class: 'mono', style: { fontSize: '12px' } }, e.extra) : '',
  ]);
  const t = table(['When', 'Event', 'Who', 'Run', 'Task', 'Try', 'Extra'], rows, { id: 'dag-events' });
  events.forEach((e, i) => t.tBodies[0].rows[i].setAttribute('data-event-id', e.event_log_id));
  fill(body, t, pager(offset, events.length, data.total_entries || 0, PAGE,
    (o) => tabHref(dagId, 'events', { offset: o || '' })));
}
