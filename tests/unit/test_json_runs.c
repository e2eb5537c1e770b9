/* SPDX-License-Identifier: MIT */
/* test_json_runs.c: the JSON module's fast paths, held to byte-by-byte
 * answers written out here.
 *
 * The readers skip plain bytes sixteen or eight at a time (json-private.h)
 * and copy an unescaped string whole. A mistake there shows only when the
 * byte that matters sits at one offset in a word, or in the tail after the
 * last whole word. So every case below is tried with that byte at every
 * position of strings from 0 to 80 bytes long, which covers every offset
 * in a 16-byte block, in an 8-byte word and in the tail. */
#include "harness.h"
#include "json/json.h"

#include <string.h>

#define MAX_LEN 80

/* "<pad a's><middle><pad a's>" with before + after a's, quoted. */
static GString *
quoted (gsize before, const char *middle, gsize after)
{
  GString *s = g_string_new ("\"");

  for (gsize i = 0; i < before; i++)
    g_string_append_c (s, 'a');
  g_string_append (s, middle);
  for (gsize i = 0; i < after; i++)
    g_string_append_c (s, 'a');
  g_string_append_c (s, '"');
  return s;
}

/* Canonical text of text, by both readers that produce it: alone, and as
 * the value of a member read by nms_json_each_member_canonical. */
static gboolean
member_value (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
              GError **error)
{
  (void) name, (void) name_len, (void) error;
  g_string_assign (user_data, "");
  g_string_append_len (user_data, value, (gssize) value_len);
  return TRUE;
}

static char *
canonical_or_error (const char *text, gsize len, GError **error)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) object = g_string_new ("{\"k\":");
  g_autoptr(GString) member = g_string_new (NULL);
  g_autoptr(GError) member_error = NULL;
  gboolean ok = nms_json_canonicalize (text, len, out, error);
  gboolean member_ok;

  g_string_append_len (object, text, (gssize) len);
  g_string_append_c (object, '}');
  member_ok = nms_json_each_member_canonical (object->str, object->len, member_value, member, &member_error);
  assert_int_equal (ok, member_ok);
  if (!ok)
    return NULL;
  assert_string_equal (out->str, member->str);
  return g_strdup (out->str);
}

/* A character that needs no escape comes back as it went in, wherever it
 * sits; one that must be escaped comes back escaped; a raw control
 * character is refused at its own offset. */
static void
test_string_every_offset (void **state)
{
  static const struct {
    const char *in, *out;  /* out NULL: refused */
  } cases[] = {
    { "\\\"", "\\\"" },
    { "\\\\", "\\\\" },
    { "\\n", "\\n" },
    { "\\u0001", "\\u0001" },
    { "\\u00e9", "\xC3\xA9" },
    { "\\/", "/" },
    { "\xC3\xA9", "\xC3\xA9" },
    { "\xE2\x80\xA8", "\xE2\x80\xA8" },
    { "<", "<" },
    { "\x7F", "\x7F" },
    { " ", " " },
    { "\x01", NULL },
    { "\x1F", NULL },
    { "\t", NULL },
  };

  (void) state;
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    for (gsize len = 0; len <= MAX_LEN; len++)
      for (gsize at = 0; at <= len; at++)
        {
          g_autoptr(GString) in = quoted (at, cases[c].in, len - at);
          g_autoptr(GError) error = NULL;
          g_autofree char *got = canonical_or_error (in->str, in->len, &error);

          if (cases[c].out == NULL)
            {
              g_autofree char *where = g_strdup_printf ("near byte %" G_GSIZE_FORMAT ")", at + 1);

              assert_null (got);
              assert_non_null (strstr (error->message, "control character"));
              assert_non_null (strstr (error->message, where));
              assert_false (nms_json_check (in->str, in->len, NULL, NULL));
            }
          else
            {
              g_autoptr(GString) want = quoted (at, cases[c].out, len - at);

              assert_non_null (got);
              assert_string_equal (got, want->str);
              assert_true (nms_json_check (in->str, in->len, NULL, NULL));
            }
        }
}

/* An unclosed string is refused however long its plain run is. */
static void
test_string_not_closed (void **state)
{
  (void) state;
  for (gsize len = 0; len <= MAX_LEN; len++)
    {
      g_autoptr(GString) in = quoted (len, "", 0);
      g_autoptr(GError) error = NULL;

      g_string_truncate (in, in->len - 1);
      assert_null (canonical_or_error (in->str, in->len, &error));
      assert_non_null (strstr (error->message, "not closed"));
    }
}

/* Chrome's count, done here byte by byte: the text's length, plus 5 for
 * each '<' (written \u003C) and 3 for each U+2028 or U+2029 inside a
 * string. The texts below hold no numbers and no escapes. */
static guint64
chrome_length_by_hand (const char *text, gsize len)
{
  guint64 total = len;

  for (gsize i = 0; i < len; i++)
    if (text[i] == '<')
      total += 5;
    else if (i + 2 < len && memcmp (text + i, "\xE2\x80\xA8", 3) == 0)
      total += 3;
    else if (i + 2 < len && memcmp (text + i, "\xE2\x80\xA9", 3) == 0)
      total += 3;
  return total;
}

static void
test_chrome_length_every_offset (void **state)
{
  static const char *const middles[] = {
    "<", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAA", "\xE2\x82\xAC", "\\\"", "\\\\", "<<", "\\\"<",
  };

  (void) state;
  for (gsize m = 0; m < G_N_ELEMENTS (middles); m++)
    for (gsize len = 0; len <= MAX_LEN; len++)
      for (gsize at = 0; at <= len; at++)
        {
          g_autoptr(GString) text = quoted (at, middles[m], len - at);
          guint64 want = chrome_length_by_hand (text->str, text->len);

          assert_int_equal (nms_json_chrome_length (text->str, text->len), want);
        }
}

/* The chunker's count of what a string becomes when escaped agrees with
 * the escaper, wherever the bytes that grow sit. */
static void
test_escaped_length_every_offset (void **state)
{
  static const char *const middles[] = { "\"", "\\", "\n", "\x01", "\x1F", "\xC3\xA9", "<", "\"\\" };

  (void) state;
  for (gsize m = 0; m < G_N_ELEMENTS (middles); m++)
    for (gsize len = 0; len <= MAX_LEN; len++)
      for (gsize at = 0; at <= len; at++)
        {
          g_autoptr(GString) text = quoted (at, middles[m], len - at);
          g_autoptr(GString) out = g_string_new (NULL);
          /* Without the quotes quoted() put around it. */
          const char *inner = text->str + 1;
          gsize inner_len = text->len - 2;

          nms_json_append_string (out, inner, inner_len);
          assert_int_equal (nms_json_escaped_length (inner, inner_len), out->len - 2);
        }
}

/* A bad byte or a NUL is found at its own offset, after any run of ASCII. */
static void
test_utf8_every_offset (void **state)
{
  static const struct {
    const char *bytes;
    gsize       len;
    gboolean    valid;
  } cases[] = {
    { "\xFF", 1, FALSE },
    { "\0", 1, FALSE },
    { "\x80", 1, FALSE },
    { "\xC3", 1, FALSE },  /* cut short */
    { "\xC3\xA9", 2, TRUE },
    { "\xF0\x9F\x98\x80", 4, TRUE },
    { "\xED\xA0\x80", 3, FALSE },  /* a surrogate */
    { "\x7F", 1, TRUE },
  };

  (void) state;
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    for (gsize len = 0; len <= MAX_LEN; len++)
      for (gsize at = 0; at <= len; at++)
        {
          g_autoptr(GString) text = g_string_new (NULL);
          const char *bad = NULL;

          for (gsize i = 0; i < at; i++)
            g_string_append_c (text, 'a');
          g_string_append_len (text, cases[c].bytes, (gssize) cases[c].len);
          for (gsize i = at; i < len; i++)
            g_string_append_c (text, 'a');
          assert_int_equal (nms_json_is_utf8 (text->str, text->len, &bad), cases[c].valid);
          if (!cases[c].valid)
            assert_ptr_equal (bad, text->str + at);
        }
}

/* The readers without a visitor check a text's UTF-8 string by string as
 * they read it (json-scan.c), not in a pass of their own first; yet each
 * gives the answer and the error that the pass first would give: a bad
 * byte inside a string found at its own offset, wherever it sits in the
 * run, and a bad byte anywhere reported before any other fault. */
static gboolean
count_member (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
              GError **error)
{
  (void) name, (void) name_len, (void) value, (void) value_len, (void) error;
  (*(guint *) user_data)++;
  return TRUE;
}

static void
assert_refused_at (const char *text, gsize len, gsize offset)
{
  g_autoptr(GError) check_error = NULL, canonical_error = NULL, member_error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) object = g_string_new ("{\"k\":");
  guint members = 0;
  g_autofree char *want = g_strdup_printf ("not valid UTF-8, or holds a raw NUL (first bad byte at offset %"
                                           G_GSIZE_FORMAT ")", offset);

  assert_false (nms_json_check (text, len, NULL, &check_error));
  assert_non_null (strstr (check_error->message, want));
  assert_false (nms_json_canonicalize (text, len, out, &canonical_error));
  assert_non_null (strstr (canonical_error->message, want));
  assert_int_equal (out->len, 0);

  /* As a member's value, after one member: that member may have been
   * shown to the visitor, but the text is refused all the same. */
  g_string_append_len (object, text, (gssize) len);
  g_string_append_c (object, '}');
  g_free (want);
  want = g_strdup_printf ("(first bad byte at offset %" G_GSIZE_FORMAT ")", offset + 5);
  assert_false (nms_json_each_member (object->str, object->len, count_member, &members, &member_error));
  assert_non_null (strstr (member_error->message, want));
}

static void
test_utf8_in_strings_every_offset (void **state)
{
  static const struct {
    const char *bytes;
    gsize       len;
    gssize      bad;  /* the bad byte's offset in bytes; -1: valid */
  } cases[] = {
    { "\xFF", 1, 0 },
    { "\0", 1, 0 },
    { "\x80", 1, 0 },
    { "\xC3", 1, 0 },              /* cut short by the closing quote */
    { "\xC3\xA9", 2, -1 },
    { "\xC3\xA9\xC3", 3, 2 },      /* a good character, then a cut one */
    { "\xC3\xA9" "a" "\xE2\x82\xAC", 6, -1 },
    { "\xF0\x9F\x98\x80", 4, -1 },
    { "\xF0\x9F\x98", 3, 0 },
    { "\xED\xA0\x80", 3, 0 },      /* a surrogate */
    { "\xC0\xAF", 2, 0 },          /* an overlong '/' */
    { "\xF4\x90\x80\x80", 4, 0 }, /* past U+10FFFF */
  };

  (void) state;
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    for (gsize len = 0; len <= MAX_LEN; len++)
      for (gsize at = 0; at <= len; at++)
        {
          g_autoptr(GString) text = g_string_new ("\"");
          g_autoptr(GString) out = g_string_new (NULL);

          for (gsize i = 0; i < at; i++)
            g_string_append_c (text, 'a');
          g_string_append_len (text, cases[c].bytes, (gssize) cases[c].len);
          for (gsize i = at; i < len; i++)
            g_string_append_c (text, 'a');
          g_string_append_c (text, '"');
          if (cases[c].bad < 0)
            {
              assert_true (nms_json_check (text->str, text->len, NULL, NULL));
              assert_true (nms_json_canonicalize (text->str, text->len, out, NULL));
              assert_string_equal (out->str, text->str);
            }
          else
            assert_refused_at (text->str, text->len, 1 + at + (gsize) cases[c].bad);
        }
}

/* A text with another fault before its bad byte is refused for the byte,
 * as when its UTF-8 is checked first; one whose bytes are all good gets
 * the other fault. */
static void
test_utf8_before_other_faults (void **state)
{
  static const struct {
    const char *text;
    gsize       bad;
  } refused[] = {
    { "[1,,\"\xFF\"]", 5 },              /* a missing value */
    { "[\xFF]", 1 },                      /* outside any string */
    { "{\"a\":1,\"a\":2,\"b\":\"\xC3\"}", 18 }, /* a member named twice */
    { "\"abc\\q\xFF\"", 6 },             /* an unknown escape */
    { "[\"\x01\xFF\"]", 3 },              /* a raw control character, then a bad byte */
    { "[1] \xE9", 4 },                     /* text after the value */
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  const char *twice;

  (void) state;
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    assert_refused_at (refused[i].text, strlen (refused[i].text), refused[i].bad);
  /* Good UTF-8 outside a string is still not JSON. */
  assert_false (nms_json_check ("[\xC3\xA9]", 4, NULL, &error));
  assert_non_null (strstr (error->message, "not valid JSON"));
  g_clear_error (&error);
  twice = "{\"\xC3\xA9\":1,\"\xC3\xA9\":2}";
  assert_false (nms_json_canonicalize (twice, strlen (twice), out, &error));
  assert_non_null (strstr (error->message, "twice"));
}

/* Integers are written without printf now: both signs, the ends of the
 * exact range, and the first number past it (written by the general
 * path, exactly). */
static void
test_integers (void **state)
{
  static const struct {
    double      value;
    const char *text;
  } cases[] = {
    { 1, "1" },
    { -1, "-1" },
    { 10, "10" },
    { -100, "-100" },
    { 1763700000000.0, "1763700000000" },
    { 9007199254740991.0, "9007199254740991" },
    { -9007199254740991.0, "-9007199254740991" },
    { 9007199254740992.0, "9007199254740992" },
    { 1e21, "1e+21" },
    { 123456789012345680000.0, "123456789012345680000" },
  };

  (void) state;
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GString) out = g_string_new (NULL);

      nms_json_append_number (out, cases[i].value);
      assert_string_equal (out->str, cases[i].text);
    }
}

/* Numbers read from a request: an integer of up to 15 digits is copied as
 * it stands, everything else goes through the double, as JavaScript reads
 * it. The expected texts are what JSON.stringify(JSON.parse(text)) gives. */
static void
test_number_texts (void **state)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
    { "0", "0" },
    { "-0", "0" },
    { "-0.0", "0" },
    { "-5", "-5" },
    { "7", "7" },
    { "123456789012345", "123456789012345" },
    { "-123456789012345", "-123456789012345" },
    { "1234567890123456", "1234567890123456" },
    { "12345678901234567", "12345678901234568" },
    { "9007199254740993", "9007199254740992" },
    { "1.0", "1" },
    { "1e2", "100" },
    { "1E+2", "100" },
    { "0.1", "0.1" },
    { "1e21", "1e+21" },
    { "[1,-0,22]", "[1,0,22]" },
  };

  (void) state;
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *got = canonical_or_error (cases[i].in, strlen (cases[i].in), &error);

      assert_non_null (got);
      assert_string_equal (got, cases[i].out);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_string_every_offset),
    cmocka_unit_test (test_string_not_closed),
    cmocka_unit_test (test_chrome_length_every_offset),
    cmocka_unit_test (test_escaped_length_every_offset),
    cmocka_unit_test (test_utf8_every_offset),
    cmocka_unit_test (test_utf8_in_strings_every_offset),
    cmocka_unit_test (test_utf8_before_other_faults),
    cmocka_unit_test (test_integers),
    cmocka_unit_test (test_number_texts),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
