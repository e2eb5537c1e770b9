// SPDX-License-Identifier: MIT
// events.test.js: change events in Firefox. A write from the background
// script (its own host process) and one from the command line both reach
// the status page's onChanged listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeProfile, installHost, launch, openStatusPage, cli, cleanup, within, waitFor, ADDON_ID } from './harness.js';

test('Firefox: writes from the background script and the CLI reach the page\'s onChanged', { timeout: 120000 }, async (t) => {
  const profile = makeProfile('events');
  t.after(() => cleanup(profile));
  installHost(profile);
  const browser = await launch(profile);
  const page = await openStatusPage(profile, browser);
  const subscribed = await within(page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.client.onChanged.whenSubscribed()),
    15000, 'the status page subscribing to change events');
  assert.equal(subscribed, true, 'the host accepted subscribe');

  /** The first event on the page that carries key. */
  const eventFor = (/** @type {string} */ key) => waitFor(() => page.evaluate((k) =>
    /** @type {any} */ (globalThis).nmstorePage.events.find((/** @type {any} */ e) => k in e.changes)?.changes[k], key),
  20000, `an onChanged event for ${key} on the status page`);

  const fromBg = { from: 'background script', at: Date.now() };
  await within(page.evaluate(async (v) => {
    const bg = /** @type {any} */ (await (/** @type {any} */ (globalThis).browser).runtime.getBackgroundPage());
    await bg.nmstore.client.set({ 'events:bg': v });
  }, fromBg), 15000, 'a write through the background script\'s client');
  assert.deepEqual(await eventFor('events:bg'), { newValue: fromBg });

  cli(profile, ['set', '--origin', ADDON_ID, 'events:cli', JSON.stringify({ from: 'cli' })]);
  assert.deepEqual(await eventFor('events:cli'), { newValue: { from: 'cli' } });
  assert.match(await within(page.evaluate(() => document.getElementById('events')?.textContent ?? ''), 10000, 'reading the page\'s event list'), /events:cli/);
});
