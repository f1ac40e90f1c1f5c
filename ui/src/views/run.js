/*
 * run.js - /dags/{dag_id}/runs/{run_id}: one DAG run. Its details (state,
 * type, dates, conf, note, the DAG version it uses with a link to that
 * version's code), its task instances as the REST API has them,
 * each a link to its own page, and the actions the user may take: clear
 * the run (the API's dry run lists what would be cleared first), mark it
 * success or failed, delete it. While the run is not finished the page
 * reads the run and its task instances again every few seconds.
 */
import { api, can, V1 } from '../api.js';
import { el, fill, fmtTime, fmtDuration, secondsBetween, stateBadge, link, errorBox, path } from '../dom.js';
import { go } from '../nav.js';
import { watch } from '../live.js';
import { fetchAll, runApi, dryRunDialog, ask, noteBox, crumbs, pretty } from './runkit.js';

const RUN_FINISHED = ['success', 'failed'];

function facts(run, queuedAt) {
  const pairs = [
    ['State', stateBadge(run.state)],
    ['Run id', el('span', { class: 'mono' }, run.dag_run_id)],
    ['Run type', run.run_type],
    ['Logical date', fmtTime(run.logical_date || run.execution_date)],
    ['Data interval', run.data_interval_start || run.data_interval_end
      ? `${fmtTime(run.data_interval_start)} – ${fmtTime(run.data_interval_end)}` : el('span', { class: 'muted' }, 'none')],
    queuedAt !== undefined ? ['Queued at', fmtTime(queuedAt) || '—'] : null,
    ['Started', fmtTime(run.start_date) || '—'],
    ['Ended', fmtTime(run.end_date) || '—'],
    ['Duration', run.start_date ? fmtDuration(secondsBetween(run.start_date, run.end_date)) +
      (run.end_date ? '' : ' so far') : '—'],
    ['Externally triggered', run.external_trigger ? 'yes' : 'no'],
    ['DAG version', run.version_number
      ? el('span', null, `v${run.version_number} · `,
        el('a', { id: 'run-code', href: path.dag(run.dag_id, 'code') + `?run_id=${encodeURIComponent(run.dag_run_id)}` },
          'Code of this run\'s version'))
      : '—'],
    ['Last scheduling decision', fmtTime(run.last_scheduling_decision) || '—'],
  ].filter(Boolean);
  return el('dl', { class: 'facts', id: 'run-facts' },
    pairs.map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
}

function conf(run) {
  const c = run.conf;
  const empty = c === null || c === undefined || (typeof c === 'object' && Object.keys(c).length === 0);
  return el('div', { class: 'panel' }, el('h2', { style: { marginTop: 0 } }, 'Conf'),
    empty ? el('p', { class: 'muted' }, 'No conf.') : el('pre', { class: 'conf', id: 'run-conf' }, pretty(c)));
}

/* By start (not started last), then task id and map index. */
function byStart(a, b) {
  const sa = a.start_date ? Date.parse(a.start_date) : Infinity;
  const sb = b.start_date ? Date.parse(b.start_date) : Infinity;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (a.task_id !== b.task_id) return a.task_id < b.task_id ? -1 : 1;
  return a.map_index - b.map_index;
}

function tiTable(dagId, runId, tis) {
  const rows = tis.slice().sort(byStart).map((t) => el('tr', { 'data-task-id': t.task_id, 'data-map-index': t.map_index },
    el('td', null, link(path.ti(dagId, runId, t.task_id, null, t.map_index), el('span', { class: 'mono' }, t.task_id))),
    el('td', null, t.map_index >= 0 ? String(t.map_index) : ''),
    el('td', { class: 'ti-state' }, stateBadge(t.state)),
    el('td', null, t.try_number ? String(t.try_number) : ''),
    el('td', null, fmtTime(t.start_date)),
    el('td', null, t.duration !== null && t.duration !== undefined ? fmtDuration(t.duration)
      : t.start_date ? fmtDuration(secondsBetween(t.start_date, t.end_date)) : ''),
    el('td', { class: 'muted' }, t.operator || '')));
  return el('table', { class: 'list', id: 'ti-list' },
    el('thead', null, el('tr', null, ['Task', 'Map index', 'State', 'Try', 'Started', 'Duration',
      'Operator'].map((c) => el('th', null, c)))),
    el('tbody', null, rows.length ? rows
      : el('tr', null, el('td', { colspan: 7, class: 'muted' }, 'This run has no task instances yet.'))));
}

/* Counts of the task instances' states, as small badges. */
function summary(tis) {
  const n = {};
  for (const t of tis) n[t.state || 'none'] = (n[t.state || 'none'] || 0) + 1;
  return el('span', { class: 'summary' }, Object.keys(n).sort().map((s) =>
    el('span', { class: `state st-${s}`, title: s, style: { marginRight: '3px' } }, `${s.replace(/_/g, ' ')} ${n[s]}`)));
}

function actions(dagId, runId, run, status) {
  const mayClear = can('can_edit', 'Task Instances');
  const mayMark = can('can_edit', 'DAG Runs');
  const mayDelete = can('can_delete', 'DAG Runs');
  if (!mayClear && !mayMark && !mayDelete) return null;
  const onError = (e) => fill(status, errorBox(e));
  const mark = (state) => async () => {
    fill(status);
    const what = state === 'success'
      ? 'Every task instance that has not succeeded is set to success too.'
      : 'Its running task instances are set to failed (and stopped), its other unfinished ones to skipped.';
    if (!await ask(`Mark run ${state}`, `Set run ${runId} to ${state}? ${what}`,
      `Mark ${state}`, state === 'failed')) return;
    try {
      await api(runApi(dagId, runId), { method: 'PATCH', body: { state } });
      go(location.pathname + location.search, true);
    } catch (e) { onError(e); }
  };
  return el('div', { class: 'toolbar actions', id: 'run-actions' },
    mayClear ? el('button', { id: 'run-clear', onclick: () => {
      fill(status);
      dryRunDialog({
        title: `Clear run ${runId}`,
        verb: 'Clear',
        options: [{ name: 'only_failed', label: 'Only failed and upstream failed tasks', checked: false }],
        run: (o, dryRun) => api(`${V1}/dags/${encodeURIComponent(dagId)}/clearTaskInstances`, {
          method: 'POST',
          body: { dag_run_id: runId, dry_run: dryRun, only_failed: o.only_failed, reset_dag_runs: true },
        }),
        done: () => go(location.pathname + location.search, true),
      });
    } }, 'Clear run…') : null,
    mayMark && run.state !== 'success' ? el('button', { id: 'run-mark-success', onclick: mark('success') }, 'Mark success') : null,
    mayMark && run.state !== 'failed' ? el('button', { id: 'run-mark-failed', class: 'danger', onclick: mark('failed') }, 'Mark failed') : null,
    mayDelete ? el('button', { id: 'run-delete', class: 'danger', onclick: async () => {
      fill(status);
      if (!await ask('Delete run', `Delete run ${runId} with its task instances, logs and XComs? This cannot be undone.`, 'Delete', true)) return;
      try {
        await api(runApi(dagId, runId), { method: 'DELETE' });
        go(path.dag(dagId, 'runs'));
      } catch (e) { onError(e); }
    } }, 'Delete run') : null);
}

export async function render(root, params) {
  const { dag_id: dagId, run_id: runId } = params;
  const status = el('div', { id: 'run-status' });
  fill(root, crumbs(dagId, runId), el('p', { class: 'muted' }, 'Loading…'));

  const readTis = can('can_read', 'Task Instances');
  /* The run, its task instances and (the first time) when it was queued. */
  async function load(first) {
    const [run, tis, gantt] = await Promise.all([
      api(runApi(dagId, runId)),
      readTis ? fetchAll(`${runApi(dagId, runId)}/taskInstances`, 'task_instances') : Promise.resolve(null),
      first && readTis ? api(`/ui/gantt/${encodeURIComponent(dagId)}/${encodeURIComponent(runId)}`).catch(() => null)
        : Promise.resolve(null),
    ]);
    return { run, tis, gantt };
  }

  let data;
  try {
    data = await load(true);
  } catch (e) {
    fill(root, crumbs(dagId, runId), errorBox(e));
    return;
  }

  const head = el('div');
  const details = el('div', { class: 'panel' });
  const tiBox = el('div');
  function draw(d) {
    fill(head,
      el('div', { class: 'toolbar' },
        el('h1', { style: { margin: 0 } }, 'Run ', el('span', { class: 'mono', style: { fontSize: 'inherit' } }, runId)),
        stateBadge(d.run.state), el('span', { class: 'spacer' }),
        link(path.dag(dagId, 'grid'), 'Grid'), link(path.dag(dagId, 'gantt') + `?run_id=${encodeURIComponent(runId)}`, 'Gantt')));
    fill(details, facts(d.run, d.gantt ? d.gantt.queued_at : undefined));
    if (d.tis) {
      fill(tiBox, el('div', { class: 'toolbar' }, el('h2', { style: { margin: 0 } }, 'Task instances'),
        el('span', { class: 'muted' }, String(d.tis.length)), summary(d.tis)),
      tiTable(dagId, runId, d.tis));
    } else {
      fill(tiBox, el('p', { class: 'muted' }, 'You may not see task instances.'));
    }
  }
  draw(data);
  fill(root, crumbs(dagId, runId), head, actions(dagId, runId, data.run, status), status, details,
    noteBox(data.run.note, can('can_edit', 'DAG Runs'),
      (note) => api(`${runApi(dagId, runId)}/setNote`, { method: 'PATCH', body: { note } })),
    conf(data.run), tiBox);

  /* Live: while the run is not finished, read it again when it changes. */
  let stopped = false;
  let finished = RUN_FINISHED.includes(data.run.state);
  const wasFinished = finished;
  const stopWatch = watch(params.dag_id, async () => {
    try {
      const d = await load(false);
      if (stopped) return;
      d.gantt = data.gantt;
      draw(d);
      finished = RUN_FINISHED.includes(d.run.state);
      /* The actions offered depend on the state: draw them again. */
      if (finished && !wasFinished) go(location.pathname + location.search, true);
    } catch (e) {
      if (!stopped) fill(status, errorBox(e));
    }
  }, () => !finished);
  return () => {
    stopped = true;
    stopWatch();
    for (const m of document.querySelectorAll('.modal-back')) m.remove();
  };
}
