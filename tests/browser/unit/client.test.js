// client.test.js: NmstoreClient against a fake port: the storage ops,
// pipelining, chunks, errors, reconnection, events and the fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NmstoreClient, NmstoreError } from '../../../extension/lib/nmstore-client.js';
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
