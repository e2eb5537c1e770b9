// SPDX-License-Identifier: MIT
// smoke.test.js: keeps the in-browser benchmark working. Runs bench.html in
// Chromium with tiny counts against the host in $NMT_BUILD and checks that
// the results are well formed and the page's cross-checks held. It never
// looks at how fast anything was. Run by tests/stages/50-browser.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { runBench, validate, markdown, compareWith, judge, TOP, TARGETS, EXPECTED } from './run.js';

const build = process.env.NMT_BUILD ?? join(TOP, 'build-dev');

test('the bench page runs every workload through the stores and peers and its results are well formed', { timeout: 180000 }, async (t) => {
  const results = await runBench({ build, quick: true, log: (s) => t.diagnostic(s) });
  assert.deepEqual(validate(results), []);
  assert.equal(results.host.mode, 'native', 'measured against the host, not a fallback');
  for (const f of results.figures) {
    assert.ok(Object.values(f.value).every((v) => v > 0), `${f.key} "${f.label}" has a figure for each store it measured`);
  }
  const c = results.checks.coalesce;
  assert.ok(c.setFrames < c.setFramesOff && c.getFrames < c.getFramesOff, 'coalescing sent fewer frames than one a request');
  // Compared with itself, every figure is as good as before.
  results.previous = compareWith(results, structuredClone(results));
  assert.equal(results.previous.rows.length, results.figures.filter((f) => f.value.host).length);
  const md = markdown(results);
  assert.equal(md.split('\n').filter((l) => /^\| (W\d\w?|list) \| /.test(l)).length, results.figures.length + results.previous.rows.length,
    'one table row per figure, and one per figure compared with the last run');
  assert.equal(md.split('\n').filter((l) => /\| (met|\*\*missed\*\*, by [^|]*) \| [^|]* \| [^|]* \| [^|]* \|$/.test(l)).length, TARGETS.length + 1,
    'every target is marked met or missed, and so is the comparison with the last run');
});

/** A well-formed results object, figures of 1 ms, for the validator's test. */
function goodResults() {
  return {
    config: { rounds: 1, bulkRounds: 1 },
    figures: EXPECTED.map(([key, unit, stores]) => ({
      id: key.split('.')[0], key, label: 'x', unit,
      value: Object.fromEntries(stores.map((s) => [s, 1])), rounds: Object.fromEntries(stores.map((s) => [s, [1]])),
    })),
    checks: {
      coalesce: { calls: 2000, batchMax: 100, setFrames: 20, setFramesOff: 2000, getFrames: 20, getFramesOff: 2000 },
      W3: { keys: 2000, host: 2000, chromeStorage: 2000 },
      floor: { sets: 2000, setsOk: 2000, gets: 2000, getsOk: 2000, getsFound: 2000 },
      hostAlone: { sets: 2000, setsOk: 2000, gets: 2000, getsOk: 2000, getsFound: 2000 },
      W4a: { torrents: 3, restored: 3, problems: 0, via: 'sessionRestore', perKeyStatesHost: 3, perKeyStatesChromeStorage: 3, cslByKeysStates: 3, cslEverythingStates: 3 },
      W4b: { torrents: 3, restored: 3, problems: 0, via: 'sessionRestore', perKeyStatesHost: 3, perKeyStatesChromeStorage: 3, cslByKeysStates: 3, cslEverythingStates: 3 },
      list: { torrents: 3, rowsHost: 3, rowsChromeStorage: 3, same: true },
    },
    targets: TARGETS.map((x) => ({ id: x.id, ratio: 1, met: true })),
    machine: { date: '2026-01-01' }, browser: 'Chromium',
  };
}

test('the validator rejects results with a figure missing, a figure that is not a number, or a failed cross-check', () => {
  assert.deepEqual(validate(goodResults()), [], 'the well-formed example passes');

  const missing = goodResults();
  missing.figures.pop();
  assert.match(validate(missing).join('\n'), /figures: .*; expected .*list\.show/);

  const nan = goodResults();
  nan.figures[0].value.host = NaN;
  assert.match(validate(nan).join('\n'), /W1\.set .*host is NaN/);

  const noEcho = goodResults();
  delete noEcho.figures[1].value.echo;
  assert.match(validate(noEcho).join('\n'), /W2\.inFlight: stores chromeStorage, floor, host, hostAlone, pipe, expected host, chromeStorage, echo, pipe, floor, hostAlone/);

  const problems = goodResults();
  problems.checks.W4b.problems = 2;
  assert.match(validate(problems).join('\n'), /W4b: 3 of 3 torrents restored, 2 problems/);

  const everything = goodResults();
  everything.checks.W4a.cslEverythingStates = 2;
  assert.match(validate(everything).join('\n'), /W4a: chrome.storage.local's one-call restores read 3 \(every key\) and 2 \(get\(null\)\)/);

  const uncoalesced = goodResults();
  uncoalesced.checks.coalesce.setFrames = 2000;
  assert.match(validate(uncoalesced).join('\n'), /2000 sets in one task went in 2000 frames, not 20 batch frames/);

  const coalescedAnyway = goodResults();
  coalescedAnyway.checks.coalesce.getFramesOff = 2;
  assert.match(validate(coalescedAnyway).join('\n'), /with coalescing off, 2000 gets went in 2 frames/);

  const reads = goodResults();
  reads.checks.W3.chromeStorage = 1999;
  assert.match(validate(reads).join('\n'), /W3: the reads found 2000 \(host\) and 1999/);

  const floorMissed = goodResults();
  floorMissed.checks.floor.getsFound = 1999;
  assert.match(validate(floorMissed).join('\n'), /floor peer: of 2000 sets 2000 were ok, of 2000 gets 2000 were ok and 1999 found their value/);

  const aloneMissed = goodResults();
  aloneMissed.checks.hostAlone.setsOk = 1990;
  assert.match(validate(aloneMissed).join('\n'), /nmstore host alone: of 2000 sets 1990 were ok/);

  const lists = goodResults();
  lists.checks.list.same = false;
  assert.match(validate(lists).join('\n'), /lists differ/);
});

test('the comparison with the last run says which of nmstore\'s figures got worse, by label, in each unit\'s direction', () => {
  const before = goodResults();
  const now = goodResults();
  now.figures[0].value.host = 2; // W1.set, ms: slower
  now.figures[1].value.host = 2; // W2.inFlight, msg/s: faster
  before.figures[2].label = 'a figure the last run had under another name';
  const c = compareWith(now, before);
  assert.equal(c.rows.length, now.figures.filter((f) => 'host' in f.value).length - 1, 'only figures with the same label are compared');
  const row = (/** @type {string} */ key) => c.rows.find((x) => x.key === key);
  assert.deepEqual([row('W1.set')?.factor, row('W1.set')?.asGood], [0.5, false]);
  assert.deepEqual([row('W2.inFlight')?.factor, row('W2.inFlight')?.asGood], [2, true]);
  assert.equal(row('W2.oneByOne'), undefined);
});

test('a target is called out of reach only where the better of the two peers was a floor: no slower than nmstore', () => {
  const r = goodResults();
  const w2 = r.figures.find((f) => f.key === 'W2.inFlight');
  if (!w2) throw new Error('no W2.inFlight');
  const md = () => markdown({ ...r, machine: { cores: 2, cpu: 'x', kernel: 'y', date: 'z', loadBefore: [], loadAfter: [] } });
  // nmstore 2×, the pipe peer 4×, the echo peer 3× chrome.storage.local: all short of 15×.
  Object.assign(w2.value, { host: 2, chromeStorage: 1, pipe: 4, echo: 3 });
  let t = judge(r).targets[0];
  assert.deepEqual([t.met, t.pipe.by, t.pipe.floor, t.pipe.met], [false, 'pipe', true, false]);
  assert.match(md(), /2,000 sets in flight .*: the pipe alone \(pipe one way\) gives 4 msg\/s against chrome.storage.local's 1 msg\/s, 4× where the goal is ≥ 15×: missed by 3.75×/);
  // The echo peer better: it is the floor.
  w2.value.echo = 5;
  t = judge(r).targets[0];
  assert.deepEqual([t.pipe.by, t.pipe.value, t.pipe.floor], ['echo', 5, true]);
  // Both slower than nmstore: no floor, nothing is claimed from them.
  Object.assign(w2.value, { pipe: 1.5, echo: 1.2 });
  t = judge(r).targets[0];
  assert.deepEqual([t.pipe.by, t.pipe.floor], ['pipe', false]);
  assert.doesNotMatch(md(), /2,000 sets in flight .*: the pipe alone/);
});

test('the pipe peer answers each frame with exactly the frames it asks for, large frames unparsed past their pad', { timeout: 20000 }, async () => {
  const peer = spawn(process.execPath, [join(TOP, 'tests/bench/browser/pipe-peer.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const frame = (/** @type {object} */ m) => {
    const body = Buffer.from(JSON.stringify(m));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length);
    return Buffer.concat([head, body]);
  };
  /** @type {any[]} */
  const got = [];
  /** @type {number[]} */
  const lengths = [];
  let buf = Buffer.alloc(0);
  const done = new Promise((resolve) => peer.stdout.on('data', (c) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
      const len = buf.readUInt32LE(0);
      lengths.push(len);
      got.push(JSON.parse(buf.subarray(4, 4 + len).toString()));
      buf = buf.subarray(4 + len);
    }
    if (got.length >= 3) resolve(null);
  }));
  // A small frame wanting nothing; one of 2 MB (its pad not parsed), split
  // across two writes, wanting one frame; a small one wanting two.
  const big = frame({ id: 2, want: [300], pad: 'x'.repeat(2e6) });
  peer.stdin.write(Buffer.concat([frame({ id: 1, want: [], pad: 'x' }), big.subarray(0, 1000)]));
  peer.stdin.write(Buffer.concat([big.subarray(1000), frame({ id: 3, want: [50, 1048000], pad: '' })]));
  await done;
  peer.stdin.end();
  await new Promise((resolve) => peer.on('exit', resolve));
  assert.deepEqual(got.map((m) => [m.id, m.k, m.of]), [[2, 0, 1], [3, 0, 2], [3, 1, 2]], 'nothing for the frame that wants nothing');
  assert.deepEqual(lengths, [300, 50, 1048000]);
});

test('a missed target is split into the host\'s part and the page\'s, from the host alone and the floor peer', () => {
  const r = goodResults();
  r.machine = { date: '2026-01-01', cores: 2, cpu: 'x', kernel: 'y', loadBefore: ['0'], loadAfter: ['0'] };
  const w2 = r.figures.find((f) => f.key === 'W2.inFlight');
  // msg/s: 2,000 sets at 10 a second for nmstore against 1 for chrome.storage.local (goal 15×),
  // the host alone 16, the floor peer 20.
  Object.assign(w2.value, { host: 10, chromeStorage: 1, floor: 20, hostAlone: 16 });
  const t = judge(r).targets.find((x) => x.id === 'W2');
  assert.deepEqual([t.met, t.hostAlone.ratio, t.hostAlone.met], [false, 16, true]);
  const md = markdown(r);
  assert.match(md, /\| 16×: met \|$/m, 'the targets table has the host alone\'s ratio');
  assert.match(md, /the host alone 16 msg\/s \(16×\) against the floor peer's 20: the host takes 1\.25× the floor's time; the page's work then takes nmstore to 10 msg\/s, 1\.6× the host alone's time/);
});
