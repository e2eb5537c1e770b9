/* SPDX-License-Identifier: MIT */
/* fuzz_frame.c: the frame reader, fed arbitrary bytes in arbitrary pieces,
 * and the chunker, fed arbitrary reply text.
 *
 * Input: byte 0 picks the piece size the bytes arrive in (a pipe hands
 * them over in any split); the rest is the stream. Every frame the reader
 * yields must lie inside what was written, and the chunk frames of any
 * text must each fit a browser message and concatenate back to it. */
#include "fuzz.h"
#include "wire/frame.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Small, so that the oversized path and buffer growth are reached. */
#define MAX_FRAME 4096
#define MAX_MESSAGE 256

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

static void
check_chunks (const uint8_t *text, size_t size)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GString) joined = g_string_new (NULL);
  const char *valid = (const char *) text;
  gsize at = 0;

  /* Any bytes, NULs and text that is not UTF-8 included: those must be
   * refused, never framed (Chrome would drop the port), and never abort. */
  if (!g_utf8_validate_len ((const char *) text, size, NULL))
    {
      g_assert (!nms_frame_append_message (out, "1", (const char *) text, size, MAX_MESSAGE, NULL));
      g_assert (out->len == 0);
      return;
    }
  if (!nms_frame_append_message (out, "1", valid, size, MAX_MESSAGE, NULL))
    return;
  while (at < out->len)
    {
      guint32 len;
      cJSON *frame, *part;

      memcpy (&len, out->data + at, 4);
      g_assert (len <= MAX_MESSAGE && at + 4 + len <= out->len);
      if (size <= MAX_MESSAGE)
        {
          g_assert (len == size && memcmp (out->data + at + 4, valid, len) == 0);
          return;
        }
      frame = cJSON_ParseWithLength ((const char *) out->data + at + 4, len);
      g_assert (frame != NULL);
      part = cJSON_GetObjectItemCaseSensitive (frame, "part");
      g_assert (cJSON_IsString (part));
      g_string_append (joined, part->valuestring);
      cJSON_Delete (frame);
      at += 4 + len;
    }
  g_assert (joined->len == size && memcmp (joined->str, valid, size) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(NmsFrameReader) reader = nms_frame_reader_new (MAX_FRAME);
  size_t piece, at = 1, frame_at = 1;

  if (size == 0)
    return 0;
  piece = 1 + data[0] % 97;
  while (at < size)
    {
      gsize space, n;
      guint8 *buf = nms_frame_reader_reserve (reader, &space);
      guint8 *frame;
      gsize len;
      NmsFrameStatus status;

      n = MIN (MIN (piece, space), size - at);
      memcpy (buf, data + at, n);
      nms_frame_reader_advance (reader, n);
      at += n;
      while ((status = nms_frame_reader_next (reader, &frame, &len)) == NMS_FRAME_READY)
        {
          /* The body is exactly the next frame of the input. */
          g_assert (len <= MAX_FRAME && frame_at + 4 + len <= size);
          g_assert (memcmp (frame, data + frame_at + 4, len) == 0);
          frame_at += 4 + len;
        }
      if (status == NMS_FRAME_OVERSIZED)
        {
          g_assert (nms_frame_reader_declared (reader) > MAX_FRAME);
          break;
        }
      nms_frame_reader_release (reader);
    }
  check_chunks (data + 1, size - 1);
  return 0;
}
