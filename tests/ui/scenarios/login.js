'use strict';
// Signing in and out through the login form (docs/security.md "Browser
// sessions and CSRF"), and the page log that every other scenario relies on.

const pathOf = async (page) => new URL(await page.url()).pathname;

module.exports = {
  'the page log records console errors, uncaught exceptions, refused requests and dialogs': async (t) => {
    const page = t.page;
    await page.goto(t.url('/login'));
    const before = page.takeLog().map((e) => `${e.type}: ${e.text}`);
    t.equal(before.join('; '), '', 'the log after opening /login');
    await page.evaluate(() => {
      console.error('a console error');
      setTimeout(() => {
        throw new Error('an uncaught exception');
      });
      setTimeout(() => alert('a dialog'));
      fetch('/api/v1/dags').catch(() => {}); // the login page's Content-Security-Policy refuses it
    });
    const expected = [
      /^console: a console error$/,
      /^exception: Error: an uncaught exception/,
      /^dialog: alert: a dialog$/,
      /^console: .*Content Security Policy/,
    ];
    const lines = () => page.log.map((e) => `${e.type}: ${e.text}`);
    for (const until = Date.now() + 5000; Date.now() < until;) {
      if (expected.every((re) => lines().some((e) => re.test(e)))) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // anything that follows
    const log = page.takeLog().map((e) => `${e.type}: ${e.text}`);
    for (const re of expected) t.assert(log.some((e) => re.test(e)), `no entry matches ${re} in:\n${log.join('\n')}`);
    for (const e of log) t.assert(expected.some((re) => re.test(e)), `unexpected entry: ${e}`);
    t.equal(await page.evaluate('1 + 1'), 2, 'the page answers after the dialog');
  },

  'an anonymous browser opening / is sent to /login': async (t) => {
    const page = t.page;
    await page.goto(t.url('/'));
    t.equal(await pathOf(page), '/login', 'path');
    t.equal(new URL(await page.url()).searchParams.get('next'), '/', 'next');
    t.equal(await page.count('form input#username'), 1, 'username fields');
    t.equal(await page.count('form input#password[type=password]'), 1, 'password fields');
    t.equal(await page.title(), 'Sign in - updraft', 'title');
    t.equal(await page.cookie('updraft_session'), undefined, 'session cookie');
    await page.screenshot('login-page');
  },

  'the admin signs in through the form and lands on the DAG list': async (t) => {
    const page = t.page;
    await page.goto(t.url('/'));
    await t.login(page, 'admin');
    t.equal(await pathOf(page), '/dags', 'path after the login (next, then / goes to /dags)');
    t.equal(await page.count('#password'), 0, 'password fields on the landing page');
    await page.waitFor(() => document.querySelector('#who') && document.querySelector('#who').textContent === 'Ada Tester');
    await page.waitFor('#dag-list tr[data-dag-id="example_hello"]');
    const session = await page.cookie('updraft_session');
    t.assert(session && session.httpOnly, `an HttpOnly session cookie: ${JSON.stringify(session)}`);
    t.equal(session.sameSite, 'Lax', 'the session cookie is SameSite');
    t.assert(await page.cookie('updraft_csrf'), 'a CSRF cookie');
    t.assert(!(await page.evaluate('document.cookie')).includes('updraft_session'), 'scripts do not see the session cookie');
    await page.screenshot('signed-in-admin');
  },

  'the viewer signs in': async (t) => {
    const page = t.page;
    await page.goto(t.url('/login'));
    await t.login(page, 'viewer');
    t.equal(await pathOf(page), '/dags', 'path after the login');
    t.assert(await page.cookie('updraft_session'), 'a session cookie');
    await page.waitFor(() => document.querySelector('#who') && document.querySelector('#who').title === 'Viewer');
    await page.waitFor('#dag-list tr[data-dag-id="example_hello"]');
    t.equal(await page.evaluate(() => document.querySelector('.pause-toggle').disabled), true,
      'a Viewer cannot pause a DAG');
    await page.screenshot('signed-in-viewer');
  },

  'a wrong password shows the error and sets no session cookie': async (t) => {
    const page = t.page;
    await page.goto(t.url('/login'));
    await t.login(page, 'admin', 'not-the-password');
    t.equal(await pathOf(page), '/login', 'path');
    t.assert((await page.text('[role=alert]')).includes('Invalid login'), 'the error is shown');
    t.equal(await page.cookie('updraft_session'), undefined, 'session cookie');
    t.equal(await page.cookie('updraft_csrf'), undefined, 'CSRF cookie');
    const log = page.takeLog().map((e) => `${e.type}: ${e.text}`);
    t.equal(log.join('\n'), `request: 401 POST ${t.url('/login')}`, 'page log (the refused login answers 401)');
    await page.screenshot('login-wrong-password');
  },

  'signing out ends the session': async (t) => {
    const page = t.page;
    await page.goto(t.url('/login'));
    await t.login(page, 'admin');
    t.assert(await page.cookie('updraft_session'), 'signed in');
    await t.logout(page);
    t.equal(await pathOf(page), '/login', 'path after signing out');
    t.equal(await page.cookie('updraft_session'), undefined, 'session cookie');
    await page.screenshot('signed-out');
    await page.goto(t.url('/'));
    t.equal(await pathOf(page), '/login', 'path of / after signing out');
  },
};
