/* SPDX-License-Identifier: MIT */
/* test_proto.c: the protocol module (proto.h), in process: request text in,
 * reply text out through the emit callback, over a real store in a
 * temporary data root (tests/common/protocheck.c). It owns every op's
 * reply shape, id echoing, an unlock's frame wiped, and the command
 * line's way in (nms_proto_run_one); batches
 * are in test_proto_batch.c, error codes and the JSON a browser can send
 * in test_proto_errors.c, Chrome's semantics in test_proto_chrome.c. */
#include "harness.h"
#include "protocheck.h"

#include "base/error.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "wire/frame.h"

#include <string.h>

typedef NmtProtoFixture Fixture;

/* ---- each op's reply -------------------------------------------------- */

static void
test_hello (void **state)
{
  Fixture *f = *state;
  cJSON *reply = nmt_proto_call (f->proto, "{\"id\":\"h\",\"op\":\"hello\"}");
  const cJSON *limits = cJSON_GetObjectItemCaseSensitive (reply, "limits");
  static const char *const limit_names[] = { "maxRequestBytes", "maxResponseBytes", "maxKeyBytes", "maxBatchRequests",
                                              "quotaBytes", NULL };

  nmt_proto_assert_ok (reply);
  nmt_proto_assert_id (reply, "\"h\"");
  assert_string_equal (cJSON_GetObjectItemCaseSensitive (reply, "name")->valuestring, "org.nmstore.host");
  assert_true (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (reply, "version")));
  assert_true (strlen (cJSON_GetObjectItemCaseSensitive (reply, "version")->valuestring) > 0);
  assert_int_equal (cJSON_GetObjectItemCaseSensitive (reply, "protocol")->valuedouble, 1);
  assert_true (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (reply, "protocol")));
  assert_string_equal (cJSON_GetObjectItemCaseSensitive (reply, "origin")->valuestring, NMT_ORIGIN);
  assert_true (cJSON_IsObject (limits));
  nmt_assert_members (limits, limit_names);
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "maxRequestBytes")->valuedouble == 64.0 * 1024 * 1024);
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "maxResponseBytes")->valuedouble == 1024.0 * 1024);
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "maxKeyBytes")->valuedouble == NMS_STORE_MAX_KEY_BYTES);
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "maxBatchRequests")->valuedouble == 1000);
  assert_true (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (limits, "quotaBytes")));
  cJSON_Delete (reply);
}

static void
test_hello_with_quota (void **state)
{
  Fixture *f = nmt_proto_fixture_new (123456);
  cJSON *reply = nmt_proto_call (f->proto, "{\"op\":\"hello\"}");
  const cJSON *limits = cJSON_GetObjectItemCaseSensitive (reply, "limits");

  nmt_proto_assert_ok (reply);
  nmt_proto_assert_id (reply, "null");
  assert_true (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (limits, "quotaBytes")));
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "quotaBytes")->valuedouble == 123456);
  cJSON_Delete (reply);
  nmt_proto_fixture_free (f);
}

static void
test_write_ops_reply_shape (void **state)
{
  Fixture *f = *state;
  g_autofree char *set = nmt_proto_call_text (f->proto, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1,\"b\":2}}");
  g_autofree char *remove = nmt_proto_call_text (f->proto, "{\"id\":2,\"op\":\"remove\",\"keys\":\"a\"}");
  g_autofree char *clear = nmt_proto_call_text (f->proto, "{\"op\":\"clear\"}");
  g_autofree char *flush = nmt_proto_call_text (f->proto, "{\"id\":\"f\",\"op\":\"flush\"}");

  assert_string_equal (set, "{\"id\":1,\"ok\":true}");
  assert_string_equal (remove, "{\"id\":2,\"ok\":true}");
  assert_string_equal (clear, "{\"id\":null,\"ok\":true}");
  assert_string_equal (flush, "{\"id\":\"f\",\"ok\":true}");
}

static void
test_get_forms (void **state)
{
  Fixture *f = *state;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2.5,null,true]},\"ab\":[],\"ba\":{}}}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}",
                "{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2.5,null,true]},\"ab\":[],\"ba\":{}}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":null}",
                "{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2.5,null,true]},\"ab\":[],\"ba\":{}}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":\"a\"}", "{\"a\":1}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":\"zz\"}", "{}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":[\"a\",\"zz\",\"b\"]}", "{\"a\":1,\"b\":\"x\"}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":[\"a\",\"a\"]}", "{\"a\":1}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":[]}", "{}");
  /* Defaults: stored values win, missing keys get theirs. */
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":{\"a\":0,\"zz\":\"dflt\",\"c\":null}}",
                "{\"a\":1,\"zz\":\"dflt\",\"c\":{\"d\":[1,2.5,null,true]}}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":{}}", "{}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"prefix\":\"a\"}", "{\"a\":1,\"ab\":[]}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"prefix\":\"q\"}", "{}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"prefix\":\"\"}",
                "{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2.5,null,true]},\"ab\":[],\"ba\":{}}");
}

static void
test_get_exact_text (void **state)
{
  Fixture *f = *state;
  g_autofree char *reply = NULL;

  /* Values come back as the compact JSON they were stored as. */
  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"k\":{ \"x\" : [ 1 , \"two\" ] }}}");
  reply = nmt_proto_call_text (f->proto, "{\"id\":7,\"op\":\"get\",\"keys\":\"k\"}");
  assert_string_equal (reply, "{\"id\":7,\"ok\":true,\"items\":{\"k\":{\"x\":[1,\"two\"]}}}");
}

/* A member's name may be written with escapes, and a request's text may
 * hold "items" or "requests" as a value: the parser, which skips looking
 * for the members it cuts out when the text cannot name them
 * (proto-parse.c), must still find them. */
static void
test_member_names_spelled_with_escapes (void **state)
{
  Fixture *f = *state;
  g_autofree char *reply = NULL;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"ite\\u006ds\":{\"k\":[1],\"items\":\"requests\"}}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"g\\u0065t\",\"k\\u0065ys\":\"k\"}", "{\"k\":[1]}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":[\"items\"]}", "{\"items\":\"requests\"}");
  reply = nmt_proto_call_text (f->proto, "{\"id\":3,\"op\":\"batch\",\"r\\u0065quests\":[{\"id\":4,\"op\":\"get\",\"keys\":\"k\"}]}");
  assert_string_equal (reply, "{\"id\":3,\"ok\":true,\"replies\":[{\"id\":4,\"ok\":true,\"items\":{\"k\":[1]}}]}");
}

/* The session ops write their members as text (session-reply.c,
 * session-fix.c): exactly the canonical text, members sorted, that get
 * would give, with strings escaped as JSON.stringify escapes them. */
static void
test_session_reply_exact_text (void **state)
{
  Fixture *f = *state;
  const char *h = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  g_autofree char *set = g_strdup_printf (
    "{\"op\":\"set\",\"items\":{\"s:torrents\":{\"version\":2,\"torrents\":[{\"infoHash\":\"%s\","
    "\"source\":\"magnet\",\"magnetUri\":\"magnet:?xt=urn:btih:%s\",\"addedAt\":5}]},"
    "\"s:torrent:%s:state\":{\"userState\":\"p\\\"\xE2\x80\xA8\\u0001\",\"uploaded\":1.5}}}", h, h, h);
  g_autofree char *item = g_strdup_printf (
    "\"torrents\":[{\"infoHash\":\"%s\",\"addedAt\":5,\"downloaded\":null,\"fileCount\":null,\"name\":null,"
    "\"pieceCount\":null,\"progress\":null,\"source\":\"magnet\",\"totalSize\":null,\"uploaded\":1.5,"
    "\"userState\":\"p\\\"\xE2\x80\xA8\\u0001\"}]", h);
  g_autofree char *remove = g_strdup_printf ("{\"op\":\"sessionRemoveTorrent\",\"prefix\":\"s:\",\"infoHash\":\"%s\"}", h);
  g_autofree char *removed = g_strdup_printf (
    "{\"id\":null,\"ok\":true,\"indexUpdated\":true,\"removed\":[\"s:torrent:%s:state\"]}", h);
  g_autofree char *summary = NULL, *check = NULL, *migrate = NULL, *gone = NULL;

  nmt_proto_call_ok (f->proto, set);
  summary = nmt_proto_call_text (f->proto, "{\"op\":\"sessionSummary\",\"prefix\":\"s:\"}");
  if (strstr (summary, item) == NULL)
    fail_msg ("%s\nhas no\n%s", summary, item);
  check = nmt_proto_call_text (f->proto, "{\"op\":\"sessionCheck\",\"prefix\":\"e\\\"\"}");
  assert_string_equal (check, "{\"id\":null,\"ok\":true,\"findings\":[],\"prefix\":\"e\\\"\",\"problems\":0,"
                              "\"repaired\":false,\"torrents\":0}");
  migrate = nmt_proto_call_text (f->proto, "{\"op\":\"sessionMigrate\",\"prefix\":\"e:\"}");
  assert_string_equal (migrate, "{\"id\":null,\"ok\":true,\"alreadyV2\":false,\"backupPrefix\":\"e:backup:v1:\","
                                "\"migrated\":0}");
  gone = nmt_proto_call_text (f->proto, remove);
  assert_string_equal (gone, removed);
}

static void
test_get_keys_sorted (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) pre = NULL;
  g_autoptr(GPtrArray) none = NULL;
  static const char *const want[] = { "A", "a", "ab", "b", "\xC3\xA9", "\xEF\xBF\xBD", "\xF0\x9F\x98\x80" };
  gsize i;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"\xF0\x9F\x98\x80\":1,\"b\":1,\"\xEF\xBF\xBD\":1,"
                     "\"ab\":1,\"\xC3\xA9\":1,\"a\":1,\"A\":1}}");
  all = nmt_proto_get_keys (f->proto, "{\"op\":\"getKeys\"}");
  assert_int_equal (all->len, G_N_ELEMENTS (want));
  for (i = 0; i < G_N_ELEMENTS (want); i++)
    assert_string_equal (all->pdata[i], want[i]);
  pre = nmt_proto_get_keys (f->proto, "{\"op\":\"getKeys\",\"prefix\":\"a\"}");
  assert_int_equal (pre->len, 2);
  assert_string_equal (pre->pdata[0], "a");
  assert_string_equal (pre->pdata[1], "ab");
  none = nmt_proto_get_keys (f->proto, "{\"op\":\"getKeys\",\"prefix\":\"nothing\"}");
  assert_int_equal (none->len, 0);
}

static void
test_remove_and_clear (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) keys = NULL;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":2,\"c\":3,\"p/1\":4,\"p/2\":5,\"q\":6}}");
  nmt_proto_call_ok (f->proto, "{\"op\":\"remove\",\"keys\":\"a\"}");
  nmt_proto_call_ok (f->proto, "{\"op\":\"remove\",\"keys\":[\"b\",\"missing\",\"b\"]}");
  nmt_proto_call_ok (f->proto, "{\"op\":\"remove\",\"keys\":[]}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{\"c\":3,\"p/1\":4,\"p/2\":5,\"q\":6}");
  nmt_proto_call_ok (f->proto, "{\"op\":\"clear\",\"prefix\":\"p/\"}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{\"c\":3,\"q\":6}");
  nmt_proto_call_ok (f->proto, "{\"op\":\"clear\",\"prefix\":null}");
  keys = nmt_proto_get_keys (f->proto, "{\"op\":\"getKeys\"}");
  assert_int_equal (keys->len, 0);
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, NULL), 0);
}

static void
test_get_bytes_in_use (void **state)
{
  Fixture *f = *state;
  cJSON *reply = NULL;
  static const char *const shape[] = { "id", "ok", "bytes", NULL };

  assert_int_equal (nmt_proto_bytes_in_use (f->proto, NULL), 0);
  /* "caf\u00e9" is 5 bytes of key; "\u20ac" 5 of JSON text with its quotes. */
  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"caf\xC3\xA9\":\"\xE2\x82\xAC\",\"n\":12345,"
                     "\"o\":{\"a\": [1, 2]}}}");
  /* {"a": [1, 2]} is kept as its 11 bytes of compact text. */
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, NULL), 10 + 6 + (1 + 11));
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "null"), 10 + 6 + 12);
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "\"caf\xC3\xA9\""), 10);
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "[\"n\",\"o\",\"missing\"]"), 6 + 12);
  /* Chrome counts a key named twice twice. */
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "[\"n\",\"n\"]"), 12);
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "\"missing\""), 0);
  /* An empty list names no keys, so it counts nothing (as in Chrome). */
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "[]"), 0);

  reply = nmt_proto_call (f->proto, "{\"id\":3,\"op\":\"getBytesInUse\"}");
  nmt_assert_members (reply, shape);
  nmt_proto_assert_id (reply, "3");
  cJSON_Delete (reply);
}

/* ---- ids -------------------------------------------------------------- */

static void
assert_echo (NmsProto *proto, const char *id_json)
{
  g_autofree char *request = g_strdup_printf ("{\"id\":%s,\"op\":\"hello\"}", id_json);
  g_autofree char *error_request = g_strdup_printf ("{\"op\":\"nope\",\"id\":%s}", id_json);
  g_autoptr(NmtReplies) r = NULL;
  const char *batch[2];
  cJSON *ok, *err, *emitted;

  batch[0] = request;
  batch[1] = error_request;
  r = nmt_proto_run (proto, batch, 2);
  ok = nmt_proto_parse_reply (r->texts->pdata[0]);
  err = nmt_proto_parse_reply (r->texts->pdata[1]);
  nmt_proto_assert_ok (ok);
  nmt_proto_assert_id (ok, id_json);
  nmt_proto_assert_error (err, "E_UNKNOWN_OP");
  nmt_proto_assert_id (err, id_json);
  /* The id handed to emit is the one in the reply. */
  emitted = cJSON_Parse (r->ids->pdata[0]);
  assert_non_null (emitted);
  assert_true (cJSON_Compare (emitted, cJSON_GetObjectItemCaseSensitive (ok, "id"), TRUE));
  cJSON_Delete (emitted);
  cJSON_Delete (ok);
  cJSON_Delete (err);
}

static void
test_ids_echoed (void **state)
{
  Fixture *f = *state;
  g_autofree char *at_limit = NULL;

  assert_echo (f->proto, "\"abc\"");
  assert_echo (f->proto, "\"\"");
  assert_echo (f->proto, "42");
  assert_echo (f->proto, "0");
  assert_echo (f->proto, "-17");
  assert_echo (f->proto, "3.25");
  assert_echo (f->proto, "1e3");
  assert_echo (f->proto, "\"with \\\"quotes\\\" and \\\\ and \\u00e9 and \xF0\x9F\x98\x80\"");
  assert_echo (f->proto, "\"nul\\u0000inside\"");
  /* The longest id that is echoed: 1024 bytes of JSON text. */
  {
    g_autofree char *body = g_strnfill (1022, 'i');
    at_limit = g_strdup_printf ("\"%s\"", body);
  }
  assert_echo (f->proto, at_limit);
}

static void
test_id_absent_or_null (void **state)
{
  Fixture *f = *state;
  g_autofree char *absent = nmt_proto_call_text (f->proto, "{\"op\":\"hello\"}");
  g_autofree char *null_id = nmt_proto_call_text (f->proto, "{\"id\":null,\"op\":\"getKeys\"}");
  g_autoptr(NmtReplies) r = NULL;
  const char *req = "{\"op\":\"nope\"}";
  cJSON *a = nmt_proto_parse_reply (absent);
  cJSON *n = nmt_proto_parse_reply (null_id);

  nmt_proto_assert_id (a, "null");
  nmt_proto_assert_id (n, "null");
  assert_true (g_str_has_prefix (absent, "{\"id\":null,"));
  r = nmt_proto_run (f->proto, &req, 1);
  assert_string_equal (r->ids->pdata[0], "null");
  cJSON_Delete (a);
  cJSON_Delete (n);
}

static void
test_id_invalid_type (void **state)
{
  Fixture *f = *state;
  const char *bad[] = {
    "{\"id\":true,\"op\":\"hello\"}",
    "{\"id\":false,\"op\":\"hello\"}",
    "{\"id\":{\"a\":1},\"op\":\"hello\"}",
    "{\"id\":[1],\"op\":\"hello\"}",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      cJSON *reply = nmt_proto_call (f->proto, bad[i]);
      nmt_proto_assert_error (reply, "E_REQUEST");
      nmt_proto_assert_id (reply, "null");
      cJSON_Delete (reply);
    }
}

static void
test_id_overlong (void **state)
{
  Fixture *f = *state;
  g_autofree char *body = g_strnfill (1023, 'i');
  g_autofree char *request = g_strdup_printf ("{\"id\":\"%s\",\"op\":\"hello\"}", body);
  g_autofree char *huge_body = g_strnfill (100000, 'j');
  g_autofree char *huge = g_strdup_printf ("{\"id\":\"%s\",\"op\":\"set\",\"items\":{\"x\":1}}", huge_body);
  cJSON *reply = nmt_proto_call (f->proto, request);
  cJSON *huge_reply = nmt_proto_call (f->proto, huge);

  nmt_proto_assert_error (reply, "E_REQUEST");
  nmt_proto_assert_id (reply, "null");
  nmt_proto_assert_error (huge_reply, "E_REQUEST");
  nmt_proto_assert_id (huge_reply, "null");
  /* A refused request does nothing. */
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{}");
  cJSON_Delete (reply);
  cJSON_Delete (huge_reply);
}

/* An unlock's frame is wiped once handled, wherever it sits; another
 * request's is left as it came. */
static void
test_unlock_frame_is_wiped (void **state)
{
  Fixture *f = *state;
  char unlock[] = "{\"op\":\"unlock\",\"passphrase\":\"PASSMARKER one\"}";
  char get[] = "{\"op\":\"get\",\"keys\":\"PASSMARKER two\"}";
  NmsProtoInput inputs[2] = { { (guint8 *) unlock, sizeof unlock - 1 }, { (guint8 *) get, sizeof get - 1 } };
  g_autoptr(NmtReplies) r = g_new0 (NmtReplies, 1);

  r->ids = g_ptr_array_new_with_free_func (g_free);
  r->texts = g_ptr_array_new_with_free_func (g_free);
  nms_proto_handle_batch (f->proto, inputs, 2, nmt_proto_emit, r);
  assert_int_equal (r->texts->len, 2);
  /* This origin is not encrypted: the unlock fails, and is wiped all the same. */
  assert_non_null (strstr (r->texts->pdata[0], "E_REQUEST"));
  assert_false (nmt_contains (unlock, sizeof unlock - 1, "one"));
  assert_false (nmt_contains (unlock, sizeof unlock - 1, "PASSMARKER"));
  assert_true (nmt_contains (get, sizeof get - 1, "PASSMARKER two"));
}

/* The command line's way in: one request's result as the reply would
 * carry it, without id and ok, or its error as a GError with the reply's
 * code. An unlock's frame is wiped on this way too. */
static void
test_run_one (void **state)
{
  Fixture *f = *state;
  char set[] = "{\"op\":\"set\",\"items\":{\"a\":\"x\\u0000y\"}}";
  char keys[] = "{\"op\":\"getKeys\"}";
  char get[] = "{\"op\":\"get\",\"keys\":\"a\"}";
  char bad[] = "{\"op\":\"nosuch\"}";
  char unlock[] = "{\"op\":\"unlock\",\"passphrase\":\"PASSMARKER\"}";
  NmsProtoInput input;
  g_autoptr(GError) error = NULL;
  g_autofree char *result = NULL;
  gsize len = 0;

  input = (NmsProtoInput) { (guint8 *) set, sizeof set - 1 };
  result = nms_proto_run_one (f->proto, &input, &len, &error);
  assert_null (error);
  assert_string_equal (result, "{}");
  assert_int_equal (len, 2);
  g_free (result);
  input = (NmsProtoInput) { (guint8 *) keys, sizeof keys - 1 };
  result = nms_proto_run_one (f->proto, &input, &len, &error);
  assert_string_equal (result, "{\"keys\":[\"a\"]}");
  g_free (result);
  input = (NmsProtoInput) { (guint8 *) get, sizeof get - 1 };
  result = nms_proto_run_one (f->proto, &input, &len, &error);
  assert_string_equal (result, "{\"items\":{\"a\":\"x\\u0000y\"}}");
  g_clear_pointer (&result, g_free);

  input = (NmsProtoInput) { (guint8 *) bad, sizeof bad - 1 };
  assert_null (nms_proto_run_one (f->proto, &input, &len, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_UNKNOWN_OP));
  g_clear_error (&error);
  input = (NmsProtoInput) { (guint8 *) unlock, sizeof unlock - 1 };
  assert_null (nms_proto_run_one (f->proto, &input, &len, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_REQUEST));
  assert_false (nmt_contains (unlock, sizeof unlock - 1, "PASSMARKER"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_hello, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test (test_hello_with_quota),
    cmocka_unit_test_setup_teardown (test_write_ops_reply_shape, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_get_forms, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_member_names_spelled_with_escapes, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_get_exact_text, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_session_reply_exact_text, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_get_keys_sorted, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_remove_and_clear, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_get_bytes_in_use, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_ids_echoed, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_id_absent_or_null, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_id_invalid_type, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_id_overlong, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_unlock_frame_is_wiped, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_run_one, nmt_proto_setup, nmt_proto_teardown),
  };

  /* Warnings the module logs on purpose (a store that cannot open) are not
   * failures here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  /* As main() does: the unlock op keeps a passphrase in sodium_malloc memory. */
  assert_true (nms_crypto_init (NULL));
  return cmocka_run_group_tests (tests, NULL, NULL);
}
