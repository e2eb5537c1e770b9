// SPDX-License-Identifier: MIT
// harness.js: what the browser tests share: a Debian Chromium with the
// unpacked extension and a profile of its own, the freshly built host
// registered in that profile, real .torrent files from mktorrent, and the
// host processes this browser started.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, readdirSync, readlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const TOP = resolve(here, '../../..');
export const EXTENSION = join(TOP, 'extension');
export const EXTENSION_ID = 'hfjlljhbgdcnhkaehjemmbcjndfgaeea';
export const HOST_BIN = resolve(process.env.NMT_BUILD ?? join(TOP, 'build-dev'), 'nmstore');
export const OUT = join(TOP, 'tests/browser/out');

if (!existsSync(HOST_BIN)) {
  throw new Error(`no nmstore binary at ${HOST_BIN}: build the host first, or set NMT_BUILD to its build directory`);
}

/** A fresh profile directory and a fresh NMSTORE_HOME, removed by cleanup(). */
export function makeProfile(name) {
  const root = mkdtempSync(join(tmpdir(), `nmstore-e2e-${name}-`));
  const profile = { root, userDataDir: join(root, 'profile'), home: join(root, 'home'), contexts: /** @type {any[]} */ ([]) };
  mkdirSync(profile.userDataDir);
  // The host refuses a data root that other users can reach (looser than 0700).
  mkdirSync(profile.home, { mode: 0o700 });
  return profile;
}

/** Registers the built host in the profile, where Chromium looks with --user-data-dir. */
export function installHost(profile) {
  const dir = join(profile.userDataDir, 'NativeMessagingHosts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'org.nmstore.host.json'), JSON.stringify({
    name: 'org.nmstore.host',
    description: 'nmstore under test',
    path: HOST_BIN,
    type: 'stdio',
    allowed_origins: [`chrome-extension://${EXTENSION_ID}/`],
  }, null, 2));
}

/**
 * Starts Chromium on the profile and waits for the extension's service worker.
 * `extension` loads another directory with the same manifest key (a copy of
 * extension/ with test pages added), so the extension id stays EXTENSION_ID.
 * @param {{extension?: string}} [options]
 * @returns {Promise<{context: import('playwright-core').BrowserContext, worker: import('playwright-core').Worker}>}
 */
export async function launch(profile, { extension = EXTENSION } = {}) {
  const context = await chromium.launchPersistentContext(profile.userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: false, // --headless=new is passed below, as the issue asks
    env: { ...process.env, NMSTORE_HOME: profile.home },
    ignoreDefaultArgs: ['--disable-extensions'],
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--disable-extensions-except=${extension}`, `--load-extension=${extension}`,
    ],
    viewport: { width: 1000, height: 900 },
  });
  profile.contexts.push(context);
  let worker = context.serviceWorkers().find((w) => w.url().startsWith(`chrome-extension://${EXTENSION_ID}/`));
  if (!worker) {
    worker = await context.waitForEvent('serviceworker', {
      predicate: (w) => w.url().startsWith(`chrome-extension://${EXTENSION_ID}/`),
      timeout: 30000,
    });
  }
  return { context, worker };
}

/** Opens the status page and waits until it has rendered once. */
export async function openStatusPage(context) {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
  await page.waitForFunction(() => /** @type {any} */ (globalThis).nmstorePage?.ready);
  await page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.ready);
  return page;
}

/**
 * The pids of nmstore hosts serving this profile: the built binary, with
 * this profile's NMSTORE_HOME in its environment. Only those are ever killed.
 */
export function hostPids(profile) {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/exe`) !== HOST_BIN) continue;
      const env = readFileSync(`/proc/${d}/environ`, 'latin1').split('\0');
      if (env.includes(`NMSTORE_HOME=${profile.home}`)) pids.push(Number(d));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** Reads the store with the command line, as a person would. */
export function cliGet(profile, prefix) {
  const out = execFileSync(HOST_BIN, ['get', '--origin', `chrome-extension://${EXTENSION_ID}/`, '--prefix', prefix], {
    env: { ...process.env, NMSTORE_HOME: profile.home },
  });
  return JSON.parse(out.toString());
}

/**
 * Real .torrent files: n data sets of different shapes, each through
 * mktorrent, with the info dictionary cut out of the bencoded file.
 * @returns {{name: string, infoHash: string, torrentFile: Buffer, infoDict: Buffer, pieceCount: number, totalSize: number}[]}
 */
export function makeTorrents(dir, n) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const name = `dataset-${String(i).padStart(2, '0')}`;
    const data = join(dir, name);
    let totalSize = 0;
    if (i % 3 === 0) {
      mkdirSync(data, { recursive: true });
      for (let f = 0; f < 3; f++) {
        const buf = Buffer.alloc(40000 + i * 1000 + f * 333, i * 7 + f);
        writeFileSync(join(data, `part-${f}.bin`), buf);
        totalSize += buf.length;
      }
    } else {
      const buf = Buffer.alloc(100000 + i * 8192, i);
      writeFileSync(data, buf);
      totalSize = buf.length;
    }
    const file = join(dir, `${name}.torrent`);
    // -l 15: 32 KiB pieces (mktorrent's smallest), several per torrent.
    execFileSync('mktorrent', ['-l', '15', '-a', 'http://tracker.invalid/announce', '-o', file, data], { stdio: 'ignore' });
    const torrentFile = readFileSync(file);
    const infoDict = cutInfoDict(torrentFile);
    const infoHash = createHash('sha1').update(infoDict).digest('hex');
    const pieceCount = Math.ceil(totalSize / 32768);
    list.push({ name, infoHash, torrentFile, infoDict, pieceCount, totalSize });
  }
  return list;
}

/** The exact bytes of the top-level "info" value of a bencoded dictionary. */
function cutInfoDict(buf) {
  let i = 0;
  const skip = () => {
    const c = buf[i];
    if (c === 0x69) { i = buf.indexOf(0x65, i) + 1; return; }           // i...e
    if (c === 0x6c || c === 0x64) { i++; while (buf[i] !== 0x65) skip(); i++; return; } // l...e, d...e
    const colon = buf.indexOf(0x3a, i);                                  // <len>:<bytes>
    i = colon + 1 + Number(buf.subarray(i, colon).toString());
  };
  if (buf[0] !== 0x64) throw new Error('a .torrent file must be a bencoded dictionary');
  i = 1;
  while (buf[i] !== 0x65) {
    const colon = buf.indexOf(0x3a, i);
    const key = buf.subarray(colon + 1, colon + 1 + Number(buf.subarray(i, colon).toString())).toString();
    i = colon + 1 + key.length;
    const start = i;
    skip();
    if (key === 'info') return buf.subarray(start, i);
  }
  throw new Error('the .torrent file has no info dictionary');
}

/** Closes the profile's browsers, then removes its directories. */
export async function cleanup(profile) {
  for (const c of profile.contexts) await c.close().catch(() => {});
  rmSync(profile.root, { recursive: true, force: true });
}
