// SPDX-License-Identifier: MIT
// session-forms.test.js: sessions that JSTorrent's own chrome.storage.local
// adapter left behind, moved into nmstore and restored byte for byte the
// way today's engine reads them: getJson for the index and the states, get
// for :torrentfile and :infodict. The forms are the real extension's
// (extension/src/lib/kv-handlers.ts in kzahel/jstorrent): set() bytes as a
// base64 string, setJson values as they are. Engines before jstorrent
// dfa968a set the base64 text of a .torrent, so it is base64 twice; v1
// engines set the UTF-8 of their index's and states' JSON text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { makeProfile, installHost, launch, makeTorrents, cleanup, HOST_BIN, EXTENSION_ID } from './harness.js';

const ORIGIN = `chrome-extension://${EXTENSION_ID}/`;
const b64 = (/** @type {string | Buffer} */ x) => Buffer.from(x).toString('base64');

/** Runs the command line on the profile's store: {status, out}. */
function cli(profile, args) {
  try {
    const out = execFileSync(HOST_BIN, [...args, '--origin', ORIGIN], { env: { ...process.env, NMSTORE_HOME: profile.home } });
    return { status: 0, out: out.toString() };
  } catch (e) {
    return { status: /** @type {any} */ (e).status, out: String(/** @type {any} */ (e).stdout) };
  }
}

/**
 * In the service worker: writes items straight into chrome.storage.local
 * while the host is missing, then installs nothing itself; returns the
 * connection mode.
 */
async function writeFallback(worker, items) {
  return worker.evaluate(async (items) => {
    const { client } = /** @type {any} */ (globalThis).nmstore;
    const conn = await client.ready();
    await chrome.storage.local.set(items);
    return conn.mode;
  }, items);
}

/** In the service worker: the host is back; restore as today's engine does. */
async function engineRestore(worker) {
  return worker.evaluate(async () => {
    const { client, sessions } = /** @type {any} */ (globalThis).nmstore;
    client.retryNative();
    const enc = (/** @type {Uint8Array | null} */ u) => (u ? btoa(String.fromCharCode(...u)) : null);
    const index = await sessions.getJson('torrents');
    const torrents = [];
    for (const e of index?.torrents ?? []) {
      torrents.push({
        entry: e,
        state: await sessions.getJson(`torrent:${e.infoHash}:state`),
        torrentFile: enc(await sessions.get(`torrent:${e.infoHash}:torrentfile`)),
        infoDict: enc(await sessions.get(`torrent:${e.infoHash}:infodict`)),
      });
    }
    const r = await sessions.restoreSession();
    const local = await chrome.storage.local.get(null);
    return {
      mode: client.mode, migration: sessions.lastMigration, index, torrents,
      restored: r.torrents.length, problems: r.problems, localKeys: Object.keys(local),
    };
  });
}

test('the real extension\'s chrome.storage.local session moves into nmstore and the engine reads it back byte for byte', { timeout: 180000 }, async (t) => {
  const profile = makeProfile('forms');
  t.after(() => cleanup(profile));
  const tr = makeTorrents(profile.root, 4);
  // 0: a file torrent as today's engine saves it; 1: one saved by an engine
  // before dfa968a (base64 text, so base64 twice); 2: a magnet with its
  // info dictionary; 3: a magnet still waiting for its metadata.
  const entries = tr.map((x, i) => ({
    infoHash: x.infoHash, source: i < 2 ? 'file' : 'magnet', addedAt: 1767225600000 + i,
    ...(i >= 2 ? { magnetUri: `magnet:?xt=urn:btih:${x.infoHash}&dn=${x.name}` } : {}),
  }));
  const states = tr.map((x, i) => ({
    userState: i === 1 ? 'stopped' : 'active', storageKey: 'default', queuePosition: i,
    bitfield: 'ff'.repeat(Math.ceil(x.pieceCount / 8)), uploaded: 1000 * i, downloaded: 32768 * i, updatedAt: 1767225700000 + i,
  }));
  const items = {
    'session:torrents': { version: 2, torrents: entries },
    [`session:torrent:${tr[0].infoHash}:torrentfile`]: b64(tr[0].torrentFile),
    [`session:torrent:${tr[1].infoHash}:torrentfile`]: b64(b64(tr[1].torrentFile)),
    [`session:torrent:${tr[2].infoHash}:infodict`]: b64(tr[2].infoDict),
  };
  for (const [i, x] of tr.entries()) items[`session:torrent:${x.infoHash}:state`] = states[i];

  const { worker } = await launch(profile);
  assert.equal(await writeFallback(worker, items), 'fallback');
  installHost(profile);
  const r = await engineRestore(worker);

  assert.equal(r.mode, 'native');
  assert.deepEqual(r.migration, { moved: Object.keys(items).length });
  assert.deepEqual(r.localKeys, [], 'the keys left chrome.storage.local');
  assert.deepEqual(r.index, { version: 2, torrents: entries });
  for (const [i, x] of r.torrents.entries()) {
    assert.deepEqual(x.state, states[i], `state of torrent ${i}`);
    if (i < 2) assert.equal(x.torrentFile, b64(tr[i].torrentFile), `the .torrent of torrent ${i}, byte for byte`);
    else assert.equal(x.torrentFile, null);
    assert.equal(x.infoDict, i === 2 ? b64(tr[2].infoDict) : null, `the info dictionary of torrent ${i}`);
  }
  assert.equal(r.restored, 4);
  assert.deepEqual(r.problems, []);
  // The waiting magnet is information for session check, not a failure.
  const check = cli(profile, ['session', 'check']);
  assert.equal(check.status, 0, check.out);
  assert.match(check.out, /waiting for its metadata/);
});

test('a v1 session of the last v1 engine, from chrome.storage.local, migrates and restores byte for byte', { timeout: 180000 }, async (t) => {
  const profile = makeProfile('v1');
  t.after(() => cleanup(profile));
  const tr = makeTorrents(profile.root, 4);
  // jstorrent 16c02d1, the last v1 engine: the user's choices in the entry
  // (storageKey; storageToken before 8fd3e5e), the state at
  // torrent:<hash> with infoBuffer once a magnet had its metadata; both set()
  // as JSON text, which the extension stores as base64 strings.
  const entries = tr.map((x, i) => ({
    infoHash: x.infoHash,
    ...(i < 2 ? { torrentFile: b64(x.torrentFile) } : { magnetLink: `magnet:?xt=urn:btih:${x.infoHash}&dn=${x.name}` }),
    ...(i === 0 ? { storageToken: 'old-root' } : { storageKey: `root-${i}` }),
    addedAt: 1764547200000 + i, userState: i % 2 ? 'stopped' : 'active', queuePosition: 10 + i,
  }));
  const v1States = tr.map((x, i) => ({
    bitfield: 'ff'.repeat(Math.ceil(x.pieceCount / 8)), uploaded: 7 * i, downloaded: 32768 * i, updatedAt: 1764547300000 + i,
    ...(i >= 2 ? { infoBuffer: b64(x.infoDict) } : {}),
  }));
  const items = { 'session:torrents': b64(JSON.stringify({ version: 1, torrents: entries })) };
  for (const [i, x] of tr.entries()) items[`session:torrent:${x.infoHash}`] = b64(JSON.stringify(v1States[i]));

  const { worker } = await launch(profile);
  assert.equal(await writeFallback(worker, items), 'fallback');
  installHost(profile);
  // The move, then the schema migration a person runs.
  const moved = await worker.evaluate(async () => {
    const { client, sessions } = /** @type {any} */ (globalThis).nmstore;
    client.retryNative();
    await sessions.ready();
    return sessions.lastMigration;
  });
  assert.deepEqual(moved, { moved: 5 });
  const migrate = cli(profile, ['session', 'migrate']);
  assert.equal(migrate.status, 0, migrate.out);
  assert.match(migrate.out, /migrated 4 torrent/);

  const r = await engineRestore(worker);
  assert.deepEqual(r.problems, []);
  assert.equal(r.index.version, 2);
  assert.equal(r.torrents.length, 4);
  for (const [i, x] of r.torrents.entries()) {
    const e = entries[i];
    assert.equal(x.entry.infoHash, tr[i].infoHash);
    assert.equal(x.entry.source, i < 2 ? 'file' : 'magnet');
    assert.equal(x.entry.addedAt, e.addedAt);
    if (i >= 2) assert.equal(x.entry.magnetUri, e.magnetLink);
    assert.equal(x.state.userState, e.userState, `torrent ${i} keeps its user state`);
    assert.equal(x.state.storageKey, i === 0 ? 'old-root' : `root-${i}`);
    assert.equal(x.state.queuePosition, e.queuePosition);
    assert.equal(x.state.bitfield, v1States[i].bitfield);
    assert.equal(x.state.uploaded, v1States[i].uploaded);
    assert.equal(x.state.downloaded, v1States[i].downloaded);
    assert.equal(x.torrentFile, i < 2 ? b64(tr[i].torrentFile) : null, `the .torrent of torrent ${i}, byte for byte`);
    assert.equal(x.infoDict, i >= 2 ? b64(tr[i].infoDict) : null, `the info dictionary of torrent ${i}, byte for byte`);
  }
  // The metadata is stored as the bencoded bytes, as today's engine sets them.
  const stored = JSON.parse(execFileSync(HOST_BIN, ['get', '--origin', ORIGIN, '--prefix', `session:torrent:${tr[0].infoHash}:torrentfile`],
    { env: { ...process.env, NMSTORE_HOME: profile.home } }).toString());
  assert.equal(stored[`session:torrent:${tr[0].infoHash}:torrentfile`].$bytes, b64(tr[0].torrentFile));
});
