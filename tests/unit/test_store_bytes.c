/* SPDX-License-Identifier: MIT */
/* test_store_bytes.c: the bytes in use and the quota (host/store/
 * store-bytes.c) against a real SQLite file: that a write commits its
 * item's page alone, with no counter page beside it; and that the sum
 * stays exact when another connection commits (another host of the
 * origin, the command line) and when this one rolls back, both where the
 * connection keeps it (a store with a quota) and where it counts it from
 * the items each time (without one). */
#include "harness.h"
#include "storecheck.h"

#include "base/error.h"
#include "store/store.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

typedef NmtStoreHome Fixture;

/* A quota no test reaches: the connection keeps the sum. */
#define ROOMY (G_GUINT64_CONSTANT (1) << 30)

static void
remove_ok (NmsStore *store, const char *key)
{
  g_autoptr(GError) error = NULL;
  const char *keys[] = { key };

  if (!nms_store_remove (store, keys, 1, &error))
    fail_msg ("remove \"%s\" failed: %s", key, error->message);
}

static gint64
file_size (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (gint64) st.st_size : -1;
}

/* A set that changes a value's size writes one page to the WAL: the
 * item's. Schemas up to 5 also wrote the counter's page in meta, and
 * committing that second page cost as much again as the first. */
static void
one_page_per_set (Fixture *f, guint64 quota)
{
  g_autofree char *db = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  g_autofree char *wal = g_strconcat (db, "-wal", NULL);
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, quota);
  sqlite3 *raw = NULL;
  int page_size = 0;
  int i;

  nmt_store_set_ok (store, "state", "\"short\"");
  assert_int_equal (sqlite3_open (db, &raw), SQLITE_OK);
  {
    sqlite3_stmt *s = NULL;

    assert_int_equal (sqlite3_prepare_v2 (raw, "PRAGMA page_size", -1, &s, NULL), SQLITE_OK);
    assert_int_equal (sqlite3_step (s), SQLITE_ROW);
    page_size = sqlite3_column_int (s, 0);
    sqlite3_finalize (s);
  }
  for (i = 0; i < 3; i++)
    {
      g_autofree char *value = g_strdup_printf ("\"%0*d\"", 10 + 7 * i, i);

      /* An empty WAL, so that what the next commit adds is all there is. */
      assert_int_equal (sqlite3_exec (raw, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
      assert_int_equal (file_size (wal), 0);
      nmt_store_set_ok (store, "state", value);
      /* The WAL's header, then one frame: its header and one page. */
      assert_int_equal (file_size (wal), 32 + (24 + page_size));
    }
  sqlite3_close (raw);
  /* "state" and the last value, 24 digits in quotes. */
  assert_int_equal (nmt_store_bytes_total (store), 5 + 26);
}

static void
test_size_change_commits_one_page (void **state)
{
  one_page_per_set (*state, 0);
}

static void
test_size_change_commits_one_page_with_quota (void **state)
{
  one_page_per_set (*state, ROOMY);
}

/* Another connection's commits reach this one's sum, and this one's own
 * writes after them count from there. A connection that kept its sum
 * without asking SQLite whether others had committed would go on
 * reporting what it last counted. */
static void
other_connections_counted (Fixture *f, guint64 quota)
{
  g_autoptr(NmsStore) a = nmt_store_open (f->dir, quota);
  g_autoptr(NmsStore) b = nmt_store_open (f->dir, quota);

  assert_int_equal (nmt_store_bytes_total (a), 0);
  nmt_store_set_ok (b, "k", "\"12345\"");                 /* 1 + 7 */
  assert_int_equal (nmt_store_bytes_total (a), 8);
  nmt_store_set_ok (a, "j", "1");                         /* 1 + 1 */
  assert_int_equal (nmt_store_bytes_total (a), 10);
  assert_int_equal (nmt_store_bytes_total (b), 10);
  nmt_store_set_ok (b, "j", "[1,2,3]");                   /* 1 + 7 */
  assert_int_equal (nmt_store_bytes_total (a), 16);
  remove_ok (b, "k");
  assert_int_equal (nmt_store_bytes_total (a), 8);
  {
    g_autoptr(GError) error = NULL;

    assert_true (nms_store_clear (b, NULL, &error));
  }
  assert_int_equal (nmt_store_bytes_total (a), 0);
  nmt_store_set_ok (a, "z", "\"\"");                      /* 1 + 2 */
  assert_int_equal (nmt_store_bytes_total (b), 3);
  assert_int_equal (nmt_store_bytes_total (a), 3);
}

static void
test_other_connections_counted (void **state)
{
  other_connections_counted (*state, ROOMY);
}

static void
test_other_connections_counted_without_quota (void **state)
{
  other_connections_counted (*state, 0);
}

/* A batch that counted the bytes after another connection's commit, then
 * wrote, then rolled back: the count it made is undone with its writes,
 * and the next ask counts again. */
static void
test_rolled_back_count_counted_again (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) a = nmt_store_open (f->dir, ROOMY);
  g_autoptr(NmsStore) b = nmt_store_open (f->dir, ROOMY);
  g_autoptr(GError) error = NULL;

  nmt_store_set_ok (a, "a", "1");                         /* 1 + 1 */
  assert_int_equal (nmt_store_bytes_total (a), 2);
  nmt_store_set_ok (b, "b", "22");                        /* 1 + 2 */

  assert_true (nms_store_begin (a, TRUE, &error));
  assert_int_equal (nmt_store_bytes_in_batch (a), 5);
  nmt_store_set_ok (a, "c", "333");                       /* 1 + 3 */
  assert_int_equal (nmt_store_bytes_in_batch (a), 9);
  nms_store_rollback (a);
  assert_int_equal (nmt_store_bytes_total (a), 5);

  /* And the same with no other commit in between. */
  assert_true (nms_store_begin (a, TRUE, &error));
  nmt_store_set_ok (a, "c", "333");
  remove_ok (a, "a");
  assert_int_equal (nmt_store_bytes_in_batch (a), 7);
  nms_store_rollback (a);
  assert_int_equal (nmt_store_bytes_total (a), 5);
  nmt_store_set_ok (a, "a", "4444");                      /* 1 + 4 */
  assert_int_equal (nmt_store_bytes_total (a), 8);
  assert_int_equal (nmt_store_bytes_total (b), 8);
}

/* The quota counts what other connections wrote. */
static void
test_quota_counts_other_connections (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) a = nmt_store_open (f->dir, 10);
  g_autoptr(NmsStore) b = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;

  nmt_store_set_ok (a, "x", "1");                         /* 1 + 1 */
  nmt_store_set_ok (b, "k", "12345");                     /* 1 + 5 */
  assert_false (nmt_store_set_json (a, "y", "12", &error)); /* 1 + 2: 11 > 10 */
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  g_clear_error (&error);
  nmt_store_set_ok (a, "y", "1");                         /* 10: at the quota */
  remove_ok (b, "k");
  nmt_store_set_ok (a, "w", "12345");                     /* 4 + 6: at the quota */
  assert_int_equal (nmt_store_bytes_total (a), 10);
  assert_int_equal (nmt_store_bytes_total (b), 10);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_size_change_commits_one_page, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_size_change_commits_one_page_with_quota, nmt_store_home_setup,
                                     nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_other_connections_counted, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_other_connections_counted_without_quota, nmt_store_home_setup,
                                     nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_rolled_back_count_counted_again, nmt_store_home_setup,
                                     nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_quota_counts_other_connections, nmt_store_home_setup,
                                     nmt_store_home_teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
