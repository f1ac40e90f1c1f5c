import { el, fill } from '../dom.js';
export async function render(container) { fill(container, el('p', { class: 'muted' }, 'This tab is coming.')); }
