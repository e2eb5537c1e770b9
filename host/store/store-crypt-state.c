/* SPDX-License-Identifier: MIT */
/* store-crypt-state.c: what this process knows of an encrypted store, for
 * every part of the store that asks: whether it is encrypted, locked or
 * damaged, which records class is in use, and opening one sealed record. The
 * key record itself is read and the keys made in store-crypt.c, above
 * this. */
#include "store-private.h"
#include "store-crypt-state.h"
#include "store-record.h"
#include "base/error.h"
#include "base/hex.h"

/* A store whose key record is gone but that holds sealed records counts
 * as encrypted (and damaged), so that nothing takes the plaintext path. */
gboolean
nms_store_encrypted (NmsStore *store)
{
  return store->crypt.envelope != NULL || store->crypt.why_damaged != NULL;
}

gboolean
nms_store_locked (NmsStore *store)
{
  return store->crypt.envelope != NULL && store->crypt.keys == NULL;
}

NmsCryptoSource
nms_store_key_source (NmsStore *store)
{
  return store->crypt.envelope ? store->crypt.envelope->source : 0;
}

gboolean
_nms_store_crypt_ready (NmsStore *store, GError **error)
{
  if (store->crypt.why_damaged != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "%s", store->crypt.why_damaged);
      return FALSE;
    }
  if (!nms_store_locked (store))
    return TRUE;
  g_set_error (error, NMS_ERROR, NMS_ERROR_LOCKED, "%s", store->crypt.why_locked);
  return FALSE;
}

/* The one place that tells plaintext records from sealed ones. */
const NmsStoreRecordClass *
_nms_store_records (NmsStore *store)
{
  return nms_store_encrypted (store) ? store->sealed_records : store->plain_records;
}

gboolean
_nms_store_crypt_open (NmsStore *store, const NmsCryptoKeys *keys, const guint8 *token, const guint8 *sealed,
                      gsize sealed_len, NmsCryptoItem *item, GError **error)
{
  g_autoptr(GError) local = NULL;

  store->crypt.records_opened++;
  if (nms_crypto_open_item (keys, token, sealed, sealed_len, item, &local))
    return TRUE;
  {
    /* The first 8 bytes are enough to find it by; the log needs no more. */
    g_autofree char *hex = nms_hex_encode (token, MIN (NMS_CRYPTO_TOKEN_BYTES, 8));
    /* By token: a name in a log file would be the very leak encryption
     * prevents. */
    g_warning ("%s: the record with token %s... is damaged or was tampered with: %s",
               store->path, hex, local->message);
  }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

guint64
_nms_store_crypt_records_opened (NmsStore *store)
{
  return store->crypt.records_opened;
}
