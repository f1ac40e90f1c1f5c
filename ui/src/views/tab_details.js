/*
 * tab_details.js - /dags/{dag_id}/details: the DAG's details as a list of
 * facts, straight from GET /api/v1/dags/{id}/details (which dag.js read).
 */
import { el, fill, fmtTime } from '../dom.js';
import { scheduleText } from './dag.js';

function timedelta(t) {
  if (!t) return null;
  const s = (t.days || 0) * 86400 + (t.seconds || 0);
  return `${s} s`;
}

const none = () => el('span', { class: 'muted' }, '—');
const mono = (v) => el('span', { class: 'mono' }, v);
const bool = (v) => (v === null || v === undefined ? null : v ? 'yes' : 'no');

function paramsView(params) {
  const names = Object.keys(params || {});
  if (!names.length) return null;
  return el('table', { class: 'list', id: 'details-params' },
    el('thead', null, el('tr', null, ['Param', 'Default', 'Type', 'Description'].map((c) => el('th', null, c)))),
    el('tbody', null, names.map((n) => {
      const p = params[n] || {};
      const s = p.schema || {};
      return el('tr', null, el('td', { class: 'mono' }, n),
        el('td', null, el('code', null, JSON.stringify(p.value === undefined ? null : p.value))),
        el('td', null, [].concat(s.type || []).join(' | '),
          Array.isArray(s.enum) ? el('div', { class: 'muted' }, 'one of ', s.enum.map((v) => JSON.stringify(v)).join(', ')) : null),
        el('td', null, p.description || ''));
    })));
}

export async function render(container, dag) {
  const tags = (dag.tags || []).map((t) => (typeof t === 'string' ? t : t.name));
  const rows = [
    ['DAG id', mono(dag.dag_id)],
    ['Description', dag.description],
    ['Active', bool(dag.is_active)],
    ['Paused', bool(dag.is_paused)],
    ['File', dag.fileloc ? mono(dag.fileloc) : null],
    ['Owners', (dag.owners || []).join(', ')],
    ['Tags', tags.length ? tags.map((t) => el('span', { class: 'tag' }, t)) : null],
    ['Schedule', mono(scheduleText(dag))],
    ['Timetable', dag.timetable_description],
    ['Timezone', dag.timezone],
    ['Start date', fmtTime(dag.start_date)],
    ['End date', fmtTime(dag.end_date)],
    ['Next run', fmtTime(dag.next_dagrun)],
    ["Next run's data interval", dag.next_dagrun_data_interval_start
      ? `${fmtTime(dag.next_dagrun_data_interval_start)} – ${fmtTime(dag.next_dagrun_data_interval_end)}` : null],
    ['Next run created after', fmtTime(dag.next_dagrun_create_after)],
    ['Catchup', bool(dag.catchup)],
    ['Max active runs', dag.max_active_runs],
    ['Max active tasks (concurrency)', dag.max_active_tasks ?? dag.concurrency],
    ['Max consecutive failed runs', dag.max_consecutive_failed_dag_runs || null],
    ['Run timeout', timedelta(dag.dag_run_timeout)],
    ['Paused upon creation', bool(dag.is_paused_upon_creation)],
    ['Default view', dag.default_view],
    ['Orientation', dag.orientation],
    ['Import errors', dag.has_import_errors ? el('a', { href: '/import-errors' }, 'yes') : bool(dag.has_import_errors)],
    ['Last parsed', fmtTime(dag.last_parsed_time || dag.last_parsed)],
  ];
  fill(container,
    el('div', { class: 'panel' },
      el('dl', { class: 'facts', id: 'dag-details' }, rows.map(([k, v]) => [
        el('dt', null, k),
        el('dd', null, v === null || v === undefined || v === '' ? none() : v)]))),
    Object.keys(dag.params || {}).length ? [el('h2', null, 'Params'), paramsView(dag.params)] : null);
}
