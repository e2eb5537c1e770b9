#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/stages/72-fuzz.sh: builds the libFuzzer targets in tests/fuzz with
# clang, ASan and UBSan, and runs each one for a bounded time from its seed
# corpus. Any crash, leak, sanitizer report or timeout fails the stage; the
# input that caused it is written to tests/fuzz/regressions/<target>/, where
# committing it makes every ordinary ctest replay it.
#
#   NMT_FUZZ_SECONDS=N   time per target (default 60)
set -euo pipefail
. "$NMT_TOP/tests/lib.sh"
nmt_apt_install clang libclang-rt-14-dev

seconds=${NMT_FUZZ_SECONDS:-60}
build="$NMT_TOP/build-fuzz"
CC=clang cmake -S "$NMT_TOP" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNMSTORE_BUILD_TESTS=OFF -DNMSTORE_FUZZ=ON -DNMSTORE_SANITIZE=address,undefined \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
cmake --build "$build" -j"${NMT_JOBS:-2}"

status=0
for target in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target" | sed 's/^fuzz_//')
  seeds="$NMT_TOP/tests/fuzz/corpus/$name"
  found="$NMT_TOP/tests/fuzz/regressions/$name"
  work=$(mktemp -d)   # new corpus entries go here, not into the committed seeds
  log="$build/fuzz-$name.log"
  mkdir -p "$found"
  echo "== fuzzing $name for ${seconds}s"
  if ASAN_OPTIONS=detect_leaks=1 "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$found/" "$work" "$seeds" >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "   $name: $execs executions, no crash, leak or timeout"
  else
    echo "!! $name failed; the input is kept in $found/, the log follows"
    tail -n 60 "$log"
    status=1
  fi
  rm -rf "$work"
done
exit $status
