/*
 * browse_kit.js - what the Browse and Admin pages share: the address of a
 * page with its filters, the pager, the toolbar, and the form in a modal
 * that shows the API's refusal inside itself.
 *
 * Filters live in the query string (so a filtered page can be shared and
 * reloaded); a change of filter replaces the address and redraws.
 */
import { el, fill, errorBox } from '../dom.js';
import { qs } from '../api.js';
import { go, refresh } from '../nav.js';

export const PAGE = 50;

/* The page's filters from the query: names (strings), offset (number). */
export function readFilters(query, names) {
  const f = { offset: Math.max(0, parseInt(query.get('offset') || '0', 10) || 0) };
  for (const n of names) f[n] = query.get(n) || '';
  return f;
}

/* The address of base with filters f changed by change (offset back to 0 unless given). */
export function hrefWith(base, f, change) {
  const n = Object.assign({}, f, { offset: 0 }, change);
  if (!n.offset) delete n.offset;
  return base + qs(n);
}

/* "1–50 of 120" and the previous / next links. */
export function pager(base, f, shown, total, limit = PAGE) {
  return el('div', { class: 'pager' },
    f.offset > 0 ? el('a', { class: 'button', href: hrefWith(base, f, { offset: Math.max(0, f.offset - limit) }) }, '← Previous') : null,
    el('span', { class: 'muted', id: 'total' }, total ? `${f.offset + 1}–${f.offset + shown} of ${total}` : ''),
    f.offset + limit < total ? el('a', { class: 'button', href: hrefWith(base, f, { offset: f.offset + limit }) }, 'Next →') : null);
}

/* A text filter that changes the address a moment after the user stops typing. */
export function textFilter(base, f, name, placeholder) {
  const input = el('input', { type: 'search', name, placeholder, value: f[name], 'aria-label': placeholder,
    id: `filter-${name}` });
  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => go(hrefWith(base, f, { [name]: input.value.trim() }), true), 300);
  });
  return input;
}

/* A choice among options ([value, label]) that changes the address at once. */
export function selectFilter(base, f, name, options, label) {
  const s = el('select', { name, 'aria-label': label, id: `filter-${name}` },
    options.map(([v, t]) => el('option', { value: v, selected: f[name] === v }, t)));
  s.value = f[name];
  s.addEventListener('change', () => go(hrefWith(base, f, { [name]: s.value }), true));
  return s;
}

/* The page's title line: h1, then the filters and buttons on the right. */
export function toolbar(title, ...right) {
  return el('div', { class: 'toolbar' }, el('h1', { style: { margin: 0 } }, title),
    el('span', { class: 'spacer' }), ...right);
}

/* A list table whose rows carry a data-key (for tests and for links). */
export function listTable(id, columns, rows, empty = 'Nothing here.') {
  return el('table', { class: 'list', id },
    el('thead', null, el('tr', null, columns.map((c) => el('th', null, c)))),
    el('tbody', null, rows.length ? rows
      : el('tr', null, el('td', { colspan: columns.length, class: 'muted' }, empty))));
}

export function muted(text) {
  return el('span', { class: 'muted' }, text);
}

/*
 * A form in a modal. fields: [{name, label, type ('text', 'number',
 * 'password', 'textarea', 'checkbox', 'checkboxes', 'select'), value,
 * options (for select and checkboxes: [value, label]), help, required,
 * readonly, autocomplete}]. submit(values) does the request; what it
 * throws shows in the form, which stays open. extra: more buttons
 * ([label, fn(values, show)]). Resolves when the form closes.
 */
export function openForm(title, fields, submit, opts = {}) {
  const status = el('div', { class: 'form-status', role: 'status' });
  const inputs = {};
  const rows = fields.map((fd) => {
    const id = `f-${fd.name}`;
    let input;
    if (fd.type === 'textarea') {
      input = el('textarea', { id, name: fd.name, rows: fd.rows || 4, readonly: fd.readonly }, fd.value || '');
    } else if (fd.type === 'checkbox') {
      input = el('input', { id, name: fd.name, type: 'checkbox', checked: !!fd.value });
    } else if (fd.type === 'checkboxes') {
      const chosen = new Set(fd.value || []);
      input = el('div', { id, class: 'checks' }, fd.options.map(([v, t]) => el('label', { class: 'check' },
        el('input', { type: 'checkbox', name: fd.name, value: v, checked: chosen.has(v) }), ' ', t)));
    } else if (fd.type === 'select') {
      input = el('select', { id, name: fd.name },
        fd.options.map(([v, t]) => el('option', { value: v, selected: fd.value === v }, t)));
    } else {
      input = el('input', { id, name: fd.name, type: fd.type || 'text', value: fd.value ?? '',
        required: fd.required, readonly: fd.readonly, autocomplete: fd.autocomplete || 'off',
        placeholder: fd.placeholder, style: { width: '100%' } });
    }
    inputs[fd.name] = { fd, input };
    return el('div', { class: 'form-row' },
      fd.type === 'checkbox'
        ? el('label', { for: id }, input, ' ', fd.label)
        : [el('label', { for: id }, fd.label, fd.required ? ' *' : ''), input],
      fd.help ? el('div', { class: 'help' }, fd.help) : null);
  });
  const values = () => {
    const v = {};
    for (const [name, { fd, input }] of Object.entries(inputs)) {
      if (fd.type === 'checkbox') v[name] = input.checked;
      else if (fd.type === 'checkboxes') v[name] = [...input.querySelectorAll('input:checked')].map((c) => c.value);
      else v[name] = input.value;
    }
    return v;
  };
  const show = (node) => fill(status, node);
  return new Promise((resolve) => {
    const close = (result) => { back.remove(); document.removeEventListener('keydown', onKey); resolve(result); };
    const onKey = (e) => { if (e.key === 'Escape') close(false); };
    const save = el('button', { type: 'submit', class: opts.danger ? 'danger' : 'primary', id: 'form-submit' },
      opts.submitLabel || 'Save');
    const form = el('form', { class: 'modal', role: 'dialog', 'aria-label': title, id: 'modal-form' },
      el('h2', null, title),
      opts.text ? el('p', null, opts.text) : null,
      rows, status,
      el('div', { class: 'buttons' },
        (opts.extra || []).map(([label, fn]) => el('button', { type: 'button', id: `form-${label.toLowerCase()}`,
          onclick: async (e) => {
            e.target.disabled = true;
            fill(status);
            try { await fn(values(), show); } catch (err) { show(errorBox(err)); }
            e.target.disabled = false;
          } }, label)),
        el('span', { class: 'spacer', style: { flex: 1 } }),
        el('button', { type: 'button', id: 'form-cancel', onclick: () => close(false) }, 'Cancel'),
        save));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      save.disabled = true;
      fill(status);
      try {
        await submit(values());
        close(true);
      } catch (err) {
        show(errorBox(err));
        save.disabled = false;
      }
    });
    const back = el('div', { class: 'modal-back', onclick: (e) => { if (e.target === back) close(false); } }, form);
    document.body.appendChild(back);
    document.addEventListener('keydown', onKey);
    const first = form.querySelector('input:not([readonly]), textarea, select');
    if (first) first.focus();
  });
}

/* Asks before deleting what (a modal, not window.confirm); runs del, then redraws. */
export async function confirmDelete(what, del) {
  const done = await openForm(`Delete ${what}?`, [], del,
    { submitLabel: 'Delete', danger: true, text: `This deletes ${what}. It cannot be undone.` });
  if (done) refresh();
}

/* Opens a form and redraws the page after it saved. */
export async function formThenRefresh(title, fields, submit, opts) {
  if (await openForm(title, fields, submit, opts)) refresh();
}

/* The row's action buttons, only those the user may use. */
export function actions(...buttons) {
  return el('td', { class: 'actions' }, buttons.filter(Boolean));
}

export function button(label, onclick, attrs = {}) {
  return el('button', Object.assign({ type: 'button', onclick }, attrs), label);
}

export { errorBox };
