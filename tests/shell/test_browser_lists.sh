#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_browser_lists.sh NMSTORE-BROWSERS SOURCE-DIR BUILD-DIR: the browser
# table in host/admin/browsers.c is the one list of browsers. Fails when a copy
# drifts from it or comes back:
#  - the README's "Installing" table has one row per browser, in the
#    table's order, each giving the table's user folder (its source
#    citations are the README's own), and the README names every Flatpak
#    id of the table;
#  - the Linux maintainer scripts name no browsers (they use --browser all)
#    and the macOS and Windows templates hold no folder or key of the table;
#  - the macOS and Windows scripts the build wrote are what filling their
#    templates from today's table gives, with every folder and key in them.
set -euo pipefail
tool=$1
top=$2
build=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$tool" table > "$scratch/table.tsv"
[ -s "$scratch/table.tsv" ] || fail "nmstore-browsers table printed nothing"
cut -f1 "$scratch/table.tsv" > "$scratch/names"

# The README's table: from its header row to the first line not a row;
# the --dir row is not a browser of the table.
awk '/^\| browser \| `--user`/ { on = 1; next } on && !/^\|/ { exit } on' "$top/README.md" \
  | grep -v '^|---' | grep -v '^| `--dir' > "$scratch/readme-rows" || true
[ -s "$scratch/readme-rows" ] || fail "README.md has no table starting with '| browser | \`--user\`'"
sed -E 's/^\| ([^ |]+) \|.*/\1/' "$scratch/readme-rows" > "$scratch/readme-names"
if ! diff -u "$scratch/names" "$scratch/readme-names" > "$scratch/names.diff"; then
  cat "$scratch/names.diff" >&2
  fail "the README's browser table (left: host/admin/browsers.c, right: README.md) differs; give each browser of the table a row, in its order, with its folders and sources"
fi
while IFS=$'\t' read -r name _family user _macos _windows flatpak; do
  row=$(grep -m1 "^| $name |" "$scratch/readme-rows")
  user_col=$(printf '%s\n' "$row" | awk -F' [|] ' '{ print $2 }')
  case "$user_col" in
    *"\`$user\`"*) ;;
    *) fail "README.md's row for $name does not give its user folder \`$user\` (host/admin/browsers.c) in its --user column: $user_col" ;;
  esac
  if [ "$flatpak" != - ] && ! grep -qF "\`$flatpak\`" "$top/README.md"; then
    fail "README.md does not name $name's Flatpak \`$flatpak\` (host/admin/browsers.c) among the Flatpak browsers"
  fi
done < "$scratch/table.tsv"

# No copy in the packaging sources.
for f in "$top"/packaging/linux/*.in; do
  if grep -nE -- '--browser +[a-z-]+,' "$f"; then
    fail "$f lists browsers; use --browser all so that the table in host/admin/browsers.c decides"
  fi
done
while IFS=$'\t' read -r name _family _user macos windows _flatpak; do
  if [ "$macos" != - ] && grep -qF "$macos" "$top/packaging/macos/postinstall.in"; then
    fail "packaging/macos/postinstall.in names $name's folder \"$macos\"; the build fills it in from host/admin/browsers.c"
  fi
  if [ "$windows" != - ] && grep -qF "$windows" "$top/packaging/windows/register.ps1.in"; then
    fail "packaging/windows/register.ps1.in names $name's key \"$windows\"; the build fills it in from host/admin/browsers.c"
  fi
done < "$scratch/table.tsv"

# What the build wrote follows today's table.
for pair in macos/postinstall.in:macos/scripts/postinstall windows/register.ps1.in:windows/register.ps1; do
  template="$top/packaging/${pair%%:*}"
  built="$build/packaging/${pair#*:}"
  [ -f "$built" ] || fail "the build did not write $built"
  "$tool" fill "$template" "$scratch/fresh"
  cmp -s "$scratch/fresh" "$built" || fail "$built is not what $template gives with today's table; rebuild"
  if grep -n '@NMSTORE_BROWSERS_' "$built"; then fail "$built still holds a token"; fi
done
[ -x "$build/packaging/macos/scripts/postinstall" ] || fail "the macOS postinstall is not executable"
while IFS=$'\t' read -r name _family _user macos windows _flatpak; do
  if [ "$macos" != - ]; then
    grep -qF "\"\$support/$macos/NativeMessagingHosts\"" "$build/packaging/macos/scripts/postinstall" \
      || fail "the macOS postinstall does not write $name's folder $macos"
  fi
  if [ "$windows" != - ]; then
    grep -qF "\"HKCU:\\$windows\"" "$build/packaging/windows/register.ps1" \
      || fail "register.ps1 does not register $name's key $windows"
  fi
done < "$scratch/table.tsv"
echo "test_browser_lists: ok ($(wc -l < "$scratch/names") browsers)"
