// SPDX-License-Identifier: MIT
// bench-measure.js: how the in-browser benchmark (bench.js) measures: the
// echo peer over a bare port, the interleaved rounds and their medians,
// timing helpers, and the watch on a client's port that tells how many
// frames it really sent and what the echo peer must move in its place.
// Copied beside bench.js by run.js.

/** Chrome refuses a message from a native host larger than this. */
const MAX_HOST_MESSAGE = 1024 * 1024;
export const MB = 1000 * 1000;

/**
 * @typedef {object} Figure
 * @property {string} id  e.g. "W1"
 * @property {string} key  e.g. "W1.set": the id and the figure's name in it
 * @property {string} label  what was measured
 * @property {string} unit  "ms", "msg/s" or "MB/s"
 * @property {Record<string, number>} value  median over rounds, by store
 * @property {Record<string, number[]>} rounds  every round's figure, by store
 * @property {Record<string, string>} [how]  what each store did, where it differs
 */

/** @param {number[]} xs */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ----------------------------------------------------------- the echo peer

/**
 * A native host over a bare port: ids and a map of what waits on each,
 * the least any client needs to match replies to requests. Anything more
 * is what NmstoreClient costs, and that is part of what is measured. A
 * subclass says what a reply does (onReply) and what a dropped port does
 * to what still waits (release).
 */
class BarePeer {
  /**
   * @param {string} hostName
   * @param {string} what  the peer, for the message when it drops the port
   */
  constructor(hostName, what) {
    this.hostName = hostName;
    /** @type {Map<number, any>} */
    this.waiting = new Map();
    this.nextId = 1;
    /** @type {string | null} */
    this.closed = null;
    this.port = chrome.runtime.connectNative(hostName);
    this.port.onMessage.addListener((/** @type {any} */ msg) => this.onReply(msg));
    this.port.onDisconnect.addListener(() => {
      this.closed = chrome.runtime.lastError?.message ?? `the ${what} closed the port`;
      for (const w of this.waiting.values()) this.release(w);
      this.waiting.clear();
    });
  }

  /** @param {any} msg */
  onReply(msg) { void msg; }

  /** @param {any} waiter */
  release(waiter) { void waiter; }

  close() { this.port.disconnect(); }
}

/**
 * The echo peer: every message comes back as it went. Also any peer that
 * answers each message with one reply of the same id: the floor peer.
 */
export class EchoPeer extends BarePeer {
  /**
   * @param {string} hostName
   * @param {string} [label]  for errors
   */
  constructor(hostName, label = 'echo peer') { super(hostName, label); }

  /** @param {any} msg */
  onReply(msg) {
    const done = this.waiting.get(msg.id);
    if (done) { this.waiting.delete(msg.id); done(msg); }
  }

  /** @param {(msg: any) => void} done */
  release(done) { done(null); }

  /**
   * Sends msg (its id replaced) and resolves when it comes back.
   * @param {Record<string, any>} msg
   * @returns {Promise<any>}
   */
  send(msg) {
    if (this.closed) return Promise.reject(new Error(`${this.hostName}: ${this.closed}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (/** @type {any} */ reply) => reply ? resolve(reply) : reject(new Error(`${this.hostName}: ${this.closed}`)));
      this.port.postMessage({ ...msg, id });
    });
  }

  /**
   * A message whose JSON text is `bytes` long (give or take the digits of
   * its id), to stand in for a host request or reply of that size.
   * @param {number} bytes
   */
  static sized(bytes) {
    const bare = JSON.stringify({ op: 'echo', pad: '', id: 100000 }).length;
    return { op: 'echo', pad: 'x'.repeat(Math.max(0, bytes - bare)) };
  }

  /**
   * Stands in for a reply of `wireBytes`: one frame when it fits in a native
   * message, else as many frames of 1 MiB as the host's chunks take, all in
   * flight at once as the host sends them.
   * @param {number} wireBytes
   */
  async bulk(wireBytes) {
    if (wireBytes <= MAX_HOST_MESSAGE) { await this.send(EchoPeer.sized(wireBytes)); return; }
    const full = EchoPeer.sized(MAX_HOST_MESSAGE - 16);
    const n = Math.ceil(wireBytes / (MAX_HOST_MESSAGE - 16));
    const sends = [];
    for (let i = 0; i < n; i++) sends.push(this.send(full));
    await Promise.all(sends);
  }

  /**
   * Sends every message at once and resolves when all came back.
   * @param {Record<string, any>[]} msgs
   */
  async all(msgs) { await Promise.all(msgs.map((m) => this.send(m))); }
}

/**
 * The pipe one way (pipe-peer.mjs): moves the frames a workload moved, each
 * in its own direction, with no work done on them. Its time is the least
 * any native host can take for that traffic here.
 */
export class PipePeer extends BarePeer {
  /** @param {string} hostName */
  constructor(hostName) { super(hostName, 'pipe peer'); }

  /** @param {any} msg */
  onReply(msg) {
    const w = this.waiting.get(msg.id);
    if (w && --w.left === 0) { this.waiting.delete(msg.id); w.done(true); }
  }

  /** @param {{left: number, done: (ok: boolean) => void}} w */
  release(w) { w.done(false); }

  /**
   * Sends a frame of `bytes` asking for frames of the sizes in want, and
   * resolves once they all came (at once when it wants none).
   * @param {number} bytes
   * @param {number[]} want
   * @returns {Promise<void>}
   */
  _send(bytes, want) {
    if (this.closed) return Promise.reject(new Error(`${this.hostName}: ${this.closed}`));
    const id = this.nextId++;
    // "want" before "pad": the peer parses only what comes before the pad.
    const bare = JSON.stringify({ id, want, pad: '' }).length;
    const msg = { id, want, pad: 'x'.repeat(Math.max(0, bytes - bare)) };
    if (!want.length) { this.port.postMessage(msg); return Promise.resolve(); }
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { left: want.length, done: (/** @type {boolean} */ ok) => ok ? resolve() : reject(new Error(`${this.hostName}: ${this.closed}`)) });
      this.port.postMessage(msg);
    });
  }

  /**
   * The traffic of `frames`, all in flight: each sent frame's size, and the
   * received frames asked for one by one with them (the n-th with the n-th,
   * the rest with the last one sent). Frames are answered in order, so the
   * last one's answers mean that all were moved.
   * @param {Frames} frames
   */
  async move(frames) {
    const { sent, received } = frames;
    const calls = sent.map((b, i) => this._send(b,
      i < sent.length - 1 ? (i < received.length ? [received[i]] : []) : received.slice(i).length ? received.slice(i) : [16]));
    await Promise.all(calls);
  }
}

// --------------------------------------------------------------- measuring

/**
 * Runs each store's round function `rounds` times, rotating which store
 * goes first, and returns every round's figure by store.
 * @param {number} rounds
 * @param {Record<string, () => Promise<number>>} byStore
 */
export async function interleave(rounds, byStore) {
  const names = Object.keys(byStore);
  /** @type {Record<string, number[]>} */
  const out = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length];
      out[name].push(await byStore[name]());
    }
  }
  return out;
}

/**
 * @param {string} key  the figure's id, a dot and its name within the id
 *   ("W2.inFlight"): what run.js finds it by
 * @param {string} label
 * @param {string} unit
 * @param {Record<string, number[]>} rounds
 * @param {Record<string, string>} [how]
 * @returns {Figure}
 */
export function figure(key, label, unit, rounds, how) {
  /** @type {Record<string, number>} */
  const value = {};
  for (const [k, v] of Object.entries(rounds)) value[k] = median(v);
  const id = key.split('.')[0];
  return how ? { id, key, label, unit, value, rounds, how } : { id, key, label, unit, value, rounds };
}

/** Milliseconds per call over n sequential calls of fn(i). */
export async function perCall(/** @type {number} */ n, /** @type {(i: number) => Promise<any>} */ fn) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return (performance.now() - t0) / n;
}

/** Calls per second with n calls of fn(i) in flight at once. */
export async function rate(/** @type {number} */ n, /** @type {(i: number) => Promise<any>} */ fn) {
  const t0 = performance.now();
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(fn(i));
  await Promise.all(calls);
  return n / ((performance.now() - t0) / 1000);
}

/** Milliseconds one call of fn takes. */
export async function once(/** @type {() => Promise<any>} */ fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** @param {number[]} xs */
export function sum(xs) { return xs.reduce((a, b) => a + b, 0); }

/** Items per second when one call of fn moves n items. */
export async function perItem(/** @type {number} */ n, /** @type {() => Promise<any>} */ fn) {
  return n / ((await once(fn)) / 1000);
}

/**
 * @typedef {object} Frames  what crossed a client's port, as JSON text lengths
 * @property {number[]} sent
 * @property {number[]} received  chunk frames each on their own
 */

/**
 * Runs fn once with the client's port watched, outside any timing: every
 * frame the page sent to the host and every frame it got back. It tells
 * how many frames the client really sent (the coalescing check) and what
 * the echo peer must move to stand in for the same traffic.
 * @param {import('./lib/nmstore-client.js').NmstoreClient} client  connected
 * @param {() => Promise<any>} fn
 * @returns {Promise<Frames>}
 */
export async function framesOf(client, fn) {
  // The client's private port (client-wire.js): the benchmark's smoke test
  // runs this, so a rename there fails in tests/run.sh, not only here.
  const port = /** @type {any} */ (client)._wire?.port;
  if (!port) throw new Error('framesOf: the client is not connected; await its ready() first');
  /** @type {Frames} */
  const frames = { sent: [], received: [] };
  const own = Object.prototype.hasOwnProperty.call(port, 'postMessage');
  const post = port.postMessage;
  port.postMessage = (/** @type {any} */ msg) => {
    frames.sent.push(JSON.stringify(msg).length);
    return post.call(port, msg);
  };
  const listen = (/** @type {any} */ msg) => { frames.received.push(JSON.stringify(msg).length); };
  port.onMessage.addListener(listen);
  try {
    await fn();
  } finally {
    if (own) port.postMessage = post; else delete port.postMessage;
    port.onMessage.removeListener(listen);
  }
  return frames;
}

/**
 * The echo peer's stand-in for some traffic: the frames of the direction
 * that carried more bytes, each cut at what a native host may send back
 * (1 MiB). The echo sends every byte both ways, so it moves at least what
 * the host's pipe moved, in as many frames or more.
 * @param {Frames} frames
 */
export function echoPlan(frames) {
  const side = sum(frames.sent) >= sum(frames.received) ? frames.sent : frames.received;
  const most = MAX_HOST_MESSAGE - 16;
  const sizes = [];
  for (const b of side) {
    let left = b;
    for (; left > most; left -= most) sizes.push(most);
    sizes.push(left);
  }
  return sizes.map((b) => EchoPeer.sized(b));
}

/** The JSON text length of a reply as the host sent it. */
export function replyBytes(/** @type {any} */ reply) {
  return JSON.stringify(reply).length;
}

/**
 * What crosses the pipe for a reply of `bytes`: the text itself, or, when
 * it is chunked, its text as escaped JSON strings inside the chunk frames.
 * @param {any} reply
 */
export function wireBytes(reply) {
  const text = JSON.stringify(reply);
  return text.length <= MAX_HOST_MESSAGE ? text.length : JSON.stringify(text).length;
}
