#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 61-install-sh.sh: packaging/install.sh as a person runs it, in a private
# HOME with ~/.local/bin not on PATH: it installs the binary, the man page
# and the completions under ~/.local, never creates nmstore's data root
# itself (only nmstore does, 0700), says how to put ~/.local/bin on PATH,
# and its --help is a help. About a minute on two cores (a Release build).
set -euo pipefail
: "${NMT_TOP:?run through tests/run.sh}"
# shellcheck source=tests/lib.sh
. "$NMT_TOP/tests/lib.sh"

fail() { echo "61-install-sh: FAIL: $*" >&2; exit 1; }
nmt_apt_install help2man
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
home="$scratch/home"
mkdir -m 700 "$home"

echo "-- install.sh --help"
"$NMT_TOP/packaging/install.sh" --help > "$scratch/help.txt"
head -1 "$scratch/help.txt" | grep -q '^Usage: packaging/install.sh' || fail "--help does not start with a Usage line"
if grep -q 'set -euo' "$scratch/help.txt"; then fail "--help prints the script's code"; fi
for o in --system --prefix --no-deps --build-dir --extension-id; do
  grep -q -- "$o" "$scratch/help.txt" || fail "--help does not explain $o"
done
status=0
"$NMT_TOP/packaging/install.sh" --no-such-option 2>/dev/null || status=$?
[ "$status" -eq 2 ] || fail "an unknown option exits $status, not 2"

echo "-- install.sh in a private HOME"
env -i PATH=/usr/bin:/bin HOME="$home" SHELL=/bin/bash \
  "$NMT_TOP/packaging/install.sh" --no-deps --build-dir "$scratch/build" > "$scratch/log" 2>&1 \
  || { cat "$scratch/log"; fail "install.sh failed"; }
local_share="$home/.local/share"
[ -x "$home/.local/bin/nmstore" ] || fail "no ~/.local/bin/nmstore"
! grep -q NMSTORE_CRASH_AT "$home/.local/bin/nmstore" || fail "the installed nmstore reads NMSTORE_CRASH_AT, a test hook"
[ -f "$local_share/man/man1/nmstore.1.gz" ] || fail "no man page in ~/.local/share/man/man1"
[ -f "$local_share/bash-completion/completions/nmstore" ] || fail "no bash completion in ~/.local/share/bash-completion"
[ -f "$local_share/zsh/vendor-completions/_nmstore" ] || fail "no zsh completion"
[ -f "$local_share/nmstore-manifests/chromium/org.nmstore.host.json" ] || fail "no manifest templates in nmstore-manifests"
# The data root: absent, or made by nmstore (the doctor's hello) 0700.
if [ -e "$local_share/nmstore" ]; then
  mode=$(stat -c %a "$local_share/nmstore")
  [ "$mode" = 700 ] || fail "the data root $local_share/nmstore has mode $mode, not 700"
  [ ! -e "$local_share/nmstore/manifests" ] || fail "the manifest templates are inside the data root"
fi
grep -qxF "  export PATH=\"$home/.local/bin:\$PATH\"" "$scratch/log" \
  || fail "install.sh did not give the line that puts ~/.local/bin on PATH"
grep -q "add this line to ~/.bashrc" "$scratch/log" || fail "install.sh did not name ~/.bashrc for bash"
man_path=$(env -i PATH="$home/.local/bin:/usr/bin:/bin" man -w nmstore 2>/dev/null || true)
[ "$man_path" = "$local_share/man/man1/nmstore.1.gz" ] || fail "man does not find the page once ~/.local/bin is on PATH"
echo "61-install-sh: ok"
