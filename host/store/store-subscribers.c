/* SPDX-License-Identifier: MIT */
/* store-subscribers.c: who is listening for change events, so that
 * writers log only while someone is.
 *
 * Recording a change costs a read of every old value and a log row as
 * large as the values themselves, which halves the write rate; most of
 * the time nobody listens. So a subscribing port registers a row here, in
 * a write transaction that also takes the log's head as its cursor, and
 * each writer asks once per write transaction whether any row exists.
 * Both hold SQLite's write lock while they look, so every write is
 * ordered either before a subscription (not owed to it: the cursor is
 * past it) or after it (it sees the row, and logs).
 *
 * A row names its process by pid and start time. Rows of processes that
 * exited without removing theirs (SIGKILL, a crash) are removed when a
 * store is opened or a port subscribes; until then they only make writers
 * log for nobody. A subscriber whose own row was removed by mistake finds
 * out at its next read (nms_store_subscribed) and tells its port to
 * re-read, so a mistake costs an overflow, never a silent loss. */
#include "store-private.h"
#include "store-subscribers.h"
#include "store-txn.h"
#include "store-changes.h"
#include "base/os.h"

const char nms_store_subscribers_schema_sql[] =
  "CREATE TABLE IF NOT EXISTS subscribers ("
  "  id      INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: a removed row stays removed */
  "  pid     INTEGER NOT NULL,"
  "  started INTEGER NOT NULL,"                   /* the process's start time; 0: unknown */
  "  since   INTEGER NOT NULL);";                 /* ms since 1970, for a person reading it */

static const char *const sub_stmt_sql[N_SUB_STMTS] = {
  [SUB_STMT_ANY] = "SELECT EXISTS (SELECT 1 FROM subscribers)",
  [SUB_STMT_EXISTS] = "SELECT EXISTS (SELECT 1 FROM subscribers WHERE id = ?1)",
  [SUB_STMT_INSERT] = "INSERT INTO subscribers (pid, started, since) VALUES (?1, ?2, ?3)",
  [SUB_STMT_DELETE] = "DELETE FROM subscribers WHERE id = ?1",
  [SUB_STMT_LIST] = "SELECT id, pid, started FROM subscribers ORDER BY id",
};

static sqlite3_stmt *
sub_stmt (NmsStore *store, int which)
{
  sqlite3_stmt *s = store->log.sub_stmts[which];

  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  return s;
}

static gboolean
step_bool (NmsStore *store, sqlite3_stmt *s, gboolean *value, const char *doing, GError **error)
{
  int rc = sqlite3_step (s);

  *value = rc == SQLITE_ROW && sqlite3_column_int (s, 0) != 0;
  sqlite3_reset (s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE || _nms_store_fail (store, rc, doing, error);
}

gboolean
_nms_store_subscribers_open (NmsStore *store, GError **error)
{
  int i, rc;

  for (i = 0; i < N_SUB_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (store->db, sub_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &store->log.sub_stmts[i], NULL);
      if (rc != SQLITE_OK)
        return _nms_store_fail (store, rc, "prepare the subscribers' queries", error);
    }
  return TRUE;
}

void
_nms_store_subscribers_close (NmsStore *store)
{
  int i;

  for (i = 0; i < N_SUB_STMTS; i++)
    sqlite3_finalize (store->log.sub_stmts[i]);
}

gboolean
_nms_store_subscribers_any (NmsStore *store, gboolean *any, GError **error)
{
  return step_bool (store, sub_stmt (store, SUB_STMT_ANY), any, "check for subscribers", error);
}

/* The ids of rows whose process is gone. */
static gboolean
list_dead (NmsStore *store, GArray *dead, GError **error)
{
  sqlite3_stmt *s = sub_stmt (store, SUB_STMT_LIST);
  int rc;

  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (s, 0);
      gint64 pid = sqlite3_column_int64 (s, 1);
      gint64 started = sqlite3_column_int64 (s, 2);

      if (pid <= 0 || pid > G_MAXINT || !nms_os_process_alive ((int) pid, (guint64) MAX (started, 0)))
        g_array_append_val (dead, id);
    }
  sqlite3_reset (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "list the subscribers", error);
}

static gboolean
delete_row (NmsStore *store, gint64 id, GError **error)
{
  sqlite3_stmt *s = sub_stmt (store, SUB_STMT_DELETE);
  int rc;

  sqlite3_bind_int64 (s, 1, id);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "remove a subscriber", error);
}

/* Inside a write: removes the rows of dead processes and, when nobody is
 * left, the log nobody can read any more. */
static gboolean
delete_dead (NmsStore *store, guint *n_removed, GError **error)
{
  g_autoptr(GArray) dead = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint i;

  *n_removed = 0;
  if (!list_dead (store, dead, error))
    return FALSE;
  for (i = 0; i < dead->len; i++)
    if (!delete_row (store, g_array_index (dead, gint64, i), error))
      return FALSE;
  *n_removed = dead->len;
  return TRUE;
}

static gboolean
truncate_if_alone (NmsStore *store, GError **error)
{
  gboolean any;

  if (!_nms_store_subscribers_any (store, &any, error))
    return FALSE;
  if (any)
    return TRUE;
  store->log.listening = NMS_LISTENING_NO;
  return _nms_store_log_truncate (store, error);
}

/* Registers a subscriber of this process. *cursor is the newest log row
 * now: every write committed after this call's commit is logged after it,
 * and none before it is owed. *id names the registration for
 * nms_store_unsubscribe and nms_store_subscribed. */
gboolean
nms_store_subscribe (NmsStore *store, gint64 *id, guint64 *cursor, GError **error)
{
  int pid = nms_os_pid ();
  guint64 pruned;
  guint n_dead = 0;
  sqlite3_stmt *s;
  gboolean ok;
  int rc;

  if (!_nms_store_op_begin (store, error))
    return FALSE;
  ok = delete_dead (store, &n_dead, error);
  if (ok)
    {
      s = sub_stmt (store, SUB_STMT_INSERT);
      sqlite3_bind_int64 (s, 1, pid);
      sqlite3_bind_int64 (s, 2, (gint64) MIN (nms_os_process_start_time (pid), (guint64) G_MAXINT64));
      sqlite3_bind_int64 (s, 3, g_get_real_time () / 1000);
      rc = sqlite3_step (s);
      sqlite3_reset (s);
      ok = rc == SQLITE_DONE || _nms_store_fail (store, rc, "register a subscriber", error);
    }
  if (ok)
    {
      *id = sqlite3_last_insert_rowid (store->db);
      ok = nms_store_changes_state (store, cursor, &pruned, error);
    }
  /* Later writes in this transaction must log: they come after the
   * subscription. */
  if (ok)
    store->log.listening = NMS_LISTENING_YES;
  if (n_dead > 0)
    g_info ("removed %u subscriptions of host processes that are gone", n_dead);
  return _nms_store_op_end (store, ok, error) && ok;
}

/* Removes registration id; removing one that is already gone is no error. */
gboolean
nms_store_unsubscribe (NmsStore *store, gint64 id, GError **error)
{
  gboolean ok;

  if (!_nms_store_op_begin (store, error))
    return FALSE;
  ok = delete_row (store, id, error) && truncate_if_alone (store, error);
  return _nms_store_op_end (store, ok, error) && ok;
}

/* Whether registration id still exists. Read inside the transaction that
 * reads the log: if it does, every write that snapshot holds was logged
 * since the registration. */
gboolean
nms_store_subscribed (NmsStore *store, gint64 id, gboolean *exists, GError **error)
{
  sqlite3_stmt *s = sub_stmt (store, SUB_STMT_EXISTS);

  sqlite3_bind_int64 (s, 1, id);
  return step_bool (store, s, exists, "check this port's subscription", error);
}

/* Removes the registrations of processes that are gone. Looks first
 * without the write lock, so that opening a store with none costs one
 * read. */
gboolean
nms_store_forget_dead_subscribers (NmsStore *store, guint *n_removed, GError **error)
{
  g_autoptr(GArray) dead = g_array_new (FALSE, FALSE, sizeof (gint64));
  gboolean ok;

  *n_removed = 0;
  if (!list_dead (store, dead, error))
    return FALSE;
  if (dead->len == 0)
    return TRUE;
  if (!_nms_store_op_begin (store, error))
    return FALSE;
  ok = delete_dead (store, n_removed, error) && truncate_if_alone (store, error);
  return _nms_store_op_end (store, ok, error) && ok;
}

/* For the writes (store-items.c): whether their transaction logs. */
gboolean
_nms_store_log_wanted (NmsStore *store, gboolean *yes, GError **error)
{
  g_return_val_if_fail (!sqlite3_get_autocommit (store->db), FALSE);
  if (store->log.listening == NMS_LISTENING_UNKNOWN)
    {
      gboolean any;

      if (!_nms_store_subscribers_any (store, &any, error))
        return FALSE;
      store->log.listening = any ? NMS_LISTENING_YES : NMS_LISTENING_NO;
    }
  *yes = store->log.listening == NMS_LISTENING_YES;
  return TRUE;
}
