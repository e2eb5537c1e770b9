#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/stages/70-sanitize.sh: the whole suite again, built with ASan and
# UBSan in its own build directory. Any sanitizer report aborts the process
# that made it (-fno-sanitize-recover), in a test or in a host it started,
# and so fails ctest.
set -euo pipefail
. "$NMT_TOP/tests/lib.sh"

build="$NMT_TOP/build-sanitize"
cmake -S "$NMT_TOP" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNMSTORE_SANITIZE=address,undefined >/dev/null
cmake --build "$build" -j"${NMT_JOBS:-2}"
# Hosts report through their exit status: make it unmistakable.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=98
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The crash loop's 300 kills ran natively in the core suite; here its code
# needs checking, not its count: 100 kills, 85 s of the stage before.
export NMT_CRASH_ITERATIONS=${NMT_SANITIZE_CRASH_ITERATIONS:-100}
(cd "$build" && ctest --output-on-failure -j"${NMT_JOBS:-2}")
