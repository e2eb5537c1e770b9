#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging/install.sh: from a fresh clone to a working host.
#
# Installs the build dependencies with the system's package manager, builds a
# release build, installs nmstore under ~/.local (or /usr/local with
# --system), registers it with every browser found (`nmstore install
# --browser detected`, in the user's or, with --system, the system's
# folders) and runs `nmstore doctor`. What it runs is printed before it runs.
# Run it with --help for the options.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: packaging/install.sh [OPTION...]

Build nmstore from this source tree, install it, register it with the
browsers found here and check the result with `nmstore doctor`.

Options:
  --system            install under /usr/local and register for every user
                      (runs sudo when not root); default: ~/.local, this user
  --prefix DIR        install under DIR instead
  --no-deps           do not install the build dependencies (apt-get, dnf
                      or pacman); install GLib, cJSON, libsodium, SQLite 3,
                      CMake and help2man yourself
  --build-dir DIR     build in DIR (default: build-release in the tree)
  --extension-id ID   also allow this Chromium extension id (repeatable)
  -h, --help          show this help

Installs bin/nmstore, the man page (share/man/man1/nmstore.1.gz), bash and
zsh completion (share/bash-completion/completions/nmstore,
share/zsh/vendor-completions/_nmstore) and manifest templates for
packagers (share/nmstore-manifests for a user install). nmstore's data
root, ~/.local/share/nmstore, is left for nmstore to create (mode 0700).
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
prefix="$HOME/.local"
build="$top/build-release"
scope=user
deps=1
ids=()
while [ $# -gt 0 ]; do
  case "$1" in
    --system) prefix=/usr/local; scope=system ;;
    --prefix) prefix="$2"; shift ;;
    --no-deps) deps=0 ;;
    --build-dir) build="$2"; shift ;;
    --extension-id) ids+=(--extension-id "$2"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1; see packaging/install.sh --help" >&2; exit 2 ;;
  esac
  shift
done

run() { echo "+ $*"; "$@"; }
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi

if [ "$deps" -eq 1 ]; then
  if command -v apt-get >/dev/null; then
    pkgs=(build-essential cmake pkg-config libglib2.0-dev libcjson-dev libsodium-dev libsqlite3-dev help2man)
    missing=()
    for p in "${pkgs[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      run $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
      run env DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
    fi
  elif command -v dnf >/dev/null; then
    run $sudo dnf install -y gcc cmake pkgconf-pkg-config glib2-devel cjson-devel libsodium-devel sqlite-devel help2man
  elif command -v pacman >/dev/null; then
    run $sudo pacman -S --needed --noconfirm base-devel cmake pkgconf glib2 cjson libsodium sqlite help2man
  else
    echo "install.sh: no apt-get, dnf or pacman found; install GLib, cJSON, libsodium, SQLite 3 and CMake yourself, then run with --no-deps" >&2
    exit 1
  fi
fi

# The manifest templates (for packagers) never go inside nmstore's data
# root: ~/.local/share/nmstore must be created by nmstore itself, 0700.
manifests=()
if [ "$scope" = user ]; then manifests=(-DNMSTORE_MANIFEST_INSTALL_DIR=share/nmstore-manifests); fi
run cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNMSTORE_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$prefix" \
  "${manifests[@]}"
run cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)"
if [ "$scope" = system ] && [ -n "$sudo" ]; then
  run $sudo cmake --install "$build"
else
  run cmake --install "$build"
fi
echo "installed $prefix/bin/nmstore"
"$prefix/bin/nmstore" --version

# A shell that cannot find nmstore makes every later step ("run nmstore
# doctor") fail for the wrong reason: say exactly what to add.
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *)
    case "${SHELL:-}" in
      */zsh) profile="~/.zshrc" ;;
      */bash) profile="~/.bashrc" ;;
      *) profile="~/.profile" ;;
    esac
    echo "install.sh: $prefix/bin is not on your PATH; add this line to $profile, then open a new shell:" >&2
    # shellcheck disable=SC2016 # the line is meant to be copied as it is
    echo "  export PATH=\"$prefix/bin:\$PATH\"" >&2
    ;;
esac
case "$scope:${SHELL:-}" in
  user:*/zsh) echo "install.sh: for zsh completion, add to ~/.zshrc before compinit:" \
                   "fpath=($prefix/share/zsh/vendor-completions \$fpath)" ;;
esac

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
