#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/large-store-memory.sh [MIB]: peak memory and wall time of the
# commands that walk a whole store, on a store of MIB mebibytes (512 by
# default) shaped like a large torrent session (nmstore-bench-bigstore:
# 2.5 KB states, 100 KB to 1 MB torrent files). Each command runs under
# /usr/bin/time; its peak RSS is reported in MiB and as a ratio to the
# 64 MiB target. It reports; it never fails on a figure. NMSTORE_BIN picks
# another nmstore binary (to measure an older build against the same store).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build="${NMT_BUILD:-$top/build}"
mib="${1:-512}"
target_mib=64
bin="${NMSTORE_BIN:-$build/nmstore}"
origin="chrome-extension://abcdefghijklmnopabcdefghijklmnop/"

if [ ! -x /usr/bin/time ]; then
  # shellcheck source=tests/lib.sh
  . "$top/tests/lib.sh"
  nmt_apt_install time
fi
cmake --build "$build" -j"${NMT_JOBS:-2}" --target nmstore nmstore-bench-bigstore >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/nmstore-large-XXXXXX")
trap 'rm -rf "$work"' EXIT
export NMSTORE_HOME="$work/home"
mkdir -m 700 -p "$NMSTORE_HOME"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(( $(grep MemTotal /proc/meminfo | awk '{print $2}') / 1024 )) MiB RAM; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== nmstore: $bin"
start=$(date +%s.%N)
"$build/tests/bench/nmstore-bench-bigstore" "$origin" "$mib"
store_file=$(find "$NMSTORE_HOME" -name store.db | head -1)
printf '== store: %s MiB on disk, built in %.1f s\n' "$(( $(stat -c %s "$store_file") >> 20 ))" \
  "$(echo "$(date +%s.%N) - $start" | bc)"

printf '%-22s %10s %8s %10s\n' command "peak MiB" "x 64MiB" "wall s"
# run NAME ARGS...: one command, its output thrown away, its figures printed.
run() {
  local name=$1; shift
  if ! /usr/bin/time -o "$work/time" -f '%M %e' "$@" >"$work/out" 2>"$work/err"; then
    echo "$name failed:"; tail -5 "$work/err"; return 1
  fi
  read -r kib secs <"$work/time"
  awk -v n="$name" -v k="$kib" -v s="$secs" -v t="$target_mib" \
    'BEGIN { printf "%-22s %10.1f %8.2f %10.1f\n", n, k/1024, k/1024/t, s }'
}

run "export (plain)" sh -c "\"$bin\" export --origin $origin >\"$work/plain.json\""
printf '   (export file: %s MiB)\n' "$(( $(stat -c %s "$work/plain.json") >> 20 ))"
run "backup" "$bin" backup --origin "$origin" "$work/backup.db"
run "verify (plain)" "$bin" verify --origin "$origin"
run "encrypt (key file)" "$bin" encrypt --origin "$origin" --key-file
run "rekey" "$bin" rekey --origin "$origin"
run "verify (encrypted)" "$bin" verify --origin "$origin"
run "export (sealed)" sh -c "\"$bin\" export --origin $origin >\"$work/sealed.json\""
run "backup --decrypt" "$bin" backup --decrypt --origin "$origin" "$work/clear.db"
rm -f "$work/clear.db"
run "decrypt" "$bin" decrypt --origin "$origin"
run "restore" "$bin" restore --origin "$origin" "$work/backup.db"
other="chrome-extension://bcdefghijklmnopabcdefghijklmnopa/"
run "import (plain)" "$bin" import --origin "$other" "$work/plain.json"
third="chrome-extension://cdefghijklmnopabcdefghijklmnopab/"
run "import (sealed)" "$bin" import --origin "$third" "$work/sealed.json"
