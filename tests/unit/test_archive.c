/* SPDX-License-Identifier: MIT */
/* test_archive.c: the archive functions (host/archive/) called directly
 * on real SQLite stores in a temporary folder: an export imported into a
 * fresh store gives back every item byte for byte; a damaged or hostile
 * export is refused with an error that says what is wrong, and nothing of
 * it is written; the one member check that "set" and import share; and a
 * backup restored over later writes. The integration suites test the same
 * through the nmstore binary; these find which function broke. */
#include "harness.h"
#include "storecheck.h"

#include "archive/archive.h"
#include "base/error.h"
#include "json/json.h"
#include "store/store.h"

#include <string.h>

typedef struct {
  char *home;
  char *dir_a;   /* the store exported from */
  char *dir_b;   /* the store imported into */
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);

  f->home = nmt_make_home ();
  f->dir_a = g_build_filename (f->home, "a", NULL);
  f->dir_b = g_build_filename (f->home, "b", NULL);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  nmt_remove_tree (f->home);
  g_free (f->home);
  g_free (f->dir_a);
  g_free (f->dir_b);
  g_free (f);
  return 0;
}

static gboolean
append_item (const NmsItem *item, gpointer user_data, GError **error)
{
  GString *out = user_data;
  gsize i;

  g_string_append_len (out, item->key, (gssize) item->key_len);
  if (item->kind == NMS_VALUE_BYTES)
    {
      g_string_append (out, "=bytes:");
      for (i = 0; i < item->value_len; i++)
        g_string_append_printf (out, "%02x", item->value[i]);
    }
  else
    {
      g_string_append (out, "=json:");
      g_string_append_len (out, (const char *) item->value, (gssize) item->value_len);
    }
  g_string_append_c (out, '\n');
  return TRUE;
}

/* Every item of the store, in key order, with its kind and exact bytes. */
static char *
dump (NmsStore *store)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  if (!nms_store_scan (store, NULL, TRUE, append_item, out, &error))
    fail_msg ("cannot read the store: %s", error->message);
  return g_strdup (out->str);
}

static gboolean
count_one (const NmsItem *item, gpointer user_data, GError **error)
{
  (*(guint *) user_data)++;
  return TRUE;
}

static guint
count_items (NmsStore *store)
{
  g_autoptr(GError) error = NULL;
  guint n = 0;

  if (!nms_store_scan (store, NULL, FALSE, count_one, &n, &error))
    fail_msg ("cannot list the store: %s", error->message);
  return n;
}

/* The store's export (of prefix, or all) as written to a file at path. */
static char *
export_to (NmsStore *store, const char *prefix, const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;
  FILE *out = fopen (path, "wb");

  assert_non_null (out);
  if (!nms_archive_export (store, prefix, out, NULL, NULL, &error))
    fail_msg ("export: %s", error->message);
  assert_int_equal (fclose (out), 0);
  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* Imports path into store as `nmstore import` does: sniffed, then read. */
static gboolean
import_from (NmsStore *store, const char *path, guint64 *n, GError **error)
{
  gboolean sealed = TRUE;

  if (!nms_archive_file_is_sealed (path, &sealed, error))
    return FALSE;
  assert_false (sealed);
  return nms_archive_import_file (store, path, n, NULL, NULL, error);
}

static void
put_bytes (NmsStore *store, const char *key, const void *data, gsize len)
{
  NmsItem item = { key, strlen (key), NMS_VALUE_BYTES, data, len };
  g_autoptr(GError) error = NULL;

  if (!nms_store_set (store, &item, 1, &error))
    fail_msg ("set %s: %s", key, error->message);
}

/* A value as a "set" request stores it: its canonical text (or bytes). */
static void
put_json (NmsStore *store, const char *key, const char *json)
{
  NmsItem item = { key, strlen (key), NMS_VALUE_JSON, NULL, 0 };
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = NULL;

  if (!nms_archive_value_from_json (json, strlen (json), &item.kind, &data, &item.value_len, &error))
    fail_msg ("%s: %s", key, error->message);
  item.value = data;
  if (!nms_store_set (store, &item, 1, &error))
    fail_msg ("set %s: %s", key, error->message);
}

static void
test_round_trip_is_byte_identical (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) a = nmt_store_open (f->dir_a, 0);
  g_autoptr(NmsStore) b = NULL;
  g_autofree char *path = g_build_filename (f->home, "export.json", NULL);
  g_autofree char *again_path = g_build_filename (f->home, "again.json", NULL);
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 raw[] = { 0x00, 0xff, 0x7b, 0x22, 0x0a, 0x80 };
  guint64 n = 0;

  put_json (a, "double", "0.30000000000000004");
  put_json (a, "tiny", "5e-324");
  put_json (a, "max_safe", "9007199254740991");
  put_json (a, "neg_max_safe", "-9007199254740991");
  put_json (a, "lone", "\"a\\ud800b\\udc00\"");
  put_json (a, "nul", "\"x\\u0000y\"");
  put_json (a, "nested", "{\"l\":[1,[2,{\"m\":null}],true,{\"$bytes\":\"AAE=\",\"x\":1}],\"e\":{}}");
  put_json (a, "dollar_lookalike", "{\"$bytes\":\"AAE=\",\"other\":1}");
  put_json (a, "ключ \xf0\x9f\x94\x91", "\"\xe2\x82\xac\"");
  put_bytes (a, "raw", raw, sizeof raw);
  put_bytes (a, "empty_bytes", "", 0);
  before = dump (a);

  text = export_to (a, NULL, path);
  /* What the browser's get(null) would show: numbers as stored, bytes as
   * the $bytes object. */
  assert_non_null (strstr (text, "\"max_safe\":9007199254740991"));
  assert_non_null (strstr (text, "\"raw\":{\"$bytes\":\"AP97IgqA\"}"));

  b = nmt_store_open (f->dir_b, 0);
  if (!import_from (b, path, &n, &error))
    fail_msg ("import: %s", error->message);
  assert_int_equal (n, 11);
  after = dump (b);
  assert_string_equal (after, before);
  /* And the second export is the first, to the byte. */
  again = export_to (b, NULL, again_path);
  assert_string_equal (again, text);
}

static void
test_export_of_a_prefix (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) a = nmt_store_open (f->dir_a, 0);
  g_autofree char *path = g_build_filename (f->home, "export.json", NULL);
  g_autofree char *text = NULL;

  nmt_store_set_ok (a, "p:1", "1");
  nmt_store_set_ok (a, "p:2", "[2]");
  nmt_store_set_ok (a, "q:1", "3");
  text = export_to (a, "p:", path);
  assert_string_equal (text, "{\"p:1\":1,\"p:2\":[2]}\n");
}

/* Each file is refused whole: the store keeps what it had, and nothing of
 * the members before the bad one. */
static void
test_bad_exports_write_nothing (void **state)
{
  static const struct {
    const char *text;
    const char *says;
  } cases[] = {
    { "{\"new:1\":1,\"new:2\":2,\"new:1\":3}", "twice" },
    { "{\"new:1\":1,\"new:2\":2,\"a\\u0000b\":1}", "U+0000" },
    { "{\"new:1\":1,\"new:2\":[1,2", "not one JSON object" },
    { "{\"new:1\":1} {\"new:2\":2}", "not one JSON object" },
    { "[1,2,3]", "not one JSON object" },
    { "{\"new:1\":1,\"new:2\":\"\xc3\x28\"}", "UTF-8" },
    { "", "not one JSON object" },
  };
  Fixture *f = *state;
  g_autoptr(NmsStore) b = nmt_store_open (f->dir_b, 0);
  g_autofree char *path = g_build_filename (f->home, "bad.json", NULL);
  g_autofree char *before = NULL;
  gsize i;

  nmt_store_set_ok (b, "kept", "\"old\"");
  nmt_store_set_ok (b, "new:1", "\"was here\"");
  before = dump (b);
  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *after = NULL;
      guint64 n = 99;

      nmt_write_file (path, cases[i].text);
      if (import_from (b, path, &n, &error))
        fail_msg ("case %zu was imported: %s", i, cases[i].text);
      assert_non_null (error);
      if (strstr (error->message, cases[i].says) == NULL)
        fail_msg ("case %zu: the error \"%s\" does not say \"%s\"", i, error->message, cases[i].says);
      after = dump (b);
      assert_string_equal (after, before);
    }
}

/* A file larger than one batch (archive-import.c writes every 4 MiB):
 * the batches before the bad member were already written into the
 * transaction, and must go with it. */
static void
test_bad_member_after_a_written_batch (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) b = nmt_store_open (f->dir_b, 0);
  g_autofree char *path = g_build_filename (f->home, "big.json", NULL);
  g_autofree char *value = g_strnfill (16 * 1024, 'v');
  g_autoptr(GString) text = g_string_new ("{");
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  guint64 n = 0;
  guint i;

  nmt_store_set_ok (b, "kept", "\"old\"");
  before = dump (b);
  for (i = 0; i < 400; i++)
    g_string_append_printf (text, "\"big:%04u\":\"%s\",", i, value);
  g_string_append (text, "\"big:0000\":1}");
  assert_true (text->len > (5u << 20));
  assert_true (g_file_set_contents (path, text->str, (gssize) text->len, NULL));
  assert_false (import_from (b, path, &n, &error));
  assert_non_null (strstr (error->message, "\"big:0000\" twice"));
  assert_int_equal (n, 0);
  /* The count first: the dump of 5 MiB of items is no message to read. */
  assert_int_equal (count_items (b), 1);
  after = dump (b);
  assert_string_equal (after, before);
}

/* A duplicate key in the file says which key, so that the person can
 * find it; the one in a "set" request says the request's own words. */
static void
test_add_member_refuses_duplicates_and_bad_keys (void **state)
{
  g_autoptr(GArray) items = g_array_new (FALSE, TRUE, sizeof (NmsItem));
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  NmsArchiveItems set = { items, seen, values, TRUE, FALSE };
  g_autoptr(GError) error = NULL;
  g_autofree char *long_key = g_strnfill (NMS_STORE_MAX_KEY_BYTES + 1, 'k');
  const NmsItem *it;

  (void) state;
  assert_true (nms_archive_add_member ("a", 1, "{\"$bytes\":\"AAE=\"}", 17, &set, &error));
  assert_true (nms_archive_add_member ("b", 1, "[ 1 , 2 ]", 9, &set, &error));
  assert_int_equal (items->len, 2);
  it = &g_array_index (items, NmsItem, 0);
  assert_int_equal (it->kind, NMS_VALUE_BYTES);
  assert_int_equal (it->value_len, 2);
  assert_memory_equal (it->value, "\x00\x01", 2);
  it = &g_array_index (items, NmsItem, 1);
  assert_int_equal (it->kind, NMS_VALUE_JSON);
  assert_int_equal (it->value_len, 5);
  assert_memory_equal (it->value, "[1,2]", 5);

  assert_false (nms_archive_add_member ("a", 1, "2", 1, &set, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_REQUEST));
  assert_non_null (strstr (error->message, "\"a\" twice"));
  g_clear_error (&error);

  set.from_file = FALSE;
  assert_false (nms_archive_add_member ("b", 1, "2", 1, &set, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_REQUEST));
  assert_non_null (strstr (error->message, "names a key twice"));
  g_clear_error (&error);

  assert_false (nms_archive_add_member ("a\0b", 3, "1", 1, &set, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_KEY));
  g_clear_error (&error);
  assert_false (nms_archive_add_member (long_key, strlen (long_key), "1", 1, &set, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_KEY));
  g_clear_error (&error);
  assert_false (nms_archive_add_member ("c", 1, "[1,", 3, &set, &error));
  assert_non_null (error);
  g_clear_error (&error);
  /* Refused members leave nothing behind. */
  assert_int_equal (items->len, 2);
  assert_int_equal (values->len, 2);
}

static void
test_import_request_wraps_one_object (void **state)
{
  g_autoptr(GString) request = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  const char *text = "{\"a\":1,\"b\":\"x\\u0000y\"}\n";
  guint n = 0;

  (void) state;
  assert_true (nms_archive_import_request (text, strlen (text), request, &n, &error));
  assert_int_equal (n, 2);
  assert_string_equal (request->str, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":\"x\\u0000y\"}\n}");
  g_string_truncate (request, 0);
  text = "{\"a\":1},\"op\":\"clear\"";
  assert_false (nms_archive_import_request (text, strlen (text), request, &n, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_JSON));
  assert_int_equal (request->len, 0);
}

static void
test_backup_then_restore (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) a = nmt_store_open (f->dir_a, 0);
  g_autofree char *path = g_build_filename (f->home, "backup.db", NULL);
  g_autofree char *live = g_build_filename (f->dir_a, NMS_STORE_FILE_NAME, NULL);
  g_autofree char *at_backup = NULL;
  g_autofree char *restored = NULL;
  g_autoptr(GError) error = NULL;
  const char *gone[] = { "one" };
  guint64 n = 0;

  nmt_store_set_ok (a, "one", "1");
  nmt_store_set_ok (a, "two", "{\"n\":9007199254740991}");
  put_bytes (a, "three", "\x01\x02", 2);
  at_backup = dump (a);
  if (!nms_archive_backup (a, path, &error))
    fail_msg ("backup: %s", error->message);

  nmt_store_set_ok (a, "four", "4");
  nmt_store_set_ok (a, "two", "2");
  assert_true (nms_store_remove (a, gone, 1, &error));
  if (!nms_archive_restore (a, path, NMT_ORIGIN, &n, &error))
    fail_msg ("restore: %s", error->message);
  assert_int_equal (n, 3);
  restored = dump (a);
  assert_string_equal (restored, at_backup);

  /* Neither is the live store, which would lose it. */
  assert_false (nms_archive_restore (a, live, NMT_ORIGIN, &n, &error));
  assert_non_null (strstr (error->message, "live store"));
  g_clear_error (&error);
  assert_false (nms_archive_backup (a, live, &error));
  assert_non_null (strstr (error->message, "live store"));
  g_clear_error (&error);
  assert_false (nms_archive_restore (a, f->home, NMT_ORIGIN, &n, &error));
  assert_non_null (strstr (error->message, "not a file"));
  restored = (g_free (restored), dump (a));
  assert_string_equal (restored, at_backup);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_round_trip_is_byte_identical, setup, teardown),
    cmocka_unit_test_setup_teardown (test_export_of_a_prefix, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bad_exports_write_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bad_member_after_a_written_batch, setup, teardown),
    cmocka_unit_test (test_add_member_refuses_duplicates_and_bad_keys),
    cmocka_unit_test (test_import_request_wraps_one_object),
    cmocka_unit_test_setup_teardown (test_backup_then_restore, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
