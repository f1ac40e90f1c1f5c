#!/usr/bin/env node
'use strict';
/*
 * run.js - the browser tests: every scenario of tests/ui/scenarios/*.js in a
 * real headless Chromium (cdp.js) against a running webserver.
 *
 *   node tests/ui/run.js BASE_URL [FILTER...]
 *
 * FILTER: run only the scenarios whose "file: name" contains one of them.
 * Prints TAP lines as the integration scripts do ("ok N - file: name",
 * "not ok N - ..." with "#   " detail lines); exits 1 when one failed.
 *
 * A scenario file exports {'what the scenario proves': async (t) => {...}}.
 * t.page is a fresh page with a browser context (cookies, storage) of its
 * own. After the scenario, every page it used must have an empty log (no
 * console error, uncaught exception, failed request or dialog): a scenario
 * that expects one takes it with page.takeLog() and checks it.
 *
 * Environment (tests/integration/test_ui.sh sets it):
 *   UI_ADMIN_USER, UI_ADMIN_PASSWORD, UI_VIEWER_USER, UI_VIEWER_PASSWORD
 *   UI_SCREENS        folder of the screenshots (default build/ui-screens)
 *   UI_TAP_START      checks already printed by the calling script (numbering)
 *   UI_TIMEOUT_MS     one scenario's time limit (default 150000: a scenario may wait
 *                     90 s for the scheduler, and the first one starts Chromium cold)
 *   CHROMIUM          the browser (default /usr/bin/chromium)
 */
const fs = require('fs');
const path = require('path');
const {launch} = require('./cdp');

const base = (process.argv[2] || '').replace(/\/+$/, '');
const filters = process.argv.slice(3);
if (!/^https?:\/\//.test(base)) {
  console.error('usage: node tests/ui/run.js BASE_URL [FILTER...]');
  process.exit(2);
}
const env = process.env;
const screens = path.resolve(env.UI_SCREENS || 'build/ui-screens');
const limitMs = Number(env.UI_TIMEOUT_MS) || 150000;
const users = {
  admin: {username: env.UI_ADMIN_USER || 'admin', password: env.UI_ADMIN_PASSWORD || ''},
  viewer: {username: env.UI_VIEWER_USER || 'viewer', password: env.UI_VIEWER_PASSWORD || ''},
};

let n = Number(env.UI_TAP_START) || 0;
let failures = 0;
const ok = (name) => console.log(`ok ${++n} - ${name}`);
const notOk = (name, detail) => {
  failures++;
  console.log(`not ok ${++n} - ${name}`);
  for (const line of String(detail).split('\n')) console.log(`#   ${line}`);
};

class Failure extends Error {}

/* The context a scenario gets. */
function context(browser, pages) {
  const t = {
    base,
    users,
    url: (p) => base + p,
    async newPage() {
      const page = await browser.newPage();
      pages.push(page);
      return page;
    },
    /* Throws (the scenario fails) unless cond holds. */
    assert(cond, message) {
      if (!cond) throw new Failure(message);
    },
    equal(actual, expected, what) {
      if (actual !== expected) throw new Failure(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    },
    /* Signs in through the login form as users[who] and waits for the page it lands on. */
    async login(page, who = 'admin', password = undefined) {
      const u = users[who];
      const at = await page.url();
      if (!new URL(at).pathname.startsWith('/login')) await page.goto(t.url('/login'));
      await page.type('#username', u.username);
      await page.type('#password', password === undefined ? u.password : password);
      await page.waitForNavigation(() => page.click('button[type=submit]'));
    },
    /* Signs out with the page's sign-out control and waits for the login page. */
    async logout(page) {
      await page.waitForNavigation(() => page.click('form[action="/logout"] button'));
    },
  };
  return t;
}

function loadScenarios() {
  const dir = path.join(__dirname, 'scenarios');
  const all = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.js')).sort()) {
    const scenarios = require(path.join(dir, file));
    for (const [name, fn] of Object.entries(scenarios)) all.push({name: `${path.basename(file, '.js')}: ${name}`, fn});
  }
  return all.filter((s) => !filters.length || filters.some((f) => s.name.includes(f)));
}

function logProblems(pages) {
  const lines = [];
  for (const page of pages) for (const e of page.takeLog()) lines.push(`${e.type}: ${e.text}`);
  return lines;
}

async function runOne(browser, s) {
  const pages = [];
  const t = context(browser, pages);
  let timer;
  try {
    t.page = await t.newPage();
    const limit = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Failure(`the scenario took more than ${limitMs} ms`)), limitMs);
    });
    await Promise.race([s.fn(t), limit]);
    const problems = logProblems(pages);
    if (problems.length) throw new Failure(`the page log is not empty:\n${problems.join('\n')}`);
    ok(s.name);
  } catch (e) {
    const detail = [e instanceof Failure ? e.message : String(e)];
    const where = (e.stack || '').split('\n').find((l) => l.includes(`${path.sep}scenarios${path.sep}`));
    if (where) detail.push(where.trim());
    if (t.page) {
      try {
        detail.push(`at ${await t.page.url()}; screenshot ${await t.page.screenshot(`FAILED-${s.name}`)}`);
      } catch (e2) {
        detail.push(`no screenshot: ${e2.message}`);
      }
    }
    const problems = logProblems(pages);
    if (problems.length && !(e instanceof Failure && e.message.startsWith('the page log'))) detail.push('page log:', ...problems);
    notOk(s.name, detail.join('\n'));
  } finally {
    clearTimeout(timer);
    for (const page of pages) await page.close();
  }
}

async function main() {
  const scenarios = loadScenarios();
  if (!scenarios.length) {
    notOk('scenarios to run', `none matches ${filters.join(', ')}`);
    return 1;
  }
  let browser;
  try {
    browser = await launch({screenshots: screens});
  } catch (e) {
    notOk('the browser starts', e.message);
    return 1;
  }
  console.log(`# ${browser.version}, ${scenarios.length} scenarios against ${base}`);
  try {
    for (const s of scenarios) await runOne(browser, s);
  } finally {
    await browser.close();
  }
  console.log(`# ui: ${scenarios.length - failures} passed, ${failures} failed; screenshots in ${screens}`);
  return failures ? 1 : 0;
}

main().then((code) => {
  process.exitCode = code;
}, (e) => {
  notOk('the browser tests run', e.stack || String(e));
  process.exitCode = 1;
});
