// SPDX-License-Identifier: MIT
// lib-layers.test.js: the ranks of extension/lib's modules, as
// docs/ARCHITECTURE.md ("The extension's modules") gives them, against the
// imports the modules really make. A module may import only modules of a
// lower rank, which also rules out every cycle; a module the table does not
// name, or a row naming a module that is gone, fails too, so the page and
// the folder cannot drift apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const LIB = join(TOP, 'extension/lib');

/** @returns {Map<string, number>} rank by module file name, from the page */
function ranksFromPage() {
  const page = readFileSync(join(TOP, 'docs/ARCHITECTURE.md'), 'utf8');
  const start = page.indexOf("## The extension's modules");
  assert.ok(start >= 0, 'docs/ARCHITECTURE.md has no section "The extension\'s modules"');
  const section = page.slice(start, page.indexOf('\n## ', start + 1));
  const ranks = new Map();
  for (const m of section.matchAll(/^\| (\d+) \| `([^`]+\.js)` \|/gm)) ranks.set(m[2], Number(m[1]));
  return ranks;
}

/**
 * The modules a file imports or re-exports from, by file name.
 * @param {string} text
 */
export function importsOf(text) {
  // Comments first: JSDoc names modules in import() types, which are not
  // imports. No module of extension/lib has "/*" inside a string.
  text = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out = new Set();
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms)) out.add(m[1]);
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) out.add(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.add(m[1]);
  return [...out];
}

test('importsOf finds static imports, re-exports and dynamic imports, and skips type imports in comments', () => {
  const text = [
    "import { a } from './a.js';",
    "export { b } from './b.js';",
    "import {\n  c,\n  d,\n} from './c.js';",
    "const e = await import('./e.js');",
    "/** @type {import('./typeonly.js').T} */",
  ].join('\n');
  assert.deepEqual(importsOf(text).sort(), ['./a.js', './b.js', './c.js', './e.js']);
});

test("every module of extension/lib imports only modules of a lower rank, as docs/ARCHITECTURE.md ranks them", () => {
  const ranks = ranksFromPage();
  const files = readdirSync(LIB).filter((f) => f.endsWith('.js')).sort();
  assert.deepEqual([...ranks.keys()].sort(), files,
    "docs/ARCHITECTURE.md's table of the extension's modules must name every file of extension/lib, and only those");
  const wrong = [];
  for (const f of files) {
    for (const spec of importsOf(readFileSync(join(LIB, f), 'utf8'))) {
      assert.ok(spec.startsWith('./'), `${f} imports ${spec}: extension/lib must depend on nothing outside itself`);
      const to = spec.slice(2);
      if (!ranks.has(to)) wrong.push(`${f} imports ${to}, which is not in extension/lib`);
      else if (/** @type {number} */ (ranks.get(to)) >= /** @type {number} */ (ranks.get(f))) {
        wrong.push(`${f} (rank ${ranks.get(f)}) imports ${to} (rank ${ranks.get(to)})`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});
