/* SPDX-License-Identifier: MIT */
/* test_encryption.c: encrypted origins through the real binary: no name or
 * value left in any file under the data root (plain or base64), locking
 * and unlocking, a flipped byte and swapped records at the storage layer,
 * a crash halfway through encrypt, passwd and rekey (with a reader
 * running beside it), and decrypt. Exports, imports and backups of
 * encrypted origins are test_encryption_archive.c's. */
#include "cryptcheck.h"

#include <sqlite3.h>
#include <string.h>

static void
test_no_plaintext_in_any_file (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *backups = g_build_filename (home, "backups", NULL);
  g_autofree char *backup = g_build_filename (backups, "store-backup.db", NULL);
  g_autofree char *value = NULL;
  g_autofree char *scan = NULL;
  NmtHost *host;

  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_write_known_items (host);
  /* A large value removed before encryption: its pages are free, not
   * gone, until the file is rewritten. */
  {
    g_autoptr(GString) big = g_string_new ("{\"op\":\"set\",\"items\":{\"gone\":\"");
    int i;

    for (i = 0; i < 400; i++)
      g_string_append (big, "VALUEMARKERECHO ");
    g_string_append (big, "\"}}");
    nmt_crypt_call_ok (host, big->str);
    nmt_crypt_call_ok (host, "{\"op\":\"remove\",\"keys\":\"gone\"}");
  }
  /* The scan does find them while the store is plaintext. */
  scan = nmt_crypt_find_marker (home);
  assert_non_null (scan);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_host_free (host);

  assert_int_equal (nmt_crypt_cli (home, "secret one\n", NULL, "encrypt", "--origin", NMT_ORIGIN, "--passphrase",
                         "--passphrase-fd", "0", NULL), 0);
  nmt_crypt_assert_no_marker (home);

  /* Writes, overwrites and removals while encrypted, with the host
   * still running, so the WAL and the change log hold them too. */
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"secret one\"}");
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"" NMT_NAME_A "\":" NMT_VALUE_A2 ",\"" NMT_NAME_C "\":" NMT_VALUE_C "}}");
  nmt_crypt_call_ok (host, "{\"op\":\"remove\",\"keys\":\"" NMT_NAME_B "\"}");
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"" NMT_NAME_B "\":{\"$bytes\":\"AAAA\"}}}");
  g_mkdir_with_parents (backups, 0700);
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "backup", "--origin", NMT_ORIGIN, backup, NULL), 0);
  assert_true (g_file_test (backup, G_FILE_TEST_EXISTS));
  nmt_crypt_assert_no_marker (home);

  value = nmt_crypt_get_value (host, NMT_NAME_A);
  assert_string_equal (value, NMT_VALUE_A2);
  g_free (value);
  value = nmt_crypt_get_value (host, NMT_NAME_C);
  assert_string_equal (value, NMT_VALUE_C);
  nmt_crypt_finish (host);
  nmt_crypt_assert_no_marker (home);
  nmt_remove_tree (home);
}

static void
test_locked_until_unlock (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autoptr(NmtHost) host = NULL;
  g_autofree char *value = NULL;
  cJSON *hello;

  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_write_known_items (host);
  nmt_host_close_input (host);
  nmt_host_wait (host);
  g_clear_pointer (&host, nmt_host_free);
  assert_int_equal (nmt_crypt_cli (home, "right horse\n", NULL, "encrypt", "--origin", NMT_ORIGIN, "--passphrase",
                         "--passphrase-fd", "0", NULL), 0);

  host = nmt_host_start (home, NMT_ORIGIN);
  hello = nmt_host_call (host, "{\"op\":\"hello\"}");
  nmt_assert_ok (hello);
  assert_true (cJSON_IsTrue (cJSON_GetObjectItem (hello, "encrypted")));
  assert_true (cJSON_IsTrue (cJSON_GetObjectItem (hello, "locked")));
  cJSON_Delete (hello);
  nmt_crypt_call_error (host, "{\"op\":\"get\"}", "E_LOCKED");
  nmt_crypt_call_error (host, "{\"op\":\"getKeys\"}", "E_LOCKED");
  nmt_crypt_call_error (host, "{\"op\":\"set\",\"items\":{\"x\":1}}", "E_LOCKED");
  nmt_crypt_call_error (host, "{\"op\":\"remove\",\"keys\":\"x\"}", "E_LOCKED");
  nmt_crypt_call_error (host, "{\"op\":\"clear\"}", "E_LOCKED");
  nmt_crypt_call_error (host, "{\"op\":\"getBytesInUse\"}", "E_LOCKED");
  nmt_crypt_call_error (host, "{\"op\":\"unlock\",\"passphrase\":\"wrong horse\"}", "E_AUTH");
  nmt_crypt_call_error (host, "{\"op\":\"get\"}", "E_LOCKED");
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"right horse\"}");
  hello = nmt_host_call (host, "{\"op\":\"hello\"}");
  assert_true (cJSON_IsFalse (cJSON_GetObjectItem (hello, "locked")));
  cJSON_Delete (hello);
  value = nmt_crypt_get_value (host, NMT_NAME_A);
  assert_string_equal (value, NMT_VALUE_A);
  nmt_crypt_call_ok (host, "{\"op\":\"lock\"}");
  nmt_crypt_call_error (host, "{\"op\":\"get\",\"keys\":\"" NMT_NAME_A "\"}", "E_LOCKED");
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"right horse\"}");
  nmt_crypt_call_ok (host, "{\"op\":\"get\",\"keys\":\"" NMT_NAME_A "\"}");
  nmt_host_close_input (host);
  nmt_host_wait (host);
  nmt_remove_tree (home);
}

/* Flips the low bit of byte `at` of the value in row number `row`. */
static void
flip_bit (const char *home, int row, int at)
{
  g_autofree char *path = nmt_crypt_store_path (home);
  g_autofree guint8 *value = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  gint64 id;
  int len;

  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, "SELECT id, value FROM items ORDER BY id LIMIT 1 OFFSET ?1", -1, &s, NULL),
                    SQLITE_OK);
  sqlite3_bind_int (s, 1, row);
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);
  id = sqlite3_column_int64 (s, 0);
  len = sqlite3_column_bytes (s, 1);
  assert_true (len > at);
  value = g_memdup2 (sqlite3_column_blob (s, 1), (gsize) len);
  sqlite3_finalize (s);
  value[at] ^= 1;
  assert_int_equal (sqlite3_prepare_v2 (db, "UPDATE items SET value = ?2 WHERE id = ?1", -1, &s, NULL), SQLITE_OK);
  sqlite3_bind_int64 (s, 1, id);
  sqlite3_bind_blob (s, 2, value, len, SQLITE_STATIC);
  assert_int_equal (sqlite3_step (s), SQLITE_DONE);
  sqlite3_finalize (s);
  sqlite3_close (db);
}

static NmtHost *
encrypted_abc (const char *home)
{
  nmt_crypt_encrypted_abc (home);
  return nmt_host_start (home, NMT_ORIGIN);
}

/* How many of a, b, c read back right, and how many are E_CORRUPT. */
static void
count_abc (NmtHost *host, int *good, int *corrupt)
{
  const char *keys[] = { "a", "b", "c" };
  const char *values[] = { "\"A\"", "\"B\"", "\"C\"" };
  int i;

  *good = *corrupt = 0;
  for (i = 0; i < 3; i++)
    {
      g_autofree char *req = g_strdup_printf ("{\"op\":\"get\",\"keys\":\"%s\"}", keys[i]);
      cJSON *reply = nmt_host_call (host, req);

      if (cJSON_IsTrue (cJSON_GetObjectItem (reply, "ok")))
        {
          char *v = cJSON_PrintUnformatted (cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "items"), keys[i]));
          assert_string_equal (v, values[i]);
          cJSON_free (v);
          (*good)++;
        }
      else
        {
          nmt_assert_error (reply, "E_CORRUPT");
          (*corrupt)++;
        }
      cJSON_Delete (reply);
    }
}

static void
test_flipped_byte_in_one_record (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *log = g_build_filename (home, "nmstore.log", NULL);
  g_autofree char *log_text = NULL;
  g_autofree char *out = NULL;
  NmtHost *host = encrypted_abc (home);
  int good, corrupt;
  cJSON *reply;

  nmt_crypt_finish (host);
  /* One bit in the middle of the second row's sealed value. */
  flip_bit (home, 1, 40);

  host = nmt_host_start (home, NMT_ORIGIN);
  count_abc (host, &good, &corrupt);
  assert_int_equal (good, 2);
  assert_int_equal (corrupt, 1);
  /* Listings leave the damaged record out; the others are all there. */
  reply = nmt_host_call (host, "{\"op\":\"getKeys\"}");
  nmt_assert_ok (reply);
  assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (reply, "keys")), 2);
  cJSON_Delete (reply);
  assert_int_equal (nmt_crypt_cli (home, NULL, &out, "verify", "--origin", NMT_ORIGIN, NULL), 1);
  assert_non_null (strstr (out, "1 damaged"));
  g_clear_pointer (&out, g_free);
  assert_true (g_file_get_contents (log, &log_text, NULL, NULL));
  assert_non_null (strstr (log_text, "tampered"));
  assert_null (strstr (log_text, "\"b\""));

  /* Writing the damaged key again repairs it. */
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\"}}");
  count_abc (host, &good, &corrupt);
  assert_int_equal (good, 3);
  assert_int_equal (nmt_crypt_cli (home, NULL, &out, "verify", "--origin", NMT_ORIGIN, NULL), 0);
  assert_non_null (strstr (out, "3 good, 0 damaged"));
  nmt_crypt_finish (host);
  nmt_remove_tree (home);
}

static void
test_swapped_records (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  NmtHost *host = encrypted_abc (home);
  int good, corrupt;

  nmt_crypt_finish (host);
  /* Two sealed values trade places, each under the other's token. */
  nmt_crypt_tamper (home, "CREATE TEMP TABLE v AS SELECT id, value FROM items ORDER BY id LIMIT 2;"
                "UPDATE items SET value = (SELECT value FROM v WHERE v.id <> items.id) WHERE id IN (SELECT id FROM v);");
  host = nmt_host_start (home, NMT_ORIGIN);
  count_abc (host, &good, &corrupt);
  /* Each record fails its own tag, and the set of records no longer
   * matches the store's summary (a record's digest binds its token), so
   * nothing is believed: the untouched key is refused too. */
  assert_int_equal (good, 0);
  assert_int_equal (corrupt, 3);
  nmt_crypt_finish (host);
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "verify", "--origin", NMT_ORIGIN, NULL), 1);
  nmt_remove_tree (home);
}

static int
encrypt_crashing_at (const char *home, const char *point)
{
  const char *args[] = { "encrypt", "--origin", NMT_ORIGIN, "--key-file", NULL };
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) proc = NULL;
  const char *argv[6] = { NMT_NMSTORE_TEST_BIN };  /* the build with the crash hook */

  memcpy (argv + 1, args, sizeof args);
  g_subprocess_launcher_setenv (launcher, "NMSTORE_HOME", home, TRUE);
  g_subprocess_launcher_setenv (launcher, "NMSTORE_CRASH_AT", point, TRUE);
  proc = g_subprocess_launcher_spawnv (launcher, argv, NULL);
  assert_non_null (proc);
  assert_true (g_subprocess_wait (proc, NULL, NULL));
  return g_subprocess_get_if_signaled (proc) ? g_subprocess_get_term_sig (proc) : 0;
}

static void
test_crash_halfway_through_encrypt (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  NmtHost *host;
  cJSON *hello;

  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_write_known_items (host);
  nmt_crypt_finish (host);

  /* Killed with everything rewritten but not committed: the plaintext
   * store is as it was. */
  assert_int_equal (encrypt_crashing_at (home, "convert-before-commit"), 9);
  host = nmt_host_start (home, NMT_ORIGIN);
  hello = nmt_host_call (host, "{\"op\":\"hello\"}");
  assert_true (cJSON_IsFalse (cJSON_GetObjectItem (hello, "encrypted")));
  cJSON_Delete (hello);
  nmt_crypt_assert_known_items (host);
  nmt_crypt_finish (host);

  /* Killed after the commit, before the file was rewritten: encrypted,
   * and the old plaintext is still in the file until the next open
   * finishes the job. */
  assert_int_equal (encrypt_crashing_at (home, "convert-before-scrub"), 9);
  {
    g_autofree char *hit = nmt_crypt_find_marker (home);
    assert_non_null (hit);
  }
  host = nmt_host_start (home, NMT_ORIGIN);
  hello = nmt_host_call (host, "{\"op\":\"hello\"}");
  assert_true (cJSON_IsTrue (cJSON_GetObjectItem (hello, "encrypted")));
  assert_true (cJSON_IsFalse (cJSON_GetObjectItem (hello, "locked")));
  cJSON_Delete (hello);
  nmt_crypt_assert_known_items (host);
  nmt_crypt_assert_no_marker (home);
  nmt_crypt_finish (host);
  nmt_crypt_assert_no_marker (home);
  nmt_remove_tree (home);
}

static GBytes *
items_table (const char *home)
{
  g_autofree char *path = nmt_crypt_store_path (home);
  g_autoptr(GByteArray) all = g_byte_array_new ();
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;

  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, "SELECT key, value FROM items ORDER BY key", -1, &s, NULL), SQLITE_OK);
  while (sqlite3_step (s) == SQLITE_ROW)
    {
      g_byte_array_append (all, sqlite3_column_blob (s, 0), sqlite3_column_bytes (s, 0));
      g_byte_array_append (all, sqlite3_column_blob (s, 1), sqlite3_column_bytes (s, 1));
    }
  sqlite3_finalize (s);
  sqlite3_close (db);
  return g_byte_array_free_to_bytes (g_steal_pointer (&all));
}

static void
test_passwd_rewraps_only (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autoptr(GBytes) before = NULL;
  g_autoptr(GBytes) after = NULL;
  NmtHost *host = nmt_host_start (home, NMT_ORIGIN);

  nmt_crypt_write_known_items (host);
  nmt_crypt_finish (host);
  assert_int_equal (nmt_crypt_cli (home, "old pass\n", NULL, "encrypt", "--origin", NMT_ORIGIN, "--passphrase",
                         "--passphrase-fd", "0", NULL), 0);
  before = items_table (home);
  assert_int_equal (nmt_crypt_cli (home, "not it\nnew pass\n", NULL, "passwd", "--origin", NMT_ORIGIN,
                         "--passphrase-fd", "0", NULL), 1);
  assert_int_equal (nmt_crypt_cli (home, "old pass\nnew pass\n", NULL, "passwd", "--origin", NMT_ORIGIN,
                         "--passphrase-fd", "0", NULL), 0);
  after = items_table (home);
  /* Not one record was rewritten. */
  assert_true (g_bytes_equal (before, after));

  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_error (host, "{\"op\":\"unlock\",\"passphrase\":\"old pass\"}", "E_AUTH");
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"new pass\"}");
  nmt_crypt_assert_known_items (host);
  nmt_crypt_finish (host);

  /* To a key file, and decrypt from there. */
  assert_int_equal (nmt_crypt_cli (home, "new pass\n", NULL, "passwd", "--origin", NMT_ORIGIN, "--key-file",
                         "--passphrase-fd", "0", NULL), 0);
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "decrypt", "--origin", NMT_ORIGIN, NULL), 0);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_assert_known_items (host);
  nmt_crypt_finish (host);
  nmt_remove_tree (home);
}

typedef struct {
  const char *home;
  gint        stop;
  gint        reads;
  guint       wrong;
  char       *first_problem;
} Reader;

static gpointer
read_loop (gpointer data)
{
  Reader *r = data;
  NmtHost *host = nmt_host_start (r->home, NMT_ORIGIN);

  while (!g_atomic_int_get (&r->stop))
    {
      cJSON *reply = nmt_host_call (host, "{\"op\":\"get\",\"keys\":[\"k0\",\"k17\",\"k39\"]}");
      cJSON *items = cJSON_GetObjectItem (reply, "items");
      const cJSON *k17 = cJSON_GetObjectItem (items, "k17");

      g_atomic_int_inc (&r->reads);
      if (!cJSON_IsTrue (cJSON_GetObjectItem (reply, "ok")) || cJSON_GetArraySize (items) != 3
          || !cJSON_IsString (k17) || strcmp (k17->valuestring, "value 17") != 0)
        {
          r->wrong++;
          if (r->first_problem == NULL)
            r->first_problem = cJSON_PrintUnformatted (reply);
        }
      cJSON_Delete (reply);
    }
  nmt_crypt_finish (host);
  return NULL;
}

static void
test_rekey_under_concurrent_reader (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autoptr(GString) req = g_string_new ("{\"op\":\"set\",\"items\":{");
  g_autoptr(GBytes) before = NULL;
  g_autoptr(GBytes) after = NULL;
  Reader r = { home, 0, 0, 0, NULL };
  GThread *thread;
  NmtHost *host;
  int i, round;

  nmt_encrypt_origin (home, NMT_ORIGIN);
  host = nmt_host_start (home, NMT_ORIGIN);
  /* Enough that each rekey takes a while next to one read. */
  for (i = 0; i < 2000; i++)
    g_string_append_printf (req, "%s\"k%d\":\"value %d%s\"", i ? "," : "", i, i,
                            i < 40 ? "" : " .................................................................."
                                          "..............................................................");
  g_string_append (req, "}}");
  nmt_crypt_call_ok (host, req->str);
  nmt_crypt_finish (host);

  before = items_table (home);
  thread = g_thread_new ("reader", read_loop, &r);
  while (g_atomic_int_get (&r.reads) == 0)
    g_usleep (1000);
  for (round = 0; round < 3; round++)
    assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "rekey", "--origin", NMT_ORIGIN, NULL), 0);
  g_atomic_int_set (&r.stop, 1);
  g_thread_join (thread);
  after = items_table (home);

  print_message ("reader: %d reads beside 3 rekeys, %u wrong\n", r.reads, r.wrong);
  if (r.wrong > 0)
    fail_msg ("a reader saw %u wrong replies, the first: %s", r.wrong, r.first_problem);
  assert_true (r.reads > 0);
  /* Every record was sealed again: tokens and ciphertexts all differ. */
  assert_false (g_bytes_equal (before, after));
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "verify", "--origin", NMT_ORIGIN, NULL), 0);
  nmt_remove_tree (home);
}

/* A host unlocked with the passphrase stays unlocked through a rekey by
 * another process (the same passphrase wraps the new key), keeps its keys
 * through a passwd (the data key is unchanged), and after that a rekey
 * locks it: its passphrase is no longer the origin's. */
static void
test_unlocked_host_through_rekey_and_passwd (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *value = NULL;
  NmtHost *host = nmt_host_start (home, NMT_ORIGIN);

  nmt_crypt_write_known_items (host);
  nmt_crypt_finish (host);
  assert_int_equal (nmt_crypt_cli (home, "first pass\n", NULL, "encrypt", "--origin", NMT_ORIGIN, "--passphrase",
                                   "--passphrase-fd", "0", NULL), 0);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"first pass\"}");

  assert_int_equal (nmt_crypt_cli (home, "first pass\n", NULL, "rekey", "--origin", NMT_ORIGIN,
                                   "--passphrase-fd", "0", NULL), 0);
  nmt_crypt_assert_known_items (host);
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"" NMT_NAME_C "\":" NMT_VALUE_C "}}");

  assert_int_equal (nmt_crypt_cli (home, "first pass\nsecond pass\n", NULL, "passwd", "--origin", NMT_ORIGIN,
                                   "--passphrase-fd", "0", NULL), 0);
  value = nmt_crypt_get_value (host, NMT_NAME_C);
  assert_string_equal (value, NMT_VALUE_C);

  assert_int_equal (nmt_crypt_cli (home, "second pass\n", NULL, "rekey", "--origin", NMT_ORIGIN,
                                   "--passphrase-fd", "0", NULL), 0);
  nmt_crypt_call_error (host, "{\"op\":\"get\"}", "E_LOCKED");
  nmt_crypt_call_error (host, "{\"op\":\"unlock\",\"passphrase\":\"first pass\"}", "E_AUTH");
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"second pass\"}");
  nmt_crypt_assert_known_items (host);
  /* lock forgets the passphrase's key too: a rekey now leaves it locked. */
  nmt_crypt_call_ok (host, "{\"op\":\"lock\"}");
  nmt_crypt_call_error (host, "{\"op\":\"get\"}", "E_LOCKED");
  nmt_crypt_finish (host);
  nmt_crypt_assert_no_marker (home);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_no_plaintext_in_any_file),
    cmocka_unit_test (test_locked_until_unlock),
    cmocka_unit_test (test_flipped_byte_in_one_record),
    cmocka_unit_test (test_swapped_records),
    cmocka_unit_test (test_crash_halfway_through_encrypt),
    cmocka_unit_test (test_passwd_rewraps_only),
    cmocka_unit_test (test_rekey_under_concurrent_reader),
    cmocka_unit_test (test_unlocked_host_through_rekey_and_passwd),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
