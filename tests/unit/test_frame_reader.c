/* SPDX-License-Identifier: MIT */
/* test_frame_reader.c: the frame reader (frame.h), in process: it turns
 * arbitrary reads into frames and refuses impossible lengths before their
 * body arrives. The writer's tests are in test_frame_writer.c. */
#include "harness.h"

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
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
