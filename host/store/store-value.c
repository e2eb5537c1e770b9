/* SPDX-License-Identifier: MIT */
/* store-value.c: keys and values as the store takes and gives them: the
 * key's rules, Chrome's byte count, and the cheap check of an item read
 * from the file. Below every part of the store that reads or writes
 * items, and calls none of them. */
#include "store-private.h"
#include "store-value.h"
#include "base/error.h"
#include "json/json.h"

#include <string.h>

gboolean
nms_store_check_key (const char *key, gsize key_len, GError **error)
{
  /* The empty key is a key, as in chrome.storage. */
  if (key_len > NMS_STORE_MAX_KEY_BYTES)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_KEY, "a key of %" G_GSIZE_FORMAT " bytes is longer than the %u allowed",
                   key_len, NMS_STORE_MAX_KEY_BYTES);
      return FALSE;
    }
  if (memchr (key, '\0', key_len) != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_KEY, "a key must not contain the character U+0000");
      return FALSE;
    }
  return TRUE;
}

/* Chrome's count of a value: the length of its JSON text as Chrome's own
 * writer writes it (json.h). Bytes count as their {"$bytes":"<base64>"}
 * form. */
guint64
nms_store_value_bytes (NmsValueKind kind, const guint8 *value, gsize value_len)
{
  if (kind == NMS_VALUE_BYTES)
    return nms_json_bytes_length (value_len);
  return nms_json_chrome_length ((const char *) value, value_len);
}

/* Chrome's rule for an item: UTF-8 key bytes plus the value's count. */
guint64
nms_store_item_bytes (NmsValueKind kind, gsize key_len, const guint8 *value, gsize value_len)
{
  return key_len + nms_store_value_bytes (kind, value, value_len);
}

/* The cheap check of an item read from the file, before it goes into a
 * reply: a file changed behind nmstore's back, by a person or a program,
 * must never make the host send a frame that is not valid JSON (a raw NUL,
 * bytes that are not UTF-8, or text such as `1},"ok":false` that would
 * forge a reply). Sealed items need none: their AEAD tag vouches for them. */
gboolean
_nms_store_item_check (NmsStore *store, const NmsItem *item, gboolean with_value, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *shown = NULL;

  /* nms_json_is_utf8 takes ASCII sixteen bytes at a time, where
   * g_utf8_validate_len takes a byte at a time: a get's 60-byte key cost
   * 570 instructions so. Both refuse a NUL. */
  if (!nms_json_is_utf8 (item->key, item->key_len, NULL))
    {
      shown = g_utf8_make_valid (item->key, (gssize) item->key_len);
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "an item's key in %s is not UTF-8 text (it reads \"%s\"); the file was changed outside "
                   "nmstore: restore it from a backup, or clear the keys under that prefix", store->path, shown);
      return FALSE;
    }
  if (with_value && item->kind == NMS_VALUE_JSON
      && !nms_json_check ((const char *) item->value, item->value_len, NULL, &local))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "the value of \"%s\" in %s is damaged (%s); the file was changed outside nmstore: remove "
                   "that key, or restore the store from a backup", item->key, store->path, local->message);
      return FALSE;
    }
  return TRUE;
}
