/* SPDX-License-Identifier: MIT */
/* test_encryption_archive.c: data leaving and entering an encrypted origin
 * through the real binary. A sealed export holds no name or value in the
 * clear and imports only with the key source it was written under; any
 * record dropped, changed, swapped or replayed fails the whole import and
 * imports nothing. --decrypt exports and backs up in the clear; a backup
 * restores only with its key, and restoring one needs no key at all; the storage
 * commands open a passphrase origin with --passphrase-fd. */
#include "cryptcheck.h"

#include <sqlite3.h>
#include <string.h>

#define PASS      "export pass\n"
#define OTHER_ORIGIN "chrome-extension://bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/"

/* A data root holding the known items and NAME_C, encrypted with PASS. */
static char *
passphrase_home (void)
{
  char *home = nmt_crypt_make_home ();
  NmtHost *host = nmt_host_start (home, NMT_ORIGIN);

  nmt_crypt_write_known_items (host);
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"" NMT_NAME_C "\":" NMT_VALUE_C "}}");
  nmt_crypt_finish (host);
  assert_int_equal (nmt_crypt_cli (home, PASS, NULL, "encrypt", "--origin", NMT_ORIGIN, "--passphrase",
                                   "--passphrase-fd", "0", NULL), 0);
  return home;
}

/* Writes text to a new file under dir; returns its path. */
static char *
write_file (const char *dir, const char *name, const char *text)
{
  char *path = g_build_filename (dir, name, NULL);

  assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* The keys of origin in home, as the command line prints them. */
static char *
keys_of (const char *home, const char *origin, const char *passphrase)
{
  char *out = NULL;

  assert_int_equal (nmt_crypt_cli (home, passphrase, &out, "keys", "--origin", origin, "--passphrase-fd", "0", NULL),
                    0);
  g_strchomp (out);
  return out;
}

static char *
sealed_export (const char *home, const char *prefix)
{
  char *out = NULL;

  if (prefix != NULL)
    assert_int_equal (nmt_crypt_cli (home, PASS, &out, "export", "--origin", NMT_ORIGIN, "--prefix", prefix,
                                     "--passphrase-fd", "0", NULL), 0);
  else
    assert_int_equal (nmt_crypt_cli (home, PASS, &out, "export", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                     NULL), 0);
  return out;
}

static void
test_sealed_export_round_trip (void **state)
{
  g_autofree char *home = passphrase_home ();
  g_autofree char *other = nmt_crypt_make_home ();
  g_autofree char *text = sealed_export (home, NULL);
  g_autofree char *hit = nmt_crypt_find_marker_in ((const guint8 *) text, strlen (text));
  g_autofree char *path = NULL;
  g_autofree char *err = NULL;
  g_autofree char *keys = NULL;
  NmtHost *host;

  if (hit != NULL)
    fail_msg ("a sealed export holds %s", hit);
  assert_non_null (strstr (text, "\"format\":\"nmstore-sealed-export\""));
  path = write_file (home, "export.json", text);
  /* The export sits under the data root now: every file there, it too,
   * is scanned. */
  nmt_crypt_assert_no_marker (home);

  /* A wrong passphrase imports nothing, and says why. */
  assert_int_equal (nmt_crypt_cli_err (other, "not it\n", NULL, &err, "import", "--origin", NMT_ORIGIN,
                                       "--passphrase-fd", "0", path, NULL), 1);
  assert_non_null (strstr (err, "wrong passphrase"));
  g_clear_pointer (&keys, g_free);
  keys = keys_of (other, NMT_ORIGIN, NULL);
  assert_string_equal (keys, "[]");
  /* A plain export given a key file is a mistake to point out. */
  {
    g_autofree char *plain = write_file (other, "plain.json", "{\"a\":1}");

    g_clear_pointer (&err, g_free);
    assert_int_equal (nmt_crypt_cli_err (other, NULL, NULL, &err, "import", "--origin", NMT_ORIGIN,
                                         "--key-file", path, plain, NULL), 2);
    assert_non_null (strstr (err, "plain one"));
  }
  /* A passphrase export given a key file is refused, not guessed at. */
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_crypt_cli_err (other, NULL, NULL, &err, "import", "--origin", NMT_ORIGIN,
                                       "--key-file", path, path, NULL), 1);
  assert_non_null (strstr (err, "not a key file"));

  /* With it, into another data root, where the origin is not encrypted,
   * which the person is told. */
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_crypt_cli_err (other, PASS, NULL, &err, "import", "--origin", NMT_ORIGIN,
                                       "--passphrase-fd", "0", path, NULL), 0);
  assert_non_null (strstr (err, "stored in the clear"));
  host = nmt_host_start (other, NMT_ORIGIN);
  nmt_crypt_assert_known_items (host);
  g_autofree char *c = nmt_crypt_get_value (host, NMT_NAME_C);
  assert_string_equal (c, NMT_VALUE_C);
  nmt_crypt_finish (host);

  /* Back into the origin it came from, after a removal: one passphrase
   * line opens both the export and the origin. */
  assert_int_equal (nmt_crypt_cli (home, PASS, NULL, "rm", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   NMT_NAME_A, NULL), 0);
  g_clear_pointer (&keys, g_free);
  keys = keys_of (home, NMT_ORIGIN, PASS);
  assert_null (strstr (keys, NMT_NAME_A));
  assert_int_equal (nmt_crypt_cli (home, PASS, NULL, "import", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   path, NULL), 0);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"export pass\"}");
  nmt_crypt_assert_known_items (host);
  nmt_crypt_finish (host);
  nmt_crypt_assert_no_marker (home);
  nmt_remove_tree (home);
  nmt_remove_tree (other);
}

typedef enum {
  DROP_LAST,
  FLIP_BYTE,
  SWAP_VALUES,
  CHANGE_PREFIX,
  REPLAY_OLD_RECORDS,
  DROP_MAC,
  ADD_MEMBER,
  N_TAMPERS
} Tamper;

static const char *const tamper_names[] = {
  "a record dropped", "a byte flipped", "two sealed values swapped", "the prefix changed",
  "an older export's records under the newer one's MAC",
  "the MAC removed (which must not make it pass for a plain export)", "a member added"
};

/* Returns export's text changed one way; older is another export of the
 * same origin, for the replay. */
static char *
tampered (const char *text, const char *older, Tamper how)
{
  cJSON *root = cJSON_Parse (text);
  cJSON *records = cJSON_GetObjectItem (root, "records");
  char *out;

  assert_true (cJSON_GetArraySize (records) >= 2);
  switch (how)
    {
    case DROP_LAST:
      cJSON_DeleteItemFromArray (records, cJSON_GetArraySize (records) - 1);
      break;
    case FLIP_BYTE:
      {
        cJSON *value = cJSON_GetArrayItem (cJSON_GetArrayItem (records, 0), 1);
        gsize len = 0;
        g_autofree guint8 *raw = g_base64_decode (value->valuestring, &len);
        g_autofree char *b64 = NULL;

        raw[len / 2] ^= 0x01;
        b64 = g_base64_encode (raw, len);
        cJSON_SetValuestring (value, b64);
      }
      break;
    case SWAP_VALUES:
      {
        cJSON *a = cJSON_GetArrayItem (cJSON_GetArrayItem (records, 0), 1);
        cJSON *b = cJSON_GetArrayItem (cJSON_GetArrayItem (records, 1), 1);
        g_autofree char *first = g_strdup (a->valuestring);

        cJSON_SetValuestring (a, b->valuestring);
        cJSON_SetValuestring (b, first);
      }
      break;
    case CHANGE_PREFIX:
      cJSON_ReplaceItemInObject (root, "prefix", cJSON_CreateString ("session:"));
      break;
    case REPLAY_OLD_RECORDS:
      {
        cJSON *old = cJSON_Parse (older);

        cJSON_ReplaceItemInObject (root, "records", cJSON_DetachItemFromObject (old, "records"));
        cJSON_Delete (old);
      }
      break;
    case DROP_MAC:
      cJSON_DeleteItemFromObject (root, "mac");
      break;
    case ADD_MEMBER:
      cJSON_AddStringToObject (root, "note", "added");
      break;
    default:
      g_assert_not_reached ();
    }
  out = cJSON_PrintUnformatted (root);
  cJSON_Delete (root);
  return out;
}

static void
test_sealed_export_tampered (void **state)
{
  g_autofree char *home = passphrase_home ();
  g_autofree char *other = nmt_crypt_make_home ();
  g_autofree char *older = sealed_export (home, NULL);
  g_autofree char *text = NULL;
  Tamper how;

  /* The newer export differs from the older in one value. */
  assert_int_equal (nmt_crypt_cli (home, PASS, NULL, "set", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   NMT_NAME_A, NMT_VALUE_A2, NULL), 0);
  text = sealed_export (home, NULL);

  /* Untouched, it imports: what follows fails for the change alone. */
  {
    g_autofree char *path = write_file (other, "good.json", text);
    g_autofree char *keys = NULL;

    assert_int_equal (nmt_crypt_cli (other, PASS, NULL, "import", "--origin", OTHER_ORIGIN, "--passphrase-fd", "0",
                                     path, NULL), 0);
    keys = keys_of (other, OTHER_ORIGIN, NULL);
    assert_non_null (strstr (keys, NMT_NAME_A));
  }
  for (how = 0; how < N_TAMPERS; how++)
    {
      g_autofree char *bad = tampered (text, older, how);
      g_autofree char *path = write_file (other, "bad.json", bad);
      g_autofree char *err = NULL;
      g_autofree char *keys = NULL;

      print_message ("import with %s\n", tamper_names[how]);
      assert_int_equal (nmt_crypt_cli_err (other, PASS, NULL, &err, "import", "--origin", NMT_ORIGIN,
                                           "--passphrase-fd", "0", path, NULL), 1);
      assert_non_null (strstr (err, "nothing was imported"));
      keys = keys_of (other, NMT_ORIGIN, NULL);
      assert_string_equal (keys, "[]");
    }
  nmt_remove_tree (home);
  nmt_remove_tree (other);
}

static void
test_sealed_export_prefix (void **state)
{
  g_autofree char *home = passphrase_home ();
  g_autofree char *other = nmt_crypt_make_home ();
  g_autofree char *text = sealed_export (home, "session:torrent:");
  g_autofree char *path = write_file (other, "part.json", text);
  g_autofree char *keys = NULL;
  g_autofree char *want = g_strdup_printf ("[\"%s\",\"%s\"]", NMT_NAME_A, NMT_NAME_B);

  assert_null (nmt_crypt_find_marker_in ((const guint8 *) text, strlen (text)));
  assert_int_equal (nmt_crypt_cli (other, PASS, NULL, "import", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   path, NULL), 0);
  keys = keys_of (other, NMT_ORIGIN, NULL);
  assert_string_equal (keys, want);
  nmt_remove_tree (home);
  nmt_remove_tree (other);
}

/* A key-file origin exports without a passphrase; the export opens
 * elsewhere only with that key file. */
static void
test_sealed_export_key_file (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *other = nmt_crypt_make_home ();
  g_autofree char *key_file = NULL;
  g_autofree char *text = NULL;
  g_autofree char *path = NULL;
  g_autofree char *err = NULL;
  g_autofree char *store = NULL;
  NmtHost *host = nmt_host_start (home, NMT_ORIGIN);

  nmt_crypt_write_known_items (host);
  nmt_crypt_finish (host);
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "encrypt", "--origin", NMT_ORIGIN, "--key-file", NULL), 0);
  store = nmt_crypt_store_path (home);
  {
    g_autofree char *dir = g_path_get_dirname (store);
    key_file = g_build_filename (dir, "store.key", NULL);
  }
  assert_true (g_file_test (key_file, G_FILE_TEST_IS_REGULAR));
  assert_int_equal (nmt_crypt_cli (home, NULL, &text, "export", "--origin", NMT_ORIGIN, NULL), 0);
  assert_null (nmt_crypt_find_marker_in ((const guint8 *) text, strlen (text)));
  path = write_file (other, "export.json", text);

  /* The other data root has no such key file beside that origin. */
  assert_int_equal (nmt_crypt_cli_err (other, NULL, NULL, &err, "import", "--origin", NMT_ORIGIN, path, NULL), 1);
  assert_non_null (strstr (err, "store.key"));
  assert_int_equal (nmt_crypt_cli (other, NULL, NULL, "import", "--origin", NMT_ORIGIN, "--key-file", key_file,
                                   path, NULL), 0);
  host = nmt_host_start (other, NMT_ORIGIN);
  nmt_crypt_assert_known_items (host);
  nmt_crypt_finish (host);
  nmt_remove_tree (home);
  nmt_remove_tree (other);
}

static void
test_decrypt_export_in_the_clear (void **state)
{
  g_autofree char *home = passphrase_home ();
  g_autofree char *plain_home = nmt_crypt_make_home ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  assert_int_equal (nmt_crypt_cli (home, "bad pass\n", &out, "export", "--origin", NMT_ORIGIN, "--decrypt",
                                   "--passphrase-fd", "0", NULL), 1);
  g_clear_pointer (&out, g_free);
  assert_int_equal (nmt_crypt_cli (home, PASS, &out, "export", "--origin", NMT_ORIGIN, "--decrypt",
                                   "--passphrase-fd", "0", NULL), 0);
  assert_non_null (strstr (out, "VALUEMARKERALPHA"));
  assert_non_null (strstr (out, NMT_NAME_C));
  /* --decrypt of an origin that is not encrypted is a mistake to point out. */
  assert_int_equal (nmt_crypt_cli_err (plain_home, NULL, NULL, &err, "export", "--origin", NMT_ORIGIN, "--decrypt",
                                       NULL), 2);
  assert_non_null (strstr (err, "not encrypted"));
  nmt_remove_tree (home);
  nmt_remove_tree (plain_home);
}

static void
test_backup_restores_only_with_key (void **state)
{
  g_autofree char *home = passphrase_home ();
  g_autofree char *other = nmt_crypt_make_home ();
  g_autofree char *backup = g_build_filename (home, "backup.db", NULL);
  NmtHost *host;
  cJSON *hello;

  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "backup", "--origin", NMT_ORIGIN, backup, NULL), 0);
  nmt_crypt_assert_no_marker (home);
  assert_int_equal (nmt_crypt_cli (other, NULL, NULL, "restore", "--origin", NMT_ORIGIN, backup, NULL), 0);
  host = nmt_host_start (other, NMT_ORIGIN);
  hello = nmt_host_call (host, "{\"op\":\"hello\"}");
  assert_true (cJSON_IsTrue (cJSON_GetObjectItem (hello, "encrypted")));
  assert_true (cJSON_IsTrue (cJSON_GetObjectItem (hello, "locked")));
  cJSON_Delete (hello);
  nmt_crypt_call_error (host, "{\"op\":\"get\"}", "E_LOCKED");
  nmt_crypt_call_error (host, "{\"op\":\"unlock\",\"passphrase\":\"other pass\"}", "E_AUTH");
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"export pass\"}");
  nmt_crypt_assert_known_items (host);
  nmt_crypt_finish (host);
  nmt_crypt_assert_no_marker (other);

  /* Restoring needs no key: the passphrase changed since the backup and
   * was forgotten, and the old one, with the backup, opens it again. */
  assert_int_equal (nmt_crypt_cli (home, "export pass\nforgotten pass\n", NULL, "passwd", "--origin", NMT_ORIGIN,
                                   "--passphrase-fd", "0", NULL), 0);
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "restore", "--origin", NMT_ORIGIN, backup, NULL), 0);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_error (host, "{\"op\":\"unlock\",\"passphrase\":\"forgotten pass\"}", "E_AUTH");
  nmt_crypt_call_ok (host, "{\"op\":\"unlock\",\"passphrase\":\"export pass\"}");
  nmt_crypt_assert_known_items (host);
  nmt_crypt_finish (host);
  nmt_remove_tree (home);
  nmt_remove_tree (other);
}

/* backup --decrypt writes the backup in the clear, with the key; it
 * restores as a plaintext origin, and its scratch store is gone. */
static void
test_backup_decrypted (void **state)
{
  g_autofree char *home = passphrase_home ();
  g_autofree char *other = nmt_crypt_make_home ();
  g_autofree char *plain_home = nmt_crypt_make_home ();
  g_autofree char *dir = g_build_filename (other, "backups", NULL);
  g_autofree char *backup = g_build_filename (dir, "clear.db", NULL);
  g_autofree char *data = NULL;
  g_autofree char *hit = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GDir) d = NULL;
  const char *name;
  gsize len = 0;
  NmtHost *host;
  cJSON *hello;

  assert_int_equal (g_mkdir_with_parents (dir, 0700), 0);
  assert_int_equal (nmt_crypt_cli (home, "wrong\n", NULL, "backup", "--origin", NMT_ORIGIN, "--decrypt",
                                   "--passphrase-fd", "0", backup, NULL), 1);
  assert_false (g_file_test (backup, G_FILE_TEST_EXISTS));
  assert_int_equal (nmt_crypt_cli (home, PASS, NULL, "backup", "--origin", NMT_ORIGIN, "--decrypt",
                                   "--passphrase-fd", "0", backup, NULL), 0);
  assert_true (g_file_get_contents (backup, &data, &len, NULL));
  hit = nmt_crypt_find_marker_in ((const guint8 *) data, len);
  assert_non_null (hit);
  /* Only the backup is left where it was written. */
  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    assert_string_equal (name, "clear.db");

  assert_int_equal (nmt_crypt_cli (other, NULL, NULL, "restore", "--origin", NMT_ORIGIN, backup, NULL), 0);
  host = nmt_host_start (other, NMT_ORIGIN);
  hello = nmt_host_call (host, "{\"op\":\"hello\"}");
  assert_true (cJSON_IsFalse (cJSON_GetObjectItem (hello, "encrypted")));
  cJSON_Delete (hello);
  nmt_crypt_assert_known_items (host);
  nmt_crypt_finish (host);

  /* --decrypt of an origin that is not encrypted is a mistake to point out. */
  assert_int_equal (nmt_crypt_cli_err (plain_home, NULL, NULL, &err, "backup", "--origin", NMT_ORIGIN, "--decrypt",
                                       backup, NULL), 2);
  assert_non_null (strstr (err, "not encrypted"));
  nmt_remove_tree (home);
  nmt_remove_tree (other);
  nmt_remove_tree (plain_home);
}

/* keys, get, set, rm and session ls on a locked passphrase origin. */
static void
test_storage_commands_take_a_passphrase (void **state)
{
  g_autofree char *home = passphrase_home ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  /* No terminal in the test, and no --passphrase-fd: a clear refusal. */
  assert_int_equal (nmt_crypt_cli_err (home, NULL, NULL, &err, "keys", "--origin", NMT_ORIGIN, NULL), 1);
  assert_non_null (strstr (err, "locked"));
  assert_non_null (strstr (err, "--passphrase-fd"));
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_crypt_cli_err (home, "wrong\n", NULL, &err, "get", "--origin", NMT_ORIGIN,
                                       "--passphrase-fd", "0", NULL), 1);
  assert_non_null (strstr (err, "wrong passphrase"));

  assert_int_equal (nmt_crypt_cli (home, PASS, &out, "get", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   NMT_NAME_C, NULL), 0);
  assert_string_equal (out, "{\"" NMT_NAME_C "\":" NMT_VALUE_C "}\n");
  assert_int_equal (nmt_crypt_cli (home, PASS, NULL, "set", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   "fresh", "[1,2]", NULL), 0);
  assert_int_equal (nmt_crypt_cli (home, PASS, NULL, "rm", "--origin", NMT_ORIGIN, "--passphrase-fd", "0",
                                   NMT_NAME_C, NULL), 0);
  g_clear_pointer (&out, g_free);
  out = keys_of (home, NMT_ORIGIN, PASS);
  assert_string_equal (out, "[\"fresh\",\"" NMT_NAME_A "\",\"" NMT_NAME_B "\"]");
  g_clear_pointer (&out, g_free);
  assert_int_equal (nmt_crypt_cli (home, PASS, &out, "session", "ls", "--origin", NMT_ORIGIN, "--json",
                                   "--passphrase-fd", "0", NULL), 0);
  assert_non_null (strstr (out, "\"torrents\""));
  nmt_crypt_assert_no_marker (home);
  nmt_remove_tree (home);
}

/* The shortest and longest sealed value in origin's store file. */
static void
value_lengths (const char *home, gint64 *shortest, gint64 *longest)
{
  g_autofree char *path = nmt_crypt_store_path (home);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;

  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, "SELECT min(length(value)), max(length(value)) FROM items", -1, &s,
                                        NULL), SQLITE_OK);
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);
  *shortest = sqlite3_column_int64 (s, 0);
  *longest = sqlite3_column_int64 (s, 1);
  sqlite3_finalize (s);
  sqlite3_close (db);
}

/* Every command opens an origin's store with the config's options, as the
 * host does: a value imported from a file is padded to nmstore.conf's
 * pad_block like one the browser writes. */
static void
test_import_pads_like_the_host (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *path = NULL;
  NmtHost *host;
  gint64 shortest = 0, longest = 0;

  nmt_write_config (home, "[crypto]\npad_block = 4096\npwhash_opslimit = 1\npwhash_memlimit = 8192\n");
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "encrypt", "--origin", NMT_ORIGIN, "--key-file", NULL), 0);
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"by-host\":\"v\"}}");
  nmt_crypt_finish (host);
  path = write_file (home, "export.json", "{\"by-file\":\"v\"}");
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "import", "--origin", NMT_ORIGIN, "--quiet", path, NULL), 0);
  value_lengths (home, &shortest, &longest);
  assert_true (shortest >= 4096);
  assert_int_equal (shortest, longest);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sealed_export_round_trip),
    cmocka_unit_test (test_sealed_export_tampered),
    cmocka_unit_test (test_sealed_export_prefix),
    cmocka_unit_test (test_sealed_export_key_file),
    cmocka_unit_test (test_decrypt_export_in_the_clear),
    cmocka_unit_test (test_backup_restores_only_with_key),
    cmocka_unit_test (test_backup_decrypted),
    cmocka_unit_test (test_storage_commands_take_a_passphrase),
    cmocka_unit_test (test_import_pads_like_the_host),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
