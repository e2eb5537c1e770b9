/* fuzz_bencode.c: libFuzzer target for the bencode decoder and the
 * metainfo reader, which read whatever bytes an extension stored. */
#include "nmstore/bencode.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  nms_bencode_fuzz_one (data, size);
  return 0;
}
