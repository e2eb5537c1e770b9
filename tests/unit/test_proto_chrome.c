/* SPDX-License-Identifier: MIT */
/* test_proto_chrome.c: the protocol against chrome.storage.local's
 * semantics, in process (tests/common/protocheck.c): what each op does
 * with the values, keys, defaults and byte counts Chrome's tests and
 * documentation describe. */
#include "harness.h"
#include "protocheck.h"

#include "base/error.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "wire/frame.h"

#include <string.h>

typedef NmtProtoFixture Fixture;

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

      nmt_proto_call_ok (f->proto, set);
      nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\"}", want);
      nmt_proto_assert_items_text (f->proto, get_default, want_default);
    }
}

/* Object members come back sorted by their UTF-8 bytes at every depth, and
 * so do the items of every get, as Chrome's dictionaries keep them. */
static void
test_members_sorted (void **state)
{
  Fixture *f = *state;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"b\":{\"z\":1,\"y\":[{\"\xC3\xA9\":1,\"e\":2,\"E\":3,\"\":4}],\"ab\":0,\"a\":0},"
                     "\"a\":1,\"\xF0\x9F\x98\x80\":2,\"\xEF\xBF\xBD\":3,\"10\":4,\"9\":5}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\"}",
                     "{\"10\":4,\"9\":5,\"a\":1,\"b\":{\"a\":0,\"ab\":0,\"y\":[{\"\":4,\"E\":3,\"e\":2,\"\xC3\xA9\":1}],\"z\":1},"
                     "\"\xEF\xBF\xBD\":3,\"\xF0\x9F\x98\x80\":2}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":[\"\xF0\x9F\x98\x80\",\"a\",\"9\",\"a\",\"nope\"]}",
                     "{\"9\":5,\"a\":1,\"\xF0\x9F\x98\x80\":2}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"zz\":{\"b\":1,\"a\":2},\"a\":0,\"0\":null}}",
                     "{\"0\":null,\"a\":1,\"zz\":{\"a\":2,\"b\":1}}");
}

/* get with defaults merges an object default into a stored object,
 * recursively (base::Value::Dict::Merge); elsewhere the stored value wins. */
static void
test_defaults_merge (void **state)
{
  Fixture *f = *state;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"o\":{\"a\":1,\"n\":{\"x\":1,\"s\":[1]}},\"s\":\"str\",\"arr\":[1],"
                     "\"e\":{},\"b\":{\"$bytes\":\"YWJj\"}}}");
  /* Kept as bytes, but an object to Chrome: defaults merge into it. */
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"b\":{\"\xC3\xA9\":1,\"$bytes\":\"x\"}}}",
                     "{\"b\":{\"$bytes\":\"YWJj\",\"\xC3\xA9\":1}}");
  /* Empty bytes are a stored value too (found by the differential test,
   * seed 1262164561). */
  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"z\":{\"$bytes\":\"\"}}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"z\":null}}", "{\"z\":{\"$bytes\":\"\"}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"z\":{}}}", "{\"z\":{\"$bytes\":\"\"}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"o\":{\"b\":2,\"a\":9,\"n\":{\"y\":2,\"s\":{\"k\":1}}}}}",
                     "{\"o\":{\"a\":1,\"b\":2,\"n\":{\"s\":[1],\"x\":1,\"y\":2}}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"s\":{\"a\":1},\"arr\":{\"a\":1},\"e\":{\"d\":[2]},\"m\":{\"q\":1}}}",
                     "{\"arr\":[1],\"e\":{\"d\":[2]},\"m\":{\"q\":1},\"s\":\"str\"}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"o\":5}}",
                     "{\"o\":{\"a\":1,\"n\":{\"s\":[1],\"x\":1}}}");
}

/* A lone surrogate escape, which JSON.stringify writes, is stored as
 * U+FFFD, as Chrome stores it; a pair is the character it encodes. */
static void
test_lone_surrogates (void **state)
{
  Fixture *f = *state;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"v\":[\"\\ud800\",\"a\\udc00b\",\"\\ud83d\\ude00\",\"\\uDBFF\\uDBFF\\uDFFF\","
                     "\"\\\\ud800\",\"\\ud800\\u0041\"],\"k\\ud800\":1}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\"}",
                     "{\"k\xEF\xBF\xBD\":1,\"v\":[\"\xEF\xBF\xBD\",\"a\xEF\xBF\xBD" "b\",\"\xF0\x9F\x98\x80\",\"\xEF\xBF\xBD\xF4\x8F\xBF\xBF\","
                     "\"\\\\ud800\",\"\xEF\xBF\xBD" "A\"]}");
}

/* The empty key is a key, for every op that names one. */
static void
test_empty_key (void **state)
{
  Fixture *f = *state;

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"\":{\"\":\"\"},\"a\":1}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":\"\"}", "{\"\":{\"\":\"\"}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":[\"\"]}", "{\"\":{\"\":\"\"}}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\",\"keys\":{\"\":0}}", "{\"\":{\"\":\"\"}}");
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "\"\""), 7);
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "[\"\",\"\"]"), 14);
  nmt_proto_call_ok (f->proto, "{\"op\":\"remove\",\"keys\":\"\"}");
  nmt_proto_assert_items_text (f->proto, "{\"op\":\"get\"}", "{\"a\":1}");
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
      nmt_proto_call_ok (f->proto, set);
      if (nmt_proto_bytes_in_use (f->proto, "\"k\"") != 1 + cases[i].bytes)
        fail_msg ("%s counts %" G_GUINT64_FORMAT ", Chrome counts %" G_GUINT64_FORMAT,
                  cases[i].value, nmt_proto_bytes_in_use (f->proto, "\"k\"") - 1, cases[i].bytes);
      assert_int_equal (nmt_proto_bytes_in_use (f->proto, NULL), 1 + cases[i].bytes);
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

      nmt_proto_call_ok (f->proto, set);
      reply = nmt_proto_call_text (f->proto, get);
      assert_string_equal (reply, want);
      /* Counted as {"$bytes":"<base64>"}. */
      assert_int_equal (nmt_proto_bytes_in_use (f->proto, key), 2 + strlen ("{\"$bytes\":\"\"}") + strlen (b64[i]));
    }
  /* Only an object whose single member is $bytes is bytes. */
  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"j\":{\"$bytes\":\"AA==\",\"x\":1},\"n\":{\"o\":{\"$bytes\":\"AA==\"}}}}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":[\"j\",\"n\"]}",
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
      nmt_proto_call_ok (f->proto, request);
      nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", want);
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

      nmt_proto_call_ok (f->proto, set);
      nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":\"b\"}", want);
    }
}

static void
test_duplicate_members (void **state)
{
  Fixture *f = *state;

  nmt_proto_call_error (f->proto, "{\"op\":\"hello\",\"op\":\"hello\"}", "E_REQUEST");
  nmt_proto_call_error (f->proto, "{\"op\":\"get\",\"op\":\"set\",\"items\":{\"a\":1}}", "E_REQUEST");
  nmt_proto_call_error (f->proto, "{\"id\":1,\"id\":2,\"op\":\"hello\"}", "E_REQUEST");
  nmt_proto_call_error (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1},\"items\":{\"b\":2}}", "E_REQUEST");
  nmt_proto_call_error (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1,\"a\":2}}", "E_REQUEST");
  nmt_proto_call_error (f->proto, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":2,\"a\":1}}", "E_REQUEST");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{}");
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

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"s\":\"stored\"}}");
  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      g_autofree char *text = nmt_proto_call_text (f->proto, requests[i]);
      cJSON *reply = nmt_proto_parse_reply (text);

      if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
        {
          const cJSON *items = cJSON_GetObjectItemCaseSensitive (reply, "items");
          if (cJSON_GetArraySize (items) != 1)
            fail_msg ("%s: reply names a key twice: %s", requests[i], text);
        }
      else
        nmt_proto_assert_error (reply, "E_REQUEST");
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
  cJSON *reply = nmt_proto_call (f->proto, "{\"op\":\"set\",\"items\":{\"v\":{\"x\":1,\"x\":2}}}");
  const cJSON *code = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "error"), "code");

  if (!cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
    fail_msg ("a value with a repeated member was stored");
  assert_true (cJSON_IsString (code));
  assert_true (g_str_equal (code->valuestring, "E_REQUEST") || g_str_equal (code->valuestring, "E_JSON"));
  nmt_proto_assert_error (reply, code->valuestring);
  cJSON_Delete (reply);
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{}");
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

  nmt_proto_call_error (f->proto, arrays, "E_JSON");
  nmt_proto_call_error (f->proto, objects, "E_JSON");
  nmt_proto_call_error (f->proto, top, "E_JSON");
  nmt_proto_call_error (f->proto, unclosed, "E_JSON");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", "{}");
  /* The host is still well after that, and moderate depth is fine. */
  nmt_proto_call_ok (f->proto, shallow);
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\"}", want);
}

static void
test_huge_numbers (void **state)
{
  Fixture *f = *state;
  cJSON *reply = NULL;
  const cJSON *items;

  nmt_proto_call_ok (f->proto, "{\"id\":1e400,\"op\":\"set\",\"items\":{\"n\":1e400,\"m\":-1e400,"
                     "\"big\":123456789012345678901234567890,\"tiny\":1e-400,\"neg0\":-0}}");
  reply = nmt_proto_call (f->proto, "{\"op\":\"get\"}");
  nmt_proto_assert_ok (reply);
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

  nmt_proto_call_ok (f->proto, "{\"op\":\"set\",\"items\":{\"\\u00e9\\ud83d\\ude00\":\"\\u20ac\",\"\xE6\x97\xA5\":\"\xF0\x9F\x98\x80\"}}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"keys\":\"\xC3\xA9\xF0\x9F\x98\x80\"}",
                "{\"\xC3\xA9\xF0\x9F\x98\x80\":\"\xE2\x82\xAC\"}");
  nmt_proto_assert_items (f->proto, "{\"op\":\"get\",\"prefix\":\"\xE6\x97\xA5\"}", "{\"\xE6\x97\xA5\":\"\xF0\x9F\x98\x80\"}");
  /* Key bytes are UTF-8: 2 + 4, and "\u20ac" prints as 3 bytes in quotes. */
  assert_int_equal (nmt_proto_bytes_in_use (f->proto, "\"\xC3\xA9\xF0\x9F\x98\x80\""), 6 + 5);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_numbers_exact, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_members_sorted, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_defaults_merge, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_lone_surrogates, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_empty_key, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_bytes_in_use_chrome_rules, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_bytes_roundtrip, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_bytes_lookalikes_are_json, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_bytes_noncanonical_base64, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_duplicate_members, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_duplicate_defaults, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_duplicate_members_in_value, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_deep_nesting, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_huge_numbers, nmt_proto_setup, nmt_proto_teardown),
    cmocka_unit_test_setup_teardown (test_unicode_keys_and_values, nmt_proto_setup, nmt_proto_teardown),
  };

  /* Warnings the module logs on purpose (a store that cannot open) are not
   * failures here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  /* As main() does: the unlock op keeps a passphrase in sodium_malloc memory. */
  assert_true (nms_crypto_init (NULL));
  return cmocka_run_group_tests (tests, NULL, NULL);
}
