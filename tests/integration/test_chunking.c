/* SPDX-License-Identifier: MIT */
/* test_chunking.c: replies larger than one browser message (1 MiB) arrive
 * as chunk frames of at most 1 MiB whose parts concatenate to exactly the
 * reply's JSON text; large values come back byte for byte. The frame
 * checks themselves (size, members, order, id) are in the harness's
 * nmt_host_recv_text. */
#include "harness.h"

#include <string.h>

#define MIB (1024 * 1024)

/* A JSON string literal as JSON.stringify writes it; written here rather
 * than borrowed from cJSON so that the host's output is checked against
 * an independent encoder. */
static void
append_json_string (GString *out, const char *text, gsize len)
{
  gsize i;

  g_string_append_c (out, '"');
  for (i = 0; i < len; i++)
    {
      guint8 c = (guint8) text[i];
      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

/* len bytes of text cycling through pieces (whole pieces only, so the
 * result is valid UTF-8 and may end a little short of len). */
static GString *
make_value (const char *const *pieces, gsize n_pieces, gsize len, guint32 seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  GString *value = g_string_sized_new (len);

  for (;;)
    {
      const char *piece = pieces[g_rand_int_range (rand, 0, (gint32) n_pieces)];
      if (value->len + strlen (piece) > len)
        break;
      g_string_append (value, piece);
    }
  return value;
}

static const char *const plain_pieces[] = {
  "a", "b", "c", "x", "y", "z", "0", "7", " ", "-", "_", "Q", "W", ".", ",",
};

static const char *const unicode_pieces[] = {
  "a", "q", "Z", "5", " ", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\xc2\xbf",
};

/* Every character that JSON must escape, plus multi-byte characters, so
 * that escaping at least doubles the size and chunk cuts land next to
 * escapes and inside characters. */
static const char *const worst_pieces[] = {
  "\"", "\\", "\"\\", "\n", "\x01", "\x1f", "\t", "\r", "\b", "\f", "/", "\xc3\xa9", "\xf0\x9f\x98\x80", "a",
};

static void
set_value (NmtHost *host, const char *key, const GString *value)
{
  g_autoptr(GString) request = g_string_new ("{\"op\":\"set\",\"items\":{");
  cJSON *reply;

  append_json_string (request, key, strlen (key));
  g_string_append_c (request, ':');
  append_json_string (request, value->str, value->len);
  g_string_append (request, "}}");
  assert_true (nmt_host_send_frame (host, request->str, request->len));
  reply = nmt_host_recv (host);
  assert_non_null (reply);
  nmt_assert_ok (reply);
  cJSON_Delete (reply);
}

/* Sends request and checks that the reply's text is exactly expected, and
 * that it took at least min_frames frames. */
static void
expect_reply_text (NmtHost *host, const char *request, const GString *expected, guint min_frames)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  guint frames = 0;

  assert_true (nmt_host_send (host, request));
  text = nmt_host_recv_text (host, &len, &frames);
  assert_non_null (text);
  if (len != expected->len || memcmp (text, expected->str, len) != 0)
    {
      gsize at = 0;
      while (at < len && at < expected->len && text[at] == expected->str[at])
        at++;
      fail_msg ("the reply (%" G_GSIZE_FORMAT " bytes) differs from the expected one (%" G_GSIZE_FORMAT
                " bytes) at byte %" G_GSIZE_FORMAT, len, expected->len, at);
    }
  assert_true (frames >= min_frames);
}

/* The value in a parsed reply is the same bytes as the one sent. */
static void
expect_stored_value (NmtHost *host, const char *request, const char *key, const GString *value)
{
  cJSON *reply, *item;

  assert_true (nmt_host_send (host, request));
  reply = nmt_host_recv (host);
  assert_non_null (reply);
  nmt_assert_ok (reply);
  item = nmt_member (nmt_member (reply, "items"), key);
  assert_true (cJSON_IsString (item));
  assert_int_equal (strlen (item->valuestring), value->len);
  assert_memory_equal (item->valuestring, value->str, value->len);
  cJSON_Delete (reply);
}

static void
test_5mib_value (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GString) value = make_value (plain_pieces, G_N_ELEMENTS (plain_pieces), 5 * MIB, 1);
  g_autoptr(GString) expected = g_string_new ("{\"id\":\"chunked\",\"ok\":true,\"items\":{\"big\":");

  set_value (f->host, "big", value);
  append_json_string (expected, value->str, value->len);
  g_string_append (expected, "}}");
  expect_reply_text (f->host, "{\"id\":\"chunked\",\"op\":\"get\",\"keys\":\"big\"}", expected, 5);
  expect_stored_value (f->host, "{\"op\":\"get\",\"keys\":[\"big\"]}", "big", value);
}

/* About 10 MiB spread over many keys, read back with one get. */
static void
test_10mib_many_keys (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GString) expected = g_string_new ("{\"id\":2,\"ok\":true,\"items\":{");
  g_autoptr(GString) keys = g_string_new ("{\"id\":3,\"op\":\"get\",\"keys\":[");
  g_autoptr(GString) expected_by_list = NULL;
  const int n = 40;
  guint64 bytes = 0;
  cJSON *reply;
  int i;

  for (i = 0; i < n; i++)
    {
      g_autofree char *key = g_strdup_printf ("key-%02d", i);
      g_autoptr(GString) value = make_value (unicode_pieces, G_N_ELEMENTS (unicode_pieces), 256 * 1024, 100 + i);

      set_value (f->host, key, value);
      if (i > 0)
        g_string_append_c (expected, ',');
      append_json_string (expected, key, strlen (key));
      g_string_append_c (expected, ':');
      append_json_string (expected, value->str, value->len);
      g_string_append_printf (keys, "%s\"%s\"", i > 0 ? "," : "", key);
      /* Chrome's count: its writer escapes U+2028 as \u2028, 3 bytes more. */
      bytes += strlen (key) + value->len + 2;
      for (const char *p = value->str; (p = strstr (p, "\xe2\x80\xa8")) != NULL; p += 3)
        bytes += 3;
    }
  g_string_append (expected, "}}");
  g_string_append (keys, "]}");
  assert_true (expected->len > 10 * MIB);
  expect_reply_text (f->host, "{\"id\":2,\"op\":\"get\"}", expected, 10);

  /* The same items asked for by name. */
  expected_by_list = g_string_new (expected->str);
  g_string_overwrite (expected_by_list, strlen ("{\"id\":"), "3");
  expect_reply_text (f->host, keys->str, expected_by_list, 10);

  reply = nmt_host_call (f->host, "{\"op\":\"getBytesInUse\"}");
  nmt_assert_ok (reply);
  assert_true (nmt_member (reply, "bytes")->valuedouble == (double) bytes);
  cJSON_Delete (reply);
}

static void
test_worst_case_escaping (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GString) value = make_value (worst_pieces, G_N_ELEMENTS (worst_pieces), 3 * MIB, 7);
  g_autoptr(GString) expected = g_string_new ("{\"id\":4,\"ok\":true,\"items\":{\"esc\":");

  set_value (f->host, "esc", value);
  append_json_string (expected, value->str, value->len);
  g_string_append (expected, "}}");
  assert_true (expected->len > 2 * value->len);
  expect_reply_text (f->host, "{\"id\":4,\"op\":\"get\",\"keys\":\"esc\"}", expected, 6);
  expect_stored_value (f->host, "{\"op\":\"get\",\"prefix\":\"es\"}", "esc", value);

  /* Only quotes and backslashes: every byte doubles, and doubles again in
   * a chunk's part. */
  g_string_truncate (value, 0);
  for (gsize i = 0; i < 2 * MIB; i++)
    g_string_append_c (value, i % 3 == 0 ? '"' : '\\');
  set_value (f->host, "esc", value);
  g_string_assign (expected, "{\"id\":4,\"ok\":true,\"items\":{\"esc\":");
  append_json_string (expected, value->str, value->len);
  g_string_append (expected, "}}");
  expect_reply_text (f->host, "{\"id\":4,\"op\":\"get\",\"keys\":\"esc\"}", expected, 8);
}

/* A reply of exactly 1 MiB is one frame; one byte more and it is chunks.
 * Each id form is carried in every chunk. */
static void
test_one_mib_boundary (void **state)
{
  NmtFixture *f = *state;
  static const char *const ids[] = { "1", "\"id \\\"quoted\\\"\"", "-2.5", NULL };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      const char *id = ids[i] ? ids[i] : "null";
      g_autofree char *head = g_strdup_printf ("{\"id\":%s,\"ok\":true,\"items\":{\"k\":\"", id);
      g_autofree char *request = ids[i] ? g_strdup_printf ("{\"id\":%s,\"op\":\"get\",\"keys\":\"k\"}", id)
                                        : g_strdup ("{\"op\":\"get\",\"keys\":\"k\"}");
      gsize fill = MIB - strlen (head) - strlen ("\"}}");
      int extra;

      for (extra = 0; extra <= 1; extra++)
        {
          g_autoptr(GString) value = g_string_new (NULL);
          g_autoptr(GString) expected = g_string_new (head);
          g_autofree char *text = NULL;
          gsize len = 0;
          guint frames = 0;

          for (gsize j = 0; j < fill + (gsize) extra; j++)
            g_string_append_c (value, (char) ('a' + j % 26));
          set_value (f->host, "k", value);
          g_string_append_len (expected, value->str, value->len);
          g_string_append (expected, "\"}}");
          assert_int_equal (expected->len, MIB + (gsize) extra);

          assert_true (nmt_host_send (f->host, request));
          text = nmt_host_recv_text (f->host, &len, &frames);
          assert_non_null (text);
          assert_int_equal (len, expected->len);
          assert_memory_equal (text, expected->str, len);
          if (extra == 0)
            assert_int_equal (frames, 1);
          else
            assert_true (frames >= 2);
        }
    }
}

/* Chunked and whole replies to pipelined requests keep request order, and
 * the chunks of one reply are never interleaved with another reply. A long
 * id (the longest echoed is 1024 bytes of JSON) still fits each chunk
 * frame in 1 MiB. */
static void
test_pipelined_chunked_replies (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GString) value = make_value (unicode_pieces, G_N_ELEMENTS (unicode_pieces), 3 * MIB, 3);
  g_autoptr(GString) expected_items = g_string_new ("{\"v\":");
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  g_autofree char *long_id = g_strnfill (1000, 'i');
  g_autofree char *long_id_get = g_strdup_printf ("{\"id\":\"%s\",\"op\":\"get\"}", long_id);
  g_autofree char *long_id_json = g_strdup_printf ("\"%s\"", long_id);
  const char *ids[] = { "1", "2", long_id_json, "4", "5" };
  int i;

  set_value (f->host, "v", value);
  append_json_string (expected_items, value->str, value->len);
  g_string_append_c (expected_items, '}');

  nmt_frame_append_str (burst, "{\"id\":1,\"op\":\"get\",\"keys\":\"v\"}");
  nmt_frame_append_str (burst, "{\"id\":2,\"op\":\"getKeys\"}");
  nmt_frame_append_str (burst, long_id_get);
  nmt_frame_append_str (burst, "{\"id\":4,\"op\":\"get\",\"keys\":\"missing\"}");
  nmt_frame_append_str (burst, "{\"id\":5,\"op\":\"get\",\"prefix\":\"v\"}");
  assert_true (nmt_host_send_raw (f->host, burst->data, burst->len));
  for (i = 0; i < 5; i++)
    {
      guint frames = 0;
      g_autofree char *text = nmt_host_recv_text (f->host, NULL, &frames);
      cJSON *reply = cJSON_Parse (text);

      assert_non_null (reply);
      nmt_assert_ok (reply);
      nmt_assert_json (nmt_member (reply, "id"), ids[i]);
      if (i == 1)
        nmt_assert_json (nmt_member (reply, "keys"), "[\"v\"]");
      else if (i == 3)
        nmt_assert_json (nmt_member (reply, "items"), "{}");
      else
        {
          nmt_assert_json (nmt_member (reply, "items"), expected_items->str);
          assert_true (frames >= 3);
        }
      cJSON_Delete (reply);
    }
}

/* One value far over the 8 MiB the host reads at a time, and the 1 MiB a
 * reply frame may hold. */
static void
test_24mib_value (void **state)
{
  NmtFixture *f = *state;
  g_autoptr(GString) value = make_value (plain_pieces, G_N_ELEMENTS (plain_pieces), 24 * MIB, 24);
  g_autoptr(GString) expected = g_string_new ("{\"id\":24,\"ok\":true,\"items\":{\"huge\":");
  cJSON *reply;

  set_value (f->host, "huge", value);
  reply = nmt_host_call (f->host, "{\"op\":\"getBytesInUse\",\"keys\":\"huge\"}");
  nmt_assert_ok (reply);
  assert_true (nmt_member (reply, "bytes")->valuedouble == (double) (strlen ("huge") + value->len + 2));
  cJSON_Delete (reply);
  append_json_string (expected, value->str, value->len);
  g_string_append (expected, "}}");
  expect_reply_text (f->host, "{\"id\":24,\"op\":\"get\",\"keys\":\"huge\"}", expected, 24);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_5mib_value, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_10mib_many_keys, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_worst_case_escaping, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_one_mib_boundary, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_pipelined_chunked_replies, nmt_fixture_setup, nmt_fixture_teardown),
    cmocka_unit_test_setup_teardown (test_24mib_value, nmt_fixture_setup, nmt_fixture_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
