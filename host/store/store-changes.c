/* SPDX-License-Identifier: MIT */
/* store-changes.c: the store's change log, behind nms_store_changes_*.
 *
 * While anyone subscribes (store-subscribers.c), every write request
 * leaves one row in the changes table, inside the transaction that makes
 * the write: per key, the value before the request
 * and the value after, either side possibly absent. A host process that
 * serves a subscriber reads the rows after its cursor; rows are numbered
 * in commit order, because writers hold SQLite's write lock while they
 * take the next number.
 *
 * A row's body is a serialized GVariant, so that callers see NmsChange
 * records and never the storage format. On an encrypted origin the body
 * is sealed (crypto.h) and bound to its sequence number, so it leaks no
 * more than the records: its padded length.
 *
 * After a commit that added rows, the bell file's times are touched.
 * Watching it wakes other processes only when there is something to read,
 * and because it is touched after the commit returns, a reader it wakes
 * always sees the new rows (the WAL is written before the commit is
 * visible, so watching it would race). The bell has a directory of its
 * own: GLib watches a file through its directory, and backs off for
 * 100 ms after a wake-up that brought only modifications, such as the
 * WAL's, which would delay the bell behind them. */
#include "store-private.h"
#include "store-changes.h"
#include "store-value.h"
#include "store-crypt-state.h"
#include "store-record.h"
#include "base/error.h"
#include "base/os.h"

#include <string.h>

/* Pruning looks at the log every this many rows, not at every write. */
#define PRUNE_EVERY 64
#define BELL_DIR  "events"
#define BELL_FILE "bell"
/* Per key: the key's bytes, its value before, its value after. */
#define BODY_TYPE "a(aym(yay)m(yay))"

const char nms_store_log_schema_sql[] =
  "CREATE TABLE IF NOT EXISTS changes ("
  "  seq  INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  ts   INTEGER NOT NULL,"
  "  body BLOB NOT NULL);"
  "INSERT OR IGNORE INTO meta (name, value) VALUES ('changes_pruned_through', 0);";

static const char *const log_stmt_sql[N_LOG_STMTS] = {
  [LOG_STMT_INSERT] = "INSERT INTO changes (ts, body) VALUES (?1, ?2)",
  [LOG_STMT_AFTER] = "SELECT seq, body FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
  [LOG_STMT_HEAD] = "SELECT coalesce(max(seq), 0) FROM changes",
  [LOG_STMT_PRUNED] = "SELECT value FROM meta WHERE name = 'changes_pruned_through'",
  [LOG_STMT_FIRST_RECENT] = "SELECT seq FROM changes WHERE ts >= ?1 ORDER BY seq LIMIT 1",
  [LOG_STMT_PRUNE] = "DELETE FROM changes WHERE seq <= ?1",
  [LOG_STMT_SET_PRUNED] = "UPDATE meta SET value = ?1 WHERE name = 'changes_pruned_through'",
};

typedef struct {
  gboolean     present;
  NmsValueKind kind;
  GBytes      *value;
} State;

typedef struct {
  char  *key;
  gsize  key_len;
  State  before;
  State  after;
} Entry;

struct _NmsChangeSet {
  GHashTable *by_key;   /* borrowed key -> Entry */
  GPtrArray  *entries;  /* in the order keys were first touched; owns them */
};

static void
state_clear (State *state)
{
  g_clear_pointer (&state->value, g_bytes_unref);
  state->present = FALSE;
}

static void
state_set (State *state, const NmsValueRef *ref)
{
  state_clear (state);
  state->present = ref->present;
  state->kind = ref->kind;
  if (ref->present)
    state->value = g_bytes_new (ref->value_len ? ref->value : (const guint8 *) "", ref->value_len);
}

static void
state_copy (State *to, const State *from)
{
  state_clear (to);
  to->present = from->present;
  to->kind = from->kind;
  to->value = from->value ? g_bytes_ref (from->value) : NULL;
}

static gboolean
state_equal (const State *a, const State *b)
{
  if (a->present != b->present)
    return FALSE;
  return !a->present || (a->kind == b->kind && g_bytes_equal (a->value, b->value));
}

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  state_clear (&entry->before);
  state_clear (&entry->after);
  g_free (entry->key);
  g_free (entry);
}

static NmsChangeSet *
change_set_new (void)
{
  NmsChangeSet *set = g_new0 (NmsChangeSet, 1);

  set->by_key = g_hash_table_new (g_str_hash, g_str_equal);
  set->entries = g_ptr_array_new_with_free_func (entry_free);
  return set;
}

static void
change_set_free (NmsChangeSet *set)
{
  if (set == NULL)
    return;
  g_hash_table_unref (set->by_key);
  g_ptr_array_unref (set->entries);
  g_free (set);
}

static void
change_set_reset (NmsChangeSet *set)
{
  g_hash_table_remove_all (set->by_key);
  g_ptr_array_set_size (set->entries, 0);
}

/* A key touched again keeps its first "before": an event describes the
 * whole request, as Chrome's does. */
static Entry *
change_set_entry (NmsChangeSet *set, const char *key, gsize key_len, gboolean *is_new)
{
  g_autofree char *copy = g_strndup (key, key_len);
  Entry *entry = g_hash_table_lookup (set->by_key, copy);

  *is_new = entry == NULL;
  if (entry != NULL)
    return entry;
  entry = g_new0 (Entry, 1);
  entry->key = g_steal_pointer (&copy);
  entry->key_len = key_len;
  g_ptr_array_add (set->entries, entry);
  g_hash_table_insert (set->by_key, entry->key, entry);
  return entry;
}

static void
change_set_merge (NmsChangeSet *into, const NmsChangeSet *from)
{
  guint i;

  for (i = 0; i < from->entries->len; i++)
    {
      const Entry *e = from->entries->pdata[i];
      gboolean is_new;
      Entry *target = change_set_entry (into, e->key, e->key_len, &is_new);

      if (is_new)
        state_copy (&target->before, &e->before);
      state_copy (&target->after, &e->after);
    }
}

/* Records that the running call moves key from before to after. */
void
_nms_store_log_note (NmsStore *store, const char *key, gsize key_len,
                    const NmsValueRef *before, const NmsValueRef *after)
{
  gboolean is_new;
  Entry *entry = change_set_entry (store->log.call, key, key_len, &is_new);

  if (is_new)
    state_set (&entry->before, before);
  state_set (&entry->after, after);
}

static GVariant *
state_to_variant (const State *state)
{
  GVariant *bytes;

  if (!state->present)
    return g_variant_new_maybe (G_VARIANT_TYPE ("(yay)"), NULL);
  bytes = g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, state->value, TRUE);
  return g_variant_new_maybe (NULL, g_variant_new ("(y@ay)", (guchar) state->kind, bytes));
}

static int
entry_cmp (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(const Entry *const *) a, *y = *(const Entry *const *) b;

  /* Keys hold no NUL, and strcmp compares bytes as unsigned char. */
  return strcmp (x->key, y->key);
}

/* Serializes the changes that are real, in the byte order of their keys
 * (the order of Chrome's changes object); NULL when there are none. */
static GVariant *
change_set_body (const NmsChangeSet *set)
{
  g_autoptr(GPtrArray) sorted = NULL;
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE (BODY_TYPE));
  gboolean any = FALSE;
  guint i;

  if (set->entries->len == 0)
    return NULL;
  sorted = g_ptr_array_copy (set->entries, NULL, NULL);
  g_ptr_array_set_free_func (sorted, NULL); /* the set owns the entries */
  g_ptr_array_sort (sorted, entry_cmp);
  for (i = 0; i < sorted->len; i++)
    {
      const Entry *e = sorted->pdata[i];

      if (state_equal (&e->before, &e->after))
        continue;
      g_variant_builder_add (&builder, "(^ay@m(yay)@m(yay))", e->key,
                             state_to_variant (&e->before), state_to_variant (&e->after));
      any = TRUE;
    }
  return any ? g_variant_ref_sink (g_variant_builder_end (&builder)) : NULL;
}

static sqlite3_stmt *
log_stmt (NmsStore *store, int which)
{
  sqlite3_stmt *s = store->log.stmts[which];

  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  return s;
}

/* Runs a statement that returns at most one integer. */
static gboolean
step_int (NmsStore *store, sqlite3_stmt *s, gint64 *value, gboolean *found, const char *doing, GError **error)
{
  int rc = sqlite3_step (s);

  *found = rc == SQLITE_ROW;
  if (*found)
    *value = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE || _nms_store_fail (store, rc, doing, error);
}

static gboolean
prune (NmsStore *store, gint64 head, gint64 now_ms, GError **error)
{
  guint keep_rows = store->options.changes_keep_rows;
  gint64 keep_ms = (gint64) store->options.changes_keep_seconds * 1000;
  gint64 cutoff = head > (gint64) keep_rows ? head - keep_rows : 0;
  gint64 first_recent = 0, pruned = 0;
  gboolean found;
  sqlite3_stmt *s;

  s = log_stmt (store, LOG_STMT_FIRST_RECENT);
  sqlite3_bind_int64 (s, 1, now_ms - keep_ms);
  if (!step_int (store, s, &first_recent, &found, "prune the change log", error))
    return FALSE;
  /* Both are limits: a row goes once it is too old or too far back. With
   * no recent row at all, everything up to head is too old. */
  cutoff = MAX (cutoff, found ? first_recent - 1 : head);
  if (!step_int (store, log_stmt (store, LOG_STMT_PRUNED), &pruned, &found, "prune the change log", error))
    return FALSE;
  if (cutoff <= pruned)
    return TRUE;

  s = log_stmt (store, LOG_STMT_PRUNE);
  sqlite3_bind_int64 (s, 1, cutoff);
  if (!step_int (store, s, &pruned, &found, "prune the change log", error))
    return FALSE;
  s = log_stmt (store, LOG_STMT_SET_PRUNED);
  sqlite3_bind_int64 (s, 1, cutoff);
  return step_int (store, s, &pruned, &found, "prune the change log", error);
}

static gboolean
write_row (NmsStore *store, const NmsChangeSet *set, GError **error)
{
  g_autoptr(GVariant) body = change_set_body (set);
  const NmsStoreRecordClass *records = _nms_store_records (store);
  gint64 now_ms = g_get_real_time () / 1000;
  sqlite3_stmt *s;
  gint64 seq;
  int rc;

  if (body == NULL)
    return TRUE;
  s = log_stmt (store, LOG_STMT_INSERT);
  sqlite3_bind_int64 (s, 1, now_ms);
  records->bind_change (s, 2, g_variant_get_data (body), g_variant_get_size (body));
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "record the change", error);
  store->log.rows_pending = TRUE;
  seq = sqlite3_last_insert_rowid (store->db);
  if (!records->finish_change (store, seq, g_variant_get_data (body), g_variant_get_size (body), error))
    return FALSE;
  return seq % PRUNE_EVERY != 0 || prune (store, seq, now_ms, error);
}

void
_nms_store_log_call_begin (NmsStore *store)
{
  change_set_reset (store->log.call);
}

/* A call that failed was rolled back, so what it noted never happened. A
 * call outside a request is a request of its own and writes its row. */
gboolean
_nms_store_log_call_end (NmsStore *store, gboolean ok, GError **error)
{
  if (ok && store->log.in_request)
    change_set_merge (store->log.request, store->log.call);
  else if (ok)
    ok = write_row (store, store->log.call, error);
  change_set_reset (store->log.call);
  return ok;
}

void
_nms_store_log_request_begin (NmsStore *store)
{
  g_return_if_fail (!store->log.in_request);
  store->log.in_request = TRUE;
}

/* Writes the request's row when keep; the request is over either way. */
gboolean
_nms_store_log_request_end (NmsStore *store, gboolean keep, GError **error)
{
  gboolean ok = !keep || write_row (store, store->log.request, error);

  change_set_reset (store->log.request);
  store->log.in_request = FALSE;
  return ok;
}

/* Once the last subscriber is gone nobody can read the log, and a new one
 * starts at its head: the rows go, and the head stays where it was. */
gboolean
_nms_store_log_truncate (NmsStore *store, GError **error)
{
  guint64 head, pruned;
  gint64 unused;
  gboolean found;
  sqlite3_stmt *s;

  if (!nms_store_changes_state (store, &head, &pruned, error))
    return FALSE;
  if (head == pruned)
    return TRUE;
  s = log_stmt (store, LOG_STMT_PRUNE);
  sqlite3_bind_int64 (s, 1, (gint64) head);
  if (!step_int (store, s, &unused, &found, "empty the change log", error))
    return FALSE;
  s = log_stmt (store, LOG_STMT_SET_PRUNED);
  sqlite3_bind_int64 (s, 1, (gint64) head);
  return step_int (store, s, &unused, &found, "empty the change log", error);
}

gboolean
_nms_store_log_open (NmsStore *store, GError **error)
{
  int i, rc;

  store->log.bell_fd = -1;
  store->log.call = change_set_new ();
  store->log.request = change_set_new ();
  for (i = 0; i < N_LOG_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (store->db, log_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &store->log.stmts[i], NULL);
      if (rc != SQLITE_OK)
        return _nms_store_fail (store, rc, "prepare the change log's queries", error);
    }
  {
    g_autofree char *bell_dir = g_build_filename (store->dir, BELL_DIR, NULL);

    if (!nms_os_make_private_dir (bell_dir, error))
      return FALSE;
    store->log.bell_path = g_build_filename (bell_dir, BELL_FILE, NULL);
  }
  store->log.bell_fd = nms_os_open_private_file (store->log.bell_path, error);
  return store->log.bell_fd >= 0;
}

void
_nms_store_log_close (NmsStore *store)
{
  int i;

  for (i = 0; i < N_LOG_STMTS; i++)
    sqlite3_finalize (store->log.stmts[i]);
  if (store->log.bell_fd >= 0)
    nms_os_close (store->log.bell_fd);
  change_set_free (store->log.call);
  change_set_free (store->log.request);
  g_free (store->log.bell_path);
}

/* For a change too large to log item by item (a restore replaces every
 * item): empties the log and marks it pruned through a new sequence
 * number, so that every subscriber, whatever its cursor, gets one overflow
 * event and re-reads. Runs inside the change's write transaction. */
gboolean
_nms_store_log_forget (NmsStore *store, GError **error)
{
  sqlite3_stmt *s = log_stmt (store, LOG_STMT_INSERT);
  gint64 seq, ignored;
  gboolean found;
  int rc;

  sqlite3_bind_int64 (s, 1, g_get_real_time () / 1000);
  sqlite3_bind_zeroblob (s, 2, 0);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "mark the change log", error);
  seq = sqlite3_last_insert_rowid (store->db);
  s = log_stmt (store, LOG_STMT_PRUNE);
  sqlite3_bind_int64 (s, 1, seq);
  if (!step_int (store, s, &ignored, &found, "empty the change log", error))
    return FALSE;
  s = log_stmt (store, LOG_STMT_SET_PRUNED);
  sqlite3_bind_int64 (s, 1, seq);
  if (!step_int (store, s, &ignored, &found, "mark the change log", error))
    return FALSE;
  store->log.rows_pending = TRUE;
  return TRUE;
}

/* A transaction began on a snapshot with data_version: what was known of
 * the subscribers still holds if no other connection has committed since
 * it was found out. */
void
_nms_store_log_snapshot (NmsStore *store, gint64 data_version)
{
  if (store->log.listening_version != data_version)
    store->log.listening = NMS_LISTENING_UNKNOWN;
  store->log.listening_version = data_version;
}

void
_nms_store_log_after_commit (NmsStore *store)
{
  g_autoptr(GError) error = NULL;

  if (!store->log.rows_pending)
    return;
  store->log.rows_pending = FALSE;
  /* The write is committed either way; a reader that misses this ring
   * catches up at the next one. */
  if (!nms_os_poke_file (store->log.bell_fd, &error))
    g_warning ("cannot tell other processes about a change: %s", error->message);
}

void
_nms_store_log_after_rollback (NmsStore *store)
{
  store->log.listening = NMS_LISTENING_UNKNOWN;
  store->log.rows_pending = FALSE;
}

const char *
nms_store_bell_path (NmsStore *store)
{
  return store->log.bell_path;
}

/* head: the newest sequence number ever given out; pruned_through: rows
 * up to it are gone, so a reader whose cursor is below it missed some. */
gboolean
nms_store_changes_state (NmsStore *store, guint64 *head, guint64 *pruned_through, GError **error)
{
  gint64 newest = 0, pruned = 0;
  gboolean found;

  if (!step_int (store, log_stmt (store, LOG_STMT_HEAD), &newest, &found, "read the change log", error)
      || !step_int (store, log_stmt (store, LOG_STMT_PRUNED), &pruned, &found, "read the change log", error))
    return FALSE;
  *pruned_through = pruned > 0 ? (guint64) pruned : 0;
  *head = MAX ((guint64) MAX (newest, 0), *pruned_through);
  return TRUE;
}

/* The values that ref points into are added to keep, which outlives the
 * visit. */
static void
value_ref_from_variant (GVariant *maybe, GPtrArray *keep, NmsValueRef *ref)
{
  GVariant *inner = g_variant_get_maybe (maybe);
  GVariant *bytes = NULL;
  guchar kind;

  memset (ref, 0, sizeof *ref);
  if (inner == NULL)
    return;
  g_ptr_array_add (keep, inner);
  g_variant_get (inner, "(y@ay)", &kind, &bytes);
  g_ptr_array_add (keep, bytes);
  ref->present = TRUE;
  ref->kind = kind == NMS_VALUE_BYTES ? NMS_VALUE_BYTES : NMS_VALUE_JSON;
  ref->value = g_variant_get_fixed_array (bytes, &ref->value_len, 1);
}

static gboolean
change_side_sane (NmsStore *store, const NmsChange *change, const NmsValueRef *side)
{
  NmsItem item = { change->key, change->key_len, side->kind, side->value, side->value_len };

  return _nms_store_item_check (store, &item, side->present, NULL);
}

static gboolean
visit_row (NmsStore *store, guint64 seq, const void *blob, gsize len,
           NmsStoreChangesFunc visit, gpointer user_data, GError **error)
{
  g_autoptr(GBytes) data = NULL;
  g_autofree guint8 *plain = NULL;

  if (!_nms_store_records (store)->open_change (store, seq, blob, len, &plain, &len, error))
    return FALSE;
  if (plain != NULL)
    blob = plain;
  data = g_bytes_new (blob, len);
  g_autoptr(GVariant) body = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (BODY_TYPE), data, FALSE));
  g_autoptr(GArray) changes = g_array_new (FALSE, TRUE, sizeof (NmsChange));
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  gsize i, n = g_variant_n_children (body);

  for (i = 0; i < n; i++)
    {
      GVariant *tuple = g_variant_get_child_value (body, i);
      g_autoptr(GVariant) old_v = g_variant_get_child_value (tuple, 1);
      g_autoptr(GVariant) new_v = g_variant_get_child_value (tuple, 2);
      NmsChange change = { 0 };

      g_ptr_array_add (keep, tuple);
      g_variant_get_child (tuple, 0, "^&ay", &change.key);
      change.key_len = strlen (change.key);
      value_ref_from_variant (old_v, keep, &change.old_value);
      value_ref_from_variant (new_v, keep, &change.new_value);
      /* The log is in the file too: what goes into an event is checked
       * as a read item is (store-value.c). */
      if ((!change.old_value.present && !change.new_value.present)
          || !change_side_sane (store, &change, &change.old_value)
          || !change_side_sane (store, &change, &change.new_value))
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                       "change %" G_GUINT64_FORMAT " in %s's log is damaged; subscribers should re-read",
                       seq, store->path);
          return FALSE;
        }
      g_array_append_val (changes, change);
    }
  return visit (seq, (const NmsChange *) changes->data, changes->len, user_data, error);
}

/* Visits the rows after seq `after`, oldest first, at most max_rows. */
gboolean
nms_store_changes_read (NmsStore *store, guint64 after, guint max_rows,
                        NmsStoreChangesFunc visit, gpointer user_data, GError **error)
{
  sqlite3_stmt *s;
  gboolean ok = TRUE;
  int rc;

  /* Events stop while an encrypted origin is locked; the subscriber is
   * told to re-read, which answers E_LOCKED until it is unlocked. */
  if (!_nms_store_crypt_ready (store, error))
    return FALSE;
  s = log_stmt (store, LOG_STMT_AFTER);
  sqlite3_bind_int64 (s, 1, (gint64) MIN (after, (guint64) G_MAXINT64));
  sqlite3_bind_int64 (s, 2, max_rows);
  while (ok && (rc = sqlite3_step (s)) == SQLITE_ROW)
    ok = visit_row (store, (guint64) sqlite3_column_int64 (s, 0), sqlite3_column_blob (s, 1),
                    (gsize) sqlite3_column_bytes (s, 1), visit, user_data, error);
  if (ok && rc != SQLITE_DONE)
    ok = _nms_store_fail (store, rc, "read the change log", error);
  sqlite3_reset (s);
  return ok;
}
