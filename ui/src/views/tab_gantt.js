/*
 * tab_gantt.js - /dags/{id}/gantt?run_id=: when each task instance of one
 * run waited and ran. One row per task instance (and map index), in the
 * order the server gives (by start); on it the earlier tries, the queued
 * span of the current try and its running span, coloured by state. A
 * bar's title tells its times and duration; a click opens the task
 * instance. Data: GET /ui/gantt/{dag_id}/{run_id}; redrawn every few
 * seconds while the run is not finished.
 */
import { api, can } from '../api.js';
import { el, fill, svg, fmtTime, fmtDuration, errorBox, stateBadge, link, path } from '../dom.js';
import { go } from '../nav.js';
import { ensureStyle, stateColor, legend, latestRuns, tabHref } from './tabs_common.js';

const ROW = 22;
const BAR = 14;
const AXIS = 30;
const STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
  43200, 86400, 172800, 604800];

const ms = (iso) => (iso ? Date.parse(iso) : NaN);
const label = (ti) => ti.task_id + (ti.map_index >= 0 ? ` [${ti.map_index}]` : '');

/* The spans of one task instance: [{kind, state, start, end, try, host}] (ms; end null: still going). */
function spans(ti) {
  const out = [];
  for (const t of ti.tries || []) {
    if (t.start_date && t.end_date) {
      out.push({ kind: 'try', state: t.state, start: ms(t.start_date), end: ms(t.end_date),
        try: t.try_number, host: t.hostname });
    }
  }
  const q = ms(ti.queued_dttm), s = ms(ti.start_date), e = ms(ti.end_date);
  if (!isNaN(q) && (isNaN(s) || q < s)) {
    out.push({ kind: 'queued', state: 'queued', start: q, end: isNaN(s) ? (isNaN(e) ? null : e) : s,
      try: ti.try_number });
  }
  if (!isNaN(s)) {
    out.push({ kind: 'run', state: ti.state, start: s, end: isNaN(e) ? null : e, try: ti.try_number,
      host: ti.hostname });
  }
  return out;
}

function spanTitle(ti, sp, now) {
  const end = sp.end === null ? now : sp.end;
  const what = sp.kind === 'queued' ? 'queued' : (sp.state || 'no status');
  return [
    `${label(ti)}, try ${sp.try}: ${what}`,
    `${sp.kind === 'queued' ? 'queued' : 'started'}: ${fmtTime(new Date(sp.start).toISOString())}`,
    sp.end === null ? 'still going' :
      `${sp.kind === 'queued' ? 'started' : 'ended'}: ${fmtTime(new Date(sp.end).toISOString())}`,
    `${sp.kind === 'queued' ? 'waited' : 'ran'}: ${fmtDuration((end - sp.start) / 1000)}`,
    sp.host ? `host: ${sp.host}` : null,
  ].filter(Boolean).join('\n');
}

/* Tick times (ms) for an axis from t0 to t1 with about n ticks, on round seconds. */
function ticks(t0, t1, n) {
  const span = Math.max(0.001, (t1 - t0) / 1000);
  const step = STEPS.find((s) => span / s <= n) || Math.ceil(span / n / 86400) * 86400;
  const stepMs = Math.round(step * 1000);
  const first = Math.ceil(t0 / stepMs) * stepMs;
  const out = [];
  for (let t = first; t <= t1 && out.length < 50; t += stepMs) out.push(t);
  return { step, times: out };
}

function tickLabel(t, step) {
  const s = fmtTime(new Date(t).toISOString());
  if (step >= 86400) return s.slice(0, 10);
  if (step >= 60) return s.slice(11, 16);
  if (step >= 1) return s.slice(11, 19);
  return s.slice(14, 19) + '.' + String(t % 1000).padStart(3, '0');
}

function chart(dagId, data, width) {
  const tis = data.task_instances;
  const now = Date.now();
  let t0 = Infinity, t1 = -Infinity;
  const all = tis.map((ti) => {
    const sps = spans(ti);
    for (const sp of sps) {
      t0 = Math.min(t0, sp.start);
      t1 = Math.max(t1, sp.end === null ? now : sp.end);
    }
    return sps;
  });
  if (!isFinite(t0)) return el('p', { class: 'muted', id: 'gantt-empty' }, 'No task of this run has been queued or started yet.');
  if (t1 - t0 < 10) t1 = t0 + 10;
  const labelW = Math.min(320, 24 + 7.2 * Math.max(8, ...tis.map((ti) => label(ti).length)));
  const plotW = Math.max(300, width - labelW - 50);
  const x = (t) => labelW + ((t - t0) / (t1 - t0)) * plotW;
  const height = AXIS + tis.length * ROW + 8;
  const { step, times } = ticks(t0, t1, Math.max(3, Math.floor(plotW / 90)));
  const open = (ti) => go(path.ti(dagId, data.run_id, ti.task_id, null, ti.map_index));

  const grid = times.flatMap((t) => [
    svg('line', { class: 'grid', x1: x(t), x2: x(t), y1: AXIS - 6, y2: height }),
    svg('text', { x: x(t), y: AXIS - 12, 'text-anchor': 'middle', class: 'muted tick' }, tickLabel(t, step)),
  ]);
  const rows = tis.map((ti, i) => {
    const y = AXIS + i * ROW;
    return svg('g', { class: 'row', 'data-task-id': ti.task_id, 'data-map-index': ti.map_index,
      'data-state': ti.state || 'none' },
    svg('rect', { class: 'rowbg', x: 0, y, width: labelW + plotW, height: ROW, fill: 'transparent' }),
    svg('text', { class: 'label', x: 6, y: y + ROW / 2 + 4, onclick: () => open(ti) },
      svg('title', null, `${label(ti)}: ${ti.state || 'no status'}`),
      label(ti).length > 44 ? label(ti).slice(0, 42) + '…' : label(ti)),
    all[i].map((sp) => {
      const x0 = x(sp.start), x1 = Math.max(x0 + 2, x(sp.end === null ? now : sp.end));
      return svg('rect', { class: `bar bar-${sp.kind}`, x: x0, y: y + (ROW - BAR) / 2, width: x1 - x0,
        height: BAR, rx: 2, fill: stateColor(sp.state), 'fill-opacity': sp.kind === 'run' ? 1 : 0.55,
        'data-try': sp.try, onclick: () => open(ti) },
      svg('title', null, spanTitle(ti, sp, now)));
    }));
  });
  const start = fmtTime(new Date(t0).toISOString());
  return el('div', { class: 'tabc-chart' },
    el('div', { class: 'muted', style: { fontSize: '12px', marginBottom: '2px' } },
      `From ${start} to ${fmtTime(new Date(t1).toISOString())} (${fmtDuration((t1 - t0) / 1000)})`),
    svg('svg', { id: 'gantt', width: labelW + plotW + 40, height, role: 'img',
      'aria-label': `Gantt chart of run ${data.run_id}` },
    svg('line', { class: 'grid', x1: labelW, x2: labelW, y1: AXIS - 6, y2: height }),
    grid, rows));
}

export async function render(container, dag, query) {
  ensureStyle();
  const dagId = dag.dag_id;
  if (!can('can_read', 'Task Instances') || !can('can_read', 'DAG Runs')) {
    fill(container, el('p', { class: 'muted' }, 'You may not see this DAG\'s runs and task instances.'));
    return;
  }
  const body = el('div', null, el('p', { class: 'muted' }, 'Loading…'));
  fill(container, body);
  let runs;
  try {
    runs = await latestRuns(dagId, 100);
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  if (!runs.length && !query.get('run_id')) {
    fill(body, el('p', { class: 'muted', id: 'gantt-empty' }, 'This DAG has no runs yet.'));
    return;
  }
  const runId = query.get('run_id') || runs[0].dag_run_id;
  const ids = runs.map((r) => r.dag_run_id);
  if (!ids.includes(runId)) ids.unshift(runId);
  const picker = el('select', { id: 'gantt-run', 'aria-label': 'run' },
    ids.map((id) => {
      const r = runs.find((x) => x.dag_run_id === id);
      return el('option', { value: id, selected: id === runId },
        r ? `${fmtTime(r.logical_date || r.execution_date, false)} · ${id} · ${r.state}` : id);
    }));
  picker.addEventListener('change', () => go(tabHref(dagId, 'gantt', { run_id: picker.value })));
  const facts = el('span');
  const area = el('div', { class: 'panel' }, el('p', { class: 'muted' }, 'Loading…'));
  const foot = el('div');
  fill(body, el('div', { class: 'toolbar' }, el('label', { for: 'gantt-run' }, 'Run '), picker, facts),
    area, foot);

  let timer = null, stopped = false;
  const draw = async () => {
    let data;
    try {
      data = await api(`/ui/gantt/${encodeURIComponent(dagId)}/${encodeURIComponent(runId)}`);
    } catch (e) {
      fill(area, errorBox(e));
      return;
    }
    if (stopped) return;
    fill(facts, stateBadge(data.state), ' ',
      link(path.run(dagId, runId), 'run details'),
      data.start_date ? el('span', { class: 'muted' }, ` started ${fmtTime(data.start_date)}`) : null,
      data.start_date ? el('span', { class: 'muted' }, `, ${data.end_date ? 'took' : 'running for'} ` +
        fmtDuration((ms(data.end_date || new Date().toISOString()) - ms(data.start_date)) / 1000)) : null);
    const width = Math.max(720, (area.clientWidth || container.clientWidth || 1000) - 30);
    const states = [...new Set(data.task_instances.flatMap((ti) =>
      [ti.state || 'none', ...(ti.tries || []).map((t) => t.state)]))].filter(Boolean).sort();
    fill(area, data.task_instances.length ? chart(dagId, data, width)
      : el('p', { class: 'muted', id: 'gantt-empty' }, 'This run has no task instances.'));
    const retried = data.task_instances.some((ti) => (ti.tries || []).length);
    fill(foot, legend([...states.map((s) => [s.replace(/_/g, ' '), stateColor(s)]),
      ['queued (waiting for a worker)', stateColor('queued'), { opacity: 0.55 }]]),
    retried ? el('p', { class: 'muted' }, 'Earlier tries are drawn paler, before the last one.') : null,
    data.truncated ? el('p', { class: 'muted' }, 'Only the first task instances are shown.') : null);
    if (!stopped && (data.state === 'running' || data.state === 'queued')) timer = setTimeout(draw, 5000);
  };
  await draw();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
