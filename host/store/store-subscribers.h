/* SPDX-License-Identifier: MIT */
/* store-subscribers.h: the subscribers table (store-subscribers.c), and
 * whether a write must log for them. Not installed. */
#pragma once

#include "store-private.h"

extern const char nms_store_subscribers_schema_sql[];
gboolean _nms_store_subscribers_open  (NmsStore *store, GError **error);
void     _nms_store_subscribers_close (NmsStore *store);
gboolean _nms_store_subscribers_any   (NmsStore *store, gboolean *any, GError **error);
/* FALSE in *yes when no process has a subscriber, so that the open write
 * transaction need neither read old values nor write log rows. */
gboolean _nms_store_log_wanted     (NmsStore *store, gboolean *yes, GError **error);
