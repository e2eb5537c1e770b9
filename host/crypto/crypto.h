/* SPDX-License-Identifier: MIT */
/* crypto.h: every cryptographic step of nmstore, all of it through libsodium.
 *
 * The key hierarchy of an encrypted store:
 *
 *   key-encryption key (KEK)  from a passphrase (Argon2id), a key file or
 *        |                    the desktop keyring (keysource.h)
 *        | wraps (XChaCha20-Poly1305)
 *        v
 *   data key (32 random bytes), recorded wrapped in the store's envelope
 *        | crypto_kdf
 *        +--> record key: seals items and change-log entries
 *        +--> token key:  keyed BLAKE2b of key names, the lookup tokens
 *        +--> list key:   keyed BLAKE2b over a whole list of sealed records
 *        |                (a sealed export), so none can be dropped,
 *        |                added, replayed from an older list or reordered
 *        +--> summary key: keyed BLAKE2b of each stored record, summed
 *                         into the store's summary of its whole record
 *                         set, and the summary's MAC (store-summary.c)
 *
 * Changing the passphrase or the key source re-wraps the data key and
 * touches no record. A sealed record is
 *
 *   version (1 byte) | nonce (24) | XChaCha20-Poly1305 (padded plaintext)
 *
 * with associated data binding version, use, store id and a caller's
 * binding (the key's token for items), so a record moved to another key or
 * another store fails its tag. Every secret lives in sodium_malloc memory
 * (guard pages, locked, left out of core dumps) and is wiped when freed.
 *
 * This module is below the store: it never opens a file or a database. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NMS_CRYPTO_KEY_BYTES       32u
#define NMS_CRYPTO_TOKEN_BYTES     32u
#define NMS_CRYPTO_STORE_ID_BYTES  16u
#define NMS_CRYPTO_SALT_BYTES      16u
#define NMS_CRYPTO_KEY_ID_BYTES    16u
#define NMS_CRYPTO_RECORD_VERSION  1u
#define NMS_CRYPTO_MAC_BYTES       32u
/* What a sealed record adds to its padded plaintext. */
#define NMS_CRYPTO_SEAL_OVERHEAD   (1u + 24u + 16u)
/* A sealed record's first bytes: its version and its nonce. */
#define NMS_CRYPTO_SEAL_HEAD_BYTES (1u + 24u)
#define NMS_CRYPTO_SUM_BYTES       32u
#define NMS_CRYPTO_PAD_BLOCK_DEFAULT 256u
#define NMS_CRYPTO_PAD_BLOCK_MAX     65536u

/* A secret of fixed capacity in sodium_malloc memory. */
typedef struct _NmsCryptoSecret NmsCryptoSecret;

NmsCryptoSecret *nms_crypto_secret_new        (gsize capacity);
NmsCryptoSecret *nms_crypto_secret_new_random (gsize len);
NmsCryptoSecret *nms_crypto_secret_copy       (const NmsCryptoSecret *secret);
guint8          *nms_crypto_secret_data       (NmsCryptoSecret *secret);
const guint8    *nms_crypto_secret_peek       (const NmsCryptoSecret *secret);
gsize            nms_crypto_secret_len        (const NmsCryptoSecret *secret);
gsize            nms_crypto_secret_capacity   (const NmsCryptoSecret *secret);
void             nms_crypto_secret_set_len    (NmsCryptoSecret *secret, gsize len);
void             nms_crypto_secret_free       (NmsCryptoSecret *secret);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsCryptoSecret, nms_crypto_secret_free)

gboolean nms_crypto_init (GError **error);

/* Argon2id's cost. */
typedef struct {
  guint64 opslimit;
  gsize   memlimit;
} NmsCryptoPwhashLimits;

NmsCryptoPwhashLimits nms_crypto_pwhash_moderate (void);
gboolean              nms_crypto_pwhash_check    (const NmsCryptoPwhashLimits *limits, GError **error);

/* Where a store's key-encryption key comes from. */
typedef enum {
  NMS_CRYPTO_SOURCE_PASSPHRASE = 1,
  NMS_CRYPTO_SOURCE_KEY_FILE   = 2,
  NMS_CRYPTO_SOURCE_KEYRING    = 3,
} NmsCryptoSource;

const char *nms_crypto_source_name (NmsCryptoSource source);

/* What a store records about its key: never the key itself in the clear.
 * salt and limits mean something for a passphrase only; key_file is the
 * key file's path when it is not the default one beside the store. */
/* Envelope formats. 2: the store keeps an authenticated summary of its
 * records (store-summary.c). The format is part of the wrapped key's
 * associated data, so a format-2 envelope edited to say 1, to switch the
 * summary's checks off, no longer opens. */
#define NMS_CRYPTO_ENVELOPE_FORMAT_PLAIN   1u
#define NMS_CRYPTO_ENVELOPE_FORMAT_SUMMARY 2u

typedef struct {
  guint                 format;
  NmsCryptoSource       source;
  guint8                store_id[NMS_CRYPTO_STORE_ID_BYTES];
  guint8                salt[NMS_CRYPTO_SALT_BYTES];
  NmsCryptoPwhashLimits limits;
  char                 *key_file;
  guint8                key_id[NMS_CRYPTO_KEY_ID_BYTES]; /* names the data key; see nms_crypto_key_id */
  guint8               *wrapped;      /* nonce | sealed data key */
  gsize                 wrapped_len;
} NmsCryptoEnvelope;

void               nms_crypto_envelope_free    (NmsCryptoEnvelope *envelope);
char              *nms_crypto_envelope_to_json (const NmsCryptoEnvelope *envelope);
NmsCryptoEnvelope *nms_crypto_envelope_parse   (const char *json, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsCryptoEnvelope, nms_crypto_envelope_free)

NmsCryptoSecret   *nms_crypto_kek_from_passphrase (const NmsCryptoSecret *passphrase,
                                                   const guint8 salt[NMS_CRYPTO_SALT_BYTES],
                                                   const NmsCryptoPwhashLimits *limits, GError **error);

/* A new envelope for a new store: fresh store id, and for a passphrase a
 * fresh salt with `limits`. The caller derives the KEK from it, then wraps. */
NmsCryptoEnvelope *nms_crypto_envelope_new  (NmsCryptoSource source, const NmsCryptoPwhashLimits *limits);
/* Starts over with another key source for the same store: new salt. */
void               nms_crypto_envelope_reset(NmsCryptoEnvelope *envelope, NmsCryptoSource source,
                                             const NmsCryptoPwhashLimits *limits, const char *key_file);
void               nms_crypto_wrap          (NmsCryptoEnvelope *envelope, const NmsCryptoSecret *kek,
                                             const NmsCryptoSecret *data_key);
NmsCryptoSecret   *nms_crypto_unwrap        (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *kek,
                                             GError **error);

/* A public name for a data key (keyed BLAKE2b of a constant), so that a
 * process holding a key can tell that the store was re-keyed under it. */
void               nms_crypto_key_id        (const NmsCryptoSecret *data_key, guint8 id[NMS_CRYPTO_KEY_ID_BYTES]);

/* The subkeys of one store, derived from its data key. */
typedef struct _NmsCryptoKeys NmsCryptoKeys;

/* Sealed records carry what they are, so one kind cannot pass for another. */
typedef enum {
  NMS_CRYPTO_USE_ITEM   = 1,
  NMS_CRYPTO_USE_CHANGE = 2,
} NmsCryptoUse;

NmsCryptoKeys *nms_crypto_keys_new      (const NmsCryptoSecret *data_key,
                                         const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], gsize pad_block);
void           nms_crypto_keys_free     (NmsCryptoKeys *keys);
gsize          nms_crypto_keys_pad_block(const NmsCryptoKeys *keys);
const guint8  *nms_crypto_keys_id       (const NmsCryptoKeys *keys);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsCryptoKeys, nms_crypto_keys_free)

void     nms_crypto_token (const NmsCryptoKeys *keys, const char *name, gsize name_len,
                           guint8 token[NMS_CRYPTO_TOKEN_BYTES]);
guint8  *nms_crypto_seal  (const NmsCryptoKeys *keys, NmsCryptoUse use,
                           const guint8 *binding, gsize binding_len,
                           const guint8 *plain, gsize plain_len, gsize *sealed_len);
guint8  *nms_crypto_open  (const NmsCryptoKeys *keys, NmsCryptoUse use,
                           const guint8 *binding, gsize binding_len,
                           const guint8 *sealed, gsize sealed_len, gsize *plain_len, GError **error);

/* The authentication code of a list: parts added in order, each framed by
 * its length. */
typedef struct _NmsCryptoListMac NmsCryptoListMac;

NmsCryptoListMac *nms_crypto_list_mac_new    (const NmsCryptoKeys *keys);
void              nms_crypto_list_mac_add    (NmsCryptoListMac *mac, const void *part, gsize len);
void              nms_crypto_list_mac_final  (NmsCryptoListMac *mac, guint8 out[NMS_CRYPTO_MAC_BYTES]);
gboolean          nms_crypto_list_mac_verify (NmsCryptoListMac *mac, const guint8 *expected, gsize expected_len,
                                              GError **error);
void              nms_crypto_list_mac_free   (NmsCryptoListMac *mac);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsCryptoListMac, nms_crypto_list_mac_free)

/* The store's summary of its record set (store-summary.c): each record's
 * digest is a keyed BLAKE2b of its token, its head (version and nonce,
 * NMS_CRYPTO_SEAL_HEAD_BYTES) and its length. A record that opens was
 * sealed by this store, and no two seals share a nonce, so token and head
 * name one sealed record; one whose other bytes changed fails its own
 * tag. The digests are added modulo 2^256, so a write updates the sum
 * without reading the other records. The MAC binds the sum to its
 * counter, the number of records and the store. */
void     nms_crypto_record_digest (const NmsCryptoKeys *keys, const guint8 *token, gsize token_len,
                                   const guint8 *head, gsize head_len, guint64 sealed_len,
                                   guint8 out[NMS_CRYPTO_SUM_BYTES]);
void     nms_crypto_sum_add       (guint8 sum[NMS_CRYPTO_SUM_BYTES], const guint8 term[NMS_CRYPTO_SUM_BYTES]);
void     nms_crypto_sum_sub       (guint8 sum[NMS_CRYPTO_SUM_BYTES], const guint8 term[NMS_CRYPTO_SUM_BYTES]);
void     nms_crypto_summary_mac   (const NmsCryptoKeys *keys, guint64 counter, guint64 n_records,
                                   const guint8 sum[NMS_CRYPTO_SUM_BYTES], guint8 mac[NMS_CRYPTO_MAC_BYTES]);

/* An item as sealed: its real name and its value. The kind is the store's
 * value kind, opaque here. */
typedef struct {
  char   *name;       /* NUL-terminated; name_len excludes the NUL */
  gsize   name_len;
  guint8  kind;
  guint8 *value;
  gsize   value_len;
} NmsCryptoItem;

void     nms_crypto_item_clear (NmsCryptoItem *item);
guint8  *nms_crypto_seal_item  (const NmsCryptoKeys *keys, const char *name, gsize name_len, guint8 kind,
                                const guint8 *value, gsize value_len,
                                guint8 token[NMS_CRYPTO_TOKEN_BYTES], gsize *sealed_len);
gboolean nms_crypto_open_item  (const NmsCryptoKeys *keys, const guint8 token[NMS_CRYPTO_TOKEN_BYTES],
                                const guint8 *sealed, gsize sealed_len, NmsCryptoItem *item, GError **error);

G_END_DECLS
