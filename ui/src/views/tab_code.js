/*
 * tab_code.js - /dags/{id}/code: the DAG file's text as the DAG processor
 * stored it for each DAG version (GET /api/v2/dagSources/{dag_id}
 * ?version_number=N), with line numbers. A picker lists the versions
 * (GET /api/v2/dags/{dag_id}/dagVersions, newest first); the page opens
 * on ?version=N, else on the version of ?run_id= (the run's
 * version_number), else on the latest. "Compare with" shows what changed
 * between the version shown and another, from the older to the newer,
 * line by line, computed in the page with the diff package (loaded on
 * first use). Every line, code or
 * diff, is a text node: the file is never parsed as HTML. The picks are
 * kept in the address (?version=, ?diff=) so a view can be shared.
 */
import { api, can, qs, V1 } from '../api.js';
import { el, fill, fmtTime, errorBox } from '../dom.js';
import { ensureStyle } from './tabs_common.js';

const V2 = '/api/v2';
const MAX_LINES = 20000;
const MAX_VERSIONS = 1000;

function code(text, wrap) {
  const lines = text.replace(/\n$/, '').split('\n');
  const shown = lines.slice(0, MAX_LINES);
  const box = el('div', { class: 'tabc-code' + (wrap ? ' wrap' : ''), id: 'dag-code', 'data-lines': lines.length });
  // One row a line: its number, then its text (a text node).
  const frag = document.createDocumentFragment();
  shown.forEach((line, i) => {
    frag.appendChild(el('div', { class: 'ln' }, String(i + 1)));
    frag.appendChild(el('div', { class: 'tx' }, line));
  });
  box.appendChild(frag);
  return [box, lines.length > MAX_LINES
    ? el('p', { class: 'muted' }, `Only the first ${MAX_LINES} of ${lines.length} lines are shown.`) : null];
}

/*
 * The changes from oldText to newText: one row a line, "+" added, "-"
 * removed, " " unchanged, with its line number in the old or new text.
 */
async function diffView(oldText, newText, wrap) {
  const { diffLines } = await import('diff');
  const parts = diffLines(oldText, newText);
  const box = el('div', { class: 'tabc-code tabc-diff' + (wrap ? ' wrap' : ''), id: 'code-diff' });
  const frag = document.createDocumentFragment();
  let oldN = 0, newN = 0, added = 0, removed = 0, rows = 0;
  for (const part of parts) {
    const lines = part.value.replace(/\n$/, '').split('\n');
    for (const line of lines) {
      if (rows++ >= MAX_LINES) break;
      const kind = part.added ? 'add' : part.removed ? 'del' : 'ctx';
      if (part.added) { newN++; added++; } else if (part.removed) { oldN++; removed++; } else { oldN++; newN++; }
      frag.appendChild(el('div', { class: `ln ${kind}` }, String(part.removed ? oldN : newN)));
      frag.appendChild(el('div', { class: `tx ${kind}` }, (part.added ? '+ ' : part.removed ? '- ' : '  ') + line));
    }
  }
  box.appendChild(frag);
  const summary = el('p', { class: 'muted', id: 'code-diff-summary' },
    added || removed ? `${added} line${added === 1 ? '' : 's'} added, ${removed} removed.` : 'The two texts are the same.');
  return [summary, box];
}

export async function render(container, dag, query) {
  ensureStyle();
  if (!can('can_read', 'DAG Code')) {
    fill(container, el('p', { class: 'muted' }, 'You may not read this DAG\'s code.'));
    return;
  }
  const dagId = dag.dag_id;
  const area = el('div', null, el('p', { class: 'muted' }, 'Loading…'));
  const note = el('p', { class: 'muted', id: 'code-note' });
  const wrap = el('input', { type: 'checkbox', id: 'code-wrap' });
  const picker = el('select', { id: 'code-version', 'aria-label': 'DAG version' });
  const against = el('select', { id: 'code-compare', 'aria-label': 'compare with version' });
  fill(container,
    el('div', { class: 'toolbar' },
      el('span', { class: 'mono', id: 'code-file', title: 'the DAG file' }, dag.fileloc || ''),
      el('span', { class: 'spacer' }),
      el('label', null, 'Version ', picker),
      el('label', null, 'Compare with ', against),
      el('label', null, wrap, ' wrap lines')),
    note, area);

  let versions;
  let runVersion = null;
  const runId = query.get('run_id');
  try {
    const [list, run] = await Promise.all([
      api(`${V2}/dags/${encodeURIComponent(dagId)}/dagVersions` + qs({ order_by: '-version_number', limit: MAX_VERSIONS })),
      runId ? api(`${V1}/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}`) : null,
    ]);
    versions = list.dag_versions || [];
    if (run) runVersion = run.version_number;
  } catch (e) {
    fill(area, errorBox(e));
    return;
  }
  if (!versions.length) {
    fill(area, el('p', { class: 'muted' }, 'This DAG has no parsed version yet.'));
    return;
  }
  const known = new Set(versions.map((v) => v.version_number));
  const pick = (s) => (/^\d+$/.test(s || '') && known.has(parseInt(s, 10)) ? parseInt(s, 10) : null);
  let shown = pick(query.get('version')) || (known.has(runVersion) ? runVersion : null) || versions[0].version_number;
  let compare = pick(query.get('diff'));
  if (compare === shown) compare = null;

  const label = (v) => `v${v.version_number} · ${fmtTime(v.created_at)}` +
    (v.version_number === versions[0].version_number ? ' (latest)' : '') +
    (v.version_number === runVersion ? ` (run ${runId})` : '');
  fill(picker, versions.map((v) => el('option', { value: String(v.version_number) }, label(v))));
  fill(against, el('option', { value: '' }, '—'),
    versions.map((v) => el('option', { value: String(v.version_number) }, `v${v.version_number}`)));

  /* The texts read so far, by version number (null: none was kept). */
  const texts = new Map();
  async function textOf(n) {
    if (!texts.has(n)) {
      const r = await api(`${V2}/dagSources/${encodeURIComponent(dagId)}` + qs({ version_number: n }));
      texts.set(n, typeof r === 'string' ? r : r.content);
    }
    return texts.get(n);
  }

  let drawing = 0;
  async function draw() {
    const me = ++drawing;
    picker.value = String(shown);
    against.value = compare ? String(compare) : '';
    const u = new URL(location.href);
    u.searchParams.set('version', String(shown));
    if (compare) u.searchParams.set('diff', String(compare)); else u.searchParams.delete('diff');
    history.replaceState(history.state, '', u.pathname + u.search);
    const older = Math.min(shown, compare || shown), newer = Math.max(shown, compare || shown);
    fill(note, compare
      ? `What changed from version ${older} to version ${newer}: "+" lines are in version ${newer} only, "-" lines in version ${older} only.`
      : [`The file as stored with version ${shown}`,
        runVersion === shown ? `, the version run ${runId} uses` : '',
        '. A version is stored when the parsed DAG changes; an edit that leaves the DAG the same (a comment) updates the latest version\'s text.']);
    try {
      const [a, b] = await Promise.all([textOf(shown), compare ? textOf(compare) : null]);
      if (me !== drawing) return;
      if (a === null || (compare && b === null)) {
        const missing = a === null ? shown : compare;
        fill(area, el('p', { class: 'muted', id: 'code-missing' },
          `No text is stored for version ${missing}: it was parsed before DAG files' texts were kept.`));
        return;
      }
      fill(area, compare
        ? await (compare < shown ? diffView(b, a, wrap.checked) : diffView(a, b, wrap.checked))
        : code(a, wrap.checked));
    } catch (e) {
      if (me === drawing) fill(area, errorBox(e));
    }
  }
  picker.addEventListener('change', () => {
    shown = parseInt(picker.value, 10);
    if (compare === shown) compare = null;
    draw();
  });
  against.addEventListener('change', () => {
    compare = against.value ? parseInt(against.value, 10) : null;
    if (compare === shown) compare = null;
    draw();
  });
  wrap.addEventListener('change', () => {
    for (const box of container.querySelectorAll('.tabc-code')) box.classList.toggle('wrap', wrap.checked);
  });
  await draw();
}
