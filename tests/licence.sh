#!/bin/sh
# SPDX-License-Identifier: MIT
# licence.sh TOP: every source file the project owns names its licence in
# its first two lines (after a shebang or doctype), and LICENSE is MIT. A
# file added without the line fails here, with its name.
set -eu
top=${1:?usage: licence.sh SOURCE-DIR}
cd "$top"
grep -q "^MIT License" LICENSE || { echo "licence.sh: LICENSE is not the MIT licence" >&2; exit 1; }
grep -qx "License: MIT" packaging/linux/copyright || { echo "licence.sh: packaging/linux/copyright does not say License: MIT" >&2; exit 1; }
missing=$(find host include tests extension packaging .ci CMakeLists.txt manifest/CMakeLists.txt \
    -path tests/browser/node_modules -prune -o -path tests/fuzz/corpus -prune -o \
    -path tests/fuzz/regressions -prune -o -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.h.in' -o -name '*.js' -o -name '*.sh' -o -name '*.html' \
       -o -name '*.css' -o -name '*.cmake' -o -name 'CMakeLists.txt' -o -name '*.ps1' -o -name '*.iss' \
       -o -name '*.gp' -o -name 'postinst.in' -o -name 'prerm.in' -o -name 'rpm-*.in' -o -name 'postinstall' -o -name 'postinstall.in' -o -name '*.ps1.in' \
       -o -path .ci/run \) -print |
  while read -r f; do
    head -n 2 "$f" | grep -q "SPDX-License-Identifier: MIT" || echo "$f"
  done)
if [ -n "$missing" ]; then
  echo "licence.sh: these files lack an SPDX-License-Identifier: MIT line at the top:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "licence.sh: ok"
