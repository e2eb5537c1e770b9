/* SPDX-License-Identifier: MIT */
/* protocheck.c: the protocol module (proto.h) run in process over a real
 * store in a temporary data root, for its unit suites (test_proto*.c):
 * request text in, reply text out, and the checks of a reply's shape. */
#include "protocheck.h"
#include "harness.h"

#include "base/error.h"

#include <string.h>

void
nmt_replies_free (NmtReplies *r)
{
  g_ptr_array_unref (r->ids);
  g_ptr_array_unref (r->texts);
  g_free (r);
}

void
nmt_proto_emit (const char *id_json, const char *json, gsize len, gpointer user_data)
{
  NmtReplies *r = user_data;

  assert_non_null (id_json);
  assert_non_null (json);
  /* A reply is text: no NUL inside it. */
  assert_null (memchr (json, '\0', len));
  g_ptr_array_add (r->ids, g_strdup (id_json));
  g_ptr_array_add (r->texts, g_strndup (json, len));
}

NmtProtoFixture *
nmt_proto_fixture_new (guint64 quota)
{
  NmtProtoFixture *f = g_new0 (NmtProtoFixture, 1);
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

void
nmt_proto_fixture_free (NmtProtoFixture *f)
{
  nms_proto_free (f->proto);
  nms_origin_free (f->origin);
  nms_config_free (f->config);
  nmt_remove_tree (f->home);
  g_free (f->home);
  g_free (f);
}

int
nmt_proto_setup (void **state)
{
  *state = nmt_proto_fixture_new (0);
  return 0;
}

int
nmt_proto_teardown (void **state)
{
  nmt_proto_fixture_free (*state);
  return 0;
}

/* Runs raw request bodies (data, len pairs) as one batch. */
NmtReplies *
nmt_proto_run_raw (NmsProto *proto, const char *const *data, const gsize *lens, gsize n)
{
  NmtReplies *r = g_new0 (NmtReplies, 1);
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
    i += nms_proto_handle_batch (proto, inputs + i, n - i, nmt_proto_emit, r);
  for (i = 0; i < n; i++)
    g_free (inputs[i].data);
  g_free (inputs);
  /* Exactly one reply per request. */
  assert_int_equal (r->texts->len, n);
  return r;
}

NmtReplies *
nmt_proto_run (NmsProto *proto, const char *const *requests, gsize n)
{
  g_autofree gsize *lens = g_new0 (gsize, n ? n : 1);
  gsize i;

  for (i = 0; i < n; i++)
    lens[i] = strlen (requests[i]);
  return nmt_proto_run_raw (proto, requests, lens, n);
}

/* The reply text to one request, as its own batch. */
char *
nmt_proto_call_text (NmsProto *proto, const char *request)
{
  g_autoptr(NmtReplies) r = nmt_proto_run (proto, &request, 1);
  return g_strdup (r->texts->pdata[0]);
}

cJSON *
nmt_proto_parse_reply (const char *text)
{
  cJSON *reply = cJSON_Parse (text);

  if (reply == NULL || !cJSON_IsObject (reply))
    fail_msg ("the reply is not a JSON object: %.300s", text);
  return reply;
}

cJSON *
nmt_proto_call (NmsProto *proto, const char *request)
{
  g_autofree char *text = nmt_proto_call_text (proto, request);
  return nmt_proto_parse_reply (text);
}

/* Asserts that object has exactly the members named (NULL-terminated). */
void
nmt_assert_members (const cJSON *object, const char *const *names)
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

void
nmt_proto_assert_ok (const cJSON *reply)
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
void
nmt_proto_assert_error (const cJSON *reply, const char *code)
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
  nmt_assert_members (reply, top);
  assert_true (cJSON_IsObject (err));
  nmt_assert_members (err, inner);
  assert_true (cJSON_IsString (m));
  assert_true (strlen (m->valuestring) > 0);
}

void
nmt_proto_assert_id (const cJSON *reply, const char *id_json)
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

void
nmt_proto_call_ok (NmsProto *proto, const char *request)
{
  cJSON *reply = nmt_proto_call (proto, request);
  nmt_proto_assert_ok (reply);
  cJSON_Delete (reply);
}

void
nmt_proto_call_error (NmsProto *proto, const char *request, const char *code)
{
  cJSON *reply = nmt_proto_call (proto, request);

  if (!cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
    fail_msg ("request %.300s did not fail", request);
  nmt_proto_assert_error (reply, code);
  cJSON_Delete (reply);
}

/* The reply's "items" compared with want (JSON text). */
void
nmt_proto_assert_items (NmsProto *proto, const char *request, const char *want_json)
{
  cJSON *reply = nmt_proto_call (proto, request);
  cJSON *want = cJSON_Parse (want_json);
  const cJSON *items = cJSON_GetObjectItemCaseSensitive (reply, "items");
  static const char *const shape[] = { "id", "ok", "items", NULL };

  assert_non_null (want);
  nmt_proto_assert_ok (reply);
  nmt_assert_members (reply, shape);
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
void
nmt_proto_assert_items_text (NmsProto *proto, const char *request, const char *want)
{
  g_autofree char *reply = nmt_proto_call_text (proto, request);
  const char *items = strstr (reply, ",\"items\":");
  gsize len;

  if (items == NULL)
    fail_msg ("%s failed: %s", request, reply);
  items += strlen (",\"items\":");
  len = strlen (items) - 1; /* the reply's closing brace */
  if (len != strlen (want) || strncmp (items, want, len) != 0)
    fail_msg ("%s gave\n  %.*s\nwanted\n  %s", request, (int) len, items, want);
}

guint64
nmt_proto_bytes_in_use (NmsProto *proto, const char *keys_json)
{
  g_autofree char *request = g_strdup_printf ("{\"op\":\"getBytesInUse\"%s%s}", keys_json ? ",\"keys\":" : "",
                                              keys_json ? keys_json : "");
  cJSON *reply = nmt_proto_call (proto, request);
  const cJSON *bytes = cJSON_GetObjectItemCaseSensitive (reply, "bytes");
  guint64 n;

  nmt_proto_assert_ok (reply);
  assert_true (cJSON_IsNumber (bytes));
  n = (guint64) bytes->valuedouble;
  cJSON_Delete (reply);
  return n;
}

GPtrArray *
nmt_proto_get_keys (NmsProto *proto, const char *request)
{
  cJSON *reply = nmt_proto_call (proto, request);
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive (reply, "keys");
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  const cJSON *k;
  static const char *const shape[] = { "id", "ok", "keys", NULL };

  nmt_proto_assert_ok (reply);
  nmt_assert_members (reply, shape);
  assert_true (cJSON_IsArray (keys));
  cJSON_ArrayForEach (k, keys)
    {
      assert_true (cJSON_IsString (k));
      g_ptr_array_add (out, g_strdup (k->valuestring));
    }
  cJSON_Delete (reply);
  return out;
}
