/* fuzz.h: the libFuzzer entry points every target in tests/fuzz defines.
 * The same sources link either with libFuzzer (the fuzz stage, clang) or
 * with replay.c (a normal ctest that replays the corpus and regressions). */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
