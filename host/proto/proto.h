/* SPDX-License-Identifier: MIT */
/* proto.h: protocol version 1, from request text to reply text.
 *
 * A batch is every complete request that was waiting on the pipe. Its
 * writes commit together in one transaction and only then are its replies
 * handed out, in request order, one per request; so a reply ok:true to a
 * write always describes committed data. Framing and chunking are the
 * caller's (frame.h); this module never touches a file descriptor.
 *
 * A subscribed port also gets events: frames without an id that tell it
 * what any process on the origin changed, in commit order. */
#pragma once

#include <glib.h>

#include "config/config.h"
#include "crypto/crypto.h"
#include "base/origin.h"
#include "base/progress.h"
#include "store/store.h"

G_BEGIN_DECLS

typedef struct _NmsProto NmsProto;

typedef struct {
  guint8 *data;  /* the request's JSON text; may be rewritten in place */
  gsize   len;
} NmsProtoInput;

/* Receives each reply: id_json is the request id's JSON text ("null" when
 * it had none), json[0..len) the whole reply. */
typedef void (*NmsProtoReplyFunc) (const char *id_json, const char *json, gsize len, gpointer user_data);

/* Receives each event: name is its "event" member, json[0..len) the whole
 * event. */
typedef void (*NmsProtoEventFunc) (const char *name, const char *json, gsize len, gpointer user_data);

NmsProto *nms_proto_new          (const NmsConfig *config, const NmsOrigin *origin);
void      nms_proto_free         (NmsProto *proto);
/* The command line's progress line, for requests that walk a whole
 * session (sessionCheck); NULL: none. */
void      nms_proto_set_progress (NmsProto *proto, NmsProgressFunc progress, gpointer user_data);
/* Serves the first of inputs (the frames that arrived together) in one
 * transaction, emits their replies once it committed, and returns how
 * many it served: all of them, or as many as make 32 requests (a batch's
 * entries counted each), at least one. The caller passes the rest again. */
gsize     nms_proto_handle_batch (NmsProto *proto, NmsProtoInput *inputs, gsize n_inputs,
                                  NmsProtoReplyFunc emit, gpointer user_data);
char     *nms_proto_error_reply  (const char *id_json, const GError *error, gsize *len);
/* For the command line: runs one request as a batch of one, and returns
 * what its reply would hold after "ok":true as an object of its own
 * ({"keys":[...]}, or {} for a write), in the reply's exact text; or NULL
 * with the error the reply would carry (its code is the reply's code). */
char     *nms_proto_run_one      (NmsProto *proto, NmsProtoInput *input, gsize *len, GError **error);

/* For the command line: the origin's store, opened if it is not yet, so
 * that a person can unlock it the way a command unlocks a store it opened
 * itself (the browser sends the unlock op instead); NULL when it cannot
 * be opened, which the next request's reply explains. */
NmsStore *nms_proto_store        (NmsProto *proto);

/* Change events (subscribe/unsubscribe). The caller watches the file at
 * nms_proto_bell_path() while nms_proto_subscribed(), and calls
 * nms_proto_poll_events() when it changes and after every batch; that
 * returns TRUE when it stopped early and should be called again. It holds
 * no lock of the store once it returns, so the caller may block writing
 * the events out without holding up writers in other processes. */
gboolean    nms_proto_subscribed  (NmsProto *proto);
const char *nms_proto_bell_path   (NmsProto *proto);
gboolean    nms_proto_poll_events (NmsProto *proto, NmsProtoEventFunc emit, gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsProto, nms_proto_free)

G_END_DECLS
