'use strict';
/*
 * cdp.js - drives a headless Chromium for the browser tests through the
 * Chrome DevTools Protocol (https://chromedevtools.github.io/devtools-protocol/).
 * Plain Node.js (18 and up), no packages.
 *
 * The transport: Chromium started with --remote-debugging-pipe reads
 * commands from its file descriptor 3 and writes answers and events to its
 * file descriptor 4. Every message is one JSON object followed by a NUL byte:
 *
 *   command  {"id": 7, "method": "Page.navigate", "params": {"url": "..."}, "sessionId": "S"}
 *   answer   {"id": 7, "result": {...}}   or   {"id": 7, "error": {"code": -32000, "message": "..."}}
 *   event    {"method": "Page.loadEventFired", "params": {...}, "sessionId": "S"}
 *
 * A command without a sessionId goes to the browser itself (Target.*,
 * Browser.*). A page is reached by attaching to its target with
 * flatten: true: that gives a sessionId, which the page's commands carry
 * and its events come back with.
 *
 * Every newPage() opens in a browser context of its own (an incognito-like
 * profile: its own cookies and storage), so two pages never share a login.
 *
 * A page keeps a log of what a clean page never produces: console errors
 * (console.error, console.assert, and the browser's own error messages such
 * as a Content-Security-Policy refusal), uncaught exceptions, requests that
 * failed or were answered 4xx/5xx, and JavaScript dialogs (alert, confirm,
 * prompt: recorded and dismissed, so a page never hangs on one).
 *
 * The browser process group is killed and its profile directory removed
 * on every way out: close(), the Node process exiting (normally, on an
 * uncaught exception, on SIGINT/SIGTERM/SIGHUP). Chromium also quits by
 * itself when its pipe closes, which covers the Node process being killed.
 */
const {spawn} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const NUL = 0;

/* ---- the connection ----------------------------------------------------- */

class Connection {
  constructor(out, inp) {
    this.out = out;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, method, error}
    this.sessions = new Map(); // sessionId -> function (method, params)
    this.dead = null; // why no more commands can be sent
    this.buf = Buffer.alloc(0);
    out.on('error', () => {}); // EPIPE after the browser died: reported by die()
    inp.on('data', (chunk) => this.receive(chunk));
  }

  receive(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let nul;
    while ((nul = this.buf.indexOf(NUL)) >= 0) {
      const text = this.buf.subarray(0, nul).toString('utf8');
      this.buf = this.buf.subarray(nul + 1);
      this.dispatch(JSON.parse(text));
    }
  }

  dispatch(msg) {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) {
        p.error.message = `${p.method}: ${msg.error.message}${msg.error.data ? ` (${msg.error.data})` : ''}`;
        p.reject(p.error);
      } else {
        p.resolve(msg.result);
      }
      return;
    }
    const on = this.sessions.get(msg.sessionId || '');
    if (on) on(msg.method, msg.params);
  }

  send(method, params = {}, sessionId = undefined) {
    if (this.dead) return Promise.reject(new Error(`${method}: ${this.dead}`));
    const id = this.nextId++;
    const msg = {id, method, params};
    if (sessionId) msg.sessionId = sessionId;
    this.out.write(JSON.stringify(msg) + '\0');
    const error = new Error(); // made here, so that its stack shows the caller
    return new Promise((resolve, reject) => this.pending.set(id, {resolve, reject, method, error}));
  }

  die(reason) {
    this.dead = reason;
    for (const p of this.pending.values()) {
      p.error.message = `${p.method}: ${reason}`;
      p.reject(p.error);
    }
    this.pending.clear();
  }
}

/* Resolves to the promise's value, or rejects with `what` after ms. */
function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/* A page's function argument as the source text the page evaluates. */
function callSource(fn, args) {
  return `(${fn})(...${JSON.stringify(args)})`;
}

function describeException(d) {
  const where = d.url ? ` at ${d.url}:${d.lineNumber + 1}:${d.columnNumber + 1}` : '';
  const what = (d.exception && (d.exception.description || d.exception.value)) || d.text;
  return `${what}${where}`;
}

function remoteText(o) {
  if (o.type === 'string') return o.value;
  if (o.value !== undefined) return JSON.stringify(o.value);
  return o.description || o.type;
}

/* ---- the page ------------------------------------------------------------ */

/* Keys press() knows besides single characters: [code, keyCode, text]. */
const KEYS = {
  Enter: ['Enter', 13, '\r'],
  Tab: ['Tab', 9, ''],
  Escape: ['Escape', 27, ''],
  Backspace: ['Backspace', 8, ''],
  Delete: ['Delete', 46, ''],
  Space: ['Space', 32, ' '],
  ArrowLeft: ['ArrowLeft', 37, ''],
  ArrowUp: ['ArrowUp', 38, ''],
  ArrowRight: ['ArrowRight', 39, ''],
  ArrowDown: ['ArrowDown', 40, ''],
  Home: ['Home', 36, ''],
  End: ['End', 35, ''],
  PageUp: ['PageUp', 33, ''],
  PageDown: ['PageDown', 34, ''],
};
const MODIFIERS = {Alt: 1, Control: 2, Meta: 4, Shift: 8};

class Page {
  constructor(conn, sessionId, contextId, opts) {
    this.conn = conn;
    this.sessionId = sessionId;
    this.contextId = contextId;
    this.screenshots = opts.screenshots;
    this.timeout = opts.timeout; // default for the waits, in ms
    this.log = []; // {type: 'console'|'exception'|'request'|'dialog', text, url}
    this.requests = new Map(); // requestId -> {method, url}
    this.waiters = new Set(); // {method, resolve}
    this.closed = false;
  }

  send(method, params) {
    return this.conn.send(method, params, this.sessionId);
  }

  note(type, text, url) {
    this.log.push({type, text, url: url || ''});
  }

  onEvent(method, p) {
    switch (method) {
    case 'Runtime.consoleAPICalled':
      if (p.type === 'error' || p.type === 'assert') {
        const frame = p.stackTrace && p.stackTrace.callFrames[0];
        this.note('console', p.args.map(remoteText).join(' '), frame && frame.url);
      }
      break;
    case 'Runtime.exceptionThrown':
      this.note('exception', describeException(p.exceptionDetails), p.exceptionDetails.url);
      break;
    case 'Log.entryAdded': // the browser's own messages; failed loads are noted below
      if (p.entry.level === 'error' && p.entry.source !== 'network') this.note('console', p.entry.text, p.entry.url);
      break;
    case 'Network.requestWillBeSent':
      this.requests.set(p.requestId, {method: p.request.method, url: p.request.url});
      break;
    case 'Network.responseReceived':
      if (p.response.status >= 400) {
        const r = this.requests.get(p.requestId) || {method: '?'};
        this.note('request', `${p.response.status} ${r.method} ${p.response.url}`, p.response.url);
      }
      break;
    case 'Network.loadingFailed':
      if (!p.canceled) {
        const r = this.requests.get(p.requestId) || {method: '?', url: '?'};
        const why = p.blockedReason ? `${p.errorText} (blocked: ${p.blockedReason})` : p.errorText;
        this.note('request', `${why} ${r.method} ${r.url}`, r.url);
      }
      this.requests.delete(p.requestId);
      break;
    case 'Network.loadingFinished':
      this.requests.delete(p.requestId);
      break;
    case 'Page.javascriptDialogOpening':
      this.note('dialog', `${p.type}: ${p.message}`, p.url);
      this.send('Page.handleJavaScriptDialog', {accept: false}).catch(() => {});
      break;
    }
    for (const w of this.waiters) if (w.method === method) w.resolve(p);
  }

  /* An event to come: {promise, cancel}. Set up before the action that causes it. */
  nextEvent(method, ms, what) {
    let w;
    const promise = within(ms, new Promise((resolve) => {
      w = {method, resolve};
      this.waiters.add(w);
    }), what).finally(() => this.waiters.delete(w));
    promise.catch(() => {}); // a cancelled wait is nobody's failure
    return {promise, cancel: () => this.waiters.delete(w)};
  }

  /* Opens url and waits for its load event. */
  async goto(url, timeoutMs = 30000) {
    const load = this.nextEvent('Page.loadEventFired', timeoutMs, `waiting for ${url} to load`);
    const r = await this.send('Page.navigate', {url});
    if (r.errorText) {
      load.cancel();
      throw new Error(`goto ${url}: ${r.errorText}`);
    }
    await load.promise;
  }

  /* Runs action (an async function: a click, a key) and waits for the page it loads. */
  async waitForNavigation(action, timeoutMs = 30000) {
    const load = this.nextEvent('Page.loadEventFired', timeoutMs, 'waiting for a page to load');
    try {
      await action();
    } catch (e) {
      load.cancel();
      throw e;
    }
    await load.promise;
  }

  /*
   * Evaluates in the page and returns the value (JSON-able values only; a
   * promise is awaited). expr is an expression's source, or a function
   * called with args (its source is sent: it sees the page, not Node).
   */
  async evaluate(expr, ...args) {
    const expression = typeof expr === 'function' ? callSource(expr, args) : expr;
    const r = await this.send('Runtime.evaluate', {expression, returnByValue: true, awaitPromise: true, userGesture: true});
    if (r.exceptionDetails) throw new Error(`evaluate: ${describeException(r.exceptionDetails)}`);
    return r.result.value;
  }

  /*
   * Waits until `what` holds and returns its value: a CSS selector (an
   * element matches), a function evaluated in the page (its result is
   * truthy; args as for evaluate), or {js: 'expression'}. A predicate that
   * throws counts as false until the time is up.
   */
  async waitFor(what, timeoutMs = this.timeout, ...args) {
    let expression, desc;
    if (typeof what === 'string') {
      expression = `document.querySelector(${JSON.stringify(what)}) !== null`;
      desc = `selector ${JSON.stringify(what)}`;
    } else if (typeof what === 'function') {
      expression = callSource(what, args);
      desc = `predicate ${String(what)}`;
    } else if (what && typeof what.js === 'string') {
      expression = what.js;
      desc = `expression ${what.js}`;
    } else {
      throw new TypeError(`waitFor: a selector, a function or {js: 'expression'}, not ${JSON.stringify(what)}`);
    }
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const v = await this.evaluate(expression);
        if (v) return v;
        last = '';
      } catch (e) {
        last = e.message; // also: the page is between two documents
      }
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    let at = '';
    try {
      at = ` on ${await this.url()}`;
    } catch (e) {
      // leave the address out
    }
    throw new Error(`waitFor: timed out after ${timeoutMs} ms waiting for ${desc}${at}${last ? ` (last error: ${last})` : ''}`);
  }

  url() {
    return this.evaluate('location.href');
  }

  title() {
    return this.evaluate('document.title');
  }

  /* The trimmed visible text of the first element matching selector (waits for it). */
  async text(selector) {
    await this.waitFor(selector);
    return this.evaluate((s) => document.querySelector(s).innerText.trim(), selector);
  }

  /* How many elements match selector now (no waiting). */
  count(selector) {
    return this.evaluate((s) => document.querySelectorAll(s).length, selector);
  }

  /* Clicks the middle of the first element matching selector with the mouse, as a user would. */
  async click(selector) {
    await this.waitFor(selector);
    const at = await this.evaluate((s) => {
      const el = document.querySelector(s);
      el.scrollIntoView({block: 'center', inline: 'center'});
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) return {error: 'it is not displayed'};
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      const hit = document.elementFromPoint(x, y);
      if (hit && hit !== el && !el.contains(hit)) {
        const cls = (hit.getAttribute('class') || '').trim();
        const name = hit.tagName.toLowerCase() + (hit.id ? `#${hit.id}` : '') + (cls ? `.${cls.split(/\s+/).join('.')}` : '');
        return {error: `it is covered by <${name}>`};
      }
      return {x, y};
    }, selector);
    if (at.error) throw new Error(`click ${selector}: ${at.error}`);
    const m = {x: at.x, y: at.y, button: 'left', clickCount: 1};
    await this.send('Input.dispatchMouseEvent', {type: 'mouseMoved', x: at.x, y: at.y});
    await this.send('Input.dispatchMouseEvent', {type: 'mousePressed', ...m});
    await this.send('Input.dispatchMouseEvent', {type: 'mouseReleased', ...m});
  }

  /* Focuses the field matching selector and types text in place of its content (an input event, no key events). */
  async type(selector, text) {
    await this.waitFor(selector);
    await this.evaluate((s) => {
      const el = document.querySelector(s);
      el.focus();
      if (typeof el.select === 'function') el.select();
    }, selector);
    await this.send('Input.insertText', {text});
  }

  /* Presses a key on the focused element: 'Enter', 'Tab', 'Escape', 'ArrowDown', ... or one character; modifiers as 'Control+a'. */
  async press(key) {
    const parts = key.split('+');
    const name = parts.pop() || '+';
    let modifiers = 0;
    for (const m of parts) {
      if (!MODIFIERS[m]) throw new Error(`press: unknown modifier ${m} in ${key}`);
      modifiers |= MODIFIERS[m];
    }
    let code, keyCode, text;
    if (KEYS[name]) {
      [code, keyCode, text] = KEYS[name];
    } else if ([...name].length === 1) {
      const up = name.toUpperCase();
      text = name;
      keyCode = /[A-Z0-9]/.test(up) ? up.charCodeAt(0) : 0;
      code = /[A-Z]/.test(up) ? `Key${up}` : /[0-9]/.test(name) ? `Digit${name}` : '';
    } else {
      throw new Error(`press: unknown key ${key}`);
    }
    if (modifiers & (MODIFIERS.Control | MODIFIERS.Alt | MODIFIERS.Meta)) text = '';
    const k = {key: name === 'Space' ? ' ' : name, code, windowsVirtualKeyCode: keyCode, modifiers};
    await this.send('Input.dispatchKeyEvent', {type: text ? 'keyDown' : 'rawKeyDown', text, ...k});
    await this.send('Input.dispatchKeyEvent', {type: 'keyUp', ...k});
  }

  /* Chooses the option with this value in the <select> matching selector (input and change events). */
  async select(selector, value) {
    await this.waitFor(selector);
    const err = await this.evaluate((s, v) => {
      const el = document.querySelector(s);
      if (el.tagName !== 'SELECT') return `it is a <${el.tagName.toLowerCase()}>, not a <select>`;
      const values = [...el.options].map((o) => o.value);
      if (!values.includes(v)) return `no option has the value ${JSON.stringify(v)} (there are: ${values.map((x) => JSON.stringify(x)).join(', ')})`;
      el.value = v;
      el.dispatchEvent(new Event('input', {bubbles: true}));
      el.dispatchEvent(new Event('change', {bubbles: true}));
      return '';
    }, selector, value);
    if (err) throw new Error(`select ${selector}: ${err}`);
  }

  /* Saves a PNG of the window (or of the whole page: {fullPage: true}) as NAME.png; returns its path. */
  async screenshot(name, opts = {}) {
    const params = {format: 'png'};
    if (opts.fullPage) {
      const m = await this.send('Page.getLayoutMetrics');
      const size = m.cssContentSize || m.contentSize;
      params.captureBeyondViewport = true;
      params.clip = {x: 0, y: 0, width: size.width, height: size.height, scale: 1};
    }
    const {data} = await this.send('Page.captureScreenshot', params);
    const file = path.join(this.screenshots, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
    fs.mkdirSync(this.screenshots, {recursive: true});
    fs.writeFileSync(file, Buffer.from(data, 'base64'));
    return file;
  }

  /* The cookies the current page's address gets, HttpOnly ones included: [{name, value, httpOnly, sameSite, ...}]. */
  async cookies() {
    return (await this.send('Network.getCookies')).cookies;
  }

  async cookie(name) {
    return (await this.cookies()).find((c) => c.name === name);
  }

  /* The log so far, emptied: a test takes what it expected and leaves the rest to be reported. */
  takeLog() {
    return this.log.splice(0);
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    this.conn.sessions.delete(this.sessionId);
    await this.conn.send('Target.disposeBrowserContext', {browserContextId: this.contextId}).catch(() => {});
  }
}

/* ---- the browser ---------------------------------------------------------- */

/*
 * Starts Chromium. opts: executable (default $CHROMIUM or /usr/bin/chromium),
 * screenshots (folder for screenshot(); default build/ui-screens), width and
 * height of the window (1400 x 900), timeout (the waits' default, 10000 ms).
 */
async function launch(opts = {}) {
  const exe = opts.executable || process.env.CHROMIUM || '/usr/bin/chromium';
  const width = opts.width || 1400;
  const height = opts.height || 900;
  const pageOpts = {screenshots: opts.screenshots || path.resolve('build/ui-screens'), timeout: opts.timeout || 10000};
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'updraft-chromium-'));
  const args = [
    '--headless=new',
    '--remote-debugging-pipe',
    `--user-data-dir=${profile}`,
    `--window-size=${width},${height}`,
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-dev-shm-usage',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-features=Translate,MediaRouter,OptimizationHints',
    '--password-store=basic',
    '--use-mock-keychain',
    '--hide-scrollbars',
    '--mute-audio',
    'about:blank',
  ];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox'); // Chromium's sandbox refuses root

  // Its own process group (detached), so that one kill reaches its renderers too.
  const proc = spawn(exe, args, {stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true});
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const conn = new Connection(proc.stdio[3], proc.stdio[4]);
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve(signal || code));
    proc.on('error', (e) => resolve(e.message));
  });
  exited.then((how) => conn.die(`the browser exited (${how})${stderr.trim() ? `; its last output:\n${stderr.trim()}` : ''}`));

  let gone = false;
  const killNow = () => { // synchronous: also runs from process.on('exit')
    if (gone) return;
    gone = true;
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch (e) {
      // already gone
    }
    fs.rmSync(profile, {recursive: true, force: true, maxRetries: 3});
  };
  const onSignal = (sig) => {
    killNow();
    process.exit(128 + os.constants.signals[sig]);
  };
  process.on('exit', killNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, onSignal);

  const close = async () => {
    if (!gone) {
      conn.send('Browser.close').catch(() => {});
      await within(5000, exited, '').catch(() => {});
      killNow(); // what is left of the group, and the profile
    }
    process.removeListener('exit', killNow);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeListener(sig, onSignal);
  };

  let version;
  try {
    version = await within(30000, conn.send('Browser.getVersion'), `waiting for ${exe} to start`);
  } catch (e) {
    await close();
    const out = stderr.trim();
    throw new Error(`launch ${exe}: ${e.message}${out && !e.message.includes(out) ? `; its output:\n${out}` : ''}`);
  }

  return {
    version: version.product,
    async newPage() {
      const {browserContextId} = await conn.send('Target.createBrowserContext', {disposeOnDetach: true});
      const {targetId} = await conn.send('Target.createTarget', {url: 'about:blank', browserContextId, width, height});
      const {sessionId} = await conn.send('Target.attachToTarget', {targetId, flatten: true});
      const page = new Page(conn, sessionId, browserContextId, pageOpts);
      conn.sessions.set(sessionId, (method, params) => page.onEvent(method, params));
      await Promise.all([
        page.send('Page.enable'),
        page.send('Runtime.enable'),
        page.send('Network.enable'),
        page.send('Log.enable'),
        page.send('Emulation.setDeviceMetricsOverride', {width, height, deviceScaleFactor: 1, mobile: false}),
      ]);
      return page;
    },
    close,
  };
}

module.exports = {launch};
