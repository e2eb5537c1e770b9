/* SPDX-License-Identifier: MIT */
/* test_store.c: the store module (store.h) against a real SQLite file in a
 * temporary directory: private files, reads, writes, prefix ranges in byte
 * order, Chrome's byte count, quotas, batch atomicity, and several handles
 * on one store. */
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

/* A JSON string of exactly n bytes with its quotes (n >= 2): its byte
 * count is its length, as a long integer's would not be (Chrome counts an
 * integer past 32 bits as a double, with ".0"). */
static char *
json_string (gsize n, char fill)
{
  char *s = g_strnfill (n, fill);

  s[0] = s[n - 1] = '"';
  return s;
}


static gboolean
remove_one (NmsStore *store, const char *key, GError **error)
{
  const char *keys[] = { key };
  return nms_store_remove (store, keys, 1, error);
}

typedef struct {
  gboolean     found;
  NmsValueKind kind;
  GByteArray  *value;
} Got;

static gboolean
got_visit (const NmsItem *item, gpointer user_data, GError **error)
{
  Got *got = user_data;

  got->found = TRUE;
  got->kind = item->kind;
  g_byte_array_append (got->value, item->value_len ? item->value : (const guint8 *) "", (guint) item->value_len);
  return TRUE;
}

/* The value of key as a string ("" for none), or NULL when absent. */
static char *
get_value (NmsStore *store, const char *key, gsize key_len, NmsValueKind *kind)
{
  g_autoptr(GError) error = NULL;
  Got got = { FALSE, 0, g_byte_array_new () };

  if (!nms_store_get (store, key, key_len, got_visit, &got, &error))
    fail_msg ("get failed: %s", error->message);
  if (kind != NULL)
    *kind = got.kind;
  if (!got.found)
    {
      g_byte_array_unref (got.value);
      return NULL;
    }
  g_byte_array_append (got.value, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (got.value, FALSE);
}

static void
assert_value (NmsStore *store, const char *key, const char *want)
{
  NmsValueKind kind = NMS_VALUE_BYTES;
  g_autofree char *value = get_value (store, key, strlen (key), &kind);

  if (want == NULL)
    {
      if (value != NULL)
        fail_msg ("\"%s\" is present (%s), expected absent", key, value);
      return;
    }
  if (value == NULL)
    fail_msg ("\"%s\" is absent, expected %s", key, want);
  assert_int_equal (kind, NMS_VALUE_JSON);
  assert_string_equal (value, want);
}

static gboolean
collect_key (const NmsItem *item, gpointer user_data, GError **error)
{
  g_ptr_array_add (user_data, g_strndup (item->key, item->key_len));
  assert_int_equal (strlen (g_ptr_array_index ((GPtrArray *) user_data, ((GPtrArray *) user_data)->len - 1)),
                    item->key_len);
  return TRUE;
}

static GPtrArray *
scan_keys (NmsStore *store, const char *prefix, gboolean with_values)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);

  if (!nms_store_scan (store, prefix, with_values, collect_key, keys, &error))
    fail_msg ("scan failed: %s", error->message);
  return keys;
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
    assert_value (store, "k", "1");
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
  assert_value (store, "k", "1");
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
  assert_value (store, "o", "{\"a\":[1,{\"y\":\"<\",\"z\":2}],\"b\":1e-7}");
  assert_value (store, "n", "2147483648");
  /* Left as it was, and refused on read rather than sent as a reply. */
  {
    g_autoptr(GError) error = NULL;
    Got got = { FALSE, 0, g_byte_array_new () };
    assert_false (nms_store_get (store, "bad", 3, got_visit, &got, &error));
    assert_false (got.found);
    g_byte_array_unref (got.value);
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

/* ---- reads and writes ------------------------------------------------- */

static void
test_set_get_overwrite (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);

  assert_value (store, "a", NULL);
  nmt_store_set_ok (store, "a", "{\"x\":[1,2,3]}");
  assert_value (store, "a", "{\"x\":[1,2,3]}");
  nmt_store_set_ok (store, "a", "\"replaced\"");
  assert_value (store, "a", "\"replaced\"");
  nmt_store_set_ok (store, "caf\xC3\xA9", "null");
  assert_value (store, "caf\xC3\xA9", "null");
  /* A longer key with the same beginning is another key. */
  assert_value (store, "caf", NULL);
  assert_value (store, "caf\xC3\xA9s", NULL);
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
  assert_value (store, "one", "1");
  assert_value (store, "two", "2");
  bytes = get_value (store, "three", 5, &kind);
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
  Got raw = { FALSE, 0, g_byte_array_new () };
  guint i;

  for (i = 0; i < sizeof data; i++)
    data[i] = (guint8) i;
  assert_true (nms_store_set (store, &item, 1, &error));
  assert_true (nms_store_set (store, &empty, 1, &error));
  assert_true (nms_store_get (store, "blob", 4, got_visit, &raw, &error));
  assert_true (raw.found);
  assert_int_equal (raw.kind, NMS_VALUE_BYTES);
  assert_int_equal (raw.value->len, sizeof data);
  assert_memory_equal (raw.value->data, data, sizeof data);
  g_byte_array_unref (raw.value);

  got_empty = get_value (store, "empty", 5, &kind);
  assert_non_null (got_empty);
  assert_int_equal (kind, NMS_VALUE_BYTES);
  assert_int_equal (strlen (got_empty), 0);

  /* Bytes overwritten by JSON become JSON. */
  nmt_store_set_ok (store, "blob", "[1]");
  got = get_value (store, "blob", 4, &kind);
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
  got = get_value (store, "big", 3, NULL);
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
  assert_value (store, "a", NULL);
  assert_value (store, "b", "2");
  assert_value (store, "c", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 2);
  /* Removing what is not there is not an error. */
  assert_true (remove_one (store, "a", &error));
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
  after = scan_keys (store, NULL, TRUE);
  assert_int_equal (after->len, 0);
  assert_int_equal (nmt_store_bytes_total (store), 0);
  nmt_store_set_ok (store, "a", "1");
  assert_true (nms_store_clear (store, "", &error));
  assert_int_equal (nmt_store_bytes_total (store), 0);
  assert_value (store, "a", NULL);
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
  all_items = scan_keys (store, NULL, TRUE);
  all_keys = scan_keys (store, NULL, FALSE);
  empty_prefix = scan_keys (store, "", TRUE);
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
      g_autoptr(GPtrArray) items = scan_keys (store, range_prefixes[p], TRUE);
      g_autoptr(GPtrArray) keys = scan_keys (store, range_prefixes[p], FALSE);
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
  got = scan_keys (store, "cfg/", TRUE);
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
  assert_value (store, "c", "3");
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
      got = scan_keys (store, NULL, FALSE);
      assert_key_list (got, want, what);
      assert_int_equal (nmt_store_bytes_total (store), want_bytes);
    }
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
  assert_true (remove_one (store, "caf\xC3\xA9", &error));
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
        assert_true (remove_one (store, key, &error));
      else
        {
          /* A string: its count is its length (a long integer would count
           * as Chrome's double, with ".0"). */
          g_autofree char *digits = g_strnfill ((gsize) g_rand_int_range (rand, 1, 300), '7');
          g_autofree char *json = g_strdup_printf ("\"%s\"", digits);
          nmt_store_set_ok (store, key, json);
        }
    }
  keys = scan_keys (store, NULL, FALSE);
  for (i = 0; i < keys->len; i++)
    {
      g_autofree char *value = get_value (store, keys->pdata[i], strlen (keys->pdata[i]), NULL);
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
  g_autofree char *v49 = json_string (49, '1');
  g_autofree char *v50 = json_string (50, '2');
  NmsItem pair[] = {
    { "c", 1, NMS_VALUE_JSON, (const guint8 *) "3", 1 },
    { "d", 1, NMS_VALUE_JSON, (const guint8 *) v50, 50 },
  };

  nmt_store_set_ok (store, "a", v49);                  /* 50 */
  assert_false (nmt_store_set_json (store, "b", v50, &error)); /* would be 101 */
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  assert_true (strlen (error->message) > 0);
  g_clear_error (&error);
  assert_value (store, "b", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 50);

  /* Nothing of a multi-item write that goes over. */
  assert_false (nms_store_set (store, pair, G_N_ELEMENTS (pair), &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  g_clear_error (&error);
  assert_value (store, "c", NULL);
  assert_value (store, "d", NULL);
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
  assert_value (store, "a", v49);
  assert_int_equal (nmt_store_bytes_total (store), 100);
}

static void
test_quota_shrinking_allowed_when_over (void **state)
{
  Fixture *f = *state;
  g_autofree char *v99 = json_string (99, '9');
  g_autofree char *v89 = json_string (89, '8');
  g_autofree char *v10 = json_string (10, '1');
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
    assert_value (store, "a", v89);
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
    assert_true (remove_one (store, "b", &error));
    assert_int_equal (nmt_store_bytes_total (store), 13);
  }
}

/* ---- batches ---------------------------------------------------------- */

static void
test_batch_failed_set_leaves_others (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 50);
  g_autoptr(GError) error = NULL;
  g_autofree char *big = json_string (60, '6');

  nmt_store_set_ok (store, "old", "1");
  assert_true (nms_store_begin (store, TRUE, &error));
  nmt_store_set_ok (store, "a", "1");
  assert_false (nmt_store_set_json (store, "b", big, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  g_clear_error (&error);
  assert_true (remove_one (store, "old", &error));
  nmt_store_set_ok (store, "c", "3");
  /* Inside the batch its own writes are visible. */
  assert_value (store, "a", "1");
  assert_value (store, "b", NULL);
  assert_true (nms_store_commit (store, &error));
  assert_null (error);

  assert_value (store, "a", "1");
  assert_value (store, "b", NULL);
  assert_value (store, "c", "3");
  assert_value (store, "old", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 4);

  /* And all of that is what another handle sees. */
  {
    g_autoptr(NmsStore) other = nmt_store_open (f->dir, 50);
    assert_value (other, "a", "1");
    assert_value (other, "b", NULL);
    assert_value (other, "c", "3");
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
  assert_true (remove_one (store, "gone?", &error));
  assert_true (nms_store_clear (store, "k", &error));
  nms_store_rollback (store);

  assert_value (store, "keep", "1");
  assert_value (store, "gone?", "2");
  assert_value (store, "new", NULL);
  assert_int_equal (nmt_store_bytes_total (store), 11);
  /* The store takes new work after a rollback. */
  nmt_store_set_ok (store, "after", "5");
  assert_value (store, "after", "5");
  {
    g_autoptr(NmsStore) other = nmt_store_open (f->dir, 0);
    assert_value (other, "new", NULL);
    assert_value (other, "after", "5");
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
  assert_value (b, "pending", NULL);
  assert_true (nms_store_commit (a, &error));
  assert_value (b, "pending", "1");
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
  assert_value (store, "x", "1");
  keys = scan_keys (store, NULL, TRUE);
  assert_int_equal (keys->len, 1);
  assert_true (nms_store_commit (store, &error));
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
  assert_value (store, "", "[1]");
  assert_int_equal (nmt_store_bytes_total (store), 3);
  assert_true (nms_store_remove (store, keys, 1, &error));
  assert_value (store, "", NULL);
}

static void
test_max_key_stored (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autofree char *max = g_strnfill (NMS_STORE_MAX_KEY_BYTES, 'k');

  nmt_store_set_ok (store, max, "1");
  assert_value (store, max, "1");
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
      keys = scan_keys (store, NULL, FALSE);
      assert_int_equal (keys->len, 0);
      assert_int_equal (nmt_store_bytes_total (store), 0);
    }
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
    g_autofree char *got = get_value (store, "bin", 3, &kind);

    assert_value (store, "a", "{\"deep\":[true,false,null]}");
    assert_value (store, "\xF0\x9F\x98\x80", "\"smile\"");
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
    assert_value (store, "b", "2");
  }
  {
    g_autoptr(NmsStore) store = nms_store_open (f->dir, NMT_ORIGIN, &full, &error);
    assert_non_null (store);
    nmt_store_set_ok (store, "c", "3");
    assert_true (nms_store_flush (store, &error));
    assert_true (nms_store_check_integrity (store, &error));
    assert_null (error);
    assert_value (store, "a", "1");
    assert_value (store, "c", "3");
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
  assert_value (b, "from-a", "1");
  nmt_store_set_ok (b, "from-b", "2");
  assert_value (a, "from-b", "2");
  nmt_store_set_ok (b, "from-a", "\"changed by b\"");
  assert_value (a, "from-a", "\"changed by b\"");
  assert_true (remove_one (a, "from-b", &error));
  assert_value (b, "from-b", NULL);
  keys = scan_keys (b, NULL, FALSE);
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
  g_autofree char *v14 = json_string (14, '4');

  nmt_store_set_ok (a, "a", v14);                 /* 15 */
  assert_false (nmt_store_set_json (b, "b", v14, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_QUOTA));
  assert_value (a, "b", NULL);
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
  assert_value (b, "before", "0");
  assert_value (b, "held", NULL);
  assert_true (nms_store_commit (a, &error));
  /* Once the lock is free, b writes, and nothing of the refused write
   * was kept. */
  assert_value (b, "blocked", NULL);
  nmt_store_set_ok (b, "after", "3");
  assert_value (a, "after", "3");
  assert_value (a, "held", "1");
  assert_int_equal (nmt_store_bytes_total (a), 7 + 5 + 6);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
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
    cmocka_unit_test (test_item_bytes_rule),
    cmocka_unit_test_setup_teardown (test_bytes_in_use_exact, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_bytes_in_use_matches_sum, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_quota_refuses_and_writes_nothing, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_quota_shrinking_allowed_when_over, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_batch_failed_set_leaves_others, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_batch_rollback_discards_all, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_batch_invisible_until_commit, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_read_batch, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test (test_check_key),
    cmocka_unit_test_setup_teardown (test_empty_key_stored, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_max_key_stored, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_set_refuses_bad_keys, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_reopen_sees_data, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_flush_and_integrity, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_two_handles_see_each_other, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_two_handles_share_quota, nmt_store_home_setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_writer_waits_then_reports_busy, nmt_store_home_setup, nmt_store_home_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
