// SPDX-License-Identifier: MIT
// session-store.test.js: NativeSessionStore against a fake port: the engine's
// ISessionStore interface, restoreSession() on old and new hosts, and the
// move from the chrome.storage.local fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NmstoreClient } from '../../../extension/lib/nmstore-client.js';
import {
  NativeSessionStore, bytesToBase64, base64ToBytes, bytesToBase64Fallback, base64ToBytesFallback,
} from '../../../extension/lib/native-session-store.js';
import { FakeHost, FakeArea, wiring } from './fake.js';

const enc = (s) => new TextEncoder().encode(s);
const H1 = 'a'.repeat(40), H2 = 'b'.repeat(40), H3 = 'c'.repeat(40);

test('get/set carry bytes as {"$bytes"} under the prefix', async () => {
  const host = new FakeHost();
  const s = new NativeSessionStore(wiring(NmstoreClient, host));
  const bytes = new Uint8Array(70000).map((_, i) => (i * 7) & 255);
  await s.set('torrent:x:torrentfile', bytes);
  assert.deepEqual(host.items.get('session:torrent:x:torrentfile'), { $bytes: Buffer.from(bytes).toString('base64') });
  assert.deepEqual(await s.get('torrent:x:torrentfile'), bytes);
  assert.equal(await s.get('nothing'), null);
  await assert.rejects(s.set('k', /** @type {any} */ ('text')), TypeError);
  // set() skips client.set's conversion of the value it makes itself; the
  // key still becomes what Chrome would make of it.
  await s.set('lone:\ud800', enc('x'));
  assert.deepEqual(host.items.get('session:lone:\ufffd'), { $bytes: 'eA==' });
  assert.equal(host.items.has('session:lone:\ud800'), false);
  assert.deepEqual(await s.get('lone:\ufffd'), enc('x'));
});

test('keys, delete, clear and getMulti stay inside the prefix', async () => {
  const host = new FakeHost();
  host.items.set('other', 1);
  const s = new NativeSessionStore(wiring(NmstoreClient, host));
  await s.set('torrents', enc('{}'));
  await s.set('torrent:1:state', enc('1'));
  await s.set('torrent:2:state', enc('2'));
  assert.deepEqual(await s.keys(), ['torrent:1:state', 'torrent:2:state', 'torrents']);
  assert.deepEqual(await s.keys('torrent:'), ['torrent:1:state', 'torrent:2:state']);
  const m = await s.getMulti(['torrent:1:state', 'missing', 'torrent:2:state']);
  assert.deepEqual([...m.keys()], ['torrent:1:state', 'torrent:2:state']);
  assert.deepEqual(m.get('torrent:2:state'), enc('2'));
  await s.delete('torrent:1:state');
  assert.deepEqual(await s.keys(), ['torrent:2:state', 'torrents']);
  await s.clear();
  assert.deepEqual(await s.keys(), []);
  assert.equal(host.items.get('other'), 1, 'clear() leaves keys outside the prefix alone');
});

test('a custom prefix', async () => {
  const host = new FakeHost();
  const s = new NativeSessionStore(wiring(NmstoreClient, host), { prefix: 'engine2/' });
  await s.setJson('settings', { a: 1 });
  assert.deepEqual(host.items.get('engine2/settings'), { a: 1 });
});

test('getJson/setJson store JSON directly and read the engine\'s JSON bytes too', async () => {
  const host = new FakeHost();
  const s = new NativeSessionStore(wiring(NmstoreClient, host));
  await s.setJson('settings:ui', { theme: 'dark', n: [1, 2] });
  assert.deepEqual(host.items.get('session:settings:ui'), { theme: 'dark', n: [1, 2] });
  assert.deepEqual(await s.getJson('settings:ui'), { theme: 'dark', n: [1, 2] });
  await s.set('torrents', enc(JSON.stringify({ version: 2, torrents: [] })));
  assert.deepEqual(await s.getJson('torrents'), { version: 2, torrents: [] });
  assert.deepEqual(await s.get('settings:ui'), enc('{"theme":"dark","n":[1,2]}'));
  assert.equal(await s.getJson('missing'), null);
});

/** Writes a session the way the engine does (seed schema v2). */
async function writeEngineSession(s) {
  const tf = enc('d8:announce3:url4:infod4:name1:aee');
  const info = enc('d4:name1:b6:lengthi5ee');
  const index = {
    version: 2,
    torrents: [
      { infoHash: H1, source: 'file', addedAt: 1 },
      { infoHash: H2, source: 'magnet', magnetUri: `magnet:?xt=urn:btih:${H2}`, addedAt: 2 },
      { infoHash: H3, source: 'file', addedAt: 3 },
    ],
  };
  await s.set('torrents', enc(JSON.stringify(index)));
  await s.set(`torrent:${H1}:state`, enc(JSON.stringify({ userState: 'active', bitfield: 'ff80', uploaded: 10, downloaded: 20, updatedAt: 5 })));
  // The engine stores .torrent and info dictionary bytes as base64 text.
  await s.set(`torrent:${H1}:torrentfile`, enc(bytesToBase64(tf)));
  await s.set(`torrent:${H2}:infodict`, info);          // raw bencode works too
  // H3 lost its torrentfile.
  return { tf, info };
}

for (const ops of [[], ['sessionRestore']]) {
  test(`restoreSession() ${ops.length ? 'with the host\'s sessionRestore' : 'on a host without sessionRestore'}`, async () => {
    const host = new FakeHost({ ops });
    const s = new NativeSessionStore(wiring(NmstoreClient, host));
    const { tf, info } = await writeEngineSession(s);
    host.received.length = 0;
    const r = await s.restoreSession();
    assert.equal(r.via, ops.length ? 'sessionRestore' : 'get');
    assert.equal(r.index.version, 2);
    assert.deepEqual(r.torrents.map((t) => t.infoHash), [H1, H2]);
    assert.deepEqual(r.torrents[0].torrentFile, tf);
    assert.deepEqual(r.torrents[0].state, { userState: 'active', bitfield: 'ff80', uploaded: 10, downloaded: 20, updatedAt: 5 });
    assert.equal(r.torrents[1].torrentFile, null);
    assert.deepEqual(r.torrents[1].infoDict, info);
    assert.equal(r.torrents[1].entry.magnetUri, `magnet:?xt=urn:btih:${H2}`);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0].infoHash, H3);
    const dataOps = host.received.filter((q) => q.op !== 'hello').map((q) => q.op);
    assert.deepEqual(dataOps, ops.length ? ['sessionRestore'] : ['sessionRestore', 'get', 'get'],
      'one round trip, or two gets on an older host');
  });
}

test('restoreSession() reports unreadable data as problems', async () => {
  const host = new FakeHost();
  const s = new NativeSessionStore(wiring(NmstoreClient, host));
  await s.setJson('torrents', { version: 2, torrents: [{ infoHash: H1, source: 'file', addedAt: 1 }] });
  await s.set(`torrent:${H1}:torrentfile`, enc('%%% not base64 %%%'));
  await s.set(`torrent:${H1}:state`, enc('{broken'));
  const r = await s.restoreSession();
  assert.equal(r.torrents.length, 0);
  assert.deepEqual(r.problems.map((p) => p.key).sort(), [`session:torrent:${H1}:state`, `session:torrent:${H1}:torrentfile`]);
});

test('fallback, then the host appears: session keys move once, verified, then leave the fallback', async () => {
  const area = new FakeArea();
  const missing = new FakeHost({ notFound: true });
  const before = new NativeSessionStore(wiring(NmstoreClient, missing, area));
  await before.setJson('torrents', { version: 2, torrents: [] });
  await before.set('torrent:x:state', enc('{"uploaded":1}'));
  await area.set({ unrelated: true });
  assert.equal((await before.client.ready()).mode, 'fallback');
  assert.deepEqual(await before.keys(), ['torrent:x:state', 'torrents']);

  const host = new FakeHost();
  const after = new NativeSessionStore(wiring(NmstoreClient, host, area));
  assert.deepEqual(await after.keys(), ['torrent:x:state', 'torrents']);
  assert.deepEqual(after.lastMigration, { moved: 2 });
  assert.deepEqual(host.items.get('session:torrents'), { version: 2, torrents: [] });
  assert.deepEqual([...area.data.keys()], ['unrelated'], 'only the session keys left the fallback');
  assert.deepEqual(await after.get('torrent:x:state'), enc('{"uploaded":1}'));
});

test('a migration whose read-back differs keeps the data in the fallback', async () => {
  const area = new FakeArea({ 'session:torrents': { version: 2, torrents: [] } });
  const host = new FakeHost();
  host.tamper = (req, reply) => (req.op === 'get' && reply.items?.['session:torrents'] ? { ...reply, items: { 'session:torrents': { version: 1 } } } : reply);
  const s = new NativeSessionStore(wiring(NmstoreClient, host, area));
  await assert.rejects(s.keys(), (e) => e.code === 'E_MIGRATE' && /stays in chrome.storage.local/.test(e.message));
  assert.ok(area.data.has('session:torrents'));
});

test('restoreSession() reports a problem once when the host lists it and also returns the torrent', async () => {
  const host = new FakeHost({ ops: ['sessionRestore'] });
  host.tamper = (req, reply) => (req.op === 'sessionRestore'
    ? { ...reply, torrents: [...reply.torrents, { infoHash: H3, entry: { infoHash: H3, source: 'file', addedAt: 3 }, state: null, torrentfile: null, infodict: null }] }
    : reply);
  const s = new NativeSessionStore(wiring(NmstoreClient, host));
  await writeEngineSession(s);
  const r = await s.restoreSession();
  assert.deepEqual(r.torrents.map((t) => t.infoHash), [H1, H2]);
  assert.deepEqual(r.problems.map((p) => p.infoHash), [H3]);
});

test('base64 fallbacks (browsers without Uint8Array.fromBase64) match Buffer at every length and across 32 KiB slices', () => {
  for (const n of [0, 1, 2, 3, 4, 5, 255, 256, 0x8000 - 1, 0x8000, 0x8000 + 1, 70001]) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 131 + 7) & 255);
    const b64 = Buffer.from(bytes).toString('base64');
    assert.equal(bytesToBase64Fallback(bytes), b64, `encode ${n} bytes`);
    assert.deepEqual(base64ToBytesFallback(b64), bytes, `decode ${n} bytes`);
  }
  assert.throws(() => base64ToBytesFallback('%%%'));
});

/**
 * Gives Uint8Array the native base64 methods (as Chromium 140+ has them),
 * built on Buffer, counting calls; returns the counts and a restore function.
 */
function withNativeBase64() {
  const U8 = /** @type {any} */ (Uint8Array);
  const calls = { from: 0, to: 0 };
  const had = { from: U8.fromBase64, to: U8.prototype.toBase64 };
  U8.fromBase64 = (/** @type {string} */ s) => {
    calls.from++;
    const t = s.replace(/[\t\n\f\r ]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t)) throw new SyntaxError('not base64');
    return new Uint8Array(Buffer.from(t, 'base64'));
  };
  U8.prototype.toBase64 = function () { calls.to++; return Buffer.from(this).toString('base64'); };
  return {
    calls,
    undo() {
      if (had.from) U8.fromBase64 = had.from; else delete U8.fromBase64;
      if (had.to) U8.prototype.toBase64 = had.to; else delete U8.prototype.toBase64;
    },
  };
}

test('Uint8Array.fromBase64/toBase64 are used when the browser has them; restore gives the same torrents either way', async () => {
  const restoreWith = async (/** @type {boolean} */ native) => {
    const stub = native ? withNativeBase64() : null;
    try {
      const host = new FakeHost({ ops: ['sessionRestore'] });
      const s = new NativeSessionStore(wiring(NmstoreClient, host));
      await writeEngineSession(s);
      const r = await s.restoreSession();
      if (stub) {
        assert.ok(stub.calls.to > 0, 'set encodes with toBase64');
        assert.ok(stub.calls.from > 0, 'restore decodes with fromBase64');
      }
      return r;
    } finally {
      stub?.undo();
    }
  };
  const plain = await restoreWith(false);
  const native = await restoreWith(true);
  assert.deepEqual(native, plain);
  assert.equal(native.torrents.length, 2);
  const bytes = new Uint8Array(1000).map((_, i) => i & 255);
  const stub = withNativeBase64();
  try {
    assert.equal(bytesToBase64(bytes), Buffer.from(bytes).toString('base64'));
    assert.deepEqual(base64ToBytes(Buffer.from(bytes).toString('base64')), bytes);
  } finally {
    stub.undo();
  }
});

test('unreadable base64 is a problem with the native decoder too', async () => {
  const stub = withNativeBase64();
  try {
    const host = new FakeHost({ ops: ['sessionRestore'] });
    const s = new NativeSessionStore(wiring(NmstoreClient, host));
    await s.setJson('torrents', { version: 2, torrents: [{ infoHash: H1, source: 'file', addedAt: 1 }] });
    await s.set(`torrent:${H1}:torrentfile`, enc('%%% not base64 %%%'));
    const r = await s.restoreSession();
    assert.equal(r.torrents.length, 0);
    assert.deepEqual(r.problems.map((p) => p.key), [`session:torrent:${H1}:torrentfile`]);
  } finally {
    stub.undo();
  }
});

// The forms JSTorrent left its keys in. The real extension's chrome.storage.local
// adapter (extension/src/lib/kv-handlers.ts) stores set() bytes as a base64
// string and setJson values as they are; engines before jstorrent dfa968a
// set the base64 text of a .torrent, so there it is base64 of base64 text.
const b64 = (/** @type {string | Uint8Array} */ x) => Buffer.from(x).toString('base64');
const TF = 'd8:announce3:url4:infod6:lengthi5e4:name1:aee';
const INFO = 'd6:lengthi5e4:name1:be';

test('get() reads bytes in every form: {"$bytes"}, a base64 string, base64 text of bencode, JSON', async () => {
  const host = new FakeHost();
  const s = new NativeSessionStore(wiring(NmstoreClient, host));
  const forms = {
    [`session:torrent:${H1}:torrentfile`]: b64(TF),                 // real extension, today's engine
    [`session:torrent:${H2}:torrentfile`]: b64(b64(TF)),            // real extension, engines before dfa968a
    [`session:torrent:${H3}:torrentfile`]: { $bytes: b64(b64(TF)) }, // NativeSessionStore, engines before dfa968a
    [`session:torrent:${H1}:infodict`]: b64(INFO),
    [`session:torrent:${H2}:infodict`]: { $bytes: b64(INFO) },      // NativeSessionStore, today's engine
    'session:defaultRootKey': b64('downloads'),                      // set(TextEncoder(key)) through the extension
    'session:legacy': { a: 1 },                                      // setJson, read by an engine with get()
  };
  for (const [k, v] of Object.entries(forms)) host.items.set(k, v);
  for (const h of [H1, H2, H3]) assert.deepEqual(await s.get(`torrent:${h}:torrentfile`), enc(TF), h);
  assert.deepEqual(await s.get(`torrent:${H1}:infodict`), enc(INFO));
  assert.deepEqual(await s.get(`torrent:${H2}:infodict`), enc(INFO));
  assert.deepEqual(await s.get('defaultRootKey'), enc('downloads'));
  assert.deepEqual(await s.get('legacy'), enc('{"a":1}'));
  const m = await s.getMulti([`torrent:${H2}:torrentfile`, 'defaultRootKey']);
  assert.deepEqual(m.get(`torrent:${H2}:torrentfile`), enc(TF));
  assert.deepEqual(m.get('defaultRootKey'), enc('downloads'));
  // Base64 text under another key is data, not a wrapped .torrent.
  host.items.set('session:note', { $bytes: b64(b64('hello')) });
  assert.deepEqual(await s.get('note'), enc(b64('hello')));
});

test('getJson() reads setJson values, set() JSON text, and the extension\'s base64 string of it', async () => {
  const host = new FakeHost();
  const s = new NativeSessionStore(wiring(NmstoreClient, host));
  const index = { version: 2, torrents: [{ infoHash: H1, source: 'file', addedAt: 1 }] };
  host.items.set('session:a', index);                                          // setJson
  host.items.set('session:b', { $bytes: b64(JSON.stringify(index)) });         // set(TextEncoder(JSON)) here
  host.items.set('session:c', b64(JSON.stringify(index)));                     // the same through the extension
  host.items.set('session:d', 'plain text');                                   // setJson of a string
  host.items.set('session:e', b64('123'));                                     // a string that only looks like it
  for (const k of ['a', 'b', 'c']) assert.deepEqual(await s.getJson(k), index, k);
  assert.equal(await s.getJson('d'), 'plain text');
  assert.equal(await s.getJson('e'), b64('123'));
});

/** A session as the real extension left it in chrome.storage.local. */
function extensionSession(area, list, extra = {}) {
  area.data.set('session:torrents', { version: 2, torrents: list.map((h, i) => ({ infoHash: h, source: 'file', addedAt: i })) });
  for (const h of list) {
    area.data.set(`session:torrent:${h}:torrentfile`, b64(TF));
    area.data.set(`session:torrent:${h}:state`, { userState: 'active', uploaded: 1, downloaded: 2, updatedAt: 5 });
  }
  for (const [k, v] of Object.entries(extra)) area.data.set(k, v);
}

test('migrateFromFallback carries the extension\'s base64 strings over as bytes', async () => {
  const area = new FakeArea();
  extensionSession(area, [H1, H2]);
  const host = new FakeHost({ ops: ['sessionRestore'] });
  const s = new NativeSessionStore(wiring(NmstoreClient, host, area));
  await s.ready();
  assert.deepEqual(s.lastMigration, { moved: 5 });
  assert.deepEqual(host.items.get(`session:torrent:${H1}:torrentfile`), { $bytes: b64(TF) });
  assert.deepEqual(await s.get(`torrent:${H2}:torrentfile`), enc(TF));
  assert.equal((await s.getJson('torrents')).torrents.length, 2);
  assert.equal(area.data.size, 0);
});

test('migrateFromFallback never replaces what the host holds with an older or emptier value; indexes merge', async () => {
  const host = new FakeHost();
  const hostIndex = { version: 2, torrents: [{ infoHash: H1, source: 'file', addedAt: 100 }] };
  host.items.set('session:torrents', hostIndex);
  host.items.set(`session:torrent:${H1}:torrentfile`, { $bytes: b64(TF) });
  host.items.set(`session:torrent:${H1}:state`, { userState: 'stopped', uploaded: 9, downloaded: 9, updatedAt: 50 });

  // An empty index in the fallback leaves the host's alone.
  const empty = new FakeArea({ 'session:torrents': { version: 2, torrents: [] } });
  await new NativeSessionStore(wiring(NmstoreClient, host, empty)).ready();
  assert.deepEqual(host.items.get('session:torrents'), hostIndex);
  assert.equal(empty.data.size, 0);

  // A fallback that knows H1 (older) and H2: H2 is added after the host's entries.
  const area = new FakeArea();
  extensionSession(area, [H1, H2]);
  area.data.set(`session:torrent:${H2}:state`, { userState: 'active', uploaded: 1, downloaded: 2, updatedAt: 70 });
  const s = new NativeSessionStore(wiring(NmstoreClient, host, area));
  await s.ready();
  const index = await s.getJson('torrents');
  assert.deepEqual(index.torrents.map((/** @type {any} */ e) => e.infoHash), [H1, H2]);
  assert.equal(index.torrents[0].addedAt, 100, 'the host\'s entry wins');
  assert.equal((await s.getJson(`torrent:${H1}:state`)).userState, 'stopped', 'the host\'s newer state stays');
  assert.equal((await s.getJson(`torrent:${H2}:state`)).updatedAt, 70);
  assert.deepEqual(await s.get(`torrent:${H2}:torrentfile`), enc(TF));

  // A later state in the fallback is taken.
  const later = new FakeArea({ [`session:torrent:${H1}:state`]: { userState: 'active', uploaded: 10, downloaded: 10, updatedAt: 90 } });
  await new NativeSessionStore(wiring(NmstoreClient, host, later)).ready();
  assert.equal(host.items.get(`session:torrent:${H1}:state`).updatedAt, 90);

  // An index that cannot be merged (v1 in the fallback) is kept aside, not lost.
  const v1 = new FakeArea({ 'session:torrents': b64(JSON.stringify({ version: 1, torrents: [{ infoHash: H3 }] })) });
  await new NativeSessionStore(wiring(NmstoreClient, host, v1)).ready();
  assert.equal(host.items.get('session:torrents').torrents.length, 2);
  assert.equal(JSON.parse(Buffer.from(host.items.get('session:backup:fallback:torrents').$bytes, 'base64').toString()).version, 1);
});

for (const ops of [[], ['sessionRestore']]) {
  test(`restoreSession() ${ops.length ? 'over sessionRestore' : 'by gets'} reports what the engine would skip`, async () => {
    const host = new FakeHost({ ops });
    const s = new NativeSessionStore(wiring(NmstoreClient, host));
    await s.setJson('torrents', { version: 2, torrents: [
      { infoHash: H1, source: 'file', addedAt: 1 },     // only an infodict: the engine reads a file torrent's .torrent only
      { infoHash: H2, source: 'magnet', addedAt: 2 },   // no magnetUri: the engine skips it
      { infoHash: H3, source: 'file', addedAt: 3 },     // the extension's double base64 form: fine
    ] });
    host.items.set(`session:torrent:${H1}:infodict`, b64(INFO));
    host.items.set(`session:torrent:${H2}:infodict`, b64(INFO));
    host.items.set(`session:torrent:${H3}:torrentfile`, b64(b64(TF)));
    const r = await s.restoreSession();
    assert.deepEqual(r.torrents.map((t) => t.infoHash), [H3]);
    assert.deepEqual(r.torrents[0].torrentFile, enc(TF));
    assert.deepEqual(r.problems.map((p) => p.infoHash).sort(), [H1, H2]);
  });
}
