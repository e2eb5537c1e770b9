// SPDX-License-Identifier: MIT
// restore.test.js: the torrent session in Firefox. Torrents written as the
// engine writes them, through the companion's NativeSessionStore and the
// host, come back whole in a restarted Firefox through sessionRestore, and
// the status page lists them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeProfile, installHost, launch, openExtensionPage, openStatusPage, cliGet, hostPids, cleanup, within, waitFor } from './harness.js';
import { makeTorrents } from '../e2e/harness.js';

test('Firefox: a torrent session survives a browser restart and shows on the status page', { timeout: 180000 }, async (t) => {
  const profile = makeProfile('restore');
  t.after(() => cleanup(profile));
  installHost(profile);
  const torrents = makeTorrents(profile.root, 3);
  const plan = torrents.map((tr, i) => ({
    infoHash: tr.infoHash, addedAt: 1767225600000 + i * 3600000,
    torrentFileB64: tr.torrentFile.toString('base64'),
    state: { userState: i === 1 ? 'stopped' : 'active', queuePosition: i, bitfield: 'c0', uploaded: 100 + i, downloaded: 65536, updatedAt: 1 },
  }));

  let browser = await launch(profile);
  let page = await openExtensionPage(profile, browser, 'options.html');
  const mode = await within(page.evaluate(async (plan) => {
    const bg = /** @type {any} */ (await (/** @type {any} */ (globalThis).browser).runtime.getBackgroundPage());
    const { sessions } = bg.nmstore;
    // Bytes made in the background's realm: NativeSessionStore checks
    // instanceof Uint8Array, and the page's Uint8Array is another realm's.
    const te = new bg.TextEncoder();
    const index = { version: 2, torrents: /** @type {any[]} */ ([]) };
    for (const p of plan) {
      await sessions.set(`torrent:${p.infoHash}:torrentfile`, te.encode(p.torrentFileB64));
      await sessions.set(`torrent:${p.infoHash}:state`, te.encode(JSON.stringify(p.state)));
      index.torrents.push({ infoHash: p.infoHash, source: 'file', addedAt: p.addedAt });
      await sessions.set('torrents', te.encode(JSON.stringify(index)));
    }
    return sessions.client.mode;
  }, plan), 30000, 'writing the session through the background script\'s NativeSessionStore');
  assert.equal(mode, 'native');
  const onDisk = cliGet(profile, 'session:');
  assert.equal(Object.keys(onDisk).length, 7, 'the index, 3 .torrent files and 3 states are in the store');

  await within(browser.close(), 20000, 'closing Firefox');
  profile.browsers = [];
  await waitFor(async () => hostPids(profile).length === 0, 10000, 'the hosts ending with Firefox');
  browser = await launch(profile);

  await t.test('restoreSession() brings every torrent back', async () => {
    page = await openExtensionPage(profile, browser, 'options.html');
    const r = await within(page.evaluate(async () => {
      const bg = /** @type {any} */ (await (/** @type {any} */ (globalThis).browser).runtime.getBackgroundPage());
      const s = await bg.nmstore.sessions.restoreSession();
      return {
        via: s.via, problems: s.problems, version: s.index?.version,
        torrents: s.torrents.map((/** @type {any} */ x) => ({ infoHash: x.infoHash, addedAt: x.entry.addedAt, state: x.state, torrentFileB64: x.torrentFile ? btoa(String.fromCharCode(...x.torrentFile)) : null })),
      };
    }), 30000, 'restoreSession() in the restarted Firefox');
    assert.equal(r.via, 'sessionRestore', 'one round trip through the host\'s sessionRestore');
    assert.deepEqual(r.problems, []);
    assert.equal(r.version, 2);
    // restoreSession() hands back the .torrent file's bytes, decoded from
    // the base64 text the engine stores.
    assert.deepEqual(r.torrents, plan.map((p) => ({ infoHash: p.infoHash, addedAt: p.addedAt, state: p.state, torrentFileB64: p.torrentFileB64 })));
  });

  await t.test('the status page lists the torrents', async () => {
    const status = await openStatusPage(profile, browser);
    const shown = await within(status.evaluate(() => ({
      rows: [...document.querySelectorAll('#torrents tbody tr')].map((tr) => ({
        infoHash: /** @type {HTMLElement} */ (tr).dataset.infoHash,
        cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
      })),
      status: document.getElementById('status')?.textContent,
      badge: document.getElementById('badge')?.textContent,
      store: document.getElementById('store')?.textContent,
    })), 10000, 'reading the status page');
    assert.equal(shown.status, 'Connected to org.nmstore.host');
    assert.equal(shown.badge, 'Connected');
    assert.ok(shown.store?.startsWith(`${profile.home}/`), `the page shows the store under the private HOME (${shown.store})`);
    assert.deepEqual(shown.rows.map((r) => r.infoHash), plan.map((p) => p.infoHash));
    assert.deepEqual(shown.rows.map((r) => r.cells[0]), torrents.map((x) => x.name), 'each row names its torrent');
  });
});
