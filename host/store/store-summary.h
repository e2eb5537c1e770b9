/* SPDX-License-Identifier: MIT */
/* store-summary.h. Not installed. */
#pragma once

#include "store-private.h"

/* store-summary.c: the authenticated summary of an encrypted store's
 * records. begin and end bracket every store call (store-txn.c); forget and
 * note are store-sealed.c's, around each record it replaces or removes and
 * each it writes; cleared follows a whole clear. */
gboolean _nms_store_summary_kept    (NmsStore *store);
void     _nms_store_summary_begin   (NmsStore *store);
gboolean _nms_store_summary_end     (NmsStore *store, gboolean ok, GError **error);
void     _nms_store_summary_cleared (NmsStore *store);
gboolean _nms_store_summary_forget  (NmsStore *store, const guint8 *token, GError **error);
void     _nms_store_summary_note    (NmsStore *store, const guint8 *token, const guint8 *head, gsize head_len,
                                    guint64 sealed_len, gboolean add);
gboolean _nms_store_summary_rewrite (NmsStore *store, const NmsCryptoKeys *keys, GError **error);
gboolean _nms_store_summary_check   (NmsStore *store, GError **error);
void     _nms_store_summary_close   (NmsStore *store);
