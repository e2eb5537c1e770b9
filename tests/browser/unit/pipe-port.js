// SPDX-License-Identifier: MIT
// pipe-port.js: a chrome.runtime.Port over the pipes of a real nmstore host
// process, framed as the browser frames native messages (a native-order
// 32-bit length, then JSON), for unit tests that need the real host rather
// than fake.js. It counts the frames it sends, so that a test can see what
// reached the host.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { endianness } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const NMSTORE = resolve(process.env.NMT_BUILD ?? join(TOP, 'build-dev'), 'nmstore');
export const ORIGIN = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop/';
/** Chrome's limit on a message to a native host. */
const MAX_MESSAGE = 64 * 1024 * 1024;
const LE = endianness() === 'LE';

export class PipeHost {
  /**
   * @param {string} home  NMSTORE_HOME for the host processes
   */
  constructor(home) {
    if (!existsSync(NMSTORE)) throw new Error(`no ${NMSTORE}: build nmstore first, or set NMT_BUILD`);
    this.home = home;
    /** frames sent to the host, hello included, over every port */
    this.sent = 0;
    /** @type {Set<import('node:child_process').ChildProcess>} */
    this.procs = new Set();
    this.connect = this.connect.bind(this);
  }

  /** @returns {import('../../../extension/lib/nmstore-client.js').PortLike} */
  connect() {
    const host = this;
    const proc = spawn(NMSTORE, ['host', '--origin', ORIGIN], {
      env: { ...process.env, NMSTORE_HOME: this.home }, stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.procs.add(proc);
    /** @type {((msg: any) => void)[]} */
    const onMessage = [];
    /** @type {(() => void)[]} */
    const onDisconnect = [];
    let alive = true;
    let buf = Buffer.alloc(0);
    const port = {
      /** @type {{message?: string} | null} */
      error: null,
      onMessage: { addListener: (/** @type {(msg: any) => void} */ fn) => { onMessage.push(fn); } },
      onDisconnect: { addListener: (/** @type {() => void} */ fn) => { onDisconnect.push(fn); } },
      /** @param {any} msg */
      postMessage(msg) {
        if (!alive) throw new Error('Attempting to use a disconnected port object');
        const body = Buffer.from(JSON.stringify(msg));
        if (body.length > MAX_MESSAGE) throw new Error('Message length exceeded maximum allowed length.');
        const head = Buffer.alloc(4);
        if (LE) head.writeUInt32LE(body.length); else head.writeUInt32BE(body.length);
        proc.stdin.write(Buffer.concat([head, body]));
        host.sent++;
      },
      disconnect() {
        alive = false;
        proc.stdin.end();
      },
    };
    proc.stdin.on('error', () => {}); // EPIPE after the host exited: onDisconnect says so
    proc.stdout.on('data', (/** @type {Buffer} */ d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 4) {
        const len = LE ? buf.readUInt32LE(0) : buf.readUInt32BE(0);
        if (buf.length < 4 + len) break;
        const msg = JSON.parse(buf.subarray(4, 4 + len).toString());
        buf = buf.subarray(4 + len);
        // Chrome delivers each message in a task of its own, so every
        // promise settled by one reply has settled before the next arrives.
        setImmediate(() => { if (alive) for (const fn of onMessage) fn(msg); });
      }
    });
    proc.on('close', () => {
      this.procs.delete(proc);
      if (!alive) return;
      alive = false;
      port.error = { message: 'Native host has exited.' };
      for (const fn of onDisconnect) fn();
    });
    return port;
  }

  /** Resolves once every host process started here has exited. */
  async closed() {
    await Promise.all([...this.procs].map((p) => new Promise((r) => {
      if (p.exitCode !== null || p.signalCode !== null) r(undefined); else p.on('close', r);
    })));
  }
}
