/* frame.c: reading and writing native-messaging frames, and chunking
 * replies that are larger than one browser message. */
#include "nmstore/frame.h"
#include "nmstore/error.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Reads are issued in at least this size so that a burst of small
 * pipelined requests arrives in a few system calls. */
#define READ_CHUNK (64u * 1024u)
/* A buffer that grew for one large frame is given back once idle. */
#define KEEP_CAPACITY (1024u * 1024u)

struct _NmsFrameReader {
  guint8 *buf;
  gsize   capacity;
  gsize   start;  /* first byte not yet handed out as a frame */
  gsize   end;    /* one past the last byte read */
  gsize   max_frame;
};

NmsFrameReader *
nms_frame_reader_new (gsize max_frame_bytes)
{
  NmsFrameReader *reader = g_new0 (NmsFrameReader, 1);
  reader->max_frame = max_frame_bytes;
  return reader;
}

void
nms_frame_reader_free (NmsFrameReader *reader)
{
  if (reader == NULL)
    return;
  g_free (reader->buf);
  g_free (reader);
}

static guint32
header_at (const guint8 *p)
{
  guint32 len;
  memcpy (&len, p, sizeof len); /* native byte order, as the browser writes it */
  return len;
}

guint32
nms_frame_reader_declared (NmsFrameReader *reader)
{
  if (reader->end - reader->start < NMS_FRAME_HEADER_BYTES)
    return 0;
  return header_at (reader->buf + reader->start);
}

gsize
nms_frame_reader_pending (NmsFrameReader *reader)
{
  return reader->end - reader->start;
}

guint8 *
nms_frame_reader_reserve (NmsFrameReader *reader, gsize *space)
{
  gsize want = READ_CHUNK;
  gsize buffered = reader->end - reader->start;

  /* Room for the whole of a frame whose header has arrived lets a large
   * request be read with few copies and no repeated growth. */
  if (buffered >= NMS_FRAME_HEADER_BYTES)
    {
      guint32 declared = header_at (reader->buf + reader->start);
      if (declared <= reader->max_frame)
        {
          gsize frame = NMS_FRAME_HEADER_BYTES + (gsize) declared;
          if (frame > buffered && frame - buffered > want)
            want = frame - buffered;
        }
    }

  if (reader->start > 0 && reader->capacity - reader->end < want)
    {
      memmove (reader->buf, reader->buf + reader->start, buffered);
      reader->start = 0;
      reader->end = buffered;
    }
  if (reader->capacity - reader->end < want)
    {
      reader->capacity = reader->end + want;
      reader->buf = g_realloc (reader->buf, reader->capacity);
    }
  *space = reader->capacity - reader->end;
  return reader->buf + reader->end;
}

void
nms_frame_reader_advance (NmsFrameReader *reader, gsize n_written)
{
  g_return_if_fail (n_written <= reader->capacity - reader->end);
  reader->end += n_written;
}

NmsFrameStatus
nms_frame_reader_next (NmsFrameReader *reader, guint8 **data, gsize *len)
{
  gsize buffered = reader->end - reader->start;
  guint32 declared;

  if (buffered < NMS_FRAME_HEADER_BYTES)
    return NMS_FRAME_NEED_MORE;
  declared = header_at (reader->buf + reader->start);
  if (declared > reader->max_frame)
    return NMS_FRAME_OVERSIZED;
  if (buffered - NMS_FRAME_HEADER_BYTES < declared)
    return NMS_FRAME_NEED_MORE;

  *data = reader->buf + reader->start + NMS_FRAME_HEADER_BYTES;
  *len = declared;
  reader->start += NMS_FRAME_HEADER_BYTES + (gsize) declared;
  return NMS_FRAME_READY;
}

void
nms_frame_reader_release (NmsFrameReader *reader)
{
  gsize buffered = reader->end - reader->start;

  if (buffered == 0)
    reader->start = reader->end = 0;
  if (reader->capacity > KEEP_CAPACITY && buffered <= KEEP_CAPACITY / 2)
    {
      guint8 *small = g_malloc (KEEP_CAPACITY);
      if (buffered > 0)
        memcpy (small, reader->buf + reader->start, buffered);
      g_free (reader->buf);
      reader->buf = small;
      reader->capacity = KEEP_CAPACITY;
      reader->start = 0;
      reader->end = buffered;
    }
}

void
nms_frame_append (GByteArray *out, const char *json, gsize len)
{
  guint32 header;

  g_return_if_fail (len <= G_MAXUINT32);
  header = (guint32) len;
  g_byte_array_append (out, (const guint8 *) &header, sizeof header);
  g_byte_array_append (out, (const guint8 *) json, (guint) len);
}

/* How many bytes cJSON writes for byte c inside a string literal: it
 * escapes the quote, the backslash and control characters, and copies
 * everything else, UTF-8 included, as it is. */
static gsize
escaped_cost (guint8 c)
{
  if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
    return 2;
  if (c < 0x20)
    return 6;
  return 1;
}

/* The longest prefix of text[0..len) whose escaped form fits in budget,
 * cut on a UTF-8 character boundary so that every part is valid text. */
static gsize
part_length (const char *text, gsize len, gsize budget)
{
  gsize used = 0, i = 0;

  while (i < len)
    {
      gsize cost = escaped_cost ((guint8) text[i]);
      if (used + cost > budget)
        break;
      used += cost;
      i++;
    }
  while (i > 0 && i < len && ((guint8) text[i] & 0xC0) == 0x80)
    i--;
  return i;
}

/* head is the chunk frames' first members, e.g. "id":7 for a reply. */
static gboolean
append_chunks (GByteArray *out, const char *head, const char *json, gsize len,
               gsize max_message, GError **error)
{
  /* The envelope around a part, with room for any chunk index and count. */
  gsize overhead = strlen ("{,\"chunk\":,\"chunks\":,\"part\":\"\"}")
                   + strlen (head) + 2 * 20;
  g_autoptr(GArray) cuts = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize offset = 0, budget;
  guint i;

  if (overhead + 64 > max_message)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL,
                   "the reply id or event name is too long to fit in a chunk frame");
      return FALSE;
    }
  budget = max_message - overhead;

  while (offset < len)
    {
      gsize n = part_length (json + offset, len - offset, budget);
      if (n == 0)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL,
                       "cannot split the message on a character boundary");
          return FALSE;
        }
      g_array_append_val (cuts, n);
      offset += n;
    }

  offset = 0;
  for (i = 0; i < cuts->len; i++)
    {
      gsize n = g_array_index (cuts, gsize, i);
      g_autofree char *slice = g_strndup (json + offset, n);
      g_autofree char *frame = NULL;
      cJSON *part = cJSON_CreateString (slice);
      char *part_json = part ? cJSON_PrintUnformatted (part) : NULL;

      cJSON_Delete (part);
      if (part_json == NULL)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL, "out of memory while chunking a message");
          return FALSE;
        }
      frame = g_strdup_printf ("{%s,\"chunk\":%u,\"chunks\":%u,\"part\":%s}",
                               head, i, cuts->len, part_json);
      cJSON_free (part_json);
      g_assert (strlen (frame) <= max_message);
      nms_frame_append (out, frame, strlen (frame));
      offset += n;
    }
  return TRUE;
}

/* Appends json[0..len) as one frame, or as chunk frames starting with
 * head when the text exceeds max_message_bytes. */
static gboolean
append_whole_or_chunked (GByteArray *out, const char *head, const char *json, gsize len,
                         gsize max_message_bytes, GError **error)
{
  if (len <= max_message_bytes)
    {
      nms_frame_append (out, json, len);
      return TRUE;
    }
  return append_chunks (out, head, json, len, max_message_bytes, error);
}

/* Appends the reply json[0..len) for request id_json (its JSON text). */
gboolean
nms_frame_append_message (GByteArray *out, const char *id_json, const char *json, gsize len,
                          gsize max_message_bytes, GError **error)
{
  g_autofree char *head = g_strdup_printf ("\"id\":%s", id_json);

  return append_whole_or_chunked (out, head, json, len, max_message_bytes, error);
}

/* Appends an event (a message without an id). Its chunk frames carry
 * "id":null and the event's name, so that a client tells them from a
 * reply's chunks before putting them together. */
gboolean
nms_frame_append_event (GByteArray *out, const char *event, const char *json, gsize len,
                        gsize max_message_bytes, GError **error)
{
  g_autofree char *head = g_strdup_printf ("\"id\":null,\"event\":\"%s\"", event);

  return append_whole_or_chunked (out, head, json, len, max_message_bytes, error);
}
