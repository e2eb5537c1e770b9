/* SPDX-License-Identifier: MIT */
/* proto-private.h: the types proto.c (parsing, batching, replies) shares
 * with the op files (proto-ops.c and the others), and what proto.c takes
 * from the op files. The helpers every one of them uses are in
 * proto-common.h. Not installed. */
#pragma once

#include <cjson/cJSON.h>
#include <glib.h>

#include "proto/proto.h"
#include "store/store.h"

/* The longest id, as JSON text, that a reply will echo. */
#define NMS_PROTO_MAX_ID_BYTES 1024
/* The most requests one batch op may carry (hello's maxBatchRequests):
 * their replies are held until the batch commits. */
#define NMS_PROTO_MAX_BATCH_REQUESTS 1000u
/* Once the replies held for one read pass this many bytes, the inner
 * requests of a batch that have not run yet are refused (E_TOO_LARGE), so
 * that a batch of many large reads cannot hold gigabytes until it commits
 * (docs/PROTOCOL.md, "batch"). */
#define NMS_PROTO_BATCH_HELD_BYTES (64u * 1024u * 1024u)

/* This port's subscription to change events (proto-events.c). */
typedef struct {
  gboolean subscribed;
  gint64   subscription;  /* the store's registration (0: none), kept
                             until the store has removed it */
  char    *prefix;        /* events only for keys under it; NULL: all */
  guint64  cursor;        /* the last log row this port has been sent */
  gint64   data_version;  /* the store's, when the log was last read */
  gboolean wrote;         /* this process wrote since the log was last read */
  gboolean more;          /* the last read stopped before the head */
} NmsProtoEvents;

struct _NmsProto {
  NmsConfig     *config;
  NmsOrigin     *origin;
  NmsStore      *store;       /* NULL while it cannot be opened */
  GError        *open_error;  /* why, for the replies of data ops */
  NmsProtoEvents events;
  GHashTable    *failures_logged; /* "op code" -> how often such a failure was seen */
  char          *open_error_logged; /* the last open error logged, not repeated each batch */
  NmsProgressFunc progress;   /* given to the store once it is open (nms_proto_set_progress) */
  gpointer        progress_data;
  char           *op_names;   /* every op's name as a JSON array, in table order, for hello:
                                 proto.c holds the tables and fills it, so that the op
                                 files never call up into it */
};

typedef struct {
  cJSON     *root;
  gboolean   stuffed;  /* parsed with U+0000 stuffed (json.h): read strings with _nms_proto_key */
  GPtrArray *owned;    /* keys _nms_proto_key decoded, freed with the request */
  const char *items;   /* the text of "items" when it is an object, read by op_set
                          itself; root then holds {} in its place */
  gsize      items_len;
  const char *requests; /* the text of "requests" when it is an array, which a batch
                           splits into requests of their own; root then holds [] */
  gsize      requests_len;
  GPtrArray *replies;  /* a batch's: each inner request's whole reply (GString), in
                          order, handed over by proto.c once they have committed */
} NmsRequest;

typedef gboolean (*NmsOpFunc) (NmsProto *proto, NmsRequest *req, GString *result, GError **error);

typedef struct {
  const char *name;
  NmsOpFunc   run;
  gboolean    writes;     /* needs the write lock */
  gboolean    uses_store;
  gboolean    barrier;    /* runs alone, after the batch before it commits */
  gboolean    secret;     /* the request carries a secret: its frame is wiped once handled */
  gboolean    frees;      /* only deletes: on a full disk it may use the store's reserve */
  gboolean    alone;      /* refused inside a batch: it must come in a frame of its own */
  gboolean    carries;    /* the batch op: its "requests" run first, as requests of their
                             own, and run() then writes their replies */
} NmsOpDef;

/* Op tables end with an entry whose name is NULL. */
extern const NmsOpDef nms_proto_core_ops[];
extern const NmsOpDef nms_proto_session_ops[];
extern const NmsOpDef nms_proto_events_ops[];
extern const NmsOpDef nms_proto_crypt_ops[];
extern const NmsOpDef nms_proto_batch_ops[];

/* The op tables (proto-table.c). */
const NmsOpDef *_nms_proto_find_op (const char *name);
/* Every op's name as a JSON array, in table order: hello lists them, so
 * that the extension's own list is checked against this one. */
void            _nms_proto_append_op_names (GString *out);
void            _nms_proto_events_free (NmsProto *proto);

/* Requests that carry a secret (proto-crypt.c). A frame that mentions
 * unlock or a passphrase is treated as one from before it is parsed: core
 * dumps go off, and its frame and parsed strings are wiped however its
 * parsing ends. */
gboolean _nms_proto_secret_frame (const guint8 *data, gsize len);
void     _nms_proto_secret_guard (void);
void     _nms_proto_wipe_tree    (cJSON *node);

/* A value of the request as canonical text (json.h; proto.c). */
char    *_nms_proto_print_value     (NmsRequest *req, const cJSON *value, gsize *len);
