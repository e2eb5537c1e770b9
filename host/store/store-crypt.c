/* SPDX-License-Identifier: MIT */
/* store-crypt.c: the store's encrypted origins, behind nms_store_unlock
 * and nms_store_lock: the key record and the keys. The sealed records
 * themselves are store-sealed.c's.
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
#include "store-crypt.h"
#include "store-crypt-state.h"
#include "store-summary.h"
#include "store-names.h"
#include "base/error.h"

#include <string.h>

/* The key record's statements; the sealed records' are store-sealed.c's. */
static const char *const key_stmt_sql[N_CRYPT_STMTS] = {
  /* The key record, and only when there is none, whether the file shows
   * signs of sealed records, in one step: this runs at the start of every
   * transaction, and was two statements on a plaintext store. CASE keeps
   * the second part from running on an encrypted store, where reading the
   * sealed summary's row cost a prefix get of 100 KB values a quarter of
   * its time. BLOBs sort after all text in the key's index, so the last
   * test is one index seek, not a scan. */
  [CRYPT_STMT_ENVELOPE] = ("SELECT envelope, CASE WHEN envelope IS NULL THEN "
                           "EXISTS (SELECT 1 FROM meta WHERE name = 'summary') "
                           "OR EXISTS (SELECT 1 FROM items WHERE key >= x'') END "
                           "FROM (SELECT (SELECT value FROM meta WHERE name = 'crypto') AS envelope)"),
};

static sqlite3_stmt *
key_stmt (NmsStore *store, int which, GError **error)
{
  return _nms_store_lazy_stmt (store, &store->crypt.stmts[which], key_stmt_sql[which], error);
}

void
_nms_store_crypt_clear (NmsStore *store)
{
  NmsStoreCrypt *crypt = &store->crypt;
  int i;

  _nms_store_names_drop (store);
  for (i = 0; i < N_CRYPT_STMTS; i++)
    g_clear_pointer (&crypt->stmts[i], sqlite3_finalize);

  g_clear_pointer (&crypt->envelope_json, g_free);
  g_clear_pointer (&crypt->envelope, nms_crypto_envelope_free);
  g_clear_pointer (&crypt->keys, nms_crypto_keys_free);
  g_clear_pointer (&crypt->kek, nms_crypto_secret_free);
  g_clear_pointer (&crypt->why_locked, g_free);
  g_clear_pointer (&crypt->why_damaged, g_free);
  _nms_store_summary_close (store);
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
_nms_store_crypt_load_kek (NmsStore *store, const NmsCryptoEnvelope *envelope,
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
  _nms_store_names_drop (store);
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
  _nms_store_names_drop (store);
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
  NmsCryptoSecret *kek = _nms_store_crypt_load_kek (store, store->crypt.envelope, passphrase, error);

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

  if (_nms_store_summary_check (store, &local) || g_error_matches (local, NMS_ERROR, NMS_ERROR_CORRUPT))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

/* No key record: a plaintext store, unless the file still shows that it
 * was encrypted (see the top of this file). */
static gboolean
no_envelope (NmsStore *store, gboolean sealed)
{
  NmsStoreCrypt *crypt = &store->crypt;

  _nms_store_names_drop (store);
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
_nms_store_crypt_refresh (NmsStore *store, GError **error)
{
  NmsStoreCrypt *crypt = &store->crypt;
  sqlite3_stmt *s = key_stmt (store, CRYPT_STMT_ENVELOPE, error);
  g_autofree char *json = NULL;
  g_autoptr(NmsCryptoEnvelope) envelope = NULL;
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(GError) local = NULL;
  gboolean sealed = FALSE;
  int rc;

  /* Whoever asks for a full read expects a change; the next transaction
   * reads again too. */
  crypt->checked = FALSE;
  if (s == NULL)
    return FALSE;
  if ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      json = g_strdup ((const char *) sqlite3_column_text (s, 0));
      sealed = sqlite3_column_int (s, 1) != 0;
    }
  sqlite3_reset (s);
  if (rc != SQLITE_ROW)
    return _nms_store_fail (store, rc, "read the store's key record", error);

  if (json == NULL)
    return no_envelope (store, sealed);
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
  _nms_store_names_drop (store);
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

/* For the start of a transaction whose snapshot has data_version: reads
 * the key record only when another connection has committed since the
 * last read, or this one wrote the record (_nms_store_crypt_forget). Every
 * request's transaction starts here, and the read was a tenth of a small
 * set's work in SQLite. */
gboolean
_nms_store_crypt_refresh_at (NmsStore *store, gint64 data_version, GError **error)
{
  NmsStoreCrypt *crypt = &store->crypt;

  if (crypt->checked && crypt->checked_version == data_version)
    return TRUE;
  if (!_nms_store_crypt_refresh (store, error))
    return FALSE;
  crypt->checked = TRUE;
  crypt->checked_version = data_version;
  return TRUE;
}

/* This connection wrote the key record or replaced the records, or rolled
 * back a transaction that may have: data_version does not report its own
 * changes, so the next transaction must read the record again. */
void
_nms_store_crypt_forget (NmsStore *store)
{
  store->crypt.checked = FALSE;
}

/* Reads the envelope afresh, in a transaction of its own unless a batch
 * already holds one. */
gboolean
_nms_store_crypt_refresh_now (NmsStore *store, GError **error)
{
  gboolean ok;

  if (store->in_batch)
    return _nms_store_crypt_refresh (store, error);
  if (!_nms_store_exec (store, "BEGIN DEFERRED", "read the store's key record", error))
    return FALSE;
  ok = _nms_store_crypt_refresh (store, error);
  sqlite3_exec (store->db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
  return ok;
}

/* Re-reads whether the store is encrypted (other processes convert it). */
gboolean
nms_store_refresh_encryption (NmsStore *store, GError **error)
{
  return _nms_store_crypt_refresh_now (store, error);
}

/* Opens the store's data key: with passphrase for a passphrase origin,
 * from the key file or keyring otherwise (passphrase NULL). */
gboolean
nms_store_unlock (NmsStore *store, const NmsCryptoSecret *passphrase, GError **error)
{
  gboolean ok;

  if (!_nms_store_crypt_refresh_now (store, error))
    return FALSE;
  if (store->crypt.envelope == NULL && store->crypt.why_damaged != NULL)
    return _nms_store_crypt_ready (store, error);
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
    return _nms_store_crypt_refresh (store, error) && _nms_store_summary_check (store, error);
  if (!_nms_store_exec (store, "BEGIN DEFERRED", "read the store's records", error))
    return FALSE;
  ok = _nms_store_crypt_refresh (store, error) && _nms_store_summary_check (store, error);
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

