/* SPDX-License-Identifier: MIT */
/* store-items.c: reading and writing items: get, prefix scans, set,
 * remove, clear, the byte count and the quota, for plaintext and sealed
 * records alike: what differs between them is behind store-record.h. Every
 * write runs inside _nms_store_op_begin/end (store-txn.c) and, while anyone
 * subscribes, notes its changes for the change log first. */
#include "store-private.h"
#include "store-txn.h"
#include "store-bytes.h"
#include "store-changes.h"
#include "store-subscribers.h"
#include "store-record.h"
#include "base/error.h"

#include <string.h>

gboolean
nms_store_get (NmsStore *store, const char *key, gsize key_len,
               NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  return _nms_store_records (store)->get (store, key, key_len, visit, user_data, error);
}

/* Visits every item whose key starts with prefix (every item when prefix
 * is NULL or empty), in byte order of the keys. */
gboolean
nms_store_scan (NmsStore *store, const char *prefix, gboolean with_values,
                NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  return _nms_store_records (store)->visit (store, prefix, with_values, visit, user_data, error);
}

gboolean
nms_store_set (NmsStore *store, const NmsItem *items, gsize n_items, GError **error)
{
  guint64 before = 0, after = 0;
  gboolean ok, logging = FALSE;
  gsize i;

  if (!_nms_store_op_begin (store, error))
    return FALSE;
  ok = _nms_store_log_wanted (store, &logging, error)
       && (store->options.quota_bytes == 0 || _nms_store_bytes_total (store, &before, error));
  for (i = 0; ok && i < n_items; i++)
    ok = nms_store_check_key (items[i].key, items[i].key_len, error);
  for (i = 0; ok && i < n_items; i++)
    {
      const NmsStoreRecordClass *records = _nms_store_records (store);
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
      ok = _nms_store_bytes_total (store, &after, error);
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
  return _nms_store_op_end (store, ok, error) && ok;
}

gboolean
nms_store_remove (NmsStore *store, const char *const *keys, gsize n_keys, GError **error)
{
  gboolean ok, logging = FALSE;
  gsize i;

  if (!_nms_store_op_begin (store, error))
    return FALSE;
  ok = _nms_store_log_wanted (store, &logging, error);
  for (i = 0; ok && i < n_keys; i++)
    {
      const NmsStoreRecordClass *records = _nms_store_records (store);
      const NmsValueRef absent = { 0 };
      gsize key_len = strlen (keys[i]);
      gboolean changed;

      if (logging && (!(ok = records->note_change (store, keys[i], key_len, &absent, &changed, error)) || !changed))
        continue;
      ok = records->delete (store, keys[i], key_len, error);
    }
  return _nms_store_op_end (store, ok, error) && ok;
}

static gboolean
note_removal (const NmsItem *item, gpointer user_data, GError **error)
{
  const NmsValueRef before = { TRUE, item->kind, item->value, item->value_len };
  const NmsValueRef absent = { 0 };

  _nms_store_log_note (user_data, item->key, item->key_len, &before, &absent);
  return TRUE;
}

gboolean
nms_store_clear (NmsStore *store, const char *prefix, GError **error)
{
  gboolean ok, logging = FALSE;

  if (!_nms_store_op_begin (store, error))
    return FALSE;
  if (!_nms_store_log_wanted (store, &logging, error)
      || (logging && !nms_store_scan (store, prefix, TRUE, note_removal, store, error)))
    return _nms_store_op_end (store, FALSE, error);
  ok = _nms_store_records (store)->clear (store, prefix, error);
  return _nms_store_op_end (store, ok, error) && ok;
}

/* Sums Chrome's byte count over keys that exist; keys == NULL means the
 * whole store. The caller passes each key once, and holds a transaction
 * (nms_store_begin), so that the sum is of one snapshot. */
gboolean
nms_store_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys,
                        guint64 *bytes, GError **error)
{
  g_return_val_if_fail (!sqlite3_get_autocommit (store->db), FALSE);
  return _nms_store_records (store)->bytes_in_use (store, keys, n_keys, bytes, error);
}
