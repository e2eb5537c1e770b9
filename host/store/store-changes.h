/* SPDX-License-Identifier: MIT */
/* store-changes.h: the change log (store-changes.c): its side of the
 * store's life cycle and transactions, and the note every write makes of
 * what it changes. Not installed. */
#pragma once

#include "store-private.h"

extern const char nms_store_log_schema_sql[];
gboolean _nms_store_log_open       (NmsStore *store, GError **error);
void     _nms_store_log_close      (NmsStore *store);
void     _nms_store_log_note       (NmsStore *store, const char *key, gsize key_len,
                                   const NmsValueRef *before, const NmsValueRef *after);
void     _nms_store_log_call_begin (NmsStore *store);
gboolean _nms_store_log_call_end   (NmsStore *store, gboolean ok, GError **error);
void     _nms_store_log_request_begin  (NmsStore *store);
gboolean _nms_store_log_request_end    (NmsStore *store, gboolean keep, GError **error);
gboolean _nms_store_log_forget         (NmsStore *store, GError **error);
void     _nms_store_log_snapshot       (NmsStore *store, gint64 data_version);
void     _nms_store_log_after_commit   (NmsStore *store);
void     _nms_store_log_after_rollback (NmsStore *store);
/* Empties the log once nobody subscribes (store-subscribers.c). */
gboolean _nms_store_log_truncate       (NmsStore *store, GError **error);
