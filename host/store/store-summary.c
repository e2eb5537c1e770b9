/* SPDX-License-Identifier: MIT */
/* store-summary.c: an encrypted origin's authenticated summary of its
 * whole record set, so that a record rolled back to an older sealed value,
 * deleted, added or replayed from a backup is detected, although each such
 * record is authentic on its own.
 *
 * The summary is the meta row 'summary':
 *
 *   version (1) | counter (u64 LE) | records (u64 LE) | sum (32) | MAC (32)
 *
 * sum is the sum modulo 2^256 of every record's digest, a keyed BLAKE2b of
 * its token, its head (version and nonce) and its length (crypto.h says
 * why that names one sealed record); the MAC, under the same crypto_kdf
 * subkey of the data key, binds sum, counter and record count to the
 * store. Each write adds the digests of the records it writes and
 * subtracts those of the records it replaces or removes, so it reads one
 * head per key it touches and never the other records.
 *
 * Concurrency: several host processes write one origin, each write in its
 * own transaction under SQLite's write lock. The summary is read, changed
 * and written back inside that same transaction, at the end of each store
 * call (_nms_store_op_end), and never cached across transactions, so two
 * writers cannot both start from the same summary. A call that fails is
 * rolled back with its summary; the pending change of a call is dropped
 * with it.
 *
 * Checks: every unlock (and every re-opening after another process
 * re-keyed), and verify, recompute the sum from the records, inside one
 * read transaction with the summary, and compare. A mismatch makes every
 * data op answer E_CORRUPT (why_damaged): which record was taken away or
 * put back cannot be known, so nothing the file says is believed. Restoring
 * a backup, or `nmstore rekey` (which re-seals what is there and writes a
 * new summary: a person's decision to accept it), clears it.
 *
 * The summary's presence is also the durable sign that the origin is
 * encrypted: a store without its key record but with a summary or any
 * sealed record (a BLOB key; plaintext keys are TEXT) is never read or
 * written in the clear (store-crypt.c).
 *
 * What it cannot see: the whole file replaced by an older copy of itself
 * (records, summary and all agree with each other); the counter is there
 * so that a copy kept outside the file could tell (README). Stores
 * encrypted before summaries existed (envelope format 1) have none until
 * their next rekey. */
#include "store-private.h"
#include "store-summary.h"
#include "base/error.h"

#include <sodium.h>
#include <string.h>

#define SUMMARY_VERSION 1
#define SUMMARY_BYTES   (1 + 8 + 8 + NMS_CRYPTO_SUM_BYTES + NMS_CRYPTO_MAC_BYTES)

typedef struct {
  guint64 counter;
  guint64 n_records;
  guint8  sum[NMS_CRYPTO_SUM_BYTES];
  guint8  mac[NMS_CRYPTO_MAC_BYTES];
} Summary;

/* The SQL below spells out NMS_CRYPTO_SEAL_HEAD_BYTES. */
G_STATIC_ASSERT (NMS_CRYPTO_SEAL_HEAD_BYTES == 25);

static const char *const summary_sql[] = {
  "SELECT value FROM meta WHERE name = 'summary'",
  "INSERT OR REPLACE INTO meta (name, value) VALUES ('summary', ?1)",
  "SELECT substr (value, 1, 25), length (value) FROM items WHERE key = ?1",
  "SELECT key, substr (value, 1, 25), length (value) FROM items",
};
enum { SQL_GET, SQL_PUT, SQL_HEAD, SQL_ALL };

static sqlite3_stmt *
summary_stmt (NmsStore *store, int which, GError **error)
{
  sqlite3_stmt **s = &store->crypt.summary_stmts[which];

  if (*s == NULL)
    {
      int rc = sqlite3_prepare_v3 (store->db, summary_sql[which], -1, SQLITE_PREPARE_PERSISTENT, s, NULL);
      if (rc != SQLITE_OK)
        {
          _nms_store_fail (store, rc, "prepare the summary's queries", error);
          return NULL;
        }
    }
  sqlite3_reset (*s);
  sqlite3_clear_bindings (*s);
  return *s;
}

void
_nms_store_summary_close (NmsStore *store)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (store->crypt.summary_stmts); i++)
    g_clear_pointer (&store->crypt.summary_stmts[i], sqlite3_finalize);
}

/* Whether this origin keeps a summary: its envelope says so, and the
 * envelope's format is authenticated (crypto.h). */
gboolean
_nms_store_summary_kept (NmsStore *store)
{
  return store->crypt.envelope != NULL && store->crypt.envelope->format >= NMS_CRYPTO_ENVELOPE_FORMAT_SUMMARY;
}

static void
put_u64 (guint8 *at, guint64 v)
{
  v = GUINT64_TO_LE (v);
  memcpy (at, &v, 8);
}

static guint64
get_u64 (const guint8 *at)
{
  guint64 v;

  memcpy (&v, at, 8);
  return GUINT64_FROM_LE (v);
}

/* *found is FALSE when there is no summary row; one that does not decode
 * is E_CORRUPT. */
static gboolean
read_summary (NmsStore *store, Summary *out, gboolean *found, GError **error)
{
  sqlite3_stmt *s = summary_stmt (store, SQL_GET, error);
  gboolean ok = TRUE;
  int rc;

  *found = FALSE;
  if (s == NULL)
    return FALSE;
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      const guint8 *b = sqlite3_column_blob (s, 0);

      *found = TRUE;
      if (sqlite3_column_type (s, 0) != SQLITE_BLOB || sqlite3_column_bytes (s, 0) != SUMMARY_BYTES
          || b[0] != SUMMARY_VERSION)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                       "the summary of %s's records is damaged or was changed; restore the store from a backup",
                       store->path);
          ok = FALSE;
        }
      else
        {
          out->counter = get_u64 (b + 1);
          out->n_records = get_u64 (b + 9);
          memcpy (out->sum, b + 17, NMS_CRYPTO_SUM_BYTES);
          memcpy (out->mac, b + 17 + NMS_CRYPTO_SUM_BYTES, NMS_CRYPTO_MAC_BYTES);
        }
    }
  else if (rc != SQLITE_DONE)
    ok = _nms_store_fail (store, rc, "read the summary of the records", error);
  sqlite3_reset (s);
  return ok;
}

static gboolean
write_summary (NmsStore *store, const NmsCryptoKeys *keys, Summary *summary, GError **error)
{
  guint8 b[SUMMARY_BYTES];
  sqlite3_stmt *s = summary_stmt (store, SQL_PUT, error);
  int rc;

  if (s == NULL)
    return FALSE;
  nms_crypto_summary_mac (keys, summary->counter, summary->n_records, summary->sum, summary->mac);
  b[0] = SUMMARY_VERSION;
  put_u64 (b + 1, summary->counter);
  put_u64 (b + 9, summary->n_records);
  memcpy (b + 17, summary->sum, NMS_CRYPTO_SUM_BYTES);
  memcpy (b + 17 + NMS_CRYPTO_SUM_BYTES, summary->mac, NMS_CRYPTO_MAC_BYTES);
  sqlite3_bind_blob (s, 1, b, sizeof b, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "record the summary of the records", error);
}

static gboolean
mac_ok (const NmsCryptoKeys *keys, const Summary *summary)
{
  guint8 mac[NMS_CRYPTO_MAC_BYTES];

  nms_crypto_summary_mac (keys, summary->counter, summary->n_records, summary->sum, mac);
  return sodium_memcmp (mac, summary->mac, sizeof mac) == 0;
}

/* The sum and count of the records as they are in the file. */
static gboolean
compute (NmsStore *store, const NmsCryptoKeys *keys, Summary *summary, GError **error)
{
  sqlite3_stmt *s = summary_stmt (store, SQL_ALL, error);
  int rc;

  memset (summary, 0, sizeof *summary);
  if (s == NULL)
    return FALSE;
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      guint8 digest[NMS_CRYPTO_SUM_BYTES];

      /* Whatever the key's type: a row added in the clear counts too, and
       * so makes the sum differ. */
      nms_crypto_record_digest (keys, sqlite3_column_blob (s, 0), (gsize) sqlite3_column_bytes (s, 0),
                                sqlite3_column_blob (s, 1), (gsize) sqlite3_column_bytes (s, 1),
                                (guint64) sqlite3_column_int64 (s, 2), digest);
      nms_crypto_sum_add (summary->sum, digest);
      summary->n_records++;
    }
  sqlite3_reset (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "read every record for the summary", error);
}

/* The running store call's change to the summary starts empty. */
void
_nms_store_summary_begin (NmsStore *store)
{
  NmsStoreCrypt *crypt = &store->crypt;

  memset (crypt->summary_delta, 0, sizeof crypt->summary_delta);
  crypt->summary_count_delta = 0;
  crypt->summary_cleared = FALSE;
  crypt->summary_dirty = FALSE;
}

/* The running call removed every record (a whole clear). */
void
_nms_store_summary_cleared (NmsStore *store)
{
  if (!_nms_store_summary_kept (store))
    return;
  _nms_store_summary_begin (store);
  store->crypt.summary_cleared = TRUE;
  store->crypt.summary_dirty = TRUE;
}

/* Adds (or takes away) one record to the running call's change: the
 * record of token whose first head_len bytes are head, of sealed_len
 * bytes in all. */
void
_nms_store_summary_note (NmsStore *store, const guint8 *token, const guint8 *head, gsize head_len,
                        guint64 sealed_len, gboolean add)
{
  NmsStoreCrypt *crypt = &store->crypt;
  guint8 digest[NMS_CRYPTO_SUM_BYTES];

  nms_crypto_record_digest (crypt->keys, token, NMS_CRYPTO_TOKEN_BYTES, head, MIN (head_len, NMS_CRYPTO_SEAL_HEAD_BYTES),
                            sealed_len, digest);
  if (add)
    nms_crypto_sum_add (crypt->summary_delta, digest);
  else
    nms_crypto_sum_sub (crypt->summary_delta, digest);
  crypt->summary_count_delta += add ? 1 : -1;
  crypt->summary_dirty = TRUE;
}

/* Before a record of token is replaced or removed: takes its digest out. */
gboolean
_nms_store_summary_forget (NmsStore *store, const guint8 *token, GError **error)
{
  sqlite3_stmt *s;
  int rc;

  if (!_nms_store_summary_kept (store))
    return TRUE;
  if ((s = summary_stmt (store, SQL_HEAD, error)) == NULL)
    return FALSE;
  sqlite3_bind_blob (s, 1, token, NMS_CRYPTO_TOKEN_BYTES, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    _nms_store_summary_note (store, token, sqlite3_column_blob (s, 0), (gsize) sqlite3_column_bytes (s, 0),
                            (guint64) sqlite3_column_int64 (s, 1), FALSE);
  sqlite3_reset (s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE || _nms_store_fail (store, rc, "read a record for the summary", error);
}

/* Ends the running store call: when it succeeded and changed records,
 * applies its change to the summary, in the call's own transaction. */
gboolean
_nms_store_summary_end (NmsStore *store, gboolean ok, GError **error)
{
  NmsStoreCrypt *crypt = &store->crypt;
  Summary summary = { 0 };
  gboolean found;

  if (!ok || !crypt->summary_dirty || !_nms_store_summary_kept (store))
    {
      _nms_store_summary_begin (store);
      return ok;
    }
  if (!read_summary (store, &summary, &found, error))
    {
      _nms_store_summary_begin (store);
      return FALSE;
    }
  if (!found || !mac_ok (crypt->keys, &summary))
    {
      _nms_store_summary_begin (store);
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "the summary of %s's records is %s: the file was changed outside nmstore, so nothing is "
                   "written to it; run nmstore verify, then restore a backup", store->path,
                   found ? "not authentic" : "missing");
      return FALSE;
    }
  if (crypt->summary_cleared)
    {
      memset (summary.sum, 0, sizeof summary.sum);
      summary.n_records = 0;
    }
  nms_crypto_sum_add (summary.sum, crypt->summary_delta);
  summary.n_records = (guint64) ((gint64) summary.n_records + crypt->summary_count_delta);
  summary.counter++;
  _nms_store_summary_begin (store);
  return write_summary (store, crypt->keys, &summary, error);
}

/* After a conversion has written every record under keys (NULL: in the
 * clear): a new summary of them, or none. Inside the conversion's
 * transaction. */
gboolean
_nms_store_summary_rewrite (NmsStore *store, const NmsCryptoKeys *keys, GError **error)
{
  Summary old = { 0 }, summary;
  g_autoptr(GError) local = NULL;
  gboolean found = FALSE;

  if (keys == NULL)
    return _nms_store_exec (store, "DELETE FROM meta WHERE name = 'summary'", "remove the summary", error);
  /* The counter goes on from the old summary, if it reads at all; it is
   * a sequence, not a secret. */
  if (!read_summary (store, &old, &found, &local) && !g_error_matches (local, NMS_ERROR, NMS_ERROR_CORRUPT))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!compute (store, keys, &summary, error))
    return FALSE;
  summary.counter = (found && local == NULL ? old.counter : 0) + 1;
  return write_summary (store, keys, &summary, error);
}

static void
set_damaged (NmsStore *store, char *why)
{
  gint64 version = 0;

  g_warning ("%s", why);
  g_free (store->crypt.why_damaged);
  store->crypt.why_damaged = why;
  if (nms_store_data_version (store, &version, NULL))
    store->crypt.damaged_version = version;
}

static gboolean
check_in_transaction (NmsStore *store, GError **error)
{
  NmsStoreCrypt *crypt = &store->crypt;
  Summary stored = { 0 }, actual = { 0 };
  g_autoptr(GError) local = NULL;
  gboolean found;

  if (!read_summary (store, &stored, &found, &local))
    {
      if (!g_error_matches (local, NMS_ERROR, NMS_ERROR_CORRUPT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      set_damaged (store, g_strdup (local->message));
    }
  else if (!found)
    set_damaged (store, g_strdup_printf ("%s is encrypted, but the summary of its records is missing: it was "
                                         "deleted outside nmstore. Nothing in the file is trusted until a backup "
                                         "is restored (nmstore restore), or its records are accepted as they are "
                                         "(nmstore rekey)", store->path));
  else if (!mac_ok (crypt->keys, &stored))
    set_damaged (store, g_strdup_printf ("the summary of %s's records is not authentic: it was changed outside "
                                         "nmstore. Nothing in the file is trusted until a backup is restored "
                                         "(nmstore restore), or its records are accepted as they are (nmstore "
                                         "rekey)", store->path));
  else if (!compute (store, crypt->keys, &actual, error))
    return FALSE;
  else if (actual.n_records != stored.n_records || sodium_memcmp (actual.sum, stored.sum, sizeof actual.sum) != 0)
    {
      g_autofree char *counts = actual.n_records == stored.n_records
        ? g_strdup_printf ("%" G_GUINT64_FORMAT " records, as its summary says, but not the ones nmstore last wrote",
                           actual.n_records)
        : g_strdup_printf ("%" G_GUINT64_FORMAT " records where its summary says %" G_GUINT64_FORMAT,
                           actual.n_records, stored.n_records);

      set_damaged (store, g_strdup_printf ("%s holds %s: records were deleted, added, moved, or put back from an "
                                           "older copy (a backup) outside nmstore. Nothing in the file is trusted "
                                           "until a backup is restored (nmstore restore), or its records are "
                                           "accepted as they are (nmstore rekey)", store->path, counts));
    }
  else
    {
      g_clear_pointer (&crypt->why_damaged, g_free);
      return TRUE;
    }
  g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "%s", crypt->why_damaged);
  return FALSE;
}

/* Compares the records with the summary under the keys this process holds,
 * in the caller's transaction or, without one, a read transaction of its
 * own, so that the summary and the records are one snapshot. Sets or
 * clears why_damaged; FALSE with E_CORRUPT when they differ. */
gboolean
_nms_store_summary_check (NmsStore *store, GError **error)
{
  gboolean own = sqlite3_get_autocommit (store->db), ok;

  if (store->crypt.keys == NULL || !_nms_store_summary_kept (store))
    return TRUE;
  if (own && !_nms_store_exec (store, "BEGIN DEFERRED", "start reading the records", error))
    return FALSE;
  ok = check_in_transaction (store, error);
  if (own)
    sqlite3_exec (store->db, "COMMIT", NULL, NULL, NULL);
  return ok;
}
