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

/* Only the name, which orders the records, and where the record is: the
 * records themselves are read again one at a time as they are handed out,
 * so the listing costs the names' memory, not the store's. */
typedef struct {
  char  *name;
  gsize  name_len;
  gint64 id;
} SealedRecord;

static void
sealed_record_clear (gpointer data)
{
  SealedRecord *r = data;

  if (r->name != NULL)
    sodium_memzero (r->name, r->name_len);
  g_free (r->name);
}

static gint
compare_records (gconstpointer a, gconstpointer b)
{
  const SealedRecord *x = a, *y = b;
  int c = memcmp (x->name, y->name, MIN (x->name_len, y->name_len));

  if (c != 0)
    return c;
  return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

/* Hands out the record at id, as it is now in this read transaction. */
static gboolean
visit_one (NmsStore *store, sqlite3_stmt *s, const SealedRecord *r, guint64 index, guint64 n_records,
           NmsStoreSealedFunc visit, gpointer user_data, GError **error)
{
  gboolean ok;
  int rc;

  sqlite3_reset (s);
  sqlite3_bind_int64 (s, 1, r->id);
  rc = sqlite3_step (s);
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (s);
      return nms_store_fail (store, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "read a sealed record again", error);
    }
  ok = visit (sqlite3_column_blob (s, 0), sqlite3_column_blob (s, 1), (gsize) sqlite3_column_bytes (s, 1), index,
              n_records, user_data, error);
  sqlite3_reset (s);
  return ok;
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
  rc = sqlite3_prepare_v2 (store->db, "SELECT key, value, id FROM items", -1, &s, NULL);
  for (rc = rc == SQLITE_OK ? sqlite3_step (s) : rc; rc == SQLITE_ROW; rc = sqlite3_step (s))
    {
      const guint8 *sealed = sqlite3_column_blob (s, 1);
      gsize sealed_len = (gsize) sqlite3_column_bytes (s, 1);
      SealedRecord r = { 0 };
      NmsCryptoItem plain = { 0 };

      /* nms_store_crypt_open logs a damaged record by token; like every
       * listing, an export leaves it out. */
      if (sqlite3_column_bytes (s, 0) != NMS_CRYPTO_TOKEN_BYTES
          || !nms_store_crypt_open (store, store->crypt.keys, sqlite3_column_blob (s, 0), sealed, sealed_len,
                                    &plain, NULL))
        continue;
      if (prefix_len == 0 || (plain.name_len >= prefix_len && memcmp (plain.name, prefix, prefix_len) == 0))
        {
          r.name = g_memdup2 (plain.name, MAX (plain.name_len, 1));
          r.name_len = plain.name_len;
          r.id = sqlite3_column_int64 (s, 2);
          g_array_append_val (records, r);
        }
      nms_crypto_item_clear (&plain);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    return nms_store_fail (store, rc, "list the sealed records", error);

  g_array_sort (records, compare_records);
  /* Names are not needed past this point: wipe them before handing out
   * anything. */
  for (i = 0; i < records->len; i++)
    {
      SealedRecord *r = &g_array_index (records, SealedRecord, i);

      sodium_memzero (r->name, r->name_len);
    }
  rc = sqlite3_prepare_v2 (store->db, "SELECT key, value FROM items WHERE id = ?1", -1, &s, NULL);
  if (rc != SQLITE_OK)
    return nms_store_fail (store, rc, "read the sealed records", error);
  for (i = 0; i < records->len; i++)
    if (!visit_one (store, s, &g_array_index (records, SealedRecord, i), i, records->len, visit, user_data, error))
      break;
  sqlite3_finalize (s);
  return i == records->len;
}
