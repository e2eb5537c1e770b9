/* SPDX-License-Identifier: MIT */
/* fuzz_import.c: the import parser, end to end. Arbitrary bytes are what
 * `nmstore import FILE` reads; when they pass as an export, the request
 * they become is run through nms_proto_handle_batch against a real SQLite
 * store in a temporary directory, and must get one well-formed reply.
 * A sealed export is opened with the key-encryption key of the seed in
 * corpus/import/sealed (a key file of 32 '*' bytes), so that mutations of
 * it reach the list MAC and the records' own checks. */
#include "fuzz.h"
#include "archive/archive.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "base/origin.h"
#include "proto/proto.h"

#include <cjson/cJSON.h>
#include <string.h>

#define SEED_KEK_BYTE '*'

static NmsProto *proto;  /* the fuzzer's process-wide fixture */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* As main() does: sodium_malloc needs libsodium set up. */
  g_assert (nms_crypto_init (NULL));
  proto = fuzz_proto_new ();
  return 0;
}

static void
check_reply (const char *id_json, const char *json, gsize len, gpointer user_data)
{
  cJSON *reply = cJSON_ParseWithLength (json, len);
  const cJSON *ok;

  g_assert (reply != NULL);
  ok = cJSON_GetObjectItemCaseSensitive (reply, "ok");
  g_assert (cJSON_IsBool (ok));
  if (cJSON_IsFalse (ok))
    {
      const cJSON *err = cJSON_GetObjectItemCaseSensitive (reply, "error");
      const cJSON *code = cJSON_GetObjectItemCaseSensitive (err, "code");
      g_assert (cJSON_IsString (code) && strcmp (code->valuestring, "E_INTERNAL") != 0);
    }
  (*(guint *) user_data)++;
  cJSON_Delete (reply);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GString) request = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  guint n_items = 0, replies = 0;
  g_autoptr(NmsArchiveSealed) sealed = NULL;
  NmsProtoInput input;

  if (!nms_archive_sealed_parse ((const char *) data, size, &sealed, &error))
    {
      g_assert (error != NULL && error->message[0] != '\0');
      return 0;
    }
  if (sealed != NULL)
    {
      g_autoptr(NmsCryptoSecret) kek = nms_crypto_secret_new (NMS_CRYPTO_KEY_BYTES);

      memset (nms_crypto_secret_data (kek), SEED_KEK_BYTE, NMS_CRYPTO_KEY_BYTES);
      nms_crypto_secret_set_len (kek, NMS_CRYPTO_KEY_BYTES);
      if (!nms_archive_sealed_import_request (sealed, kek, request, &n_items, &error))
        {
          g_assert (error != NULL && error->message[0] != '\0');
          return 0;
        }
    }
  else if (!nms_archive_import_request ((const char *) data, size, request, &n_items, &error))
    {
      g_assert (error != NULL && error->message[0] != '\0');
      return 0;
    }
  input.data = (guint8 *) request->str;
  input.len = request->len;
  nms_proto_handle_batch (proto, &input, 1, check_reply, &replies);
  g_assert (replies == 1);
  return 0;
}
