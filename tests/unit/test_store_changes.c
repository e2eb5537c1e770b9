/* SPDX-License-Identifier: MIT */
/* test_store_changes.c: the store's change log on a real SQLite file,
 * with a subscriber registered (without one nothing is logged: that is
 * test_store_subscribers.c): what one request records, that failed and
 * no-op writes record nothing, pruning, and the upgrade of a version-1
 * store. */
#include "harness.h"
#include "base/error.h"
#include "store/store.h"

#include <sqlite3.h>
#include <string.h>

typedef struct {
  char     *home;
  char     *dir;
  NmsStore *store;
} Fixture;

static int
setup_with (void **state, const NmsStoreOptions *options)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;

  f->home = nmt_make_home ();
  f->dir = g_build_filename (f->home, "origin", NULL);
  f->store = nms_store_open (f->dir, "test", options, &error);
  assert_non_null (f->store);
  {
    gint64 id;
    guint64 cursor;

    assert_true (nms_store_subscribe (f->store, &id, &cursor, &error));
    assert_int_equal (cursor, 0);
  }
  *state = f;
  return 0;
}

static int
setup (void **state)
{
  return setup_with (state, NULL);
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  nms_store_free (f->store);
  nmt_remove_tree (f->home);
  g_free (f->dir);
  g_free (f->home);
  g_free (f);
  return 0;
}

/* Each row as text: "seq|key:old>new,key:old>new", "-" for absent. */
static gboolean
collect_row (guint64 seq, const NmsChange *changes, gsize n, gpointer user_data, GError **error)
{
  GPtrArray *rows = user_data;
  g_autoptr(GString) row = g_string_new (NULL);
  gsize i;

  g_string_printf (row, "%" G_GUINT64_FORMAT "|", seq);
  for (i = 0; i < n; i++)
    {
      const NmsChange *c = &changes[i];
      g_string_append_printf (row, "%s%s:", i ? "," : "", c->key);
      if (c->old_value.present)
        g_string_append_len (row, (const char *) c->old_value.value, (gssize) c->old_value.value_len);
      else
        g_string_append_c (row, '-');
      g_string_append_c (row, '>');
      if (c->new_value.present)
        g_string_append_len (row, (const char *) c->new_value.value, (gssize) c->new_value.value_len);
      else
        g_string_append_c (row, '-');
    }
  g_ptr_array_add (rows, g_string_free (g_steal_pointer (&row), FALSE));
  return TRUE;
}

static GPtrArray *
rows_after (NmsStore *store, guint64 after)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  assert_true (nms_store_changes_read (store, after, 100000, collect_row, rows, &error));
  return rows;
}

static void
set1 (NmsStore *store, const char *key, const char *json)
{
  NmsItem item = { key, strlen (key), NMS_VALUE_JSON, (const guint8 *) json, strlen (json) };
  g_autoptr(GError) error = NULL;

  assert_true (nms_store_set (store, &item, 1, &error));
}

static void
test_one_row_per_write (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  const char *gone[] = { "a", "missing" };
  NmsItem two[] = {
    { "a", 1, NMS_VALUE_JSON, (const guint8 *) "2", 1 },
    { "b", 1, NMS_VALUE_JSON, (const guint8 *) "\"x\"", 3 },
  };

  set1 (f->store, "a", "1");
  assert_true (nms_store_set (f->store, two, 2, &error));
  set1 (f->store, "b", "\"x\"");                       /* unchanged: no row */
  assert_true (nms_store_remove (f->store, gone, 2, &error));
  assert_true (nms_store_remove (f->store, gone + 1, 1, &error)); /* nothing: no row */
  assert_true (nms_store_clear (f->store, NULL, &error));
  assert_true (nms_store_clear (f->store, NULL, &error));          /* empty: no row */

  rows = rows_after (f->store, 0);
  assert_int_equal (rows->len, 4);
  assert_string_equal (rows->pdata[0], "1|a:->1");
  assert_string_equal (rows->pdata[1], "2|a:1>2,b:->\"x\"");
  assert_string_equal (rows->pdata[2], "3|a:2>-");
  assert_string_equal (rows->pdata[3], "4|b:\"x\">-");
}

static void
test_request_groups_calls (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  const char *a[] = { "a" };
  guint64 head, pruned;

  set1 (f->store, "a", "1");
  /* One request, several calls: one row from the state before it to the
   * state after it; a key set and removed again in it is no change. */
  assert_true (nms_store_begin (f->store, TRUE, &error));
  assert_true (nms_store_changes_begin (f->store, &error));
  set1 (f->store, "a", "2");
  set1 (f->store, "t", "0");
  set1 (f->store, "a", "3");
  assert_true (nms_store_remove (f->store, (const char *[]) { "t" }, 1, &error));
  assert_true (nms_store_changes_end (f->store, TRUE, &error));
  /* A request that fails leaves neither data nor a row. */
  assert_true (nms_store_changes_begin (f->store, &error));
  assert_true (nms_store_remove (f->store, a, 1, &error));
  assert_true (nms_store_changes_end (f->store, FALSE, &error));
  assert_true (nms_store_commit (f->store, &error));

  rows = rows_after (f->store, 0);
  assert_int_equal (rows->len, 2);
  assert_string_equal (rows->pdata[1], "2|a:1>3");
  assert_true (nms_store_changes_state (f->store, &head, &pruned, &error));
  assert_int_equal (head, 2);
  assert_int_equal (pruned, 0);
}

static int
setup_quota (void **state)
{
  NmsStoreOptions options = { .quota_bytes = 20 };
  return setup_with (state, &options);
}

/* A call that fails inside a request is rolled back alone; the request's
 * row holds only what the calls that succeeded did. */
static void
test_failed_call_inside_request_is_not_recorded (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  NmsItem big = { "big", 3, NMS_VALUE_JSON, (const guint8 *) "\"0123456789012345\"", 18 };

  assert_true (nms_store_changes_begin (f->store, &error));
  set1 (f->store, "k", "1");
  assert_false (nms_store_set (f->store, &big, 1, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  assert_true (nms_store_changes_end (f->store, TRUE, NULL));
  rows = rows_after (f->store, 0);
  assert_int_equal (rows->len, 1);
  assert_string_equal (rows->pdata[0], "1|k:->1");
}

static int
setup_small_log (void **state)
{
  NmsStoreOptions options = { .changes_keep_rows = 100 };
  return setup_with (state, &options);
}

static void
test_pruning_keeps_the_newest_rows (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  guint64 head, pruned;
  int i;

  for (i = 0; i < 1000; i++)
    {
      g_autofree char *v = g_strdup_printf ("%d", i);
      set1 (f->store, "k", v);
    }
  assert_true (nms_store_changes_state (f->store, &head, &pruned, &error));
  assert_int_equal (head, 1000);
  assert_true (pruned >= 1000 - 100 - 64 && pruned <= 1000 - 100);
  rows = rows_after (f->store, 0);
  assert_int_equal (rows->len, head - pruned);
  assert_string_equal (rows->pdata[rows->len - 1], "1000|k:998>999");
}

/* A store written by schema 1 (no change log) is upgraded in place. */
static void
test_version_1_store_is_upgraded (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *dir = g_build_filename (home, "origin", NULL);
  g_autofree char *path = g_build_filename (dir, NMS_STORE_FILE_NAME, NULL);
  g_autoptr(NmsStore) store = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db;

  g_mkdir_with_parents (dir, 0700);
  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  assert_int_equal (sqlite3_exec (db,
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE items (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind INTEGER NOT NULL,"
    "  size INTEGER NOT NULL, value BLOB NOT NULL);"
    "INSERT INTO meta VALUES ('bytes_in_use', 4), ('flushes', 0);"
    "INSERT INTO items (key, kind, size, value) VALUES ('old', 0, 4, CAST('123' AS BLOB));"
    "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close (db);

  store = nms_store_open (dir, "test", NULL, &error);
  assert_non_null (store);
  {
    gint64 id;
    guint64 cursor;

    /* The upgrade added the subscribers table too. */
    assert_true (nms_store_subscribe (store, &id, &cursor, &error));
  }
  set1 (store, "old", "4");
  rows = rows_after (store, 0);
  assert_int_equal (rows->len, 1);
  assert_string_equal (rows->pdata[0], "1|old:123>4");
  g_clear_pointer (&store, nms_store_free);

  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  {
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &s, NULL);
    assert_int_equal (sqlite3_step (s), SQLITE_ROW);
    assert_int_equal (sqlite3_column_int (s, 0), NMS_STORE_SCHEMA);
    sqlite3_finalize (s);
  }
  sqlite3_close (db);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_one_row_per_write, setup, teardown),
    cmocka_unit_test_setup_teardown (test_request_groups_calls, setup, teardown),
    cmocka_unit_test_setup_teardown (test_failed_call_inside_request_is_not_recorded, setup_quota, teardown),
    cmocka_unit_test_setup_teardown (test_pruning_keeps_the_newest_rows, setup_small_log, teardown),
    cmocka_unit_test (test_version_1_store_is_upgraded),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
