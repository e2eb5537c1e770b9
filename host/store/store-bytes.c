/* SPDX-License-Identifier: MIT */
/* store-bytes.c: the bytes in use, behind _nms_store_bytes_*: the sum of
 * the items' size column (Chrome's count of each item), which the quota
 * and getBytesInUse read.
 *
 * The sum is kept per connection, in a TEMP table that TEMP triggers on
 * items update, never in the file. A counter row in the file (schemas 1
 * to 5) was one more page in every commit that changed a value's size:
 * twice the WAL written per set, and in a bare SQLite loop of 2.5 KB
 * upserts 50-64 µs per commit against 28-40 µs without it. Temp pages
 * never reach the WAL.
 *
 * The temp table takes part in transactions like the items do: an undone
 * request or a rolled-back batch undoes its change to the sum too. What
 * this connection cannot see through its triggers is another
 * connection's commit (another host of the origin, the command line), and
 * that is what PRAGMA data_version reports: the row records the
 * data_version it was counted at, and a total asked for at any other is
 * counted again from the items, in the caller's transaction. So the sum
 * is exact for every snapshot, a write that nobody asks the total of pays
 * only its trigger, and a count runs once per foreign commit at most. */
#include "store-bytes.h"

/* TEMP triggers may name a TEMP table of their own unqualified: it is
 * found before any table of that name in the file. */
static const char counter_sql[] =
  /* The temp database's default journal is a file buffered in one large
   * allocation, made and freed by every commit: the host's heap then grew
   * and shrank by brk() on every set. */
  "PRAGMA temp.journal_mode = MEMORY;"
  "CREATE TEMP TABLE nms_bytes (total INTEGER NOT NULL, version INTEGER);"
  "INSERT INTO temp.nms_bytes (total, version) VALUES (0, NULL);"
  "CREATE TEMP TRIGGER nms_bytes_insert AFTER INSERT ON main.items BEGIN"
  "  UPDATE nms_bytes SET total = total + NEW.size; END;"
  "CREATE TEMP TRIGGER nms_bytes_delete AFTER DELETE ON main.items BEGIN"
  "  UPDATE nms_bytes SET total = total - OLD.size; END;"
  /* A torrent's state is rewritten every few seconds at the same size. */
  "CREATE TEMP TRIGGER nms_bytes_update AFTER UPDATE OF size ON main.items"
  "  WHEN OLD.size IS NOT NEW.size BEGIN"
  "  UPDATE nms_bytes SET total = total - OLD.size + NEW.size; END;";

gboolean
_nms_store_bytes_open (NmsStore *store, GError **error)
{
  return _nms_store_exec (store, counter_sql, "make the byte counter", error);
}

gboolean
_nms_store_bytes_total (NmsStore *store, guint64 *total, GError **error)
{
  sqlite3_stmt *s = _nms_store_stmt (store, STMT_TOTAL);
  gint64 version = 0, value = 0;
  gboolean counted;
  int rc;

  g_return_val_if_fail (!sqlite3_get_autocommit (store->db), FALSE);
  if (!nms_store_data_version (store, &version, error))
    return FALSE;
  rc = sqlite3_step (s);
  counted = rc == SQLITE_ROW && sqlite3_column_type (s, 1) != SQLITE_NULL && sqlite3_column_int64 (s, 1) == version;
  if (rc == SQLITE_ROW)
    value = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  if (rc != SQLITE_ROW)
    return _nms_store_fail (store, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "read the byte counter", error);
  if (!counted)
    {
      s = _nms_store_stmt (store, STMT_RECOUNT);
      sqlite3_bind_int64 (s, 1, version);
      rc = sqlite3_step (s);
      if (rc == SQLITE_ROW)
        value = sqlite3_column_int64 (s, 0);
      sqlite3_reset (s);
      if (rc != SQLITE_ROW)
        return _nms_store_fail (store, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "count the bytes in use", error);
    }
  *total = value > 0 ? (guint64) value : 0;
  return TRUE;
}
