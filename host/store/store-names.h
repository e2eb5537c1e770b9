/* SPDX-License-Identifier: MIT */
/* store-names.h. Not installed. */
#pragma once

#include "store-private.h"

/* store-names.c: an encrypted store's names in memory, for the
 * store's transactions and store-sealed.c. put and the removes edit the cache only when there is
 * one; visit, tokens and the byte counts build it when needed, and so
 * need the store unlocked and the caller's transaction. */
void     _nms_store_names_watch      (NmsStore *store);
void     _nms_store_names_unwatch    (NmsStore *store);
void     _nms_store_names_drop       (NmsStore *store);
void     _nms_store_names_put        (NmsStore *store, const guint8 *token, const char *name, gsize name_len,
                                     guint8 kind, guint64 value_bytes);
void     _nms_store_names_remove     (NmsStore *store, const guint8 *token);
void     _nms_store_names_remove_all (NmsStore *store);
gboolean _nms_store_names_visit      (NmsStore *store, const char *prefix, NmsStoreVisitFunc visit,
                                     gpointer user_data, GError **error);
gboolean _nms_store_names_tokens     (NmsStore *store, const char *prefix, GArray **tokens, GError **error);
gboolean _nms_store_names_bytes      (NmsStore *store, guint64 *bytes, GError **error);
gboolean _nms_store_names_item_bytes (NmsStore *store, const guint8 *token, gboolean *known, guint64 *bytes,
                                     GError **error);
