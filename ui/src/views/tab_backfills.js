/*
 * tab_backfills.js - /dags/{dag_id}/backfills: the DAG's backfills with
 * their progress, and a new one for who may create runs (backfill.js).
 */
import { can } from '../api.js';
import { el, fill } from '../dom.js';
import { backfillPanel, openBackfillModal } from './backfill.js';

export async function render(container, dag) {
  const panel = backfillPanel(dag.dag_id);
  fill(container,
    can('can_create', 'DAG Runs')
      ? el('div', { class: 'toolbar' }, el('button', { class: 'primary', id: 'backfill-new',
        onclick: () => openBackfillModal(dag, { onStarted: () => panel.refresh() }) }, 'New backfill…'))
      : null,
    panel);
  return () => panel.stop();
}
