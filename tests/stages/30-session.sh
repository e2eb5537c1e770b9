#!/usr/bin/env bash
# 30-session.sh: the torrent session on real .torrent files made by Debian's
# mktorrent (restore of 1,000, removal beside a concurrent writer, v1
# migration, every check finding, export/import, backup while writing),
# then a bounded libFuzzer run of the bencode decoder.
#
#   NMT_FUZZ_SECONDS   length of the fuzz run (default 30)
set -euo pipefail
: "${NMT_TOP:?run through tests/run.sh}" "${NMT_BUILD:?run through tests/run.sh}"
# shellcheck source=tests/lib.sh
. "$NMT_TOP/tests/lib.sh"

nmt_apt_install mktorrent clang libclang-rt-14-dev

"$NMT_BUILD/tests/stage_test_session"

fuzz_dir=$(mktemp -d)
trap 'rm -rf "$fuzz_dir"' EXIT
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I"$NMT_TOP/include" "$NMT_TOP/host/bencode.c" "$NMT_TOP/host/error.c" "$NMT_TOP/tests/fuzz/fuzz_bencode.c" \
  $(pkg-config --cflags --libs glib-2.0) -o "$fuzz_dir/fuzz_bencode"
mkdir -p "$fuzz_dir/corpus"
"$fuzz_dir/fuzz_bencode" -max_total_time="${NMT_FUZZ_SECONDS:-30}" -max_len=65536 -timeout=10 \
  -artifact_prefix="$fuzz_dir/" "$fuzz_dir/corpus" "$NMT_TOP/tests/fuzz/corpus/bencode" 2>"$fuzz_dir/log" || {
  tail -40 "$fuzz_dir/log"
  echo "fuzz_bencode found a crash; the input is in the log above" >&2
  exit 1
}
grep -E "^Done [0-9]+ runs" "$fuzz_dir/log"
