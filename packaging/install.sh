#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging/install.sh: from a fresh clone to a working host.
#
# Installs the build dependencies with the system's package manager, builds a
# release build, installs nmstore under ~/.local (or /usr/local with
# --system), registers it with every browser found (`nmstore install
# --browser detected`, in the user's or, with --system, the system's
# folders) and runs `nmstore doctor`. What it runs is printed before it runs.
#
#   packaging/install.sh [--system] [--prefix DIR] [--no-deps] [--extension-id ID]...
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
prefix="$HOME/.local"
scope=user
deps=1
ids=()
while [ $# -gt 0 ]; do
  case "$1" in
    --system) prefix=/usr/local; scope=system ;;
    --prefix) prefix="$2"; shift ;;
    --no-deps) deps=0 ;;
    --extension-id) ids+=(--extension-id "$2"); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

run() { echo "+ $*"; "$@"; }
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi

if [ "$deps" -eq 1 ]; then
  if command -v apt-get >/dev/null; then
    pkgs=(build-essential cmake pkg-config libglib2.0-dev libcjson-dev libsodium-dev libsqlite3-dev)
    missing=()
    for p in "${pkgs[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      run $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
      run env DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
    fi
  elif command -v dnf >/dev/null; then
    run $sudo dnf install -y gcc cmake pkgconf-pkg-config glib2-devel cjson-devel libsodium-devel sqlite-devel
  elif command -v pacman >/dev/null; then
    run $sudo pacman -S --needed --noconfirm base-devel cmake pkgconf glib2 cjson libsodium sqlite
  else
    echo "install.sh: no apt-get, dnf or pacman found; install GLib, cJSON, libsodium, SQLite 3 and CMake yourself, then run with --no-deps" >&2
    exit 1
  fi
fi

build="$top/build-release"
run cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNMSTORE_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$prefix"
run cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)"
if [ "$scope" = system ] && [ -n "$sudo" ]; then
  run $sudo cmake --install "$build"
else
  run cmake --install "$build"
fi
echo "installed $prefix/bin/nmstore"
"$prefix/bin/nmstore" --version

# Register with the browsers that are here. Finding none is not an error of
# the build: say so, and how to name a browser that is installed later.
nmstore="$prefix/bin/nmstore"
if [ "$scope" = system ]; then
  register=($sudo "$nmstore" install --system --browser detected "${ids[@]}")
else
  register=("$nmstore" install --user --browser detected "${ids[@]}")
fi
if ! run "${register[@]}"; then
  echo "install.sh: no browser registered; once one is installed, run: $nmstore install --browser NAME" >&2
  exit 0
fi
run "$nmstore" doctor
