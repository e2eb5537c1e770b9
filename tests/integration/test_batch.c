/* SPDX-License-Identifier: MIT */
/* test_batch.c: the batch op through the real host over pipes: its
 * replies in order, each request's own error, atomicity per request inside
 * one transaction, a reply over 1 MiB in chunks, change events for its
 * writes, and its limits. */
#include "harness.h"

#include <string.h>

/* {"id":ID,"op":"batch","requests":[R1,...]} from the requests' texts. */
static char *
batch_text (const char *id_json, const char *const *requests, gsize n)
{
  GString *out = g_string_new (NULL);
  gsize i;

  g_string_printf (out, "{\"id\":%s,\"op\":\"batch\",\"requests\":[", id_json);
  for (i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append (out, requests[i]);
    }
  g_string_append (out, "]}");
  return g_string_free (out, FALSE);
}

/* Sends a batch that must succeed and returns its "replies", checked to
 * hold one reply per request. */
static cJSON *
call_batch (NmtHost *host, const char *const *requests, gsize n)
{
  g_autofree char *text = batch_text ("\"b\"", requests, n);
  cJSON *reply = nmt_host_call (host, text);
  cJSON *replies;

  assert_non_null (reply);
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "id"), "\"b\"");
  replies = cJSON_DetachItemFromObjectCaseSensitive (reply, "replies");
  assert_true (cJSON_IsArray (replies));
  assert_int_equal (cJSON_GetArraySize (replies), n);
  cJSON_Delete (reply);
  return replies;
}

static const cJSON *
reply_at (const cJSON *replies, int i)
{
  const cJSON *reply = cJSON_GetArrayItem (replies, i);

  assert_non_null (reply);
  return reply;
}

static void
test_order_and_own_errors (void **state)
{
  NmtFixture *f = *state;
  static const char *const requests[] = {
    "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1,\"b\":\"two\"}}",
    "{\"id\":\"g\",\"op\":\"get\",\"keys\":[\"b\",\"a\"]}",
    "{\"op\":\"set\",\"items\":{\"bad\\u0000key\":1}}",           /* E_KEY */
    "{\"id\":3,\"op\":\"frobnicate\"}",                           /* E_UNKNOWN_OP */
    "{\"id\":4,\"op\":\"remove\",\"keys\":5}",                    /* E_REQUEST */
    "{\"id\":5,\"op\":\"hello\"}",                                /* refused */
    "{\"id\":6,\"op\":\"set\",\"items\":{\"c\":[3]}}",
    "{\"id\":7,\"op\":\"flush\"}",                                /* a barrier inside */
    "{\"id\":8,\"op\":\"get\"}",
    "{\"id\":9,\"op\":\"getKeys\"}",
    "{\"id\":10,\"op\":\"getBytesInUse\",\"keys\":\"a\"}",
  };
  cJSON *replies = call_batch (f->host, requests, G_N_ELEMENTS (requests));

  nmt_assert_json (reply_at (replies, 0), "{\"id\":1,\"ok\":true}");
  /* A later request sees an earlier one's write. */
  nmt_assert_json (reply_at (replies, 1), "{\"id\":\"g\",\"ok\":true,\"items\":{\"a\":1,\"b\":\"two\"}}");
  nmt_assert_error (reply_at (replies, 2), "E_KEY");
  nmt_assert_json (nmt_member (reply_at (replies, 2), "id"), "null");
  nmt_assert_error (reply_at (replies, 3), "E_UNKNOWN_OP");
  nmt_assert_json (nmt_member (reply_at (replies, 3), "id"), "3");
  nmt_assert_error (reply_at (replies, 4), "E_REQUEST");
  nmt_assert_json (nmt_member (reply_at (replies, 4), "id"), "4");
  nmt_assert_error (reply_at (replies, 5), "E_REQUEST");
  assert_non_null (strstr (nmt_member (nmt_member (reply_at (replies, 5), "error"), "message")->valuestring,
                           "on its own"));
  nmt_assert_json (reply_at (replies, 6), "{\"id\":6,\"ok\":true}");
  nmt_assert_json (reply_at (replies, 7), "{\"id\":7,\"ok\":true}");
  nmt_assert_json (reply_at (replies, 8), "{\"id\":8,\"ok\":true,\"items\":{\"a\":1,\"b\":\"two\",\"c\":[3]}}");
  nmt_assert_json (reply_at (replies, 9), "{\"id\":9,\"ok\":true,\"keys\":[\"a\",\"b\",\"c\"]}");
  nmt_assert_json (reply_at (replies, 10), "{\"id\":10,\"ok\":true,\"bytes\":2}");
  cJSON_Delete (replies);

  /* The batch's writes are there for the next request. */
  nmt_assert_items (f->host, "{\"a\":1,\"b\":\"two\",\"c\":[3]}");
}

/* Frames sent in one write, a batch among them, get their replies in
 * order, and a standalone request after the batch sees its writes. */
static void
test_between_frames (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GByteArray) frames = g_byte_array_new ();
  cJSON *reply;

  nmt_frame_append_str (frames, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1}}");
  nmt_frame_append_str (frames, "{\"id\":2,\"op\":\"batch\",\"requests\":[{\"op\":\"get\",\"keys\":\"a\"},"
                                "{\"op\":\"set\",\"items\":{\"b\":2}}]}");
  nmt_frame_append_str (frames, "{\"id\":3,\"op\":\"get\"}");
  assert_true (nmt_host_send_raw (f->host, frames->data, frames->len));

  reply = nmt_host_recv (f->host);
  nmt_assert_json (reply, "{\"id\":1,\"ok\":true}");
  cJSON_Delete (reply);
  reply = nmt_host_recv (f->host);
  nmt_assert_json (reply, "{\"id\":2,\"ok\":true,\"replies\":[{\"id\":null,\"ok\":true,\"items\":{\"a\":1}},"
                          "{\"id\":null,\"ok\":true}]}");
  cJSON_Delete (reply);
  reply = nmt_host_recv (f->host);
  nmt_assert_json (reply, "{\"id\":3,\"ok\":true,\"items\":{\"a\":1,\"b\":2}}");
  cJSON_Delete (reply);
}

/* A failing write inside a batch changes nothing of its own and undoes
 * nothing of the others. */
static void
test_atomic_per_request (void **state)
{
  NmtFixture *f = *state;
  static const char *const requests[] = {
    "{\"op\":\"set\",\"items\":{\"x\":1}}",
    "{\"op\":\"set\",\"items\":{\"x\":2,\"y\":2,\"\":{\"bad\\u0000\":1},\"z\\u0000\":2}}",
    "{\"op\":\"set\",\"items\":{\"w\":3}}",
    "{\"op\":\"remove\",\"keys\":[\"w\",\"bad\\u0000\"]}",
  };
  cJSON *replies = call_batch (f->host, requests, G_N_ELEMENTS (requests));

  nmt_assert_ok (reply_at (replies, 0));
  nmt_assert_error (reply_at (replies, 1), "E_KEY");
  nmt_assert_ok (reply_at (replies, 2));
  nmt_assert_error (reply_at (replies, 3), "E_KEY");
  cJSON_Delete (replies);
  nmt_assert_items (f->host, "{\"w\":3,\"x\":1}");
}

static void
test_quota_inside (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = NULL;
  g_autofree char *big = g_strnfill (200, 'v');
  g_autofree char *over = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"big\":\"%s\"}}", big);
  const char *requests[] = {
    "{\"op\":\"set\",\"items\":{\"a\":1}}",
    over,
    "{\"op\":\"set\",\"items\":{\"c\":3}}",
  };
  cJSON *replies;

  nmt_write_config (home, "[store]\nquota_bytes = 100\n");
  host = nmt_host_start (home, NMT_ORIGIN);
  replies = call_batch (host, requests, G_N_ELEMENTS (requests));
  nmt_assert_ok (reply_at (replies, 0));
  nmt_assert_error (reply_at (replies, 1), "E_QUOTA");
  nmt_assert_ok (reply_at (replies, 2));
  cJSON_Delete (replies);
  nmt_assert_items (host, "{\"a\":1,\"c\":3}");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

/* A batch whose reply is over 1 MiB comes as chunks that join to exactly
 * the replies each request gets alone, in the batch's envelope. */
static void
test_chunked_reply (void **state)
{
  NmtFixture *f = *state;
  g_autofree char *value = g_strnfill (300 * 1024, 'v');
  const char *requests[] = {
    "{\"id\":1,\"op\":\"get\",\"keys\":\"k0\"}",
    "{\"id\":2,\"op\":\"get\",\"keys\":[\"k1\",\"k2\"]}",
    "{\"id\":3,\"op\":\"getKeys\"}",
    "{\"id\":4,\"op\":\"get\",\"keys\":\"k3\"}",
    "{\"id\":5,\"op\":\"get\",\"keys\":\"none\"}",
  };
  g_autoptr(GString) expected = g_string_new ("{\"id\":\"b\",\"ok\":true,\"replies\":[");
  g_autofree char *batch = NULL, *text = NULL;
  gsize i, len;
  guint frames;

  for (i = 0; i < 4; i++)
    {
      g_autofree char *set = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"k%" G_GSIZE_FORMAT "\":\"%s\"}}", i, value);
      nmt_host_call_ok (f->host, set);
    }
  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      g_autofree char *alone = NULL;

      assert_true (nmt_host_send (f->host, requests[i]));
      alone = nmt_host_recv_text (f->host, &len, NULL);
      assert_non_null (alone);
      if (i > 0)
        g_string_append_c (expected, ',');
      g_string_append_len (expected, alone, (gssize) len);
    }
  g_string_append (expected, "]}");

  batch = batch_text ("\"b\"", requests, G_N_ELEMENTS (requests));
  assert_true (nmt_host_send (f->host, batch));
  text = nmt_host_recv_text (f->host, &len, &frames);
  assert_non_null (text);
  assert_true (frames >= 2);
  assert_int_equal (len, expected->len);
  assert_memory_equal (text, expected->str, len);
}

/* A subscribed second host sees the batch's writes as change events, one
 * per write request, in order; the batch's reads and failures send none. */
static void
test_events (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) reader = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);
  static const char *const requests[] = {
    "{\"op\":\"set\",\"items\":{\"a\":1}}",
    "{\"op\":\"get\"}",
    "{\"op\":\"set\",\"items\":{\"b\":2,\"c\":3}}",
    "{\"op\":\"set\",\"items\":{\"x\\u0000\":1}}",
    "{\"op\":\"remove\",\"keys\":\"a\"}",
  };
  static const char *const expected[] = {
    "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"a\":{\"newValue\":1}}}",
    "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"b\":{\"newValue\":2},\"c\":{\"newValue\":3}}}",
    "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"a\":{\"oldValue\":1}}}",
  };
  cJSON *reply;
  gsize i;

  nmt_host_call_ok (reader, "{\"id\":1,\"op\":\"subscribe\"}");
  reply = nmt_host_call (writer, "{\"id\":2,\"op\":\"batch\",\"requests\":[{\"op\":\"subscribe\"}]}");
  nmt_assert_ok (reply);
  nmt_assert_error (reply_at (nmt_member (reply, "replies"), 0), "E_REQUEST");
  cJSON_Delete (reply);

  cJSON_Delete (call_batch (writer, requests, G_N_ELEMENTS (requests)));
  for (i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      cJSON *event;

      assert_true (nmt_host_readable (reader, 5000));
      event = nmt_host_recv (reader);
      nmt_assert_json (event, expected[i]);
      cJSON_Delete (event);
    }
  /* Nothing more: the next message is the reply to this request. */
  reply = nmt_host_call (reader, "{\"id\":9,\"op\":\"getKeys\"}");
  nmt_assert_json (reply, "{\"id\":9,\"ok\":true,\"keys\":[\"b\",\"c\"]}");
  cJSON_Delete (reply);

  nmt_host_close_input (writer);
  assert_int_equal (nmt_host_wait (writer), 0);
  nmt_host_close_input (reader);
  assert_int_equal (nmt_host_wait (reader), 0);
  nmt_remove_tree (home);
}

/* Replies held past 64 MiB stop the batch: the requests not yet run are
 * refused with E_TOO_LARGE, writes included, so that what ran is a prefix
 * of the batch. */
static void
test_held_replies_bounded (void **state)
{
  NmtFixture *f = *state;
  g_autofree char *value = g_strnfill (35 * 1024 * 1024, 'v');
  static const char *const requests[] = {
    "{\"id\":1,\"op\":\"get\",\"keys\":\"k0\"}",
    "{\"id\":2,\"op\":\"get\",\"keys\":\"k1\"}",
    "{\"id\":3,\"op\":\"getKeys\"}",
    "{\"id\":4,\"op\":\"set\",\"items\":{\"z\":1}}",
  };
  cJSON *replies;
  gsize i;

  for (i = 0; i < 2; i++)
    {
      g_autofree char *set = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"k%" G_GSIZE_FORMAT "\":\"%s\"}}", i, value);
      nmt_host_call_ok (f->host, set);
    }
  replies = call_batch (f->host, requests, G_N_ELEMENTS (requests));
  nmt_assert_ok (reply_at (replies, 0));
  nmt_assert_ok (reply_at (replies, 1));
  nmt_assert_error (reply_at (replies, 2), "E_TOO_LARGE");
  nmt_assert_error (reply_at (replies, 3), "E_TOO_LARGE");
  cJSON_Delete (replies);
  replies = nmt_host_call (f->host, "{\"op\":\"getKeys\"}");
  nmt_assert_json (nmt_member (replies, "keys"), "[\"k0\",\"k1\"]");
  cJSON_Delete (replies);
}

static void
assert_batch_refused (NmtHost *host, const char *request, const char *message_part)
{
  cJSON *reply = nmt_host_call (host, request);

  assert_non_null (reply);
  nmt_assert_error (reply, "E_REQUEST");
  nmt_assert_json (nmt_member (reply, "id"), "\"no\"");
  assert_null (cJSON_GetObjectItemCaseSensitive (reply, "replies"));
  if (strstr (nmt_member (nmt_member (reply, "error"), "message")->valuestring, message_part) == NULL)
    fail_msg ("the message \"%s\" does not say \"%s\"",
              nmt_member (nmt_member (reply, "error"), "message")->valuestring, message_part);
  cJSON_Delete (reply);
}

/* The outer request fails only when it is no batch at all. */
static void
test_limits (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GPtrArray) many = g_ptr_array_new ();
  g_autofree char *too_many = NULL;
  cJSON *replies;
  gsize i;

  assert_batch_refused (f->host, "{\"id\":\"no\",\"op\":\"batch\"}", "missing");
  assert_batch_refused (f->host, "{\"id\":\"no\",\"op\":\"batch\",\"requests\":null}", "missing");
  assert_batch_refused (f->host, "{\"id\":\"no\",\"op\":\"batch\",\"requests\":{\"op\":\"get\"}}", "array");
  assert_batch_refused (f->host, "{\"id\":\"no\",\"op\":\"batch\",\"requests\":\"get\"}", "array");
  assert_batch_refused (f->host, "{\"id\":\"no\",\"op\":\"batch\",\"requests\":[]}", "empty");
  /* A non-object entry fails the whole batch, and nothing of it runs. */
  assert_batch_refused (f->host, "{\"id\":\"no\",\"op\":\"batch\",\"requests\":"
                                 "[{\"op\":\"set\",\"items\":{\"q\":1}},5]}", "entry 1");
  assert_batch_refused (f->host, "{\"id\":\"no\",\"op\":\"batch\",\"requests\":"
                                 "[{\"op\":\"set\",\"items\":{\"q\":1}},[{\"op\":\"get\"}]]}", "not an object");
  nmt_assert_items (f->host, "{}");

  for (i = 0; i < 1001; i++)
    g_ptr_array_add (many, (gpointer) "{\"op\":\"set\",\"items\":{\"n\":1}}");
  too_many = batch_text ("\"no\"", (const char *const *) many->pdata, 1001);
  assert_batch_refused (f->host, too_many, "more than 1000");
  nmt_assert_items (f->host, "{}");
  replies = call_batch (f->host, (const char *const *) many->pdata, 1000);
  for (i = 0; i < 1000; i++)
    nmt_assert_ok (reply_at (replies, (int) i));
  cJSON_Delete (replies);

  /* Nested batches, and the ops that must come alone, fail in their own
   * slot only. */
  {
    static const char *const requests[] = {
      "{\"id\":1,\"op\":\"batch\",\"requests\":[{\"op\":\"getKeys\"}]}",
      "{\"id\":2,\"op\":\"hello\"}",
      "{\"id\":3,\"op\":\"unlock\",\"passphrase\":\"secret\"}",
      "{\"id\":4,\"op\":\"subscribe\"}",
      "{\"id\":5,\"op\":\"unsubscribe\"}",
      "{\"id\":6,\"op\":\"getKeys\"}",
    };

    replies = call_batch (f->host, requests, G_N_ELEMENTS (requests));
    for (i = 0; i < 5; i++)
      {
        g_autofree char *id = g_strdup_printf ("%" G_GSIZE_FORMAT, i + 1);

        nmt_assert_error (reply_at (replies, (int) i), "E_REQUEST");
        nmt_assert_json (nmt_member (reply_at (replies, (int) i), "id"), id);
      }
    nmt_assert_json (reply_at (replies, 5), "{\"id\":6,\"ok\":true,\"keys\":[\"n\"]}");
    cJSON_Delete (replies);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_order_and_own_errors, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_between_frames, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_atomic_per_request, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test (test_quota_inside),
    cmocka_unit_test_setup_teardown (test_chunked_reply, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test (test_events),
    cmocka_unit_test_setup_teardown (test_held_replies_bounded, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_limits, nmt_fixture_setup, nmt_fixture_teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
