/* SPDX-License-Identifier: MIT */
/* frame.c: reading and writing native-messaging frames, and chunking
 * replies that are larger than one browser message. */
#include "wire/frame.h"
#include "base/error.h"
#include "json/json.h"

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

typedef struct {
  gsize bytes;    /* of the message text */
  gsize escaped;  /* the same, as the inside of a JSON string */
} Cut;

/* The longest prefix of text[0..len) whose escaped form (json.h) fits in
 * budget, cut on a UTF-8 character boundary so that every part is valid
 * text. This runs over every byte of a large reply, so runs that cannot
 * reach the budget are summed without checking it byte by byte. */
static Cut
part_length (const char *text, gsize len, gsize budget)
{
  Cut cut = { 0, 0 };

  for (;;)
    {
      gsize safe = MIN (len - cut.bytes, (budget - cut.escaped) / NMS_JSON_MAX_ESCAPED_BYTE);

      if (safe == 0)
        break;
      cut.escaped += nms_json_escaped_length (text + cut.bytes, safe);
      cut.bytes += safe;
    }
  while (cut.bytes < len)
    {
      gsize cost = nms_json_escaped_length (text + cut.bytes, 1);
      if (cut.escaped + cost > budget)
        break;
      cut.escaped += cost;
      cut.bytes++;
    }
  while (cut.bytes > 0 && cut.bytes < len && ((guint8) text[cut.bytes] & 0xC0) == 0x80)
    cut.escaped -= nms_json_escaped_length (text + --cut.bytes, 1);
  return cut;
}

struct _NmsFrameChunker {
  char       *head;   /* the chunk frames' first members, e.g. "id":7 */
  const char *json;
  gsize       len;
  gsize       offset; /* where the next part starts */
  GArray     *cuts;   /* Cut; NULL when the message fits in one frame */
  gsize       max_message;
  guint       next;   /* the next frame to append */
  gboolean    whole_done;
};

void
nms_frame_chunker_free (NmsFrameChunker *chunker)
{
  if (chunker == NULL)
    return;
  g_free (chunker->head);
  if (chunker->cuts != NULL)
    g_array_unref (chunker->cuts);
  g_free (chunker);
}

/* Plans the frames of json[0..len); only the cut positions are kept, so
 * that the frames can be written out one at a time. */
static NmsFrameChunker *
chunker_new (char *head, const char *json, gsize len, gsize max_message, GError **error)
{
  g_autoptr(NmsFrameChunker) chunker = g_new0 (NmsFrameChunker, 1);
  /* The envelope around a part, with room for any chunk index and count. */
  gsize overhead = strlen ("{,\"chunk\":,\"chunks\":,\"part\":\"\"}") + strlen (head) + 2 * 20;
  gsize offset = 0, budget;

  /* Chrome drops the port on a frame that is not UTF-8 JSON: such text is
   * a bug upstream (every stored value is checked before it goes into a
   * reply), and is refused here rather than sent. */
  if (!nms_json_is_utf8 (json, len, NULL))
    {
      g_free (head);
      chunker->head = NULL;
      g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL, "a message of %" G_GSIZE_FORMAT " bytes is not UTF-8 text "
                   "(or holds a raw NUL); it was not sent", len);
      return NULL;
    }
  chunker->head = head;
  chunker->json = json;
  chunker->len = len;
  chunker->max_message = max_message;
  /* Nearly every message fits in one frame, and needs no plan. */
  if (len <= max_message)
    return g_steal_pointer (&chunker);
  chunker->cuts = g_array_new (FALSE, FALSE, sizeof (Cut));
  if (overhead + 64 > max_message)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL,
                   "the reply id or event name is too long to fit in a chunk frame");
      return NULL;
    }
  budget = max_message - overhead;
  while (offset < len)
    {
      Cut cut = part_length (json + offset, len - offset, budget);
      if (cut.bytes == 0)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL,
                       "cannot split the message on a character boundary");
          return NULL;
        }
      g_array_append_val (chunker->cuts, cut);
      offset += cut.bytes;
    }
  return g_steal_pointer (&chunker);
}

/* For the reply json[0..len) to request id_json (its JSON text). */
NmsFrameChunker *
nms_frame_chunker_new_message (const char *id_json, const char *json, gsize len, gsize max_message_bytes,
                               GError **error)
{
  return chunker_new (g_strconcat ("\"id\":", id_json, NULL), json, len, max_message_bytes, error);
}

/* For an event (a message without an id). Its chunk frames carry
 * "id":null and the event's name, so that a client tells them from a
 * reply's chunks before putting them together. */
NmsFrameChunker *
nms_frame_chunker_new_event (const char *event, const char *json, gsize len, gsize max_message_bytes,
                             GError **error)
{
  return chunker_new (g_strconcat ("\"id\":null,\"event\":\"", event, "\"", NULL), json, len, max_message_bytes,
                     error);
}

/* Appends the next frame to out: the whole message, or its next chunk
 * frame. FALSE when every frame has been appended. */
gboolean
nms_frame_chunker_next (NmsFrameChunker *chunker, GByteArray *out)
{
  g_autoptr(GString) frame = NULL;
  gsize envelope;
  Cut cut;

  if (chunker->cuts == NULL)
    {
      if (chunker->whole_done)
        return FALSE;
      chunker->whole_done = TRUE;
      nms_frame_append (out, chunker->json, chunker->len);
      return TRUE;
    }
  if (chunker->next >= chunker->cuts->len)
    return FALSE;

  cut = g_array_index (chunker->cuts, Cut, chunker->next);
  /* The envelope, the part's quotes and escapes, and the closing brace. */
  frame = g_string_sized_new (strlen (chunker->head) + 64 + cut.escaped);
  g_string_printf (frame, "{%s,\"chunk\":%u,\"chunks\":%u,\"part\":", chunker->head, chunker->next,
                   chunker->cuts->len);
  envelope = frame->len;
  nms_json_append_string (frame, chunker->json + chunker->offset, cut.bytes);
  g_string_append_c (frame, '}');
  /* The cut was planned from the same escaping: a frame over the limit
   * would make Chrome drop the port, so a miscount must not go out. */
  g_assert (frame->len == envelope + cut.escaped + 2 + 1);
  g_assert (frame->len <= chunker->max_message);
  nms_frame_append (out, frame->str, frame->len);
  chunker->offset += cut.bytes;
  chunker->next++;
  return TRUE;
}

static gboolean
append_all (GByteArray *out, NmsFrameChunker *chunker)
{
  if (chunker == NULL)
    return FALSE;
  while (nms_frame_chunker_next (chunker, out))
    ;
  nms_frame_chunker_free (chunker);
  return TRUE;
}

/* Appends the reply json[0..len) for request id_json (its JSON text), as
 * one frame or as chunk frames when the text exceeds max_message_bytes. */
gboolean
nms_frame_append_message (GByteArray *out, const char *id_json, const char *json, gsize len,
                          gsize max_message_bytes, GError **error)
{
  return append_all (out, nms_frame_chunker_new_message (id_json, json, len, max_message_bytes, error));
}

/* Appends an event, as one frame or as chunk frames. */
gboolean
nms_frame_append_event (GByteArray *out, const char *event, const char *json, gsize len,
                        gsize max_message_bytes, GError **error)
{
  return append_all (out, nms_frame_chunker_new_event (event, json, len, max_message_bytes, error));
}
