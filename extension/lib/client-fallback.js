// SPDX-License-Identifier: MIT
// client-fallback.js: the client without its host. Whether this profile
// has reached the host before (a ReachedStore, kept in IndexedDB), which
// decides between falling back and reporting a broken install; and the
// chrome.storage.local-shaped ops run over the fallback area while the host
// was never installed.
import { compareUtf8 } from './chrome-values.js';
import { NmstoreError } from './nmstore-error.js';

/**
 * @typedef {object} StorageAreaLike  the part of chrome.storage.local the fallback uses
 * @property {(keys?: any) => Promise<Record<string, any>>} get
 * @property {(items: Record<string, any>) => Promise<void>} set
 * @property {(keys: string | string[]) => Promise<void>} remove
 * @property {() => Promise<void>} clear
 * @property {(keys?: string | string[] | null) => Promise<number>} getBytesInUse
 */

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
 * Runs op over the fallback area, as chrome.storage.local would; an op only
 * the host can run rejects with E_HOST_NOT_FOUND and says why the host is
 * missing.
 * @param {StorageAreaLike} area
 * @param {string} op
 * @param {Record<string, any>} params
 * @param {string} reason  why the fallback is in use, for a person
 * @returns {Promise<Record<string, any>>}
 */
export async function runFallback(area, op, params, reason) {
  const run = FALLBACK.get(op);
  if (!run) throw new NmstoreError('E_HOST_NOT_FOUND', `"${op}" needs the nmstore host, which is not installed: ${reason}`, op);
  return run(area, params);
}
