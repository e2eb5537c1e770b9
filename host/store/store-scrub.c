/* SPDX-License-Identifier: MIT */
/* store-scrub.c: after a conversion (store-convert.c) has committed, the
 * rewrite that leaves no earlier plaintext in the file: VACUUM for a store
 * that is now encrypted, zeros over the free list for one now in the
 * clear, then the WAL emptied. A rewrite that cannot finish (readers hold
 * the WAL) is remembered in meta 'scrub_pending' and finished by the next
 * open. */
#include "store-private.h"
#include "store-scrub.h"
#include "store-record.h"
#include "base/error.h"

/* Emptying the WAL needs every other process to stop reading from it for
 * a moment. Busy writers and readers do so between their transactions,
 * so a few attempts, each waiting a little longer, usually find such a
 * moment; one that holds a read open for long keeps the WAL until then. */
#define SCRUB_CHECKPOINT_ATTEMPTS   6
#define SCRUB_FIRST_WAIT_MS         100

static gboolean
mark_scrub_pending (NmsStore *store)
{
  return _nms_store_exec (store, "INSERT OR REPLACE INTO meta (name, value) VALUES ('scrub_pending', 1)",
                         "remember the unfinished rewrite", NULL);
}

/* Rewrites the file or zeroes its free pages, and empties the WAL; see the
 * top of this file. */
gboolean
nms_store_scrub (NmsStore *store, GError **error)
{
  int rc = SQLITE_OK, busy = 1, attempt, wait_ms = SCRUB_FIRST_WAIT_MS;

  g_return_val_if_fail (!store->in_batch, FALSE);
  if (!_nms_store_exec (store, "PRAGMA secure_delete = ON", "turn on secure delete", error))
    return FALSE;
  /* An encrypted store's live rows are sealed, so VACUUM may build its
   * copy in a temporary file (where SQLite's temporary files go, unlinked
   * at once): no plaintext can reach it, and the file, unlike a copy in
   * memory, does not cost as much RAM as the store is large. VACUUM copies
   * rows, not pages, so the free space inside pages goes too. A store now
   * in the clear would put its plaintext there: its free pages are zeroed
   * in place instead. Each record implementation does its own
   * (wipe_free_space). */
  if (!_nms_store_records (store)->wipe_free_space (store, error))
    return FALSE;
  for (attempt = 0; attempt < SCRUB_CHECKPOINT_ATTEMPTS; attempt++, wait_ms *= 2)
    {
      sqlite3_stmt *s = NULL;

      /* The busy handler waits for the writer lock and for readers to
       * move on; a shorter wait per attempt, and another attempt, beats
       * one long wait behind a reader that never lets go. */
      sqlite3_busy_timeout (store->db, wait_ms);
      busy = 1;
      rc = sqlite3_prepare_v2 (store->db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &s, NULL);
      if (rc == SQLITE_OK && (rc = sqlite3_step (s)) == SQLITE_ROW)
        busy = sqlite3_column_int (s, 0);
      sqlite3_finalize (s);
      if (rc == SQLITE_ROW && !busy)
        break;
      if (rc != SQLITE_ROW && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
        {
          sqlite3_busy_timeout (store->db, (int) store->options.busy_timeout_ms);
          mark_scrub_pending (store);
          return _nms_store_fail (store, rc, "empty the WAL", error);
        }
    }
  sqlite3_busy_timeout (store->db, (int) store->options.busy_timeout_ms);
  if (busy)
    {
      /* Put the flag back: the next open tries again. */
      mark_scrub_pending (store);
      g_set_error (error, NMS_ERROR, NMS_ERROR_BUSY,
                   "other processes kept reading %s through %d attempts, so pages of the old form may remain in "
                   "%s-wal until it is emptied; the next nmstore that opens this origin finishes the rewrite "
                   "(to do it now, close the browser and run nmstore verify on this origin)", store->path,
                   SCRUB_CHECKPOINT_ATTEMPTS, store->path);
      return FALSE;
    }
  return TRUE;
}

/* After a conversion has committed: the data is in its new form whatever
 * happens to the rewrite, so a rewrite that could not finish is no
 * failure of the command. It is remembered (scrub_pending stays set) and
 * reported through nms_store_scrub_note. */
gboolean
_nms_store_scrub_after_commit (NmsStore *store)
{
  g_autoptr(GError) local = NULL;

  g_clear_pointer (&store->scrub_note, g_free);
  if (nms_store_scrub (store, &local))
    return TRUE;
  store->scrub_note = g_strdup_printf ("the conversion is committed, but the file could not be rewritten yet: %s",
                                       local->message);
  return TRUE;
}

const char *
nms_store_scrub_note (NmsStore *store)
{
  return store->scrub_note;
}

gboolean
nms_store_scrub_if_pending (NmsStore *store, GError **error)
{
  sqlite3_stmt *s = NULL;
  gboolean pending = FALSE;
  int rc = sqlite3_prepare_v2 (store->db, "SELECT 1 FROM meta WHERE name = 'scrub_pending'", -1, &s, NULL);

  if (rc == SQLITE_OK && (rc = sqlite3_step (s)) == SQLITE_ROW)
    pending = TRUE;
  sqlite3_finalize (s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "check for an unfinished conversion", error);
  if (!pending)
    return TRUE;
  g_message ("%s: finishing an interrupted conversion (rewriting the file)", store->path);
  return nms_store_scrub (store, error);
}

/* Before a new conversion: an earlier one's rewrite that other readers
 * still hold up is no reason to refuse; the new conversion rewrites the
 * file anyway. */
gboolean
_nms_store_finish_earlier_scrub (NmsStore *store, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (nms_store_scrub_if_pending (store, &local))
    return TRUE;
  if (g_error_matches (local, NMS_ERROR, NMS_ERROR_BUSY))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}
