/* store.c: the per-origin SQLite store behind store.h.
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

enum {
  STMT_GET,
  STMT_UPSERT,
  STMT_DELETE,
  STMT_SCAN_ITEMS,
  STMT_SCAN_ITEMS_RANGE,
  STMT_SCAN_KEYS,
  STMT_SCAN_KEYS_RANGE,
  STMT_SIZE_OF,
  STMT_TOTAL,
  STMT_CLEAR,
  STMT_CLEAR_RANGE,
  STMT_BEGIN_WRITE,
  STMT_BEGIN_READ,
  STMT_COMMIT,
  STMT_SAVEPOINT,
  STMT_RELEASE,
  STMT_UNDO,
  STMT_SAVEPOINT_REQUEST,
  STMT_RELEASE_REQUEST,
  STMT_UNDO_REQUEST,
  N_STMTS
};

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
  if (os_error != 0 && primary != SQLITE_FULL)
    detail = with_os_error = g_strdup_printf ("%s: %s", detail, g_strerror (os_error));

  switch (primary)
    {
    case SQLITE_FULL:
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

static sqlite3_stmt *
stmt (NmsStore *store, int which)
{
  sqlite3_stmt *s = store->stmts[which];
  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  return s;
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

gboolean
nms_store_check_key (const char *key, gsize key_len, GError **error)
{
  if (key_len == 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_KEY, "a key must not be empty");
      return FALSE;
    }
  if (key_len > NMS_STORE_MAX_KEY_BYTES)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_KEY, "a key of %" G_GSIZE_FORMAT " bytes is longer than the %u allowed",
                   key_len, NMS_STORE_MAX_KEY_BYTES);
      return FALSE;
    }
  if (memchr (key, '\0', key_len) != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_KEY, "a key must not contain the character U+0000");
      return FALSE;
    }
  return TRUE;
}

/* Chrome's rule: UTF-8 key bytes plus the value's compact JSON text. Bytes
 * count as their {"$bytes":"<base64>"} form. */
guint64
nms_store_item_bytes (NmsValueKind kind, gsize key_len, gsize value_len)
{
  if (kind == NMS_VALUE_BYTES)
    return key_len + strlen ("{\"$bytes\":\"\"}") + 4 * ((value_len + 2) / 3);
  return key_len + value_len;
}

/* The smallest string above every string that starts with prefix. UTF-8
 * never contains 0xFF, so bumping the last byte cannot overflow. */
static char *
prefix_upper_bound (const char *prefix, gsize len)
{
  char *upper = g_strndup (prefix, len);
  upper[len - 1] = (char) ((guint8) upper[len - 1] + 1);
  return upper;
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
  gboolean existed;

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
  if (!nms_os_check_private (store->path, FALSE, error))
    return NULL;
  if (!existed)
    {
      g_autofree char *sql = NULL;
      char *quoted = sqlite3_mprintf ("%Q", origin_name ? origin_name : "");

      sql = g_strdup_printf ("INSERT OR IGNORE INTO meta (name, value) VALUES ('origin', %s)", quoted);
      sqlite3_free (quoted);
      if (!nms_store_exec (store, sql, "record the store's origin", error))
        return NULL;
      /* The new file's directory entry must itself reach the disk. */
      if (!nms_os_fsync_dir (dir, error))
        return NULL;
    }
  else
    {
      g_autoptr(GError) local = NULL;

      /* A conversion that committed but did not finish rewriting the file
       * may have left old plaintext behind: finish it now. */
      if (!nms_store_scrub_if_pending (store, &local))
        g_warning ("%s", local->message);
    }
  return g_steal_pointer (&store);
}

void
nms_store_free (NmsStore *store)
{
  int i;

  if (store == NULL)
    return;
  nms_store_log_close (store);
  nms_store_crypt_clear (store);
  for (i = 0; store->stmts != NULL && i < N_STMTS; i++)
    sqlite3_finalize (store->stmts[i]);
  g_free (store->stmts);
  if (store->db != NULL)
    sqlite3_close_v2 (store->db);
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
static gboolean
nested (NmsStore *store)
{
  return store->in_batch || store->log.in_request;
}

gboolean
nms_store_op_begin (NmsStore *store, GError **error)
{
  int rc = control (store, nested (store) ? STMT_SAVEPOINT : STMT_BEGIN_WRITE);

  if (rc != SQLITE_OK)
    return nms_store_fail (store, rc, "start a write", error);
  if (!nested (store))
    store->log.listening = NMS_LISTENING_UNKNOWN;
  /* Under the write lock, so that no encrypt or decrypt slips in between
   * reading the envelope and writing in its form. */
  if ((!nested (store) && !nms_store_crypt_refresh (store, error)) || !nms_store_crypt_ready (store, error))
    {
      if (nested (store))
        savepoint_end (store, STMT_RELEASE, STMT_UNDO, FALSE, NULL);
      else
        rollback_transaction (store);
      return FALSE;
    }
  nms_store_log_call_begin (store);
  return TRUE;
}

gboolean
nms_store_op_end (NmsStore *store, gboolean ok, GError **error)
{
  ok = nms_store_log_call_end (store, ok, error);
  if (nested (store))
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

static gboolean
bind_prefix (sqlite3_stmt *s, const char *prefix, char **upper)
{
  gsize len = strlen (prefix);

  *upper = prefix_upper_bound (prefix, len);
  sqlite3_bind_text (s, 1, prefix, (int) len, SQLITE_STATIC);
  sqlite3_bind_text (s, 2, *upper, (int) len, SQLITE_STATIC);
  return TRUE;
}

static gboolean
row_kind (NmsStore *store, sqlite3_stmt *s, int column, NmsValueKind *kind, GError **error)
{
  int k = sqlite3_column_int (s, column);

  if (k != NMS_VALUE_JSON && k != NMS_VALUE_BYTES)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "an item in %s has an unknown value kind %d; restore the store from a backup",
                   store->path, k);
      return FALSE;
    }
  *kind = (NmsValueKind) k;
  return TRUE;
}

gboolean
nms_store_get (NmsStore *store, const char *key, gsize key_len,
               NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  sqlite3_stmt *s;
  NmsItem item = { .key = key, .key_len = key_len };
  int rc;
  gboolean ok = TRUE;

  if (nms_store_encrypted (store))
    return nms_store_crypt_get (store, key, key_len, visit, user_data, error);
  s = stmt (store, STMT_GET);
  sqlite3_bind_text (s, 1, key, (int) key_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      ok = row_kind (store, s, 0, &item.kind, error);
      if (ok)
        {
          item.value = sqlite3_column_blob (s, 1);
          item.value_len = (gsize) sqlite3_column_bytes (s, 1);
          ok = visit (&item, user_data, error);
        }
    }
  else if (rc != SQLITE_DONE)
    ok = nms_store_fail (store, rc, "read an item", error);
  sqlite3_reset (s);
  return ok;
}

/* Visits every item whose key starts with prefix (every item when prefix
 * is NULL or empty), in byte order of the keys. */
gboolean
nms_store_scan (NmsStore *store, const char *prefix, gboolean with_values,
                NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  gboolean ranged = prefix != NULL && *prefix != '\0';
  int which = with_values ? (ranged ? STMT_SCAN_ITEMS_RANGE : STMT_SCAN_ITEMS)
                          : (ranged ? STMT_SCAN_KEYS_RANGE : STMT_SCAN_KEYS);
  sqlite3_stmt *s;
  g_autofree char *upper = NULL;
  gboolean ok = TRUE;
  int rc;

  if (nms_store_encrypted (store))
    return nms_store_crypt_visit (store, prefix, visit, user_data, error);
  s = stmt (store, which);
  if (ranged)
    bind_prefix (s, prefix, &upper);
  while (ok && (rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      NmsItem item = { 0 };

      item.key = (const char *) sqlite3_column_text (s, 0);
      item.key_len = (gsize) sqlite3_column_bytes (s, 0);
      if (with_values)
        {
          ok = row_kind (store, s, 1, &item.kind, error);
          item.value = sqlite3_column_blob (s, 2);
          item.value_len = (gsize) sqlite3_column_bytes (s, 2);
        }
      ok = ok && visit (&item, user_data, error);
    }
  if (ok && rc != SQLITE_DONE)
    ok = nms_store_fail (store, rc, "list the items", error);
  sqlite3_reset (s);
  return ok;
}

static gboolean
read_total (NmsStore *store, guint64 *total, GError **error)
{
  sqlite3_stmt *s = stmt (store, STMT_TOTAL);
  int rc = sqlite3_step (s);
  gint64 value = rc == SQLITE_ROW ? sqlite3_column_int64 (s, 0) : 0;

  sqlite3_reset (s);
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? (*total = 0, TRUE) : nms_store_fail (store, rc, "count the bytes in use", error);
  *total = value > 0 ? (guint64) value : 0;
  return TRUE;
}

static gboolean
value_ref_equal (const NmsValueRef *a, const NmsValueRef *b)
{
  if (a->present != b->present)
    return FALSE;
  return !a->present || (a->kind == b->kind && a->value_len == b->value_len
                         && (a->value_len == 0 || memcmp (a->value, b->value, a->value_len) == 0));
}

/* Notes for the change log that key is about to become `after`, reading
 * the value it has now; *changed is FALSE when that is the same value. */
static gboolean
note_change (NmsStore *store, const char *key, gsize key_len, const NmsValueRef *after,
             gboolean *changed, GError **error)
{
  sqlite3_stmt *s;
  NmsValueRef before = { 0 };
  gboolean ok = TRUE;
  int rc;

  if (nms_store_encrypted (store))
    return nms_store_crypt_note_change (store, key, key_len, after, changed, error);
  s = stmt (store, STMT_GET);
  sqlite3_bind_text (s, 1, key, (int) key_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      before.present = TRUE;
      ok = row_kind (store, s, 0, &before.kind, error);
      before.value = sqlite3_column_blob (s, 1);
      before.value_len = (gsize) sqlite3_column_bytes (s, 1);
    }
  else if (rc != SQLITE_DONE)
    ok = nms_store_fail (store, rc, "read an item's current value", error);
  *changed = ok && !value_ref_equal (&before, after);
  if (*changed)
    nms_store_log_note (store, key, key_len, &before, after);
  sqlite3_reset (s);
  return ok;
}

gboolean
nms_store_set (NmsStore *store, const NmsItem *items, gsize n_items, GError **error)
{
  guint64 before = 0, after = 0;
  gboolean ok, logging = FALSE;
  gsize i;

  if (!nms_store_op_begin (store, error))
    return FALSE;
  ok = nms_store_log_wanted (store, &logging, error)
       && (store->options.quota_bytes == 0 || read_total (store, &before, error));
  for (i = 0; ok && i < n_items; i++)
    ok = nms_store_check_key (items[i].key, items[i].key_len, error);
  for (i = 0; ok && i < n_items; i++)
    {
      const NmsItem *item = &items[i];
      NmsValueRef next = { TRUE, item->kind, item->value, item->value_len };
      gboolean changed;
      sqlite3_stmt *s;
      int rc;

      /* Chrome reports no change for a value set to itself; skipping the
       * write too keeps the byte counter and the WAL untouched. Without a
       * subscriber the old value is not read: the upsert finds the row
       * anyway, and rewriting a value with itself changes nothing. */
      if (logging && (!(ok = note_change (store, item->key, item->key_len, &next, &changed, error)) || !changed))
        continue;
      if (nms_store_encrypted (store))
        {
          ok = nms_store_crypt_put (store, item, error);
          continue;
        }
      s = stmt (store, STMT_UPSERT);
      sqlite3_bind_text (s, 1, item->key, (int) item->key_len, SQLITE_STATIC);
      sqlite3_bind_int (s, 2, item->kind);
      sqlite3_bind_int64 (s, 3, (gint64) nms_store_item_bytes (item->kind, item->key_len, item->value_len));
      sqlite3_bind_blob64 (s, 4, item->value_len ? item->value : (const void *) "", item->value_len, SQLITE_STATIC);
      rc = sqlite3_step (s);
      sqlite3_reset (s);
      if (rc != SQLITE_DONE)
        ok = nms_store_fail (store, rc, "write an item", error);
    }
  if (ok && store->options.quota_bytes > 0)
    {
      ok = read_total (store, &after, error);
      /* A store already over a lowered quota may still shrink. */
      if (ok && after > store->options.quota_bytes && after > before)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_QUOTA,
                       "this write would use %" G_GUINT64_FORMAT " bytes, over the origin's quota of %"
                       G_GUINT64_FORMAT " bytes; remove items or raise quota_bytes in nmstore.conf",
                       after, store->options.quota_bytes);
          ok = FALSE;
        }
    }
  return nms_store_op_end (store, ok, error) && ok;
}

gboolean
nms_store_remove (NmsStore *store, const char *const *keys, gsize n_keys, GError **error)
{
  gboolean ok, logging = FALSE;
  gsize i;

  if (!nms_store_op_begin (store, error))
    return FALSE;
  ok = nms_store_log_wanted (store, &logging, error);
  for (i = 0; ok && i < n_keys; i++)
    {
      const NmsValueRef absent = { 0 };
      gboolean changed;
      sqlite3_stmt *s;
      int rc;

      if (logging && (!(ok = note_change (store, keys[i], strlen (keys[i]), &absent, &changed, error)) || !changed))
        continue;
      if (nms_store_encrypted (store))
        {
          ok = nms_store_crypt_delete (store, keys[i], strlen (keys[i]), error);
          continue;
        }
      s = stmt (store, STMT_DELETE);
      sqlite3_bind_text (s, 1, keys[i], -1, SQLITE_STATIC);
      rc = sqlite3_step (s);
      sqlite3_reset (s);
      if (rc != SQLITE_DONE)
        ok = nms_store_fail (store, rc, "remove an item", error);
    }
  return nms_store_op_end (store, ok, error) && ok;
}

static gboolean
note_removal (const NmsItem *item, gpointer user_data, GError **error)
{
  const NmsValueRef before = { TRUE, item->kind, item->value, item->value_len };
  const NmsValueRef absent = { 0 };

  nms_store_log_note (user_data, item->key, item->key_len, &before, &absent);
  return TRUE;
}

gboolean
nms_store_clear (NmsStore *store, const char *prefix, GError **error)
{
  gboolean ranged = prefix != NULL && *prefix != '\0';
  sqlite3_stmt *s;
  g_autofree char *upper = NULL;
  gboolean ok = TRUE, logging = FALSE;
  int rc;

  if (!nms_store_op_begin (store, error))
    return FALSE;
  if (!nms_store_log_wanted (store, &logging, error)
      || (logging && !nms_store_scan (store, prefix, TRUE, note_removal, store, error)))
    return nms_store_op_end (store, FALSE, error);
  if (ranged && nms_store_encrypted (store))
    {
      ok = nms_store_crypt_clear_prefix (store, prefix, error);
      return nms_store_op_end (store, ok, error) && ok;
    }
  s = stmt (store, ranged ? STMT_CLEAR_RANGE : STMT_CLEAR);
  if (ranged)
    bind_prefix (s, prefix, &upper);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    ok = nms_store_fail (store, rc, "clear items", error);
  return nms_store_op_end (store, ok, error) && ok;
}

/* Sums Chrome's byte count over keys that exist; keys == NULL means the
 * whole store. The caller passes each key once. */
gboolean
nms_store_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys,
                        guint64 *bytes, GError **error)
{
  guint64 sum = 0;
  gsize i;

  if (nms_store_encrypted (store))
    return nms_store_crypt_bytes_in_use (store, keys, n_keys, bytes, error);
  if (keys == NULL)
    return read_total (store, bytes, error);
  for (i = 0; i < n_keys; i++)
    {
      sqlite3_stmt *s = stmt (store, STMT_SIZE_OF);
      int rc;

      sqlite3_bind_text (s, 1, keys[i], -1, SQLITE_STATIC);
      rc = sqlite3_step (s);
      if (rc == SQLITE_ROW)
        sum += (guint64) sqlite3_column_int64 (s, 0);
      sqlite3_reset (s);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return nms_store_fail (store, rc, "count the bytes in use", error);
    }
  *bytes = sum;
  return TRUE;
}

/* In WAL mode a commit under synchronous=FULL syncs the whole WAL, and so
 * every transaction committed before it by any process. A tiny counted
 * write is that commit; the checkpoints that moved older frames into the
 * database already synced them. */
gboolean
nms_store_flush (NmsStore *store, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (!store->in_batch, FALSE);
  if (store->options.durability != NMS_DURABILITY_FULL
      && !nms_store_exec (store, "PRAGMA synchronous = FULL", "make the next commit durable", error))
    return FALSE;
  ok = nms_store_exec (store, "BEGIN IMMEDIATE", "start the flush", error);
  if (ok && !nms_store_exec (store, "UPDATE meta SET value = value + 1 WHERE name = 'flushes'", "flush", error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      ok = FALSE;
    }
  if (ok)
    ok = nms_store_op_end (store, TRUE, error);
  if (store->options.durability != NMS_DURABILITY_FULL)
    nms_store_exec (store, "PRAGMA synchronous = NORMAL", "restore the durability", NULL);
  return ok && nms_os_fsync_dir (store->dir, error);
}

gboolean
nms_store_check_integrity (NmsStore *store, GError **error)
{
  sqlite3_stmt *s = NULL;
  g_autoptr(GString) problems = g_string_new (NULL);
  int rc = sqlite3_prepare_v2 (store->db, "PRAGMA integrity_check", -1, &s, NULL);

  if (rc != SQLITE_OK)
    return nms_store_fail (store, rc, "check the store", error);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      const char *line = (const char *) sqlite3_column_text (s, 0);
      if (line != NULL && !g_str_equal (line, "ok"))
        g_string_append_printf (problems, "%s%s", problems->len ? "; " : "", line);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    return nms_store_fail (store, rc, "check the store", error);
  if (problems->len > 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "%s failed its integrity check: %s",
                   store->path, problems->str);
      return FALSE;
    }
  return TRUE;
}

/* A consistent copy of the whole database, taken inside one read
 * transaction while other processes keep writing; VACUUM INTO writes a
 * fresh, compact file. The copy is made under a temporary name and renamed,
 * so path is either the old file or a complete new one. */
gboolean
nms_store_backup_into (NmsStore *store, const char *path, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.partial-%d", path, nms_os_pid ());
  g_autofree char *dir = g_path_get_dirname (path);
  char *sql;
  int rc;

  g_return_val_if_fail (!nested (store), FALSE);
  g_unlink (tmp);
  sql = sqlite3_mprintf ("VACUUM INTO %Q", tmp);
  rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);
  sqlite3_free (sql);
  if (rc != SQLITE_OK)
    {
      g_unlink (tmp);
      nms_store_fail (store, rc, "copy the store", error);
      g_prefix_error (error, "backup to %s: ", path);
      return FALSE;
    }
  if (g_chmod (tmp, 0600) != 0 || g_rename (tmp, path) != 0)
    {
      int saved = errno;
      g_unlink (tmp);
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot put the backup at %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  return nms_os_fsync_dir (dir, error);
}

/* Replaces every item with those of a backup file, in one write
 * transaction, so running hosts see the old items or the new, never a mix.
 * The file must be an nmstore database of the same origin. */
gboolean
nms_store_replace_from (NmsStore *store, const char *path, const char *origin_name,
                        guint64 *n_items, GError **error)
{
  sqlite3 *src = NULL;
  sqlite3_stmt *s = NULL;
  g_autofree char *src_origin = NULL;
  int rc, version = -1;
  gboolean ok;
  char *sql;

  g_return_val_if_fail (!nested (store), FALSE);
  rc = sqlite3_open_v2 (path, &src, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (src, "SELECT (SELECT value FROM meta WHERE name = 'origin'), "
                                  "(SELECT user_version FROM pragma_user_version)", -1, &s, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      src_origin = g_strdup ((const char *) sqlite3_column_text (s, 0));
      version = sqlite3_column_int (s, 1);
      rc = SQLITE_OK;
    }
  sqlite3_finalize (s);
  sqlite3_close_v2 (src);
  if (rc != SQLITE_OK || version < 1)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "%s is not an nmstore backup (%s)", path,
                   rc != SQLITE_OK ? sqlite3_errstr (rc) : "no schema version");
      return FALSE;
    }
  if (version > NMS_STORE_SCHEMA)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "%s has schema version %d, newer than this nmstore "
                   "understands (%d); restore it with a newer nmstore", path, version, NMS_STORE_SCHEMA);
      return FALSE;
    }
  if (origin_name != NULL && g_strcmp0 (src_origin, origin_name) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_ORIGIN, "%s is a backup of %s, not of %s; one origin's data is "
                   "never restored into another's", path, src_origin ? src_origin : "an unknown origin",
                   origin_name);
      return FALSE;
    }

  sql = sqlite3_mprintf ("ATTACH %Q AS src", path);
  rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);
  sqlite3_free (sql);
  if (rc != SQLITE_OK)
    return nms_store_fail (store, rc, "open the backup", error);
  ok = nms_store_op_begin (store, error)
       && nms_store_exec (store, "DELETE FROM items", "remove the current items", error)
       && nms_store_exec (store, "INSERT INTO items (key, kind, size, value) SELECT key, kind, size, value FROM src.items",
                "copy the backup's items", error);
  if (ok)
    *n_items = (guint64) sqlite3_changes64 (store->db);
  /* Subscribers cannot be told item by item; they are told to re-read. */
  ok = ok && nms_store_log_forget (store, error);
  /* An encrypted backup's items are sealed under its own key: its
   * envelope comes along, and the store opens only with that key. */
  ok = ok && nms_store_exec (store, "DELETE FROM meta WHERE name = 'crypto'", "copy the backup's key record", error)
       && nms_store_exec (store, "INSERT INTO meta (name, value) SELECT name, value FROM src.meta WHERE name = 'crypto'",
                          "copy the backup's key record", error);
  ok = nms_store_op_end (store, ok, error) && ok;
  sqlite3_exec (store->db, "DETACH src", NULL, NULL, NULL);
  return ok;
}

const char *
nms_store_engine_version (void)
{
  return sqlite3_libversion ();
}
