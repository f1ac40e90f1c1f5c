'use strict';
// The DAG list (/dags): pausing and unpausing a DAG from its switch changes
// what the API says, and the search narrows the list.
async function dagPaused(t, dagId) {
  const u = t.users.admin;
  const res = await fetch(t.url(`/api/v1/dags/${encodeURIComponent(dagId)}`), {
    headers: {Authorization: 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64')},
  });
  return (await res.json()).is_paused;
}

module.exports = {
  'the switch pauses and unpauses a DAG, as the API then says; search narrows the list': async (t) => {
    const page = t.page;
    await t.login(page, 'admin');
    await page.waitFor('#dag-list tr[data-dag-id="example_hello"] .pause-toggle');
    const box = '#dag-list tr[data-dag-id="example_hello"] .pause-toggle';
    t.equal(await dagPaused(t, 'example_hello'), false, 'paused before');
    await page.click(box);
    await page.waitFor((s) => !document.querySelector(s).disabled && !document.querySelector(s).checked, undefined, box);
    t.equal(await dagPaused(t, 'example_hello'), true, 'paused after the first click');
    await page.screenshot('dags-paused');
    await page.click(box);
    await page.waitFor((s) => !document.querySelector(s).disabled && document.querySelector(s).checked, undefined, box);
    t.equal(await dagPaused(t, 'example_hello'), false, 'paused after the second click');
    await page.type('#dag-search', 'no_such_dag_here');
    await page.waitFor(() => /search=no_such_dag_here/.test(location.search) &&
      document.querySelectorAll('#dag-list tr[data-dag-id]').length === 0);
    t.assert((await page.text('#dag-list')).includes('No DAG matches'), 'the empty list says so');
  },
};
