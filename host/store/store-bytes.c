/* SPDX-License-Identifier: MIT */
/* store-bytes.c: the bytes in use, behind _nms_store_bytes_*: the sum of
 * the items' size column (Chrome's count of each item), which the quota
 * and getBytesInUse read.
 *
 * The sum is never kept in the file. A counter row there (schemas 1 to 5)
 * was one more page in every commit that changed a value's size: twice
 * the WAL written per set, and in a bare SQLite loop of 2.5 KB upserts
 * 50-64 µs per commit against 28-40 µs without it.
 *
 * A store with a quota needs the sum at every write, so its connection
 * keeps it, in a TEMP table that TEMP triggers on items update; temp
 * pages never reach the WAL. The temp table takes part in transactions
 * like the items do: an undone request or a rolled-back batch undoes its
 * change to the sum too. What the triggers cannot see is another
 * connection's commit (another host of the origin, the command line), and
 * that is what PRAGMA data_version reports: the row records the
 * data_version it was counted at, and a sum asked for at any other is
 * counted again from the items, in the caller's transaction.
 *
 * A store without a quota (the default) asks only for getBytesInUse of
 * everything, which counts from the items each time: the size column comes
 * before the value, so only the table's leaf pages are read, as Chrome
 * reads every entry for it. Its writes then pay no trigger at all, and its
 * opening no parse of the triggers (a tenth of a cold start's
 * instructions). */
#include "store-bytes.h"

enum {
  BYTES_SUM,     /* from the items */
  BYTES_KEPT,    /* the kept sum and the data_version it is for */
  BYTES_RECOUNT, /* counted again, and kept */
};

static const char *const bytes_stmt_sql[] = {
  [BYTES_SUM] = "SELECT coalesce (sum (size), 0) FROM main.items",
  [BYTES_KEPT] = "SELECT total, version FROM temp.nms_bytes",
  [BYTES_RECOUNT] = ("UPDATE temp.nms_bytes SET total = (SELECT coalesce (sum (size), 0) FROM main.items), "
                     "version = ?1 RETURNING total"),
};

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
  if (store->options.quota_bytes == 0)
    return TRUE;
  if (!_nms_store_exec (store, counter_sql, "make the byte counter", error))
    return FALSE;
  store->bytes_counted = TRUE;
  return TRUE;
}

/* One row's first column (and, for BYTES_KEPT, whether the sum is for
 * version) from one of the statements above. */
static gboolean
step_total (NmsStore *store, int which, gint64 version, gint64 *value, gboolean *current, GError **error)
{
  sqlite3_stmt *s = _nms_store_lazy_stmt (store, &store->bytes_stmts[which], bytes_stmt_sql[which], error);
  int rc;

  if (s == NULL)
    return FALSE;
  if (which == BYTES_RECOUNT)
    sqlite3_bind_int64 (s, 1, version);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      *value = sqlite3_column_int64 (s, 0);
      if (current != NULL)
        *current = sqlite3_column_type (s, 1) != SQLITE_NULL && sqlite3_column_int64 (s, 1) == version;
    }
  sqlite3_reset (s);
  return rc == SQLITE_ROW
         || _nms_store_fail (store, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "count the bytes in use", error);
}

gboolean
_nms_store_bytes_total (NmsStore *store, guint64 *total, GError **error)
{
  gint64 version = 0, value = 0;
  gboolean current = FALSE;

  g_return_val_if_fail (!sqlite3_get_autocommit (store->db), FALSE);
  if (!store->bytes_counted)
    {
      if (!step_total (store, BYTES_SUM, 0, &value, NULL, error))
        return FALSE;
    }
  else if (!nms_store_data_version (store, &version, error)
           || !step_total (store, BYTES_KEPT, version, &value, &current, error)
           || (!current && !step_total (store, BYTES_RECOUNT, version, &value, NULL, error)))
    return FALSE;
  *total = value > 0 ? (guint64) value : 0;
  return TRUE;
}
