/* SPDX-License-Identifier: MIT */
/* store-items.c: reading and writing items: keys and their checks,
 * Chrome's byte count, get, prefix scans, set, remove, clear and the
 * quota, for plaintext and sealed records alike: what differs between
 * them is behind store-record.h. Every write runs inside
 * nms_store_op_begin/end (store.c) and, while anyone subscribes, notes its
 * changes for the change log first. */
#include "store-private.h"
#include "store-record.h"
#include "nmstore/error.h"
#include "nmstore/json.h"

#include <string.h>

/* What every row of items must be, whoever writes it: a restore copies
 * rows from a file that may have been made by hand. Triggers, since
 * SQLite cannot add a CHECK to an existing table. A size below zero would
 * let a write through the quota; a kind other than JSON or bytes has no
 * meaning. */
const char nms_store_items_schema_sql[] =
  "CREATE TRIGGER IF NOT EXISTS items_sane_insert BEFORE INSERT ON items"
  "  WHEN NEW.kind NOT IN (0, 1) OR typeof (NEW.size) != 'integer' OR NEW.size < 0"
  "  BEGIN SELECT RAISE (ABORT, 'an item with an unknown kind or a negative size'); END;"
  "CREATE TRIGGER IF NOT EXISTS items_sane_update BEFORE UPDATE ON items"
  "  WHEN NEW.kind NOT IN (0, 1) OR typeof (NEW.size) != 'integer' OR NEW.size < 0"
  "  BEGIN SELECT RAISE (ABORT, 'an item with an unknown kind or a negative size'); END;";

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
nms_store_item_check (NmsStore *store, const NmsItem *item, gboolean with_value, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *shown = NULL;

  if (!g_utf8_validate_len (item->key, item->key_len, NULL))
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

gboolean
nms_store_get (NmsStore *store, const char *key, gsize key_len,
               NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  return nms_store_records (store)->get (store, key, key_len, visit, user_data, error);
}

/* Visits every item whose key starts with prefix (every item when prefix
 * is NULL or empty), in byte order of the keys. */
gboolean
nms_store_scan (NmsStore *store, const char *prefix, gboolean with_values,
                NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  return nms_store_records (store)->visit (store, prefix, with_values, visit, user_data, error);
}

gboolean
nms_store_set (NmsStore *store, const NmsItem *items, gsize n_items, GError **error)
{
  guint64 before = 0, after = 0;
  gboolean ok, logging = FALSE;
  gsize i;

  if (!nms_store_op_begin (store, error))
    return FALSE;
  ok = nms_store_log_wanted (store, &logging, error)
       && (store->options.quota_bytes == 0 || nms_store_bytes_total (store, &before, error));
  for (i = 0; ok && i < n_items; i++)
    ok = nms_store_check_key (items[i].key, items[i].key_len, error);
  for (i = 0; ok && i < n_items; i++)
    {
      const NmsStoreRecordClass *records = nms_store_records (store);
      const NmsItem *item = &items[i];
      NmsValueRef next = { TRUE, item->kind, item->value, item->value_len };
      gboolean changed;

      /* Chrome reports no change for a value set to itself; skipping the
       * write too keeps the byte counter and the WAL untouched. Without a
       * subscriber the old value is not read: the upsert finds the row
       * anyway, and rewriting a value with itself changes nothing. */
      if (logging
          && (!(ok = records->note_change (store, item->key, item->key_len, &next, &changed, error)) || !changed))
        continue;
      ok = records->put (store, item, error);
    }
  if (ok && store->options.quota_bytes > 0)
    {
      ok = nms_store_bytes_total (store, &after, error);
      /* A store already over a lowered quota may still shrink. */
      if (ok && after > store->options.quota_bytes && after > before)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_QUOTA,
                       "this write would use %" G_GUINT64_FORMAT " bytes, over the origin's quota of %"
                       G_GUINT64_FORMAT " bytes; remove items or raise quota_bytes in nmstore.conf",
                       after, store->options.quota_bytes);
          ok = FALSE;
        }
    }
  return nms_store_op_end (store, ok, error) && ok;
}

gboolean
nms_store_remove (NmsStore *store, const char *const *keys, gsize n_keys, GError **error)
{
  gboolean ok, logging = FALSE;
  gsize i;

  if (!nms_store_op_begin (store, error))
    return FALSE;
  ok = nms_store_log_wanted (store, &logging, error);
  for (i = 0; ok && i < n_keys; i++)
    {
      const NmsStoreRecordClass *records = nms_store_records (store);
      const NmsValueRef absent = { 0 };
      gsize key_len = strlen (keys[i]);
      gboolean changed;

      if (logging && (!(ok = records->note_change (store, keys[i], key_len, &absent, &changed, error)) || !changed))
        continue;
      ok = records->delete (store, keys[i], key_len, error);
    }
  return nms_store_op_end (store, ok, error) && ok;
}

static gboolean
note_removal (const NmsItem *item, gpointer user_data, GError **error)
{
  const NmsValueRef before = { TRUE, item->kind, item->value, item->value_len };
  const NmsValueRef absent = { 0 };

  nms_store_log_note (user_data, item->key, item->key_len, &before, &absent);
  return TRUE;
}

gboolean
nms_store_clear (NmsStore *store, const char *prefix, GError **error)
{
  gboolean ok, logging = FALSE;

  if (!nms_store_op_begin (store, error))
    return FALSE;
  if (!nms_store_log_wanted (store, &logging, error)
      || (logging && !nms_store_scan (store, prefix, TRUE, note_removal, store, error)))
    return nms_store_op_end (store, FALSE, error);
  ok = nms_store_records (store)->clear (store, prefix, error);
  return nms_store_op_end (store, ok, error) && ok;
}

/* Sums Chrome's byte count over keys that exist; keys == NULL means the
 * whole store. The caller passes each key once. */
gboolean
nms_store_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys,
                        guint64 *bytes, GError **error)
{
  return nms_store_records (store)->bytes_in_use (store, keys, n_keys, bytes, error);
}
