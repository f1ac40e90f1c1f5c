/*
 * dag.js - /dags/{dag_id}/{tab}: one DAG. The header (pause toggle,
 * description, owners, tags, schedule, next run, doc_md as sanitized
 * Markdown, the trigger form) and a row of tabs, each its own path and
 * its own module views/tab_<name>.js, whose render(container, dag, query)
 * draws it from the DAG's details (GET /api/v1/dags/{id}/details) and may
 * return a function that stops its live updates.
 */
import { api, can, V1 } from '../api.js';
import { el, fill, fmtTime, errorBox, path } from '../dom.js';
import { go, refresh } from '../nav.js';
import { markdown } from './markdown.js';

const TABS = [
  ['grid', 'Grid', () => import('./tab_grid.js')],
  ['graph', 'Graph', () => import('./tab_graph.js')],
  ['gantt', 'Gantt', () => import('./tab_gantt.js')],
  ['durations', 'Durations', () => import('./tab_durations.js')],
  ['landing-times', 'Landing times', () => import('./tab_durations.js')],
  ['calendar', 'Calendar', () => import('./tab_calendar.js')],
  ['code', 'Code', () => import('./tab_code.js')],
  ['runs', 'Runs', () => import('./tab_runs.js')],
  ['backfills', 'Backfills', () => import('./tab_backfills.js')],
  ['events', 'Events', () => import('./tab_events.js')],
  ['details', 'Details', () => import('./tab_details.js')],
];

const dagUrl = (id) => `${V1}/dags/${encodeURIComponent(id)}`;

/* The schedule as written: a cron expression, an interval, or None. */
export function scheduleText(dag) {
  const s = dag.schedule_interval;
  if (!s) return 'None';
  if (typeof s === 'string') return s;
  if (s.__type === 'CronExpression') return s.value;
  if (s.__type === 'TimeDelta') {
    const sec = (s.days || 0) * 86400 + (s.seconds || 0);
    return `every ${sec % 86400 === 0 ? sec / 86400 + 'd' : sec % 3600 === 0 ? sec / 3600 + 'h'
      : sec % 60 === 0 ? sec / 60 + 'm' : sec + 's'}`;
  }
  return JSON.stringify(s);
}

function pauseToggle(dag, status) {
  const label = () => (dag.is_paused ? 'Paused' : 'Active');
  const text = el('span', { id: 'pause-state' }, label());
  const box = el('input', { type: 'checkbox', checked: !dag.is_paused, id: 'pause-toggle',
    class: 'pause-toggle', 'aria-label': 'active (unpaused)' });
  box.addEventListener('change', async () => {
    box.disabled = true;
    try {
      const r = await api(dagUrl(dag.dag_id), { method: 'PATCH', body: { is_paused: !box.checked } });
      dag.is_paused = r.is_paused;
      fill(status);
    } catch (e) {
      fill(status, errorBox(e));
    }
    box.checked = !dag.is_paused;
    text.textContent = label();
    box.disabled = false;
  });
  return el('label', { class: 'toggle', title: 'Pause or unpause the DAG' }, box, ' ', text);
}

/* Sanitized HTML of the DAG's doc_md (markdown.js). */
const docMd = (md) => markdown(md, 'doc-md');

/* ---- the trigger form ---------------------------------------------------- */

function schemaType(schema) {
  let t = schema && schema.type;
  if (Array.isArray(t)) t = t.find((x) => x !== 'null') || t[0];
  return t || null;
}

/* One input per param: returns {row, read()} where read() gives the value or throws. */
function paramInput(name, p, onChange) {
  const schema = (p && p.schema) || {};
  const value = p ? p.value : null;
  const id = 'param-' + name.replace(/[^A-Za-z0-9_-]/g, '_');
  let type = schemaType(schema);
  if (!type) {
    type = typeof value === 'boolean' ? 'boolean' : typeof value === 'number' ? 'number'
      : Array.isArray(value) ? 'array' : value && typeof value === 'object' ? 'object' : 'string';
  }
  let input, read;
  if (Array.isArray(schema.enum)) {
    input = el('select', { id, name },
      schema.enum.map((v, i) => el('option', { value: String(i), selected: JSON.stringify(v) === JSON.stringify(value) },
        typeof v === 'string' ? v : JSON.stringify(v))));
    read = () => schema.enum[Number(input.value)];
  } else if (type === 'boolean') {
    input = el('input', { type: 'checkbox', id, name, checked: !!value });
    read = () => input.checked;
  } else if (type === 'integer' || type === 'number') {
    input = el('input', { type: 'number', id, name, step: type === 'integer' ? '1' : 'any',
      value: value === null || value === undefined ? '' : String(value) });
    read = () => {
      if (input.value === '') return null;
      const n = Number(input.value);
      if (!isFinite(n) || (type === 'integer' && !Number.isInteger(n))) throw new Error(`${name}: not ${type === 'integer' ? 'an integer' : 'a number'}`);
      return n;
    };
  } else if (type === 'array' || type === 'object') {
    input = el('textarea', { id, name, rows: 3, value: value === null || value === undefined ? '' : JSON.stringify(value, null, 1) });
    read = () => {
      if (input.value.trim() === '') return null;
      let v;
      try { v = JSON.parse(input.value); } catch (e) { throw new Error(`${name}: not valid JSON (${e.message})`); }
      if (type === 'array' ? !Array.isArray(v) : (!v || typeof v !== 'object' || Array.isArray(v))) throw new Error(`${name}: not an ${type}`);
      return v;
    };
  } else {
    input = el('input', { type: 'text', id, name, value: value === null || value === undefined ? '' : String(value) });
    read = () => (input.value === '' && (value === null || value === undefined) ? null : input.value);
  }
  input.addEventListener('input', onChange);
  input.addEventListener('change', onChange);
  const row = el('div', { class: 'form-row' },
    el('label', { for: id }, name, el('span', { class: 'muted' }, ` (${type})`)),
    input,
    p && p.description ? el('div', { class: 'help' }, p.description) : null);
  return { name, row, read };
}

function triggerModal(dag) {
  const params = dag.params && typeof dag.params === 'object' ? dag.params : {};
  const status = el('div', { id: 'trigger-error' });
  const conf = el('textarea', { id: 'trigger-conf', rows: 6, 'aria-label': 'configuration JSON' });
  const sync = () => {
    const out = {};
    try {
      for (const f of fields) out[f.name] = f.read();
      conf.value = JSON.stringify(out, null, 2);
      fill(status);
    } catch (e) {
      fill(status, errorBox(e));
    }
  };
  const fields = Object.keys(params).map((n) => paramInput(n, params[n], sync));
  const logical = el('input', { type: 'text', id: 'trigger-logical-date', placeholder: 'now (e.g. 2024-01-01T00:00:00Z)',
    style: { width: '100%' } });
  const runId = el('input', { type: 'text', id: 'trigger-run-id', placeholder: 'generated', style: { width: '100%' } });
  const submit = el('button', { type: 'submit', class: 'primary', id: 'trigger-submit' }, 'Trigger');
  const close = () => back.remove();
  const form = el('form', { class: 'modal', role: 'dialog', 'aria-label': 'Trigger DAG', id: 'trigger-modal' },
    el('h2', null, 'Trigger ', el('span', { class: 'mono' }, dag.dag_id)),
    fields.length ? el('h3', null, 'Params') : el('p', { class: 'muted' }, 'This DAG has no params.'),
    fields.map((f) => f.row),
    el('div', { class: 'form-row' }, el('label', { for: 'trigger-logical-date' }, 'Logical date (optional)'), logical),
    el('div', { class: 'form-row' }, el('label', { for: 'trigger-run-id' }, 'Run id (optional)'), runId),
    el('div', { class: 'form-row' }, el('label', { for: 'trigger-conf' }, 'Configuration JSON'), conf,
      el('div', { class: 'help' }, 'The run\'s conf; the params above fill it, and what is written here is sent.')),
    status,
    el('div', { class: 'buttons' },
      el('button', { type: 'button', onclick: close }, 'Cancel'), submit));
  const back = el('div', { class: 'modal-back', id: 'trigger-back', onclick: (e) => { if (e.target === back) close(); } }, form);
  back.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    try {
      const c = conf.value.trim() === '' ? {} : JSON.parse(conf.value);
      if (!c || typeof c !== 'object' || Array.isArray(c)) throw new Error('the configuration must be a JSON object');
      body = { conf: c };
    } catch (err) {
      fill(status, errorBox(err.message.startsWith('the configuration') ? err : new Error('Configuration: not valid JSON (' + err.message + ')')));
      return;
    }
    if (logical.value.trim()) body.logical_date = logical.value.trim();
    if (runId.value.trim()) body.dag_run_id = runId.value.trim();
    submit.disabled = true;
    try {
      const run = await api(`${dagUrl(dag.dag_id)}/dagRuns`, { method: 'POST', body });
      close();
      const grid = path.dag(dag.dag_id, 'grid');
      if (location.pathname === grid) refresh();
      else go(grid);
      return run;
    } catch (err) {
      fill(status, errorBox(err));
    }
    submit.disabled = false;
  });
  sync();
  document.body.appendChild(back);
  (fields.length ? fields[0].row.querySelector('input,select,textarea') : submit).focus();
}

/* ---- the page ------------------------------------------------------------- */

function header(dag, status) {
  const tags = (dag.tags || []).map((t) => (typeof t === 'string' ? t : t.name));
  const facts = [
    ['Owners', (dag.owners || []).join(', ') || '—'],
    ['Schedule', el('span', { class: 'mono' }, scheduleText(dag)),
      dag.timetable_description ? el('span', { class: 'muted' }, ' · ', dag.timetable_description) : null],
    ['Next run', dag.next_dagrun ? fmtTime(dag.next_dagrun) : el('span', { class: 'muted' }, '—')],
  ];
  return el('div', { class: 'dag-head' },
    el('div', { class: 'toolbar' },
      el('h1', { style: { margin: 0 }, id: 'dag-title' }, el('span', { class: 'muted' }, 'DAG '), dag.dag_id),
      can('can_edit', 'DAGs') ? pauseToggle(dag, status)
        : el('span', { class: 'tag', id: 'pause-state' }, dag.is_paused ? 'Paused' : 'Active'),
      el('span', { class: 'spacer' }),
      can('can_create', 'DAG Runs')
        ? el('button', { id: 'backfill', onclick: async () => {
          const { openBackfillModal } = await import('./backfill.js');
          openBackfillModal(dag, { onStarted: () => go(path.dag(dag.dag_id, 'backfills')) });
        } }, 'Backfill…')
        : null,
      can('can_create', 'DAG Runs')
        ? el('button', { class: 'primary', id: 'trigger', onclick: () => triggerModal(dag) }, '▶ Trigger')
        : null),
    dag.description ? el('p', { class: 'dag-desc', style: { margin: '0 0 6px' } }, dag.description) : null,
    el('div', { class: 'dag-facts' },
      facts.map(([k, ...v]) => el('span', { class: 'dag-fact' }, el('span', { class: 'muted' }, k, ': '), v)),
      tags.length ? el('span', { class: 'dag-fact' }, tags.map((t) =>
        el('a', { class: 'tag', href: '/dags?tags=' + encodeURIComponent(t) }, t))) : null));
}

export async function render(root, params, query) {
  const id = params.dag_id;
  const tab = TABS.find((t) => t[0] === params.tab);
  let dag;
  try {
    dag = await api(`${dagUrl(id)}/details`);
  } catch (e) {
    fill(root, el('h1', null, id), errorBox(e));
    return;
  }
  const status = el('div', { id: 'dag-status' });
  const body = el('div', { id: 'tab-body' });
  const doc = el('div');
  fill(root,
    header(dag, status),
    status,
    doc,
    el('nav', { class: 'tabs', id: 'dag-tabs' }, TABS.map(([name, title]) =>
      el('a', { href: path.dag(id, name), class: name === params.tab ? 'active' : null,
        'data-tab': name }, title))),
    body);
  if (dag.doc_md) {
    docMd(dag.doc_md).then((d) => fill(doc, el('details', { open: true },
      el('summary', { class: 'muted' }, 'Documentation'), d)), (e) => fill(doc, errorBox(e)));
  }
  if (!tab) {
    fill(body, el('p', null, 'This DAG has no tab named ', el('b', null, params.tab), '.'));
    return;
  }
  let stopTab = null;
  try {
    const mod = await tab[2]();
    stopTab = await mod.render(body, dag, query);
  } catch (e) {
    fill(body, errorBox(e));
  }
  return () => {
    const modal = document.getElementById('trigger-back');
    if (modal) modal.remove();
    if (typeof stopTab === 'function') stopTab();
  };
}
