/* SPDX-License-Identifier: MIT */
/* base64.h: the one strict reading and the one writing of base64 that the
 * protocol ($bytes values) and the session layer (base64 .torrent text)
 * share, so both accept and produce exactly the same text. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nms_base64_is_strict (const char *text, gsize len);
guint8  *nms_base64_decode_strict (const char *text, gsize len, gsize *out_len);
void     nms_base64_append    (GString *out, const guint8 *data, gsize len);

G_END_DECLS
