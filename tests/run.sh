#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/run.sh: installs what the tests need, builds nmstore, and runs every
# test. Exits non-zero on any failure.
#
# The core suite (unit and integration tests through ctest) runs first; then
# every tests/stages/NN-*.sh runs in order, each installing what it needs.
#
#   NMSTORE_TEST_JOBS=N   parallel ctest jobs (default 2)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export NMT_TOP="$top"
export NMT_JOBS=${NMSTORE_TEST_JOBS:-2}
export NMT_BUILD="$top/build-tests"
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

nmt_apt_install build-essential cmake pkg-config libglib2.0-dev libcjson-dev libsodium-dev \
  libsqlite3-dev libcmocka-dev sqlite3
# The desktop keyring is optional in nmstore but tested here: libsecret to
# build it, and a Secret Service on a private bus for unit_test_keyring.
nmt_apt_install libsecret-1-dev gnome-keyring dbus-daemon
# The man page is built with help2man and checked with man (shell_manpage);
# the zsh completion is parsed by zsh (shell_completion).
nmt_apt_install help2man man-db zsh
# The session suites make real .torrent files with mktorrent.
nmt_apt_install mktorrent

echo "== configuring in $NMT_BUILD"
cmake -S "$top" -B "$NMT_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "== building"
cmake --build "$NMT_BUILD" -j"$NMT_JOBS"
echo "== running the core suite"
(cd "$NMT_BUILD" && ctest --output-on-failure -j"$NMT_JOBS")

echo "== the build and the core suite took $SECONDS s"
for stage in "$top"/tests/stages/[0-9]*.sh; do
  [ -e "$stage" ] || continue
  echo "== stage $(basename "$stage")"
  started=$SECONDS
  bash "$stage"
  # Each stage's time, so that a suite nearing CI's budget shows where.
  echo "== stage $(basename "$stage") took $((SECONDS - started)) s"
done
echo "== all tests passed in $SECONDS s"
