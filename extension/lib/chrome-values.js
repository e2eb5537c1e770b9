// SPDX-License-Identifier: MIT
// chrome-values.js: chrome.storage.local's rules for what it is given, so
// that the client sends the host what Chrome itself would store: keys in
// the order of their UTF-8 bytes, values converted as Chrome converts them
// (toChromeValue), the TypeErrors its bindings throw for keys of the wrong
// type, and the merge of get()'s defaults. Pure functions; no port, no
// host.
import { NmstoreError } from './nmstore-error.js';

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
export function convertItems(items, sig, param, st) {
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

export const SIG_GET = 'Error in invocation of storage.get(optional [string|array|object] keys, optional function callback)';
export const SIG_SET = 'Error in invocation of storage.set(object items, optional function callback)';
export const SIG_REMOVE = 'Error in invocation of storage.remove([string|array] keys, optional function callback)';
export const SIG_BYTES = 'Error in invocation of storage.getBytesInUse(optional [string|array] keys, optional function callback)';

/**
 * A string or an array of strings, as Chrome checks it; null when it is
 * neither. Holes and non-strings in the array do not match.
 * @param {any} keys
 * @returns {string[] | string | null}
 */
export function keyList(keys) {
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
export function matchable(keys) {
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
