/* SPDX-License-Identifier: MIT */
/* store-sealed.c: an encrypted origin's sealed records (store-record.h),
 * in the format store-crypt.c describes, and its change log's sealed
 * bodies. The keys and the key record are store-crypt.c's.
 *
 * Also the records exactly as sealed, for a sealed export (archive.c). The caller holds a read transaction
 * (nms_store_begin), so the key record and the records it hands out are
 * one snapshot; each record is opened first, both to keep damaged ones out
 * and to match names against the prefix, and then handed out still
 * sealed, so no plaintext leaves this file. */
#include "store-private.h"
#include "store-changes.h"
#include "store-crypt-state.h"
#include "store-summary.h"
#include "store-names.h"
#include "base/error.h"

#include <sodium.h>
#include <string.h>

/* A sealed record's row: its token as the key, kind 0, the sealed length
 * as its size and the sealed record as its value; a change-log row's body
 * is sealed once its number is known. */
static const char *const sealed_stmt_sql[N_CRYPT_STMTS] = {
  [CRYPT_STMT_GET] = "SELECT value FROM items WHERE key = ?1",
  [CRYPT_STMT_UPSERT] = ("INSERT INTO items (key, kind, size, value) VALUES (?1, 0, ?2, ?3) "
                         "ON CONFLICT (key) DO UPDATE SET kind = 0, size = excluded.size, value = excluded.value"),
  [CRYPT_STMT_DELETE] = "DELETE FROM items WHERE key = ?1",
  [CRYPT_STMT_SEAL_CHANGE] = "UPDATE changes SET body = ?2 WHERE seq = ?1",
};

static sqlite3_stmt *
sealed_stmt (NmsStore *store, int which, GError **error)
{
  return _nms_store_lazy_stmt (store, &store->crypt.stmts[which], sealed_stmt_sql[which], error);
}

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
      return _nms_store_fail (store, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "read a sealed record again", error);
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
  if (!_nms_store_crypt_ready (store, error))
    return FALSE;
  rc = sqlite3_prepare_v2 (store->db, "SELECT key, value, id FROM items", -1, &s, NULL);
  for (rc = rc == SQLITE_OK ? sqlite3_step (s) : rc; rc == SQLITE_ROW; rc = sqlite3_step (s))
    {
      const guint8 *sealed = sqlite3_column_blob (s, 1);
      gsize sealed_len = (gsize) sqlite3_column_bytes (s, 1);
      SealedRecord r = { 0 };
      NmsCryptoItem plain = { 0 };

      /* _nms_store_crypt_open logs a damaged record by token; like every
       * listing, an export leaves it out. */
      if (sqlite3_column_bytes (s, 0) != NMS_CRYPTO_TOKEN_BYTES
          || !_nms_store_crypt_open (store, store->crypt.keys, sqlite3_column_blob (s, 0), sealed, sealed_len,
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
    return _nms_store_fail (store, rc, "list the sealed records", error);

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
    return _nms_store_fail (store, rc, "read the sealed records", error);
  for (i = 0; i < records->len; i++)
    if (!visit_one (store, s, &g_array_index (records, SealedRecord, i), i, records->len, visit, user_data, error))
      break;
  sqlite3_finalize (s);
  return i == records->len;
}

/* Reads the record of token into *plain; *found is FALSE when there is
 * none, and *plain is empty when it fails its check (logged). */
static gboolean
read_token (NmsStore *store, const guint8 *token, NmsCryptoItem *plain, gboolean *found, gboolean *damaged,
            GError **error)
{
  sqlite3_stmt *s;
  gboolean ok = TRUE;
  int rc;

  *found = *damaged = FALSE;
  if ((s = sealed_stmt (store, CRYPT_STMT_GET, error)) == NULL)
    return FALSE;
  sqlite3_bind_blob (s, 1, token, NMS_CRYPTO_TOKEN_BYTES, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      *found = TRUE;
      *damaged = !_nms_store_crypt_open (store, store->crypt.keys, token, sqlite3_column_blob (s, 0),
                                        (gsize) sqlite3_column_bytes (s, 0), plain, NULL);
    }
  else if (rc != SQLITE_DONE)
    ok = _nms_store_fail (store, rc, "read an item", error);
  /* Reset before the caller visits: a visitor may read the store. */
  sqlite3_reset (s);
  return ok;
}

/* Reads key's record into *plain; *found is FALSE when there is none. A
 * record that fails its check is E_CORRUPT for this key alone. */
static gboolean
read_record (NmsStore *store, const char *key, gsize key_len, NmsCryptoItem *plain, gboolean *found,
             GError **error)
{
  guint8 token[NMS_CRYPTO_TOKEN_BYTES];
  gboolean damaged;

  *found = FALSE;
  if (!_nms_store_crypt_ready (store, error))
    return FALSE;
  nms_crypto_token (store->crypt.keys, key, key_len, token);
  if (!read_token (store, token, plain, found, &damaged, error))
    return FALSE;
  if (damaged)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "the stored value of \"%.*s\" failed its authentication check: it was damaged, "
                   "tampered with or moved from another key; overwrite or remove that key, or restore "
                   "the store from a backup", (int) MIN (key_len, 200), key);
      return FALSE;
    }
  return TRUE;
}

static gboolean
sealed_get (NmsStore *store, const char *key, gsize key_len,
            NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  NmsCryptoItem plain = { 0 };
  gboolean found, ok = read_record (store, key, key_len, &plain, &found, error);

  if (ok && found)
    {
      NmsItem item = { .key = key, .key_len = key_len, .kind = (NmsValueKind) plain.kind,
                       .value = plain.value, .value_len = plain.value_len };
      ok = visit (&item, user_data, error);
    }
  nms_crypto_item_clear (&plain);
  return ok;
}

/* Without values, from the names alone; with them, opening only the
 * records whose names match. */
static gboolean
sealed_visit (NmsStore *store, const char *prefix, gboolean with_values, NmsStoreVisitFunc visit,
              gpointer user_data, GError **error)
{
  g_autoptr(GArray) tokens = NULL;
  guint i;

  if (!with_values)
    return _nms_store_names_visit (store, prefix, visit, user_data, error);
  if (!_nms_store_names_tokens (store, prefix, &tokens, error))
    return FALSE;
  for (i = 0; i < tokens->len; i++)
    {
      const guint8 *token = (const guint8 *) tokens->data + (gsize) i * NMS_CRYPTO_TOKEN_BYTES;
      NmsCryptoItem plain = { 0 };
      gboolean found, damaged, ok;

      if (!read_token (store, token, &plain, &found, &damaged, error))
        return FALSE;
      /* The names are current for this transaction, so neither happens
       * unless the file changed under SQLite; a scan skipped both. */
      if (!found || damaged)
        continue;
      {
        NmsItem item = { .key = plain.name, .key_len = plain.name_len, .kind = (NmsValueKind) plain.kind,
                         .value = plain.value, .value_len = plain.value_len };
        ok = visit (&item, user_data, error);
      }
      nms_crypto_item_clear (&plain);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* As store-plain.c's note_change, from the decrypted value. A damaged record
 * counts as absent, so that it can be overwritten or removed. */
static gboolean
sealed_note_change (NmsStore *store, const char *key, gsize key_len, const NmsValueRef *after,
                    gboolean *changed, GError **error)
{
  NmsCryptoItem plain = { 0 };
  NmsValueRef before = { 0 };
  g_autoptr(GError) local = NULL;
  gboolean found;

  if (!read_record (store, key, key_len, &plain, &found, &local))
    {
      if (!g_error_matches (local, NMS_ERROR, NMS_ERROR_CORRUPT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      found = FALSE;
    }
  if (found)
    {
      before.present = TRUE;
      before.kind = (NmsValueKind) plain.kind;
      before.value = plain.value;
      before.value_len = plain.value_len;
    }
  *changed = before.present != after->present
             || (before.present && (before.kind != after->kind || before.value_len != after->value_len
                                    || (before.value_len > 0 && memcmp (before.value, after->value,
                                                                        before.value_len) != 0)));
  /* A damaged record is replaced even when the new value is "absent". */
  if (local != NULL)
    *changed = TRUE;
  if (*changed)
    _nms_store_log_note (store, key, key_len, &before, after);
  nms_crypto_item_clear (&plain);
  return TRUE;
}

/* Only the token, the padded length and the sealed bytes reach the file;
 * the size column counts what is stored, so the quota does too. */
static gboolean
sealed_put (NmsStore *store, const NmsItem *item, GError **error)
{
  guint8 token[NMS_CRYPTO_TOKEN_BYTES];
  gsize sealed_len = 0;
  g_autofree guint8 *sealed = nms_crypto_seal_item (store->crypt.keys, item->key, item->key_len,
                                                    (guint8) item->kind, item->value, item->value_len,
                                                    token, &sealed_len);
  sqlite3_stmt *s;
  int rc;

  if (!_nms_store_summary_forget (store, token, error)
      || (s = sealed_stmt (store, CRYPT_STMT_UPSERT, error)) == NULL)
    return FALSE;
  sqlite3_bind_blob (s, 1, token, sizeof token, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, (gint64) sealed_len);
  sqlite3_bind_blob64 (s, 3, sealed, sealed_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "write an item", error);
  if (_nms_store_summary_kept (store))
    _nms_store_summary_note (store, token, sealed, sealed_len, sealed_len, TRUE);
  _nms_store_names_put (store, token, item->key, item->key_len, (guint8) item->kind,
                       nms_store_value_bytes (item->kind, item->value, item->value_len));
  return TRUE;
}

static gboolean
delete_token (NmsStore *store, const guint8 *token, GError **error)
{
  sqlite3_stmt *s;
  int rc;

  if (!_nms_store_summary_forget (store, token, error)
      || (s = sealed_stmt (store, CRYPT_STMT_DELETE, error)) == NULL)
    return FALSE;
  sqlite3_bind_blob (s, 1, token, NMS_CRYPTO_TOKEN_BYTES, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "remove an item", error);
  _nms_store_names_remove (store, token);
  return TRUE;
}

static gboolean
sealed_delete (NmsStore *store, const char *key, gsize key_len, GError **error)
{
  guint8 token[NMS_CRYPTO_TOKEN_BYTES];

  nms_crypto_token (store->crypt.keys, key, key_len, token);
  return delete_token (store, token, error);
}


/* Names are only inside the records: the prefix's are found in the names
 * in memory, and their rows removed by token, unopened. A whole clear
 * removes every row at once, and with them the names and the summary. */
static gboolean
sealed_clear (NmsStore *store, const char *prefix, GError **error)
{
  g_autoptr(GArray) tokens = NULL;
  guint i;

  if (prefix == NULL || *prefix == '\0')
    {
      sqlite3_stmt *s = _nms_store_stmt (store, STMT_CLEAR);
      int rc = sqlite3_step (s);

      sqlite3_reset (s);
      if (rc != SQLITE_DONE)
        return _nms_store_fail (store, rc, "clear items", error);
      _nms_store_names_remove_all (store);
      _nms_store_summary_cleared (store);
      return TRUE;
    }
  if (!_nms_store_names_tokens (store, prefix, &tokens, error))
    return FALSE;
  for (i = 0; i < tokens->len; i++)
    if (!delete_token (store, (const guint8 *) tokens->data + (gsize) i * NMS_CRYPTO_TOKEN_BYTES, error))
      return FALSE;
  return TRUE;
}

/* The stored sizes are the sealed ones; Chrome's count needs the names
 * and the values' lengths, which the names in memory keep. A key they do
 * not know is read, so that a damaged record is still E_CORRUPT. */
static gboolean
sealed_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys, guint64 *bytes,
                     GError **error)
{
  guint64 sum = 0;
  gsize i;

  if (keys == NULL)
    return _nms_store_names_bytes (store, bytes, error);
  for (i = 0; i < n_keys; i++)
    {
      guint8 token[NMS_CRYPTO_TOKEN_BYTES];
      NmsCryptoItem plain = { 0 };
      gboolean known, found;
      guint64 one;

      if (!_nms_store_crypt_ready (store, error))
        return FALSE;
      nms_crypto_token (store->crypt.keys, keys[i], strlen (keys[i]), token);
      if (!_nms_store_names_item_bytes (store, token, &known, &one, error))
        return FALSE;
      if (known)
        {
          sum += one;
          continue;
        }
      if (!read_record (store, keys[i], strlen (keys[i]), &plain, &found, error))
        return FALSE;
      if (found)
        sum += nms_store_item_bytes ((NmsValueKind) plain.kind, plain.name_len, plain.value, plain.value_len);
      nms_crypto_item_clear (&plain);
    }
  *bytes = sum;
  return TRUE;
}

/* The sequence number is only known once the row exists, so the row is
 * written empty and then given its sealed body, bound to that number. */
static void
sealed_bind_change (sqlite3_stmt *insert, int column, const void *body, gsize body_len)
{
  sqlite3_bind_zeroblob (insert, column, 0);
}

static gboolean
sealed_finish_change (NmsStore *store, gint64 seq, const void *body, gsize body_len, GError **error)
{
  guint8 binding[8];
  guint64 le = GUINT64_TO_LE ((guint64) seq);
  gsize sealed_len = 0;
  g_autofree guint8 *sealed = NULL;
  sqlite3_stmt *s;
  int rc;

  if (!_nms_store_crypt_ready (store, error))
    return FALSE;
  memcpy (binding, &le, sizeof binding);
  sealed = nms_crypto_seal (store->crypt.keys, NMS_CRYPTO_USE_CHANGE, binding, sizeof binding,
                            body, body_len, &sealed_len);
  if ((s = sealed_stmt (store, CRYPT_STMT_SEAL_CHANGE, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (s, 1, seq);
  sqlite3_bind_blob64 (s, 2, sealed, sealed_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "seal the change", error);
}

static gboolean
sealed_open_change (NmsStore *store, guint64 seq, const void *blob, gsize len, guint8 **plain, gsize *plain_len,
                    GError **error)
{
  guint64 le = GUINT64_TO_LE (seq);
  guint8 binding[8];

  memcpy (binding, &le, sizeof binding);
  *plain = nms_crypto_open (store->crypt.keys, NMS_CRYPTO_USE_CHANGE, binding, sizeof binding, blob, len,
                            plain_len, error);
  if (*plain == NULL)
    {
      g_prefix_error (error, "change %" G_GUINT64_FORMAT " in %s's log: ", seq, store->path);
      return FALSE;
    }
  return TRUE;
}

/* After an encrypt: the live rows are sealed, so VACUUM may build its copy
 * in a temporary file (unlinked at once; temp_store is FILE from open,
 * store.c) without plaintext reaching it, and drops the free space inside
 * pages too (see store-scrub.c). */
static gboolean
sealed_wipe_free_space (NmsStore *store, GError **error)
{
  return _nms_store_exec (store, "VACUUM", "rewrite the store's file", error)
         && _nms_store_exec (store, "DELETE FROM meta WHERE name = 'scrub_pending'", "finish the rewrite", error);
}

const NmsStoreRecordClass nms_store_sealed_records = {
  .name = "sealed",
  .get = sealed_get,
  .visit = sealed_visit,
  .note_change = sealed_note_change,
  .put = sealed_put,
  .delete = sealed_delete,
  .clear = sealed_clear,
  .bytes_in_use = sealed_bytes_in_use,
  .bind_change = sealed_bind_change,
  .finish_change = sealed_finish_change,
  .open_change = sealed_open_change,
  .wipe_free_space = sealed_wipe_free_space,
};
