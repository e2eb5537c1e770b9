#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/tools/memcheck-coverage.sh: whether the valgrind stage's suites
# (tests/stages/memcheck-suites.txt) still run every line of host/ that the
# whole integration list runs. Not part of tests/run.sh: it builds with gcov
# in build-coverage/ and runs each integration suite once on its own, about
# ten minutes on 2 cores. Run it when suites are added or changed.
#
# Prints the lines only suites outside the list run (empty: the list is
# complete), and each listed suite's lines that no other listed suite runs
# (none: a candidate to leave out). With DROP="suite ...", also the lines
# the list would no longer run without those suites. Only the nmstore
# processes count, not the test binaries, which link the same library.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build-coverage"
work=$(mktemp -d /tmp/nmstore-coverage-XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="--coverage" \
  -DCMAKE_EXE_LINKER_FLAGS="--coverage" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
suites=$(cd "$build" && ctest -N -L integration | sed -n 's/.*Test *#[0-9]*: integration_test_//p')
mkdir -p "$work/lines"
for suite in $suites; do
  prefix="$work/gcda"
  rm -rf "$prefix"
  # The light loop sizes the valgrind stage used before it had a list.
  (cd "$build" && NMT_HOST_WRAPPER="env GCOV_PREFIX=$prefix" NMT_CRASH_ITERATIONS=10 \
     NMT_CRASH_ITERATIONS_ENCRYPTED=10 NMT_RACE_OPS=200 ctest -R "^integration_test_$suite\$" >/dev/null) \
    || echo "!! $suite failed; its lines are those it ran before it failed" >&2
  : >"$work/lines/$suite"
  [ -d "$prefix" ] || continue
  find "$prefix" -name '*.gcda' | while read -r gcda; do
    gcno="$build/${gcda#"$prefix$build/"}"
    cp "${gcno%.gcda}.gcno" "${gcda%.gcda}.gcno"
    (cd "$(dirname "$gcda")" && gcov -j -t "$gcda" 2>/dev/null) >>"$work/lines/$suite"
  done
  echo "   $suite" >&2
done

node - "$work/lines" "$top/tests/stages/memcheck-suites.txt" <<'JS'
const fs = require('fs');
const [dir, listFile] = process.argv.slice(2);
const lines = {};
for (const suite of fs.readdirSync(dir)) {
  const set = new Set();
  for (const chunk of fs.readFileSync(`${dir}/${suite}`, 'utf8').split('\n')) {
    if (!chunk.trim()) continue;
    for (const f of JSON.parse(chunk).files) {
      const at = f.file.indexOf('host/');
      if (at < 0) continue;
      for (const l of f.lines) if (l.count > 0) set.add(`${f.file.slice(at)}:${l.line_number}`);
    }
  }
  lines[suite] = set;
}
const listed = fs.readFileSync(listFile, 'utf8').split(/\s+/).filter(Boolean);
const union = (names) => new Set(names.flatMap((n) => [...(lines[n] ?? [])]));
const all = union(Object.keys(lines)), chosen = union(listed);
const missed = [...all].filter((l) => !chosen.has(l)).sort();
console.log(`host lines run by the integration suites: ${all.size}; by the listed suites: ${chosen.size}`);
console.log(missed.length ? `missed by the list:\n  ${missed.join('\n  ')}` : 'the list misses no line');
for (const [n, set] of Object.entries(lines)) {
  const runs = missed.filter((l) => set.has(l)).length;
  if (runs && !listed.includes(n)) console.log(`  ${n} runs ${runs} of the missed lines`);
}
// DROP="a b": the lines of host/ the list would stop running without them.
const drop = (process.env.DROP || '').split(/\s+/).filter(Boolean);
if (drop.length) {
  const kept = union(listed.filter((n) => !drop.includes(n)));
  const lost = [...chosen].filter((l) => !kept.has(l)).sort();
  console.log(`without ${drop.join(', ')} the list would run ${lost.length} line(s) fewer:`);
  for (const l of lost) console.log(`  ${l}`);
}
for (const n of listed) {
  const others = union(listed.filter((o) => o !== n));
  const own = [...(lines[n] ?? [])].filter((l) => !others.has(l)).length;
  console.log(`  ${n}: ${own} line(s) no other listed suite runs`);
}
JS
