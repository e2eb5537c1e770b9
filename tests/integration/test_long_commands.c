/* SPDX-License-Identifier: MIT */
/* test_long_commands.c: the commands that walk a whole store, run as a
 * person runs them: their progress goes to standard error only (an export
 * on standard output stays exactly the JSON), --quiet silences it, an
 * import that fails after several of its batches were written leaves
 * nothing behind, and encrypting zeroes the pages earlier deletes freed.
 * NMSTORE_PROGRESS_AFTER_MS=0 makes progress show even for this short
 * work, so that no test depends on how fast the machine is. */
#include "harness.h"
#include "cryptcheck.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static void
write_items (const char *home, guint n, gsize value_len)
{
  NmtHost *host = nmt_host_start (home, NMT_ORIGIN);
  g_autofree char *filler = g_strnfill (value_len, 'x');
  guint i;

  for (i = 0; i < n; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"item:%04u\":{\"n\":%u,\"f\":\"%s\"}}}", i,
                                               i, filler);
      nmt_crypt_call_ok (host, json);
    }
  nmt_crypt_finish (host);
}

static guint
count_members (const char *json)
{
  cJSON *root = cJSON_Parse (json);
  guint n;

  assert_true (cJSON_IsObject (root));
  n = (guint) cJSON_GetArraySize (root);
  cJSON_Delete (root);
  return n;
}

static void
test_progress_on_stderr_only (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *out = NULL, *err = NULL;

  write_items (home, 300, 100);
  g_setenv ("NMSTORE_PROGRESS_AFTER_MS", "0", TRUE);

  assert_int_equal (nmt_crypt_cli_err (home, NULL, &out, &err, "export", "--origin", NMT_ORIGIN, NULL), 0);
  /* Standard output is the export and nothing else; not a terminal, so
   * the progress is plain lines, no carriage returns. */
  assert_int_equal (count_members (out), 300);
  assert_null (strstr (out, "nmstore:"));
  assert_non_null (strstr (err, "nmstore: exporting "));
  assert_non_null (strstr (err, "100% (300/300 items)\n"));
  assert_null (strchr (err, '\r'));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  assert_int_equal (nmt_crypt_cli_err (home, NULL, &out, &err, "encrypt", "--origin", NMT_ORIGIN, "--key-file",
                                       NULL), 0);
  assert_non_null (strstr (out, "encrypted "));
  assert_null (strstr (out, "nmstore:"));
  assert_non_null (strstr (err, "nmstore: encrypting "));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  assert_int_equal (nmt_crypt_cli_err (home, NULL, &out, &err, "verify", "--origin", NMT_ORIGIN, NULL), 0);
  assert_non_null (strstr (err, "nmstore: verifying "));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  assert_int_equal (nmt_crypt_cli_err (home, NULL, &out, &err, "export", "--quiet", "--decrypt", "--origin",
                                       NMT_ORIGIN, NULL), 0);
  assert_int_equal (count_members (out), 300);
  assert_string_equal (err, "");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Restore copies the backup's rows a few at a time and says so. */
  {
    g_autofree char *backup = g_build_filename (home, "backup.db", NULL);

    assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "backup", "--quiet", "--origin", NMT_ORIGIN, backup, NULL),
                      0);
    assert_int_equal (nmt_crypt_cli_err (home, NULL, &out, &err, "restore", "--origin", NMT_ORIGIN, backup, NULL),
                      0);
    assert_non_null (strstr (out, "restored 300 item(s)"));
    assert_null (strstr (out, "nmstore:"));
    assert_non_null (strstr (err, "nmstore: restoring "));
    assert_non_null (strstr (err, "100% (300/300 items)\n"));
  }
  g_unsetenv ("NMSTORE_PROGRESS_AFTER_MS");
  nmt_remove_tree (home);
}

/* Twelve values of a megabyte make three batches of the import; the
 * last member names a key twice, so the import fails after two batches
 * were written, and must leave the target as it was. */
static void
test_import_all_or_nothing_across_batches (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *path = g_build_filename (home, "export.json", NULL);
  g_autofree char *filler = g_strnfill (1 << 20, 'y');
  g_autoptr(GString) text = g_string_new ("{");
  g_autofree char *out = NULL, *err = NULL;
  guint i;

  for (i = 0; i < 12; i++)
    g_string_append_printf (text, "\"big:%02u\":\"%s\",", i, filler);
  g_string_append (text, "\"big:00\":1}");
  assert_true (g_file_set_contents (path, text->str, (gssize) text->len, NULL));
  assert_int_equal (nmt_crypt_cli_err (home, NULL, &out, &err, "import", "--origin", NMT_ORIGIN, path, NULL), 1);
  assert_non_null (strstr (err, "twice"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_crypt_cli (home, NULL, &out, "keys", "--origin", NMT_ORIGIN, NULL), 0);
  assert_null (strstr (out, "big:"));
  g_clear_pointer (&out, g_free);

  /* Without the repeated key, all of it goes in. */
  g_string_truncate (text, text->len - strlen (",\"big:00\":1}"));
  g_string_append_c (text, '}');
  assert_true (g_file_set_contents (path, text->str, (gssize) text->len, NULL));
  assert_int_equal (nmt_crypt_cli (home, NULL, &out, "import", "--origin", NMT_ORIGIN, path, NULL), 0);
  assert_non_null (strstr (out, "imported 12 item(s)"));
  g_clear_pointer (&out, g_free);
  assert_int_equal (nmt_crypt_cli (home, NULL, &out, "keys", "--origin", NMT_ORIGIN, NULL), 0);
  assert_non_null (strstr (out, "big:11"));
  nmt_remove_tree (home);
}

/* A large value removed before encryption by a SQLite that does not zero
 * what it frees (other builds than Debian's, or nmstore itself on a full
 * disk, which turns secure_delete to FAST) leaves its pages on the free
 * list with their bytes; one small item is rewritten, so it does not take
 * those pages back: only the scrub's zeros remove the plaintext. */
static void
test_encrypt_zeroes_free_pages (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autoptr(GString) big = g_string_new ("{\"op\":\"set\",\"items\":{\"gone\":\"");
  NmtHost *host;
  int i;

  for (i = 0; i < 20000; i++)
    g_string_append (big, "VALUEMARKERECHO ");
  g_string_append (big, "\"}}");
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_crypt_call_ok (host, "{\"op\":\"set\",\"items\":{\"keep\":1}}");
  nmt_crypt_call_ok (host, big->str);
  nmt_crypt_finish (host);
  nmt_crypt_tamper (home, "PRAGMA secure_delete = OFF; DELETE FROM items WHERE key = 'gone'");
  {
    g_autofree char *hit = nmt_crypt_find_marker (home);
    assert_non_null (hit);
  }
  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "encrypt", "--origin", NMT_ORIGIN, "--key-file", NULL), 0);
  nmt_crypt_assert_no_marker (home);
  nmt_remove_tree (home);
}

/* ASan keeps freed memory in quarantine, and valgrind's RSS is its own:
 * only a plain build measures the commands' own memory. */
#if defined(__SANITIZE_ADDRESS__)
#define MEASURES_NATIVE_RSS() FALSE
#else
#define MEASURES_NATIVE_RSS() (!nmt_host_wrapped ())
#endif

/* The largest resident set of any child this process has waited for: the
 * commands run here, and the few small hosts before them. */
static glong
children_peak_mib (void)
{
  struct rusage usage;

  assert_int_equal (getrusage (RUSAGE_CHILDREN, &usage), 0);
  return usage.ru_maxrss / 1024;
}

/* An 80 MB export, imported and exported again: neither command may hold
 * the file (a whole-file read and its cJSON tree took twice its size and
 * more). Peak memory is a count, not a timing; the bound leaves room for
 * the batches in flight and SQLite's cache, and is far below the file. */
static void
test_import_and_export_memory_stays_bounded (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *path = g_build_filename (home, "export.json", NULL);
  g_autofree char *filler = g_strnfill (1 << 20, 'z');
  g_autofree char *out = NULL;
  FILE *f = fopen (path, "w");
  /* Under valgrind 80 MB takes minutes, and the peak is valgrind's: the
   * streaming path still runs there, on a smaller file. */
  const guint n = nmt_host_wrapped () ? 8 : 80;
  guint i;

  assert_non_null (f);
  fputc ('{', f);
  for (i = 0; i < n; i++)
    fprintf (f, "%s\"big:%02u\":\"%s\"", i ? "," : "", i, filler);
  fputs ("}\n", f);
  assert_int_equal (fclose (f), 0);

  assert_int_equal (nmt_crypt_cli (home, NULL, NULL, "import", "--quiet", "--origin", NMT_ORIGIN, path, NULL), 0);
  if (MEASURES_NATIVE_RSS ())
    {
      print_message ("peak RSS of the import of an 80 MB export: %ld MiB\n", children_peak_mib ());
      assert_true (children_peak_mib () < 60);
    }
  else
    print_message ("not measuring peak RSS: under ASan or a wrapper it is the tool's, not nmstore's\n");
  assert_int_equal (nmt_crypt_cli (home, NULL, &out, "export", "--quiet", "--origin", NMT_ORIGIN, NULL), 0);
  assert_int_equal (count_members (out), (int) n);
  nmt_remove_tree (home);
}

/* session check reads every torrent the index lists: it says how far it
 * has got, through the protocol request it runs, on standard error. */
static void
test_session_check_progress (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autoptr(GString) index = g_string_new ("{\"version\":2,\"torrents\":[");
  g_autofree char *out = NULL, *err = NULL;
  int i, status;

  for (i = 0; i < 50; i++)
    g_string_append_printf (index, "%s{\"infoHash\":\"%040x\"}", i ? "," : "", i);
  g_string_append (index, "]}");
  assert_int_equal (nmt_crypt_cli (home, index->str, NULL, "set", "--origin", NMT_ORIGIN, "session:torrents",
                                   NULL), 0);
  g_setenv ("NMSTORE_PROGRESS_AFTER_MS", "0", TRUE);
  /* 1: the torrents have none of their files, which check reports. */
  status = nmt_crypt_cli_err (home, NULL, &out, &err, "session", "check", "--origin", NMT_ORIGIN, NULL);
  assert_true (status == 0 || status == 1);
  assert_non_null (strstr (err, "nmstore: checking "));
  assert_non_null (strstr (err, "(50/50 torrents)\n"));
  assert_null (strstr (out, "nmstore: checking"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = nmt_crypt_cli_err (home, NULL, &out, &err, "session", "check", "--quiet", "--origin", NMT_ORIGIN, NULL);
  assert_true (status == 0 || status == 1);
  assert_null (strstr (err, "nmstore: checking"));
  g_unsetenv ("NMSTORE_PROGRESS_AFTER_MS");
  nmt_remove_tree (home);
}

/* The file's UTF-8 is checked 16 MiB at a time: a two-byte character cut
 * by a piece's end is fine, a bad byte is not, wherever they fall. */
static void
test_import_utf8_across_pieces (void **state)
{
  g_autofree char *home = nmt_crypt_make_home ();
  g_autofree char *path = g_build_filename (home, "export.json", NULL);
  g_autofree char *out = NULL, *err = NULL;
  GString *text = g_string_new ("{\"kk\":\"");   /* 7 bytes: every é starts at an odd offset */
  guint i;

  for (i = 0; i < 8700000; i++)
    g_string_append (text, "\xc3\xa9");
  g_assert (text->len > (16u << 20));
  g_string_append (text, "\"}");
  assert_true (g_file_set_contents (path, text->str, (gssize) text->len, NULL));
  assert_int_equal (nmt_crypt_cli (home, NULL, &out, "import", "--quiet", "--origin", NMT_ORIGIN, path, NULL), 0);
  assert_non_null (strstr (out, "imported 1 item(s)"));
  g_clear_pointer (&out, g_free);

  /* The same with the byte after the cut made invalid. */
  text->str[16u << 20] = '\xff';
  assert_true (g_file_set_contents (path, text->str, (gssize) text->len, NULL));
  assert_int_equal (nmt_crypt_cli_err (home, NULL, &out, &err, "import", "--origin", "chrome-extension://"
                                       "bcdefghijklmnopabcdefghijklmnopa/", path, NULL), 1);
  assert_non_null (strstr (err, "not valid UTF-8"));
  g_string_free (text, TRUE);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_progress_on_stderr_only),
    cmocka_unit_test (test_import_all_or_nothing_across_batches),
    cmocka_unit_test (test_encrypt_zeroes_free_pages),
    cmocka_unit_test (test_import_and_export_memory_stays_bounded),
    cmocka_unit_test (test_import_utf8_across_pieces),
    cmocka_unit_test (test_session_check_progress),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
