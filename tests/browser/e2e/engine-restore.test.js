// SPDX-License-Identifier: MIT
// engine-restore.test.js: browser scenarios 1 and 3. The engine's flow
// through NativeSessionStore in the service worker (20 real torrents, per-piece
// state writes), a browser restart on the same profile, restoreSession(); then
// the status page showing those torrents, with a screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeProfile, installHost, launch, openStatusPage, makeTorrents, cliGet, hostPids, cleanup, OUT } from './harness.js';

/** The engine's hex bitfield: piece p is bit (7 - p % 8) of byte p / 8. */
function bitfieldHex(pieceCount, have) {
  const bytes = Buffer.alloc(Math.ceil(pieceCount / 8));
  for (const p of have) bytes[p >> 3] |= 0x80 >> (p & 7);
  return bytes.toString('hex');
}

test('20 torrents written as the engine does come back whole after a browser restart; the status page lists them', { timeout: 240000 }, async (t) => {
  const profile = makeProfile('engine');
  t.after(() => cleanup(profile));
  installHost(profile);
  const torrents = makeTorrents(profile.root, 20);
  // Every fifth torrent was added by magnet and has its info dictionary;
  // the others came from a .torrent file. Torrent i has verified pieces
  // 0, 2, 4, ... up to i, so bitfields differ.
  const plan = torrents.map((tr, i) => {
    const have = [];
    for (let p = 0; p < tr.pieceCount; p += 2) if (p <= i) have.push(p);
    return {
      infoHash: tr.infoHash,
      source: i % 5 === 4 ? 'magnet' : 'file',
      magnetUri: i % 5 === 4 ? `magnet:?xt=urn:btih:${tr.infoHash}&dn=${tr.name}` : undefined,
      addedAt: 1767225600000 + i * 3600000,
      torrentFileB64: tr.torrentFile.toString('base64'),
      infoDictB64: tr.infoDict.toString('base64'),
      pieceCount: tr.pieceCount,
      have,
      bitfield: bitfieldHex(tr.pieceCount, have),
      uploaded: 1000 * i + 17,
      downloaded: have.length * 32768,
      userState: i % 7 === 3 ? 'stopped' : 'active',
    };
  });

  let { context, worker } = await launch(profile);
  const written = await worker.evaluate(async (plan) => {
    const { sessions } = /** @type {any} */ (globalThis).nmstore;
    const te = new TextEncoder();
    const b64bytes = (/** @type {string} */ b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const index = { version: 2, torrents: /** @type {any[]} */ ([]) };
    let stateWrites = 0;
    // addTorrent: the .torrent file (as the engine stores it: the UTF-8 of
    // its base64 text) or the info dictionary once metadata arrived, then
    // the rewritten index.
    for (const p of plan) {
      if (p.source === 'file') await sessions.set(`torrent:${p.infoHash}:torrentfile`, te.encode(p.torrentFileB64));
      else await sessions.set(`torrent:${p.infoHash}:infodict`, b64bytes(p.infoDictB64));
      index.torrents.push({ infoHash: p.infoHash, source: p.source, addedAt: p.addedAt, ...(p.magnetUri ? { magnetUri: p.magnetUri } : {}) });
      await sessions.set('torrents', te.encode(JSON.stringify(index)));
    }
    // Per-piece state writes, all torrents at once as pieces verify.
    await Promise.all(plan.map(async (p) => {
      const bits = new Uint8Array(Math.ceil(p.pieceCount / 8));
      const done = [];
      for (const piece of p.have) {
        bits[piece >> 3] |= 0x80 >> (piece & 7);
        done.push(piece);
        const state = {
          userState: p.userState, queuePosition: 0,
          bitfield: [...bits].map((b) => b.toString(16).padStart(2, '0')).join(''),
          uploaded: Math.round(p.uploaded * done.length / p.have.length),
          downloaded: done.length * 32768, updatedAt: Date.now(),
        };
        await sessions.set(`torrent:${p.infoHash}:state`, te.encode(JSON.stringify(state)));
        stateWrites++;
      }
    }));
    return { stateWrites, mode: sessions.client.mode };
  }, plan);
  assert.equal(written.mode, 'native', 'the service worker talks to the host, not the fallback');
  assert.ok(written.stateWrites >= 20, `per-piece state writes happened (${written.stateWrites})`);

  // The data is in the host's store, as the command line sees it.
  const onDisk = cliGet(profile, 'session:');
  assert.equal(Object.keys(onDisk).filter((k) => k.endsWith(':state')).length, 20);

  await context.close();
  for (let i = 0; i < 50 && hostPids(profile).length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(hostPids(profile), [], 'the hosts ended with the browser');

  ({ context, worker } = await launch(profile));
  const restored = await worker.evaluate(async () => {
    const { sessions } = /** @type {any} */ (globalThis).nmstore;
    const r = await sessions.restoreSession();
    const b64 = (/** @type {Uint8Array|null} */ u) => (u ? btoa(String.fromCharCode(...u)) : null);
    return {
      via: r.via, problems: r.problems, indexVersion: r.index?.version,
      torrents: r.torrents.map((/** @type {any} */ x) => ({ infoHash: x.infoHash, entry: x.entry, state: x.state, torrentFile: b64(x.torrentFile), infoDict: b64(x.infoDict) })),
    };
  });
  t.diagnostic(`restoreSession() went through: ${restored.via}`);
  assert.deepEqual(restored.problems, []);
  assert.equal(restored.indexVersion, 2);
  assert.deepEqual(restored.torrents.map((x) => x.infoHash), plan.map((p) => p.infoHash), 'every torrent, in index order');
  for (const [i, p] of plan.entries()) {
    const r = restored.torrents[i];
    assert.equal(r.entry.source, p.source);
    assert.equal(r.entry.addedAt, p.addedAt);
    assert.equal(r.state.bitfield, p.bitfield, `bitfield of torrent ${i}`);
    assert.equal(r.state.uploaded, p.uploaded, `uploaded of torrent ${i}`);
    assert.equal(r.state.downloaded, p.downloaded, `downloaded of torrent ${i}`);
    assert.equal(r.state.userState, p.userState);
    if (p.source === 'file') {
      assert.equal(r.torrentFile, p.torrentFileB64, `the .torrent file of torrent ${i}, byte for byte`);
    } else {
      assert.equal(r.entry.magnetUri, p.magnetUri);
      assert.equal(r.infoDict, p.infoDictB64, `the info dictionary of torrent ${i}, byte for byte`);
    }
  }

  // Scenario 3: the status page renders these torrents.
  const page = await openStatusPage(context);
  const rows = await page.$$eval('#torrents tbody tr', (trs) => trs.map((tr) => ({
    infoHash: /** @type {HTMLElement} */ (tr).dataset.infoHash,
    cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
  })));
  assert.deepEqual(rows.map((r) => r.infoHash), plan.map((p) => p.infoHash));
  assert.equal(await page.textContent('#status'), 'Connected to org.nmstore.host');
  assert.match(await page.textContent('#store') ?? '', new RegExp(`^${profile.home}/.*store\\.db$`));
  const rendered = await page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.rendered);
  if (rendered.note) {
    // A host without sessionSummary: hashes, states and dates, and a note saying so.
    t.diagnostic(`the status page says: ${rendered.note}`);
    assert.match(rendered.note, /newer nmstore/);
    for (const [i, r] of rows.entries()) assert.equal(r.cells[3], plan[i].userState);
  } else {
    for (const [i, r] of rows.entries()) {
      assert.equal(r.cells[0], torrents[i].name);
      assert.match(r.cells[2] ?? '', /%$/);
    }
  }
  assert.notEqual(await page.textContent('#bytes'), '—');
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, 'status-page.png'), fullPage: true });
  t.diagnostic(`screenshot: ${join(OUT, 'status-page.png')}`);
});
