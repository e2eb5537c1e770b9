// SPDX-License-Identifier: MIT
// unlock.test.js: the status page's unlock form for an origin encrypted
// with a passphrase. The items are written and the origin encrypted with
// the real command line; the page then shows it locked, refuses a wrong
// passphrase, and opens with the right one.
//
// Unlocking is per host process: each port the extension opens starts a
// host of its own, and only the process that was sent the passphrase holds
// the key. The status page has its own NmstoreClient (options.js), so its
// unlock also sends the passphrase to the service worker, whose host the
// extension's background work (the torrent engine) uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeProfile, installHost, launch, openStatusPage, cleanup, EXTENSION_ID, HOST_BIN } from './harness.js';

const ORIGIN = `chrome-extension://${EXTENSION_ID}/`;
const PASSPHRASE = 'correct horse battery staple';

/**
 * Runs the command line on the profile's data root, as a person would.
 * @param {{home: string}} profile
 * @param {string[]} args
 * @param {string} input  its stdin
 */
function cli(profile, args, input) {
  const r = spawnSync(HOST_BIN, args, { input, env: { ...process.env, NMSTORE_HOME: profile.home } });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/**
 * The code a read of every item rejects with, or 'resolved'. It runs in the
 * page and in the worker, so it is sent there as source text.
 */
const readCode = (/** @type {any} */ client) =>
  client.get(null).then(() => 'resolved', (/** @type {any} */ e) => e.code ?? `no code: ${e.message}`);

test('the status page unlocks a passphrase origin; a wrong passphrase is refused', { timeout: 120000 }, async (t) => {
  const profile = makeProfile('unlock');
  t.after(() => cleanup(profile));
  installHost(profile);

  // Argon2id at its floor, so that each unlock takes milliseconds. The
  // envelope records the limits it was made with, so the browser's hosts
  // use them too.
  writeFileSync(join(profile.home, 'nmstore.conf'), '[crypto]\npwhash_opslimit = 1\npwhash_memlimit = 8192\n');

  const items = {
    'session:torrents': { version: 2, torrents: [] },
    'settings:theme': 'dark',
    'numbers': [1, 2.5, null, { nested: true }],
  };
  for (const [key, value] of Object.entries(items)) {
    const r = cli(profile, ['set', '--origin', ORIGIN, key], JSON.stringify(value));
    assert.equal(r.status, 0, `nmstore set ${key}: ${r.stderr}`);
  }
  const enc = cli(profile, ['encrypt', '--origin', ORIGIN, '--passphrase', '--passphrase-fd', '0'], `${PASSPHRASE}\n`);
  assert.equal(enc.status, 0, `nmstore encrypt: ${enc.stderr}`);
  // The command line itself now needs the passphrase, and it opens the items.
  assert.notEqual(cli(profile, ['get', '--origin', ORIGIN], '').status, 0);
  const opened = cli(profile, ['get', '--origin', ORIGIN, '--passphrase-fd', '0'], `${PASSPHRASE}\n`);
  assert.equal(opened.status, 0, `nmstore get: ${opened.stderr}`);
  assert.deepEqual(JSON.parse(opened.stdout), items);

  const { context, worker } = await launch(profile);
  const page = await openStatusPage(context);
  /** @param {string} sel */
  const text = async (sel) => (await page.textContent(sel))?.trim();
  const pageRead = () => page.evaluate(`(${readCode})(globalThis.nmstorePage.client)`);
  const workerRead = () => worker.evaluate(`(${readCode})(globalThis.nmstore.client)`);
  // After a submit the page either shows why the unlock failed, or renders
  // the connection again: refresh() always sets #encryption's text, which
  // puts a new text node there even when the words stay the same.
  const submit = async (/** @type {string} */ passphrase) => {
    await page.evaluate(() => { /** @type {any} */ (globalThis).encryptionNode = document.getElementById('encryption')?.firstChild; });
    await page.fill('#passphrase', passphrase);
    await page.click('#unlock button[type=submit]');
    await page.waitForFunction(() => (document.getElementById('unlock-error')?.textContent ?? '') !== ''
      || document.getElementById('encryption')?.firstChild !== /** @type {any} */ (globalThis).encryptionNode);
  };

  // Locked: said in words and in the badge, the form is shown, and no data
  // is read through either client.
  assert.equal(await text('#encryption'), 'Encrypted, locked');
  assert.equal(await text('#badge'), 'Locked');
  assert.equal(await page.isVisible('#unlock'), true);
  assert.equal(await text('#bytes'), '—');
  assert.equal(await text('#no-torrents'), 'Unlock the store to see its torrents.');
  assert.equal(await text('#unlock-error'), '');
  const hello = await page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.client.ready().then((/** @type {any} */ c) => c.hello));
  assert.equal(hello.encrypted, true);
  assert.equal(hello.locked, true);
  assert.equal(await pageRead(), 'E_LOCKED');
  assert.equal(await workerRead(), 'E_LOCKED');

  // A wrong passphrase: the reason under the form, and still locked.
  await submit('not the passphrase');
  assert.equal(await text('#unlock-error'), 'Wrong passphrase.');
  assert.equal(await page.inputValue('#passphrase'), '', 'the typed passphrase is not left in the field');
  assert.equal(await text('#encryption'), 'Encrypted, locked');
  assert.equal(await page.isVisible('#unlock'), true);
  assert.equal(await pageRead(), 'E_LOCKED');

  // The right passphrase: the page says unlocked, hides the form, and its
  // client reads the items the command line wrote.
  await submit(PASSPHRASE);
  // Unlocked, refresh() goes on to read the bytes and the torrents, and
  // marks the end in nmstorePage.rendered; locked, it has already stopped.
  await page.waitForFunction(() => /** @type {any} */ (globalThis).nmstorePage.rendered !== null
    || document.getElementById('encryption')?.textContent !== 'Encrypted, unlocked');
  assert.equal(await text('#unlock-error'), '');
  assert.equal(await text('#encryption'), 'Encrypted, unlocked');
  assert.equal(await text('#badge'), 'Connected');
  assert.equal(await page.isVisible('#unlock'), false);
  assert.notEqual(await text('#bytes'), '—');
  assert.equal(await text('#no-torrents'), 'No torrents are stored in this session.');
  assert.equal(await page.inputValue('#passphrase'), '');
  assert.deepEqual(await page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.client.get(null)), items);

  // The service worker's host is another process; the page sent it the
  // passphrase too, so background work reads the same items.
  assert.deepEqual(await worker.evaluate(() => /** @type {any} */ (globalThis).nmstore.client.get(null)), items);

  // Locking again: the status page has no lock control (options.html has
  // only the unlock form), so the page offers nothing to test here.
});
