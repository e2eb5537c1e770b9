/* SPDX-License-Identifier: MIT */
/* store-crypt.c: the store's encrypted origins, behind nms_store_unlock,
 * nms_store_lock and the encrypted paths of store.c.
 *
 * An encrypted origin keeps the same items table as a plaintext one, but
 * each row's key is the key's token (a 32-byte BLOB, crypto.h), its kind
 * is 0 whatever the value, its size is the sealed record's length, and its
 * value is the sealed record, which holds the real key, kind and value.
 * So the file shows how many items there are and their padded sizes, and
 * nothing else. The envelope (the wrapped data key) is the meta row
 * 'crypto'; its presence is what makes an origin encrypted. Its absence
 * alone does not make it plaintext: a store that still holds a sealed
 * record (a BLOB key) or the summary of its records (store-summary.c)
 * lost its key record to damage or tampering, and is neither read nor
 * written in the clear. Someone who can write the file can still delete
 * the key record, the summary and every record together; that leaves an
 * empty store, which deleting the file would too.
 *
 * Names live only inside the records. Listing keys, prefix queries and
 * Chrome's byte count go through the names decrypted into memory
 * (store-names.c), which opens every record after an unlock and again
 * after another process writes, and otherwise only the records a prefix
 * get returns. A record that fails its check is left out of those and
 * logged by token, never by name, and reads as E_CORRUPT when asked for
 * by name. */
#include "store-private.h"
#include "nmstore/error.h"
#include "nmstore/hex.h"

#include <string.h>

static const char *const crypt_stmt_sql[N_CRYPT_STMTS] = {
  [CRYPT_STMT_GET] = "SELECT value FROM items WHERE key = ?1",
  [CRYPT_STMT_UPSERT] = ("INSERT INTO items (key, kind, size, value) VALUES (?1, 0, ?2, ?3) "
                         "ON CONFLICT (key) DO UPDATE SET kind = 0, size = excluded.size, value = excluded.value"),
  [CRYPT_STMT_DELETE] = "DELETE FROM items WHERE key = ?1",
  [CRYPT_STMT_ENVELOPE] = "SELECT value FROM meta WHERE name = 'crypto'",
  /* BLOBs sort after all text in the key's index, so the second half is
   * one index seek, not a scan: this runs at the start of every
   * transaction of a plaintext store. */
  [CRYPT_STMT_SEALED_SIGNS] = ("SELECT EXISTS (SELECT 1 FROM meta WHERE name = 'summary') "
                               "OR EXISTS (SELECT 1 FROM items WHERE key >= x'')"),
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

  nms_store_names_drop (store);
  for (i = 0; i < N_CRYPT_STMTS; i++)
    g_clear_pointer (&crypt->stmts[i], sqlite3_finalize);

  g_clear_pointer (&crypt->envelope_json, g_free);
  g_clear_pointer (&crypt->envelope, nms_crypto_envelope_free);
  g_clear_pointer (&crypt->keys, nms_crypto_keys_free);
  g_clear_pointer (&crypt->kek, nms_crypto_secret_free);
  g_clear_pointer (&crypt->why_locked, g_free);
  g_clear_pointer (&crypt->why_damaged, g_free);
  nms_store_summary_close (store);
}

/* A store whose key record is gone but that holds sealed records counts
 * as encrypted (and damaged), so that nothing takes the plaintext path. */
gboolean
nms_store_encrypted (NmsStore *store)
{
  return store->crypt.envelope != NULL || store->crypt.why_damaged != NULL;
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

/* The caller's key provider (NmsStoreOptions.keys): keys come only
 * through it, so a store opened without one can be read in the clear and
 * checked, but never unlocked. */
const NmsStoreKeys *
_nms_store_keys (NmsStore *store, GError **error)
{
  if (store->options.keys != NULL)
    return store->options.keys;
  g_set_error (error, NMS_ERROR, NMS_ERROR_LOCKED,
               "%s needs a key, and the program that opened it gave the store no way to load or make one; "
               "open it with nmstore (the host or the nmstore command) to unlock, encrypt or convert it",
               store->path);
  return NULL;
}

/* The KEK of envelope's source; a passphrase source needs passphrase. */
NmsCryptoSecret *
nms_store_crypt_load_kek (NmsStore *store, const NmsCryptoEnvelope *envelope,
                          const NmsCryptoSecret *passphrase, GError **error)
{
  const NmsStoreKeys *keys = _nms_store_keys (store, error);

  return keys ? keys->load_kek (envelope, passphrase, store->dir, keys->user_data, error) : NULL;
}

/* The names go with the keys: they are as secret, and a new key would
 * make other tokens. */
static void
set_locked (NmsStore *store, const char *why)
{
  nms_store_names_drop (store);
  g_clear_pointer (&store->crypt.keys, nms_crypto_keys_free);
  g_clear_pointer (&store->crypt.kek, nms_crypto_secret_free);
  /* Found with the keys; the next unlock looks again. */
  g_clear_pointer (&store->crypt.why_damaged, g_free);
  g_free (store->crypt.why_locked);
  store->crypt.why_locked = g_strdup (why);
}

/* Opens the envelope with kek, which it takes. A passphrase origin keeps
 * its KEK while unlocked: a rekey by another process wraps the new data
 * key under the same KEK, and a person who unlocked once should not be
 * asked again for that. Key-file and keyring KEKs are loaded again at no
 * one's cost, so they are not kept. */
static gboolean
open_with_kek (NmsStore *store, NmsCryptoSecret *kek, GError **error)
{
  const NmsCryptoEnvelope *envelope = store->crypt.envelope;
  g_autoptr(NmsCryptoSecret) owned = kek;
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_unwrap (envelope, owned, error);

  if (data_key == NULL)
    return FALSE;
  nms_store_names_drop (store);
  g_clear_pointer (&store->crypt.keys, nms_crypto_keys_free);
  store->crypt.keys = nms_crypto_keys_new (data_key, envelope->store_id, store->options.pad_block);
  g_clear_pointer (&store->crypt.kek, nms_crypto_secret_free);
  if (envelope->source == NMS_CRYPTO_SOURCE_PASSPHRASE)
    store->crypt.kek = g_steal_pointer (&owned);
  g_clear_pointer (&store->crypt.why_locked, g_free);
  /* New keys: the caller checks the records against the summary. */
  g_clear_pointer (&store->crypt.why_damaged, g_free);
  return TRUE;
}

/* Whether a KEK that opened `was` opens `now`: the same passphrase
 * derivation (store, salt and limits). */
static gboolean
same_passphrase_kek (const NmsCryptoEnvelope *was, const NmsCryptoEnvelope *now)
{
  return was->source == NMS_CRYPTO_SOURCE_PASSPHRASE && now->source == NMS_CRYPTO_SOURCE_PASSPHRASE
         && memcmp (was->store_id, now->store_id, NMS_CRYPTO_STORE_ID_BYTES) == 0
         && memcmp (was->salt, now->salt, NMS_CRYPTO_SALT_BYTES) == 0
         && was->limits.opslimit == now->limits.opslimit && was->limits.memlimit == now->limits.memlimit;
}

static gboolean
unlock_with (NmsStore *store, const NmsCryptoSecret *passphrase, GError **error)
{
  NmsCryptoSecret *kek = nms_store_crypt_load_kek (store, store->crypt.envelope, passphrase, error);

  return kek != NULL && open_with_kek (store, kek, error);
}

/* Checks the records against the summary after this process got new
 * keys without a person asking (a key file, the keyring, or the kept KEK
 * after another process re-keyed). Damage is not an error of the
 * transaction: it is remembered, and every data op reports it. */
static gboolean
check_after_open (NmsStore *store, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (nms_store_summary_check (store, &local) || g_error_matches (local, NMS_ERROR, NMS_ERROR_CORRUPT))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

/* No key record: a plaintext store, unless the file still shows that it
 * was encrypted (see the top of this file). */
static gboolean
no_envelope (NmsStore *store, GError **error)
{
  NmsStoreCrypt *crypt = &store->crypt;
  sqlite3_stmt *s = crypt_stmt (store, CRYPT_STMT_SEALED_SIGNS, error);
  gboolean sealed = FALSE;
  int rc;

  if (s == NULL)
    return FALSE;
  if ((rc = sqlite3_step (s)) == SQLITE_ROW)
    sealed = sqlite3_column_int (s, 0) != 0;
  sqlite3_reset (s);
  if (rc != SQLITE_ROW)
    return nms_store_fail (store, rc, "read the store's key record", error);
  nms_store_names_drop (store);
  g_clear_pointer (&crypt->envelope_json, g_free);
  g_clear_pointer (&crypt->envelope, nms_crypto_envelope_free);
  g_clear_pointer (&crypt->keys, nms_crypto_keys_free);
  g_clear_pointer (&crypt->kek, nms_crypto_secret_free);
  g_clear_pointer (&crypt->why_locked, g_free);
  if (!sealed)
    g_clear_pointer (&crypt->why_damaged, g_free);
  else if (crypt->why_damaged == NULL)
    {
      crypt->why_damaged = g_strdup_printf ("%s holds encrypted records, but its key record is missing: it was "
                                            "deleted or damaged outside nmstore. Nothing is read from it or "
                                            "written to it in the clear; restore the store from a backup "
                                            "(nmstore restore)", store->path);
      g_warning ("%s", crypt->why_damaged);
    }
  return TRUE;
}

/* Re-reads the envelope inside the caller's transaction. Unchanged: keep
 * everything. Gone: the store was decrypted (or its key record deleted).
 * Changed: keep the keys when they are still the data key (passwd
 * re-wrapped it), else lock, and open again where that needs no person:
 * with the kept passphrase KEK (a rekey), or by key file or keyring. */
gboolean
nms_store_crypt_refresh (NmsStore *store, GError **error)
{
  NmsStoreCrypt *crypt = &store->crypt;
  sqlite3_stmt *s = crypt_stmt (store, CRYPT_STMT_ENVELOPE, error);
  g_autofree char *json = NULL;
  g_autoptr(NmsCryptoEnvelope) envelope = NULL;
  g_autoptr(NmsCryptoSecret) kek = NULL;
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
    return no_envelope (store, error);
  if (g_strcmp0 (json, crypt->envelope_json) == 0)
    {
      gint64 version;

      /* A damaged store is looked at again once someone changed it (a
       * restore by another process, say). */
      if (crypt->why_damaged == NULL || crypt->keys == NULL)
        return TRUE;
      if (!nms_store_data_version (store, &version, error))
        return FALSE;
      return version == crypt->damaged_version || check_after_open (store, error);
    }
  g_clear_pointer (&crypt->why_damaged, g_free);
  /* Whoever changed the key record may have rewritten the records too. */
  nms_store_names_drop (store);
  envelope = nms_crypto_envelope_parse (json, error);
  if (envelope == NULL)
    return FALSE;
  /* passwd gave the origin another KEK: the kept one opens nothing now. */
  if (crypt->kek != NULL && (crypt->envelope == NULL || !same_passphrase_kek (crypt->envelope, envelope)))
    g_clear_pointer (&crypt->kek, nms_crypto_secret_free);
  kek = g_steal_pointer (&crypt->kek);
  if (crypt->keys != NULL && crypt->envelope != NULL
      && memcmp (crypt->envelope->store_id, envelope->store_id, NMS_CRYPTO_STORE_ID_BYTES) == 0
      && memcmp (nms_crypto_keys_id (crypt->keys), envelope->key_id, NMS_CRYPTO_KEY_ID_BYTES) == 0)
    {
      nms_crypto_envelope_free (crypt->envelope);
      crypt->envelope = g_steal_pointer (&envelope);
      g_free (crypt->envelope_json);
      crypt->envelope_json = g_steal_pointer (&json);
      crypt->kek = g_steal_pointer (&kek);
      /* passwd leaves the records as they were, but a restore that
       * brought another copy of the same key's store does not. */
      return check_after_open (store, error);
    }
  nms_crypto_envelope_free (crypt->envelope);
  crypt->envelope = g_steal_pointer (&envelope);
  g_free (crypt->envelope_json);
  crypt->envelope_json = g_steal_pointer (&json);
  set_locked (store, "this origin is encrypted with a passphrase and locked; "
                     "send {\"op\":\"unlock\",\"passphrase\":...}");
  if (kek != NULL)
    {
      /* A rekey: the kept KEK opens the new data key. */
      if (!open_with_kek (store, g_steal_pointer (&kek), &local))
        {
          g_message ("%s was re-keyed and its passphrase no longer opens it here: %s", store->path, local->message);
          return TRUE;
        }
      return check_after_open (store, error);
    }
  if (crypt->envelope->source != NMS_CRYPTO_SOURCE_PASSPHRASE)
    {
      /* Nothing asked for a key yet (doctor's integrity check, say): no
       * warning, and the reason waits for the first item call. */
      if (_nms_store_keys (store, &local) == NULL)
        {
          set_locked (store, local->message);
          return TRUE;
        }
      if (unlock_with (store, NULL, &local))
        return check_after_open (store, error);
      g_warning ("%s is encrypted, and its %s does not open it: %s", store->path,
                 nms_crypto_source_name (crypt->envelope->source), local->message);
      set_locked (store, local->message);
    }
  return TRUE;
}

gboolean
nms_store_crypt_ready (NmsStore *store, GError **error)
{
  if (store->crypt.why_damaged != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "%s", store->crypt.why_damaged);
      return FALSE;
    }
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
  gboolean ok;

  if (!nms_store_crypt_refresh_now (store, error))
    return FALSE;
  if (store->crypt.envelope == NULL && store->crypt.why_damaged != NULL)
    return nms_store_crypt_ready (store, error);
  if (!nms_store_encrypted (store))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "this origin is not encrypted, so there is nothing to unlock");
      return FALSE;
    }
  if (!unlock_with (store, passphrase, error))
    return FALSE;
  /* The records are checked against their summary under the key record
   * they are read with: one transaction for both, in which the envelope is
   * read again (another process may have re-keyed since). */
  if (store->in_batch)
    return nms_store_crypt_refresh (store, error) && nms_store_summary_check (store, error);
  if (!nms_store_exec (store, "BEGIN DEFERRED", "read the store's records", error))
    return FALSE;
  ok = nms_store_crypt_refresh (store, error) && nms_store_summary_check (store, error);
  sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL);
  return ok;
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

  store->crypt.records_opened++;
  if (nms_crypto_open_item (keys, token, sealed, sealed_len, item, &local))
    return TRUE;
  {
    /* The first 8 bytes are enough to find it by; the log needs no more. */
    g_autofree char *hex = nms_hex_encode (token, MIN (NMS_CRYPTO_TOKEN_BYTES, 8));
    /* By token: a name in a log file would be the very leak encryption
     * prevents. */
    g_warning ("%s: the record with token %s... is damaged or was tampered with: %s",
               store->path, hex, local->message);
  }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

guint64
nms_store_crypt_records_opened (NmsStore *store)
{
  return store->crypt.records_opened;
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
  if ((s = crypt_stmt (store, CRYPT_STMT_GET, error)) == NULL)
    return FALSE;
  sqlite3_bind_blob (s, 1, token, NMS_CRYPTO_TOKEN_BYTES, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      *found = TRUE;
      *damaged = !nms_store_crypt_open (store, store->crypt.keys, token, sqlite3_column_blob (s, 0),
                                        (gsize) sqlite3_column_bytes (s, 0), plain, NULL);
    }
  else if (rc != SQLITE_DONE)
    ok = nms_store_fail (store, rc, "read an item", error);
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
  if (!nms_store_crypt_ready (store, error))
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

/* Without values, from the names alone; with them, opening only the
 * records whose names match. */
gboolean
nms_store_crypt_visit (NmsStore *store, const char *prefix, gboolean with_values, NmsStoreVisitFunc visit,
                       gpointer user_data, GError **error)
{
  g_autoptr(GArray) tokens = NULL;
  guint i;

  if (!with_values)
    return nms_store_names_visit (store, prefix, visit, user_data, error);
  if (!nms_store_names_tokens (store, prefix, &tokens, error))
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
  sqlite3_stmt *s;
  int rc;

  if (!nms_store_summary_forget (store, token, error) || (s = crypt_stmt (store, CRYPT_STMT_UPSERT, error)) == NULL)
    return FALSE;
  sqlite3_bind_blob (s, 1, token, sizeof token, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, (gint64) sealed_len);
  sqlite3_bind_blob64 (s, 3, sealed, sealed_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return nms_store_fail (store, rc, "write an item", error);
  if (nms_store_summary_kept (store))
    nms_store_summary_note (store, token, sealed, sealed_len, sealed_len, TRUE);
  nms_store_names_put (store, token, item->key, item->key_len, (guint8) item->kind,
                       nms_store_value_bytes (item->kind, item->value, item->value_len));
  return TRUE;
}

static gboolean
delete_token (NmsStore *store, const guint8 *token, GError **error)
{
  sqlite3_stmt *s;
  int rc;

  if (!nms_store_summary_forget (store, token, error) || (s = crypt_stmt (store, CRYPT_STMT_DELETE, error)) == NULL)
    return FALSE;
  sqlite3_bind_blob (s, 1, token, NMS_CRYPTO_TOKEN_BYTES, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return nms_store_fail (store, rc, "remove an item", error);
  nms_store_names_remove (store, token);
  return TRUE;
}

gboolean
nms_store_crypt_delete (NmsStore *store, const char *key, gsize key_len, GError **error)
{
  guint8 token[NMS_CRYPTO_TOKEN_BYTES];

  nms_crypto_token (store->crypt.keys, key, key_len, token);
  return delete_token (store, token, error);
}

/* Every record went (a whole clear, store-items.c). */
void
nms_store_crypt_cleared (NmsStore *store)
{
  nms_store_names_remove_all (store);
  if (nms_store_encrypted (store))
    nms_store_summary_cleared (store);
}

/* Names are only inside the records: the prefix's are found in the names
 * in memory, and their rows removed by token, unopened. */
gboolean
nms_store_crypt_clear_prefix (NmsStore *store, const char *prefix, GError **error)
{
  g_autoptr(GArray) tokens = NULL;
  guint i;

  if (!nms_store_names_tokens (store, prefix, &tokens, error))
    return FALSE;
  for (i = 0; i < tokens->len; i++)
    if (!delete_token (store, (const guint8 *) tokens->data + (gsize) i * NMS_CRYPTO_TOKEN_BYTES, error))
      return FALSE;
  return TRUE;
}

/* The stored sizes are the sealed ones; Chrome's count needs the names
 * and the values' lengths, which the names in memory keep. A key they do
 * not know is read, so that a damaged record is still E_CORRUPT. */
gboolean
nms_store_crypt_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys, guint64 *bytes,
                              GError **error)
{
  guint64 sum = 0;
  gsize i;

  if (keys == NULL)
    return nms_store_names_bytes (store, bytes, error);
  for (i = 0; i < n_keys; i++)
    {
      guint8 token[NMS_CRYPTO_TOKEN_BYTES];
      NmsCryptoItem plain = { 0 };
      gboolean known, found;
      guint64 one;

      if (!nms_store_crypt_ready (store, error))
        return FALSE;
      nms_crypto_token (store->crypt.keys, keys[i], strlen (keys[i]), token);
      if (!nms_store_names_item_bytes (store, token, &known, &one, error))
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
