#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/stages/50-browser.sh: the extension's tests. Type-checks extension/
# with tsc --checkJs, runs the unit tests of extension/lib against a fake
# port, then the end-to-end tests in Debian's Chromium with the real
# extension and the host built in $NMT_BUILD, then a smoke run of the
# in-browser benchmark page with tiny counts (its results' shape only; the
# echo and floor peers, nmstore-bench-echo and nmstore-bench-floor, come
# from the same build).
set -euo pipefail
top=${NMT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
: "${NMT_BUILD:?run this stage from tests/run.sh, or set NMT_BUILD to a build directory holding nmstore}"
export NMT_BUILD

nmt_apt_install chromium mktorrent
# Node.js and npm come with the machine (node 20, npm 11); Debian's npm
# package would fight the installed nodejs, so it is not installed here.
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "50-browser: node and npm are needed (Node.js 20 or later)" >&2; exit 1; }

cd "$top/tests/browser"
echo "== npm ci (playwright-core, puppeteer-core, typescript, @types/chrome)"
npm ci --no-audit --no-fund --loglevel=error
echo "== tsc --checkJs over extension/ and the benchmark page"
npx tsc -p tsconfig.json
echo "== unit tests of extension/lib"
node --test unit/
echo "== browser tests in Debian chromium $(dpkg-query -W -f='${Version}' chromium)"
node --test --test-concurrency=1 e2e/
echo "== in-browser benchmark smoke test (tiny counts; no timing is judged)"
node --test ../bench/browser/smoke.test.js
