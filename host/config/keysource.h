/* SPDX-License-Identifier: MIT */
/* keysource.h: where a store's key-encryption key (KEK) comes from, other
 * than a passphrase (Argon2id is crypto.h's): a key file of 32 random
 * bytes, or the desktop keyring through libsecret's Secret Service client.
 *
 * The keyring is optional at build time; without libsecret every keyring
 * call fails with a message saying so, and nms_keysource_keyring_built()
 * tells the CLI what to print in --version. The store knows nothing of
 * this module: the fronts give it nms_keysource_store_keys(), the key
 * provider of store.h, and only they call here. */
#pragma once

#include <glib.h>

#include "crypto/crypto.h"
#include "store/store.h"

G_BEGIN_DECLS

/* The default key file's name, beside the store's database. */
#define NMS_KEYSOURCE_KEY_FILE_NAME "store.key"
#define NMS_KEYSOURCE_PASSPHRASE_MAX 1024u

/* The key file of a store in store_dir: key_file when one was named
 * (--key-file, or the path a key record keeps), else store.key beside the
 * database. The one place this rule is written. */
char            *nms_keysource_key_file_path    (const char *store_dir, const char *key_file);
NmsCryptoSecret *nms_keysource_key_file_create  (const char *path, GError **error);
NmsCryptoSecret *nms_keysource_key_file_load    (const char *path, GError **error);

gboolean         nms_keysource_keyring_built    (void);
NmsCryptoSecret *nms_keysource_keyring_create   (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES],
                                                 const char *label, GError **error);
NmsCryptoSecret *nms_keysource_keyring_load     (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], GError **error);
gboolean         nms_keysource_keyring_delete   (const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], GError **error);

NmsCryptoSecret *nms_keysource_read_passphrase  (int fd, const char *prompt, GError **error);

/* The KEK that opens envelope, from its source: passphrase for a
 * passphrase envelope (NULL there is NMS_ERROR_LOCKED), the key file of
 * a store in store_dir (nms_keysource_key_file_path with the envelope's
 * own path), or the keyring entry of the envelope's store id. */
NmsCryptoSecret *nms_keysource_load_kek         (const NmsCryptoEnvelope *envelope,
                                                 const NmsCryptoSecret *passphrase,
                                                 const char *store_dir, GError **error);

/* store.h's key provider over key files, the keyring and passphrases:
 * what the fronts put in NmsStoreOptions.keys. Static data; user_data is
 * unused. */
const NmsStoreKeys *nms_keysource_store_keys   (void);

G_END_DECLS
