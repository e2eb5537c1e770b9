// SPDX-License-Identifier: MIT
// bench.js: the in-browser benchmark (issue 9, item 2; issue 17). In one
// page of one browser session it runs W1-W4 and the torrent list through
// three stores: NativeSessionStore over the real host (coalescing, as an
// author uses it, and with coalesce: false beside it), chrome.storage.local
// (call by call, and in its best pattern, one call of everything), and the
// peers registered as native hosts beside it: the echo peer and the one-way
// pipe peer (the pipe's floor), and for the in-flight rows the floor peer
// (the pipe and SQLite's: nmstore-bench-floor committing the same batch
// frames), and nmstore's host alone, sent the floor peer's frames over a
// bare port: with the floor peer, it splits what nmstore spends into the
// host's part and the page's (client and NativeSessionStore). Rounds
// alternate the stores so that a busy machine slows all of them alike.
// The data is in bench-data.js, the measuring in bench-measure.js.
// tests/bench/browser/run.js calls globalThis.nmstoreBench.run(config) and
// reads the JSON it resolves to; nothing here judges the figures.
// Not part of the extension people install: run.js adds this page to a
// temporary copy of extension/, beside the lib/ it imports from.
import { NmstoreClient, COALESCE_FRAME_REQUESTS } from './lib/nmstore-client.js';
import { NativeSessionStore, bytesToBase64, base64ToBytes } from './lib/native-session-store.js';
import { makeState, makeSession, rng, bdecode, progressOf } from './bench-data.js';
import {
  MB, EchoPeer, PipePeer, interleave, figure, perCall, rate, once, sum, perItem, framesOf, echoPlan, replyBytes, wireBytes, median,
} from './bench-measure.js';

/**
 * @typedef {object} BenchConfig
 * @property {number} rounds  rounds per workload, each running every store once
 * @property {number} bulkRounds  rounds of the 40 KB-torrent workloads (W4b, list)
 * @property {number} sequential  calls per sequential round (W1, W3)
 * @property {number} inFlight  requests in flight (W2, W3 pipelined)
 * @property {number} torrents  torrents in a session (W4a, W4b, list)
 * @property {number} stateBytes  size of a session state's JSON text
 * @property {number} torrentfileAvg  average .torrent size in W4b and the list
 * @property {string} [echoHost]  the echo peer's native host name
 * @property {string} [pipeHost]  the one-way pipe peer's native host name
 * @property {string} [floorHost]  the floor peer's native host name
 */

/** @type {BenchConfig} */
const DEFAULTS = {
  rounds: 5, bulkRounds: 3, sequential: 500, inFlight: 2000, torrents: 1000,
  stateBytes: 2560, torrentfileAvg: 40960, echoHost: 'org.nmstore.echo',
  pipeHost: 'org.nmstore.pipe', floorHost: 'org.nmstore.floor',
};

const enc = new TextEncoder();
const dec = new TextDecoder();
const statusEl = /** @type {HTMLElement} */ (document.getElementById('status'));

/** @param {string} text */
function say(text) {
  statusEl.textContent = text;
  console.log(`[bench] ${text}`);
}

/**
 * Shows the list as a status page would: a table of name, size, progress,
 * laid out (reading offsetHeight makes the browser do the layout now).
 * @param {{name: string, size: number, progress: number}[]} rows
 */
function renderList(rows) {
  const table = document.createElement('table');
  const body = table.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    tr.insertCell().textContent = r.name;
    tr.insertCell().textContent = `${(r.size / 1048576).toFixed(1)} MiB`;
    tr.insertCell().textContent = `${(r.progress * 100).toFixed(1)}%`;
  }
  const list = /** @type {HTMLElement} */ (document.getElementById('list'));
  list.replaceChildren(table);
  return list.offsetHeight;
}

// ------------------------------------------------------------- the stores

const CSL = 'csl:'; // chrome.storage.local's keys: never under the host's session: prefix

/**
 * Writes a session into the host the way the engine does: the index and
 * states as the UTF-8 of their JSON, .torrent files as raw bytes.
 * @param {NativeSessionStore} sessions
 * @param {import('./bench-data.js').SessionData} data
 */
async function fillHost(sessions, data) {
  await sessions.clear();
  const batch = 100;
  for (let i = 0; i < data.torrents.length; i += batch) {
    await Promise.all(data.torrents.slice(i, i + batch).flatMap((t) => {
      const w = [sessions.set(`torrent:${t.infoHash}:state`, enc.encode(JSON.stringify(t.state)))];
      if (t.torrentFile) w.push(sessions.set(`torrent:${t.infoHash}:torrentfile`, t.torrentFile));
      return w;
    }));
  }
  await sessions.set('torrents', enc.encode(JSON.stringify(data.index)));
}

/**
 * The same session in chrome.storage.local as an author would keep it
 * there: JSON values as themselves, .torrent files as base64 text (the
 * area stores JSON, not bytes).
 * @param {import('./bench-data.js').SessionData} data
 */
async function fillCsl(data) {
  await chrome.storage.local.clear();
  const batch = 100;
  for (let i = 0; i < data.torrents.length; i += batch) {
    /** @type {Record<string, any>} */
    const items = {};
    for (const t of data.torrents.slice(i, i + batch)) {
      items[`${CSL}torrent:${t.infoHash}:state`] = t.state;
      if (t.torrentFile) items[`${CSL}torrent:${t.infoHash}:torrentfile`] = bytesToBase64(t.torrentFile);
    }
    await chrome.storage.local.set(items);
  }
  await chrome.storage.local.set({ [`${CSL}torrents`]: data.index });
}

// ------------------------------------------------------------ the workloads

/**
 * Requests as the client would coalesce them: batch frames of at most
 * `most`, each request with its own id.
 * @param {Record<string, any>[]} requests
 * @param {number} most
 */
function floorBatches(requests, most) {
  const out = [];
  for (let i = 0; i < requests.length; i += most) {
    out.push({ op: 'batch', requests: requests.slice(i, i + most).map((r, j) => ({ ...r, id: i + j + 1 })) });
  }
  return out;
}

/** How many of the batch replies' requests came back ok. */
function okRequests(/** @type {any[]} */ replies) {
  return replies.flatMap((r) => (r?.ok ? r.replies ?? [] : [])).filter((x) => x?.ok === true).length;
}

/**
 * @typedef {object} Stores
 * @property {NativeSessionStore} sessions  over a client that coalesces (the default)
 * @property {NativeSessionStore} plain  over a client made with coalesce: false,
 *   its own host process on the same store
 * @property {EchoPeer} echo
 * @property {PipePeer} pipe  the host's frames each way, no work: the least
 *   any host can take (only in the rows the targets against
 *   chrome.storage.local use)
 * @property {EchoPeer} floor  the floor peer (nmstore-bench-floor): the same
 *   batch frames, parsed with cJSON and committed to SQLite with one upsert
 *   each, nothing else: the least any host backed by SQLite can take
 * @property {EchoPeer} hostAlone  nmstore's host over a bare port, sent
 *   the floor peer's frames: nmstore without its page-side work, its own
 *   host process on the same store
 * @property {number} batchMax  the most requests one batch frame carries (hello's limit, or the client's own if lower)
 */

/**
 * W1 to W3: one session state set and read, one call at a time, many calls
 * in flight (issued in one task, as a page does when it saves every
 * torrent at once), and as one call of every item, chrome.storage.local's
 * best pattern.
 * @param {BenchConfig} config
 * @param {Stores} stores
 * @param {Record<string, any>} checks  what the driver validates
 * @returns {Promise<import('./bench-measure.js').Figure[]>}
 */
async function smallValues(config, stores, checks) {
  const { sessions, plain, echo, pipe, floor, hostAlone } = stores;
  const figures = [];
  const rand = rng(7);
  const state = makeState(rand, config.stateBytes);
  const stateBytes = enc.encode(JSON.stringify(state));
  const hash = 'ab'.repeat(20);
  const key = `torrent:${hash}:state`;
  /** The host's set request, so that the echo peer moves the same bytes. */
  const setRequest = { op: 'set', items: { [sessions.prefix + key]: { $bytes: bytesToBase64(stateBytes) } } };
  const n = config.inFlight;
  const keyOf = (/** @type {number} */ i) => `torrent:${String(i).padStart(40, '0')}:state`;
  const keys = Array.from({ length: n }, (_, i) => keyOf(i));
  const cslKeys = keys.map((k) => CSL + k);

  say('W1: sequential set of a session state');
  await sessions.clear();
  await chrome.storage.local.clear();
  figures.push(figure('W1.set', `sequential set of a ${stateBytes.length}-byte session state, per call`, 'ms', await interleave(config.rounds, {
    host: () => perCall(config.sequential, () => sessions.set(key, stateBytes)),
    chromeStorage: () => perCall(config.sequential, () => chrome.storage.local.set({ [CSL + key]: state })),
    echo: () => perCall(config.sequential, () => echo.send(setRequest)),
    floor: () => perCall(config.sequential, () => floor.send(setRequest)),
    hostAlone: () => perCall(config.sequential, () => hostAlone.send(setRequest)),
  }), {
    host: 'NativeSessionStore.set(key, Uint8Array)',
    chromeStorage: 'chrome.storage.local.set({key: state})',
    echo: "the host's set request, echoed",
    floor: "the host's set request, made once, committed by nmstore-bench-floor",
    hostAlone: "the same request, made once, to nmstore over a bare port",
  }));

  say('W2: writes in flight');
  const setEach = (/** @type {NativeSessionStore} */ s) => rate(n, (i) => s.set(keys[i], stateBytes));
  // As an author would write all at once through the client: NativeSessionStore
  // has no call for many values, so NmstoreClient.set with its $bytes form.
  /** @type {Record<string, any>} */
  const hostItems = {};
  for (const k of keys) hostItems[sessions.prefix + k] = { $bytes: bytesToBase64(stateBytes) };
  /** @type {Record<string, any>} */
  const cslItems = {};
  for (const k of cslKeys) cslItems[k] = state;
  // Once outside the timing: the frames each way of writing sends, for the
  // coalescing check and for the echo peer's stand-ins.
  const setFrames = await framesOf(sessions.client, () => setEach(sessions));
  const setFramesOff = await framesOf(plain.client, () => setEach(plain));
  const setOneFrames = await framesOf(sessions.client, () => sessions.client.set(hostItems));
  checks.coalesce = { calls: n, batchMax: stores.batchMax, setFrames: setFrames.sent.length, setFramesOff: setFramesOff.sent.length };
  const echoSets = echoPlan(setFrames), echoSetsOff = echoPlan(setFramesOff), echoSetOne = echoPlan(setOneFrames);
  // The floor peer gets the batch frames the client sends, made once here:
  // its figure is the pipe and SQLite's, without the client's own work.
  const floorSets = floorBatches(keys.map((k) => ({ op: 'set', items: { [sessions.prefix + k]: { $bytes: bytesToBase64(stateBytes) } } })), stores.batchMax);
  // Both peers sent the floor's frames, checked once outside the timing.
  const framePeers = /** @type {const} */ ([['floor', floor], ['hostAlone', hostAlone]]);
  for (const [name, peer] of framePeers) checks[name] = { sets: n, setsOk: okRequests(await Promise.all(floorSets.map((m) => peer.send(m)))) };
  figures.push(figure('W2.inFlight', `${n} sets of a session state in flight`, 'msg/s', await interleave(config.rounds, {
    host: () => setEach(sessions),
    chromeStorage: () => rate(n, (i) => chrome.storage.local.set({ [cslKeys[i]]: state })),
    echo: () => perItem(n, () => echo.all(echoSets)),
    pipe: () => perItem(n, () => pipe.move(setFrames)),
    floor: () => perItem(n, () => floor.all(floorSets)),
    hostAlone: () => perItem(n, () => hostAlone.all(floorSets)),
  }), {
    host: `NativeSessionStore.set per key, ${n} calls in one task, coalesced into ${setFrames.sent.length} batch frame(s)`,
    chromeStorage: `chrome.storage.local.set per key, ${n} calls in one task`,
    echo: `the batch frames' ${(sum(setFrames.sent) / MB).toFixed(2)} MB in ${echoSets.length} frame(s) of at most 1 MiB, echoed`,
    pipe: 'the same frames to the peer, its replies back, each as long as the host\'s',
    floor: `the same ${floorSets.length} batch frames, made once, to nmstore-bench-floor: cJSON, then one upsert per item in one transaction per frame`,
    hostAlone: `the floor peer's ${floorSets.length} batch frames to nmstore over a bare port`,
  }));
  figures.push(figure('W2.oneByOne', `${n} sets of a session state in flight, coalescing off`, 'msg/s', await interleave(config.rounds, {
    host: () => setEach(plain),
    echo: () => perItem(n, () => echo.all(echoSetsOff)),
  }), {
    host: `as above, over new NmstoreClient({coalesce: false}): ${setFramesOff.sent.length} frames`,
    echo: "each set request, echoed, all in flight",
  }));
  figures.push(figure('W2.one', `${n} sets as one call of ${n} items, per item`, 'msg/s', await interleave(config.rounds, {
    host: () => perItem(n, () => sessions.client.set(hostItems)),
    chromeStorage: () => perItem(n, () => chrome.storage.local.set(cslItems)),
    echo: () => perItem(n, () => echo.all(echoSetOne)),
  }), {
    host: `NmstoreClient.set({${n} items}) with {$bytes} values`,
    chromeStorage: `chrome.storage.local.set({${n} items})`,
    echo: `the request's ${(sum(setOneFrames.sent) / MB).toFixed(2)} MB in frames of at most 1 MiB, echoed`,
  }));

  say('W3: gets');
  await sessions.set(key, stateBytes);
  await chrome.storage.local.set({ [CSL + key]: state });
  const getReply = await sessions.client.request('get', { keys: [sessions.prefix + key] });
  const getEcho = EchoPeer.sized(replyBytes(getReply));
  const check = await sessions.get(key);
  if (!check || check.length !== stateBytes.length) throw new Error('W3: the host did not return the state it stored');
  figures.push(figure('W3.get', `sequential get of a ${stateBytes.length}-byte value, per call`, 'ms', await interleave(config.rounds, {
    host: () => perCall(config.sequential, () => sessions.get(key)),
    chromeStorage: () => perCall(config.sequential, () => chrome.storage.local.get(CSL + key)),
    echo: () => perCall(config.sequential, () => echo.send(getEcho)),
  })));

  // W2 left the same state under every key, in both stores.
  const getEach = (/** @type {NativeSessionStore} */ s) => rate(n, (i) => s.get(keys[i]));
  const gotHost = await sessions.getMulti(keys);
  const gotCsl = /** @type {Record<string, any>} */ (await chrome.storage.local.get(cslKeys));
  checks.W3 = {
    keys: n,
    host: keys.filter((k) => gotHost.get(k)?.length === stateBytes.length).length,
    chromeStorage: cslKeys.filter((k) => gotCsl[k]?.bitfield === state.bitfield).length,
  };
  const getFrames = await framesOf(sessions.client, () => getEach(sessions));
  const getFramesOff = await framesOf(plain.client, () => getEach(plain));
  const getOneFrames = await framesOf(sessions.client, () => sessions.getMulti(keys));
  Object.assign(checks.coalesce, { getFrames: getFrames.sent.length, getFramesOff: getFramesOff.sent.length });
  const echoGets = echoPlan(getFrames), echoGetsOff = echoPlan(getFramesOff), echoGetOne = echoPlan(getOneFrames);
  const floorGets = floorBatches(keys.map((k) => ({ op: 'get', keys: [sessions.prefix + k] })), stores.batchMax);
  for (const [name, peer] of framePeers) {
    const got = await Promise.all(floorGets.map((m) => peer.send(m)));
    Object.assign(checks[name], {
      gets: n, getsOk: okRequests(got),
      getsFound: got.flatMap((r) => r.replies ?? []).filter((r) => Object.keys(r.items ?? {}).length === 1).length,
    });
  }
  figures.push(figure('W3.inFlight', `${n} gets of a ${stateBytes.length}-byte value in flight`, 'msg/s', await interleave(config.rounds, {
    host: () => getEach(sessions),
    chromeStorage: () => rate(n, (i) => chrome.storage.local.get(cslKeys[i])),
    echo: () => perItem(n, () => echo.all(echoGets)),
    pipe: () => perItem(n, () => pipe.move(getFrames)),
    floor: () => perItem(n, () => floor.all(floorGets)),
    hostAlone: () => perItem(n, () => hostAlone.all(floorGets)),
  }), {
    host: `NativeSessionStore.get of ${n} keys, ${n} calls in one task, coalesced into ${getFrames.sent.length} batch frame(s)`,
    chromeStorage: `chrome.storage.local.get per key, ${n} calls in one task`,
    echo: `the batch replies' ${(sum(getFrames.received) / MB).toFixed(2)} MB in ${echoGets.length} frame(s) of at most 1 MiB, echoed`,
    pipe: 'the same frames to the peer, its replies back, each as long as the host\'s',
    floor: `the same ${floorGets.length} batch frames, made once, to nmstore-bench-floor: cJSON, then one SELECT per key`,
    hostAlone: `the floor peer's ${floorGets.length} batch frames to nmstore over a bare port`,
  }));
  figures.push(figure('W3.oneByOne', `${n} gets of a ${stateBytes.length}-byte value in flight, coalescing off`, 'msg/s', await interleave(config.rounds, {
    host: () => getEach(plain),
    echo: () => perItem(n, () => echo.all(echoGetsOff)),
  }), {
    host: `as above, over new NmstoreClient({coalesce: false}): ${getFramesOff.sent.length} frames`,
    echo: "each get's reply, echoed, all in flight",
  }));
  figures.push(figure('W3.one', `${n} gets as one call of ${n} keys, per item`, 'msg/s', await interleave(config.rounds, {
    host: () => perItem(n, () => sessions.getMulti(keys)),
    chromeStorage: () => perItem(n, () => chrome.storage.local.get(cslKeys)),
    echo: () => perItem(n, () => echo.all(echoGetOne)),
  }), {
    host: `NativeSessionStore.getMulti([${n} keys])`,
    chromeStorage: `chrome.storage.local.get([${n} keys])`,
    echo: `the reply's ${(sum(getOneFrames.received) / MB).toFixed(2)} MB in frames of at most 1 MiB, echoed`,
  }));
  await sessions.clear();
  await chrome.storage.local.clear();
  return figures;
}

/**
 * Today's engine: the index, then per torrent its state, .torrent file and
 * info dictionary, each an awaited get. Returns how many states it read.
 * @param {(key: string) => Promise<any>} get  resolves to the value or null
 */
async function perKeyRestore(get) {
  const index = await get('torrents');
  let states = 0;
  for (const e of index.torrents) {
    const base = `torrent:${e.infoHash}:`;
    if (await get(base + 'state')) states++;
    await get(base + 'torrentfile');
    await get(base + 'infodict');
  }
  return states;
}

/**
 * @param {BenchConfig} config
 * @param {Stores} stores
 * @param {boolean} withFiles  W4b and the list, or W4a
 * @param {Record<string, any>} checks  what the driver validates
 * @returns {Promise<import('./bench-measure.js').Figure[]>}
 */
async function restores(config, stores, withFiles, checks) {
  const { sessions, echo, pipe } = stores;
  const id = withFiles ? 'W4b' : 'W4a';
  const rounds = withFiles ? config.bulkRounds : config.rounds;
  say(`${id}: making ${config.torrents} torrents`);
  const data = await makeSession(config, withFiles);
  say(`${id}: storing them in the host and in chrome.storage.local`);
  await fillHost(sessions, data);
  await fillCsl(data);
  const n = data.torrents.length;

  // The engine reads its JSON values back from bytes; chrome.storage.local
  // hands them back parsed, and the .torrent as base64 text.
  const hostGet = async (/** @type {string} */ k) => {
    const v = await sessions.get(k);
    return v && (k.endsWith(':torrentfile') ? v : JSON.parse(dec.decode(v)));
  };
  const cslGet = async (/** @type {string} */ k) => {
    const items = /** @type {Record<string, any>} */ (await chrome.storage.local.get(CSL + k));
    const v = items[CSL + k];
    return v === undefined ? null : k.endsWith(':torrentfile') ? base64ToBytes(v) : v;
  };

  // The sizes the echo peer stands in for: each get's reply, and the
  // whole restore's.
  const echoSizes = [replyBytes(await sessions.client.request('get', { keys: [sessions.prefix + 'torrents'] }))];
  for (const t of data.torrents) {
    for (const s of ['state', 'torrentfile', 'infodict']) {
      echoSizes.push(replyBytes(await sessions.client.request('get', { keys: [`${sessions.prefix}torrent:${t.infoHash}:${s}`] })));
    }
  }
  const echoMessages = echoSizes.map((b) => EchoPeer.sized(b));
  const restoreReply = await sessions.client.request('sessionRestore', { prefix: sessions.prefix });
  const restoreWire = wireBytes(restoreReply);
  const restoreFrames = await framesOf(sessions.client, () => sessions.restoreSession());

  // What the restores return, checked once outside the timing.
  const restored = await sessions.restoreSession();
  checks[id] = {
    torrents: n, restored: restored.torrents.length, problems: restored.problems.length, via: restored.via,
    perKeyStatesHost: await perKeyRestore(hostGet), perKeyStatesChromeStorage: await perKeyRestore(cslGet),
    restoreWireBytes: restoreWire,
  };
  if (restored.problems.length) console.warn(`[bench] ${id}: the host reported problems`, restored.problems.slice(0, 3));

  const figures = [];
  say(`${id}: per-key restores`);
  figures.push(figure(`${id}.perKey`, `restore ${n} torrents by per-key gets, 3 per torrent, each awaited`, 'ms', await interleave(rounds, {
    host: () => once(() => perKeyRestore(hostGet)),
    chromeStorage: () => once(() => perKeyRestore(cslGet)),
    echo: () => once(async () => { for (const m of echoMessages) await echo.send(m); }),
  }), {
    host: 'NativeSessionStore.get per key',
    chromeStorage: 'chrome.storage.local.get per key',
    echo: "each get's reply size, echoed",
  }));

  say(`${id}: one-round-trip restores`);
  // chrome.storage.local used well, two ways: the index, then one get of
  // every key it names; or one get(null) of everything. Either ends with
  // the .torrent files as bytes, as restoreSession() returns them.
  const cslKeysOf = (/** @type {any} */ index) => index.torrents.flatMap((/** @type {any} */ e) =>
    ['state', 'torrentfile', 'infodict'].map((s) => `${CSL}torrent:${e.infoHash}:${s}`));
  const cslDecode = (/** @type {Record<string, any>} */ items, /** @type {string[]} */ keys) => {
    let states = 0;
    for (const k of keys) {
      if (k.endsWith(':torrentfile') && items[k] !== undefined) base64ToBytes(items[k]);
      else if (k.endsWith(':state') && items[k] !== undefined) states++;
    }
    return states;
  };
  const cslByKeys = async () => {
    const first = /** @type {Record<string, any>} */ (await chrome.storage.local.get(`${CSL}torrents`));
    const keys = cslKeysOf(first[`${CSL}torrents`]);
    return cslDecode(/** @type {Record<string, any>} */ (await chrome.storage.local.get(keys)), keys);
  };
  const cslEverything = async () => {
    const items = /** @type {Record<string, any>} */ (await chrome.storage.local.get(null));
    return cslDecode(items, cslKeysOf(items[`${CSL}torrents`]));
  };
  checks[id].cslByKeysStates = await cslByKeys();
  checks[id].cslEverythingStates = await cslEverything();
  // One rotation for all four, so that a busy moment slows each alike.
  const one = await interleave(rounds, {
    host: () => once(() => sessions.restoreSession()),
    chromeStorage: () => once(cslByKeys),
    echo: () => once(() => echo.bulk(restoreWire)),
    pipe: () => once(() => pipe.move(restoreFrames)),
    chromeStorageAll: () => once(cslEverything),
  });
  figures.push(figure(`${id}.oneTrip`, `restore ${n} torrents in one round trip`, 'ms',
    { host: one.host, chromeStorage: one.chromeStorage, echo: one.echo, pipe: one.pipe }, {
      host: 'NativeSessionStore.restoreSession() (sessionRestore)',
      chromeStorage: 'chrome.storage.local.get of the index, then one get of every key',
      echo: `the restore reply's ${(restoreWire / MB).toFixed(2)} MB, in 1 MiB frames`,
      pipe: `the request's and the reply's ${restoreFrames.received.length} frames, each one way`,
    }));
  figures.push(figure(`${id}.everything`, `restore ${n} torrents by one get(null) of everything`, 'ms',
    { chromeStorage: one.chromeStorageAll }, {
      chromeStorage: 'chrome.storage.local.get(null), the .torrent files decoded',
    }));

  if (withFiles) {
    // The pipe's bulk limit: the same bytes as 1 MiB echo frames, in flight;
    // and the same bytes at the pace of chrome.storage.local's faster
    // pattern, which moves them inside the browser, not over a pipe.
    const cslBest = median(one.chromeStorage) <= median(one.chromeStorageAll) ? one.chromeStorage : one.chromeStorageAll;
    const mbps = (/** @type {number[]} */ times) => times.map((ms) => restoreWire / MB / (ms / 1000));
    figures.push(figure(`${id}.mbps`, `restore reply bytes per second (${(restoreWire / MB).toFixed(1)} MB on the pipe)`, 'MB/s',
      { host: mbps(one.host), chromeStorage: mbps(cslBest), echo: mbps(one.echo), pipe: mbps(one.pipe) }, {
        host: 'the reply\'s bytes over the restoreSession() time',
        chromeStorage: `the same bytes over the time of its faster pattern (${cslBest === one.chromeStorage ? 'index, then every key' : 'get(null)'})`,
        echo: 'the same bytes in 1 MiB frames, in flight, both ways: the pipe\'s limit as issue 9 set it',
        pipe: 'the reply\'s frames from the peer, one way: the least any host could take',
      }));
    // The same reply without NativeSessionStore's work on it (base64 to
    // bytes per .torrent), to tell the pipe and host from the page's own
    // decoding.
    figures.push(figure(`${id}.replyAlone`, `restore ${n} torrents in one round trip, the reply alone`, 'ms', await interleave(rounds, {
      host: () => once(() => sessions.client.request('sessionRestore', { prefix: sessions.prefix })),
      echo: () => once(() => echo.bulk(restoreWire)),
    }), {
      host: "client.request('sessionRestore'): chunks joined and parsed, no bytes decoded",
      echo: 'as above',
    }));
    figures.push(...await torrentList(stores, data, rounds, checks));
  }
  await sessions.clear();
  await chrome.storage.local.clear();
  return figures;
}

/**
 * How long a status page needs to show the list of torrents (name, size,
 * progress): from the host's sessionSummary, against reading and
 * bencode-decoding everything from chrome.storage.local.
 * @param {Stores} stores
 * @param {import('./bench-data.js').SessionData} data
 * @param {number} rounds
 * @param {Record<string, any>} checks
 * @returns {Promise<import('./bench-measure.js').Figure[]>}
 */
async function torrentList(stores, data, rounds, checks) {
  const { sessions, echo, pipe } = stores;
  say('list: the status page\'s torrent list');
  const fromHost = async () => {
    const s = await sessions.client.request('sessionSummary', { prefix: sessions.prefix });
    const rows = s.torrents.map((/** @type {any} */ t) => ({ name: t.name, size: t.totalSize, progress: t.progress }));
    renderList(rows);
    return rows;
  };
  const fromCsl = async () => {
    const first = /** @type {Record<string, any>} */ (await chrome.storage.local.get(`${CSL}torrents`));
    const entries = first[`${CSL}torrents`].torrents;
    const keys = [];
    for (const e of entries) keys.push(`${CSL}torrent:${e.infoHash}:state`, `${CSL}torrent:${e.infoHash}:torrentfile`);
    const items = /** @type {Record<string, any>} */ (await chrome.storage.local.get(keys));
    const rows = entries.map((/** @type {any} */ e) => {
      const meta = bdecode(base64ToBytes(items[`${CSL}torrent:${e.infoHash}:torrentfile`]));
      const info = meta.info;
      const size = info.files ? info.files.reduce((/** @type {number} */ a, /** @type {any} */ f) => a + f.length, 0) : info.length;
      const pieces = info.pieces.length / 20;
      const state = items[`${CSL}torrent:${e.infoHash}:state`];
      return { name: dec.decode(info.name), size, progress: progressOf(state?.bitfield ?? '', pieces) };
    });
    renderList(rows);
    return rows;
  };
  const summaryReply = await sessions.client.request('sessionSummary', { prefix: sessions.prefix });
  const summaryWire = wireBytes(summaryReply);
  const listFrames = await framesOf(sessions.client, fromHost);

  // Both ways must show the same list, or the comparison means nothing.
  const a = await fromHost(), b = await fromCsl();
  const same = a.length === b.length && a.every((/** @type {any} */ r, /** @type {number} */ i) => r.name === b[i].name && r.size === b[i].size &&
    Math.abs(r.progress - b[i].progress) < 1e-9);
  checks.list = { torrents: data.torrents.length, rowsHost: a.length, rowsChromeStorage: b.length, same, summaryWireBytes: summaryWire };

  return [figure('list.show', `show the list of ${data.torrents.length} torrents (name, size, progress)`, 'ms', await interleave(rounds, {
    host: () => once(fromHost),
    chromeStorage: () => once(fromCsl),
    echo: () => once(() => echo.bulk(summaryWire)),
    pipe: () => once(() => pipe.move(listFrames)),
  }), {
    host: 'sessionSummary, then the table',
    chromeStorage: 'get index, states and .torrent files, bencode-decode each, then the table',
    echo: `the summary reply's ${(summaryWire / 1000).toFixed(0)} kB, echoed`,
    pipe: 'the request and the summary reply, each one way',
  })];
}

/**
 * Runs every workload. Resolves to the results the driver writes out.
 * @param {Partial<BenchConfig>} [overrides]
 */
async function run(overrides = {}) {
  const config = { ...DEFAULTS, ...overrides };
  const started = new Date().toISOString();
  // No fallback: a missing host must fail the run, not quietly measure
  // chrome.storage.local twice.
  const client = new NmstoreClient({ fallback: null });
  const sessions = new NativeSessionStore(client);
  const conn = await sessions.ready();
  if (!conn.hello?.ops?.includes('batch')) throw new Error(`the host (version ${conn.hello?.version}) has no batch op: build this tree's host`);
  // The same store without coalescing, to show what the batch gains: its
  // own port, so its own host process, on the same origin's database.
  const plainClient = new NmstoreClient({ fallback: null, coalesce: false });
  const plain = new NativeSessionStore(plainClient);
  await plain.ready();
  const echo = new EchoPeer(/** @type {string} */ (config.echoHost));
  await echo.send({ op: 'hello' });
  const pipe = new PipePeer(/** @type {string} */ (config.pipeHost));
  await pipe.move({ sent: [100], received: [100] });
  const floor = new EchoPeer(/** @type {string} */ (config.floorHost), 'floor peer');
  await floor.send({ op: 'batch', requests: [{ id: 1, op: 'set', items: { warm: 1 } }] });
  // nmstore without the client: a third host process on the same store, as
  // the uncoalesced client's is a second.
  const hostAlone = new EchoPeer(client.hostName, 'nmstore over a bare port');
  const aloneHello = await hostAlone.send({ op: 'hello' });
  if (!aloneHello?.ok) throw new Error(`nmstore over a bare port: hello failed: ${JSON.stringify(aloneHello)}`);
  const batchMax = Math.min(conn.hello?.limits?.maxBatchRequests ?? 1000, COALESCE_FRAME_REQUESTS);
  const stores = { sessions, plain, echo, pipe, floor, hostAlone, batchMax };
  /** @type {Record<string, any>} */
  const checks = {};
  const figures = [
    ...await smallValues(config, stores, checks),
    ...await restores(config, stores, false, checks),
    ...await restores(config, stores, true, checks),
  ];
  echo.close();
  pipe.close();
  floor.close();
  hostAlone.close();
  plainClient.disconnect();
  client.disconnect();
  say('done');
  return {
    started, finished: new Date().toISOString(), config, userAgent: navigator.userAgent,
    host: { name: client.hostName, version: conn.hello?.version, mode: conn.mode },
    checks, figures,
  };
}

/** @type {any} */ (globalThis).nmstoreBench = { run };
