/* SPDX-License-Identifier: MIT */
/* test_store_open.c: opening a store (store.h) against real files in a
 * temporary directory: private folders and files created exclusively, loose
 * or foreign ones refused, backup files no other user can hijack, the
 * origin recorded, and older schemas brought up to date. */
#define _GNU_SOURCE
#include "harness.h"
#include "storecheck.h"

#include "base/error.h"
#include "store/store.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

typedef NmtStoreHome Fixture;

static mode_t
mode_of (const char *path)
{
  GStatBuf st;

  assert_int_equal (g_stat (path, &st), 0);
  return st.st_mode & 07777;
}

/* ---- opening ---------------------------------------------------------- */

static void
test_open_creates_private_dir_and_file (void **state)
{
  Fixture *f = *state;
  g_autofree char *nested = g_build_filename (f->home, "root", "chromium-abcdefghijklmnopabcdefghijklmnop", NULL);
  g_autofree char *root = g_path_get_dirname (nested);
  g_autofree char *db = g_build_filename (nested, NMS_STORE_FILE_NAME, NULL);
  g_autoptr(NmsStore) store = NULL;

  assert_false (g_file_test (root, G_FILE_TEST_EXISTS));
  store = nmt_store_open (nested, 0);
  assert_string_equal (nms_store_path (store), db);
  assert_true (g_file_test (db, G_FILE_TEST_IS_REGULAR));
  assert_int_equal (mode_of (nested), 0700);
  assert_int_equal (mode_of (root), 0700);
  assert_int_equal (mode_of (db), 0600);
}

/* nms_store_init, which main() calls before anything else here as the
 * host does, turns off SQLite's memory count: with it on, a store that
 * holds a value has memory counted. */
static void
test_init_stops_memory_count (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);

  nmt_store_set_ok (store, "k", "[1,2,3]");
  assert_int_equal (sqlite3_memory_used (), 0);
  assert_int_equal (sqlite3_memory_highwater (FALSE), 0);
}

/* A store file of ours that is looser than 0600 is tightened: it sits in
 * a folder that kept others out. */
static void
test_open_tightens_loose_file (void **state)
{
  Fixture *f = *state;
  g_autofree char *db = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);

  {
    g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
    nmt_store_set_ok (store, "k", "1");
  }
  assert_int_equal (g_chmod (db, 0644), 0);
  {
    g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
    assert_int_equal (mode_of (f->dir), 0700);
    assert_int_equal (mode_of (db), 0600);
    nmt_store_assert_value (store, "k", "1");
  }
}

/* A folder that is looser than 0700 is refused, not chmodded: nmstore
 * does not know that it made it (issue 14, defect 5). */
static void
test_open_refuses_loose_folder (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;

  {
    g_autoptr(NmsStore) first = nmt_store_open (f->dir, 0);
    nmt_store_set_ok (first, "k", "1");
  }
  assert_int_equal (g_chmod (f->dir, 0755), 0);
  store = nms_store_open (f->dir, NMT_ORIGIN, NULL, &error);
  assert_null (store);
  assert_non_null (error);
  assert_non_null (strstr (error->message, f->dir));
  assert_non_null (strstr (error->message, "chmod 700"));
  assert_int_equal (mode_of (f->dir), 0755);

  /* After the person's own chmod it opens with its data. */
  assert_int_equal (g_chmod (f->dir, 0700), 0);
  g_clear_error (&error);
  store = nmt_store_open (f->dir, 0);
  nmt_store_assert_value (store, "k", "1");
}

/* A store.db that is a FIFO would hang SQLite's open; a link would put
 * the data elsewhere. Both are refused before SQLite sees them. */
static void
test_open_refuses_odd_store_file (void **state)
{
  Fixture *f = *state;
  g_autofree char *db = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  g_autofree char *elsewhere = g_build_filename (f->home, "elsewhere.db", NULL);
  g_autoptr(GError) error = NULL;
  NmsStore *store;

  assert_int_equal (g_mkdir (f->dir, 0700), 0);
  assert_int_equal (mkfifo (db, 0600), 0);
  store = nms_store_open (f->dir, NMT_ORIGIN, NULL, &error);
  assert_null (store);
  assert_non_null (strstr (error->message, "not a regular file"));
  g_clear_error (&error);

  assert_int_equal (g_unlink (db), 0);
  assert_int_equal (symlink (elsewhere, db), 0);
  store = nms_store_open (f->dir, NMT_ORIGIN, NULL, &error);
  assert_null (store);
  assert_non_null (strstr (error->message, "symbolic link"));
  assert_false (g_file_test (elsewhere, G_FILE_TEST_EXISTS));
}

/* ---- backup files ------------------------------------------------------ */

#define VICTIM_UID   4243
#define ATTACKER_UID 4244
#define SECRET       "hunter2-the-whole-store"

static gboolean
file_holds (const char *path, const char *needle)
{
  g_autofree char *text = NULL;
  gsize len = 0;

  return g_file_get_contents (path, &text, &len, NULL) && nmt_contains (text, len, needle);
}

/* In a child: become uid (group too, no supplementary groups). */
static void
become (uid_t uid)
{
  if (setgroups (0, NULL) != 0 || setgid (uid) != 0 || setuid (uid) != 0)
    _exit (90);
}

/* Issue 14, defect 1: in a shared sticky folder (/tmp), another local
 * user pre-creates the name the backup used to write to first
 * (DEST.partial-PID, predictable), 0666. The old code wrote the whole
 * store into that file, failed to chmod it and could not remove it. Two
 * real uids, so it needs root; run as root, the test drops to them. */
static void
test_backup_partial_file_not_hijacked (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *shared = NULL;
  g_autofree char *victim_home = NULL;
  g_autofree char *dest = NULL;
  g_autofree char *bait = NULL;
  int go[2];
  pid_t victim, attacker;
  int status = 0;
  GStatBuf st;

  if (geteuid () != 0)
    {
      print_message ("skipped: acting as a victim and an attacker user needs root\n");
      skip ();
    }
  shared = g_dir_make_tmp ("nmstore-shared-XXXXXX", &error);
  victim_home = g_dir_make_tmp ("nmstore-victim-XXXXXX", &error);
  assert_non_null (shared);
  assert_non_null (victim_home);
  assert_int_equal (g_chmod (shared, 01777), 0);
  assert_int_equal (chown (victim_home, VICTIM_UID, VICTIM_UID), 0);
  dest = g_build_filename (shared, "backup.db", NULL);
  assert_int_equal (pipe (go), 0);

  victim = fork ();
  assert_true (victim >= 0);
  if (victim == 0)
    {
      g_autofree char *dir = g_build_filename (victim_home, "chromium-abcdefghijklmnopabcdefghijklmnop", NULL);
      NmsStore *store;
      char c;

      close (go[1]);
      if (read (go[0], &c, 1) != 1)
        _exit (91);
      become (VICTIM_UID);
      umask (077);   /* as nmstore's main() sets it */
      store = nms_store_open (dir, NMT_ORIGIN, NULL, NULL);
      if (store == NULL)
        _exit (92);
      {
        NmsItem item = { .key = "k", .key_len = 1, .kind = NMS_VALUE_JSON,
                         .value = (const guint8 *) "\"" SECRET "\"", .value_len = strlen (SECRET) + 2 };
        if (!nms_store_set (store, &item, 1, NULL))
          _exit (93);
      }
      _exit (nms_store_backup_into (store, dest, NULL) ? 0 : 1);
    }
  close (go[0]);

  /* The attacker knows the victim's pid, as anyone can from ps. */
  bait = g_strdup_printf ("%s.partial-%d", dest, (int) victim);
  attacker = fork ();
  assert_true (attacker >= 0);
  if (attacker == 0)
    {
      int fd;

      become (ATTACKER_UID);
      umask (0);
      fd = open (bait, O_WRONLY | O_CREAT | O_EXCL, 0666);
      _exit (fd >= 0 ? 0 : 1);
    }
  assert_int_equal (waitpid (attacker, &status, 0), attacker);
  assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);

  assert_int_equal (write (go[1], "g", 1), 1);
  close (go[1]);
  assert_int_equal (waitpid (victim, &status, 0), victim);

  /* Whatever happened to the backup, the attacker's file holds nothing. */
  assert_int_equal (g_stat (bait, &st), 0);
  if (st.st_size != 0 || file_holds (bait, SECRET))
    fail_msg ("the attacker's pre-created %s received %lld bytes of the victim's store", bait,
              (long long) st.st_size);
  /* And the backup itself went through, private to the victim. */
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
  assert_int_equal (g_stat (dest, &st), 0);
  assert_int_equal (st.st_uid, VICTIM_UID);
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_true (file_holds (dest, SECRET));
  {
    /* Nothing else of the victim's was left in the shared folder. */
    g_autoptr(GDir) d = g_dir_open (shared, 0, NULL);
    const char *name;
    guint n = 0;

    while ((name = g_dir_read_name (d)) != NULL)
      n++;
    assert_int_equal (n, 2);   /* backup.db and the attacker's bait */
  }
  nmt_remove_tree (shared);
  nmt_remove_tree (victim_home);
}

/* Where others may rename or replace entries (world-writable without the
 * sticky bit), no file name is safe to write to: refused. */
static void
test_backup_refuses_unsafe_folder (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autofree char *open_dir = g_build_filename (f->home, "open", NULL);
  g_autofree char *dest = g_build_filename (open_dir, "backup.db", NULL);
  g_autoptr(GError) error = NULL;

  nmt_store_set_ok (store, "k", "1");
  assert_int_equal (g_mkdir (open_dir, 0700), 0);
  assert_int_equal (g_chmod (open_dir, 0777), 0);
  assert_false (nms_store_backup_into (store, dest, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "sticky"));
  assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));

  /* With the sticky bit, as /tmp has it, it works. */
  assert_int_equal (g_chmod (open_dir, 01777), 0);
  g_clear_error (&error);
  assert_true (nms_store_backup_into (store, dest, &error));
  assert_true (g_file_test (dest, G_FILE_TEST_IS_REGULAR));
  assert_int_equal (mode_of (dest), 0600);
}

/* Every file SQLite makes next to the database (its WAL and shared-memory
 * index hold the same data) must be private too, whatever the umask of the
 * process that opens the store. */
static void
test_open_private_under_loose_umask (void **state)
{
  Fixture *f = *state;
  mode_t saved = umask (022);
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(GDir) dir = NULL;
  const char *name;
  guint n_files = 0;

  nmt_store_set_ok (store, "secret", "\"value\"");
  umask (saved);
  dir = g_dir_open (f->dir, 0, NULL);
  assert_non_null (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      mode_t mode = mode_of (path);

      /* Directories (the change bell's) are 0700, files 0600. */
      mode_t want = g_file_test (path, G_FILE_TEST_IS_DIR) ? 0700 : 0600;

      n_files++;
      if (mode != want)
        fail_msg ("%s has mode %o, expected %o", name, (unsigned) mode, (unsigned) want);
    }
  assert_true (n_files >= 1);
  assert_int_equal (mode_of (f->dir), 0700);
}

static void
test_open_records_origin (void **state)
{
  Fixture *f = *state;
  g_autofree char *db = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  sqlite3 *raw = NULL;
  sqlite3_stmt *s = NULL;

  {
    g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  }
  assert_int_equal (sqlite3_open_v2 (db, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (raw, "SELECT value FROM meta WHERE name = 'origin'", -1, &s, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);
  assert_string_equal ((const char *) sqlite3_column_text (s, 0), NMT_ORIGIN);
  sqlite3_finalize (s);
  sqlite3_close (raw);
}

static void
test_open_not_a_database (void **state)
{
  Fixture *f = *state;
  g_autofree char *db = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  g_autofree char *junk = g_strnfill (8192, 'J');
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;

  assert_int_equal (g_mkdir_with_parents (f->dir, 0700), 0);
  assert_true (g_file_set_contents (db, junk, -1, NULL));
  assert_int_equal (g_chmod (db, 0600), 0);
  store = nms_store_open (f->dir, NMT_ORIGIN, NULL, &error);
  assert_null (store);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
  assert_non_null (strstr (error->message, db));
}

static void
test_open_newer_schema_refused (void **state)
{
  Fixture *f = *state;
  g_autofree char *db = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;
  sqlite3 *raw = NULL;

  {
    g_autoptr(NmsStore) first = nmt_store_open (f->dir, 0);
  }
  assert_int_equal (sqlite3_open (db, &raw), SQLITE_OK);
  assert_int_equal (sqlite3_exec (raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close (raw);
  store = nms_store_open (f->dir, NMT_ORIGIN, NULL, &error);
  assert_null (store);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
}

/* Values written before schema 4 kept the text they were sent with; the
 * upgrade brings them to the canonical form and Chrome's count, and
 * leaves a damaged one alone rather than lock the origin out. */
static void
test_schema_3_values_brought_up_to_date (void **state)
{
  Fixture *f = *state;
  g_autofree char *db = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  g_autoptr(NmsStore) store = NULL;
  sqlite3 *raw = NULL;

  {
    g_autoptr(NmsStore) first = nmt_store_open (f->dir, 0);
  }
  assert_int_equal (sqlite3_open (db, &raw), SQLITE_OK);
  assert_int_equal (sqlite3_exec (raw,
    "INSERT INTO items (key, kind, size, value) VALUES"
    " ('o', 0, 30, CAST('{\"b\":1e-07,\"a\":[1.0,{\"z\":2,\"y\":\"<\"}]}' AS BLOB)),"
    " ('n', 0, 11, CAST('2147483648' AS BLOB)),"
    " ('bad', 0, 5, CAST('{\"x\"' AS BLOB)),"
    " ('bin', 1, 1, x'000102');"
    "PRAGMA user_version = 3;", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close (raw);

  store = nmt_store_open (f->dir, 0);
  nmt_store_assert_value (store, "o", "{\"a\":[1,{\"y\":\"<\",\"z\":2}],\"b\":1e-7}");
  nmt_store_assert_value (store, "n", "2147483648");
  /* Left as it was, and refused on read rather than sent as a reply. */
  {
    g_autoptr(GError) error = NULL;
    guint visited = 0;

    assert_false (nms_store_get (store, "bad", 3, nmt_store_count_visit, &visited, &error));
    assert_int_equal (visited, 0);
    assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
    assert_non_null (strstr (error->message, "\"bad\""));
  }
  /* o: 1 + 34 + 5 for "<"; n: 1 + 12 (2147483648.0); bad: as it was;
   * bin: 3 + {"$bytes":"AAEC"}. */
  assert_int_equal (nmt_store_bytes_total (store), (1 + 34 + 5) + (1 + 12) + 5 + (3 + 17));
}

/* How many rows one statement changed, triggers included. */
static int
raw_changes (sqlite3 *raw, const char *sql)
{
  int before = sqlite3_total_changes (raw);

  assert_int_equal (sqlite3_exec (raw, sql, NULL, NULL, NULL), SQLITE_OK);
  return sqlite3_total_changes (raw) - before;
}

/* Schema 6: the byte count leaves the file. A file of schema 5, whose
 * triggers kept it in meta (here deliberately wrong, as a file edited by
 * hand could have it), loses the triggers and the row when it is opened,
 * and the count comes from the items, exact through growing, shrinking
 * and same-size writes. */
static void
test_schema_5_counter_leaves_the_file (void **state)
{
  Fixture *f = *state;
  g_autofree char *db = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  g_autoptr(NmsStore) store = NULL;
  sqlite3 *raw = NULL;

  {
    g_autoptr(NmsStore) first = nmt_store_open (f->dir, 0);
    nmt_store_set_ok (first, "a", "12");
  }
  /* Back to schema 5: its three triggers and its row. */
  assert_int_equal (sqlite3_open (db, &raw), SQLITE_OK);
  assert_int_equal (sqlite3_exec (raw,
    "CREATE TRIGGER items_bytes_insert AFTER INSERT ON items BEGIN"
    "  UPDATE meta SET value = value + NEW.size WHERE name = 'bytes_in_use'; END;"
    "CREATE TRIGGER items_bytes_delete AFTER DELETE ON items BEGIN"
    "  UPDATE meta SET value = value - OLD.size WHERE name = 'bytes_in_use'; END;"
    "CREATE TRIGGER items_bytes_update AFTER UPDATE OF size ON items WHEN OLD.size IS NOT NEW.size BEGIN"
    "  UPDATE meta SET value = value - OLD.size + NEW.size WHERE name = 'bytes_in_use'; END;"
    "INSERT INTO meta (name, value) VALUES ('bytes_in_use', 999);"
    "PRAGMA user_version = 5;", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal (raw_changes (raw, "UPDATE items SET size = size + 1 WHERE key = 'a'"), 2);
  assert_int_equal (raw_changes (raw, "UPDATE items SET size = size - 1 WHERE key = 'a'"), 2);
  sqlite3_close (raw);

  store = nmt_store_open (f->dir, 0);
  assert_int_equal (sqlite3_open (db, &raw), SQLITE_OK);
  assert_int_equal (raw_changes (raw, "UPDATE items SET size = size + 1 WHERE key = 'a'"), 1);
  assert_int_equal (raw_changes (raw, "UPDATE items SET size = size - 1 WHERE key = 'a'"), 1);
  {
    sqlite3_stmt *s = NULL;

    assert_int_equal (sqlite3_prepare_v2 (raw, "SELECT (SELECT count(*) FROM sqlite_master WHERE name LIKE "
                                               "'items_bytes_%') + (SELECT count(*) FROM meta WHERE name = "
                                               "'bytes_in_use')", -1, &s, NULL), SQLITE_OK);
    assert_int_equal (sqlite3_step (s), SQLITE_ROW);
    assert_int_equal (sqlite3_column_int (s, 0), 0);
    sqlite3_finalize (s);
  }
  sqlite3_close (raw);

  assert_int_equal (nmt_store_bytes_total (store), 1 + 2);
  nmt_store_set_ok (store, "a", "34");
  assert_int_equal (nmt_store_bytes_total (store), 1 + 2);
  nmt_store_set_ok (store, "a", "1234");
  assert_int_equal (nmt_store_bytes_total (store), 1 + 4);
  nmt_store_set_ok (store, "a", "5");
  assert_int_equal (nmt_store_bytes_total (store), 1 + 1);
  nmt_store_set_ok (store, "b", "[1,2]");
  nmt_store_set_ok (store, "b", "[3,4]");
  assert_int_equal (nmt_store_bytes_total (store), (1 + 1) + (1 + 5));
}

static void
test_open_dir_is_a_file (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = NULL;

  assert_true (g_file_set_contents (f->dir, "x", -1, NULL));
  store = nms_store_open (f->dir, NMT_ORIGIN, NULL, &error);
  assert_null (store);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_IO));
  assert_true (strlen (error->message) > 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_init_stops_memory_count, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_creates_private_dir_and_file, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_tightens_loose_file, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_refuses_loose_folder, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_refuses_odd_store_file, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test (test_backup_partial_file_not_hijacked),
    cmocka_unit_test_setup_teardown (test_backup_refuses_unsafe_folder, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_private_under_loose_umask, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_records_origin, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_not_a_database, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_newer_schema_refused, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_schema_3_values_brought_up_to_date, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_schema_5_counter_leaves_the_file, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_open_dir_is_a_file, nmt_store_home_setup, nmt_store_home_teardown),
  };
  g_autoptr(GError) error = NULL;

  if (!nms_store_init (&error))
    g_error ("%s", error->message);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
