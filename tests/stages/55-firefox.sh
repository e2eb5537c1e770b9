#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/stages/55-firefox.sh: the companion in Debian's Firefox ESR. Runs
# tests/browser/firefox/ in firefox-esr, headless, driven by puppeteer-core
# over WebDriver BiDi: each test file starts one Firefox on a temporary
# profile and a private HOME in which the built host is registered with the
# real "nmstore install", installs extension/ as a temporary add-on, and
# removes the profile and HOME when it is done.
set -euo pipefail
top=${NMT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
: "${NMT_BUILD:?run this stage from tests/run.sh, or set NMT_BUILD to a build directory holding nmstore}"
export NMT_BUILD

nmt_apt_install firefox-esr mktorrent
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "55-firefox: node and npm are needed (Node.js 20 or later)" >&2; exit 1; }

# puppeteer-core never downloads a browser by itself; this makes sure no
# puppeteer package in the tree does either. The browser is Debian's.
export PUPPETEER_SKIP_DOWNLOAD=1
cd "$top/tests/browser"
if ! node -e 'import("puppeteer-core")' 2>/dev/null; then
  echo "== npm ci (puppeteer-core)"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "== browser tests in Debian firefox-esr $(dpkg-query -W -f='${Version}' firefox-esr)"
node --test --test-concurrency=1 firefox/
