#!/usr/bin/env bash
# tests/run.sh: installs what the tests need, builds nmstore, and runs every
# test through ctest. Exits non-zero on any failure.
#
#   tests/run.sh            everything
#   NMSTORE_TEST_JOBS=N     parallel ctest jobs (default 2)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${NMSTORE_TEST_JOBS:-2}

# --- dependencies -----------------------------------------------------------
apt_packages=(build-essential cmake pkg-config libglib2.0-dev libcjson-dev libsodium-dev
              libsqlite3-dev libcmocka-dev sqlite3)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- build and test ---------------------------------------------------------
build="$top/build-tests"
echo "== configuring in $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "== building"
cmake --build "$build" -j"$jobs"
echo "== running the suite"
cd "$build"
ctest --output-on-failure -j"$jobs"
