/* SPDX-License-Identifier: MIT */
/* proto-common.h: the helpers below proto.c and the op files
 * (proto-common.c). Not installed. */
#pragma once

#include "proto-private.h"

G_BEGIN_DECLS

/* Opens the origin's store if it is not open (again, if it was replaced);
 * FALSE keeps the reason in proto->open_error. */
gboolean     _nms_proto_ensure_store (NmsProto *proto);

/* A member of the request; a missing member and an explicit null both
 * mean "not given" (NULL). */
const cJSON *_nms_proto_param     (NmsRequest *req, const char *name);
/* Sets an E_REQUEST "op: what" and returns FALSE. */
gboolean     _nms_proto_bad_param (GError **error, const char *op, const char *what);

/* A key of the request (a string value or a member name) as its real
 * bytes, checked as a key; NULL with E_KEY. Lives as long as the request. */
const char  *_nms_proto_key             (NmsRequest *req, const char *raw, gsize *len, GError **error);
gboolean     _nms_proto_optional_prefix (NmsRequest *req, const char *op, const char **prefix, GError **error);
/* Appends a stored value as the protocol shows it: JSON text as it is,
 * raw bytes as {"$bytes":"<base64>"}. */
void         _nms_proto_append_stored_value (GString *out, NmsValueKind kind, const guint8 *data, gsize len);

G_END_DECLS
