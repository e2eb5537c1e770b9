// SPDX-License-Identifier: MIT
// host-exit.test.js: browser scenario 4. The service worker's host is killed
// (SIGKILL) while writes are in flight; the client reconnects, retries, and
// every write it acknowledged is in the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeProfile, installHost, launch, hostPids, cliGet, cleanup } from './harness.js';

/** @param {() => Promise<boolean>} cond */
async function until(cond, what) {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test('a host killed in the middle of writes: reconnect, nothing lost', { timeout: 180000 }, async (t) => {
  const profile = makeProfile('exit');
  t.after(() => cleanup(profile));
  installHost(profile);
  const { context, worker } = await launch(profile);

  await worker.evaluate(async () => {
    const g = /** @type {any} */ (globalThis);
    const { client } = g.nmstore;
    await client.ready();
    g.run = { acked: 0, failed: /** @type {string[]} */ ([]), stop: false, sent: 0 };
    // Keep 32 writes in flight until told to stop.
    g.run.done = (async () => {
      const inFlight = new Set();
      while (!g.run.stop) {
        const i = g.run.sent++;
        const p = client.set({ [`w:${String(i).padStart(6, '0')}`]: { i, pad: 'x'.repeat(200) } })
          .then(() => { g.run.acked++; }, (/** @type {any} */ e) => { g.run.failed.push(`${i}: ${e.code} ${e.message}`); })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= 32) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    })();
  });

  await until(async () => (await worker.evaluate(() => /** @type {any} */ (globalThis).run.acked)) >= 200, '200 acknowledged writes');
  const victims = hostPids(profile);
  assert.equal(victims.length, 1, 'one host: the service worker\'s');
  process.kill(victims[0], 'SIGKILL');
  const ackedAtKill = await worker.evaluate(() => /** @type {any} */ (globalThis).run.acked);

  // Writing goes on through a new host process.
  await until(async () => (await worker.evaluate(() => /** @type {any} */ (globalThis).run.acked)) >= ackedAtKill + 300, '300 more acknowledged writes after the kill');
  const now = hostPids(profile);
  assert.equal(now.length, 1);
  assert.notEqual(now[0], victims[0], 'a new host process serves the port');

  const result = await worker.evaluate(async () => {
    const g = /** @type {any} */ (globalThis);
    g.run.stop = true;
    await g.run.done;
    const items = await g.nmstore.client.getByPrefix('w:');
    return { sent: g.run.sent, acked: g.run.acked, failed: g.run.failed, stored: Object.keys(items).length };
  });
  t.diagnostic(`sent ${result.sent}, acknowledged ${result.acked}, killed after ${ackedAtKill}`);
  assert.deepEqual(result.failed, [], 'no write was rejected: those in flight were retried');
  assert.equal(result.acked, result.sent);
  assert.equal(result.stored, result.sent, 'every acknowledged write is in the store');

  const onDisk = cliGet(profile, 'w:');
  assert.equal(Object.keys(onDisk).length, result.sent);
  for (let i = 0; i < result.sent; i++) {
    assert.equal(onDisk[`w:${String(i).padStart(6, '0')}`]?.i, i, `write ${i} on disk`);
  }
});
