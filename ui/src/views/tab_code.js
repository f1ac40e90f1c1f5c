/*
 * tab_code.js - /dags/{id}/code: the DAG file's text with line numbers,
 * from GET /api/v1/dagSources/{file_token} (the token is in the DAG's
 * details). The server reads the file as it is now: no earlier text is
 * kept per DAG version, so there is nothing to pick or compare, and the
 * page says so when it is asked for the code a run used (?run_id=).
 */
import { api, can, V1 } from '../api.js';
import { el, fill, fmtTime, errorBox } from '../dom.js';
import { ensureStyle } from './tabs_common.js';

const MAX_LINES = 20000;

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

export async function render(container, dag, query) {
  ensureStyle();
  if (!can('can_read', 'DAG Code')) {
    fill(container, el('p', { class: 'muted' }, 'You may not read this DAG\'s code.'));
    return;
  }
  if (!dag.file_token) {
    fill(container, el('p', { class: 'muted' }, 'This DAG names no file.'));
    return;
  }
  const runId = query.get('run_id');
  const area = el('div', null, el('p', { class: 'muted' }, 'Loading…'));
  const wrap = el('input', { type: 'checkbox', id: 'code-wrap' });
  fill(container,
    el('div', { class: 'toolbar' },
      el('span', { class: 'mono', id: 'code-file', title: 'the DAG file' }, dag.fileloc || ''),
      el('span', { class: 'spacer' }),
      dag.last_parsed_time ? el('span', { class: 'muted' }, `parsed ${fmtTime(dag.last_parsed_time)}`) : null,
      el('label', null, wrap, ' wrap lines')),
    el('p', { class: 'muted', id: 'code-note' }, runId
      ? `This is the file as it is now; the text run ${runId} was parsed from is not kept, so it may differ.`
      : 'The file as it is now in the DAGs folder.'),
    area);

  let text;
  try {
    const r = await api(`${V1}/dagSources/${encodeURIComponent(dag.file_token)}`);
    text = typeof r === 'string' ? r : r.content;
  } catch (e) {
    fill(area, errorBox(e));
    return;
  }
  fill(area, code(text, false));
  wrap.addEventListener('change', () => {
    const box = document.getElementById('dag-code');
    if (box) box.classList.toggle('wrap', wrap.checked);
  });
}
