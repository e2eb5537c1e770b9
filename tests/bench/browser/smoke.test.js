// SPDX-License-Identifier: MIT
// smoke.test.js: keeps the in-browser benchmark working. Runs bench.html in
// Chromium with tiny counts against the host in $NMT_BUILD and checks that
// the results are well formed and the page's cross-checks held. It never
// looks at how fast anything was. Run by tests/stages/50-browser.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runBench, validate, markdown, TOP } from './run.js';

const build = process.env.NMT_BUILD ?? join(TOP, 'build-dev');

test('the bench page runs every workload through the three stores and its results are well formed', { timeout: 180000 }, async (t) => {
  const results = await runBench({ build, quick: true, log: (s) => t.diagnostic(s) });
  assert.deepEqual(validate(results), []);
  assert.equal(results.host.mode, 'native', 'measured against the host, not a fallback');
  for (const f of results.figures) {
    assert.ok(f.value.host > 0 && f.value.echo > 0, `${f.id} "${f.label}" has figures for nmstore and the echo peer`);
  }
  const md = markdown(results);
  assert.equal(md.split('\n').filter((l) => /^\| (W\d\w?|list) \| /.test(l)).length, results.figures.length, 'one table row per figure');
  assert.equal(md.split('\n').filter((l) => /\| (met|\*\*missed\*\*, by [^|]*) \|$/.test(l)).length, 5, 'every target is marked met or missed');
});

test('the validator rejects results with a figure missing, a figure that is not a number, or a failed cross-check', () => {
  const good = {
    config: { rounds: 1, bulkRounds: 1 },
    figures: [['W1'], ['W2'], ['W3'], ['W3'], ['W4a'], ['W4a'], ['W4b'], ['W4b'], ['W4b'], ['W4b'], ['list']].map(([id]) => ({
      id, label: 'x', unit: 'ms', value: { host: 1, chromeStorage: 2, echo: 0.5 }, rounds: { host: [1], chromeStorage: [2], echo: [0.5] },
    })),
    checks: {
      W4a: { torrents: 3, restored: 3, problems: 0, via: 'sessionRestore', perKeyStatesHost: 3, perKeyStatesChromeStorage: 3 },
      W4b: { torrents: 3, restored: 3, problems: 0, via: 'sessionRestore', perKeyStatesHost: 3, perKeyStatesChromeStorage: 3 },
      list: { torrents: 3, rowsHost: 3, rowsChromeStorage: 3, same: true },
    },
    targets: [1, 2, 3, 4, 5].map((i) => ({ id: `t${i}`, ratio: 1, met: true })),
    machine: { date: '2026-01-01' }, browser: 'Chromium',
  };
  assert.deepEqual(validate(good), [], 'the well-formed example passes');
  const copy = () => structuredClone(good);

  const missing = copy();
  missing.figures.pop();
  assert.match(validate(missing).join('\n'), /list: 0 figures/);

  const nan = copy();
  nan.figures[0].value.host = NaN;
  assert.match(validate(nan).join('\n'), /W1 .*host is NaN/);

  const problems = copy();
  problems.checks.W4b.problems = 2;
  assert.match(validate(problems).join('\n'), /W4b: 3 of 3 torrents restored, 2 problems/);

  const lists = copy();
  lists.checks.list.same = false;
  assert.match(validate(lists).join('\n'), /lists differ/);
});
