/*
 * tab_durations.js - /dags/{id}/durations and /dags/{id}/landing-times:
 * a line per task over the DAG's last N runs (oldest on the left), and one
 * for the whole run. Durations: how long each task ran; landing times:
 * how long after its data interval ended each task finished (Airflow's).
 * Data: GET /ui/durations/{dag_id}?limit=N. Chart.js is loaded only here;
 * its colours follow the page's light or dark scheme. A click on a point
 * opens that run.
 */
import { api, can, qs } from '../api.js';
import { el, fill, fmtTime, fmtDuration, errorBox, path } from '../dom.js';
import { go } from '../nav.js';
import { ensureStyle, tabHref } from './tabs_common.js';

const SIZES = [25, 50, 100, 365];
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
  '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173'];

let chartLib = null;
async function loadChart() {
  if (!chartLib) {
    const { Chart, registerables } = await import('/usr/share/javascript/chart.js/chart.esm.js');
    Chart.register(...registerables);
    chartLib = Chart;
  }
  return chartLib;
}

function themeColors() {
  const css = getComputedStyle(document.documentElement);
  const v = (n, d) => (css.getPropertyValue(n) || '').trim() || d;
  return { fg: v('--fg', '#1d2430'), muted: v('--muted', '#667085'), line: v('--line', '#dfe3e8'),
    panel: v('--panel', '#fff') };
}

/* The unit that suits the largest value: [divisor, name]. */
function unitFor(max) {
  if (max >= 2 * 3600) return [3600, 'hours'];
  if (max >= 120) return [60, 'minutes'];
  return [1, 'seconds'];
}

function config(data, landing, colors, onPick) {
  const runs = data.runs.slice().reverse(); // oldest first
  const key = landing ? 'landing_times' : 'task_durations';
  const totalOf = (r) => {
    if (!landing) return r.duration;
    if (!r.end_date || !r.data_interval_end) return null;
    return (Date.parse(r.end_date) - Date.parse(r.data_interval_end)) / 1000;
  };
  const series = data.tasks.map((t, i) => ({ label: t, values: runs.map((r) => r[key][i]) }));
  series.push({ label: landing ? 'Run (landed)' : 'Run (total)', values: runs.map(totalOf), total: true });
  // Dates to the minute, unless two runs fall in the same minute.
  let labels = runs.map((r) => fmtTime(r.logical_date, false));
  if (new Set(labels).size < labels.length) labels = runs.map((r) => fmtTime(r.logical_date));
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined)));
  const [div, unit] = unitFor(max);
  const datasets = series.map((s, i) => {
    const c = s.total ? colors.fg : PALETTE[i % PALETTE.length];
    return { label: s.label, data: s.values.map((v) => (v === null || v === undefined ? null : v / div)),
      raw: s.values, borderColor: c, backgroundColor: c, borderWidth: s.total ? 2.5 : 1.5,
      borderDash: s.total ? [6, 4] : undefined, pointRadius: runs.length > 100 ? 1 : 3,
      spanGaps: true, tension: 0 };
  });
  return {
    type: 'line',
    data: { labels, datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: 'nearest', intersect: false },
      onClick: (evt, elements) => { if (elements.length) onPick(runs[elements[0].index]); },
      scales: {
        x: { offset: runs.length < 4, ticks: { color: colors.muted, maxRotation: 50, autoSkip: true },
          grid: { color: colors.line },
          title: { display: true, text: 'logical date', color: colors.muted } },
        y: { beginAtZero: true, ticks: { color: colors.muted }, grid: { color: colors.line },
          title: { display: true, text: (landing ? 'landed after the interval, ' : 'duration, ') + unit,
            color: colors.muted } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { color: colors.fg, boxWidth: 14 } },
        tooltip: { callbacks: {
          title: (items) => items.length ? `${runs[items[0].dataIndex].run_id}` : '',
          label: (item) => {
            const v = item.dataset.raw[item.dataIndex];
            return `${item.dataset.label}: ${v === null || v === undefined ? '—' : fmtDuration(v)}`;
          },
        } },
      },
    },
  };
}

/* What the chart shows, as a table inside the canvas (for screen readers and tests). */
function fallback(data, landing) {
  const key = landing ? 'landing_times' : 'task_durations';
  return el('table', { class: 'durations-data' },
    el('thead', null, el('tr', null, el('th', null, 'run'), data.tasks.map((t) => el('th', null, t)))),
    el('tbody', null, data.runs.map((r) => el('tr', { 'data-run-id': r.run_id }, el('td', null, r.run_id),
      r[key].map((v) => el('td', null, v === null ? '' : fmtDuration(v)))))));
}

export async function render(container, dag, query) {
  ensureStyle();
  const dagId = dag.dag_id;
  const landing = /\/landing-times\/?$/.test(location.pathname);
  const tab = landing ? 'landing-times' : 'durations';
  if (!can('can_read', 'Task Instances')) {
    fill(container, el('p', { class: 'muted' }, 'You may not see this DAG\'s task instances.'));
    return;
  }
  let limit = parseInt(query.get('limit') || '25', 10);
  if (!SIZES.includes(limit)) limit = 25;
  const pick = el('select', { id: 'durations-limit', 'aria-label': 'runs shown' },
    SIZES.map((n) => el('option', { value: n, selected: n === limit }, `last ${n} runs`)));
  pick.addEventListener('change', () => go(tabHref(dagId, tab, { limit: pick.value })));
  const note = el('span', { class: 'muted' });
  const area = el('div', { class: 'panel' }, el('p', { class: 'muted' }, 'Loading…'));
  fill(container, el('div', { class: 'toolbar' },
    el('b', null, landing ? 'Landing times' : 'Task durations'), pick, note), area);

  let data, Chart;
  try {
    [data, Chart] = await Promise.all([
      api(`/ui/durations/${encodeURIComponent(dagId)}` + qs({ limit })), loadChart()]);
  } catch (e) {
    fill(area, errorBox(e));
    return;
  }
  if (!data.runs.length) {
    fill(area, el('p', { class: 'muted', id: 'durations-empty' }, 'This DAG has no runs yet.'));
    return;
  }
  fill(note, `${data.runs.length} run${data.runs.length === 1 ? '' : 's'}, ${data.tasks.length} task` +
    `${data.tasks.length === 1 ? '' : 's'}` + (landing ? '; time from the end of the data interval to the task\'s end' : ''));
  const canvas = el('canvas', { id: 'durations-chart', 'data-runs': data.runs.length,
    'data-series': data.tasks.length + 1, role: 'img',
    'aria-label': landing ? 'landing times per run' : 'task durations per run' }, fallback(data, landing));
  fill(area, el('div', { class: 'tabc-canvas' }, canvas));
  const onPick = (r) => go(path.run(dagId, r.run_id));
  let chart = new Chart(canvas, config(data, landing, themeColors(), onPick));

  const media = window.matchMedia('(prefers-color-scheme: dark)');
  const recolor = () => {
    chart.destroy();
    chart = new Chart(canvas, config(data, landing, themeColors(), onPick));
  };
  media.addEventListener('change', recolor);
  return () => {
    media.removeEventListener('change', recolor);
    chart.destroy();
  };
}
