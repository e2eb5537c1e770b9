/* SPDX-License-Identifier: MIT */
/* keysource.h: where a store's key-encryption key (KEK) comes from, other
 * than a passphrase (Argon2id is crypto.h's): a key file of 32 random
 * bytes, or the desktop keyring through libsecret's Secret Service client.
 *
 * The keyring is optional at build time; without libsecret every keyring
 * call fails with a message saying so, and nms_keysource_keyring_built()
 * tells the CLI what to print in --version. Like crypto.h, this module
 * knows nothing of the store. */
#pragma once

#include <glib.h>

#include "nmstore/crypto.h"

G_BEGIN_DECLS

/* The default key file's name, beside the store's database. */
#define NMS_KEYSOURCE_KEY_FILE_NAME "store.key"
#define NMS_KEYSOURCE_PASSPHRASE_MAX 1024u

NmsCryptoSecret *nms_keysource_key_file_create  (const char *path, GError **error);
NmsCryptoSecret *nms_keysource_key_file_load    (const char *path, GError **error);

gboolean         nms_keysource_keyring_built    (void);
NmsCryptoSecret *nms_keysource_keyring_create   (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES],
                                                 const char *label, GError **error);
NmsCryptoSecret *nms_keysource_keyring_load     (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], GError **error);
gboolean         nms_keysource_keyring_delete   (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], GError **error);

NmsCryptoSecret *nms_keysource_read_passphrase  (int fd, const char *prompt, GError **error);

/* The KEK that opens envelope, from its source: passphrase for a
 * passphrase envelope (NULL there is NMS_ERROR_LOCKED), the envelope's own
 * key-file path or else default_key_file, or the keyring entry of the
 * envelope's store id. */
NmsCryptoSecret *nms_keysource_load_kek         (const NmsCryptoEnvelope *envelope,
                                                 const NmsCryptoSecret *passphrase,
                                                 const char *default_key_file, GError **error);

G_END_DECLS
