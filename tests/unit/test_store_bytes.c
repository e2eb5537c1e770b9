/* SPDX-License-Identifier: MIT */
/* test_store_bytes.c: the bytes in use and the quota (host/store/
 * store-bytes.c) against a real SQLite file: that a write commits its
 * item's page alone, with no counter page beside it; and that the sum
 * stays exact when another connection commits (another host of the
 * origin, the command line) and when this one rolls back, both where the
 * connection keeps it (a store with a quota) and where it counts it from
 * the items each time (without one); Chrome's count of each item, and the
 * quota's refusals. */
#include "harness.h"
#include "storecheck.h"

#include "base/error.h"
#include "store/store.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

typedef NmtStoreHome Fixture;

/* A quota no test reaches: the connection keeps the sum. */
#define ROOMY (G_GUINT64_CONSTANT (1) << 30)

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
  nmt_store_remove_ok (b, "k");
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
  nmt_store_remove_ok (a, "a");
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
  nmt_store_remove_ok (b, "k");
  nmt_store_set_ok (a, "w", "12345");                     /* 4 + 6: at the quota */
  assert_int_equal (nmt_store_bytes_total (a), 10);
  assert_int_equal (nmt_store_bytes_total (b), 10);
}

static guint64
bytes_of (NmsStore *store, const char *const *keys, gsize n)
{
  g_autoptr(GError) error = NULL;
  guint64 bytes = G_MAXUINT64;

  if (!nmt_store_read_bytes (store, keys, n, &bytes, &error))
    fail_msg ("bytes_in_use failed: %s", error->message);
  return bytes;
}

/* ---- bytes in use ----------------------------------------------------- */

static void
test_item_bytes_rule (void **state)
{
  gsize n;

  const char *text = "[1,\"ab\"]";

  assert_int_equal (nms_store_item_bytes (NMS_VALUE_JSON, 3, (const guint8 *) text, strlen (text)), 3 + strlen (text));
  /* Chrome's writer: "<" as \u003C, 2^31 as the double 2147483648.0. */
  text = "{\"a\":\"<\",\"b\":2147483648,\"c\":-2147483648}";
  assert_int_equal (nms_store_item_bytes (NMS_VALUE_JSON, 1, (const guint8 *) text, strlen (text)),
                    1 + strlen (text) + 5 + 2);
  /* Bytes count as {"$bytes":"<base64>"}. */
  for (n = 0; n < 40; n++)
    {
      g_autofree guchar *data = g_malloc0 (n + 1);
      g_autofree char *b64 = g_base64_encode (data, n);
      g_autofree char *json = g_strdup_printf ("{\"$bytes\":\"%s\"}", b64);

      assert_int_equal (nms_store_item_bytes (NMS_VALUE_BYTES, 5, data, n), 5 + strlen (json));
    }
}

static void
test_bytes_in_use_exact (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  guint8 blob[7] = { 0, 1, 2, 3, 4, 5, 6 };
  NmsItem bytes_item = { "bin", 3, NMS_VALUE_BYTES, blob, sizeof blob };
  g_autoptr(GError) error = NULL;
  g_autofree char *b64 = g_base64_encode (blob, sizeof blob);
  g_autofree char *bytes_json = g_strdup_printf ("{\"$bytes\":\"%s\"}", b64);
  const char *one[] = { "caf\xC3\xA9" };
  const char *some[] = { "bin", "missing", "n" };
  const char *none[] = { "missing" };
  guint64 bin_bytes = 3 + strlen (bytes_json);

  assert_int_equal (nmt_store_bytes_total (store), 0);
  nmt_store_set_ok (store, "caf\xC3\xA9", "\"\xE2\x82\xAC\"");       /* 5 + 5 */
  nmt_store_set_ok (store, "n", "12345");                            /* 1 + 5 */
  assert_true (nms_store_set (store, &bytes_item, 1, &error));
  assert_int_equal (bytes_of (store, one, 1), 10);
  assert_int_equal (bytes_of (store, some, G_N_ELEMENTS (some)), bin_bytes + 6);
  assert_int_equal (bytes_of (store, none, 1), 0);
  assert_int_equal (bytes_of (store, NULL, 0), 10 + 6 + bin_bytes);
  assert_int_equal (nmt_store_bytes_total (store), 10 + 6 + bin_bytes);

  /* Overwrites move the counter both ways. */
  nmt_store_set_ok (store, "n", "1");
  assert_int_equal (nmt_store_bytes_total (store), 10 + 2 + bin_bytes);
  nmt_store_set_ok (store, "n", "[1,2,3,4,5,6,7,8,9]");
  assert_int_equal (nmt_store_bytes_total (store), 10 + 20 + bin_bytes);
  nmt_store_set_ok (store, "bin", "0");
  assert_int_equal (nmt_store_bytes_total (store), 10 + 20 + 4);
  assert_true (nmt_store_remove_one (store, "caf\xC3\xA9", &error));
  assert_int_equal (nmt_store_bytes_total (store), 20 + 4);
  assert_true (nms_store_clear (store, "n", &error));
  assert_int_equal (nmt_store_bytes_total (store), 4);
}

static void
test_bytes_in_use_matches_sum (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GPtrArray) keys = NULL;
  guint64 want = 0;
  guint i;

  /* Random writes, overwrites and removes; the kept total must always be
   * the sum of the items. */
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234);
  for (i = 0; i < 500; i++)
    {
      g_autofree char *key = g_strdup_printf ("k%u", g_rand_int_range (rand, 0, 40));
      g_autoptr(GError) error = NULL;

      if (g_rand_int_range (rand, 0, 4) == 0)
        assert_true (nmt_store_remove_one (store, key, &error));
      else
        {
          /* A string: its count is its length (a long integer would count
           * as Chrome's double, with ".0"). */
          g_autofree char *digits = g_strnfill ((gsize) g_rand_int_range (rand, 1, 300), '7');
          g_autofree char *json = g_strdup_printf ("\"%s\"", digits);
          nmt_store_set_ok (store, key, json);
        }
    }
  keys = nmt_store_scan_keys (store, NULL, FALSE);
  for (i = 0; i < keys->len; i++)
    {
      g_autofree char *value = nmt_store_value (store, keys->pdata[i], strlen (keys->pdata[i]), NULL);
      want += strlen (keys->pdata[i]) + strlen (value);
    }
  assert_int_equal (nmt_store_bytes_total (store), want);
  assert_int_equal (bytes_of (store, (const char *const *) keys->pdata, keys->len), want);
}

/* ---- quota ------------------------------------------------------------ */

static void
test_quota_refuses_and_writes_nothing (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 100);
  g_autoptr(GError) error = NULL;
  g_autofree char *v49 = nmt_json_string_of (49, '1');
  g_autofree char *v50 = nmt_json_string_of (50, '2');
  NmsItem pair[] = {
    { "c", 1, NMS_VALUE_JSON, (const guint8 *) "3", 1 },
    { "d", 1, NMS_VALUE_JSON, (const guint8 *) v50, 50 },
  };

  nmt_store_set_ok (store, "a", v49);                  /* 50 */
  assert_false (nmt_store_set_json (store, "b", v50, &error)); /* would be 101 */
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  assert_true (strlen (error->message) > 0);
  g_clear_error (&error);
  nmt_store_assert_value (store, "b", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 50);

  /* Nothing of a multi-item write that goes over. */
  assert_false (nms_store_set (store, pair, G_N_ELEMENTS (pair), &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  g_clear_error (&error);
  nmt_store_assert_value (store, "c", NULL);
  nmt_store_assert_value (store, "d", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 50);

  /* Exactly at the quota is allowed. */
  nmt_store_set_ok (store, "b", v49);
  assert_int_equal (nmt_store_bytes_total (store), 100);
  assert_false (nmt_store_set_json (store, "e", "1", &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  g_clear_error (&error);
  /* Growing an existing item over the quota is refused too. */
  assert_false (nmt_store_set_json (store, "a", v50, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  g_clear_error (&error);
  nmt_store_assert_value (store, "a", v49);
  assert_int_equal (nmt_store_bytes_total (store), 100);
}

static void
test_quota_shrinking_allowed_when_over (void **state)
{
  Fixture *f = *state;
  g_autofree char *v99 = nmt_json_string_of (99, '9');
  g_autofree char *v89 = nmt_json_string_of (89, '8');
  g_autofree char *v10 = nmt_json_string_of (10, '1');
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
    nmt_store_set_ok (store, "a", v99);
    nmt_store_set_ok (store, "b", v99);
    assert_int_equal (nmt_store_bytes_total (store), 200);
  }
  {
    /* The quota was lowered below what is stored. */
    g_autoptr(NmsStore) store = nmt_store_open (f->dir, 150);

    /* Growth is refused, even by one byte, and even for a new key. */
    assert_false (nmt_store_set_json (store, "c", "1", &error));
    assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
    g_clear_error (&error);
    /* A shrinking write is allowed though the store stays over quota. */
    nmt_store_set_ok (store, "a", v89);
    nmt_store_assert_value (store, "a", v89);
    assert_int_equal (nmt_store_bytes_total (store), 190);
    /* Still over it, growing back is refused. */
    assert_false (nmt_store_set_json (store, "a", v99, &error));
    assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
    g_clear_error (&error);
    assert_int_equal (nmt_store_bytes_total (store), 190);
    /* Several items shrinking in one write. */
    {
      NmsItem pair[] = {
        { "b", 1, NMS_VALUE_JSON, (const guint8 *) v89, 89 },
        { "a", 1, NMS_VALUE_JSON, (const guint8 *) v10, 10 },
      };
      assert_true (nms_store_set (store, pair, G_N_ELEMENTS (pair), &error));
    }
    assert_int_equal (nmt_store_bytes_total (store), 101);
    nmt_store_set_ok (store, "b", v99);
    assert_int_equal (nmt_store_bytes_total (store), 111);
    /* Now under quota, growing up to it works again. */
    nmt_store_set_ok (store, "c", "1");
    assert_int_equal (nmt_store_bytes_total (store), 113);
    /* Removing is always allowed. */
    assert_true (nmt_store_remove_one (store, "b", &error));
    assert_int_equal (nmt_store_bytes_total (store), 13);
  }
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
    cmocka_unit_test (test_item_bytes_rule),
    cmocka_unit_test_setup_teardown (test_bytes_in_use_exact, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_bytes_in_use_matches_sum, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_quota_refuses_and_writes_nothing, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_quota_shrinking_allowed_when_over, nmt_store_home_setup, nmt_store_home_teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
