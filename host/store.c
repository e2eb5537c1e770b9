/* SPDX-License-Identifier: MIT */
/* store.c: the per-origin SQLite store behind store.h: opening and
 * creating it, its prepared statements, turning SQLite's failures into
 * errors, and transactions. The items themselves are in store-items.c,
 * whole-file work (flush, integrity, backup, restore) in store-files.c.
 *
 * The database runs in WAL mode so that the several host processes a
 * browser starts for one origin (one per port) read without blocking each
 * other and write one at a time. Writers always take the write lock up
 * front (BEGIN IMMEDIATE): a read transaction that later upgrades can fail
 * with SQLITE_BUSY_SNAPSHOT without ever calling the busy handler, and that
 * would surface busy errors to the browser.
 *
 * While anyone subscribes (store-subscribers.c), each write notes what it
 * changes for the change log (store-changes.c) before it changes it,
 * inside the same transaction; otherwise it writes blind. */
#include "store-private.h"
#include "nmstore/error.h"
#include "nmstore/os.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define DEFAULT_BUSY_TIMEOUT_MS 30000
/* A WAL larger than this is cut back after a checkpoint. */
#define WAL_SIZE_LIMIT (16 * 1024 * 1024)


static const char *const stmt_sql[N_STMTS] = {
  [STMT_GET] = "SELECT kind, value FROM items WHERE key = ?1",
  [STMT_UPSERT] = "INSERT INTO items (key, kind, size, value) VALUES (?1, ?2, ?3, ?4) "
                  "ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, size = excluded.size, "
                  "value = excluded.value",
  [STMT_DELETE] = "DELETE FROM items WHERE key = ?1",
  [STMT_SCAN_ITEMS] = "SELECT key, kind, value FROM items ORDER BY key",
  [STMT_SCAN_ITEMS_RANGE] = "SELECT key, kind, value FROM items WHERE key >= ?1 AND key < ?2 ORDER BY key",
  [STMT_SCAN_KEYS] = "SELECT key FROM items ORDER BY key",
  [STMT_SCAN_KEYS_RANGE] = "SELECT key FROM items WHERE key >= ?1 AND key < ?2 ORDER BY key",
  [STMT_SIZE_OF] = "SELECT size FROM items WHERE key = ?1",
  [STMT_TOTAL] = "SELECT value FROM meta WHERE name = 'bytes_in_use'",
  [STMT_CLEAR] = "DELETE FROM items",
  [STMT_CLEAR_RANGE] = "DELETE FROM items WHERE key >= ?1 AND key < ?2",
  /* Transaction control runs for every request of a batch, so it is
   * prepared once too instead of being parsed by sqlite3_exec each time. */
  [STMT_BEGIN_WRITE] = "BEGIN IMMEDIATE",
  [STMT_BEGIN_READ] = "BEGIN DEFERRED",
  [STMT_COMMIT] = "COMMIT",
  [STMT_SAVEPOINT] = "SAVEPOINT op",
  [STMT_RELEASE] = "RELEASE op",
  [STMT_UNDO] = "ROLLBACK TO op",
  /* Every write request of a batch opens and ends one of these. */
  [STMT_SAVEPOINT_REQUEST] = "SAVEPOINT request",
  [STMT_RELEASE_REQUEST] = "RELEASE request",
  [STMT_UNDO_REQUEST] = "ROLLBACK TO request",
};

/* The byte counter is kept by triggers so that every path that changes
 * items, now or later, keeps getBytesInUse and the quota exact. */
static const char schema_sql[] =
  "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS items ("
  "  id    INTEGER PRIMARY KEY,"
  "  key   TEXT NOT NULL UNIQUE,"
  "  kind  INTEGER NOT NULL,"
  "  size  INTEGER NOT NULL,"
  "  value BLOB NOT NULL);"
  "CREATE TRIGGER IF NOT EXISTS items_bytes_insert AFTER INSERT ON items BEGIN"
  "  UPDATE meta SET value = value + NEW.size WHERE name = 'bytes_in_use'; END;"
  "CREATE TRIGGER IF NOT EXISTS items_bytes_delete AFTER DELETE ON items BEGIN"
  "  UPDATE meta SET value = value - OLD.size WHERE name = 'bytes_in_use'; END;"
  "CREATE TRIGGER IF NOT EXISTS items_bytes_update AFTER UPDATE OF size ON items BEGIN"
  "  UPDATE meta SET value = value - OLD.size + NEW.size WHERE name = 'bytes_in_use'; END;"
  "INSERT OR IGNORE INTO meta (name, value) VALUES ('bytes_in_use', 0), ('flushes', 0);";

/* Turns an SQLite failure into an NMS_ERROR a person can act on. */
gboolean
nms_store_fail (NmsStore *store, int rc, const char *doing, GError **error)
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
nms_store_exec (NmsStore *store, const char *sql, const char *doing, GError **error)
{
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK || nms_store_fail (store, rc, doing, error);
}

sqlite3_stmt *
nms_store_stmt (NmsStore *store, int which)
{
  sqlite3_stmt *s = store->stmts[which];
  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  return s;
}

/* The byte counter the schema's triggers keep: the sum of the items'
 * size column, whatever form the records have. */
gboolean
nms_store_bytes_total (NmsStore *store, guint64 *total, GError **error)
{
  sqlite3_stmt *s = nms_store_stmt (store, STMT_TOTAL);
  int rc = sqlite3_step (s);
  gint64 value = rc == SQLITE_ROW ? sqlite3_column_int64 (s, 0) : 0;

  sqlite3_reset (s);
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? (*total = 0, TRUE) : nms_store_fail (store, rc, "count the bytes in use", error);
  *total = value > 0 ? (guint64) value : 0;
  return TRUE;
}

/* Runs a prepared transaction-control statement; SQLITE_OK on success. */
static int
control (NmsStore *store, int which)
{
  sqlite3_stmt *s = store->stmts[which];
  int rc = sqlite3_step (s);

  sqlite3_reset (s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static gboolean
open_db (NmsStore *store, GError **error)
{
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
  int rc = sqlite3_open_v2 (store->path, &store->db, flags, NULL);
  int i;

  if (rc != SQLITE_OK)
    return nms_store_fail (store, rc, "open the store", error);
  sqlite3_extended_result_codes (store->db, 1);
  nms_store_names_watch (store);
  sqlite3_busy_timeout (store->db, (int) store->options.busy_timeout_ms);
  sqlite3_db_config (store->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  sqlite3_db_config (store->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

  /* Making a new database WAL needs an exclusive lock, and SQLite does not
   * call the busy handler for it (waiting there could deadlock), so two
   * hosts creating one store at once would see SQLITE_BUSY at once. Wait
   * here instead, as long as the busy handler would. */
  {
    gint64 deadline = g_get_monotonic_time () + (gint64) store->options.busy_timeout_ms * 1000;

    while (((rc = sqlite3_exec (store->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) & 0xff) == SQLITE_BUSY
           && g_get_monotonic_time () < deadline)
      g_usleep (1000);
    if (rc != SQLITE_OK)
      return nms_store_fail (store, rc, "switch the store to WAL mode", error);
  }
  if (!nms_store_exec (store, store->options.durability == NMS_DURABILITY_FULL
                      ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
             "set the durability", error))
    return FALSE;
  {
    g_autofree char *limit = g_strdup_printf ("PRAGMA journal_size_limit = %d", WAL_SIZE_LIMIT);
    if (!nms_store_exec (store, limit, "limit the WAL size", error))
      return FALSE;
  }

  /* Two hosts may create the same store at once: the schema is made under
   * the write lock, and made only once. */
  if (!nms_store_exec (store, "BEGIN IMMEDIATE", "lock the new store", error))
    return FALSE;
  {
    sqlite3_stmt *s = NULL;
    int version = 0;

    rc = sqlite3_prepare_v2 (store->db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step (s) == SQLITE_ROW)
      version = sqlite3_column_int (s, 0);
    else
      rc = sqlite3_errcode (store->db);
    sqlite3_finalize (s);
    if (rc != SQLITE_OK)
      {
        nms_store_exec (store, "ROLLBACK", "roll back", NULL);
        return nms_store_fail (store, rc, "read the store's schema version", error);
      }
    if (version > NMS_STORE_SCHEMA)
      {
        nms_store_exec (store, "ROLLBACK", "roll back", NULL);
        g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                     "%s has schema version %d, newer than this nmstore understands (%d); upgrade nmstore",
                     store->path, version, NMS_STORE_SCHEMA);
        return FALSE;
      }
    /* Each step brings the previous version up to date, under the same
     * write lock, so a version-1 file gains the change log and a version-2
     * file the subscribers table in place. */
    if (version < NMS_STORE_SCHEMA)
      {
        g_autofree char *user_version = g_strdup_printf ("PRAGMA user_version = %d", NMS_STORE_SCHEMA);
        if ((version < 1 && !nms_store_exec (store, schema_sql, "create the store's tables", error))
            || (version < 2 && !nms_store_exec (store, nms_store_log_schema_sql, "add the change log", error))
            || (version < 3 && !nms_store_exec (store, nms_store_subscribers_schema_sql,
                                                "add the subscribers table", error))
            || (version >= 1 && version < 4 && !nms_store_items_canonicalize (store, FALSE, error))
            || (version < 4 && !nms_store_exec (store, nms_store_items_schema_sql, "add the items' checks", error))
            || !nms_store_exec (store, user_version, "record the schema version", error))
          {
            nms_store_exec (store, "ROLLBACK", "roll back", NULL);
            return FALSE;
          }
      }
    if (!nms_store_exec (store, "COMMIT", "create the store", error))
      {
        nms_store_exec (store, "ROLLBACK", "roll back", NULL);
        return FALSE;
      }
  }

  store->stmts = g_new0 (sqlite3_stmt *, N_STMTS);
  for (i = 0; i < N_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (store->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &store->stmts[i], NULL);
      if (rc != SQLITE_OK)
        return nms_store_fail (store, rc, "prepare the store's queries", error);
    }
  return nms_store_log_open (store, error) && nms_store_crypt_refresh (store, error);
}

/* Opens (creating when needed) the store in directory dir. origin_name is
 * recorded in the database so that a copied file still says whose it is. */
NmsStore *
nms_store_open (const char *dir, const char *origin_name, const NmsStoreOptions *options, GError **error)
{
  g_autoptr(NmsStore) store = g_new0 (NmsStore, 1);
  g_autofree char *parent = g_path_get_dirname (dir);
  gboolean existed, root_existed = g_file_test (parent, G_FILE_TEST_IS_DIR);

  if (options != NULL)
    store->options = *options;
  if (store->options.busy_timeout_ms == 0)
    store->options.busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
  if (store->options.pad_block == 0)
    store->options.pad_block = NMS_CRYPTO_PAD_BLOCK_DEFAULT;
  if (store->options.changes_keep_rows == 0)
    store->options.changes_keep_rows = NMS_STORE_CHANGES_KEEP_ROWS;
  if (store->options.changes_keep_seconds == 0)
    store->options.changes_keep_seconds = NMS_STORE_CHANGES_KEEP_SECONDS;
  store->log.bell_fd = -1;
  store->dir = g_strdup (dir);
  store->path = g_build_filename (dir, NMS_STORE_FILE_NAME, NULL);

  if (!nms_os_make_private_dir (parent, error) || !nms_os_make_private_dir (dir, error))
    return NULL;
  existed = g_file_test (store->path, G_FILE_TEST_EXISTS);
  /* SQLite gives its -wal and -shm files the mode of the database file,
   * so the database is made 0600 before SQLite creates it, whatever the
   * caller's umask. */
  if (!existed && !nms_os_create_private_file (store->path, error))
    return NULL;
  /* Before SQLite opens it: a FIFO there would hang the open, and a
   * link would put the data elsewhere. */
  if (!nms_os_check_private (store->path, FALSE, error))
    return NULL;
  if (!open_db (store, error))
    return NULL;
  /* A host killed with SIGKILL left its subscription behind: writers would
   * log for nobody until it goes. Failing to remove it costs only that. */
  {
    g_autoptr(GError) local = NULL;
    guint n_removed;

    if (!nms_store_forget_dead_subscribers (store, &n_removed, &local))
      g_warning ("cannot remove the subscriptions of host processes that are gone (writes stay "
                 "slower until they are): %s", local->message);
    else if (n_removed > 0)
      g_info ("removed %u subscriptions of host processes that are gone", n_removed);
  }
  if (!existed)
    {
      g_autofree char *sql = NULL;
      char *quoted = sqlite3_mprintf ("%Q", origin_name ? origin_name : "");

      sql = g_strdup_printf ("INSERT OR IGNORE INTO meta (name, value) VALUES ('origin', %s)", quoted);
      sqlite3_free (quoted);
      if (!nms_store_exec (store, sql, "record the store's origin", error))
        return NULL;
      /* The new file's directory entry must itself reach the disk, and so
       * must the origin directory's entry in the data root (and the data
       * root's, when it is new too): until a sync of its parent a new
       * directory can vanish in a power cut, flushed writes and all. */
      if (!nms_os_fsync_dir (dir, error) || !nms_os_fsync_dir (parent, error))
        return NULL;
      if (!root_existed)
        {
          /* Not ours, and perhaps not readable: as well as it can. */
          g_autofree char *above = g_path_get_dirname (parent);
          nms_os_fsync_dir (above, NULL);
        }
    }
  else
    {
      g_autoptr(GError) local = NULL;

      /* A conversion that committed but did not finish rewriting the file
       * may have left old plaintext behind: finish it now. */
      if (!nms_store_scrub_if_pending (store, &local))
        g_warning ("%s", local->message);
    }
  nms_store_keep_reserve (store);
  return g_steal_pointer (&store);
}

void
nms_store_free (NmsStore *store)
{
  int i;

  if (store == NULL)
    return;
  nms_store_log_close (store);
  nms_store_names_unwatch (store);
  nms_store_crypt_clear (store);
  for (i = 0; store->stmts != NULL && i < N_STMTS; i++)
    sqlite3_finalize (store->stmts[i]);
  g_free (store->stmts);
  if (store->db != NULL)
    sqlite3_close_v2 (store->db);
  g_free (store->scrub_note);
  g_free (store->dir);
  g_free (store->path);
  g_free (store);
}

const char *
nms_store_path (NmsStore *store)
{
  return store->path;
}

/* A transaction that fails to commit is rolled back: nothing of it may
 * stay behind to be committed by a later, unrelated write. */
static void
rollback_transaction (NmsStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  nms_store_log_after_rollback (store);
}

static gboolean
commit_transaction (NmsStore *store, GError **error)
{
  int rc = control (store, STMT_COMMIT);

  if (rc == SQLITE_OK)
    {
      nms_store_log_after_commit (store);
      return TRUE;
    }
  nms_store_fail (store, rc, "commit", error);
  rollback_transaction (store);
  return FALSE;
}

/* Ends a savepoint (release and undo: its prepared statements), keeping
 * its work when ok. */
static gboolean
savepoint_end (NmsStore *store, int release, int undo, gboolean ok, GError **error)
{
  int rc;

  if (!ok)
    {
      /* The rollback hook does not see this, and the undone writes may
       * have edited the names in memory. */
      nms_store_names_drop (store);
      control (store, undo);
      control (store, release);
      return FALSE;
    }
  rc = control (store, release);
  return rc == SQLITE_OK || nms_store_fail (store, rc, "finish a write", error);
}

/* TRUE when the file at the store's path is no longer the one this handle
 * has open (deleted, or replaced by another): what is written through the
 * handle would go to a file that nobody will ever read again. */
gboolean
nms_store_has_moved (NmsStore *store)
{
  int moved = 0;

  if (sqlite3_file_control (store->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
    return FALSE;
  return moved != 0;
}

gboolean
nms_store_begin (NmsStore *store, gboolean write, GError **error)
{
  int rc;

  g_return_val_if_fail (!store->in_batch && !store->log.in_request, FALSE);
  rc = control (store, write ? STMT_BEGIN_WRITE : STMT_BEGIN_READ);
  if (rc != SQLITE_OK)
    return nms_store_fail (store, rc, "start a transaction", error);
  /* The transaction's first read: what it sees of the envelope is what
   * its items are. */
  if (!nms_store_crypt_refresh (store, error))
    {
      rollback_transaction (store);
      return FALSE;
    }
  store->in_batch = TRUE;
  store->log.listening = NMS_LISTENING_UNKNOWN;
  return TRUE;
}

gboolean
nms_store_commit (NmsStore *store, GError **error)
{
  g_return_val_if_fail (store->in_batch, FALSE);
  store->in_batch = FALSE;
  return commit_transaction (store, error);
}

void
nms_store_rollback (NmsStore *store)
{
  store->in_batch = FALSE;
  rollback_transaction (store);
}

/* Starts one request: every write until nms_store_changes_end() is kept
 * or undone together and recorded as one change-log row, so that one
 * protocol request that calls the store several times is one event. */
gboolean
nms_store_changes_begin (NmsStore *store, GError **error)
{
  gboolean own = !store->in_batch;

  g_return_val_if_fail (!store->log.in_request, FALSE);
  int rc = control (store, own ? STMT_BEGIN_WRITE : STMT_SAVEPOINT_REQUEST);

  if (rc != SQLITE_OK)
    return nms_store_fail (store, rc, "start a write", error);
  if (own)
    store->log.listening = NMS_LISTENING_UNKNOWN;
  if (own && !nms_store_crypt_refresh (store, error))
    {
      rollback_transaction (store);
      return FALSE;
    }
  store->log.request_owns_transaction = own;
  nms_store_log_request_begin (store);
  return TRUE;
}

/* Keeps (records, then commits or releases) or undoes the request. FALSE
 * with error when a request to keep could not be kept; then it is undone. */
gboolean
nms_store_changes_end (NmsStore *store, gboolean keep, GError **error)
{
  gboolean own = store->log.request_owns_transaction;
  gboolean ok;

  g_return_val_if_fail (store->log.in_request, FALSE);
  ok = nms_store_log_request_end (store, keep, error) && keep;
  if (own)
    {
      if (ok)
        return commit_transaction (store, error);
      rollback_transaction (store);
      return !keep;
    }
  return savepoint_end (store, STMT_RELEASE_REQUEST, STMT_UNDO_REQUEST, ok, error) || !keep;
}

/* Several calls that must succeed or fail as one (a session op that
 * rewrites the index and removes keys). Inside a request, which the
 * protocol opens around every write op, they already do: the request is
 * undone as a whole when the op fails. Outside one, the outermost group
 * is a request of its own. */
gboolean
nms_store_group_begin (NmsStore *store, GError **error)
{
  if (store->groups == 0 && !store->log.in_request)
    {
      if (!nms_store_changes_begin (store, error))
        return FALSE;
      store->group_owns_request = TRUE;
    }
  store->groups++;
  return TRUE;
}

gboolean
nms_store_group_end (NmsStore *store, gboolean ok, GError **error)
{
  g_return_val_if_fail (store->groups > 0, FALSE);
  if (--store->groups == 0 && store->group_owns_request)
    {
      store->group_owns_request = FALSE;
      return nms_store_changes_end (store, ok, error) && ok;
    }
  return ok;
}

/* Each mutating call runs in a savepoint inside a batch or a request, or
 * in its own write transaction otherwise, so that it is atomic either way. */
gboolean
nms_store_nested (NmsStore *store)
{
  return store->in_batch || store->log.in_request;
}

static gboolean
op_begin (NmsStore *store, gboolean needs_key, GError **error)
{
  int rc = control (store, nms_store_nested (store) ? STMT_SAVEPOINT : STMT_BEGIN_WRITE);

  if (rc != SQLITE_OK)
    return nms_store_fail (store, rc, "start a write", error);
  if (!nms_store_nested (store))
    store->log.listening = NMS_LISTENING_UNKNOWN;
  /* Under the write lock, so that no encrypt or decrypt slips in between
   * reading the envelope and writing in its form. */
  if ((!nms_store_nested (store) && !nms_store_crypt_refresh (store, error))
      || (needs_key && !nms_store_crypt_ready (store, error)))
    {
      if (nms_store_nested (store))
        savepoint_end (store, STMT_RELEASE, STMT_UNDO, FALSE, NULL);
      else
        rollback_transaction (store);
      return FALSE;
    }
  nms_store_summary_begin (store);
  nms_store_log_call_begin (store);
  return TRUE;
}

gboolean
nms_store_op_begin (NmsStore *store, GError **error)
{
  return op_begin (store, TRUE, error);
}

/* For a write that moves records as they are stored and reads none
 * (restore): it needs no key, so a locked origin can be restored, even by
 * someone who no longer knows its current passphrase. */
gboolean
nms_store_op_begin_keyless (NmsStore *store, GError **error)
{
  return op_begin (store, FALSE, error);
}

gboolean
nms_store_op_end (NmsStore *store, gboolean ok, GError **error)
{
  /* An encrypted store's summary of its records changes with them, in
   * the same transaction (store-summary.c). */
  ok = nms_store_summary_end (store, ok, error);
  ok = nms_store_log_call_end (store, ok, error);
  if (nms_store_nested (store))
    {
      int rc;

      if (!ok)
        return savepoint_end (store, STMT_RELEASE, STMT_UNDO, FALSE, error);
      rc = control (store, STMT_RELEASE);
      return rc == SQLITE_OK || nms_store_fail (store, rc, "finish a write", error);
    }
  if (!ok)
    {
      rollback_transaction (store);
      return FALSE;
    }
  return commit_transaction (store, error);
}

const char *
nms_store_engine_version (void)
{
  return sqlite3_libversion ();
}
