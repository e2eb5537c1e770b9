// SPDX-License-Identifier: MIT
// harness.js: what the Firefox tests share: Debian's firefox-esr, headless,
// driven by puppeteer-core over WebDriver BiDi, with a temporary profile and
// a private HOME in which the built host is registered by the real
// "nmstore install". The companion is installed as a temporary add-on with a
// fixed moz-extension UUID, so its pages have a known address.
import puppeteer from 'puppeteer-core';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const TOP = resolve(here, '../../..');
export const EXTENSION = join(TOP, 'extension');
export const FIREFOX = process.env.NMT_FIREFOX ?? '/usr/bin/firefox-esr';
export const HOST_BIN = resolve(process.env.NMT_BUILD ?? join(TOP, 'build-dev'), 'nmstore');
/** The companion's gecko id; Firefox hands it to the host as the origin. */
export const ADDON_ID = JSON.parse(readFileSync(join(EXTENSION, 'manifest.json'), 'utf8'))
  .browser_specific_settings.gecko.id;

if (!existsSync(HOST_BIN)) {
  throw new Error(`no nmstore binary at ${HOST_BIN}: build the host first, or set NMT_BUILD to its build directory`);
}
if (!existsSync(FIREFOX)) {
  throw new Error(`no Firefox at ${FIREFOX}: install firefox-esr (apt-get install firefox-esr), or set NMT_FIREFOX`);
}

/**
 * The environment of everything that runs for the profile: the private
 * HOME and nothing from the person's XDG folders, so the browser, the host
 * and the CLI all find the manifest and the store under that HOME only.
 */
function envFor(profile) {
  /** @type {Record<string, string>} */
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('XDG_') && k !== 'NMSTORE_HOME' && v !== undefined) env[k] = v;
  }
  env.HOME = profile.home;
  return env;
}

/**
 * A fresh temporary root holding the Firefox profile and a private HOME;
 * removed by cleanup().
 */
export function makeProfile(name) {
  const root = mkdtempSync(join(tmpdir(), `nmstore-ff-${name}-`));
  const profile = {
    root, userDataDir: join(root, 'profile'), home: join(root, 'home'),
    uuid: randomUUID(), browsers: /** @type {import('puppeteer-core').Browser[]} */ ([]),
  };
  mkdirSync(profile.userDataDir);
  // The host refuses a data root that other users can reach.
  mkdirSync(profile.home, { mode: 0o700 });
  profile.env = envFor(profile);
  return profile;
}

/** Registers the built host for Firefox with the real installer, as a person would. */
export function installHost(profile) {
  execFileSync(HOST_BIN, ['install', '--user', '--browser', 'firefox'], { env: profile.env, stdio: 'pipe' });
  const manifest = JSON.parse(readFileSync(join(profile.home, '.mozilla/native-messaging-hosts/org.nmstore.host.json'), 'utf8'));
  if (!manifest.allowed_extensions?.includes(ADDON_ID)) {
    throw new Error(`nmstore install did not allow ${ADDON_ID}: ${JSON.stringify(manifest)}`);
  }
}

/** The moz-extension:// address of a companion page. */
export function extensionUrl(profile, path) {
  return `moz-extension://${profile.uuid}/${path}`;
}

/**
 * Rejects with `what` if `promise` takes longer than `ms`, so that a hung
 * step fails with a message instead of the test runner's bare timeout.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
export function within(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, late]).finally(() => clearTimeout(timer)));
}

/**
 * Starts Firefox headless on the profile and installs the companion as a
 * temporary add-on.
 * @returns {Promise<import('puppeteer-core').Browser>}
 */
export async function launch(profile) {
  const starting = puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile.userDataDir,
    // Firefox's remote agent refuses to navigate to moz-extension:// pages
    // ("Navigation to ... is not allowed in this context") unless system
    // access is allowed; the pages themselves still run as the add-on.
    args: ['--remote-allow-system-access'],
    env: profile.env,
    extraPrefsFirefox: {
      // A known address for the companion's pages.
      'extensions.webextensions.uuids': JSON.stringify({ [ADDON_ID]: profile.uuid }),
      'browser.shell.checkDefaultBrowser': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'toolkit.telemetry.reportingpolicy.firstRun': false,
    },
  });
  let browser;
  try {
    browser = await within(starting, 60000, `starting ${FIREFOX} through WebDriver BiDi`);
  } catch (e) {
    // A Firefox that comes up after all must not outlive the test.
    starting.then((late) => late.close()).catch(() => {});
    throw e;
  }
  profile.browsers.push(browser);
  const id = await within(browser.installExtension(EXTENSION), 30000, `installing ${EXTENSION} as a temporary add-on`);
  if (id !== ADDON_ID) throw new Error(`Firefox installed the companion as ${id}, not ${ADDON_ID}: check browser_specific_settings.gecko.id`);
  return browser;
}

/**
 * Polls fn until it returns a truthy value, or fails with `what` after ms.
 * @template T
 * @param {() => Promise<T>} fn
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
export async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await within(fn(), Math.max(1000, end - Date.now()), what);
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms: ${what}${last ? ` (last error: ${/** @type {Error} */ (last).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Opens a companion page and waits until its document has loaded.
 * puppeteer's goto() never resolves here: the page moves into the add-on's
 * process, puppeteer loses the navigation and reports "Frame detached",
 * although the tab shows the page and scripts evaluate in it. So the
 * navigation is started without waiting, and the document is polled.
 * @param {import('puppeteer-core').Browser} browser
 */
export async function openExtensionPage(profile, browser, path) {
  const url = extensionUrl(profile, path);
  const page = await within(browser.newPage(), 15000, 'opening a tab');
  page.goto(url).catch(() => {});
  await waitFor(() => page.evaluate((u) => location.href === u && document.readyState === 'complete', url),
    15000, `loading ${url}`);
  return page;
}

/** Opens the status page and waits until it has rendered once. */
export async function openStatusPage(profile, browser) {
  const page = await openExtensionPage(profile, browser, 'options.html');
  await waitFor(() => page.evaluate(() => !!(/** @type {any} */ (globalThis).nmstorePage?.ready)),
    15000, 'the status page setting nmstorePage.ready');
  await within(page.evaluate(() => /** @type {any} */ (globalThis).nmstorePage.ready), 15000, 'the status page\'s first render');
  return page;
}

/** Runs the nmstore CLI as the person whose HOME this is. */
export function cli(profile, args) {
  return execFileSync(HOST_BIN, args, { env: profile.env, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Reads the store under the companion's Firefox origin with the CLI. */
export function cliGet(profile, prefix) {
  return JSON.parse(cli(profile, ['get', '--origin', ADDON_ID, '--prefix', prefix]));
}

/**
 * The pids of nmstore hosts serving this profile: the built binary with
 * this profile's HOME in its environment.
 */
export function hostPids(profile) {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/exe`) !== HOST_BIN) continue;
      if (readFileSync(`/proc/${d}/environ`, 'latin1').split('\0').includes(`HOME=${profile.home}`)) pids.push(Number(d));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** Closes the profile's browsers, then removes its directories. */
export async function cleanup(profile) {
  for (const b of profile.browsers) await within(b.close(), 20000, 'closing Firefox').catch(() => b.process()?.kill('SIGKILL'));
  rmSync(profile.root, { recursive: true, force: true });
}
