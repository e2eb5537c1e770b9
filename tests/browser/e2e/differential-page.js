// SPDX-License-Identifier: MIT
// differential-page.js: the in-browser half of differential.test.js. It is
// copied, with a page that loads it, into a temporary copy of extension/ so
// that it runs as the extension itself: the same operations go to
// chrome.storage.local and, through NmstoreClient, to the nmstore host, and
// every result, the whole stored contents, getBytesInUse and the onChanged
// events are compared. Nothing here is shipped.
import { NmstoreClient, toChromeValue } from './lib/nmstore-client.js';

const client = new NmstoreClient({ fallback: null });
const area = chrome.storage.local;

// ---------------------------------------------------------------------------
// A serializer that keeps member order and tells apart what JSON would merge.

/** @param {any} v @param {Set<any>} [path] @returns {string} */
export function ser(v, path = new Set()) {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return 'Symbol()';
  if (typeof v === 'function') return 'function';
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  if (path.has(v)) return '<cycle>';
  if (v instanceof ArrayBuffer) return `ArrayBuffer[${[...new Uint8Array(v)]}]`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}[${[...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)]}]`;
  path.add(v);
  try {
    if (Array.isArray(v)) {
      const parts = [];
      for (let i = 0; i < v.length; i++) parts.push(i in v ? ser(v[i], path) : '<hole>');
      return `[${parts.join(',')}]`;
    }
    const proto = Object.getPrototypeOf(v);
    let tag = '';
    if (proto === null) tag = 'null-proto';
    else if (proto !== Object.prototype) tag = Object.prototype.toString.call(v).slice(8, -1);
    if (v === globalThis) return 'globalThis';
    if (v instanceof Date) tag = `Date(${v.getTime()})`;
    else if (v instanceof Number || v instanceof Boolean) tag = `${tag}(${v.valueOf()})`;
    else if (v instanceof RegExp) tag = `${v}`;
    const body = Object.keys(v).map((k) => {
      let x;
      try { x = v[k]; } catch { return `${JSON.stringify(k)}:<throws>`; }
      return `${JSON.stringify(k)}:${ser(x, path)}`;
    });
    return `${tag}{${body.join(',')}}`;
  } finally {
    path.delete(v);
  }
}

// ---------------------------------------------------------------------------
// Running one operation on both sides.

/** @typedef {{op: string, arg?: any, noArg?: boolean}} Op */

/**
 * An operation's outcome, as text: its result, or how it failed. A sync
 * TypeError is compared with its message (the client mirrors Chrome's), a
 * rejection by Chrome's message, which the client's must contain.
 * @param {() => any} call
 */
async function outcome(call) {
  let p;
  try {
    p = call();
  } catch (e) {
    return { text: `sync ${/** @type {Error} */ (e).name}: ${/** @type {Error} */ (e).message}` };
  }
  try {
    return { text: `ok ${ser(await p)}` };
  } catch (e) {
    return { text: 'rejected', message: /** @type {Error} */ (e).message, code: /** @type {any} */ (e).code };
  }
}

/** @param {Op} o */
function describe(o) {
  return o.noArg ? `${o.op}()` : `${o.op}(${ser(o.arg)})`;
}

// Both event streams, and a sentinel write after each op that marks where
// the op's events end.
const SENTINEL = 'zz-differential-sentinel';
/** @type {any[]} */ const chromeEvents = [];
/** @type {any[]} */ const nmEvents = [];
/** @type {(() => void) | null} */ let wake = null;
chrome.storage.onChanged.addListener((changes, areaName) => {
  if (areaName === 'local') { chromeEvents.push(changes); wake?.(); }
});
client.onChanged.addListener((changes, _area, info) => {
  nmEvents.push(info?.overflow ? { overflow: true } : changes);
  wake?.();
});
let sentinel = 0;

/** @param {any[]} list @param {number} n */
const hasSentinel = (list, n) => list.some((c) => c && c[SENTINEL] && c[SENTINEL].newValue === n);

/** Waits until both streams have the sentinel event n; returns the events before it. */
async function eventsUntil(n) {
  const deadline = Date.now() + 5000;
  while (!(hasSentinel(chromeEvents, n) && hasSentinel(nmEvents, n))) {
    if (Date.now() > deadline) break;
    await new Promise((r) => { wake = () => r(undefined); setTimeout(r, 50); });
    wake = null;
  }
  const cut = (/** @type {any[]} */ list) => {
    const i = list.findIndex((c) => c && c[SENTINEL] && c[SENTINEL].newValue === n);
    const before = i < 0 ? list.splice(0) : list.splice(0, i + 1).slice(0, -1);
    return { events: before.map((c) => ser(c)), sawSentinel: i >= 0 };
  };
  return { chrome: cut(chromeEvents), nm: cut(nmEvents) };
}

async function mark() {
  const n = ++sentinel;
  await Promise.all([area.set({ [SENTINEL]: n }), client.set({ [SENTINEL]: n })]);
  return eventsUntil(n);
}

/**
 * Runs o on both sides and compares the outcome, then the whole contents,
 * getBytesInUse(null) and the events it caused. When the two agree,
 * seen.chrome is chrome.storage.local's contents as read for the
 * comparison, so that a caller that needs them does not read them again.
 * @param {Op} o
 * @param {{chrome?: Record<string, any>}} [seen]
 * @returns {Promise<{kind: string, cls?: string, chrome: string, nmstore: string} | null>}
 */
export async function runBoth(o, seen = {}) {
  const call = (/** @type {any} */ target) => () => (o.noArg ? target[o.op]() : target[o.op](o.arg));
  const a = await outcome(call(area));
  const b = await outcome(call(client));
  if (a.text !== b.text || (a.text === 'rejected' && !String(b.message).includes(String(a.message)))) {
    // The class of a result difference, which shrinking keeps: how each
    // side ended (and nmstore's code), not the values.
    const how = (/** @type {{text: string, code?: string}} */ x) => `${x.text.split(' ')[0]}${x.code ? ` ${x.code}` : ''}`;
    return { kind: 'result', cls: `result: ${how(a)} / ${how(b)}`, chrome: `${a.text} ${a.message ?? ''}`.trim(), nmstore: `${b.text} ${b.code ?? ''} ${b.message ?? ''}`.trim() };
  }
  const ev = await mark();
  if (!ev.chrome.sawSentinel || !ev.nm.sawSentinel) {
    return { kind: 'events', chrome: ev.chrome.sawSentinel ? 'sentinel seen' : 'no sentinel event in 5 s', nmstore: ev.nm.sawSentinel ? 'sentinel seen' : 'no sentinel event in 5 s' };
  }
  if (ev.chrome.events.join('\n') !== ev.nm.events.join('\n')) {
    return { kind: 'events', chrome: ev.chrome.events.join(' ; '), nmstore: ev.nm.events.join(' ; ') };
  }
  const chromeContents = await area.get(null);
  const [sa, sb] = [ser(chromeContents), ser(await client.get(null))];
  if (sa !== sb) return { kind: 'contents', chrome: sa, nmstore: sb };
  const [ba, bb] = [await area.getBytesInUse(null), await client.getBytesInUse(null)];
  if (ba !== bb) return { kind: 'bytes', chrome: String(ba), nmstore: String(bb) };
  seen.chrome = chromeContents;
  return null;
}

/** Empties both sides and forgets their events. */
async function resetBoth() {
  await area.clear();
  await client.clear();
  await mark();
}

// ---------------------------------------------------------------------------
// Shrinking: the smallest {state, op argument} that still differs.

/**
 * A plain object or array of data members only: one that shrinking may
 * take apart. Anything else (a Date, a getter, the global object) is a leaf.
 * @param {any} v
 */
const isPlain = (v) => v !== null && typeof v === 'object' && v !== globalThis &&
  (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype) &&
  Object.keys(v).every((k) => 'value' in /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(v, k)));

/** @param {any} v @returns {any[]} smaller things to try in v's place */
function smaller(v) {
  if (v === null || v === undefined || v === true || v === false || v === 0 || v === '') return [];
  if (typeof v === 'number') {
    const out = [0, 1];
    if (!Number.isInteger(v) && Number.isFinite(v)) out.push(Math.trunc(v));
    return out.filter((x) => !Object.is(x, v));
  }
  if (typeof v === 'string') {
    const out = ['', 'a'];
    if (v.length > 1) out.push(v.slice(0, v.length >> 1), v.slice(v.length >> 1));
    return out.filter((x) => x !== v);
  }
  if (typeof v !== 'object') return [null];
  if (!isPlain(v)) return [null, {}];
  /** @type {any[]} */
  const out = [null];
  if (Array.isArray(v)) {
    if (v.length) out.push([]);
    for (let i = 0; i < v.length && i < 12; i++) if (i in v) out.push(v[i]);
    if (v.length > 1) out.push(v.slice(0, v.length >> 1), v.slice(v.length >> 1));
    for (let i = 0; i < v.length && i < 24; i++) out.push([...v.slice(0, i), ...v.slice(i + 1)]);
  } else {
    const keys = Object.keys(v);
    if (keys.length) out.push({});
    for (const k of keys.slice(0, 12)) out.push(v[k]);
    for (const k of keys.slice(0, 24)) {
      const c = {};
      for (const j of keys) if (j !== k) Object.defineProperty(c, j, { value: v[j], enumerable: true, writable: true, configurable: true });
      out.push(c);
    }
  }
  // A long chain: jump half way down it.
  let d = v, n = 0;
  while (isPlain(d) && n < 200) {
    const ks = Object.keys(d);
    if (ks.length !== 1) break;
    d = d[ks[0]]; n++;
  }
  if (n > 4) {
    let h = v;
    for (let i = 0; i < n >> 1; i++) h = h[Object.keys(h)[0]];
    out.push(h);
  }
  return out;
}

/** @param {any} v */
const size = (v) => ser(v).length;

/**
 * Every variant of root with one node replaced by a smaller thing. An
 * object met again on its own path (a cycle) is left as it is.
 * @param {any} root
 * @param {Set<any>} [path]
 * @returns {Generator<any>}
 */
function* variants(root, path = new Set()) {
  if (path.has(root)) return;
  for (const s of smaller(root)) yield s;
  if (!isPlain(root)) return;
  const keys = Array.isArray(root) ? [...root.keys()] : Object.keys(root);
  const inner = new Set(path).add(root);
  for (const k of keys) {
    for (const s of variants(root[k], inner)) {
      const copy = Array.isArray(root) ? [...root] : {};
      if (!Array.isArray(root)) for (const j of keys) Object.defineProperty(copy, j, { value: root[j], enumerable: true, writable: true, configurable: true });
      /** @type {any} */ (copy)[k] = s;
      yield copy;
    }
  }
}

/**
 * @param {{state: Record<string, any>, op: Op}} c
 * @returns {Promise<{kind: string, chrome: string, nmstore: string} | null>}
 */
async function replay(c) {
  await resetBoth();
  if (Object.keys(c.state).length) {
    const a = await outcome(() => area.set(c.state));
    const b = await outcome(() => client.set(c.state));
    if (a.text !== b.text) return { kind: 'result', chrome: a.text, nmstore: b.text };
    await mark();
  }
  return runBoth(c.op);
}

/** @param {{kind: string, cls?: string} | null} d */
const classOf = (d) => (d ? d.cls ?? d.kind : null);

/**
 * @param {{state: Record<string, any>, op: Op}} start
 * @param {string | null} cls  the class of difference to keep
 * @param {number} budget  replays at most
 */
async function shrink(start, cls, budget) {
  let best = start;
  let found = await replay(best);
  if (classOf(found) !== cls) return { example: best, diff: found, replays: 1, reproduced: false };
  let replays = 1;
  let progress = true;
  while (progress && replays < budget) {
    progress = false;
    for (const cand of variants({ state: best.state, arg: best.op.arg })) {
      if (replays >= budget) break;
      if (cand === null || typeof cand !== 'object' || !('state' in cand) || !cand.state || typeof cand.state !== 'object' || Array.isArray(cand.state)) continue;
      const next = { state: cand.state, op: { ...best.op, arg: cand.arg } };
      if (size({ s: next.state, a: next.op.arg }) >= size({ s: best.state, a: best.op.arg })) continue;
      replays++;
      const d = await replay(next);
      if (classOf(d) === cls) {
        best = next;
        found = d;
        progress = true;
        break;
      }
    }
  }
  return { example: best, diff: found, replays, reproduced: true };
}

// ---------------------------------------------------------------------------
// Running a list of ops, recording differences.

/** @type {string | null} the label of the run in progress */
let running = null;

/**
 * @param {Op[] | ((state: Record<string, any>, i: number) => Op)} ops
 * @param {{label: string, count?: number, shrinkBudget?: number, maxShrinks?: number}} o
 */
async function runList(ops, o) {
  // The test's timeout cannot stop a run inside the page: a second run
  // started then would share both stores with it and report differences
  // that are only the two runs' ops interleaved.
  if (running) throw new Error(`${o.label}: the run "${running}" is still going in this page (its test timed out?)`);
  running = o.label;
  try {
    return await runListAlone(ops, o);
  } finally {
    running = null;
  }
}

/**
 * @param {Op[] | ((state: Record<string, any>, i: number) => Op)} ops
 * @param {{label: string, count?: number, shrinkBudget?: number, maxShrinks?: number}} o
 */
async function runListAlone(ops, o) {
  await resetBoth();
  const count = Array.isArray(ops) ? ops.length : (o.count ?? 0);
  /** @type {any[]} */
  const diffs = [];
  let shrinks = 0;
  const started = Date.now();
  let state = {};
  for (let i = 0; i < count; i++) {
    const op = Array.isArray(ops) ? ops[i] : ops(state, i);
    const before = state;
    /** @type {{chrome?: Record<string, any>}} */
    const seen = {};
    const d = await runBoth(op, seen);
    if (d) {
      /** @type {any} */
      const rec = { label: o.label, index: i, op: describe(op), ...d };
      if (shrinks < (o.maxShrinks ?? 12)) {
        shrinks++;
        const s = await shrink({ state: before, op }, classOf(d), o.shrinkBudget ?? 200);
        rec.smallest = s.reproduced
          ? { state: ser(s.example.state), op: describe(s.example.op), chrome: s.diff?.chrome, nmstore: s.diff?.nmstore, replays: s.replays }
          : { note: `did not reproduce from a clean store with the state before it (${classOf(s.diff) ?? 'no difference'})` };
      }
      diffs.push(rec);
      // Start again from two empty stores, so one difference does not
      // cascade into the next ops.
      await resetBoth();
      state = {};
    } else {
      // The contents runBoth compared: a third read of the whole of
      // chrome.storage.local per op took a fifth of the test's time.
      state = seen.chrome ?? {};
      delete state[SENTINEL];
    }
  }
  return { label: o.label, ops: count, diffs, ms: Date.now() - started };
}

// ---------------------------------------------------------------------------
// The semantic cases of Chromium's settings API tests and of Firefox's
// head_storage.js, as operations (written afresh, not copied).

function scripted() {
  /** @type {Op[]} */
  const ops = [];
  const op = (/** @type {string} */ name, /** @type {any[]} */ ...args) => ops.push(args.length ? { op: name, arg: args[0] } : { op: name, noArg: true });
  // Reading an empty area, every form of keys.
  op('get', 'foo'); op('get', ['foo', 'bar']); op('get', undefined); op('get'); op('get', null); op('get', {}); op('get', []);
  op('getBytesInUse'); op('getBytesInUse', null); op('getBytesInUse', 'foo'); op('getBytesInUse', []);
  // Non-empty: subsets, missing keys, everything.
  op('set', { foo: 'bar', baz: 'qux', hello: 'world' });
  op('get', ['foo', 'baz']); op('get', ['nothing', 'baz', 'hello', 'ignore']); op('get', null); op('get', 'hello');
  // Removing: missing keys, one key, a list, the last key.
  op('remove', 'nothing'); op('remove', ['nothing', 'else']); op('remove', 'foo'); op('remove', ['baz', 'nothing']); op('remove', 'hello');
  op('remove', []);
  // Overwriting some keys and adding others.
  op('set', { foo: 'bar', baz: 'qux', hello: 'world' });
  op('set', { foo: 'otherBar', baz: 'otherQux' });
  op('set', { baz: 'anotherQux', hello: 'otherWorld', some: 'value' });
  // Clearing a full and an empty area.
  op('clear'); op('clear');
  // Dots are not paths.
  op('set', { 'foo.bar': 'baz', one: { two: 'three' } }); op('get', ['foo.bar', 'one']); op('get', 'one.two');
  op('remove', ['foo.bar', 'one.two']);
  op('clear');
  // Defaults: used when missing, the stored value wins, a stored {} beats an array.
  op('get', { foo: 'defaultBar', baz: [1, 2, 3] });
  op('set', { foo: 'bar' }); op('get', { foo: 'defaultBar', baz: [1, 2, 3] });
  op('set', { baz: {} }); op('get', { foo: 'defaultBar', baz: [1, 2, 3] });
  op('remove', 'foo'); op('get', { foo: 'defaultBar', baz: [1, 2, 3] });
  op('clear');
  // Bytes in use: three small numbers, one key, two keys, a key named twice.
  op('set', { a: 42, b: 43, c: 44 }); op('getBytesInUse', null); op('getBytesInUse', 'a'); op('getBytesInUse', ['a', 'b']);
  op('getBytesInUse', ['a', 'a']); op('getBytesInUse', ['a', 'nothing']);
  op('clear');
  // null and undefined in arguments.
  op('get', { foo: 'foo', bar: null, baz: undefined });
  op('set', { foo: 'foo', bar: null, baz: undefined }); op('get');
  op('clear');
  // A change event names exactly what changed.
  op('set', { key: 'value' });
  // The empty key, an empty get.
  op('get', ''); op('set', { '': 'empty key' }); op('get', ''); op('get', ['', 'key']); op('remove', ''); op('clear');
  // Firefox: every getter form for one key; defaults with undefined.
  op('set', { 'test-prop1': 'value1', 'test-prop2': 'value2' });
  op('get'); op('get', null); op('get', 'test-prop1'); op('get', ['test-prop1']); op('get', { 'test-prop1': undefined });
  op('get', { 'test-prop1': undefined, 'test-prop2': undefined, other: 'default' });
  op('get', ['test-prop1', 'test-prop2', 'other']);
  op('remove', 'test-prop1'); op('get', ['test-prop1', 'test-prop2']);
  op('set', { 'test-prop1': 'value1' }); op('remove', ['test-prop1', 'test-prop2']);
  // Firefox: defaults for missing keys, null defaults.
  op('get', { test6: 6 }); op('get', { test6: null }); op('get', 'test6'); op('get', ['test6', 'test7']);
  // Firefox: falsy values, removed and updated.
  const falsy = { 'test-falsey-value-bool': false, 'test-falsey-value-string': '', 'test-falsey-value-number': 0 };
  op('set', falsy); op('remove', Object.keys(falsy)); op('set', falsy);
  op('set', { 'test-falsey-value-bool': true, 'test-falsey-value-string': 'non-empty-string', 'test-falsey-value-number': 10 });
  op('clear');
  // Firefox: complex values: undefined members, integer and float keys, a
  // custom object with toJSON and toString on its prototype, a Date, a RegExp.
  function CustomObj() { /** @type {any} */ (this).testKey1 = 'testValue1'; }
  CustomObj.prototype.toString = function () { return '{"testKey2":"testValue2"}'; };
  CustomObj.prototype.toJSON = function () { return { testKey1: 'testValue3' }; };
  op('set', { 'test-prop1': 'value1', 'test-prop2': 'value2' });
  op('set', {
    'test-prop1': {
      str: 'hello', bool: true, null: null, undef: undefined, obj: {}, nestedObj: { testKey: {} },
      intKeyObj: { 4: 'testValue1', 3: 'testValue2', 99: 'testValue3' }, floatKeyObj: { 1.4: 'testValue1', 5.5: 'testValue2' },
      customObj: new /** @type {any} */ (CustomObj)(), arr: [1, 2], nestedArr: [1, [2, 3]], date: new Date(0), regexp: /regexp/,
    },
  });
  // Firefox rejects these; Chrome stores the global object as {} and skips a function.
  op('set', { window: globalThis });
  op('set', { 'test-prop2': function func() {} });
  op('get', { 'test-prop1': undefined, 'test-prop2': undefined });
  // Firefox (sync): getBytesInUse counts the key's bytes and the value's JSON.
  op('clear'); op('set', { x: 'x'.repeat(8189) }); op('getBytesInUse', null); op('set', { x: 'x'.repeat(8190) }); op('getBytesInUse', 'x');
  op('clear');
  // Arguments of the wrong type: Chrome's own TypeErrors.
  op('get', 5); op('get', true); op('get', ['a', 1]); op('get', ['a', undefined]);
  op('set', null); op('set', undefined); op('set', 5); op('set', [1]); op('set', 'x'); op('set', new Date());
  op('remove', null); op('remove', 5); op('remove', ['a', 2]); op('remove', new String('a'));
  op('getBytesInUse', 5); op('getBytesInUse', [1]); op('getBytesInUse', {});
  // Binary values: refused by set, kept by get's defaults.
  op('set', { bin: new Uint8Array([1, 2]) }); op('set', { ok: 1, bin: { deep: [new ArrayBuffer(2)] } });
  op('set', { k: { a: 1 } }); op('get', { k: { b: new Uint8Array([3]) }, m: new ArrayBuffer(1) });
  op('clear');
  // Lone surrogates: stored as U+FFFD; a key named with one never matches.
  op('set', { 'l\ud800': 'x\udc00y', '\udbff': 1 }); op('get', 'l\ud800'); op('get', 'l\ufffd'); op('get', ['\udbff', '\ufffd']);
  op('getBytesInUse', 'l\ud800'); op('getBytesInUse', ['l\ufffd']); op('remove', 'l\ud800'); op('remove', ['l\ufffd']);
  op('get', { 'l\ud800': 'default' }); op('set', { '\ud800': 1, '\udc00': 2 });
  op('clear');
  // Events: equal values (after conversion) change nothing.
  op('set', { o: { x: 1, y: 2 }, n: 1, d: new Date(5) }); op('set', { o: { y: 2, x: 1 } }); op('set', { n: 1.0 }); op('set', { d: {} });
  op('set', { z: -0 }); op('set', { z: 0 }); op('set', { f: 2 ** 31 }); op('set', { f: 2147483648.0 });
  op('remove', ['nope']); op('remove', ['n', 'n', 'nope']); op('set', { u: undefined, nan: NaN });
  op('clear');
  // Chrome's recursive merge of defaults.
  op('set', { a: { x: 5, n: { p: 1 } }, s: 'str', arr: [1], nul: null });
  op('get', { a: { x: 1, y: 2, n: { q: 2 } }, s: { z: 1 }, arr: [7, 8], missing: { m: 1 }, nul: { a: 1 } });
  op('get', { a: null }); op('get', { a: [1] }); op('get', { a: { n: 5 } }); op('get', { a: { n: { p: 2, r: [] } } });
  op('clear');
  return ops;
}

// ---------------------------------------------------------------------------
// The random generator.

/** @param {number} seed */
function mulberry32(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (/** @type {number} */ n) => Math.floor(next() * n);
  return { next, int, pick: (/** @type {any[]} */ list) => list[int(list.length)], chance: (/** @type {number} */ p) => next() < p };
}

const NUMBERS = [
  0, -0, 1, -1, 2, 10, 0.1, 0.2, 0.30000000000000004, 1 / 3, 2 / 3, 4.35, 0.000001, 1e-7, 1.5e-7, 123e-20,
  2 ** 31, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, 2 ** 32 - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 2 ** 53 + 2,
  1e15, 1e16, 1e17, 1e20, 1e21, 1e22, 9.999999999999999e22, 123456789012345680000, 1.7976931348623157e308,
  -1.7976931348623157e308, 5e-324, -5e-324, 2.2250738585072014e-308, 1.5, -2.5, 100, 1000000, 3.0e10, 1e300, 1e-300,
  NaN, Infinity, -Infinity,
];
const STRINGS = [
  '', 'a', 'abc', ' ', '<', '>', '&', '<script>', '</', '\u2028', '\u2029', '\u0000', '\u0001', '\u001f', '\u007f', '\u0080',
  '\u00e9', 'e\u0301', '\uffff', '\ufffe', '\ufffd', '\ud800', '\udc00', 'a\udbffb', '\ud83d\ude00', '\ud83d', '"', '\\', '/',
  '\b\f\n\r\t', 'ключ', '中文', '\u200b', '\u202e', 'null', 'true', '1e3', '-0', '{"$bytes":"AAE="}', '\u0000\uffff',
];
const KEYS = [
  'a', 'b', 'c', 'k1', 'k2', 'key', '10', '2', '01', '-1', '1.5', '4294967295', '4294967294', '', '__proto__', 'constructor',
  'toString', '\u00e9', 'e\u0301', '\ud83d\ude00', '\uffff', '\ufffd', 'a.b', '<', '\u2028', ' ', 'A', 'Z', 'z', 'ключ', '\u007f',
  'l\ud800', '$bytes', 'x'.repeat(200), '\u0001',
];
const BASE64 = ['AAE=', 'AA==', '', 'AAE', 'AAECAwQ=', '!!!!', 'AA=A', 'YWJj', 'YWJjZA==', 'YWJjZA', ' AAE=', 'AAE=\n'];

/** @param {ReturnType<typeof mulberry32>} r */
function genNumber(r) {
  switch (r.int(5)) {
    case 0: case 1: return r.pick(NUMBERS);
    case 2: return r.int(2 ** 31) * (r.chance(0.3) ? -1 : 1);
    case 3: { // any double, from random bits
      const dv = new DataView(new ArrayBuffer(8));
      dv.setUint32(0, r.int(2 ** 32)); dv.setUint32(4, r.int(2 ** 32));
      return dv.getFloat64(0);
    }
    default: return (r.next() - 0.5) * 10 ** (r.int(40) - 20);
  }
}

/** @param {ReturnType<typeof mulberry32>} r */
function genString(r) {
  if (r.chance(0.5)) return r.pick(STRINGS);
  let s = '';
  const n = r.chance(0.05) ? 3000 : r.int(8);
  for (let i = 0; i < n; i++) s += r.chance(0.7) ? String.fromCharCode(97 + r.int(26)) : r.pick(STRINGS);
  return s;
}

/** @param {ReturnType<typeof mulberry32>} r */
function genKey(r) {
  return r.chance(0.85) ? r.pick(KEYS) : genString(r).slice(0, 40).replace(/\u0000/g, '0');
}

/**
 * @param {ReturnType<typeof mulberry32>} r
 * @param {number} depth
 * @returns {any}
 */
function genValue(r, depth = 0) {
  const leafy = depth > 3 || r.chance(0.45);
  if (leafy) {
    switch (r.int(12)) {
      case 0: case 1: case 2: return genNumber(r);
      case 3: case 4: case 5: return genString(r);
      case 6: return r.chance(0.5);
      case 7: return null;
      case 8: return r.pick([undefined, () => 1, Symbol('s'), 10n, NaN, Infinity, -0]);
      case 9: return r.pick([new Date(r.int(2 ** 40)), new Number(5), new String('xy'), new Boolean(false), /re/g, new Map([[1, 2]]), new Set([1]), new Error('e')]);
      case 10: { // $bytes look-alikes
        const b64 = r.pick(BASE64);
        switch (r.int(5)) {
          case 0: return { $bytes: b64 };
          case 1: return { $bytes: r.pick([5, null, true, ['AAE='], { x: 1 }]) };
          case 2: return { $bytes: b64, extra: genValue(r, depth + 1) };
          case 3: return [{ $bytes: b64 }];
          default: return { a: { $bytes: b64 } };
        }
      }
      default: return r.pick(['', 0, {}, []]);
    }
  }
  switch (r.int(14)) {
    case 0: case 1: case 2: case 3: case 4: { // object
      const o = {};
      const n = r.int(6);
      for (let i = 0; i < n; i++) Object.defineProperty(o, genKey(r), { value: genValue(r, depth + 1), enumerable: true, writable: true, configurable: true });
      return o;
    }
    case 5: case 6: case 7: case 8: { // array
      const n = r.int(7);
      const a = [];
      for (let i = 0; i < n; i++) a.push(genValue(r, depth + 1));
      if (r.chance(0.1)) a.length += 2; // holes
      return a;
    }
    case 9: { // deep nesting around Chrome's limit of 100
      let v = genValue(r, 9);
      const n = 95 + r.int(12);
      for (let i = 0; i < n; i++) v = r.chance(0.5) ? [v] : { [r.pick(['d', 'x', '0'])]: v };
      return v;
    }
    case 10: { // a huge array of tiny elements
      const el = r.pick([0, 1, null, '', true, -0, 0.5, 'a']);
      return new Array(r.chance(0.2) ? 20000 : 500 + r.int(2000)).fill(el);
    }
    case 11: { // a cycle, or the same object twice (a DAG)
      const o = /** @type {any} */ ({ v: genValue(r, depth + 1) });
      if (r.chance(0.5)) { o.self = o; return o; }
      return { a: o, b: [o, o] };
    }
    case 12: { // odd objects
      const np = Object.create(null);
      np.x = genValue(r, depth + 1);
      const ne = { a: 1 };
      Object.defineProperty(ne, 'hidden', { value: 2 });
      /** @type {any} */ (ne)[Symbol('s')] = 3;
      return r.pick([np, ne, { get g() { return 7; } }, { get t() { throw new Error('x'); } }, Object.assign(new Date(0), { x: 1 }), globalThis]);
    }
    default:
      return r.chance(0.3) ? new Uint8Array([1, 2, 3]) : { n: genNumber(r), s: genString(r) };
  }
}

/**
 * A default for a stored value: often a changed copy of it, so that Chrome's
 * merge of nested objects is exercised.
 * @param {ReturnType<typeof mulberry32>} r
 * @param {any} stored
 * @param {number} depth
 * @returns {any}
 */
function genDefault(r, stored, depth = 0) {
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored) || depth > 5 || r.chance(0.2)) return genValue(r, 2);
  const d = {};
  for (const k of Object.keys(stored)) {
    if (r.chance(0.3)) continue;
    Object.defineProperty(d, k, { value: genDefault(r, stored[k], depth + 1), enumerable: true, writable: true, configurable: true });
  }
  if (r.chance(0.5)) Object.defineProperty(d, genKey(r), { value: genValue(r, 2), enumerable: true, writable: true, configurable: true });
  return d;
}

/** @param {number} seed */
function generator(seed) {
  const r = mulberry32(seed);
  /** @param {Record<string, any>} state */
  return (state) => {
    const stored = Object.keys(state);
    const someKey = () => (stored.length && r.chance(0.7) ? r.pick(stored) : genKey(r));
    const x = r.int(100);
    if (x < 40) {
      const items = {};
      const n = 1 + r.int(4);
      for (let i = 0; i < n; i++) Object.defineProperty(items, r.chance(0.3) ? someKey() : genKey(r), { value: genValue(r), enumerable: true, writable: true, configurable: true });
      return { op: 'set', arg: items };
    }
    if (x < 47) return { op: 'get', arg: r.pick([null, undefined]) };
    if (x < 54) return { op: 'get', arg: someKey() };
    if (x < 61) {
      const keys = [];
      const n = r.int(5);
      for (let i = 0; i < n; i++) keys.push(r.chance(0.25) && keys.length ? r.pick(keys) : someKey());
      return { op: 'get', arg: keys };
    }
    if (x < 72) {
      const d = {};
      const n = 1 + r.int(3);
      for (let i = 0; i < n; i++) {
        const k = someKey();
        Object.defineProperty(d, k, { value: genDefault(r, state[k]), enumerable: true, writable: true, configurable: true });
      }
      return { op: 'get', arg: d };
    }
    if (x < 82) {
      if (r.chance(0.4)) return { op: 'remove', arg: someKey() };
      const keys = [];
      const n = r.int(4);
      for (let i = 0; i < n; i++) keys.push(someKey());
      return { op: 'remove', arg: keys };
    }
    if (x < 84) return { op: 'clear', noArg: true };
    if (x < 88) return { op: 'getBytesInUse', arg: r.pick([null, undefined]) };
    if (x < 93) return { op: 'getBytesInUse', arg: someKey() };
    const keys = [];
    const n = r.int(5);
    for (let i = 0; i < n; i++) keys.push(r.chance(0.3) && keys.length ? r.pick(keys) : someKey());
    return { op: 'getBytesInUse', arg: keys };
  };
}

// ---------------------------------------------------------------------------
// The client's conversion against Chromium's, without the host.

function conversionCases() {
  const cyc = /** @type {any} */ ({ a: 1 }); cyc.self = cyc;
  const arrCyc = /** @type {any[]} */ ([1]); arrCyc.push(arrCyc);
  const shared = { s: 1 };
  const deep = (/** @type {number} */ n, /** @type {boolean} */ arr) => { let v = /** @type {any} */ ('leaf'); for (let i = 0; i < n; i++) v = arr ? [v] : { d: v }; return v; };
  const sparse = [1, , 3]; sparse.length = 5; /** @type {any} */ (sparse).extra = 'x';
  const nonEnum = { a: 1 }; Object.defineProperty(nonEnum, 'hidden', { value: 2 }); /** @type {any} */ (nonEnum)[Symbol('s')] = 3;
  const nullProto = Object.create(null); nullProto.x = 1;
  class K { constructor() { this.own = 1; } get proto() { return 2; } }
  /** @type {Record<string, any>} */
  const cases = {
    date: new Date(0), dateExpando: Object.assign(new Date(0), { x: 1 }), toJSON: { a: 1, toJSON() { return 'J'; } },
    num: new Number(5), str: new String('xy'), bool: new Boolean(true), map: new Map([[1, 2]]), set: new Set([1]), re: /ab/g, err: new Error('e'),
    nan: NaN, inf: Infinity, ninf: -Infinity, negz: -0, negzNested: { a: -0, b: [-0] }, undef: undefined, nul: null, fn: () => 1, sym: Symbol('x'),
    bigint: 10n, bigintNested: { a: 1n, b: [1n] },
    nested: { n: NaN, i: Infinity, u: undefined, f() {}, s: Symbol('q'), ok: 1 }, arr: [NaN, Infinity, undefined, () => 1, Symbol('q'), -0, 1],
    cyc, arrCyc, dag: { a: shared, b: shared, c: [shared, shared] },
    deep99: deep(99, false), deep100: deep(100, false), deep101: deep(101, false), deepA99: deep(99, true), deepA100: deep(100, true), deepA101: deep(101, true),
    lone: 'a\ud800b\udc00c\ud83d\ude00', loneKey: { 'x\ud800': 1, '\ud800': 2, '\udc00': 3 }, sparse, nonEnum, nullProto, klass: new K(),
    getter: { get g() { return 7; }, get t() { throw new Error('boom'); } }, proxy: new Proxy({ a: 1 }, {}), global: globalThis,
    intKeys: { b: 1, 10: 2, 2: 3, a: 4, '-1': 5, '01': 6, '4294967295': 7, '4294967294': 8 }, proto: JSON.parse('{"__proto__": {"x": 1}}'),
    numbers: [2 ** 31, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31) - 1, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 2 ** 53 + 2, 0.1 + 0.2],
    strings: ['<', '\u2028', '\u0000', '\uffff', '\u0000\uffff', '\u007f'], boxedInArr: [new Number(1), new String('s')],
    bytesLike: [{ $bytes: 'AAE=' }, { $bytes: 'AAE' }, { $bytes: 5 }, { $bytes: 'AAE=', x: 1 }],
  };
  return cases;
}

export async function checkConversion() {
  const out = [];
  const cases = conversionCases();
  for (const [k, v] of Object.entries(cases)) {
    await area.clear();
    await area.set({ [k]: v });
    const stored = await area.get(null);
    const chromeSays = k in stored ? ser(stored[k]) : '<not stored>';
    const conv = toChromeValue(v);
    const clientSays = conv === undefined ? '<not stored>' : ser(conv);
    if (chromeSays !== clientSays) out.push({ case: `set ${k}`, chrome: chromeSays, client: clientSays });
    // get()'s defaults on an empty area are converted the same way, binary kept.
    await area.clear();
    const got = await area.get({ [k]: v });
    const conv2 = toChromeValue(v, { binary: 'keep' });
    const a = k in got ? ser(got[k]) : '<absent>';
    const b = conv2 === undefined ? '<absent>' : ser(conv2);
    if (a !== b) out.push({ case: `get default ${k}`, chrome: a, client: b });
  }
  // Binary: refused by set (asynchronously), an ArrayBuffer copy as a default.
  for (const [k, v] of Object.entries({ ab: new ArrayBuffer(2), u8: new Uint8Array([1, 2]), dv: new DataView(new ArrayBuffer(1)), nestedU8: { a: [new Uint8Array([9])] } })) {
    const a = await outcome(() => area.set({ [k]: v }));
    let b;
    try { toChromeValue(v); b = 'accepted'; } catch (e) { b = `rejected ${/** @type {any} */ (e).code}`; }
    if (a.text !== 'rejected' || b !== 'rejected E_VALUE') out.push({ case: `set ${k}`, chrome: `${a.text} ${a.message ?? ''}`, client: b });
    await area.clear();
    const got = await area.get({ [k]: v });
    const c = ser(got[k]);
    const d = ser(toChromeValue(v, { binary: 'keep' }));
    if (c !== d) out.push({ case: `get default ${k}`, chrome: c, client: d });
  }
  await area.clear();
  return { cases: Object.keys(cases).length + 4, mismatches: out };
}

// ---------------------------------------------------------------------------

/** Keys nmstore refuses on purpose (E_KEY), which Chrome accepts. */
export async function refusedKeys() {
  const out = {};
  for (const [name, key] of Object.entries({ nul: 'a\u0000b', long: 'k'.repeat(8193), longUtf8: '\u00e9'.repeat(4097) })) {
    const r = await outcome(() => client.set({ [name === 'nul' ? key : key]: 1 }));
    const g = await outcome(() => client.get(key));
    /** @type {any} */ (out)[name] = { set: `${r.text} ${r.code ?? ''}`, get: `${g.text} ${g.code ?? ''}` };
  }
  const ok = await outcome(() => client.set({ ['k'.repeat(8192)]: 1 }));
  /** @type {any} */ (out).at8192 = ok.text;
  await client.clear();
  return out;
}

/** @type {any} */ (globalThis).differential = {
  ready: async () => {
    const conn = await client.ready();
    const subscribed = await client.onChanged.whenSubscribed();
    return { mode: conn.mode, version: conn.hello?.version, subscribed, reason: client.eventsUnavailableReason };
  },
  checkConversion,
  refusedKeys,
  runScripted: () => runList(scripted(), { label: 'scripted' }),
  /** @param {number} seed @param {number} count */
  runRandom: (seed, count) => runList(generator(seed), { label: `seed ${seed}`, count }),
};
/** @type {any} */ (globalThis).differentialLoaded = true;
