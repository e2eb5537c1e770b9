#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_no_test_hooks.sh NMSTORE NMSTORE_TEST: the hook that lets a test kill
# nmstore at a named point (NMSTORE_CRASH_AT, host/base/os.c) is compiled only
# into nmstore-test, which the crash tests run; the nmstore that is built
# for installing and packaging does not read it. The string is looked for
# in both, so that the check is seen to find it where it is.
set -euo pipefail
release=$1 with_hooks=$2
grep -q NMSTORE_CRASH_AT "$with_hooks" ||
  { echo "FAIL: $with_hooks has no NMSTORE_CRASH_AT: the crash tests cannot crash it, and this check proves nothing" >&2; exit 1; }
if grep -q NMSTORE_CRASH_AT "$release"; then
  echo "FAIL: $release reads NMSTORE_CRASH_AT: only nmstore-test may be built with NMSTORE_TEST_HOOKS" >&2
  exit 1
fi
echo "ok: NMSTORE_CRASH_AT is in $(basename "$with_hooks") only"
