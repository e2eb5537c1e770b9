/* SPDX-License-Identifier: MIT */
/* store-items.c: reading and writing items: keys and their checks,
 * Chrome's byte count, get, prefix scans, set, remove, clear and the
 * quota. Every write runs inside nms_store_op_begin/end (store.c) and, while
 * anyone subscribes, notes its changes for the change log first. */
#include "store-private.h"
#include "nmstore/error.h"
#include "nmstore/json.h"

#include <string.h>

/* What every row of items must be, whoever writes it: a restore copies
 * rows from a file that may have been made by hand. Triggers, since
 * SQLite cannot add a CHECK to an existing table. A size below zero would
 * let a write through the quota; a kind other than JSON or bytes has no
 * meaning. */
const char nms_store_items_schema_sql[] =
  "CREATE TRIGGER IF NOT EXISTS items_sane_insert BEFORE INSERT ON items"
  "  WHEN NEW.kind NOT IN (0, 1) OR typeof (NEW.size) != 'integer' OR NEW.size < 0"
  "  BEGIN SELECT RAISE (ABORT, 'an item with an unknown kind or a negative size'); END;"
  "CREATE TRIGGER IF NOT EXISTS items_sane_update BEFORE UPDATE ON items"
  "  WHEN NEW.kind NOT IN (0, 1) OR typeof (NEW.size) != 'integer' OR NEW.size < 0"
  "  BEGIN SELECT RAISE (ABORT, 'an item with an unknown kind or a negative size'); END;";

gboolean
nms_store_check_key (const char *key, gsize key_len, GError **error)
{
  /* The empty key is a key, as in chrome.storage. */
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

/* Chrome's count of a value: the length of its JSON text as Chrome's own
 * writer writes it (json.h). Bytes count as their {"$bytes":"<base64>"}
 * form. */
guint64
nms_store_value_bytes (NmsValueKind kind, const guint8 *value, gsize value_len)
{
  if (kind == NMS_VALUE_BYTES)
    return nms_json_bytes_length (value_len);
  return nms_json_chrome_length ((const char *) value, value_len);
}

/* Chrome's rule for an item: UTF-8 key bytes plus the value's count. */
guint64
nms_store_item_bytes (NmsValueKind kind, gsize key_len, const guint8 *value, gsize value_len)
{
  return key_len + nms_store_value_bytes (kind, value, value_len);
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

/* The cheap check of an item read from the file, before it goes into a
 * reply: a file changed behind nmstore's back, by a person or a program,
 * must never make the host send a frame that is not valid JSON (a raw NUL,
 * bytes that are not UTF-8, or text such as `1},"ok":false` that would
 * forge a reply). Sealed items need none: their AEAD tag vouches for them. */
gboolean
nms_store_item_check (NmsStore *store, const NmsItem *item, gboolean with_value, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *shown = NULL;

  if (!g_utf8_validate_len (item->key, item->key_len, NULL))
    {
      shown = g_utf8_make_valid (item->key, (gssize) item->key_len);
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "an item's key in %s is not UTF-8 text (it reads \"%s\"); the file was changed outside "
                   "nmstore: restore it from a backup, or clear the keys under that prefix", store->path, shown);
      return FALSE;
    }
  if (with_value && item->kind == NMS_VALUE_JSON
      && !nms_json_check ((const char *) item->value, item->value_len, NULL, &local))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "the value of \"%s\" in %s is damaged (%s); the file was changed outside nmstore: remove "
                   "that key, or restore the store from a backup", item->key, store->path, local->message);
      return FALSE;
    }
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
  s = nms_store_stmt (store, STMT_GET);
  sqlite3_bind_text (s, 1, key, (int) key_len, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      ok = row_kind (store, s, 0, &item.kind, error);
      if (ok)
        {
          item.value = sqlite3_column_blob (s, 1);
          item.value_len = (gsize) sqlite3_column_bytes (s, 1);
          ok = nms_store_item_check (store, &item, TRUE, error) && visit (&item, user_data, error);
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
    return nms_store_crypt_visit (store, prefix, with_values, visit, user_data, error);
  s = nms_store_stmt (store, which);
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
      ok = ok && nms_store_item_check (store, &item, with_values, error) && visit (&item, user_data, error);
    }
  if (ok && rc != SQLITE_DONE)
    ok = nms_store_fail (store, rc, "list the items", error);
  sqlite3_reset (s);
  return ok;
}

static gboolean
read_total (NmsStore *store, guint64 *total, GError **error)
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
  s = nms_store_stmt (store, STMT_GET);
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
      s = nms_store_stmt (store, STMT_UPSERT);
      sqlite3_bind_text (s, 1, item->key, (int) item->key_len, SQLITE_STATIC);
      sqlite3_bind_int (s, 2, item->kind);
      sqlite3_bind_int64 (s, 3, (gint64) nms_store_item_bytes (item->kind, item->key_len, item->value, item->value_len));
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
      s = nms_store_stmt (store, STMT_DELETE);
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
  s = nms_store_stmt (store, ranged ? STMT_CLEAR_RANGE : STMT_CLEAR);
  if (ranged)
    bind_prefix (s, prefix, &upper);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    ok = nms_store_fail (store, rc, "clear items", error);
  else if (!ranged)
    nms_store_crypt_cleared (store);
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
      sqlite3_stmt *s = nms_store_stmt (store, STMT_SIZE_OF);
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
nms_store_items_canonicalize (NmsStore *store, gboolean strict, GError **error)
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
    return nms_store_fail (store, rc, "read the items to bring them up to date", error);

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
  return rc == SQLITE_OK || nms_store_fail (store, rc, "bring the items up to date", error);
}
