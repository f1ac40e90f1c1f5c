/*
 * backfill.js - backfills from the browser, as Airflow 3's UI: a modal to
 * plan one (range, reprocess behaviour, max active runs, conf), with the
 * dry run's list of the runs it will create before it is started; and a
 * panel of a DAG's backfills with their progress and pause / unpause /
 * cancel for who may create DAG runs. A backfill is stored and run by the
 * scheduler: closing the page changes nothing.
 *
 *   openBackfillModal(dag, {onStarted})  dag: {dag_id, ...}
 *   backfillPanel(dagId)                 an element, kept current while a backfill is
 *                                        active; panel.stop() ends that
 *
 * Data: /api/v2/backfills (Airflow 3's REST API v2) and /ui/backfills (the
 * same list with each backfill's runs by state).
 */
import { api, can, qs } from '../api.js';
import { el, fill, fmtTime, errorBox, tzMode } from '../dom.js';
import { watch } from '../live.js';
import { ask } from './runkit.js';

const V2 = '/api/v2';
const PREVIEW_MAX = 200; /* dates listed in the dry run (the count is always shown) */

/* A datetime-local input's value as an ISO instant, in the zone the user picked. */
function toInstant(value) {
  if (!value) return null;
  const utc = value.length === 16 ? `${value}:00Z` : `${value}Z`; /* HH:MM or HH:MM:SS */
  const d = new Date(tzMode() === 'local' ? value : utc);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function row(label, input, help) {
  return el('div', { class: 'form-row' }, el('label', null, label), input,
    help ? el('div', { class: 'help' }, help) : null);
}

/* The request body from the form's fields; throws an Error the modal shows. */
function readForm(dagId, f) {
  const from = toInstant(f.from.value), to = toInstant(f.to.value);
  if (!from || !to) throw new Error('Pick a start and an end date.');
  if (to < from) throw new Error('The end date is before the start date.');
  const max = Number(f.max.value);
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw new Error('Max active runs: a whole number from 1 to 1000.');
  let conf = {};
  if (f.conf.value.trim()) {
    try {
      conf = JSON.parse(f.conf.value);
    } catch (e) {
      throw new Error(`Conf is not valid JSON: ${e.message}`);
    }
    if (!conf || typeof conf !== 'object' || Array.isArray(conf)) throw new Error('Conf must be a JSON object.');
  }
  return {
    dag_id: dagId, from_date: from, to_date: to, reprocess_behavior: f.reprocess.value,
    max_active_runs: max, run_backwards: f.backwards.checked, dag_run_conf: conf,
  };
}

/* Opens the modal for dag; resolves when it closes (with the backfill, if started). */
export function openBackfillModal(dag, opts = {}) {
  const dagId = dag.dag_id;
  return new Promise((resolve) => {
    const f = {
      from: el('input', { type: 'datetime-local', required: true, id: 'backfill-from' }),
      to: el('input', { type: 'datetime-local', required: true, id: 'backfill-to' }),
      reprocess: el('select', null,
        el('option', { value: 'none' }, 'None: skip dates that have a run'),
        el('option', { value: 'failed' }, 'Failed: re-run failed runs'),
        el('option', { value: 'completed' }, 'Completed: re-run failed and successful runs')),
      max: el('input', { type: 'number', min: 1, max: 1000, value: 10, id: 'backfill-max' }),
      backwards: el('input', { type: 'checkbox' }),
      conf: el('textarea', { rows: 4, spellcheck: 'false', placeholder: '{}' }),
    };
    const preview = el('div', { class: 'form-row', id: 'backfill-preview' });
    const msg = el('div');
    const start = el('button', { class: 'primary', disabled: true, id: 'backfill-start' }, 'Start backfill');
    const check = el('button', { id: 'backfill-check' }, 'Show runs');
    let planned = null; /* the body the shown dry run was for */

    const close = (result) => {
      back.remove();
      document.removeEventListener('keydown', onKey);
      resolve(result || null);
    };
    const onKey = (e) => { if (e.key === 'Escape') close(); };
    const stale = () => { planned = null; start.disabled = true; };

    async function dryRun() {
      fill(msg);
      let body;
      try {
        body = readForm(dagId, f);
      } catch (e) {
        fill(msg, errorBox(e));
        return;
      }
      check.disabled = true;
      try {
        const r = await api(`${V2}/backfills/dry_run`, { method: 'POST', body });
        const dates = r.backfills.map((b) => b.logical_date);
        fill(preview,
          el('label', null, `${r.total_entries} run${r.total_entries === 1 ? '' : 's'} will be created or re-run`),
          dates.length
            ? el('ul', { class: 'muted', style: { maxHeight: '180px', overflow: 'auto', margin: '4px 0' } },
              dates.slice(0, PREVIEW_MAX).map((d) => el('li', null, fmtTime(d))),
              dates.length > PREVIEW_MAX ? el('li', null, `… and ${dates.length - PREVIEW_MAX} more`) : null)
            : el('div', { class: 'muted' }, 'Nothing to run: every date in the range has a run.'));
        planned = body;
        start.disabled = dates.length === 0;
      } catch (e) {
        fill(msg, errorBox(e));
      } finally {
        check.disabled = false;
      }
    }

    async function startIt() {
      if (!planned) return;
      start.disabled = true;
      try {
        const b = await api(`${V2}/backfills`, { method: 'POST', body: planned });
        if (opts.onStarted) opts.onStarted(b);
        close(b);
      } catch (e) {
        fill(msg, errorBox(e));
        start.disabled = false;
      }
    }

    for (const k of Object.keys(f)) f[k].addEventListener('input', stale);
    check.addEventListener('click', dryRun);
    start.addEventListener('click', startIt);
    const modal = el('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'Backfill', id: 'backfill-modal' },
      el('h2', null, 'Backfill ', el('code', null, dagId)),
      el('p', { class: 'muted' }, 'The scheduler creates one run per schedule interval whose logical date is in the range.',
        ` Dates are ${tzMode() === 'local' ? 'in your local time' : 'UTC'}; both ends are included.`),
      row('From', f.from), row('To', f.to),
      row('Reprocess behaviour', f.reprocess, 'What happens to dates that already have a run (queued or running runs are always left alone).'),
      row('Max active runs', f.max, 'Runs of this backfill live at once (the DAG\'s max_active_runs applies too).'),
      row('Run backwards', f.backwards, 'Newest date first.'),
      row('Conf (JSON)', f.conf, 'Given to every run of the backfill.'),
      preview, msg,
      el('div', { class: 'buttons' }, el('button', { onclick: () => close() }, 'Close'), check, start));
    const back = el('div', { class: 'modal-back', onclick: (e) => { if (e.target === back) close(); } }, modal);
    document.addEventListener('keydown', onKey);
    document.body.appendChild(back);
    f.from.focus();
  });
}

/* ---- the panel ------------------------------------------------------------- */

const BAR_PARTS = ['success', 'failed', 'running', 'queued'];

/* A bar of the backfill's runs by state, and the counts in words. */
function progress(b) {
  const r = b.runs || {};
  const todo = (r.total || 0) - (r.skipped || 0);
  const done = (r.success || 0) + (r.failed || 0);
  const bar = el('div', { style: { display: 'flex', height: '8px', borderRadius: '4px', overflow: 'hidden', background: 'var(--line)', minWidth: '160px' } },
    BAR_PARTS.filter((s) => r[s] > 0).map((s) => el('div', { class: `st-${s}`, title: `${r[s]} ${s}`, style: { width: `${(100 * r[s]) / Math.max(todo, 1)}%` } })));
  const words = [`${done}/${todo} done`];
  for (const s of ['failed', 'running', 'queued', 'pending', 'skipped']) if (r[s]) words.push(`${r[s]} ${s}`);
  return el('div', null, bar, el('div', { class: 'muted' }, words.join(', ')));
}

function status(b) {
  if (b.completed_at) return `completed ${fmtTime(b.completed_at)}`;
  return b.is_paused ? 'paused' : 'running';
}

/* An element listing dagId's backfills, refreshing while one is active. */
export function backfillPanel(dagId) {
  const body = el('div', null, el('span', { class: 'muted' }, 'Loading…'));
  const panel = el('section', { class: 'panel backfills' }, el('h3', null, 'Backfills'), body);
  const mayChange = can('can_create', 'DAG Runs');
  let stopped = false, active = false;

  async function act(b, what) {
    if (what === 'cancel' && !(await ask(`Cancel backfill ${b.id}?`,
      'Its queued runs fail and no new run starts; running runs finish.', 'Cancel backfill', true))) return;
    try {
      await api(`${V2}/backfills/${b.id}/${what}`, { method: 'PUT' });
    } catch (e) {
      body.prepend(errorBox(e));
    }
    load();
  }

  function buttons(b) {
    if (!mayChange || b.completed_at) return null;
    return el('span', { class: 'toolbar', style: { margin: 0 } },
      b.is_paused ? el('button', { onclick: () => act(b, 'unpause') }, 'Unpause')
        : el('button', { onclick: () => act(b, 'pause') }, 'Pause'),
      el('button', { class: 'danger', onclick: () => act(b, 'cancel') }, 'Cancel'));
  }

  async function load() {
    if (stopped) return;
    try {
      const r = await api('/ui/backfills' + qs({ dag_id: dagId, order_by: '-id', limit: 20 }));
      active = r.backfills.some((b) => !b.completed_at);
      fill(body, r.backfills.length === 0 ? el('div', { class: 'muted' }, 'No backfill yet.')
        : el('table', { class: 'list' },
          el('thead', null, el('tr', null, ['Id', 'Range', 'Reprocess', 'Max active', 'Progress', 'State', ''].map((c) => el('th', null, c)))),
          el('tbody', null, r.backfills.map((b) => el('tr', { 'data-backfill-id': b.id, 'data-completed': b.completed_at ? 'yes' : 'no' },
            el('td', null, String(b.id)),
            el('td', null, `${fmtTime(b.from_date)} → ${fmtTime(b.to_date)}`),
            el('td', null, b.reprocess_behavior),
            el('td', null, String(b.max_active_runs)),
            el('td', null, progress(b)),
            el('td', null, status(b)),
            el('td', null, buttons(b)))))),
        r.total_entries > r.backfills.length ? el('div', { class: 'muted' }, `The latest ${r.backfills.length} of ${r.total_entries}.`) : null);
    } catch (e) {
      fill(body, errorBox(e));
    }
  }

  /* While a backfill is active, load again when its DAG's runs change. */
  const stopWatch = watch(dagId, load, () => active);
  panel.stop = () => {
    stopped = true;
    stopWatch();
  };
  panel.refresh = load; /* after a backfill is started */
  load();
  return panel;
}
