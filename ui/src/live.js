/*
 * live.js - keeping a view current without polling: watch() asks
 * GET /ui/changes, which answers when something the view shows changed
 * (or after its wait, with nothing), and calls onChange then. It waits
 * only while the tab is visible, backs off after an error, and stops when
 * the view's stop() is called.
 */
import { api, qs } from './api.js';

/*
 * Calls onChange() whenever a run of dagId changes (dagId null: anything).
 * active() (optional) says whether to keep watching; returns stop().
 */
export function watch(dagId, onChange, active) {
  let stopped = false;
  let token = null;
  let ctrl = null;

  const loop = async () => {
    while (!stopped) {
      if (document.visibilityState !== 'visible' || (active && !active())) {
        await new Promise((res) => setTimeout(res, 1000));
        continue;
      }
      ctrl = new AbortController();
      try {
        const r = await api('/ui/changes' + qs({ after: token, dag_id: dagId }), { signal: ctrl.signal });
        const first = token === null;
        token = r.token;
        if (!stopped && r.changed && !first) await onChange();
      } catch (e) {
        if (stopped) return;
        await new Promise((res) => setTimeout(res, 5000));
      }
    }
  };
  loop();
  return () => {
    stopped = true;
    if (ctrl) ctrl.abort();
  };
}
