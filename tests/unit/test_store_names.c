/* SPDX-License-Identifier: MIT */
/* test_store_names.c: an encrypted origin's names in memory
 * (host/store/store-names.c) against a real SQLite file: getKeys, prefix get,
 * prefix clear and getBytesInUse after this handle's own writes, after
 * another handle's writes (data_version), after writes that were rolled
 * back, across lock and unlock, with a damaged record, and that after the
 * first build a prefix get opens only the records it returns. */
#include "harness.h"
#include "storecheck.h"

#include "base/error.h"
#include "store/store.h"
/* For the count of records opened and the keys' tokens. */
#include "../../host/store/store-private.h"
#include "../../host/store/store-crypt-state.h"

#include <sqlite3.h>
#include <string.h>

typedef NmtStoreHome Fixture;

/* A home whose origin's store is encrypted with a key file. */
static int
setup (void **state)
{
  NmsStoreKeySource to = { .source = NMS_CRYPTO_SOURCE_KEY_FILE };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;
  Fixture *f;

  assert_true (nms_crypto_init (NULL));
  nmt_store_home_setup (state);
  f = *state;
  store = nmt_store_open (f->dir, 0);
  if (!nms_store_encrypt (store, &to, &error))
    fail_msg ("cannot encrypt the store: %s", error->message);
  return 0;
}

static gboolean
append_item (const NmsItem *item, gpointer user_data, GError **error)
{
  GString *out = user_data;

  g_string_append_printf (out, "%s%.*s=%.*s", out->len ? "," : "", (int) item->key_len, item->key,
                          (int) item->value_len, (const char *) item->value);
  return TRUE;
}

/* get of a prefix as "a=1,b=2". */
static char *
items_of (NmsStore *store, const char *prefix)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  if (!nms_store_scan (store, prefix, TRUE, append_item, out, &error))
    fail_msg ("get: %s", error->message);
  return g_strdup (out->str);
}

static guint64
bytes_of (NmsStore *store)
{
  g_autoptr(GError) error = NULL;
  guint64 bytes = 0;

  if (!nmt_store_read_bytes (store, NULL, 0, &bytes, &error))
    fail_msg ("getBytesInUse: %s", error->message);
  return bytes;
}

#define assert_keys(store, prefix, expected) \
  do { g_autofree char *got_ = nmt_store_keys (store, prefix); assert_string_equal (got_, expected); } while (0)
#define assert_items(store, prefix, expected) \
  do { g_autofree char *got_ = items_of (store, prefix); assert_string_equal (got_, expected); } while (0)

/* Chrome's count of JSON items given as key, value, key, value, ..., NULL. */
static guint64
json_bytes (const char *first, ...)
{
  va_list ap;
  const char *k;
  guint64 sum = 0;

  va_start (ap, first);
  for (k = first; k != NULL; k = va_arg (ap, const char *))
    {
      const char *v = va_arg (ap, const char *);
      sum += nms_store_item_bytes (NMS_VALUE_JSON, strlen (k), (const guint8 *) v, strlen (v));
    }
  va_end (ap);
  return sum;
}

static void
test_names_follow_own_writes (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  const char *gone[] = { "a:2" };

  assert_true (nms_store_encrypted (store));
  nmt_store_set_ok (store, "a:2", "2");
  nmt_store_set_ok (store, "b:1", "3");
  nmt_store_set_ok (store, "a:1", "1");
  assert_keys (store, NULL, "a:1,a:2,b:1");
  assert_int_equal (bytes_of (store), json_bytes ("a:1", "1", "a:2", "2", "b:1", "3", NULL));

  /* Now that the names are in memory: add, overwrite longer, remove. */
  nmt_store_set_ok (store, "a:0", "\"zero\"");
  nmt_store_set_ok (store, "a:1", "[1,2,3,4,5]");
  assert_true (nms_store_remove (store, gone, 1, &error));
  assert_keys (store, NULL, "a:0,a:1,b:1");
  assert_keys (store, "a:", "a:0,a:1");
  assert_items (store, "a:", "a:0=\"zero\",a:1=[1,2,3,4,5]");
  assert_int_equal (bytes_of (store), json_bytes ("a:0", "\"zero\"", "a:1", "[1,2,3,4,5]", "b:1", "3", NULL));

  assert_true (nms_store_clear (store, "a:", &error));
  assert_keys (store, NULL, "b:1");
  assert_items (store, "a:", "");
  assert_int_equal (bytes_of (store), json_bytes ("b:1", "3", NULL));

  assert_true (nms_store_clear (store, NULL, &error));
  assert_keys (store, NULL, "");
  assert_int_equal (bytes_of (store), 0);
  nmt_store_set_ok (store, "c", "4");
  assert_keys (store, NULL, "c");
  assert_int_equal (bytes_of (store), json_bytes ("c", "4", NULL));
}

/* Byte order of the names, as a plaintext store's, whatever order they
 * were written in. */
static void
test_names_byte_order (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);

  nmt_store_set_ok (store, "b", "1");
  nmt_store_set_ok (store, "\xc3\xa9", "1");
  nmt_store_set_ok (store, "ab", "1");
  nmt_store_set_ok (store, "a", "1");
  nmt_store_set_ok (store, "B", "1");
  assert_keys (store, NULL, "B,a,ab,b,\xc3\xa9");
  nmt_store_set_ok (store, "aa", "1");
  assert_keys (store, "a", "a,aa,ab");
  assert_keys (store, "ab", "ab");
  assert_keys (store, "abc", "");
}

/* Another handle on the same file is another connection: its commits
 * change data_version, and the first handle reads the names again. */
static void
test_names_see_other_connection (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) mine = nmt_store_open (f->dir, 0);
  g_autoptr(NmsStore) other = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  const char *gone[] = { "x:1" };

  nmt_store_set_ok (mine, "m", "1");
  assert_keys (mine, NULL, "m");

  nmt_store_set_ok (other, "x:1", "\"one\"");
  nmt_store_set_ok (other, "x:2", "\"two\"");
  assert_keys (mine, NULL, "m,x:1,x:2");
  assert_items (mine, "x:", "x:1=\"one\",x:2=\"two\"");
  assert_int_equal (bytes_of (mine), json_bytes ("m", "1", "x:1", "\"one\"", "x:2", "\"two\"", NULL));

  assert_true (nms_store_remove (other, gone, 1, &error));
  assert_keys (mine, NULL, "m,x:2");
  nmt_store_set_ok (other, "x:2", "\"longer two\"");
  assert_int_equal (bytes_of (mine), json_bytes ("m", "1", "x:2", "\"longer two\"", NULL));

  assert_true (nms_store_clear (other, "x:", &error));
  assert_keys (mine, NULL, "m");
  nmt_store_set_ok (mine, "n", "2");
  assert_keys (other, NULL, "m,n");
  assert_true (nms_store_clear (other, NULL, &error));
  assert_keys (mine, NULL, "");
  assert_int_equal (bytes_of (mine), 0);

  /* Both at once: this handle's own write, then another's, then a read. */
  nmt_store_set_ok (mine, "p", "1");
  nmt_store_set_ok (other, "q", "1");
  assert_keys (mine, NULL, "p,q");
  assert_keys (other, NULL, "p,q");
}

/* Writes that are undone must not leave names behind: a set over the
 * quota (its own transaction), one in a batch (a savepoint), a request
 * that is not kept, and a batch rolled back. */
static void
test_names_rollback_leaves_no_phantom (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 4096);
  g_autofree char *big = g_strdup_printf ("\"%0*d\"", 8000, 0);
  g_autoptr(GError) error = NULL;

  nmt_store_set_ok (store, "kept", "1");
  assert_keys (store, NULL, "kept");

  assert_false (nmt_store_set_json (store, "phantom:1", big, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  g_clear_error (&error);
  assert_keys (store, NULL, "kept");

  assert_true (nms_store_begin (store, TRUE, &error));
  assert_true (nmt_store_set_json (store, "batch:1", "1", &error));
  assert_false (nmt_store_set_json (store, "phantom:2", big, &error));
  g_clear_error (&error);
  assert_keys (store, NULL, "batch:1,kept");
  assert_true (nms_store_commit (store, &error));
  assert_keys (store, NULL, "batch:1,kept");

  assert_true (nms_store_changes_begin (store, &error));
  assert_true (nmt_store_set_json (store, "phantom:3", "1", &error));
  assert_keys (store, NULL, "batch:1,kept,phantom:3");
  assert_true (nms_store_changes_end (store, FALSE, &error));
  assert_keys (store, NULL, "batch:1,kept");

  assert_true (nms_store_begin (store, TRUE, &error));
  assert_true (nmt_store_set_json (store, "phantom:4", "1", &error));
  assert_true (nms_store_clear (store, "batch:", &error));
  assert_keys (store, NULL, "kept,phantom:4");
  nms_store_rollback (store);
  assert_keys (store, NULL, "batch:1,kept");
  assert_int_equal (bytes_of (store), json_bytes ("batch:1", "1", "kept", "1", NULL));
}

static void
test_names_lock_unlock (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(NmsStore) other = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  guint64 bytes, opened;

  nmt_store_set_ok (store, "a", "1");
  nmt_store_set_ok (store, "b", "2");
  assert_keys (store, NULL, "a,b");

  nms_store_lock (store);
  /* The names are as secret as the keys, and go with them. */
  assert_null (store->crypt.names);
  assert_false (nms_store_scan (store, NULL, FALSE, append_item, out, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_LOCKED));
  g_clear_error (&error);
  assert_false (nmt_store_read_bytes (store, NULL, 0, &bytes, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_LOCKED));
  g_clear_error (&error);
  assert_string_equal (out->str, "");

  /* Written while locked, by someone else. */
  nmt_store_set_ok (other, "c", "3");
  assert_true (nms_store_unlock (store, NULL, &error));
  opened = _nms_store_crypt_records_opened (store);
  assert_keys (store, NULL, "a,b,c");
  /* Built again from the records: the lock dropped the names. */
  assert_int_equal (_nms_store_crypt_records_opened (store) - opened, 3);
}

/* Flips one byte of key's sealed record, through a connection of its own. */
static void
tamper (NmsStore *store, const char *key)
{
  guint8 token[NMS_CRYPTO_TOKEN_BYTES];
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  g_autofree guint8 *value = NULL;
  int len;

  nms_crypto_token (store->crypt.keys, key, strlen (key), token);
  assert_int_equal (sqlite3_open (nms_store_path (store), &db), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, "SELECT value FROM items WHERE key = ?1", -1, &s, NULL), SQLITE_OK);
  sqlite3_bind_blob (s, 1, token, sizeof token, SQLITE_STATIC);
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);
  len = sqlite3_column_bytes (s, 0);
  value = g_memdup2 (sqlite3_column_blob (s, 0), (gsize) len);
  sqlite3_finalize (s);
  value[len - 5] ^= 0x40;
  assert_int_equal (sqlite3_prepare_v2 (db, "UPDATE items SET value = ?2 WHERE key = ?1", -1, &s, NULL), SQLITE_OK);
  sqlite3_bind_blob (s, 1, token, sizeof token, SQLITE_STATIC);
  sqlite3_bind_blob (s, 2, value, len, SQLITE_STATIC);
  assert_int_equal (sqlite3_step (s), SQLITE_DONE);
  sqlite3_finalize (s);
  sqlite3_close (db);
}

/* Counts the warnings about a damaged record, and fails on any that
 * names the key: records are logged by token. */
static void
count_damage (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user_data)
{
  if (strstr (message, "damaged or was tampered with") != NULL)
    (*(guint *) user_data)++;
  if (strstr (message, "t:bad") != NULL)
    fail_msg ("a log line names the key: %s", message);
}

static void
test_names_damaged_record (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  const char *victim[] = { "t:bad" };
  guint64 bytes;
  guint n = 0, warned = 0;
  guint handler = g_log_set_handler ("nmstore", G_LOG_LEVEL_WARNING, count_damage, &warned);

  nmt_store_set_ok (store, "t:bad", "\"doomed\"");
  nmt_store_set_ok (store, "t:good", "1");
  assert_keys (store, NULL, "t:bad,t:good");

  tamper (store, "t:bad");
  assert_keys (store, NULL, "t:good");
  assert_int_equal (warned, 1);
  assert_items (store, "t:", "t:good=1");
  assert_int_equal (bytes_of (store), json_bytes ("t:good", "1", NULL));

  assert_false (nms_store_get (store, "t:bad", 5, nmt_store_count_visit, &n, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
  g_clear_error (&error);
  assert_false (nmt_store_read_bytes (store, victim, 1, &bytes, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
  g_clear_error (&error);
  assert_int_equal (n, 0);
  assert_int_equal (warned, 3);
  g_log_remove_handler ("nmstore", handler);

  /* It can still be overwritten, and then it is listed again. */
  nmt_store_set_ok (store, "t:bad", "\"fixed\"");
  assert_keys (store, NULL, "t:bad,t:good");
  assert_items (store, "t:b", "t:bad=\"fixed\"");
}

/* After the first build, getKeys and getBytesInUse open no record, and a
 * prefix get opens only the records it returns. */
static void
test_names_prefix_get_opens_only_matches (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) batch = g_array_new (FALSE, TRUE, sizeof (NmsItem));
  const char *one[] = { "t:007:state" };
  guint64 opened, bytes;
  guint i, n;

  for (i = 0; i < 50; i++)
    {
      const char *parts[] = { "resume", "state", "torrentfile" };
      guint j;

      for (j = 0; j < G_N_ELEMENTS (parts); j++)
        {
          char *key = g_strdup_printf ("t:%03u:%s", i, parts[j]);
          NmsItem item = { .key = key, .key_len = strlen (key), .kind = NMS_VALUE_JSON,
                           .value = (const guint8 *) "\"v\"", .value_len = 3 };

          g_ptr_array_add (items, key);
          g_array_append_val (batch, item);
        }
    }
  assert_true (nms_store_set (store, (const NmsItem *) batch->data, batch->len, &error));

  opened = _nms_store_crypt_records_opened (store);
  n = 0;
  assert_true (nms_store_scan (store, NULL, FALSE, nmt_store_count_visit, &n, &error));
  assert_int_equal (n, 150);
  assert_int_equal (_nms_store_crypt_records_opened (store) - opened, 150);

  opened = _nms_store_crypt_records_opened (store);
  n = 0;
  assert_true (nms_store_scan (store, NULL, FALSE, nmt_store_count_visit, &n, &error));
  assert_int_equal (n, 150);
  assert_true (nmt_store_read_bytes (store, NULL, 0, &bytes, &error));
  assert_true (nmt_store_read_bytes (store, one, 1, &bytes, &error));
  assert_int_equal (bytes, nms_store_item_bytes (NMS_VALUE_JSON, strlen (one[0]), (const guint8 *) "123", 3));
  assert_int_equal (_nms_store_crypt_records_opened (store) - opened, 0);

  assert_items (store, "t:007:", "t:007:resume=\"v\",t:007:state=\"v\",t:007:torrentfile=\"v\"");
  assert_int_equal (_nms_store_crypt_records_opened (store) - opened, 3);

  opened = _nms_store_crypt_records_opened (store);
  assert_true (nms_store_clear (store, "t:008:", &error));
  assert_int_equal (_nms_store_crypt_records_opened (store) - opened, 0);
  n = 0;
  assert_true (nms_store_scan (store, NULL, FALSE, nmt_store_count_visit, &n, &error));
  assert_int_equal (n, 147);
  assert_keys (store, "t:008", "");
  assert_int_equal (_nms_store_crypt_records_opened (store) - opened, 0);
}

/* Converting or restoring through this very handle rewrites the records
 * without changing data_version for it. */
static void
test_names_after_decrypt_and_restore (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *backup = g_build_filename (f->home, "backup.db", NULL);
  NmsStoreKeySource to = { .source = NMS_CRYPTO_SOURCE_KEY_FILE };
  guint64 n_items = 0;

  nmt_store_set_ok (store, "a", "1");
  nmt_store_set_ok (store, "b", "2");
  assert_keys (store, NULL, "a,b");
  assert_true (nms_store_backup_into (store, backup, &error));
  nmt_store_set_ok (store, "c", "3");
  assert_keys (store, NULL, "a,b,c");

  assert_true (nms_store_replace_from (store, backup, NMT_ORIGIN, &n_items, &error));
  assert_int_equal (n_items, 2);
  assert_keys (store, NULL, "a,b");

  assert_true (nms_store_decrypt (store, &error));
  assert_false (nms_store_encrypted (store));
  nmt_store_set_ok (store, "d", "4");
  assert_true (nms_store_encrypt (store, &to, &error));
  assert_keys (store, NULL, "a,b,d");
  assert_true (nms_store_rekey (store, NULL, &error));
  nmt_store_set_ok (store, "e", "5");
  assert_keys (store, NULL, "a,b,d,e");
  assert_items (store, "d", "d=4");
}

/* Rows of items whose key is text: a name in the clear. */
static int
clear_names (const char *dir)
{
  g_autofree char *db = g_build_filename (dir, NMS_STORE_FILE_NAME, NULL);
  sqlite3 *raw = NULL;
  sqlite3_stmt *s = NULL;
  int n = -1;

  assert_int_equal (sqlite3_open_v2 (db, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (raw, "SELECT count(*) FROM items WHERE typeof (key) = 'text'", -1, &s, NULL),
                    SQLITE_OK);
  if (sqlite3_step (s) == SQLITE_ROW)
    n = sqlite3_column_int (s, 0);
  sqlite3_finalize (s);
  sqlite3_close (raw);
  return n;
}

/* A handle reads the key record again only when data_version says another
 * connection committed, which it never says of the handle's own commits.
 * So a key record brought by a restore through this very handle, or
 * changed by another handle, must still rule the next write: a stale
 * "plaintext" would write names and values in the clear into an
 * encrypted store. */
static void
test_key_record_after_restore_and_other_handle (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(NmsStore) other = nmt_store_open (f->dir, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *sealed = g_build_filename (f->home, "sealed.db", NULL);
  g_autofree char *plain = g_build_filename (f->home, "plain.db", NULL);
  NmsStoreKeySource to = { .source = NMS_CRYPTO_SOURCE_KEY_FILE };
  guint64 n_items = 0;

  nmt_store_set_ok (store, "a", "1");
  assert_true (nms_store_backup_into (store, sealed, &error));
  assert_true (nms_store_decrypt (store, &error));
  nmt_store_set_ok (store, "b", "2");
  assert_true (nms_store_backup_into (store, plain, &error));
  nmt_store_set_ok (store, "c", "3");
  assert_int_equal (clear_names (f->dir), 3);

  /* This handle has just read the store as plaintext. */
  assert_true (nms_store_replace_from (store, sealed, NMT_ORIGIN, &n_items, &error));
  nmt_store_set_ok (store, "d", "4");
  assert_true (nms_store_encrypted (store));
  assert_int_equal (clear_names (f->dir), 0);
  assert_items (store, NULL, "a=1,d=4");

  /* Back to plaintext the same way. */
  assert_true (nms_store_replace_from (store, plain, NMT_ORIGIN, &n_items, &error));
  nmt_store_set_ok (store, "e", "5");
  assert_false (nms_store_encrypted (store));
  assert_int_equal (clear_names (f->dir), 3);

  /* Another handle encrypts and decrypts between this one's writes. */
  assert_true (nms_store_encrypt (other, &to, &error));
  nmt_store_set_ok (store, "f", "6");
  assert_true (nms_store_encrypted (store));
  assert_int_equal (clear_names (f->dir), 0);
  assert_true (nms_store_decrypt (other, &error));
  nmt_store_set_ok (store, "g", "7");
  assert_false (nms_store_encrypted (store));
  assert_items (store, NULL, "a=1,b=2,e=5,f=6,g=7");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_names_follow_own_writes, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_names_byte_order, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_names_see_other_connection, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_names_rollback_leaves_no_phantom, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_names_lock_unlock, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_names_damaged_record, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_names_prefix_get_opens_only_matches, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_names_after_decrypt_and_restore, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_key_record_after_restore_and_other_handle, setup, nmt_store_home_teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
