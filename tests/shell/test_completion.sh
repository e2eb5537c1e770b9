#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_completion.sh NMSTORE_DIR COMPLETION_DIR: sources the bash completion
# in bash and checks what it offers (COMPREPLY) for commands, options, a
# command's words, browser names and the origins that have data; checks
# that the zsh completion parses.
set -euo pipefail
bin_dir=$1
completion=$2
export PATH="$bin_dir:$PATH"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export NMSTORE_HOME="$home/data"

fail() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck source=packaging/completion/nmstore.bash
. "$completion/nmstore.bash"
[ "$(complete -p nmstore)" = "complete -o default -F _nmstore nmstore" ] || fail "nmstore has no completion"

# offers WORD... :: EXPECTED...: COMPREPLY for the command line WORD...
# (the last word being completed) is exactly EXPECTED (after ::), in any order.
offers() {
  local words=() expected
  while [ "$1" != "::" ]; do words+=("$1"); shift; done
  shift
  COMP_WORDS=("${words[@]}")
  COMP_CWORD=$(( ${#words[@]} - 1 ))
  _nmstore
  expected=$(printf '%s\n' "$@" | sort)
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
  [ "$got" = "$expected" ] || fail "completing '${words[*]}': expected [$(echo $expected)], got [$(echo $got)]"
}

offers nmstore ke :: keys
offers nmstore o :: origins
offers nmstore re :: restore rekey
offers nmstore keys --or :: --origin
offers nmstore keys --p :: --prefix --passphrase-fd
offers nmstore origins -- :: --help --json
offers nmstore session "" :: ls check migrate
offers nmstore install --browser fi :: firefox
offers nmstore install --browser chrome,ed :: chrome,edge
offers nmstore keys --origin "" ::
nmstore set --origin abcdefghijklmnopabcdefghijklmnop k 1
nmstore set --origin tester@example.org k 1
offers nmstore get --origin "" :: abcdefghijklmnopabcdefghijklmnop tester@example.org

# Every command and every option of `nmstore --help` is offered.
commands=$(nmstore --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
[ "$(echo "$commands" | wc -l)" -ge 10 ] || fail "found too few commands in --help: $commands"
for c in $commands; do
  COMP_WORDS=(nmstore "$c"); COMP_CWORD=1; _nmstore
  printf '%s\n' "${COMPREPLY[@]}" | grep -qx "$c" || fail "command $c is not offered"
  for o in $(nmstore "$c" --help | grep -Eo '^  (-[a-zA-Z], )?--[a-z-]+' | grep -Eo -- '--[a-z-]+'); do
    COMP_WORDS=(nmstore "$c" "$o"); COMP_CWORD=2; _nmstore
    printf '%s\n' "${COMPREPLY[@]}" | grep -qx -- "$o" || fail "option $o of $c is not offered"
  done
done

if command -v zsh >/dev/null; then
  zsh -n "$completion/_nmstore" || fail "_nmstore does not parse in zsh"
fi
echo "completion: ok"
