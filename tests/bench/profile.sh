#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/profile.sh: instruction profiles of the host under one
# workload group, with valgrind's callgrind.
#
#   tests/bench/profile.sh [sets|gets|restore|scale] [extra nmstore-bench args]
#
# Builds in build-profile/ (RelWithDebInfo: optimised, with symbols), runs
# the group once with every host under callgrind, and prints, per host
# process, its total instructions and the functions that cost most.
# Instruction counts do not depend on what else the machine is doing, so
# before/after figures of a change are comparable even on a busy machine.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build-profile"
group=${1:-sets}
shift || true
out=$(mktemp -d /tmp/nmstore-profile-XXXXXX)
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
nmt_apt_install valgrind

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target nmstore nmstore-bench nmstore-bench-echo nmstore-bench-floor >/dev/null
"$build/tests/bench/nmstore-bench" --only "$group" --rounds 1 --out "$out" \
  --wrapper "valgrind -q --tool=callgrind --callgrind-out-file=$out/callgrind.out.%p" "$@"
for f in "$out"/callgrind.out.*; do
  echo "== $f"
  callgrind_annotate "$f" 2>/dev/null | sed -n '/PROGRAM TOTALS/p;/file:function/,/^$/p' | sed -n '1,3p;4,18p'
done
echo "== profiles kept in $out (callgrind_annotate --inclusive=yes FILE for the call tree)"
