/* SPDX-License-Identifier: MIT */
/* fuzz.h: the libFuzzer entry points every target in tests/fuzz defines.
 * The same sources link either with libFuzzer (the fuzz stage, clang) or
 * with replay.c (a normal ctest that replays the corpus and regressions). */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#include <glib.h>

#include "config/config.h"
#include "base/origin.h"
#include "proto/proto.h"

/* The protocol over a real SQLite store in a new temporary directory, for
 * the targets that dispatch requests. */
static inline NmsProto *
fuzz_proto_new (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("nmstore-fuzz-XXXXXX", &error);
  g_autoptr(NmsConfig) config = NULL;
  g_autoptr(NmsOrigin) origin = NULL;

  g_assert (root != NULL);
  config = nms_config_load (root, &error);
  g_assert (config != NULL);
  origin = nms_origin_parse ("chrome-extension://abcdefghijklmnopabcdefghijklmnop/", &error);
  g_assert (origin != NULL);
  return nms_proto_new (config, origin);
}
