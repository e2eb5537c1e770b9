#!/bin/sh
# SPDX-License-Identifier: MIT
# build-pkg.sh: builds nmstore.pkg on macOS with pkgbuild. UNTESTED: no Mac
# is available to this project's CI; see the README.
#
# The payload is `cmake --install` into a staging root with prefix
# /usr/local: bin/nmstore and share/nmstore/manifests/{chromium,firefox}/,
# whose path CMake filled in as /usr/local/bin/nmstore. The postinstall
# script, which the build fills in from the browser table
# (packaging/browsers.cmake), copies them into the console user's browser
# folders.
#
#   packaging/macos/build-pkg.sh [OUTPUT.pkg]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-"$top/build-macos/nmstore.pkg"}
build="$top/build-macos"
stage="$build/payload"
version=$(sed -n 's/^project(nmstore VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNMSTORE_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr/local
cmake --build "$build" -j2
rm -rf "$stage"
DESTDIR="$stage" cmake --install "$build"
pkgbuild --root "$stage" --scripts "$build/packaging/macos/scripts" \
  --identifier org.nmstore.host --version "$version" --install-location / "$out"
echo "built $out"
