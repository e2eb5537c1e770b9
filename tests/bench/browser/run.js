// SPDX-License-Identifier: MIT
// run.js: the in-browser benchmark's driver (issue 9, item 2). It starts
// Debian's Chromium headless with the extension unpacked and two native
// hosts registered in a temporary profile (nmstore as org.nmstore.host, the
// echo peer as org.nmstore.echo), runs bench.html (beside this file, added to
// a temporary copy of the extension), and writes the
// figures, their ratios and the issue's in-browser targets to
// <out>/browser-results.json and <out>/browser-results.md. It reports; a
// missed target never makes it fail. It fails only when the run itself
// breaks or its results are malformed.
//
//   node tests/bench/browser/run.js [--out DIR] [--build DIR] [--quick] [--rounds N]
//   node tests/bench/browser/run.js --validate FILE
import { createRequire } from 'node:module';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, cpus, loadavg, release } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const TOP = resolve(here, '../../..');
const EXTENSION_ID = 'hfjlljhbgdcnhkaehjemmbcjndfgaeea';
const ECHO_HOST = 'org.nmstore.echo';

/** The figures the page must produce, by id, and how many of each. */
const EXPECTED = { W1: 1, W2: 1, W3: 2, W4a: 2, W4b: 4, list: 1 };

/** Tiny counts: for the smoke test, which checks shape, never speed. */
const QUICK = { rounds: 1, bulkRounds: 1, sequential: 5, inFlight: 20, torrents: 6, torrentfileAvg: 4000 };

/**
 * The issue's in-browser targets. `measure` returns the ratio in the
 * target's own direction (higher is better for ≥, lower for ≤).
 */
const TARGETS = [
  {
    id: 'W1', text: 'W1 NativeSessionStore.set ≤ 1.1× the echo round trip', op: '<=', goal: 1.1,
    measure: (/** @type {Fig} */ f) => ({ ratio: f('W1', 0).host / f('W1', 0).echo, of: f('W1', 0), unit: 'ms', a: 'host', b: 'echo' }),
  },
  {
    id: 'W2', text: 'W2 2,000 writes in flight ≥ 3× chrome.storage.local\'s throughput', op: '>=', goal: 3,
    measure: (/** @type {Fig} */ f) => ({ ratio: f('W2', 0).host / f('W2', 0).chromeStorage, of: f('W2', 0), unit: 'msg/s', a: 'host', b: 'chromeStorage' }),
  },
  {
    id: 'W4a', text: 'W4a sessionRestore ≥ 3× faster than chrome.storage.local per-key gets', op: '>=', goal: 3,
    measure: (/** @type {Fig} */ f) => ({ ratio: f('W4a', 0).chromeStorage / f('W4a', 1).host, of: { host: f('W4a', 1).host, chromeStorage: f('W4a', 0).chromeStorage }, unit: 'ms', a: 'host', b: 'chromeStorage' }),
  },
  {
    id: 'W4b', text: 'W4b restore ≥ 0.8× the pipe\'s bulk limit (echo, 1 MiB frames)', op: '>=', goal: 0.8,
    measure: (/** @type {Fig} */ f) => ({ ratio: f('W4b', 2).host / f('W4b', 2).echo, of: f('W4b', 2), unit: 'MB/s', a: 'host', b: 'echo' }),
  },
  {
    id: 'list', text: 'torrent list ≥ 10× sooner than decoding from chrome.storage.local', op: '>=', goal: 10,
    measure: (/** @type {Fig} */ f) => ({ ratio: f('list', 0).chromeStorage / f('list', 0).host, of: f('list', 0), unit: 'ms', a: 'host', b: 'chromeStorage' }),
  },
];
/** @typedef {(id: string, n: number) => Record<string, number>} Fig */

const STORES = [['host', 'nmstore'], ['chromeStorage', 'chrome.storage.local'], ['echo', 'echo peer']];

/** The n-th figure with this id, as its medians by store. */
function figOf(/** @type {any} */ results) {
  return (/** @type {string} */ id, /** @type {number} */ n) => {
    const f = results.figures.filter((/** @type {any} */ x) => x.id === id)[n];
    if (!f) throw new Error(`no figure ${id} #${n}`);
    return f.value;
  };
}

/** Ratios and targets, from the page's figures. */
export function judge(/** @type {any} */ results) {
  for (const f of results.figures) {
    f.ratio = {};
    if (f.value.chromeStorage) f.ratio.toChromeStorage = f.value.host / f.value.chromeStorage;
    if (f.value.echo) f.ratio.toEcho = f.value.host / f.value.echo;
  }
  const fig = figOf(results);
  results.targets = TARGETS.map((t) => {
    const m = t.measure(fig);
    const met = t.op === '<=' ? m.ratio <= t.goal : m.ratio >= t.goal;
    // By how much: the factor between the goal and what was measured.
    const off = t.op === '<=' ? m.ratio / t.goal : t.goal / m.ratio;
    // Only the two figures the ratio is made of.
    const values = { [m.a]: m.of[m.a], [m.b]: m.of[m.b] };
    return { id: t.id, target: t.text, op: t.op, goal: t.goal, ratio: m.ratio, met, missedBy: met ? null : off, values, unit: m.unit };
  });
  return results;
}

/**
 * Everything wrong with a results file; empty when it is well formed. No
 * timing is judged here, only that every figure exists and is a finite
 * positive number, and that the page's own cross-checks held.
 * @returns {string[]}
 */
export function validate(/** @type {any} */ r) {
  const errors = [];
  if (!r || !Array.isArray(r.figures)) return ['no figures array'];
  for (const [id, n] of Object.entries(EXPECTED)) {
    const got = r.figures.filter((/** @type {any} */ f) => f.id === id).length;
    if (got !== n) errors.push(`${id}: ${got} figures, expected ${n}`);
  }
  for (const f of r.figures) {
    if (typeof f.label !== 'string' || !['ms', 'msg/s', 'MB/s'].includes(f.unit)) errors.push(`${f.id}: bad label or unit`);
    for (const s of ['host', 'echo']) {
      if (!(Number.isFinite(f.value?.[s]) && f.value[s] > 0)) errors.push(`${f.id} "${f.label}": ${s} is ${f.value?.[s]}`);
    }
    if ('chromeStorage' in (f.value ?? {}) && !(Number.isFinite(f.value.chromeStorage) && f.value.chromeStorage > 0)) {
      errors.push(`${f.id} "${f.label}": chromeStorage is ${f.value.chromeStorage}`);
    }
    for (const [s, xs] of Object.entries(f.rounds ?? {})) {
      if (!Array.isArray(xs) || xs.length !== (r.config?.[f.id === 'W4b' || f.id === 'list' ? 'bulkRounds' : 'rounds'])) {
        errors.push(`${f.id} "${f.label}": ${s} has ${xs?.length} rounds`);
      }
    }
  }
  for (const id of ['W4a', 'W4b']) {
    const c = r.checks?.[id];
    if (!c) { errors.push(`${id}: no checks`); continue; }
    if (c.via !== 'sessionRestore') errors.push(`${id}: restored via ${c.via}, not sessionRestore`);
    if (c.restored !== c.torrents || c.problems !== 0) errors.push(`${id}: ${c.restored} of ${c.torrents} torrents restored, ${c.problems} problems`);
    if (c.perKeyStatesHost !== c.torrents || c.perKeyStatesChromeStorage !== c.torrents) {
      errors.push(`${id}: per-key restores read ${c.perKeyStatesHost} (host) and ${c.perKeyStatesChromeStorage} (chrome.storage.local) states of ${c.torrents}`);
    }
  }
  const l = r.checks?.list;
  if (!l || !l.same || l.rowsHost !== l.torrents) errors.push(`list: the host's and chrome.storage.local's lists differ (${JSON.stringify(l)})`);
  if (!Array.isArray(r.targets) || r.targets.length !== TARGETS.length) errors.push('targets: missing');
  for (const t of r.targets ?? []) {
    if (!Number.isFinite(t.ratio) || typeof t.met !== 'boolean') errors.push(`target ${t.id}: ratio ${t.ratio}, met ${t.met}`);
  }
  if (!r.machine?.date || !r.browser) errors.push('machine or browser missing');
  return errors;
}

/** A number for a table: 3 significant figures, no exponent. */
function num(/** @type {number | undefined} */ x) {
  if (x === undefined || !Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 1000) return Math.round(x).toString();
  return Number(x.toPrecision(3)).toString();
}

/** The Markdown table of figures and targets. */
export function markdown(/** @type {any} */ r) {
  const lines = [];
  const m = r.machine;
  lines.push(`In-browser benchmark: ${r.browser}, headless, ${m.cores} cores (${m.cpu}), Linux ${m.kernel}, ${m.date}; ` +
    `load average ${m.loadBefore.join(' ')} before and ${m.loadAfter.join(' ')} after. ` +
    `Medians of ${r.config.rounds} rounds (${r.config.bulkRounds} for W4b and the list), the three stores interleaved in one browser session.`);
  lines.push('');
  lines.push('| workload | figure | unit | nmstore | chrome.storage.local | echo peer | nmstore ÷ chrome.storage.local | nmstore ÷ echo |');
  lines.push('|---|---|---|---:|---:|---:|---:|---:|');
  for (const f of r.figures) {
    lines.push(`| ${f.id} | ${f.label} | ${f.unit} | ${num(f.value.host)} | ${num(f.value.chromeStorage)} | ${num(f.value.echo)} | ` +
      `${num(f.ratio?.toChromeStorage)} | ${num(f.ratio?.toEcho)} |`);
  }
  lines.push('');
  lines.push('What each store did:');
  lines.push('');
  for (const f of r.figures) {
    if (!f.how) continue;
    lines.push(`- ${f.id}, ${f.label}: ` + STORES.filter(([s]) => f.how[s]).map(([s, name]) => `${name}: ${f.how[s]}`).join('; '));
  }
  lines.push('');
  lines.push('| target | measured | met? |');
  lines.push('|---|---|---|');
  for (const t of r.targets) {
    const vals = Object.entries(t.values).map(([k, v]) => `${STORES.find((s) => s[0] === k)?.[1]} ${num(/** @type {number} */ (v))} ${t.unit}`).join(', ');
    lines.push(`| ${t.target} | ${num(t.ratio)}× (${vals}) | ${t.met ? 'met' : `**missed**, by ${num(t.missedBy)}×`} |`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Copies the extension and adds unlimitedStorage to the copy: W4b keeps
 * about 55 MB of base64 .torrent files in chrome.storage.local, past its
 * 10 MB quota, and an author keeping them there would need that permission.
 * The key in the manifest keeps the extension's id. The benchmark page is
 * added to the copy only, at its top beside lib/, whose modules it imports
 * as ./lib/...: the extension people install has no benchmark in it.
 */
function extensionCopy(/** @type {string} */ root) {
  const dir = join(root, 'extension');
  cpSync(join(TOP, 'extension'), dir, { recursive: true });
  for (const page of ['bench.html', 'bench.js', 'bench-data.js']) cpSync(join(here, page), join(dir, page));
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  manifest.permissions = [...new Set([...(manifest.permissions ?? []), 'unlimitedStorage'])];
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** Writes a native-messaging manifest where Chromium looks with --user-data-dir. */
function registerHost(/** @type {string} */ userDataDir, /** @type {string} */ name, /** @type {string} */ path) {
  const dir = join(userDataDir, 'NativeMessagingHosts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({
    name, description: `${name} for the nmstore benchmark`, path, type: 'stdio',
    allowed_origins: [`chrome-extension://${EXTENSION_ID}/`],
  }, null, 2));
}

/**
 * Runs the page once and returns its judged results.
 * @param {{build: string, quick?: boolean, overrides?: Record<string, number>, log?: (s: string) => void}} opts
 */
export async function runBench(opts) {
  const log = opts.log ?? ((s) => console.error(s));
  const hostBin = resolve(opts.build, 'nmstore');
  const echoBin = resolve(opts.build, 'tests/bench/nmstore-bench-echo');
  for (const b of [hostBin, echoBin]) {
    if (!existsSync(b)) throw new Error(`no ${b}: build the targets nmstore and nmstore-bench-echo in ${opts.build}`);
  }
  // playwright-core lives with the browser tests; no second copy of it.
  const { chromium } = createRequire(join(TOP, 'tests/browser/package.json'))('playwright-core');
  const root = mkdtempSync(join(tmpdir(), 'nmstore-bbench-'));
  const userDataDir = join(root, 'profile');
  const home = join(root, 'home');
  mkdirSync(userDataDir);
  mkdirSync(home, { mode: 0o700 }); // the host refuses a data root looser than 0700
  let context;
  try {
    const extension = extensionCopy(root);
    registerHost(userDataDir, 'org.nmstore.host', hostBin);
    registerHost(userDataDir, ECHO_HOST, echoBin);
    const loadBefore = loadavg().map((x) => x.toFixed(2));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: false, // --headless=new below, as the e2e harness does
      env: { ...process.env, NMSTORE_HOME: home },
      ignoreDefaultArgs: ['--disable-extensions'],
      args: [
        '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        `--disable-extensions-except=${extension}`, `--load-extension=${extension}`,
      ],
    });
    // The extension is loaded once its service worker runs.
    if (!context.serviceWorkers().some((/** @type {any} */ w) => w.url().startsWith(`chrome-extension://${EXTENSION_ID}/`))) {
      await context.waitForEvent('serviceworker', {
        predicate: (/** @type {any} */ w) => w.url().startsWith(`chrome-extension://${EXTENSION_ID}/`), timeout: 30000,
      });
    }
    const page = await context.newPage();
    page.on('console', (/** @type {any} */ m) => { if (m.text().startsWith('[bench]') || m.type() === 'error' || m.type() === 'warning') log(m.text()); });
    page.on('pageerror', (/** @type {any} */ e) => log(`page error: ${e.message}`));
    await page.goto(`chrome-extension://${EXTENSION_ID}/bench.html`);
    await page.waitForFunction(() => /** @type {any} */ (globalThis).nmstoreBench);
    const config = { ...(opts.quick ? QUICK : {}), ...(opts.overrides ?? {}), echoHost: ECHO_HOST };
    const results = await page.evaluate((/** @type {any} */ c) => /** @type {any} */ (globalThis).nmstoreBench.run(c), config);
    results.browser = `Chromium ${context.browser()?.version() ?? ''}`.trim();
    if (results.browser === 'Chromium') results.browser = results.userAgent.match(/Chrome\/[\d.]+/)?.[0].replace('Chrome/', 'Chromium ') ?? 'Chromium';
    results.machine = {
      cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(),
      date: new Date().toISOString().slice(0, 10), loadBefore, loadAfter: loadavg().map((x) => x.toFixed(2)),
    };
    return judge(results);
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  }
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (/** @type {string} */ name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  const validateFile = opt('--validate');
  if (validateFile) {
    const errors = validate(JSON.parse(readFileSync(validateFile, 'utf8')));
    for (const e of errors) console.error(`invalid: ${e}`);
    process.exit(errors.length ? 1 : 0);
  }
  const out = resolve(opt('--out') ?? join(TOP, 'bench'));
  const build = resolve(opt('--build') ?? process.env.NMT_BUILD ?? join(TOP, 'build-bench'));
  /** @type {Record<string, number>} */
  const overrides = {};
  if (opt('--rounds')) overrides.rounds = Number(opt('--rounds'));
  const results = await runBench({ build, quick: args.includes('--quick'), overrides });
  const errors = validate(results);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'browser-results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(out, 'browser-results.md'), markdown(results));
  console.log(`== wrote ${join(out, 'browser-results.json')} and ${join(out, 'browser-results.md')}`);
  if (errors.length) {
    for (const e of errors) console.error(`invalid: ${e}`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
