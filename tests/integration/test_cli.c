/* SPDX-License-Identifier: MIT */
/* test_cli.c: the command line for people. `nmstore keys|get|set|rm`
 * print JSON and share the store with running hosts in both directions;
 * errors go to stderr with a non-zero exit and nothing on stdout;
 * --help and --version succeed. */
#include "harness.h"

#include "store/store.h"

#include <glib/gstdio.h>
#include <string.h>

/* Runs nmstore args, which must succeed, and returns its stdout parsed. */
static cJSON *
cli_json (const char *home, const char *const *args, const char *stdin_text)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = nmt_run_cli (home, args, stdin_text, &out, &err);
  cJSON *json;

  if (status != 0)
    fail_msg ("nmstore %s %s failed with %d: %s", args[0], args[1], status, err);
  json = cJSON_Parse (out);
  if (json == NULL)
    fail_msg ("nmstore %s printed something that is not JSON: %s", args[0], out);
  return json;
}

static void
cli_ok (const char *home, const char *const *args, const char *stdin_text)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = nmt_run_cli (home, args, stdin_text, &out, &err);

  if (status != 0)
    fail_msg ("nmstore %s %s failed with %d: %s", args[0], args[1], status, err);
}

static void
assert_cli_json (const char *home, const char *const *args, const char *expected)
{
  cJSON *json = cli_json (home, args, NULL);

  nmt_assert_json (json, expected);
  cJSON_Delete (json);
}

/* Fails with a non-zero exit, says why on stderr (containing
 * err_contains when given) and prints nothing on stdout. */
static void
expect_cli_error (const char *home, const char *const *args, const char *stdin_text, const char *err_contains)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *joined = g_strjoinv (" ", (char **) args);
  int status = nmt_run_cli (home, args, stdin_text, &out, &err);

  if (status == 0 || err[0] == '\0' || out[0] != '\0'
      || (err_contains != NULL && strstr (err, err_contains) == NULL))
    fail_msg ("nmstore %s: status %d, stdout \"%s\", stderr \"%s\"", joined, status, out, err);
}

/* The command line stores what the host would: exact numbers, sorted
 * members, a lone surrogate escape as U+FFFD; and prints it exactly. */
static void
test_cli_values_exact (void **state)
{
  NmtFixture *f = *state;
  const char *set[] = { "set", "--origin", NMT_ORIGIN, "k", "{\"b\":[0.30000000000000004,9007199254740991,1e-7],\"a\":\"\\ud800\"}", NULL };
  const char *get[] = { "get", "--origin", NMT_ORIGIN, "k", NULL };
  g_autofree char *out = NULL, *err = NULL;

  cli_ok (f->home, set, NULL);
  assert_int_equal (nmt_run_cli (f->home, get, NULL, &out, &err), 0);
  assert_string_equal (g_strchomp (out), "{\"k\":{\"a\":\"\xEF\xBF\xBD\",\"b\":[0.30000000000000004,9007199254740991,1e-7]}}");
}

/* What a running host wrote, the command line shows. */
static void
test_cli_reads_host_writes (void **state)
{
  NmtFixture *f = *state;
  const char *keys[] = { "keys", "--origin", NMT_ORIGIN, NULL };
  const char *keys_prefix[] = { "keys", "--origin", NMT_ORIGIN, "--prefix", "p/", NULL };
  const char *get_all[] = { "get", "--origin", NMT_ORIGIN, NULL };
  const char *get_some[] = { "get", "--origin", NMT_ORIGIN, "nested", "missing", "\xc3\xa9t\xc3\xa9", NULL };
  const char *get_prefix[] = { "get", "--origin", NMT_ORIGIN, "--prefix", "p/", NULL };
  const char *other[] = { "keys", "--origin", NMT_ORIGIN_2, NULL };

  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"p/1\":1,\"p/2\":[true,null],\"nested\":{\"a\":{\"b\":\"c\"}},"
                             "\"\\u00e9t\\u00e9\":\"\\u2603 snow\",\"q\":\"x\"}}");
  assert_cli_json (f->home, keys, "[\"nested\",\"p/1\",\"p/2\",\"q\",\"\\u00e9t\\u00e9\"]");
  assert_cli_json (f->home, keys_prefix, "[\"p/1\",\"p/2\"]");
  assert_cli_json (f->home, get_all, "{\"nested\":{\"a\":{\"b\":\"c\"}},\"p/1\":1,\"p/2\":[true,null],\"q\":\"x\","
                                     "\"\\u00e9t\\u00e9\":\"\\u2603 snow\"}");
  assert_cli_json (f->home, get_some, "{\"nested\":{\"a\":{\"b\":\"c\"}},\"\\u00e9t\\u00e9\":\"\\u2603 snow\"}");
  assert_cli_json (f->home, get_prefix, "{\"p/1\":1,\"p/2\":[true,null]}");
  /* Another origin's store is another store. */
  assert_cli_json (f->home, other, "[]");

  /* A later host write is seen at once. */
  nmt_host_call_ok (f->host, "{\"op\":\"remove\",\"keys\":[\"q\",\"nested\"]}");
  assert_cli_json (f->home, keys, "[\"p/1\",\"p/2\",\"\\u00e9t\\u00e9\"]");
}

/* What the command line writes, a running host sees. */
static void
test_host_reads_cli_writes (void **state)
{
  NmtFixture *f = *state;
  const char *set_arg[] = { "set", "--origin", NMT_ORIGIN, "obj", "{\"x\": [1, 2, {\"y\": null}]}", NULL };
  const char *set_stdin[] = { "set", "--origin", NMT_ORIGIN, "from-stdin", NULL };
  const char *set_string[] = { "set", "--origin", NMT_ORIGIN, "s", "\"text \\u00e9\"", NULL };
  const char *overwrite[] = { "set", "--origin", NMT_ORIGIN, "s", "42", NULL };
  const char *rm[] = { "rm", "--origin", NMT_ORIGIN, "obj", "missing", NULL };
  const char *get_all[] = { "get", "--origin", NMT_ORIGIN, NULL };

  nmt_host_call_ok (f->host, "{\"op\":\"hello\"}");
  cli_ok (f->home, set_arg, NULL);
  cli_ok (f->home, set_stdin, "{\"read\": \"from stdin\"}\n");
  cli_ok (f->home, set_string, NULL);
  nmt_assert_items (f->host, "{\"from-stdin\":{\"read\":\"from stdin\"},\"obj\":{\"x\":[1,2,{\"y\":null}]},"
                              "\"s\":\"text \\u00e9\"}");
  cli_ok (f->home, overwrite, NULL);
  cli_ok (f->home, rm, NULL);
  nmt_assert_items (f->host, "{\"from-stdin\":{\"read\":\"from stdin\"},\"s\":42}");
  assert_cli_json (f->home, get_all, "{\"from-stdin\":{\"read\":\"from stdin\"},\"s\":42}");

  /* The command line keeps Chrome's byte count right for the host. */
  {
    cJSON *reply = nmt_host_call (f->host, "{\"op\":\"getBytesInUse\"}");
    nmt_assert_ok (reply);
    assert_int_equal (nmt_member (reply, "bytes")->valueint,
                      strlen ("from-stdin") + strlen ("{\"read\":\"from stdin\"}") + strlen ("s") + strlen ("42"));
    cJSON_Delete (reply);
  }
}

static void
test_cli_errors (void **state)
{
  NmtFixture *f = *state;
  const char *bad_json[] = { "set", "--origin", NMT_ORIGIN, "k", "not json", NULL };
  const char *empty_stdin[] = { "set", "--origin", NMT_ORIGIN, "k", NULL };
  const char *bad_origin[] = { "get", "--origin", "chrome-extension://ABC/", NULL };
  const char *bad_origin_keys[] = { "keys", "--origin", "garbage", NULL };
  const char *no_origin[] = { "keys", NULL };
  const char *no_origin_get[] = { "get", "k", NULL };
  const char *empty_key_get[] = { "get", "--origin", NMT_ORIGIN, "", NULL };
  const char *empty_key_set[] = { "set", "--origin", NMT_ORIGIN, "", "1", NULL };
  const char *empty_key_rm[] = { "rm", "--origin", NMT_ORIGIN, "", NULL };
  const char *rm_nothing[] = { "rm", "--origin", NMT_ORIGIN, NULL };
  const char *set_nothing[] = { "set", "--origin", NMT_ORIGIN, NULL };
  const char *keys_and_prefix[] = { "get", "--origin", NMT_ORIGIN, "--prefix", "p", "k", NULL };
  const char *bad_option[] = { "keys", "--origin", NMT_ORIGIN, "--no-such-option", NULL };
  const char *unknown[] = { "frobnicate", NULL };
  const char *nothing[] = { NULL };
  const char *keys[] = { "keys", "--origin", NMT_ORIGIN, NULL };

  expect_cli_error (f->home, bad_json, NULL, NULL);
  expect_cli_error (f->home, empty_stdin, "", NULL);
  expect_cli_error (f->home, bad_origin, NULL, NULL);
  expect_cli_error (f->home, bad_origin_keys, NULL, NULL);
  expect_cli_error (f->home, no_origin, NULL, NULL);
  expect_cli_error (f->home, no_origin_get, NULL, NULL);
  expect_cli_error (f->home, rm_nothing, NULL, NULL);
  expect_cli_error (f->home, set_nothing, NULL, NULL);
  expect_cli_error (f->home, keys_and_prefix, NULL, NULL);
  expect_cli_error (f->home, bad_option, NULL, NULL);
  expect_cli_error (f->home, unknown, NULL, NULL);
  expect_cli_error (f->home, nothing, NULL, NULL);

  /* None of the failed writes wrote anything. */
  assert_cli_json (f->home, keys, "[]");

  /* The empty key is a key here too, as in chrome.storage. */
  cli_ok (f->home, empty_key_set, NULL);
  assert_cli_json (f->home, empty_key_get, "{\"\":1}");
  cli_ok (f->home, empty_key_rm, NULL);
  assert_cli_json (f->home, keys, "[]");
}

/* Store errors reach the person with their protocol code. */
static void
test_cli_store_errors (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *file_home = g_build_filename (home, "a-file", NULL);
  const char *big[] = { "set", "--origin", NMT_ORIGIN, "big", "\"0123456789012345678901234567890123456789\"", NULL };
  const char *small[] = { "set", "--origin", NMT_ORIGIN, "s", "1", NULL };
  const char *get_all[] = { "get", "--origin", NMT_ORIGIN, NULL };

  nmt_write_config (home, "[store]\nquota_bytes = 20\n");
  expect_cli_error (home, big, NULL, "E_QUOTA");
  cli_ok (home, small, NULL);
  assert_cli_json (home, get_all, "{\"s\":1}");

  nmt_write_file (file_home, "not a directory\n");
  expect_cli_error (file_home, get_all, NULL, "E_IO");
  expect_cli_error (file_home, small, NULL, "E_IO");
  nmt_remove_tree (home);
}

/* A string holding U+0000 and non-ASCII text survives `set` and `get`
 * byte for byte, whatever the locale: cJSON alone would cut it at the NUL,
 * and g_print would turn the non-ASCII characters into '?'. */
static void
test_cli_exact_text (void **state)
{
  NmtFixture *f = *state;
  const char *set[] = { "set", "--origin", NMT_ORIGIN, "k\xc3\xa9", "\"a\\u0000b \xe2\x9c\x93\"", NULL };
  const char *get[] = { "get", "--origin", NMT_ORIGIN, "k\xc3\xa9", NULL };
  g_autofree char *out = NULL, *err = NULL;
  cJSON *reply;

  g_setenv ("LC_ALL", "C", TRUE);
  cli_ok (f->home, set, NULL);
  assert_int_equal (nmt_run_cli (f->home, get, NULL, &out, &err), 0);
  assert_string_equal (out, "{\"k\xc3\xa9\":\"a\\u0000b \xe2\x9c\x93\"}\n");
  g_unsetenv ("LC_ALL");

  /* A host reads the same text. */
  reply = nmt_host_call (f->host, "{\"op\":\"get\",\"keys\":\"k\xc3\xa9\"}");
  nmt_assert_ok (reply);
  cJSON_Delete (reply);
}

/* Usage errors exit 2, distinct from a failure while running (1), so a
 * script can tell a wrong call from a failed store. */
static void
test_cli_usage_exit_status (void **state)
{
  NmtFixture *f = *state;
  const char *const *calls[] = {
    (const char *[]) { "frobnicate", NULL },
    (const char *[]) { NULL },
    (const char *[]) { "keys", "--no-such-option", NULL },
    (const char *[]) { "keys", "--origin", NULL },
    (const char *[]) { "keys", "--origin", "garbage", NULL },
    (const char *[]) { "get", "--origin", "chrome-extension://ABC/", NULL },
    (const char *[]) { "set", "--origin", "abcdefghijklmnopabcdefghijklmnoq", "k", "1", NULL },
    (const char *[]) { "rm", "--origin", NMT_ORIGIN, NULL },
    (const char *[]) { "export", "--origin", "garbage", NULL },
    (const char *[]) { "verify", "--origin", "garbage", NULL },
    (const char *[]) { "encrypt", "--origin", "garbage", "--key-file", NULL },
    (const char *[]) { "session", "ls", "--origin", "garbage", NULL },
    (const char *[]) { "origins", "extra", NULL },
    (const char *[]) { "host", "--origin", "garbage", NULL },
  };
  const char *bad_json[] = { "set", "--origin", NMT_ORIGIN, "k", "not json", NULL };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      g_autofree char *joined = g_strjoinv (" ", (char **) calls[i]);
      int status = nmt_run_cli (f->home, calls[i], NULL, &out, &err);

      if (status != 2 || err[0] == '\0')
        fail_msg ("nmstore %s: exit status %d, not 2 (stderr \"%s\")", joined, status, err);
    }
  /* A value that is not JSON is a failure of the run, not of the call. */
  {
    g_autofree char *out = NULL, *err = NULL;
    assert_int_equal (nmt_run_cli (f->home, bad_json, NULL, &out, &err), 1);
  }
}

/* --origin takes the 32-letter id alone, for the same store. */
static void
test_cli_bare_chromium_id (void **state)
{
  NmtFixture *f = *state;
  const char *set[] = { "set", "--origin", "abcdefghijklmnopabcdefghijklmnop", "bare", "true", NULL };

  cli_ok (f->home, set, NULL);
  nmt_assert_items (f->host, "{\"bare\":true}");
}

/* `nmstore origins` lists each origin with a store: items, bytes in use,
 * encryption and whether it is locked; a passphrase origin's count is
 * unknown (null) until it is unlocked. */
static void
test_cli_origins (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *conf = g_build_filename (home, "nmstore.conf", NULL);
  const char *set_a[] = { "set", "--origin", NMT_ORIGIN, "a", "\"xyz\"", NULL };
  const char *set_b[] = { "set", "--origin", NMT_ORIGIN, "bb", "1", NULL };
  const char *set_ff[] = { "set", "--origin", "tester@example.org", "k", "true", NULL };
  const char *encrypt[] = { "encrypt", "--origin", "tester@example.org", "--passphrase", "--passphrase-fd", "0", NULL };
  const char *json[] = { "origins", "--json", NULL };
  const char *table[] = { "origins", NULL };
  g_autofree char *out = NULL, *err = NULL;

  /* No data root yet: an empty list, not an error. */
  assert_cli_json (home, json, "[]");
  nmt_write_file (conf, "[crypto]\npwhash_opslimit = 1\npwhash_memlimit = 8192\n");
  cli_ok (home, set_a, NULL);
  cli_ok (home, set_b, NULL);
  cli_ok (home, set_ff, NULL);
  /* A folder that no origin could have made is not an origin. */
  g_autofree char *stray_dir = g_build_filename (home, "chromium-not-an-id", NULL);
  g_autofree char *stray = g_build_filename (stray_dir, NMS_STORE_FILE_NAME, NULL);
  assert_int_equal (g_mkdir (stray_dir, 0700), 0);
  nmt_write_file (stray, "");
  assert_cli_json (home, json,
                   "[{\"origin\":\"" NMT_ORIGIN "\",\"items\":2,\"bytesInUse\":9,\"encryption\":\"none\",\"locked\":false},"
                   "{\"origin\":\"tester@example.org\",\"items\":1,\"bytesInUse\":5,\"encryption\":\"none\","
                   "\"locked\":false}]");
  cli_ok (home, encrypt, "horse battery\n");
  assert_cli_json (home, json,
                   "[{\"origin\":\"" NMT_ORIGIN "\",\"items\":2,\"bytesInUse\":9,\"encryption\":\"none\",\"locked\":false},"
                   "{\"origin\":\"tester@example.org\",\"items\":null,\"bytesInUse\":null,"
                   "\"encryption\":\"passphrase\",\"locked\":true}]");
  assert_int_equal (nmt_run_cli (home, table, NULL, &out, &err), 0);
  assert_non_null (strstr (out, "tester@example.org"));
  assert_non_null (strstr (out, "passphrase  locked"));
  nmt_remove_tree (home);
}

static void
test_cli_help_version (void **state)
{
  NmtFixture *f = *state;
  static const char *const commands[] = { "host", "keys", "get", "set", "rm" };
  const char *help[] = { "--help", NULL };
  const char *version[] = { "--version", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *expected = NULL;
  cJSON *hello;
  gsize i;

  assert_int_equal (nmt_run_cli (f->home, help, NULL, &out, &err), 0);
  assert_non_null (strstr (out, "Usage"));
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *line = g_strdup_printf ("\n  %s ", commands[i]);
      const char *sub_help[] = { commands[i], "--help", NULL };
      g_autofree char *sub_out = NULL, *sub_err = NULL;

      if (strstr (out, line) == NULL)
        fail_msg ("--help does not list %s: %s", commands[i], out);
      assert_int_equal (nmt_run_cli (f->home, sub_help, NULL, &sub_out, &sub_err), 0);
      assert_non_null (strstr (sub_out, "--origin"));
    }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* --version names the version the host reports in hello. */
  assert_int_equal (nmt_run_cli (f->home, version, NULL, &out, &err), 0);
  hello = nmt_host_call (f->host, "{\"op\":\"hello\"}");
  expected = g_strdup_printf ("nmstore %s ", nmt_member (hello, "version")->valuestring);
  cJSON_Delete (hello);
  assert_true (g_str_has_prefix (out, expected));
}

/* What an import and a "set" of the same object refuse, and in whose
 * words: both go through nms_archive_add_member, and an import names the
 * key it stopped at. */
static void
test_import_and_set_refuse_alike (void **state)
{
  NmtFixture *f = *state;
  g_autofree char *path = g_build_filename (f->home, "export.json", NULL);
  g_autofree char *out = NULL, *err = NULL;
  const char *import[] = { "import", "--origin", NMT_ORIGIN, path, NULL };
  cJSON *reply;

  nmt_write_file (path, "{\"a\":1,\"b\":2,\"a\":3}");
  assert_int_equal (nmt_run_cli (f->home, import, NULL, &out, &err), 1);
  assert_non_null (strstr (err, "the file names the key \"a\" twice"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  nmt_write_file (path, "{\"a\":1,\"b\":{\"x\":1,\"x\":2}}");
  assert_int_equal (nmt_run_cli (f->home, import, NULL, &out, &err), 1);
  assert_non_null (strstr (err, "the value of \"b\": an object names the member \"x\" twice"));

  reply = nmt_host_call (f->host, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1,\"b\":{\"x\":1,\"x\":2}}}");
  nmt_assert_error (reply, "E_REQUEST");
  assert_string_equal (nmt_member (nmt_member (reply, "error"), "message")->valuestring,
                       "an object names the member \"x\" twice (no JavaScript value does)");
  cJSON_Delete (reply);
  reply = nmt_host_call (f->host, "{\"id\":2,\"op\":\"set\",\"items\":{\"a\":1,\"b\":2,\"a\":3}}");
  nmt_assert_error (reply, "E_REQUEST");
  assert_string_equal (nmt_member (nmt_member (reply, "error"), "message")->valuestring,
                       "set: \"items\" names a key twice");
  cJSON_Delete (reply);
  nmt_assert_items (f->host, "{}");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_cli_reads_host_writes, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_cli_values_exact, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_host_reads_cli_writes, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_cli_errors, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test (test_cli_store_errors),
    cmocka_unit_test_setup_teardown (test_cli_exact_text, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_cli_help_version, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_cli_usage_exit_status, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_cli_bare_chromium_id, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test (test_cli_origins),
    cmocka_unit_test_setup_teardown (test_import_and_set_refuse_alike, nmt_fixture_setup, nmt_fixture_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
