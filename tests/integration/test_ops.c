/* SPDX-License-Identifier: MIT */
/* test_ops.c: every op of protocol version 1 through the real host, with
 * the results checked member by member; id echoing; and replies to
 * pipelined requests coming back in request order. */
#include "harness.h"

#include <string.h>

/* Runs one request that must succeed and returns its reply. */
static cJSON *
call_ok (NmtHost *host, const char *json)
{
  cJSON *reply = nmt_host_call (host, json);

  if (reply == NULL)
    fail_msg ("no reply to %s", json);
  nmt_assert_ok (reply);
  return reply;
}

/* The "items" of a get that must succeed, compared with expected. */
static void
assert_get (NmtHost *host, const char *request, const char *expected_items)
{
  cJSON *reply = call_ok (host, request);

  nmt_assert_json (nmt_member (reply, "items"), expected_items);
  cJSON_Delete (reply);
}

static void
assert_keys (NmtHost *host, const char *request, const char *expected_keys)
{
  cJSON *reply = call_ok (host, request);

  nmt_assert_json (nmt_member (reply, "keys"), expected_keys);
  cJSON_Delete (reply);
}

static double
bytes_in_use (NmtHost *host, const char *request)
{
  cJSON *reply = call_ok (host, request);
  cJSON *bytes = nmt_member (reply, "bytes");
  double value;

  assert_true (cJSON_IsNumber (bytes));
  value = bytes->valuedouble;
  cJSON_Delete (reply);
  return value;
}

static void
test_hello (void **state)
{
  NmtFixture *f = *state;
  cJSON *reply = call_ok (f->host, "{\"id\":1,\"op\":\"hello\"}");
  cJSON *limits = nmt_member (reply, "limits");
  const char *version_args[] = { "--version", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *expected_version = NULL;

  nmt_assert_json (nmt_member (reply, "id"), "1");
  nmt_assert_json (nmt_member (reply, "name"), "\"org.nmstore.host\"");
  nmt_assert_json (nmt_member (reply, "protocol"), "1");
  nmt_assert_json (nmt_member (reply, "origin"), "\"" NMT_ORIGIN "\"");
  nmt_assert_json (nmt_member (limits, "maxRequestBytes"), "67108864");
  nmt_assert_json (nmt_member (limits, "maxResponseBytes"), "1048576");
  nmt_assert_json (nmt_member (limits, "maxKeyBytes"), "8192");
  nmt_assert_json (nmt_member (limits, "maxBatchRequests"), "1000");
  assert_true (cJSON_IsNull (nmt_member (limits, "quotaBytes")));

  /* Every op once, each answered by this host (the extension's list is
   * checked against this one by tests/browser/unit/ops.test.js). */
  {
    const cJSON *ops = nmt_member (reply, "ops");
    const cJSON *op;
    g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

    assert_true (cJSON_IsArray (ops));
    cJSON_ArrayForEach (op, ops)
      {
        assert_true (cJSON_IsString (op));
        assert_true (g_hash_table_add (seen, op->valuestring));
      }
    assert_true (g_hash_table_contains (seen, "hello"));
    assert_true (g_hash_table_contains (seen, "get"));
    assert_true (g_hash_table_contains (seen, "sessionRestore"));
    assert_true (g_hash_table_contains (seen, "subscribe"));
    assert_true (g_hash_table_contains (seen, "unlock"));
    assert_true (g_hash_table_contains (seen, "batch"));
    assert_int_equal (g_hash_table_size (seen), cJSON_GetArraySize (ops));
  }

  /* The version is the one the command line reports, not just any text. */
  assert_true (cJSON_IsString (nmt_member (reply, "version")));
  assert_int_equal (nmt_run_cli (f->home, version_args, NULL, &out, &err), 0);
  expected_version = g_strdup_printf ("nmstore %s ", nmt_member (reply, "version")->valuestring);
  assert_true (g_str_has_prefix (out, expected_version));
  cJSON_Delete (reply);
}

static void
test_id_echo (void **state)
{
  NmtFixture *f = *state;
  cJSON *reply;

  reply = call_ok (f->host, "{\"id\":\"req-\\u00e9\\\"1\",\"op\":\"hello\"}");
  nmt_assert_json (nmt_member (reply, "id"), "\"req-\\u00e9\\\"1\"");
  cJSON_Delete (reply);

  reply = call_ok (f->host, "{\"op\":\"hello\",\"id\":-42.5}");
  nmt_assert_json (nmt_member (reply, "id"), "-42.5");
  cJSON_Delete (reply);

  reply = call_ok (f->host, "{\"op\":\"hello\",\"id\":0}");
  nmt_assert_json (nmt_member (reply, "id"), "0");
  cJSON_Delete (reply);

  reply = call_ok (f->host, "{\"op\":\"hello\"}");
  assert_true (cJSON_IsNull (nmt_member (reply, "id")));
  cJSON_Delete (reply);

  reply = call_ok (f->host, "{\"op\":\"hello\",\"id\":null}");
  assert_true (cJSON_IsNull (nmt_member (reply, "id")));
  cJSON_Delete (reply);

  /* An id holding U+0000 is echoed whole: compared as text. */
  {
    g_autofree char *text = NULL;
    assert_true (nmt_host_send (f->host, "{\"id\":\"a\\u0000b\",\"op\":\"flush\"}"));
    text = nmt_host_recv_text (f->host, NULL, NULL);
    assert_string_equal (text, "{\"id\":\"a\\u0000b\",\"ok\":true}");
  }

  /* Failures echo the id too. */
  reply = nmt_host_call (f->host, "{\"id\":\"e1\",\"op\":\"noSuchOp\"}");
  nmt_assert_error (reply, "E_UNKNOWN_OP");
  nmt_assert_json (nmt_member (reply, "id"), "\"e1\"");
  cJSON_Delete (reply);

  reply = nmt_host_call (f->host, "{\"id\":77,\"op\":\"get\",\"keys\":5}");
  nmt_assert_error (reply, "E_REQUEST");
  nmt_assert_json (nmt_member (reply, "id"), "77");
  cJSON_Delete (reply);
}

static void
test_set_and_get (void **state)
{
  NmtFixture *f = *state;
  const char *all = "{\"a\":1,\"b\":\"two\",\"c\":{\"x\":[1,2]},\"pa/1\":1,\"pa/2\":2,\"pb\":3}";

  nmt_host_call_ok (f->host, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1,\"b\":\"two\",\"c\":{\"x\":[1,2]},"
                             "\"pa/1\":1,\"pa/2\":2,\"pb\":3}}");

  /* keys absent or null: every item. */
  assert_get (f->host, "{\"op\":\"get\"}", all);
  assert_get (f->host, "{\"op\":\"get\",\"keys\":null}", all);
  /* A string. */
  assert_get (f->host, "{\"op\":\"get\",\"keys\":\"b\"}", "{\"b\":\"two\"}");
  assert_get (f->host, "{\"op\":\"get\",\"keys\":\"missing\"}", "{}");
  /* An array: missing keys are absent, repeats count once. */
  assert_get (f->host, "{\"op\":\"get\",\"keys\":[\"c\",\"missing\",\"a\",\"c\"]}",
              "{\"c\":{\"x\":[1,2]},\"a\":1}");
  assert_get (f->host, "{\"op\":\"get\",\"keys\":[]}", "{}");
  /* An object of defaults: stored values win, missing keys get theirs. */
  assert_get (f->host, "{\"op\":\"get\",\"keys\":{\"a\":\"default\",\"missing\":{\"d\":[true]},\"b\":null}}",
              "{\"a\":1,\"missing\":{\"d\":[true]},\"b\":\"two\"}");
  assert_get (f->host, "{\"op\":\"get\",\"keys\":{}}", "{}");
  /* A prefix. */
  assert_get (f->host, "{\"op\":\"get\",\"prefix\":\"pa/\"}", "{\"pa/1\":1,\"pa/2\":2}");
  assert_get (f->host, "{\"op\":\"get\",\"prefix\":\"p\"}", "{\"pa/1\":1,\"pa/2\":2,\"pb\":3}");
  assert_get (f->host, "{\"op\":\"get\",\"prefix\":\"pa/1\"}", "{\"pa/1\":1}");
  assert_get (f->host, "{\"op\":\"get\",\"prefix\":\"q\"}", "{}");
  /* keys and prefix together are refused, whatever keys is. */
  nmt_host_call_error (f->host, "{\"op\":\"get\",\"keys\":\"a\",\"prefix\":\"p\"}", "E_REQUEST");
  nmt_host_call_error (f->host, "{\"op\":\"get\",\"keys\":[\"a\"],\"prefix\":\"p\"}", "E_REQUEST");
  nmt_host_call_error (f->host, "{\"op\":\"get\",\"keys\":{\"a\":1},\"prefix\":\"p\"}", "E_REQUEST");

  /* An overwrite replaces the value. */
  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"a\":{\"new\":true}}}");
  assert_get (f->host, "{\"op\":\"get\",\"keys\":\"a\"}", "{\"a\":{\"new\":true}}");
}

/* Any JSON value is stored and comes back as the same value. */
static void
test_set_any_value (void **state)
{
  NmtFixture *f = *state;
  const char *items =
    "{\"null\":null,\"true\":true,\"false\":false,\"zero\":0,\"neg\":-1.5,\"big\":1e300,"
    "\"int\":9007199254740991,\"empty\":\"\",\"text\":\"plain\","
    "\"unicode\":\"\\u00e9 \\u4e2d \\ud83d\\ude00 \\u2028 raw \xc3\xa9\xf0\x9f\x98\x80\","
    "\"escapes\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u0001\\u001f\","
    "\"nested\":{\"a\":[1,{\"b\":null,\"c\":[[],{}]}],\"d\":{\"e\":{\"f\":\"g\"}}},"
    "\"array\":[],\"object\":{},"
    "\"\xe9\x94\xae \xf0\x9f\x94\x91\":\"a non-ASCII key\"}";
  g_autofree char *request = g_strdup_printf ("{\"op\":\"set\",\"items\":%s}", items);
  cJSON *reply;

  nmt_host_call_ok (f->host, request);
  reply = call_ok (f->host, "{\"op\":\"get\"}");
  nmt_assert_json (nmt_member (reply, "items"), items);
  cJSON_Delete (reply);

  /* null is a stored value, not a removal. */
  assert_keys (f->host, "{\"op\":\"getKeys\",\"prefix\":\"null\"}", "[\"null\"]");
}

/* Strings with U+0000 round-trip exactly: compared as reply text, since a
 * C string (and cJSON) would stop at the NUL. */
static void
test_nul_in_strings (void **state)
{
  NmtFixture *f = *state;
  g_autofree char *text = NULL;

  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"z\":\"a\\u0000b\",\"n\":{\"k\\u0000\":\"\\u0000\"},"
                             "\"arr\":[\"\\u0000\\u0000\",\"x\\\\u0000y\"]}}");
  assert_true (nmt_host_send (f->host, "{\"id\":2,\"op\":\"get\",\"keys\":[\"z\",\"n\",\"arr\"]}"));
  text = nmt_host_recv_text (f->host, NULL, NULL);
  /* Items in the keys' byte order, members sorted, as Chrome's. */
  assert_string_equal (text, "{\"id\":2,\"ok\":true,\"items\":{\"arr\":[\"\\u0000\\u0000\",\"x\\\\u0000y\"],"
                             "\"n\":{\"k\\u0000\":\"\\u0000\"},\"z\":\"a\\u0000b\"}}");
  g_clear_pointer (&text, g_free);

  /* A default holding a NUL comes back whole as well. */
  assert_true (nmt_host_send (f->host, "{\"id\":3,\"op\":\"get\",\"keys\":{\"missing\":\"x\\u0000y\"}}"));
  text = nmt_host_recv_text (f->host, NULL, NULL);
  assert_string_equal (text, "{\"id\":3,\"ok\":true,\"items\":{\"missing\":\"x\\u0000y\"}}");
  g_clear_pointer (&text, g_free);

  /* Chrome counts the NUL as its six-character escape. */
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":\"z\"}"),
                    1 + strlen ("\"a\\u0000b\""));
}

/* getKeys is sorted by UTF-8 bytes, which differs from UTF-16 order for
 * U+FFFD against astral characters, and from any locale's order. */
static void
test_get_keys_sorted (void **state)
{
  NmtFixture *f = *state;

  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"b\":1,\"a\":1,\"Z\":1,\"aa\":1,\"a b\":1,"
                             "\"\\u007f\":1,\"\\u00e9\":1,\"\\u00e4\":1,\"\\ud83d\\ude00\":1,\"\\ufffd\":1,"
                             "\"\\u00bfx\":1,\"\\u00c0\":1,\"\\u00bf\":1,\"A\":1,\"0\":1}}");
  assert_keys (f->host, "{\"op\":\"getKeys\"}",
               "[\"0\",\"A\",\"Z\",\"a\",\"a b\",\"aa\",\"b\",\"\\u007f\",\"\\u00bf\",\"\\u00bfx\","
               "\"\\u00c0\",\"\\u00e4\",\"\\u00e9\",\"\\ufffd\",\"\\ud83d\\ude00\"]");
  assert_keys (f->host, "{\"op\":\"getKeys\",\"prefix\":\"a\"}", "[\"a\",\"a b\",\"aa\"]");
  assert_keys (f->host, "{\"op\":\"getKeys\",\"prefix\":\"aa\"}", "[\"aa\"]");
  /* A prefix whose last byte is 0xBF must not reach U+00C0 (0xC3 0x80). */
  assert_keys (f->host, "{\"op\":\"getKeys\",\"prefix\":\"\\u00bf\"}", "[\"\\u00bf\",\"\\u00bfx\"]");
  assert_keys (f->host, "{\"op\":\"getKeys\",\"prefix\":\"\\ud83d\\ude00\"}", "[\"\\ud83d\\ude00\"]");
  assert_keys (f->host, "{\"op\":\"getKeys\",\"prefix\":\"c\"}", "[]");
  assert_keys (f->host, "{\"op\":\"getKeys\",\"prefix\":null}",
               "[\"0\",\"A\",\"Z\",\"a\",\"a b\",\"aa\",\"b\",\"\\u007f\",\"\\u00bf\",\"\\u00bfx\","
               "\"\\u00c0\",\"\\u00e4\",\"\\u00e9\",\"\\ufffd\",\"\\ud83d\\ude00\"]");
}

static void
test_get_keys_empty (void **state)
{
  NmtFixture *f = *state;

  assert_keys (f->host, "{\"op\":\"getKeys\"}", "[]");
  assert_get (f->host, "{\"op\":\"get\"}", "{}");
}

/* A set with one bad key writes none of its keys. */
static void
test_set_atomic (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GString) request = g_string_new ("{\"op\":\"set\",\"items\":{\"good\":1,\"");

  nmt_host_call_error (f->host, "{\"op\":\"set\",\"items\":{\"good\":1,\"\\u0000\":2}}", "E_KEY");
  nmt_host_call_error (f->host, "{\"op\":\"set\",\"items\":{\"good\":1,\"bad\\u0000\":2}}", "E_KEY");
  for (int i = 0; i < 8193; i++)
    g_string_append_c (request, 'k');
  g_string_append (request, "\":2,\"also\":3}}");
  nmt_host_call_error (f->host, request->str, "E_KEY");
  nmt_host_call_error (f->host, "{\"op\":\"set\",\"items\":{\"good\":1,\"dup\":{\"m\":1,\"m\":2}}}",
                       "E_REQUEST");
  assert_keys (f->host, "{\"op\":\"getKeys\"}", "[]");

  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"x\":1,\"y\":2,\"z\":3}}");
  assert_keys (f->host, "{\"op\":\"getKeys\"}", "[\"x\",\"y\",\"z\"]");
}

static void
test_remove (void **state)
{
  NmtFixture *f = *state;

  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4}}");
  nmt_host_call_ok (f->host, "{\"op\":\"remove\",\"keys\":\"a\"}");
  assert_keys (f->host, "{\"op\":\"getKeys\"}", "[\"b\",\"c\",\"d\"]");
  nmt_host_call_ok (f->host, "{\"op\":\"remove\",\"keys\":[\"b\",\"missing\",\"d\",\"b\"]}");
  assert_keys (f->host, "{\"op\":\"getKeys\"}", "[\"c\"]");
  /* Removing what is not there is not an error. */
  nmt_host_call_ok (f->host, "{\"op\":\"remove\",\"keys\":\"missing\"}");
  nmt_host_call_ok (f->host, "{\"op\":\"remove\",\"keys\":[]}");
  /* One bad key: nothing is removed. */
  nmt_host_call_error (f->host, "{\"op\":\"remove\",\"keys\":[\"c\",\"\\u0000\"]}", "E_KEY");
  assert_get (f->host, "{\"op\":\"get\"}", "{\"c\":3}");
}

static void
test_clear (void **state)
{
  NmtFixture *f = *state;

  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"p/1\":1,\"p/2\":2,\"p\":0,\"q/1\":3,\"pz\":4}}");
  nmt_host_call_ok (f->host, "{\"op\":\"clear\",\"prefix\":\"p/\"}");
  assert_keys (f->host, "{\"op\":\"getKeys\"}", "[\"p\",\"pz\",\"q/1\"]");
  nmt_host_call_ok (f->host, "{\"op\":\"clear\",\"prefix\":\"nothing\"}");
  assert_keys (f->host, "{\"op\":\"getKeys\"}", "[\"p\",\"pz\",\"q/1\"]");
  nmt_host_call_ok (f->host, "{\"op\":\"clear\"}");
  assert_keys (f->host, "{\"op\":\"getKeys\"}", "[]");
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\"}"), 0);
}

/* Chrome's rule: UTF-8 bytes of the key plus bytes of the compact JSON. */
static void
test_get_bytes_in_use (void **state)
{
  NmtFixture *f = *state;

  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\"}"), 0);
  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"a\":\"xyz\","
                             "\"\\u043a\\u043b\\u044e\\u0447\":{ \"n\" : [1, 2, null] },"
                             "\"e\":\"\\u00e9\",\"bin\":{\"$bytes\":\"AAEC\"}}}");
  /* a: 1 + "xyz" (5) */
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":\"a\"}"), 6);
  /* ключ: 8 + {"n":[1,2,null]} (16), whitespace of the request not counted */
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":\"\\u043a\\u043b\\u044e\\u0447\"}"),
                    24);
  /* e: 1 + "é" (4: é is two bytes) */
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":[\"e\"]}"), 5);
  /* bin: 3 + {"$bytes":"AAEC"} (17) */
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":\"bin\"}"), 20);
  /* A key named twice counts twice, as in Chrome. */
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":[\"a\",\"e\",\"missing\",\"a\"]}"),
                    17);
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":\"missing\"}"), 0);
  /* An empty list counts nothing, as in Chrome. */
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":[]}"), 0);
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\"}"), 6 + 24 + 5 + 20);
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\",\"keys\":null}"), 6 + 24 + 5 + 20);

  /* The totals follow overwrites and removals. */
  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"a\":\"\"}}");
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\"}"), 3 + 24 + 5 + 20);
  nmt_host_call_ok (f->host, "{\"op\":\"remove\",\"keys\":\"\\u043a\\u043b\\u044e\\u0447\"}");
  assert_int_equal ((int) bytes_in_use (f->host, "{\"op\":\"getBytesInUse\"}"), 3 + 5 + 20);
}

static void
test_bytes_values (void **state)
{
  NmtFixture *f = *state;

  nmt_host_call_ok (f->host, "{\"op\":\"set\",\"items\":{\"bin\":{\"$bytes\":\"AAECAw==\"},"
                             "\"notbin\":{\"$bytes\":\"AA==\",\"other\":1}}}");
  assert_get (f->host, "{\"op\":\"get\"}",
              "{\"bin\":{\"$bytes\":\"AAECAw==\"},\"notbin\":{\"$bytes\":\"AA==\",\"other\":1}}");
}

static void
test_flush (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  cJSON *reply;
  int i;

  reply = call_ok (f->host, "{\"id\":\"f\",\"op\":\"flush\"}");
  /* flush has no result beyond id and ok. */
  assert_int_equal (cJSON_GetArraySize (reply), 2);
  cJSON_Delete (reply);

  /* A flush between pipelined writes: everything before it and after it
   * is acknowledged in order. */
  nmt_frame_append_str (burst, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1}}");
  nmt_frame_append_str (burst, "{\"id\":2,\"op\":\"flush\"}");
  nmt_frame_append_str (burst, "{\"id\":3,\"op\":\"set\",\"items\":{\"b\":2}}");
  nmt_frame_append_str (burst, "{\"id\":4,\"op\":\"flush\"}");
  nmt_frame_append_str (burst, "{\"id\":5,\"op\":\"get\"}");
  assert_true (nmt_host_send_raw (f->host, burst->data, burst->len));
  for (i = 1; i <= 5; i++)
    {
      reply = nmt_host_recv (f->host);
      assert_non_null (reply);
      nmt_assert_ok (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, i);
      if (i == 5)
        nmt_assert_json (nmt_member (reply, "items"), "{\"a\":1,\"b\":2}");
      cJSON_Delete (reply);
    }
}

/* Many requests in one write, of every kind and outcome, each answered
 * once and in order; a later get in the same batch sees an earlier set. */
static void
test_pipelined_order (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  const int n = 300;
  int i;

  for (i = 0; i < n; i++)
    {
      g_autofree char *json = NULL;
      switch (i % 6)
        {
        case 0: json = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k%d\":%d}}", i, i, i); break;
        case 1: json = g_strdup_printf ("{\"id\":\"s%d\",\"op\":\"get\",\"keys\":\"k%d\"}", i, i - 1); break;
        case 2: json = g_strdup_printf ("{\"id\":%d,\"op\":\"noSuchOp\"}", i); break;
        case 3: json = g_strdup ("{not json"); break;
        case 4: json = g_strdup_printf ("{\"op\":\"getKeys\",\"prefix\":\"k%d\"}", i - 4); break;
        case 5: json = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"\\u0000\":1}}", i); break;
        }
      nmt_frame_append_str (burst, json);
    }
  assert_true (nmt_host_send_raw (f->host, burst->data, burst->len));

  for (i = 0; i < n; i++)
    {
      cJSON *reply = nmt_host_recv (f->host);
      g_autofree char *id = NULL, *items = NULL, *keys = NULL;

      assert_non_null (reply);
      switch (i % 6)
        {
        case 0:
          nmt_assert_ok (reply);
          id = g_strdup_printf ("%d", i);
          break;
        case 1:
          nmt_assert_ok (reply);
          id = g_strdup_printf ("\"s%d\"", i);
          items = g_strdup_printf ("{\"k%d\":%d}", i - 1, i - 1);
          nmt_assert_json (nmt_member (reply, "items"), items);
          break;
        case 2:
          nmt_assert_error (reply, "E_UNKNOWN_OP");
          id = g_strdup_printf ("%d", i);
          break;
        case 3:
          nmt_assert_error (reply, "E_JSON");
          id = g_strdup ("null");
          break;
        case 4:
          nmt_assert_ok (reply);
          id = g_strdup ("null");
          keys = g_strdup_printf ("[\"k%d\"]", i - 4);
          nmt_assert_json (nmt_member (reply, "keys"), keys);
          break;
        case 5:
          nmt_assert_error (reply, "E_KEY");
          id = g_strdup_printf ("%d", i);
          break;
        }
      nmt_assert_json (nmt_member (reply, "id"), id);
      cJSON_Delete (reply);
    }
}

/* Frames that arrive in pieces, split inside the header and inside the
 * body, one byte per write, are put back together by the host. */
static void
test_split_frames (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GByteArray) frames = g_byte_array_new ();
  guint i;

  nmt_frame_append_str (frames, "{\"id\":1,\"op\":\"set\",\"items\":{\"split\":\"\u00e9\u00e9\"}}");
  nmt_frame_append_str (frames, "{\"id\":2,\"op\":\"get\",\"keys\":\"split\"}");
  for (i = 0; i < frames->len; i++)
    assert_true (nmt_host_send_raw (f->host, frames->data + i, 1));
  for (i = 1; i <= 2; i++)
    {
      cJSON *reply = nmt_host_recv (f->host);
      assert_non_null (reply);
      nmt_assert_ok (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, (int) i);
      if (i == 2)
        nmt_assert_json (nmt_member (reply, "items"), "{\"split\":\"\u00e9\u00e9\"}");
      cJSON_Delete (reply);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_hello, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_id_echo, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_set_and_get, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_set_any_value, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_nul_in_strings, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_get_keys_sorted, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_get_keys_empty, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_set_atomic, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_remove, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_clear, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_get_bytes_in_use, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_bytes_values, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_flush, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_pipelined_order, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_split_frames, nmt_fixture_setup, nmt_fixture_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
