// SPDX-License-Identifier: MIT
// fake.js: a fake native-messaging port backed by a small in-memory model of
// the host's protocol, and a fake chrome.storage.local, for the unit tests
// of extension/lib only. The browser tests use the real host.

/** Deep copy through JSON, as the real pipe does. */
const wire = (v) => JSON.parse(JSON.stringify(v));

export class FakeHost {
  /**
   * @param {object} [o]
   * @param {boolean} [o.notFound]  connectNative fails as when no manifest exists
   * @param {string[]} [o.ops]  extra ops it knows: 'subscribe', 'sessionRestore',
   *   'batch' (then hello lists its ops and limits, as the real host does)
   * @param {number} [o.chunkSize]  replies longer than this are chunked
   * @param {number} [o.maxBatchRequests]  hello's limit, default 1000
   * @param {boolean} [o.tasks]  deliver each message in a task of its own
   *   (setImmediate), as Chrome does, rather than at once
   */
  constructor(o = {}) {
    this.notFound = !!o.notFound;
    this.ops = new Set(o.ops ?? []);
    this.chunkSize = o.chunkSize ?? Infinity;
    this.maxBatchRequests = o.maxBatchRequests ?? 1000;
    this.tasks = !!o.tasks;
    /** @type {Map<string, any>} */
    this.items = new Map();
    /** every request received, across ports */
    this.received = [];
    /** when true, requests are held until release() */
    this.hold = false;
    this.held = [];
    this.ports = [];
    this.lastError = undefined;
    /** optional hook to alter a reply: (req, reply) => reply */
    this.tamper = null;
    this.connect = this.connect.bind(this);
  }

  connect(name) {
    if (name !== 'org.nmstore.host') throw new Error(`unexpected host name ${name}`);
    const host = this;
    const port = {
      alive: true,
      subscribed: false,
      msgListeners: [],
      discListeners: [],
      onMessage: { addListener: (fn) => port.msgListeners.push(fn) },
      onDisconnect: { addListener: (fn) => port.discListeners.push(fn) },
      postMessage(msg) {
        if (!port.alive) throw new Error('Attempting to use a disconnected port object');
        const req = wire(msg);
        host.received.push(req);
        if (host.hold && req.op !== 'hello') host.held.push([port, req]);
        else queueMicrotask(() => host.answer(port, req));
      },
      disconnect() { port.alive = false; },
    };
    this.ports.push(port);
    if (this.notFound) {
      queueMicrotask(() => this.drop(port, 'Specified native messaging host not found.'));
    }
    return port;
  }

  /** Ends a port as Chrome does when the host process exits. */
  drop(port = this.ports[this.ports.length - 1], why = 'Native host has exited.') {
    if (!port.alive) return;
    port.alive = false;
    this.lastError = why;
    for (const fn of port.discListeners) fn();
    this.lastError = undefined;
  }

  release() {
    const h = this.held;
    this.held = [];
    for (const [port, req] of h) this.answer(port, req);
  }

  send(port, msg) {
    if (!port.alive) return;
    const deliver = (frame) => {
      if (!this.tasks) for (const fn of port.msgListeners) fn(frame);
      else setImmediate(() => { if (port.alive) for (const fn of port.msgListeners) fn(frame); });
    };
    const text = JSON.stringify(msg);
    if (text.length <= this.chunkSize) {
      deliver(wire(msg));
      return;
    }
    const n = Math.ceil(text.length / this.chunkSize);
    for (let i = 0; i < n; i++) {
      const frame = { id: 'event' in msg ? null : msg.id, chunk: i, chunks: n, part: text.slice(i * this.chunkSize, (i + 1) * this.chunkSize) };
      if ('event' in msg) frame.event = msg.event;
      deliver(frame);
    }
  }

  /** Sends a change event to every subscribed port. */
  emit(changes) {
    for (const p of this.ports) if (p.subscribed) this.send(p, { event: 'changed', area: 'local', changes });
  }

  answer(port, req) {
    let reply;
    if (req.op === 'batch' && this.ops.has('batch')) {
      // The wire format of docs/PROTOCOL.md: one reply per request, in order.
      const refused = new Set(['batch', 'hello', 'unlock', 'subscribe', 'unsubscribe']);
      const replies = req.requests.map((r) => (refused.has(r.op)
        ? { id: r.id ?? null, ok: false, error: { code: 'E_REQUEST', message: `"${r.op}" cannot be sent in a batch; send it on its own` } }
        : this.reply(port, { ...r, id: r.id ?? null })));
      reply = { id: req.id, ok: true, replies };
    } else {
      reply = this.reply(port, req);
    }
    if (this.tamper) reply = this.tamper(req, reply);
    this.send(port, reply);
  }

  reply(port, req) {
    try {
      return { id: req.id, ok: true, ...this.run(port, req) };
    } catch (e) {
      return { id: req.id, ok: false, error: { code: e.code, message: e.message } };
    }
  }

  run(port, req) {
    const err = (code, message) => Object.assign(new Error(message), { code });
    const keysOf = (k) => (typeof k === 'string' ? [k] : k);
    switch (req.op) {
      case 'hello': {
        const hello = { name: 'org.nmstore.host', version: '0.0.0-fake', protocol: 1, origin: 'chrome-extension://fake/', store: '/fake/store.db', encrypted: false, locked: false };
        if (!this.ops.has('batch')) return hello;
        return {
          ...hello,
          limits: { maxRequestBytes: 64 * 1024 * 1024, maxResponseBytes: 1024 * 1024, maxBatchRequests: this.maxBatchRequests },
          ops: ['hello', 'get', 'getKeys', 'set', 'remove', 'clear', 'getBytesInUse', 'flush', ...this.ops],
        };
      }
      case 'get': {
        const items = {};
        if (typeof req.prefix === 'string') {
          for (const [k, v] of this.items) if (k.startsWith(req.prefix)) items[k] = wire(v);
        } else if (req.keys == null) {
          for (const [k, v] of this.items) items[k] = wire(v);
        } else if (typeof req.keys === 'object' && !Array.isArray(req.keys)) {
          for (const [k, d] of Object.entries(req.keys)) items[k] = this.items.has(k) ? wire(this.items.get(k)) : d;
        } else {
          for (const k of keysOf(req.keys)) if (this.items.has(k)) items[k] = wire(this.items.get(k));
        }
        return { items };
      }
      case 'getKeys':
        return { keys: [...this.items.keys()].filter((k) => !req.prefix || k.startsWith(req.prefix)).sort() };
      case 'set': {
        const changes = {};
        for (const [k, v] of Object.entries(req.items)) {
          if (k === '') throw err('E_KEY', 'a key must not be empty');
        }
        for (const [k, v] of Object.entries(req.items)) {
          changes[k] = { newValue: v, ...(this.items.has(k) ? { oldValue: this.items.get(k) } : {}) };
          this.items.set(k, wire(v));
        }
        this.emit(changes);
        return {};
      }
      case 'remove':
        for (const k of keysOf(req.keys)) this.items.delete(k);
        return {};
      case 'clear':
        for (const k of [...this.items.keys()]) if (!req.prefix || k.startsWith(req.prefix)) this.items.delete(k);
        return {};
      case 'getBytesInUse': {
        let bytes = 0;
        for (const [k, v] of this.items) bytes += k.length + JSON.stringify(v).length;
        return { bytes };
      }
      case 'flush':
        return {};
      case 'subscribe':
        if (!this.ops.has('subscribe')) break;
        port.subscribed = true;
        return {};
      case 'unsubscribe':
        if (!this.ops.has('subscribe')) break;
        port.subscribed = false;
        return {};
      case 'sessionRestore': {
        if (!this.ops.has('sessionRestore')) break;
        const p = req.prefix ?? 'session:';
        const index = this.items.get(p + 'torrents') ?? null;
        const indexJson = index && index.$bytes ? JSON.parse(Buffer.from(index.$bytes, 'base64').toString()) : index;
        const torrents = [];
        const problems = [];
        for (const e of indexJson?.torrents ?? []) {
          const b = `${p}torrent:${e.infoHash}:`;
          const tf = this.items.get(b + 'torrentfile') ?? null;
          const id = this.items.get(b + 'infodict') ?? null;
          if (!tf && !id && e.source === 'file') {
            problems.push({ infoHash: e.infoHash, key: b + 'torrentfile', reason: 'missing' });
            continue;
          }
          const st = this.items.get(b + 'state') ?? null;
          torrents.push({ infoHash: e.infoHash, entry: e, state: st && st.$bytes ? JSON.parse(Buffer.from(st.$bytes, 'base64').toString()) : st, torrentfile: tf, infodict: id });
        }
        return { prefix: p, index: indexJson, torrents, problems };
      }
      default:
        break;
    }
    throw err('E_UNKNOWN_OP', `unknown op "${req.op}"`);
  }
}

/** A chrome.storage.local stand-in with the same promise API. */
export class FakeArea {
  constructor(init = {}) {
    this.data = new Map(Object.entries(wire(init)));
    this.listeners = new Set();
    this.onChanged = {
      addListener: (fn) => this.listeners.add(fn),
      removeListener: (fn) => this.listeners.delete(fn),
    };
  }

  async get(keys) {
    const out = {};
    if (keys == null) for (const [k, v] of this.data) out[k] = wire(v);
    else if (typeof keys === 'string' || Array.isArray(keys)) {
      for (const k of typeof keys === 'string' ? [keys] : keys) if (this.data.has(k)) out[k] = wire(this.data.get(k));
    } else for (const [k, d] of Object.entries(keys)) out[k] = this.data.has(k) ? wire(this.data.get(k)) : d;
    return out;
  }

  async set(items) {
    const changes = {};
    for (const [k, v] of Object.entries(items)) {
      changes[k] = { newValue: wire(v) };
      this.data.set(k, wire(v));
    }
    for (const fn of this.listeners) fn(changes, 'local');
  }

  async remove(keys) { for (const k of typeof keys === 'string' ? [keys] : keys) this.data.delete(k); }
  async clear() { this.data.clear(); }
  async getBytesInUse() { let n = 0; for (const [k, v] of this.data) n += k.length + JSON.stringify(v).length; return n; }
}

/** Builds a client wired to a fake host (and optionally a fake fallback). */
export function wiring(NmstoreClient, host, area = null, extra = {}) {
  return new NmstoreClient({
    connect: host.connect,
    lastError: () => host.lastError,
    fallback: area,
    fallbackEvents: area ? area.onChanged : null,
    ...extra,
  });
}
