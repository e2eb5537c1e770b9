/* SPDX-License-Identifier: MIT */
/* test_store_txn.c: the store's transactions (store.h) against a real
 * SQLite file: a batch's writes all or nothing and invisible until it
 * commits, a store reopened, flushed and checked, and two handles on one
 * store sharing its items, its quota and its write lock. */
#include "harness.h"
#include "storecheck.h"

#include "base/error.h"
#include "store/store.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

typedef NmtStoreHome Fixture;

/* ---- batches ---------------------------------------------------------- */

static void
test_batch_failed_set_leaves_others (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 50);
  g_autoptr(GError) error = NULL;
  g_autofree char *big = nmt_json_string_of (60, '6');

  nmt_store_set_ok (store, "old", "1");
  assert_true (nms_store_begin (store, TRUE, &error));
  nmt_store_set_ok (store, "a", "1");
  assert_false (nmt_store_set_json (store, "b", big, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  g_clear_error (&error);
  assert_true (nmt_store_remove_one (store, "old", &error));
  nmt_store_set_ok (store, "c", "3");
  /* Inside the batch its own writes are visible. */
  nmt_store_assert_value (store, "a", "1");
  nmt_store_assert_value (store, "b", NULL);
  assert_true (nms_store_commit (store, &error));
  assert_null (error);

  nmt_store_assert_value (store, "a", "1");
  nmt_store_assert_value (store, "b", NULL);
  nmt_store_assert_value (store, "c", "3");
  nmt_store_assert_value (store, "old", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 4);

  /* And all of that is what another handle sees. */
  {
    g_autoptr(NmsStore) other = nmt_store_open (f->dir, 50);
    nmt_store_assert_value (other, "a", "1");
    nmt_store_assert_value (other, "b", NULL);
    nmt_store_assert_value (other, "c", "3");
    assert_int_equal (nmt_store_bytes_total (other), 4);
  }
}

static void
test_batch_rollback_discards_all (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;

  nmt_store_set_ok (store, "keep", "1");
  nmt_store_set_ok (store, "gone?", "2");
  assert_true (nms_store_begin (store, TRUE, &error));
  nmt_store_set_ok (store, "new", "3");
  nmt_store_set_ok (store, "keep", "4");
  assert_true (nmt_store_remove_one (store, "gone?", &error));
  assert_true (nms_store_clear (store, "k", &error));
  nms_store_rollback (store);

  nmt_store_assert_value (store, "keep", "1");
  nmt_store_assert_value (store, "gone?", "2");
  nmt_store_assert_value (store, "new", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 11);
  /* The store takes new work after a rollback. */
  nmt_store_set_ok (store, "after", "5");
  nmt_store_assert_value (store, "after", "5");
  {
    g_autoptr(NmsStore) other = nmt_store_open (f->dir, 0);
    nmt_store_assert_value (other, "new", NULL);
    nmt_store_assert_value (other, "after", "5");
  }
}

static void
test_batch_invisible_until_commit (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) a = nmt_store_open (f->dir, 0);
  g_autoptr(NmsStore) b = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;

  assert_true (nms_store_begin (a, TRUE, &error));
  nmt_store_set_ok (a, "pending", "1");
  nmt_store_assert_value (b, "pending", NULL);
  assert_true (nms_store_commit (a, &error));
  nmt_store_assert_value (b, "pending", "1");
}

static void
test_read_batch (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) keys = NULL;

  nmt_store_set_ok (store, "x", "1");
  assert_true (nms_store_begin (store, FALSE, &error));
  nmt_store_assert_value (store, "x", "1");
  keys = nmt_store_scan_keys (store, NULL, TRUE);
  assert_int_equal (keys->len, 1);
  assert_true (nms_store_commit (store, &error));
}

/* ---- lifetime --------------------------------------------------------- */

static void
test_reopen_sees_data (void **state)
{
  Fixture *f = *state;
  guint8 blob[3] = { 9, 8, 7 };
  NmsItem item = { "bin", 3, NMS_VALUE_BYTES, blob, 3 };
  g_autoptr(GError) error = NULL;
  guint64 total;

  {
    g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
    nmt_store_set_ok (store, "a", "{\"deep\":[true,false,null]}");
    nmt_store_set_ok (store, "\xF0\x9F\x98\x80", "\"smile\"");
    assert_true (nms_store_set (store, &item, 1, &error));
    total = nmt_store_bytes_total (store);
  }
  {
    g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
    NmsValueKind kind = NMS_VALUE_JSON;
    g_autofree char *got = nmt_store_value (store, "bin", 3, &kind);

    nmt_store_assert_value (store, "a", "{\"deep\":[true,false,null]}");
    nmt_store_assert_value (store, "\xF0\x9F\x98\x80", "\"smile\"");
    assert_int_equal (kind, NMS_VALUE_BYTES);
    assert_memory_equal (got, blob, 3);
    assert_int_equal (nmt_store_bytes_total (store), total);
    assert_true (nms_store_check_integrity (store, &error));
    assert_null (error);
  }
}

static void
test_flush_and_integrity (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  NmsStoreOptions full = { .durability = NMS_DURABILITY_FULL };

  {
    g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
    nmt_store_set_ok (store, "a", "1");
    assert_true (nms_store_flush (store, &error));
    assert_null (error);
    assert_true (nms_store_check_integrity (store, &error));
    assert_null (error);
    /* Flushing does not count as data. */
    assert_int_equal (nmt_store_bytes_total (store), 2);
    nmt_store_set_ok (store, "b", "2");
    nmt_store_assert_value (store, "b", "2");
  }
  {
    g_autoptr(NmsStore) store = nms_store_open (f->dir, NMT_ORIGIN, &full, &error);
    assert_non_null (store);
    nmt_store_set_ok (store, "c", "3");
    assert_true (nms_store_flush (store, &error));
    assert_true (nms_store_check_integrity (store, &error));
    assert_null (error);
    nmt_store_assert_value (store, "a", "1");
    nmt_store_assert_value (store, "c", "3");
  }
}

static void
test_two_handles_see_each_other (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) a = nmt_store_open (f->dir, 0);
  g_autoptr(NmsStore) b = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) keys = NULL;

  nmt_store_set_ok (a, "from-a", "1");
  nmt_store_assert_value (b, "from-a", "1");
  nmt_store_set_ok (b, "from-b", "2");
  nmt_store_assert_value (a, "from-b", "2");
  nmt_store_set_ok (b, "from-a", "\"changed by b\"");
  nmt_store_assert_value (a, "from-a", "\"changed by b\"");
  assert_true (nmt_store_remove_one (a, "from-b", &error));
  nmt_store_assert_value (b, "from-b", NULL);
  keys = nmt_store_scan_keys (b, NULL, FALSE);
  assert_int_equal (keys->len, 1);
  assert_int_equal (nmt_store_bytes_total (a), nmt_store_bytes_total (b));
  assert_int_equal (nmt_store_bytes_total (a), 6 + 14);
  assert_true (nms_store_clear (b, NULL, &error));
  assert_int_equal (nmt_store_bytes_total (a), 0);
}

static void
test_two_handles_share_quota (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) a = nmt_store_open (f->dir, 20);
  g_autoptr(NmsStore) b = nmt_store_open (f->dir, 20);
  g_autoptr(GError) error = NULL;
  g_autofree char *v14 = nmt_json_string_of (14, '4');

  nmt_store_set_ok (a, "a", v14);                 /* 15 */
  assert_false (nmt_store_set_json (b, "b", v14, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  nmt_store_assert_value (a, "b", NULL);
}

static void
test_writer_waits_then_reports_busy (void **state)
{
  Fixture *f = *state;
  NmsStoreOptions quick = { .busy_timeout_ms = 50 };
  g_autoptr(NmsStore) a = nmt_store_open (f->dir, 0);
  g_autoptr(NmsStore) b = NULL;
  g_autoptr(GError) error = NULL;

  b = nms_store_open (f->dir, NMT_ORIGIN, &quick, &error);
  assert_non_null (b);
  nmt_store_set_ok (a, "before", "0");
  assert_true (nms_store_begin (a, TRUE, &error));
  nmt_store_set_ok (a, "held", "1");
  /* b cannot write while a holds the write lock... */
  assert_false (nmt_store_set_json (b, "blocked", "2", &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_BUSY));
  assert_true (strlen (error->message) > 0);
  g_clear_error (&error);
  /* ...but it still reads the last commit. */
  nmt_store_assert_value (b, "before", "0");
  nmt_store_assert_value (b, "held", NULL);
  assert_true (nms_store_commit (a, &error));
  /* Once the lock is free, b writes, and nothing of the refused write
   * was kept. */
  nmt_store_assert_value (b, "blocked", NULL);
  nmt_store_set_ok (b, "after", "3");
  nmt_store_assert_value (a, "after", "3");
  nmt_store_assert_value (a, "held", "1");
  assert_int_equal (nmt_store_bytes_total (a), 7 + 5 + 6);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_batch_failed_set_leaves_others, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_batch_rollback_discards_all, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_batch_invisible_until_commit, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_read_batch, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_reopen_sees_data, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_flush_and_integrity, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_two_handles_see_each_other, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_two_handles_share_quota, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_writer_waits_then_reports_busy, nmt_store_home_setup, nmt_store_home_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
