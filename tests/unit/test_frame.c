/* SPDX-License-Identifier: MIT */
/* test_frame.c: the frame module (frame.h), in process: the reader that
 * turns arbitrary reads into frames and refuses impossible lengths before
 * their body arrives, and the writer that splits a reply larger than one
 * browser message into chunk frames. */
#include "harness.h"

#include "base/error.h"
#include "wire/frame.h"

#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

static void
append_frame (GByteArray *stream, const char *body, gsize len)
{
  guint32 header = (guint32) len;
  g_byte_array_append (stream, (const guint8 *) &header, sizeof header);
  if (len > 0)
    g_byte_array_append (stream, (const guint8 *) body, (guint) len);
}

/* Hands data[0..len) to the reader through reserve/advance, in as many
 * pieces as the reader's space requires. */
static void
feed (NmsFrameReader *reader, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      gsize space = 0;
      guint8 *dst = nms_frame_reader_reserve (reader, &space);
      gsize n;

      assert_non_null (dst);
      assert_true (space > 0);
      n = MIN (space, len);
      memcpy (dst, data, n);
      nms_frame_reader_advance (reader, n);
      data += n;
      len -= n;
    }
}

/* Takes every ready frame out of the reader, as strings, into frames. */
static void
drain (NmsFrameReader *reader, GPtrArray *frames)
{
  guint8 *data = NULL;
  gsize len = 0;
  NmsFrameStatus status;

  while ((status = nms_frame_reader_next (reader, &data, &len)) == NMS_FRAME_READY)
    g_ptr_array_add (frames, g_strndup ((const char *) data, len));
  assert_int_equal (status, NMS_FRAME_NEED_MORE);
}

static const char *const sample_bodies[] = {
  "{\"op\":\"hello\"}",
  "",
  "{\"id\":1,\"op\":\"get\",\"keys\":\"caf\xC3\xA9\"}",
  "x",
  "{\"op\":\"set\",\"items\":{\"\xF0\x9F\x98\x80\":\"\xE2\x82\xAC\"}}",
};

static GByteArray *
sample_stream (void)
{
  GByteArray *stream = g_byte_array_new ();
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (sample_bodies); i++)
    append_frame (stream, sample_bodies[i], strlen (sample_bodies[i]));
  return stream;
}

static void
assert_sample_frames (GPtrArray *frames)
{
  gsize i;

  assert_int_equal (frames->len, G_N_ELEMENTS (sample_bodies));
  for (i = 0; i < G_N_ELEMENTS (sample_bodies); i++)
    assert_string_equal (frames->pdata[i], sample_bodies[i]);
}

/* ---- reader ----------------------------------------------------------- */

static void
test_reader_split_at_every_boundary (void **state)
{
  g_autoptr(GByteArray) stream = sample_stream ();
  gsize cut;

  for (cut = 0; cut <= stream->len; cut++)
    {
      g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
      g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func (g_free);

      feed (reader, stream->data, cut);
      drain (reader, frames);
      feed (reader, stream->data + cut, stream->len - cut);
      drain (reader, frames);
      assert_sample_frames (frames);
      assert_int_equal (nms_frame_reader_pending (reader), 0);
    }
}

static void
test_reader_split_at_two_boundaries (void **state)
{
  g_autoptr(GByteArray) stream = sample_stream ();
  gsize a, b;

  for (a = 0; a <= stream->len; a++)
    for (b = a; b <= stream->len; b++)
      {
        g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
        g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func (g_free);

        feed (reader, stream->data, a);
        drain (reader, frames);
        nms_frame_reader_release (reader);
        feed (reader, stream->data + a, b - a);
        drain (reader, frames);
        feed (reader, stream->data + b, stream->len - b);
        drain (reader, frames);
        assert_sample_frames (frames);
      }
}

static void
test_reader_one_byte_at_a_time (void **state)
{
  g_autoptr(GByteArray) stream = sample_stream ();
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func (g_free);
  gsize i;

  for (i = 0; i < stream->len; i++)
    {
      guint before = frames->len;

      feed (reader, stream->data + i, 1);
      drain (reader, frames);
      /* At most one frame can complete per byte, except where a zero-length
       * frame's header completes right after the previous frame. */
      assert_true (frames->len - before <= 2);
    }
  assert_sample_frames (frames);
}

static void
test_reader_several_frames_in_one_read (void **state)
{
  g_autoptr(GByteArray) stream = sample_stream ();
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func (g_free);
  gsize space = 0;
  guint8 *dst = nms_frame_reader_reserve (reader, &space);

  /* One reserve/advance, as one read() that returned everything. */
  assert_true (space >= stream->len);
  memcpy (dst, stream->data, stream->len);
  nms_frame_reader_advance (reader, stream->len);
  assert_int_equal (nms_frame_reader_pending (reader), stream->len);
  drain (reader, frames);
  assert_sample_frames (frames);
  assert_int_equal (nms_frame_reader_pending (reader), 0);
}

static void
test_reader_zero_length_frame (void **state)
{
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  guint8 *data = NULL;
  gsize len = 99;

  append_frame (stream, "", 0);
  feed (reader, stream->data, 3);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_NEED_MORE);
  feed (reader, stream->data + 3, 1);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, 0);
  assert_int_equal (nms_frame_reader_pending (reader), 0);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_NEED_MORE);
}

static void
test_reader_need_more_until_body_complete (void **state)
{
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  guint8 *data = NULL;
  gsize len = 0;

  append_frame (stream, "{\"op\":\"hello\"}", 14);
  feed (reader, stream->data, stream->len - 1);
  assert_int_equal (nms_frame_reader_declared (reader), 14);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_NEED_MORE);
  assert_int_equal (nms_frame_reader_pending (reader), stream->len - 1);
  feed (reader, stream->data + stream->len - 1, 1);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, 14);
  assert_memory_equal (data, "{\"op\":\"hello\"}", 14);
}

static void
assert_oversized_header_detected (guint32 declared, gsize max)
{
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (max);
  guint8 header[4];
  guint8 *data = NULL;
  gsize len = 0, space = 0;

  memcpy (header, &declared, sizeof header);
  /* Half a header is not yet a verdict. */
  feed (reader, header, 2);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_NEED_MORE);
  assert_int_equal (nms_frame_reader_declared (reader), 0);
  feed (reader, header + 2, 2);
  /* The header alone, with no body at all, is enough to refuse it. */
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_OVERSIZED);
  assert_int_equal (nms_frame_reader_declared (reader), declared);
  /* And it stays refused: the reader never reports it as a frame. */
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_OVERSIZED);
  /* Asking for room to read more must not try to make room for the
   * declared body. */
  assert_non_null (nms_frame_reader_reserve (reader, &space));
  assert_true (space > 0);
  assert_true (space <= 16u * 1024u * 1024u);
}

static void
test_reader_oversized_header (void **state)
{
  assert_oversized_header_detected (NMS_FRAME_MAX_REQUEST_BYTES + 1u, NMS_FRAME_MAX_REQUEST_BYTES);
  assert_oversized_header_detected (0x80000000u, NMS_FRAME_MAX_REQUEST_BYTES);
  assert_oversized_header_detected (0xFFFFFFFFu, NMS_FRAME_MAX_REQUEST_BYTES);
  assert_oversized_header_detected (0x7FFFFFFFu, NMS_FRAME_MAX_REQUEST_BYTES);
  assert_oversized_header_detected (101, 100);
}

static void
test_reader_oversized_after_good_frames (void **state)
{
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (100);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  guint8 *data = NULL;
  gsize len = 0;
  guint32 huge = 0xFFFFFFFFu;

  append_frame (stream, "first", 5);
  g_byte_array_append (stream, (const guint8 *) &huge, sizeof huge);
  g_byte_array_append (stream, (const guint8 *) "junk", 4);
  feed (reader, stream->data, stream->len);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, 5);
  assert_memory_equal (data, "first", 5);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_OVERSIZED);
}

static void
assert_exactly_max_accepted (gsize max)
{
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (max);
  g_autofree guint8 *body = g_malloc (max);
  guint32 header = (guint32) max;
  guint8 *data = NULL;
  gsize len = 0, i;

  for (i = 0; i < max; i++)
    body[i] = (guint8) ('a' + i % 26);
  feed (reader, (const guint8 *) &header, sizeof header);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_NEED_MORE);
  feed (reader, body, max - 1);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_NEED_MORE);
  feed (reader, body + max - 1, 1);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, max);
  assert_memory_equal (data, body, max);
}

static void
test_reader_exactly_max_accepted (void **state)
{
  assert_exactly_max_accepted (100);
  assert_exactly_max_accepted (NMS_FRAME_MAX_REQUEST_BYTES);
}

static void
test_reader_release_shrinks_buffer (void **state)
{
  const gsize big = 8u * 1024u * 1024u;
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
  g_autofree char *body = g_malloc (big);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  guint8 *data = NULL;
  gsize len = 0, space = 0;

  memset (body, 'v', big);
  append_frame (stream, body, big);
  feed (reader, stream->data, stream->len);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, big);

  /* Before release the reader still holds the large buffer... */
  assert_non_null (nms_frame_reader_reserve (reader, &space));
  assert_true (space >= big);
  /* ...after it, at most the 1 MiB it keeps for ordinary traffic. */
  nms_frame_reader_release (reader);
  assert_non_null (nms_frame_reader_reserve (reader, &space));
  assert_true (space > 0);
  assert_true (space <= NMS_FRAME_MAX_MESSAGE_BYTES);

  /* And it still works afterwards. */
  g_byte_array_set_size (stream, 0);
  append_frame (stream, "after", 5);
  feed (reader, stream->data, stream->len);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, 5);
  assert_memory_equal (data, "after", 5);
}

static void
test_reader_release_keeps_pending_bytes (void **state)
{
  const gsize big = 4u * 1024u * 1024u;
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
  g_autofree char *body = g_malloc (big);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  guint8 *data = NULL;
  gsize len = 0, split, space = 0;

  memset (body, 'w', big);
  append_frame (stream, body, big);
  append_frame (stream, "{\"op\":\"hello\"}", 14);
  append_frame (stream, "tail", 4);
  /* Everything up to the middle of the second frame's body. */
  split = NMS_FRAME_HEADER_BYTES + big + NMS_FRAME_HEADER_BYTES + 6;
  feed (reader, stream->data, split);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, big);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_NEED_MORE);
  nms_frame_reader_release (reader);
  assert_int_equal (nms_frame_reader_pending (reader), NMS_FRAME_HEADER_BYTES + 6);
  assert_int_equal (nms_frame_reader_declared (reader), 14);
  assert_non_null (nms_frame_reader_reserve (reader, &space));
  assert_true (space <= NMS_FRAME_MAX_MESSAGE_BYTES);

  feed (reader, stream->data + split, stream->len - split);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, 14);
  assert_memory_equal (data, "{\"op\":\"hello\"}", 14);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, 4);
  assert_memory_equal (data, "tail", 4);
}

static void
test_reader_large_frame_across_many_reads (void **state)
{
  const gsize big = 3u * 1024u * 1024u + 17u;
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
  g_autofree char *body = g_malloc (big);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  guint8 *data = NULL;
  gsize len = 0, at = 0, i;

  for (i = 0; i < big; i++)
    body[i] = (char) ('A' + (i * 7) % 26);
  append_frame (stream, body, big);
  append_frame (stream, "next", 4);
  while (at < stream->len)
    {
      gsize n = MIN ((gsize) 4093, stream->len - at);
      NmsFrameStatus status;

      feed (reader, stream->data + at, n);
      at += n;
      status = nms_frame_reader_next (reader, &data, &len);
      if (status == NMS_FRAME_READY)
        break;
      assert_int_equal (status, NMS_FRAME_NEED_MORE);
    }
  assert_int_equal (len, big);
  assert_memory_equal (data, body, big);
  feed (reader, stream->data + at, stream->len - at);
  assert_int_equal (nms_frame_reader_next (reader, &data, &len), NMS_FRAME_READY);
  assert_int_equal (len, 4);
  assert_memory_equal (data, "next", 4);
}

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
    cmocka_unit_test (test_reader_split_at_every_boundary),
    cmocka_unit_test (test_reader_split_at_two_boundaries),
    cmocka_unit_test (test_reader_one_byte_at_a_time),
    cmocka_unit_test (test_reader_several_frames_in_one_read),
    cmocka_unit_test (test_reader_zero_length_frame),
    cmocka_unit_test (test_reader_need_more_until_body_complete),
    cmocka_unit_test (test_reader_oversized_header),
    cmocka_unit_test (test_reader_oversized_after_good_frames),
    cmocka_unit_test (test_reader_exactly_max_accepted),
    cmocka_unit_test (test_reader_release_shrinks_buffer),
    cmocka_unit_test (test_reader_release_keeps_pending_bytes),
    cmocka_unit_test (test_reader_large_frame_across_many_reads),
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
