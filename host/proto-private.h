/* proto-private.h: what proto.c (parsing, batching, replies) shares with
 * proto-ops.c (the operations themselves). Not installed. */
#pragma once

#include <cjson/cJSON.h>
#include <glib.h>

#include "nmstore/proto.h"
#include "nmstore/store.h"

/* The longest id, as JSON text, that a reply will echo. */
#define NMS_PROTO_MAX_ID_BYTES 1024

struct _NmsProto {
  NmsConfig *config;
  NmsOrigin *origin;
  NmsStore  *store;       /* NULL while it cannot be opened */
  GError    *open_error;  /* why, for the replies of data ops */
};

typedef struct {
  cJSON   *root;
  gboolean nul_sentinel;  /* \u0000 escapes were parsed as U+FFFF */
} NmsRequest;

typedef gboolean (*NmsOpFunc) (NmsProto *proto, NmsRequest *req, GString *result, GError **error);

typedef struct {
  const char *name;
  NmsOpFunc   run;
  gboolean    writes;     /* needs the write lock */
  gboolean    uses_store;
  gboolean    barrier;    /* runs alone, after the batch before it commits */
} NmsOpDef;

/* Op tables end with an entry whose name is NULL. */
extern const NmsOpDef nms_proto_core_ops[];

const NmsOpDef *nms_proto_find_op (const char *name);

/* Helpers for the ops. */
void     nms_proto_append_string   (GString *out, const char *text);
gboolean nms_proto_append_value    (NmsRequest *req, GString *out, const cJSON *value, GError **error);
char    *nms_proto_print_value     (NmsRequest *req, const cJSON *value, gsize *len, GError **error);
gboolean nms_proto_check_key       (NmsRequest *req, const char *key, GError **error);
