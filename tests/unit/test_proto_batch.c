/* SPDX-License-Identifier: MIT */
/* test_proto_batch.c: the batch op and the requests that arrive together,
 * in process (tests/common/protocheck.c): each entry's reply as it would
 * be alone, each entry's own error and atomicity, quotas and barriers
 * inside a batch, the transactions frames are served in, and two
 * protocols over one data root. */
#include "harness.h"
#include "protocheck.h"

#include "base/error.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "wire/frame.h"

#include <string.h>

typedef NmtProtoFixture Fixture;

/* ---- batches ---------------------------------------------------------- */

static void
test_replies_in_order_one_each (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(NmtReplies) r = NULL;
  guint i;

  for (i = 0; i < 60; i++)
    switch (i % 6)
      {
      case 0: g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"set\",\"items\":{\"k%u\":%u}}", i, i, i)); break;
      case 1: g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"keys\":\"k%u\"}", i, i - 1)); break;
      case 2: g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"nope\"}", i)); break;
      case 3: g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"getKeys\"}", i)); break;
      case 4: g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"set\",\"items\":{\"\\u0000\":1}}", i)); break;
      default: g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"hello\"}", i)); break;
      }
  r = nmt_proto_run (f->proto, (const char *const *) requests->pdata, requests->len);
  for (i = 0; i < r->texts->len; i++)
    {
      cJSON *reply = nmt_proto_parse_reply (r->texts->pdata[i]);
      g_autofree char *id = g_strdup_printf ("%u", i);

      nmt_proto_assert_id (reply, id);
      assert_string_equal (r->ids->pdata[i], id);
      switch (i % 6)
        {
        case 2: nmt_proto_assert_error (reply, "E_UNKNOWN_OP"); break;
        case 4: nmt_proto_assert_error (reply, "E_KEY"); break;
        default: nmt_proto_assert_ok (reply); break;
        }
      if (i % 6 == 1)
        {
          g_autofree char *want = g_strdup_printf ("{\"k%u\":%u}", i - 1, i - 1);
          cJSON *w = cJSON_Parse (want);
          assert_true (cJSON_Compare (cJSON_GetObjectItemCaseSensitive (reply, "items"), w, TRUE));
          cJSON_Delete (w);
        }
      cJSON_Delete (reply);
    }
}

static void
test_batch_mixing_good_and_bad (void **state)
{
  Fixture *f = *state;
  const char *requests[] = {
    "{\"id\":0,\"op\":\"set\",\"items\":{\"a\":1}}",
    "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":",
    "{\"id\":2,\"op\":\"set\",\"items\":{\"b\":2,\"a\\u0000\":3}}",
    "{\"id\":3,\"op\":\"get\",\"keys\":[\"a\",\"b\"]}",
    "[\"not\",\"an\",\"object\"]",
    "{\"id\":5,\"op\":\"frobnicate\"}",
    "{\"id\":6,\"op\":\"set\",\"items\":{\"c\":3}}",
    "{\"id\":7,\"op\":\"remove\"}",
    "{\"id\":8,\"op\":\"remove\",\"keys\":\"a\"}",
    "{\"id\":9,\"op\":\"get\"}",
  };
  g_autoptr(NmtReplies) r = nmt_proto_run (f->proto, requests, G_N_ELEMENTS (requests));
  cJSON *replies[G_N_ELEMENTS (requests)];
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    replies[i] = nmt_proto_parse_reply (r->texts->pdata[i]);
  nmt_proto_assert_ok (replies[0]);
  nmt_proto_assert_error (replies[1], "E_JSON");
  nmt_proto_assert_id (replies[1], "null");
  nmt_proto_assert_error (replies[2], "E_KEY");
  nmt_proto_assert_id (replies[2], "2");
  nmt_proto_assert_ok (replies[3]);
  assert_true (cJSON_GetArraySize (cJSON_GetObjectItemCaseSensitive (replies[3], "items")) == 1);
  nmt_proto_assert_error (replies[4], "E_REQUEST");
  nmt_proto_assert_error (replies[5], "E_UNKNOWN_OP");
  nmt_proto_assert_id (replies[5], "5");
  nmt_proto_assert_ok (replies[6]);
  nmt_proto_assert_error (replies[7], "E_REQUEST");
  nmt_proto_assert_id (replies[7], "7");
  nmt_proto_assert_ok (replies[8]);
  nmt_proto_assert_ok (replies[9]);
  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    cJSON_Delete (replies[i]);

  /* What the batch committed: a set then removed, b never, c set. */
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{\"c\":3}");
}

static void
test_flush_in_the_middle (void **state)
{
  Fixture *f = *state;
  const char *requests[] = {
    "{\"id\":0,\"op\":\"set\",\"items\":{\"x\":1}}",
    "{\"id\":1,\"op\":\"flush\"}",
    "{\"id\":2,\"op\":\"set\",\"items\":{\"y\":2}}",
    "{\"id\":3,\"op\":\"get\",\"keys\":[\"x\",\"y\"]}",
    "{\"id\":4,\"op\":\"flush\"}",
    "{\"id\":5,\"op\":\"flush\"}",
    "{\"id\":6,\"op\":\"remove\",\"keys\":\"x\"}",
    "{\"id\":7,\"op\":\"get\"}",
  };
  g_autoptr(NmtReplies) r = nmt_proto_run (f->proto, requests, G_N_ELEMENTS (requests));
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      cJSON *reply = nmt_proto_parse_reply (r->texts->pdata[i]);
      g_autofree char *id = g_strdup_printf ("%" G_GSIZE_FORMAT, i);

      nmt_proto_assert_ok (reply);
      nmt_proto_assert_id (reply, id);
      if (i == 3)
        {
          cJSON *want = cJSON_Parse ("{\"x\":1,\"y\":2}");
          assert_true (cJSON_Compare (cJSON_GetObjectItemCaseSensitive (reply, "items"), want, TRUE));
          cJSON_Delete (want);
        }
      if (i == 7)
        {
          cJSON *want = cJSON_Parse ("{\"y\":2}");
          assert_true (cJSON_Compare (cJSON_GetObjectItemCaseSensitive (reply, "items"), want, TRUE));
          cJSON_Delete (want);
        }
      cJSON_Delete (reply);
    }
}

static void
test_quota_in_batch (void **state)
{
  Fixture *f = nmt_proto_fixture_new (40);
  const char *requests[] = {
    "{\"id\":0,\"op\":\"set\",\"items\":{\"a\":\"0123456789\"}}",
    "{\"id\":1,\"op\":\"set\",\"items\":{\"small\":1,\"big\":\"0123456789012345678901234567890123456789\"}}",
    "{\"id\":2,\"op\":\"set\",\"items\":{\"b\":2}}",
  };
  g_autoptr(NmtReplies) r = nmt_proto_run (f->proto, requests, G_N_ELEMENTS (requests));
  cJSON *r0 = nmt_proto_parse_reply (r->texts->pdata[0]);
  cJSON *r1 = nmt_proto_parse_reply (r->texts->pdata[1]);
  cJSON *r2 = nmt_proto_parse_reply (r->texts->pdata[2]);

  nmt_proto_assert_ok (r0);
  nmt_proto_assert_error (r1, "E_QUOTA");
  nmt_proto_assert_id (r1, "1");
  nmt_proto_assert_ok (r2);
  /* Nothing of the failed set; everything of the others. */
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{\"a\":\"0123456789\",\"b\":2}");
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, NULL), 13 + 2);
  cJSON_Delete (r0);
  cJSON_Delete (r1);
  cJSON_Delete (r2);
  nmt_proto_fixture_free (f);
}

static void
test_set_is_atomic (void **state)
{
  Fixture *f = *state;
  g_autofree char *long_key = g_strnfill (NMS_STORE_MAX_KEY_BYTES + 1, 'k');
  g_autofree char *request = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"good\":1,\"%s\":2}}", long_key);

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"old\":0}}");
  nmt_proto_call_error (f->proto, "{\"op\":\"set\",\"items\":{\"good\":1,\"\\u0000\":2}}", "E_KEY");
  nmt_proto_call_error (f->proto, request, "E_KEY");
  nmt_proto_call_error (f->proto, "{\"op\":\"remove\",\"keys\":[\"old\",\"\\u0000\"]}", "E_KEY");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{\"old\":0}");
}

static void
test_second_proto_sees_data (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsProto) other = nms_proto_new (f->config, f->origin);

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"shared\":\"yes\"}}");
  nmt_proto_assert_items (other, "{\"op\":\"get\"}", "{\"shared\":\"yes\"}");
  nmt_proto_call_ok (other, "{\"op\":\"remove\",\"keys\":\"shared\"}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{}");
}

static void
test_origins_isolated (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsOrigin) origin2 = nms_origin_parse (NMT_ORIGIN_2, NULL);
  g_autoptr(NmsProto) other = NULL;

  assert_non_null (origin2);
  other = nms_proto_new (f->config, origin2);
  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"mine\":1}}");
  nmt_proto_assert_items (other, "{\"op\":\"get\"}", "{}");
  nmt_proto_call_ok (other, "{\"op\":\"clear\"}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{\"mine\":1}");
}

static void
test_large_get (void **state)
{
  Fixture *f = *state;
  const gsize value_len = 1024u * 1024u;
  g_autofree char *value = g_strnfill (value_len, 'v');
  g_autofree char *text = NULL;
  cJSON *reply;
  const cJSON *items, *item;
  guint i, n = 0;

  for (i = 0; i < 10; i++)
    {
      g_autofree char *request = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"big%u\":\"%s\"}}", i, value);
      nmt_proto_call_ok (f->proto, request);
    }
  text = nmt_proto_call_text (f->proto, "{\"id\":1,\"op\":\"get\"}");
  assert_true (strlen (text) > 10 * value_len);
  reply = nmt_proto_parse_reply (text);
  nmt_proto_assert_ok (reply);
  items = cJSON_GetObjectItemCaseSensitive (reply, "items");
  cJSON_ArrayForEach (item, items)
    {
      assert_true (cJSON_IsString (item));
      assert_int_equal (strlen (item->valuestring), value_len);
      n++;
    }
  assert_int_equal (n, 10);
  cJSON_Delete (reply);
}

/* Frames that arrive together are served in groups of 32 requests, a
 * batch's entries counted each, and the first frame always whole: each
 * group's replies go out once it committed, while the next group runs. */
static gsize
serve_some (NmsProto *proto, GPtrArray *texts, gsize from, NmtReplies *r)
{
  g_autofree NmsProtoInput *inputs = g_new0 (NmsProtoInput, texts->len);
  gsize i, before = r->texts->len, served;

  for (i = from; i < texts->len; i++)
    {
      inputs[i].data = texts->pdata[i];
      inputs[i].len = strlen (texts->pdata[i]);
    }
  served = nms_proto_handle_batch (proto, inputs + from, texts->len - from, nmt_proto_emit, r);
  /* One reply for each frame it served, and none for the others. */
  assert_int_equal (r->texts->len - before, served);
  return served;
}

static char *
batch_of_gets (guint n)
{
  GString *batch = g_string_new ("{\"op\":\"batch\",\"requests\":[");
  guint i;

  for (i = 0; i < n; i++)
    g_string_append_printf (batch, "%s{\"id\":%u,\"op\":\"get\",\"keys\":\"k\"}", i ? "," : "", i);
  g_string_append (batch, "]}");
  return g_string_free (batch, FALSE);
}

static void
test_served_in_groups (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmtReplies) r = g_new0 (NmtReplies, 1);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  guint i;

  r->ids = g_ptr_array_new_with_free_func (g_free);
  r->texts = g_ptr_array_new_with_free_func (g_free);

  for (i = 0; i < 40; i++)
    g_ptr_array_add (texts, g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"keys\":\"k\"}", i));
  assert_int_equal (serve_some (f->proto, texts, 0, r), 32);
  assert_int_equal (serve_some (f->proto, texts, 32, r), 8);
  assert_string_equal (r->ids->pdata[39], "39");

  /* A batch of 40 closes the group it is in; one of 20 does not. */
  g_ptr_array_set_size (texts, 0);
  g_ptr_array_add (texts, g_strdup ("{\"id\":\"a\",\"op\":\"get\"}"));
  g_ptr_array_add (texts, batch_of_gets (40));
  g_ptr_array_add (texts, g_strdup ("{\"id\":\"b\",\"op\":\"get\"}"));
  g_ptr_array_add (texts, batch_of_gets (20));
  g_ptr_array_add (texts, batch_of_gets (20));
  assert_int_equal (serve_some (f->proto, texts, 0, r), 2);
  assert_int_equal (serve_some (f->proto, texts, 2, r), 3);
  assert_string_equal (r->ids->pdata[r->ids->len - 3], "\"b\"");

  /* The first frame is served whatever it holds. */
  g_ptr_array_set_size (texts, 0);
  g_ptr_array_add (texts, batch_of_gets (1000));
  g_ptr_array_add (texts, batch_of_gets (2));
  assert_int_equal (serve_some (f->proto, texts, 0, r), 1);
  assert_int_equal (serve_some (f->proto, texts, 1, r), 1);
}

/* Each of a batch's replies is, byte for byte, the reply its request gets
 * alone: the same requests run one by one on a second fresh store. */
static void
test_batch_replies_are_standalone (void **state)
{
  Fixture *f = *state;
  Fixture *alone = nmt_proto_fixture_new (0);
  static const char *const requests[] = {
    "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1.50,\"b\":{\"z\":1,\"y\":[\"\\u0000\",1e21]},\"c\":{\"$bytes\":\"AAEC\"}}}",
    "{\"id\":\"g\",\"op\":\"get\",\"keys\":[\"c\",\"b\",\"a\",\"none\"]}",
    "{\"op\":\"get\",\"keys\":{\"b\":{\"x\":2},\"d\":[]}}",
    "{\"id\":2.5,\"op\":\"getKeys\",\"prefix\":\"\"}",
    "{\"id\":3,\"op\":\"remove\",\"keys\":5}",
    "{\"id\":4,\"op\":\"nope\"}",
    "{\"id\":5,\"op\":\"set\",\"items\":{\"x\\u0000\":1}}",
    "{\"id\":6,\"op\":\"get\",\"id\":7}",
    "{\"id\":[1],\"op\":\"get\"}",
    "{\"id\":8,\"op\":\"getBytesInUse\",\"keys\":[\"a\",\"b\"]}",
    "{\"id\":9,\"op\":\"flush\"}",
    "{\"id\":10,\"op\":\"remove\",\"keys\":[\"a\"]}",
    "{\"id\":11,\"op\":\"get\"}",
  };
  g_autoptr(GString) batch = g_string_new ("{\"id\":\"b\",\"op\":\"batch\",\"requests\":[");
  g_autoptr(GString) expected = g_string_new ("{\"id\":\"b\",\"ok\":true,\"replies\":[");
  g_autofree char *got = NULL;
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      g_autofree char *text = nmt_proto_call_text (alone->proto, requests[i]);

      g_string_append (batch, i > 0 ? ", " : "");
      g_string_append (batch, requests[i]);
      g_string_append (expected, i > 0 ? "," : "");
      g_string_append (expected, text);
    }
  g_string_append (batch, "]}");
  g_string_append (expected, "]}");
  got = nmt_proto_call_text (f->proto, batch->str);
  assert_string_equal (got, expected->str);
  nmt_proto_fixture_free (alone);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_replies_in_order_one_each, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_batch_mixing_good_and_bad, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_flush_in_the_middle, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test (test_quota_in_batch),
    cmocka_unit_test_setup_teardown (test_set_is_atomic, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_second_proto_sees_data, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_origins_isolated, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_large_get, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_served_in_groups, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_batch_replies_are_standalone, nmt_proto_setup, nmt_proto_teardown),
  };

  /* Warnings the module logs on purpose (a store that cannot open) are not
   * failures here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  /* As main() does: the unlock op keeps a passphrase in sodium_malloc memory. */
  assert_true (nms_crypto_init (NULL));
  return cmocka_run_group_tests (tests, NULL, NULL);
}
