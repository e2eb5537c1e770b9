/* SPDX-License-Identifier: MIT */
/* store-bytes.h: the store's bytes in use, the sum of its items' size
 * column (store-bytes.c). Not installed. */
#pragma once

#include "store-private.h"

/* Makes this connection's counter. At open, before the statements that
 * read it are prepared, and outside any transaction. */
gboolean _nms_store_bytes_open (NmsStore *store, GError **error);
/* The sum, exact for what the caller's transaction sees: inside one only. */
gboolean _nms_store_bytes_total (NmsStore *store, guint64 *total, GError **error);
