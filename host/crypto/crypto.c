/* SPDX-License-Identifier: MIT */
/* crypto.c: secrets in guarded memory, subkeys, key-name tokens and sealed
 * records (crypto.h); the data key's envelope is in crypto-envelope.c.
 * Every primitive is libsodium's; this file only decides how they are
 * combined and what each byte means. */
#include "crypto/crypto.h"
#include "base/error.h"
#include "base/os.h"

#include <sodium.h>
#include <string.h>

G_STATIC_ASSERT (NMS_CRYPTO_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
G_STATIC_ASSERT (NMS_CRYPTO_KEY_BYTES == crypto_kdf_KEYBYTES);
G_STATIC_ASSERT (NMS_CRYPTO_SEAL_OVERHEAD == 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
                                             + crypto_aead_xchacha20poly1305_ietf_ABYTES);

#define NONCE_BYTES    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES      crypto_aead_xchacha20poly1305_ietf_ABYTES
/* crypto_kdf wants exactly 8 context bytes; changing them changes every
 * subkey, so they are part of the file format. */
#define KDF_CONTEXT    "nmstore_"
#define SUBKEY_RECORD  1
#define SUBKEY_TOKEN   2
#define SUBKEY_LIST    3
#define SUBKEY_SUMMARY 4

struct _NmsCryptoSecret {
  gsize  len;
  gsize  capacity;
  guint8 data[];
};

struct _NmsCryptoKeys {
  guint8 record_key[NMS_CRYPTO_KEY_BYTES];
  guint8 token_key[NMS_CRYPTO_KEY_BYTES];
  guint8 list_key[NMS_CRYPTO_KEY_BYTES];
  guint8 summary_key[NMS_CRYPTO_KEY_BYTES];
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES];
  guint8 key_id[NMS_CRYPTO_KEY_ID_BYTES];
  gsize  pad_block;
};

gboolean
nms_crypto_init (GError **error)
{
  if (sodium_init () < 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_INTERNAL,
                   "libsodium could not initialise (no usable random source?); check /dev/urandom");
      return FALSE;
    }
  return TRUE;
}

/* Guarded, locked memory; the allocation failing is out-of-memory, which
 * GLib programs treat as fatal everywhere else too. */
static void *
secure_alloc (gsize size)
{
  void *p;
  g_autoptr(GError) error = NULL;

  /* A key is about to be in memory: no core file may carry it. Setting
   * the limit again is harmless, so there is no "already done" flag. */
  if (!nms_os_disable_core_dumps (&error))
    g_warning ("a key is loaded but %s", error->message);
  /* sodium_malloc puts the block's end against a guard page, so its start
   * is only as aligned as its size: round the size up to keep structs
   * (and their gsize members) aligned. */
  size = (size + 15) & ~(gsize) 15;
  p = sodium_malloc (size);
  if (p == NULL)
    g_error ("out of memory: cannot allocate %" G_GSIZE_FORMAT " bytes of guarded memory for a key", size);
  return p;
}

NmsCryptoSecret *
nms_crypto_secret_new (gsize capacity)
{
  NmsCryptoSecret *secret = secure_alloc (sizeof (NmsCryptoSecret) + capacity);

  secret->len = 0;
  secret->capacity = capacity;
  sodium_memzero (secret->data, capacity);
  return secret;
}

NmsCryptoSecret *
nms_crypto_secret_new_random (gsize len)
{
  NmsCryptoSecret *secret = nms_crypto_secret_new (len);

  randombytes_buf (secret->data, len);
  secret->len = len;
  return secret;
}

NmsCryptoSecret *
nms_crypto_secret_copy (const NmsCryptoSecret *secret)
{
  NmsCryptoSecret *copy = nms_crypto_secret_new (secret->capacity);

  memcpy (copy->data, secret->data, secret->len);
  copy->len = secret->len;
  return copy;
}

guint8 *
nms_crypto_secret_data (NmsCryptoSecret *secret)
{
  return secret->data;
}

const guint8 *
nms_crypto_secret_peek (const NmsCryptoSecret *secret)
{
  return secret->data;
}

gsize
nms_crypto_secret_len (const NmsCryptoSecret *secret)
{
  return secret->len;
}

gsize
nms_crypto_secret_capacity (const NmsCryptoSecret *secret)
{
  return secret->capacity;
}

void
nms_crypto_secret_set_len (NmsCryptoSecret *secret, gsize len)
{
  g_return_if_fail (len <= secret->capacity);
  secret->len = len;
}

void
nms_crypto_secret_free (NmsCryptoSecret *secret)
{
  /* sodium_free wipes the whole allocation before releasing it. */
  if (secret != NULL)
    sodium_free (secret);
}

NmsCryptoKeys *
nms_crypto_keys_new (const NmsCryptoSecret *data_key, const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES],
                     gsize pad_block)
{
  NmsCryptoKeys *keys = secure_alloc (sizeof (NmsCryptoKeys));

  g_return_val_if_fail (data_key->len == NMS_CRYPTO_KEY_BYTES, NULL);
  crypto_kdf_derive_from_key (keys->record_key, sizeof keys->record_key, SUBKEY_RECORD, KDF_CONTEXT,
                              data_key->data);
  crypto_kdf_derive_from_key (keys->token_key, sizeof keys->token_key, SUBKEY_TOKEN, KDF_CONTEXT,
                              data_key->data);
  crypto_kdf_derive_from_key (keys->list_key, sizeof keys->list_key, SUBKEY_LIST, KDF_CONTEXT,
                              data_key->data);
  crypto_kdf_derive_from_key (keys->summary_key, sizeof keys->summary_key, SUBKEY_SUMMARY, KDF_CONTEXT,
                              data_key->data);
  memcpy (keys->store_id, store_id, NMS_CRYPTO_STORE_ID_BYTES);
  nms_crypto_key_id (data_key, keys->key_id);
  keys->pad_block = CLAMP (pad_block, 1, NMS_CRYPTO_PAD_BLOCK_MAX);
  /* Nothing writes the subkeys again: a stray write through a bad pointer
   * faults instead of silently changing a key. */
  sodium_mprotect_readonly (keys);
  return keys;
}

void
nms_crypto_keys_free (NmsCryptoKeys *keys)
{
  if (keys != NULL)
    sodium_free (keys);
}

gsize
nms_crypto_keys_pad_block (const NmsCryptoKeys *keys)
{
  return keys->pad_block;
}

const guint8 *
nms_crypto_keys_id (const NmsCryptoKeys *keys)
{
  return keys->key_id;
}

void
nms_crypto_key_id (const NmsCryptoSecret *data_key, guint8 id[NMS_CRYPTO_KEY_ID_BYTES])
{
  static const char label[] = "nmstore data key id";

  crypto_generichash (id, NMS_CRYPTO_KEY_ID_BYTES, (const guint8 *) label, sizeof label - 1,
                      nms_crypto_secret_peek (data_key), NMS_CRYPTO_KEY_BYTES);
}

void
nms_crypto_token (const NmsCryptoKeys *keys, const char *name, gsize name_len, guint8 token[NMS_CRYPTO_TOKEN_BYTES])
{
  crypto_generichash (token, NMS_CRYPTO_TOKEN_BYTES, (const guint8 *) name, name_len,
                      keys->token_key, sizeof keys->token_key);
}

struct _NmsCryptoListMac {
  crypto_generichash_state state;
};

NmsCryptoListMac *
nms_crypto_list_mac_new (const NmsCryptoKeys *keys)
{
  /* The state holds the key, so it lives in guarded memory too. */
  NmsCryptoListMac *mac = secure_alloc (sizeof (NmsCryptoListMac));

  crypto_generichash_init (&mac->state, keys->list_key, sizeof keys->list_key, NMS_CRYPTO_MAC_BYTES);
  return mac;
}

/* Each part goes in with its length before it, so that no two different
 * lists of parts hash the same bytes. */
void
nms_crypto_list_mac_add (NmsCryptoListMac *mac, const void *part, gsize len)
{
  guint64 n = GUINT64_TO_LE ((guint64) len);

  crypto_generichash_update (&mac->state, (const guint8 *) &n, sizeof n);
  if (len > 0)
    crypto_generichash_update (&mac->state, part, len);
}

void
nms_crypto_list_mac_final (NmsCryptoListMac *mac, guint8 out[NMS_CRYPTO_MAC_BYTES])
{
  crypto_generichash_final (&mac->state, out, NMS_CRYPTO_MAC_BYTES);
}

gboolean
nms_crypto_list_mac_verify (NmsCryptoListMac *mac, const guint8 *expected, gsize expected_len, GError **error)
{
  guint8 got[NMS_CRYPTO_MAC_BYTES];

  nms_crypto_list_mac_final (mac, got);
  if (expected_len != NMS_CRYPTO_MAC_BYTES || sodium_memcmp (got, expected, NMS_CRYPTO_MAC_BYTES) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "the list's authentication code does not match: records were added, removed, "
                   "reordered or changed, or it was sealed under another key");
      return FALSE;
    }
  return TRUE;
}

void
nms_crypto_list_mac_free (NmsCryptoListMac *mac)
{
  if (mac != NULL)
    sodium_free (mac);
}

G_STATIC_ASSERT (NMS_CRYPTO_SEAL_HEAD_BYTES == 1 + NONCE_BYTES);

/* The first byte of what the summary key hashes says which of its two uses
 * it is, so a record's digest can never pass for a summary's MAC. */
enum { SUMMARY_DIGEST = 'd', SUMMARY_MAC = 'm' };

void
nms_crypto_record_digest (const NmsCryptoKeys *keys, const guint8 *token, gsize token_len, const guint8 *head,
                          gsize head_len, guint64 sealed_len, guint8 out[NMS_CRYPTO_SUM_BYTES])
{
  crypto_generichash_state state;
  const guint8 use = SUMMARY_DIGEST;
  guint64 n;

  crypto_generichash_init (&state, keys->summary_key, sizeof keys->summary_key, NMS_CRYPTO_SUM_BYTES);
  crypto_generichash_update (&state, &use, 1);
  n = GUINT64_TO_LE ((guint64) token_len);
  crypto_generichash_update (&state, (const guint8 *) &n, sizeof n);
  crypto_generichash_update (&state, token, token_len);
  n = GUINT64_TO_LE ((guint64) head_len);
  crypto_generichash_update (&state, (const guint8 *) &n, sizeof n);
  crypto_generichash_update (&state, head, head_len);
  n = GUINT64_TO_LE (sealed_len);
  crypto_generichash_update (&state, (const guint8 *) &n, sizeof n);
  crypto_generichash_final (&state, out, NMS_CRYPTO_SUM_BYTES);
  /* The state held the key. */
  sodium_memzero (&state, sizeof state);
}

/* Little-endian numbers modulo 2^256: sodium_add and sodium_sub wrap. */
void
nms_crypto_sum_add (guint8 sum[NMS_CRYPTO_SUM_BYTES], const guint8 term[NMS_CRYPTO_SUM_BYTES])
{
  sodium_add (sum, term, NMS_CRYPTO_SUM_BYTES);
}

void
nms_crypto_sum_sub (guint8 sum[NMS_CRYPTO_SUM_BYTES], const guint8 term[NMS_CRYPTO_SUM_BYTES])
{
  sodium_sub (sum, term, NMS_CRYPTO_SUM_BYTES);
}

void
nms_crypto_summary_mac (const NmsCryptoKeys *keys, guint64 counter, guint64 n_records,
                        const guint8 sum[NMS_CRYPTO_SUM_BYTES], guint8 mac[NMS_CRYPTO_MAC_BYTES])
{
  static const char label[] = "nmstore summary";
  crypto_generichash_state state;
  const guint8 use = SUMMARY_MAC;
  guint64 n;

  crypto_generichash_init (&state, keys->summary_key, sizeof keys->summary_key, NMS_CRYPTO_MAC_BYTES);
  crypto_generichash_update (&state, &use, 1);
  crypto_generichash_update (&state, (const guint8 *) label, sizeof label - 1);
  crypto_generichash_update (&state, keys->store_id, NMS_CRYPTO_STORE_ID_BYTES);
  n = GUINT64_TO_LE (counter);
  crypto_generichash_update (&state, (const guint8 *) &n, sizeof n);
  n = GUINT64_TO_LE (n_records);
  crypto_generichash_update (&state, (const guint8 *) &n, sizeof n);
  crypto_generichash_update (&state, sum, NMS_CRYPTO_SUM_BYTES);
  crypto_generichash_final (&state, mac, NMS_CRYPTO_MAC_BYTES);
  sodium_memzero (&state, sizeof state);
}

static gsize
record_ad (const NmsCryptoKeys *keys, NmsCryptoUse use, const guint8 *binding, gsize binding_len, guint8 **ad)
{
  gsize len = 2 + NMS_CRYPTO_STORE_ID_BYTES + binding_len;

  *ad = g_malloc (len);
  (*ad)[0] = NMS_CRYPTO_RECORD_VERSION;
  (*ad)[1] = (guint8) use;
  memcpy (*ad + 2, keys->store_id, NMS_CRYPTO_STORE_ID_BYTES);
  if (binding_len > 0)
    memcpy (*ad + 2 + NMS_CRYPTO_STORE_ID_BYTES, binding, binding_len);
  return len;
}

guint8 *
nms_crypto_seal (const NmsCryptoKeys *keys, NmsCryptoUse use, const guint8 *binding, gsize binding_len,
                 const guint8 *plain, gsize plain_len, gsize *sealed_len)
{
  g_autofree guint8 *ad = NULL;
  gsize ad_len = record_ad (keys, use, binding, binding_len, &ad);
  gsize padded_len = 0;
  guint8 *out;

  /* Pad in place at the ciphertext's position: the output buffer holds
   * the padded plaintext first and is then encrypted over itself, which
   * libsodium allows, saving a copy of every value. */
  out = g_malloc (NMS_CRYPTO_SEAL_OVERHEAD + plain_len + keys->pad_block);
  if (plain_len > 0)
    memcpy (out + 1 + NONCE_BYTES, plain, plain_len);
  if (sodium_pad (&padded_len, out + 1 + NONCE_BYTES, plain_len, keys->pad_block, plain_len + keys->pad_block) != 0)
    g_error ("sodium_pad refused a buffer sized for it");
  out[0] = NMS_CRYPTO_RECORD_VERSION;
  randombytes_buf (out + 1, NONCE_BYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (out + 1 + NONCE_BYTES, NULL, out + 1 + NONCE_BYTES, padded_len,
                                              ad, ad_len, NULL, out + 1, keys->record_key);
  *sealed_len = NMS_CRYPTO_SEAL_OVERHEAD + padded_len;
  return out;
}

guint8 *
nms_crypto_open (const NmsCryptoKeys *keys, NmsCryptoUse use, const guint8 *binding, gsize binding_len,
                 const guint8 *sealed, gsize sealed_len, gsize *plain_len, GError **error)
{
  g_autofree guint8 *ad = NULL;
  g_autofree guint8 *plain = NULL;
  gsize ad_len, len, padded = 0;

  if (sealed_len < NMS_CRYPTO_SEAL_OVERHEAD + 1)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "an encrypted record of %" G_GSIZE_FORMAT " bytes is too short to be one", sealed_len);
      return NULL;
    }
  if (sealed[0] != NMS_CRYPTO_RECORD_VERSION)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "an encrypted record has format %u, which this nmstore does not know", sealed[0]);
      return NULL;
    }
  ad_len = record_ad (keys, use, binding, binding_len, &ad);
  len = sealed_len - NMS_CRYPTO_SEAL_OVERHEAD;
  plain = g_malloc (len + 1);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt (plain, NULL, NULL, sealed + 1 + NONCE_BYTES,
                                                  sealed_len - 1 - NONCE_BYTES, ad, ad_len,
                                                  sealed + 1, keys->record_key) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "an encrypted record failed its authentication check: it was changed, damaged, "
                   "or moved from another key or store");
      return NULL;
    }
  /* sodium_unpad looks back one block for the padding's end, in constant
   * time per byte of that block. The usual case is this store's
   * pad_block; a record written under a larger one (nmstore.conf changed
   * since) has a longer run of padding, found by looking back further. */
  if (sodium_unpad (&padded, plain, len, MIN (len, keys->pad_block)) != 0
      && sodium_unpad (&padded, plain, len, MIN (len, NMS_CRYPTO_PAD_BLOCK_MAX)) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "an encrypted record has invalid padding");
      return NULL;
    }
  len = padded;
  plain[len] = '\0';
  *plain_len = len;
  return g_steal_pointer (&plain);
}

void
nms_crypto_item_clear (NmsCryptoItem *item)
{
  /* name and value share one allocation, the record's plaintext: name,
   * NUL, the rest of the length prefix, kind, value and its NUL. */
  if (item->name != NULL)
    sodium_memzero (item->name, item->name_len + 5 + item->value_len + 1);
  g_free (item->name);
  memset (item, 0, sizeof *item);
}

/* An item's plaintext: name length (u32 little-endian) | name | kind | value. */
guint8 *
nms_crypto_seal_item (const NmsCryptoKeys *keys, const char *name, gsize name_len, guint8 kind,
                      const guint8 *value, gsize value_len, guint8 token[NMS_CRYPTO_TOKEN_BYTES], gsize *sealed_len)
{
  gsize plain_len = 4 + name_len + 1 + value_len;
  g_autofree guint8 *plain = g_malloc (plain_len);
  guint32 n = GUINT32_TO_LE ((guint32) name_len);

  g_return_val_if_fail (name_len <= G_MAXUINT32, NULL);
  memcpy (plain, &n, 4);
  memcpy (plain + 4, name, name_len);
  plain[4 + name_len] = kind;
  if (value_len > 0)
    memcpy (plain + 5 + name_len, value, value_len);
  nms_crypto_token (keys, name, name_len, token);
  return nms_crypto_seal (keys, NMS_CRYPTO_USE_ITEM, token, NMS_CRYPTO_TOKEN_BYTES, plain, plain_len, sealed_len);
}

gboolean
nms_crypto_open_item (const NmsCryptoKeys *keys, const guint8 token[NMS_CRYPTO_TOKEN_BYTES],
                      const guint8 *sealed, gsize sealed_len, NmsCryptoItem *item, GError **error)
{
  gsize plain_len = 0;
  guint8 *plain = nms_crypto_open (keys, NMS_CRYPTO_USE_ITEM, token, NMS_CRYPTO_TOKEN_BYTES,
                                   sealed, sealed_len, &plain_len, error);
  guint8 check[NMS_CRYPTO_TOKEN_BYTES];
  guint32 n;

  if (plain == NULL)
    return FALSE;
  memcpy (&n, plain, MIN (plain_len, 4));
  n = GUINT32_FROM_LE (n);
  if (plain_len < 5 || n > plain_len - 5)
    {
      g_free (plain);
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "an encrypted record's name length is out of bounds");
      return FALSE;
    }
  /* The tag already binds the token; this also catches a writer that
   * sealed a name under the wrong token. */
  nms_crypto_token (keys, (const char *) plain + 4, n, check);
  if (sodium_memcmp (check, token, NMS_CRYPTO_TOKEN_BYTES) != 0)
    {
      g_free (plain);
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "an encrypted record holds a name that is not its key's");
      return FALSE;
    }
  /* The name moves down over its length prefix, which leaves room for
   * its NUL without touching the value; open() NUL-terminated the value. */
  item->kind = plain[4 + n];
  item->value_len = plain_len - 5 - n;
  memmove (plain, plain + 4, n);
  plain[n] = '\0';
  item->name = (char *) plain;
  item->name_len = n;
  item->value = plain + 5 + n;
  return TRUE;
}
