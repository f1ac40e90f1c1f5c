/*
 * dom.js - building the page from data without ever parsing data as HTML.
 *
 * el(tag, attrs, ...children) makes an element: strings and numbers among
 * the children become text nodes, so a DAG id like <img onerror=...> shows
 * as those characters. attrs: class, style (an object), on<event>
 * (a function), anything else as an attribute (null/false leave it out).
 */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'style') Object.assign(e.style, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'value') e.value = v;
    else if (k === 'checked') e.checked = !!v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else if (c instanceof Node) e.appendChild(c);
    else e.appendChild(document.createTextNode(String(c)));
  }
}

/* Replaces what node holds with children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/* An SVG element (attributes only; text goes in with textContent). */
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/* ---- times: UTC or the browser's zone, as the user picked ---------------- */

const TZ_KEY = 'updraft.timezone';

export function tzMode() {
  return localStorage.getItem(TZ_KEY) === 'local' ? 'local' : 'UTC';
}

export function setTzMode(mode) {
  localStorage.setItem(TZ_KEY, mode === 'local' ? 'local' : 'UTC');
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/* "2024-01-02 03:04:05" in the chosen zone; '' for no time. */
export function fmtTime(iso, withSeconds = true) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const utc = tzMode() === 'UTC';
  const Y = utc ? d.getUTCFullYear() : d.getFullYear();
  const M = utc ? d.getUTCMonth() + 1 : d.getMonth() + 1;
  const D = utc ? d.getUTCDate() : d.getDate();
  const h = utc ? d.getUTCHours() : d.getHours();
  const m = utc ? d.getUTCMinutes() : d.getMinutes();
  const s = utc ? d.getUTCSeconds() : d.getSeconds();
  return `${Y}-${pad(M)}-${pad(D)} ${pad(h)}:${pad(m)}` + (withSeconds ? `:${pad(s)}` : '');
}

/* A length of time in seconds as "850 ms", "12.4 s", "3m 07s", "2h 05m". */
export function fmtDuration(sec) {
  if (sec === null || sec === undefined || isNaN(sec)) return '';
  if (sec < 1) return `${Math.round(sec * 1000)} ms`;
  if (sec < 60) return `${sec.toFixed(1)} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m ${pad(Math.floor(sec % 60))}s`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h ${pad(Math.floor((sec % 3600) / 60))}m`;
  return `${Math.floor(sec / 86400)}d ${pad(Math.floor((sec % 86400) / 3600))}h`;
}

/* Seconds between two ISO times (end missing: now). */
export function secondsBetween(start, end) {
  if (!start) return null;
  const a = Date.parse(start), b = end ? Date.parse(end) : Date.now();
  return (b - a) / 1000;
}

/* ---- states --------------------------------------------------------------- */

export const STATES = ['success', 'running', 'failed', 'upstream_failed', 'skipped',
  'up_for_retry', 'up_for_reschedule', 'queued', 'scheduled', 'deferred', 'restarting',
  'removed', 'none'];

/* A coloured badge for a task or run state (null: "no status"). */
export function stateBadge(state) {
  const s = state || 'none';
  return el('span', { class: `state st-${s}`, title: s }, s.replace(/_/g, ' '));
}

/* A small coloured square for a state, as in the grid and the DAG list. */
export function stateDot(state, title) {
  return el('span', { class: `dot st-${state || 'none'}`, title: title || state || 'no status' });
}

/* ---- bits every view uses -------------------------------------------------- */

export function link(href, ...children) {
  return el('a', { href }, ...children);
}

export function errorBox(err) {
  return el('div', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}

/* A table from column titles and rows (arrays of cells). */
export function table(columns, rows, attrs) {
  return el('table', Object.assign({ class: 'list' }, attrs || {}),
    el('thead', null, el('tr', null, columns.map((c) => el('th', null, c)))),
    el('tbody', null, rows.length
      ? rows.map((r) => el('tr', null, r.map((c) => el('td', null, c))))
      : el('tr', null, el('td', { colspan: columns.length, class: 'muted' }, 'Nothing here.'))));
}

/* The path for a DAG, a run or a task instance, each part escaped. */
export const path = {
  dag: (d, tab = 'grid') => `/dags/${encodeURIComponent(d)}/${tab}`,
  run: (d, r) => `/dags/${encodeURIComponent(d)}/runs/${encodeURIComponent(r)}`,
  ti: (d, r, t, tab, mapIndex) => `/dags/${encodeURIComponent(d)}/runs/${encodeURIComponent(r)}` +
    `/tasks/${encodeURIComponent(t)}${tab ? '/' + tab : ''}` +
    (mapIndex !== undefined && mapIndex !== null && mapIndex >= 0 ? `?map_index=${mapIndex}` : ''),
};
