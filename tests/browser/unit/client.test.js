// SPDX-License-Identifier: MIT
// client.test.js: NmstoreClient against a fake port: the storage ops,
// pipelining, chunks, errors, reconnection, events and the fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NmstoreClient, NmstoreError, toChromeValue, mergeDefaults, memoryReachedStore, compareUtf8 } from '../../../extension/lib/nmstore-client.js';
import { FakeHost, FakeArea, wiring } from './fake.js';

test('the chrome.storage.local shape works against the host', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await c.set({ a: 1, b: { x: [1, 2] }, 'p:1': 'one' });
  assert.deepEqual(await c.get('a'), { a: 1 });
  assert.deepEqual(await c.get(['a', 'missing']), { a: 1 });
  assert.deepEqual(await c.get({ a: 0, z: 'default' }), { a: 1, z: 'default' });
  assert.deepEqual(await c.getByPrefix('p:'), { 'p:1': 'one' });
  assert.deepEqual(await c.getKeys(), ['a', 'b', 'p:1']);
  assert.deepEqual(await c.getKeys('p:'), ['p:1']);
  assert.ok((await c.getBytesInUse()) > 0);
  await c.remove('a');
  await c.clear('p:');
  assert.deepEqual(await c.get(null), { b: { x: [1, 2] } });
  await c.flush();
  const conn = await c.ready();
  assert.equal(conn.mode, 'native');
  assert.equal(conn.hello.name, 'org.nmstore.host');
});

test('requests are pipelined with distinct ids and answered by id', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await c.ready();
  host.hold = true;
  const writes = [];
  for (let i = 0; i < 20; i++) writes.push(c.set({ [`k${i}`]: i }));
  await new Promise((r) => setTimeout(r, 0));
  const sent = host.received.filter((r) => r.op === 'set');
  assert.equal(sent.length, 20, 'all 20 requests are on the wire before any reply');
  assert.equal(new Set(sent.map((r) => r.id)).size, 20, 'every request has its own id');
  // Answer them out of order: each promise must still get its own reply.
  host.held.reverse();
  host.hold = false;
  host.release();
  await Promise.all(writes);
  assert.equal((await c.getKeys()).length, 20);
});

test('a chunked reply is reassembled', async () => {
  const host = new FakeHost({ chunkSize: 50 });
  const c = wiring(NmstoreClient, host);
  const big = 'é'.repeat(500);
  await c.set({ big });
  assert.deepEqual(await c.get('big'), { big });
});

test('host errors become NmstoreErrors with the code', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await assert.rejects(c.set({ '': 1 }), (e) => {
    assert.ok(e instanceof NmstoreError);
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'E_KEY');
    assert.match(e.message, /nmstore set: a key must not be empty/);
    return true;
  });
  await assert.rejects(c.request('noSuchOp'), { code: 'E_UNKNOWN_OP' });
});

test('a dropped port: requests in flight are retried once on a new port', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await c.ready();
  host.hold = true;
  const w = [c.set({ a: 1 }), c.set({ b: 2 }), c.get('a')];
  await new Promise((r) => setTimeout(r, 0));
  host.hold = false;
  host.held = [];               // the host died before answering
  host.drop();
  await Promise.all(w);
  assert.equal(host.ports.length, 2, 'the client reconnected');
  assert.deepEqual(await c.get(null), { a: 1, b: 2 });
  // Requests after the reconnect use the new port.
  await c.set({ c: 3 });
  assert.equal(host.items.get('c'), 3);
});

test('a request that loses its port twice is rejected with a clear error', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await c.ready();
  host.hold = true;
  const w = c.set({ a: 1 });
  await new Promise((r) => setTimeout(r, 0));
  host.held = [];
  host.drop();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(host.held.length, 1, 'retried once on the new port');
  host.held = [];
  host.drop();
  await assert.rejects(w, (e) => {
    assert.equal(e.code, 'E_DISCONNECTED');
    assert.match(e.message, /disconnected twice while "set" was in flight/);
    return true;
  });
});

test('host not installed: the fallback area is used with the same keys', async () => {
  const host = new FakeHost({ notFound: true });
  const area = new FakeArea();
  const c = wiring(NmstoreClient, host, area);
  const conn = await c.ready();
  assert.equal(conn.mode, 'fallback');
  assert.match(conn.reason, /not installed/);
  await c.set({ 'session:x': { $bytes: 'AAE=' }, y: 2 });
  assert.deepEqual(area.data.get('session:x'), { $bytes: 'AAE=' });
  assert.deepEqual(await c.getByPrefix('session:'), { 'session:x': { $bytes: 'AAE=' } });
  assert.deepEqual(await c.getKeys(), ['session:x', 'y']);
  await c.clear('session:');
  assert.deepEqual(await c.get(null), { y: 2 });
  await assert.rejects(c.request('sessionRestore'), { code: 'E_HOST_NOT_FOUND' });
});

test('host not installed and no fallback: a clear E_HOST_NOT_FOUND', async () => {
  const host = new FakeHost({ notFound: true });
  const c = wiring(NmstoreClient, host, null);
  await assert.rejects(c.get(null), (e) => e.code === 'E_HOST_NOT_FOUND' && /nmstore install/.test(e.message));
});

test('onChanged: subscribes with the first listener, delivers whole and chunked events', async () => {
  const host = new FakeHost({ ops: ['subscribe'], chunkSize: 200 });
  const c = wiring(NmstoreClient, host);
  const seen = [];
  c.onChanged.addListener((changes, area) => seen.push([changes, area]));
  assert.equal(await c.onChanged.whenSubscribed(), true);
  await c.set({ k: 'v' });
  const big = 'x'.repeat(1000);
  await c.set({ big });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen[0], [{ k: { newValue: 'v' } }, 'local']);
  assert.deepEqual(seen[1], [{ big: { newValue: big } }, 'local']);
  assert.equal(host.received.filter((r) => r.op === 'subscribe').length, 1);
});

test('onChanged: re-subscribes after a reconnect and tells listeners to re-read', async () => {
  const host = new FakeHost({ ops: ['subscribe'] });
  const c = wiring(NmstoreClient, host);
  const seen = [];
  c.onChanged.addListener((changes, area, info) => seen.push(info.overflow));
  await c.onChanged.whenSubscribed();
  host.drop();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(await c.onChanged.whenSubscribed(), true);
  assert.equal(host.received.filter((r) => r.op === 'subscribe').length, 2);
  assert.deepEqual(seen, [true]);
  await c.set({ a: 1 });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen, [true, false]);
});

test('onChanged on a host without events: a reason, not a failure', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  c.onChanged.addListener(() => {});
  assert.equal(await c.onChanged.whenSubscribed(), false);
  assert.match(c.eventsUnavailableReason, /no change events; a newer host is needed/);
  await c.set({ a: 1 }); // the client still works
});

// ---- a client that always settles ----

/** p, or a rejection when it is still pending after ms: a hang is a failure. */
function settles(p, ms = 2000) {
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

test('a reply with id null rejects the oldest waiting request with the host\'s error', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await c.ready();
  // The host could not read the first of three pipelined requests.
  let first = true;
  host.tamper = (req, reply) => {
    if (req.op === 'set' && first) {
      first = false;
      return { id: null, ok: false, error: { code: 'E_JSON', message: 'the frame is not valid JSON' } };
    }
    return reply;
  };
  host.hold = true;
  const a = c.set({ a: 1 });
  const b = c.set({ b: 2 });
  const g = c.get('b');
  await new Promise((r) => setTimeout(r, 0));
  host.hold = false;
  host.release();
  await assert.rejects(settles(a), (e) => e instanceof NmstoreError && e.code === 'E_JSON' && /nmstore set: the frame is not valid JSON/.test(e.message));
  await settles(b);
  assert.deepEqual(await settles(g), { b: 2 });
  // An id-null reply with nothing waiting is ignored; an ok one never guesses.
  host.tamper = (req, reply) => (req.op === 'flush' ? { id: null, ok: true } : reply);
  const f = c.flush();
  const settled = await Promise.race([f.then(() => 'settled'), new Promise((r) => setTimeout(() => r('waiting'), 20))]);
  assert.equal(settled, 'waiting', 'an ok reply without an id is not matched to a request');
  c.disconnect();
  await assert.rejects(f, { code: 'E_DISCONNECTED' });
});

test('a message postMessage cannot send rejects at once with E_VALUE', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await c.ready();
  await assert.rejects(settles(c.request('set', { items: { a: 10n } })), (e) => {
    assert.equal(e.code, 'E_VALUE');
    assert.match(e.message, /nmstore set: the request cannot be sent to the host: .*BigInt/);
    return true;
  });
  // A port Chrome closed still waits for onDisconnect and is retried.
  host.ports[0].alive = false;
  const w = c.set({ x: 1 });
  await new Promise((r) => setTimeout(r, 0));
  host.ports[0].alive = true;
  host.drop(host.ports[0]);
  await settles(w);
  assert.equal(host.items.get('x'), 1);
});

test('set: an ArrayBuffer or typed array is refused as Chrome refuses it; TypeErrors come at once', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await c.ready();
  for (const bad of [new ArrayBuffer(2), new Uint8Array(2), { nested: [new DataView(new ArrayBuffer(1))] }]) {
    await assert.rejects(settles(c.set({ k: bad })), (e) => e instanceof NmstoreError && e.code === 'E_VALUE' && /Cannot serialize value to JSON/.test(e.message));
  }
  assert.equal(host.received.filter((r) => r.op === 'set').length, 0, 'nothing was sent');
  // Chrome refuses binary data only when it writes it: a later key that
  // becomes the same key (lone surrogates are U+FFFD) replaces it first.
  await settles(c.set({ '\ud800': new Uint8Array(1), '\udc00': 'kept' }));
  assert.equal(host.items.get('\ufffd'), 'kept');
  for (const bad of [null, undefined, 5, 'x', [1]]) {
    assert.throws(() => c.set(/** @type {any} */ (bad)), (e) => e instanceof TypeError && /storage\.set\(object items.*No matching signature/.test(e.message));
  }
  assert.throws(() => c.set({ get t() { throw new Error('x'); } }), /Error at parameter 'items': Script threw an error/);
  for (const bad of [5, true, Symbol('s')]) assert.throws(() => c.get(/** @type {any} */ (bad)), /No matching signature/);
  for (const bad of [['a', 1], ['a', undefined], ['a', , 'b']]) assert.throws(() => c.get(/** @type {any} */ (bad)), /Value did not match any choice/);
  for (const bad of [null, undefined, 5, new String('a')]) assert.throws(() => c.remove(/** @type {any} */ (bad)), /storage\.remove.*No matching signature/);
  assert.throws(() => c.getBytesInUse(/** @type {any} */ (5)), /storage\.getBytesInUse.*No matching signature/);
});

test('set and get(defaults) send what Chrome would store', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  const cyc = { a: 1 }; cyc.self = cyc;
  await c.set({ d: new Date(0), n: NaN, u: undefined, z: -0, cyc, s: 'a\ud800', 'k\udc00': 1, big: 1n });
  const sent = host.received.find((r) => r.op === 'set');
  assert.deepEqual(Object.keys(sent.items).sort(), ['cyc', 'd', 'k\ufffd', 's', 'z']);
  assert.deepEqual(sent.items, { d: {}, z: 0, cyc: { a: 1, self: null }, s: 'a\ufffd', 'k\ufffd': 1 });
  await c.get({ x: NaN, y: new Number(5), w: [undefined] });
  assert.deepEqual(host.received.find((r) => r.op === 'get').keys, { y: {}, w: [null] });
  // A key with a lone surrogate never matches in Chrome: it is not sent.
  await c.get(['\ud800', 'ok']);
  assert.deepEqual(host.received.filter((r) => r.op === 'get')[1].keys, ['ok']);
});

test('get(defaults) with an ArrayBuffer merges here, as Chrome does', async () => {
  const host = new FakeHost();
  const c = wiring(NmstoreClient, host);
  await c.set({ k: { a: { b: 1 } }, s: 'stored' });
  const r = await c.get({ k: { a: { c: new Uint8Array([1, 2]) }, z: 1 }, s: new ArrayBuffer(1), m: new Uint8Array([7]) });
  assert.deepEqual(Object.keys(r), ['k', 'm', 's']);
  assert.deepEqual(r.k.a.b, 1);
  assert.ok(r.k.a.c instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(r.k.a.c)], [1, 2]);
  assert.equal(r.k.z, 1);
  assert.equal(r.s, 'stored');
  assert.deepEqual([...new Uint8Array(r.m)], [7]);
  assert.deepEqual(host.received.filter((x) => x.op === 'get').at(-1).keys, ['k', 'm', 's']);
});

test('toChromeValue: the rules Chromium was seen to apply', () => {
  const ser = (v) => JSON.stringify(v, (k, x) => (Object.is(x, -0) ? '-0' : x));
  const shared = { s: 1 };
  const arrCyc = [1]; arrCyc.push(arrCyc);
  const sparse = [1, , 3]; sparse.length = 4;
  const deep = (n) => { let v = /** @type {any} */ ('leaf'); for (let i = 0; i < n; i++) v = { d: v }; return v; };
  const depth = (v) => { let n = 0; while (v && typeof v === 'object') { v = Array.isArray(v) ? v[0] : v.d; n++; } return `${n}:${v}`; };
  const nonEnum = { a: 1 }; Object.defineProperty(nonEnum, 'h', { value: 2 }); nonEnum[Symbol('s')] = 3;
  const np = Object.create(null); np.x = 1;
  const cases = [
    [new Date(0), '{}'], [{ a: 1, toJSON() { return 'J'; } }, '{"a":1}'], [new Number(5), '{}'], [new String('xy'), '{"0":"x","1":"y"}'],
    [new Boolean(true), '{}'], [new Map([[1, 2]]), '{}'], [new Set([1]), '{}'], [/x/g, '{}'], [new Error('e'), '{}'],
    [-0, '0'], [[-0], '[0]'], [{ n: NaN, i: Infinity, u: undefined, f() {}, s: Symbol('q'), b: 1n, ok: 1 }, '{"ok":1}'],
    [[NaN, -Infinity, undefined, () => 1, Symbol('q'), 1n, 2], '[null,null,null,null,null,null,2]'],
    [arrCyc, '[1,null]'], [{ a: shared, b: [shared, shared] }, '{"a":{"s":1},"b":[{"s":1},{"s":1}]}'],
    [sparse, '[1,null,3,null]'], [{ get g() { return 7; }, get t() { throw new Error('x'); } }, '{"g":7,"t":null}'],
    [nonEnum, '{"a":1}'], [np, '{"x":1}'], ['a\ud800b\udc00\ud83d\ude00', '"a\ufffdb\ufffd\ud83d\ude00"'],
    [{ '\ud800': 1, '\udc00': 2 }, '{"\ufffd":2}'], [2 ** 31, '2147483648'], [0.1 + 0.2, '0.30000000000000004'],
  ];
  for (const [i, [v, want]] of cases.entries()) assert.equal(ser(toChromeValue(v)), want, `case ${i}`);
  for (const v of [NaN, Infinity, undefined, () => 1, Symbol('x'), 10n]) assert.equal(toChromeValue(v), undefined);
  assert.equal(depth(toChromeValue(deep(99))), '99:leaf');
  assert.equal(depth(toChromeValue(deep(100))), '100:undefined', 'level 101 is dropped');
  const arr = toChromeValue(JSON.parse('['.repeat(100) + '"leaf"' + ']'.repeat(100)));
  assert.equal(depth(arr), '100:null', 'in an array, level 101 is null');
  const proto = toChromeValue(JSON.parse('{"__proto__": {"x": 1}}'));
  assert.deepEqual(Object.keys(proto), ['__proto__'], '"__proto__" stays an own member');
  assert.throws(() => toChromeValue(new Uint8Array(1)), { code: 'E_VALUE' });
  assert.ok(toChromeValue(new Uint8Array(1), { binary: 'keep' }) instanceof ArrayBuffer);
});

test('mergeDefaults: stored wins, objects merge at every depth, keys in UTF-8 order', () => {
  const r = mergeDefaults({ a: { x: 5, n: { p: 1 } }, s: 'str', arr: [1] },
    { s: { z: 1 }, a: { y: 2, x: 1, n: { q: 2 } }, arr: [7, 8], missing: { m: 1 } });
  assert.equal(JSON.stringify(r), '{"a":{"n":{"p":1,"q":2},"x":5,"y":2},"arr":[1],"missing":{"m":1},"s":"str"}');
  assert.equal(JSON.stringify(mergeDefaults({ k: null }, { k: { a: 1 } })), '{"k":null}');
  assert.equal(JSON.stringify(mergeDefaults({ k: { a: 1 } }, { k: null })), '{"k":{"a":1}}');
});

// ---- broken is not absent ----

test('a host this profile reached before and cannot reach now is E_HOST_BROKEN, not the fallback', async () => {
  const host = new FakeHost();
  const area = new FakeArea();
  const reachedStore = memoryReachedStore();
  const c = wiring(NmstoreClient, host, area, { reachedStore });
  assert.equal((await c.ready()).mode, 'native');
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(await reachedStore.get('org.nmstore.host'), true, 'the first hello is remembered');
  // The binary moved away: Chrome no longer finds the host.
  host.notFound = true;
  host.drop();
  await assert.rejects(c.set({ a: 1 }), (e) => {
    assert.equal(e.code, 'E_HOST_BROKEN');
    assert.match(e.message, /nmstore doctor/);
    assert.match(e.message, /nmstore install/);
    return true;
  });
  assert.equal(area.data.size, 0, 'nothing went to chrome.storage.local');
  // A new client in the same profile (a restarted service worker) knows too.
  const c2 = wiring(NmstoreClient, host, area, { reachedStore });
  await assert.rejects(c2.ready(), { code: 'E_HOST_BROKEN' });
  // A host that starts but exits before hello is broken as well.
  host.notFound = false;
  const c3 = new NmstoreClient({
    connect: (name) => { const p = host.connect(name); p.postMessage = () => queueMicrotask(() => host.drop(p, 'Native host has exited.')); return p; },
    lastError: () => host.lastError, fallback: area, reachedStore,
  });
  await assert.rejects(c3.ready(), (e) => e.code === 'E_HOST_BROKEN' && /Native host has exited/.test(e.message));
  // forgetHost() lets a person go back to chrome.storage.local on purpose.
  host.notFound = true;
  await c2.forgetHost();
  assert.equal((await c2.ready()).mode, 'fallback');
});

test('a host never reached from this profile still falls back', async () => {
  const host = new FakeHost({ notFound: true });
  const area = new FakeArea();
  const reachedStore = memoryReachedStore();
  const c = wiring(NmstoreClient, host, area, { reachedStore });
  assert.equal((await c.ready()).mode, 'fallback');
  assert.equal(await reachedStore.get('org.nmstore.host'), false);
});

test('compareUtf8 sorts as the UTF-8 bytes do, lone surrogates as U+FFFD', () => {
  const enc = new TextEncoder();
  const bytes = (a, b) => Buffer.compare(Buffer.from(enc.encode(a)), Buffer.from(enc.encode(b)));
  const pool = ['a', 'z', '\u0000', '\u007f', '\u00e9', '\u0800', '\ud7ff', '\ue000', '\ufffd', '\uffff', '\ud83d\ude00', '\udbff\udfff', '\ud800', '\udc00'];
  let seed = 7;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const word = () => { let s = ''; for (let n = rnd(5); n > 0; n--) s += pool[rnd(pool.length)]; return s; };
  for (let i = 0; i < 20000; i++) {
    const a = word(), b = word();
    assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(bytes(a, b)), JSON.stringify([a, b]));
  }
  const keys = Object.keys(toChromeValue({ '\uffff': 1, '\ud83d\ude00': 2, b: 3, a: 4, '\u00e9': 5 }));
  assert.deepEqual(keys, ['a', 'b', '\u00e9', '\uffff', '\ud83d\ude00'], 'members in the order of their UTF-8 bytes');
});
