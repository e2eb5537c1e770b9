#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/run.sh: the host benchmark and the in-browser benchmark,
# with one command.
#
# Builds nmstore, the driver, the echo peer and the floor peer in their own Release build
# directory (build-bench/), installs what is missing with apt-get (gnuplot
# and chromium among it, and playwright-core with npm ci when
# tests/browser/node_modules is missing), runs every host workload and
# writes bench/results.json, bench/results.md and bench/chart.svg, then runs
# tests/bench/browser/bench.html, added to a temporary copy of the extension,
# in headless Chromium (tests/bench/browser/run.js)
# and writes bench/browser-results.json and bench/browser-results.md. It
# reports figures; it never fails on a missed target, only when a run
# breaks. Extra arguments go to nmstore-bench (e.g. --rounds 9).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build-bench"
out="$top/bench"
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

nmt_apt_install build-essential cmake pkg-config libglib2.0-dev libcjson-dev libsodium-dev \
  libsqlite3-dev libcmocka-dev gnuplot-nox chromium

echo "== configuring a Release build in $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
echo "== building"
cmake --build "$build" -j"$(nproc)" --target nmstore nmstore-bench nmstore-bench-echo nmstore-bench-floor
mkdir -p "$out"

echo "== running (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
"$build/tests/bench/nmstore-bench" --out "$out" "$@"
"$build/tests/bench/nmstore-bench" --validate "$out/results.json"

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(date -u +%Y-%m-%d)"
gnuplot -e "datafile='$out/chart.dat'; outfile='$out/chart.svg'; subtitle='$machine'" "$top/tests/bench/chart.gp"
echo "== wrote $out/results.json, $out/results.md and $out/chart.svg"
cat "$out/results.md"

echo "== the in-browser benchmark (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
# Node.js comes with the machine, as for the browser tests (tests/stages/50-browser.sh).
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "run.sh: the in-browser benchmark needs node and npm (Node.js 20 or later)" >&2; exit 1; }
if [ ! -d "$top/tests/browser/node_modules/playwright-core" ]; then
  echo "== npm ci in tests/browser (playwright-core drives Debian's chromium)"
  (cd "$top/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi
node "$top/tests/bench/browser/run.js" --build "$build" --out "$out"
cat "$out/browser-results.md"
