/* SPDX-License-Identifier: MIT */
/* store.c: the per-origin SQLite store behind store.h: opening and
 * creating it, its schema and prepared statements, and closing it. It is
 * the top of the store: it starts every part, and no part calls it. The
 * bottom (failures, statements) is store-core.c, transactions are
 * store-txn.c, the items store-items.c and the records behind them
 * store-record.h; whole-file work (flush, integrity, backup, restore) is
 * store-files.c.
 *
 * The database runs in WAL mode so that the several host processes a
 * browser starts for one origin (one per port) read without blocking each
 * other and write one at a time.
 *
 * While anyone subscribes (store-subscribers.c), each write notes what it
 * changes for the change log (store-changes.c) before it changes it,
 * inside the same transaction; otherwise it writes blind. */
#include "store-private.h"
#include "store-changes.h"
#include "store-subscribers.h"
#include "store-crypt.h"
#include "store-names.h"
#include "store-bytes.h"
#include "store-record.h"
#include "base/error.h"
#include "base/os.h"

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
  [STMT_DATA_VERSION] = "PRAGMA data_version",
};

/* What every row of items must be, whoever writes it: a restore copies
 * rows from a file that may have been made by hand. Triggers, since
 * SQLite cannot add a CHECK to an existing table. A size below zero would
 * let a write through the quota; a kind other than JSON or bytes has no
 * meaning. */
static const char items_schema_sql[] =
  "CREATE TRIGGER IF NOT EXISTS items_sane_insert BEFORE INSERT ON items"
  "  WHEN NEW.kind NOT IN (0, 1) OR typeof (NEW.size) != 'integer' OR NEW.size < 0"
  "  BEGIN SELECT RAISE (ABORT, 'an item with an unknown kind or a negative size'); END;"
  "CREATE TRIGGER IF NOT EXISTS items_sane_update BEFORE UPDATE ON items"
  "  WHEN NEW.kind NOT IN (0, 1) OR typeof (NEW.size) != 'integer' OR NEW.size < 0"
  "  BEGIN SELECT RAISE (ABORT, 'an item with an unknown kind or a negative size'); END;";

/* The size column is Chrome's count of each item; their sum, the bytes in
 * use, is never kept in the file (store-bytes.c). */
static const char schema_sql[] =
  "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS items ("
  "  id    INTEGER PRIMARY KEY,"
  "  key   TEXT NOT NULL UNIQUE,"
  "  kind  INTEGER NOT NULL,"
  "  size  INTEGER NOT NULL,"
  "  value BLOB NOT NULL);"
  "INSERT OR IGNORE INTO meta (name, value) VALUES ('flushes', 0);";

/* Schemas 1 to 5 kept the sum in meta, by triggers: one more page in
 * every commit that changed a size. Schema 6 drops them, and the row. */
static const char drop_counter_sql[] =
  "DROP TRIGGER IF EXISTS items_bytes_insert;"
  "DROP TRIGGER IF EXISTS items_bytes_delete;"
  "DROP TRIGGER IF EXISTS items_bytes_update;"
  "DELETE FROM meta WHERE name = 'bytes_in_use';";

static gboolean
open_db (NmsStore *store, GError **error)
{
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
  int rc = sqlite3_open_v2 (store->path, &store->db, flags, NULL);
  int i;

  if (rc != SQLITE_OK)
    return _nms_store_fail (store, rc, "open the store", error);
  if (!_nms_store_watch_file (store, error))
    return FALSE;
  sqlite3_extended_result_codes (store->db, 1);
  _nms_store_names_watch (store);
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
      return _nms_store_fail (store, rc, "switch the store to WAL mode", error);
  }
  if (!_nms_store_exec (store, store->options.durability == NMS_DURABILITY_FULL
                      ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
             "set the durability", error))
    return FALSE;
  {
    g_autofree char *limit = g_strdup_printf ("PRAGMA journal_size_limit = %d", WAL_SIZE_LIMIT);
    if (!_nms_store_exec (store, limit, "limit the WAL size", error))
      return FALSE;
  }

  /* Two hosts may create the same store at once: the schema is made under
   * the write lock, and made only once. */
  if (!_nms_store_exec (store, "BEGIN IMMEDIATE", "lock the new store", error))
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
        _nms_store_exec (store, "ROLLBACK", "roll back", NULL);
        return _nms_store_fail (store, rc, "read the store's schema version", error);
      }
    if (version > NMS_STORE_SCHEMA)
      {
        _nms_store_exec (store, "ROLLBACK", "roll back", NULL);
        g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                     "%s has schema version %d, newer than this nmstore understands (%d); upgrade nmstore",
                     store->path, version, NMS_STORE_SCHEMA);
        return FALSE;
      }
    /* Each step brings the previous version up to date, under the same
     * write lock, so a version-1 file gains the change log, a version-2
     * file the subscribers table and a version-5 file loses the byte
     * counter, in place. */
    if (version < NMS_STORE_SCHEMA)
      {
        g_autofree char *user_version = g_strdup_printf ("PRAGMA user_version = %d", NMS_STORE_SCHEMA);
        if ((version < 1 && !_nms_store_exec (store, schema_sql, "create the store's tables", error))
            || (version < 2 && !_nms_store_exec (store, nms_store_log_schema_sql, "add the change log", error))
            || (version < 3 && !_nms_store_exec (store, nms_store_subscribers_schema_sql,
                                                "add the subscribers table", error))
            || (version >= 1 && version < 4 && !_nms_store_items_canonicalize (store, FALSE, error))
            || (version < 4 && !_nms_store_exec (store, items_schema_sql, "add the items' checks", error))
            || (version >= 1 && version < 6 && !_nms_store_exec (store, drop_counter_sql,
                                                                 "remove the byte counter from the file", error))
            || !_nms_store_exec (store, user_version, "record the schema version", error))
          {
            _nms_store_exec (store, "ROLLBACK", "roll back", NULL);
            return FALSE;
          }
      }
    if (!_nms_store_exec (store, "COMMIT", "create the store", error))
      {
        _nms_store_exec (store, "ROLLBACK", "roll back", NULL);
        return FALSE;
      }
  }

  /* Temporary data is kept in files (unlinked at once), as Debian's SQLite
   * does by default, whatever another build's default: VACUUM after an
   * encrypt builds its copy there (store-sealed.c). Set before the counter
   * is made, because changing temp_store drops every TEMP table. */
  if (!_nms_store_exec (store, "PRAGMA temp_store = FILE", "keep temporary data in a file", error)
      || !_nms_store_bytes_open (store, error))
    return FALSE;
  store->stmts = g_new0 (sqlite3_stmt *, N_STMTS);
  for (i = 0; i < N_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (store->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &store->stmts[i], NULL);
      if (rc != SQLITE_OK)
        return _nms_store_fail (store, rc, "prepare the store's queries", error);
    }
  return _nms_store_log_open (store, error) && _nms_store_subscribers_open (store, error)
         && _nms_store_crypt_refresh (store, error);
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
  store->file_fd = -1;
  /* Set here, at the top, so that the parts below choose between them
   * (_nms_store_records) without calling up into either. */
  store->plain_records = &nms_store_plain_records;
  store->sealed_records = &nms_store_sealed_records;
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
      if (!_nms_store_exec (store, sql, "record the store's origin", error))
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
  _nms_store_log_close (store);
  _nms_store_subscribers_close (store);
  _nms_store_names_unwatch (store);
  _nms_store_crypt_clear (store);
  for (i = 0; store->stmts != NULL && i < N_STMTS; i++)
    sqlite3_finalize (store->stmts[i]);
  for (i = 0; i < (int) G_N_ELEMENTS (store->bytes_stmts); i++)
    sqlite3_finalize (store->bytes_stmts[i]);
  g_free (store->stmts);
  if (store->db != NULL)
    sqlite3_close_v2 (store->db);
  if (store->file_fd >= 0)
    nms_os_close (store->file_fd);
  g_free (store->scrub_note);
  g_free (store->dir);
  g_free (store->path);
  g_free (store);
}
