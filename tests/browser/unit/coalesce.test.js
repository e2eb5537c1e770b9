// SPDX-License-Identifier: MIT
// coalesce.test.js: NmstoreClient's coalescing against the fake port, which
// answers `batch` frames in the wire format of docs/PROTOCOL.md: the requests
// of one task leave as one frame, each caller still gets its own reply or
// error in the same order, and the limits, the ops the host refuses in a
// batch, reconnection and the fallback behave as they do one by one. The
// same results against the real host: coalesce-host.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NmstoreClient, jsonBytesAtMost, batchValues, COALESCE_FRAME_REQUESTS } from '../../../extension/lib/nmstore-client.js';
import { NativeSessionStore } from '../../../extension/lib/native-session-store.js';
import { FakeHost, FakeArea, wiring } from './fake.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

/** The frames the host received after hello, as op names ("batch:3" for a batch of 3). */
function frames(host) {
  return host.received.filter((r) => r.op !== 'hello').map((r) => (r.op === 'batch' ? `batch:${r.requests.length}` : r.op));
}

/**
 * Runs the calls made by start(c) in one task and records how each settled,
 * in the order they settled.
 * @param {NmstoreClient} c
 * @param {(c: NmstoreClient) => Promise<any>[]} start
 */
async function settle(c, start) {
  const log = [];
  const calls = start(c);
  await Promise.all(calls.map((p, i) => p.then(
    (v) => { log.push([i, 'ok', v && typeof v === 'object' && 'ok' in v ? { ...v, id: 'x' } : v]); },
    (e) => { log.push([i, e.name, e.code, e.message]); })));
  return log;
}

const mixed = (c) => [
  c.set({ a: 1, b: { x: [1, 2] } }),
  c.set({ '': 1 }), // the fake's E_KEY
  c.get(['a', 'b']),
  c.get({ a: 0, z: 'default' }),
  c.request('noSuchOp'),
  c.remove('a'),
  c.getKeys(),
  c.request('set', { items: { n: 10n } }), // E_VALUE at once: never sent
  c.set({ bin: new Uint8Array(1) }), // E_VALUE at once, as Chrome refuses it
  c.getBytesInUse(),
  c.flush(),
];

test('the requests of one task leave as one batch frame, and settle exactly as one by one', async () => {
  const logs = [];
  for (const [ops, coalesce, want] of [
    // The request that cannot be sent is tried alone, in its place, after
    // those before it: its rejection comes at once, as without coalescing.
    [['batch'], true, ['batch:7', 'batch:2']],
    [['batch'], false, ['set', 'set', 'get', 'get', 'noSuchOp', 'remove', 'getKeys', 'getBytesInUse', 'flush']],
    [[], true, ['set', 'set', 'get', 'get', 'noSuchOp', 'remove', 'getKeys', 'getBytesInUse', 'flush']],
  ]) {
    const host = new FakeHost({ ops, tasks: true });
    const c = wiring(NmstoreClient, host, null, { coalesce });
    await c.ready();
    logs.push(await settle(c, mixed));
    assert.deepEqual(frames(host), want, `ops ${JSON.stringify(ops)}, coalesce ${coalesce}`);
  }
  assert.deepEqual(logs[0], logs[1], 'coalesced: the same values and errors, settled in the same order');
  assert.deepEqual(logs[2], logs[1], 'a host without batch: one by one, as before');
  assert.deepEqual(logs[0].map((e) => e[0]), [7, 8, 0, 1, 2, 3, 4, 5, 6, 9, 10], 'E_VALUE at once, then in request order');
  assert.deepEqual(logs[0][3], [1, 'NmstoreError', 'E_KEY', 'nmstore set: a key must not be empty']);
  assert.deepEqual(logs[0][4], [2, 'ok', { a: 1, b: { x: [1, 2] } }]);
  assert.deepEqual(logs[0][6].slice(0, 3), [4, 'NmstoreError', 'E_UNKNOWN_OP']);
});

test('requests made before hello are coalesced once it comes; one request alone goes out as before', async () => {
  const host = new FakeHost({ ops: ['batch'] });
  const c = wiring(NmstoreClient, host);
  // Before hello the client cannot know the host has batch: these wait for
  // ready() and then leave together.
  const first = [c.set({ a: 1 }), c.get('a')];
  await Promise.all(first);
  await c.get('a');
  assert.deepEqual(frames(host), ['batch:2', 'get']);
});

test('ops the host refuses in a batch go alone, in their place', async () => {
  const host = new FakeHost({ ops: ['batch', 'subscribe'], tasks: true });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  const log = await settle(c, (x) => [x.set({ a: 1 }), x.get('a'), x.request('subscribe'), x.set({ b: 2 }), x.request('unsubscribe'),
    x.get('b'), x.request('hello'), x.request('batch', { requests: [{ op: 'get' }] })]);
  const sent = host.received.slice(1).map((r) => (r.op === 'batch' ? `batch:${r.requests.length}` : r.op)); // after the first hello
  assert.deepEqual(sent, ['batch:2', 'subscribe', 'set', 'unsubscribe', 'get', 'hello', 'batch:1']);
  assert.deepEqual(log.map((e) => e[0]), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('a batch carries at most hello\'s maxBatchRequests, and a large request goes alone', async () => {
  const host = new FakeHost({ ops: ['batch'], maxBatchRequests: 3 });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  const gets = [];
  for (let i = 0; i < 7; i++) gets.push(c.get(`k${i}`));
  await Promise.all(gets);
  assert.deepEqual(frames(host), ['batch:3', 'batch:3', 'get']);
  host.received.length = 0;
  const big = 'x'.repeat(70 * 1024);
  await Promise.all([c.set({ s1: 1 }), c.set({ s2: 2 }), c.set({ big }), c.set({ s3: 3 }), c.get('big')]);
  assert.deepEqual(frames(host), ['batch:2', 'set', 'batch:2']);
  assert.equal(host.items.get('big'), big);
});

test('a batch carries at most the client\'s own COALESCE_FRAME_REQUESTS when the host allows more', async () => {
  const host = new FakeHost({ ops: ['batch'], maxBatchRequests: 1000 });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  const n = 2 * COALESCE_FRAME_REQUESTS + 7;
  const sets = [];
  for (let i = 0; i < n; i++) sets.push(c.set({ [`k${i}`]: i }));
  await Promise.all(sets);
  assert.deepEqual(frames(host), [`batch:${COALESCE_FRAME_REQUESTS}`, `batch:${COALESCE_FRAME_REQUESTS}`, 'batch:7']);
  const got = await c.get(null);
  assert.equal(Object.keys(got).length, n);
  for (let i = 0; i < n; i++) assert.equal(got[`k${i}`], i);
});

test('a full batch frame leaves at once, before the task that fills it ends', async () => {
  const host = new FakeHost({ ops: ['batch'], maxBatchRequests: 3 });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  const gets = [];
  for (let i = 0; i < 7; i++) {
    gets.push(c.get(`k${i}`));
    // Still inside the task: the frames that are full are on the wire.
    assert.deepEqual(frames(host), Array(Math.floor((i + 1) / 3)).fill('batch:3'));
  }
  await Promise.all(gets);
  assert.deepEqual(frames(host), ['batch:3', 'batch:3', 'get']);
});

test('a request over a sixth of 64 KiB is measured exactly, and coalesced when under it', async () => {
  const host = new FakeHost({ ops: ['batch'] });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  const near = 'x'.repeat(60 * 1024); // six bytes a character would be 360 KiB
  await Promise.all([c.set({ a: 1 }), c.set({ near }), c.set({ b: 2 })]);
  assert.deepEqual(frames(host), ['batch:3']);
  assert.equal(host.items.get('near'), near);
  assert.equal(batchValues({ op: 'set', id: 1, items: { near } }), batchValues({ op: 'set', id: 1, items: { near: 'x' } }));
  assert.equal(batchValues({ op: 'set', id: 1, items: { over: 'x'.repeat(65 * 1024) } }), -1);
});

test('a batch stays within the smallest frame\'s budget of values, so none is refused there', async () => {
  const host = new FakeHost({ ops: ['batch'] });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  const keys = Array.from({ length: 20000 }, (_, i) => String(i % 10)); // about 80 KB of JSON: over the size limit
  const small = keys.slice(0, 14000); // about 56 KB: coalesced, about 14,000 values each
  await Promise.all(Array.from({ length: 25 }, () => c.get(small)));
  const batches = host.received.filter((r) => r.op === 'batch');
  assert.ok(batches.length >= 3, `${batches.length} batches`);
  for (const b of batches) {
    const values = b.requests.reduce((n, r) => n + batchValues(r), 0);
    assert.ok(values <= 160000, `a batch of ${b.requests.length} holds ${values} values`);
  }
  assert.equal(batches.reduce((n, b) => n + b.requests.length, 0), 25);
  host.received.length = 0;
  await Promise.all([c.get('a'), c.get(keys), c.get('b')]);
  assert.deepEqual(frames(host), ['get', 'get', 'get'], 'a request over 64 KiB goes alone, in its place');
});

test('a chunked batch reply is reassembled and shared out', async () => {
  const host = new FakeHost({ ops: ['batch'], chunkSize: 100 });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  const big = 'é'.repeat(3000);
  await c.set({ big });
  const [a, b, k] = await Promise.all([c.get('big'), c.get(['big', 'none']), c.getKeys()]);
  assert.deepEqual(a, { big });
  assert.deepEqual(b, { big });
  assert.deepEqual(k, ['big']);
  assert.deepEqual(frames(host), ['set', 'batch:3']);
});

test('a port that drops mid-batch: each request is retried once, then rejected as before', async () => {
  const host = new FakeHost({ ops: ['batch'] });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  host.hold = true;
  const w = [c.set({ a: 1 }), c.set({ b: 2 }), c.get('a')];
  await tick();
  host.held = [];
  host.drop();
  await tick();
  assert.deepEqual(frames(host), ['batch:3', 'batch:3'], 'retried together on the new port');
  host.hold = false;
  host.release();
  assert.deepEqual(await w[2], { a: 1 });
  await Promise.all(w);

  host.hold = true;
  const v = [c.set({ c: 3 }), c.remove('c')];
  await tick();
  host.held = [];
  host.drop();
  await tick();
  host.held = [];
  host.drop();
  const errs = await Promise.allSettled(v);
  assert.deepEqual(errs.map((r) => r.status === 'rejected' && r.reason.code), ['E_DISCONNECTED', 'E_DISCONNECTED']);
  assert.match(/** @type {any} */ (errs[1]).reason.message, /disconnected twice while "remove" was in flight/);
});

test('disconnect() rejects the requests in a batch and those still queued', async () => {
  const host = new FakeHost({ ops: ['batch'] });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  host.hold = true;
  const sent = [c.set({ a: 1 }), c.get('a')];
  await tick();
  const queued = [c.set({ b: 1 }), c.get('b')];
  c.disconnect();
  for (const p of [...sent, ...queued]) await assert.rejects(p, { code: 'E_DISCONNECTED' });
  assert.deepEqual(frames(host), ['batch:2'], 'nothing queued was sent after disconnect()');
});

test('a batch refused as a whole, or an id-null reply to it, rejects each request with the host\'s error', async () => {
  const host = new FakeHost({ ops: ['batch'] });
  const c = wiring(NmstoreClient, host);
  await c.ready();
  host.tamper = (req, reply) => (req.op === 'batch' ? { id: null, ok: false, error: { code: 'E_JSON', message: 'the frame is not valid JSON' } } : reply);
  const r = await Promise.allSettled([c.set({ a: 1 }), c.get('a')]);
  assert.deepEqual(r.map((x) => x.status === 'rejected' && [x.reason.code, x.reason.message]),
    [['E_JSON', 'nmstore set: the frame is not valid JSON'], ['E_JSON', 'nmstore get: the frame is not valid JSON']]);
  host.tamper = (req, reply) => (req.op === 'batch' ? { ...reply, replies: reply.replies.slice(1) } : reply);
  const s = await Promise.allSettled([c.get('a'), c.get('b')]);
  assert.equal(s[0].status, 'fulfilled', 'a request whose reply is there gets it');
  assert.equal(s[1].status === 'rejected' && s[1].reason.code, 'E_INTERNAL');
});

test('the fallback over chrome.storage.local is not coalesced and works as before', async () => {
  const host = new FakeHost({ notFound: true, ops: ['batch'] });
  const area = new FakeArea();
  const c = wiring(NmstoreClient, host, area);
  const r = await Promise.all([c.set({ a: 1 }), c.get('a'), c.getKeys(), c.request('sessionRestore').catch((e) => e.code)]);
  assert.deepEqual(r, [undefined, { a: 1 }, ['a'], 'E_HOST_NOT_FOUND']);
  assert.equal(c.mode, 'fallback');
});

test('NativeSessionStore\'s per-key reads in one task share one frame, unchanged', async () => {
  const host = new FakeHost({ ops: ['batch'] });
  const s = new NativeSessionStore(wiring(NmstoreClient, host));
  await s.ready();
  await Promise.all([s.set('a', new Uint8Array([1])), s.set('b', new Uint8Array([2]))]);
  host.received.length = 0;
  const [a, b, m, j] = await Promise.all([s.get('a'), s.get('b'), s.getMulti(['a', 'b', 'c']), s.getJson('c')]);
  assert.deepEqual([...(a ?? [])], [1]);
  assert.deepEqual([...(b ?? [])], [2]);
  assert.deepEqual([...m.keys()], ['a', 'b']);
  assert.equal(j, null);
  assert.deepEqual(frames(host), ['batch:4']);
});

test('jsonBytesAtMost bounds the UTF-8 length of JSON.stringify, and stops at the limit', () => {
  let seed = 11;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const chars = ['a', '"', '\\', '\n', '\u0001', 'é', '€', '\ud83d\ude00', '\ud800', '\udc00', '\u2028'];
  const value = (d) => {
    switch (d > 3 ? rnd(4) : rnd(7)) {
      case 0: { let s = ''; for (let n = rnd(12); n > 0; n--) s += chars[rnd(chars.length)]; return s; }
      case 1: return [0, -0, 1e21, -1.7976931348623157e+308, 5e-324, 0.1 + 0.2, NaN][rnd(7)];
      case 2: return [true, false, null][rnd(3)];
      case 3: return undefined;
      case 4: { const a = []; for (let n = rnd(5); n > 0; n--) a.push(value(d + 1)); return a; }
      default: { const o = {}; for (let n = rnd(5); n > 0; n--) o[String(value(4))] = value(d + 1); return o; }
    }
  };
  for (let i = 0; i < 5000; i++) {
    const v = { op: 'set', items: value(0) };
    const actual = Buffer.byteLength(JSON.stringify(v));
    const limit = rnd(2) ? 1 << 20 : rnd(200);
    const bound = jsonBytesAtMost(v, limit);
    if (actual > limit) assert.equal(bound, Infinity, JSON.stringify(v));
    else assert.ok(bound === Infinity || bound >= actual, `${bound} < ${actual}: ${JSON.stringify(v)}`);
  }
  assert.equal(jsonBytesAtMost({ d: new Date(0) }, 1000), Infinity, 'a toJSON method: sent alone');
  assert.equal(jsonBytesAtMost({ n: 1n }, 1000), Infinity, 'a BigInt: sent alone, where it is refused');
  const cyc = { a: {} }; cyc.a = cyc;
  assert.equal(jsonBytesAtMost(cyc, 1 << 20), Infinity, 'a cycle ends at the depth limit');
});
