#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/stages/71-memcheck.sh: the integration tests with every nmstore
# process they start running under valgrind memcheck. The harness prefixes
# NMT_HOST_WRAPPER to each host and CLI run and fails the test when one
# exits with valgrind's error status (99): any memory error, or a definite
# leak at exit. The heavy loops run shorter here; they ran full size in the
# core suite. Left out: test_memory_bounds (one 64 MiB request takes
# minutes under valgrind, and RSS under valgrind measures valgrind) and the
# test_events_multi load tests (a 10,000-write burst with bounded waits,
# and a CPU measurement, which valgrind's slowdown breaks); the same event
# code runs under valgrind in test_events and test_events_subscribers.
# The encrypted and passphrase variants of the ops, chunking, events and
# many_processes suites are left out too: they run the same protocol code as
# their plaintext variants, and the sealed-record, key and unlock paths they
# add run under valgrind in test_encryption, test_encryption_archive,
# test_encryption_tamper and the lifecycle and cli variants. Together they
# took about four minutes of the stage's fifteen. test_session (the torrent
# session on 1,000 real torrents) is left out as it was before it joined
# ctest: its session code runs under ASan and UBSan in 70-sanitize.sh.
set -euo pipefail
. "$NMT_TOP/tests/lib.sh"
nmt_apt_install valgrind

logs="$NMT_BUILD/memcheck"
rm -rf "$logs" && mkdir -p "$logs"
export NMT_HOST_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --log-file=$logs/vg-%p.log"
export NMT_CRASH_ITERATIONS=${NMT_MEMCHECK_CRASH_ITERATIONS:-10}
export NMT_CRASH_ITERATIONS_ENCRYPTED=${NMT_MEMCHECK_CRASH_ITERATIONS:-10}
export NMT_RACE_OPS=${NMT_MEMCHECK_RACE_OPS:-200}
if ! (cd "$NMT_BUILD" && ctest --output-on-failure -L integration -E "memory_bounds|events_multi|session|(ops|chunking|events|many_processes)_(encrypted|passphrase)" -j"${NMT_JOBS:-2}"); then
  echo "!! memcheck: valgrind's reports:"
  grep -l . "$logs"/vg-*.log 2>/dev/null | head -5 | xargs -r cat
  exit 1
fi
echo "== memcheck: no memory errors, no definite leaks ($(ls "$logs" | wc -l) processes checked)"
