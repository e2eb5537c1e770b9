/* SPDX-License-Identifier: MIT */
/* test_crypto.c: the crypto module on real bytes: records round-trip,
 * every flipped byte and every moved record is caught, passphrases open
 * only their store, and re-wrapping keeps the data key. Key files, a
 * passphrase on a descriptor and nmstore.conf's [crypto] values are
 * test_crypto_sources.c's. */
#include "harness.h"
#include "crypto/crypto.h"
#include "base/error.h"

#include <sodium.h>
#include <string.h>

/* Argon2id at its floor: these tests check wiring, not cost; one test
 * runs the MODERATE default. */
static const NmsCryptoPwhashLimits test_limits = { 1, 8192 };

static NmsCryptoSecret *
secret_from_text (const char *text)
{
  NmsCryptoSecret *secret = nms_crypto_secret_new (strlen (text));

  memcpy (nms_crypto_secret_data (secret), text, strlen (text));
  nms_crypto_secret_set_len (secret, strlen (text));
  return secret;
}

static NmsCryptoKeys *
random_keys (guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], gsize pad_block)
{
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);

  randombytes_buf (store_id, NMS_CRYPTO_STORE_ID_BYTES);
  return nms_crypto_keys_new (data_key, store_id, pad_block);
}

static void
test_item_round_trip (void **state)
{
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES];
  g_autoptr(NmsCryptoKeys) keys = random_keys (store_id, 64);
  const char *values[] = { "", "1", "{\"bitfield\":\"ffff\"}", NULL };
  gsize i;

  for (i = 0; values[i] != NULL; i++)
    {
      const char *name = "session:torrent:abc:state";
      guint8 token[NMS_CRYPTO_TOKEN_BYTES], token2[NMS_CRYPTO_TOKEN_BYTES];
      gsize sealed_len = 0, len = strlen (values[i]);
      g_autofree guint8 *sealed = nms_crypto_seal_item (keys, name, strlen (name), 1, (const guint8 *) values[i],
                                                        len, token, &sealed_len);
      NmsCryptoItem item = { 0 };
      g_autoptr(GError) error = NULL;

      /* Padded to the block, so the length says only the block count. */
      assert_int_equal ((sealed_len - NMS_CRYPTO_SEAL_OVERHEAD) % 64, 0);
      assert_true (sealed_len - NMS_CRYPTO_SEAL_OVERHEAD > 4 + strlen (name) + 1 + len);
      assert_false (nmt_contains (sealed, sealed_len, name));
      nms_crypto_token (keys, name, strlen (name), token2);
      assert_memory_equal (token, token2, sizeof token);

      assert_true (nms_crypto_open_item (keys, token, sealed, sealed_len, &item, &error));
      assert_null (error);
      assert_string_equal (item.name, name);
      assert_int_equal (item.name_len, strlen (name));
      assert_int_equal (item.kind, 1);
      assert_int_equal (item.value_len, len);
      assert_memory_equal (item.value, values[i], len);
      nms_crypto_item_clear (&item);
    }
}

static void
test_fresh_nonce_every_seal (void **state)
{
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], token[NMS_CRYPTO_TOKEN_BYTES];
  g_autoptr(NmsCryptoKeys) keys = random_keys (store_id, 16);
  gsize a_len, b_len;
  g_autofree guint8 *a = nms_crypto_seal_item (keys, "k", 1, 0, (const guint8 *) "v", 1, token, &a_len);
  g_autofree guint8 *b = nms_crypto_seal_item (keys, "k", 1, 0, (const guint8 *) "v", 1, token, &b_len);

  assert_int_equal (a_len, b_len);
  /* Same key, name and value: the nonce, and so every ciphertext byte, differs. */
  assert_memory_not_equal (a + 1, b + 1, 24);
  assert_memory_not_equal (a + 25, b + 25, a_len - 25);
}

static void
test_every_flipped_byte_is_caught (void **state)
{
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], token[NMS_CRYPTO_TOKEN_BYTES];
  g_autoptr(NmsCryptoKeys) keys = random_keys (store_id, 32);
  const char *value = "{\"uploaded\":12345,\"downloaded\":67890}";
  gsize sealed_len, i;
  g_autofree guint8 *sealed = nms_crypto_seal_item (keys, "session:x", 9, 0, (const guint8 *) value,
                                                    strlen (value), token, &sealed_len);

  for (i = 0; i < sealed_len; i++)
    {
      NmsCryptoItem item = { 0 };
      g_autoptr(GError) error = NULL;

      sealed[i] ^= 0x01;
      assert_false (nms_crypto_open_item (keys, token, sealed, sealed_len, &item, &error));
      assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
      assert_null (item.name);
      sealed[i] ^= 0x01;
    }
  /* Cut short, or with a byte appended. */
  {
    NmsCryptoItem item = { 0 };
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autofree guint8 *longer = g_malloc (sealed_len + 1);

    memcpy (longer, sealed, sealed_len);
    longer[sealed_len] = 0;
    assert_false (nms_crypto_open_item (keys, token, sealed, sealed_len - 1, &item, &e1));
    assert_true (g_error_matches (e1, NMS_ERROR, NMS_ERROR_CORRUPT));
    assert_false (nms_crypto_open_item (keys, token, longer, sealed_len + 1, &item, &e2));
    assert_true (g_error_matches (e2, NMS_ERROR, NMS_ERROR_CORRUPT));
    assert_true (nms_crypto_open_item (keys, token, sealed, sealed_len, &item, NULL));
    nms_crypto_item_clear (&item);
  }
}

static void
test_moved_records_are_caught (void **state)
{
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], token_a[NMS_CRYPTO_TOKEN_BYTES], token_b[NMS_CRYPTO_TOKEN_BYTES];
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoKeys) keys = NULL;
  g_autoptr(NmsCryptoKeys) other_store = NULL;
  g_autoptr(NmsCryptoKeys) other_key = NULL;
  guint8 other_id[NMS_CRYPTO_STORE_ID_BYTES];
  gsize a_len, b_len, plain_len;
  g_autofree guint8 *a = NULL;
  g_autofree guint8 *b = NULL;
  NmsCryptoItem item = { 0 };
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  g_autoptr(GError) e4 = NULL;

  randombytes_buf (store_id, sizeof store_id);
  memcpy (other_id, store_id, sizeof other_id);
  other_id[0] ^= 1;
  keys = nms_crypto_keys_new (data_key, store_id, 16);
  /* The same data key under another store id: a copied key must not
   * let records travel between stores. */
  other_store = nms_crypto_keys_new (data_key, other_id, 16);
  other_key = random_keys (other_id, 16);
  memcpy (other_id, store_id, sizeof other_id);

  a = nms_crypto_seal_item (keys, "a", 1, 0, (const guint8 *) "\"A\"", 3, token_a, &a_len);
  b = nms_crypto_seal_item (keys, "b", 1, 0, (const guint8 *) "\"B\"", 3, token_b, &b_len);

  /* Swapped between keys. */
  assert_false (nms_crypto_open_item (keys, token_a, b, b_len, &item, &e1));
  assert_true (g_error_matches (e1, NMS_ERROR, NMS_ERROR_CORRUPT));
  /* Into another store, with or without the same data key. */
  assert_false (nms_crypto_open_item (other_store, token_a, a, a_len, &item, &e2));
  assert_true (g_error_matches (e2, NMS_ERROR, NMS_ERROR_CORRUPT));
  assert_false (nms_crypto_open_item (other_key, token_a, a, a_len, &item, &e3));
  assert_true (g_error_matches (e3, NMS_ERROR, NMS_ERROR_CORRUPT));
  /* An item passed off as a change-log entry. */
  assert_null (nms_crypto_open (keys, NMS_CRYPTO_USE_CHANGE, token_a, sizeof token_a, a, a_len, &plain_len, &e4));
  assert_true (g_error_matches (e4, NMS_ERROR, NMS_ERROR_CORRUPT));
  /* Any sealed record is bound to its caller's binding (a change-log
   * entry to its sequence number, say). */
  {
    gsize c_len;
    g_autofree guint8 *c = nms_crypto_seal (keys, NMS_CRYPTO_USE_CHANGE, (const guint8 *) "seq1", 4,
                                            (const guint8 *) "x", 1, &c_len);
    g_autoptr(GError) e5 = NULL;
    g_autofree guint8 *back = NULL;

    assert_null (nms_crypto_open (keys, NMS_CRYPTO_USE_CHANGE, (const guint8 *) "seq2", 4, c, c_len,
                                  &plain_len, &e5));
    assert_true (g_error_matches (e5, NMS_ERROR, NMS_ERROR_CORRUPT));
    back = nms_crypto_open (keys, NMS_CRYPTO_USE_CHANGE, (const guint8 *) "seq1", 4, c, c_len, &plain_len, NULL);
    assert_non_null (back);
    assert_int_equal (plain_len, 1);
  }
  /* A writer that sealed name "a" under b's token: authentic, yet the
   * name is not the key's, and that is caught too. */
  {
    guint8 plain[] = { 1, 0, 0, 0, 'a', 0, '1' };
    gsize c_len;
    g_autofree guint8 *c = nms_crypto_seal (keys, NMS_CRYPTO_USE_ITEM, token_b, sizeof token_b, plain,
                                            sizeof plain, &c_len);
    g_autoptr(GError) e6 = NULL;

    assert_false (nms_crypto_open_item (keys, token_b, c, c_len, &item, &e6));
    assert_true (g_error_matches (e6, NMS_ERROR, NMS_ERROR_CORRUPT));
    assert_non_null (strstr (e6->message, "name"));
  }
  /* And in place, both still open. */
  assert_true (nms_crypto_open_item (keys, token_a, a, a_len, &item, NULL));
  assert_string_equal (item.name, "a");
  nms_crypto_item_clear (&item);
  assert_true (nms_crypto_open_item (keys, token_b, b, b_len, &item, NULL));
  assert_string_equal (item.name, "b");
  nms_crypto_item_clear (&item);
}

/* The list MAC of parts under keys. */
static void
list_mac (const NmsCryptoKeys *keys, const char *const *parts, guint8 out[NMS_CRYPTO_MAC_BYTES])
{
  g_autoptr(NmsCryptoListMac) mac = nms_crypto_list_mac_new (keys);

  for (; *parts != NULL; parts++)
    nms_crypto_list_mac_add (mac, *parts, strlen (*parts));
  nms_crypto_list_mac_final (mac, out);
}

/* The same parts under the same key give the same code, which verifies;
 * parts cut elsewhere, reordered, one left out, or another key, do not. */
static void
test_list_mac (void **state)
{
  guint8 id[NMS_CRYPTO_STORE_ID_BYTES];
  g_autoptr(NmsCryptoKeys) keys = random_keys (id, 16);
  g_autoptr(NmsCryptoKeys) other = random_keys (id, 16);
  static const char *const base[] = { "ab", "c", "d", NULL };
  static const char *const cut[] = { "a", "bc", "d", NULL };
  static const char *const swapped[] = { "c", "ab", "d", NULL };
  static const char *const shorter[] = { "ab", "c", NULL };
  const char *const *variants[] = { cut, swapped, shorter };
  guint8 want[NMS_CRYPTO_MAC_BYTES], again[NMS_CRYPTO_MAC_BYTES], got[NMS_CRYPTO_MAC_BYTES];
  gsize i;

  list_mac (keys, base, want);
  list_mac (keys, base, again);
  assert_memory_equal (want, again, sizeof want);
  {
    g_autoptr(NmsCryptoListMac) mac = nms_crypto_list_mac_new (keys);
    g_autoptr(GError) error = NULL;

    for (i = 0; base[i] != NULL; i++)
      nms_crypto_list_mac_add (mac, base[i], strlen (base[i]));
    assert_true (nms_crypto_list_mac_verify (mac, want, sizeof want, &error));
  }
  for (i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      list_mac (keys, variants[i], got);
      assert_memory_not_equal (want, got, sizeof want);
    }
  list_mac (other, base, got);
  assert_memory_not_equal (want, got, sizeof want);
  {
    g_autoptr(NmsCryptoListMac) mac = nms_crypto_list_mac_new (keys);
    g_autoptr(GError) error = NULL;

    for (i = 0; base[i] != NULL; i++)
      nms_crypto_list_mac_add (mac, base[i], strlen (base[i]));
    assert_false (nms_crypto_list_mac_verify (mac, want, sizeof want - 1, &error));
    assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
  }
}

static void
test_tokens (void **state)
{
  guint8 id1[NMS_CRYPTO_STORE_ID_BYTES], id2[NMS_CRYPTO_STORE_ID_BYTES];
  g_autoptr(NmsCryptoKeys) k1 = random_keys (id1, 16);
  g_autoptr(NmsCryptoKeys) k2 = random_keys (id2, 16);
  guint8 t1[NMS_CRYPTO_TOKEN_BYTES], t2[NMS_CRYPTO_TOKEN_BYTES], t3[NMS_CRYPTO_TOKEN_BYTES];
  guint8 plain[NMS_CRYPTO_TOKEN_BYTES];

  nms_crypto_token (k1, "name", 4, t1);
  nms_crypto_token (k2, "name", 4, t2);
  nms_crypto_token (k1, "nama", 4, t3);
  assert_memory_not_equal (t1, t2, sizeof t1);
  assert_memory_not_equal (t1, t3, sizeof t1);
  /* Keyed: not the plain BLAKE2b of the name, which anyone could compute. */
  crypto_generichash (plain, sizeof plain, (const guint8 *) "name", 4, NULL, 0);
  assert_memory_not_equal (t1, plain, sizeof t1);
}

static void
test_pad_block_may_change (void **state)
{
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  guint8 id[NMS_CRYPTO_STORE_ID_BYTES] = { 7 }, token[NMS_CRYPTO_TOKEN_BYTES];
  g_autoptr(NmsCryptoKeys) wide = nms_crypto_keys_new (data_key, id, 4096);
  g_autoptr(NmsCryptoKeys) narrow = nms_crypto_keys_new (data_key, id, 16);
  gsize len;
  g_autofree guint8 *sealed = nms_crypto_seal_item (wide, "k", 1, 0, (const guint8 *) "1", 1, token, &len);
  NmsCryptoItem item = { 0 };

  assert_int_equal (len - NMS_CRYPTO_SEAL_OVERHEAD, 4096);
  /* Written under pad_block 4096, read after nmstore.conf changed to 16. */
  assert_true (nms_crypto_open_item (narrow, token, sealed, len, &item, NULL));
  assert_memory_equal (item.value, "1", 1);
  nms_crypto_item_clear (&item);
}

static void
test_passphrase_wrap_and_rewrap (void **state)
{
  g_autoptr(NmsCryptoEnvelope) envelope = nms_crypto_envelope_new (NMS_CRYPTO_SOURCE_PASSPHRASE, &test_limits);
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoSecret) right = secret_from_text ("correct horse");
  g_autoptr(NmsCryptoSecret) wrong = secret_from_text ("correct horsf");
  g_autoptr(NmsCryptoSecret) fresh = secret_from_text ("battery staple");
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(NmsCryptoSecret) kek2 = NULL;
  g_autoptr(NmsCryptoSecret) opened = NULL;
  g_autoptr(NmsCryptoEnvelope) parsed = NULL;
  g_autoptr(NmsCryptoKeys) keys = NULL;
  g_autoptr(NmsCryptoKeys) keys2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *json2 = NULL;
  g_autofree guint8 *sealed = NULL;
  guint8 token[NMS_CRYPTO_TOKEN_BYTES], old_salt[NMS_CRYPTO_SALT_BYTES];
  gsize sealed_len;
  NmsCryptoItem item = { 0 };

  kek = nms_crypto_kek_from_passphrase (right, envelope->salt, &envelope->limits, &error);
  assert_non_null (kek);
  nms_crypto_wrap (envelope, kek, data_key);
  keys = nms_crypto_keys_new (data_key, envelope->store_id, 16);
  sealed = nms_crypto_seal_item (keys, "k", 1, 0, (const guint8 *) "42", 2, token, &sealed_len);

  /* The envelope as the store would keep it: no key in the clear. */
  json = nms_crypto_envelope_to_json (envelope);
  assert_null (strstr (json, "correct"));
  parsed = nms_crypto_envelope_parse (json, &error);
  assert_non_null (parsed);
  assert_int_equal (parsed->limits.opslimit, test_limits.opslimit);
  assert_int_equal (parsed->limits.memlimit, test_limits.memlimit);
  assert_memory_equal (parsed->salt, envelope->salt, NMS_CRYPTO_SALT_BYTES);

  g_clear_pointer (&kek, nms_crypto_secret_free);
  kek = nms_crypto_kek_from_passphrase (wrong, parsed->salt, &parsed->limits, &error);
  assert_null (nms_crypto_unwrap (parsed, kek, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_AUTH));
  g_clear_error (&error);

  g_clear_pointer (&kek, nms_crypto_secret_free);
  kek = nms_crypto_kek_from_passphrase (right, parsed->salt, &parsed->limits, &error);
  opened = nms_crypto_unwrap (parsed, kek, &error);
  assert_non_null (opened);
  assert_memory_equal (nms_crypto_secret_peek (opened), nms_crypto_secret_peek (data_key), NMS_CRYPTO_KEY_BYTES);

  /* passwd: the same data key under a new passphrase and a new salt. */
  memcpy (old_salt, parsed->salt, sizeof old_salt);
  nms_crypto_envelope_reset (parsed, NMS_CRYPTO_SOURCE_PASSPHRASE, &test_limits, NULL);
  assert_memory_not_equal (old_salt, parsed->salt, sizeof old_salt);
  kek2 = nms_crypto_kek_from_passphrase (fresh, parsed->salt, &parsed->limits, &error);
  nms_crypto_wrap (parsed, kek2, opened);
  json2 = nms_crypto_envelope_to_json (parsed);
  g_clear_pointer (&parsed, nms_crypto_envelope_free);
  parsed = nms_crypto_envelope_parse (json2, &error);
  g_clear_pointer (&kek, nms_crypto_secret_free);
  kek = nms_crypto_kek_from_passphrase (right, parsed->salt, &parsed->limits, &error);
  assert_null (nms_crypto_unwrap (parsed, kek, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_AUTH));
  g_clear_error (&error);
  g_clear_pointer (&opened, nms_crypto_secret_free);
  opened = nms_crypto_unwrap (parsed, kek2, &error);
  assert_non_null (opened);
  /* The record sealed before the re-wrap opens with the re-wrapped key,
   * and the key's public id, which other processes compare, is unchanged. */
  keys2 = nms_crypto_keys_new (opened, parsed->store_id, 16);
  assert_memory_equal (nms_crypto_keys_id (keys2), parsed->key_id, NMS_CRYPTO_KEY_ID_BYTES);
  assert_memory_equal (nms_crypto_keys_id (keys), nms_crypto_keys_id (keys2), NMS_CRYPTO_KEY_ID_BYTES);
  assert_true (nms_crypto_open_item (keys2, token, sealed, sealed_len, &item, &error));
  assert_memory_equal (item.value, "42", 2);
  nms_crypto_item_clear (&item);
}

static void
test_envelope_is_bound_to_its_store (void **state)
{
  g_autoptr(NmsCryptoEnvelope) envelope = nms_crypto_envelope_new (NMS_CRYPTO_SOURCE_KEY_FILE, NULL);
  g_autoptr(NmsCryptoSecret) kek = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoEnvelope) parsed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  NmsCryptoSecret *opened;

  nms_crypto_wrap (envelope, kek, data_key);
  json = nms_crypto_envelope_to_json (envelope);
  /* A key file has no salt or Argon2id limits to record. */
  assert_non_null (strstr (json, "\"keyId\""));
  /* A key id that does not name the wrapped key: the record was pieced
   * together, and says so. */
  envelope->key_id[0] ^= 1;
  assert_null (nms_crypto_unwrap (envelope, kek, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
  g_clear_error (&error);
  envelope->key_id[0] ^= 1;
  assert_null (strstr (json, "salt"));
  envelope->store_id[3] ^= 0x80;
  assert_null (nms_crypto_unwrap (envelope, kek, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_AUTH));
  g_clear_error (&error);
  envelope->store_id[3] ^= 0x80;
  envelope->source = NMS_CRYPTO_SOURCE_KEYRING;
  assert_null (nms_crypto_unwrap (envelope, kek, &error));
  g_clear_error (&error);
  envelope->source = NMS_CRYPTO_SOURCE_KEY_FILE;
  opened = nms_crypto_unwrap (envelope, kek, &error);
  assert_non_null (opened);
  nms_crypto_secret_free (opened);

  /* Damaged records are E_CORRUPT, with what was wrong. */
  parsed = nms_crypto_envelope_parse ("{\"format\":1,\"source\":\"key-file\",\"storeId\":\"AAAA\"}", &error);
  assert_null (parsed);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
  assert_non_null (strstr (error->message, "storeId"));
  g_clear_error (&error);
  parsed = nms_crypto_envelope_parse ("{\"format\":9}", &error);
  assert_null (parsed);
  assert_non_null (strstr (error->message, "upgrade"));
  g_clear_error (&error);
  parsed = nms_crypto_envelope_parse ("not json", &error);
  assert_null (parsed);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
}

/* A new envelope asks for the store's summary, and that request is part
 * of what the wrapped key is bound to: lowering the format to switch the
 * summary's checks off leaves a key record that opens nothing. */
static void
test_envelope_format_is_bound (void **state)
{
  g_autoptr(NmsCryptoEnvelope) envelope = nms_crypto_envelope_new (NMS_CRYPTO_SOURCE_KEY_FILE, NULL);
  g_autoptr(NmsCryptoSecret) kek = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoEnvelope) parsed = NULL;
  g_autoptr(NmsCryptoSecret) opened = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  char *at;

  assert_int_equal (envelope->format, NMS_CRYPTO_ENVELOPE_FORMAT_SUMMARY);
  nms_crypto_wrap (envelope, kek, data_key);
  json = nms_crypto_envelope_to_json (envelope);
  parsed = nms_crypto_envelope_parse (json, &error);
  assert_non_null (parsed);
  assert_int_equal (parsed->format, NMS_CRYPTO_ENVELOPE_FORMAT_SUMMARY);
  opened = nms_crypto_unwrap (parsed, kek, &error);
  assert_non_null (opened);
  g_clear_pointer (&parsed, nms_crypto_envelope_free);

  at = strstr (json, "\"format\":2");
  assert_non_null (at);
  at[strlen ("\"format\":")] = '1';
  parsed = nms_crypto_envelope_parse (json, &error);
  assert_non_null (parsed);
  assert_int_equal (parsed->format, NMS_CRYPTO_ENVELOPE_FORMAT_PLAIN);
  assert_null (nms_crypto_unwrap (parsed, kek, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_AUTH));
}

/* The summary's arithmetic: a digest added and taken away leaves the sum
 * as it was, in any order; digests differ with token, head and length;
 * the MAC covers counter, count and sum. */
static void
test_summary_digests (void **state)
{
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES] = { 1 };
  g_autoptr(NmsCryptoKeys) keys = nms_crypto_keys_new (data_key, store_id, 64);
  guint8 token[NMS_CRYPTO_TOKEN_BYTES] = { 7 }, head[NMS_CRYPTO_SEAL_HEAD_BYTES] = { 1, 2, 3 };
  guint8 d1[NMS_CRYPTO_SUM_BYTES], d2[NMS_CRYPTO_SUM_BYTES], d3[NMS_CRYPTO_SUM_BYTES], d4[NMS_CRYPTO_SUM_BYTES];
  guint8 sum[NMS_CRYPTO_SUM_BYTES] = { 0 }, zero[NMS_CRYPTO_SUM_BYTES] = { 0 };
  guint8 m1[NMS_CRYPTO_MAC_BYTES], m2[NMS_CRYPTO_MAC_BYTES];

  nms_crypto_record_digest (keys, token, sizeof token, head, sizeof head, 100, d1);
  head[5] ^= 1;
  nms_crypto_record_digest (keys, token, sizeof token, head, sizeof head, 100, d2);
  nms_crypto_record_digest (keys, token, sizeof token, head, sizeof head, 101, d3);
  token[0] ^= 1;
  nms_crypto_record_digest (keys, token, sizeof token, head, sizeof head, 101, d4);
  assert_memory_not_equal (d1, d2, sizeof d1);
  assert_memory_not_equal (d2, d3, sizeof d1);
  assert_memory_not_equal (d3, d4, sizeof d1);
  nms_crypto_sum_add (sum, d1);
  nms_crypto_sum_add (sum, d2);
  nms_crypto_sum_sub (sum, d1);
  nms_crypto_sum_add (sum, d3);
  nms_crypto_sum_sub (sum, d2);
  nms_crypto_sum_sub (sum, d3);
  assert_memory_equal (sum, zero, sizeof sum);

  nms_crypto_summary_mac (keys, 5, 2, d1, m1);
  nms_crypto_summary_mac (keys, 4, 2, d1, m2);
  assert_memory_not_equal (m1, m2, sizeof m1);
  nms_crypto_summary_mac (keys, 5, 3, d1, m2);
  assert_memory_not_equal (m1, m2, sizeof m1);
  nms_crypto_summary_mac (keys, 5, 2, d2, m2);
  assert_memory_not_equal (m1, m2, sizeof m1);
  nms_crypto_summary_mac (keys, 5, 2, d1, m2);
  assert_memory_equal (m1, m2, sizeof m1);
}

static void
test_hostile_limits_refused (void **state)
{
  g_autoptr(NmsCryptoEnvelope) envelope = nms_crypto_envelope_new (NMS_CRYPTO_SOURCE_PASSPHRASE, &test_limits);
  g_autoptr(NmsCryptoSecret) kek = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *hostile = NULL;
  char *at;
  NmsCryptoEnvelope *parsed;

  nms_crypto_wrap (envelope, kek, data_key);
  json = nms_crypto_envelope_to_json (envelope);
  at = strstr (json, "\"memlimit\":8192");
  assert_non_null (at);
  hostile = g_strdup_printf ("%.*s\"memlimit\":1099511627776%s", (int) (at - json), json,
                             at + strlen ("\"memlimit\":8192"));
  parsed = nms_crypto_envelope_parse (hostile, &error);
  assert_null (parsed);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CORRUPT));
}

static void
test_moderate_passphrase (void **state)
{
  NmsCryptoPwhashLimits moderate = nms_crypto_pwhash_moderate ();
  g_autoptr(NmsCryptoEnvelope) envelope = nms_crypto_envelope_new (NMS_CRYPTO_SOURCE_PASSPHRASE, NULL);
  g_autoptr(NmsCryptoSecret) pass = secret_from_text ("a passphrase at the default cost");
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(NmsCryptoSecret) kek2 = NULL;
  g_autoptr(NmsCryptoSecret) opened = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  /* The default is MODERATE, recorded as such. */
  assert_int_equal (envelope->limits.opslimit, moderate.opslimit);
  assert_int_equal (envelope->limits.memlimit, moderate.memlimit);
  start = g_get_monotonic_time ();
  kek = nms_crypto_kek_from_passphrase (pass, envelope->salt, &envelope->limits, &error);
  assert_non_null (kek);
  print_message ("Argon2id MODERATE (opslimit %" G_GUINT64_FORMAT ", memlimit %" G_GSIZE_FORMAT " MiB): %.2f s\n",
                 moderate.opslimit, moderate.memlimit >> 20, (g_get_monotonic_time () - start) / 1e6);
  nms_crypto_wrap (envelope, kek, data_key);
  kek2 = nms_crypto_kek_from_passphrase (pass, envelope->salt, &envelope->limits, &error);
  opened = nms_crypto_unwrap (envelope, kek2, &error);
  assert_non_null (opened);
}

/* Prints what sealing and opening a 2.5 KB state costs; asserts only
 * that every record opened to what was sealed. */
static void
test_seal_open_cost (void **state)
{
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], token[NMS_CRYPTO_TOKEN_BYTES];
  g_autoptr(NmsCryptoKeys) keys = random_keys (store_id, NMS_CRYPTO_PAD_BLOCK_DEFAULT);
  const char *name = "session:torrent:0123456789abcdef0123456789abcdef01234567:state";
  g_autofree guint8 *value = g_malloc (2560);
  const int rounds = 2000;
  gint64 start, sealed_at;
  gsize lens[1];
  guint8 *sealed[2000];
  int i;

  randombytes_buf (value, 2560);
  start = g_get_monotonic_time ();
  for (i = 0; i < rounds; i++)
    sealed[i] = nms_crypto_seal_item (keys, name, strlen (name), 0, value, 2560, token, &lens[0]);
  sealed_at = g_get_monotonic_time ();
  for (i = 0; i < rounds; i++)
    {
      NmsCryptoItem item = { 0 };

      assert_true (nms_crypto_open_item (keys, token, sealed[i], lens[0], &item, NULL));
      assert_memory_equal (item.value, value, 2560);
      nms_crypto_item_clear (&item);
      g_free (sealed[i]);
    }
  print_message ("2.5 KB record: seal %.2f us, open %.2f us (incl. token and check), %" G_GSIZE_FORMAT
                 " bytes sealed\n", (sealed_at - start) / (double) rounds,
                 (g_get_monotonic_time () - sealed_at) / (double) rounds, lens[0]);
}

static void
test_secrets (void **state)
{
  g_autoptr(NmsCryptoSecret) a = nms_crypto_secret_new_random (32);
  g_autoptr(NmsCryptoSecret) b = nms_crypto_secret_new_random (32);
  g_autoptr(NmsCryptoSecret) c = nms_crypto_secret_copy (a);
  g_autoptr(NmsCryptoSecret) empty = nms_crypto_secret_new (64);
  guint8 zero[64] = { 0 };

  assert_int_equal (nms_crypto_secret_len (a), 32);
  assert_memory_not_equal (nms_crypto_secret_peek (a), nms_crypto_secret_peek (b), 32);
  assert_memory_equal (nms_crypto_secret_peek (a), nms_crypto_secret_peek (c), 32);
  assert_int_equal (nms_crypto_secret_len (empty), 0);
  assert_int_equal (nms_crypto_secret_capacity (empty), 64);
  assert_memory_equal (nms_crypto_secret_peek (empty), zero, 64);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_secrets),
    cmocka_unit_test (test_item_round_trip),
    cmocka_unit_test (test_fresh_nonce_every_seal),
    cmocka_unit_test (test_every_flipped_byte_is_caught),
    cmocka_unit_test (test_moved_records_are_caught),
    cmocka_unit_test (test_tokens),
    cmocka_unit_test (test_list_mac),
    cmocka_unit_test (test_pad_block_may_change),
    cmocka_unit_test (test_passphrase_wrap_and_rewrap),
    cmocka_unit_test (test_envelope_is_bound_to_its_store),
    cmocka_unit_test (test_hostile_limits_refused),
    cmocka_unit_test (test_moderate_passphrase),
    cmocka_unit_test (test_seal_open_cost),
    cmocka_unit_test (test_envelope_format_is_bound),
    cmocka_unit_test (test_summary_digests),
  };

  if (!nms_crypto_init (NULL))
    return 1;
  return cmocka_run_group_tests (tests, NULL, NULL);
}
