#!/usr/bin/env bash
# tests/bench/run.sh: the host benchmark, with one command.
#
# Builds nmstore, the driver and the echo peer in their own Release build
# directory (build-bench/), installs what is missing with apt-get (gnuplot
# among it), runs every workload and writes bench/results.json,
# bench/results.md and bench/chart.svg. It reports figures; it never fails
# on a missed target. Extra arguments go to nmstore-bench (e.g. --rounds 9).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build-bench"
out="$top/bench"
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

nmt_apt_install build-essential cmake pkg-config libglib2.0-dev libcjson-dev libsodium-dev \
  libsqlite3-dev libcmocka-dev gnuplot-nox

echo "== configuring a Release build in $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
echo "== building"
cmake --build "$build" -j"$(nproc)" --target nmstore nmstore-bench nmstore-bench-echo
mkdir -p "$out"

echo "== running (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
"$build/tests/bench/nmstore-bench" --out "$out" "$@"
"$build/tests/bench/nmstore-bench" --validate "$out/results.json"

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(date -u +%Y-%m-%d)"
gnuplot -e "datafile='$out/chart.dat'; outfile='$out/chart.svg'; subtitle='$machine'" "$top/tests/bench/chart.gp"
echo "== wrote $out/results.json, $out/results.md and $out/chart.svg"
cat "$out/results.md"
