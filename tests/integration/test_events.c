/* SPDX-License-Identifier: MIT */
/* test_events.c: change events over real pipes, from real host processes
 * and the command line: their exact shape, one per request, the writer's
 * own port, prefixes, and events too large for one message. */
#include "harness.h"

#include <string.h>

static void
assert_json_equal (const cJSON *actual, const char *expected_text)
{
  cJSON *expected = cJSON_Parse (expected_text);

  assert_non_null (expected);
  if (!cJSON_Compare (expected, actual, TRUE))
    {
      char *text = cJSON_PrintUnformatted (actual);
      fail_msg ("expected %s\n     got %s", expected_text, text);
    }
  cJSON_Delete (expected);
}

static void
call_ok (NmtHost *host, const char *json)
{
  cJSON *reply = nmt_host_call (host, json);

  nmt_assert_ok (reply);
  cJSON_Delete (reply);
}

/* The next message, which must arrive within 5 s and be an event. */
static cJSON *
next_event (NmtHost *host)
{
  cJSON *msg;

  assert_true (nmt_host_readable (host, 5000));
  msg = nmt_host_recv (host);
  assert_non_null (msg);
  assert_null (cJSON_GetObjectItemCaseSensitive (msg, "id"));
  assert_non_null (cJSON_GetObjectItemCaseSensitive (msg, "event"));
  return msg;
}

static void
expect_event (NmtHost *host, const char *expected)
{
  cJSON *event = next_event (host);

  assert_json_equal (event, expected);
  cJSON_Delete (event);
}

static void
test_shape_is_chromes (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) reader = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);

  call_ok (reader, "{\"id\":1,\"op\":\"subscribe\"}");

  call_ok (writer, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1,\"b\":{\"x\":[true,null]},\"c\":\"s\"}}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{"
                        "\"a\":{\"newValue\":1},\"b\":{\"newValue\":{\"x\":[true,null]}},\"c\":{\"newValue\":\"s\"}}}");

  /* A set that changes nothing sends nothing: the next event is the next
   * real change. */
  call_ok (writer, "{\"id\":2,\"op\":\"set\",\"items\":{\"a\":1,\"c\":\"s\"}}");
  call_ok (writer, "{\"id\":3,\"op\":\"set\",\"items\":{\"a\":1,\"c\":\"t\"}}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{"
                        "\"c\":{\"oldValue\":\"s\",\"newValue\":\"t\"}}}");

  call_ok (writer, "{\"id\":4,\"op\":\"remove\",\"keys\":[\"a\",\"nope\",\"b\"]}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{"
                        "\"a\":{\"oldValue\":1},\"b\":{\"oldValue\":{\"x\":[true,null]}}}}");

  call_ok (writer, "{\"id\":5,\"op\":\"set\",\"items\":{\"bin\":{\"$bytes\":\"AAEC\"},\"p:1\":1,\"p:2\":2}}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{"
                        "\"bin\":{\"newValue\":{\"$bytes\":\"AAEC\"}},\"p:1\":{\"newValue\":1},\"p:2\":{\"newValue\":2}}}");
  call_ok (writer, "{\"id\":6,\"op\":\"clear\",\"prefix\":\"p:\"}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{"
                        "\"p:1\":{\"oldValue\":1},\"p:2\":{\"oldValue\":2}}}");
  call_ok (writer, "{\"id\":7,\"op\":\"clear\"}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{"
                        "\"bin\":{\"oldValue\":{\"$bytes\":\"AAEC\"}},\"c\":{\"oldValue\":\"t\"}}}");

  /* A write that fails changes nothing and sends nothing. */
  {
    cJSON *reply = nmt_host_call (writer, "{\"id\":8,\"op\":\"set\",\"items\":{\"ok\":1,\"\\u0000\":2}}");
    nmt_assert_error (reply, "E_KEY");
    cJSON_Delete (reply);
  }
  call_ok (writer, "{\"id\":9,\"op\":\"set\",\"items\":{\"last\":\"\\u0000\"}}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"last\":{\"newValue\":\"\\u0000\"}}}");
  nmt_remove_tree (home);
}

/* The next event's exact text: member order counts. */
static void
expect_event_text (NmtHost *host, const char *expected)
{
  g_autofree char *text = NULL;
  gsize len;
  guint n_frames;

  assert_true (nmt_host_readable (host, 5000));
  text = nmt_host_recv_text (host, &len, &n_frames);
  assert_non_null (text);
  if (strcmp (text, expected) != 0)
    fail_msg ("expected the event\n  %s\ngot\n  %s", expected, text);
}

/* Chrome's onChanged, exactly: the changes object sorted by key, each
 * record with newValue before oldValue, values in their stored (sorted)
 * form; and no event for a set that leaves a value equal, even when its
 * members were sent in another order. */
static void
test_order_and_equal_values_are_chromes (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) reader = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);

  call_ok (reader, "{\"id\":1,\"op\":\"subscribe\"}");
  call_ok (writer, "{\"op\":\"set\",\"items\":{\"z\":1,\"a\":{\"x\":1,\"y\":2},\"m\":0.30000000000000004}}");
  expect_event_text (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{"
                             "\"a\":{\"newValue\":{\"x\":1,\"y\":2}},\"m\":{\"newValue\":0.30000000000000004},"
                             "\"z\":{\"newValue\":1}}}");
  /* Equal in Chrome: its dictionaries are sorted. No event. */
  call_ok (writer, "{\"op\":\"set\",\"items\":{\"a\":{\"y\":2,\"x\":1},\"m\":3.0000000000000004e-1}}");
  call_ok (writer, "{\"op\":\"set\",\"items\":{\"z\":2,\"a\":{\"y\":3,\"x\":1}}}");
  expect_event_text (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{"
                             "\"a\":{\"newValue\":{\"x\":1,\"y\":3},\"oldValue\":{\"x\":1,\"y\":2}},"
                             "\"z\":{\"newValue\":2,\"oldValue\":1}}}");
  /* The empty key is a key in the log too. */
  call_ok (writer, "{\"op\":\"set\",\"items\":{\"\":null}}");
  expect_event_text (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"\":{\"newValue\":null}}}");
  nmt_remove_tree (home);
}

/* The writer's own port gets its events after the reply, once subscribed,
 * and none after unsubscribing. */
static void
test_own_port (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  cJSON *reply;

  call_ok (host, "{\"id\":1,\"op\":\"set\",\"items\":{\"before\":1}}");
  /* One batch: replies first, in order, then the events of its writes.
   * The three frames go in one write, so that the host reads them as one
   * batch; sent one by one, it may serve the first two before the third
   * arrives, and then the event of x:1 rightly comes before reply 4. */
  {
    g_autoptr(GByteArray) frames = g_byte_array_new ();

    nmt_frame_append_str (frames, "{\"id\":2,\"op\":\"subscribe\"}");
    nmt_frame_append_str (frames, "{\"id\":3,\"op\":\"set\",\"items\":{\"x\":1}}");
    nmt_frame_append_str (frames, "{\"id\":4,\"op\":\"set\",\"items\":{\"x\":2}}");
    assert_true (nmt_host_send_raw (host, frames->data, frames->len));
  }
  for (int id = 2; id <= 4; id++)
    {
      reply = nmt_host_recv (host);
      nmt_assert_ok (reply);
      assert_int_equal (cJSON_GetObjectItem (reply, "id")->valueint, id);
      cJSON_Delete (reply);
    }
  expect_event (host, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"x\":{\"newValue\":1}}}");
  expect_event (host, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"x\":{\"oldValue\":1,\"newValue\":2}}}");

  call_ok (host, "{\"id\":5,\"op\":\"unsubscribe\"}");
  call_ok (host, "{\"id\":6,\"op\":\"set\",\"items\":{\"x\":3}}");
  reply = nmt_host_call (host, "{\"id\":7,\"op\":\"hello\"}");
  nmt_assert_ok (reply);  /* the reply, not an event for id 6 */
  assert_int_equal (cJSON_GetObjectItem (reply, "id")->valueint, 7);
  cJSON_Delete (reply);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

static void
test_cli_set_reaches_a_host (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) other = nmt_host_start (home, NMT_ORIGIN_2);
  const char *args[] = { "set", "--origin", NMT_ORIGIN, "from-cli", "{\"n\":1}", NULL };
  g_autofree char *out = NULL, *err = NULL;

  call_ok (host, "{\"id\":1,\"op\":\"subscribe\"}");
  call_ok (other, "{\"id\":1,\"op\":\"subscribe\"}");
  assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 0);
  expect_event (host, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"from-cli\":{\"newValue\":{\"n\":1}}}}");
  /* Another origin's store is another log: nothing arrives there. */
  assert_false (nmt_host_readable (other, 300));
  nmt_remove_tree (home);
}

/* A restore replaces every item at once: subscribers are told to re-read
 * (overflow), and the writes after it arrive as events again. */
static void
test_restore_means_reread (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *backup = g_build_filename (home, "backup.db", NULL);
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  const char *take[] = { "backup", "--origin", NMT_ORIGIN, backup, NULL };
  const char *put[] = { "restore", "--origin", NMT_ORIGIN, backup, NULL };
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;

  call_ok (host, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1}}");
  assert_int_equal (nmt_run_cli (home, take, NULL, &out, &err), 0);
  call_ok (host, "{\"id\":2,\"op\":\"set\",\"items\":{\"b\":2}}");
  call_ok (host, "{\"id\":3,\"op\":\"subscribe\"}");
  if (nmt_run_cli (home, put, NULL, &out2, &err2) != 0)
    fail_msg ("restore failed: %s", err2);
  expect_event (host, "{\"event\":\"overflow\"}");
  call_ok (host, "{\"id\":4,\"op\":\"set\",\"items\":{\"c\":3}}");
  expect_event (host, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"c\":{\"newValue\":3}}}");
  nmt_remove_tree (home);
}

static void
test_prefix (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) reader = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);

  call_ok (reader, "{\"id\":1,\"op\":\"subscribe\",\"prefix\":\"session:\"}");
  call_ok (writer, "{\"id\":1,\"op\":\"set\",\"items\":{\"x\":1,\"session:a\":2}}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"session:a\":{\"newValue\":2}}}");
  call_ok (writer, "{\"id\":2,\"op\":\"set\",\"items\":{\"x\":2}}");
  call_ok (writer, "{\"id\":3,\"op\":\"set\",\"items\":{\"session:b\":3}}");
  expect_event (reader, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"session:b\":{\"newValue\":3}}}");

  {
    cJSON *reply = nmt_host_call (reader, "{\"id\":2,\"op\":\"subscribe\",\"prefix\":5}");
    nmt_assert_error (reply, "E_REQUEST");
    cJSON_Delete (reply);
  }
  nmt_remove_tree (home);
}

/* An event over 1 MiB comes as chunk frames marked as an event's, whose
 * parts make the event's text. */
static void
test_large_event_is_chunked (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) reader = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);
  gsize big = 1536 * 1024;
  g_autofree char *value = g_strnfill (big, 'v');
  g_autofree char *request = g_strdup_printf ("{\"id\":1,\"op\":\"set\",\"items\":{\"big\":\"%s\"}}", value);
  g_autoptr(GString) whole = g_string_new (NULL);
  int i, n = 0;
  cJSON *event, *changes;

  call_ok (reader, "{\"id\":1,\"op\":\"subscribe\"}");
  call_ok (writer, request);
  assert_true (nmt_host_readable (reader, 5000));
  for (i = 0; i == 0 || i < n; i++)
    {
      g_autofree char *frame = nmt_host_recv_frame (reader, NULL);
      cJSON *chunk = cJSON_Parse (frame);

      assert_non_null (chunk);
      assert_true (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (chunk, "id")));
      assert_string_equal (cJSON_GetObjectItemCaseSensitive (chunk, "event")->valuestring, "changed");
      assert_int_equal (cJSON_GetObjectItemCaseSensitive (chunk, "chunk")->valueint, i);
      n = cJSON_GetObjectItemCaseSensitive (chunk, "chunks")->valueint;
      assert_true (n >= 2);
      g_string_append (whole, cJSON_GetObjectItemCaseSensitive (chunk, "part")->valuestring);
      cJSON_Delete (chunk);
    }
  event = cJSON_Parse (whole->str);
  assert_non_null (event);
  assert_string_equal (cJSON_GetObjectItem (event, "event")->valuestring, "changed");
  changes = cJSON_GetObjectItem (event, "changes");
  assert_int_equal (strlen (cJSON_GetObjectItem (cJSON_GetObjectItem (changes, "big"), "newValue")->valuestring), big);
  cJSON_Delete (event);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_shape_is_chromes),
    cmocka_unit_test (test_order_and_equal_values_are_chromes),
    cmocka_unit_test (test_own_port),
    cmocka_unit_test (test_cli_set_reaches_a_host),
    cmocka_unit_test (test_restore_means_reread),
    cmocka_unit_test (test_prefix),
    cmocka_unit_test (test_large_event_is_chunked),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
