#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 30-session.sh: the torrent session on real .torrent files made by Debian's
# mktorrent (restore of 1,000, removal beside a concurrent writer, v1
# migration, every check finding, export/import, backup while writing).
# The bencode decoder is fuzzed by 72-fuzz.sh with the other targets.
set -euo pipefail
: "${NMT_TOP:?run through tests/run.sh}" "${NMT_BUILD:?run through tests/run.sh}"
# shellcheck source=tests/lib.sh
. "$NMT_TOP/tests/lib.sh"

nmt_apt_install mktorrent

"$NMT_BUILD/tests/stage_test_session"
