/* SPDX-License-Identifier: MIT */
/* test_errors.c: every error code of protocol version 1, each provoked
 * through the real host, answered with a code and a message for a person;
 * and after every bad request the host keeps serving, except after
 * E_TOO_LARGE, where it must stop. */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

/* The host still answers, and still has the data it had. */
static void
assert_still_serving (NmtHost *host)
{
  cJSON *reply = nmt_host_call (host, "{\"id\":\"after\",\"op\":\"getKeys\",\"prefix\":\"keep\"}");

  assert_non_null (reply);
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "id"), "\"after\"");
  nmt_assert_json (nmt_member (reply, "keys"), "[\"keep\"]");
  cJSON_Delete (reply);
}

/* Sends one frame, expects error code with the id id_json, then checks
 * that the host goes on serving. */
static void
expect_error_frame (NmtHost *host, const void *data, gsize len, const char *code, const char *id_json)
{
  cJSON *reply;

  assert_true (nmt_host_send_frame (host, data, len));
  reply = nmt_host_recv (host);
  if (reply == NULL)
    fail_msg ("no reply to a request that should fail with %s: %.200s", code, (const char *) data);
  nmt_assert_error (reply, code);
  nmt_assert_json (nmt_member (reply, "id"), id_json);
  /* An error reply carries nothing but id, ok and error. */
  assert_int_equal (cJSON_GetArraySize (reply), 3);
  cJSON_Delete (reply);
  assert_still_serving (host);
}

static void
expect_error (NmtHost *host, const char *json, const char *code, const char *id_json)
{
  expect_error_frame (host, json, strlen (json), code, id_json);
}

static int
setup (void **state)
{
  NmtFixture *f;

  nmt_fixture_setup (state);
  f = *state;
  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"keep\":1}}");
  return 0;
}

static void
test_e_json (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GString) deep = g_string_new ("{\"op\":\"set\",\"items\":{\"a\":");
  static const char nul_inside[] = "{\"op\":\"hello\"}\0";

  expect_error_frame (f->host, "", 0, "E_JSON", "null");
  expect_error (f->host, "{\"id\":1,\"op\":\"hel\xfflo\"}", "E_JSON", "null");
  /* An overlong encoding of '/' and a UTF-16 surrogate encoded as UTF-8. */
  expect_error (f->host, "{\"id\":1,\"op\":\"hello\",\"x\":\"\xc0\xaf\"}", "E_JSON", "null");
  expect_error (f->host, "{\"id\":1,\"op\":\"hello\",\"x\":\"\xed\xa0\x80\"}", "E_JSON", "null");
  expect_error (f->host, "{\"id\":1,\"op\":", "E_JSON", "null");
  expect_error (f->host, "{\"id\":1 \"op\":\"hello\"}", "E_JSON", "null");
  expect_error (f->host, "{'id':1,'op':'hello'}", "E_JSON", "null");
  /* Trailing garbage after a valid request, and two requests in a frame. */
  expect_error (f->host, "{\"id\":1,\"op\":\"hello\"} x", "E_JSON", "null");
  expect_error (f->host, "{\"id\":1,\"op\":\"hello\"}{\"op\":\"hello\"}", "E_JSON", "null");
  expect_error_frame (f->host, nul_inside, sizeof nul_inside - 1, "E_JSON", "null");
  /* A lone surrogate escape is stored as U+FFFD, as Chrome stores it
   * (test_proto.c); only one encoded as UTF-8 bytes is refused, above. */
  /* Nesting deeper than 1000. */
  for (int i = 0; i < 2000; i++)
    g_string_append_c (deep, '[');
  for (int i = 0; i < 2000; i++)
    g_string_append_c (deep, ']');
  g_string_append (deep, "}}");
  expect_error (f->host, deep->str, "E_JSON", "null");

  /* Whitespace around a request is fine. */
  nmt_host_call_ok (f->host, " \t\r\n{\"op\":\"hello\"}\n ");
}

static void
test_e_request (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GString) long_id = g_string_new ("{\"op\":\"hello\",\"id\":\"");
  static const char *const not_objects[] = { "[]", "[{\"op\":\"hello\"}]", "\"hello\"", "42", "null", "true" };
  /* Each op with a parameter of the wrong type, or a missing one. */
  static const char *const bad_params[] = {
    "{\"id\":9,\"op\":\"get\",\"keys\":5}",
    "{\"id\":9,\"op\":\"get\",\"keys\":true}",
    "{\"id\":9,\"op\":\"get\",\"keys\":[1]}",
    "{\"id\":9,\"op\":\"get\",\"keys\":[\"a\",2]}",
    "{\"id\":9,\"op\":\"get\",\"keys\":[null]}",
    "{\"id\":9,\"op\":\"get\",\"prefix\":5}",
    "{\"id\":9,\"op\":\"get\",\"prefix\":[\"a\"]}",
    "{\"id\":9,\"op\":\"get\",\"prefix\":{}}",
    "{\"id\":9,\"op\":\"get\",\"keys\":\"a\",\"prefix\":\"a\"}",
    "{\"id\":9,\"op\":\"getKeys\",\"prefix\":5}",
    "{\"id\":9,\"op\":\"getKeys\",\"prefix\":true}",
    "{\"id\":9,\"op\":\"getKeys\",\"prefix\":[\"a\"]}",
    "{\"id\":9,\"op\":\"set\"}",
    "{\"id\":9,\"op\":\"set\",\"items\":null}",
    "{\"id\":9,\"op\":\"set\",\"items\":[]}",
    "{\"id\":9,\"op\":\"set\",\"items\":[{\"a\":1}]}",
    "{\"id\":9,\"op\":\"set\",\"items\":\"a\"}",
    "{\"id\":9,\"op\":\"set\",\"items\":5}",
    "{\"id\":9,\"op\":\"set\",\"items\":{\"a\":1,\"a\":2}}",
    "{\"id\":9,\"op\":\"remove\"}",
    "{\"id\":9,\"op\":\"remove\",\"keys\":null}",
    "{\"id\":9,\"op\":\"remove\",\"keys\":5}",
    "{\"id\":9,\"op\":\"remove\",\"keys\":{\"keep\":1}}",
    "{\"id\":9,\"op\":\"remove\",\"keys\":[\"keep\",1]}",
    "{\"id\":9,\"op\":\"clear\",\"prefix\":5}",
    "{\"id\":9,\"op\":\"clear\",\"prefix\":[\"k\"]}",
    "{\"id\":9,\"op\":\"getBytesInUse\",\"keys\":5}",
    "{\"id\":9,\"op\":\"getBytesInUse\",\"keys\":{}}",
    "{\"id\":9,\"op\":\"getBytesInUse\",\"keys\":[1]}",
    "{\"id\":9,\"op\":\"getBytesInUse\",\"keys\":true}",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (not_objects); i++)
    expect_error (f->host, not_objects[i], "E_REQUEST", "null");
  expect_error (f->host, "{}", "E_REQUEST", "null");
  expect_error (f->host, "{\"id\":3}", "E_REQUEST", "3");
  expect_error (f->host, "{\"id\":3,\"op\":5}", "E_REQUEST", "3");
  expect_error (f->host, "{\"id\":3,\"op\":null}", "E_REQUEST", "3");
  expect_error (f->host, "{\"id\":3,\"op\":[\"hello\"]}", "E_REQUEST", "3");
  expect_error (f->host, "{\"id\":3,\"op\":{}}", "E_REQUEST", "3");
  /* A member named twice, whichever. */
  expect_error (f->host, "{\"op\":\"hello\",\"op\":\"hello\"}", "E_REQUEST", "null");
  expect_error (f->host, "{\"id\":1,\"id\":2,\"op\":\"hello\"}", "E_REQUEST", "null");
  expect_error (f->host, "{\"op\":\"clear\",\"prefix\":\"zz\",\"prefix\":\"\"}", "E_REQUEST", "null");
  /* An id that is not a string or a number, or too long, is not echoed. */
  expect_error (f->host, "{\"id\":{},\"op\":\"hello\"}", "E_REQUEST", "null");
  expect_error (f->host, "{\"id\":[1],\"op\":\"hello\"}", "E_REQUEST", "null");
  expect_error (f->host, "{\"id\":true,\"op\":\"hello\"}", "E_REQUEST", "null");
  for (i = 0; i < 1100; i++)
    g_string_append_c (long_id, 'i');
  g_string_append (long_id, "\"}");
  expect_error (f->host, long_id->str, "E_REQUEST", "null");

  for (i = 0; i < G_N_ELEMENTS (bad_params); i++)
    expect_error (f->host, bad_params[i], "E_REQUEST", "9");

  /* Members an op does not know are ignored. */
  nmt_host_call_ok (f->host, "{\"op\":\"hello\",\"keys\":5,\"extra\":[1]}");
  nmt_host_call_ok (f->host, "{\"op\":\"flush\",\"items\":\"x\"}");
  assert_still_serving (f->host);
}

static void
test_e_unknown_op (void **state)
{
  NmtFixture *f = *state;
  cJSON *reply;

  expect_error (f->host, "{\"id\":\"u\",\"op\":\"noSuchOp\"}", "E_UNKNOWN_OP", "\"u\"");
  expect_error (f->host, "{\"id\":\"u\",\"op\":\"\"}", "E_UNKNOWN_OP", "\"u\"");
  /* Op names are exact: no case folding, no trimming. */
  expect_error (f->host, "{\"id\":\"u\",\"op\":\"HELLO\"}", "E_UNKNOWN_OP", "\"u\"");
  expect_error (f->host, "{\"id\":\"u\",\"op\":\"getkeys\"}", "E_UNKNOWN_OP", "\"u\"");
  expect_error (f->host, "{\"id\":\"u\",\"op\":\"hello \"}", "E_UNKNOWN_OP", "\"u\"");

  /* The message names the op, so a person can see the typo. */
  reply = nmt_host_call (f->host, "{\"op\":\"deleteEverything\"}");
  nmt_assert_error (reply, "E_UNKNOWN_OP");
  assert_non_null (strstr (nmt_member (nmt_member (reply, "error"), "message")->valuestring, "deleteEverything"));
  cJSON_Delete (reply);
}

static char *
repeat (const char *unit, gsize times)
{
  GString *s = g_string_new (NULL);

  while (times-- > 0)
    g_string_append (s, unit);
  return g_string_free (s, FALSE);
}

static void
test_e_key (void **state)
{
  NmtFixture *f = *state;
  cJSON *hello = nmt_host_call (f->host, "{\"op\":\"hello\"}");
  int max_key = nmt_member (nmt_member (hello, "limits"), "maxKeyBytes")->valueint;
  g_autofree char *at_limit = repeat ("k", (gsize) max_key);
  g_autofree char *over_limit = repeat ("k", (gsize) max_key + 1);
  /* Two-byte characters: the limit is on bytes, not characters. */
  g_autofree char *wide_at_limit = repeat ("\xc3\xa9", (gsize) max_key / 2);
  g_autofree char *wide_over_limit = repeat ("\xc3\xa9", (gsize) max_key / 2 + 1);
  g_autofree char *json = NULL;
  cJSON *reply;
  static const char *const bad[] = {
    "{\"id\":4,\"op\":\"set\",\"items\":{\"a\\u0000b\":1}}",
    "{\"id\":4,\"op\":\"set\",\"items\":{\"\\u0000\":1}}",
    "{\"id\":4,\"op\":\"get\",\"keys\":[\"keep\",\"\\u0000\"]}",
    "{\"id\":4,\"op\":\"get\",\"keys\":\"keep\\u0000\"}",
    "{\"id\":4,\"op\":\"get\",\"keys\":{\"keep\\u0000\":1}}",
    "{\"id\":4,\"op\":\"get\",\"prefix\":\"k\\u0000\"}",
    "{\"id\":4,\"op\":\"getKeys\",\"prefix\":\"k\\u0000\"}",
    "{\"id\":4,\"op\":\"remove\",\"keys\":[\"keep\",\"\\u0000\"]}",
    "{\"id\":4,\"op\":\"remove\",\"keys\":\"keep\\u0000\"}",
    "{\"id\":4,\"op\":\"clear\",\"prefix\":\"keep\\u0000\"}",
    "{\"id\":4,\"op\":\"getBytesInUse\",\"keys\":[\"a\\u0000\"]}",
  };
  gsize i;

  cJSON_Delete (hello);
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    expect_error (f->host, bad[i], "E_KEY", "4");

  json = g_strdup_printf ("{\"id\":4,\"op\":\"set\",\"items\":{\"%s\":1}}", over_limit);
  expect_error (f->host, json, "E_KEY", "4");
  g_free (json);
  json = g_strdup_printf ("{\"id\":4,\"op\":\"get\",\"keys\":\"%s\"}", over_limit);
  expect_error (f->host, json, "E_KEY", "4");
  g_free (json);
  json = g_strdup_printf ("{\"id\":4,\"op\":\"set\",\"items\":{\"%s\":1}}", wide_over_limit);
  expect_error (f->host, json, "E_KEY", "4");
  g_free (json);

  /* Exactly maxKeyBytes is a valid key, and comes back whole. */
  json = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"%s\":1,\"%s\":2}}", at_limit, wide_at_limit);
  nmt_host_call_ok (f->host, json);
  g_free (json);
  json = g_strdup_printf ("{\"op\":\"get\",\"keys\":[\"%s\",\"%s\"]}", at_limit, wide_at_limit);
  reply = nmt_host_call (f->host, json);
  nmt_assert_ok (reply);
  g_free (json);
  json = g_strdup_printf ("{\"%s\":1,\"%s\":2}", at_limit, wide_at_limit);
  nmt_assert_json (nmt_member (reply, "items"), json);
  cJSON_Delete (reply);
}

/* A declared length over 64 MiB is refused before its body is sent: the
 * reply (id null) arrives, then the host ends with status 1. Requests
 * that arrived before it are served and committed first. */
static void
expect_too_large (guint32 declared)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) again = NULL;
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  cJSON *reply;

  nmt_frame_append_str (burst, "{\"id\":1,\"op\":\"set\",\"items\":{\"before\":true}}");
  g_byte_array_append (burst, (const guint8 *) &declared, sizeof declared);
  assert_true (nmt_host_send_raw (host, burst->data, burst->len));

  reply = nmt_host_recv (host);
  assert_non_null (reply);
  nmt_assert_ok (reply);
  cJSON_Delete (reply);
  reply = nmt_host_recv (host);
  assert_non_null (reply);
  nmt_assert_error (reply, "E_TOO_LARGE");
  assert_true (cJSON_IsNull (nmt_member (reply, "id")));
  cJSON_Delete (reply);
  /* Nothing after it, and an exit of its own: stdin is still open. */
  assert_null (nmt_host_recv_frame (host, NULL));
  assert_int_equal (nmt_host_wait (host), 1);

  again = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (again, "{\"op\":\"get\"}");
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "items"), "{\"before\":true}");
  cJSON_Delete (reply);
  nmt_host_close_input (again);
  assert_int_equal (nmt_host_wait (again), 0);
  nmt_remove_tree (home);
}

static void
test_e_too_large (void **state)
{
  expect_too_large (64u * 1024u * 1024u + 1u);
  expect_too_large (G_MAXUINT32);
}

/* A frame of exactly maxRequestBytes is accepted. */
static void
test_request_at_limit (void **state)
{
  NmtFixture *f = *state;
  const gsize limit = 64u * 1024u * 1024u;
  const char *json = "{\"id\":\"big\",\"op\":\"hello\"}";
  g_autofree char *frame = NULL;
  cJSON *reply;

  /* Under a wrapper (valgrind) the 64 MiB frame alone took a minute, most
   * of the suite's time there; the limit's own line runs for every frame,
   * and this exact size runs natively and under ASan and UBSan. */
  if (nmt_host_wrapped ())
    {
      print_message ("the 64 MiB frame: skipped under NMT_HOST_WRAPPER\n");
      return;
    }
  /* Whitespace after the JSON keeps the request cheap to serve. */
  frame = g_malloc (limit);
  memset (frame, ' ', limit);
  memcpy (frame, json, strlen (json));
  assert_true (nmt_host_send_frame (f->host, frame, limit));
  reply = nmt_host_recv (f->host);
  assert_non_null (reply);
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "id"), "\"big\"");
  cJSON_Delete (reply);
  assert_still_serving (f->host);
}

static double
total_bytes (NmtHost *host)
{
  cJSON *reply = nmt_host_call (host, "{\"op\":\"getBytesInUse\"}");
  double bytes;

  nmt_assert_ok (reply);
  bytes = nmt_member (reply, "bytes")->valuedouble;
  cJSON_Delete (reply);
  return bytes;
}

static void
test_e_quota (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = NULL;
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  g_autofree char *x97 = repeat ("x", 97);
  g_autofree char *x40 = repeat ("x", 40);
  g_autofree char *json = NULL;
  cJSON *reply;
  int i;

  nmt_write_config (home, "[store]\nquota_bytes = 100\n");
  host = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (host, "{\"op\":\"hello\"}");
  nmt_assert_json (nmt_member (nmt_member (reply, "limits"), "quotaBytes"), "100");
  cJSON_Delete (reply);

  /* "q" and a string of 97: 1 + 99 = exactly the quota. */
  json = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"q\":\"%s\"}}", x97);
  nmt_host_call_ok (host, json);
  assert_int_equal ((int) total_bytes (host), 100);
  nmt_host_call_error (host, "{\"op\":\"set\",\"items\":{\"r\":1}}", "E_QUOTA");
  nmt_host_call_error (host, "{\"op\":\"set\",\"items\":{\"q\":\"x\",\"r\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,"
                             "17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40]}}",
                       "E_QUOTA");
  /* Nothing of a refused write is written: q is untouched, r absent. */
  reply = nmt_host_call (host, "{\"op\":\"get\"}");
  g_free (json);
  json = g_strdup_printf ("{\"q\":\"%s\"}", x97);
  nmt_assert_json (nmt_member (reply, "items"), json);
  cJSON_Delete (reply);
  /* A write that shrinks the store is fine. */
  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"q\":\"short\"}}");
  nmt_host_call_ok (host, "{\"op\":\"clear\"}");

  /* A multi-key set over quota writes none of its keys: 3 x 43 bytes. */
  g_free (json);
  json = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"a\":\"%s\",\"b\":\"%s\",\"c\":\"%s\"}}", x40, x40, x40);
  nmt_host_call_error (host, json, "E_QUOTA");
  reply = nmt_host_call (host, "{\"op\":\"getKeys\"}");
  nmt_assert_json (nmt_member (reply, "keys"), "[]");
  cJSON_Delete (reply);
  assert_int_equal ((int) total_bytes (host), 0);

  /* Pipelined: the refused write sits between writes that commit in the
   * same batch, and leaves them alone. */
  for (i = 0; i < 3; i++)
    {
      g_autofree char *set = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"%c\":\"%s\"}}", i, 'a' + i, x40);
      nmt_frame_append_str (burst, set);
    }
  nmt_frame_append_str (burst, "{\"id\":3,\"op\":\"set\",\"items\":{\"d\":1}}");
  nmt_frame_append_str (burst, "{\"id\":4,\"op\":\"getKeys\"}");
  assert_true (nmt_host_send_raw (host, burst->data, burst->len));
  for (i = 0; i < 5; i++)
    {
      reply = nmt_host_recv (host);
      assert_non_null (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, i);
      if (i == 2)
        nmt_assert_error (reply, "E_QUOTA");
      else
        nmt_assert_ok (reply);
      if (i == 4)
        nmt_assert_json (nmt_member (reply, "keys"), "[\"a\",\"b\",\"d\"]");
      cJSON_Delete (reply);
    }
  assert_int_equal ((int) total_bytes (host), 43 + 43 + 2);

  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

/* Every op that needs the store fails with code and a message; hello
 * still answers, with store null. */
static void
expect_store_error (NmtHost *host, const char *code)
{
  static const char *const ops[] = {
    "{\"id\":5,\"op\":\"get\"}",
    "{\"id\":5,\"op\":\"getKeys\"}",
    "{\"id\":5,\"op\":\"set\",\"items\":{\"a\":1}}",
    "{\"id\":5,\"op\":\"remove\",\"keys\":\"a\"}",
    "{\"id\":5,\"op\":\"clear\"}",
    "{\"id\":5,\"op\":\"getBytesInUse\"}",
    "{\"id\":5,\"op\":\"flush\"}",
  };
  gsize i;
  cJSON *reply;

  for (i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      reply = nmt_host_call (host, ops[i]);
      assert_non_null (reply);
      nmt_assert_error (reply, code);
      nmt_assert_json (nmt_member (reply, "id"), "5");
      cJSON_Delete (reply);

      reply = nmt_host_call (host, "{\"op\":\"hello\"}");
      nmt_assert_ok (reply);
      assert_true (cJSON_IsNull (nmt_member (reply, "store")));
      nmt_assert_json (nmt_member (reply, "origin"), "\"" NMT_ORIGIN "\"");
      cJSON_Delete (reply);
    }
}

static void
test_e_io_home_is_file (void **state)
{
  g_autofree char *dir = nmt_make_home ();
  g_autofree char *home = g_build_filename (dir, "not-a-dir", NULL);
  g_autoptr(NmtHost) host = NULL;

  nmt_write_file (home, "a file where the data root should be\n");
  host = nmt_host_start (home, NMT_ORIGIN);
  expect_store_error (host, "E_IO");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (dir);
}

/* The origin's own directory, then its database, blocked by the wrong
 * kind of file; and once the obstacle is gone the same host recovers. */
static void
test_e_io_store_path_blocked (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *dir = g_build_filename (home, "chromium-abcdefghijklmnopabcdefghijklmnop", NULL);
  g_autofree char *db = g_build_filename (dir, "store.db", NULL);
  g_autoptr(NmtHost) host = NULL;

  nmt_write_file (dir, "a file where the origin's directory should be\n");
  host = nmt_host_start (home, NMT_ORIGIN);
  expect_store_error (host, "E_IO");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  g_clear_pointer (&host, nmt_host_free);

  g_unlink (dir);
  assert_int_equal (g_mkdir (dir, 0700), 0);
  assert_int_equal (g_mkdir (db, 0700), 0);
  host = nmt_host_start (home, NMT_ORIGIN);
  expect_store_error (host, "E_IO");

  assert_int_equal (g_rmdir (db), 0);
  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"recovered\":true}}");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

/* Runs in the host's process before exec: files may not grow past 256 KiB,
 * and a write past it fails with EFBIG instead of killing the host, which
 * is how a full disk looks to a program. */
static void
limit_file_size (gpointer data)
{
  struct rlimit limit = { 256 * 1024, 256 * 1024 };

  signal (SIGXFSZ, SIG_IGN);
  setrlimit (RLIMIT_FSIZE, &limit);
}

static void
test_e_io_disk_full (void **state)
{
  g_autofree char *home = nmt_make_home ();
  const char *args[] = { "host", "--origin", NMT_ORIGIN, NULL };
  NmtHostOptions options = { .child_setup = limit_file_size };
  g_autoptr(NmtHost) host = nmt_host_start_full (home, args, &options);
  g_autoptr(NmtHost) again = NULL;
  g_autofree char *big = repeat ("0123456789abcdef", 512 * 1024 / 16);
  g_autofree char *json = g_strdup_printf ("{\"id\":\"big\",\"op\":\"set\",\"items\":{\"big\":\"%s\",\"k\":2}}", big);
  cJSON *reply;

  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"small\":1}}");
  reply = nmt_host_call (host, json);
  assert_non_null (reply);
  nmt_assert_error (reply, "E_IO");
  nmt_assert_json (nmt_member (reply, "id"), "\"big\"");
  /* The message names the file that failed. (SQLite reports EFBIG as an
   * I/O error; only ENOSPC reads as "full".) */
  assert_non_null (strstr (nmt_member (nmt_member (reply, "error"), "message")->valuestring, "store.db"));
  cJSON_Delete (reply);

  /* Nothing of the failed write, everything before it, and the host goes
   * on writing what fits. */
  reply = nmt_host_call (host, "{\"op\":\"get\"}");
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "items"), "{\"small\":1}");
  cJSON_Delete (reply);
  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"after\":2}}");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);

  again = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (again, "{\"op\":\"get\"}");
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "items"), "{\"after\":2,\"small\":1}");
  cJSON_Delete (reply);
  nmt_host_close_input (again);
  assert_int_equal (nmt_host_wait (again), 0);
  nmt_remove_tree (home);
}

/* A database file that is not a database: the stored data failed its
 * check. */
static void
test_e_corrupt (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *dir = g_build_filename (home, "chromium-abcdefghijklmnopabcdefghijklmnop", NULL);
  g_autofree char *db = g_build_filename (dir, "store.db", NULL);
  g_autofree char *garbage = repeat ("this is not an SQLite database. ", 256);
  g_autoptr(NmtHost) host = NULL;

  assert_int_equal (g_mkdir (dir, 0700), 0);
  nmt_write_file (db, garbage);
  host = nmt_host_start (home, NMT_ORIGIN);
  expect_store_error (host, "E_CORRUPT");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_e_json, setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_e_request, setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_e_unknown_op, setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_e_key, setup, nmt_fixture_teardown),
    cmocka_unit_test (test_e_too_large),
    cmocka_unit_test_setup_teardown (test_request_at_limit, setup, nmt_fixture_teardown),
    cmocka_unit_test (test_e_quota),
    cmocka_unit_test (test_e_io_home_is_file),
    cmocka_unit_test (test_e_io_store_path_blocked),
    cmocka_unit_test (test_e_io_disk_full),
    cmocka_unit_test (test_e_corrupt),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
