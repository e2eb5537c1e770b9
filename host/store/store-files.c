/* SPDX-License-Identifier: MIT */
/* store-files.c: work on the store's file as a whole: making everything
 * acknowledged durable (flush), SQLite's integrity check, a consistent hot
 * copy (backup) and putting one back (restore). */
#include "store-private.h"
#include "store-crypt.h"
#include "store-txn.h"
#include "store-changes.h"
#include "store-names.h"
#include "store-record.h"
#include "base/error.h"
#include "base/os.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

/* The reserve: a file of allocated blocks beside the store. A full disk
 * fails every write, and an extension must still be able to free space:
 * removing this file gives a remove or a clear the room for its own
 * commit (the change of a few pages, and of the log while anyone
 * subscribes). It is made again when the store is next opened with room. */
#define RESERVE_NAME  "store.reserve"
#define RESERVE_BYTES (4u * 1024u * 1024u)

void
nms_store_keep_reserve (NmsStore *store)
{
  g_autofree char *path = g_build_filename (store->dir, RESERVE_NAME, NULL);
  g_autoptr(GError) local = NULL;

  /* No room is no harm: deletes then do without a reserve. */
  if (!nms_os_create_reserve (path, RESERVE_BYTES, &local))
    g_debug ("no reserve for deletes: %s", local->message);
}

gboolean
nms_store_release_reserve (NmsStore *store)
{
  g_autofree char *path = g_build_filename (store->dir, RESERVE_NAME, NULL);
  gboolean was_full = store->full;

  store->full = FALSE;
  if (!was_full || g_unlink (path) != 0)
    return FALSE;
  /* Debian's SQLite zeroes every page a delete frees, which writes each of
   * them again: a full disk has no room for that. On this connection,
   * freed pages now keep their old bytes until they are reused (as with
   * most SQLite builds); content is still zeroed wherever that costs no
   * extra write. Nothing is logged here: this runs under the write lock,
   * where a log write that blocks would stall the origin. */
  sqlite3_exec (store->db, "PRAGMA secure_delete = FAST", NULL, NULL, NULL);
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
      && !_nms_store_exec (store, "PRAGMA synchronous = FULL", "make the next commit durable", error))
    return FALSE;
  ok = _nms_store_exec (store, "BEGIN IMMEDIATE", "start the flush", error);
  if (ok && !_nms_store_exec (store, "UPDATE meta SET value = value + 1 WHERE name = 'flushes'", "flush", error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      ok = FALSE;
    }
  if (ok)
    ok = _nms_store_op_end (store, TRUE, error);
  if (store->options.durability != NMS_DURABILITY_FULL)
    _nms_store_exec (store, "PRAGMA synchronous = NORMAL", "restore the durability", NULL);
  return ok && nms_os_fsync_dir (store->dir, error);
}

gboolean
nms_store_check_integrity (NmsStore *store, GError **error)
{
  sqlite3_stmt *s = NULL;
  g_autoptr(GString) problems = g_string_new (NULL);
  int rc = sqlite3_prepare_v2 (store->db, "PRAGMA integrity_check", -1, &s, NULL);

  if (rc != SQLITE_OK)
    return _nms_store_fail (store, rc, "check the store", error);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      const char *line = (const char *) sqlite3_column_text (s, 0);
      if (line != NULL && !g_str_equal (line, "ok"))
        g_string_append_printf (problems, "%s%s", problems->len ? "; " : "", line);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "check the store", error);
  if (problems->len > 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "%s failed its integrity check: %s",
                   store->path, problems->str);
      return FALSE;
    }
  return TRUE;
}

/* Removes what a backup left in its private scratch folder (the copy,
 * and any journal SQLite made beside it), then the folder. */
static void
remove_backup_scratch (const char *scratch)
{
  g_autoptr(GDir) d = g_dir_open (scratch, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *file = g_build_filename (scratch, name, NULL);
      g_unlink (file);
    }
  g_rmdir (scratch);
}

/* VACUUM INTO is one statement: how far it has got is the size of the
 * file it writes, against the store's, looked at every WATCH_OPS steps of
 * SQLite's engine. */
#define WATCH_OPS 1000

typedef struct {
  NmsStore   *store;
  const char *path;
  guint64     total;
} CopyWatch;

static guint64
store_bytes (NmsStore *store)
{
  sqlite3_stmt *s = NULL;
  guint64 bytes = 0;

  if (sqlite3_prepare_v2 (store->db, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size", -1,
                          &s, NULL) == SQLITE_OK
      && sqlite3_step (s) == SQLITE_ROW)
    bytes = (guint64) sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  return bytes;
}

static int
watch_copy (void *data)
{
  CopyWatch *w = data;
  GStatBuf st;

  if (g_stat (w->path, &st) == 0)
    w->store->progress ((guint64) st.st_size >> 20, MAX (w->total, (guint64) st.st_size) >> 20,
                        w->store->progress_data);
  return 0;
}

/* A consistent copy of the whole database, taken inside one read
 * transaction while other processes keep writing; VACUUM INTO writes a
 * fresh, compact file, then it is renamed to path, so path is either the
 * old file or a complete new one.
 *
 * The copy is written inside a folder that mkdtemp makes next to path,
 * 0700 and exclusively: no other user can have made it beforehand (with
 * a predictable file name in a shared folder, someone could pre-create
 * the file and receive the whole store), nor open the file inside. A
 * destination folder where others may swap entries (writable by them,
 * without the sticky bit) is refused. */
gboolean
nms_store_backup_into (NmsStore *store, const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *scratch = g_strdup_printf ("%s/.%s.partial-XXXXXX", dir, base);
  g_autofree char *tmp = NULL;
  CopyWatch watch;
  char *sql;
  int rc;

  g_return_val_if_fail (!_nms_store_nested (store), FALSE);
  if (!nms_os_dir_entries_safe (dir, error))
    return FALSE;
  if (g_mkdtemp_full (scratch, 0700) == NULL)
    {
      int saved = errno;
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot write a backup into %s: %s; choose a folder you "
                   "can write to", dir, g_strerror (saved));
      return FALSE;
    }
  tmp = g_build_filename (scratch, base, NULL);
  /* Made 0600 by nmstore before SQLite writes (VACUUM INTO accepts an
   * empty file), whatever the caller's umask. */
  if (!nms_os_create_private_file (tmp, error))
    {
      remove_backup_scratch (scratch);
      return FALSE;
    }
  sql = sqlite3_mprintf ("VACUUM INTO %Q", tmp);
  if (store->progress != NULL)
    {
      watch = (CopyWatch) { store, tmp, 0 };
      watch.total = store_bytes (store);
      sqlite3_progress_handler (store->db, WATCH_OPS, watch_copy, &watch);
    }
  rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);
  sqlite3_progress_handler (store->db, 0, NULL, NULL);
  sqlite3_free (sql);
  if (rc != SQLITE_OK)
    {
      remove_backup_scratch (scratch);
      _nms_store_fail (store, rc, "copy the store", error);
      g_prefix_error (error, "backup to %s: ", path);
      return FALSE;
    }
  if (!nms_os_fsync_file (tmp, error))
    {
      remove_backup_scratch (scratch);
      return FALSE;
    }
  if (g_rename (tmp, path) != 0)
    {
      int saved = errno;
      remove_backup_scratch (scratch);
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot put the backup at %s: %s%s", path, g_strerror (saved),
                   saved == EPERM || saved == EACCES
                     ? " (a file of that name that belongs to someone else cannot be replaced; choose another name)"
                     : "");
      return FALSE;
    }
  remove_backup_scratch (scratch);
  return nms_os_fsync_dir (dir, error);
}

/* The backup's items, a few rows at a time so that the progress line
 * moves (each step is one statement; all of them are in the caller's
 * transaction). */
#define RESTORE_BATCH_ROWS 64

static gboolean
copy_items (NmsStore *store, guint64 *n_items, GError **error)
{
  sqlite3_stmt *count = NULL, *last = NULL, *copy = NULL;
  gint64 total = 0, after = G_MININT64, upto;
  int rc;

  *n_items = 0;
  rc = sqlite3_prepare_v2 (store->db, "SELECT count(*) FROM src.items", -1, &count, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step (count)) == SQLITE_ROW)
    total = sqlite3_column_int64 (count, 0);
  if (rc == SQLITE_ROW)
    rc = sqlite3_prepare_v2 (store->db, "SELECT max (rowid) FROM (SELECT rowid FROM src.items WHERE rowid > ?1 "
                                        "ORDER BY rowid LIMIT " G_STRINGIFY (RESTORE_BATCH_ROWS) ")", -1, &last, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (store->db, "INSERT INTO items (key, kind, size, value) SELECT key, kind, size, value "
                                        "FROM src.items WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid", -1, &copy,
                             NULL);
  while (rc == SQLITE_OK)
    {
      sqlite3_reset (last);
      sqlite3_bind_int64 (last, 1, after);
      if ((rc = sqlite3_step (last)) != SQLITE_ROW)
        break;
      if (sqlite3_column_type (last, 0) == SQLITE_NULL)
        {
          rc = SQLITE_DONE;
          break;
        }
      upto = sqlite3_column_int64 (last, 0);
      sqlite3_reset (last);
      sqlite3_reset (copy);
      sqlite3_bind_int64 (copy, 1, after);
      sqlite3_bind_int64 (copy, 2, upto);
      if ((rc = sqlite3_step (copy)) != SQLITE_DONE)
        break;
      rc = SQLITE_OK;
      *n_items += (guint64) sqlite3_changes64 (store->db);
      after = upto;
      if (store->progress != NULL)
        store->progress (*n_items, MAX ((guint64) total, *n_items), store->progress_data);
    }
  sqlite3_finalize (count);
  sqlite3_finalize (last);
  sqlite3_finalize (copy);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "copy the backup's items", error);
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

  g_return_val_if_fail (!_nms_store_nested (store), FALSE);
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
    return _nms_store_fail (store, rc, "open the backup", error);
  ok = _nms_store_op_begin_keyless (store, error)
       && _nms_store_exec (store, "DELETE FROM items", "remove the current items", error)
       && copy_items (store, n_items, error);
  /* Subscribers cannot be told item by item; they are told to re-read. */
  ok = ok && _nms_store_log_forget (store, error);
  /* An encrypted backup's items are sealed under its own key: its
   * envelope comes along, and the store opens only with that key. */
  /* The summary of its records (store-summary.c) comes along with them. */
  ok = ok && _nms_store_exec (store, "DELETE FROM meta WHERE name IN ('crypto', 'summary')",
                             "copy the backup's key record", error)
       && _nms_store_exec (store, "INSERT INTO meta (name, value) SELECT name, value FROM src.meta "
                                 "WHERE name IN ('crypto', 'summary')", "copy the backup's key record", error);
  /* A backup from an older nmstore, or a damaged one: every plaintext
   * value is checked and brought to today's form. */
  ok = ok && _nms_store_items_canonicalize (store, TRUE, error);
  ok = _nms_store_op_end (store, ok, error) && ok;
  /* Every record and the key record were replaced by this connection,
   * which data_version does not report to it: the backup's names are read
   * again when asked for, and its key record by the next transaction. */
  _nms_store_names_drop (store);
  _nms_store_crypt_forget (store);
  sqlite3_exec (store->db, "DETACH src", NULL, NULL, NULL);
  return ok;
}
