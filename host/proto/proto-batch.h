/* SPDX-License-Identifier: MIT */
/* proto-batch.h: the batch op's own part (proto-batch.c): splitting its
 * "requests" into requests of their own. proto.c runs them. Not installed. */
#pragma once

#include "proto-private.h"

G_BEGIN_DECLS

/* Appends to inputs (NmsProtoInput) the text of each entry of the batch's
 * "requests", in order, pointing into the request's own text. FALSE with
 * E_REQUEST when the request is no batch at all: "requests" missing, not
 * an array, empty, longer than NMS_PROTO_MAX_BATCH_REQUESTS, or holding an
 * entry that is not an object. */
gboolean _nms_proto_batch_split (NmsRequest *req, GArray *inputs, GError **error);

G_END_DECLS
