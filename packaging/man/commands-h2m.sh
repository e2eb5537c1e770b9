#!/bin/sh
# SPDX-License-Identifier: MIT
# commands-h2m.sh NMSTORE OUT: writes a help2man include file with a
# COMMANDS section, one subsection per command, built from the program's
# own help: the command list of `nmstore --help` and the options of each
# `nmstore COMMAND --help`. The man page is generated from it at build
# time, so it cannot drift from what the program accepts.
set -eu
nmstore=$1
out=$2
tmp="$out.tmp"

# help2man and GLib translate nothing here, and GLib writes the ellipsis of
# "[OPTION...]" as '?' outside a UTF-8 locale; C keeps the output stable.
LC_ALL=C
export LC_ALL

{
  # printf, not echo: some shells' echo would read \f as a form feed.
  printf '%s\n' '[COMMANDS]' \
    'Each command takes the options below; \fBnmstore \fICOMMAND\fB \-\-help\fR prints them too.'
  "$nmstore" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' |
  while read -r command; do
    "$nmstore" "$command" --help | awk -v cmd="$command" '
      # Roff: a leading dot or quote starts a request; a backslash escapes;
      # a hyphen in an option must be \- to be typed as one.
      function roff(s) {
        gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s)
        if (s ~ /^[.'"'"']/) s = "\\&" s
        return s
      }
      /^Usage:/ { usage = 1; next }
      usage && /^  / {
        sub(/^  [^ ]+ /, ""); sub(/\[OPTION[^]]*\] ?/, "")
        n = index($0, " - ")
        args = n ? substr($0, 1, n - 1) : ""
        what = n ? substr($0, n + 3) : $0
        sub(/^- /, "", what)
        printf ".SS \"nmstore %s%s\"\n%s\n", cmd, args == "" ? "" : " " roff(args), roff(what)
        usage = 0; next
      }
      /^Help Options:/ { skip = 1; next }
      /^[A-Z][A-Za-z ]*:$/ { skip = 0; next }
      !skip && /^  -/ {
        line = $0; sub(/^  /, "", line)
        n = match(line, /   +/)
        opt = n ? substr(line, 1, n - 1) : line
        desc = n ? substr(line, n + RLENGTH) : ""
        printf ".TP\n.B %s\n%s\n", roff(opt), roff(desc)
      }'
  done
  printf '%s\n' '[ENVIRONMENT]' '.TP' '.B NMSTORE_HOME' \
    'The data root. Default: \fI$XDG_DATA_HOME/nmstore\fR (\fI~/.local/share/nmstore\fR), created mode 0700.' \
    '.TP' '.B NMSTORE_LOG' 'Log level: error, warning, info or debug.' \
    '[EXIT STATUS]' \
    '0 on success, 1 when a command failed while running, 2 for a usage error (an unknown command or option,' \
    'a missing argument, a malformed \fB\-\-origin\fR).'
} > "$tmp"
mv "$tmp" "$out"
