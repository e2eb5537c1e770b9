/* SPDX-License-Identifier: MIT */
/* fuzz_request.c: request parsing and dispatch, end to end, through
 * nms_proto_handle_batch against a real SQLite store in a temporary
 * directory.
 *
 * Input: one batch; the byte 0xFE (which never occurs in UTF-8) separates
 * its requests. Each request must get exactly one reply, in order, and each
 * reply must be valid JSON with "ok" or an error code. The store persists
 * across inputs, so later inputs run against what earlier ones wrote. To
 * cover new ops, add requests for them to corpus/request/. */
#include "fuzz.h"
#include "config/config.h"
#include "base/origin.h"
#include "proto/proto.h"

#include <cjson/cJSON.h>
#include <string.h>

#define MAX_REQUESTS 64

static NmsProto *proto;  /* the fuzzer's process-wide fixture */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  proto = fuzz_proto_new ();
  return 0;
}

typedef struct {
  guint n;
} Replies;

static void
check_reply (const char *id_json, const char *json, gsize len, gpointer user_data)
{
  Replies *replies = user_data;
  cJSON *reply = cJSON_ParseWithLength (json, len);
  const cJSON *ok;

  g_assert (reply != NULL);
  ok = cJSON_GetObjectItemCaseSensitive (reply, "ok");
  g_assert (cJSON_IsBool (ok));
  if (cJSON_IsFalse (ok))
    {
      const cJSON *code = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "error"), "code");
      g_assert (cJSON_IsString (code) && g_str_has_prefix (code->valuestring, "E_"));
      g_assert (strcmp (code->valuestring, "E_INTERNAL") != 0);
    }
  g_assert (g_str_has_prefix (json, "{\"id\":") && strncmp (json + 6, id_json, strlen (id_json)) == 0);
  cJSON_Delete (reply);
  replies->n++;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree guint8 *copy = g_malloc (size + 1);  /* parsing rewrites in place */
  NmsProtoInput inputs[MAX_REQUESTS];
  Replies replies = { 0 };
  gsize n = 0, start = 0;

  if (size > 0)
    memcpy (copy, data, size);
  for (gsize i = 0; i <= size && n < MAX_REQUESTS; i++)
    if (i == size || copy[i] == 0xFE)
      {
        inputs[n].data = copy + start;
        inputs[n].len = i - start;
        n++;
        start = i + 1;
      }
  for (gsize served = 0; served < n;)
    served += nms_proto_handle_batch (proto, inputs + served, n - served, check_reply, &replies);
  g_assert (replies.n == n);
  return 0;
}
