/* SPDX-License-Identifier: MIT */
/* test_proto.c: the protocol module (proto.h), in process: request text in,
 * reply text out through the emit callback, over a real store in a
 * temporary data root. It owns every op's reply shape, one reply per
 * request in order, id echoing, the error codes, and the edges of the JSON
 * a browser can send (NUL escapes, $bytes, duplicates, depth, numbers). */
#include "harness.h"

#include "config/config.h"
#include "base/error.h"
#include "wire/frame.h"
#include "base/origin.h"
#include "crypto/crypto.h"
#include "proto/proto.h"
#include "store/store.h"

#include <string.h>

typedef struct {
  char      *home;
  NmsConfig *config;
  NmsOrigin *origin;
  NmsProto  *proto;
} Fixture;

typedef struct {
  GPtrArray *ids;    /* the id_json handed to emit */
  GPtrArray *texts;  /* the reply text */
} Replies;

static void
replies_free (Replies *r)
{
  g_ptr_array_unref (r->ids);
  g_ptr_array_unref (r->texts);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Replies, replies_free)

static void
emit (const char *id_json, const char *json, gsize len, gpointer user_data)
{
  Replies *r = user_data;

  assert_non_null (id_json);
  assert_non_null (json);
  /* A reply is text: no NUL inside it. */
  assert_null (memchr (json, '\0', len));
  g_ptr_array_add (r->ids, g_strdup (id_json));
  g_ptr_array_add (r->texts, g_strndup (json, len));
}

static Fixture *
fixture_new (guint64 quota)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;

  f->home = nmt_make_home ();
  f->config = nms_config_load (f->home, &error);
  assert_non_null (f->config);
  f->config->quota_bytes = quota;
  f->origin = nms_origin_parse (NMT_ORIGIN, &error);
  assert_non_null (f->origin);
  f->proto = nms_proto_new (f->config, f->origin);
  assert_non_null (f->proto);
  return f;
}

static void
fixture_free (Fixture *f)
{
  nms_proto_free (f->proto);
  nms_origin_free (f->origin);
  nms_config_free (f->config);
  nmt_remove_tree (f->home);
  g_free (f->home);
  g_free (f);
}

static int
setup (void **state)
{
  *state = fixture_new (0);
  return 0;
}

static int
teardown (void **state)
{
  fixture_free (*state);
  return 0;
}

/* Runs raw request bodies (data, len pairs) as one batch. */
static Replies *
run_raw (NmsProto *proto, const char *const *data, const gsize *lens, gsize n)
{
  Replies *r = g_new0 (Replies, 1);
  NmsProtoInput *inputs = g_new0 (NmsProtoInput, n ? n : 1);
  gsize i;

  r->ids = g_ptr_array_new_with_free_func (g_free);
  r->texts = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; i < n; i++)
    {
      /* The protocol may rewrite its input in place: give it a copy. */
      inputs[i].data = g_memdup2 (data[i], lens[i] ? lens[i] : 1);
      inputs[i].len = lens[i];
    }
  /* The host serves what arrived together in groups, each in one call. */
  for (i = 0; i < n;)
    i += nms_proto_handle_batch (proto, inputs + i, n - i, emit, r);
  for (i = 0; i < n; i++)
    g_free (inputs[i].data);
  g_free (inputs);
  /* Exactly one reply per request. */
  assert_int_equal (r->texts->len, n);
  return r;
}

static Replies *
run_batch (NmsProto *proto, const char *const *requests, gsize n)
{
  g_autofree gsize *lens = g_new0 (gsize, n ? n : 1);
  gsize i;

  for (i = 0; i < n; i++)
    lens[i] = strlen (requests[i]);
  return run_raw (proto, requests, lens, n);
}

/* The reply text to one request, as its own batch. */
static char *
call_text (NmsProto *proto, const char *request)
{
  g_autoptr(Replies) r = run_batch (proto, &request, 1);
  return g_strdup (r->texts->pdata[0]);
}

static cJSON *
parse_reply (const char *text)
{
  cJSON *reply = cJSON_Parse (text);

  if (reply == NULL || !cJSON_IsObject (reply))
    fail_msg ("the reply is not a JSON object: %.300s", text);
  return reply;
}

static cJSON *
call (NmsProto *proto, const char *request)
{
  g_autofree char *text = call_text (proto, request);
  return parse_reply (text);
}

/* Asserts that object has exactly the members named (NULL-terminated). */
static void
assert_members (const cJSON *object, const char *const *names)
{
  const cJSON *child;
  gsize n = 0, i;

  for (i = 0; names[i] != NULL; i++)
    if (cJSON_GetObjectItemCaseSensitive (object, names[i]) == NULL)
      {
        g_autofree char *text = cJSON_PrintUnformatted (object);
        fail_msg ("member \"%s\" missing from %.300s", names[i], text);
      }
  for (child = object->child; child != NULL; child = child->next)
    n++;
  if (n != i)
    {
      g_autofree char *text = cJSON_PrintUnformatted (object);
      fail_msg ("expected %" G_GSIZE_FORMAT " members, got %" G_GSIZE_FORMAT " in %.300s", i, n, text);
    }
}

static void
assert_ok (const cJSON *reply)
{
  if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
    {
      g_autofree char *text = cJSON_PrintUnformatted (reply);
      fail_msg ("expected ok:true, got %.400s", text);
    }
  assert_null (cJSON_GetObjectItemCaseSensitive (reply, "error"));
}

/* An error reply is exactly {"id":..,"ok":false,"error":{"code","message"}}
 * with the given code and a message a person can read. */
static void
assert_error (const cJSON *reply, const char *code)
{
  static const char *const top[] = { "id", "ok", "error", NULL };
  static const char *const inner[] = { "code", "message", NULL };
  const cJSON *err = cJSON_GetObjectItemCaseSensitive (reply, "error");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive (err, "code");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive (err, "message");

  if (!cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (reply, "ok")) || !cJSON_IsString (c)
      || strcmp (c->valuestring, code) != 0)
    {
      g_autofree char *text = cJSON_PrintUnformatted (reply);
      fail_msg ("expected error %s, got %.400s", code, text);
    }
  assert_members (reply, top);
  assert_true (cJSON_IsObject (err));
  assert_members (err, inner);
  assert_true (cJSON_IsString (m));
  assert_true (strlen (m->valuestring) > 0);
}

static void
assert_id (const cJSON *reply, const char *id_json)
{
  cJSON *want = cJSON_Parse (id_json);
  const cJSON *id = cJSON_GetObjectItemCaseSensitive (reply, "id");

  assert_non_null (want);
  if (id == NULL || !cJSON_Compare (id, want, TRUE))
    {
      g_autofree char *text = cJSON_PrintUnformatted (reply);
      fail_msg ("expected id %s in %.300s", id_json, text);
    }
  cJSON_Delete (want);
}

static void
call_ok (NmsProto *proto, const char *request)
{
  cJSON *reply = call (proto, request);
  assert_ok (reply);
  cJSON_Delete (reply);
}

static void
call_error (NmsProto *proto, const char *request, const char *code)
{
  cJSON *reply = call (proto, request);

  if (!cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
    fail_msg ("request %.300s did not fail", request);
  assert_error (reply, code);
  cJSON_Delete (reply);
}

/* The reply's "items" compared with want (JSON text). */
static void
assert_items (NmsProto *proto, const char *request, const char *want_json)
{
  cJSON *reply = call (proto, request);
  cJSON *want = cJSON_Parse (want_json);
  const cJSON *items = cJSON_GetObjectItemCaseSensitive (reply, "items");
  static const char *const shape[] = { "id", "ok", "items", NULL };

  assert_non_null (want);
  assert_ok (reply);
  assert_members (reply, shape);
  assert_true (cJSON_IsObject (items));
  if (!cJSON_Compare (items, want, TRUE) || cJSON_GetArraySize (items) != cJSON_GetArraySize (want))
    {
      g_autofree char *text = cJSON_PrintUnformatted (items);
      fail_msg ("%s: items %.400s, expected %s", request, text, want_json);
    }
  cJSON_Delete (want);
  cJSON_Delete (reply);
}

/* The items of a get's reply, as exact text: member order, number form
 * and escapes all count. */
static void
assert_items_text (NmsProto *proto, const char *request, const char *want)
{
  g_autofree char *reply = call_text (proto, request);
  const char *items = strstr (reply, ",\"items\":");
  gsize len;

  if (items == NULL)
    fail_msg ("%s failed: %s", request, reply);
  items += strlen (",\"items\":");
  len = strlen (items) - 1; /* the reply's closing brace */
  if (len != strlen (want) || strncmp (items, want, len) != 0)
    fail_msg ("%s gave\n  %.*s\nwanted\n  %s", request, (int) len, items, want);
}

static guint64
bytes_in_use (NmsProto *proto, const char *keys_json)
{
  g_autofree char *request = g_strdup_printf ("{\"op\":\"getBytesInUse\"%s%s}", keys_json ? ",\"keys\":" : "",
                                              keys_json ? keys_json : "");
  cJSON *reply = call (proto, request);
  const cJSON *bytes = cJSON_GetObjectItemCaseSensitive (reply, "bytes");
  guint64 n;

  assert_ok (reply);
  assert_true (cJSON_IsNumber (bytes));
  n = (guint64) bytes->valuedouble;
  cJSON_Delete (reply);
  return n;
}

static GPtrArray *
get_keys (NmsProto *proto, const char *request)
{
  cJSON *reply = call (proto, request);
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive (reply, "keys");
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  const cJSON *k;
  static const char *const shape[] = { "id", "ok", "keys", NULL };

  assert_ok (reply);
  assert_members (reply, shape);
  assert_true (cJSON_IsArray (keys));
  cJSON_ArrayForEach (k, keys)
    {
      assert_true (cJSON_IsString (k));
      g_ptr_array_add (out, g_strdup (k->valuestring));
    }
  cJSON_Delete (reply);
  return out;
}

/* ---- each op's reply -------------------------------------------------- */

static void
test_hello (void **state)
{
  Fixture *f = *state;
  cJSON *reply = call (f->proto, "{\"id\":\"h\",\"op\":\"hello\"}");
  const cJSON *limits = cJSON_GetObjectItemCaseSensitive (reply, "limits");
  static const char *const limit_names[] = { "maxRequestBytes", "maxResponseBytes", "maxKeyBytes", "maxBatchRequests",
                                              "quotaBytes", NULL };

  assert_ok (reply);
  assert_id (reply, "\"h\"");
  assert_string_equal (cJSON_GetObjectItemCaseSensitive (reply, "name")->valuestring, "org.nmstore.host");
  assert_true (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (reply, "version")));
  assert_true (strlen (cJSON_GetObjectItemCaseSensitive (reply, "version")->valuestring) > 0);
  assert_int_equal (cJSON_GetObjectItemCaseSensitive (reply, "protocol")->valuedouble, 1);
  assert_true (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (reply, "protocol")));
  assert_string_equal (cJSON_GetObjectItemCaseSensitive (reply, "origin")->valuestring, NMT_ORIGIN);
  assert_true (cJSON_IsObject (limits));
  assert_members (limits, limit_names);
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "maxRequestBytes")->valuedouble == 64.0 * 1024 * 1024);
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "maxResponseBytes")->valuedouble == 1024.0 * 1024);
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "maxKeyBytes")->valuedouble == NMS_STORE_MAX_KEY_BYTES);
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "maxBatchRequests")->valuedouble == 1000);
  assert_true (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (limits, "quotaBytes")));
  cJSON_Delete (reply);
}

/* Frames that arrive together are served in groups of 32 requests, a
 * batch's entries counted each, and the first frame always whole: each
 * group's replies go out once it committed, while the next group runs. */
static gsize
serve_some (NmsProto *proto, GPtrArray *texts, gsize from, Replies *r)
{
  g_autofree NmsProtoInput *inputs = g_new0 (NmsProtoInput, texts->len);
  gsize i, before = r->texts->len, served;

  for (i = from; i < texts->len; i++)
    {
      inputs[i].data = texts->pdata[i];
      inputs[i].len = strlen (texts->pdata[i]);
    }
  served = nms_proto_handle_batch (proto, inputs + from, texts->len - from, emit, r);
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
  g_autoptr(Replies) r = g_new0 (Replies, 1);
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
  Fixture *alone = fixture_new (0);
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
      g_autofree char *text = call_text (alone->proto, requests[i]);

      g_string_append (batch, i > 0 ? ", " : "");
      g_string_append (batch, requests[i]);
      g_string_append (expected, i > 0 ? "," : "");
      g_string_append (expected, text);
    }
  g_string_append (batch, "]}");
  g_string_append (expected, "]}");
  got = call_text (f->proto, batch->str);
  assert_string_equal (got, expected->str);
  fixture_free (alone);
}

static void
test_hello_with_quota (void **state)
{
  Fixture *f = fixture_new (123456);
  cJSON *reply = call (f->proto, "{\"op\":\"hello\"}");
  const cJSON *limits = cJSON_GetObjectItemCaseSensitive (reply, "limits");

  assert_ok (reply);
  assert_id (reply, "null");
  assert_true (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (limits, "quotaBytes")));
  assert_true (cJSON_GetObjectItemCaseSensitive (limits, "quotaBytes")->valuedouble == 123456);
  cJSON_Delete (reply);
  fixture_free (f);
}

static void
test_write_ops_reply_shape (void **state)
{
  Fixture *f = *state;
  g_autofree char *set = call_text (f->proto, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1,\"b\":2}}");
  g_autofree char *remove = call_text (f->proto, "{\"id\":2,\"op\":\"remove\",\"keys\":\"a\"}");
  g_autofree char *clear = call_text (f->proto, "{\"op\":\"clear\"}");
  g_autofree char *flush = call_text (f->proto, "{\"id\":\"f\",\"op\":\"flush\"}");

  assert_string_equal (set, "{\"id\":1,\"ok\":true}");
  assert_string_equal (remove, "{\"id\":2,\"ok\":true}");
  assert_string_equal (clear, "{\"id\":null,\"ok\":true}");
  assert_string_equal (flush, "{\"id\":\"f\",\"ok\":true}");
}

static void
test_get_forms (void **state)
{
  Fixture *f = *state;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2.5,null,true]},\"ab\":[],\"ba\":{}}}");
  assert_items (f->proto, "{\"op\":\"get\"}",
                "{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2.5,null,true]},\"ab\":[],\"ba\":{}}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":null}",
                "{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2.5,null,true]},\"ab\":[],\"ba\":{}}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":\"a\"}", "{\"a\":1}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":\"zz\"}", "{}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":[\"a\",\"zz\",\"b\"]}", "{\"a\":1,\"b\":\"x\"}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":[\"a\",\"a\"]}", "{\"a\":1}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":[]}", "{}");
  /* Defaults: stored values win, missing keys get theirs. */
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":{\"a\":0,\"zz\":\"dflt\",\"c\":null}}",
                "{\"a\":1,\"zz\":\"dflt\",\"c\":{\"d\":[1,2.5,null,true]}}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":{}}", "{}");
  assert_items (f->proto, "{\"op\":\"get\",\"prefix\":\"a\"}", "{\"a\":1,\"ab\":[]}");
  assert_items (f->proto, "{\"op\":\"get\",\"prefix\":\"q\"}", "{}");
  assert_items (f->proto, "{\"op\":\"get\",\"prefix\":\"\"}",
                "{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,2.5,null,true]},\"ab\":[],\"ba\":{}}");
}

static void
test_get_exact_text (void **state)
{
  Fixture *f = *state;
  g_autofree char *reply = NULL;

  /* Values come back as the compact JSON they were stored as. */
  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"k\":{ \"x\" : [ 1 , \"two\" ] }}}");
  reply = call_text (f->proto, "{\"id\":7,\"op\":\"get\",\"keys\":\"k\"}");
  assert_string_equal (reply, "{\"id\":7,\"ok\":true,\"items\":{\"k\":{\"x\":[1,\"two\"]}}}");
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

  call_ok (f->proto, set);
  summary = call_text (f->proto, "{\"op\":\"sessionSummary\",\"prefix\":\"s:\"}");
  if (strstr (summary, item) == NULL)
    fail_msg ("%s\nhas no\n%s", summary, item);
  check = call_text (f->proto, "{\"op\":\"sessionCheck\",\"prefix\":\"e\\\"\"}");
  assert_string_equal (check, "{\"id\":null,\"ok\":true,\"findings\":[],\"prefix\":\"e\\\"\",\"problems\":0,"
                              "\"repaired\":false,\"torrents\":0}");
  migrate = call_text (f->proto, "{\"op\":\"sessionMigrate\",\"prefix\":\"e:\"}");
  assert_string_equal (migrate, "{\"id\":null,\"ok\":true,\"alreadyV2\":false,\"backupPrefix\":\"e:backup:v1:\","
                                "\"migrated\":0}");
  gone = call_text (f->proto, remove);
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

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"\xF0\x9F\x98\x80\":1,\"b\":1,\"\xEF\xBF\xBD\":1,"
                     "\"ab\":1,\"\xC3\xA9\":1,\"a\":1,\"A\":1}}");
  all = get_keys (f->proto, "{\"op\":\"getKeys\"}");
  assert_int_equal (all->len, G_N_ELEMENTS (want));
  for (i = 0; i < G_N_ELEMENTS (want); i++)
    assert_string_equal (all->pdata[i], want[i]);
  pre = get_keys (f->proto, "{\"op\":\"getKeys\",\"prefix\":\"a\"}");
  assert_int_equal (pre->len, 2);
  assert_string_equal (pre->pdata[0], "a");
  assert_string_equal (pre->pdata[1], "ab");
  none = get_keys (f->proto, "{\"op\":\"getKeys\",\"prefix\":\"nothing\"}");
  assert_int_equal (none->len, 0);
}

static void
test_remove_and_clear (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) keys = NULL;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":2,\"c\":3,\"p/1\":4,\"p/2\":5,\"q\":6}}");
  call_ok (f->proto, "{\"op\":\"remove\",\"keys\":\"a\"}");
  call_ok (f->proto, "{\"op\":\"remove\",\"keys\":[\"b\",\"missing\",\"b\"]}");
  call_ok (f->proto, "{\"op\":\"remove\",\"keys\":[]}");
  assert_items (f->proto, "{\"op\":\"get\"}", "{\"c\":3,\"p/1\":4,\"p/2\":5,\"q\":6}");
  call_ok (f->proto, "{\"op\":\"clear\",\"prefix\":\"p/\"}");
  assert_items (f->proto, "{\"op\":\"get\"}", "{\"c\":3,\"q\":6}");
  call_ok (f->proto, "{\"op\":\"clear\",\"prefix\":null}");
  keys = get_keys (f->proto, "{\"op\":\"getKeys\"}");
  assert_int_equal (keys->len, 0);
  assert_int_equal (bytes_in_use (f->proto, NULL), 0);
}

static void
test_get_bytes_in_use (void **state)
{
  Fixture *f = *state;
  cJSON *reply = NULL;
  static const char *const shape[] = { "id", "ok", "bytes", NULL };

  assert_int_equal (bytes_in_use (f->proto, NULL), 0);
  /* "caf\u00e9" is 5 bytes of key; "\u20ac" 5 of JSON text with its quotes. */
  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"caf\xC3\xA9\":\"\xE2\x82\xAC\",\"n\":12345,"
                     "\"o\":{\"a\": [1, 2]}}}");
  /* {"a": [1, 2]} is kept as its 11 bytes of compact text. */
  assert_int_equal (bytes_in_use (f->proto, NULL), 10 + 6 + (1 + 11));
  assert_int_equal (bytes_in_use (f->proto, "null"), 10 + 6 + 12);
  assert_int_equal (bytes_in_use (f->proto, "\"caf\xC3\xA9\""), 10);
  assert_int_equal (bytes_in_use (f->proto, "[\"n\",\"o\",\"missing\"]"), 6 + 12);
  /* Chrome counts a key named twice twice. */
  assert_int_equal (bytes_in_use (f->proto, "[\"n\",\"n\"]"), 12);
  assert_int_equal (bytes_in_use (f->proto, "\"missing\""), 0);
  /* An empty list names no keys, so it counts nothing (as in Chrome). */
  assert_int_equal (bytes_in_use (f->proto, "[]"), 0);

  reply = call (f->proto, "{\"id\":3,\"op\":\"getBytesInUse\"}");
  assert_members (reply, shape);
  assert_id (reply, "3");
  cJSON_Delete (reply);
}

/* ---- batches ---------------------------------------------------------- */

static void
test_replies_in_order_one_each (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(Replies) r = NULL;
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
  r = run_batch (f->proto, (const char *const *) requests->pdata, requests->len);
  for (i = 0; i < r->texts->len; i++)
    {
      cJSON *reply = parse_reply (r->texts->pdata[i]);
      g_autofree char *id = g_strdup_printf ("%u", i);

      assert_id (reply, id);
      assert_string_equal (r->ids->pdata[i], id);
      switch (i % 6)
        {
        case 2: assert_error (reply, "E_UNKNOWN_OP"); break;
        case 4: assert_error (reply, "E_KEY"); break;
        default: assert_ok (reply); break;
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
  g_autoptr(Replies) r = run_batch (f->proto, requests, G_N_ELEMENTS (requests));
  cJSON *replies[G_N_ELEMENTS (requests)];
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    replies[i] = parse_reply (r->texts->pdata[i]);
  assert_ok (replies[0]);
  assert_error (replies[1], "E_JSON");
  assert_id (replies[1], "null");
  assert_error (replies[2], "E_KEY");
  assert_id (replies[2], "2");
  assert_ok (replies[3]);
  assert_true (cJSON_GetArraySize (cJSON_GetObjectItemCaseSensitive (replies[3], "items")) == 1);
  assert_error (replies[4], "E_REQUEST");
  assert_error (replies[5], "E_UNKNOWN_OP");
  assert_id (replies[5], "5");
  assert_ok (replies[6]);
  assert_error (replies[7], "E_REQUEST");
  assert_id (replies[7], "7");
  assert_ok (replies[8]);
  assert_ok (replies[9]);
  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    cJSON_Delete (replies[i]);

  /* What the batch committed: a set then removed, b never, c set. */
  assert_items (f->proto, "{\"op\":\"get\"}", "{\"c\":3}");
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
  g_autoptr(Replies) r = run_batch (f->proto, requests, G_N_ELEMENTS (requests));
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      cJSON *reply = parse_reply (r->texts->pdata[i]);
      g_autofree char *id = g_strdup_printf ("%" G_GSIZE_FORMAT, i);

      assert_ok (reply);
      assert_id (reply, id);
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
  Fixture *f = fixture_new (40);
  const char *requests[] = {
    "{\"id\":0,\"op\":\"set\",\"items\":{\"a\":\"0123456789\"}}",
    "{\"id\":1,\"op\":\"set\",\"items\":{\"small\":1,\"big\":\"0123456789012345678901234567890123456789\"}}",
    "{\"id\":2,\"op\":\"set\",\"items\":{\"b\":2}}",
  };
  g_autoptr(Replies) r = run_batch (f->proto, requests, G_N_ELEMENTS (requests));
  cJSON *r0 = parse_reply (r->texts->pdata[0]);
  cJSON *r1 = parse_reply (r->texts->pdata[1]);
  cJSON *r2 = parse_reply (r->texts->pdata[2]);

  assert_ok (r0);
  assert_error (r1, "E_QUOTA");
  assert_id (r1, "1");
  assert_ok (r2);
  /* Nothing of the failed set; everything of the others. */
  assert_items (f->proto, "{\"op\":\"get\"}", "{\"a\":\"0123456789\",\"b\":2}");
  assert_int_equal (bytes_in_use (f->proto, NULL), 13 + 2);
  cJSON_Delete (r0);
  cJSON_Delete (r1);
  cJSON_Delete (r2);
  fixture_free (f);
}

static void
test_set_is_atomic (void **state)
{
  Fixture *f = *state;
  g_autofree char *long_key = g_strnfill (NMS_STORE_MAX_KEY_BYTES + 1, 'k');
  g_autofree char *request = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"good\":1,\"%s\":2}}", long_key);

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"old\":0}}");
  call_error (f->proto, "{\"op\":\"set\",\"items\":{\"good\":1,\"\\u0000\":2}}", "E_KEY");
  call_error (f->proto, request, "E_KEY");
  call_error (f->proto, "{\"op\":\"remove\",\"keys\":[\"old\",\"\\u0000\"]}", "E_KEY");
  assert_items (f->proto, "{\"op\":\"get\"}", "{\"old\":0}");
}

static void
test_second_proto_sees_data (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsProto) other = nms_proto_new (f->config, f->origin);

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"shared\":\"yes\"}}");
  assert_items (other, "{\"op\":\"get\"}", "{\"shared\":\"yes\"}");
  call_ok (other, "{\"op\":\"remove\",\"keys\":\"shared\"}");
  assert_items (f->proto, "{\"op\":\"get\"}", "{}");
}

static void
test_origins_isolated (void **state)
{
  Fixture *f = *state;
  g_autoptr(NmsOrigin) origin2 = nms_origin_parse (NMT_ORIGIN_2, NULL);
  g_autoptr(NmsProto) other = NULL;

  assert_non_null (origin2);
  other = nms_proto_new (f->config, origin2);
  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"mine\":1}}");
  assert_items (other, "{\"op\":\"get\"}", "{}");
  call_ok (other, "{\"op\":\"clear\"}");
  assert_items (f->proto, "{\"op\":\"get\"}", "{\"mine\":1}");
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
      call_ok (f->proto, request);
    }
  text = call_text (f->proto, "{\"id\":1,\"op\":\"get\"}");
  assert_true (strlen (text) > 10 * value_len);
  reply = parse_reply (text);
  assert_ok (reply);
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

/* ---- ids -------------------------------------------------------------- */

static void
assert_echo (NmsProto *proto, const char *id_json)
{
  g_autofree char *request = g_strdup_printf ("{\"id\":%s,\"op\":\"hello\"}", id_json);
  g_autofree char *error_request = g_strdup_printf ("{\"op\":\"nope\",\"id\":%s}", id_json);
  g_autoptr(Replies) r = NULL;
  const char *batch[2];
  cJSON *ok, *err, *emitted;

  batch[0] = request;
  batch[1] = error_request;
  r = run_batch (proto, batch, 2);
  ok = parse_reply (r->texts->pdata[0]);
  err = parse_reply (r->texts->pdata[1]);
  assert_ok (ok);
  assert_id (ok, id_json);
  assert_error (err, "E_UNKNOWN_OP");
  assert_id (err, id_json);
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
  g_autofree char *absent = call_text (f->proto, "{\"op\":\"hello\"}");
  g_autofree char *null_id = call_text (f->proto, "{\"id\":null,\"op\":\"getKeys\"}");
  g_autoptr(Replies) r = NULL;
  const char *req = "{\"op\":\"nope\"}";
  cJSON *a = parse_reply (absent);
  cJSON *n = parse_reply (null_id);

  assert_id (a, "null");
  assert_id (n, "null");
  assert_true (g_str_has_prefix (absent, "{\"id\":null,"));
  r = run_batch (f->proto, &req, 1);
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
      cJSON *reply = call (f->proto, bad[i]);
      assert_error (reply, "E_REQUEST");
      assert_id (reply, "null");
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
  cJSON *reply = call (f->proto, request);
  cJSON *huge_reply = call (f->proto, huge);

  assert_error (reply, "E_REQUEST");
  assert_id (reply, "null");
  assert_error (huge_reply, "E_REQUEST");
  assert_id (huge_reply, "null");
  /* A refused request does nothing. */
  assert_items (f->proto, "{\"op\":\"get\"}", "{}");
  cJSON_Delete (reply);
  cJSON_Delete (huge_reply);
}

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
  g_autoptr(Replies) r = NULL;
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (raw); i++)
    raw_lens[i] = strlen (raw[i]);
  raw_lens[G_N_ELEMENTS (raw) - 1]++; /* the NUL after the last one's JSON */

  for (i = 0; i < G_N_ELEMENTS (texts); i++)
    call_error (f->proto, texts[i], "E_JSON");
  r = run_raw (f->proto, raw, raw_lens, G_N_ELEMENTS (raw));
  for (i = 0; i < G_N_ELEMENTS (raw); i++)
    {
      cJSON *reply = parse_reply (r->texts->pdata[i]);
      assert_error (reply, "E_JSON");
      assert_id (reply, "null");
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

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1}}");
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    call_error (f->proto, bad[i], "E_REQUEST");
  /* None of them changed anything. */
  assert_items (f->proto, "{\"op\":\"get\"}", "{\"a\":1}");
}

static void
test_error_unknown_op (void **state)
{
  Fixture *f = *state;

  call_error (f->proto, "{\"op\":\"frobnicate\"}", "E_UNKNOWN_OP");
  call_error (f->proto, "{\"op\":\"\"}", "E_UNKNOWN_OP");
  call_error (f->proto, "{\"op\":\"GET\"}", "E_UNKNOWN_OP");
  call_error (f->proto, "{\"op\":\"get \"}", "E_UNKNOWN_OP");
  call_error (f->proto, "{\"op\":\"hello\\u0000\"}", "E_UNKNOWN_OP");
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

  call_ok (f->proto, set_max);
  assert_int_equal (bytes_in_use (f->proto, NULL), NMS_STORE_MAX_KEY_BYTES + 1);
  for (t = 0; t < G_N_ELEMENTS (templates); t++)
    for (k = 0; k < G_N_ELEMENTS (bad_keys); k++)
      {
        g_autofree char *request = fill (templates[t], bad_keys[k]);
        call_error (f->proto, request, "E_KEY");
      }
  /* Still just the one item. */
  assert_int_equal (bytes_in_use (f->proto, NULL), NMS_STORE_MAX_KEY_BYTES + 1);
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
  g_autoptr(Replies) r = run_batch (proto, data_ops, G_N_ELEMENTS (data_ops));
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (data_ops); i++)
    {
      cJSON *reply = parse_reply (r->texts->pdata[i]);
      g_autofree char *id = g_strdup_printf ("%" G_GSIZE_FORMAT, i + 1);

      assert_id (reply, id);
      if (i == G_N_ELEMENTS (data_ops) - 1)
        {
          assert_ok (reply); /* hello needs no store */
          assert_true (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (reply, "store")));
        }
      else
        assert_error (reply, code);
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

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"v\":\"a\\u0000b\",\"w\":{\"k\\u0000\":[\"\\u0000\\u0000\"]},"
                     "\"x\":\"\\\\u0000 is not a NUL\"}}");
  reply = call_text (f->proto, "{\"id\":1,\"op\":\"get\",\"keys\":\"v\"}");
  assert_string_equal (reply, "{\"id\":1,\"ok\":true,\"items\":{\"v\":\"a\\u0000b\"}}");
  all = call_text (f->proto, "{\"op\":\"get\",\"keys\":[\"w\",\"x\"]}");
  assert_non_null (strstr (all, "\"w\":{\"k\\u0000\":[\"\\u0000\\u0000\"]}"));
  assert_non_null (strstr (all, "\"x\":\"\\\\u0000 is not a NUL\""));
  /* Counted as the JSON text it is: "a\u0000b" is 10 bytes. */
  assert_int_equal (bytes_in_use (f->proto, "\"v\""), 1 + 10);
  /* Defaults holding a NUL come back whole too. */
  g_free (reply);
  reply = call_text (f->proto, "{\"id\":2,\"op\":\"get\",\"keys\":{\"missing\":\"x\\u0000y\"}}");
  assert_string_equal (reply, "{\"id\":2,\"ok\":true,\"items\":{\"missing\":\"x\\u0000y\"}}");
}

/* Stuffing (json.c) keeps U+0000 and U+FFFF apart in one request. */
static void
test_nul_and_ffff_together (void **state)
{
  Fixture *f = *state;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"a\":\"\\u0000\",\"b\":\"\\uFFFF\",\"c\":\"\\u0000\\uffff0\\u0000\","
                     "\"d\":\"\xEF\xBF\xBF\\u0000\xEF\xBF\xBF\xEF\xBF\xBF\",\"\xEF\xBF\xBF\":{\"\xEF\xBF\xBF\\u0000\":1}}}");
  assert_items_text (f->proto, "{\"op\":\"get\"}",
                     "{\"a\":\"\\u0000\",\"b\":\"\xEF\xBF\xBF\",\"c\":\"\\u0000\xEF\xBF\xBF" "0\\u0000\","
                     "\"d\":\"\xEF\xBF\xBF\\u0000\xEF\xBF\xBF\xEF\xBF\xBF\",\"\xEF\xBF\xBF\":{\"\xEF\xBF\xBF\\u0000\":1}}");
  /* A key of U+FFFF in a request that holds a NUL elsewhere is that key. */
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":[\"\\uffff\",\"a\"],\"x\":\"\\u0000\"}",
                     "{\"a\":\"\\u0000\",\"\xEF\xBF\xBF\":{\"\xEF\xBF\xBF\\u0000\":1}}");
  /* A key holding a NUL is still refused. */
  call_error (f->proto, "{\"op\":\"set\",\"items\":{\"\\uffff\\u0000\":1}}", "E_KEY");
}

/* ---- Chrome's semantics ------------------------------------------------ */

/* Numbers come back as JSON.stringify writes them, never rounded. */
static void
test_numbers_exact (void **state)
{
  Fixture *f = *state;
  static const char *const cases[][2] = {
    { "0.30000000000000004", "0.30000000000000004" },
    { "9007199254740991", "9007199254740991" },
    { "-9007199254740991", "-9007199254740991" },
    { "1.0000000000000002", "1.0000000000000002" },
    { "1.7976931348623157e308", "1.7976931348623157e+308" },
    { "5e-324", "5e-324" },
    { "2.2250738585072014e-308", "2.2250738585072014e-308" },
    { "1e-7", "1e-7" },
    { "0.000001", "0.000001" },
    { "1e21", "1e+21" },
    { "1e20", "100000000000000000000" },
    { "123456789012345678901", "123456789012345680000" },
    { "9007199254740993", "9007199254740992" },
    { "2147483648", "2147483648" },
    { "1.5e300", "1.5e+300" },
    { "-0", "0" },
    { "1.0", "1" },
    { "0.1", "0.1" },
    { "100.5e-2", "1.005" },
    { "4.35", "4.35" },
    { "0.1e-6", "1e-7" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *set = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"n\":%s,\"a\":[%s]}}", cases[i][0], cases[i][0]);
      g_autofree char *want = g_strdup_printf ("{\"a\":[%s],\"n\":%s}", cases[i][1], cases[i][1]);
      g_autofree char *get_default = g_strdup_printf ("{\"op\":\"get\",\"keys\":{\"d\":%s}}", cases[i][0]);
      g_autofree char *want_default = g_strdup_printf ("{\"d\":%s}", cases[i][1]);

      call_ok (f->proto, set);
      assert_items_text (f->proto, "{\"op\":\"get\"}", want);
      assert_items_text (f->proto, get_default, want_default);
    }
}

/* Object members come back sorted by their UTF-8 bytes at every depth, and
 * so do the items of every get, as Chrome's dictionaries keep them. */
static void
test_members_sorted (void **state)
{
  Fixture *f = *state;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"b\":{\"z\":1,\"y\":[{\"\xC3\xA9\":1,\"e\":2,\"E\":3,\"\":4}],\"ab\":0,\"a\":0},"
                     "\"a\":1,\"\xF0\x9F\x98\x80\":2,\"\xEF\xBF\xBD\":3,\"10\":4,\"9\":5}}");
  assert_items_text (f->proto, "{\"op\":\"get\"}",
                     "{\"10\":4,\"9\":5,\"a\":1,\"b\":{\"a\":0,\"ab\":0,\"y\":[{\"\":4,\"E\":3,\"e\":2,\"\xC3\xA9\":1}],\"z\":1},"
                     "\"\xEF\xBF\xBD\":3,\"\xF0\x9F\x98\x80\":2}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":[\"\xF0\x9F\x98\x80\",\"a\",\"9\",\"a\",\"nope\"]}",
                     "{\"9\":5,\"a\":1,\"\xF0\x9F\x98\x80\":2}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"zz\":{\"b\":1,\"a\":2},\"a\":0,\"0\":null}}",
                     "{\"0\":null,\"a\":1,\"zz\":{\"a\":2,\"b\":1}}");
}

/* get with defaults merges an object default into a stored object,
 * recursively (base::Value::Dict::Merge); elsewhere the stored value wins. */
static void
test_defaults_merge (void **state)
{
  Fixture *f = *state;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"o\":{\"a\":1,\"n\":{\"x\":1,\"s\":[1]}},\"s\":\"str\",\"arr\":[1],"
                     "\"e\":{},\"b\":{\"$bytes\":\"YWJj\"}}}");
  /* Kept as bytes, but an object to Chrome: defaults merge into it. */
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"b\":{\"\xC3\xA9\":1,\"$bytes\":\"x\"}}}",
                     "{\"b\":{\"$bytes\":\"YWJj\",\"\xC3\xA9\":1}}");
  /* Empty bytes are a stored value too (found by the differential test,
   * seed 1262164561). */
  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"z\":{\"$bytes\":\"\"}}}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"z\":null}}", "{\"z\":{\"$bytes\":\"\"}}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"z\":{}}}", "{\"z\":{\"$bytes\":\"\"}}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"o\":{\"b\":2,\"a\":9,\"n\":{\"y\":2,\"s\":{\"k\":1}}}}}",
                     "{\"o\":{\"a\":1,\"b\":2,\"n\":{\"s\":[1],\"x\":1,\"y\":2}}}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"s\":{\"a\":1},\"arr\":{\"a\":1},\"e\":{\"d\":[2]},\"m\":{\"q\":1}}}",
                     "{\"arr\":[1],\"e\":{\"d\":[2]},\"m\":{\"q\":1},\"s\":\"str\"}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"o\":5}}",
                     "{\"o\":{\"a\":1,\"n\":{\"s\":[1],\"x\":1}}}");
}

/* A lone surrogate escape, which JSON.stringify writes, is stored as
 * U+FFFD, as Chrome stores it; a pair is the character it encodes. */
static void
test_lone_surrogates (void **state)
{
  Fixture *f = *state;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"v\":[\"\\ud800\",\"a\\udc00b\",\"\\ud83d\\ude00\",\"\\uDBFF\\uDBFF\\uDFFF\","
                     "\"\\\\ud800\",\"\\ud800\\u0041\"],\"k\\ud800\":1}}");
  assert_items_text (f->proto, "{\"op\":\"get\"}",
                     "{\"k\xEF\xBF\xBD\":1,\"v\":[\"\xEF\xBF\xBD\",\"a\xEF\xBF\xBD" "b\",\"\xF0\x9F\x98\x80\",\"\xEF\xBF\xBD\xF4\x8F\xBF\xBF\","
                     "\"\\\\ud800\",\"\xEF\xBF\xBD" "A\"]}");
}

/* The empty key is a key, for every op that names one. */
static void
test_empty_key (void **state)
{
  Fixture *f = *state;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"\":{\"\":\"\"},\"a\":1}}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":\"\"}", "{\"\":{\"\":\"\"}}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":[\"\"]}", "{\"\":{\"\":\"\"}}");
  assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"\":0}}", "{\"\":{\"\":\"\"}}");
  assert_int_equal (bytes_in_use (f->proto, "\"\""), 7);
  assert_int_equal (bytes_in_use (f->proto, "[\"\",\"\"]"), 14);
  call_ok (f->proto, "{\"op\":\"remove\",\"keys\":\"\"}");
  assert_items_text (f->proto, "{\"op\":\"get\"}", "{\"a\":1}");
}

/* getBytesInUse is Chrome's count: its JSON writer escapes "<" and
 * U+2028/U+2029, and writes a number that is not a 32-bit integer as a
 * double: exponent form from 1e12, ".0" when it has no fraction. Each
 * figure below was measured with chrome.storage.local in Chromium 156. */
static void
test_bytes_in_use_chrome_rules (void **state)
{
  Fixture *f = *state;
  static const struct { const char *value; guint64 bytes; } cases[] = {
    { "2147483648", 12 },           /* 2147483648.0 */
    { "2147483647", 10 },
    { "-2147483648", 11 },
    { "-2147483649", 13 },
    { "999999999999", 14 },         /* 999999999999.0 */
    { "1e12", 5 },                  /* 1e+12 */
    { "1234567890123", 18 },        /* 1.234567890123e+12 */
    { "1234567890123.5", 19 },      /* 1.2345678901235e+12 */
    { "123456789012.5", 14 },
    { "9007199254740991", 21 },     /* 9.007199254740991e+15 */
    { "1e20", 5 },                  /* 1e+20 */
    { "1e21", 5 },                  /* 1e+21 */
    { "12345678901234567890", 22 }, /* 1.2345678901234567e+19 */
    { "1e100", 6 },
    { "0.000001", 8 },
    { "1.5e-7", 6 },
    { "-0", 1 },
    { "1.5", 3 },
    { "\"<\"", 8 },                 /* "\u003C" */
    { "\"\\u2028\\u2029\"", 14 },   /* "\u2028\u2029" */
    { "\"\\u001f\\u007f\"", 9 },    /* "\u001F" and DEL as it is */
    { "{\"<\":[2147483648,\"x<\"]}", 35 },  /* 23 + 2 × 5 + 2 */
    { "0.30000000000000004", 19 },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *set = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"k\":%s}}", cases[i].value);
      call_ok (f->proto, set);
      if (bytes_in_use (f->proto, "\"k\"") != 1 + cases[i].bytes)
        fail_msg ("%s counts %" G_GUINT64_FORMAT ", Chrome counts %" G_GUINT64_FORMAT,
                  cases[i].value, bytes_in_use (f->proto, "\"k\"") - 1, cases[i].bytes);
      assert_int_equal (bytes_in_use (f->proto, NULL), 1 + cases[i].bytes);
    }
}

static void
test_bytes_roundtrip (void **state)
{
  Fixture *f = *state;
  const char *b64[] = { "", "AA==", "AAE=", "AAEC", "AAEC/w==", "/+/+", "SGVsbG8sIHdvcmxkIQ==" };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (b64); i++)
    {
      g_autofree char *set = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"b%" G_GSIZE_FORMAT "\":{\"$bytes\":\"%s\"}}}", i, b64[i]);
      g_autofree char *get = g_strdup_printf ("{\"id\":1,\"op\":\"get\",\"keys\":\"b%" G_GSIZE_FORMAT "\"}", i);
      g_autofree char *want = g_strdup_printf ("{\"id\":1,\"ok\":true,\"items\":{\"b%" G_GSIZE_FORMAT "\":{\"$bytes\":\"%s\"}}}", i, b64[i]);
      g_autofree char *key = g_strdup_printf ("\"b%" G_GSIZE_FORMAT "\"", i);
      g_autofree char *reply = NULL;

      call_ok (f->proto, set);
      reply = call_text (f->proto, get);
      assert_string_equal (reply, want);
      /* Counted as {"$bytes":"<base64>"}. */
      assert_int_equal (bytes_in_use (f->proto, key), 2 + strlen ("{\"$bytes\":\"\"}") + strlen (b64[i]));
    }
  /* Only an object whose single member is $bytes is bytes. */
  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"j\":{\"$bytes\":\"AA==\",\"x\":1},\"n\":{\"o\":{\"$bytes\":\"AA==\"}}}}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":[\"j\",\"n\"]}",
                "{\"j\":{\"$bytes\":\"AA==\",\"x\":1},\"n\":{\"o\":{\"$bytes\":\"AA==\"}}}");
}

/* Chrome stores a value that merely looks like {"$bytes": ...} as the
 * object it is; so does nmstore, and it comes back as sent. */
static void
test_bytes_lookalikes_are_json (void **state)
{
  Fixture *f = *state;
  const char *bad[] = {
    "\"A\"", "\"AA\"", "\"AAE\"", "\"AA=A\"", "\"A===\"", "\"====\"", "\"AA!=\"", "\"AA==AA==\"",
    "\"AA== \"", "\" AA==\"", "\"AA\\nAA==\"", "\"AA-_\"", "\"\xC3\xA9\xC3\xA9\"", "1", "null", "[]", "{}",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *request = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"b\":{\"$bytes\":%s}}}", bad[i]);
      g_autofree char *want = g_strdup_printf ("{\"b\":{\"$bytes\":%s}}", bad[i]);
      call_ok (f->proto, request);
      assert_items (f->proto, "{\"op\":\"get\"}", want);
    }
}

/* Base64 whose padding bits are not zero decodes to bytes that encode
 * differently: it is kept as JSON, and comes back as it was sent. */
static void
test_bytes_noncanonical_base64 (void **state)
{
  Fixture *f = *state;
  const char *texts[] = { "AR==", "AAF=", "AB==" };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autofree char *set = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"b\":{\"$bytes\":\"%s\"}}}", texts[i]);
      g_autofree char *want = g_strdup_printf ("{\"b\":{\"$bytes\":\"%s\"}}", texts[i]);

      call_ok (f->proto, set);
      assert_items (f->proto, "{\"op\":\"get\",\"keys\":\"b\"}", want);
    }
}

static void
test_duplicate_members (void **state)
{
  Fixture *f = *state;

  call_error (f->proto, "{\"op\":\"hello\",\"op\":\"hello\"}", "E_REQUEST");
  call_error (f->proto, "{\"op\":\"get\",\"op\":\"set\",\"items\":{\"a\":1}}", "E_REQUEST");
  call_error (f->proto, "{\"id\":1,\"id\":2,\"op\":\"hello\"}", "E_REQUEST");
  call_error (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1},\"items\":{\"b\":2}}", "E_REQUEST");
  call_error (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1,\"a\":2}}", "E_REQUEST");
  call_error (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":2,\"a\":1}}", "E_REQUEST");
  assert_items (f->proto, "{\"op\":\"get\"}", "{}");
}

/* Defaults given twice for one key: the reply must not name it twice. */
static void
test_duplicate_defaults (void **state)
{
  Fixture *f = *state;
  const char *requests[] = {
    "{\"op\":\"get\",\"keys\":{\"a\":1,\"a\":2}}",
    "{\"op\":\"get\",\"keys\":{\"s\":1,\"s\":2}}",
  };
  gsize i;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"s\":\"stored\"}}");
  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      g_autofree char *text = call_text (f->proto, requests[i]);
      cJSON *reply = parse_reply (text);

      if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
        {
          const cJSON *items = cJSON_GetObjectItemCaseSensitive (reply, "items");
          if (cJSON_GetArraySize (items) != 1)
            fail_msg ("%s: reply names a key twice: %s", requests[i], text);
        }
      else
        assert_error (reply, "E_REQUEST");
      cJSON_Delete (reply);
    }
}

/* A value with a repeated member is not one a browser can have made, and
 * storing it as it is would give back, and count, an object that no
 * JavaScript value corresponds to. */
static void
test_duplicate_members_in_value (void **state)
{
  Fixture *f = *state;
  cJSON *reply = call (f->proto, "{\"op\":\"set\",\"items\":{\"v\":{\"x\":1,\"x\":2}}}");
  const cJSON *code = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "error"), "code");

  if (!cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
    fail_msg ("a value with a repeated member was stored");
  assert_true (cJSON_IsString (code));
  assert_true (g_str_equal (code->valuestring, "E_REQUEST") || g_str_equal (code->valuestring, "E_JSON"));
  assert_error (reply, code->valuestring);
  cJSON_Delete (reply);
  assert_items (f->proto, "{\"op\":\"get\"}", "{}");
}

static char *
nested (const char *head, const char *open, const char *inner, const char *close, const char *tail, guint depth)
{
  GString *s = g_string_new (head);
  guint i;

  for (i = 0; i < depth; i++)
    g_string_append (s, open);
  g_string_append (s, inner);
  for (i = 0; i < depth; i++)
    g_string_append (s, close);
  g_string_append (s, tail);
  return g_string_free (s, FALSE);
}

static void
test_deep_nesting (void **state)
{
  Fixture *f = *state;
  g_autofree char *arrays = nested ("{\"op\":\"set\",\"items\":{\"a\":", "[", "1", "]", "}}", 10000);
  g_autofree char *objects = nested ("{\"op\":\"set\",\"items\":{\"a\":", "{\"a\":", "1", "}", "}}", 10000);
  g_autofree char *top = nested ("", "[", "", "]", "", 10000);
  g_autofree char *unclosed = nested ("{\"op\":\"set\",\"items\":{\"a\":", "[", "", "", "", 10000);
  g_autofree char *shallow = nested ("{\"op\":\"set\",\"items\":{\"ok\":", "[", "\"deep\"", "]", "}}", 200);
  g_autofree char *shallow_value = nested ("", "[", "\"deep\"", "]", "", 200);
  g_autofree char *want = g_strdup_printf ("{\"ok\":%s}", shallow_value);

  call_error (f->proto, arrays, "E_JSON");
  call_error (f->proto, objects, "E_JSON");
  call_error (f->proto, top, "E_JSON");
  call_error (f->proto, unclosed, "E_JSON");
  assert_items (f->proto, "{\"op\":\"get\"}", "{}");
  /* The host is still well after that, and moderate depth is fine. */
  call_ok (f->proto, shallow);
  assert_items (f->proto, "{\"op\":\"get\"}", want);
}

static void
test_huge_numbers (void **state)
{
  Fixture *f = *state;
  cJSON *reply = NULL;
  const cJSON *items;

  call_ok (f->proto, "{\"id\":1e400,\"op\":\"set\",\"items\":{\"n\":1e400,\"m\":-1e400,"
                     "\"big\":123456789012345678901234567890,\"tiny\":1e-400,\"neg0\":-0}}");
  reply = call (f->proto, "{\"op\":\"get\"}");
  assert_ok (reply);
  items = cJSON_GetObjectItemCaseSensitive (reply, "items");
  assert_int_equal (cJSON_GetArraySize (items), 5);
  assert_true (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (items, "big")));
  assert_true (cJSON_GetObjectItemCaseSensitive (items, "big")->valuedouble > 1.2e29);
  cJSON_Delete (reply);
}

static void
test_unicode_keys_and_values (void **state)
{
  Fixture *f = *state;

  call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"\\u00e9\\ud83d\\ude00\":\"\\u20ac\",\"\xE6\x97\xA5\":\"\xF0\x9F\x98\x80\"}}");
  assert_items (f->proto, "{\"op\":\"get\",\"keys\":\"\xC3\xA9\xF0\x9F\x98\x80\"}",
                "{\"\xC3\xA9\xF0\x9F\x98\x80\":\"\xE2\x82\xAC\"}");
  assert_items (f->proto, "{\"op\":\"get\",\"prefix\":\"\xE6\x97\xA5\"}", "{\"\xE6\x97\xA5\":\"\xF0\x9F\x98\x80\"}");
  /* Key bytes are UTF-8: 2 + 4, and "\u20ac" prints as 3 bytes in quotes. */
  assert_int_equal (bytes_in_use (f->proto, "\"\xC3\xA9\xF0\x9F\x98\x80\""), 6 + 5);
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
  reply = parse_reply (text);
  assert_error (reply, "E_QUOTA");
  assert_id (reply, "\"x\"");
  assert_string_equal (cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "error"),
                                                         "message")->valuestring, "over by \"5\" bytes\n");
  cJSON_Delete (reply);
  other = nms_proto_error_reply ("null", foreign, &len);
  reply = parse_reply (other);
  assert_error (reply, "E_INTERNAL");
  cJSON_Delete (reply);
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
  g_autoptr(Replies) r = g_new0 (Replies, 1);

  r->ids = g_ptr_array_new_with_free_func (g_free);
  r->texts = g_ptr_array_new_with_free_func (g_free);
  nms_proto_handle_batch (f->proto, inputs, 2, emit, r);
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
    cmocka_unit_test_setup_teardown (test_hello, setup, teardown),
    cmocka_unit_test (test_hello_with_quota),
    cmocka_unit_test_setup_teardown (test_batch_replies_are_standalone, setup, teardown),
    cmocka_unit_test_setup_teardown (test_served_in_groups, setup, teardown),
    cmocka_unit_test_setup_teardown (test_write_ops_reply_shape, setup, teardown),
    cmocka_unit_test_setup_teardown (test_get_forms, setup, teardown),
    cmocka_unit_test_setup_teardown (test_get_exact_text, setup, teardown),
    cmocka_unit_test_setup_teardown (test_session_reply_exact_text, setup, teardown),
    cmocka_unit_test_setup_teardown (test_get_keys_sorted, setup, teardown),
    cmocka_unit_test_setup_teardown (test_remove_and_clear, setup, teardown),
    cmocka_unit_test_setup_teardown (test_get_bytes_in_use, setup, teardown),
    cmocka_unit_test_setup_teardown (test_replies_in_order_one_each, setup, teardown),
    cmocka_unit_test_setup_teardown (test_batch_mixing_good_and_bad, setup, teardown),
    cmocka_unit_test_setup_teardown (test_flush_in_the_middle, setup, teardown),
    cmocka_unit_test (test_quota_in_batch),
    cmocka_unit_test_setup_teardown (test_set_is_atomic, setup, teardown),
    cmocka_unit_test_setup_teardown (test_second_proto_sees_data, setup, teardown),
    cmocka_unit_test_setup_teardown (test_origins_isolated, setup, teardown),
    cmocka_unit_test_setup_teardown (test_large_get, setup, teardown),
    cmocka_unit_test_setup_teardown (test_ids_echoed, setup, teardown),
    cmocka_unit_test_setup_teardown (test_id_absent_or_null, setup, teardown),
    cmocka_unit_test_setup_teardown (test_id_invalid_type, setup, teardown),
    cmocka_unit_test_setup_teardown (test_id_overlong, setup, teardown),
    cmocka_unit_test_setup_teardown (test_error_json, setup, teardown),
    cmocka_unit_test_setup_teardown (test_error_request, setup, teardown),
    cmocka_unit_test_setup_teardown (test_error_unknown_op, setup, teardown),
    cmocka_unit_test_setup_teardown (test_error_key, setup, teardown),
    cmocka_unit_test (test_error_io_when_store_cannot_open),
    cmocka_unit_test (test_error_corrupt_when_store_damaged),
    cmocka_unit_test_setup_teardown (test_nul_in_values_roundtrips, setup, teardown),
    cmocka_unit_test_setup_teardown (test_nul_and_ffff_together, setup, teardown),
    cmocka_unit_test_setup_teardown (test_numbers_exact, setup, teardown),
    cmocka_unit_test_setup_teardown (test_members_sorted, setup, teardown),
    cmocka_unit_test_setup_teardown (test_defaults_merge, setup, teardown),
    cmocka_unit_test_setup_teardown (test_lone_surrogates, setup, teardown),
    cmocka_unit_test_setup_teardown (test_empty_key, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bytes_in_use_chrome_rules, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bytes_roundtrip, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bytes_lookalikes_are_json, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bytes_noncanonical_base64, setup, teardown),
    cmocka_unit_test_setup_teardown (test_duplicate_members, setup, teardown),
    cmocka_unit_test_setup_teardown (test_duplicate_defaults, setup, teardown),
    cmocka_unit_test_setup_teardown (test_duplicate_members_in_value, setup, teardown),
    cmocka_unit_test_setup_teardown (test_deep_nesting, setup, teardown),
    cmocka_unit_test_setup_teardown (test_huge_numbers, setup, teardown),
    cmocka_unit_test_setup_teardown (test_unicode_keys_and_values, setup, teardown),
    cmocka_unit_test_setup_teardown (test_unlock_frame_is_wiped, setup, teardown),
    cmocka_unit_test_setup_teardown (test_run_one, setup, teardown),
    cmocka_unit_test (test_error_reply_helper),
  };

  /* Warnings the module logs on purpose (a store that cannot open) are not
   * failures here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  /* As main() does: the unlock op keeps a passphrase in sodium_malloc memory. */
  assert_true (nms_crypto_init (NULL));
  return cmocka_run_group_tests (tests, NULL, NULL);
}
