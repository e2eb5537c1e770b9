/* SPDX-License-Identifier: MIT */
/* store-txn.c: the store's transactions: a batch (nms_store_begin), a
 * request (nms_store_changes_begin), a group, and the one atomic write
 * every mutating call runs in (_nms_store_op_begin/end). Each start reads
 * the key record afresh (store-crypt.c) and each end tells the change log
 * (store-changes.c) and the summary (store-summary.c) how it went.
 *
 * Writers always take the write lock up front (BEGIN IMMEDIATE): a read
 * transaction that later upgrades can fail with SQLITE_BUSY_SNAPSHOT
 * without ever calling the busy handler, and that would surface busy
 * errors to the browser. */
#include "store-private.h"
#include "store-txn.h"
#include "store-changes.h"
#include "store-crypt.h"
#include "store-crypt-state.h"
#include "store-summary.h"
#include "store-names.h"

/* Runs a prepared transaction-control statement; SQLITE_OK on success. */
static int
control (NmsStore *store, int which)
{
  sqlite3_stmt *s = store->stmts[which];
  int rc = sqlite3_step (s);

  sqlite3_reset (s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A transaction that fails to commit is rolled back: nothing of it may
 * stay behind to be committed by a later, unrelated write. */
static void
rollback_transaction (NmsStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  _nms_store_log_after_rollback (store);
  _nms_store_crypt_forget (store);
}

/* The first reads of a transaction just begun: its data_version, then the
 * key record (what the transaction sees of it is what its items are) and
 * whether anyone listens, each read again only if another connection has
 * committed since this one last looked. Rolls back on failure. */
static gboolean
snapshot_begun (NmsStore *store, GError **error)
{
  gint64 version;

  if (!nms_store_data_version (store, &version, error))
    {
      rollback_transaction (store);
      return FALSE;
    }
  _nms_store_log_snapshot (store, version);
  if (!_nms_store_crypt_refresh_at (store, version, error))
    {
      rollback_transaction (store);
      return FALSE;
    }
  return TRUE;
}

static gboolean
commit_transaction (NmsStore *store, GError **error)
{
  int rc = control (store, STMT_COMMIT);

  if (rc == SQLITE_OK)
    {
      _nms_store_log_after_commit (store);
      return TRUE;
    }
  _nms_store_fail (store, rc, "commit", error);
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
      _nms_store_names_drop (store);
      control (store, undo);
      control (store, release);
      return FALSE;
    }
  rc = control (store, release);
  return rc == SQLITE_OK || _nms_store_fail (store, rc, "finish a write", error);
}

gboolean
nms_store_begin (NmsStore *store, gboolean write, GError **error)
{
  int rc;

  g_return_val_if_fail (!store->in_batch && !store->log.in_request, FALSE);
  rc = control (store, write ? STMT_BEGIN_WRITE : STMT_BEGIN_READ);
  if (rc != SQLITE_OK)
    return _nms_store_fail (store, rc, "start a transaction", error);
  if (!snapshot_begun (store, error))
    return FALSE;
  store->in_batch = TRUE;
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
    return _nms_store_fail (store, rc, "start a write", error);
  if (own && !snapshot_begun (store, error))
    return FALSE;
  store->log.request_owns_transaction = own;
  _nms_store_log_request_begin (store);
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
  ok = _nms_store_log_request_end (store, keep, error) && keep;
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

static gboolean
op_begin (NmsStore *store, gboolean needs_key, GError **error)
{
  int rc = control (store, _nms_store_nested (store) ? STMT_SAVEPOINT : STMT_BEGIN_WRITE);

  if (rc != SQLITE_OK)
    return _nms_store_fail (store, rc, "start a write", error);
  /* Under the write lock, so that no encrypt or decrypt slips in between
   * reading the envelope and writing in its form. */
  if (!_nms_store_nested (store) && !snapshot_begun (store, error))
    return FALSE;
  if (needs_key && !_nms_store_crypt_ready (store, error))
    {
      if (_nms_store_nested (store))
        savepoint_end (store, STMT_RELEASE, STMT_UNDO, FALSE, NULL);
      else
        rollback_transaction (store);
      return FALSE;
    }
  _nms_store_summary_begin (store);
  _nms_store_log_call_begin (store);
  return TRUE;
}

gboolean
_nms_store_op_begin (NmsStore *store, GError **error)
{
  return op_begin (store, TRUE, error);
}

/* For a write that moves records as they are stored and reads none
 * (restore): it needs no key, so a locked origin can be restored, even by
 * someone who no longer knows its current passphrase. */
gboolean
_nms_store_op_begin_keyless (NmsStore *store, GError **error)
{
  return op_begin (store, FALSE, error);
}

gboolean
_nms_store_op_end (NmsStore *store, gboolean ok, GError **error)
{
  /* An encrypted store's summary of its records changes with them, in
   * the same transaction (store-summary.c). */
  ok = _nms_store_summary_end (store, ok, error);
  ok = _nms_store_log_call_end (store, ok, error);
  if (_nms_store_nested (store))
    {
      int rc;

      if (!ok)
        return savepoint_end (store, STMT_RELEASE, STMT_UNDO, FALSE, error);
      rc = control (store, STMT_RELEASE);
      return rc == SQLITE_OK || _nms_store_fail (store, rc, "finish a write", error);
    }
  if (!ok)
    {
      rollback_transaction (store);
      return FALSE;
    }
  return commit_transaction (store, error);
}
