/*
 * api.js - the page's one way to the server: the REST API (/api/v1) and the
 * UI's aggregated endpoints (/ui). A state-changing request carries the
 * session's CSRF token; an expired session goes back to the login page; a
 * refusal arrives as an ApiError with the problem body's detail.
 */
export const V1 = '/api/v1';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

/* A query string from an object (undefined, null and '' left out; arrays repeat). */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else u.append(k, v);
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

export async function api(path, opts = {}) {
  const method = opts.method || 'GET';
  const headers = { Accept: 'application/json' };
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (method !== 'GET') headers['X-CSRF-Token'] = cookie('updraft_csrf');
  const res = await fetch(path, { method, headers, body, credentials: 'same-origin',
    signal: opts.signal });
  if (res.status === 401) {
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, 'Your session has ended: sign in again.');
  }
  const type = res.headers.get('Content-Type') || '';
  const data = res.status === 204 ? null : type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    const msg = data && typeof data === 'object' ? (data.detail || data.title) : data;
    throw new ApiError(res.status, `${res.status}: ${msg || res.statusText}`, data);
  }
  return data;
}

/* Who is signed in: {username, display_name, roles, permissions: [[action, resource]]}. */
let me = null;

export async function loadMe() {
  me = await api('/ui/me');
  return me;
}

export function whoami() {
  return me;
}

/* Whether the signed-in user may do action ("can_edit") on resource ("DAGs"). */
export function can(action, resource) {
  return !!me && me.permissions.some(([a, r]) => a === action && r === resource);
}

/*
 * GET /ui/grid/{dag_id} (docs/api.md), its cells expanded to what the views
 * read: [state name or null, try, start, end] (+ the mapped counts), times
 * in epoch seconds. The answer carries a state as its index in "states"
 * and the end as a duration from the start, to stay small at 1,000 runs.
 */
export async function apiGrid(dagId, params) {
  const d = await api(`/ui/grid/${encodeURIComponent(dagId)}` + qs(params));
  const names = d.states.map((s) => (s === 'none' ? null : s));
  for (const run of d.runs) {
    for (const c of run.tis) {
      if (!c) continue;
      c[0] = c[0] === null ? null : names[c[0]] ?? null;
      if (c[2] !== null && c[3] !== null) c[3] = Math.round((c[2] + c[3]) * 1000) / 1000;
    }
  }
  return d;
}
