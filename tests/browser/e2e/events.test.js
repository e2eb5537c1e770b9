// SPDX-License-Identifier: MIT
// events.test.js: browser scenario 5. A write in the service worker reaches an
// onChanged listener on the options page, across two host processes. It needs
// the host's subscribe op; on a host without it the test says so and skips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeProfile, installHost, launch, openStatusPage, hostPids, cleanup } from './harness.js';

test('a write from the service worker reaches the options page\'s onChanged listener', { timeout: 120000 }, async (t) => {
  const profile = makeProfile('events');
  t.after(() => cleanup(profile));
  installHost(profile);
  const { context, worker } = await launch(profile);

  const page = await openStatusPage(context);
  const subscribed = await page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.client.onChanged.whenSubscribed());
  if (!subscribed) {
    const reason = await page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.client.eventsUnavailableReason);
    assert.match(reason, /no change events/, 'the only acceptable reason to skip is a host without subscribe');
    t.skip(`SKIPPED: the host answered subscribe with E_UNKNOWN_OP (${reason}); this test must pass once the change-events issue lands`);
    return;
  }
  await worker.evaluate(() => /** @type {any} */ (globalThis).nmstore.client.ready());
  assert.equal(hostPids(profile).length, 2, 'the page and the service worker each have their own host process');

  const value = { from: 'service worker', at: Date.now() };
  await worker.evaluate((v) => /** @type {any} */ (globalThis).nmstore.client.set({ 'events:probe': v }), value);
  await page.waitForFunction(() => /** @type {any} */ (globalThis).nmstorePage.events.some((/** @type {any} */ e) => 'events:probe' in e.changes), null, { timeout: 30000 });
  const ev = await page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.events.find((/** @type {any} */ e) => 'events:probe' in e.changes));
  assert.deepEqual(ev.changes['events:probe'], { newValue: value });
  assert.match(await page.textContent('#events') ?? '', /events:probe/);
});
