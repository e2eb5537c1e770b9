/* SPDX-License-Identifier: MIT */
/* test_store_keys.c: the store gets every key through the provider its
 * caller gives it (NmsStoreOptions.keys), against a real SQLite file and
 * real key files: a store opened without one reads as locked and says
 * why, one opened with one calls it (with its user_data) to encrypt, to
 * unlock, to re-wrap and to forget, and the key-file rule of keysource.h. */
#include "harness.h"
#include "storecheck.h"

#include "base/error.h"
#include "config/keysource.h"
#include "store/store.h"

#include <string.h>

typedef NmtStoreHome Fixture;

/* What a counting provider saw; it passes every call on to keysource's. */
typedef struct {
  guint           n_load;
  guint           n_create;
  guint           n_forget;
  NmsCryptoSource forgot;
  char           *store_dir;
} Calls;

static int
setup (void **state)
{
  assert_true (nms_crypto_init (NULL));
  return nmt_store_home_setup (state);
}

static void
note_dir (Calls *calls, const char *store_dir)
{
  g_free (calls->store_dir);
  calls->store_dir = g_strdup (store_dir);
}

static NmsCryptoSecret *
counting_load (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *passphrase, const char *store_dir,
               gpointer user_data, GError **error)
{
  const NmsStoreKeys *real = nms_keysource_store_keys ();
  Calls *calls = user_data;

  calls->n_load++;
  note_dir (calls, store_dir);
  return real->load_kek (envelope, passphrase, store_dir, real->user_data, error);
}

static NmsCryptoSecret *
counting_create (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *passphrase, const char *store_dir,
                 gpointer user_data, GError **error)
{
  const NmsStoreKeys *real = nms_keysource_store_keys ();
  Calls *calls = user_data;

  calls->n_create++;
  note_dir (calls, store_dir);
  return real->create_kek (envelope, passphrase, store_dir, real->user_data, error);
}

static gboolean
counting_forget (NmsCryptoSource source, const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], gpointer user_data,
                 GError **error)
{
  const NmsStoreKeys *real = nms_keysource_store_keys ();
  Calls *calls = user_data;

  calls->n_forget++;
  calls->forgot = source;
  return real->forget_kek (source, store_id, real->user_data, error);
}

static NmsStore *
open_with (const char *dir, const NmsStoreKeys *keys)
{
  NmsStoreOptions options = { .durability = NMS_DURABILITY_NORMAL, .keys = keys };
  g_autoptr(GError) error = NULL;
  NmsStore *store = nms_store_open (dir, NMT_ORIGIN, &options, &error);

  if (store == NULL)
    fail_msg ("cannot open the store: %s", error->message);
  return store;
}

static gboolean
ignore_item (const NmsItem *item, gpointer user_data, GError **error)
{
  return TRUE;
}

/* Encrypted with a key file by a caller that gave keys; then opened by
 * one that gave none: locked, and every way in says why. */
static void
test_no_provider_stays_locked (void **state)
{
  Fixture *f = *state;
  NmsStoreKeySource to = { .source = NMS_CRYPTO_SOURCE_KEY_FILE };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = nmt_store_open (f->dir, 0);
  g_autoptr(NmsStore) bare = NULL;
  g_autoptr(NmsStore) plain = NULL;
  g_autofree char *plain_dir = g_build_filename (f->home, "plain", NULL);
  g_autofree char *plain_key = g_build_filename (plain_dir, NMS_KEYSOURCE_KEY_FILE_NAME, NULL);

  nmt_store_set_ok (store, "a", "1");
  assert_true (nms_store_encrypt (store, &to, &error));
  g_clear_pointer (&store, nms_store_free);

  bare = open_with (f->dir, NULL);
  assert_true (nms_store_encrypted (bare));
  assert_true (nms_store_locked (bare));
  assert_false (nms_store_get (bare, "a", 1, ignore_item, NULL, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_LOCKED));
  assert_non_null (strstr (error->message, "no way to load or make one"));
  g_clear_error (&error);
  assert_false (nms_store_unlock (bare, NULL, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_LOCKED));
  assert_non_null (strstr (error->message, "no way to load or make one"));
  g_clear_error (&error);

  /* Nor can it make a key for a plaintext store. */
  plain = open_with (plain_dir, NULL);
  assert_false (nms_store_encrypt (plain, &to, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_LOCKED));
  assert_non_null (strstr (error->message, "no way to load or make one"));
  assert_false (nms_store_encrypted (plain));
  assert_false (g_file_test (plain_key, G_FILE_TEST_EXISTS));
}

/* Every key the store uses comes through the caller's provider, with
 * the caller's user_data and the store's folder. */
static void
test_provider_is_called (void **state)
{
  Fixture *f = *state;
  Calls calls = { 0 };
  const NmsStoreKeys counting = {
    .load_kek = counting_load, .create_kek = counting_create, .forget_kek = counting_forget, .user_data = &calls,
  };
  NmsStoreKeySource to = { .source = NMS_CRYPTO_SOURCE_KEY_FILE };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = open_with (f->dir, &counting);
  g_autofree char *key_file = g_build_filename (f->dir, NMS_KEYSOURCE_KEY_FILE_NAME, NULL);
  guint loads;

  nmt_store_set_ok (store, "a", "1");
  assert_true (nms_store_encrypt (store, &to, &error));
  assert_int_equal (calls.n_create, 1);
  assert_string_equal (calls.store_dir, f->dir);
  assert_true (g_file_test (key_file, G_FILE_TEST_IS_REGULAR));
  g_clear_pointer (&store, nms_store_free);

  /* A key file opens the store when it is opened: no one asks. */
  loads = calls.n_load;
  store = open_with (f->dir, &counting);
  assert_int_equal (calls.n_load, loads + 1);
  assert_false (nms_store_locked (store));
  assert_true (nms_store_get (store, "a", 1, ignore_item, NULL, &error));

  assert_true (nms_store_decrypt (store, &error));
  assert_int_equal (calls.n_forget, 1);
  assert_int_equal (calls.forgot, NMS_CRYPTO_SOURCE_KEY_FILE);
  /* keysource keeps a key file: other stores may share it. */
  assert_true (g_file_test (key_file, G_FILE_TEST_IS_REGULAR));
  g_free (calls.store_dir);
}

/* passwd to another source asks the provider to forget the old one's
 * key; to the same source (another key file) it does not, as before the
 * provider, when only a keyring entry was deleted and only on leaving the
 * keyring. */
static void
test_rewrap_forgets_old_source (void **state)
{
  Fixture *f = *state;
  Calls calls = { 0 };
  const NmsStoreKeys counting = {
    .load_kek = counting_load, .create_kek = counting_create, .forget_kek = counting_forget, .user_data = &calls,
  };
  g_autofree char *other_key = g_build_filename (f->home, "other.key", NULL);
  g_autoptr(NmsCryptoSecret) passphrase = nms_crypto_secret_new_random (16);
  NmsStoreKeySource beside = { .source = NMS_CRYPTO_SOURCE_KEY_FILE };
  NmsStoreKeySource elsewhere = { .source = NMS_CRYPTO_SOURCE_KEY_FILE, .key_file = other_key };
  /* Argon2id's least cost: the test is about who is called. */
  NmsStoreKeySource with_passphrase = { .source = NMS_CRYPTO_SOURCE_PASSPHRASE, .passphrase = passphrase,
                                        .limits = { .opslimit = 1, .memlimit = 8192 } };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsStore) store = open_with (f->dir, &counting);

  nmt_store_set_ok (store, "a", "1");
  assert_true (nms_store_encrypt (store, &beside, &error));
  assert_true (nms_store_rewrap (store, NULL, &elsewhere, &error));
  assert_int_equal (calls.n_create, 2);
  assert_true (g_file_test (other_key, G_FILE_TEST_IS_REGULAR));
  assert_int_equal (calls.n_forget, 0);
  assert_true (nms_store_rewrap (store, NULL, &with_passphrase, &error));
  assert_int_equal (calls.n_create, 3);
  assert_int_equal (calls.n_forget, 1);
  assert_int_equal (calls.forgot, NMS_CRYPTO_SOURCE_KEY_FILE);
  /* This handle reads the new key record at its next transaction. */
  assert_true (nms_store_refresh_encryption (store, &error));
  assert_int_equal (nms_store_key_source (store), NMS_CRYPTO_SOURCE_PASSPHRASE);
  g_free (calls.store_dir);
}

/* The key-file rule, written once. */
static void
test_key_file_path (void **state)
{
  g_autofree char *beside = nms_keysource_key_file_path ("/data/origin", NULL);
  g_autofree char *named = nms_keysource_key_file_path ("/data/origin", "/keys/mine.key");

  assert_string_equal (beside, "/data/origin/" NMS_KEYSOURCE_KEY_FILE_NAME);
  assert_string_equal (named, "/keys/mine.key");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_no_provider_stays_locked, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_provider_is_called, setup, nmt_store_home_teardown),
    cmocka_unit_test_setup_teardown (test_rewrap_forgets_old_source, setup, nmt_store_home_teardown),
    cmocka_unit_test (test_key_file_path),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
