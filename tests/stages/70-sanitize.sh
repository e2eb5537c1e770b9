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
# Not the passphrase variants of the three heaviest suites (chunking, the
# eight-process race, the event load): the same sealed records of the same
# sizes run here in their key-file variants, the passphrase unlock in
# ops_passphrase and the others, and no line of host/ runs only in them
# (gcov, per suite, as tests/tools/memcheck-coverage.sh collects it). They
# took 117 s of the stage. Nor the lint tests, which read the sources and
# run no code of nmstore's (20 s of the stage).
(cd "$build" && ctest --output-on-failure -E "^integration_test_(chunking|many_processes|events_multi)_passphrase\$" \
   -LE lint -j"${NMT_JOBS:-2}")
