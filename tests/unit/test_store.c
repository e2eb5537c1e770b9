/* SPDX-License-Identifier: MIT */
/* test_store.c: the store's items (store.h) against a real SQLite file in a
 * temporary directory: reads and writes of JSON and bytes, prefix ranges
 * in byte order, clears, and the key's rules. Opening is in
 * test_store_open.c, the byte count and the quota in test_store_bytes.c,
 * transactions and several handles in test_store_txn.c. */
#include "harness.h"
#include "storecheck.h"

#include "base/error.h"
#include "store/store.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

typedef NmtStoreHome Fixture;

static int
compare_bytes (gconstpointer a, gconstpointer b)
{
  /* strcmp compares as unsigned char: byte order. */
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
assert_key_list (GPtrArray *got, GPtrArray *want, const char *what)
{
  guint i;

  if (got->len != want->len)
    fail_msg ("%s: %u keys, expected %u", what, got->len, want->len);
  for (i = 0; i < got->len; i++)
    if (strcmp (got->pdata[i], want->pdata[i]) != 0)
      fail_msg ("%s: key %u is \"%s\", expected \"%s\"", what, i, (char *) got->pdata[i], (char *) want->pdata[i]);
}

/* ---- reads and writes ------------------------------------------------- */

static void
test_set_get_overwrite (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);

  nmt_store_assert_value (store, "a", NULL);
  nmt_store_set_ok (store, "a", "{\"x\":[1,2,3]}");
  nmt_store_assert_value (store, "a", "{\"x\":[1,2,3]}");
  nmt_store_set_ok (store, "a", "\"replaced\"");
  nmt_store_assert_value (store, "a", "\"replaced\"");
  nmt_store_set_ok (store, "caf\xC3\xA9", "null");
  nmt_store_assert_value (store, "caf\xC3\xA9", "null");
  /* A longer key with the same beginning is another key. */
  nmt_store_assert_value (store, "caf", NULL);
  nmt_store_assert_value (store, "caf\xC3\xA9s", NULL);
}

static void
test_set_many_in_one_call (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  NmsItem items[] = {
    { "one", 3, NMS_VALUE_JSON, (const guint8 *) "1", 1 },
    { "two", 3, NMS_VALUE_JSON, (const guint8 *) "2", 1 },
    { "three", 5, NMS_VALUE_BYTES, (const guint8 *) "\x00\x01\xff", 3 },
  };
  g_autoptr(GError) error = NULL;
  NmsValueKind kind = NMS_VALUE_JSON;
  g_autofree char *bytes = NULL;

  assert_true (nms_store_set (store, items, G_N_ELEMENTS (items), &error));
  nmt_store_assert_value (store, "one", "1");
  nmt_store_assert_value (store, "two", "2");
  bytes = nmt_store_value (store, "three", 5, &kind);
  assert_non_null (bytes);
  assert_int_equal (kind, NMS_VALUE_BYTES);
  assert_memory_equal (bytes, "\x00\x01\xff", 3);
}

static void
test_bytes_value_roundtrip (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  guint8 data[256];
  NmsItem item = { "blob", 4, NMS_VALUE_BYTES, data, sizeof data };
  NmsItem empty = { "empty", 5, NMS_VALUE_BYTES, (const guint8 *) "", 0 };
  g_autoptr(GError) error = NULL;
  NmsValueKind kind = NMS_VALUE_JSON;
  g_autofree char *got = NULL;
  g_autofree char *got_empty = NULL;
  g_autoptr(GBytes) raw = NULL;
  guint i;

  for (i = 0; i < sizeof data; i++)
    data[i] = (guint8) i;
  assert_true (nms_store_set (store, &item, 1, &error));
  assert_true (nms_store_set (store, &empty, 1, &error));
  raw = nmt_store_raw_value (store, "blob", 4, &kind);
  assert_non_null (raw);
  assert_int_equal (kind, NMS_VALUE_BYTES);
  assert_int_equal (g_bytes_get_size (raw), sizeof data);
  assert_memory_equal (g_bytes_get_data (raw, NULL), data, sizeof data);
  kind = NMS_VALUE_JSON;

  got_empty = nmt_store_value (store, "empty", 5, &kind);
  assert_non_null (got_empty);
  assert_int_equal (kind, NMS_VALUE_BYTES);
  assert_int_equal (strlen (got_empty), 0);

  /* Bytes overwritten by JSON become JSON. */
  nmt_store_set_ok (store, "blob", "[1]");
  got = nmt_store_value (store, "blob", 4, &kind);
  assert_int_equal (kind, NMS_VALUE_JSON);
  assert_string_equal (got, "[1]");
}

static void
test_large_value (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  const gsize size = 5u * 1024u * 1024u;
  g_autofree char *json = g_malloc (size + 1);
  g_autofree char *got = NULL;

  memset (json, 'x', size);
  json[0] = '"';
  json[size - 1] = '"';
  json[size] = '\0';
  nmt_store_set_ok (store, "big", json);
  got = nmt_store_value (store, "big", 3, NULL);
  assert_non_null (got);
  assert_int_equal (strlen (got), size);
  assert_string_equal (got, json);
  assert_int_equal (nmt_store_bytes_total (store), 3 + size);
}

static void
test_remove (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  const char *keys[] = { "a", "missing", "c" };
  g_autoptr(GError) error = NULL;

  nmt_store_set_ok (store, "a", "1");
  nmt_store_set_ok (store, "b", "2");
  nmt_store_set_ok (store, "c", "3");
  assert_true (nms_store_remove (store, keys, G_N_ELEMENTS (keys), &error));
  assert_null (error);
  nmt_store_assert_value (store, "a", NULL);
  nmt_store_assert_value (store, "b", "2");
  nmt_store_assert_value (store, "c", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 2);
  /* Removing what is not there is not an error. */
  assert_true (nmt_store_remove_one (store, "a", &error));
  assert_int_equal (nmt_store_bytes_total (store), 2);
}

static void
test_clear_all (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) after = NULL;

  nmt_store_set_ok (store, "a", "1");
  nmt_store_set_ok (store, "b", "2");
  assert_true (nms_store_clear (store, NULL, &error));
  after = nmt_store_scan_keys (store, NULL, TRUE);
  assert_int_equal (after->len, 0);
  assert_int_equal (nmt_store_bytes_total (store), 0);
  nmt_store_set_ok (store, "a", "1");
  assert_true (nms_store_clear (store, "", &error));
  assert_int_equal (nmt_store_bytes_total (store), 0);
  nmt_store_assert_value (store, "a", NULL);
}

/* ---- order and prefixes ----------------------------------------------- */

static const char *const range_keys[] = {
  "user", "user:", "user:1", "user:2", "user:10", "user;", "users", "usEr:1", "user:\xC3\xA9", "use",
  "\xC3\xA9", "\xC3\xA9t\xC3\xA9", "\xC3\xA9\xC3\xA9", "\xC3\xAA", "\xC3\xA8\xC3\xBF", "e", "f", "E",
  "\xE2\x82\xAC", "\xE2\x82\xAC" "1", "\xE2\x82\xAD", "\xE2\x82\xAB",
  "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80x", "\xF0\x9F\x98\x81", "\xF0\x9F\x97\xBF" "z",
  "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBFz", "\xF4\x8F\xBF\xBF\xF4\x8F\xBF\xBF",
  "\xEF\xBF\xBF", "\xEF\xBF\xBF" "a", "\xEF\xBF\xBD",
  "a\x7f", "a\x7f" "b", "a\xC2\x80", "a\x01", "a", "a ", "A", "z", "~", "\x7f",
};

static const char *const range_prefixes[] = {
  "user", "user:", "user:1", "users", "use", "u", "us", "usE",
  "\xC3\xA9", "\xC3\xAA", "\xC3\xA8", "\xC3",
  "\xE2\x82\xAC", "\xE2\x82", "\xE2",
  "\xF0\x9F\x98\x80", "\xF0\x9F\x98", "\xF0\x9F",
  "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF\xF4\x8F\xBF\xBF",
  "\xEF\xBF\xBF", "\xEF\xBF",
  "a\x7f", "a", "a\xC2", "\x7f", "~", "zz", "none",
};

static GPtrArray *
reference_scan (const char *prefix)
{
  GPtrArray *want = g_ptr_array_new_with_free_func (g_free);
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (range_keys); i++)
    if (prefix == NULL || g_str_has_prefix (range_keys[i], prefix))
      g_ptr_array_add (want, g_strdup (range_keys[i]));
  g_ptr_array_sort (want, compare_bytes);
  return want;
}

static void
fill_range_keys (NmsStore *store)
{
  gsize i;

  /* Inserted in reverse so that insertion order cannot pass for sorting. */
  for (i = G_N_ELEMENTS (range_keys); i > 0; i--)
    {
      g_autofree char *json = g_strdup_printf ("%" G_GSIZE_FORMAT, i - 1);
      nmt_store_set_ok (store, range_keys[i - 1], json);
    }
}

static void
test_scan_byte_order (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GPtrArray) want = reference_scan (NULL);
  g_autoptr(GPtrArray) all_items = NULL;
  g_autoptr(GPtrArray) all_keys = NULL;
  g_autoptr(GPtrArray) empty_prefix = NULL;
  guint i, at_ffff = G_MAXUINT, at_emoji = G_MAXUINT;

  fill_range_keys (store);
  all_items = nmt_store_scan_keys (store, NULL, TRUE);
  all_keys = nmt_store_scan_keys (store, NULL, FALSE);
  empty_prefix = nmt_store_scan_keys (store, "", TRUE);
  assert_key_list (all_items, want, "scan with values");
  assert_key_list (all_keys, want, "scan of keys");
  assert_key_list (empty_prefix, want, "scan with an empty prefix");

  /* Byte order, not UTF-16 order: U+FFFF sorts before U+1F600. */
  for (i = 0; i < all_keys->len; i++)
    {
      if (g_str_equal (all_keys->pdata[i], "\xEF\xBF\xBF"))
        at_ffff = i;
      if (g_str_equal (all_keys->pdata[i], "\xF0\x9F\x98\x80"))
        at_emoji = i;
    }
  assert_true (at_ffff < at_emoji);
  /* And uppercase before lowercase. */
  assert_string_equal (all_keys->pdata[0], "A");
  assert_string_equal (all_keys->pdata[1], "E");
}

static void
test_scan_prefixes (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  gsize p;

  fill_range_keys (store);
  for (p = 0; p < G_N_ELEMENTS (range_prefixes); p++)
    {
      g_autoptr(GPtrArray) want = reference_scan (range_prefixes[p]);
      g_autoptr(GPtrArray) items = nmt_store_scan_keys (store, range_prefixes[p], TRUE);
      g_autoptr(GPtrArray) keys = nmt_store_scan_keys (store, range_prefixes[p], FALSE);
      g_autofree char *what = g_strdup_printf ("prefix #%" G_GSIZE_FORMAT, p);

      assert_key_list (items, want, what);
      assert_key_list (keys, want, what);
    }
}

static void
test_scan_prefix_differs_after_prefix (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GPtrArray) got = NULL;

  nmt_store_set_ok (store, "cfg/a", "1");
  nmt_store_set_ok (store, "cfg/b", "2");
  nmt_store_set_ok (store, "cfg0", "3");
  nmt_store_set_ok (store, "cfg", "4");
  nmt_store_set_ok (store, "cfg.", "5");
  got = nmt_store_scan_keys (store, "cfg/", TRUE);
  assert_int_equal (got->len, 2);
  assert_string_equal (got->pdata[0], "cfg/a");
  assert_string_equal (got->pdata[1], "cfg/b");
}

static gboolean
stop_at_second (const NmsItem *item, gpointer user_data, GError **error)
{
  guint *count = user_data;

  if (++*count == 2)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL, "stop here");
      return FALSE;
    }
  return TRUE;
}

static void
test_scan_visitor_stops (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  guint count = 0;

  nmt_store_set_ok (store, "a", "1");
  nmt_store_set_ok (store, "b", "2");
  nmt_store_set_ok (store, "c", "3");
  assert_false (nms_store_scan (store, NULL, TRUE, stop_at_second, &count, &error));
  assert_int_equal (count, 2);
  assert_non_null (error);
  assert_string_equal (error->message, "stop here");
  /* The store is usable afterwards. */
  nmt_store_assert_value (store, "c", "3");
}

static void
test_clear_prefixes (void **state)
{
  Fixture *f = *state;
  gsize p;

  for (p = 0; p < G_N_ELEMENTS (range_prefixes); p++)
    {
      g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) want = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GPtrArray) got = NULL;
      g_autofree char *what = g_strdup_printf ("clear prefix #%" G_GSIZE_FORMAT, p);
      guint64 want_bytes = 0;
      gsize i;

      assert_true (nms_store_clear (store, NULL, &error));
      fill_range_keys (store);
      assert_true (nms_store_clear (store, range_prefixes[p], &error));
      assert_null (error);
      for (i = 0; i < G_N_ELEMENTS (range_keys); i++)
        if (!g_str_has_prefix (range_keys[i], range_prefixes[p]))
          {
            g_autofree char *json = g_strdup_printf ("%" G_GSIZE_FORMAT, i);
            g_ptr_array_add (want, g_strdup (range_keys[i]));
            want_bytes += strlen (range_keys[i]) + strlen (json);
          }
      g_ptr_array_sort (want, compare_bytes);
      got = nmt_store_scan_keys (store, NULL, FALSE);
      assert_key_list (got, want, what);
      assert_int_equal (nmt_store_bytes_total (store), want_bytes);
    }
}

/* ---- keys ------------------------------------------------------------- */

static void
test_check_key (void **state)
{
  g_autofree char *max = g_strnfill (NMS_STORE_MAX_KEY_BYTES, 'k');
  g_autofree char *over = g_strnfill (NMS_STORE_MAX_KEY_BYTES + 1, 'k');
  g_autoptr(GError) error = NULL;

  assert_true (nms_store_check_key ("a", 1, &error));
  assert_true (nms_store_check_key ("\xF0\x9F\x98\x80", 4, &error));
  assert_true (nms_store_check_key (max, NMS_STORE_MAX_KEY_BYTES, &error));
  /* The empty key is a key, as in chrome.storage. */
  assert_true (nms_store_check_key ("", 0, &error));
  assert_null (error);

  assert_false (nms_store_check_key (over, NMS_STORE_MAX_KEY_BYTES + 1, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_KEY));
  g_clear_error (&error);
  assert_false (nms_store_check_key ("a\0b", 3, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_KEY));
  g_clear_error (&error);
  assert_false (nms_store_check_key ("\0", 1, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_KEY));
}

static void
test_empty_key_stored (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  const char *const keys[] = { "" };
  g_autoptr(GError) error = NULL;

  nmt_store_set_ok (store, "", "[1]");
  nmt_store_assert_value (store, "", "[1]");
  assert_int_equal (nmt_store_bytes_total (store), 3);
  assert_true (nms_store_remove (store, keys, 1, &error));
  nmt_store_assert_value (store, "", NULL);
}

static void
test_max_key_stored (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autofree char *max = g_strnfill (NMS_STORE_MAX_KEY_BYTES, 'k');

  nmt_store_set_ok (store, max, "1");
  nmt_store_assert_value (store, max, "1");
  assert_int_equal (nmt_store_bytes_total (store), NMS_STORE_MAX_KEY_BYTES + 1);
}

/* The store's own write path keeps its invariant ("keys are UTF-8 strings
 * without NUL", at most NMS_STORE_MAX_KEY_BYTES), whoever the caller is. */
static void
test_set_refuses_bad_keys (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autofree char *over = g_strnfill (NMS_STORE_MAX_KEY_BYTES + 1, 'k');
  const NmsItem bad[] = {
    { "a\0b", 3, NMS_VALUE_JSON, (const guint8 *) "1", 1 },
    { over, NMS_STORE_MAX_KEY_BYTES + 1, NMS_VALUE_JSON, (const guint8 *) "1", 1 },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      NmsItem pair[2] = { { "ok", 2, NMS_VALUE_JSON, (const guint8 *) "1", 1 }, bad[i] };
      g_autoptr(GPtrArray) keys = NULL;

      if (nms_store_set (store, pair, 2, &error))
        fail_msg ("nms_store_set stored bad key #%" G_GSIZE_FORMAT, i);
      assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_KEY));
      keys = nmt_store_scan_keys (store, NULL, FALSE);
      assert_int_equal (keys->len, 0);
      assert_int_equal (nmt_store_bytes_total (store), 0);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_set_get_overwrite, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_set_many_in_one_call, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_bytes_value_roundtrip, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_large_value, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_remove, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_clear_all, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_scan_byte_order, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_scan_prefixes, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_scan_prefix_differs_after_prefix, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_scan_visitor_stops, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_clear_prefixes, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test (test_check_key),
    cmocka_unit_test_setup_teardown (test_empty_key_stored, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_max_key_stored, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_set_refuses_bad_keys, nmt_store_home_setup, nmt_store_home_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
