// SPDX-License-Identifier: MIT
// client-wire.js: the port's side of NmstoreClient. It numbers requests,
// keeps those in flight, coalesces the requests made in one task into
// `batch` frames, puts chunked replies and events back together, and
// settles each request with its own reply, in the order they were made.
// What the port is and when it comes and goes is the client's business
// (nmstore-client.js); the wire is told through its owner hooks.
import { NmstoreError, hostError } from './nmstore-error.js';

/**
 * @typedef {object} PortLike  the part of chrome.runtime.Port the client uses
 * @property {(msg: any) => void} postMessage
 * @property {() => void} disconnect
 * @property {{addListener: (fn: (msg: any) => void) => void}} onMessage
 * @property {{addListener: (fn: () => void) => void}} onDisconnect
 * @property {{message?: string} | null} [error]  why Firefox closed the port
 */

/**
 * @typedef {object} Pending
 * @property {number} id
 * @property {string} op
 * @property {Record<string, any>} params
 * @property {(reply: any) => void} resolve
 * @property {(err: Error) => void} reject
 * @property {number} attempts  how many times it was sent
 * @property {Pending[]} [members]  a batch frame: the requests it carries,
 *   each settled by its own reply, in order
 * @property {number} [values]  queued: what it counts against a batch's
 *   budget of values (batchValues)
 */

/**
 * @typedef {object} WireOwner  what the wire asks of the client
 * @property {() => any} hello  the host's hello reply while connected to
 *   it, else null: its ops and limits size the batch frames
 * @property {() => Promise<unknown>} ready  connects again, for a request
 *   made while the port was down
 * @property {(ev: any) => void} onEvent  a change event, whole
 */
/**
 * The ops the host refuses inside a batch (docs/PROTOCOL.md, `batch`): each
 * goes in a frame of its own, after the requests queued before it.
 */
const NEVER_BATCHED = new Set(['batch', 'hello', 'unlock', 'subscribe', 'unsubscribe']);

/**
 * A request whose JSON may be longer than this goes in a frame of its own.
 * A frame costs about the same whatever its size, so coalescing only pays
 * for small requests; and 1000 requests of at most 64 KiB always fit in one
 * 64 MiB frame, so a batch never needs its size measured exactly.
 */
const COALESCE_MAX_REQUEST_BYTES = 64 * 1024;

/**
 * The most requests one batch frame carries, below the host's own limit:
 * the host starts on the first frame while the browser still serializes
 * and pipes the rest, and the replies come back in as many pieces. 2,000
 * gets in flight took 215 ms in frames of 1,000 and 165 ms in frames of
 * 100 (2,000 sets: 135 and 120 ms); from 50 to 200 it made no difference
 * beyond the noise, and each frame costs Chrome about 0.1 ms.
 */
export const COALESCE_FRAME_REQUESTS = 100;

/**
 * Microtask turns between the settling of two requests of one batch: more
 * than the .then and await steps any promise the client or
 * NativeSessionStore returns adds to the request's own (settle).
 */
const SETTLE_TURNS = 8;

/** What a batch frame adds to the requests it carries, at most. */
const BATCH_OVERHEAD_BYTES = 64;

/**
 * The values of a batch's requests outside their "items" (which the host
 * reads as text) share one budget, the frame's: at least 16 MiB / 100 =
 * 167,772 (docs/PROTOCOL.md, "What a request may cost"). A batch stays
 * under this, with room for its own envelope, so that no request is refused
 * there that would pass alone.
 */
const BATCH_MAX_VALUES = 160000;

/**
 * @typedef {object} Measure
 * @property {number} bytes  an upper bound of the UTF-8 length of the JSON
 * @property {number} values  of values and member names, outside "items"
 * @property {number} limit  of bytes
 * @property {boolean} [loose]  strings counted at six bytes a character,
 *   unread
 */

/** A string whose JSON is itself between quotes, a byte a character. */
const JSON_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7f]*$/;

/**
 * Adds v's JSON to m; false once m.bytes passes m.limit, or when v is
 * something whose JSON cannot be bounded here (a toJSON method, a BigInt,
 * nesting past 200). The walk stops at the limit, so a large value costs no
 * more than a small one.
 * @param {any} v
 * @param {Measure} m
 * @param {number} depth
 * @param {boolean} count  false inside "items"
 * @returns {boolean}
 */
function measure(v, m, depth, count) {
  if (depth > 200) return false;
  if (count) m.values++;
  switch (typeof v) {
    case 'string': {
      m.bytes += 2;
      // Six bytes a character at most (\uXXXX): a bound without a read.
      if (m.loose) { m.bytes += 6 * v.length; return m.bytes <= m.limit; }
      // Each character is a byte at least: a longer string cannot fit.
      if (v.length > m.limit - m.bytes) { m.bytes += v.length; return false; }
      // Printable ASCII but '"' and '\\' (base64, most keys): a byte each,
      // found by the regular expression engine, six times faster here than
      // the loop below over a 3.5 KB $bytes value.
      if (JSON_PLAIN.test(v)) { m.bytes += v.length; return m.bytes <= m.limit; }
      for (let i = 0; i < v.length && m.bytes <= m.limit; i++) {
        const c = v.charCodeAt(i);
        if (c < 0x20) m.bytes += 6; // \u00XX at most
        else if (c < 0x80) m.bytes += c === 0x22 || c === 0x5c ? 2 : 1;
        else if (c < 0x800) m.bytes += 2;
        else if (c < 0xd800 || c > 0xdfff) m.bytes += 3;
        else m.bytes += 6; // a pair is 4 bytes; a lone surrogate is written \udXXX
      }
      return m.bytes <= m.limit;
    }
    case 'number': m.bytes += 24; return m.bytes <= m.limit; // -1.7976931348623157e+308, or null
    case 'boolean': m.bytes += 5; return m.bytes <= m.limit;
    case 'object': break;
    case 'bigint': return false; // JSON.stringify throws: let send say so
    default: m.bytes += 4; return m.bytes <= m.limit; // undefined, a function, a symbol: left out, or null
  }
  if (v === null) { m.bytes += 4; return m.bytes <= m.limit; }
  if (typeof v.toJSON === 'function') return false;
  m.bytes += 2;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      m.bytes += 1;
      if (!measure(v[i], m, depth + 1, count)) return false;
    }
  } else {
    for (const k of Object.keys(v)) {
      m.bytes += 2;
      if (!measure(k, m, depth + 1, count) || !measure(v[k], m, depth + 1, count && !(depth === 0 && k === 'items'))) return false;
    }
  }
  return m.bytes <= m.limit;
}

/**
 * An upper bound of the UTF-8 length of JSON.stringify(v), or Infinity once
 * it passes limit, or when v is something whose JSON cannot be bounded here
 * (see measure): such a request is sent alone, where it fails or succeeds
 * exactly as it does without coalescing.
 * @param {any} v
 * @param {number} limit
 * @returns {number}
 */
export function jsonBytesAtMost(v, limit) {
  const m = { bytes: 0, values: 0, limit };
  return measure(v, m, 0, false) ? m.bytes : Infinity;
}

/**
 * The values a request counts against a batch's budget (BATCH_MAX_VALUES),
 * or -1 when it is to be sent alone: it may be over
 * COALESCE_MAX_REQUEST_BYTES, or cannot be measured.
 * @param {Record<string, any>} msg
 * @returns {number}
 */
export function batchValues(msg) {
  // First with every string taken at its most (six bytes a character),
  // reading none: a request of a 3.5 KB $bytes value fits so, and only one
  // near the limit is read character by character. The count of values
  // does not depend on the strings, so either pass gives the same one.
  const loose = { bytes: 0, values: 0, limit: COALESCE_MAX_REQUEST_BYTES, loose: true };
  if (measure(msg, loose, 0, true)) return loose.values;
  const m = { bytes: 0, values: 0, limit: COALESCE_MAX_REQUEST_BYTES };
  return measure(msg, m, 0, true) ? m.values : -1;
}

export class ClientWire {
  /**
   * @param {WireOwner} owner
   * @param {boolean} coalesce  false sends every request in a frame of its own
   */
  constructor(owner, coalesce) {
    this.owner = owner;
    this.coalesce = coalesce;
    /** @type {PortLike | null} the host's port, once its hello came back */
    this.port = null;
    this.nextId = 1;
    /** @type {Map<number, Pending>} frames sent and not yet answered, in the order sent */
    this.pending = new Map();
    /** @type {Pending[]} made in this task, sent at its end (flushQueue) */
    this.queue = [];
    /** @type {Map<any, string[]>} chunk parts by reply id */
    this.chunks = new Map();
    /** @type {string[] | null} parts of a chunked event */
    this.eventChunks = null;
  }

  /**
   * A request's promise: it is queued with the others made in this task,
   * or sent at once (enqueue).
   * @param {string} op
   * @param {Record<string, any>} params
   * @returns {Promise<any>}
   */
  post(op, params) {
    return new Promise((resolve, reject) => {
      this.enqueue({ id: this.nextId++, op, params, resolve, reject, attempts: 0 });
    });
  }

  /**
   * Forgets the port that closed and hands back every request that was on
   * it, a batch's one by one, in the order they were made: the client
   * retries them or rejects them.
   * @returns {Pending[]}
   */
  takeInFlight() {
    this.port = null;
    this.chunks.clear();
    this.eventChunks = null;
    const inFlight = [...this.pending.values()].flatMap((p) => p.members ?? [p]).sort((a, b) => a.id - b.id);
    this.pending.clear();
    return inFlight;
  }

  /** @param {Error} err */
  failAll(err) {
    // Those still queued would otherwise go out at the end of this task,
    // on a new port: rejected too, as when each was sent at once.
    const all = [...this.pending.values(), ...this.queue];
    this.pending.clear();
    this.queue = [];
    for (const p of all) p.reject(err);
  }

  /**
   * How many requests one batch frame may carry, or 0 when requests go one
   * by one: coalescing is off, or the host has no `batch` op (an older host).
   * @returns {number}
   */
  batchSize() {
    const hello = this.owner.hello();
    if (!this.coalesce || !Array.isArray(hello?.ops) || !hello.ops.includes('batch')) return 0;
    const limits = hello.limits ?? {};
    const most = Number.isInteger(limits.maxBatchRequests) ? limits.maxBatchRequests : 1000;
    const frame = Number.isInteger(limits.maxRequestBytes) ? limits.maxRequestBytes : 64 * 1024 * 1024;
    // So many that their frame, however large each is, stays within the host's limit.
    return Math.min(most, COALESCE_FRAME_REQUESTS,
      Math.floor((frame - BATCH_OVERHEAD_BYTES) / (COALESCE_MAX_REQUEST_BYTES + 1)));
  }

  /**
   * Sends p, or queues it with the other requests made in this task: they
   * go out together in a microtask, as one `batch` frame when there are
   * two or more (flushQueue), or as soon as they fill one. A request that may not go in a batch (an op
   * the host refuses there, or a large one) is sent at once, after those
   * queued before it; one the browser cannot send is so rejected at once,
   * as before. Requests keep their order on the wire, so each still gets
   * the reply it would get alone, in the same order.
   * @param {Pending} p
   */
  enqueue(p) {
    if (this.batchSize() < 2) {
      this.send(p);
    } else if (NEVER_BATCHED.has(p.op) || (p.values = batchValues({ ...p.params, id: p.id, op: p.op })) < 0) {
      this.flushQueue();
      this.send(p);
    } else {
      this.queue.push(p);
      if (this.queue.length === 1) queueMicrotask(() => this.flushQueue());
      // A full frame goes at once: the browser and the host work on it
      // while this task makes the rest (2,000 sets in one task spent 30 ms
      // making requests before the first byte left).
      else if (this.queue.length >= this.batchSize()) this.flushQueue();
    }
  }

  /**
   * Sends what was queued, in the order it was made: batch frames of at
   * most batchSize() requests and BATCH_MAX_VALUES values, a single
   * request alone.
   */
  flushQueue() {
    const queue = this.queue;
    this.queue = [];
    const most = this.batchSize();
    if (queue.length < 2 || most < 2 || !this.port) {
      for (const p of queue) this.send(p);
      return;
    }
    /** @type {Pending[]} */
    let run = [];
    let values = 0;
    const sendRun = () => {
      if (run.length === 1) this.send(run[0]);
      else if (run.length > 1) this.sendBatch(run);
      run = [];
      values = 0;
    };
    for (const p of queue) {
      if (run.length === most || values + (p.values ?? 0) > BATCH_MAX_VALUES) sendRun();
      run.push(p);
      values += p.values ?? 0;
    }
    sendRun();
  }

  /**
   * One frame for several requests: {"op": "batch", "requests": [...]},
   * each request as it would be sent alone, its own id included, so that
   * its reply is the one it would get alone.
   * @param {Pending[]} members
   */
  sendBatch(members) {
    const port = /** @type {PortLike} */ (this.port);
    const id = this.nextId++;
    this.pending.set(id, {
      id, op: 'batch', params: {}, attempts: 1, members,
      resolve: () => {}, // settle answers each member from the reply
      reject: (err) => { for (const m of members) m.reject(err); },
    });
    try {
      port.postMessage({ id, op: 'batch', requests: members.map((m) => ({ ...m.params, id: m.id, op: m.op })) });
    } catch {
      // A closed port, or a message the browser refuses: each request on
      // its own meets the same and is answered as it was before coalescing
      // (send waits for onDisconnect, or rejects what cannot be sent).
      this.pending.delete(id);
      for (const m of members) this.send(m);
      return;
    }
    for (const m of members) m.attempts++;
  }

  /** @param {Pending} p */
  send(p) {
    const port = this.port;
    if (!port) {
      // The port dropped between ready() and now: go round again.
      this.owner.ready().then(() => this.send(p), p.reject);
      return;
    }
    p.attempts++;
    this.pending.set(p.id, p);
    const msg = { ...p.params, id: p.id, op: p.op };
    try {
      port.postMessage(msg);
    } catch (e) {
      const why = /** @type {Error} */ (e).message;
      // postMessage throws on a port Chrome already closed; onDisconnect
      // follows and retries it. Anything else (a value JSON cannot write,
      // a message over Chrome's limit) would never be answered: reject now.
      let unsendable = null;
      try {
        JSON.stringify(msg);
      } catch (e2) {
        unsendable = /** @type {Error} */ (e2).message;
      }
      if (unsendable === null && /disconnected/i.test(why)) return;
      this.pending.delete(p.id);
      p.reject(new NmstoreError('E_VALUE',
        `nmstore ${p.op}: the request cannot be sent to the host: ${unsendable ?? why}`, p.op));
    }
  }

  /**
   * @param {PortLike} port
   * @param {any} msg
   */
  onMessage(port, msg) {
    if (msg === null || typeof msg !== 'object') return;
    if ('event' in msg) {
      if ('chunks' in msg) {
        this.eventChunks ??= [];
        this.eventChunks[msg.chunk] = msg.part;
        if (msg.chunk !== msg.chunks - 1) return;
        const text = this.eventChunks.join('');
        this.eventChunks = null;
        this.owner.onEvent(JSON.parse(text));
      } else {
        this.owner.onEvent(msg);
      }
      return;
    }
    if ('chunks' in msg) {
      const parts = this.chunks.get(msg.id) ?? [];
      parts[msg.chunk] = msg.part;
      this.chunks.set(msg.id, parts);
      if (msg.chunk !== msg.chunks - 1) return;
      this.chunks.delete(msg.id);
      let whole;
      try {
        whole = JSON.parse(parts.join(''));
      } catch (e) {
        this.rejectId(msg.id, new NmstoreError('E_JSON', `a chunked reply from the host did not parse: ${/** @type {Error} */ (e).message}`));
        return;
      }
      this.onMessage(port, whole);
      return;
    }
    let p = this.pending.get(msg.id);
    if (!p && msg.id === null && msg.ok === false) {
      // A request the host could not read is answered with id null. Replies
      // come in request order, so it is the oldest one still waiting.
      p = this.pending.values().next().value;
    }
    if (!p) return;
    this.pending.delete(p.id);
    this.settle(p, msg);
  }

  /**
   * Resolves or rejects a request with its reply; a batch, each of its
   * requests with its own reply, in order. A batch refused as a whole (or
   * an id-null reply to it) rejects each request with the host's error.
   * @param {Pending} p
   * @param {any} msg
   */
  settle(p, msg) {
    const members = p.members;
    if (!members) {
      if (msg.ok) p.resolve(msg);
      else p.reject(hostError(p.op, msg.error));
      return;
    }
    /** @type {any[]} */
    const replies = msg.ok && Array.isArray(msg.replies) ? msg.replies : [];
    // Once the replies the host holds pass 64 MiB, it answers the rest of
    // a batch E_TOO_LARGE without running them (docs/PROTOCOL.md, Batch):
    // those are sent again, the first alone, where that never happens, so
    // that each round runs at least one. Requests sent after the batch have
    // then run before them.
    const deferred = replies.findIndex((/** @type {any} */ r) => r?.ok === false && r.error?.code === 'E_TOO_LARGE');
    const settled = deferred < 0 ? members : members.slice(0, deferred);
    if (deferred >= 0) {
      const again = members.slice(deferred);
      for (const m of again) m.attempts--; // they did not run
      this.send(again[0]);
      for (const m of again.slice(1)) this.enqueue(m);
    }
    const one = (/** @type {Pending} */ m, /** @type {number} */ i) => {
      const r = replies[i];
      if (!msg.ok) {
        m.reject(hostError(m.op, msg.error));
      } else if (r !== null && typeof r === 'object') {
        this.settle(m, r);
      } else {
        m.reject(new NmstoreError('E_INTERNAL', `nmstore ${m.op}: the host's batch reply holds ${replies.length} ` +
          `replies for ${members.length} requests; this is a bug in nmstore: please report it with its version`, m.op));
      }
    };
    // Replies one frame each arrive in tasks of their own, so every promise
    // of the one before had settled. Settled all at once, a request() (no
    // .then of its own) would overtake an earlier get(): a few microtask
    // turns between two requests keep the promises the client and
    // NativeSessionStore return settling in request order.
    (async () => {
      for (let i = 0; i < settled.length; i++) {
        if (i > 0) for (let turn = 0; turn < SETTLE_TURNS; turn++) await null;
        one(settled[i], i);
      }
    })();
  }

  /**
   * @param {any} id
   * @param {Error} err
   */
  rejectId(id, err) {
    const p = this.pending.get(id);
    if (p) { this.pending.delete(id); p.reject(err); }
  }
}
