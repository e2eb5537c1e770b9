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
