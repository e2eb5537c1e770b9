/* SPDX-License-Identifier: MIT */
/* test_json.c: the pieces of the value format that every other file now
 * writes through the JSON module (json.h): a string escaped exactly as
 * JSON.stringify escapes it, the escape cost the chunker plans frames with,
 * the {"$bytes"} form in both directions, and hex (hex.h). The expected
 * texts are written out here by hand or checked against cJSON's reader,
 * not computed with the module's own rules. */
#include "harness.h"
#include "base/hex.h"
#include "json/json.h"

#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

static char *
escaped (const char *text, gsize len)
{
  GString *out = g_string_new (NULL);

  nms_json_append_string (out, text, len);
  return g_string_free (out, FALSE);
}

static void
assert_escapes (const char *text, gsize len, const char *want)
{
  g_autofree char *got = escaped (text, len);

  assert_string_equal (got, want);
  /* Two quotes around what the cost function counts. */
  assert_int_equal (strlen (got), nms_json_escaped_length (text, len) + 2);
}

static char *
canonical (const char *text)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  assert_true (nms_json_canonicalize (text, strlen (text), out, &error));
  assert_null (error);
  return g_strdup (out->str);
}

/* The same text through json.c's tree: both readers must agree. */
static char *
canonical_via_tree (const char *text)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  NmsJson doc;

  assert_true (nms_json_parse_const (text, strlen (text), &doc, &error));
  nms_json_write (out, doc.root, doc.stuffed);
  nms_json_clear (&doc);
  return g_strdup (out->str);
}

static void
assert_canonical (const char *text, const char *want)
{
  g_autofree char *scanned = canonical (text);
  g_autofree char *tree = canonical_via_tree (text);

  assert_string_equal (scanned, want);
  assert_string_equal (tree, want);
}

/* ---- strings ---------------------------------------------------------- */

/* JSON.stringify's escapes, as ECMA-262 QuoteJSONString lists them: the
 * five short forms, \u00xx in lowercase for the other control characters,
 * and nothing else (not DEL, not "/", not "<"). */
static void
test_escape_control_characters (void **state)
{
  static const char *const short_forms[] = {
    [0x08] = "\"\\b\"", [0x09] = "\"\\t\"", [0x0a] = "\"\\n\"", [0x0c] = "\"\\f\"", [0x0d] = "\"\\r\"",
  };
  guint c;

  for (c = 0; c < 0x20; c++)
    {
      char text[1] = { (char) c };
      g_autofree char *want = NULL;

      if (c < G_N_ELEMENTS (short_forms) && short_forms[c] != NULL)
        want = g_strdup (short_forms[c]);
      else
        want = g_strdup_printf ("\"\\u00%c%c\"", "01"[c >> 4], "0123456789abcdef"[c & 15]);
      assert_escapes (text, 1, want);
    }
  assert_escapes ("\"", 1, "\"\\\"\"");
  assert_escapes ("\\", 1, "\"\\\\\"");
  assert_escapes ("\x7f/<>'&", 6, "\"\x7f/<>'&\"");
  /* U+0000 inside a string: the length is what counts, not a NUL. */
  assert_escapes ("a\0b", 3, "\"a\\u0000b\"");
  assert_escapes ("", 0, "\"\"");
  assert_escapes ("line\r\nnext\ttab \x1f end", strlen ("line\r\nnext\ttab \x1f end"),
                  "\"line\\r\\nnext\\ttab \\u001f end\"");
}

/* U+2028 and U+2029 go out as they are, as JSON.stringify writes them
 * (since ES2019). Chrome's own writer escapes them, and its byte count
 * (what quotas are charged) says so. */
static void
test_line_separators (void **state)
{
  assert_escapes ("\xE2\x80\xA8\xE2\x80\xA9", 6, "\"\xE2\x80\xA8\xE2\x80\xA9\"");
  /* "\u2028" is 6 bytes to Chrome where the character is 3. */
  assert_int_equal (nms_json_chrome_length ("\"\xE2\x80\xA8\"", 5), 8);
  assert_int_equal (nms_json_chrome_length ("\"\xE2\x80\xA8\xE2\x80\xA9\"", 8), 14);
  /* Characters next to them are not. */
  assert_int_equal (nms_json_chrome_length ("\"\xE2\x80\xA7\"", 5), 5);
}

/* The module turns a lone UTF-16 surrogate escape into U+FFFD when it
 * reads text, as Chrome does, and keeps a proper pair as its character;
 * the written text then holds valid UTF-8 only. */
static void
test_lone_surrogates (void **state)
{
  assert_canonical ("\"\\ud800\"", "\"\xEF\xBF\xBD\"");
  assert_canonical ("\"\\udc00x\"", "\"\xEF\xBF\xBDx\"");
  assert_canonical ("\"\\ud800\\u0041\"", "\"\xEF\xBF\xBD" "A\"");
  assert_canonical ("\"a\\udbff\"", "\"a\xEF\xBF\xBD\"");
  assert_canonical ("\"\\ude00\\ud83d\"", "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  assert_canonical ("\"\\ud83d\\ude00\"", "\"\xF0\x9F\x98\x80\"");
  /* In a member name too. */
  assert_canonical ("{\"\\ud800\":1}", "{\"\xEF\xBF\xBD\":1}");
  /* Escapes JSON.stringify would not write are dropped; U+0000 is kept. */
  assert_canonical ("\"\\u0041\\/\\u0000\\u001F\"", "\"A/\\u0000\\u001f\"");
}

/* A random string of the bytes that matter: controls, quote, backslash,
 * ASCII, and the leading and continuation bytes of UTF-8. */
static gsize
random_text (GRand *rand, char *buf, gsize size)
{
  static const char pool[] = "\x01\x08\x09\x0a\x0c\x0d\x1f\"\\/ az<\x7f\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80\xFF";
  gsize len = (gsize) g_rand_int_range (rand, 0, (gint32) size), i;

  for (i = 0; i < len; i++)
    buf[i] = g_rand_int_range (rand, 0, 8) == 0 ? (char) g_rand_int_range (rand, 1, 256)
                                                 : pool[g_rand_int_range (rand, 0, sizeof pool - 1)];
  return len;
}

/* What frame.c plans with is what the escaper writes, byte for byte and
 * for whole strings; and cJSON's reader gets the string back. */
static void
test_escape_cost_agrees (void **state)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (16);
  guint c, round;

  for (c = 0; c < 256; c++)
    {
      char text[1] = { (char) c };
      g_autofree char *got = escaped (text, 1);

      assert_int_equal (nms_json_escaped_length (text, 1), strlen (got) - 2);
      assert_true (nms_json_escaped_length (text, 1) <= NMS_JSON_MAX_ESCAPED_BYTE);
    }
  for (round = 0; round < 2000; round++)
    {
      char buf[96];
      gsize len = random_text (rand, buf, sizeof buf), i, sum = 0;
      g_autofree char *got = escaped (buf, len);
      cJSON *back;

      assert_int_equal (strlen (got), nms_json_escaped_length (buf, len) + 2);
      for (i = 0; i < len; i++)
        sum += nms_json_escaped_length (buf + i, 1);
      assert_int_equal (sum, nms_json_escaped_length (buf, len));
      /* No NUL in buf: cJSON reads it whole, as bytes. */
      back = cJSON_Parse (got);
      assert_non_null (back);
      assert_true (cJSON_IsString (back));
      assert_int_equal (strlen (back->valuestring), len);
      assert_memory_equal (back->valuestring, buf, len);
      cJSON_Delete (back);
    }
}

/* ---- bytes ------------------------------------------------------------ */

static char *
bytes_text (const guint8 *data, gsize len)
{
  GString *out = g_string_new ("x");

  nms_json_append_bytes (out, data, len);
  assert_int_equal (out->len - 1, nms_json_bytes_length (len));
  /* Appended after what was there. */
  assert_int_equal (out->str[0], 'x');
  g_string_erase (out, 0, 1);
  return g_string_free (out, FALSE);
}

static void
test_bytes_written (void **state)
{
  g_autofree char *empty = bytes_text ((const guint8 *) "", 0);
  g_autofree char *abc = bytes_text ((const guint8 *) "abc", 3);
  g_autofree char *one = bytes_text ((const guint8 *) "\x01", 1);
  g_autofree char *nul = bytes_text ((const guint8 *) "\0\xff", 2);

  assert_string_equal (empty, "{\"$bytes\":\"\"}");
  assert_string_equal (abc, "{\"$bytes\":\"YWJj\"}");
  assert_string_equal (one, "{\"$bytes\":\"AQ==\"}");
  assert_string_equal (nul, "{\"$bytes\":\"AP8=\"}");
  assert_int_equal (nms_json_bytes_length (0), 13);
  assert_int_equal (nms_json_bytes_length (4), 13 + 8);
}

static void
test_bytes_read (void **state)
{
  static const char empty[] = "{\"$bytes\":\"\"}", abc[] = "{\"$bytes\":\"YWJj\"}";
  g_autofree guint8 *none = NULL, *three = NULL;
  gsize len = 99;

  none = nms_json_read_bytes (empty, strlen (empty), &len);
  assert_non_null (none); /* empty bytes are bytes, not "not bytes" */
  assert_int_equal (len, 0);
  three = nms_json_read_bytes (abc, strlen (abc), &len);
  assert_non_null (three);
  assert_int_equal (len, 3);
  assert_memory_equal (three, "abc", 3);
}

/* Anything but the exact form is ordinary JSON, as Chrome would keep it. */
static void
test_bytes_read_refuses (void **state)
{
  static const char *const not_bytes[] = {
    "{\"$bytes\":\"AR==\"}",         /* bits after the last byte */
    "{\"$bytes\":\"YWJ\"}",          /* not a multiple of 4 */
    "{\"$bytes\":\"YW Jj\"}",
    "{\"$bytes\":\"YWJj\",\"x\":1}", /* another member */
    "{\"$byte\":\"YWJj\"}",
    "{\"$bytez\":\"YWJj\"}",        /* another name of the same length */
    "{\"$BYTES\":\"YWJj\"}",
    "{\"$bytes\":1}",
    "{\"$bytes\":\"YWJj\"",
    "{\"$bytes\":\"YWJj\"]",
    "{\"$bytes\": \"YWJj\"}",       /* not canonical */
    "\"YWJj\"",
    "{}",
    "",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (not_bytes); i++)
    {
      gsize len = 0;
      g_autofree guint8 *data = nms_json_read_bytes (not_bytes[i], strlen (not_bytes[i]), &len);

      if (data != NULL)
        fail_msg ("%s was read as bytes", not_bytes[i]);
    }
}

static void
test_bytes_round_trip (void **state)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  gsize len, i;

  for (len = 0; len < 70; len++)
    {
      g_autofree guint8 *data = g_malloc (len + 1), *back = NULL;
      g_autofree char *text = NULL;
      gsize back_len = 99;

      for (i = 0; i < len; i++)
        data[i] = (guint8) g_rand_int_range (rand, 0, 256);
      text = bytes_text (data, len);
      back = nms_json_read_bytes (text, strlen (text), &back_len);
      assert_non_null (back);
      assert_int_equal (back_len, len);
      if (len > 0)
        assert_memory_equal (back, data, len);
    }
}

/* ---- hex -------------------------------------------------------------- */

static void
test_hex (void **state)
{
  static const guint8 data[] = { 0x00, 0x01, 0x0f, 0x10, 0xab, 0xff };
  g_autofree char *all = nms_hex_encode (data, sizeof data);
  g_autofree char *none = nms_hex_encode (data, 0);
  g_autoptr(GString) out = g_string_new ("id ");

  assert_string_equal (all, "00010f10abff");
  assert_string_equal (none, "");
  nms_hex_append (out, data + 4, 2);
  assert_string_equal (out->str, "id abff");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_escape_control_characters),
    cmocka_unit_test (test_line_separators),
    cmocka_unit_test (test_lone_surrogates),
    cmocka_unit_test (test_escape_cost_agrees),
    cmocka_unit_test (test_bytes_written),
    cmocka_unit_test (test_bytes_read),
    cmocka_unit_test (test_bytes_read_refuses),
    cmocka_unit_test (test_bytes_round_trip),
    cmocka_unit_test (test_hex),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
