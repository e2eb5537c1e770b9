/* SPDX-License-Identifier: MIT */
/* store-sealed.c: an encrypted origin's records exactly as sealed, for a
 * sealed export (archive.c). The caller holds a read transaction
 * (nms_store_begin), so the key record and the records it hands out are
 * one snapshot; each record is opened first, both to keep damaged ones out
 * and to match names against the prefix, and then handed out still
 * sealed, so no plaintext leaves this file. */
#include "store-private.h"
#include "nmstore/error.h"

#include <sodium.h>
#include <string.h>

const char *
nms_store_crypt_envelope_json (NmsStore *store)
{
  return store->crypt.envelope_json;
}

const NmsCryptoKeys *
nms_store_crypt_keys (NmsStore *store)
{
  return store->crypt.keys;
}

typedef struct {
  NmsCryptoItem plain;   /* for the name, which orders the records */
  guint8        token[NMS_CRYPTO_TOKEN_BYTES];
  GBytes       *sealed;
} SealedRecord;

static void
sealed_record_clear (gpointer data)
{
  SealedRecord *r = data;

  nms_crypto_item_clear (&r->plain);
  g_clear_pointer (&r->sealed, g_bytes_unref);
}

static gint
compare_records (gconstpointer a, gconstpointer b)
{
  const NmsCryptoItem *x = &((const SealedRecord *) a)->plain, *y = &((const SealedRecord *) b)->plain;
  int c = memcmp (x->name, y->name, MIN (x->name_len, y->name_len));

  if (c != 0)
    return c;
  return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

gboolean
nms_store_sealed_scan (NmsStore *store, const char *prefix, NmsStoreSealedFunc visit, gpointer user_data,
                       GError **error)
{
  g_autoptr(GArray) records = g_array_new (FALSE, TRUE, sizeof (SealedRecord));
  gsize prefix_len = prefix ? strlen (prefix) : 0;
  sqlite3_stmt *s = NULL;
  guint i;
  int rc;

  g_return_val_if_fail (store->in_batch, FALSE);
  g_array_set_clear_func (records, sealed_record_clear);
  if (!nms_store_encrypted (store))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "this origin is not encrypted, so it has no sealed records");
      return FALSE;
    }
  if (!nms_store_crypt_ready (store, error))
    return FALSE;
  rc = sqlite3_prepare_v2 (store->db, "SELECT key, value FROM items", -1, &s, NULL);
  for (rc = rc == SQLITE_OK ? sqlite3_step (s) : rc; rc == SQLITE_ROW; rc = sqlite3_step (s))
    {
      const guint8 *sealed = sqlite3_column_blob (s, 1);
      gsize sealed_len = (gsize) sqlite3_column_bytes (s, 1);
      SealedRecord r = { { 0 } };

      /* nms_store_crypt_open logs a damaged record by token; like every
       * listing, an export leaves it out. */
      if (sqlite3_column_bytes (s, 0) != NMS_CRYPTO_TOKEN_BYTES
          || !nms_store_crypt_open (store, store->crypt.keys, sqlite3_column_blob (s, 0), sealed, sealed_len,
                                    &r.plain, NULL))
        continue;
      if (prefix_len > 0 && (r.plain.name_len < prefix_len || memcmp (r.plain.name, prefix, prefix_len) != 0))
        {
          nms_crypto_item_clear (&r.plain);
          continue;
        }
      memcpy (r.token, sqlite3_column_blob (s, 0), NMS_CRYPTO_TOKEN_BYTES);
      r.sealed = g_bytes_new (sealed, sealed_len);
      g_array_append_val (records, r);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    return nms_store_fail (store, rc, "list the sealed records", error);

  g_array_sort (records, compare_records);
  for (i = 0; i < records->len; i++)
    {
      SealedRecord *r = &g_array_index (records, SealedRecord, i);
      gsize len = 0;
      const guint8 *data = g_bytes_get_data (r->sealed, &len);

      /* Names are not needed past this point: wipe them before handing
       * out anything. */
      nms_crypto_item_clear (&r->plain);
      if (!visit (r->token, data, len, user_data, error))
        return FALSE;
    }
  return TRUE;
}
