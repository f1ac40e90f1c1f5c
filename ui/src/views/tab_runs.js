/*
 * tab_runs.js - /dags/{id}/runs: the DAG's runs, newest logical date first,
 * a page at a time, filtered by state and run type (both in the address,
 * so a filtered list can be shared). Each run links to its page.
 * Data: GET /api/v1/dags/{id}/dagRuns?order_by=-execution_date&limit&offset
 * &state&run_type.
 */
import { api, can, qs, V1 } from '../api.js';
import { el, fill, fmtTime, fmtDuration, secondsBetween, stateBadge, link, errorBox, table, path } from '../dom.js';
import { go } from '../nav.js';
import { pager, tabHref } from './tabs_common.js';

const PAGE = 25;
const RUN_STATES = ['queued', 'running', 'success', 'failed'];
const RUN_TYPES = ['scheduled', 'manual', 'backfill', 'dataset_triggered'];

export async function render(container, dag, query) {
  const dagId = dag.dag_id;
  if (!can('can_read', 'DAG Runs')) {
    fill(container, el('p', { class: 'muted' }, 'You may not see this DAG\'s runs.'));
    return;
  }
  const f = {
    state: RUN_STATES.includes(query.get('state')) ? query.get('state') : '',
    run_type: RUN_TYPES.includes(query.get('run_type')) ? query.get('run_type') : '',
    offset: Math.max(0, parseInt(query.get('offset') || '0', 10) || 0),
  };
  const href = (change) => {
    const n = Object.assign({}, f, change);
    return tabHref(dagId, 'runs', { state: n.state, run_type: n.run_type, offset: n.offset || '' });
  };
  const chooser = (id, label, values, current, key) => {
    const s = el('select', { id, 'aria-label': label },
      el('option', { value: '', selected: !current }, `any ${label}`),
      values.map((v) => el('option', { value: v, selected: v === current }, v.replace(/_/g, ' '))));
    s.addEventListener('change', () => go(href({ [key]: s.value, offset: 0 })));
    return s;
  };
  const body = el('div', null, el('p', { class: 'muted' }, 'Loading…'));
  fill(container, el('div', { class: 'toolbar' },
    chooser('runs-state', 'state', RUN_STATES, f.state, 'state'),
    chooser('runs-type', 'run type', RUN_TYPES, f.run_type, 'run_type'),
    (f.state || f.run_type) ? el('a', { href: href({ state: '', run_type: '', offset: 0 }) }, 'clear') : null),
  body);

  let data;
  try {
    data = await api(`${V1}/dags/${encodeURIComponent(dagId)}/dagRuns` + qs({ order_by: '-execution_date',
      limit: PAGE, offset: f.offset, state: f.state, run_type: f.run_type }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const runs = data.dag_runs || [];
  const rows = runs.map((r) => [
    stateBadge(r.state),
    link(path.run(dagId, r.dag_run_id), el('span', { class: 'mono run-id' }, r.dag_run_id)),
    (r.run_type || '').replace(/_/g, ' '),
    fmtTime(r.logical_date || r.execution_date),
    fmtTime(r.start_date),
    fmtTime(r.end_date),
    r.start_date ? fmtDuration(secondsBetween(r.start_date, r.end_date)) : '',
    r.note || '',
  ]);
  const t = table(['State', 'Run', 'Type', 'Logical date', 'Started', 'Ended', 'Duration', 'Note'], rows,
    { id: 'dag-runs', 'data-query': location.search });
  runs.forEach((r, i) => t.tBodies[0].rows[i].setAttribute('data-run-id', r.dag_run_id));
  fill(body, t, pager(f.offset, runs.length, data.total_entries || 0, PAGE, (o) => href({ offset: o })));
}
