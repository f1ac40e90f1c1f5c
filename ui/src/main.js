/*
 * main.js - the UI's frame: the header, the router and the views.
 *
 * Every UI path is served the same page; this reads location.pathname,
 * picks the view and draws it into <main>. Links inside the page change
 * the path without a reload (history.pushState), so each view keeps a
 * stable URL that can be shared or reloaded. A view is a module whose
 * render(root, params, query) draws it and may return a function that
 * stops whatever it keeps running (live updates) when the user leaves.
 */
import { loadMe, whoami, can } from './api.js';
import { go, setDraw } from './nav.js';
import { el, fill, errorBox, tzMode, setTzMode } from './dom.js';

const routes = [
  [/^\/dags\/?$/, () => import('./views/dags.js')],
  [/^\/dags\/([^/]+)\/?$/, null, (m) => `/dags/${m[1]}/grid`],
  [/^\/dags\/([^/]+)\/runs\/([^/]+)\/tasks\/([^/]+)(?:\/(logs|xcom|rendered|details))?\/?$/,
    () => import('./views/ti.js'), ['dag_id', 'run_id', 'task_id', 'tab']],
  [/^\/dags\/([^/]+)\/runs\/([^/]+)\/?$/, () => import('./views/run.js'), ['dag_id', 'run_id']],
  [/^\/dags\/([^/]+)\/([a-z-]+)\/?$/, () => import('./views/dag.js'), ['dag_id', 'tab']],
  [/^\/(runs|task-instances|import-errors|jobs|pools|variables|connections|users|events|config)\/?$/,
    () => import('./views/browse.js'), ['page']],
];

const nav = [
  ['DAGs', '/dags', null],
  ['Runs', '/runs', ['can_read', 'DAG Runs']],
  ['Task instances', '/task-instances', ['can_read', 'Task Instances']],
  ['Browse', null, null, [
    ['Import errors', '/import-errors', ['can_read', 'ImportError']],
    ['Jobs', '/jobs', ['can_read', 'Jobs']],
    ['Audit log', '/events', ['can_read', 'Audit Logs']],
  ]],
  ['Admin', null, null, [
    ['Pools', '/pools', ['can_read', 'Pools']],
    ['Variables', '/variables', ['can_read', 'Variables']],
    ['Connections', '/connections', ['can_read', 'Connections']],
    ['Users', '/users', ['can_read', 'Users']],
    ['Configuration', '/config', ['can_read', 'Configurations']],
  ]],
];

let stop = null;
let seq = 0;

function allowed(perm) {
  return !perm || can(perm[0], perm[1]);
}

function header() {
  const me = whoami();
  const items = nav.map(([title, href, perm, sub]) => {
    if (!sub) return allowed(perm) ? el('a', { href, class: 'nav' }, title) : null;
    const kids = sub.filter((s) => allowed(s[2]));
    if (!kids.length) return null;
    return el('details', { class: 'menu' }, el('summary', { class: 'nav' }, title),
      el('div', { class: 'menu-items' }, kids.map(([t, h]) => el('a', { href: h }, t))));
  });
  const tz = el('button', { class: 'linkish', id: 'tz', title: 'Show times in UTC or in your zone',
    onclick: () => { setTzMode(tzMode() === 'UTC' ? 'local' : 'UTC'); render(); } },
  tzMode() === 'UTC' ? 'UTC' : 'Local time');
  const csrf = decodeURIComponent((document.cookie.match(/(?:^|;\s*)updraft_csrf=([^;]*)/) || [])[1] || '');
  const out = me && me.session
    ? el('form', { method: 'post', action: '/logout', class: 'logout' },
      el('input', { type: 'hidden', name: 'csrf_token', value: csrf }),
      el('button', { type: 'submit', class: 'linkish', id: 'logout' }, 'Sign out'))
    : null;
  return [
    el('a', { href: '/dags', class: 'brand' }, 'updraft'),
    el('nav', null, items),
    el('span', { class: 'spacer' }),
    tz,
    el('span', { class: 'who', id: 'who', title: me ? me.roles.join(', ') : '' },
      me ? me.display_name : ''),
    out,
  ];
}

async function render() {
  const my = ++seq;
  const view = document.getElementById('view');
  if (stop) { try { stop(); } catch (e) { /* the old view is gone anyway */ } stop = null; }
  fill(document.getElementById('top'), header());
  for (const a of document.querySelectorAll('#top a.nav')) {
    a.classList.toggle('active', location.pathname === a.getAttribute('href') ||
      location.pathname.startsWith(a.getAttribute('href') + '/'));
  }
  const p = location.pathname;
  for (const [re, load, names] of routes) {
    const m = p.match(re);
    if (!m) continue;
    if (!load) { history.replaceState(null, '', names(m)); return render(); }
    const params = {};
    (names || []).forEach((n, i) => { if (m[i + 1] !== undefined) params[n] = decodeURIComponent(m[i + 1]); });
    try {
      const mod = await load();
      if (my !== seq) return;
      fill(view);
      const s = await mod.render(view, params, new URLSearchParams(location.search));
      if (my !== seq) { if (typeof s === 'function') s(); return; }
      stop = typeof s === 'function' ? s : null;
    } catch (e) {
      if (my === seq) fill(view, errorBox(e));
    }
    return;
  }
  fill(view, el('h1', null, 'Not found'), el('p', null, 'No page has this address.'));
}


function isUiPath(url) {
  return url.origin === location.origin && !/^\/(api|ui|assets|login|logout|health)(\/|$)/.test(url.pathname);
}

document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey ||
      a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (!isUiPath(url)) return;
  e.preventDefault();
  for (const d of document.querySelectorAll('details.menu[open]')) d.open = false;
  if (url.pathname + url.search !== location.pathname + location.search) go(url.pathname + url.search);
});
window.addEventListener('popstate', render);
setDraw(render);

(async () => {
  try {
    await loadMe();
  } catch (e) {
    fill(document.getElementById('view'), errorBox(e));
    return;
  }
  render();
})();
