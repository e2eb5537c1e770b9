// SPDX-License-Identifier: MIT
// host-errors.test.js: every native-messaging message of Chromium and
// Firefox maps to its own sentence and the command that fixes it, with this
// extension's id; and the client's rejections carry that code and problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyHostError, describeHostError, installCommand } from '../../../extension/lib/host-errors.js';
import { NmstoreClient, memoryReachedStore } from '../../../extension/lib/nmstore-client.js';
import { FakeHost, FakeArea } from './fake.js';

const CHROME = { id: 'hfjlljhbgdcnhkaehjemmbcjndfgaeea', browser: /** @type {const} */ ('chromium') };
const FIREFOX = { id: 'companion@nmstore.org', browser: /** @type {const} */ ('firefox') };

/** Each browser's words, as the browsers write them, and what they mean. */
const CASES = [
  { browser: CHROME, message: 'Specified native messaging host not found.', kind: 'not-found', code: 'E_HOST_NOT_FOUND',
    sentence: /finds no nmstore host manifest/, command: `nmstore install --extension-id ${CHROME.id}` },
  { browser: FIREFOX, message: 'No such native application org.nmstore.host', kind: 'not-found', code: 'E_HOST_NOT_FOUND',
    sentence: /does not list this add-on/, command: `nmstore install --firefox-id ${FIREFOX.id}` },
  { browser: CHROME, message: 'Access to the specified native messaging host is forbidden.', kind: 'forbidden', code: 'E_HOST_FORBIDDEN',
    sentence: new RegExp(`does not list this extension \\(${CHROME.id}\\)`), command: `nmstore install --extension-id ${CHROME.id}` },
  { browser: FIREFOX, message: 'This extension does not have permission to use native application org.nmstore.host',
    kind: 'forbidden', code: 'E_HOST_FORBIDDEN', sentence: /Firefox refuses to start it/, command: `nmstore install --firefox-id ${FIREFOX.id}` },
  { browser: CHROME, message: 'Native host has exited.', kind: 'exited', code: 'E_HOST_EXITED',
    sentence: /ended before it answered/, command: 'nmstore doctor' },
  // Firefox gives no error at all when the host ends; the client then says this.
  { browser: FIREFOX, message: 'the host closed the connection', kind: 'exited', code: 'E_HOST_EXITED',
    sentence: /ended before it answered/, command: 'nmstore doctor' },
  { browser: CHROME, message: 'Error when communicating with the native messaging host.', kind: 'communication', code: 'E_HOST_PROTOCOL',
    sentence: /wrapper script that prints text/, command: 'nmstore doctor' },
  { browser: FIREFOX, message: 'Native application tried to send a message of 1752462689 bytes, which exceeds the limit of 1048576 bytes.',
    kind: 'communication', code: 'E_HOST_PROTOCOL', sentence: /wrapper script that prints text/, command: 'nmstore doctor' },
  { browser: CHROME, message: 'Invalid native messaging host name specified.', kind: 'other', code: 'E_HOST_UNREACHABLE',
    sentence: /could not be reached: Invalid native messaging host name specified\./, command: 'nmstore doctor' },
  // Firefox's only words for a manifest whose program is missing.
  { browser: FIREFOX, message: 'An unexpected error occurred', kind: 'other', code: 'E_HOST_UNREACHABLE',
    sentence: /Firefox could not start the program the nmstore host manifest names/, command: 'nmstore doctor' },
  { browser: CHROME, message: 'An unexpected error occurred', kind: 'other', code: 'E_HOST_UNREACHABLE',
    sentence: /could not be reached: An unexpected error occurred/, command: 'nmstore doctor' },
];

test('each browser message: its case, code, sentence and fix with this extension\'s id', () => {
  for (const c of CASES) {
    assert.equal(classifyHostError(c.message), c.kind, c.message);
    const p = describeHostError(c.message, c.browser);
    assert.equal(p.kind, c.kind, c.message);
    assert.equal(p.code, c.code, c.message);
    assert.match(p.sentence, c.sentence, c.message);
    assert.equal(p.command, c.command, c.message);
    assert.equal(p.broken, false);
    assert.equal(p.browserMessage, c.message);
    assert.ok(p.fixText.length > 0 && p.title.length > 0, c.message);
  }
  // Each case reads differently: no two kinds share a sentence.
  const sentences = new Map();
  for (const c of CASES) {
    const s = describeHostError(c.message, CHROME).sentence;
    if (c.kind !== 'other') sentences.set(c.kind, (sentences.get(c.kind) ?? new Set()).add(s));
  }
  const all = [...sentences.values()].flatMap((set) => [...set]);
  assert.equal(all.length, 4, 'one sentence a kind, whichever message of either browser');
  assert.equal(new Set(all).size, 4, 'and the four kinds read differently');
});

test('a host reached before is "installed but broken", never "not installed", whatever the browser says', () => {
  for (const c of CASES) {
    const p = describeHostError(c.message, c.browser, { broken: true });
    assert.equal(p.code, 'E_HOST_BROKEN', c.message);
    assert.equal(p.title, 'nmstore is installed but broken');
    assert.doesNotMatch(`${p.title} ${p.sentence}`, /not installed/i, c.message);
    assert.equal(p.command, 'nmstore doctor');
    assert.ok(p.sentence.includes(c.message), 'the browser\'s words are kept');
    assert.ok(p.fixText.includes(installCommand(c.browser)), 'the repair names the install command with the id');
  }
});

test('no id known (outside an extension): the plain install command', () => {
  assert.equal(installCommand({ id: '', browser: 'chromium' }), 'nmstore install');
});

/** A client on the fake host whose hello the browser refuses with `message`. */
function refusing(/** @type {string} */ message, /** @type {any} */ options = {}) {
  const host = new FakeHost();
  const client = new NmstoreClient({
    connect: (name) => {
      const p = host.connect(name);
      p.postMessage = () => queueMicrotask(() => host.drop(p, message));
      return p;
    },
    lastError: () => host.lastError,
    fallback: options.fallback ?? null,
    reachedStore: options.reachedStore ?? memoryReachedStore(),
    extension: CHROME,
  });
  return client;
}

test('the client rejects with the mapping\'s code, and its message holds the sentence and the fix', async () => {
  for (const c of CASES.filter((x) => x.browser === CHROME)) {
    const client = refusing(c.message);
    await assert.rejects(client.ready(), (/** @type {any} */ e) => {
      assert.equal(e.code, c.code, c.message);
      assert.equal(e.problem?.kind, c.kind);
      assert.match(e.message, c.sentence);
      assert.ok(e.message.includes(c.command), `${c.message}: the message names ${c.command}`);
      return true;
    });
  }
});

test('not found with a fallback: the fallback, with the problem for the page', async () => {
  const client = new NmstoreClient({
    connect: (name) => new FakeHost({ notFound: true }).connect(name),
    lastError: () => 'Specified native messaging host not found.',
    fallback: new FakeArea(), reachedStore: memoryReachedStore(), extension: CHROME,
  });
  const conn = await client.ready();
  assert.equal(conn.mode, 'fallback');
  assert.equal(conn.problem?.code, 'E_HOST_NOT_FOUND');
  assert.equal(conn.problem?.command, `nmstore install --extension-id ${CHROME.id}`);
});

test('reached before, then forbidden: E_HOST_BROKEN with the doctor fix', async () => {
  const reachedStore = memoryReachedStore();
  await reachedStore.set('org.nmstore.host', true);
  const client = refusing('Access to the specified native messaging host is forbidden.', { reachedStore, fallback: new FakeArea() });
  await assert.rejects(client.ready(), (/** @type {any} */ e) => e.code === 'E_HOST_BROKEN'
    && e.problem.command === 'nmstore doctor' && /installed but broken|worked in this browser profile before/.test(e.message));
});

test('reconnect() after a failure connects, and starts the events again', async () => {
  const host = new FakeHost({ ops: ['subscribe'] });
  host.notFound = true;
  const client = new NmstoreClient({
    connect: (name) => host.connect(name), lastError: () => host.lastError,
    fallback: null, reachedStore: memoryReachedStore(), extension: CHROME,
  });
  client.onChanged.addListener(() => {});
  assert.equal(await client.onChanged.whenSubscribed(), false);
  host.notFound = false;
  const conn = await client.reconnect();
  assert.equal(conn.mode, 'native');
  assert.equal(await client.onChanged.whenSubscribed(), true, 'subscribed after the reconnect');
});
