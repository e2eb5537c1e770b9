// SPDX-License-Identifier: MIT
// native-session-store.js: NativeSessionStore, the BitTorrent engine's
// ISessionStore over NmstoreClient, with restoreSession() and the one-time
// move of session keys from the chrome.storage.local fallback to the host.
// Drop-in file: it imports only nmstore-client.js.
import { NmstoreClient, NmstoreError, wellFormed } from './nmstore-client.js';

/**
 * @typedef {object} IndexEntry  one entry of the engine's torrent index
 * @property {string} infoHash
 * @property {'file' | 'magnet'} source
 * @property {string} [magnetUri]
 * @property {number} addedAt
 */

/**
 * @typedef {object} RestoredTorrent
 * @property {string} infoHash
 * @property {IndexEntry} entry
 * @property {any} state  the parsed state object, or null when none is stored
 * @property {Uint8Array | null} torrentFile  the .torrent file's bencoded bytes
 * @property {Uint8Array | null} infoDict  the info dictionary's bencoded bytes
 */

/**
 * @typedef {object} Problem
 * @property {string | null} infoHash
 * @property {string} key
 * @property {string} reason
 */

/**
 * @typedef {object} RestoredSession
 * @property {any} index  the parsed index, or null when there is none
 * @property {RestoredTorrent[]} torrents
 * @property {Problem[]} problems  torrents that cannot be restored, and why
 * @property {'sessionRestore' | 'get'} via  one-round-trip op, or per-key gets on an older host
 */

/**
 * Uint8Array's own base64 methods (Chromium 140 and later): native code,
 * where the fallbacks below go through a binary string one character at a
 * time. Looked up on each call, which costs nothing next to the work, so
 * that tests can take them away.
 * @returns {{fromBase64?: (s: string) => Uint8Array, toBase64?: Function}}
 */
function nativeBase64() {
  const U8 = /** @type {any} */ (Uint8Array);
  return { fromBase64: U8.fromBase64, toBase64: U8.prototype.toBase64 };
}

/** @param {Uint8Array} bytes */
export function bytesToBase64(bytes) {
  const { toBase64 } = nativeBase64();
  if (typeof toBase64 === 'function') return toBase64.call(bytes);
  return bytesToBase64Fallback(bytes);
}

/** @param {string} b64 */
export function base64ToBytes(b64) {
  const { fromBase64 } = nativeBase64();
  // fromBase64 rejects what atob rejects, and like atob it skips ASCII
  // whitespace and accepts text without its padding.
  if (typeof fromBase64 === 'function') return fromBase64.call(Uint8Array, b64);
  return base64ToBytesFallback(b64);
}

/**
 * For browsers without Uint8Array.prototype.toBase64.
 * @param {Uint8Array} bytes
 */
export function bytesToBase64Fallback(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, /** @type {any} */ (bytes.subarray(i, i + 0x8000)));
  }
  return btoa(bin);
}

/**
 * For browsers without Uint8Array.fromBase64.
 * @param {string} b64
 */
export function base64ToBytesFallback(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** @param {any} v */
function isBytesValue(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) &&
    typeof v.$bytes === 'string' && Object.keys(v).length === 1;
}

/** Padded standard base64, as btoa and the host's {"$bytes"} write it. */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The bytes of strict base64 text, or null when it is not that.
 * @param {string} text
 * @returns {Uint8Array | null}
 */
function strictBase64(text) {
  if (!STRICT_BASE64.test(text)) return null;
  try {
    return base64ToBytes(text);
  } catch {
    return null;
  }
}

/**
 * A stored value as bytes, in every form a JSTorrent adapter wrote them:
 * {"$bytes"} (this store), a base64 string (the real extension's
 * chrome.storage.local adapter stores every set() value so), and any other
 * JSON value as the UTF-8 of its JSON text (what an engine that wrote
 * JSON with set() reads back).
 * @param {any} v
 */
function valueToBytes(v) {
  if (isBytesValue(v)) return base64ToBytes(v.$bytes);
  if (typeof v === 'string') {
    const bytes = strictBase64(v);
    if (bytes) return bytes;
  }
  return new TextEncoder().encode(JSON.stringify(v));
}

/** Keys whose bytes the engine hands to its bencode decoder. */
const BENCODE_KEY = /:(torrentfile|infodict)$/;

/**
 * Bencoded bytes under one more layer of base64 text: what engines before
 * jstorrent dfa968a set for a .torrent or info dictionary. Today's engine
 * reads these keys with get() and decodes the bytes as bencode, so they
 * come back decoded. A bencoded dictionary starts with "d"; base64 of one
 * with "Z". Bytes that are neither come back as they are (the engine then
 * fails on them, and restoreSession() reports them).
 * @param {Uint8Array} bytes
 */
function unwrapBencode(bytes) {
  if (bytes.length === 0 || bytes[0] === 0x64) return bytes;
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes;
  }
  return strictBase64(text) ?? bytes;
}

/**
 * The bytes the engine gets for key.
 * @param {string} key
 * @param {any} v
 */
function bytesFor(key, v) {
  const bytes = valueToBytes(v);
  return BENCODE_KEY.test(key) ? unwrapBencode(bytes) : bytes;
}

/**
 * A stored value as JSON, in every form the engine's setJson or an
 * older engine's set of JSON text left it: a JSON value as is; {"$bytes"}
 * parsed from its UTF-8 text; a base64 string of JSON text (set() through
 * the real extension) parsed when it holds an object or array, since the
 * engine's JSON values (index, states) are objects. Any other string is
 * the string.
 * @param {any} v
 */
function valueToJson(v) {
  if (isBytesValue(v)) return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64ToBytes(v.$bytes)));
  if (typeof v === 'string') {
    const bytes = strictBase64(v);
    if (bytes) {
      try {
        const parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
        if (parsed !== null && typeof parsed === 'object') return parsed;
      } catch {
        // not JSON text: the string is the value
      }
    }
  }
  return v;
}

/**
 * A fallback value in the form the host keeps its meaning in: a base64
 * string is what the real extension's adapter made of set() bytes, so it
 * becomes {"$bytes"} (canonical, which the host requires); anything else
 * moves as it is. The engine's setJson values are objects, never strings.
 * @param {any} v
 */
function carried(v) {
  if (typeof v === 'string') {
    const bytes = strictBase64(v);
    if (bytes) return { $bytes: bytesToBase64(bytes) };
  }
  return v;
}

/**
 * @param {any} v
 * @returns {any} the parsed JSON, or undefined when it does not parse
 */
function jsonOrUndefined(v) {
  try {
    return valueToJson(v);
  } catch {
    return undefined;
  }
}

/**
 * The bencoded bytes of a .torrent or info dictionary, from what was stored,
 * in the forms get() reads.
 * @param {any} v  a {"$bytes"} value or a base64 string
 * @returns {Uint8Array}
 */
export function bencodedBytes(v) {
  const bytes = unwrapBencode(valueToBytes(v));
  if (bytes.length === 0 || bytes[0] !== 0x64) throw new Error('neither bencoded data nor base64 text of it');
  return bytes;
}

/**
 * Structural equality of two JSON values, ignoring object member order.
 * @param {any} a
 * @param {any} b
 * @returns {boolean}
 */
function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
}

/**
 * Whether a fallback value is a later save of the same state than the
 * host's: both objects with a numeric updatedAt, the fallback's greater.
 * @param {any} fallbackValue
 * @param {any} hostValue
 */
function isNewerState(fallbackValue, hostValue) {
  const f = jsonOrUndefined(fallbackValue), h = jsonOrUndefined(hostValue);
  return f !== null && typeof f === 'object' && h !== null && typeof h === 'object' &&
    typeof f.updatedAt === 'number' && typeof h.updatedAt === 'number' && f.updatedAt > h.updatedAt;
}

export class NativeSessionStore {
  /**
   * @param {NmstoreClient} [client]  default a new NmstoreClient()
   * @param {{prefix?: string}} [options]  prefix default "session:"
   */
  constructor(client, options = {}) {
    this.client = client ?? new NmstoreClient();
    this.prefix = options.prefix ?? 'session:';
    /** @type {Promise<{moved: number}> | null} */
    this._migration = null;
    /** The one-time move from the fallback is done, so data calls skip
     * ready() (the client connects by itself): a sequential set then pays
     * no extra turns of the event loop. */
    this._settled = false;
    /** What the last migration did, for the status page. */
    this.lastMigration = /** @type {{moved: number} | null} */ (null);
  }

  /** @param {string} key */
  _k(key) { return this.prefix + key; }

  /**
   * Connects, and on the first native connection moves session keys that
   * the fallback holds to the host.
   */
  async ready() {
    const conn = await this.client.ready();
    if (conn.mode === 'native' && this.client.fallbackArea) {
      this._migration ??= this.migrateFromFallback().catch((e) => {
        this._migration = null; // try again on the next call
        throw e;
      });
      await this._migration;
    }
    if (conn.mode === 'native') this._settled = true;
    return conn;
  }

  /**
   * @param {string} key
   * @returns {Promise<Uint8Array | null>}
   */
  async get(key) {
    if (!this._settled) await this.ready();
    const items = await this.client.get([this._k(key)]);
    return this._k(key) in items ? bytesFor(key, items[this._k(key)]) : null;
  }

  /**
   * @param {string} key
   * @param {Uint8Array} value
   */
  async set(key, value) {
    if (!(value instanceof Uint8Array)) throw new TypeError(`NativeSessionStore.set("${key}"): the value must be a Uint8Array; use setJson for other values`);
    if (!this._settled) await this.ready();
    // The value is made here, of plain strings, so client.set's conversion
    // (a walk that asks of every object whether it is an ArrayBuffer, at
    // the price of an exception) could change nothing in it but a lone
    // surrogate in the key: a sixth of what 2,000 sets in flight cost.
    await this.client.request('set', { items: { [wellFormed(this._k(key))]: { $bytes: bytesToBase64(value) } } });
  }

  /** @param {string} key */
  async delete(key) {
    if (!this._settled) await this.ready();
    await this.client.remove(this._k(key));
  }

  /**
   * Keys without this store's prefix, optionally only those under prefix.
   * @param {string} [prefix]
   * @returns {Promise<string[]>}
   */
  async keys(prefix = '') {
    if (!this._settled) await this.ready();
    const all = await this.client.getKeys(this._k(prefix));
    return all.map((k) => k.slice(this.prefix.length));
  }

  /** Removes every key under this store's prefix, and nothing else. */
  async clear() {
    if (!this._settled) await this.ready();
    await this.client.clear(this.prefix);
  }

  /**
   * @param {string[]} keys
   * @returns {Promise<Map<string, Uint8Array>>} only the keys that exist
   */
  async getMulti(keys) {
    if (!this._settled) await this.ready();
    const items = keys.length ? await this.client.get(keys.map((k) => this._k(k))) : {};
    const out = new Map();
    for (const k of keys) if (this._k(k) in items) out.set(k, bytesFor(k, items[this._k(k)]));
    return out;
  }

  /**
   * @param {string} key
   * @returns {Promise<any>} the value, or null when missing
   */
  async getJson(key) {
    if (!this._settled) await this.ready();
    const items = await this.client.get([this._k(key)]);
    return this._k(key) in items ? valueToJson(items[this._k(key)]) : null;
  }

  /**
   * @param {string} key
   * @param {any} value  any JSON value; stored as JSON so the host can read it
   */
  async setJson(key, value) {
    if (!this._settled) await this.ready();
    await this.client.set({ [this._k(key)]: value });
  }

  /**
   * Everything the engine needs to restore its session: the index, and per
   * torrent its state and .torrent or info dictionary bytes. Uses the host's
   * one-round-trip sessionRestore, or one multi-key get on an older host or
   * in the fallback. Torrents that cannot be restored are in `problems`,
   * never dropped silently.
   * @returns {Promise<RestoredSession>}
   */
  async restoreSession() {
    const conn = await this.ready();
    if (conn.mode === 'native') {
      try {
        const reply = await this.client.request('sessionRestore', { prefix: this.prefix });
        return this._fromHostRestore(reply);
      } catch (e) {
        if (/** @type {NmstoreError} */ (e).code !== 'E_UNKNOWN_OP') throw e;
      }
    }
    return this._restoreByGets();
  }

  /** @param {any} reply */
  _fromHostRestore(reply) {
    /** @type {Problem[]} */
    const problems = [...(reply.problems ?? [])];
    /** @type {RestoredTorrent[]} */
    const torrents = [];
    const index = reply.index == null ? null : valueToJson(reply.index);
    for (const t of reply.torrents ?? []) {
      const restored = this._assemble(t.infoHash, t.entry, t.state == null ? null : valueToJson(t.state),
        t.torrentfile ?? null, t.infodict ?? null, problems);
      if (restored) torrents.push(restored);
    }
    return { index, torrents, problems, via: /** @type {const} */ ('sessionRestore') };
  }

  async _restoreByGets() {
    /** @type {Problem[]} */
    const problems = [];
    const indexKey = this._k('torrents');
    const first = await this.client.get([indexKey]);
    if (!(indexKey in first)) return { index: null, torrents: [], problems, via: /** @type {const} */ ('get') };
    let index;
    try {
      index = valueToJson(first[indexKey]);
    } catch (e) {
      problems.push({ infoHash: null, key: indexKey, reason: `the index does not parse: ${/** @type {Error} */ (e).message}` });
      return { index: null, torrents: [], problems, via: /** @type {const} */ ('get') };
    }
    /** @type {IndexEntry[]} */
    const entries = Array.isArray(index?.torrents) ? index.torrents : [];
    const wanted = [];
    for (const e of entries) {
      const base = this._k(`torrent:${e.infoHash}:`);
      wanted.push(base + 'state', base + 'torrentfile', base + 'infodict');
    }
    // One get for every torrent's keys, not three round trips per torrent.
    const items = wanted.length ? await this.client.get(wanted) : {};
    /** @type {RestoredTorrent[]} */
    const torrents = [];
    for (const e of entries) {
      const base = this._k(`torrent:${e.infoHash}:`);
      let state = null;
      if (base + 'state' in items) {
        try {
          state = valueToJson(items[base + 'state']);
        } catch (err) {
          problems.push({ infoHash: e.infoHash, key: base + 'state', reason: `the state does not parse: ${/** @type {Error} */ (err).message}` });
        }
      }
      const restored = this._assemble(e.infoHash, e, state, items[base + 'torrentfile'] ?? null,
        items[base + 'infodict'] ?? null, problems);
      if (restored) torrents.push(restored);
    }
    return { index, torrents, problems, via: /** @type {const} */ ('get') };
  }

  /**
   * @param {string} infoHash
   * @param {IndexEntry} entry
   * @param {any} state
   * @param {any} torrentfile  stored value or null
   * @param {any} infodict  stored value or null
   * @param {Problem[]} problems
   * @returns {RestoredTorrent | null}
   */
  _assemble(infoHash, entry, state, torrentfile, infodict, problems) {
    const base = this._k(`torrent:${infoHash}:`);
    // The host may already have reported this problem; report each once.
    /** @param {Problem} p */
    const report = (p) => {
      if (!problems.some((q) => q.infoHash === p.infoHash && q.key === p.key)) problems.push(p);
    };
    /** @param {any} v @param {string} name */
    const decode = (v, name) => {
      if (v == null) return null;
      try {
        return bencodedBytes(v);
      } catch (e) {
        report({ infoHash, key: base + name, reason: `the ${name} is unreadable: ${/** @type {Error} */ (e).message}` });
        return null;
      }
    };
    const torrentFile = decode(torrentfile, 'torrentfile');
    const infoDict = decode(infodict, 'infodict');
    // As the engine's restoreSession() reads an entry: a file torrent only
    // from its .torrent file, any other only through its magnet link.
    if (entry?.source === 'file' && !torrentFile) {
      if (torrentfile == null) report({ infoHash, key: base + 'torrentfile', reason: 'a file torrent without its .torrent file' });
      return null;
    }
    if (entry?.source !== 'file' && !entry?.magnetUri) {
      report({ infoHash, key: this._k('torrents'), reason: 'a magnet torrent without its magnet URI' });
      return null;
    }
    return { infoHash, entry, state, torrentFile, infoDict };
  }

  /**
   * The items that merge the fallback's index into the host's: none when
   * the fallback adds no torrent.
   * @param {any} hostValue
   * @param {any} fallbackValue
   * @returns {Record<string, any>}
   */
  _mergeIndex(hostValue, fallbackValue) {
    const host = jsonOrUndefined(hostValue);
    const fallback = jsonOrUndefined(fallbackValue);
    const listOf = (/** @type {any} */ x) => (x !== null && typeof x === 'object' && Array.isArray(x.torrents) ? x.torrents : null);
    const hostList = listOf(host), fallbackList = listOf(fallback);
    if (!hostList || !fallbackList || host.version !== fallback.version) {
      return jsonEqual(hostValue, fallbackValue) ? {} : { [this._k('backup:fallback:torrents')]: fallbackValue };
    }
    const have = new Set(hostList.map((/** @type {any} */ e) => String(e?.infoHash).toLowerCase()));
    const added = fallbackList.filter((/** @type {any} */ e) => typeof e?.infoHash === 'string' && !have.has(e.infoHash.toLowerCase()));
    if (added.length === 0) return {};
    return { [this._k('torrents')]: { ...host, torrents: [...hostList, ...added] } };
  }

  /**
   * Moves this store's keys from the chrome.storage.local fallback to the
   * host, each with its meaning: the real extension's base64 strings (its
   * form of set() bytes) arrive as {"$bytes"}. A key the host already
   * holds keeps the host's value, except a state whose updatedAt is later
   * in the fallback; the two indexes are merged by infohash, the host's
   * entries first (an index that cannot be merged stays the host's, and the
   * fallback's is kept at <prefix>backup:fallback:torrents). Writes in one
   * atomic set, reads back and compares, and only then removes the keys
   * from the fallback. A Web Lock keeps two contexts of the extension from
   * moving the same keys at once.
   * @returns {Promise<{moved: number}>}
   */
  async migrateFromFallback() {
    const area = this.client.fallbackArea;
    if (!area) return { moved: 0 };
    const run = async () => {
      const all = await area.get(null);
      const keys = Object.keys(all).filter((k) => k.startsWith(this.prefix));
      if (keys.length === 0) return { moved: 0 };
      const held = await this.client.get(keys);
      /** @type {Record<string, any>} */
      const items = {};
      for (const k of keys) {
        const value = carried(all[k]);
        if (!(k in held)) items[k] = value;
        else if (k === this._k('torrents')) Object.assign(items, this._mergeIndex(held[k], value));
        else if (isNewerState(value, held[k])) items[k] = value;
      }
      const written = Object.keys(items);
      if (written.length) {
        await this.client.set(items);
        const back = await this.client.get(written);
        const bad = written.filter((k) => !(k in back) || !jsonEqual(back[k], items[k]));
        if (bad.length) {
          throw new NmstoreError('E_MIGRATE', `moving session data from chrome.storage.local to nmstore failed: ` +
            `${bad.length} key(s) read back differently (first: "${bad[0]}"); the data stays in chrome.storage.local`);
        }
      }
      await area.remove(keys);
      return { moved: keys.length };
    };
    const locks = /** @type {any} */ (globalThis).navigator?.locks;
    const result = locks ? await locks.request(`nmstore-migrate:${this.prefix}`, run) : await run();
    this.lastMigration = result;
    return result;
  }
}
