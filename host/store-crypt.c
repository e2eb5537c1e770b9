/* store-crypt.c: the store's encrypted origins, behind nms_store_unlock,
 * nms_store_lock and the encrypted paths of store.c.
 *
 * An encrypted origin keeps the same items table as a plaintext one, but
 * each row's key is the key's token (a 32-byte BLOB, crypto.h), its kind
 * is 0 whatever the value, its size is the sealed record's length, and its
 * value is the sealed record, which holds the real key, kind and value.
 * So the file shows how many items there are and their padded sizes, and
 * nothing else. The envelope (the wrapped data key) is the meta row
 * 'crypto'; its presence is what makes an origin encrypted.
 *
 * Names live only inside the records, so listing keys, prefix queries and
 * Chrome's byte count decrypt every record (nms_store_crypt_scan). A
 * record that fails its check is left out of those and logged by token,
 * never by name, and reads as E_CORRUPT when asked for by name. */
#include "store-private.h"
#include "nmstore/error.h"
#include "nmstore/keysource.h"

#include <string.h>

static char *
token_hex (const guint8 *token, gsize len)
{
  GString *hex = g_string_new (NULL);
  gsize i;

  for (i = 0; i < MIN (len, 8); i++)
    g_string_append_printf (hex, "%02x", token[i]);
  return g_string_free (hex, FALSE);
}

static const char *const crypt_stmt_sql[N_CRYPT_STMTS] = {
  [CRYPT_STMT_GET] = "SELECT value FROM items WHERE key = ?1",
  [CRYPT_STMT_UPSERT] = ("INSERT INTO items (key, kind, size, value) VALUES (?1, 0, ?2, ?3) "
                         "ON CONFLICT (key) DO UPDATE SET kind = 0, size = excluded.size, value = excluded.value"),
  [CRYPT_STMT_DELETE] = "DELETE FROM items WHERE key = ?1",
  [CRYPT_STMT_ENVELOPE] = "SELECT value FROM meta WHERE name = 'crypto'",
};

/* Prepared on first use: a plaintext store needs only the envelope's. */
static sqlite3_stmt *
crypt_stmt (NmsStore *store, int which, GError **error)
{
  sqlite3_stmt **s = &store->crypt.stmts[which];

  if (*s == NULL)
    {
      int rc = sqlite3_prepare_v3 (store->db, crypt_stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, s, NULL);
      if (rc != SQLITE_OK)
        {
          nms_store_fail (store, rc, "prepare the encrypted store's queries", error);
          return NULL;
        }
    }
  sqlite3_reset (*s);
  sqlite3_clear_bindings (*s);
  return *s;
}

void
nms_store_crypt_clear (NmsStore *store)
{
  NmsStoreCrypt *crypt = &store->crypt;
  int i;

  for (i = 0; i < N_CRYPT_STMTS; i++)
    g_clear_pointer (&crypt->stmts[i], sqlite3_finalize);

  g_clear_pointer (&crypt->envelope_json, g_free);
  g_clear_pointer (&crypt->envelope, nms_crypto_envelope_free);
  g_clear_pointer (&crypt->keys, nms_crypto_keys_free);
  g_clear_pointer (&crypt->why_locked, g_free);
}

gboolean
nms_store_encrypted (NmsStore *store)
{
  return store->crypt.envelope != NULL;
}

gboolean
nms_store_locked (NmsStore *store)
{
  return store->crypt.envelope != NULL && store->crypt.keys == NULL;
}

NmsCryptoSource
nms_store_key_source (NmsStore *store)
{
  return store->crypt.envelope ? store->crypt.envelope->source : 0;
}

char *
nms_store_crypt_key_file_path (NmsStore *store, const NmsCryptoEnvelope *envelope)
{
  if (envelope->key_file != NULL)
    return g_strdup (envelope->key_file);
  return g_build_filename (store->dir, NMS_KEYSOURCE_KEY_FILE_NAME, NULL);
}

/* The KEK of envelope's source; a passphrase source needs passphrase. */
NmsCryptoSecret *
nms_store_crypt_load_kek (NmsStore *store, const NmsCryptoEnvelope *envelope,
                          const NmsCryptoSecret *passphrase, GError **error)
{
  g_autofree char *key_file = nms_store_crypt_key_file_path (store, envelope);

  return nms_keysource_load_kek (envelope, passphrase, key_file, error);
}

static void
set_locked (NmsStore *store, const char *why)
{
  g_clear_pointer (&store->crypt.keys, nms_crypto_keys_free);
  g_free (store->crypt.why_locked);
  store->crypt.why_locked = g_strdup (why);
}

static gboolean
unlock_with (NmsStore *store, const NmsCryptoSecret *passphrase, GError **error)
{
  const NmsCryptoEnvelope *envelope = store->crypt.envelope;
  g_autoptr(NmsCryptoSecret) kek = nms_store_crypt_load_kek (store, envelope, passphrase, error);
  g_autoptr(NmsCryptoSecret) data_key = NULL;

  if (kek == NULL || (data_key = nms_crypto_unwrap (envelope, kek, error)) == NULL)
    return FALSE;
  g_clear_pointer (&store->crypt.keys, nms_crypto_keys_free);
  store->crypt.keys = nms_crypto_keys_new (data_key, envelope->store_id, store->options.pad_block);
  g_clear_pointer (&store->crypt.why_locked, g_free);
  return TRUE;
}

/* Re-reads the envelope inside the caller's transaction. Unchanged: keep
 * everything. Gone: the store was decrypted. Changed: keep the keys when
 * they are still the data key (passwd re-wrapped it), else lock, and open
 * again by key file or keyring where that needs no person. */
gboolean
nms_store_crypt_refresh (NmsStore *store, GError **error)
{
  NmsStoreCrypt *crypt = &store->crypt;
  sqlite3_stmt *s = crypt_stmt (store, CRYPT_STMT_ENVELOPE, error);
  g_autofree char *json = NULL;
  g_autoptr(NmsCryptoEnvelope) envelope = NULL;
  g_autoptr(GError) local = NULL;
  int rc;

  if (s == NULL)
    return FALSE;
  if ((rc = sqlite3_step (s)) == SQLITE_ROW)
    json = g_strdup ((const char *) sqlite3_column_text (s, 0));
  sqlite3_reset (s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return nms_store_fail (store, rc, "read the store's key record", error);

  if (json == NULL)
    {
      g_clear_pointer (&crypt->envelope_json, g_free);
      g_clear_pointer (&crypt->envelope, nms_crypto_envelope_free);
      g_clear_pointer (&crypt->keys, nms_crypto_keys_free);
      g_clear_pointer (&crypt->why_locked, g_free);
      return TRUE;
    }
  if (g_strcmp0 (json, crypt->envelope_json) == 0)
    return TRUE;
  envelope = nms_crypto_envelope_parse (json, error);
  if (envelope == NULL)
    return FALSE;
  if (crypt->keys != NULL && crypt->envelope != NULL
      && memcmp (crypt->envelope->store_id, envelope->store_id, NMS_CRYPTO_STORE_ID_BYTES) == 0
      && memcmp (nms_crypto_keys_id (crypt->keys), envelope->key_id, NMS_CRYPTO_KEY_ID_BYTES) == 0)
    {
      nms_crypto_envelope_free (crypt->envelope);
      crypt->envelope = g_steal_pointer (&envelope);
      g_free (crypt->envelope_json);
      crypt->envelope_json = g_steal_pointer (&json);
      return TRUE;
    }
  nms_crypto_envelope_free (crypt->envelope);
  crypt->envelope = g_steal_pointer (&envelope);
  g_free (crypt->envelope_json);
  crypt->envelope_json = g_steal_pointer (&json);
  set_locked (store, "this origin is encrypted with a passphrase and locked; "
                     "send {\"op\":\"unlock\",\"passphrase\":...}");
  if (crypt->envelope->source != NMS_CRYPTO_SOURCE_PASSPHRASE && !unlock_with (store, NULL, &local))
    {
      g_warning ("%s is encrypted, and its %s does not open it: %s", store->path,
                 nms_crypto_source_name (crypt->envelope->source), local->message);
      set_locked (store, local->message);
    }
  return TRUE;
}

gboolean
nms_store_crypt_ready (NmsStore *store, GError **error)
{
  if (!nms_store_locked (store))
    return TRUE;
  g_set_error (error, NMS_ERROR, NMS_ERROR_LOCKED, "%s", store->crypt.why_locked);
  return FALSE;
}

/* Reads the envelope afresh, in a transaction of its own unless a batch
 * already holds one. */
gboolean
nms_store_crypt_refresh_now (NmsStore *store, GError **error)
{
  gboolean ok;

  if (store->in_batch)
    return nms_store_crypt_refresh (store, error);
  if (!nms_store_exec (store, "BEGIN DEFERRED", "read the store's key record", error))
    return FALSE;
  ok = nms_store_crypt_refresh (store, error);
  sqlite3_exec (store->db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
  return ok;
}

/* Re-reads whether the store is encrypted (other processes convert it). */
gboolean
nms_store_refresh_encryption (NmsStore *store, GError **error)
{
  return nms_store_crypt_refresh_now (store, error);
}

/* Opens the store's data key: with passphrase for a passphrase origin,
 * from the key file or keyring otherwise (passphrase NULL). */
gboolean
nms_store_unlock (NmsStore *store, const NmsCryptoSecret *passphrase, GError **error)
{
  if (!nms_store_crypt_refresh_now (store, error))
    return FALSE;
  if (!nms_store_encrypted (store))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "this origin is not encrypted, so there is nothing to unlock");
      return FALSE;
    }
  return unlock_with (store, passphrase, error);
}

/* Wipes the keys from memory; every data op answers E_LOCKED until the
 * next unlock. */
void
nms_store_lock (NmsStore *store)
{
  if (nms_store_encrypted (store))
    set_locked (store, "this origin was locked; send {\"op\":\"unlock\"} (with the passphrase "
                       "for a passphrase origin) to use it again");
}

gboolean
nms_store_crypt_open (NmsStore *store, const NmsCryptoKeys *keys, const guint8 *token, const guint8 *sealed,
                      gsize sealed_len, NmsCryptoItem *item, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (nms_crypto_open_item (keys, token, sealed, sealed_len, item, &local))
    return TRUE;
  {
    g_autofree char *hex = token_hex (token, NMS_CRYPTO_TOKEN_BYTES);
    /* By token: a name in a log file would be the very leak encryption
     * prevents. */
    g_warning ("%s: the record with token %s... is damaged or was tampered with: %s",
               store->path, hex, local->message);
  }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

static void
item_array_clear (gpointer data)
{
  nms_crypto_item_clear (data);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  const NmsCryptoItem *x = a, *y = b;
  int c = memcmp (x->name, y->name, MIN (x->name_len, y->name_len));

  if (c != 0)
    return c;
  return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

/* Decrypts every record whose name starts with prefix (all when NULL or
 * empty) into *items, an array of NmsCryptoItem sorted by name bytes.
 * Damaged records are logged and left out. */
gboolean
nms_store_crypt_scan (NmsStore *store, const char *prefix, GArray **items, GError **error)
{
  g_autoptr(GArray) found = g_array_new (FALSE, TRUE, sizeof (NmsCryptoItem));
  gsize prefix_len = prefix ? strlen (prefix) : 0;
  sqlite3_stmt *s = NULL;
  int rc;

  g_array_set_clear_func (found, item_array_clear);
  if (!nms_store_crypt_ready (store, error))
    return FALSE;
  rc = sqlite3_prepare_v2 (store->db, "SELECT key, value FROM items", -1, &s, NULL);
  for (rc = rc == SQLITE_OK ? sqlite3_step (s) : rc; rc == SQLITE_ROW; rc = sqlite3_step (s))
    {
      const guint8 *token = sqlite3_column_blob (s, 0);
      NmsCryptoItem item = { 0 };

      if (sqlite3_column_bytes (s, 0) != NMS_CRYPTO_TOKEN_BYTES)
        {
          g_warning ("%s: an item of an encrypted origin has no token; it is left out", store->path);
          continue;
        }
      if (!nms_store_crypt_open (store, store->crypt.keys, token, sqlite3_column_blob (s, 1), (gsize) sqlite3_column_bytes (s, 1),
                                 &item, NULL))
        continue;
      if (prefix_len > 0 && (item.name_len < prefix_len || memcmp (item.name, prefix, prefix_len) != 0))
        {
          nms_crypto_item_clear (&item);
          continue;
        }
      g_array_append_val (found, item);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    return nms_store_fail (store, rc, "list the items", error);
  g_array_sort (found, compare_names);
  *items = g_steal_pointer (&found);
  return TRUE;
}

/* Reads key's record into *plain; *found is FALSE when there is none. A
 * record that fails its check is E_CORRUPT for this key alone. */
static gboolean
read_record (NmsStore *store, const char *key, gsize key_len, NmsCryptoItem *plain, gboolean *found,
             GError **error)
{
  guint8 token[NMS_CRYPTO_TOKEN_BYTES];
  sqlite3_stmt *s;
  gboolean ok = TRUE;
  int rc;

  *found = FALSE;
  if (!nms_store_crypt_ready (store, error) || (s = crypt_stmt (store, CRYPT_STMT_GET, error)) == NULL)
    return FALSE;
  nms_crypto_token (store->crypt.keys, key, key_len, token);
  sqlite3_bind_blob (s, 1, token, sizeof token, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      *found = TRUE;
      ok = nms_store_crypt_open (store, store->crypt.keys, token, sqlite3_column_blob (s, 0),
                                 (gsize) sqlite3_column_bytes (s, 0), plain, NULL);
      if (!ok)
        g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                     "the stored value of \"%.*s\" failed its authentication check: it was damaged, "
                     "tampered with or moved from another key; overwrite or remove that key, or restore "
                     "the store from a backup", (int) MIN (key_len, 200), key);
    }
  else if (rc != SQLITE_DONE)
    ok = nms_store_fail (store, rc, "read an item", error);
  sqlite3_reset (s);
  return ok;
}

gboolean
nms_store_crypt_get (NmsStore *store, const char *key, gsize key_len,
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

gboolean
nms_store_crypt_visit (NmsStore *store, const char *prefix, NmsStoreVisitFunc visit, gpointer user_data,
                       GError **error)
{
  g_autoptr(GArray) items = NULL;
  guint i;

  if (!nms_store_crypt_scan (store, prefix, &items, error))
    return FALSE;
  for (i = 0; i < items->len; i++)
    {
      const NmsCryptoItem *plain = &g_array_index (items, NmsCryptoItem, i);
      NmsItem item = { .key = plain->name, .key_len = plain->name_len, .kind = (NmsValueKind) plain->kind,
                       .value = plain->value, .value_len = plain->value_len };

      if (!visit (&item, user_data, error))
        return FALSE;
    }
  return TRUE;
}

/* As store.c's note_change, from the decrypted value. A damaged record
 * counts as absent, so that it can be overwritten or removed. */
gboolean
nms_store_crypt_note_change (NmsStore *store, const char *key, gsize key_len, const NmsValueRef *after,
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
    nms_store_log_note (store, key, key_len, &before, after);
  nms_crypto_item_clear (&plain);
  return TRUE;
}

/* Only the token, the padded length and the sealed bytes reach the file;
 * the size column counts what is stored, so the quota does too. */
gboolean
nms_store_crypt_put (NmsStore *store, const NmsItem *item, GError **error)
{
  guint8 token[NMS_CRYPTO_TOKEN_BYTES];
  gsize sealed_len = 0;
  g_autofree guint8 *sealed = nms_crypto_seal_item (store->crypt.keys, item->key, item->key_len,
                                                    (guint8) item->kind, item->value, item->value_len,
                                                    token, &sealed_len);
  sqlite3_stmt *s = crypt_stmt (store, CRYPT_STMT_UPSERT, error);
  int rc;

  if (s == NULL)
    return FALSE;
  sqlite3_bind_blob (s, 1, token, sizeof token, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, (gint64) sealed_len);
  sqlite3_bind_blob64 (s, 3, sealed, sealed_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  return rc == SQLITE_DONE || nms_store_fail (store, rc, "write an item", error);
}

gboolean
nms_store_crypt_delete (NmsStore *store, const char *key, gsize key_len, GError **error)
{
  guint8 token[NMS_CRYPTO_TOKEN_BYTES];
  sqlite3_stmt *s = crypt_stmt (store, CRYPT_STMT_DELETE, error);
  int rc;

  if (s == NULL)
    return FALSE;
  nms_crypto_token (store->crypt.keys, key, key_len, token);
  sqlite3_bind_blob (s, 1, token, sizeof token, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  return rc == SQLITE_DONE || nms_store_fail (store, rc, "remove an item", error);
}

/* Names are only inside the records: the prefix's are found by decrypting. */
gboolean
nms_store_crypt_clear_prefix (NmsStore *store, const char *prefix, GError **error)
{
  g_autoptr(GArray) items = NULL;
  guint i;

  if (!nms_store_crypt_scan (store, prefix, &items, error))
    return FALSE;
  for (i = 0; i < items->len; i++)
    {
      const NmsCryptoItem *plain = &g_array_index (items, NmsCryptoItem, i);

      if (!nms_store_crypt_delete (store, plain->name, plain->name_len, error))
        return FALSE;
    }
  return TRUE;
}

/* The stored sizes are the sealed ones; Chrome's count needs the names
 * and values. */
gboolean
nms_store_crypt_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys, guint64 *bytes,
                              GError **error)
{
  guint64 sum = 0;
  gsize i;

  if (keys == NULL)
    {
      g_autoptr(GArray) items = NULL;

      if (!nms_store_crypt_scan (store, NULL, &items, error))
        return FALSE;
      for (i = 0; i < items->len; i++)
        {
          const NmsCryptoItem *plain = &g_array_index (items, NmsCryptoItem, i);
          sum += nms_store_item_bytes ((NmsValueKind) plain->kind, plain->name_len, plain->value_len);
        }
    }
  for (i = 0; keys != NULL && i < n_keys; i++)
    {
      NmsCryptoItem plain = { 0 };
      gboolean found;

      if (!read_record (store, keys[i], strlen (keys[i]), &plain, &found, error))
        return FALSE;
      if (found)
        sum += nms_store_item_bytes ((NmsValueKind) plain.kind, plain.name_len, plain.value_len);
      nms_crypto_item_clear (&plain);
    }
  *bytes = sum;
  return TRUE;
}
