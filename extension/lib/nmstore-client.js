// SPDX-License-Identifier: MIT
// nmstore-client.js: NmstoreClient, a chrome.storage.local-shaped client for
// the org.nmstore.host native-messaging host. It owns the port: request ids,
// the requests of one task coalesced into one batch frame, chunk
// reassembly, reconnection with one retry, change events, and the
// fallback to chrome.storage.local when the host was never installed. Values
// are converted with Chrome's own rules (toChromeValue) before they are sent,
// so the host stores what chrome.storage.local would.
// Drop-in file: it depends on nothing but the browser's chrome.* APIs,
// IndexedDB and host-errors.js beside it (what each browser's error means).
import { describeHostError, problemText, thisExtension } from './host-errors.js';

/** The native-messaging host name nmstore installs itself under. */
export const HOST_NAME = 'org.nmstore.host';

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
    /**
     * When the host cannot be reached: the sentence and the fix, for a
     * page to show (host-errors.js).
     * @type {import('./host-errors.js').HostProblem | undefined}
     */
    this.problem = undefined;
  }
}

/**
 * The rejection for a host that cannot be reached: its code and message
 * come from the one mapping of browser messages (host-errors.js).
 * @param {string} why  the browser's message
 * @param {import('./host-errors.js').Extension} ext
 * @param {boolean} broken  this profile reached the host before
 */
export function hostUnreachableError(why, ext, broken) {
  const problem = describeHostError(why, ext, { broken });
  const e = new NmstoreError(problem.code, problemText(problem));
  e.problem = problem;
  return e;
}

/**
 * @typedef {object} PortLike  the part of chrome.runtime.Port the client uses
 * @property {(msg: any) => void} postMessage
 * @property {() => void} disconnect
 * @property {{addListener: (fn: (msg: any) => void) => void}} onMessage
 * @property {{addListener: (fn: () => void) => void}} onDisconnect
 * @property {{message?: string} | null} [error]  why Firefox closed the port
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
 * @property {ReachedStore} [reachedStore]  where the client remembers that
 *   this profile reached the host; default IndexedDB (see indexedDbReachedStore)
 * @property {import('./host-errors.js').Extension} [extension]  whose id the
 *   fixes name; default this extension (chrome.runtime)
 * @property {boolean} [coalesce]  default true: the requests made in one task
 *   go to the host as one `batch` frame when it has that op (see
 *   NmstoreClient._enqueue); false sends every request in a frame of its own
 */

/**
 * @typedef {object} Connection  what ready() resolves to
 * @property {'native' | 'fallback'} mode
 * @property {any} [hello]  the host's hello reply when native
 * @property {string} [reason]  why the fallback is in use, for a person
 * @property {import('./host-errors.js').HostProblem} [problem]  in fallback:
 *   the sentence and the fix, for a page
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

/** @typedef {(changes: Record<string, {oldValue?: any, newValue?: any}>, areaName: string, info?: {overflow: boolean}) => void} ChangeListener */

/**
 * The rejection for a host's error reply.
 * @param {string} op
 * @param {{code?: string, message?: string} | null | undefined} error
 */
function hostError(op, error) {
  /** @type {{code?: string, message?: string}} */
  const e = error ?? {};
  return new NmstoreError(e.code ?? 'E_INTERNAL', `nmstore ${op}: ${e.message ?? 'the host gave no message'}`, op);
}

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
  // UTF-8 byte order is code point order. UTF-16 code units sort the same
  // except that surrogates (U+D800-DFFF, the astral planes) must come after
  // U+E000-FFFF; a lone surrogate is compared as U+FFFD, the character it
  // becomes in UTF-8.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) {
      if (x < 0xd800 && y < 0xd800) return x - y;
      const r = utf8Rank(a, i) - utf8Rank(b, i);
      if (r !== 0) return r; // else both are U+FFFD in UTF-8
    }
  }
  return a.length - b.length;
}

/**
 * Where the character at i sorts among UTF-8 sequences: surrogate pairs after
 * the rest of the BMP, a lone surrogate as U+FFFD.
 * @param {string} s
 * @param {number} i
 */
function utf8Rank(s, i) {
  const c = s.charCodeAt(i);
  if (c < 0xd800) return c;
  if (c >= 0xe000) return c;
  const pairStart = c <= 0xdbff ? i : i - 1;
  const hi = s.charCodeAt(pairStart), lo = s.charCodeAt(pairStart + 1);
  if (hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) return 0x10000 + c; // in a pair
  return 0xfffd;
}

// ---------------------------------------------------------------------------
// Chrome's value conversion.
//
// chrome.storage.local converts its arguments with V8ValueConverter
// (content/renderer/v8_value_converter_impl.cc) and the extension bindings.
// Every rule below was checked in Chromium 156 by
// tests/browser/e2e/differential.test.js ("conversion"), which stores each
// awkward value in chrome.storage.local and compares the result with
// toChromeValue's.

/** How deep a value may nest: the item's own value is level 1. */
export const CHROME_MAX_DEPTH = 100;

const byteLengthOfArrayBuffer = /** @type {(this: any) => number} */ (
  /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')).get);

/** @param {object} v @returns {boolean} an ArrayBuffer (not shared), of any realm */
function isArrayBuffer(v) {
  try {
    byteLengthOfArrayBuffer.call(v);
    return true;
  } catch {
    return false;
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A string as Chrome's UTF-8 conversion leaves it: lone surrogates become
 * U+FFFD.
 * @param {string} s
 */
export function wellFormed(s) {
  return /[\ud800-\udfff]/.test(s) ? s.replace(LONE_SURROGATE, '\ufffd') : s;
}

/** @param {string} s  true when s holds a lone surrogate */
function hasLoneSurrogate(s) {
  LONE_SURROGATE.lastIndex = 0;
  const r = /[\ud800-\udfff]/.test(s) && LONE_SURROGATE.test(s);
  LONE_SURROGATE.lastIndex = 0;
  return r;
}

/**
 * Sets an own, enumerable data property, even one named "__proto__", as
 * Chrome's CreateDataProperty does.
 * @param {Record<string, any>} obj
 * @param {string} key
 * @param {any} value
 */
function put(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * An object with the members in the order of their keys' UTF-8 bytes, as
 * Chrome's dictionaries keep them (JavaScript still puts integer-like keys
 * first, in Chrome's results too).
 * @param {Map<string, any>} members
 */
function sortedObject(members) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const k of [...members.keys()].sort(compareUtf8)) put(out, k, members.get(k));
  return out;
}

/**
 * @typedef {object} ConvertState
 * @property {'reject' | 'keep'} binary  set() refuses an ArrayBuffer or
 *   typed array; get()'s defaults keep it (as a copied ArrayBuffer)
 * @property {Set<object>} onPath  the objects being converted: a cycle
 * @property {boolean} sawBinary
 * @property {boolean} sort  members in UTF-8 order, as Chrome returns them;
 *   not needed for what is sent, since the host sorts them itself
 * @property {string} where  for the error message
 * @property {string} [binaryAt]  where a refused ArrayBuffer is
 */

/**
 * @param {any} v
 * @param {number} level
 * @param {ConvertState} st
 * @param {string} path
 * @returns {any} undefined when Chrome drops the value
 */
function convert(v, level, st, path) {
  if (level > CHROME_MAX_DEPTH) return undefined;
  if (v === null) return null;
  switch (typeof v) {
    case 'boolean': return v;
    // NaN and the infinities are dropped; -0 becomes the integer 0.
    case 'number': return Number.isFinite(v) ? (v === 0 ? 0 : v) : undefined;
    case 'string': return wellFormed(v);
    case 'object': break;
    default: return undefined; // undefined, functions, symbols, BigInts
  }
  if (ArrayBuffer.isView(v) || isArrayBuffer(v)) {
    if (st.binary === 'reject') {
      // Chrome refuses it only when writing the item, so an item that a
      // later twin key replaces does not count: note it, decide later.
      st.binaryAt ??= `${st.where}${path} is an ${ArrayBuffer.isView(v) ? 'ArrayBuffer view' : 'ArrayBuffer'}`;
      return null;
    }
    st.sawBinary = true;
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice().buffer;
    return /** @type {ArrayBuffer} */ (v).slice(0);
  }
  // A platform object (the global object here) is an empty dictionary.
  if (v === globalThis) return {};
  // An object met again on its own path is a cycle, cut to null; one met on
  // another branch (a DAG) is converted again.
  if (st.onPath.has(v)) return null;
  st.onPath.add(v);
  try {
    if (Array.isArray(v)) {
      const out = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        let child;
        try {
          child = v[i];
        } catch {
          child = null; // a getter that throws
        }
        // A hole is null; so is anything that converts to nothing.
        const c = Object.prototype.hasOwnProperty.call(v, i) ? convert(child, level + 1, st, `${path}[${i}]`) : null;
        out[i] = c === undefined ? null : c;
      }
      return out;
    }
    let keys;
    try {
      keys = Object.keys(v); // own, enumerable, not symbols
    } catch {
      return {};
    }
    /** @type {Map<string, any>} */
    const members = new Map();
    for (const k of keys) {
      let child;
      try {
        child = v[k];
      } catch {
        child = null; // a getter that throws stores null
      }
      const c = convert(child, level + 1, st, `${path}[${JSON.stringify(k)}]`);
      if (c !== undefined) members.set(wellFormed(k), c); // a later twin wins
    }
    return st.sort ? sortedObject(members) : Object.fromEntries(members);
  } finally {
    st.onPath.delete(v);
  }
}

/**
 * A value as chrome.storage.local stores it: a Date, RegExp, Map, Set or
 * Error is the object of its own enumerable properties (usually {}), toJSON
 * is ignored, new Number(5) is {} and new String('x') is {"0": "x"}, -0 is
 * 0, NaN, the infinities, undefined, functions, symbols and BigInts are
 * dropped from objects and null in arrays, holes are null, a getter that
 * throws is null, a cycle is cut to null (a repeated object elsewhere is
 * kept), nesting past 100 levels is dropped, lone surrogates are U+FFFD.
 * @param {any} value
 * Members come in the order of their keys' UTF-8 bytes, as Chrome returns
 * them.
 * @param {any} value
 * @param {{binary?: 'reject' | 'keep'}} [options]  'reject' (the default,
 *   as set()): an ArrayBuffer or typed array throws an NmstoreError E_VALUE;
 *   'keep' (as get()'s defaults): it becomes a copied ArrayBuffer
 * @returns {any} undefined when Chrome would drop the value (an item with
 *   such a value is not stored)
 */
export function toChromeValue(value, options = {}) {
  /** @type {ConvertState} */
  const st = { binary: options.binary ?? 'reject', onPath: new Set(), sawBinary: false, sort: true, where: 'the value' };
  const out = convert(value, 1, st, '');
  if (st.binaryAt) throw binaryError(st.binaryAt);
  return out;
}

/** @param {string} at  where the ArrayBuffer is */
function binaryError(at) {
  return new NmstoreError('E_VALUE', `Cannot serialize value to JSON: ${at}, which chrome.storage.local ` +
    'refuses too; store it as base64 text or {"$bytes": "<base64>"}', 'set');
}

/**
 * Each item's value converted on its own, as chrome.storage.local does for
 * set() and for get()'s defaults; items whose value converts to nothing are
 * left out.
 * @param {Record<string, any>} items
 * @param {string} sig  the signature for the TypeError
 * @param {string} param  the parameter's name, for the TypeError
 * @param {ConvertState} st
 */
function convertItems(items, sig, param, st) {
  /** @type {Map<string, any>} */
  const members = new Map();
  /** @type {Map<string, string>} refused binary data, by the key it is under */
  const binary = new Map();
  for (const k of Object.keys(items)) {
    let v;
    try {
      v = items[k];
    } catch {
      throw new TypeError(`${sig}: Error at parameter '${param}': Script threw an error.`);
    }
    st.where = `item ${JSON.stringify(k)}`;
    st.binaryAt = undefined;
    const c = convert(v, 1, st, '');
    if (c === undefined) continue; // dropped; an earlier twin stays
    const key = wellFormed(k); // a later twin (after U+FFFD) replaces an earlier one
    if (st.binaryAt) binary.set(key, st.binaryAt); else binary.delete(key);
    members.set(key, c);
  }
  if (binary.size) throw binaryError(/** @type {string} */ (binary.values().next().value));
  return st.sort ? sortedObject(members) : Object.fromEntries(members);
}

const SIG_GET = 'Error in invocation of storage.get(optional [string|array|object] keys, optional function callback)';
const SIG_SET = 'Error in invocation of storage.set(object items, optional function callback)';
const SIG_REMOVE = 'Error in invocation of storage.remove([string|array] keys, optional function callback)';
const SIG_BYTES = 'Error in invocation of storage.getBytesInUse(optional [string|array] keys, optional function callback)';

/**
 * A string or an array of strings, as Chrome checks it; null when it is
 * neither. Holes and non-strings in the array do not match.
 * @param {any} keys
 * @returns {string[] | string | null}
 */
function keyList(keys) {
  if (typeof keys === 'string') return keys;
  if (!Array.isArray(keys)) return null;
  const out = [];
  for (let i = 0; i < keys.length; i++) {
    if (!Object.prototype.hasOwnProperty.call(keys, i) || typeof keys[i] !== 'string') return null;
    out.push(keys[i]);
  }
  return out;
}

/**
 * A key named by a string in get(), remove() or getBytesInUse() that holds a
 * lone surrogate never matches in Chrome (the stored key has U+FFFD there),
 * so it is left out.
 * @param {string[] | string} keys
 */
function matchable(keys) {
  if (typeof keys === 'string') return hasLoneSurrogate(keys) ? [] : keys;
  return keys.some(hasLoneSurrogate) ? keys.filter((k) => !hasLoneSurrogate(k)) : keys;
}

/** @param {any} v */
function isDict(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !isArrayBuffer(v);
}

/**
 * Chrome's merge of get()'s defaults with what is stored: a stored value
 * wins; where both are objects they are merged member by member, at every
 * depth. Members come in the order of their keys' UTF-8 bytes.
 * @param {Record<string, any>} stored
 * @param {Record<string, any>} defaults
 */
export function mergeDefaults(stored, defaults) {
  /** @type {Record<string, any>} */
  const out = {};
  const keys = [...new Set([...Object.keys(stored), ...Object.keys(defaults)])].sort(compareUtf8);
  for (const k of keys) {
    const has = Object.prototype.hasOwnProperty.call(stored, k);
    const hasDefault = Object.prototype.hasOwnProperty.call(defaults, k);
    if (has && hasDefault && isDict(stored[k]) && isDict(defaults[k])) put(out, k, mergeDefaults(stored[k], defaults[k]));
    else put(out, k, has ? stored[k] : defaults[k]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// "This profile has reached the host before", kept in IndexedDB: not in
// chrome.storage.local, whose keys the extension sees as its own.

/**
 * @typedef {object} ReachedStore
 * @property {(hostName: string) => Promise<boolean>} get
 * @property {(hostName: string, reached: boolean) => Promise<void>} set
 */

/** A ReachedStore in memory, for contexts without IndexedDB. */
export function memoryReachedStore() {
  const set = new Set();
  return {
    /** @param {string} name */
    async get(name) { return set.has(name); },
    /** @param {string} name @param {boolean} reached */
    async set(name, reached) { if (reached) set.add(name); else set.delete(name); },
  };
}

/**
 * The default ReachedStore: IndexedDB database "nmstore-client", object
 * store "reached", one record per host name.
 * @param {IDBFactory} idb
 * @returns {ReachedStore}
 */
export function indexedDbReachedStore(idb) {
  /** @type {Promise<IDBDatabase> | null} */
  let opening = null;
  const open = () => {
    opening ??= new Promise((resolve, reject) => {
      const req = idb.open('nmstore-client', 1);
      req.onupgradeneeded = () => { req.result.createObjectStore('reached'); };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => { opening = null; reject(req.error); };
    });
    return opening;
  };
  /**
   * @param {IDBTransactionMode} mode
   * @param {(s: IDBObjectStore) => IDBRequest} fn
   * @returns {Promise<any>}
   */
  const run = async (mode, fn) => {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction('reached', mode);
      const req = fn(tx.objectStore('reached'));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  };
  return {
    async get(name) { return (await run('readonly', (s) => s.get(name))) !== undefined; },
    async set(name, reached) {
      await run('readwrite', (s) => (reached ? s.put({ at: Date.now() }, name) : s.delete(name)));
    },
  };
}

/**
 * @typedef {(area: StorageAreaLike, params: Record<string, any>) => Promise<Record<string, any>>} FallbackOp
 */

/**
 * The chrome.storage.local-shaped ops, run over the fallback area while the
 * host is not installed: one entry per op, so that FALLBACK_OPS is this
 * table's own list.
 * @type {Map<string, FallbackOp>}
 */
const FALLBACK = new Map(/** @type {Array<[string, FallbackOp]>} */ ([
  ['get', async (area, params) => {
    if (typeof params.prefix === 'string') {
      const all = await area.get(null);
      /** @type {Record<string, any>} */
      const items = {};
      for (const k of Object.keys(all)) if (k.startsWith(params.prefix)) items[k] = all[k];
      return { ok: true, items };
    }
    return { ok: true, items: await area.get(params.keys ?? null) };
  }],
  ['getKeys', async (area, params) => {
    const keys = Object.keys(await area.get(null))
      .filter((k) => params.prefix === undefined || k.startsWith(params.prefix))
      .sort(compareUtf8);
    return { ok: true, keys };
  }],
  ['set', async (area, params) => { await area.set(params.items); return { ok: true }; }],
  ['remove', async (area, params) => { await area.remove(params.keys); return { ok: true }; }],
  ['clear', async (area, params) => {
    if (params.prefix) {
      const keys = Object.keys(await area.get(null)).filter((k) => k.startsWith(params.prefix));
      if (keys.length) await area.remove(keys);
    } else {
      await area.clear();
    }
    return { ok: true };
  }],
  ['getBytesInUse', async (area, params) => ({ ok: true, bytes: await area.getBytesInUse(params.keys ?? null) })],
  ['flush', async () => ({ ok: true })],
]));

/** The ops that also work without the host, over chrome.storage.local. */
export const FALLBACK_OPS = Object.freeze([...FALLBACK.keys()]);

/**
 * The ops only the host can run; without it they reject with
 * E_HOST_NOT_FOUND. With FALLBACK_OPS, every op of the protocol: the host's
 * dispatch tables are the source, and tests/browser/unit/ops.test.js checks
 * these two lists against the ops the built host names in its hello reply.
 */
export const HOST_ONLY_OPS = Object.freeze([
  'hello', 'subscribe', 'unsubscribe',
  'sessionRestore', 'sessionSummary', 'sessionRemoveTorrent', 'sessionMigrate', 'sessionCheck',
  'unlock', 'lock', 'batch',
]);

// ---------------------------------------------------------------------------
// Coalescing: the requests made in one task travel as one `batch` frame.

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
 * NativeSessionStore returns adds to the request's own (_settle).
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
    case 'bigint': return false; // JSON.stringify throws: let _send say so
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

    /** @type {PortLike | null} */
    this._port = null;
    /** @type {Promise<Connection> | null} */
    this._connecting = null;
    /** @type {Connection | null} */
    this._conn = null;
    this._nextId = 1;
    /** @type {Map<number, Pending>} frames sent and not yet answered, in the order sent */
    this._pending = new Map();
    this._coalesce = options.coalesce ?? true;
    /** @type {Pending[]} made in this task, sent at its end (_flushQueue) */
    this._queue = [];
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
    const port = this._port;
    this._port = null;
    this._conn = null;
    this._failAll(new NmstoreError('E_DISCONNECTED', 'the client was disconnected by its owner'));
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
      const id = this._nextId++;
      port.onMessage.addListener((msg) => this._onMessage(port, msg));
      port.onDisconnect.addListener(() => {
        const why = this._disconnectMessage(port);
        if (!opened) {
          this._pending.delete(id);
          this._unreachable(why, () => this._neverReached(why)).then(resolve, reject);
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
    if (this._port !== port) return;
    this._port = null;
    this._conn = null;
    this._chunks.clear();
    this._eventChunks = null;
    // A batch's requests are retried one by one, each with its own count.
    const inFlight = [...this._pending.values()].flatMap((p) => p.members ?? [p]).sort((a, b) => a.id - b.id);
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
        if (conn.mode === 'native') this._enqueue(p);
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
    // Those still queued would otherwise go out at the end of this task,
    // on a new port: rejected too, as when each was sent at once.
    const all = [...this._pending.values(), ...this._queue];
    this._pending.clear();
    this._queue = [];
    for (const p of all) p.reject(err);
  }

  /**
   * How many requests one batch frame may carry, or 0 when requests go one
   * by one: coalescing is off, or the host has no `batch` op (an older host).
   * @returns {number}
   */
  _batchSize() {
    const hello = this._conn?.mode === 'native' ? this._conn.hello : null;
    if (!this._coalesce || !Array.isArray(hello?.ops) || !hello.ops.includes('batch')) return 0;
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
   * two or more (_flushQueue), or as soon as they fill one. A request that may not go in a batch (an op
   * the host refuses there, or a large one) is sent at once, after those
   * queued before it; one the browser cannot send is so rejected at once,
   * as before. Requests keep their order on the wire, so each still gets
   * the reply it would get alone, in the same order.
   * @param {Pending} p
   */
  _enqueue(p) {
    if (this._batchSize() < 2) {
      this._send(p);
    } else if (NEVER_BATCHED.has(p.op) || (p.values = batchValues({ ...p.params, id: p.id, op: p.op })) < 0) {
      this._flushQueue();
      this._send(p);
    } else {
      this._queue.push(p);
      if (this._queue.length === 1) queueMicrotask(() => this._flushQueue());
      // A full frame goes at once: the browser and the host work on it
      // while this task makes the rest (2,000 sets in one task spent 30 ms
      // making requests before the first byte left).
      else if (this._queue.length >= this._batchSize()) this._flushQueue();
    }
  }

  /**
   * Sends what was queued, in the order it was made: batch frames of at
   * most _batchSize() requests and BATCH_MAX_VALUES values, a single
   * request alone.
   */
  _flushQueue() {
    const queue = this._queue;
    this._queue = [];
    const most = this._batchSize();
    if (queue.length < 2 || most < 2 || !this._port) {
      for (const p of queue) this._send(p);
      return;
    }
    /** @type {Pending[]} */
    let run = [];
    let values = 0;
    const sendRun = () => {
      if (run.length === 1) this._send(run[0]);
      else if (run.length > 1) this._sendBatch(run);
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
  _sendBatch(members) {
    const port = /** @type {PortLike} */ (this._port);
    const id = this._nextId++;
    this._pending.set(id, {
      id, op: 'batch', params: {}, attempts: 1, members,
      resolve: () => {}, // _settle answers each member from the reply
      reject: (err) => { for (const m of members) m.reject(err); },
    });
    try {
      port.postMessage({ id, op: 'batch', requests: members.map((m) => ({ ...m.params, id: m.id, op: m.op })) });
    } catch {
      // A closed port, or a message the browser refuses: each request on
      // its own meets the same and is answered as it was before coalescing
      // (_send waits for onDisconnect, or rejects what cannot be sent).
      this._pending.delete(id);
      for (const m of members) this._send(m);
      return;
    }
    for (const m of members) m.attempts++;
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
      this._pending.delete(p.id);
      p.reject(new NmstoreError('E_VALUE',
        `nmstore ${p.op}: the request cannot be sent to the host: ${unsendable ?? why}`, p.op));
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
    let p = this._pending.get(msg.id);
    if (!p && msg.id === null && msg.ok === false) {
      // A request the host could not read is answered with id null. Replies
      // come in request order, so it is the oldest one still waiting.
      p = this._pending.values().next().value;
    }
    if (!p) return;
    this._pending.delete(p.id);
    this._settle(p, msg);
  }

  /**
   * Resolves or rejects a request with its reply; a batch, each of its
   * requests with its own reply, in order. A batch refused as a whole (or
   * an id-null reply to it) rejects each request with the host's error.
   * @param {Pending} p
   * @param {any} msg
   */
  _settle(p, msg) {
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
      this._send(again[0]);
      for (const m of again.slice(1)) this._enqueue(m);
    }
    const one = (/** @type {Pending} */ m, /** @type {number} */ i) => {
      const r = replies[i];
      if (!msg.ok) {
        m.reject(hostError(m.op, msg.error));
      } else if (r !== null && typeof r === 'object') {
        this._settle(m, r);
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
      this._enqueue({ id: this._nextId++, op, params, resolve, reject, attempts: 0 });
    });
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
    /** @type {ConvertState} */
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
  async _runFallback(op, params) {
    const run = FALLBACK.get(op);
    if (!run) {
      throw new NmstoreError('E_HOST_NOT_FOUND',
        `"${op}" needs the nmstore host, which is not installed: ${this._conn?.reason ?? ''}`, op);
    }
    return run(/** @type {StorageAreaLike} */ (this.fallbackArea), params);
  }
}
