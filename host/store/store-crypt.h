/* SPDX-License-Identifier: MIT */
/* store-crypt.h: the key record and the keys (store-crypt.c), for the
 * store's open and transactions and for conversion. Not installed. */
#pragma once

#include "store-private.h"

gboolean _nms_store_crypt_refresh     (NmsStore *store, GError **error);
gboolean _nms_store_crypt_refresh_now (NmsStore *store, GError **error);
gboolean _nms_store_crypt_refresh_at  (NmsStore *store, gint64 data_version, GError **error);
void     _nms_store_crypt_forget      (NmsStore *store);
void     _nms_store_crypt_clear       (NmsStore *store);
/* The caller's key provider (NmsStoreOptions.keys), or an error saying
 * the store cannot be unlocked without one. */
const NmsStoreKeys *_nms_store_keys (NmsStore *store, GError **error);
NmsCryptoSecret *_nms_store_crypt_load_kek (NmsStore *store, const NmsCryptoEnvelope *envelope,
                                           const NmsCryptoSecret *passphrase, GError **error);
