/* SPDX-License-Identifier: MIT */
/* frame.h: the native-messaging wire format.
 *
 * A frame is a 32-bit length in native byte order followed by that many
 * bytes of UTF-8 JSON. This module owns the reading side (a buffer that
 * yields complete frames and notices an impossible length before the body
 * arrives) and the writing side (one frame, or a reply split into chunk
 * frames when its text is larger than a browser accepts in one message).
 * It knows nothing of what the JSON means. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NMS_FRAME_HEADER_BYTES 4
/* Chrome's own ceiling for a message from the extension to a host. */
#define NMS_FRAME_MAX_REQUEST_BYTES (64u * 1024u * 1024u)
/* Chrome closes the port on any host message above 1 MiB. */
#define NMS_FRAME_MAX_MESSAGE_BYTES (1024u * 1024u)

typedef struct _NmsFrameReader NmsFrameReader;

typedef enum {
  NMS_FRAME_NEED_MORE,  /* no complete frame buffered yet */
  NMS_FRAME_READY,      /* *data and *len describe one frame body */
  NMS_FRAME_OVERSIZED,  /* the next header declares more than the maximum */
} NmsFrameStatus;

NmsFrameReader *nms_frame_reader_new          (gsize max_frame_bytes);
void            nms_frame_reader_free         (NmsFrameReader *reader);
guint8         *nms_frame_reader_reserve      (NmsFrameReader *reader, gsize *space);
void            nms_frame_reader_advance      (NmsFrameReader *reader, gsize n_written);
NmsFrameStatus  nms_frame_reader_next         (NmsFrameReader *reader, guint8 **data, gsize *len);
void            nms_frame_reader_release      (NmsFrameReader *reader);
gsize           nms_frame_reader_pending      (NmsFrameReader *reader);
guint32         nms_frame_reader_declared     (NmsFrameReader *reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsFrameReader, nms_frame_reader_free)

/* The frames of one message, appended one at a time, so that a writer can
 * send each out before the next is built instead of holding them all. The
 * message text must outlive the chunker. */
typedef struct _NmsFrameChunker NmsFrameChunker;

NmsFrameChunker *nms_frame_chunker_new_message (const char *id_json, const char *json, gsize len,
                                                gsize max_message_bytes, GError **error);
NmsFrameChunker *nms_frame_chunker_new_event   (const char *event, const char *json, gsize len,
                                                gsize max_message_bytes, GError **error);
gboolean         nms_frame_chunker_next        (NmsFrameChunker *chunker, GByteArray *out);
void             nms_frame_chunker_free        (NmsFrameChunker *chunker);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsFrameChunker, nms_frame_chunker_free)

void     nms_frame_append         (GByteArray *out, const char *json, gsize len);
gboolean nms_frame_append_message (GByteArray *out, const char *id_json,
                                   const char *json, gsize len,
                                   gsize max_message_bytes, GError **error);
gboolean nms_frame_append_event   (GByteArray *out, const char *event,
                                   const char *json, gsize len,
                                   gsize max_message_bytes, GError **error);

G_END_DECLS
