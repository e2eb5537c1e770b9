// SPDX-License-Identifier: MIT
// options.js: the status page's behaviour: it asks the host (through its own
// NmstoreClient, so its own host process) what it is and what it holds, and
// renders that for a person; export, import, unlock and live changes.
import { NmstoreClient } from './lib/nmstore-client.js';
import { NativeSessionStore } from './lib/native-session-store.js';
import { describeHostError, thisExtension } from './lib/host-errors.js';

const client = new NmstoreClient();
const sessions = new NativeSessionStore(client);

/** @type {{changes: Record<string, any>, overflow: boolean, at: number}[]} */
const events = [];
/** Tests and curious people read the page's state here. */
/** @type {any} */ (globalThis).nmstorePage = { client, sessions, events, rendered: null, worker: null };

/** @param {string} id */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`options.html has no #${id}`);
  return el;
}

/**
 * @param {string} id
 * @param {string} text
 */
function setText(id, text) { $(id).textContent = text; }

/** @param {number} n */
function formatBytes(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/** @param {number | undefined} ms */
function formatDate(ms) {
  if (typeof ms !== 'number') return '—';
  return new Date(ms).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/**
 * @param {'ok' | 'warn' | 'error' | 'wait'} kind
 * @param {string} text
 */
function badge(kind, text) {
  const b = $('badge');
  b.className = `badge badge-${kind}`;
  b.textContent = text;
}

/**
 * @typedef {object} Row
 * @property {string} name
 * @property {string} infoHash
 * @property {number | null} size
 * @property {number | null} progress
 * @property {string} state
 * @property {number | undefined} addedAt
 */

/**
 * The torrent list: from sessionSummary when the host has it, otherwise
 * from the index and states, which carry no names, sizes or progress.
 * @param {import('./lib/nmstore-client.js').Connection} conn
 * @returns {Promise<{rows: Row[], problems: any[], note: string | null}>}
 */
async function loadTorrents(conn) {
  if (conn.mode === 'native') {
    try {
      const s = await client.request('sessionSummary', { prefix: sessions.prefix });
      const rows = (s.torrents ?? []).map((/** @type {any} */ t) => ({
        name: t.name ?? t.infoHash, infoHash: t.infoHash, size: t.totalSize ?? null,
        progress: t.progress ?? null, state: t.userState ?? '—', addedAt: t.addedAt,
      }));
      return { rows, problems: s.problems ?? [], note: null };
    } catch (e) {
      if (/** @type {any} */ (e).code !== 'E_UNKNOWN_OP') throw e;
    }
  }
  const index = await sessions.getJson('torrents');
  const entries = Array.isArray(index?.torrents) ? index.torrents : [];
  const states = await Promise.all(entries.map((/** @type {any} */ e) =>
    sessions.getJson(`torrent:${e.infoHash}:state`).catch(() => null)));
  const rows = entries.map((/** @type {any} */ e, /** @type {number} */ i) => ({
    name: e.infoHash, infoHash: e.infoHash, size: null, progress: null,
    state: states[i]?.userState ?? '—', addedAt: e.addedAt,
  }));
  const note = conn.mode === 'fallback'
    ? 'Shown from the browser\'s own storage while the host is missing. Names, sizes and progress need the nmstore host.'
    : `Names, sizes and progress come from the host's session summary, which this host (version ${conn.hello?.version}) does not have; a newer nmstore shows them.`;
  return { rows, problems: [], note };
}

/** @param {Row[]} rows */
function renderTorrents(rows) {
  const body = /** @type {HTMLTableSectionElement} */ ($('torrents').querySelector('tbody'));
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.dataset.infoHash = r.infoHash;
    const name = document.createElement('td');
    name.className = r.name === r.infoHash ? 'name hash' : 'name';
    name.textContent = r.name;
    name.title = r.infoHash;
    const size = document.createElement('td');
    size.className = r.size == null ? 'num muted' : 'num';
    size.textContent = r.size == null ? '—' : formatBytes(r.size);
    const prog = document.createElement('td');
    if (r.progress == null) {
      prog.textContent = '—';
      prog.className = 'muted';
    } else {
      const pct = Math.round(r.progress * 1000) / 10;
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.setAttribute('role', 'progressbar');
      bar.setAttribute('aria-valuenow', String(pct));
      const fill = document.createElement('span');
      fill.style.width = `${pct}%`;
      if (pct >= 100) fill.className = 'done';
      bar.append(fill);
      const label = document.createElement('span');
      label.className = 'pct';
      label.textContent = `${pct}%`;
      prog.append(bar, label);
      prog.className = 'progress';
    }
    const state = document.createElement('td');
    const pill = document.createElement('span');
    pill.className = `pill pill-${r.state}`;
    pill.textContent = r.state;
    state.append(pill);
    const added = document.createElement('td');
    added.textContent = formatDate(r.addedAt);
    tr.append(name, size, prog, state, added);
    body.append(tr);
  }
  $('torrents').hidden = rows.length === 0;
  $('no-torrents').hidden = rows.length !== 0;
  setText('torrent-count', rows.length ? `${rows.length} torrent${rows.length === 1 ? '' : 's'}` : '');
}

/** @param {any[]} problems */
function renderProblems(problems) {
  const ul = $('problems');
  ul.replaceChildren(...problems.map((p) => {
    const li = document.createElement('li');
    li.textContent = `${p.infoHash ?? p.key}: ${p.reason}`;
    return li;
  }));
  ul.hidden = problems.length === 0;
}

/**
 * The card that says why the host cannot be used, and how to fix it.
 * @param {import('./lib/host-errors.js').HostProblem | null} p  null hides it
 * @param {{fallback?: boolean}} [options]
 */
function showProblem(p, options = {}) {
  $('missing').hidden = !p;
  if (!p) return;
  $('missing').className = `card ${p.kind === 'not-found' && !p.broken ? 'card-warn' : 'card-error'}`;
  setText('problem-title', p.title);
  setText('problem-sentence', p.sentence);
  setText('problem-fix-text', p.fixText);
  setText('problem-command', p.command);
  setText('problem-raw', p.browserMessage);
  $('problem-raw-line').hidden = p.broken; // the sentence quotes it already
  $('install-steps').hidden = !(p.kind === 'not-found' && !p.broken);
  $('fallback-note').hidden = !options.fallback;
}

/**
 * Export and import read and write every item: off while they cannot work.
 * @param {string | null} reason  why they are off; null turns them on
 */
function setBackup(reason) {
  for (const id of ['export', 'import', 'import-file']) {
    /** @type {HTMLButtonElement | HTMLInputElement} */ ($(id)).disabled = reason !== null;
  }
  $('backup-disabled').hidden = reason === null;
  setText('backup-disabled', reason ?? '');
}

/** Why the host cannot be used, once refresh() found out; null when it can. */
/** @type {import('./lib/host-errors.js').HostProblem | null} */
let hostProblem = null;
/** The host's store is locked, as refresh() last saw it. */
let storeLocked = false;

function showEventsStatus() {
  return client.onChanged.whenSubscribed().then((ok) => {
    // The card above already says why the host cannot be reached.
    const why = hostProblem ? 'the nmstore host cannot be reached (see above).'
      : storeLocked ? 'they start once the store is unlocked.'
        : client.eventsUnavailableReason;
    setText('events-status', ok ? 'Live: changes made by any part of the extension appear here.' : `No live changes: ${why}`);
  });
}

async function refresh() {
  let conn;
  try {
    conn = await sessions.ready();
  } catch (e) {
    const err = /** @type {any} */ (e);
    // Every way of failing to reach the host has a sentence and a fix; an
    // error without one (a bug) still says what it is.
    const p = err.problem ?? describeHostError(err.message, thisExtension());
    hostProblem = p;
    showProblem(p);
    badge('error', p.broken ? 'Installed but broken' : p.kind === 'forbidden' ? 'Not allowed' : 'Host error');
    setText('status', `Not connected: ${p.title.replace(/^The /, 'the ')}`);
    for (const id of ['version', 'origin', 'store', 'encryption', 'bytes']) setText(id, '—');
    $('unlock').hidden = true;
    renderTorrents([]);
    setText('no-torrents', 'The torrents are in nmstore, which cannot be reached.');
    setBackup('Export and import need the nmstore host, which cannot be reached (see above).');
    /** @type {any} */ (globalThis).nmstorePage.rendered = { mode: 'error', code: err.code, problem: p };
    return;
  }
  hostProblem = null;
  storeLocked = conn.mode === 'native' && !!conn.hello.locked;
  if (conn.mode === 'fallback') {
    const p = conn.problem ?? describeHostError('Specified native messaging host not found.', thisExtension());
    showProblem(p, { fallback: true });
    badge('warn', 'Host not installed');
    setText('status', 'Not connected: using the browser\'s chrome.storage.local');
    for (const id of ['version', 'origin', 'store', 'encryption']) setText(id, '—');
    $('unlock').hidden = true;
    setBackup(null);
  } else {
    showProblem(null);
    const h = conn.hello;
    badge(h.locked ? 'warn' : 'ok', h.locked ? 'Locked' : 'Connected');
    setText('status', `Connected to ${h.name}`);
    setText('version', `${h.version} (protocol ${h.protocol})`);
    setText('origin', h.origin);
    setText('store', h.store ?? 'not available');
    setText('encryption', h.encrypted ? (h.locked ? 'Encrypted, locked' : 'Encrypted, unlocked') : 'Not encrypted');
    $('unlock').hidden = !h.locked;
    if (h.locked) {
      setText('bytes', '—');
      renderTorrents([]);
      renderProblems([]);
      $('summary-note').hidden = true;
      setText('no-torrents', 'Unlock the store to see its torrents.');
      setBackup('Unlock the store first: export and import read and write its items, which need the passphrase.');
      /** @type {any} */ (globalThis).nmstorePage.rendered = { mode: 'locked', rows: 0, note: null };
      return;
    }
    setBackup(null);
  }
  setText('no-torrents', 'No torrents are stored in this session.'); // after an unlock, too
  try {
    setText('bytes', formatBytes(await client.getBytesInUse(null)));
    const t = await loadTorrents(conn);
    renderTorrents(t.rows);
    renderProblems(t.problems);
    $('summary-note').hidden = !t.note;
    setText('summary-note', t.note ?? '');
    /** @type {any} */ (globalThis).nmstorePage.rendered = { mode: conn.mode, rows: t.rows.length, note: t.note };
  } catch (e) {
    setText('status', `Connected, but reading failed: ${/** @type {Error} */ (e).message}`);
    badge('error', 'Error');
  }
}

/**
 * "Try again": this page's client and the service worker's both try the
 * host again (the worker's would otherwise stay in its fallback or broken
 * state until it restarts), and the page says how each went.
 */
async function retry() {
  const button = /** @type {HTMLButtonElement} */ ($('retry'));
  button.disabled = true;
  setText('retry-result', 'Trying again…');
  try {
    const [, worker] = await Promise.all([
      client.reconnect().catch(() => null), // refresh() shows this page's state
      /** @type {Promise<any>} */ (chrome.runtime.sendMessage({ nmstore: 'retry' })).catch(
        (/** @type {Error} */ e) => ({ ok: false, message: `no answer: ${e.message}` })),
    ]);
    /** @type {any} */ (globalThis).nmstorePage.worker = worker ?? null;
    setText('retry-result', !worker?.ok ? `The extension's background is still not connected: ${worker?.problem?.title ?? worker?.message ?? 'no answer'}.`
      : worker.mode === 'native' ? 'The extension\'s background is connected to nmstore too.'
        : 'The extension\'s background still uses the browser\'s own storage.');
    await refresh();
    await showEventsStatus();
  } finally {
    button.disabled = false;
  }
}

async function exportFile() {
  const items = await client.get(null);
  const blob = new Blob([JSON.stringify(items, null, 1)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `nmstore-export-${new Date().toISOString().slice(0, 10)}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  setText('backup-result', `Exported ${Object.keys(items).length} items.`);
}

/** @param {File} file */
async function importFile(file) {
  let items;
  try {
    items = JSON.parse(await file.text());
  } catch (e) {
    setText('backup-result', `${file.name} is not JSON: ${/** @type {Error} */ (e).message}`);
    return;
  }
  if (items === null || typeof items !== 'object' || Array.isArray(items)) {
    setText('backup-result', `${file.name} must hold one JSON object of key → value, as Export writes.`);
    return;
  }
  try {
    await client.set(items);
  } catch (e) {
    setText('backup-result', `Import failed, nothing was written: ${/** @type {Error} */ (e).message}`);
    return;
  }
  setText('backup-result', `Imported ${Object.keys(items).length} items from ${file.name}.`);
  await refresh();
}

/** @param {SubmitEvent} ev */
async function unlock(ev) {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('passphrase'));
  const passphrase = input.value;
  input.value = '';
  setText('unlock-error', '');
  try {
    await client.unlock(passphrase);
  } catch (e) {
    const err = /** @type {any} */ (e);
    setText('unlock-error', err.code === 'E_AUTH' ? 'Wrong passphrase.'
      : err.code === 'E_UNKNOWN_OP' ? 'This host cannot unlock stores; update nmstore.' : err.message);
    return;
  }
  // The page's host is unlocked; the service worker has its own host, which
  // the extension's background work (the torrent engine) uses, so it is
  // unlocked too.
  /** @type {{ok: boolean, message?: string} | undefined} */
  const worker = await chrome.runtime.sendMessage({ nmstore: 'unlock', passphrase }).catch(
    (/** @type {Error} */ e) => ({ ok: false, message: e.message }));
  if (!worker?.ok) {
    setText('unlock-error', `This page is unlocked, but the extension's background is not: ${worker?.message ?? 'no answer'}`);
  }
  await refresh();
  await showEventsStatus(); // the client subscribed again on unlock
}

let refreshTimer = 0;
/** @type {import('./lib/nmstore-client.js').ChangeListener} */
function onChanged(changes, _area, info) {
  events.push({ changes, overflow: !!info?.overflow, at: Date.now() });
  const ul = $('events');
  const li = document.createElement('li');
  const keys = Object.keys(changes);
  li.textContent = info?.overflow ? 'Many changes at once; the page re-read everything.'
    : `${new Date().toLocaleTimeString()}: ${keys.length} key${keys.length === 1 ? '' : 's'} changed: ${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''}`;
  ul.prepend(li);
  while (ul.children.length > 8) ul.lastElementChild?.remove();
  clearTimeout(refreshTimer);
  refreshTimer = /** @type {any} */ (setTimeout(refresh, 250));
}

$('ext-id').textContent = chrome.runtime.id;
$('retry').addEventListener('click', () => { retry(); });
$('copy-command').addEventListener('click', () => {
  const command = $('problem-command').textContent ?? '';
  navigator.clipboard.writeText(command).then(
    () => setText('retry-result', 'Copied the command.'),
    () => { getSelection()?.selectAllChildren($('problem-command')); setText('retry-result', 'Selected: press Ctrl+C to copy.'); });
});
$('import').addEventListener('click', () => { $('import-file').click(); });
$('export').addEventListener('click', () => { exportFile().catch((e) => setText('backup-result', `Export failed: ${e.message}`)); });
$('import-file').addEventListener('change', (ev) => {
  const input = /** @type {HTMLInputElement} */ (ev.target);
  if (input.files?.[0]) importFile(input.files[0]).finally(() => { input.value = ''; });
});
$('unlock').addEventListener('submit', (ev) => { unlock(/** @type {SubmitEvent} */ (ev)); });

// "Try again" on another open status page reaches this one too (a runtime
// message goes to every extension context but its sender): reconnect and
// show it. Only the service worker answers, so this returns false.
chrome.runtime.onMessage.addListener((message, sender) => {
  if (sender.id !== chrome.runtime.id || message?.nmstore !== 'retry') return false;
  client.reconnect().catch(() => null).then(refresh).then(showEventsStatus);
  return false;
});

client.onChanged.addListener(onChanged);
/** @type {any} */ (globalThis).nmstorePage.ready = refresh().then(showEventsStatus);
