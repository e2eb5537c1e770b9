/* fuzz_frame.c: the frame reader, fed arbitrary bytes in arbitrary pieces,
 * and the chunker, fed arbitrary reply text.
 *
 * Input: byte 0 picks the piece size the bytes arrive in (a pipe hands
 * them over in any split); the rest is the stream. Every frame the reader
 * yields must lie inside what was written, and the chunk frames of any
 * text must each fit a browser message and concatenate back to it. */
#include "fuzz.h"
#include "nmstore/frame.h"

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
  g_autofree char *valid = g_utf8_make_valid ((const char *) text, (gssize) size);
  g_autoptr(GString) joined = g_string_new (NULL);
  gsize at = 0;

  /* Replies are UTF-8, as the protocol layer produces them. */
  if (!nms_frame_append_message (out, "1", valid, strlen (valid), MAX_MESSAGE, NULL))
    return;
  while (at < out->len)
    {
      guint32 len;
      cJSON *frame, *part;

      memcpy (&len, out->data + at, 4);
      g_assert (len <= MAX_MESSAGE && at + 4 + len <= out->len);
      if (strlen (valid) <= MAX_MESSAGE)
        {
          g_assert (len == strlen (valid) && memcmp (out->data + at + 4, valid, len) == 0);
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
  g_assert (strcmp (joined->str, valid) == 0);
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
