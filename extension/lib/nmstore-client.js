// SPDX-License-Identifier: MIT
// nmstore-client.js: NmstoreClient, a chrome.storage.local-shaped client for
// the org.nmstore.host native-messaging host. It owns the connection: the
// port and its hello, reconnection with one retry, change events, and the
// fallback to chrome.storage.local when the host was never installed.
// Values are converted with Chrome's own rules (chrome-values.js) before
// they are sent, so the host stores what chrome.storage.local would; the
// port's traffic (ids, coalescing into batch frames, chunks, replies in
// order) is client-wire.js's.
// Drop-in: copy extension/lib/ whole. Its modules depend on nothing but the
// browser's chrome.* APIs, IndexedDB and each other; this one is the entry
// point, and re-exports what the others offer an author.
import { thisExtension } from './host-errors.js';
import { NmstoreError, hostUnreachableError, hostMissingReason } from './nmstore-error.js';
import { SIG_GET, SIG_SET, SIG_REMOVE, SIG_BYTES, convertItems, keyList, matchable, mergeDefaults } from './chrome-values.js';
import { indexedDbReachedStore, memoryReachedStore, runFallback } from './client-fallback.js';
import { ClientWire } from './client-wire.js';

export { NmstoreError, hostUnreachableError, hostMissingReason } from './nmstore-error.js';
export { CHROME_MAX_DEPTH, compareUtf8, mergeDefaults, toChromeValue, wellFormed } from './chrome-values.js';
export { FALLBACK_OPS, HOST_ONLY_OPS, indexedDbReachedStore, memoryReachedStore } from './client-fallback.js';
export { COALESCE_FRAME_REQUESTS, batchValues, jsonBytesAtMost } from './client-wire.js';

/** @typedef {import('./client-wire.js').PortLike} PortLike */
/** @typedef {import('./client-fallback.js').StorageAreaLike} StorageAreaLike */
/** @typedef {import('./client-fallback.js').ReachedStore} ReachedStore */

/** The native-messaging host name nmstore installs itself under. */
export const HOST_NAME = 'org.nmstore.host';

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
 * @property {ReachedStore} [reachedStore]  where the client remembers that
 *   this profile reached the host; default IndexedDB (see indexedDbReachedStore)
 * @property {import('./host-errors.js').Extension} [extension]  whose id the
 *   fixes name; default this extension (chrome.runtime)
 * @property {boolean} [coalesce]  default true: the requests made in one task
 *   go to the host as one `batch` frame when it has that op (see
 *   ClientWire.enqueue); false sends every request in a frame of its own
 */

/**
 * @typedef {object} Connection  what ready() resolves to
 * @property {'native' | 'fallback'} mode
 * @property {any} [hello]  the host's hello reply when native
 * @property {string} [reason]  why the fallback is in use, for a person
 * @property {import('./host-errors.js').HostProblem} [problem]  in fallback:
 *   the sentence and the fix, for a page
 */

/** @typedef {(changes: Record<string, {oldValue?: any, newValue?: any}>, areaName: string, info?: {overflow: boolean}) => void} ChangeListener */

/** @returns {any} the extension's chrome namespace, or undefined outside an extension */
function chromeApi() {
  return /** @type {any} */ (globalThis).chrome;
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
    /** @type {ReachedStore} */
    this._reachedStore = options.reachedStore ?? (globalThis.indexedDB
      ? indexedDbReachedStore(globalThis.indexedDB) : memoryReachedStore());
    /** Known to be recorded in the reached store already. */
    this._reachedRecorded = false;
    /** @type {import('./host-errors.js').Extension} */
    this._extension = options.extension ?? thisExtension();

    /** @type {Promise<Connection> | null} */
    this._connecting = null;
    /** @type {Connection | null} */
    this._conn = null;
    this._wire = new ClientWire({
      hello: () => (this._conn?.mode === 'native' ? this._conn.hello : null),
      ready: () => this.ready(),
      onEvent: (ev) => this._onEvent(ev),
    }, options.coalesce ?? true);
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
   * Tries the host again now, whatever the last attempt decided (the
   * fallback, or a host that could not be reached), and starts change
   * events again when there are listeners. For "Try again" after a person
   * fixed the install. Resolves to the mode in use; rejects as ready() does.
   * @returns {Promise<Connection>}
   */
  async reconnect() {
    const wasNative = this._conn?.mode === 'native';
    this.retryNative();
    const conn = await this.ready();
    // A failed ready() left the events off; a native port that was never
    // dropped still has them.
    if (!wasNative && this._listeners.size) {
      this._subscribed ??= this._startEvents();
      if (!(await this._subscribed)) this._subscribed = this._startEvents(true);
      await this._subscribed;
    }
    return conn;
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
    await this._resubscribeAfterUnlock();
  }

  /**
   * The host refuses subscribe while the store is locked (E_LOCKED), so the
   * subscription made when the first listener came was never in place:
   * after an unlock the client subscribes again (the protocol allows it at
   * any time and skips nothing) and tells its listeners to re-read (an
   * overflow), since what they read while locked was nothing.
   */
  async _resubscribeAfterUnlock() {
    if (this._listeners.size === 0 || this._conn?.mode !== 'native') return;
    await this._subscribed?.catch(() => false);
    this._subscribed = this._startEvents(true);
    await this._subscribed;
  }

  /**
   * Forgets that this profile ever reached the host, so that a host that
   * cannot be found falls back to chrome.storage.local again (e.g. after a
   * person uninstalled nmstore on purpose).
   */
  async forgetHost() {
    this._reachedRecorded = false;
    await this._reachedStore.set(this.hostName, false);
  }

  /** Closes the port; in-flight requests are rejected. */
  disconnect() {
    const port = this._wire.port;
    this._wire.port = null;
    this._conn = null;
    this._wire.failAll(new NmstoreError('E_DISCONNECTED', 'the client was disconnected by its owner'));
    if (port) port.disconnect();
  }

  /**
   * A host that cannot be reached: a broken one when this profile reached
   * it before, otherwise the given error (or the fallback).
   * @param {string} why
   * @param {() => Connection | NmstoreError} otherwise
   * @returns {Promise<Connection>}
   */
  async _unreachable(why, otherwise) {
    let reached = false;
    try {
      reached = await this._reachedStore.get(this.hostName);
    } catch (e) {
      // IndexedDB unusable: nothing is known, so nothing can be claimed.
      console.error('nmstore: could not read whether this profile reached the host', e);
    }
    if (reached) throw hostUnreachableError(why, this._extension, true);
    const r = otherwise();
    if (r instanceof NmstoreError) throw r;
    return r;
  }

  /**
   * A host this profile never reached: not installed means the fallback
   * (when there is one); anything else is an error that names its fix.
   * @param {string} why  the browser's message
   * @returns {Connection | NmstoreError}
   */
  _neverReached(why) {
    const err = hostUnreachableError(why, this._extension, false);
    if (err.code !== 'E_HOST_NOT_FOUND' || !this.fallbackArea) return err;
    this._conn = { mode: 'fallback', reason: hostMissingReason(this.hostName), problem: err.problem };
    return this._conn;
  }

  /** @returns {Promise<Connection>} */
  _open() {
    return new Promise((resolve, reject) => {
      let port;
      try {
        port = this._connectFn(this.hostName);
      } catch (e) {
        const why = /** @type {Error} */ (e).message;
        this._unreachable(why, () => this._neverReached(why)).then(resolve, reject);
        return;
      }
      let opened = false;
      const id = this._wire.nextId++;
      port.onMessage.addListener((msg) => this._wire.onMessage(port, msg));
      port.onDisconnect.addListener(() => {
        const why = this._disconnectMessage(port);
        if (!opened) {
          this._wire.pending.delete(id);
          this._unreachable(why, () => this._neverReached(why)).then(resolve, reject);
          return;
        }
        this._onDisconnect(port, why);
      });
      this._wire.pending.set(id, {
        id, op: 'hello', params: {}, attempts: 1,
        resolve: (reply) => {
          opened = true;
          this._wire.port = port;
          this._conn = { mode: 'native', hello: reply };
          if (!this._reachedRecorded) {
            this._reachedRecorded = true;
            this._reachedStore.set(this.hostName, true).catch((e) => {
              this._reachedRecorded = false;
              console.error('nmstore: could not record that this profile reached the host', e);
            });
          }
          resolve(this._conn);
        },
        reject: (err) => { reject(err); },
      });
      port.postMessage({ id, op: 'hello' });
    });
  }

  /**
   * Why a port closed. Firefox puts it on port.error and leaves
   * runtime.lastError empty; Chrome does the opposite.
   * @param {PortLike} port
   * @returns {string}
   */
  _disconnectMessage(port) {
    return port.error?.message || this._lastError() || 'the host closed the connection';
  }

  /**
   * @param {PortLike} port
   * @param {string} why
   */
  _onDisconnect(port, why) {
    if (this._wire.port !== port) return;
    this._conn = null;
    // A batch's requests are retried one by one, each with its own count.
    const inFlight = this._wire.takeInFlight();
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
        if (conn.mode === 'native') this._wire.enqueue(p);
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
   * Rejects with an NmstoreError carrying the host's code. Requests made in
   * the same task travel together as one batch frame (unless the client was
   * made with coalesce: false); each still gets exactly its own reply.
   * In fallback mode
   * only the chrome.storage.local-shaped ops work; others reject with
   * E_HOST_NOT_FOUND.
   * @param {string} op
   * @param {Record<string, any>} [params]
   * @returns {Promise<any>}
   */
  request(op, params = {}) {
    // Connected to the host: send now. Awaiting ready()'s settled promise
    // would only add turns of the event loop to every sequential call.
    if (this._conn?.mode === 'native') return this._wire.post(op, params);
    return this.ready().then((conn) => conn.mode === 'fallback' ? this._runFallback(op, params) : this._wire.post(op, params));
  }

  /**
   * Items by key: null/undefined for all, a key, an array of keys, or an
   * object of defaults, as chrome.storage.local.get. Defaults are converted
   * as Chrome converts them (toChromeValue) and merged with what is stored
   * as Chrome merges them. Like Chrome, it throws a TypeError at once for
   * keys of another type.
   * @param {string | string[] | Record<string, any> | null} [keys]
   * @returns {Promise<Record<string, any>>}
   */
  get(keys = null) {
    if (keys === null || keys === undefined) return this.request('get', { keys: null }).then((r) => r.items);
    const list = keyList(keys);
    if (list !== null) return this.request('get', { keys: matchable(list) }).then((r) => r.items);
    if (Array.isArray(keys)) throw new TypeError(`${SIG_GET}: Error at parameter 'keys': Value did not match any choice.`);
    if (typeof keys !== 'object') throw new TypeError(`${SIG_GET}: No matching signature.`);
    /** @type {import('./chrome-values.js').ConvertState} */
    const st = { binary: 'keep', onPath: new Set(), sawBinary: false, sort: false, where: '' };
    const defaults = convertItems(keys, SIG_GET, 'keys', st);
    if (!st.sawBinary) return this.request('get', { keys: defaults }).then((r) => r.items);
    // An ArrayBuffer cannot travel as JSON: read the stored values and merge
    // here, as Chrome does, with the members in Chrome's order.
    const sorted = convertItems(keys, SIG_GET, 'keys', { ...st, onPath: new Set(), sort: true });
    return this.request('get', { keys: Object.keys(sorted) }).then((r) => mergeDefaults(r.items, sorted));
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

  /**
   * Writes the items atomically, each value converted as chrome.storage.local
   * converts it (toChromeValue). Like Chrome, it throws a TypeError at once
   * when items is not an object, and rejects with E_VALUE ("Cannot
   * serialize value to JSON") for an ArrayBuffer or typed array.
   * @param {Record<string, any>} items
   * @returns {Promise<void>}
   */
  set(items) {
    if (items === null || typeof items !== 'object' || Array.isArray(items)) {
      throw new TypeError(`${SIG_SET}: No matching signature.`);
    }
    let converted;
    try {
      converted = convertItems(items, SIG_SET, 'items', { binary: 'reject', onPath: new Set(), sawBinary: false, sort: false, where: '' });
    } catch (e) {
      if (e instanceof NmstoreError) return Promise.reject(e);
      throw e;
    }
    return this.request('set', { items: converted }).then(() => {});
  }

  /**
   * Removes the keys atomically. Throws a TypeError at once, as Chrome
   * does, for anything but a string or an array of strings.
   * @param {string | string[]} keys
   * @returns {Promise<void>}
   */
  remove(keys) {
    const list = keyList(keys);
    if (list === null) {
      throw new TypeError(Array.isArray(keys) ? `${SIG_REMOVE}: Error at parameter 'keys': Value did not match any choice.`
        : `${SIG_REMOVE}: No matching signature.`);
    }
    return this.request('remove', { keys: matchable(list) }).then(() => {});
  }

  /** @param {string} [prefix]  only keys under it; none means everything */
  async clear(prefix) { await this.request('clear', prefix === undefined ? {} : { prefix }); }

  /**
   * Bytes in use by the keys (all when null or absent), counted as Chrome
   * counts them; a key named twice counts twice.
   * @param {string | string[] | null} [keys]
   * @returns {Promise<number>}
   */
  getBytesInUse(keys = null) {
    let list = null;
    if (keys !== null && keys !== undefined) {
      list = keyList(keys);
      if (list === null) {
        throw new TypeError(Array.isArray(keys) ? `${SIG_BYTES}: Error at parameter 'keys': Value did not match any choice.`
          : `${SIG_BYTES}: No matching signature.`);
      }
      list = matchable(list);
    }
    return this.request('getBytesInUse', { keys: list }).then((r) => r.bytes);
  }

  /** Resolves once every acknowledged write is on stable storage. */
  async flush() { await this.request('flush'); }

  /**
   * The chrome.storage.local-shaped ops over the fallback area.
   * @param {string} op
   * @param {Record<string, any>} params
   */
  _runFallback(op, params) {
    return runFallback(/** @type {StorageAreaLike} */ (this.fallbackArea), op, params, this._conn?.reason ?? '');
  }
}
