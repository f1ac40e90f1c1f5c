/*
 * tab_calendar.js - /dags/{id}/calendar?year=: a year of the DAG's runs
 * day by day, as Airflow's calendar: weeks as columns, weekdays as rows,
 * months labelled; a day is coloured by its runs (all succeeded, one
 * failed, one still running or queued) and its title counts them. The
 * days the DAG will run on are marked as planned when its schedule is a
 * plain preset (@hourly, @daily, @weekly, @monthly, @yearly); for another
 * schedule only the next run's day is. Data: GET /ui/calendar/{dag_id}?year=.
 */
import { api, can, qs, V1 } from '../api.js';
import { el, fill, svg, errorBox } from '../dom.js';
import { go } from '../nav.js';
import { ensureStyle, stateColor, legend, tabHref } from './tabs_common.js';

const CELL = 14;
const GAP = 3;
const TOP = 22;
const LEFT = 34;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const OUTCOME = {
  success: ['all succeeded', stateColor('success')],
  failed: ['a run failed', stateColor('failed')],
  running: ['running or queued', stateColor('running')],
  planned: ['planned', 'transparent'],
  none: ['no run', 'var(--line)'],
};

const iso = (d) => d.toISOString().slice(0, 10);

/* A day's outcome from its counts per run state. */
function outcome(counts) {
  if (!counts) return 'none';
  if (counts.failed) return 'failed';
  if (counts.running || counts.queued) return 'running';
  if (counts.success) return 'success';
  return 'none';
}

function scheduleOf(dag) {
  const s = dag.schedule_interval;
  if (!s) return null;
  if (typeof s === 'string') return s;
  return s.value || null;
}

/* The days (YYYY-MM-DD) of year the DAG is planned to run on, from its next run on. */
function plannedDays(dag, year) {
  const out = new Set();
  if (dag.is_paused || !dag.next_dagrun) return out;
  const next = new Date(dag.next_dagrun);
  if (isNaN(next)) return out;
  const end = Date.UTC(year + 1, 0, 1);
  const step = { '@hourly': 'day', '@daily': 'day', '@weekly': 'week', '@monthly': 'month',
    '@yearly': 'year', '@annually': 'year' }[scheduleOf(dag)];
  const d = new Date(next);
  for (let i = 0; i < 400 && d.getTime() < end; i++) {
    if (d.getUTCFullYear() === year) out.add(iso(d));
    if (!step) break;
    if (step === 'day') d.setUTCDate(d.getUTCDate() + 1);
    else if (step === 'week') d.setUTCDate(d.getUTCDate() + 7);
    else if (step === 'month') d.setUTCMonth(d.getUTCMonth() + 1);
    else d.setUTCFullYear(d.getUTCFullYear() + 1);
  }
  return out;
}

function grid(year, days, planned) {
  const jan1 = new Date(Date.UTC(year, 0, 1));
  const offset = (jan1.getUTCDay() + 6) % 7; // Monday first
  const cells = [], months = [];
  const today = iso(new Date());
  let weeks = 0;
  for (let d = new Date(jan1); d.getUTCFullYear() === year; d.setUTCDate(d.getUTCDate() + 1)) {
    const doy = Math.round((d - jan1) / 86400000);
    const col = Math.floor((doy + offset) / 7), row = (doy + offset) % 7;
    weeks = col + 1;
    const key = iso(d);
    if (d.getUTCDate() === 1) {
      months.push(svg('text', { x: LEFT + col * (CELL + GAP), y: TOP - 8, class: 'muted' }, MONTHS[d.getUTCMonth()]));
    }
    const counts = days[key];
    let o = outcome(counts);
    if (o === 'none' && planned.has(key)) o = 'planned';
    const text = counts
      ? Object.entries(counts).sort().map(([s, n]) => `${n} ${s}`).join(', ')
      : (o === 'planned' ? 'planned' : 'no run');
    const [, color] = OUTCOME[o];
    cells.push(svg('rect', { class: `day ${o}${key === today ? ' today' : ''}`, x: LEFT + col * (CELL + GAP), y: TOP + row * (CELL + GAP),
      width: CELL, height: CELL, rx: 2, fill: color, 'data-date': key, 'data-outcome': o },
    svg('title', null, `${key}: ${text}`)));
  }
  const names = ['Mon', '', 'Wed', '', 'Fri', '', ''];
  const rows = names.map((n, i) => n ? svg('text', { x: 0, y: TOP + i * (CELL + GAP) + CELL - 3, class: 'muted' }, n) : null);
  return el('div', { class: 'tabc-chart' }, svg('svg', { id: 'calendar', width: LEFT + weeks * (CELL + GAP) + 4,
    height: TOP + 7 * (CELL + GAP) + 4, role: 'img', 'aria-label': `runs per day in ${year}` },
  months, rows, cells));
}

export async function render(container, dag, query) {
  ensureStyle();
  const dagId = dag.dag_id;
  if (!can('can_read', 'DAG Runs')) {
    fill(container, el('p', { class: 'muted' }, 'You may not see this DAG\'s runs.'));
    return;
  }
  const now = new Date().getUTCFullYear();
  let year = parseInt(query.get('year') || String(now), 10);
  if (!(year >= 1 && year <= 9999)) year = now;
  const area = el('div', { class: 'panel' }, el('p', { class: 'muted' }, 'Loading…'));
  const bar = el('div', { class: 'toolbar' });
  fill(container, bar, area);

  let data, first;
  try {
    [data, first] = await Promise.all([
      api(`/ui/calendar/${encodeURIComponent(dagId)}` + qs({ year })),
      api(`${V1}/dags/${encodeURIComponent(dagId)}/dagRuns` + qs({ order_by: 'execution_date', limit: 1 })),
    ]).then(([c, f]) => [c, f.dag_runs || []]);
  } catch (e) {
    fill(area, errorBox(e));
    return;
  }
  const from = Math.min(year, first.length ? new Date(first[0].logical_date || first[0].execution_date).getUTCFullYear() : now);
  const to = Math.max(year, now + 1);
  const pick = el('select', { id: 'calendar-year', 'aria-label': 'year' });
  for (let y = to; y >= from; y--) pick.appendChild(el('option', { value: y, selected: y === year }, String(y)));
  pick.addEventListener('change', () => go(tabHref(dagId, 'calendar', { year: pick.value })));
  const step = (y) => (y >= 1 && y <= 9999)
    ? el('a', { class: 'button', id: y < year ? 'calendar-prev' : 'calendar-next',
      href: tabHref(dagId, 'calendar', { year: y }), title: String(y) }, y < year ? '←' : '→') : null;

  let total = 0;
  const byState = {};
  for (const c of Object.values(data.days)) {
    for (const [s, n] of Object.entries(c)) { total += n; byState[s] = (byState[s] || 0) + n; }
  }
  fill(bar, step(year - 1), pick, step(year + 1),
    el('span', { class: 'muted', id: 'calendar-summary' }, total
      ? `${total} run${total === 1 ? '' : 's'} in ${year}: ` + Object.entries(byState).sort().map(([s, n]) => `${n} ${s}`).join(', ')
      : `No runs in ${year}.`));
  const planned = plannedDays(dag, year);
  fill(area, grid(year, data.days, planned),
    el('div', { style: { marginTop: '8px' } }, legend(Object.entries(OUTCOME).map(([k, [label, color]]) =>
      [label, color, k === 'planned' ? { border: '1px dashed var(--accent)' } : null]))));
}
