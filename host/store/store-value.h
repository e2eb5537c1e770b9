/* SPDX-License-Identifier: MIT */
/* store-value.h: the checks of keys and values (store-value.c), beside
 * the public ones of store.h. Not installed. */
#pragma once

#include "store-private.h"

/* The cheap check of a plaintext item read from the file. */
gboolean _nms_store_item_check (NmsStore *store, const NmsItem *item, gboolean with_value, GError **error);
