// SPDX-License-Identifier: MIT
// firefox-port.test.js: NmstoreClient against a port that closes the way
// Firefox closes one: the reason on port.error, runtime.lastError empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NmstoreClient } from '../../../extension/lib/nmstore-client.js';
import { FakeHost, FakeArea, wiring } from './fake.js';

/** FakeHost whose ports report why they closed as Firefox does. */
class FirefoxHost extends FakeHost {
  connect(name) {
    const port = super.connect(name);
    port.error = null;
    return port;
  }

  drop(port = this.ports[this.ports.length - 1], why = 'An unexpected error occurred') {
    if (!port.alive) return;
    port.alive = false;
    // Firefox's message for a missing manifest names the host.
    port.error = { message: why.startsWith('Specified native messaging host not found')
      ? 'No such native application org.nmstore.host' : why };
    for (const fn of port.discListeners) fn();
  }
}

test('Firefox, host not installed: falls back to storage.local', async () => {
  const host = new FirefoxHost({ notFound: true });
  const area = new FakeArea();
  const c = wiring(NmstoreClient, host, area);
  const conn = await c.ready();
  assert.equal(host.lastError, undefined, 'the reason was only on port.error');
  assert.equal(conn.mode, 'fallback');
  assert.match(conn.reason, /not installed/);
  await c.set({ k: 1 });
  assert.deepEqual(area.data.get('k'), 1);
});

test('Firefox, host not installed and no fallback: E_HOST_NOT_FOUND with the install steps', async () => {
  const host = new FirefoxHost({ notFound: true });
  const c = wiring(NmstoreClient, host, null);
  await assert.rejects(c.get(null), (e) => e.code === 'E_HOST_NOT_FOUND' && /nmstore install/.test(e.message));
});

test('Firefox, host ends before hello: the error carries Firefox\'s reason', async () => {
  const host = new FirefoxHost();
  const c = new NmstoreClient({
    connect: (name) => {
      const p = host.connect(name);
      p.postMessage = () => queueMicrotask(() => host.drop(p, 'the host went away (from port.error)'));
      return p;
    },
    lastError: () => undefined, fallback: null,
  });
  await assert.rejects(c.ready(), (e) => e.code === 'E_HOST_UNREACHABLE' && /from port\.error/.test(e.message));
});
