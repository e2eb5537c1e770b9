/* SPDX-License-Identifier: MIT */
/* test_origins.c: who the caller is. The browsers' argv forms and
 * `host --origin` name the same store; malformed origins are refused
 * before anything is created; origins never see each other's data; and
 * what the host creates is private (dirs 0700, files 0600). */
#define _GNU_SOURCE
#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIREFOX_ID "addon@example.org"
#define FIREFOX_GUID "{12345678-9abc-def0-1234-56789abcdef0}"

static char *
hello_origin (NmtHost *host)
{
  cJSON *reply = nmt_host_call (host, "{\"op\":\"hello\"}");
  char *origin;

  assert_non_null (reply);
  nmt_assert_ok (reply);
  origin = g_strdup (nmt_member (reply, "origin")->valuestring);
  cJSON_Delete (reply);
  return origin;
}

static void
finish (NmtHost *host)
{
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_host_free (host);
}

/* Starts a host with args, checks the origin it reports and the items it
 * sees, then sets key to show the next form that it is the same store. */
static void
check_form (const char *home, const char *const *args, const char *origin, const char *expected_items,
            const char *key)
{
  NmtHost *host = nmt_host_start_argv (home, args, NULL);
  g_autofree char *reported = hello_origin (host);
  g_autofree char *set = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"%s\":true}}", key);

  assert_string_equal (reported, origin);
  nmt_assert_items (host, expected_items);
  nmt_host_call_ok (host, set);
  finish (host);
}

static void
test_chrome_forms (void **state)
{
  g_autofree char *home = nmt_make_home ();
  const char *plain[] = { NMT_ORIGIN, NULL };
  const char *windows[] = { NMT_ORIGIN, "--parent-window=1234", NULL };
  const char *cli[] = { "host", "--origin", NMT_ORIGIN, NULL };
  const char *no_slash[] = { "host", "--origin", "chrome-extension://abcdefghijklmnopabcdefghijklmnop", NULL };

  check_form (home, plain, NMT_ORIGIN, "{}", "argv");
  check_form (home, windows, NMT_ORIGIN, "{\"argv\":true}", "parent");
  check_form (home, cli, NMT_ORIGIN, "{\"argv\":true,\"parent\":true}", "cli");
  check_form (home, no_slash, NMT_ORIGIN, "{\"argv\":true,\"cli\":true,\"parent\":true}", "noslash");
  nmt_remove_tree (home);
}

static void
test_firefox_forms (void **state)
{
  g_autofree char *home = nmt_make_home ();
  const char *argv_form[] = { "/usr/lib/mozilla/native-messaging-hosts/org.nmstore.host.json", FIREFOX_ID, NULL };
  const char *cli[] = { "host", "--origin", FIREFOX_ID, NULL };
  const char *guid_argv[] = { "/home/u/.mozilla/native-messaging-hosts/org.nmstore.host.json", FIREFOX_GUID, NULL };
  const char *guid_cli[] = { "host", "--origin", FIREFOX_GUID, NULL };

  check_form (home, argv_form, FIREFOX_ID, "{}", "argv");
  check_form (home, cli, FIREFOX_ID, "{\"argv\":true}", "cli");
  check_form (home, guid_argv, FIREFOX_GUID, "{}", "argv");
  check_form (home, guid_cli, FIREFOX_GUID, "{\"argv\":true}", "cli");
  nmt_remove_tree (home);
}

/* Refused with exit status `status`, a message on stderr, no frame on
 * stdout, and nothing created under the data root. A malformed --origin
 * is a usage error (2); a browser's argv that names no valid origin, 1. */
static void
expect_refused_with (const char *const *args, int expected)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *joined = g_strjoinv (" ", (char **) args);
  g_autoptr(GDir) dir = NULL;
  int status = nmt_run_cli (home, args, "", &out, &err);

  if (status != expected || err[0] == '\0' || out[0] != '\0')
    fail_msg ("nmstore %s: status %d, stdout \"%s\", stderr \"%s\"", joined, status, out, err);
  dir = g_dir_open (home, 0, NULL);
  assert_non_null (dir);
  assert_null (g_dir_read_name (dir));
  nmt_remove_tree (home);
}

static void
expect_refused (const char *const *args)
{
  expect_refused_with (args, 1);
}

static void
test_malformed_origins (void **state)
{
  static const char *const bad[] = {
    "chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP/",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnoP/",
    "chrome-extension://abcdefghijklmnopabcdefghijklmno/",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnopa/",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnoq/",
    "chrome-extension://zbcdefghijklmnopabcdefghijklmnop/",
    "chrome-extension://abcdefghijklmnop0bcdefghijklmnop/",
    "chrome-extension://",
    "chrome-extension:///",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnop//",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnop/x",
    "chrome-extension://../../../../tmp/",
    "CHROME-EXTENSION://abcdefghijklmnopabcdefghijklmnop/",
    "http://example.com/",
    "moz-extension://abcdefghijklmnopabcdefghijklmnop/",
    "",
    "garbage",
    "../../etc",
    "/etc/passwd",
    "no-at-sign.example.org",
    "addon@",
    "a@b@example.org",
    ".hidden@example.org",
    "add on@example.org",
    "addon@exa/mple.org",
    "{12345678-9abc-def0-1234-56789abcdef}",
    "{not-a-guid-at-all}",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *cli[] = { "host", "--origin", bad[i], NULL };
      expect_refused_with (cli, 2);
      /* The Chromium argv form (only what a browser could pass). */
      if (g_str_has_prefix (bad[i], "chrome-extension://"))
        {
          const char *argv_form[] = { bad[i], NULL };
          expect_refused (argv_form);
        }
    }

  {
    const char *extra_arg[] = { NMT_ORIGIN, "--unexpected", NULL };
    const char *firefox_bad_id[] = { "/path/org.nmstore.host.json", "not an id", NULL };
    const char *firefox_path_id[] = { "/path/org.nmstore.host.json", "../../x@y", NULL };
    const char *no_origin[] = { "host", NULL };

    expect_refused (extra_arg);
    expect_refused (firefox_bad_id);
    expect_refused (firefox_path_id);
    /* A missing --origin is a usage error: not 1, but still a refusal. */
    {
      g_autofree char *home = nmt_make_home ();
      g_autofree char *out = NULL, *err = NULL;
      assert_int_not_equal (nmt_run_cli (home, no_origin, "", &out, &err), 0);
      assert_true (err[0] != '\0');
      assert_string_equal (out, "");
      nmt_remove_tree (home);
    }
  }
}

static void
test_origins_isolated (void **state)
{
  g_autofree char *home = nmt_make_home ();
  NmtHost *a = nmt_host_start (home, NMT_ORIGIN);
  NmtHost *b = nmt_host_start (home, NMT_ORIGIN_2);
  NmtHost *c = nmt_host_start (home, FIREFOX_ID);
  cJSON *reply;

  nmt_host_call_ok (a, "{\"op\":\"set\",\"items\":{\"same\":\"a\",\"only-a\":1}}");
  nmt_host_call_ok (b, "{\"op\":\"set\",\"items\":{\"same\":\"b\",\"only-b\":2}}");
  nmt_host_call_ok (c, "{\"op\":\"set\",\"items\":{\"same\":\"c\"}}");
  nmt_assert_items (a, "{\"only-a\":1,\"same\":\"a\"}");
  nmt_assert_items (b, "{\"only-b\":2,\"same\":\"b\"}");
  nmt_assert_items (c, "{\"same\":\"c\"}");

  /* Nothing reaches across: not a clear, not a prefix, not a count. */
  nmt_host_call_ok (b, "{\"op\":\"clear\"}");
  nmt_assert_items (a, "{\"only-a\":1,\"same\":\"a\"}");
  nmt_assert_items (b, "{}");
  reply = nmt_host_call (a, "{\"op\":\"getBytesInUse\"}");
  nmt_assert_ok (reply);
  assert_int_equal (nmt_member (reply, "bytes")->valueint, 4 + 3 + 6 + 1);
  cJSON_Delete (reply);
  reply = nmt_host_call (c, "{\"op\":\"getKeys\",\"prefix\":\"only\"}");
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "keys"), "[]");
  cJSON_Delete (reply);

  /* Two Chromium origins that differ in one letter are still apart. */
  {
    NmtHost *d = nmt_host_start (home, "chrome-extension://abcdefghijklmnopabcdefghijklmnoo/");
    nmt_assert_items (d, "{}");
    finish (d);
  }
  finish (a);
  finish (b);
  finish (c);
  nmt_remove_tree (home);
}

/* Every directory under root is 0700 and every file 0600. */
static void
assert_private_tree (const char *path, int *n_files)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  assert_non_null (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      GStatBuf st;

      assert_int_equal (g_lstat (child, &st), 0);
      if (S_ISDIR (st.st_mode))
        {
          if ((st.st_mode & 07777) != 0700)
            fail_msg ("%s has mode %o, not 0700", child, st.st_mode & 07777);
          assert_private_tree (child, n_files);
        }
      else
        {
          assert_true (S_ISREG (st.st_mode));
          if ((st.st_mode & 07777) != 0600)
            fail_msg ("%s has mode %o, not 0600", child, st.st_mode & 07777);
          (*n_files)++;
        }
    }
}

static void
test_private_files (void **state)
{
  g_autofree char *top = nmt_make_home ();
  /* A root that does not exist yet, under a parent the host must create. */
  g_autofree char *home = g_build_filename (top, "parent", "root", NULL);
  NmtHost *a, *b;
  GStatBuf st;
  int n_files = 0;

  assert_int_equal (g_chmod (top, 0755), 0);
  a = nmt_host_start (home, NMT_ORIGIN);
  b = nmt_host_start (home, FIREFOX_ID);
  /* Keys that look like paths stay data. */
  nmt_host_call_ok (a, "{\"op\":\"set\",\"items\":{\"../../escape\":1,\"/etc/passwd\":2,\"a/b\":3}}");
  nmt_host_call_ok (b, "{\"op\":\"set\",\"items\":{\"..\":1}}");

  /* While the hosts run, with the WAL and shared-memory files present. */
  assert_int_equal (g_stat (home, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0700);
  assert_private_tree (home, &n_files);
  /* store.db, -wal, -shm, the change bell (events/bell) and the disk
   * reserve (store.reserve) per origin, each private. */
  assert_int_equal (n_files, 10);
  finish (a);
  finish (b);

  n_files = 0;
  assert_private_tree (home, &n_files);
  assert_true (n_files >= 2);
  /* Nothing was made outside the data root. */
  {
    g_autoptr(GDir) dir = g_dir_open (top, 0, NULL);
    assert_string_equal (g_dir_read_name (dir), "parent");
    assert_null (g_dir_read_name (dir));
  }
  nmt_remove_tree (top);
}

/* One set on a fresh host; returns the error reply's message (E_IO), or
 * NULL when the set succeeded. */
static char *
set_error_message (const char *home)
{
  NmtHost *host = nmt_host_start (home, NMT_ORIGIN);
  cJSON *r = nmt_host_call (host, "{\"op\":\"set\",\"items\":{\"k\":1}}");
  char *message = NULL;

  assert_non_null (r);
  if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (r, "ok")))
    {
      nmt_assert_error (r, "E_IO");
      message = g_strdup (nmt_member (nmt_member (r, "error"), "message")->valuestring);
    }
  cJSON_Delete (r);
  finish (host);
  return message;
}

static mode_t
mode_of (const char *path)
{
  GStatBuf st;

  assert_int_equal (g_lstat (path, &st), 0);
  return st.st_mode & 07777;
}

/* Issue 14, defect 5: a data root that exists and is looser than 0700 is
 * refused with the fix, never chmodded; once its owner tightens it, it
 * works. */
static void
test_loose_root_refused (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *message = NULL;
  g_autofree char *dir = g_build_filename (home, "chromium-abcdefghijklmnopabcdefghijklmnop", NULL);

  assert_int_equal (g_chmod (home, 0755), 0);
  message = set_error_message (home);
  assert_non_null (message);
  assert_non_null (strstr (message, home));
  assert_non_null (strstr (message, "chmod 700"));
  assert_int_equal (mode_of (home), 0755);
  assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));

  assert_int_equal (g_chmod (home, 0700), 0);
  g_clear_pointer (&message, g_free);
  message = set_error_message (home);
  assert_null (message);
  nmt_remove_tree (home);
}

/* A shared folder (1777, like /tmp) named as NMSTORE_HOME stays as it
 * is: run as root, nmstore used to make root's /tmp 0700. A folder of
 * another user is refused too (that part needs root to give it away). */
static void
test_shared_root_refused (void **state)
{
  g_autofree char *top = nmt_make_home ();
  g_autofree char *shared = g_build_filename (top, "shared", NULL);
  g_autofree char *message = NULL;
  GStatBuf st;

  assert_int_equal (g_mkdir (shared, 0700), 0);
  assert_int_equal (g_chmod (shared, 01777), 0);
  message = set_error_message (shared);
  assert_non_null (message);
  assert_non_null (strstr (message, "mode 1777"));
  assert_int_equal (mode_of (shared), 01777);

  if (geteuid () != 0)
    print_message ("part skipped: giving a folder to another user needs root\n");
  else
    {
      assert_int_equal (g_chmod (shared, 0700), 0);
      assert_int_equal (chown (shared, 4242, 4242), 0);
      g_clear_pointer (&message, g_free);
      message = set_error_message (shared);
      assert_non_null (message);
      assert_non_null (strstr (message, "uid 4242"));
      assert_int_equal (g_stat (shared, &st), 0);
      assert_int_equal (st.st_uid, 4242);
      assert_int_equal (mode_of (shared), 0700);
    }
  nmt_remove_tree (top);
}

/* An origin folder that is a link to one of the person's own folders is
 * refused: the folder keeps its mode and gets no store.db. So is a data
 * root that is a link. */
static void
test_linked_folders_refused (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *victim = nmt_make_home ();
  g_autofree char *dir = g_build_filename (home, "chromium-abcdefghijklmnopabcdefghijklmnop", NULL);
  g_autofree char *linked_root = g_strconcat (victim, "-link", NULL);
  g_autofree char *message = NULL;

  assert_int_equal (g_chmod (victim, 0755), 0);
  assert_int_equal (symlink (victim, dir), 0);
  message = set_error_message (home);
  assert_non_null (message);
  assert_non_null (strstr (message, "symbolic link"));
  assert_int_equal (mode_of (victim), 0755);
  {
    g_autoptr(GDir) d = g_dir_open (victim, 0, NULL);
    assert_null (g_dir_read_name (d));
  }

  assert_int_equal (g_chmod (victim, 0700), 0);
  assert_int_equal (symlink (victim, linked_root), 0);
  g_clear_pointer (&message, g_free);
  message = set_error_message (linked_root);
  assert_non_null (message);
  assert_non_null (strstr (message, "NMSTORE_HOME"));
  {
    g_autoptr(GDir) d = g_dir_open (victim, 0, NULL);
    assert_null (g_dir_read_name (d));
  }
  g_unlink (linked_root);
  g_unlink (dir);
  nmt_remove_tree (home);
  nmt_remove_tree (victim);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_chrome_forms),
    cmocka_unit_test (test_firefox_forms),
    cmocka_unit_test (test_malformed_origins),
    cmocka_unit_test (test_origins_isolated),
    cmocka_unit_test (test_private_files),
    cmocka_unit_test (test_loose_root_refused),
    cmocka_unit_test (test_shared_root_refused),
    cmocka_unit_test (test_linked_folders_refused),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
