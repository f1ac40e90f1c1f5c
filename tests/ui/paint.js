'use strict';
// How long a view takes to be drawn in headless Chromium, for make bench:
//   node tests/ui/paint.js BASE_URL N
// For each view, N loads (after one unmeasured): the time from the start of
// the navigation until the view's data is on the page (performance.now() in
// the page when its check first holds), printed as one line per view:
//   name p50_ms max_ms n script_kb
// script_kb: the compressed JavaScript the page fetched by then. The
// webserver must run without logins (the bench's does).
const {launch} = require('./cdp');

const base = process.argv[2];
const n = parseInt(process.argv[3] || '5', 10);

const views = [
  // The DAG list among many DAGs: its first page drawn.
  ['ui.paint_dags', '/dags', () => document.querySelectorAll('#dag-list tr[data-dag-id]').length > 0],
  // The grid of the bench DAG with up to 1,000 runs (all the bench made), drawn.
  ['ui.paint_grid', '/dags/bench_grid/grid?runs=1000',
    () => { const g = document.querySelector('[data-runs]'); return !!g && Number(g.dataset.runs) > 0 && !!g.dataset.drawMs; }],
  // Its graph, laid out and drawn.
  ['ui.paint_graph', '/dags/bench_grid/graph',
    () => !!document.querySelector('[data-layout-ms]') && document.querySelectorAll('g.node').length > 0],
  // The graph of a DAG of 1,000 tasks in groups: every task (as it opens),
  // then with its groups folded.
  ['ui.paint_graph_1000', '/dags/bench_graph/graph',
    () => !!document.querySelector('[data-layout-ms]') && document.querySelectorAll('g.node').length >= 1000],
  ['ui.paint_graph_1000_folded', '/dags/bench_graph/graph?groups=folded',
    () => !!document.querySelector('[data-layout-ms]') && document.querySelectorAll('g.folded').length > 0],
];

(async () => {
  const browser = await launch({timeout: 60000});
  let failed = false;
  try {
    for (const [name, path, check] of views) {
      const page = await browser.newPage();
      const times = [];
      let kb = 0;
      for (let i = 0; i <= n; i++) {
        await page.goto(base + path);
        const ms = await page.waitFor({js: `(${check})() && performance.now()`}, 60000);
        if (i === 0) continue; // the first load warms the server and the cache
        times.push(ms);
        kb = await page.evaluate(() => performance.getEntriesByType('resource')
          .filter((e) => e.name.endsWith('.js')).reduce((s, e) => s + e.encodedBodySize, 0) / 1024);
      }
      const log = page.takeLog();
      if (log.length) {
        failed = true;
        console.error(`${name}: ${log.map((e) => e.text).join('; ')}`);
      }
      times.sort((a, b) => a - b);
      console.log(name, Math.round(times[times.length >> 1]), Math.round(times[times.length - 1]), times.length,
        Math.round(kb));
      await page.close();
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.error(e && e.stack || e);
  process.exit(1);
});
