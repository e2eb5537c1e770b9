#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_manpage.sh NMSTORE MANPAGE.gz: the generated man page renders
# without a warning from man/groff (what lintian reports as
# manpage-has-errors-from-man and groff-message), and names every command
# of `nmstore --help` and every option of each `nmstore COMMAND --help`.
# Exits 77 (skipped) when the build had no help2man.
set -euo pipefail
nmstore=$1
page=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
if [ ! -e "$page" ]; then echo "no $page: the build found no help2man"; exit 77; fi
command -v man >/dev/null || { echo "no man here"; exit 77; }

# lintian's own check: man --warnings, and nothing on stderr.
warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
[ -z "$warnings" ] || fail "man reports: $warnings"

text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$page" 2>/dev/null)
for c in $("$nmstore" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'); do
  grep -q "^   nmstore $c\b" <<<"$text" || fail "the COMMANDS section has no subsection for $c"
  # --help, the same for every command, is said once, above the commands.
  for o in $("$nmstore" "$c" --help | grep -Eo '^  (-[a-zA-Z], )?--[a-z-]+' | grep -Eo -- '--[a-z-]+' | grep -vx -- --help); do
    # The options of command c, between its subsection and the next.
    awk -v c="$c" '$0 ~ "^   nmstore " c "( |$)" { on = 1; next } on && /^   [^ ]/ { exit } on' <<<"$text" \
      | grep -q -- "$o" || fail "the man page does not list $o under $c"
  done
done
grep -q "^EXIT STATUS" <<<"$text" || fail "the man page has no EXIT STATUS"
echo "man page: ok"
