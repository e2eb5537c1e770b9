#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/stages/71-memcheck.sh: the integration tests with every nmstore
# process they start running under valgrind memcheck. The harness prefixes
# NMT_HOST_WRAPPER to each host and CLI run and fails the test when one
# exits with valgrind's error status (99): any memory error, or a definite
# leak at exit.
#
# Not every integration suite runs here: under valgrind each process costs
# about a second before it does anything, and the whole list took 17 of the
# suite's 35 minutes on a 2-core VM. What valgrind adds to the ASan and
# UBSan stage (every suite, 70-sanitize.sh) is reads of uninitialised
# memory, which depend on which lines run. So the list below is the
# smallest one found that runs every line of host/ the stage's former list
# of 35 suites ran (gcov; tests/tools/memcheck-coverage.sh prints what this
# list misses against all the integration suites; run it when suites
# change). It leaves out
# suites whose lines others run too: smoke, text_checks, cli and lifecycle
# in plaintext and with a key file (their passphrase variants run every line
# of those; lifecycle's has left too, below), crash, crash_loop, concurrency and many_processes (kill and
# race loops), events (every line it runs, events_subscribers and the
# others run too), and, as before, memory_bounds (a 64 MiB request), the
# events_multi load tests and the session suites (1,000 real torrents).
#
# To keep the suite inside 30 minutes on a slow hour, three suites left
# the list although a few lines run only in them: chunking (one line, the
# cut of a chunk backed off a UTF-8 continuation byte), origins and
# lifecycle_passphrase (37 more: origins given as a browser's arguments,
# nmstore.conf's durability values, a store of the wrong kind for encrypt
# or decrypt, and the drain of waiting requests on SIGTERM). They took
# 298 s of the stage's processes; their lines still run natively in the
# core suite and under ASan and UBSan in 70-sanitize.sh.
set -euo pipefail
. "$NMT_TOP/tests/lib.sh"
nmt_apt_install valgrind

logs="$NMT_BUILD/memcheck"
rm -rf "$logs" && mkdir -p "$logs"
export NMT_HOST_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --log-file=$logs/vg-%p.log"
listed=$(cat "$NMT_TOP/tests/stages/memcheck-suites.txt")
suites=$(echo $listed | tr ' ' '|')
# A suite renamed or removed must not quietly drop out of the stage.
have=$(cd "$NMT_BUILD" && ctest -N -L integration | sed -n 's/.*Test *#[0-9]*: integration_test_//p')
for name in $listed; do
  if ! grep -qx "$name" <<<"$have"; then
    echo "!! memcheck: tests/stages/memcheck-suites.txt names $name, which ctest does not have; update the list"
    exit 1
  fi
done
if ! (cd "$NMT_BUILD" && ctest --output-on-failure -L integration -R "^integration_test_($suites)\$" -j"${NMT_JOBS:-2}"); then
  echo "!! memcheck: valgrind's reports:"
  grep -l . "$logs"/vg-*.log 2>/dev/null | head -5 | xargs -r cat
  exit 1
fi
echo "== memcheck: no memory errors, no definite leaks ($(ls "$logs" | wc -l) processes checked)"
