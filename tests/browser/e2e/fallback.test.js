// SPDX-License-Identifier: MIT
// fallback.test.js: browser scenario 2. Without the host the extension keeps
// working on chrome.storage.local and the status page says what is wrong and
// how to fix it; once the host is installed, the session moves to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeProfile, installHost, launch, openStatusPage, makeTorrents, cliGet, cleanup, OUT } from './harness.js';

test('no host: fallback to chrome.storage.local and an explanation; after installing, the data moves', { timeout: 180000 }, async (t) => {
  const profile = makeProfile('fallback');
  t.after(() => cleanup(profile));
  const torrents = makeTorrents(profile.root, 3);
  const { context, worker } = await launch(profile);

  const before = await worker.evaluate(async (list) => {
    const { sessions, client } = /** @type {any} */ (globalThis).nmstore;
    const conn = await client.ready();
    const te = new TextEncoder();
    await sessions.set('torrents', te.encode(JSON.stringify({
      version: 2, torrents: list.map((/** @type {any} */ x, /** @type {number} */ i) => ({ infoHash: x.infoHash, source: 'file', addedAt: 1767225600000 + i })),
    })));
    for (const x of list) {
      await sessions.set(`torrent:${x.infoHash}:torrentfile`, te.encode(x.b64));
      await sessions.set(`torrent:${x.infoHash}:state`, te.encode(JSON.stringify({ userState: 'active', bitfield: 'c0', uploaded: 5, downloaded: 65536, updatedAt: 1 })));
    }
    const restored = await sessions.restoreSession();
    const local = await chrome.storage.local.get(null);
    return { conn, restored: restored.torrents.length, localKeys: Object.keys(local).sort() };
  }, torrents.map((x) => ({ infoHash: x.infoHash, b64: x.torrentFile.toString('base64') })));
  assert.equal(before.conn.mode, 'fallback');
  assert.match(before.conn.reason, /not installed.*chrome\.storage\.local/s);
  assert.equal(before.restored, 3, 'the session store works on the fallback');
  assert.equal(before.localKeys.length, 7, 'index, 3 torrentfiles and 3 states are in chrome.storage.local');
  assert.ok(before.localKeys.every((k) => k.startsWith('session:')));

  const page = await openStatusPage(context);
  assert.equal(await page.isVisible('#missing'), true, 'the page explains that the host is missing');
  assert.match(await page.textContent('#missing') ?? '', /nmstore install/);
  assert.equal(await page.textContent('#badge'), 'Host not installed');
  assert.equal(await page.locator('#torrents tbody tr').count(), 3, 'the page lists the fallback\'s torrents');
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, 'status-page-no-host.png'), fullPage: true });

  // A person installs the host and presses "try again".
  installHost(profile);
  await page.click('#retry');
  await page.waitForFunction(() => /** @type {any} */ (globalThis).nmstorePage.rendered?.mode === 'native');
  assert.equal(await page.isVisible('#missing'), false);
  assert.equal(await page.textContent('#badge'), 'Connected');
  assert.equal(await page.locator('#torrents tbody tr').count(), 3);
  const moved = await page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.sessions.lastMigration);
  assert.deepEqual(moved, { moved: 7 });

  const local = await worker.evaluate(() => chrome.storage.local.get(null));
  assert.deepEqual(Object.keys(local), [], 'verified, then removed from chrome.storage.local');
  const onHost = cliGet(profile, 'session:');
  assert.equal(Object.keys(onHost).length, 7);
  for (const x of torrents) {
    assert.equal(Buffer.from(onHost[`session:torrent:${x.infoHash}:torrentfile`].$bytes, 'base64').toString(), x.torrentFile.toString('base64'));
  }

  // The service worker's own store follows once it tries the host again.
  const after = await worker.evaluate(async () => {
    const { sessions, client } = /** @type {any} */ (globalThis).nmstore;
    client.retryNative();
    const r = await sessions.restoreSession();
    return { mode: client.mode, n: r.torrents.length, problems: r.problems.length };
  });
  assert.deepEqual(after, { mode: 'native', n: 3, problems: 0 });
});
