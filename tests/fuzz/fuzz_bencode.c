/* SPDX-License-Identifier: MIT */
/* fuzz_bencode.c: libFuzzer target for the bencode decoder and the
 * metainfo reader, which read whatever bytes an extension stored. */
#include "fuzz.h"
#include "session/bencode.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  nms_bencode_fuzz_one (data, size);
  return 0;
}
