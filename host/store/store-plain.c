/* SPDX-License-Identifier: MIT */
/* store-plain.c: a plaintext origin's records (store-record.h). Each item
 * is one row of items: its key, its kind, Chrome's byte count of it and
 * its value, all as they are. The change log's rows hold their bodies as
 * they are too. Also the bringing of old plaintext files up to date. */
#include "store-private.h"
#include "store-value.h"
#include "store-changes.h"
#include "store-bytes.h"
#include "store-record.h"
#include "base/error.h"
#include "json/json.h"

#include <string.h>

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

static gboolean
plain_get (NmsStore *store, const char *key, gsize key_len,
           NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  sqlite3_stmt *s;
  NmsItem item = { .key = key, .key_len = key_len };
  int rc;
  gboolean ok = TRUE;

  s = _nms_store_stmt (store, STMT_GET);
  sqlite3_bind_text (s, 1, key, (int) key_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      ok = row_kind (store, s, 0, &item.kind, error);
      if (ok)
        {
          item.value = sqlite3_column_blob (s, 1);
          item.value_len = (gsize) sqlite3_column_bytes (s, 1);
          ok = _nms_store_item_check (store, &item, TRUE, error) && visit (&item, user_data, error);
        }
    }
  else if (rc != SQLITE_DONE)
    ok = _nms_store_fail (store, rc, "read an item", error);
  sqlite3_reset (s);
  return ok;
}

static gboolean
plain_visit (NmsStore *store, const char *prefix, gboolean with_values,
             NmsStoreVisitFunc visit, gpointer user_data, GError **error)
{
  gboolean ranged = prefix != NULL && *prefix != '\0';
  int which = with_values ? (ranged ? STMT_SCAN_ITEMS_RANGE : STMT_SCAN_ITEMS)
                          : (ranged ? STMT_SCAN_KEYS_RANGE : STMT_SCAN_KEYS);
  sqlite3_stmt *s;
  g_autofree char *upper = NULL;
  gboolean ok = TRUE;
  int rc;

  s = _nms_store_stmt (store, which);
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
      ok = ok && _nms_store_item_check (store, &item, with_values, error) && visit (&item, user_data, error);
    }
  if (ok && rc != SQLITE_DONE)
    ok = _nms_store_fail (store, rc, "list the items", error);
  sqlite3_reset (s);
  return ok;
}

static gboolean
value_ref_equal (const NmsValueRef *a, const NmsValueRef *b)
{
  if (a->present != b->present)
    return FALSE;
  return !a->present || (a->kind == b->kind && a->value_len == b->value_len
                         && (a->value_len == 0 || memcmp (a->value, b->value, a->value_len) == 0));
}

/* Reads the value key has now, to note it as the change's "before". */
static gboolean
plain_note_change (NmsStore *store, const char *key, gsize key_len, const NmsValueRef *after,
                   gboolean *changed, GError **error)
{
  sqlite3_stmt *s;
  NmsValueRef before = { 0 };
  gboolean ok = TRUE;
  int rc;

  s = _nms_store_stmt (store, STMT_GET);
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
    ok = _nms_store_fail (store, rc, "read an item's current value", error);
  *changed = ok && !value_ref_equal (&before, after);
  if (*changed)
    _nms_store_log_note (store, key, key_len, &before, after);
  sqlite3_reset (s);
  return ok;
}

static gboolean
plain_put (NmsStore *store, const NmsItem *item, GError **error)
{
  sqlite3_stmt *s = _nms_store_stmt (store, STMT_UPSERT);
  int rc;

  sqlite3_bind_text (s, 1, item->key, (int) item->key_len, SQLITE_STATIC);
  sqlite3_bind_int (s, 2, item->kind);
  sqlite3_bind_int64 (s, 3, (gint64) nms_store_item_bytes (item->kind, item->key_len, item->value, item->value_len));
  sqlite3_bind_blob64 (s, 4, item->value_len ? item->value : (const void *) "", item->value_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "write an item", error);
}

static gboolean
plain_delete (NmsStore *store, const char *key, gsize key_len, GError **error)
{
  sqlite3_stmt *s = _nms_store_stmt (store, STMT_DELETE);
  int rc;

  sqlite3_bind_text (s, 1, key, (int) key_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "remove an item", error);
}

static gboolean
plain_clear (NmsStore *store, const char *prefix, GError **error)
{
  gboolean ranged = prefix != NULL && *prefix != '\0';
  sqlite3_stmt *s = _nms_store_stmt (store, ranged ? STMT_CLEAR_RANGE : STMT_CLEAR);
  g_autofree char *upper = NULL;
  int rc;

  if (ranged)
    bind_prefix (s, prefix, &upper);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  return rc == SQLITE_DONE || _nms_store_fail (store, rc, "clear items", error);
}

/* The size column is Chrome's count; store-bytes.c keeps its sum. */
static gboolean
plain_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys, guint64 *bytes, GError **error)
{
  guint64 sum = 0;
  gsize i;

  if (keys == NULL)
    return _nms_store_bytes_total (store, bytes, error);
  for (i = 0; i < n_keys; i++)
    {
      sqlite3_stmt *s = _nms_store_stmt (store, STMT_SIZE_OF);
      int rc;

      sqlite3_bind_text (s, 1, keys[i], -1, SQLITE_STATIC);
      rc = sqlite3_step (s);
      if (rc == SQLITE_ROW)
        sum += (guint64) sqlite3_column_int64 (s, 0);
      sqlite3_reset (s);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return _nms_store_fail (store, rc, "count the bytes in use", error);
    }
  *bytes = sum;
  return TRUE;
}

static void
plain_bind_change (sqlite3_stmt *insert, int column, const void *body, gsize body_len)
{
  sqlite3_bind_blob64 (insert, column, body, body_len, SQLITE_STATIC);
}

static gboolean
plain_finish_change (NmsStore *store, gint64 seq, const void *body, gsize body_len, GError **error)
{
  return TRUE;
}

static gboolean
plain_open_change (NmsStore *store, guint64 seq, const void *blob, gsize len, guint8 **plain, gsize *plain_len,
                   GError **error)
{
  *plain = NULL;
  *plain_len = len;
  return TRUE;
}

static gboolean
pragma_int (NmsStore *store, const char *sql, gint64 *value, GError **error)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2 (store->db, sql, -1, &s, NULL);

  if (rc == SQLITE_OK && (rc = sqlite3_step (s)) == SQLITE_ROW)
    *value = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  return rc == SQLITE_ROW || _nms_store_fail (store, rc, "read the file's page counts", error);
}

/* After a decrypt: writes zeros over every page on the free list, where
 * pages freed before (in FAST mode) keep their old bytes: one table takes
 * a zero blob as large as the free list, which SQLite lays over those
 * pages without holding it in memory, and is dropped again. A VACUUM
 * would need a copy of the store, now plaintext, in memory (as large as
 * the store) or in a temporary file outside its folder. What was freed
 * while the store was encrypted was sealed; the file keeps its size. */
static gboolean
plain_wipe_free_space (NmsStore *store, GError **error)
{
  gint64 free_pages = 0, page_size = 0;
  sqlite3_stmt *s = NULL;
  int rc;

  if (!_nms_store_exec (store, "BEGIN IMMEDIATE", "lock the store for the rewrite", error))
    return FALSE;
  if (!pragma_int (store, "PRAGMA freelist_count", &free_pages, error)
      || !pragma_int (store, "PRAGMA page_size", &page_size, error))
    goto fail;
  if (free_pages > 0)
    {
      /* Zeros laid over zeros need not be zeroed again when dropped. */
      if (!_nms_store_exec (store, "PRAGMA secure_delete = FAST", "keep the zeroed pages as they are", error)
          || !_nms_store_exec (store, "CREATE TABLE nmstore_scrub (b BLOB)", "make room for the rewrite", error))
        goto fail;
      rc = sqlite3_prepare_v2 (store->db, "INSERT INTO nmstore_scrub VALUES (zeroblob (?1))", -1, &s, NULL);
      if (rc == SQLITE_OK)
        {
          sqlite3_bind_int64 (s, 1, free_pages * page_size);
          rc = sqlite3_step (s);
        }
      sqlite3_finalize (s);
      if (rc != SQLITE_DONE)
        {
          _nms_store_fail (store, rc, "write zeros over the free pages", error);
          goto fail;
        }
      if (!_nms_store_exec (store, "DROP TABLE nmstore_scrub", "finish the rewrite", error)
          || !_nms_store_exec (store, "PRAGMA secure_delete = ON", "turn on secure delete", error))
        goto fail;
    }
  if (!_nms_store_exec (store, "DELETE FROM meta WHERE name = 'scrub_pending'", "finish the rewrite", error)
      || !_nms_store_exec (store, "COMMIT", "commit the rewrite", error))
    goto fail;
  return TRUE;

fail:
  sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

const NmsStoreRecordClass nms_store_plain_records = {
  .name = "plain",
  .get = plain_get,
  .visit = plain_visit,
  .note_change = plain_note_change,
  .put = plain_put,
  .delete = plain_delete,
  .clear = plain_clear,
  .bytes_in_use = plain_bytes_in_use,
  .bind_change = plain_bind_change,
  .finish_change = plain_finish_change,
  .open_change = plain_open_change,
  .wipe_free_space = plain_wipe_free_space,
};

typedef struct {
  GBytes *key;
  GBytes *value;  /* NULL: only the size changes */
  gint64  size;
} Rewrite;

static void
rewrite_free (gpointer data)
{
  Rewrite *r = data;

  g_bytes_unref (r->key);
  if (r->value != NULL)
    g_bytes_unref (r->value);
  g_free (r);
}

/* Brings every plaintext item to its canonical text (json.h) and Chrome's
 * count: files written before schema 4 kept values as they were sent
 * (member order, number text) with a cruder count, and a restored backup
 * may be such a file. A value that is not JSON fails the whole call with
 * E_CORRUPT when strict (a backup to restore); otherwise it is left as it
 * is, with a warning, so that one damaged item does not make the rest of
 * an origin unreadable. Sealed items are left as they are: their text is
 * rewritten the next time each is written. Runs inside the caller's
 * transaction. */
gboolean
_nms_store_items_canonicalize (NmsStore *store, gboolean strict, GError **error)
{
  g_autoptr(GPtrArray) rewrites = g_ptr_array_new_with_free_func (rewrite_free);
  g_autoptr(GString) text = g_string_new (NULL);
  sqlite3_stmt *s = NULL;
  int rc;
  guint i;

  rc = sqlite3_prepare_v2 (store->db, "SELECT key, kind, value, size FROM items "
                           "WHERE NOT EXISTS (SELECT 1 FROM meta WHERE name = 'crypto')", -1, &s, NULL);
  for (rc = rc == SQLITE_OK ? sqlite3_step (s) : rc; rc == SQLITE_ROW; rc = sqlite3_step (s))
    {
      const guint8 *key = sqlite3_column_blob (s, 0), *value = sqlite3_column_blob (s, 2);
      gsize key_len = (gsize) sqlite3_column_bytes (s, 0), value_len = (gsize) sqlite3_column_bytes (s, 2);
      NmsValueKind kind;
      Rewrite *r;

      if (!row_kind (store, s, 1, &kind, error))
        {
          sqlite3_finalize (s);
          return FALSE;
        }
      g_string_truncate (text, 0);
      if (kind == NMS_VALUE_JSON)
        {
          NmsJson doc;
          g_autoptr(GError) local = NULL;

          if (!nms_json_parse_const (value ? (const char *) value : "", value_len, &doc, &local))
            {
              if (!strict)
                {
                  g_warning ("%s holds an item \"%.*s\" whose value is not JSON (%s); it is left as it is",
                             store->path, (int) MIN (key_len, 200), key ? (const char *) key : "", local->message);
                  continue;
                }
              g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "%s holds an item \"%.*s\" whose value is not JSON "
                           "(%s); the backup is damaged", store->path, (int) MIN (key_len, 200),
                           key ? (const char *) key : "", local->message);
              sqlite3_finalize (s);
              return FALSE;
            }
          nms_json_write (text, doc.root, doc.stuffed);
          nms_json_clear (&doc);
          value = (const guint8 *) text->str;
          value_len = text->len;
        }
      r = g_new0 (Rewrite, 1);
      r->size = (gint64) nms_store_item_bytes (kind, key_len, value, value_len);
      if (kind == NMS_VALUE_JSON && (value_len != (gsize) sqlite3_column_bytes (s, 2)
                                     || memcmp (value, sqlite3_column_blob (s, 2), value_len) != 0))
        r->value = g_bytes_new (value, value_len);
      if (r->value == NULL && r->size == sqlite3_column_int64 (s, 3))
        {
          g_free (r);
          continue;
        }
      r->key = g_bytes_new (key, key_len);
      g_ptr_array_add (rewrites, r);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    return _nms_store_fail (store, rc, "read the items to bring them up to date", error);

  rc = sqlite3_prepare_v2 (store->db, "UPDATE items SET value = coalesce (?2, value), size = ?3 WHERE key = ?1",
                           -1, &s, NULL);
  for (i = 0; rc == SQLITE_OK && i < rewrites->len; i++)
    {
      const Rewrite *r = rewrites->pdata[i];
      gsize len;
      const void *k = g_bytes_get_data (r->key, &len);

      sqlite3_reset (s);
      sqlite3_bind_text (s, 1, k, (int) len, SQLITE_STATIC);
      if (r->value != NULL)
        {
          gsize vlen;
          const void *v = g_bytes_get_data (r->value, &vlen);
          sqlite3_bind_blob64 (s, 2, vlen ? v : "", vlen, SQLITE_STATIC);
        }
      else
        sqlite3_bind_null (s, 2);
      sqlite3_bind_int64 (s, 3, r->size);
      rc = sqlite3_step (s);
      rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
  sqlite3_finalize (s);
  return rc == SQLITE_OK || _nms_store_fail (store, rc, "bring the items up to date", error);
}
