import { el, fill } from '../dom.js';

export async function render(root) {
  fill(root, el('p', { class: 'muted' }, 'This view is not built yet.'));
}
