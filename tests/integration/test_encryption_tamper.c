/* SPDX-License-Identifier: MIT */
/* test_encryption_tamper.c: changes to an encrypted origin's file that
 * every record's own tag lets through, because each record stays
 * authentic on its own: one record rolled back to its older sealed value,
 * a record deleted, a removed record put back from a backup; and the key
 * record deleted so that the origin would read and write in the clear.
 * Each must be detected (E_CORRUPT for the whole origin, verify exit 1),
 * never believed. And the other side: no ordinary write, batch, failed
 * request, clear, restore, rekey or passwd may ever trip the check. */
#include "cryptcheck.h"

#include <sqlite3.h>
#include <string.h>

/* Every row of items: id -> (key, value) as one GBytes each, in a
 * GPtrArray of pairs by id order. */
typedef struct {
  gint64  id;
  GBytes *key;
  GBytes *value;
} Row;

static void
row_free (gpointer data)
{
  Row *r = data;

  g_bytes_unref (r->key);
  g_bytes_unref (r->value);
  g_free (r);
}

static GPtrArray *
read_rows (const char *home)
{
  g_autofree char *path = nmt_crypt_store_path (home);
  GPtrArray *rows = g_ptr_array_new_with_free_func (row_free);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;

  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, "SELECT id, key, value FROM items ORDER BY id", -1, &s, NULL), SQLITE_OK);
  while (sqlite3_step (s) == SQLITE_ROW)
    {
      Row *r = g_new0 (Row, 1);

      r->id = sqlite3_column_int64 (s, 0);
      r->key = g_bytes_new (sqlite3_column_blob (s, 1), (gsize) sqlite3_column_bytes (s, 1));
      r->value = g_bytes_new (sqlite3_column_blob (s, 2), (gsize) sqlite3_column_bytes (s, 2));
      g_ptr_array_add (rows, r);
    }
  sqlite3_finalize (s);
  sqlite3_close (db);
  return rows;
}

/* Puts row back as it was: its value under its key, inserted if gone. */
static void
put_row (const char *home, const Row *row)
{
  g_autofree char *path = nmt_crypt_store_path (home);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  gsize klen, vlen;
  const void *k = g_bytes_get_data (row->key, &klen), *v = g_bytes_get_data (row->value, &vlen);

  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, "INSERT INTO items (key, kind, size, value) VALUES (?1, 0, ?2, ?3) "
                                            "ON CONFLICT (key) DO UPDATE SET size = excluded.size, value = excluded.value",
                                        -1, &s, NULL), SQLITE_OK);
  sqlite3_bind_blob (s, 1, k, (int) klen, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, (gint64) vlen);
  sqlite3_bind_blob (s, 3, v, (int) vlen, SQLITE_STATIC);
  assert_int_equal (sqlite3_step (s), SQLITE_DONE);
  sqlite3_finalize (s);
  sqlite3_close (db);
}

static gint64
count_sql (const char *home, const char *sql)
{
  g_autofree char *path = nmt_crypt_store_path (home);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  gint64 n;

  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);
  n = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  sqlite3_close (db);
  return n;
}

static void
assert_verify (const char *home, int status, const char *says)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int got = nmt_crypt_cli_err (home, NULL, &out, &err, "verify", "--origin", NMT_ORIGIN, NULL);

  if (got != status || (says != NULL && strstr (err, says) == NULL && strstr (out, says) == NULL))
    fail_msg ("verify exited %d (want %d): %s%s", got, status, out, err);
}

/* Nothing of the origin is believed: reads and writes are E_CORRUPT. */
static void
assert_refused (const char *home)
{
  NmtHost *host = nmt_host_start (home, NMT_ORIGIN);

  nmt_crypt_call_error (host, "{\"op\":\"get\",\"keys\":\"a\"}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"get\",\"keys\":\"c\"}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"get\"}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"getKeys\"}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"getBytesInUse\"}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"set\",\"items\":{\"x\":\"X\"}}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"remove\",\"keys\":\"a\"}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"clear\"}", "E_CORRUPT");
  nmt_crypt_finish (host);
}

/* One record's older sealed value, copied back from a backup of the
 * file: the record is authentic, the value is old. */
static void
test_record_rolled_back (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;
  const Row *old = NULL;
  NmtHost *host;
  guint i;

  nmt_crypt_encrypted_abc (home);
  before = read_rows (home);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":\"A2\"}}");
  nmt_crypt_finish (host);
  after = read_rows (home);
  assert_int_equal (before->len, 3);
  assert_int_equal (after->len, 3);
  for (i = 0; i < before->len; i++)
    if (!g_bytes_equal (((Row *) before->pdata[i])->value, ((Row *) after->pdata[i])->value))
      old = before->pdata[i];
  assert_non_null (old);

  put_row (home, old);
  assert_refused (home);
  assert_verify (home, 1, "older copy");
  nmt_remove_tree (home);
}

static void
test_record_deleted (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();

  nmt_crypt_encrypted_abc (home);
  nmt_crypt_tamper (home, "DELETE FROM items WHERE id = (SELECT min (id) FROM items)");
  assert_refused (home);
  assert_verify (home, 1, "holds 2 records where its summary says 3");
  nmt_remove_tree (home);
}

/* b removed through nmstore, then its old record put back. */
static void
test_removed_record_replayed (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;
  NmtHost *host;
  guint i;

  nmt_crypt_encrypted_abc (home);
  before = read_rows (home);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"remove\",\"keys\":\"b\"}");
  nmt_crypt_finish (host);
  after = read_rows (home);
  assert_int_equal (after->len, 2);
  for (i = 0; i < before->len; i++)
    put_row (home, before->pdata[i]);
  assert_refused (home);
  assert_verify (home, 1, "holds 3 records where its summary says 2");
  nmt_remove_tree (home);
}

/* The key record deleted: the origin must not become plaintext, neither
 * for writes (which went to the file in the clear) nor for reads (which
 * returned tokens and sealed bytes as if they were keys and values). */
static void
test_key_record_deleted (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *backup = g_build_filename (home, "backup.db", NULL);
  NmtHost *host;

  nmt_crypt_encrypted_abc (home);
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "backup", "--origin", NMT_ORIGIN, backup, NULL), 0);
  nmt_crypt_tamper (home, "DELETE FROM meta WHERE name = 'crypto'");
  assert_refused (home);
  assert_int_equal (count_sql (home, "SELECT count(*) FROM items WHERE typeof (key) = 'text'"), 0);
  assert_verify (home, 1, "key record is missing");
  /* Encrypting it again over the sealed records would lose them. */
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "encrypt", "--origin", NMT_ORIGIN, "--key-file", NULL), 1);

  /* With its records gone too, the summary still says it was encrypted. */
  nmt_crypt_tamper (home, "DELETE FROM items");
  assert_refused (home);
  assert_int_equal (count_sql (home, "SELECT count(*) FROM items"), 0);

  /* With the summary gone instead, the sealed records say so. */
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "restore", "--origin", NMT_ORIGIN, backup, NULL), 0);
  nmt_crypt_tamper (home, "DELETE FROM meta WHERE name IN ('crypto', 'summary')");
  assert_refused (home);

  /* A backup puts it right. */
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "restore", "--origin", NMT_ORIGIN, backup, NULL), 0);
  assert_verify (home, 0, "3 good, 0 damaged");
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_assert_items (host, "{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\"}");
  nmt_crypt_finish (host);
  nmt_remove_tree (home);
}

/* A passphrase origin says so when it is unlocked; the keys stay loaded
 * but nothing is served. rekey, by someone with the passphrase, accepts
 * what is there. */
static void
test_unlock_reports_and_rekey_accepts (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  NmtHost *host = nmt_host_start (home, NMT_ORIGIN);
  cJSON *reply;

  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\"}}");
  nmt_crypt_finish (host);
  assert_int_equal (nmt_crypt_cli (home, "pass word\n", NULL, "encrypt", "--origin", NMT_ORIGIN, "--passphrase",
                                   "--passphrase-fd", "0", NULL), 0);
  nmt_crypt_tamper (home, "DELETE FROM items WHERE id = (SELECT max (id) FROM items)");

  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_error (host, "{\"op\":\"get\"}", "E_LOCKED");
  reply = nmt_host_call (host, "{\"op\":\"unlock\",\"passphrase\":\"pass word\"}");
  nmt_assert_error (reply, "E_CORRUPT");
  assert_non_null (strstr (cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "message")->valuestring,
                           "nmstore rekey"));
  cJSON_Delete (reply);
  nmt_crypt_call_error (host, "{\"op\":\"get\"}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"set\",\"items\":{\"x\":1}}", "E_CORRUPT");
  nmt_crypt_call_error (host, "{\"op\":\"unlock\",\"passphrase\":\"pass word\"}", "E_CORRUPT");

  assert_int_equal (nmt_crypt_cli (home, "pass word\n", NULL, "verify", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   NULL), 1);
  assert_int_equal (nmt_crypt_cli (home, "pass word\n", NULL, "rekey", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   NULL), 0);
  assert_int_equal (nmt_crypt_cli (home, "pass word\n", NULL, "verify", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   NULL), 0);
  /* The running host re-opened under the new key by itself, and sees the
   * records as accepted. */
  reply = nmt_host_call (host, "{\"op\":\"getKeys\"}");
  nmt_assert_ok (reply);
  assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (reply, "keys")), 2);
  cJSON_Delete (reply);
  nmt_crypt_finish (host);
  nmt_remove_tree (home);
}

/* Every way nmstore itself changes records keeps the summary true. */
static void
test_every_write_keeps_the_summary (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *backup = g_build_filename (home, "backup.db", NULL);
  g_autofree char *export_path = g_build_filename (home, "sealed.json", NULL);
  g_autofree char *exported = NULL;
  g_autoptr(GByteArray) batch = g_byte_array_new ();
  NmtHost *host, *listener;
  int i;

  nmt_encrypt_origin (home, NMT_ORIGIN);
  assert_verify (home, 0, "0 good, 0 damaged");
  host = nmt_host_start (home, NMT_ORIGIN);
  /* A subscriber, so that writes read old values and log too. */
  listener = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (listener, "{\"op\":\"subscribe\"}");
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":\"A\",\"b\":\"B\",\"c\":{\"$bytes\":\"AAEC\"}}}");
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":\"A2\",\"d\":[1,2]}}");
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":\"A2\"}}"); /* the same value again */
  nmt_crypt_call_ok (host, "{\"op\":\"remove\",\"keys\":[\"b\",\"nothing\"]}");
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"p:1\":1,\"p:2\":2,\"q\":3}}");
  nmt_crypt_call_ok (host, "{\"op\":\"clear\",\"prefix\":\"p:\"}");
  assert_verify (home, 0, "4 good, 0 damaged");

  /* One batch: writes that stay, and a request that fails and is undone
   * alone, in one transaction. */
  for (i = 0; i < 20; i++)
    {
      g_autofree char *req = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k%d\":%d}}", i, i % 7, i);
      nmt_frame_append_str (batch, req);
    }
  nmt_frame_append_str (batch, "{\"id\":20,\"op\":\"set\",\"items\":{\"bad\\u0000key\":1,\"k1\":\"lost\"}}");
  nmt_frame_append_str (batch, "{\"id\":21,\"op\":\"remove\",\"keys\":\"k2\"}");
  assert_true (nmt_host_send_raw (host, batch->data, batch->len));
  for (i = 0; i < 22; i++)
    {
      cJSON *reply = nmt_host_recv (host);
      assert_non_null (reply);
      cJSON_Delete (reply);
    }
  assert_verify (home, 0, "10 good, 0 damaged");

  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "backup", "--origin", NMT_ORIGIN, backup, NULL), 0);
  assert_int_equal (nmt_crypt_cli (home, NULL, &exported, "export", "--origin", NMT_ORIGIN, NULL), 0);
  nmt_write_file (export_path, exported);
  nmt_crypt_call_ok (host, "{\"op\":\"clear\"}");
  assert_verify (home, 0, "0 good, 0 damaged");
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "import", "--origin", NMT_ORIGIN, export_path, NULL), 0);
  assert_verify (home, 0, "10 good, 0 damaged");
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"after\":1}}");
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "restore", "--origin", NMT_ORIGIN, backup, NULL), 0);
  assert_verify (home, 0, "10 good, 0 damaged");
  /* The running host writes on after the restore. */
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"after\":2}}");
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "rekey", "--origin", NMT_ORIGIN, NULL), 0);
  nmt_crypt_call_ok (host, "{\"op\":\"remove\",\"keys\":\"after\"}");
  assert_verify (home, 0, "10 good, 0 damaged");
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "passwd", "--origin", NMT_ORIGIN, "--key-file", NULL), 0);
  assert_verify (home, 0, "10 good, 0 damaged");
  nmt_crypt_finish (listener);
  nmt_crypt_finish (host);

  /* decrypt takes the summary away with the key record; encrypting again
   * makes a new one. */
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "decrypt", "--origin", NMT_ORIGIN, NULL), 0);
  assert_int_equal (count_sql (home, "SELECT count(*) FROM meta WHERE name = 'summary'"), 0);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"plain\":true}}");
  nmt_crypt_finish (host);
  nmt_encrypt_origin (home, NMT_ORIGIN);
  assert_verify (home, 0, "11 good, 0 damaged");
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_record_rolled_back),
    cmocka_unit_test (test_record_deleted),
    cmocka_unit_test (test_removed_record_replayed),
    cmocka_unit_test (test_key_record_deleted),
    cmocka_unit_test (test_unlock_reports_and_rekey_accepts),
    cmocka_unit_test (test_every_write_keeps_the_summary),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
