/*
 * tabs_common.js - what the DAG page's chart and list tabs (gantt,
 * durations, calendar, code, runs, events) share: their few style rules,
 * the state colours for SVG, a pager, and the DAG's runs for a picker.
 */
import { api, qs, V1 } from '../api.js';
import { el } from '../dom.js';

/* Airflow's state colours (style.css has the same for the badges). */
export const STATE_COLOR = {
  success: '#008000', running: '#01ff70', failed: '#ff0000', upstream_failed: '#ffa500',
  skipped: '#ff69b4', up_for_retry: '#ffd700', up_for_reschedule: '#40e0d0', queued: '#808080',
  scheduled: '#d2b48c', deferred: '#9370db', restarting: '#ee82ee', removed: '#d3d3d3',
  none: '#d0d5dd',
};

export const stateColor = (s) => STATE_COLOR[s || 'none'] || '#999';

const CSS = `
.tabc-legend { display: flex; gap: 12px; flex-wrap: wrap; align-items: center; font-size: 12px; color: var(--muted); }
.tabc-legend .sw { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px; vertical-align: -2px; }
.tabc-chart { overflow-x: auto; }
.tabc-chart svg text { fill: var(--fg); font: 12px system-ui, "DejaVu Sans", sans-serif; }
.tabc-chart svg text.muted { fill: var(--muted); }
.tabc-chart svg .grid { stroke: var(--line); stroke-width: 1; }
.tabc-chart svg .bar { cursor: pointer; }
.tabc-chart svg .bar:hover { stroke: var(--fg); stroke-width: 1.5; }
.tabc-chart svg .row:hover .rowbg { fill: var(--hover); }
.tabc-chart svg .label { cursor: pointer; }
.tabc-chart svg .day { stroke: var(--panel); stroke-width: 1; }
.tabc-chart svg .day.planned { stroke: var(--accent); stroke-dasharray: 2 2; }
.tabc-chart svg .day.today { stroke: var(--fg); stroke-width: 1.5; }
.tabc-canvas { position: relative; height: 420px; }
.tabc-code { display: grid; grid-template-columns: max-content 1fr; font-family: var(--mono); font-size: 12.5px;
  line-height: 1.5; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: auto; max-height: 75vh; }
.tabc-code .ln { text-align: right; padding: 0 10px; color: var(--muted); user-select: none; border-right: 1px solid var(--line); }
.tabc-code .tx { white-space: pre; padding: 0 12px; min-height: 1.5em; }
.tabc-code.wrap .tx { white-space: pre-wrap; word-break: break-word; }
.tabc-diff .add { background: rgba(46, 160, 67, 0.15); }
.tabc-diff .del { background: rgba(248, 81, 73, 0.15); }
.tabc-diff .tx.add { color: #1a7f37; }
.tabc-diff .tx.del { color: #cf222e; }
`;

/* Puts the tabs' style rules into the page once. */
export function ensureStyle() {
  if (document.getElementById('tabc-style')) return;
  const s = document.createElement('style');
  s.id = 'tabc-style';
  s.textContent = CSS;
  document.head.appendChild(s);
}

/* A legend of coloured squares: entries [[label, colour, extra style]]. */
export function legend(entries) {
  return el('div', { class: 'tabc-legend' }, entries.map(([label, color, style]) =>
    el('span', null, el('span', { class: 'sw', style: Object.assign({ background: color }, style || {}) }), label)));
}

/* "Previous / 1–25 of 80 / Next" links; hrefAt(offset) gives a page's address. */
export function pager(offset, shown, total, limit, hrefAt) {
  return el('div', { class: 'pager' },
    offset > 0 ? el('a', { class: 'button', href: hrefAt(Math.max(0, offset - limit)) }, '← Newer') : null,
    el('span', { class: 'muted' }, total ? `${offset + 1}–${offset + shown} of ${total}` : ''),
    offset + limit < total ? el('a', { class: 'button', href: hrefAt(offset + limit) }, 'Older →') : null);
}

/* The DAG's newest runs (at most limit), newest logical date first. */
export async function latestRuns(dagId, limit = 100) {
  const r = await api(`${V1}/dags/${encodeURIComponent(dagId)}/dagRuns` +
    qs({ order_by: '-execution_date', limit }));
  return r.dag_runs || [];
}

export const tabHref = (dagId, tab, params) =>
  `/dags/${encodeURIComponent(dagId)}/${tab}` + qs(params || {});
