// nmstore-client.js: NmstoreClient, a chrome.storage.local-shaped client for
// the org.nmstore.host native-messaging host. It owns the port: request ids,
// chunk reassembly, reconnection with one retry, change events, and the
// fallback to chrome.storage.local when the host is not installed.
// Drop-in file: it depends on nothing but the browser's chrome.* APIs.

/** The native-messaging host name nmstore installs itself under. */
export const HOST_NAME = 'org.nmstore.host';

/** What Chrome reports when no manifest for the host name is found. */
const NOT_FOUND = /specified native messaging host not found/i;

/** An error from the host or from the connection; `code` is E_... */
export class NmstoreError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {string} [op]
   */
  constructor(code, message, op) {
    super(message);
    this.name = 'NmstoreError';
    this.code = code;
    this.op = op;
  }
}

/**
 * @typedef {object} PortLike  the part of chrome.runtime.Port the client uses
 * @property {(msg: any) => void} postMessage
 * @property {() => void} disconnect
 * @property {{addListener: (fn: (msg: any) => void) => void}} onMessage
 * @property {{addListener: (fn: () => void) => void}} onDisconnect
 */

/**
 * @typedef {object} StorageAreaLike  the part of chrome.storage.local the fallback uses
 * @property {(keys?: any) => Promise<Record<string, any>>} get
 * @property {(items: Record<string, any>) => Promise<void>} set
 * @property {(keys: string | string[]) => Promise<void>} remove
 * @property {() => Promise<void>} clear
 * @property {(keys?: string | string[] | null) => Promise<number>} getBytesInUse
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} [hostName]  default org.nmstore.host
 * @property {(name: string) => PortLike} [connect]  default chrome.runtime.connectNative
 * @property {() => (string | undefined)} [lastError]  the message of chrome.runtime.lastError
 * @property {StorageAreaLike | null} [fallback]  used when the host is not installed;
 *   default chrome.storage.local, null for none
 * @property {{addListener: Function, removeListener: Function} | null} [fallbackEvents]
 *   change events of the fallback; default chrome.storage.onChanged
 * @property {string} [subscribePrefix]  only events for keys under it
 */

/**
 * @typedef {object} Connection  what ready() resolves to
 * @property {'native' | 'fallback'} mode
 * @property {any} [hello]  the host's hello reply when native
 * @property {string} [reason]  why the fallback is in use, for a person
 */

/**
 * @typedef {object} Pending
 * @property {number} id
 * @property {string} op
 * @property {Record<string, any>} params
 * @property {(reply: any) => void} resolve
 * @property {(err: Error) => void} reject
 * @property {number} attempts  how many times it was sent
 */

/** @typedef {(changes: Record<string, {oldValue?: any, newValue?: any}>, areaName: string, info?: {overflow: boolean}) => void} ChangeListener */

/** @returns {any} the extension's chrome namespace, or undefined outside an extension */
function chromeApi() {
  return /** @type {any} */ (globalThis).chrome;
}

/**
 * The text a person reads when the host is missing.
 * @param {string} hostName
 */
export function hostMissingReason(hostName) {
  return `The nmstore native host (${hostName}) is not installed for this browser, ` +
    'so data is kept in chrome.storage.local for now. Install nmstore and run ' +
    '"nmstore install"; the data moves to nmstore the next time the extension connects.';
}

/**
 * Compares two strings by their UTF-8 bytes, the host's key order.
 * @param {string} a
 * @param {string} b
 */
export function compareUtf8(a, b) {
  const enc = new TextEncoder();
  const x = enc.encode(a), y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

export class NmstoreClient {
  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    const c = chromeApi();
    this.hostName = options.hostName ?? HOST_NAME;
    /** @type {(name: string) => PortLike} */
    this._connectFn = options.connect ?? ((name) => c.runtime.connectNative(name));
    /** @type {() => (string | undefined)} */
    this._lastError = options.lastError ?? (() => c?.runtime?.lastError?.message);
    /** @type {StorageAreaLike | null} */
    this.fallbackArea = options.fallback !== undefined ? options.fallback : (c?.storage?.local ?? null);
    this._fallbackEvents = options.fallbackEvents !== undefined
      ? options.fallbackEvents : (c?.storage?.onChanged ?? null);
    this._subscribePrefix = options.subscribePrefix;

    /** @type {PortLike | null} */
    this._port = null;
    /** @type {Promise<Connection> | null} */
    this._connecting = null;
    /** @type {Connection | null} */
    this._conn = null;
    this._nextId = 1;
    /** @type {Map<number, Pending>} sent and not yet answered, in id order */
    this._pending = new Map();
    /** @type {Map<any, string[]>} chunk parts by reply id */
    this._chunks = new Map();
    /** @type {string[] | null} parts of a chunked event */
    this._eventChunks = null;
    /** @type {Set<ChangeListener>} */
    this._listeners = new Set();
    /** @type {Promise<boolean> | null} */
    this._subscribed = null;
    /** Why events are unavailable, for a person; null while they work. */
    this.eventsUnavailableReason = /** @type {string | null} */ (null);
    /** @type {((changes: any, area: string) => void) | null} */
    this._fallbackListener = null;

    const self = this;
    this.onChanged = {
      /** @param {ChangeListener} fn */
      addListener(fn) {
        self._listeners.add(fn);
        if (self._listeners.size === 1) self._subscribed = self._startEvents();
      },
      /** @param {ChangeListener} fn */
      removeListener(fn) {
        self._listeners.delete(fn);
        if (self._listeners.size === 0) self._stopEvents();
      },
      /** @param {ChangeListener} fn */
      hasListener(fn) { return self._listeners.has(fn); },
      /**
       * Resolves true once events flow, false when they cannot (see
       * eventsUnavailableReason).
       */
      whenSubscribed() { return self._subscribed ?? Promise.resolve(false); },
    };
  }

  /**
   * Connects if needed. Resolves to the mode in use: the host, or the
   * fallback when the host is not installed.
   * @returns {Promise<Connection>}
   */
  ready() {
    if (this._conn) return Promise.resolve(this._conn);
    if (!this._connecting) {
      this._connecting = this._open().finally(() => { this._connecting = null; });
    }
    return this._connecting;
  }

  /** The current mode, or null before the first connection. */
  get mode() { return this._conn?.mode ?? null; }

  /**
   * Forgets a fallback decision so that the next call tries the host again,
   * e.g. after a person installed it.
   */
  retryNative() {
    if (this._conn?.mode === 'fallback') {
      this._conn = null;
      if (this._listeners.size) this._subscribed = this._startEvents();
    }
  }

  /**
   * Unlocks a passphrase-encrypted store. The key is held by this client's
   * own host process (each port starts one), so the port is kept, and the
   * hello the client keeps is read again to show the new state. Rejects
   * with E_AUTH for a wrong passphrase.
   * @param {string} passphrase
   */
  async unlock(passphrase) {
    await this.request('unlock', { passphrase });
    const conn = await this.ready();
    if (conn.mode === 'native') conn.hello = await this.request('hello');
  }

  /** Closes the port; in-flight requests are rejected. */
  disconnect() {
    const port = this._port;
    this._port = null;
    this._conn = null;
    this._failAll(new NmstoreError('E_DISCONNECTED', 'the client was disconnected by its owner'));
    if (port) port.disconnect();
  }

  /** @returns {Promise<Connection>} */
  _open() {
    return new Promise((resolve, reject) => {
      let port;
      try {
        port = this._connectFn(this.hostName);
      } catch (e) {
        reject(new NmstoreError('E_CONNECT', `could not start the nmstore host: ${/** @type {Error} */ (e).message}`));
        return;
      }
      let opened = false;
      const id = this._nextId++;
      port.onMessage.addListener((msg) => this._onMessage(port, msg));
      port.onDisconnect.addListener(() => {
        const why = this._lastError() ?? 'the host closed the connection';
        if (!opened) {
          this._pending.delete(id);
          if (NOT_FOUND.test(why) && this.fallbackArea) {
            this._conn = { mode: 'fallback', reason: hostMissingReason(this.hostName) };
            resolve(this._conn);
          } else if (NOT_FOUND.test(why)) {
            reject(new NmstoreError('E_HOST_NOT_FOUND', hostMissingReason(this.hostName)));
          } else {
            reject(new NmstoreError('E_DISCONNECTED', `the nmstore host ended before it answered hello: ${why}`));
          }
          return;
        }
        this._onDisconnect(port, why);
      });
      this._pending.set(id, {
        id, op: 'hello', params: {}, attempts: 1,
        resolve: (reply) => {
          opened = true;
          this._port = port;
          this._conn = { mode: 'native', hello: reply };
          resolve(this._conn);
        },
        reject: (err) => { reject(err); },
      });
      port.postMessage({ id, op: 'hello' });
    });
  }

  /**
   * @param {PortLike} port
   * @param {string} why
   */
  _onDisconnect(port, why) {
    if (this._port !== port) return;
    this._port = null;
    this._conn = null;
    this._chunks.clear();
    this._eventChunks = null;
    const inFlight = [...this._pending.values()].sort((a, b) => a.id - b.id);
    this._pending.clear();
    const retry = inFlight.filter((p) => p.attempts < 2);
    for (const p of inFlight) {
      if (p.attempts >= 2) {
        p.reject(new NmstoreError('E_DISCONNECTED',
          `the nmstore host disconnected twice while "${p.op}" was in flight (${why}); ` +
          'it was not retried again, and whether it took effect is unknown', p.op));
      }
    }
    const resubscribe = this._listeners.size > 0;
    if (retry.length === 0 && !resubscribe) return;
    // Every op of the protocol is idempotent (set, remove and clear converge
    // to the same state), so re-sending one whose reply was lost is safe.
    this.ready().then((conn) => {
      if (resubscribe) {
        this._subscribed = this._startEvents(true);
      }
      for (const p of retry) {
        if (conn.mode === 'native') this._send(p);
        else this._runFallback(p.op, p.params).then(p.resolve, p.reject);
      }
    }, (err) => {
      for (const p of retry) {
        p.reject(new NmstoreError(/** @type {any} */ (err).code ?? 'E_DISCONNECTED',
          `the nmstore host disconnected while "${p.op}" was in flight (${why}) and ` +
          `reconnecting failed: ${err.message}`, p.op));
      }
    });
  }

  /** @param {Error} err */
  _failAll(err) {
    const all = [...this._pending.values()];
    this._pending.clear();
    for (const p of all) p.reject(err);
  }

  /** @param {Pending} p */
  _send(p) {
    const port = this._port;
    if (!port) {
      // The port dropped between ready() and now: go round again.
      this.ready().then(() => this._send(p), p.reject);
      return;
    }
    p.attempts++;
    this._pending.set(p.id, p);
    try {
      port.postMessage({ ...p.params, id: p.id, op: p.op });
    } catch (e) {
      // postMessage throws on a port Chrome already closed; onDisconnect
      // follows and retries it.
    }
  }

  /**
   * @param {PortLike} port
   * @param {any} msg
   */
  _onMessage(port, msg) {
    if (msg === null || typeof msg !== 'object') return;
    if ('event' in msg) {
      if ('chunks' in msg) {
        this._eventChunks ??= [];
        this._eventChunks[msg.chunk] = msg.part;
        if (msg.chunk !== msg.chunks - 1) return;
        const text = this._eventChunks.join('');
        this._eventChunks = null;
        this._onEvent(JSON.parse(text));
      } else {
        this._onEvent(msg);
      }
      return;
    }
    if ('chunks' in msg) {
      const parts = this._chunks.get(msg.id) ?? [];
      parts[msg.chunk] = msg.part;
      this._chunks.set(msg.id, parts);
      if (msg.chunk !== msg.chunks - 1) return;
      this._chunks.delete(msg.id);
      let whole;
      try {
        whole = JSON.parse(parts.join(''));
      } catch (e) {
        this._reject(msg.id, new NmstoreError('E_JSON', `a chunked reply from the host did not parse: ${/** @type {Error} */ (e).message}`));
        return;
      }
      this._onMessage(port, whole);
      return;
    }
    const p = this._pending.get(msg.id);
    if (!p) return;
    this._pending.delete(msg.id);
    if (msg.ok) {
      p.resolve(msg);
    } else {
      const e = msg.error ?? {};
      p.reject(new NmstoreError(e.code ?? 'E_INTERNAL', `nmstore ${p.op}: ${e.message ?? 'the host gave no message'}`, p.op));
    }
  }

  /**
   * @param {any} id
   * @param {Error} err
   */
  _reject(id, err) {
    const p = this._pending.get(id);
    if (p) { this._pending.delete(id); p.reject(err); }
  }

  /** @param {any} ev */
  _onEvent(ev) {
    if (ev.event === 'changed') this._emit(ev.changes ?? {}, ev.area ?? 'local', false);
    else if (ev.event === 'overflow') this._emit({}, 'local', true);
  }

  /**
   * @param {Record<string, any>} changes
   * @param {string} area
   * @param {boolean} overflow
   */
  _emit(changes, area, overflow) {
    for (const fn of [...this._listeners]) {
      try {
        fn(changes, area, { overflow });
      } catch (e) {
        // One listener's bug must not keep the others from their events.
        console.error('nmstore: an onChanged listener threw', e);
      }
    }
  }

  /**
   * @param {boolean} [afterReconnect] events may have been missed: tell
   *   listeners to re-read, as for an overflow
   * @returns {Promise<boolean>}
   */
  async _startEvents(afterReconnect = false) {
    let conn;
    try {
      conn = await this.ready();
    } catch (e) {
      this.eventsUnavailableReason = /** @type {Error} */ (e).message;
      return false;
    }
    if (conn.mode === 'fallback') {
      if (!this._fallbackEvents) {
        this.eventsUnavailableReason = 'no change events in the fallback storage';
        return false;
      }
      if (!this._fallbackListener) {
        this._fallbackListener = (/** @type {any} */ changes, /** @type {string} */ area) => {
          if (area === 'local' && this._conn?.mode === 'fallback') this._emit(changes, area, false);
        };
        this._fallbackEvents.addListener(this._fallbackListener);
      }
      this.eventsUnavailableReason = null;
      return true;
    }
    try {
      const params = this._subscribePrefix !== undefined ? { prefix: this._subscribePrefix } : {};
      await this.request('subscribe', params);
    } catch (e) {
      const err = /** @type {NmstoreError} */ (e);
      this.eventsUnavailableReason = err.code === 'E_UNKNOWN_OP'
        ? `this nmstore host (version ${conn.hello?.version}) has no change events; a newer host is needed`
        : err.message;
      return false;
    }
    this.eventsUnavailableReason = null;
    if (afterReconnect) this._emit({}, 'local', true);
    return true;
  }

  _stopEvents() {
    this._subscribed = null;
    if (this._fallbackListener && this._fallbackEvents) {
      this._fallbackEvents.removeListener(this._fallbackListener);
      this._fallbackListener = null;
    }
    if (this._conn?.mode === 'native') this.request('unsubscribe').catch(() => {});
  }

  /**
   * Sends any op to the host and resolves to its whole reply object.
   * Rejects with an NmstoreError carrying the host's code. In fallback mode
   * only the chrome.storage.local-shaped ops work; others reject with
   * E_HOST_NOT_FOUND.
   * @param {string} op
   * @param {Record<string, any>} [params]
   * @returns {Promise<any>}
   */
  request(op, params = {}) {
    // Connected to the host: send now. Awaiting ready()'s settled promise
    // would only add turns of the event loop to every sequential call.
    if (this._conn?.mode === 'native') return this._post(op, params);
    return this.ready().then((conn) => conn.mode === 'fallback' ? this._runFallback(op, params) : this._post(op, params));
  }

  /**
   * @param {string} op
   * @param {Record<string, any>} params
   * @returns {Promise<any>}
   */
  _post(op, params) {
    return new Promise((resolve, reject) => {
      this._send({ id: this._nextId++, op, params, resolve, reject, attempts: 0 });
    });
  }

  /**
   * Items by key: null/undefined for all, a key, an array of keys, or an
   * object of defaults, as chrome.storage.local.get.
   * @param {string | string[] | Record<string, any> | null} [keys]
   * @returns {Promise<Record<string, any>>}
   */
  async get(keys = null) {
    return (await this.request('get', { keys })).items;
  }

  /**
   * Every item whose key starts with prefix.
   * @param {string} prefix
   * @returns {Promise<Record<string, any>>}
   */
  async getByPrefix(prefix) {
    return (await this.request('get', { prefix })).items;
  }

  /**
   * Keys sorted by their UTF-8 bytes, optionally only those under prefix.
   * @param {string} [prefix]
   * @returns {Promise<string[]>}
   */
  async getKeys(prefix) {
    return (await this.request('getKeys', prefix === undefined ? {} : { prefix })).keys;
  }

  /** @param {Record<string, any>} items  written atomically */
  async set(items) { await this.request('set', { items }); }

  /** @param {string | string[]} keys  removed atomically */
  async remove(keys) { await this.request('remove', { keys }); }

  /** @param {string} [prefix]  only keys under it; none means everything */
  async clear(prefix) { await this.request('clear', prefix === undefined ? {} : { prefix }); }

  /**
   * @param {string | string[] | null} [keys]
   * @returns {Promise<number>}
   */
  async getBytesInUse(keys = null) {
    return (await this.request('getBytesInUse', { keys })).bytes;
  }

  /** Resolves once every acknowledged write is on stable storage. */
  async flush() { await this.request('flush'); }

  /**
   * The chrome.storage.local-shaped ops over the fallback area.
   * @param {string} op
   * @param {Record<string, any>} params
   */
  async _runFallback(op, params) {
    const area = /** @type {StorageAreaLike} */ (this.fallbackArea);
    switch (op) {
      case 'get': {
        if (typeof params.prefix === 'string') {
          const all = await area.get(null);
          /** @type {Record<string, any>} */
          const items = {};
          for (const k of Object.keys(all)) if (k.startsWith(params.prefix)) items[k] = all[k];
          return { ok: true, items };
        }
        return { ok: true, items: await area.get(params.keys ?? null) };
      }
      case 'getKeys': {
        const keys = Object.keys(await area.get(null))
          .filter((k) => params.prefix === undefined || k.startsWith(params.prefix))
          .sort(compareUtf8);
        return { ok: true, keys };
      }
      case 'set': await area.set(params.items); return { ok: true };
      case 'remove': await area.remove(params.keys); return { ok: true };
      case 'clear':
        if (params.prefix) {
          const keys = Object.keys(await area.get(null)).filter((k) => k.startsWith(params.prefix));
          if (keys.length) await area.remove(keys);
        } else {
          await area.clear();
        }
        return { ok: true };
      case 'getBytesInUse': return { ok: true, bytes: await area.getBytesInUse(params.keys ?? null) };
      case 'flush': return { ok: true };
      default:
        throw new NmstoreError('E_HOST_NOT_FOUND',
          `"${op}" needs the nmstore host, which is not installed: ${this._conn?.reason ?? ''}`, op);
    }
  }
}
