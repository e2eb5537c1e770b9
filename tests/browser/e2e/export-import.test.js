// SPDX-License-Identifier: MIT
// export-import.test.js: the status page's backup buttons. Export downloads
// every item as JSON; importing that file into an emptied store brings back
// the same items.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeProfile, installHost, launch, openStatusPage, cleanup } from './harness.js';

test('export to a file, clear, import the file: the same items', { timeout: 120000 }, async (t) => {
  const profile = makeProfile('backup');
  t.after(() => cleanup(profile));
  installHost(profile);
  const { context, worker } = await launch(profile);
  // Read back through the service worker's own client (its own host
  // process): today the command line prints non-ASCII text as "?".
  const stored = () => worker.evaluate(() => /** @type {any} */ (globalThis).nmstore.client.get(null));
  const items = {
    'session:torrents': { version: 2, torrents: [] },
    'session:torrent:x:torrentfile': { $bytes: Buffer.from('d4:infod4:name1:xee').toString('base64') },
    'settings:theme': 'dark',
    'unicode ✓': [1, 2.5, null, { nested: true }],
  };
  await worker.evaluate((v) => /** @type {any} */ (globalThis).nmstore.client.set(v), items);

  const page = await openStatusPage(context);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const file = join(profile.root, 'export.json');
  await download.saveAs(file);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), items);
  assert.match(await page.textContent('#backup-result') ?? '', /Exported 4 items/);

  await worker.evaluate(() => /** @type {any} */ (globalThis).nmstore.client.clear());
  assert.deepEqual(await stored(), {});
  await page.setInputFiles('#import-file', file);
  await page.waitForFunction(() => /Imported/.test(document.getElementById('backup-result')?.textContent ?? ''));
  assert.deepEqual(await stored(), items);

  // A file that is not an object of items is refused with a reason, and nothing is written.
  await page.setInputFiles('#import-file', { name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from('[1,2]') });
  await page.waitForFunction(() => /must hold one JSON object/.test(document.getElementById('backup-result')?.textContent ?? ''));
  assert.deepEqual(await stored(), items);
});
