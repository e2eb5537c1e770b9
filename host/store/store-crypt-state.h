/* SPDX-License-Identifier: MIT */
/* store-crypt-state.h: what this process knows of an encrypted store
 * (store-crypt-state.c), for every part of the store. Not installed. */
#pragma once

#include "store-private.h"

gboolean _nms_store_crypt_ready       (NmsStore *store, GError **error);
gboolean _nms_store_crypt_open        (NmsStore *store, const NmsCryptoKeys *keys, const guint8 *token,
                                      const guint8 *sealed, gsize sealed_len, NmsCryptoItem *item, GError **error);
/* How many records this handle has opened (decrypted) since it was
 * opened: lets the tests see which calls decrypt what. */
guint64  _nms_store_crypt_records_opened (NmsStore *store);
