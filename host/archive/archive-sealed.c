/* SPDX-License-Identifier: MIT */
/* archive-sealed.c: a sealed export held in memory, as `nmstore import -`
 * reads one from standard input (and the fuzz target, any bytes): checked
 * whole with cJSON, then, under the export's own keys and after its list
 * MAC holds, turned into one "set" request of every item in the clear.
 * A file is read without holding it instead (archive-sealed-in.c). */
#include "archive-private.h"
#include "archive/archive.h"
#include "base/base64.h"
#include "base/error.h"

#include <cjson/cJSON.h>
#include <string.h>

#define SEALED_FORMAT  "nmstore-sealed-export"
#define SEALED_VERSION 1

struct _NmsArchiveSealed {
  char              *origin;
  char              *prefix;
  NmsCryptoEnvelope *envelope;
  cJSON             *records;   /* checked: an array of [token, sealed] string pairs */
  guint8            *mac;
  gsize              mac_len;
};

void
nms_archive_sealed_free (NmsArchiveSealed *sealed)
{
  if (sealed == NULL)
    return;
  g_free (sealed->origin);
  g_free (sealed->prefix);
  nms_crypto_envelope_free (sealed->envelope);
  cJSON_Delete (sealed->records);
  g_free (sealed->mac);
  g_free (sealed);
}

static gboolean
sealed_bad (GError **error, const char *what)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_JSON,
               "the file is a sealed export of nmstore, but %s: it was damaged or edited, so nothing was imported",
               what);
  return FALSE;
}

/* A sealed export names its format first of all; once it does, it must be
 * whole. Falling back to reading it as a plain export when a member is
 * missing or added would write its parts as items, unchecked. (A plain
 * export whose items include the key "format" with exactly this value is
 * taken for a damaged sealed one: that is the safe side to err on.) */
static gboolean
looks_sealed (const cJSON *root)
{
  const cJSON *format = cJSON_GetObjectItemCaseSensitive (root, "format");

  return cJSON_IsString (format) && g_str_equal (format->valuestring, SEALED_FORMAT);
}

static gboolean
sealed_whole (const cJSON *root, GError **error)
{
  static const char *const members[] = { "format", "version", "origin", "prefix", "envelope", "records", "mac" };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (members); i++)
    if (cJSON_GetObjectItemCaseSensitive (root, members[i]) == NULL)
      {
        g_autofree char *what = g_strdup_printf ("it has no \"%s\"", members[i]);
        return sealed_bad (error, what);
      }
  if (cJSON_GetArraySize (root) != (int) G_N_ELEMENTS (members))
    return sealed_bad (error, "it has members a sealed export does not have");
  return TRUE;
}

static gboolean
sealed_fill (NmsArchiveSealed *sealed, cJSON *root, GError **error)
{
  const cJSON *version = cJSON_GetObjectItemCaseSensitive (root, "version");
  const cJSON *origin = cJSON_GetObjectItemCaseSensitive (root, "origin");
  const cJSON *prefix = cJSON_GetObjectItemCaseSensitive (root, "prefix");
  const cJSON *envelope = cJSON_GetObjectItemCaseSensitive (root, "envelope");
  const cJSON *mac = cJSON_GetObjectItemCaseSensitive (root, "mac");
  const cJSON *record;
  g_autofree char *envelope_text = NULL;

  if (!cJSON_IsNumber (version) || version->valuedouble != SEALED_VERSION)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_JSON,
                   "the file is a sealed export of a format version this nmstore does not know; "
                   "import it with the nmstore that wrote it");
      return FALSE;
    }
  if (!cJSON_IsString (origin) || (!cJSON_IsNull (prefix) && !cJSON_IsString (prefix)) || !cJSON_IsObject (envelope))
    return sealed_bad (error, "its origin, prefix or key record has the wrong type");
  if (!cJSON_IsString (mac)
      || (sealed->mac = nms_base64_decode_strict (mac->valuestring, strlen (mac->valuestring), &sealed->mac_len)) == NULL)
    return sealed_bad (error, "its \"mac\" is not base64");
  sealed->origin = g_strdup (origin->valuestring);
  sealed->prefix = cJSON_IsString (prefix) ? g_strdup (prefix->valuestring) : NULL;
  envelope_text = cJSON_PrintUnformatted (envelope);
  if ((sealed->envelope = nms_crypto_envelope_parse (envelope_text, error)) == NULL)
    return FALSE;
  sealed->records = cJSON_DetachItemFromObjectCaseSensitive (root, "records");
  if (!cJSON_IsArray (sealed->records))
    return sealed_bad (error, "its \"records\" is not an array");
  cJSON_ArrayForEach (record, sealed->records)
    if (cJSON_GetArraySize (record) != 2 || !cJSON_IsArray (record)
        || !cJSON_IsString (cJSON_GetArrayItem (record, 0)) || !cJSON_IsString (cJSON_GetArrayItem (record, 1)))
      return sealed_bad (error, "one of its records is not a pair of base64 strings");
  return TRUE;
}

gboolean
nms_archive_sealed_parse (const char *text, gsize len, NmsArchiveSealed **sealed_out, GError **error)
{
  g_autoptr(NmsArchiveSealed) sealed = NULL;
  cJSON *root = cJSON_ParseWithLength (text, len);
  gboolean ok = TRUE;

  *sealed_out = NULL;
  if (cJSON_IsObject (root) && looks_sealed (root))
    {
      sealed = g_new0 (NmsArchiveSealed, 1);
      ok = sealed_whole (root, error) && sealed_fill (sealed, root, error);
      if (ok)
        *sealed_out = g_steal_pointer (&sealed);
    }
  cJSON_Delete (root);
  return ok;
}

const NmsCryptoEnvelope *
nms_archive_sealed_envelope (const NmsArchiveSealed *sealed)
{
  return sealed->envelope;
}

const char *
nms_archive_sealed_origin (const NmsArchiveSealed *sealed)
{
  return sealed->origin;
}

static guint8 *
decode_member (const cJSON *pair, int index, gsize *len)
{
  const char *text = cJSON_GetArrayItem (pair, index)->valuestring;

  return nms_base64_decode_strict (text, strlen (text), len);
}

/* Opens every record under the export's own keys, after its list MAC
 * holds, into one "set" request: all of the export goes in, or nothing. */
static gboolean
sealed_request (const NmsArchiveSealed *sealed, const NmsCryptoKeys *keys, GString *request, guint *n_items,
                GError **error)
{
  g_autoptr(NmsCryptoListMac) mac = nms_crypto_list_mac_new (keys);
  const cJSON *pair;
  guint n = 0;

  _nms_archive_sealed_mac_head (mac, sealed->origin, sealed->prefix, (guint64) cJSON_GetArraySize (sealed->records));
  cJSON_ArrayForEach (pair, sealed->records)
    {
      gsize token_len = 0, sealed_len = 0;
      g_autofree guint8 *token = decode_member (pair, 0, &token_len);
      g_autofree guint8 *data = decode_member (pair, 1, &sealed_len);

      if (token == NULL || data == NULL || token_len != NMS_CRYPTO_TOKEN_BYTES)
        return sealed_bad (error, "one of its records is not a token and a sealed value in base64");
      _nms_archive_sealed_mac_record (mac, token, data, sealed_len);
    }
  if (!nms_crypto_list_mac_verify (mac, sealed->mac, sealed->mac_len, error))
    {
      g_prefix_error (error, "the sealed export failed its check, so nothing was imported: ");
      return FALSE;
    }

  g_string_append (request, "{\"op\":\"set\",\"items\":{");
  cJSON_ArrayForEach (pair, sealed->records)
    {
      gsize token_len = 0, sealed_len = 0;
      g_autofree guint8 *token = decode_member (pair, 0, &token_len);
      g_autofree guint8 *data = decode_member (pair, 1, &sealed_len);
      NmsCryptoItem plain = { 0 };
      NmsItem item;

      if (!nms_crypto_open_item (keys, token, data, sealed_len, &plain, error))
        {
          g_prefix_error (error, "record %u of the sealed export: ", n + 1);
          return FALSE;
        }
      item = (NmsItem) { .key = plain.name, .key_len = plain.name_len, .kind = (NmsValueKind) plain.kind,
                         .value = plain.value, .value_len = plain.value_len };
      _nms_archive_append_item (request, n == 0, &item);
      nms_crypto_item_clear (&plain);
      n++;
    }
  g_string_append (request, "}}");
  *n_items = n;
  return TRUE;
}

gboolean
nms_archive_sealed_import_request (const NmsArchiveSealed *sealed, const NmsCryptoSecret *kek, GString *request,
                                   guint *n_items, GError **error)
{
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_unwrap (sealed->envelope, kek, error);
  g_autoptr(NmsCryptoKeys) keys = NULL;

  if (data_key == NULL)
    return FALSE;
  /* The pad block only matters for sealing; opening finds any padding. */
  keys = nms_crypto_keys_new (data_key, sealed->envelope->store_id, NMS_CRYPTO_PAD_BLOCK_DEFAULT);
  return sealed_request (sealed, keys, request, n_items, error);
}
