/* SPDX-License-Identifier: MIT */
/* storecheck.c: read-only inspection of a store file with SQLite, and
 * JSON writes through the store layer for its unit tests. */
#include "storecheck.h"
#include "harness.h"
#include "config/keysource.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

NmtStoredItem *
nmt_stored_item_new (int kind, const void *data, gsize len)
{
  NmtStoredItem *item = g_new0 (NmtStoredItem, 1);
  item->kind = kind;
  item->value = g_bytes_new (data, len);
  return item;
}

void
nmt_stored_item_free (gpointer p)
{
  NmtStoredItem *item = p;

  if (item == NULL)
    return;
  g_bytes_unref (item->value);
  g_free (item);
}

gboolean
nmt_stored_item_equal (const NmtStoredItem *a, const NmtStoredItem *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return a->kind == b->kind && g_bytes_equal (a->value, b->value);
}

/* Finds home/<origin dir>/store.db: the tests use one origin per home. */
char *
nmt_store_find_db (const char *home)
{
  g_autoptr(GDir) dir = g_dir_open (home, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (home, name, "store.db", NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&path);
    }
  return NULL;
}

static char *
single_text (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *s = NULL;
  char *text = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step (s) == SQLITE_ROW)
    text = g_strdup ((const char *) sqlite3_column_text (s, 0));
  sqlite3_finalize (s);
  return text;
}

/* Opens a copy of the database and its WAL, read-write, in a scratch
 * directory. A host killed while it set up or wrote the WAL can leave one
 * that needs recovery, which a read-only connection cannot run ("attempt
 * to write a readonly database"); the copy is recovered instead, and the
 * original stays exactly as the host left it. All hosts are stopped when
 * a test checks, so the files are copied in one state. */
static sqlite3 *
open_copy (const char *db_path, char **scratch, char **problem)
{
  /* A rollback journal left by a cut during the store's creation (before
   * it turns to WAL) is hot: SQLite needs it to roll the file back. */
  static const char *const suffixes[] = { "", "-wal", "-journal" };
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;
  g_autofree char *copy = NULL;
  gsize i;
  int rc;

  *scratch = g_dir_make_tmp ("nmstore-check-XXXXXX", &error);
  if (*scratch == NULL)
    {
      *problem = g_strdup_printf ("cannot make a scratch directory: %s", error->message);
      return NULL;
    }
  copy = g_build_filename (*scratch, "store.db", NULL);
  for (i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *from = g_strconcat (db_path, suffixes[i], NULL);
      g_autofree char *to = g_strconcat (copy, suffixes[i], NULL);
      g_autofree char *data = NULL;
      gsize len = 0;

      if (!g_file_test (from, G_FILE_TEST_EXISTS))
        continue;
      if (!g_file_get_contents (from, &data, &len, &error) || !g_file_set_contents (to, data, (gssize) len, &error))
        {
          *problem = g_strdup_printf ("cannot copy %s to check it: %s", from, error->message);
          return NULL;
        }
    }
  rc = sqlite3_open_v2 (copy, &db, SQLITE_OPEN_READWRITE, NULL);
  if (rc != SQLITE_OK)
    {
      *problem = g_strdup_printf ("cannot open a copy of %s: %s", db_path, sqlite3_errstr (rc));
      sqlite3_close (db);
      return NULL;
    }
  return db;
}

static void
close_copy (sqlite3 *db, char *scratch)
{
  static const char *const names[] = { "store.db", "store.db-wal", "store.db-shm", "store.db-journal" };
  gsize i;

  sqlite3_close (db);
  if (scratch == NULL)
    return;
  for (i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (scratch, names[i], NULL);
      g_unlink (path);
    }
  g_rmdir (scratch);
  g_free (scratch);
}

GHashTable *
nmt_store_snapshot (const char *db_path, char **problem)
{
  g_autoptr(GHashTable) items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, nmt_stored_item_free);
  g_autofree char *check = NULL, *table = NULL;
  char *scratch = NULL;
  sqlite3 *db;
  sqlite3_stmt *s = NULL;
  int rc;

  *problem = NULL;
  /* On a copy: the check must not repair or change what the host left. */
  if ((db = open_copy (db_path, &scratch, problem)) == NULL)
    {
      close_copy (NULL, scratch);
      return NULL;
    }
  sqlite3_busy_timeout (db, 30000);
  /* One read transaction, so the reads see one state. */
  sqlite3_exec (db, "BEGIN", NULL, NULL, NULL);
  check = single_text (db, "PRAGMA integrity_check");
  if (check == NULL || strcmp (check, "ok") != 0)
    {
      *problem = g_strdup_printf ("integrity_check of %s: %s (%s)", db_path, check ? check : "no answer",
                                  sqlite3_errmsg (db));
      goto out;
    }
  /* A host killed before it created the tables leaves an empty file. */
  table = single_text (db, "SELECT name FROM sqlite_master WHERE name = 'items'");
  if (table == NULL)
    goto out;
  /* The quota and getBytesInUse add up the size column, so each row's
   * must be Chrome's count of its key and value. */
  rc = sqlite3_prepare_v2 (db, "SELECT key, kind, value, size FROM items", -1, &s, NULL);
  while (s != NULL && *problem == NULL && (rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      const char *key = (const char *) sqlite3_column_text (s, 0);
      int kind = sqlite3_column_int (s, 1);
      const guint8 *value = sqlite3_column_blob (s, 2);
      gsize len = (gsize) sqlite3_column_bytes (s, 2);
      guint64 count = nms_store_item_bytes (kind == 1 ? NMS_VALUE_BYTES : NMS_VALUE_JSON, strlen (key), value, len);

      if ((guint64) sqlite3_column_int64 (s, 3) != count)
        *problem = g_strdup_printf ("the size of \"%s\" says %lld but its key and value count %" G_GUINT64_FORMAT,
                                    key, (long long) sqlite3_column_int64 (s, 3), count);
      g_hash_table_insert (items, g_strdup (key), nmt_stored_item_new (kind, value, len));
    }
  if (*problem == NULL && rc != SQLITE_DONE)
    *problem = g_strdup_printf ("cannot read the items of %s: %s", db_path, sqlite3_errmsg (db));
  sqlite3_finalize (s);
out:
  sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
  close_copy (db, scratch);
  return *problem == NULL ? g_steal_pointer (&items) : NULL;
}

gboolean
nmt_store_check_integrity (const char *db_path, gint64 *n_rows, char **problem)
{
  g_autofree char *check = NULL, *table = NULL, *rows = NULL;
  char *scratch = NULL;
  sqlite3 *db;

  *problem = NULL;
  *n_rows = 0;
  /* On a copy, as in nmt_store_snapshot: the check must change nothing. */
  if ((db = open_copy (db_path, &scratch, problem)) == NULL)
    {
      close_copy (NULL, scratch);
      return FALSE;
    }
  sqlite3_busy_timeout (db, 30000);
  sqlite3_exec (db, "BEGIN", NULL, NULL, NULL);
  check = single_text (db, "PRAGMA integrity_check");
  if (check == NULL || strcmp (check, "ok") != 0)
    *problem = g_strdup_printf ("integrity_check of %s: %s (%s)", db_path, check ? check : "no answer",
                                sqlite3_errmsg (db));
  else if ((table = single_text (db, "SELECT name FROM sqlite_master WHERE name = 'items'")) != NULL)
    {
      rows = single_text (db, "SELECT count(*) FROM items");
      if (rows == NULL)
        *problem = g_strdup_printf ("cannot count the items of %s: %s", db_path, sqlite3_errmsg (db));
      else
        *n_rows = g_ascii_strtoll (rows, NULL, 10);
    }
  sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
  close_copy (db, scratch);
  return *problem == NULL;
}

gboolean
nmt_store_set_json (NmsStore *store, const char *key, const char *json, GError **error)
{
  NmsItem item = { .key = key, .key_len = strlen (key), .kind = NMS_VALUE_JSON,
                   .value = (const guint8 *) json, .value_len = strlen (json) };

  return nms_store_set (store, &item, 1, error);
}

void
nmt_store_set_ok (NmsStore *store, const char *key, const char *json)
{
  g_autoptr(GError) error = NULL;

  if (!nmt_store_set_json (store, key, json, &error))
    fail_msg ("set \"%s\" failed: %s", key, error->message);
}

/* As the command line asks: in a read transaction of its own. */
gboolean
nmt_store_read_bytes (NmsStore *store, const char *const *keys, gsize n_keys, guint64 *bytes,
                      GError **error)
{
  if (!nms_store_begin (store, FALSE, error))
    return FALSE;
  if (!nms_store_bytes_in_use (store, keys, n_keys, bytes, error))
    {
      nms_store_rollback (store);
      return FALSE;
    }
  return nms_store_commit (store, error);
}

static guint64
bytes_total_or_fail (NmsStore *store, gboolean own_read)
{
  g_autoptr(GError) error = NULL;
  guint64 bytes = G_MAXUINT64;
  gboolean ok = own_read ? nmt_store_read_bytes (store, NULL, 0, &bytes, &error)
                         : nms_store_bytes_in_use (store, NULL, 0, &bytes, &error);

  if (!ok)
    fail_msg ("bytes_in_use failed: %s", error->message);
  return bytes;
}

guint64
nmt_store_bytes_total (NmsStore *store)
{
  return bytes_total_or_fail (store, TRUE);
}

guint64
nmt_store_bytes_in_batch (NmsStore *store)
{
  return bytes_total_or_fail (store, FALSE);
}

NmsStore *
nmt_store_open (const char *dir, guint64 quota)
{
  /* The real key provider, as the fronts give it: the tests that
   * encrypt a store use real key files. */
  NmsStoreOptions options = { .durability = NMS_DURABILITY_NORMAL, .quota_bytes = quota,
                              .keys = nms_keysource_store_keys () };
  g_autoptr(GError) error = NULL;
  NmsStore *store = nms_store_open (dir, NMT_ORIGIN, &options, &error);

  if (store == NULL)
    fail_msg ("cannot open the store: %s", error->message);
  return store;
}

void
nmt_store_edit (const char *db_path, const char *sql, const void *blob, gsize len)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  const char *tail = sql;

  assert_int_equal (sqlite3_open (db_path, &db), SQLITE_OK);
  while (tail != NULL && *tail != '\0')
    {
      int rc;

      if (sqlite3_prepare_v2 (db, tail, -1, &s, &tail) != SQLITE_OK)
        fail_msg ("%s: %s", sql, sqlite3_errmsg (db));
      if (s == NULL)
        break; /* only white space was left */
      if (blob != NULL && sqlite3_bind_parameter_count (s) > 0)
        sqlite3_bind_blob64 (s, 1, blob, len, SQLITE_STATIC);
      while ((rc = sqlite3_step (s)) == SQLITE_ROW)
        ;
      if (rc != SQLITE_DONE)
        fail_msg ("%s: %s", sql, sqlite3_errmsg (db));
      sqlite3_finalize (s);
    }
  sqlite3_close (db);
}

static gboolean
append_key (const NmsItem *item, gpointer user_data, GError **error)
{
  GString *out = user_data;

  g_string_append_printf (out, "%s%.*s", out->len ? "," : "", (int) item->key_len, item->key);
  return TRUE;
}

char *
nmt_store_keys (NmsStore *store, const char *prefix)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  if (!nms_store_scan (store, prefix, FALSE, append_key, out, &error))
    fail_msg ("getKeys: %s", error->message);
  return g_strdup (out->str);
}

/* A JSON string of exactly n bytes with its quotes (n >= 2): its byte
 * count is its length, as a long integer's would not be (Chrome counts an
 * integer past 32 bits as a double, with ".0"). */
char *
nmt_json_string_of (gsize n, char fill)
{
  char *s = g_strnfill (n, fill);

  s[0] = s[n - 1] = '"';
  return s;
}

gboolean
nmt_store_remove_one (NmsStore *store, const char *key, GError **error)
{
  const char *keys[] = { key };

  return nms_store_remove (store, keys, 1, error);
}

void
nmt_store_remove_ok (NmsStore *store, const char *key)
{
  g_autoptr(GError) error = NULL;

  if (!nmt_store_remove_one (store, key, &error))
    fail_msg ("remove \"%s\" failed: %s", key, error->message);
}

typedef struct {
  gboolean     found;
  NmsValueKind kind;
  GByteArray  *value;
} Got;

static gboolean
got_visit (const NmsItem *item, gpointer user_data, GError **error)
{
  Got *got = user_data;

  got->found = TRUE;
  got->kind = item->kind;
  g_byte_array_append (got->value, item->value_len ? item->value : (const guint8 *) "", (guint) item->value_len);
  return TRUE;
}

GBytes *
nmt_store_raw_value (NmsStore *store, const char *key, gsize key_len, NmsValueKind *kind)
{
  g_autoptr(GError) error = NULL;
  Got got = { FALSE, 0, g_byte_array_new () };

  if (!nms_store_get (store, key, key_len, got_visit, &got, &error))
    fail_msg ("get failed: %s", error->message);
  if (kind != NULL)
    *kind = got.kind;
  if (!got.found)
    {
      g_byte_array_unref (got.value);
      return NULL;
    }
  return g_byte_array_free_to_bytes (got.value);
}

char *
nmt_store_value (NmsStore *store, const char *key, gsize key_len, NmsValueKind *kind)
{
  g_autoptr(GBytes) raw = nmt_store_raw_value (store, key, key_len, kind);
  gsize len;
  const guint8 *data;
  char *text;

  if (raw == NULL)
    return NULL;
  /* Bytes may hold NULs: copied whole, with one more after them. */
  data = g_bytes_get_data (raw, &len);
  text = g_malloc (len + 1);
  if (len > 0)
    memcpy (text, data, len);
  text[len] = '\0';
  return text;
}

void
nmt_store_assert_value (NmsStore *store, const char *key, const char *want)
{
  NmsValueKind kind = NMS_VALUE_BYTES;
  g_autofree char *value = nmt_store_value (store, key, strlen (key), &kind);

  if (want == NULL)
    {
      if (value != NULL)
        fail_msg ("\"%s\" is present (%s), expected absent", key, value);
      return;
    }
  if (value == NULL)
    fail_msg ("\"%s\" is absent, expected %s", key, want);
  assert_int_equal (kind, NMS_VALUE_JSON);
  assert_string_equal (value, want);
}

static gboolean
collect_key (const NmsItem *item, gpointer user_data, GError **error)
{
  g_ptr_array_add (user_data, g_strndup (item->key, item->key_len));
  assert_int_equal (strlen (g_ptr_array_index ((GPtrArray *) user_data, ((GPtrArray *) user_data)->len - 1)),
                    item->key_len);
  return TRUE;
}

gboolean
nmt_store_count_visit (const NmsItem *item, gpointer user_data, GError **error)
{
  (*(guint *) user_data)++;
  return TRUE;
}

GPtrArray *
nmt_store_scan_keys (NmsStore *store, const char *prefix, gboolean with_values)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);

  if (!nms_store_scan (store, prefix, with_values, collect_key, keys, &error))
    fail_msg ("scan failed: %s", error->message);
  return keys;
}

int
nmt_store_home_setup (void **state)
{
  NmtStoreHome *f = g_new0 (NmtStoreHome, 1);

  f->home = nmt_make_home ();
  f->dir = g_build_filename (f->home, "chromium-abcdefghijklmnopabcdefghijklmnop", NULL);
  *state = f;
  return 0;
}

int
nmt_store_home_teardown (void **state)
{
  NmtStoreHome *f = *state;

  nmt_remove_tree (f->home);
  g_free (f->home);
  g_free (f->dir);
  g_free (f);
  return 0;
}
