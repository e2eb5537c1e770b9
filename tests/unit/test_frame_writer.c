/* SPDX-License-Identifier: MIT */
/* test_frame_writer.c: the frame writer (frame.h), in process: frame
 * headers, and the split of a reply larger than one browser message into
 * chunk frames. The reader's tests are in test_frame_reader.c. */
#include "harness.h"

#include "base/error.h"
#include "wire/frame.h"

#include <string.h>

/* ---- writer ----------------------------------------------------------- */

typedef struct {
  gsize len;
  char *body;
} Frame;

static GArray *
split_frames (const GByteArray *out)
{
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  gsize at = 0;

  while (at < out->len)
    {
      guint32 len;
      Frame f;

      assert_true (out->len - at >= NMS_FRAME_HEADER_BYTES);
      memcpy (&len, out->data + at, sizeof len);
      at += NMS_FRAME_HEADER_BYTES;
      assert_true (out->len - at >= len);
      f.len = len;
      f.body = g_strndup ((const char *) out->data + at, len);
      assert_int_equal (strlen (f.body), len); /* no NUL inside a frame */
      at += len;
      g_array_append_val (frames, f);
    }
  return frames;
}

static void
free_frames (GArray *frames)
{
  guint i;

  for (i = 0; i < frames->len; i++)
    g_free (g_array_index (frames, Frame, i).body);
  g_array_free (frames, TRUE);
}

/* Appends json as a message, then checks every rule of chunking: n >= 2
 * frames, each at most max, each a JSON object with this id and its index,
 * and the parts, decoded, concatenating to exactly json. Returns n. */
static guint
assert_chunked (const char *id_json, const char *json, gsize len, gsize max)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) joined = g_string_new (NULL);
  cJSON *want_id = cJSON_Parse (id_json);
  GArray *frames;
  guint i, n;

  assert_non_null (want_id);
  assert_true (len > max);
  assert_true (nms_frame_append_message (out, id_json, json, len, max, &error));
  assert_null (error);
  frames = split_frames (out);
  n = frames->len;
  assert_true (n >= 2);
  for (i = 0; i < n; i++)
    {
      Frame *f = &g_array_index (frames, Frame, i);
      cJSON *chunk = NULL;
      const cJSON *part, *idx, *count, *id;

      assert_true (f->len <= max);
      assert_true (g_utf8_validate (f->body, (gssize) f->len, NULL));
      chunk = cJSON_ParseWithLength (f->body, f->len);
      assert_non_null (chunk);
      assert_true (cJSON_IsObject (chunk));
      assert_int_equal (cJSON_GetArraySize (chunk), 4);
      id = cJSON_GetObjectItemCaseSensitive (chunk, "id");
      idx = cJSON_GetObjectItemCaseSensitive (chunk, "chunk");
      count = cJSON_GetObjectItemCaseSensitive (chunk, "chunks");
      part = cJSON_GetObjectItemCaseSensitive (chunk, "part");
      assert_non_null (id);
      assert_true (cJSON_Compare (id, want_id, TRUE));
      assert_true (cJSON_IsNumber (idx));
      assert_int_equal (idx->valuedouble, i);
      assert_true (cJSON_IsNumber (count));
      assert_int_equal (count->valuedouble, n);
      assert_true (cJSON_IsString (part));
      /* Every part is whole UTF-8 on its own. */
      assert_true (g_utf8_validate (part->valuestring, -1, NULL));
      g_string_append (joined, part->valuestring);
      cJSON_Delete (chunk);
    }
  assert_int_equal (joined->len, len);
  assert_memory_equal (joined->str, json, len);
  free_frames (frames);
  cJSON_Delete (want_id);
  return n;
}

/* A reply of exactly len bytes. */
static char *
reply_of_length (gsize len)
{
  static const char head[] = "{\"id\":1,\"ok\":true,\"items\":{\"k\":\"";
  static const char tail[] = "\"}}";
  g_autofree char *fill = NULL;

  g_assert (len > sizeof head + sizeof tail);
  fill = g_strnfill (len - (sizeof head - 1) - (sizeof tail - 1), '0');
  return g_strconcat (head, fill, tail, NULL);
}

/* The host writes a large reply's frames out one at a time through a
 * chunker, emptying its buffer between them: the bytes on the wire are
 * exactly those of appending the whole message at once, and every frame
 * but the last is filled to within one escaped character of the limit
 * (the planner sums runs without checking each byte against the budget). */
static void
test_chunker_streams_the_same_frames (void **state)
{
  const gsize max = 4096;
  g_autoptr(GString) json = g_string_new ("{\"id\":3,\"ok\":true,\"items\":{\"k\":\"");
  g_autoptr(GByteArray) whole = g_byte_array_new ();
  g_autoptr(GByteArray) streamed = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(NmsFrameChunker) chunker = NULL;
  g_autoptr(GError) error = NULL;
  GArray *frames;
  guint i, n = 0;

  while (json->len < 10 * max)
    g_string_append (json, "ab\\\"c\\u0001d\xC3\xA9\xF0\x9F\x98\x80 \\n");
  g_string_append (json, "\"}}");
  assert_true (nms_frame_append_message (whole, "3", json->str, json->len, max, &error));
  chunker = nms_frame_chunker_new_message ("3", json->str, json->len, max, &error);
  assert_non_null (chunker);
  while (nms_frame_chunker_next (chunker, out))
    {
      g_byte_array_append (streamed, out->data, out->len);
      g_byte_array_set_size (out, 0);
      n++;
    }
  assert_false (nms_frame_chunker_next (chunker, out));
  assert_int_equal (streamed->len, whole->len);
  assert_memory_equal (streamed->data, whole->data, whole->len);
  assert_int_equal (assert_chunked ("3", json->str, json->len, max), n);

  frames = split_frames (streamed);
  for (i = 0; i + 1 < frames->len; i++)
    assert_true (g_array_index (frames, Frame, i).len + 6 + 4 >= max - 2 * 20);
  free_frames (frames);
}

/* A message that fits is one frame, once. */
static void
test_chunker_whole_message (void **state)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(NmsFrameChunker) chunker = nms_frame_chunker_new_event ("changed", "{\"event\":\"changed\"}", 19, 100,
                                                                    NULL);

  assert_true (nms_frame_chunker_next (chunker, out));
  assert_false (nms_frame_chunker_next (chunker, out));
  assert_int_equal (out->len, 4 + 19);
  assert_memory_equal (out->data + 4, "{\"event\":\"changed\"}", 19);
}

static void
test_append_frame_header (void **state)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint32 header;

  nms_frame_append (out, "{\"ok\":true}", 11);
  nms_frame_append (out, "", 0);
  assert_int_equal (out->len, 4 + 11 + 4);
  memcpy (&header, out->data, 4);
  assert_int_equal (header, 11);
  assert_memory_equal (out->data + 4, "{\"ok\":true}", 11);
  memcpy (&header, out->data + 15, 4);
  assert_int_equal (header, 0);
}

static void
test_append_message_small_is_one_frame (void **state)
{
  const gsize max = 200;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  GArray *frames;

  /* Exactly max bytes: still one plain frame. */
  json = reply_of_length (max);
  assert_int_equal (strlen (json), max);
  assert_true (nms_frame_append_message (out, "1", json, max, max, &error));
  assert_null (error);
  frames = split_frames (out);
  assert_int_equal (frames->len, 1);
  assert_int_equal (g_array_index (frames, Frame, 0).len, max);
  assert_string_equal (g_array_index (frames, Frame, 0).body, json);
  free_frames (frames);
}

static void
test_append_message_one_over_is_chunked (void **state)
{
  const gsize max = 200;
  g_autofree char *json = reply_of_length (max + 1);

  assert_int_equal (strlen (json), max + 1);
  assert_chunked ("1", json, max + 1, max);
}

static void
test_chunk_real_limit (void **state)
{
  /* A 3 MiB reply at the real 1 MiB limit. */
  const gsize size = 3u * 1024u * 1024u;
  g_autoptr(GString) json = g_string_sized_new (size + 64);
  guint n;

  g_string_append (json, "{\"id\":\"req-7\",\"ok\":true,\"items\":{\"big\":\"");
  while (json->len < size)
    g_string_append (json, "abc\\\"def\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 ");
  g_string_append (json, "\"}}");
  n = assert_chunked ("\"req-7\"", json->str, json->len, NMS_FRAME_MAX_MESSAGE_BYTES);
  assert_true (n >= 3);
}

static void
test_chunk_never_splits_utf8 (void **state)
{
  /* 2-, 3- and 4-byte characters, with ASCII runs of every length in
   * between so that each character lands on every possible cut. */
  static const char *const chars[] = { "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF" };
  gsize max;

  for (max = 150; max < 190; max++)
    {
      g_autoptr(GString) json = g_string_new ("\"");
      guint i;

      for (i = 0; json->len < 3000; i++)
        {
          guint pad;
          for (pad = 0; pad < i % 5; pad++)
            g_string_append_c (json, 'a');
          g_string_append (json, chars[i % G_N_ELEMENTS (chars)]);
        }
      g_string_append_c (json, '"');
      assert_chunked ("1", json->str, json->len, max);
    }
}

static void
test_chunk_only_multibyte (void **state)
{
  static const char *const chars[] = { "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80" };
  gsize c;

  for (c = 0; c < G_N_ELEMENTS (chars); c++)
    {
      g_autoptr(GString) json = g_string_new (NULL);
      gsize max;

      while (json->len < 5000)
        g_string_append (json, chars[c]);
      for (max = 144; max < 152; max++)
        assert_chunked ("null", json->str, json->len, max);
    }
}

static void
test_chunk_worst_case_escaping (void **state)
{
  /* Every byte doubles when escaped. */
  g_autoptr(GString) quotes = g_string_new (NULL);
  g_autoptr(GString) backslashes = g_string_new (NULL);
  g_autoptr(GString) mixed = g_string_new (NULL);
  g_autoptr(GString) controls = g_string_new (NULL);
  gsize i;

  for (i = 0; i < 20000; i++)
    {
      g_string_append_c (quotes, '"');
      g_string_append_c (backslashes, '\\');
      g_string_append (mixed, (const char *const[]) { "\"", "\\", "\xC3\xA9" }[i % 3]);
      g_string_append_c (controls, (char) (1 + i % 31));
    }
  assert_true (g_utf8_validate (mixed->str, (gssize) mixed->len, NULL));

  assert_chunked ("1", quotes->str, quotes->len, 4096);
  assert_chunked ("1", backslashes->str, backslashes->len, 4096);
  assert_chunked ("\"x\"", mixed->str, mixed->len, 1000);
  /* Control characters cost 6 bytes each as \u00XX. */
  assert_chunked ("1", controls->str, controls->len, 1000);
  assert_chunked ("1", quotes->str, quotes->len, NMS_FRAME_MAX_MESSAGE_BYTES / 64);
}

static void
test_chunk_escaping_at_real_limit (void **state)
{
  /* 1.5 MiB of quotes: 3 MiB once escaped. */
  const gsize size = 1536u * 1024u;
  g_autofree char *json = g_malloc (size + 1);
  guint n;

  memset (json, '"', size);
  json[size] = '\0';
  n = assert_chunked ("12345", json, size, NMS_FRAME_MAX_MESSAGE_BYTES);
  assert_true (n >= 3);
}

static void
test_chunk_many_small_chunks (void **state)
{
  g_autoptr(GString) json = g_string_new ("{\"id\":123456789,\"ok\":true,\"items\":{");
  gsize max;
  guint i, n;

  for (i = 0; i < 200; i++)
    g_string_append_printf (json, "%s\"key%u\":\"v\xC3\xA9\\\"%u\"", i ? "," : "", i, i);
  g_string_append (json, "}}");
  for (max = 150; max <= 400; max += 25)
    {
      n = assert_chunked ("123456789", json->str, json->len, max);
      assert_true (n >= json->len / max);
    }
}

static void
test_chunk_ids (void **state)
{
  g_autofree char *json = g_strnfill (5000, 'z');
  g_autofree char *long_id = g_strdup_printf ("\"%s\"", "a-rather-long-request-identifier-with-\\\"quotes\\\"");

  assert_chunked ("null", json, 5000, 300);
  assert_chunked ("42", json, 5000, 300);
  assert_chunked ("-1.5", json, 5000, 300);
  assert_chunked ("\"s\"", json, 5000, 300);
  assert_chunked (long_id, json, 5000, 300);
}

static void
test_chunk_id_too_long_fails (void **state)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json = g_strnfill (10000, 'z');
  g_autofree char *id_body = g_strnfill (990, 'i');
  g_autofree char *id_json = g_strdup_printf ("\"%s\"", id_body);

  g_byte_array_append (out, (const guint8 *) "keep", 4);
  assert_false (nms_frame_append_message (out, id_json, json, 10000, 1000, &error));
  assert_non_null (error);
  assert_true (error->domain == NMS_ERROR);
  assert_true (strlen (error->message) > 0);
  /* Nothing half-written. */
  assert_int_equal (out->len, 4);
  assert_memory_equal (out->data, "keep", 4);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_append_frame_header),
    cmocka_unit_test (test_append_message_small_is_one_frame),
    cmocka_unit_test (test_append_message_one_over_is_chunked),
    cmocka_unit_test (test_chunk_real_limit),
    cmocka_unit_test (test_chunk_never_splits_utf8),
    cmocka_unit_test (test_chunk_only_multibyte),
    cmocka_unit_test (test_chunk_worst_case_escaping),
    cmocka_unit_test (test_chunk_escaping_at_real_limit),
    cmocka_unit_test (test_chunk_many_small_chunks),
    cmocka_unit_test (test_chunk_ids),
    cmocka_unit_test (test_chunker_streams_the_same_frames),
    cmocka_unit_test (test_chunker_whole_message),
    cmocka_unit_test (test_chunk_id_too_long_fails),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
