/*
 * browse.js - the Browse and Admin pages (/runs, /task-instances,
 * /import-errors, /jobs, /pools, /variables, /connections, /users,
 * /events, /config): params.page names which. Each is a filtered, paged
 * table over the REST API; the pages live in browse_runs.js (runs and task
 * instances), browse_admin.js (what Op and Admin change) and
 * browse_misc.js (the read-only ones).
 */
import { el, fill } from '../dom.js';
import { renderRuns, renderTaskInstances } from './browse_runs.js';
import { renderPools, renderVariables, renderConnections, renderUsers } from './browse_admin.js';
import { renderImportErrors, renderJobs, renderEvents, renderConfig } from './browse_misc.js';

const pages = {
  runs: renderRuns,
  'task-instances': renderTaskInstances,
  'import-errors': renderImportErrors,
  jobs: renderJobs,
  pools: renderPools,
  variables: renderVariables,
  connections: renderConnections,
  users: renderUsers,
  events: renderEvents,
  config: renderConfig,
};

export async function render(root, params, query) {
  const page = pages[params.page];
  if (!page) {
    fill(root, el('h1', null, 'Not found'), el('p', null, 'No page has this address.'));
    return undefined;
  }
  return page(root, query);
}
