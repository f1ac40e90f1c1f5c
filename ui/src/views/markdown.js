/*
 * markdown.js - doc_md (a DAG's or a task's) as HTML: the one place
 * Markdown becomes markup, always through DOMPurify.sanitize(marked.parse(x)),
 * so that a DAG file cannot put script or event handlers into the page.
 * marked and DOMPurify are loaded on first use only.
 */
import { el } from '../dom.js';

export async function markdown(md, id) {
  const [{ marked }, purify] = await Promise.all([import('marked'), import('dompurify')]);
  const DOMPurify = purify.default || purify;
  const div = el('div', { class: 'markdown panel', id });
  div.innerHTML = DOMPurify.sanitize(marked.parse(String(md)));
  return div;
}
