#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/stages/72-fuzz.sh: builds the libFuzzer targets in tests/fuzz with
# clang, ASan and UBSan, and runs each one for a bounded time from its seed
# corpus. Any crash, leak, sanitizer report or timeout fails the stage; the
# input that caused it is written to tests/fuzz/regressions/<target>/, where
# committing it makes every ordinary ctest replay it.
#
#   NMT_FUZZ_SECONDS=N   time per target (default 25: a smoke run in CI that
#                        keeps the suite inside 30 minutes; fuzz longer by hand)
set -euo pipefail
. "$NMT_TOP/tests/lib.sh"
nmt_apt_install clang libclang-rt-14-dev

seconds=${NMT_FUZZ_SECONDS:-25}
build="$NMT_TOP/build-fuzz"
CC=clang cmake -S "$NMT_TOP" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNMSTORE_BUILD_TESTS=OFF -DNMSTORE_FUZZ=ON -DNMSTORE_SANITIZE=address,undefined \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
cmake --build "$build" -j"${NMT_JOBS:-2}"

# The targets run NMT_JOBS at a time: each is one process on one core, so
# on two cores a pair fuzzes as long each in half the stage's time.
fuzz_one () {
  local target=$1 name seeds found work log execs
  name=$(basename "$target" | sed 's/^fuzz_//')
  seeds="$NMT_TOP/tests/fuzz/corpus/$name"
  found="$NMT_TOP/tests/fuzz/regressions/$name"
  work=$(mktemp -d)   # new corpus entries go here, not into the committed seeds
  log="$build/fuzz-$name.log"
  mkdir -p "$found"
  if ASAN_OPTIONS=detect_leaks=1 "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$found/" "$work" "$seeds" >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "   $name: $execs executions in ${seconds}s, no crash, leak or timeout"
    rm -rf "$work"
  else
    echo "!! $name failed; the input is kept in $found/, the log follows"
    tail -n 60 "$log"
    rm -rf "$work"
    return 1
  fi
}

jobs=${NMT_JOBS:-2}
pids=()
status=0
echo "== fuzzing each target for ${seconds}s, $jobs at a time"
for target in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  fuzz_one "$target" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
exit $status
