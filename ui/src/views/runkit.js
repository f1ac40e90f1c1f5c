/*
 * runkit.js - what the run and task-instance pages share: the dialog that
 * first asks the API what an action would change (dry_run) and acts only
 * when the user confirms that list, the note editor, and reading every
 * page of a list.
 */
import { api, V1 } from '../api.js';
import { el, fill, fmtTime, errorBox, link, path } from '../dom.js';

/* Every item of a paged v1 list (limit/offset), up to max items. */
export async function fetchAll(url, key, max = 10000) {
  const out = [];
  const sep = url.includes('?') ? '&' : '?';
  for (let offset = 0; offset < max;) {
    const page = await api(`${url}${sep}limit=1000&offset=${offset}`);
    const items = page[key] || [];
    out.push(...items);
    offset += items.length;
    if (!items.length || offset >= (page.total_entries || 0)) break;
  }
  return out;
}

/* The v1 path of a run: /api/v1/dags/{d}/dagRuns/{r}. */
export function runApi(dagId, runId) {
  return `${V1}/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}`;
}

/*
 * A modal dialog; returns {close, body, box}. Escape and a click outside
 * close it; m.onclose, when set, is called once it is closed.
 */
export function modal(title, ...children) {
  const body = el('div', { class: 'modal-body' }, ...children);
  const box = el('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-label': title },
    el('h2', null, title), body);
  const back = el('div', { class: 'modal-back' }, box);
  const onKey = (e) => { if (e.key === 'Escape') close(); };
  const m = { close, body, box, onclose: null };
  function close() {
    if (!back.isConnected) return;
    document.removeEventListener('keydown', onKey);
    back.remove();
    if (m.onclose) m.onclose();
  }
  back.addEventListener('click', (e) => { if (e.target === back) close(); });
  document.addEventListener('keydown', onKey);
  document.body.appendChild(back);
  return m;
}

/*
 * The dialog of an action that changes task instances: its options as
 * checkboxes, the list the API's dry run gives for them (again whenever an
 * option changes), and a confirm button that runs it for real.
 *   title, verb ("Clear"), options: [{name, label, checked}],
 *   run(opts, dryRun) -> the API's answer ({task_instances: [refs]}),
 *   done() after the real run.
 */
export function dryRunDialog({ title, verb, options = [], run, done, danger }) {
  const opts = {};
  const list = el('div', { class: 'dry-run', 'aria-live': 'polite' }, el('p', { class: 'muted' }, 'Asking the server…'));
  const status = el('div');
  const confirm = el('button', { class: danger ? 'danger' : 'primary', id: 'confirm-action', disabled: true }, verb);
  const cancel = el('button', { id: 'cancel-action' }, 'Cancel');
  let seq = 0;
  let count = 0;

  async function preview() {
    const my = ++seq;
    confirm.disabled = true;
    fill(status);
    fill(list, el('p', { class: 'muted' }, 'Asking the server…'));
    try {
      const r = await run(Object.assign({}, opts), true);
      if (my !== seq) return;
      const refs = (r && r.task_instances) || [];
      count = refs.length;
      fill(list, refs.length
        ? [el('p', null, `${verb} will change ${refs.length} task instance${refs.length === 1 ? '' : 's'}:`),
          el('table', { class: 'list compact', id: 'dry-run-list' },
            el('thead', null, el('tr', null, ['Task', 'Run', 'Logical date'].map((c) => el('th', null, c)))),
            el('tbody', null, refs.map((t) => el('tr', null,
              el('td', { class: 'mono' }, t.task_id),
              el('td', { class: 'mono' }, t.dag_run_id),
              el('td', null, fmtTime(t.execution_date))))))]
        : el('p', { class: 'muted', id: 'dry-run-empty' }, 'Nothing would change.'));
      confirm.disabled = refs.length === 0;
      confirm.textContent = refs.length ? `${verb} (${refs.length})` : verb;
    } catch (e) {
      if (my !== seq) return;
      fill(list);
      fill(status, errorBox(e));
    }
  }

  const boxes = options.map((o) => {
    opts[o.name] = !!o.checked;
    const box = el('input', { type: 'checkbox', name: o.name, checked: o.checked,
      onchange: () => { opts[o.name] = box.checked; preview(); } });
    return el('label', { class: 'check' }, box, ' ', o.label);
  });
  const m = modal(title,
    boxes.length ? el('div', { class: 'form-row options' }, boxes) : null,
    list, status,
    el('div', { class: 'buttons' }, cancel, confirm));
  cancel.addEventListener('click', m.close);
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    fill(status, el('p', { class: 'muted' }, 'Working…'));
    try {
      await run(Object.assign({}, opts), false);
      m.close();
      done(count);
    } catch (e) {
      fill(status, errorBox(e));
      confirm.disabled = false;
    }
  });
  preview();
  return m;
}

/* A yes/no question; resolves to true when confirmed. */
export function ask(title, text, verb, danger) {
  return new Promise((resolve) => {
    const yes = el('button', { class: danger ? 'danger' : 'primary', id: 'confirm-action' }, verb);
    const no = el('button', { id: 'cancel-action' }, 'Cancel');
    const m = modal(title, el('p', null, text), el('div', { class: 'buttons' }, no, yes));
    let answer = false;
    m.onclose = () => resolve(answer);
    no.addEventListener('click', m.close);
    yes.addEventListener('click', () => { answer = true; m.close(); });
    yes.focus();
  });
}

/*
 * The note of a run or task instance, with an editor for who may:
 * save(text) PATCHes it and resolves to the object with the new note.
 */
export function noteBox(note, editable, save) {
  const box = el('div', { class: 'panel note', id: 'note' });
  function show(text) {
    fill(box,
      el('div', { class: 'toolbar' }, el('h2', { style: { margin: 0 } }, 'Note'),
        el('span', { class: 'spacer' }),
        editable ? el('button', { id: 'note-edit', onclick: edit }, text ? 'Edit note' : 'Add note') : null),
      text ? el('div', { class: 'note-text', style: { whiteSpace: 'pre-wrap' } }, text) : el('p', { class: 'muted' }, 'No note.'));
  }
  function edit() {
    const area = el('textarea', { rows: 5, maxlength: 1000, id: 'note-text', 'aria-label': 'note' });
    area.value = note || '';
    const status = el('div');
    const saveBtn = el('button', { class: 'primary', id: 'note-save' }, 'Save');
    saveBtn.addEventListener('click', async () => {
      saveBtn.disabled = true;
      try {
        const r = await save(area.value);
        note = r && typeof r.note === 'string' ? r.note : area.value;
        show(note);
      } catch (e) {
        fill(status, errorBox(e));
        saveBtn.disabled = false;
      }
    });
    fill(box, el('h2', { style: { marginTop: 0 } }, 'Note'), area, status,
      el('div', { class: 'toolbar', style: { marginTop: '8px' } }, saveBtn,
        el('button', { onclick: () => show(note) }, 'Cancel')));
    area.focus();
  }
  show(note);
  return box;
}

/* DAG › run › task breadcrumbs. */
export function crumbs(dagId, runId, taskId, mapIndex) {
  const parts = [link(path.dag(dagId), dagId)];
  if (runId !== undefined) parts.push(' › ', taskId !== undefined ? link(path.run(dagId, runId), runId) : runId);
  if (taskId !== undefined) {
    parts.push(' › ', mapIndex !== undefined && mapIndex !== null && mapIndex >= 0
      ? [link(path.ti(dagId, runId, taskId), taskId), ` [${mapIndex}]`] : taskId);
  }
  return el('div', { class: 'crumbs muted' }, parts);
}

/* A value as pretty JSON (strings that hold JSON too), else as its text. */
export function pretty(v) {
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^[[{]/.test(s)) {
      try { return JSON.stringify(JSON.parse(s), null, 2); } catch (e) { /* plain text */ }
    }
    return v;
  }
  return JSON.stringify(v, null, 2);
}

/* A task instance's states that will not change without someone acting. */
export const FINISHED = ['success', 'failed', 'skipped', 'upstream_failed', 'removed'];
