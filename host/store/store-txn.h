/* SPDX-License-Identifier: MIT */
/* store-txn.h: the transaction every mutating call of the store runs in
 * (store-txn.c). Not installed. */
#pragma once

#include "store-private.h"

/* One atomic write: a savepoint inside a batch or request, else its own
 * write transaction. */
gboolean _nms_store_op_begin (NmsStore *store, GError **error);
/* For a write that moves records as they are stored and reads none
 * (restore): it needs no key. */
gboolean _nms_store_op_begin_keyless (NmsStore *store, GError **error);
gboolean _nms_store_op_end   (NmsStore *store, gboolean ok, GError **error);
