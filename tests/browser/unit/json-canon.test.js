// SPDX-License-Identifier: MIT
// json-canon.test.js: the host's value format (host/json/json.c) against
// JavaScript itself. Numbers and strings go through JSON.stringify here,
// through nmstore's canonical writer there (tests/common/json-canon.c), and
// the two texts must be the same: the shortest round-trip digits with
// JavaScript's exponent rules, and JSON.stringify's escapes. A lone
// surrogate is the one deliberate difference: Chrome stores U+FFFD for it.
// Runs on a fixed seed and on a new one each run; a failure names both
// the seed and the value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const TOOL = resolve(process.env.NMT_BUILD ?? join(TOP, 'build-dev'), 'tests/nmt-json-canon');

/** mulberry32: a small seeded generator, so that a failure can be replayed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each input line through the tool: [canonical text, Chrome's count]. */
function canon(lines) {
  if (!existsSync(TOOL)) throw new Error(`no ${TOOL}: build nmstore's tests first, or set NMT_BUILD`);
  const out = execFileSync(TOOL, { input: lines.join('\n') + '\n', maxBuffer: 1 << 28 }).toString();
  return out.split('\n').slice(0, lines.length).map((l) => {
    if (l.startsWith('!')) return [l, -1];
    const tab = l.lastIndexOf('\t');
    return [l.slice(0, tab), Number(l.slice(tab + 1))];
  });
}

/** Doubles of every kind: random bit patterns, short decimals, powers of two and ten, edges. */
function numbers(seed, n) {
  const r = rng(seed);
  const f = new Float64Array(1), u = new Uint32Array(f.buffer);
  const list = [0.30000000000000004, 9007199254740991, -9007199254740991, 9007199254740992, 1.0000000000000002,
    1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 2147483648, -2147483649, 1e21, 1e-7, 1e-6,
    123456789012345680000, 0.1, 4.35, 1.005, 2 ** 60];
  for (let e = -1074; e <= 1023; e++) list.push(2 ** e, -(2 ** e) * 1.5);
  for (let e = -324; e <= 308; e++) list.push(Number(`1e${e}`), Number(`9.999999999999999e${e}`));
  while (list.length < n) {
    const kind = r();
    if (kind < 0.5) {
      u[0] = (r() * 2 ** 32) >>> 0;
      u[1] = (r() * 2 ** 32) >>> 0;
      if (Number.isFinite(f[0])) list.push(f[0]);
    } else if (kind < 0.8) {
      list.push(Math.round(r() * 10 ** Math.floor(r() * 10)) / 10 ** Math.floor(r() * 8));
    } else {
      list.push((r() - 0.5) * 10 ** Math.floor(r() * 60 - 30));
    }
  }
  return list.filter((x) => Number.isFinite(x));
}

/** Strings of every kind of code point, lone surrogates included. */
function strings(seed, n) {
  const r = rng(seed);
  const pool = [0, 1, 0x1f, 0x20, 0x22, 0x2f, 0x3c, 0x5c, 0x7f, 0x80, 0xe9, 0x2028, 0x2029, 0xfeff, 0xfffd, 0xffff,
    0xd800, 0xdbff, 0xdc00, 0xdfff, 0x1f600, 0x10ffff];
  const list = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const len = Math.floor(r() * 12);
    for (let j = 0; j < len; j++) {
      const c = r() < 0.5 ? pool[Math.floor(r() * pool.length)] : Math.floor(r() * 0x110000);
      s += c >= 0x10000 ? String.fromCodePoint(c) : String.fromCharCode(c);
    }
    list.push(s);
  }
  return list;
}

function check(seed) {
  const nums = numbers(seed, 60000);
  const got = canon(nums.map((x) => JSON.stringify(x)));
  nums.forEach((x, i) => {
    assert.equal(got[i][0], JSON.stringify(x), `seed ${seed}: the number ${x} (bits of ${JSON.stringify(x)})`);
  });
  const strs = strings(seed, 20000);
  const gotS = canon(strs.map((s) => JSON.stringify(s)));
  strs.forEach((s, i) => {
    // Chrome converts a lone surrogate to U+FFFD before it stores the string.
    const want = JSON.stringify(s.toWellFormed());
    assert.equal(gotS[i][0], want, `seed ${seed}: the string ${JSON.stringify(s)}`);
  });
  return nums.length + strs.length;
}

test('numbers and strings are written exactly as JSON.stringify writes them (fixed seed)', () => {
  assert.ok(check(20261206) >= 79000, "the check covered the whole sample");
});

test('numbers and strings are written exactly as JSON.stringify writes them (a new seed)', () => {
  const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
  console.log(`# json-canon seed ${seed}`);
  check(seed);
});

test('objects come back with members sorted by UTF-8 bytes, at every depth', () => {
  const [[text]] = canon(['{"b":{"z":1,"é":2,"E":3,"":4},"a":[{"y":1,"x":2}],"\u{1F600}":0,"\uFFFD":0}']);
  assert.equal(text, '{"a":[{"x":2,"y":1}],"b":{"":4,"E":3,"z":1,"é":2},"\uFFFD":0,"\u{1F600}":0}');
});
