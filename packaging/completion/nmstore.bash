# SPDX-License-Identifier: MIT
# bash completion for nmstore. The commands, their options and the words a
# command takes (session's ls|check|migrate) are read from the program's
# own --help each time, so this file never lags behind the program; the
# origins offered for --origin are those `nmstore origins` lists, Chromium
# ones as the bare id (bash would split chrome-extension:// at the colon).

# The commands, one a line, from `nmstore --help`.
_nmstore_commands()
{
  "$1" --help 2>/dev/null | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'
}

# The options of one command: the long form of each, then the short one.
_nmstore_options()
{
  "$1" "$2" --help 2>/dev/null | awk '
    /^  -/ {
      for (i = 1; i <= NF; i++) {
        w = $i; sub(/,$/, "", w)
        if (w !~ /^-/) break
        sub(/[=[].*$/, "", w)
        print w
      }
    }'
}

# The words a command's usage line lists as alternatives (a|b|c).
_nmstore_words()
{
  "$1" "$2" --help 2>/dev/null | awk '
    /^Usage:/ { getline; n = split($0, w, " ")
                for (i = 1; i <= n; i++) if (w[i] ~ /^[a-z]+(\|[a-z]+)+$/) { gsub(/\|/, "\n", w[i]); print w[i] }
                exit }'
}

_nmstore()
{
  local nmstore="${COMP_WORDS[0]}" cur="${COMP_WORDS[COMP_CWORD]}" prev="" command
  COMPREPLY=()
  [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_nmstore_commands "$nmstore") --help --version" -- "$cur")
    return 0
  fi
  command="${COMP_WORDS[1]}"
  case "$prev" in
    --origin|-o)
      mapfile -t COMPREPLY < <(compgen -W "$("$nmstore" origins 2>/dev/null | awk 'NR > 1 { print $1 }' \
                                          | sed 's|^chrome-extension://\(.*\)/$|\1|')" -- "$cur")
      return 0 ;;
    --browser|-b)
      # The names the help lists: "chrome, chromium, ... (comma-separated), all, or detected".
      local names
      names=$("$nmstore" "$command" --help 2>/dev/null | awk '/--browser=/ { for (i = 3; i <= NF; i++) {
                w = $i; gsub(/,/, "", w); if (w ~ /^[a-z]+$/ && w != "or") print w } }')
      mapfile -t COMPREPLY < <(compgen -W "$names" -- "${cur##*,}")
      if [ "${cur%,*}" != "$cur" ]; then
        COMPREPLY=("${COMPREPLY[@]/#/${cur%,*},}")
      fi
      return 0 ;;
    --passphrase-fd|--prefix|-p|--extension-id|--firefox-id)
      return 0 ;;
    --binary)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_nmstore_options "$nmstore" "$command")" -- "$cur")
    return 0
  fi
  mapfile -t COMPREPLY < <(compgen -W "$(_nmstore_words "$nmstore" "$command")" -- "$cur")
  # Otherwise: file names (import, backup and restore take a FILE), which
  # -o default supplies when COMPREPLY is empty.
  return 0
}
complete -o default -F _nmstore nmstore
