/* SPDX-License-Identifier: MIT */
/* store-core.c: the bottom of the store, which every other part of it
 * uses and which uses none of them: turning SQLite's failures into errors
 * a person can act on, running SQL and the prepared statements, and what
 * the connection says of itself. */
#include "store-private.h"
#include "base/error.h"
#include "base/os.h"

#include <errno.h>

/* Turns an SQLite failure into an NMS_ERROR a person can act on. */
gboolean
_nms_store_fail (NmsStore *store, int rc, const char *doing, GError **error)
{
  int primary = rc & 0xff;
  const char *detail = store->db ? sqlite3_errmsg (store->db) : sqlite3_errstr (rc);
  const char *path = store->path ? store->path : "(unknown)";
  /* SQLite reports ENOSPC as SQLITE_FULL but EFBIG (a file size limit) and
   * EDQUOT as a write error, and often no longer knows the OS error by the
   * time it reports; when it does, that tells the person what to do. */
  int os_error = store->db ? sqlite3_system_errno (store->db) : 0;
  g_autofree char *with_os_error = NULL;

  if (primary == SQLITE_IOERR && (os_error == ENOSPC || os_error == EFBIG || os_error == EDQUOT))
    primary = SQLITE_FULL;
  /* Whether the last failure was for want of space (the reserve). */
  store->full = FALSE;
  if (os_error != 0 && primary != SQLITE_FULL)
    detail = with_os_error = g_strdup_printf ("%s: %s", detail, g_strerror (os_error));

  switch (primary)
    {
    case SQLITE_FULL:
      store->full = TRUE;
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                   "cannot %s: the disk holding %s is full or the file is at its size limit; "
                   "free some space and try again", doing, path);
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                   "cannot %s: %s cannot be written or opened (%s); check that the directory exists, "
                   "belongs to you and is writable", doing, path, detail);
      break;
    case SQLITE_IOERR:
      if (rc == SQLITE_IOERR_WRITE && os_error == 0)
        store->full = TRUE;
      if (rc == SQLITE_IOERR_WRITE && os_error == 0)
        g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                     "cannot %s: writing %s failed (%s); the disk may be full or the file at its size limit: "
                     "free some space, or check the disk, and try again", doing, path, detail);
      else
        g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot %s: I/O error on %s (%s)", doing, path, detail);
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "cannot %s: %s is damaged (%s); restore it from a backup", doing, path, detail);
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, NMS_ERROR, NMS_ERROR_BUSY,
                   "cannot %s: another process kept %s locked for over %u ms", doing, path,
                   store->options.busy_timeout_ms);
      break;
    case SQLITE_TOOBIG:
      g_set_error (error, NMS_ERROR, NMS_ERROR_TOO_LARGE, "cannot %s: the value is too large (%s)", doing, detail);
      break;
    default:
      g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL, "cannot %s in %s: %s", doing, path, detail);
      break;
    }
  return FALSE;
}

gboolean
_nms_store_exec (NmsStore *store, const char *sql, const char *doing, GError **error)
{
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK || _nms_store_fail (store, rc, doing, error);
}

/* SQLite's own busy handler sleeps ever longer between tries, up to
 * 100 ms; writers that commit back to back hold the lock nearly all the
 * time, and free it only for moments, which a sleeper that long keeps
 * missing. A conversion is one person's command that must get its turn,
 * so it polls every millisecond until the same busy timeout. */
typedef struct {
  gint64 deadline;
} LockWait;

static int
poll_for_lock (void *user_data, int attempt)
{
  LockWait *wait = user_data;

  if (g_get_monotonic_time () >= wait->deadline)
    return 0;
  g_usleep (1000);
  return 1;
}

gboolean
_nms_store_exec_eager (NmsStore *store, const char *sql, const char *doing, GError **error)
{
  LockWait wait = { g_get_monotonic_time () + (gint64) store->options.busy_timeout_ms * 1000 };
  int rc;

  sqlite3_busy_handler (store->db, poll_for_lock, &wait);
  rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);
  sqlite3_busy_timeout (store->db, (int) store->options.busy_timeout_ms);
  return rc == SQLITE_OK || _nms_store_fail (store, rc, doing, error);
}

sqlite3_stmt *
_nms_store_stmt (NmsStore *store, int which)
{
  sqlite3_stmt *s = store->stmts[which];
  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  return s;
}

sqlite3_stmt *
_nms_store_lazy_stmt (NmsStore *store, sqlite3_stmt **slot, const char *sql, GError **error)
{
  if (*slot == NULL)
    {
      int rc = sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
      if (rc != SQLITE_OK)
        {
          _nms_store_fail (store, rc, "prepare the store's queries", error);
          return NULL;
        }
    }
  sqlite3_reset (*slot);
  sqlite3_clear_bindings (*slot);
  return *slot;
}

/* Each mutating call runs in a savepoint inside a batch or a request, or
 * in its own write transaction otherwise, so that it is atomic either way. */
gboolean
_nms_store_nested (NmsStore *store)
{
  return store->in_batch || store->log.in_request;
}

const char *
nms_store_path (NmsStore *store)
{
  return store->path;
}

/* TRUE when the file at the store's path is no longer the one this handle
 * has open (deleted, or replaced by another): what is written through the
 * handle would go to a file that nobody will ever read again.
 *
 * Both leave the file this handle opened with no name: a deletion unlinks
 * it, and a replacement renames another file over its name. An fstat()
 * of it says so for a third of what SQLite's own check costs, a stat() of
 * the whole path, and the host asks before every batch (5-7% of a set's
 * time). What it does not see is the file renamed away or hard-linked
 * elsewhere first: writes then go on into that file, where the person who
 * moved it put them. */
gboolean
nms_store_has_moved (NmsStore *store)
{
  int moved = 0;

  if (store->file_fd >= 0)
    return nms_os_file_unlinked (store->file_fd);
  if (sqlite3_file_control (store->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
    return FALSE;
  return moved != 0;
}

/* Opens the file that SQLite has just opened, by the same path; SQLite's
 * check that the path still names SQLite's file, made after, ties the two
 * to one file. */
gboolean
_nms_store_watch_file (NmsStore *store, GError **error)
{
  int moved = 0;

  store->file_fd = nms_os_open_to_watch (store->path, error);
  if (store->file_fd < 0)
    return FALSE;
  if (sqlite3_file_control (store->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s was replaced while it was being opened; try again",
                   store->path);
      return FALSE;
    }
  return TRUE;
}

/* Changes whenever another connection commits; a cheap way to tell a
 * spurious wake-up from a real one without reading the log. */
gboolean
nms_store_data_version (NmsStore *store, gint64 *version, GError **error)
{
  sqlite3_stmt *s = _nms_store_stmt (store, STMT_DATA_VERSION);
  int rc = sqlite3_step (s);

  if (rc == SQLITE_ROW)
    *version = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE || _nms_store_fail (store, rc, "read the store's data version", error);
}

/* SQLite keeps a process-wide count of its memory, behind a global mutex
 * taken on every allocation and free: 2% of a sequential get's
 * instructions and 3% of a set's (callgrind), for a figure nmstore never
 * reads. */
gboolean
nms_store_init (GError **error)
{
  int rc = sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);

  if (rc != SQLITE_OK)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL,
                   "SQLite %s refused its settings (%s): they must come before it is first used",
                   sqlite3_libversion (), sqlite3_errstr (rc));
      return FALSE;
    }
  return TRUE;
}

const char *
nms_store_engine_version (void)
{
  return sqlite3_libversion ();
}
