#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The calls among host/ source files, read from the compiled objects: file
# A depends on file B when A's object uses a symbol B's object defines.
# Reading the objects, not the #include lines, is what makes this honest: a
# header can be included for a type alone, and a call is what ties two
# files together.
#
#   deps.sh BUILD edges     "A B" per line
#   deps.sh BUILD symbols   "A B symbol" per line
#   deps.sh BUILD cycles    each group of files that call each other, one per line
#   deps.sh BUILD check     the cycles, and exit 1 if there is any
#   deps.sh BUILD layers    each call or #include that breaks tests/arch/layers.txt, and exit 1 if any does
set -eu
build=$1
mode=${2:-check}
objdir=$(find "$build" -type d -path '*nmstore-core.dir*' -name host | head -n 1)
[ -n "$objdir" ] || { echo "deps.sh: no nmstore-core objects under $build; build first" >&2; exit 2; }

symbols() {
  find "$objdir" -name '*.c.o' | sort | while read -r o; do
    f=${o#"$objdir"/}
    f=${f%.c.o}
    nm -g --defined-only "$o" | awk -v f="$f" 'NF == 3 && $2 ~ /[TDBRC]/ { print "D", f, $3 }'
    nm -u "$o" | awk -v f="$f" '{ print "U", f, $NF }'
  done | awk '
    $1 == "D" { def[$3] = $2; next }
    { use[NR] = $2 " " $3 }
    END {
      for (i in use) {
        split(use[i], a, " ")
        if ((a[2] in def) && def[a[2]] != a[1]) print a[1], def[a[2]], a[2]
      }
    }' | sort -u
}

edges() { symbols | awk '{ print $1, $2 }' | sort -u; }

# Strongly connected groups, by transitive closure: sixty-odd files make
# this instant, and awk is on every machine that builds nmstore.
cycles() {
  edges | awk '
    { node[$1] = 1; node[$2] = 1; reach[$1 " " $2] = 1 }
    END {
      for (k in node) for (i in node) if ((i " " k) in reach) for (j in node) if ((k " " j) in reach) reach[i " " j] = 1
      for (i in node) if (!(i in done)) {
        group = i; done[i] = 1; n = 0
        for (j in node) if (j != i && ((i " " j) in reach) && ((j " " i) in reach)) { group = group " " j; done[j] = 1; n++ }
        if (n) print group
      }
    }' | while read -r line; do printf '%s\n' "$line" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//'; echo; done | sort
}

# A file's folder is its layer; layers.txt ranks them and names the files
# only some others may call.
layers() {
  edges | awk -v rules="$(dirname "$0")/layers.txt" '
    BEGIN {
      while ((getline line < rules) > 0) {
        n = split(line, w, " ")
        if (w[1] == "layer") rank[w[2]] = w[3]
        else if (w[1] == "only") { only[w[2]] = 1; for (i = 3; i <= n; i++) allowed[w[2], i - 2] = w[i]; nallowed[w[2]] = n - 2 }
      }
    }
    {
      split($1, a, "/"); split($2, b, "/")
      if (!(a[1] in rank) || !(b[1] in rank)) { print "no layer for " (a[1] in rank ? $2 : $1) " in layers.txt"; bad = 1; next }
      if (a[1] != b[1] && rank[a[1]] <= rank[b[1]]) { print $1 " (" a[1] ", rank " rank[a[1]] ") calls " $2 " (" b[1] ", rank " rank[b[1]] ")"; bad = 1 }
      if ($2 in only) {
        ok = 0
        for (i = 1; i <= nallowed[$2]; i++) {
          pat = allowed[$2, i]
          if (pat == $1 || (pat ~ /\/\*$/ && index($1, substr(pat, 1, length(pat) - 1)) == 1)) ok = 1
        }
        if (!ok) { print $1 " calls " $2 ", which only " nallowed[$2] " rule(s) in layers.txt allow"; bad = 1 }
      }
    }
    END { exit bad }'
}

# The same ranks for the #include lines of host/: a header of a higher
# layer would let a lower one see its types, even without a call.
includes() {
  src=$(cd "$(dirname "$0")/../../host" && pwd)
  (cd "$src" && for f in */*.c */*.h; do
     sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$f" | while read -r to; do echo "$f $to"; done
   done) | awk -v rules="$(dirname "$0")/layers.txt" '
    BEGIN { while ((getline line < rules) > 0) { split(line, w, " "); if (w[1] == "layer") rank[w[2]] = w[3] } }
    {
      split($1, a, "/")
      if ($2 == "nmstore") next   # the generated version.h
      if (!($2 in rank)) { print $1 " includes from " $2 "/, which has no layer in layers.txt"; bad = 1; next }
      if (a[1] != $2 && rank[a[1]] <= rank[$2]) { print $1 " (" a[1] ", rank " rank[a[1]] ") includes a header of " $2 "/ (rank " rank[$2] ")"; bad = 1 }
    }
    END { exit bad }'
}

case $mode in
  edges) edges ;;
  symbols) symbols ;;
  cycles) cycles ;;
  check)
    found=$(cycles)
    if [ -n "$found" ]; then
      echo "files that call each other (each line is one cycle; break it by moving what both need below both):"
      printf '%s\n' "$found"
      exit 1
    fi
    echo "no cycles among $(find "$objdir" -name '*.c.o' | wc -l) source files" ;;
  layers)
    if ! out=$(r=0; layers || r=1; includes || r=1; exit $r); then
      echo "calls that break tests/arch/layers.txt (move the code down, or pass a callback up):"
      printf '%s\n' "$out"
      exit 1
    fi
    echo "every call and #include among $(find "$objdir" -name '*.c.o' | wc -l) source files keeps to tests/arch/layers.txt" ;;
  *) echo "deps.sh: unknown mode $mode (edges, symbols, cycles, check, layers)" >&2; exit 2 ;;
esac
