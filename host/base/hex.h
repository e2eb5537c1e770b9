/* SPDX-License-Identifier: MIT */
/* hex.h: bytes as lowercase hexadecimal, the one writer of it. Names that
 * identify bytes to a person or to another program (a store id in the
 * desktop keyring, a damaged record's token in the log) are written the
 * same way everywhere. GLib writes hex only for its own checksums. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends two lowercase hex digits for each of len bytes. */
void  nms_hex_append (GString *out, const guint8 *data, gsize len);
/* The same as a new string, for the caller to free. */
char *nms_hex_encode (const guint8 *data, gsize len);

G_END_DECLS
