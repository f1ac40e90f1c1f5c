/*
 * dags.js - /dags: every DAG at a glance. One request per page
 * (GET /ui/dags): schedule, next run, the last runs as dots, the task
 * states of the latest run; search, tag and owner filters, paused or
 * active, paging; pause and unpause for who may edit DAGs.
 */
import { api, can, qs, V1 } from '../api.js';
import { el, fill, fmtTime, stateDot, link, errorBox, path } from '../dom.js';
import { go } from '../nav.js';

const PAGE = 50;

function filters(query) {
  return {
    search: query.get('search') || '',
    tags: query.getAll('tags'),
    owners: query.getAll('owners'),
    paused: query.get('paused') || '',
    offset: Math.max(0, parseInt(query.get('offset') || '0', 10) || 0),
  };
}

function hrefWith(f, change) {
  const n = Object.assign({}, f, change);
  return '/dags' + qs({ search: n.search, tags: n.tags, owners: n.owners, paused: n.paused,
    offset: n.offset || '' });
}

function pauseToggle(d, onError) {
  const box = el('input', { type: 'checkbox', checked: !d.is_paused, class: 'pause-toggle',
    title: d.is_paused ? 'Paused: click to unpause' : 'Active: click to pause',
    'aria-label': `${d.is_paused ? 'unpause' : 'pause'} ${d.dag_id}`,
    disabled: !can('can_edit', 'DAGs') });
  box.addEventListener('change', async () => {
    box.disabled = true;
    try {
      const r = await api(`${V1}/dags/${encodeURIComponent(d.dag_id)}`, { method: 'PATCH',
        body: { is_paused: !box.checked } });
      d.is_paused = r.is_paused;
      box.checked = !r.is_paused;
    } catch (e) {
      box.checked = !box.checked;
      onError(e);
    }
    box.disabled = false;
  });
  return box;
}

function row(d, f, onError) {
  const counts = d.latest_run_counts || {};
  return el('tr', { 'data-dag-id': d.dag_id },
    el('td', null, pauseToggle(d, onError)),
    el('td', null,
      el('div', null, link(path.dag(d.dag_id), el('b', { class: 'dag-id' }, d.dag_id))),
      el('div', null, (d.tags || []).map((t) =>
        el('a', { class: 'tag', href: hrefWith(f, { tags: [t], offset: 0 }) }, t)))),
    el('td', null, (d.owners || []).map((o) =>
      el('a', { href: hrefWith(f, { owners: [o], offset: 0 }) }, o, ' '))),
    el('td', null, el('div', { class: 'mono' }, d.schedule || 'None')),
    el('td', null, d.next_dagrun ? fmtTime(d.next_dagrun, false) : el('span', { class: 'muted' }, '—')),
    el('td', { class: 'recent' }, (d.recent_runs || []).slice().reverse().map((r) =>
      el('a', { href: path.run(d.dag_id, r.run_id), title: `${r.run_id}: ${r.state}` }, stateDot(r.state, `${r.run_id}: ${r.state}`)))),
    el('td', { class: 'counts' }, Object.keys(counts).sort().map((s) =>
      el('span', { class: `state st-${s}`, title: s, style: { marginRight: '3px' } }, String(counts[s])))));
}

export async function render(root, params, query) {
  const f = filters(query);
  const status = el('div');
  const search = el('input', { type: 'search', placeholder: 'Search DAGs', value: f.search, id: 'dag-search',
    'aria-label': 'search DAGs' });
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => go(hrefWith(f, { search: search.value, offset: 0 }), true), 250);
  });
  const chooser = (v, label) => el('a', { class: 'button' + (f.paused === v ? ' primary' : ''),
    href: hrefWith(f, { paused: v, offset: 0 }) }, label);
  const body = el('div', null, el('p', { class: 'muted' }, 'Loading…'));
  fill(root,
    el('div', { id: 'import-errors' }),
    el('div', { class: 'toolbar' },
      el('h1', { style: { margin: 0 } }, 'DAGs'),
      el('span', { class: 'spacer' }),
      chooser('', 'All'), chooser('false', 'Active'), chooser('true', 'Paused'),
      search),
    (f.tags.length || f.owners.length)
      ? el('div', { class: 'toolbar' }, 'Filtered by ',
        f.tags.map((t) => el('span', { class: 'tag' }, 'tag: ', t)),
        f.owners.map((o) => el('span', { class: 'tag' }, 'owner: ', o)),
        el('a', { href: hrefWith(f, { tags: [], owners: [], offset: 0 }) }, 'clear'))
      : null,
    status, body);

  let data;
  try {
    data = await api('/ui/dags' + qs({ limit: PAGE, offset: f.offset, dag_id_pattern: f.search,
      tags: f.tags, owners: f.owners, paused: f.paused }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  if (data.import_errors > 0) {
    fill(document.getElementById('import-errors'), el('div', { class: 'error' },
      `${data.import_errors} DAG file${data.import_errors === 1 ? '' : 's'} failed to load. `,
      link('/import-errors', 'See the import errors')));
  }
  const onError = (e) => fill(status, errorBox(e));
  fill(body,
    el('table', { class: 'list', id: 'dag-list' },
      el('thead', null, el('tr', null, ['', 'DAG', 'Owner', 'Schedule', 'Next run', 'Runs',
        'Latest run'].map((c) => el('th', null, c)))),
      el('tbody', null, data.dags.length ? data.dags.map((d) => row(d, f, onError))
        : el('tr', null, el('td', { colspan: 7, class: 'muted' }, 'No DAG matches.')))),
    el('div', { class: 'pager' },
      f.offset > 0 ? el('a', { class: 'button', href: hrefWith(f, { offset: Math.max(0, f.offset - PAGE) }) }, '← Previous') : null,
      el('span', { class: 'muted' }, data.total_entries
        ? `${f.offset + 1}–${f.offset + data.dags.length} of ${data.total_entries}` : ''),
      f.offset + PAGE < data.total_entries ? el('a', { class: 'button', href: hrefWith(f, { offset: f.offset + PAGE }) }, 'Next →') : null));
}
