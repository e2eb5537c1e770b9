// SPDX-License-Identifier: MIT
// fallback.test.js: Firefox without the host. Firefox reports "No such
// native application" on port.error; the companion must still see that as
// "not installed": fall back to storage.local, and show the install steps
// on the status page. Once "nmstore install" ran, "try again" connects and
// the data moves to the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeProfile, installHost, launch, openExtensionPage, openStatusPage, cliGet, cleanup, within, waitFor } from './harness.js';

test('Firefox, no host: fallback to storage.local and the install steps; after installing, the data moves', { timeout: 120000 }, async (t) => {
  const profile = makeProfile('fallback');
  t.after(() => cleanup(profile));
  const browser = await launch(profile);
  const page = await openExtensionPage(profile, browser, 'options.html');

  const before = await within(page.evaluate(async () => {
    const { NmstoreClient } = await import('/lib/nmstore-client.js');
    const b = /** @type {any} */ (globalThis).browser;
    // What Firefox itself says, straight from a port.
    const why = await new Promise((resolve) => {
      const port = b.runtime.connectNative('org.nmstore.host');
      port.onDisconnect.addListener((/** @type {any} */ p) => resolve({ portError: p.error?.message, lastError: b.runtime.lastError?.message }));
    });
    const withFallback = await new NmstoreClient().ready();
    const noFallback = await new NmstoreClient({ fallback: null }).ready().then(
      () => null, (/** @type {any} */ e) => ({ code: e.code, message: e.message }));
    const bg = /** @type {any} */ (await b.runtime.getBackgroundPage());
    await bg.nmstore.client.set({ 'session:ff-fallback': { $bytes: 'AAE=' } });
    const local = await b.storage.local.get(null);
    return { why, withFallback, noFallback, localKeys: Object.keys(local) };
  }), 30000, 'connecting without a host');
  t.diagnostic(`Firefox says: ${JSON.stringify(before.why)}`);
  assert.match(before.why.portError, /No such native application org\.nmstore\.host/);
  assert.equal(before.withFallback.mode, 'fallback');
  assert.match(before.withFallback.reason, /not installed/);
  assert.equal(before.noFallback?.code, 'E_HOST_NOT_FOUND');
  assert.match(before.noFallback?.message, /nmstore install/);
  assert.deepEqual(before.localKeys, ['session:ff-fallback'], 'the background script wrote to storage.local');

  const status = await openStatusPage(profile, browser);
  const shown = await within(status.evaluate(() => ({
    missing: !document.getElementById('missing')?.hidden,
    text: document.getElementById('missing')?.textContent ?? '',
    badge: document.getElementById('badge')?.textContent,
  })), 10000, 'reading the status page');
  assert.equal(shown.missing, true, 'the page explains that the host is missing');
  assert.match(shown.text, /nmstore install/);
  assert.equal(shown.badge, 'Host not installed');

  // A person runs "nmstore install" and presses "try again".
  installHost(profile);
  await within(status.evaluate(() => document.getElementById('retry')?.click()), 10000, 'pressing "try again"');
  await waitFor(() => status.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.rendered?.mode === 'native'),
    20000, 'the status page connecting after "try again"');
  assert.equal(await within(status.evaluate(() => document.getElementById('badge')?.textContent), 10000, 'reading the badge'), 'Connected');
  assert.deepEqual(cliGet(profile, 'session:'), { 'session:ff-fallback': { $bytes: 'AAE=' } }, 'the fallback\'s data moved to the host');
});
