#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 60-packages.sh: the .deb and the .rpm, for real.
#
# Builds both with CPack, checks the .deb with lintian (no errors, and no
# tag about the man page: it must be there and render cleanly), installs
# it with dpkg -i, checks that its maintainer script wrote the system-wide
# manifests for Chrome, Chromium, Edge and Firefox and that `nmstore doctor`
# passes, that reinstalling it keeps an extension id allowed since and
# allows the ids of the drop-ins in /etc/nmstore/extensions.d (a refused one
# not stopping it), removes it with dpkg -r and checks that everything it
# put on the machine is gone. The .rpm is inspected with rpm -qlp and --scripts (no rpm
# machine here to install it on). Needs root, as CI has: it changes /usr and
# /etc. About a minute on two cores.
set -euo pipefail
: "${NMT_TOP:?run through tests/run.sh}"
# shellcheck source=tests/lib.sh
. "$NMT_TOP/tests/lib.sh"

fail() { echo "60-packages: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root for dpkg -i (CI runs as root)"
# help2man: the packages must hold the man page, which the build makes with it.
nmt_apt_install dpkg-dev fakeroot file lintian rpm help2man
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

build="${NMT_BUILD:-$NMT_TOP/build-tests}-packages"
cmake -S "$NMT_TOP" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNMSTORE_BUILD_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j"${NMT_JOBS:-2}" >/dev/null
rm -f "$build"/nmstore*.deb "$build"/nmstore*.rpm
(cd "$build" && cpack -G DEB >/dev/null && cpack -G RPM >/dev/null)
deb=$(ls "$build"/nmstore_*.deb)
rpm=$(ls "$build"/nmstore-*.rpm)
echo "built $(basename "$deb") and $(basename "$rpm")"

echo "-- lintian"
lintian --display-info --fail-on error "$deb" 2>&1 | tee "$scratch/lintian.txt" || fail "lintian reports errors on $deb"
# Any tag about the man page: missing (no-manual-page, formerly
# binary-without-manpage), or not rendering cleanly (groff-message,
# manpage-has-errors-from-man, manpage-has-bad-whatis-entry, ...).
if grep -E "no-manual-page|binary-without-manpage|manpage|groff-message" "$scratch/lintian.txt"; then
  fail "lintian has something to say about the man page of $deb"
fi
# libsecret is loaded when the keyring is used, never at start: the
# package recommends it and does not depend on it.
dpkg-deb -f "$deb" Recommends | grep -q "libsecret-1-0" || fail "$deb does not recommend libsecret-1-0"
if dpkg-deb -f "$deb" Depends | grep -q libsecret; then fail "$deb depends on libsecret"; fi
dpkg-deb -c "$deb" | awk '{ print $6 }' > "$scratch/deb.txt"
for f in ./usr/share/man/man1/nmstore.1.gz ./usr/share/bash-completion/completions/nmstore \
         ./usr/share/zsh/vendor-completions/_nmstore; do
  grep -qx "$f" "$scratch/deb.txt" || fail "$deb does not hold ${f#.}"
done

manifests=(
  /etc/opt/chrome/native-messaging-hosts/org.nmstore.host.json
  /etc/chromium/native-messaging-hosts/org.nmstore.host.json
  /etc/opt/edge/native-messaging-hosts/org.nmstore.host.json
  /usr/lib/mozilla/native-messaging-hosts/org.nmstore.host.json
)
# What was there before belongs to somebody else and must survive removal.
if dpkg-query -W -f='${Status}' nmstore 2>/dev/null | grep -q "install ok installed"; then
  dpkg -r nmstore >/dev/null
fi
before=()
for m in "${manifests[@]}"; do
  [ ! -e "$m" ] || fail "$m exists before the package is installed"
  [ -d "$(dirname "$m")" ] && before+=("$(dirname "$m")")
done

echo "-- dpkg -i"
dpkg -i "$deb" >/dev/null
[ -x /usr/bin/nmstore ] || fail "/usr/bin/nmstore is not installed"
# Test hooks are for nmstore-test only (tests/shell/test_no_test_hooks.sh).
! grep -q NMSTORE_CRASH_AT /usr/bin/nmstore || fail "the packaged nmstore reads NMSTORE_CRASH_AT, a test hook"
for m in "${manifests[@]}"; do
  [ -f "$m" ] || fail "postinst did not write $m"
  [ "$(stat -c %a "$m")" = 644 ] || fail "$m has mode $(stat -c %a "$m"), not 644"
  [ "$(stat -c %a "$(dirname "$m")")" = 755 ] || fail "$(dirname "$m") is not 755"
  grep -q "\"path\":	\"/usr/bin/nmstore\"" "$m" || fail "$m does not name /usr/bin/nmstore"
done
grep -q "chrome-extension://hfjlljhbgdcnhkaehjemmbcjndfgaeea/" "${manifests[0]}" || fail "the companion is not allowed"
grep -q "nmstore@nmstore.org" "${manifests[3]}" || fail "the Firefox companion is not allowed"
grep -qx "License: MIT" /usr/share/doc/nmstore/copyright || fail "the .deb's copyright file does not say License: MIT"

[ "$(man -w nmstore)" = /usr/share/man/man1/nmstore.1.gz ] || fail "man does not find nmstore(1) after dpkg -i"

echo "-- nmstore doctor"
HOME="$scratch/home" NMSTORE_HOME="$scratch/data" XDG_CONFIG_HOME="" \
  /usr/bin/nmstore doctor --browser chrome,chromium,edge,firefox | tee "$scratch/doctor.txt" \
  || fail "nmstore doctor failed after dpkg -i"
[ "$(grep -c '^OK .*hello' "$scratch/doctor.txt")" -eq 4 ] || fail "the doctor did not exchange hello four times"

# An upgrade (here a reinstall: dpkg runs prerm upgrade, then postinst
# configure) must keep ids allowed since: dropping one locks that extension out.
echo "-- dpkg -i again keeps the ids allowed since"
extra_id=abcdefghijklmnopabcdefghijklmnop
/usr/bin/nmstore install --system --browser chrome,firefox --extension-id "$extra_id" \
  --firefox-id tester@example.org >/dev/null
grep -q "chrome-extension://$extra_id/" "${manifests[0]}" || fail "install --extension-id did not add $extra_id"
dpkg -i "$deb" >/dev/null
grep -q "chrome-extension://$extra_id/" "${manifests[0]}" || fail "reinstalling the .deb dropped $extra_id from ${manifests[0]}"
grep -q "chrome-extension://hfjlljhbgdcnhkaehjemmbcjndfgaeea/" "${manifests[0]}" || fail "the companion is no longer allowed"
grep -q "tester@example.org" "${manifests[3]}" || fail "reinstalling the .deb dropped tester@example.org from ${manifests[3]}"
grep -q "nmstore@nmstore.org" "${manifests[3]}" || fail "the Firefox companion is no longer allowed"

# Another extension's package ships a drop-in and reruns install; an
# upgrade of nmstore must allow its ids too, and a drop-in nmstore refuses
# must not leave the nmstore package unconfigured.
echo "-- dpkg -i honours /etc/nmstore/extensions.d"
dropin_dir=/etc/nmstore/extensions.d
made_etc_nmstore=no
[ -d /etc/nmstore ] || made_etc_nmstore=yes
mkdir -p "$dropin_dir"
dropin_id=ponmlkjihgfedcbaponmlkjihgfedcba
printf '[extension]\nchromium-ids=%s;\nfirefox-ids=dropin@example.org;\n' "$dropin_id" >"$dropin_dir/nmt-test.conf"
dpkg -i "$deb" >/dev/null
grep -q "chrome-extension://$dropin_id/" "${manifests[0]}" || fail "postinst did not allow the drop-in's $dropin_id"
grep -q "dropin@example.org" "${manifests[3]}" || fail "postinst did not allow the drop-in's dropin@example.org"
printf '[extension]\nchromium-ids=xyz;\n' >"$dropin_dir/nmt-bad.conf"
dpkg -i "$deb" >/dev/null 2>"$scratch/dpkg.err" || fail "a refused drop-in made dpkg -i fail: $(cat "$scratch/dpkg.err")"
grep -q "nmt-bad.conf" "$scratch/dpkg.err" || fail "postinst did not name the refused drop-in nmt-bad.conf"
grep -q "chrome-extension://$dropin_id/" "${manifests[0]}" || fail "a refused drop-in dropped the valid one's id"
rm -f "$dropin_dir/nmt-test.conf" "$dropin_dir/nmt-bad.conf"
if [ "$made_etc_nmstore" = yes ]; then rmdir "$dropin_dir" /etc/nmstore; fi

echo "-- dpkg -r"
dpkg -r nmstore >/dev/null
[ ! -e /usr/bin/nmstore ] || fail "/usr/bin/nmstore is still there"
[ ! -e /usr/share/doc/nmstore ] || fail "/usr/share/doc/nmstore is still there"
[ ! -e /usr/share/man/man1/nmstore.1.gz ] || fail "the man page is still there"
for m in "${manifests[@]}"; do
  [ ! -e "$m" ] || fail "prerm left $m"
  d=$(dirname "$m")
  if [ ! -d "$d" ] || printf '%s\n' "${before[@]}" | grep -qx "$d"; then continue; fi
  fail "prerm left the folder $d"
done

echo "-- rpm -qlp"
rpm -qlp "$rpm" | tee "$scratch/rpm.txt"
for f in /usr/bin/nmstore /usr/share/nmstore/manifests/chromium/org.nmstore.host.json \
         /usr/share/nmstore/manifests/firefox/org.nmstore.host.json /usr/share/man/man1/nmstore.1.gz \
         /usr/share/bash-completion/completions/nmstore /usr/share/zsh/vendor-completions/_nmstore; do
  grep -qx "$f" "$scratch/rpm.txt" || fail "$rpm does not hold $f"
done
if grep -q '^/etc' "$scratch/rpm.txt"; then fail "$rpm owns files in /etc; postinst should write them"; fi
rpm -qip "$rpm" | grep -Eq "^License *: MIT$" || fail "the rpm's License is not MIT"
rpm -qp --scripts "$rpm" > "$scratch/scripts.txt"
grep -q "nmstore install --system --browser all" "$scratch/scripts.txt" \
  || fail "the rpm's %post does not register the browsers"
grep -q "nmstore uninstall --system" "$scratch/scripts.txt" || fail "the rpm's %preun does not remove them"
# The rpm's Requires are rpmbuild's, one per shared library the binary
# links (libsodium.so.23()(64bit) and so on), which name no distribution's
# packages: dnf resolves them to whichever package provides the library.
rpm -qp --requires "$rpm" > "$scratch/requires.txt"
for lib in libglib-2.0.so.0 libsodium.so libsqlite3.so.0 libcjson.so.1; do
  grep -q "^$lib" "$scratch/requires.txt" || fail "the rpm does not require $lib"
done
if grep -q '^libsecret' "$scratch/requires.txt"; then fail "the rpm requires libsecret, which it loads only when used"; fi
if grep -Eq '^(libglib2\.0|libsodium[0-9]|libsqlite3-0|libcjson1|libsecret-1-0)( |$)' "$scratch/requires.txt"; then
  fail "the rpm requires a Debian package name"
fi
# The folders above its own files belong to filesystem, man-db, bash-completion.
for d in /usr/share/man /usr/share/man/man1 /usr/share/bash-completion /usr/share/bash-completion/completions; do
  if grep -qx "$d" "$scratch/rpm.txt"; then fail "$rpm owns the folder $d"; fi
done
echo "60-packages: ok"
