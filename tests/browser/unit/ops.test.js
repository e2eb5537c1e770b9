// SPDX-License-Identifier: MIT
// ops.test.js: the extension's list of ops against the host's. The host's
// dispatch tables are the one source: the freshly built host names every op
// it answers in its hello reply, and the client's two lists (the ops its
// fallback runs over chrome.storage.local, and those only the host can run)
// must name each of them exactly once. An op added on one side only fails
// here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FALLBACK_OPS, HOST_ONLY_OPS, NmstoreClient } from '../../../extension/lib/nmstore-client.js';
import { FakeArea } from './fake.js';

const TOP = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const NMSTORE = resolve(process.env.NMT_BUILD ?? join(TOP, 'build-dev'), 'nmstore');
const ORIGIN = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop/';

/** Sends one request to a real host over its pipes, as a browser frames it, and returns the reply. */
async function askHost(request) {
  if (!existsSync(NMSTORE)) throw new Error(`no ${NMSTORE}: build nmstore first, or set NMT_BUILD`);
  const home = mkdtempSync(join(tmpdir(), 'nmt-ops-'));
  try {
    const host = spawn(NMSTORE, ['host', '--origin', ORIGIN], {
      env: { ...process.env, NMSTORE_HOME: home }, stdio: ['pipe', 'pipe', 'inherit'],
    });
    const body = Buffer.from(JSON.stringify(request));
    const head = Buffer.alloc(4);
    if (endianness() === 'LE') head.writeUInt32LE(body.length); else head.writeUInt32BE(body.length);
    host.stdin.end(Buffer.concat([head, body]));
    const chunks = [];
    for await (const c of host.stdout) chunks.push(c);
    const out = Buffer.concat(chunks);
    assert.ok(out.length >= 4, 'the host sent no reply');
    const len = endianness() === 'LE' ? out.readUInt32LE(0) : out.readUInt32BE(0);
    return JSON.parse(out.subarray(4, 4 + len).toString());
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

test('every op the host answers is in exactly one of the client lists, and no other', async () => {
  const hello = await askHost({ id: 1, op: 'hello' });
  assert.equal(hello.ok, true);
  assert.ok(Array.isArray(hello.ops), 'hello names the ops the host answers');
  const both = FALLBACK_OPS.filter((op) => HOST_ONLY_OPS.includes(op));
  assert.deepEqual(both, [], 'an op is either run by the fallback or by the host only');
  const client = [...FALLBACK_OPS, ...HOST_ONLY_OPS].sort();
  assert.deepEqual(client, [...hello.ops].sort(),
    'extension/lib/nmstore-client.js (FALLBACK_OPS + HOST_ONLY_OPS) and the host\'s op tables ' +
    '(host/proto-*.c) must name the same ops');
});

test('without the host, the fallback runs its ops and refuses the others with E_HOST_NOT_FOUND', async () => {
  const c = new NmstoreClient({ connect: () => { throw new Error('unused'); }, fallback: new FakeArea({ a: 1 }) });
  for (const op of FALLBACK_OPS) {
    const params = op === 'set' ? { items: { b: 2 } } : op === 'remove' ? { keys: ['b'] } : {};
    assert.equal((await c._runFallback(op, params)).ok, true, op);
  }
  for (const op of HOST_ONLY_OPS) {
    await assert.rejects(c._runFallback(op, {}), (e) => e.code === 'E_HOST_NOT_FOUND', op);
  }
});
