'use strict';
/*
 * rest.js - what the browser scenarios share besides the page: the REST API
 * called from Node as one of the test users (HTTP Basic, not the browser's
 * session), and waiting for a condition.
 *
 *   rest(t, who, method, path, body) -> {status, json, text, body}
 *     path from the server's root ('/api/v1/dags'); body sent as JSON when
 *     given. json: the parsed answer or null; body: json, else the text.
 *   until(what, fn, ms = 90000) -> fn's first truthy value; throws naming
 *     what after ms.
 *   sleep(ms)
 */

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function rest(t, who, method, path, body) {
  const u = t.users[who];
  const res = await fetch(t.url(path), {
    method,
    headers: {
      Authorization: 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64'),
      Accept: 'application/json',
      ...(body === undefined ? {} : {'Content-Type': 'application/json'}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    // not JSON: the text is the body
  }
  return {status: res.status, json, text, body: json !== null ? json : text};
}

async function until(what, fn, ms = 90000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

module.exports = {rest, until, sleep};
