/* SPDX-License-Identifier: MIT */
/* test_proto_errors.c: the protocol's error codes, in process (tests/
 * common/protocheck.c): each with the reply shape and a message a person
 * can act on, and the edges of the JSON a browser can send (NUL escapes,
 * $bytes, duplicates, depth, numbers). */
#include "harness.h"
#include "protocheck.h"

#include "base/error.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "wire/frame.h"

#include <string.h>

typedef NmtProtoFixture Fixture;

/* ---- errors ----------------------------------------------------------- */

static void
test_error_json (void **state)
{
  Fixture *f = *state;
  const char *texts[] = {
    "{", "}", "not json", "{\"op\":\"hello\",}", "{'op':'hello'}", "{\"op\":\"hello\"} trailing",
    "{\"op\":\"hello\"}{\"op\":\"hello\"}", "\"unterminated", "{\"op\":\"hello\" \"x\":1}", "nul",
  };
  const char *raw[] = { "", "\xFF\xFE{}", "{\"op\":\"hello\",\"x\":\"\xC3\"}", "{\"op\":\"he\xC0\x80llo\"}",
                        "{\"op\":\"hello\"}\0" };
  gsize raw_lens[G_N_ELEMENTS (raw)];
  g_autoptr(NmtReplies) r = NULL;
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (raw); i++)
    raw_lens[i] = strlen (raw[i]);
  raw_lens[G_N_ELEMENTS (raw) - 1]++; /* the NUL after the last one's JSON */

  for (i = 0; i < G_N_ELEMENTS (texts); i++)
    nmt_proto_call_error (f->proto, texts[i], "E_JSON");
  r = nmt_proto_run_raw (f->proto, raw, raw_lens, G_N_ELEMENTS (raw));
  for (i = 0; i < G_N_ELEMENTS (raw); i++)
    {
      cJSON *reply = nmt_proto_parse_reply (r->texts->pdata[i]);
      nmt_proto_assert_error (reply, "E_JSON");
      nmt_proto_assert_id (reply, "null");
      cJSON_Delete (reply);
    }
}

static void
test_error_request (void **state)
{
  Fixture *f = *state;
  const char *bad[] = {
    "[]", "null", "42", "\"hello\"", "true",
    "{}", "{\"id\":1}", "{\"op\":null}", "{\"op\":1}", "{\"op\":[\"hello\"]}", "{\"op\":{}}",
    "{\"op\":\"set\"}", "{\"op\":\"set\",\"items\":null}", "{\"op\":\"set\",\"items\":[]}",
    "{\"op\":\"set\",\"items\":\"a\"}", "{\"op\":\"set\",\"items\":1}",
    "{\"op\":\"get\",\"keys\":1}", "{\"op\":\"get\",\"keys\":true}", "{\"op\":\"get\",\"keys\":[1]}",
    "{\"op\":\"get\",\"keys\":[\"a\",null]}", "{\"op\":\"get\",\"prefix\":1}",
    "{\"op\":\"get\",\"keys\":\"a\",\"prefix\":\"a\"}",
    "{\"op\":\"getKeys\",\"prefix\":[]}", "{\"op\":\"getKeys\",\"prefix\":true}",
    "{\"op\":\"remove\"}", "{\"op\":\"remove\",\"keys\":null}", "{\"op\":\"remove\",\"keys\":1}",
    "{\"op\":\"remove\",\"keys\":{\"a\":1}}", "{\"op\":\"remove\",\"keys\":[[\"a\"]]}",
    "{\"op\":\"clear\",\"prefix\":1}", "{\"op\":\"clear\",\"prefix\":{}}",
    "{\"op\":\"getBytesInUse\",\"keys\":1}", "{\"op\":\"getBytesInUse\",\"keys\":[2]}",
    "{\"op\":\"getBytesInUse\",\"keys\":{}}",
  };
  gsize i;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1}}");
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    nmt_proto_call_error (f->proto, bad[i], "E_REQUEST");
  /* None of them changed anything. */
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{\"a\":1}");
}

static void
test_error_unknown_op (void **state)
{
  Fixture *f = *state;

  nmt_proto_call_error (f->proto, "{\"op\":\"frobnicate\"}", "E_UNKNOWN_OP");
  nmt_proto_call_error (f->proto, "{\"op\":\"\"}", "E_UNKNOWN_OP");
  nmt_proto_call_error (f->proto, "{\"op\":\"GET\"}", "E_UNKNOWN_OP");
  nmt_proto_call_error (f->proto, "{\"op\":\"get \"}", "E_UNKNOWN_OP");
  nmt_proto_call_error (f->proto, "{\"op\":\"hello\\u0000\"}", "E_UNKNOWN_OP");
}

/* template with its one "%s" replaced by key. */
static char *
fill (const char *template, const char *key)
{
  g_auto(GStrv) parts = g_strsplit (template, "%s", -1);

  assert_int_equal (g_strv_length (parts), 2);
  return g_strconcat (parts[0], key, parts[1], NULL);
}

static void
test_error_key (void **state)
{
  Fixture *f = *state;
  g_autofree char *max = g_strnfill (NMS_STORE_MAX_KEY_BYTES, 'k');
  g_autofree char *over = g_strnfill (NMS_STORE_MAX_KEY_BYTES + 1, 'k');
  g_autofree char *set_max = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"%s\":1}}", max);
  const char *const templates[] = {
    "{\"op\":\"set\",\"items\":{\"%s\":1}}",
    "{\"op\":\"get\",\"keys\":\"%s\"}",
    "{\"op\":\"get\",\"keys\":[\"ok\",\"%s\"]}",
    "{\"op\":\"get\",\"keys\":{\"%s\":1}}",
    "{\"op\":\"get\",\"prefix\":\"%s\"}",
    "{\"op\":\"getKeys\",\"prefix\":\"%s\"}",
    "{\"op\":\"remove\",\"keys\":\"%s\"}",
    "{\"op\":\"remove\",\"keys\":[\"%s\"]}",
    "{\"op\":\"clear\",\"prefix\":\"%s\"}",
    "{\"op\":\"getBytesInUse\",\"keys\":\"%s\"}",
    "{\"op\":\"getBytesInUse\",\"keys\":[\"%s\"]}",
  };
  const char *const bad_keys[] = { "a\\u0000b", "\\u0000", over };
  gsize t, k;

  nmt_proto_call_ok (f->proto, set_max);
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, NULL), NMS_STORE_MAX_KEY_BYTES + 1);
  for (t = 0; t < G_N_ELEMENTS (templates); t++)
    for (k = 0; k < G_N_ELEMENTS (bad_keys); k++)
      {
        g_autofree char *request = fill (templates[t], bad_keys[k]);
        nmt_proto_call_error (f->proto, request, "E_KEY");
      }
  /* Still just the one item. */
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, NULL), NMS_STORE_MAX_KEY_BYTES + 1);
}

static void
assert_data_ops_fail (NmsProto *proto, const char *code)
{
  const char *data_ops[] = {
    "{\"id\":1,\"op\":\"get\"}",
    "{\"id\":2,\"op\":\"set\",\"items\":{\"a\":1}}",
    "{\"id\":3,\"op\":\"getKeys\"}",
    "{\"id\":4,\"op\":\"remove\",\"keys\":\"a\"}",
    "{\"id\":5,\"op\":\"clear\"}",
    "{\"id\":6,\"op\":\"getBytesInUse\"}",
    "{\"id\":7,\"op\":\"flush\"}",
    "{\"id\":8,\"op\":\"hello\"}",
  };
  g_autoptr(NmtReplies) r = nmt_proto_run (proto, data_ops, G_N_ELEMENTS (data_ops));
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (data_ops); i++)
    {
      cJSON *reply = nmt_proto_parse_reply (r->texts->pdata[i]);
      g_autofree char *id = g_strdup_printf ("%" G_GSIZE_FORMAT, i + 1);

      nmt_proto_assert_id (reply, id);
      if (i == G_N_ELEMENTS (data_ops) - 1)
        {
          nmt_proto_assert_ok (reply); /* hello needs no store */
          assert_true (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (reply, "store")));
        }
      else
        nmt_proto_assert_error (reply, code);
      cJSON_Delete (reply);
    }
}

static void
test_error_io_when_store_cannot_open (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmsConfig) config = nms_config_load (home, NULL);
  g_autoptr(NmsOrigin) origin = nms_origin_parse (NMT_ORIGIN, NULL);
  g_autofree char *dir = NULL;
  g_autoptr(NmsProto) proto = NULL;

  assert_non_null (config);
  assert_non_null (origin);
  /* A file where the origin's store directory belongs. */
  dir = nms_config_store_dir (config, origin);
  assert_true (g_file_set_contents (dir, "not a directory", -1, NULL));
  proto = nms_proto_new (config, origin);
  assert_non_null (proto);
  assert_data_ops_fail (proto, "E_IO");
  nmt_remove_tree (home);
}

static void
test_error_corrupt_when_store_damaged (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmsConfig) config = nms_config_load (home, NULL);
  g_autoptr(NmsOrigin) origin = nms_origin_parse (NMT_ORIGIN, NULL);
  g_autofree char *dir = NULL;
  g_autofree char *db = NULL;
  g_autofree char *junk = g_strnfill (8192, 'J');
  g_autoptr(NmsProto) proto = NULL;

  assert_non_null (config);
  assert_non_null (origin);
  dir = nms_config_store_dir (config, origin);
  db = g_build_filename (dir, NMS_STORE_FILE_NAME, NULL);
  assert_int_equal (g_mkdir_with_parents (dir, 0700), 0);
  assert_true (g_file_set_contents (db, junk, -1, NULL));
  proto = nms_proto_new (config, origin);
  assert_non_null (proto);
  assert_data_ops_fail (proto, "E_CORRUPT");
  nmt_remove_tree (home);
}

/* ---- JSON edges ------------------------------------------------------- */

static void
test_nul_in_values_roundtrips (void **state)
{
  Fixture *f = *state;
  g_autofree char *reply = NULL;
  g_autofree char *all = NULL;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"v\":\"a\\u0000b\",\"w\":{\"k\\u0000\":[\"\\u0000\\u0000\"]},"
                     "\"x\":\"\\\\u0000 is not a NUL\"}}");
  reply = nmt_proto_call_text (f->proto, "{\"id\":1,\"op\":\"get\",\"keys\":\"v\"}");
  assert_string_equal (reply, "{\"id\":1,\"ok\":true,\"items\":{\"v\":\"a\\u0000b\"}}");
  all = nmt_proto_call_text (f->proto, "{\"op\":\"get\",\"keys\":[\"w\",\"x\"]}");
  assert_non_null (strstr (all, "\"w\":{\"k\\u0000\":[\"\\u0000\\u0000\"]}"));
  assert_non_null (strstr (all, "\"x\":\"\\\\u0000 is not a NUL\""));
  /* Counted as the JSON text it is: "a\u0000b" is 10 bytes. */
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "\"v\""), 1 + 10);
  /* Defaults holding a NUL come back whole too. */
  g_free (reply);
  reply = nmt_proto_call_text (f->proto, "{\"id\":2,\"op\":\"get\",\"keys\":{\"missing\":\"x\\u0000y\"}}");
  assert_string_equal (reply, "{\"id\":2,\"ok\":true,\"items\":{\"missing\":\"x\\u0000y\"}}");
}

/* Stuffing (json.c) keeps U+0000 and U+FFFF apart in one request. */
static void
test_nul_and_ffff_together (void **state)
{
  Fixture *f = *state;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"a\":\"\\u0000\",\"b\":\"\\uFFFF\",\"c\":\"\\u0000\\uffff0\\u0000\","
                     "\"d\":\"\xEF\xBF\xBF\\u0000\xEF\xBF\xBF\xEF\xBF\xBF\",\"\xEF\xBF\xBF\":{\"\xEF\xBF\xBF\\u0000\":1}}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\"}",
                     "{\"a\":\"\\u0000\",\"b\":\"\xEF\xBF\xBF\",\"c\":\"\\u0000\xEF\xBF\xBF" "0\\u0000\","
                     "\"d\":\"\xEF\xBF\xBF\\u0000\xEF\xBF\xBF\xEF\xBF\xBF\",\"\xEF\xBF\xBF\":{\"\xEF\xBF\xBF\\u0000\":1}}");
  /* A key of U+FFFF in a request that holds a NUL elsewhere is that key. */
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":[\"\\uffff\",\"a\"],\"x\":\"\\u0000\"}",
                     "{\"a\":\"\\u0000\",\"\xEF\xBF\xBF\":{\"\xEF\xBF\xBF\\u0000\":1}}");
  /* A key holding a NUL is still refused. */
  nmt_proto_call_error (f->proto, "{\"op\":\"set\",\"items\":{\"\\uffff\\u0000\":1}}", "E_KEY");
}

static void
test_error_reply_helper (void **state)
{
  g_autoptr(GError) error = g_error_new (NMS_ERROR, NMS_ERROR_QUOTA, "over by \"%d\" bytes\n", 5);
  g_autoptr(GError) foreign = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "elsewhere");
  gsize len = 0;
  g_autofree char *text = nms_proto_error_reply ("\"x\"", error, &len);
  g_autofree char *other = NULL;
  cJSON *reply;

  assert_int_equal (strlen (text), len);
  reply = nmt_proto_parse_reply (text);
  nmt_proto_assert_error (reply, "E_QUOTA");
  nmt_proto_assert_id (reply, "\"x\"");
  assert_string_equal (cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "error"),
                                                         "message")->valuestring, "over by \"5\" bytes\n");
  cJSON_Delete (reply);
  other = nms_proto_error_reply ("null", foreign, &len);
  reply = nmt_proto_parse_reply (other);
  nmt_proto_assert_error (reply, "E_INTERNAL");
  cJSON_Delete (reply);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_error_json, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_error_request, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_error_unknown_op, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_error_key, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test (test_error_io_when_store_cannot_open),
    cmocka_unit_test (test_error_corrupt_when_store_damaged),
    cmocka_unit_test_setup_teardown (test_nul_in_values_roundtrips, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_nul_and_ffff_together, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test (test_error_reply_helper),
  };

  /* Warnings the module logs on purpose (a store that cannot open) are not
   * failures here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  /* As main() does: the unlock op keeps a passphrase in sodium_malloc memory. */
  assert_true (nms_crypto_init (NULL));
  return cmocka_run_group_tests (tests, NULL, NULL);
}
