// SPDX-License-Identifier: MIT
// host-messages.test.js: what Firefox ESR really reports for each way
// the host can fail, and that host-errors.js maps each report to its case
// and fix. Firefox cannot be driven by playwright-core's Chromium API, so it
// is driven over WebDriver BiDi (Firefox's own remote protocol): a probe
// add-on with the companion's Firefox id connects to org.nmstore.host from
// its background page and shows what it saw in a tab's address. Each case
// has its own HOME, whose ~/.mozilla/native-messaging-hosts/ holds the
// manifest under test. For "not allowed", the fix the page shows is then run
// for real, and the host answers.
//
// Only the messages are checked here; the status page itself reads Firefox's
// port.error once the client does (another change), and its pages are
// checked in Chromium by status-page.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { HOST_BIN } from '../e2e/harness.js';
import { classifyHostError, describeHostError } from '../../../extension/lib/host-errors.js';

const FIREFOX = '/usr/bin/firefox-esr';
const ADDON_ID = 'nmstore@nmstore.org'; // extension/manifest.json's gecko id
const ADDON_UUID = '0b6e2c9a-1f1e-4b7e-9c5a-3d2f4e6a8b10';
const EXT = { id: ADDON_ID, browser: /** @type {const} */ ('firefox') };
// Node 20 has no WebSocket without a flag; playwright-core bundles ws.
const WS = /** @type {any} */ (globalThis).WebSocket ?? createRequire(import.meta.url)('playwright-core/lib/utilsBundle').ws;

/** The probe add-on: connect, send hello, report the reply or port.error. */
function writeProbe(/** @type {string} */ dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({
    manifest_version: 2, name: 'nmstore probe', version: '0.1.0', permissions: ['nativeMessaging'],
    background: { scripts: ['probe.js'] }, browser_specific_settings: { gecko: { id: ADDON_ID } },
  }));
  writeFileSync(join(dir, 'probe.js'), `
new Promise((resolve) => {
  const port = browser.runtime.connectNative('org.nmstore.host');
  port.onMessage.addListener((m) => resolve({ reply: m }));
  port.onDisconnect.addListener((p) => resolve({ portError: p.error ? p.error.message : null,
    lastError: chrome.runtime.lastError ? chrome.runtime.lastError.message : null }));
  port.postMessage({ id: 1, op: 'hello' });
}).then((x) => browser.tabs.create({ url: 'https://probe.invalid/#' + encodeURIComponent(JSON.stringify(x)) }));
`);
}

/**
 * Starts Firefox with the probe on a fresh profile and HOME, returns what
 * connectNative reported.
 * @param {string} root
 * @param {string} home
 * @returns {Promise<{reply?: any, portError?: string | null, lastError?: string | null}>}
 */
async function probe(root, home) {
  const profile = mkdtempSync(join(root, 'profile-'));
  writeFileSync(join(profile, 'user.js'),
    `user_pref("extensions.webextensions.uuids", ${JSON.stringify(JSON.stringify({ [ADDON_ID]: ADDON_UUID }))});\n`);
  const ff = spawn(FIREFOX, ['--headless', '--remote-debugging-port=0', '--profile', profile, '--no-remote'], {
    env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((r) => ff.once('exit', r));
  try {
    const url = await new Promise((resolve, reject) => {
      let out = '';
      const on = (/** @type {Buffer} */ d) => {
        out += d;
        const m = out.match(/WebDriver BiDi listening on (ws:\/\/\S+)/);
        if (m) resolve(m[1]);
      };
      ff.stderr.on('data', on);
      ff.stdout.on('data', on);
      ff.once('exit', () => reject(new Error(`Firefox ended before BiDi listened: ${out.slice(-1000)}`)));
    });
    const ws = new WS(`${url.replace(/\/$/, '')}/session`);
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    let next = 1;
    /** @type {Map<number, (m: any) => void>} */
    const waiting = new Map();
    ws.onmessage = (/** @type {any} */ ev) => {
      const m = JSON.parse(String(ev.data));
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    };
    /** @param {string} method @param {object} params @returns {Promise<any>} */
    const send = (method, params) => new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, (m) => (m.type === 'error' ? reject(new Error(`${method}: ${m.error}: ${m.message}`)) : resolve(m.result)));
      ws.send(JSON.stringify({ id, method, params }));
    });
    await send('session.new', { capabilities: {} });
    await send('webExtension.install', { extensionData: { type: 'path', path: join(root, 'probe') } });
    try {
      for (let i = 0; i < 300; i++) {
        const tree = await send('browsingContext.getTree', {});
        const tab = tree.contexts.find((/** @type {any} */ c) => c.url.startsWith('https://probe.invalid/#'));
        if (tab) return JSON.parse(decodeURIComponent(tab.url.split('#')[1]));
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the probe add-on reported nothing');
    } finally {
      await send('session.end', {}).catch(() => {});
      ws.close();
    }
  } finally {
    ff.kill();
    await exited;
  }
}

/**
 * A HOME whose Firefox manifest names `path` and allows `ids`.
 * @param {string} root @param {string} name @param {string} path @param {string[]} ids
 */
function homeWith(root, name, path, ids) {
  const home = join(root, name);
  const dir = join(home, '.mozilla/native-messaging-hosts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'org.nmstore.host.json'), JSON.stringify({
    name: 'org.nmstore.host', description: 'nmstore under test', path, type: 'stdio', allowed_extensions: ids,
  }));
  return home;
}

/** @param {string} root @param {string} name @param {string} body */
function script(root, name, body) {
  const path = join(root, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

test('Firefox ESR\'s own words for each failure map to their case and fix', { timeout: 300000, skip: !existsSync(FIREFOX) && `no ${FIREFOX}` }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'nmstore-e2e-firefox-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeProbe(join(root, 'probe'));

  const cases = [
    { name: 'missing', home: join(root, 'missing'), portError: 'No such native application org.nmstore.host', kind: 'not-found' },
    // Firefox words a manifest without this add-on exactly as a missing one.
    { name: 'forbidden', home: homeWith(root, 'forbidden', HOST_BIN, ['other@example.org']),
      portError: 'No such native application org.nmstore.host', kind: 'not-found' },
    // A host that ends is a disconnect with no error; the client says why.
    { name: 'exited', home: homeWith(root, 'exited', script(root, 'exits.sh', 'exit 3'), [ADDON_ID]), portError: null, kind: 'exited' },
    { name: 'chatty', home: homeWith(root, 'chatty', script(root, 'chatty.sh', `echo "starting nmstore..."\nexec '${HOST_BIN}' "$@"`), [ADDON_ID]),
      portError: /^Native application tried to send a message of \d+ bytes, which exceeds the limit of 1048576 bytes\.$/, kind: 'communication' },
    { name: 'moved', home: homeWith(root, 'moved', join(root, 'gone/nmstore'), [ADDON_ID]),
      portError: 'An unexpected error occurred', kind: 'other' },
  ];
  for (const c of cases) {
    mkdirSync(c.home, { recursive: true });
    const r = await probe(root, c.home);
    t.diagnostic(`${c.name}: ${JSON.stringify(r)}`);
    assert.equal(r.reply, undefined, `${c.name}: no reply`);
    if (c.portError instanceof RegExp) assert.match(r.portError ?? '', c.portError, c.name);
    else assert.equal(r.portError, c.portError, c.name);
    assert.equal(r.lastError, null, `${c.name}: Firefox leaves chrome.runtime.lastError unset; port.error is the only report`);
    // What the client passes on when port.error is null.
    const said = r.portError ?? 'the host closed the connection';
    assert.equal(classifyHostError(said), c.kind, c.name);
    const p = describeHostError(said, EXT);
    if (c.kind === 'not-found') assert.equal(p.command, `nmstore install --firefox-id ${ADDON_ID}`);
    else assert.equal(p.command, 'nmstore doctor');
  }

  // The fix the page shows for "not allowed" works: run it as a person would.
  const forbidden = cases[1].home;
  const fix = describeHostError('No such native application org.nmstore.host', EXT).command.split(' ');
  assert.equal(fix[0], 'nmstore');
  const run = spawnSync(HOST_BIN, fix.slice(1), { env: { ...process.env, HOME: forbidden } });
  assert.equal(run.status, 0, `${fix.join(' ')}: ${run.stderr}`);
  const after = await probe(root, forbidden);
  assert.equal(after.reply?.ok, true, `after ${fix.join(' ')} the host answers: ${JSON.stringify(after)}`);
  assert.equal(after.reply?.origin, ADDON_ID);
});
