#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/crash-states.sh [STATES]: the long run of the power-loss
# explorer (tests/crash/), 10,000 distinct crash states by default where
# ctest opens 300. Builds in build-tests/ (as tests/run.sh does) and runs
# crash_test_power_loss with NMT_POWER_STATES; its summary line is the
# figure README.md reports. NMT_POWER_SEED=N replays a run. Exits non-zero
# when any state loses a durable write, holds a half-applied one, or does
# not open; failing states are kept under /tmp/nmstore-power-loss-*.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build="${NMT_BUILD:-$top/build-tests}"
states="${1:-10000}"
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

nmt_apt_install build-essential cmake pkg-config libglib2.0-dev libcjson-dev libsodium-dev \
  libsqlite3-dev libcmocka-dev

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${NMT_JOBS:-2}" --target nmstore crash_test_power_loss
echo "== exploring $states crash states (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
start=$(date +%s)
NMT_POWER_STATES="$states" "$build/tests/crash/crash_test_power_loss"
echo "== done in $(( $(date +%s) - start )) s"
