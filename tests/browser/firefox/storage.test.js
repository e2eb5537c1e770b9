// SPDX-License-Identifier: MIT
// storage.test.js: Firefox loads the companion from the one manifest (its
// background script runs), reaches the host registered by "nmstore
// install", and a value written through NmstoreClient is in the host's
// SQLite store under the add-on id, the origin Firefox hands the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeProfile, installHost, launch, openExtensionPage, cliGet, hostPids, cleanup, within, ADDON_ID } from './harness.js';

test('Firefox: a write through the companion reaches the host\'s store and reads back', { timeout: 120000 }, async (t) => {
  const profile = makeProfile('storage');
  t.after(() => cleanup(profile));
  installHost(profile);
  const browser = await launch(profile);
  const page = await openExtensionPage(profile, browser, 'options.html');

  const value = { text: 'from Firefox', n: 42, nested: { list: [1, 'two', null] } };
  const r = await within(page.evaluate(async (v) => {
    const { NmstoreClient } = await import('/lib/nmstore-client.js');
    const c = new NmstoreClient();
    const conn = await c.ready();
    await c.set({ 'ff:probe': v });
    const back = await c.get('ff:probe');
    // The background script is the extension's own client; Firefox runs
    // background.scripts, so it is a page whose globals can be reached.
    const bg = /** @type {any} */ (await (/** @type {any} */ (globalThis).browser).runtime.getBackgroundPage());
    const bgConn = await bg.nmstore.client.ready();
    const fromBg = await bg.nmstore.client.get('ff:probe');
    return { mode: conn.mode, origin: conn.hello?.origin, store: conn.hello?.store, back, bgMode: bgConn.mode, fromBg };
  }, value), 30000, 'writing and reading through NmstoreClient in the status page');
  assert.equal(r.mode, 'native', 'the page talks to the host, not the fallback');
  assert.equal(r.origin, ADDON_ID, 'Firefox passes the add-on id as the origin');
  assert.ok(r.store.startsWith(`${profile.home}/`), `the store is under the private HOME (${r.store})`);
  assert.deepEqual(r.back, { 'ff:probe': value });
  assert.equal(r.bgMode, 'native', 'the background script\'s client reaches the host too');
  assert.deepEqual(r.fromBg, { 'ff:probe': value });
  assert.ok(hostPids(profile).length >= 2, 'Firefox started a host for the page and one for the background script');

  // Read by the command line from the SQLite store, not through the browser.
  assert.deepEqual(cliGet(profile, 'ff:'), { 'ff:probe': value });
});
