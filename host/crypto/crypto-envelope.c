/* SPDX-License-Identifier: MIT */
/* crypto-envelope.c: the data key's envelope (crypto.h): Argon2id for
 * passphrases, wrapping and unwrapping the data key under a key-encryption
 * key, and the envelope's JSON form as the store records it. */
#include "crypto/crypto.h"
#include "base/error.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <string.h>

G_STATIC_ASSERT (NMS_CRYPTO_SALT_BYTES == crypto_pwhash_SALTBYTES);

#define NONCE_BYTES     crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES       crypto_aead_xchacha20poly1305_ietf_ABYTES
/* The newest format this nmstore writes; it reads both. */
#define ENVELOPE_FORMAT NMS_CRYPTO_ENVELOPE_FORMAT_SUMMARY
#define WRAPPED_BYTES   (NONCE_BYTES + NMS_CRYPTO_KEY_BYTES + TAG_BYTES)
/* Argon2id costs a stored envelope may ask for: a damaged or hostile
 * envelope must not make unlocking take hours or all memory. */
#define PWHASH_OPSLIMIT_CEILING (4ull * crypto_pwhash_OPSLIMIT_SENSITIVE)
#define PWHASH_MEMLIMIT_CEILING (4ull * crypto_pwhash_MEMLIMIT_SENSITIVE)

NmsCryptoPwhashLimits
nms_crypto_pwhash_moderate (void)
{
  NmsCryptoPwhashLimits limits = { crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE };
  return limits;
}

gboolean
nms_crypto_pwhash_check (const NmsCryptoPwhashLimits *limits, GError **error)
{
  if (limits->opslimit < crypto_pwhash_OPSLIMIT_MIN || limits->opslimit > PWHASH_OPSLIMIT_CEILING)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG,
                   "an Argon2id opslimit of %" G_GUINT64_FORMAT " is outside %u..%llu",
                   limits->opslimit, (unsigned) crypto_pwhash_OPSLIMIT_MIN, PWHASH_OPSLIMIT_CEILING);
      return FALSE;
    }
  if (limits->memlimit < crypto_pwhash_MEMLIMIT_MIN || limits->memlimit > PWHASH_MEMLIMIT_CEILING)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CONFIG,
                   "an Argon2id memlimit of %" G_GSIZE_FORMAT " bytes is outside %u..%llu",
                   limits->memlimit, (unsigned) crypto_pwhash_MEMLIMIT_MIN, PWHASH_MEMLIMIT_CEILING);
      return FALSE;
    }
  return TRUE;
}

NmsCryptoSecret *
nms_crypto_kek_from_passphrase (const NmsCryptoSecret *passphrase, const guint8 salt[NMS_CRYPTO_SALT_BYTES],
                                const NmsCryptoPwhashLimits *limits, GError **error)
{
  g_autoptr(NmsCryptoSecret) kek = NULL;

  if (!nms_crypto_pwhash_check (limits, error))
    return NULL;
  if (nms_crypto_secret_len (passphrase) == 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH, "the passphrase is empty");
      return NULL;
    }
  kek = nms_crypto_secret_new (NMS_CRYPTO_KEY_BYTES);
  if (crypto_pwhash (nms_crypto_secret_data (kek), NMS_CRYPTO_KEY_BYTES,
                     (const char *) nms_crypto_secret_peek (passphrase), nms_crypto_secret_len (passphrase), salt,
                     limits->opslimit, limits->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                   "Argon2id could not get %" G_GSIZE_FORMAT " bytes of memory to derive the key; "
                   "free some memory, or lower pwhash_memlimit in nmstore.conf before setting a passphrase",
                   limits->memlimit);
      return NULL;
    }
  nms_crypto_secret_set_len (kek, NMS_CRYPTO_KEY_BYTES);
  return g_steal_pointer (&kek);
}

const char *
nms_crypto_source_name (NmsCryptoSource source)
{
  switch (source)
    {
    case NMS_CRYPTO_SOURCE_PASSPHRASE: return "passphrase";
    case NMS_CRYPTO_SOURCE_KEY_FILE:   return "key-file";
    case NMS_CRYPTO_SOURCE_KEYRING:    return "keyring";
    }
  return "unknown";
}

static gboolean
source_from_name (const char *name, NmsCryptoSource *source)
{
  NmsCryptoSource all[] = { NMS_CRYPTO_SOURCE_PASSPHRASE, NMS_CRYPTO_SOURCE_KEY_FILE, NMS_CRYPTO_SOURCE_KEYRING };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (all); i++)
    if (g_strcmp0 (name, nms_crypto_source_name (all[i])) == 0)
      {
        *source = all[i];
        return TRUE;
      }
  return FALSE;
}

NmsCryptoEnvelope *
nms_crypto_envelope_new (NmsCryptoSource source, const NmsCryptoPwhashLimits *limits)
{
  NmsCryptoEnvelope *envelope = g_new0 (NmsCryptoEnvelope, 1);

  envelope->format = ENVELOPE_FORMAT;
  randombytes_buf (envelope->store_id, sizeof envelope->store_id);
  nms_crypto_envelope_reset (envelope, source, limits, NULL);
  return envelope;
}

void
nms_crypto_envelope_reset (NmsCryptoEnvelope *envelope, NmsCryptoSource source,
                           const NmsCryptoPwhashLimits *limits, const char *key_file)
{
  envelope->source = source;
  g_clear_pointer (&envelope->key_file, g_free);
  envelope->key_file = g_strdup (key_file);
  memset (envelope->salt, 0, sizeof envelope->salt);
  memset (&envelope->limits, 0, sizeof envelope->limits);
  if (source == NMS_CRYPTO_SOURCE_PASSPHRASE)
    {
      /* A fresh salt with every new passphrase, so equal passphrases on
       * two stores, or twice on one, never give the same KEK. */
      randombytes_buf (envelope->salt, sizeof envelope->salt);
      envelope->limits = limits ? *limits : nms_crypto_pwhash_moderate ();
    }
  g_clear_pointer (&envelope->wrapped, g_free);
  envelope->wrapped_len = 0;
}

void
nms_crypto_envelope_free (NmsCryptoEnvelope *envelope)
{
  if (envelope == NULL)
    return;
  g_free (envelope->key_file);
  g_free (envelope->wrapped);
  g_free (envelope);
}

/* The wrapped key is bound to its store, its key source and its format,
 * so an envelope pieced together from two stores does not open, nor one
 * whose format was lowered to turn off the summary's checks. */
static gsize
wrap_ad (const NmsCryptoEnvelope *envelope, guint8 *ad)
{
  static const char label[] = "nmstore-key";
  gsize n = sizeof label - 1;

  memcpy (ad, label, n);
  ad[n++] = (guint8) envelope->format;
  ad[n++] = (guint8) envelope->source;
  memcpy (ad + n, envelope->store_id, NMS_CRYPTO_STORE_ID_BYTES);
  return n + NMS_CRYPTO_STORE_ID_BYTES;
}

void
nms_crypto_wrap (NmsCryptoEnvelope *envelope, const NmsCryptoSecret *kek, const NmsCryptoSecret *data_key)
{
  guint8 ad[64];
  gsize ad_len = wrap_ad (envelope, ad);

  g_return_if_fail (nms_crypto_secret_len (kek) == NMS_CRYPTO_KEY_BYTES
                    && nms_crypto_secret_len (data_key) == NMS_CRYPTO_KEY_BYTES);
  nms_crypto_key_id (data_key, envelope->key_id);
  g_free (envelope->wrapped);
  envelope->wrapped = g_malloc (WRAPPED_BYTES);
  envelope->wrapped_len = WRAPPED_BYTES;
  randombytes_buf (envelope->wrapped, NONCE_BYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (envelope->wrapped + NONCE_BYTES, NULL,
                                              nms_crypto_secret_peek (data_key), NMS_CRYPTO_KEY_BYTES,
                                              ad, ad_len, NULL, envelope->wrapped, nms_crypto_secret_peek (kek));
}

NmsCryptoSecret *
nms_crypto_unwrap (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *kek, GError **error)
{
  g_autoptr(NmsCryptoSecret) data_key = NULL;
  guint8 ad[64];
  gsize ad_len = wrap_ad (envelope, ad);

  if (envelope->wrapped_len != WRAPPED_BYTES || nms_crypto_secret_len (kek) != NMS_CRYPTO_KEY_BYTES)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "the store's wrapped key has %" G_GSIZE_FORMAT " bytes, not %u; restore the store from a backup",
                   envelope->wrapped_len, (unsigned) WRAPPED_BYTES);
      return NULL;
    }
  data_key = nms_crypto_secret_new (NMS_CRYPTO_KEY_BYTES);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt (nms_crypto_secret_data (data_key), NULL, NULL,
                                                  envelope->wrapped + NONCE_BYTES, WRAPPED_BYTES - NONCE_BYTES,
                                                  ad, ad_len, envelope->wrapped, nms_crypto_secret_peek (kek)) != 0)
    {
      switch (envelope->source)
        {
        case NMS_CRYPTO_SOURCE_PASSPHRASE:
          g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH, "wrong passphrase");
          break;
        case NMS_CRYPTO_SOURCE_KEY_FILE:
          g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH,
                       "the key file does not open this store; use the key file that encrypted it");
          break;
        case NMS_CRYPTO_SOURCE_KEYRING:
          g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH,
                       "the key in the desktop keyring does not open this store");
          break;
        }
      return NULL;
    }
  nms_crypto_secret_set_len (data_key, NMS_CRYPTO_KEY_BYTES);
  {
    guint8 id[NMS_CRYPTO_KEY_ID_BYTES];

    nms_crypto_key_id (data_key, id);
    if (sodium_memcmp (id, envelope->key_id, sizeof id) != 0)
      {
        g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                     "the store's key record names another key than the one it holds; restore it from a backup");
        return NULL;
      }
  }
  return g_steal_pointer (&data_key);
}

static void
add_base64 (cJSON *object, const char *name, const guint8 *data, gsize len)
{
  g_autofree char *text = g_base64_encode (data, len);
  cJSON_AddStringToObject (object, name, text);
}

char *
nms_crypto_envelope_to_json (const NmsCryptoEnvelope *envelope)
{
  cJSON *object = cJSON_CreateObject ();
  char *printed, *json;

  cJSON_AddNumberToObject (object, "format", envelope->format);
  cJSON_AddStringToObject (object, "source", nms_crypto_source_name (envelope->source));
  add_base64 (object, "storeId", envelope->store_id, sizeof envelope->store_id);
  if (envelope->source == NMS_CRYPTO_SOURCE_PASSPHRASE)
    {
      cJSON_AddStringToObject (object, "kdf", "argon2id13");
      add_base64 (object, "salt", envelope->salt, sizeof envelope->salt);
      cJSON_AddNumberToObject (object, "opslimit", (double) envelope->limits.opslimit);
      cJSON_AddNumberToObject (object, "memlimit", (double) envelope->limits.memlimit);
    }
  if (envelope->key_file != NULL)
    cJSON_AddStringToObject (object, "keyFile", envelope->key_file);
  add_base64 (object, "keyId", envelope->key_id, sizeof envelope->key_id);
  add_base64 (object, "wrappedKey", envelope->wrapped, envelope->wrapped_len);
  printed = cJSON_PrintUnformatted (object);
  cJSON_Delete (object);
  json = g_strdup (printed);
  cJSON_free (printed);
  return json;
}

static gboolean
envelope_bad (GError **error, const char *what)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
               "the store's key record is damaged (%s); restore the store from a backup", what);
  return FALSE;
}

static gboolean
get_base64 (const cJSON *object, const char *name, guint8 *out, gsize want, GError **error)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive (object, name);
  g_autofree guint8 *data = NULL;
  gsize len = 0;

  if (!cJSON_IsString (item))
    return envelope_bad (error, name);
  data = g_base64_decode (item->valuestring, &len);
  if (len != want)
    return envelope_bad (error, name);
  memcpy (out, data, want);
  return TRUE;
}

static gboolean
get_whole (const cJSON *object, const char *name, guint64 *out, GError **error)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive (object, name);

  if (!cJSON_IsNumber (item) || item->valuedouble < 0 || item->valuedouble > 9007199254740992.0
      || item->valuedouble != (double) (guint64) item->valuedouble)
    return envelope_bad (error, name);
  *out = (guint64) item->valuedouble;
  return TRUE;
}

NmsCryptoEnvelope *
nms_crypto_envelope_parse (const char *json, GError **error)
{
  g_autoptr(NmsCryptoEnvelope) envelope = g_new0 (NmsCryptoEnvelope, 1);
  cJSON *object = cJSON_Parse (json);
  const cJSON *format, *source, *key_file;
  gboolean ok = FALSE;

  if (!cJSON_IsObject (object))
    {
      cJSON_Delete (object);
      envelope_bad (error, "not JSON");
      return NULL;
    }
  format = cJSON_GetObjectItemCaseSensitive (object, "format");
  source = cJSON_GetObjectItemCaseSensitive (object, "source");
  key_file = cJSON_GetObjectItemCaseSensitive (object, "keyFile");
  if (!cJSON_IsNumber (format)
      || (format->valueint != NMS_CRYPTO_ENVELOPE_FORMAT_PLAIN && format->valueint != NMS_CRYPTO_ENVELOPE_FORMAT_SUMMARY)
      || format->valuedouble != (double) format->valueint)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT,
                   "the store's key record has format %d, which this nmstore does not know; upgrade nmstore",
                   cJSON_IsNumber (format) ? format->valueint : -1);
      goto out;
    }
  envelope->format = (guint) format->valueint;
  if (!cJSON_IsString (source) || !source_from_name (source->valuestring, &envelope->source))
    {
      envelope_bad (error, "source");
      goto out;
    }
  if (!get_base64 (object, "storeId", envelope->store_id, sizeof envelope->store_id, error)
      || !get_base64 (object, "keyId", envelope->key_id, sizeof envelope->key_id, error))
    goto out;
  {
    const cJSON *wrapped = cJSON_GetObjectItemCaseSensitive (object, "wrappedKey");
    if (!cJSON_IsString (wrapped))
      {
        envelope_bad (error, "wrappedKey");
        goto out;
      }
    envelope->wrapped = g_base64_decode (wrapped->valuestring, &envelope->wrapped_len);
    if (envelope->wrapped_len != WRAPPED_BYTES)
      {
        envelope_bad (error, "wrappedKey");
        goto out;
      }
  }
  if (envelope->source == NMS_CRYPTO_SOURCE_PASSPHRASE)
    {
      guint64 ops = 0, mem = 0;
      const cJSON *kdf = cJSON_GetObjectItemCaseSensitive (object, "kdf");

      if (!cJSON_IsString (kdf) || !g_str_equal (kdf->valuestring, "argon2id13"))
        {
          envelope_bad (error, "kdf");
          goto out;
        }
      if (!get_base64 (object, "salt", envelope->salt, sizeof envelope->salt, error)
          || !get_whole (object, "opslimit", &ops, error) || !get_whole (object, "memlimit", &mem, error))
        goto out;
      envelope->limits.opslimit = ops;
      envelope->limits.memlimit = (gsize) mem;
      if (!nms_crypto_pwhash_check (&envelope->limits, NULL))
        {
          envelope_bad (error, "Argon2id limits out of range");
          goto out;
        }
    }
  if (key_file != NULL)
    {
      if (!cJSON_IsString (key_file))
        {
          envelope_bad (error, "keyFile");
          goto out;
        }
      envelope->key_file = g_strdup (key_file->valuestring);
    }
  ok = TRUE;
out:
  cJSON_Delete (object);
  return ok ? g_steal_pointer (&envelope) : NULL;
}
