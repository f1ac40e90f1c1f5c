/*
 * ti.js - /dags/{dag_id}/runs/{run_id}/tasks/{task_id}[/logs|/xcom|
 * /rendered|/details]: one task instance (?map_index= for an instance of a
 * mapped task; without it a mapped task lists its instances).
 *
 * logs (the default tab): one try at a time (?try_number=), coloured by
 * level, drawn as text. While the try runs the page asks every 2 s for
 * what the log gained since the continuation token the API gave (only
 * while the tab is visible), keeps to the bottom unless the user scrolled
 * up, and stops once the instance has finished. The server masks secrets
 * before the log is stored.
 * xcom: the instance's XCom entries with their values. rendered: the
 * templated fields as rendered. details: every field of the instance, its
 * earlier tries and its note. The task's doc_md, when it has one, is
 * shown above the tabs as sanitized Markdown. Clear and mark success/failed ask the API
 * for a dry run first and act once the user confirms its list.
 */
import { api, can, qs, V1 } from '../api.js';
import { el, fill, fmtTime, fmtDuration, secondsBetween, stateBadge, link, errorBox, path } from '../dom.js';
import { go } from '../nav.js';
import { runApi, dryRunDialog, noteBox, crumbs, pretty, FINISHED } from './runkit.js';
import { markdown } from './markdown.js';

const FOLLOW_MS = 2000;
const TABS = [['logs', 'Logs'], ['xcom', 'XCom'], ['rendered', 'Rendered'], ['details', 'Details']];
const MAPPED_PAGE = 100;

/* ---- the log ---------------------------------------------------------------- */

/* The level of a log line: the worker's "[time] {where} LEVEL - ", or Python's "LEVEL:". */
const LEVEL = /^\[[^\]]*\]\s+\{[^}]*\}\s+(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b|^(DEBUG|INFO|WARNING|ERROR|CRITICAL):/;

/*
 * A <pre> that text is appended to. Whole lines with a level other than
 * INFO become spans with class lv-LEVEL; the rest stays text nodes (the
 * page never parses log text as HTML). A line without its newline yet is
 * held and drawn again when the rest arrives.
 */
function logPane() {
  const pre = el('pre', { class: 'log', id: 'log', tabindex: '0', 'aria-label': 'log' });
  let partial = '';
  let tail = null;
  let pinned = true; /* at the bottom: new text keeps it there */
  pre.addEventListener('scroll', () => {
    pinned = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
  });
  function append(text) {
    if (!text) return;
    if (tail) { tail.remove(); tail = null; }
    const lines = (partial + text).split('\n');
    partial = lines.pop();
    const frag = document.createDocumentFragment();
    let plain = '';
    for (const line of lines) {
      const m = line.match(LEVEL);
      const lv = m && (m[1] || m[2]);
      if (lv && lv !== 'INFO') {
        if (plain) { frag.appendChild(document.createTextNode(plain)); plain = ''; }
        frag.appendChild(el('span', { class: `lv-${lv}` }, line + '\n'));
      } else {
        plain += line + '\n';
      }
    }
    if (plain) frag.appendChild(document.createTextNode(plain));
    if (partial) { tail = document.createTextNode(partial); frag.appendChild(tail); }
    pre.appendChild(frag);
    if (pinned) pre.scrollTop = pre.scrollHeight;
  }
  return { pre, append, empty: () => !pre.firstChild };
}

function safeName(s) {
  return String(s).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
}

/* Downloads the whole log of a try as a text file (the API's text/plain form). */
async function download(url, name, onError) {
  try {
    const res = await fetch(url, { headers: { Accept: 'text/plain' }, credentials: 'same-origin' });
    if (!res.ok) throw new Error(`${res.status}: the log could not be read`);
    const blob = new Blob([await res.text()], { type: 'text/plain' });
    const href = URL.createObjectURL(blob);
    const a = el('a', { href, download: name, style: { display: 'none' } });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10000);
  } catch (e) {
    onError(e);
  }
}

/* ---- the page ---------------------------------------------------------------- */

export async function render(root, params, query) {
  const dagId = params.dag_id, runId = params.run_id, taskId = params.task_id;
  const tab = params.tab || 'logs';
  const mi = query.has('map_index') && /^\d+$/.test(query.get('map_index'))
    ? parseInt(query.get('map_index'), 10) : null;
  const tiBase = `${runApi(dagId, runId)}/taskInstances/${encodeURIComponent(taskId)}`;
  const tiUrl = mi !== null ? `${tiBase}/${mi}` : tiBase;

  fill(root, crumbs(dagId, runId, taskId, mi), el('p', { class: 'muted' }, 'Loading…'));
  if (!can('can_read', 'Task Instances')) {
    fill(root, crumbs(dagId, runId, taskId, mi), el('p', { class: 'muted' }, 'You may not see task instances.'));
    return;
  }

  /* Which instances the task has in the run: asked as a list, so that a
   * mapped task (no unmapped instance) or a missing one is no 404. */
  let ti;
  try {
    const found = await api(`${V1}/dags/~/dagRuns/~/taskInstances/list`, { method: 'POST',
      body: { dag_ids: [dagId], dag_run_ids: [runId], task_ids: [taskId], page_limit: 1000 } });
    const rows = found.task_instances || [];
    const mapped = rows.some((t) => t.map_index >= 0);
    if (mapped && mi === null) return renderMapped(root, params, query, found.total_entries);
    ti = rows.find((t) => t.map_index === (mi === null ? -1 : mi));
    if (!ti && mi !== null && found.total_entries > rows.length) ti = await api(tiUrl);
    if (!ti) {
      fill(root, crumbs(dagId, runId, taskId, mi), el('h1', null, taskId),
        el('p', { class: 'error', id: 'ti-missing' }, mi !== null
          ? `Task ${taskId} has no instance with map index ${mi} in run ${runId}.`
          : `Task ${taskId} has no instance in run ${runId}.`));
      return;
    }
  } catch (e) {
    fill(root, crumbs(dagId, runId, taskId, mi), errorBox(e));
    return;
  }

  const status = el('div', { id: 'ti-status' });
  const stateBox = el('span', { id: 'ti-state' }, stateBadge(ti.state));
  const factsBox = el('div', { class: 'muted ti-summary' });
  const drawSummary = (t) => {
    fill(stateBox, stateBadge(t.state));
    fill(factsBox, [
      t.operator ? `${t.operator}` : null,
      t.try_number ? ` · try ${t.try_number} of ${t.max_tries + 1}` : ' · not tried yet',
      t.start_date ? ` · started ${fmtTime(t.start_date)}` : null,
      t.start_date ? ` · ${fmtDuration(t.duration !== null && t.duration !== undefined ? t.duration
        : secondsBetween(t.start_date, t.end_date))}${t.end_date ? '' : ' so far'}` : null,
      t.hostname ? ` · on ${t.hostname}` : null,
    ]);
  };
  drawSummary(ti);

  /* The task's doc_md (its DAG's parsed version), as sanitized Markdown. */
  const docBox = el('div', { id: 'ti-doc' });
  api(`${V1}/dags/${encodeURIComponent(dagId)}/tasks`).then(async (r) => {
    const t = (r.tasks || []).find((x) => x.task_id === taskId);
    if (t && t.doc_md) {
      fill(docBox, el('details', { open: true }, el('summary', { class: 'muted' }, 'Task documentation'),
        await markdown(t.doc_md, 'task-doc-md')));
    }
  }).catch((e) => fill(docBox, errorBox(e)));

  const keep = new URLSearchParams();
  if (mi !== null) keep.set('map_index', String(mi));
  const tabHref = (name) => path.ti(dagId, runId, taskId, name) + (keep.toString() ? '?' + keep : '');
  const body = el('div', { id: 'ti-tab' });
  fill(root,
    crumbs(dagId, runId, taskId, mi),
    el('div', { class: 'toolbar' },
      el('h1', { style: { margin: 0 } }, el('span', { class: 'mono', style: { fontSize: 'inherit' } }, taskId),
        mi !== null ? el('span', { class: 'muted' }, ` [${mi}]`) : null),
      stateBox, el('span', { class: 'spacer' }), tiActions(dagId, runId, taskId, ti, mi, status)),
    factsBox, docBox, status,
    el('nav', { class: 'tabs', id: 'ti-tabs' }, TABS.map(([name, title]) =>
      el('a', { href: tabHref(name), class: name === tab ? 'active' : null }, title))),
    body);

  const ctx = { dagId, runId, taskId, mi, ti, tiBase, tiUrl, query, status, body, drawSummary };
  if (tab === 'xcom') return renderXcom(ctx);
  if (tab === 'rendered') return renderRendered(ctx);
  if (tab === 'details') return renderDetails(ctx);
  return renderLogs(ctx);
}

/* Clear and mark success/failed, for who may edit task instances. */
function tiActions(dagId, runId, taskId, ti, mi, status) {
  if (!can('can_edit', 'Task Instances')) return null;
  const reload = () => go(location.pathname + location.search, true);
  const clear = el('button', { id: 'ti-clear', onclick: () => {
    fill(status);
    dryRunDialog({
      title: `Clear ${taskId}`,
      verb: 'Clear',
      options: [
        { name: 'include_upstream', label: 'Upstream', checked: false },
        { name: 'include_downstream', label: 'Downstream', checked: true },
        { name: 'only_failed', label: 'Only failed', checked: false },
      ],
      run: (o, dryRun) => api(`${V1}/dags/${encodeURIComponent(dagId)}/clearTaskInstances`, {
        method: 'POST',
        body: { dag_run_id: runId, task_ids: [taskId], include_upstream: o.include_upstream,
          include_downstream: o.include_downstream, only_failed: o.only_failed,
          reset_dag_runs: true, dry_run: dryRun },
      }),
      done: reload,
    });
  } }, mi !== null ? 'Clear all instances…' : 'Clear…');
  /* The API marks a task's unmapped instance only. */
  if (mi !== null) return el('span', { class: 'toolbar actions', id: 'ti-actions', style: { margin: 0 } }, clear);
  const mark = (state) => el('button', { id: `ti-mark-${state}`, class: state === 'failed' ? 'danger' : null,
    onclick: () => {
      fill(status);
      dryRunDialog({
        title: `Mark ${taskId} ${state}`,
        verb: `Mark ${state}`,
        danger: state === 'failed',
        options: [
          { name: 'include_upstream', label: 'Upstream', checked: false },
          { name: 'include_downstream', label: 'Downstream', checked: false },
        ],
        run: (o, dryRun) => api(`${V1}/dags/${encodeURIComponent(dagId)}/updateTaskInstancesState`, {
          method: 'POST',
          body: { dag_run_id: runId, task_id: taskId, new_state: state, dry_run: dryRun,
            include_upstream: o.include_upstream, include_downstream: o.include_downstream,
            include_future: false, include_past: false },
        }),
        done: reload,
      });
    } }, `Mark ${state}…`);
  return el('span', { class: 'toolbar actions', id: 'ti-actions', style: { margin: 0 } },
    clear, ti.state !== 'success' ? mark('success') : null, ti.state !== 'failed' ? mark('failed') : null);
}

/* A task with mapped instances and no map_index: its instances, paged. */
async function renderMapped(root, params, query, total) {
  const dagId = params.dag_id, runId = params.run_id, taskId = params.task_id;
  const offset = Math.max(0, parseInt(query.get('offset') || '0', 10) || 0);
  const url = `${runApi(dagId, runId)}/taskInstances/${encodeURIComponent(taskId)}/listMapped` +
    qs({ limit: MAPPED_PAGE, offset });
  let page;
  try {
    page = await api(url);
  } catch (e) {
    fill(root, crumbs(dagId, runId, taskId), errorBox(e));
    return;
  }
  const tis = page.task_instances || [];
  const here = path.ti(dagId, runId, taskId, params.tab);
  const n = page.total_entries || total || 0;
  fill(root, crumbs(dagId, runId, taskId),
    el('div', { class: 'toolbar' },
      el('h1', { style: { margin: 0 } }, el('span', { class: 'mono', style: { fontSize: 'inherit' } }, taskId)),
      el('span', { class: 'tag' }, 'mapped'), el('span', { class: 'muted' }, `${n} instance${n === 1 ? '' : 's'}`)),
    el('table', { class: 'list', id: 'mapped-list' },
      el('thead', null, el('tr', null, ['Map index', 'State', 'Try', 'Started', 'Duration', 'Host']
        .map((c) => el('th', null, c)))),
      el('tbody', null, tis.length ? tis.map((t) => el('tr', { 'data-map-index': t.map_index },
        el('td', null, link(path.ti(dagId, runId, taskId, params.tab, t.map_index), String(t.map_index))),
        el('td', null, stateBadge(t.state)),
        el('td', null, t.try_number ? String(t.try_number) : ''),
        el('td', null, fmtTime(t.start_date)),
        el('td', null, t.duration !== null && t.duration !== undefined ? fmtDuration(t.duration) : ''),
        el('td', { class: 'muted' }, t.hostname || '')))
        : el('tr', null, el('td', { colspan: 6, class: 'muted' }, 'No mapped instances.')))),
    el('div', { class: 'pager' },
      offset > 0 ? el('a', { class: 'button', href: here + qs({ offset: Math.max(0, offset - MAPPED_PAGE) || '' }) }, '← Previous') : null,
      el('span', { class: 'muted' }, n ? `${offset + 1}–${offset + tis.length} of ${n}` : ''),
      offset + MAPPED_PAGE < n ? el('a', { class: 'button', href: here + qs({ offset: offset + MAPPED_PAGE }) }, 'Next →') : null));
}

/* ---- tabs ---------------------------------------------------------------- */

function renderLogs(ctx) {
  const { ti, tiBase, mi, query, body, status } = ctx;
  if (!can('can_read', 'Task Logs')) {
    fill(body, el('p', { class: 'muted' }, 'You may not read task logs.'));
    return;
  }
  const latest = ti.try_number || 0;
  const asked = query.has('try_number') && /^\d+$/.test(query.get('try_number'))
    ? parseInt(query.get('try_number'), 10) : null;
  const tryN = asked !== null && asked >= 1 && asked <= Math.max(latest, 1) ? asked : latest;
  const logUrl = (n, extra) => `${tiBase}/logs/${n}` + qs(Object.assign({ map_index: mi !== null ? mi : '' }, extra));

  const pickHref = (n) => {
    const q = new URLSearchParams();
    if (mi !== null) q.set('map_index', String(mi));
    if (n !== latest) q.set('try_number', String(n));
    return location.pathname + (q.toString() ? '?' + q : '');
  };
  const picker = latest > 1
    ? el('span', { class: 'try-picker', id: 'try-picker' }, 'Try ',
      Array.from({ length: latest }, (_, i) => i + 1).map((n) =>
        el('a', { class: 'button', href: pickHref(n), 'aria-current': n === tryN ? 'true' : null,
          style: Object.assign({ padding: '2px 9px', marginLeft: '3px' }, n === tryN
            ? { background: 'var(--accent)', color: 'var(--accent-fg)', borderColor: 'var(--accent)' } : {}) },
        String(n))))
    : null;
  const live = el('span', { class: 'muted', id: 'log-live' });
  const dl = el('a', { href: '#', id: 'log-download', download: '' }, 'Download');
  dl.addEventListener('click', (e) => {
    e.preventDefault();
    download(logUrl(tryN, { full_content: 'true' }),
      `${safeName(ctx.dagId)}__${safeName(ctx.taskId)}__${safeName(ctx.runId)}` +
      `${mi !== null ? '__' + mi : ''}__try${tryN}.log`, (err) => fill(status, errorBox(err)));
  });
  const pane = logPane();
  const none = el('p', { class: 'muted', id: 'log-empty' }, tryN ? 'The log of this try is empty so far.' : 'This task instance has not been tried yet.');
  fill(body, el('div', { class: 'toolbar' }, picker, live, el('span', { class: 'spacer' }), tryN ? dl : null), none, pane.pre);

  let token = null;
  let stopped = false;
  let timer = null;
  const abort = new AbortController();

  /* What the log gained; the whole of it the first time. */
  async function more() {
    for (let i = 0; i < 64; i++) {
      const r = await api(logUrl(tryN, token ? { token } : { full_content: 'true' }), { signal: abort.signal });
      if (stopped) return;
      const text = (r && r.content) || '';
      pane.append(text);
      if (r && r.continuation_token) token = r.continuation_token;
      if (text.length < 512 * 1024) break;
    }
    none.style.display = pane.empty() ? '' : 'none';
  }

  /* Following: the instance's state and the log's news, every FOLLOW_MS while visible. */
  const following = () => !FINISHED.includes(ctx.ti.state) && tryN === (ctx.ti.try_number || 0);
  async function tick() {
    timer = null;
    if (stopped) return;
    if (document.visibilityState === 'visible') {
      try {
        const t = await api(ctx.tiUrl, { signal: abort.signal });
        if (stopped) return;
        const newTry = (t.try_number || 0) !== (ctx.ti.try_number || 0);
        ctx.ti = t;
        ctx.drawSummary(t);
        if (newTry && asked === null) { go(location.pathname + location.search, true); return; }
        if (tryN) await more();
        if (stopped) return;
        if (!following()) {
          fill(live, 'finished');
          /* One more read for anything stored with the final state. */
          timer = setTimeout(async () => {
            timer = null;
            try { if (tryN && !stopped) await more(); } catch (e) { if (!stopped) fill(status, errorBox(e)); }
          }, FOLLOW_MS);
          return;
        }
      } catch (e) {
        if (stopped || e.name === 'AbortError') return;
        fill(status, errorBox(e));
        fill(live, 'stopped following');
        return;
      }
    }
    timer = setTimeout(tick, FOLLOW_MS);
  }

  (async () => {
    try {
      if (tryN) await more();
      else none.style.display = '';
    } catch (e) {
      if (!stopped && e.name !== 'AbortError') fill(status, errorBox(e));
      return;
    }
    if (stopped) return;
    if (following()) {
      fill(live, '● following');
      timer = setTimeout(tick, FOLLOW_MS);
    }
  })();
  return () => {
    stopped = true;
    abort.abort();
    if (timer) clearTimeout(timer);
    for (const m of document.querySelectorAll('.modal-back')) m.remove();
  };
}

async function renderXcom(ctx) {
  const { tiBase, mi, body } = ctx;
  if (!can('can_read', 'XComs')) {
    fill(body, el('p', { class: 'muted' }, 'You may not read XComs.'));
    return;
  }
  const m = mi !== null ? mi : -1;
  try {
    const list = await api(`${tiBase}/xcomEntries` + qs({ map_index: m, limit: 100 }));
    const entries = list.xcom_entries || [];
    const values = await Promise.all(entries.map((x) =>
      api(`${tiBase}/xcomEntries/${encodeURIComponent(x.key)}` +
        qs({ map_index: m, deserialize: 'true', stringify: 'false' })).then((v) => v.value)));
    fill(body, el('table', { class: 'list', id: 'xcom-list' },
      el('thead', null, el('tr', null, ['Key', 'Value', 'Pushed at'].map((c) => el('th', null, c)))),
      el('tbody', null, entries.length
        ? entries.map((x, i) => el('tr', { 'data-key': x.key },
          el('td', { class: 'mono' }, x.key),
          el('td', null, el('pre', { class: 'xcom-value' }, pretty(values[i]))),
          el('td', null, fmtTime(x.timestamp))))
        : el('tr', null, el('td', { colspan: 3, class: 'muted' }, 'This task instance pushed no XCom.')))),
    list.total_entries > entries.length
      ? el('p', { class: 'muted' }, `The first ${entries.length} of ${list.total_entries} entries.`) : null);
  } catch (e) {
    fill(body, errorBox(e));
  }
}

/* States in which the instance's current try has not started yet. */
const NOT_STARTED = new Set([null, undefined, 'none', 'scheduled', 'queued', 'removed', 'upstream_failed']);

/*
 * The templated fields as rendered: the API's rendered_fields, which the
 * worker stores (masked, each field bounded) when a try renders them, and
 * a later try replaces. Each field is its name and its value as text.
 */
async function renderRendered(ctx) {
  const { dagId, taskId, ti, body } = ctx;
  const fields = ti.rendered_fields || {};
  const names = Object.keys(fields);
  if (names.length) {
    fill(body, el('div', { id: 'rendered' },
      el('p', { class: 'muted', id: 'rendered-by' }, ti.try_number && (FINISHED.includes(ti.state) ||
        ['running', 'up_for_retry', 'up_for_reschedule'].includes(ti.state))
        ? `As try ${ti.try_number} rendered them, secrets masked.`
        : 'As the latest try that started rendered them, secrets masked.'),
      names.map((k) => el('div', { class: 'panel rendered-field', 'data-field': k },
        el('h2', { style: { marginTop: 0 }, class: 'mono' }, k),
        el('pre', { class: 'rendered-value' }, fields[k] === null ? 'None' : pretty(fields[k]))))));
    return;
  }
  const out = el('div', { id: 'rendered' }, el('p', { class: 'muted' }, 'Loading…'));
  fill(body, out);
  let templateFields = [];
  try {
    if (ti.state !== 'removed') {
      const task = await api(`${V1}/dags/${encodeURIComponent(dagId)}/tasks/${encodeURIComponent(taskId)}`);
      templateFields = task.template_fields || [];
    }
  } catch (e) {
    fill(out, errorBox(e));
    return;
  }
  fill(out,
    NOT_STARTED.has(ti.state) || !ti.try_number || ti.state === 'running'
      ? el('p', { id: 'not-rendered' }, 'Not rendered yet: the worker renders the templated fields when a try starts'
        + ' and stores them with its first log lines.')
      : el('p', { id: 'not-rendered' }, 'No rendered fields are stored for this instance (its try did not get as far as rendering them).'),
    el('p', { class: 'muted' },
      templateFields.length ? ['Templated fields of this operator: ', templateFields.map((f) => el('code', { style: { marginRight: '6px' } }, f))] : 'This operator has no templated fields.'),
    el('p', { class: 'muted' }, 'To see them rendered now: ',
      el('code', null, `updraft tasks render ${dagId} ${taskId} ${ctx.runId}`), '.'));
}

function value(v) {
  if (v === null || v === undefined) return el('span', { class: 'muted' }, 'null');
  if (typeof v === 'object') return el('pre', null, JSON.stringify(v, null, 2));
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return el('span', { title: v }, fmtTime(v));
  return String(v);
}

async function renderDetails(ctx) {
  const { dagId, runId, taskId, ti, mi, body } = ctx;
  const triesBox = el('div', { id: 'tries' }, el('p', { class: 'muted' }, 'Loading…'));
  const noteUrl = `${ctx.tiBase}${mi !== null ? '/' + mi : ''}/setNote`;
  fill(body,
    noteBox(ti.note, can('can_edit', 'Task Instances'),
      (note) => api(noteUrl, { method: 'PATCH', body: { note } })),
    el('div', { class: 'panel' }, el('h2', { style: { marginTop: 0 } }, 'Tries'), triesBox),
    el('div', { class: 'panel' }, el('h2', { style: { marginTop: 0 } }, 'Task instance'),
      el('dl', { class: 'facts', id: 'ti-fields' },
        Object.keys(ti).map((k) => [el('dt', { class: 'mono' }, k), el('dd', null, value(ti[k]))]))));
  try {
    const g = await api(`/ui/gantt/${encodeURIComponent(dagId)}/${encodeURIComponent(runId)}`);
    const me = (g.task_instances || []).find((t) => t.task_id === taskId && t.map_index === (mi !== null ? mi : -1));
    const tries = (me && me.tries ? me.tries.slice() : []);
    if (ti.try_number) {
      tries.push({ try_number: ti.try_number, state: ti.state, start_date: ti.start_date,
        end_date: ti.end_date, hostname: ti.hostname });
    }
    tries.sort((a, b) => a.try_number - b.try_number);
    const logHref = (n) => {
      const q = new URLSearchParams();
      if (mi !== null) q.set('map_index', String(mi));
      q.set('try_number', String(n));
      return path.ti(dagId, runId, taskId, 'logs') + '?' + q;
    };
    fill(triesBox, tries.length
      ? el('table', { class: 'list', id: 'tries-list' },
        el('thead', null, el('tr', null, ['Try', 'State', 'Started', 'Ended', 'Duration', 'Host', ''].map((c) => el('th', null, c)))),
        el('tbody', null, tries.map((t) => el('tr', null,
          el('td', null, String(t.try_number)),
          el('td', null, stateBadge(t.state)),
          el('td', null, fmtTime(t.start_date)),
          el('td', null, fmtTime(t.end_date)),
          el('td', null, t.start_date ? fmtDuration(secondsBetween(t.start_date, t.end_date)) : ''),
          el('td', { class: 'muted' }, t.hostname || ''),
          el('td', null, can('can_read', 'Task Logs') ? link(logHref(t.try_number), 'log') : null)))))
      : el('p', { class: 'muted' }, 'Not tried yet.'));
  } catch (e) {
    fill(triesBox, errorBox(e));
  }
}
