/* SPDX-License-Identifier: MIT */
/* store-convert.c: turning an origin's encryption on and off, changing its
 * key source (re-wrap) or its data key (rekey), and checking every record.
 *
 * Each conversion rewrites every item in one write transaction, together
 * with the envelope, so a crash leaves either the old store or the new
 * one. The rewrite runs with secure_delete on, so the pages it frees are
 * zeroed; then a scrub rewrites the file (VACUUM, for a store that is
 * now encrypted) or writes zeros over every free page (a store now in the
 * clear), and truncates the WAL, so no earlier plaintext survives in free
 * pages or old WAL frames (store-scrub.c). Items are rewritten a batch at
 * a time, in place, so the memory a conversion takes does not grow with
 * the store. The transaction also sets meta 'scrub_pending', cleared by the scrub; a
 * store opened with it still set (a crash, or a reader that kept the WAL
 * from being truncated) is scrubbed then. */
#include "store-private.h"
#include "store-scrub.h"
#include "store-changes.h"
#include "store-crypt.h"
#include "store-crypt-state.h"
#include "store-summary.h"
#include "store-names.h"
#include "base/error.h"
#include "base/os.h"

#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>

/* The rewrite goes through the items in id order, a batch at a time: the
 * batch is read and closed, then each of its rows is updated in place
 * (same id, so the walk never meets a row twice). Memory is a batch, not
 * the store. The UNIQUE key cannot collide on the way: plaintext names are
 * TEXT, tokens are BLOBs, and two tokens under different keys meet with
 * probability 2^-256. */
#define REWRITE_BATCH_ROWS  256
#define REWRITE_BATCH_BYTES (4u << 20)

typedef struct {
  gint64       id;
  char        *key;        /* the real name */
  gsize        key_len;
  NmsValueKind kind;
  guint8      *value;
  gsize        value_len;
} Plain;

static void
plain_clear (gpointer data)
{
  Plain *p = data;

  /* Values of an encrypted origin, in the clear: wiped, not just freed. */
  if (p->key != NULL)
    sodium_memzero (p->key, p->key_len);
  if (p->value != NULL)
    sodium_memzero (p->value, p->value_len);
  g_free (p->key);
  g_free (p->value);
}

/* The next batch of items after id `after`, in the clear, read under
 * `from` (NULL: a plaintext store). A record that fails its check is
 * counted in *bad and left out: the caller fails the whole conversion,
 * since converting would drop it silently. */
static gboolean
read_batch (NmsStore *store, sqlite3_stmt *s, const NmsCryptoKeys *from, gint64 *after, GArray *out, guint64 *seen,
            guint *bad, GError **error)
{
  gsize bytes = 0;
  int rc;

  sqlite3_reset (s);
  sqlite3_bind_int64 (s, 1, *after);
  for (rc = sqlite3_step (s); rc == SQLITE_ROW; rc = sqlite3_step (s))
    {
      Plain p = { .id = sqlite3_column_int64 (s, 0) };
      const guint8 *value = sqlite3_column_blob (s, 3);
      gsize value_len = (gsize) sqlite3_column_bytes (s, 3);

      /* Where the next batch starts, whether this row is kept or not. */
      *after = p.id;
      (*seen)++;
      if (from == NULL)
        {
          p.key_len = (gsize) sqlite3_column_bytes (s, 1);
          p.key = g_strndup ((const char *) sqlite3_column_text (s, 1), p.key_len);
          p.kind = (NmsValueKind) sqlite3_column_int (s, 2);
          p.value = g_memdup2 (value_len ? value : (const guint8 *) "", MAX (value_len, 1));
          p.value_len = value_len;
        }
      else
        {
          NmsCryptoItem item = { 0 };

          if (sqlite3_column_bytes (s, 1) != NMS_CRYPTO_TOKEN_BYTES
              || !_nms_store_crypt_open (store, from, sqlite3_column_blob (s, 1), value, value_len, &item, NULL))
            {
              (*bad)++;
              continue;
            }
          p.key_len = item.name_len;
          p.key = g_strndup (item.name, item.name_len);
          p.kind = (NmsValueKind) item.kind;
          p.value = g_memdup2 (item.value_len ? item.value : (const guint8 *) "", MAX (item.value_len, 1));
          p.value_len = item.value_len;
          nms_crypto_item_clear (&item);
        }
      bytes += p.key_len + p.value_len;
      g_array_append_val (out, p);
      if (out->len >= REWRITE_BATCH_ROWS || bytes >= REWRITE_BATCH_BYTES)
        break;
    }
  /* Done with this batch's read before its rows are rewritten. */
  sqlite3_reset (s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "read every item", error);
  return TRUE;
}

static gboolean
write_batch (NmsStore *store, sqlite3_stmt *s, const NmsCryptoKeys *to, GArray *items, GError **error)
{
  guint i;
  int rc = SQLITE_OK;

  for (i = 0; rc == SQLITE_OK && i < items->len; i++)
    {
      const Plain *p = &g_array_index (items, Plain, i);
      guint8 token[NMS_CRYPTO_TOKEN_BYTES];
      g_autofree guint8 *sealed = NULL;
      gsize sealed_len = 0;

      sqlite3_reset (s);
      if (to != NULL)
        {
          sealed = nms_crypto_seal_item (to, p->key, p->key_len, (guint8) p->kind, p->value, p->value_len, token,
                                         &sealed_len);
          sqlite3_bind_blob (s, 1, token, sizeof token, SQLITE_STATIC);
          sqlite3_bind_int (s, 2, 0);
          sqlite3_bind_int64 (s, 3, (gint64) sealed_len);
          sqlite3_bind_blob64 (s, 4, sealed, sealed_len, SQLITE_STATIC);
        }
      else
        {
          sqlite3_bind_text (s, 1, p->key, (int) p->key_len, SQLITE_STATIC);
          sqlite3_bind_int (s, 2, p->kind);
          sqlite3_bind_int64 (s, 3, (gint64) nms_store_item_bytes (p->kind, p->key_len, p->value, p->value_len));
          sqlite3_bind_blob64 (s, 4, p->value, p->value_len, SQLITE_STATIC);
        }
      sqlite3_bind_int64 (s, 5, p->id);
      rc = sqlite3_step (s);
      if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    }
  sqlite3_reset (s);
  if (rc != SQLITE_OK)
    return _nms_store_fail (store, rc, "write the converted items", error);
  return TRUE;
}

static gboolean
count_items (NmsStore *store, guint64 *n, GError **error)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2 (store->db, "SELECT count(*) FROM items", -1, &s, NULL);

  *n = 0;
  if (rc == SQLITE_OK && (rc = sqlite3_step (s)) == SQLITE_ROW)
    *n = (guint64) sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  return rc == SQLITE_ROW || _nms_store_fail (store, rc, "count the items", error);
}

/* Every item from `from` to `to` (NULL: plaintext), in place, inside the
 * caller's transaction. */
static gboolean
rewrite_all (NmsStore *store, const NmsCryptoKeys *from, const NmsCryptoKeys *to, GError **error)
{
  g_autoptr(GArray) batch = g_array_new (FALSE, TRUE, sizeof (Plain));
  sqlite3_stmt *read = NULL, *write = NULL;
  guint64 total = 0, seen = 0;
  gint64 after = G_MININT64;
  guint bad = 0;
  gboolean ok;
  int rc;

  g_array_set_clear_func (batch, plain_clear);
  if (!count_items (store, &total, error))
    return FALSE;
  rc = sqlite3_prepare_v2 (store->db, "SELECT id, key, kind, value FROM items WHERE id > ?1 ORDER BY id", -1,
                           &read, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (store->db, "UPDATE items SET key = ?1, kind = ?2, size = ?3, value = ?4 WHERE id = ?5",
                             -1, &write, NULL);
  ok = rc == SQLITE_OK || _nms_store_fail (store, rc, "prepare the rewrite", error);
  while (ok)
    {
      guint64 before = seen;

      g_array_set_size (batch, 0);
      ok = read_batch (store, read, from, &after, batch, &seen, &bad, error);
      if (!ok || seen == before)
        break;
      ok = write_batch (store, write, to, batch, error);
      if (store->progress != NULL)
        store->progress (seen, MAX (total, seen), store->progress_data);
    }
  sqlite3_finalize (read);
  sqlite3_finalize (write);
  if (ok && bad > 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "%u record%s failed %s authentication check (see the log); nothing was changed. "
                   "Run nmstore verify, then remove the damaged keys or restore a backup", bad,
                   bad == 1 ? "" : "s", bad == 1 ? "its" : "their");
      return FALSE;
    }
  return ok;
}

static gboolean
set_envelope (NmsStore *store, const char *json, GError **error)
{
  sqlite3_stmt *s = NULL;
  int rc;

  _nms_store_crypt_forget (store);
  if (json == NULL)
    return _nms_store_exec (store, "DELETE FROM meta WHERE name = 'crypto'", "remove the key record", error);
  rc = sqlite3_prepare_v2 (store->db, "INSERT OR REPLACE INTO meta (name, value) VALUES ('crypto', ?1)", -1, &s, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_text (s, 1, json, -1, SQLITE_STATIC);
      rc = sqlite3_step (s);
    }
  sqlite3_finalize (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "record the key", error);
}


void
nms_store_set_progress (NmsStore *store, NmsProgressFunc progress, gpointer user_data)
{
  store->progress = progress;
  store->progress_data = user_data;
}

void
nms_store_report_progress (NmsStore *store, guint64 done, guint64 total)
{
  if (store->progress != NULL)
    store->progress (done, total, store->progress_data);
}

/* Rewrites every item from `from` to `to` (NULL: plaintext) and installs
 * envelope_json (NULL: none), in one transaction; then scrubs. */
static gboolean
convert (NmsStore *store, const NmsCryptoKeys *from, const NmsCryptoKeys *to, const char *envelope_json,
         GError **error)
{
  gboolean ok;

  ok = _nms_store_exec (store, "PRAGMA secure_delete = ON", "turn on secure delete", error)
       && rewrite_all (store, from, to, error)
       /* A new summary of the records as now written, or none. */
       && _nms_store_summary_rewrite (store, to, error)
       /* The change log holds values in the old form; subscribers are
        * told to re-read, as after a restore. */
       && _nms_store_log_forget (store, error)
       && set_envelope (store, envelope_json, error)
       && _nms_store_exec (store, "INSERT OR REPLACE INTO meta (name, value) VALUES ('scrub_pending', 1)",
                          "mark the conversion", error);
  if (!ok)
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      _nms_store_log_after_rollback (store);
      return FALSE;
    }
  nms_os_crash_point ("convert-before-commit");
  if (!_nms_store_exec (store, "COMMIT", "commit the conversion", error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      _nms_store_log_after_rollback (store);
      return FALSE;
    }
  _nms_store_log_after_commit (store);
  /* This connection's own commit leaves data_version as it was, so the
   * names in memory would outlive the records they came from. */
  _nms_store_names_drop (store);
  /* Committed: from here on this process reads the new form. */
  if (!_nms_store_exec (store, "BEGIN DEFERRED", "read the new key record", error))
    return FALSE;
  ok = _nms_store_crypt_refresh (store, error);
  sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL);
  nms_os_crash_point ("convert-before-scrub");
  return ok && _nms_store_scrub_after_commit (store);
}

/* Takes the write lock and checks the store is (not) encrypted, and
 * that its envelope is still `expect_json` when given: the slow key work
 * happens before the lock, and another process may have changed the key
 * meanwhile. */
static gboolean
begin_conversion (NmsStore *store, gboolean want_encrypted, const char *expect_json, GError **error)
{
  g_return_val_if_fail (!store->in_batch, FALSE);
  if (!_nms_store_exec_eager (store, "BEGIN IMMEDIATE", "lock the store for the conversion", error))
    return FALSE;
  if (!_nms_store_crypt_refresh (store, error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  /* Sealed records without their key record: neither encrypting again
   * over them nor re-keying helps; a backup does. */
  if (store->crypt.envelope == NULL && store->crypt.why_damaged != NULL)
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return _nms_store_crypt_ready (store, error);
    }
  if (nms_store_encrypted (store) != want_encrypted)
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, want_encrypted ? "%s is not encrypted"
                                                                       : "%s is already encrypted", store->path);
      return FALSE;
    }
  if (expect_json != NULL && g_strcmp0 (expect_json, store->crypt.envelope_json) != 0)
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      g_set_error (error, NMS_ERROR, NMS_ERROR_BUSY,
                   "another process changed the key of %s meanwhile; nothing was changed, run the command again",
                   store->path);
      return FALSE;
    }
  return TRUE;
}

/* Outside any transaction: the envelope as it is now, its KEK (from
 * passphrase, or the key file or keyring) and the data key it wraps. */
static gboolean
open_data_key (NmsStore *store, const NmsCryptoSecret *passphrase, NmsCryptoEnvelope **envelope,
               NmsCryptoSecret **kek, NmsCryptoSecret **data_key, char **json, GError **error)
{
  if (!_nms_store_crypt_refresh_now (store, error))
    return FALSE;
  if (store->crypt.envelope == NULL && store->crypt.why_damaged != NULL)
    return _nms_store_crypt_ready (store, error);
  if (!nms_store_encrypted (store))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "%s is not encrypted", store->path);
      return FALSE;
    }
  *json = g_strdup (store->crypt.envelope_json);
  *envelope = nms_crypto_envelope_parse (*json, error);
  return *envelope != NULL
         && (*kek = _nms_store_crypt_load_kek (store, *envelope, passphrase, error)) != NULL
         && (*data_key = nms_crypto_unwrap (*envelope, *kek, error)) != NULL;
}

/* The KEK for `to`, from the caller's key provider, which makes the key
 * file or keyring entry it needs. */
static NmsCryptoSecret *
new_kek (NmsStore *store, NmsCryptoEnvelope *envelope, const NmsStoreKeySource *to, GError **error)
{
  const NmsStoreKeys *keys = _nms_store_keys (store, error);

  if (keys == NULL)
    return NULL;
  nms_crypto_envelope_reset (envelope, to->source, &to->limits, to->source == NMS_CRYPTO_SOURCE_KEY_FILE
                                                                 ? to->key_file : NULL);
  return keys->create_kek (envelope, to->passphrase, store->dir, keys->user_data, error);
}

/* The old source's KEK opens nothing now; what only held it goes, as far
 * as it can (the conversion has committed either way). */
static void
forget_kek (NmsStore *store, NmsCryptoSource source, const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES])
{
  const NmsStoreKeys *keys = store->options.keys;

  if (keys != NULL)
    keys->forget_kek (source, store_id, keys->user_data, NULL);
}

gboolean
nms_store_encrypt (NmsStore *store, const NmsStoreKeySource *to, GError **error)
{
  g_autoptr(NmsCryptoEnvelope) envelope = nms_crypto_envelope_new (to->source, &to->limits);
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(NmsCryptoKeys) keys = NULL;
  g_autofree char *json = NULL;

  if (!_nms_store_finish_earlier_scrub (store, error))
    return FALSE;
  /* The slow part, Argon2id or the keyring, before the write lock. */
  if ((kek = new_kek (store, envelope, to, error)) == NULL)
    return FALSE;
  nms_crypto_wrap (envelope, kek, data_key);
  json = nms_crypto_envelope_to_json (envelope);
  keys = nms_crypto_keys_new (data_key, envelope->store_id, store->options.pad_block);
  if (!begin_conversion (store, FALSE, NULL, error))
    return FALSE;
  return convert (store, NULL, keys, json, error);
}

/* Needs no key of its own: the process must be unlocked. */
gboolean
nms_store_decrypt (NmsStore *store, GError **error)
{
  g_autoptr(NmsCryptoKeys) keys = NULL;
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES];
  NmsCryptoSource source;

  if (!_nms_store_finish_earlier_scrub (store, error) || !begin_conversion (store, TRUE, NULL, error))
    return FALSE;
  if (!_nms_store_crypt_ready (store, error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  source = store->crypt.envelope->source;
  memcpy (store_id, store->crypt.envelope->store_id, sizeof store_id);
  /* convert() forgets the envelope, and with it these keys, once it has
   * committed; they are needed until then. */
  keys = g_steal_pointer (&store->crypt.keys);
  if (!convert (store, keys, NULL, NULL, error))
    {
      if (store->crypt.envelope != NULL && store->crypt.keys == NULL)
        store->crypt.keys = g_steal_pointer (&keys);
      return FALSE;
    }
  forget_kek (store, source, store_id);
  return TRUE;
}

gboolean
nms_store_rekey (NmsStore *store, const NmsCryptoSecret *passphrase, GError **error)
{
  g_autoptr(NmsCryptoEnvelope) envelope = NULL;
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(NmsCryptoSecret) old_key = NULL;
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoKeys) keys = NULL;
  g_autoptr(NmsCryptoKeys) old_keys = NULL;
  g_autofree char *old_json = NULL;
  g_autofree char *json = NULL;

  if (!_nms_store_finish_earlier_scrub (store, error)
      || !open_data_key (store, passphrase, &envelope, &kek, &old_key, &old_json, error))
    return FALSE;
  /* The same KEK wraps the new key: rekey changes what the records are
   * sealed with, not how a person unlocks them. A store from before
   * summaries gets one now, with the new data key, so that the old
   * envelope, which does not ask for one, opens nothing here any more. */
  envelope->format = NMS_CRYPTO_ENVELOPE_FORMAT_SUMMARY;
  nms_crypto_wrap (envelope, kek, data_key);
  json = nms_crypto_envelope_to_json (envelope);
  keys = nms_crypto_keys_new (data_key, envelope->store_id, store->options.pad_block);
  old_keys = nms_crypto_keys_new (old_key, envelope->store_id, store->options.pad_block);
  if (!begin_conversion (store, TRUE, old_json, error) || !convert (store, old_keys, keys, json, error))
    return FALSE;
  /* This process made the new key; it need not be unlocked again. The
   * summary was written anew from the records as they were: a rekey is
   * also how a person accepts a store whose records no longer matched. */
  g_clear_pointer (&store->crypt.keys, nms_crypto_keys_free);
  store->crypt.keys = g_steal_pointer (&keys);
  g_clear_pointer (&store->crypt.why_locked, g_free);
  g_clear_pointer (&store->crypt.why_damaged, g_free);
  return TRUE;
}

/* passwd, or a change of key source: the data key is wrapped anew and no
 * record is touched. */
gboolean
nms_store_rewrap (NmsStore *store, const NmsCryptoSecret *passphrase, const NmsStoreKeySource *to, GError **error)
{
  g_autoptr(NmsCryptoEnvelope) envelope = NULL;
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(NmsCryptoSecret) next_kek = NULL;
  g_autoptr(NmsCryptoSecret) data_key = NULL;
  g_autofree char *old_json = NULL;
  g_autofree char *json = NULL;
  NmsCryptoSource old_source;
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES];

  if (!open_data_key (store, passphrase, &envelope, &kek, &data_key, &old_json, error))
    return FALSE;
  old_source = envelope->source;
  memcpy (store_id, envelope->store_id, sizeof store_id);
  if ((next_kek = new_kek (store, envelope, to, error)) == NULL)
    return FALSE;
  nms_crypto_wrap (envelope, next_kek, data_key);
  json = nms_crypto_envelope_to_json (envelope);
  if (!begin_conversion (store, TRUE, old_json, error))
    return FALSE;
  if (!set_envelope (store, json, error) || !_nms_store_exec (store, "COMMIT", "record the re-wrapped key", error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  if (old_source != to->source)
    forget_kek (store, old_source, store_id);
  /* The old wrapped key would otherwise stay in the file's old pages; with
   * the old passphrase it still opens the same data key (which only a
   * rekey replaces). */
  return _nms_store_scrub_after_commit (store);
}

/* Opens every record; counts the good and the damaged ones (logged by
 * token), runs SQLite's integrity check, and compares the records with
 * their summary: FALSE with E_CORRUPT when records were deleted, added or
 * rolled back. */
gboolean
nms_store_verify (NmsStore *store, guint *n_good, guint *n_bad, GError **error)
{
  sqlite3_stmt *s = NULL;
  guint64 total = 0;
  int rc;

  *n_good = *n_bad = 0;
  if (!nms_store_check_integrity (store, error)
      || !_nms_store_exec (store, "BEGIN DEFERRED", "start reading", error))
    return FALSE;
  if (!_nms_store_crypt_refresh (store, error)
      || (nms_store_encrypted (store) && !_nms_store_summary_check (store, error))
      || !_nms_store_crypt_ready (store, error)
      || !count_items (store, &total, error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  rc = sqlite3_prepare_v2 (store->db, "SELECT key, value FROM items", -1, &s, NULL);
  for (rc = rc == SQLITE_OK ? sqlite3_step (s) : rc; rc == SQLITE_ROW; rc = sqlite3_step (s))
    {
      NmsCryptoItem item = { 0 };

      if (!nms_store_encrypted (store))
        (*n_good)++;
      else if (sqlite3_column_bytes (s, 0) == NMS_CRYPTO_TOKEN_BYTES
               && _nms_store_crypt_open (store, store->crypt.keys, sqlite3_column_blob (s, 0),
                                        sqlite3_column_blob (s, 1), (gsize) sqlite3_column_bytes (s, 1), &item, NULL))
        (*n_good)++;
      else
        (*n_bad)++;
      nms_crypto_item_clear (&item);
      if (store->progress != NULL && (*n_good + *n_bad) % 64 == 0)
        store->progress (*n_good + *n_bad, MAX (total, *n_good + *n_bad), store->progress_data);
    }
  sqlite3_finalize (s);
  sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "read every record", error);
  return TRUE;
}
