/*
 * browse_admin.js - /pools, /variables, /connections, /users: the lists
 * and their create / edit / delete forms, each button shown only to who
 * holds the permission (the server checks again and its refusal shows in
 * the form).
 *
 * Secrets: the variable list never asks for the value of a variable whose
 * name is sensitive (it shows ***), and a connection's password is a
 * write-only field: the API never sends it, and the form sends it only
 * when something was typed. A connection's extra comes back with its
 * secrets as "***", so the form sends the extra only when it was changed.
 */
import { api, can, qs, V1, whoami } from '../api.js';
import { el, fill, fmtTime, errorBox } from '../dom.js';
import { PAGE, readFilters, pager, textFilter, toolbar, listTable, muted, actions, button,
  confirmDelete, formThenRefresh } from './browse_kit.js';

const enc = encodeURIComponent;

/* ---- pools ----------------------------------------------------------------- */

function poolFields(p) {
  return [
    { name: 'name', label: 'Name', value: p ? p.name : '', required: true, readonly: !!p },
    { name: 'slots', label: 'Slots', type: 'number', value: p ? String(p.slots) : '1', required: true,
      help: '-1: unlimited' },
    { name: 'description', label: 'Description', value: p ? p.description || '' : '' },
    { name: 'include_deferred', label: 'Deferred tasks take slots', type: 'checkbox',
      value: p ? p.include_deferred : false },
  ];
}

function poolBody(v) {
  const slots = Number(v.slots);
  if (v.slots.trim() === '' || !Number.isInteger(slots)) throw new Error('Slots must be a whole number (-1: unlimited).');
  return { name: v.name.trim(), slots, description: v.description || null, include_deferred: v.include_deferred };
}

function slotsText(n) {
  return n === -1 ? 'unlimited' : String(n ?? '');
}

export async function renderPools(root, query) {
  const base = '/pools';
  const f = readFilters(query, []);
  const body = el('div', null, muted('Loading…'));
  fill(root, toolbar('Pools',
    can('can_create', 'Pools') ? button('Add pool', () => formThenRefresh('Add pool', poolFields(null),
      (v) => api(`${V1}/pools`, { method: 'POST', body: poolBody(v) })), { class: 'primary', id: 'add' }) : null),
  body);
  let data;
  try {
    data = await api(`${V1}/pools` + qs({ limit: PAGE, offset: f.offset }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const rows = data.pools.map((p) => el('tr', { 'data-key': p.name },
    el('td', null, el('b', null, p.name)),
    el('td', null, slotsText(p.slots)),
    el('td', null, String(p.occupied_slots ?? '')),
    el('td', null, String(p.running_slots ?? '')),
    el('td', null, String(p.queued_slots ?? '')),
    el('td', null, slotsText(p.open_slots)),
    el('td', null, p.description || ''),
    actions(
      can('can_edit', 'Pools') ? button('Edit', () => formThenRefresh(`Edit pool ${p.name}`, poolFields(p),
        (v) => api(`${V1}/pools/${enc(p.name)}`, { method: 'PATCH', body: poolBody(v) })), { class: 'edit' }) : null,
      can('can_delete', 'Pools') && p.name !== 'default_pool'
        ? button('Delete', () => confirmDelete(`pool ${p.name}`,
          () => api(`${V1}/pools/${enc(p.name)}`, { method: 'DELETE' })), { class: 'danger delete' }) : null)));
  fill(body,
    listTable('pool-list', ['Pool', 'Slots', 'Occupied', 'Running', 'Queued', 'Open', 'Description', ''], rows),
    pager(base, f, data.pools.length, data.total_entries));
}

/* ---- variables -------------------------------------------------------------- */

/* The names whose values are secrets, as the server's secrets_name_is_sensitive (core/secrets.c). */
const SENSITIVE = ['access_token', 'api_key', 'apikey', 'authorization', 'passphrase', 'passwd',
  'password', 'private_key', 'secret', 'token', 'keyfile_dict', 'service_account'];

export function isSensitive(name) {
  const n = String(name).toLowerCase();
  return SENSITIVE.some((w) => n.includes(w));
}

/* LIKE's wildcards and escape in what was typed, matched as the text itself. */
function likeLiteral(text) {
  return text.replace(/[\\%_]/g, (c) => '\\' + c);
}

/* The value on demand: one request when asked, not one per row per page. */
function valueCell(v) {
  const cell = el('td', { class: 'mono value' });
  if (isSensitive(v.key)) return fill(cell, '***');
  const show = el('button', { class: 'linkish show-value', title: 'Show the value' }, 'Show');
  show.addEventListener('click', () => {
    fill(cell, muted('…'));
    api(`${V1}/variables/${enc(v.key)}`).then((full) => {
      fill(cell, full.value.length > 200 ? full.value.slice(0, 200) + '…' : full.value);
    }, (e) => fill(cell, errorBox(e)));
  });
  return fill(cell, show);
}

async function editVariable(v) {
  const secret = isSensitive(v.key);
  const full = secret ? { value: '' } : await api(`${V1}/variables/${enc(v.key)}`);
  return formThenRefresh(`Edit variable ${v.key}`, [
    { name: 'key', label: 'Key', value: v.key, readonly: true },
    { name: 'value', label: 'Value', type: 'textarea', value: full.value,
      help: secret ? 'The value is a secret and is not shown: leave it empty to keep it.' : null },
    { name: 'description', label: 'Description', value: v.description || '' },
  ], (x) => {
    const keep = secret && x.value === '';
    return api(`${V1}/variables/${enc(v.key)}` + qs({ update_mask: keep ? 'description' : 'value,description' }),
      { method: 'PATCH', body: { key: v.key, value: x.value, description: x.description || null } });
  });
}

export async function renderVariables(root, query) {
  const base = '/variables';
  const f = readFilters(query, ['key']);
  const status = el('div', { id: 'page-status' });
  const body = el('div', null, muted('Loading…'));
  fill(root, toolbar('Variables', textFilter(base, f, 'key', 'Filter by key'),
    can('can_create', 'Variables') ? button('Add variable', () => formThenRefresh('Add variable', [
      { name: 'key', label: 'Key', required: true },
      { name: 'value', label: 'Value', type: 'textarea' },
      { name: 'description', label: 'Description' },
    ], (v) => api(`${V1}/variables`, { method: 'POST', body: { key: v.key.trim(), value: v.value,
      description: v.description || null } })), { class: 'primary', id: 'add' }) : null),
  status, body);
  let data;
  try {
    /* A page at a time, filtered and ordered by the server (the list holds no values). */
    data = await api(`${V1}/variables` + qs({ limit: PAGE, offset: f.offset, order_by: 'key',
      variable_key_pattern: f.key ? likeLiteral(f.key) : '' }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const rows = data.variables.map((v) => el('tr', { 'data-key': v.key },
    el('td', { class: 'mono' }, el('b', null, v.key)),
    valueCell(v),
    el('td', null, v.description || ''),
    actions(
      can('can_edit', 'Variables') ? button('Edit', (e) => {
        e.target.disabled = true;
        editVariable(v).catch((err) => fill(status, errorBox(err)))
          .finally(() => { e.target.disabled = false; });
      }, { class: 'edit' }) : null,
      can('can_delete', 'Variables') ? button('Delete', () => confirmDelete(`variable ${v.key}`,
        () => api(`${V1}/variables/${enc(v.key)}`, { method: 'DELETE' })), { class: 'danger delete' }) : null)));
  fill(body,
    listTable('variable-list', ['Key', 'Value', 'Description', ''], rows, f.key ? 'No key matches.' : 'No variable yet.'),
    pager(base, f, data.variables.length, data.total_entries));
}

/* ---- connections ---------------------------------------------------------- */

const CONN_TEXT = ['conn_type', 'description', 'host', 'schema', 'login'];

function connFields(c) {
  return [
    { name: 'connection_id', label: 'Connection id', value: c ? c.connection_id : '', required: true, readonly: !!c },
    { name: 'conn_type', label: 'Type', value: c ? c.conn_type : '', required: true, placeholder: 'postgres, http, …' },
    { name: 'description', label: 'Description', value: c ? c.description || '' : '' },
    { name: 'host', label: 'Host', value: c ? c.host || '' : '' },
    { name: 'port', label: 'Port', type: 'number', value: c && c.port !== null && c.port !== undefined ? String(c.port) : '' },
    { name: 'schema', label: 'Schema', value: c ? c.schema || '' : '' },
    { name: 'login', label: 'Login', value: c ? c.login || '' : '' },
    { name: 'password', label: 'Password', type: 'password', value: '', autocomplete: 'new-password',
      help: c ? 'Write-only: the stored password is never shown. Leave empty to keep it.' : 'Write-only: it is never shown again.' },
    { name: 'extra', label: 'Extra (JSON)', type: 'textarea', value: c ? c.extra || '' : '',
      help: c ? 'Secret values inside show as ***; the extra is sent only when you change it.' : null },
  ];
}

function portOf(v) {
  if (v.port.trim() === '') return null;
  const n = Number(v.port);
  if (!Number.isInteger(n)) throw new Error('The port must be a whole number.');
  return n;
}

/* A new connection's body: what was filled in. */
function connCreateBody(v) {
  const b = { connection_id: v.connection_id.trim(), conn_type: v.conn_type.trim(), port: portOf(v) };
  for (const k of ['description', 'host', 'schema', 'login']) b[k] = v[k] === '' ? null : v[k];
  if (v.password !== '') b.password = v.password;
  if (v.extra.trim() !== '') b.extra = v.extra;
  return b;
}

/* An edit: only what changed, named in update_mask (the password when typed). */
function connPatch(c, v) {
  const b = { connection_id: c.connection_id, conn_type: v.conn_type.trim() };
  const mask = [];
  for (const k of CONN_TEXT) {
    const was = c[k] ?? '';
    if (v[k] !== was) { b[k] = v[k] === '' ? null : v[k]; mask.push(k); }
  }
  const port = portOf(v);
  if (port !== (c.port ?? null)) { b.port = port; mask.push('port'); }
  if (v.password !== '') { b.password = v.password; mask.push('password'); }
  if (v.extra !== (c.extra || '')) { b.extra = v.extra.trim() === '' ? null : v.extra; mask.push('extra'); }
  return { body: b, mask };
}

/* Whether the server tests connections (core.test_connection, Disabled by default, as Airflow). */
async function testingEnabled() {
  if (!can('can_read', 'Configurations')) return false;
  try {
    const cfg = await api(`${V1}/config` + qs({ section: 'core' }));
    const opt = ((cfg.sections || [])[0] || { options: [] }).options.find((o) => o.key === 'test_connection');
    return !!opt && String(opt.value).trim().toLowerCase() === 'enabled';
  } catch (e) {
    return false;
  }
}

async function testConnection(v, show) {
  const r = await api(`${V1}/connections/test`, { method: 'POST', body: connCreateBody(v) });
  show(el('div', { class: r.status ? 'notice' : 'error', id: 'test-result' },
    r.status ? 'Connection works. ' : 'Connection failed. ', r.message || ''));
}

export async function renderConnections(root, query) {
  const base = '/connections';
  const f = readFilters(query, []);
  const status = el('div', { id: 'page-status' });
  const body = el('div', null, muted('Loading…'));
  const extra = can('can_create', 'Connections') && await testingEnabled() ? [['Test', testConnection]] : [];
  fill(root, toolbar('Connections',
    can('can_create', 'Connections') ? button('Add connection', () => formThenRefresh('Add connection',
      connFields(null), (v) => api(`${V1}/connections`, { method: 'POST', body: connCreateBody(v) }),
      { extra }), { class: 'primary', id: 'add' }) : null),
  status, body);
  let data;
  try {
    data = await api(`${V1}/connections` + qs({ limit: PAGE, offset: f.offset, order_by: 'connection_id' }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const edit = async (c) => {
    const full = await api(`${V1}/connections/${enc(c.connection_id)}`);
    await formThenRefresh(`Edit connection ${c.connection_id}`, connFields(full), (v) => {
      const { body: b, mask } = connPatch(full, v);
      if (!mask.length) return Promise.resolve();
      return api(`${V1}/connections/${enc(c.connection_id)}` + qs({ update_mask: mask.join(',') }),
        { method: 'PATCH', body: b });
    }, { extra });
  };
  const rows = data.connections.map((c) => el('tr', { 'data-key': c.connection_id },
    el('td', { class: 'mono' }, el('b', null, c.connection_id)),
    el('td', null, c.conn_type || ''),
    el('td', null, c.host || ''),
    el('td', null, c.port !== null && c.port !== undefined ? String(c.port) : ''),
    el('td', null, c.schema || ''),
    el('td', null, c.login || ''),
    el('td', null, c.description || ''),
    actions(
      can('can_edit', 'Connections') ? button('Edit', (e) => {
        e.target.disabled = true;
        edit(c).catch((err) => fill(status, errorBox(err))).finally(() => { e.target.disabled = false; });
      }, { class: 'edit' }) : null,
      can('can_delete', 'Connections') ? button('Delete', () => confirmDelete(`connection ${c.connection_id}`,
        () => api(`${V1}/connections/${enc(c.connection_id)}`, { method: 'DELETE' })), { class: 'danger delete' }) : null)));
  fill(body,
    listTable('connection-list', ['Connection', 'Type', 'Host', 'Port', 'Schema', 'Login', 'Description', ''], rows),
    pager(base, f, data.connections.length, data.total_entries));
}

/* ---- users ----------------------------------------------------------------- */

const ROLES = ['Viewer', 'User', 'Op', 'Admin', 'Public'];

function userFields(u) {
  return [
    { name: 'username', label: 'Username', value: u ? u.username : '', required: true, readonly: !!u },
    { name: 'first_name', label: 'First name', value: u ? u.first_name : '' },
    { name: 'last_name', label: 'Last name', value: u ? u.last_name : '' },
    { name: 'email', label: 'Email', type: 'email', value: u ? u.email : '', required: true },
    u ? null : { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password' },
    { name: 'roles', label: 'Roles', type: 'checkboxes', options: ROLES.map((r) => [r, r]),
      value: u ? (u.roles || []).map((r) => r.name) : ['Viewer'] },
    { name: 'active', label: 'Active (may sign in)', type: 'checkbox', value: u ? u.active : true },
  ].filter(Boolean);
}

function userBody(v) {
  const b = { username: v.username.trim(), first_name: v.first_name, last_name: v.last_name, email: v.email.trim(),
    roles: v.roles.map((name) => ({ name })), active: v.active };
  if (v.password !== undefined) b.password = v.password;
  return b;
}

export async function renderUsers(root, query) {
  const base = '/users';
  const f = readFilters(query, []);
  const body = el('div', null, muted('Loading…'));
  fill(root, toolbar('Users',
    can('can_create', 'Users') ? button('Add user', () => formThenRefresh('Add user', userFields(null),
      (v) => api(`${V1}/users`, { method: 'POST', body: userBody(v) })), { class: 'primary', id: 'add' }) : null),
  body);
  let data;
  try {
    data = await api(`${V1}/users` + qs({ limit: PAGE, offset: f.offset }));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const rows = data.users.map((u) => el('tr', { 'data-key': u.username },
    el('td', null, el('b', null, u.username)),
    el('td', null, [u.first_name, u.last_name].filter(Boolean).join(' ')),
    el('td', null, u.email || ''),
    el('td', null, (u.roles || []).map((r) => el('span', { class: 'tag' }, r.name))),
    el('td', null, u.active ? 'yes' : el('span', { class: 'muted' }, 'no')),
    el('td', null, u.last_login ? fmtTime(u.last_login) : muted('never')),
    actions(
      can('can_edit', 'Users') ? button('Edit', () => formThenRefresh(`Edit user ${u.username}`, userFields(u),
        (v) => api(`${V1}/users/${enc(u.username)}`, { method: 'PATCH', body: userBody(v) })), { class: 'edit' }) : null,
      can('can_delete', 'Users') && u.username !== (whoami() || {}).username ? button('Delete', () => confirmDelete(`user ${u.username}`,
        () => api(`${V1}/users/${enc(u.username)}`, { method: 'DELETE' })), { class: 'danger delete' }) : null)));
  fill(body,
    listTable('user-list', ['Username', 'Name', 'Email', 'Roles', 'Active', 'Last login', ''], rows),
    pager(base, f, data.users.length, data.total_entries));
}
