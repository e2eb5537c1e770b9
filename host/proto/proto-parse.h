/* SPDX-License-Identifier: MIT */
/* proto-parse.h: parsing one request (proto-parse.c), for proto.c. Not
 * installed. */
#pragma once

#include "proto-private.h"

G_BEGIN_DECLS

/* The values a request of len bytes may hold outside "items" and
 * "requests": what keeps its tree under 4 times its size plus 32 MiB. */
gsize    _nms_proto_envelope_budget (gsize len);

/* Parses input into req, *id_json (the id's text, set as soon as it is
 * read, so that an error reply after it can echo it; NULL: none) and
 * *op, taking the values of its tree from *budget, which a batch's
 * requests share with their batch (in_batch). FALSE with the error the
 * request's reply is to carry. */
gboolean _nms_proto_parse_request (NmsProtoInput *input, gboolean in_batch, gsize *budget, NmsRequest *req,
                                   char **id_json, const NmsOpDef **op, GError **error);

G_END_DECLS
