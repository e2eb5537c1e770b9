/* SPDX-License-Identifier: MIT */
/* test_crypto_sources.c: where an encrypted store's keys and settings come
 * from, on real files and pipes: a key file is made once, never
 * overwritten and refused when others may read it; a passphrase is read
 * from a descriptor up to its line's end; nmstore.conf's [crypto] values
 * are read and checked. The crypto module itself is test_crypto.c's. */
#include "harness.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "base/error.h"
#include "config/keysource.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static void
test_key_file (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *path = g_build_filename (home, "store.key", NULL);
  g_autofree char *longer = g_build_filename (home, "long.key", NULL);
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(NmsCryptoSecret) again = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  kek = nms_keysource_key_file_create (path, &error);
  assert_non_null (kek);
  assert_int_equal (g_stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_int_equal (st.st_size, NMS_CRYPTO_KEY_BYTES);
  again = nms_keysource_key_file_load (path, &error);
  assert_non_null (again);
  assert_memory_equal (nms_crypto_secret_peek (kek), nms_crypto_secret_peek (again), NMS_CRYPTO_KEY_BYTES);

  /* Never overwritten: that would lock its store out for good. */
  assert_null (nms_keysource_key_file_create (path, &error));
  assert_non_null (strstr (error->message, "overwrite"));
  g_clear_error (&error);

  /* Readable by others: refused, with the fix in the message. */
  assert_int_equal (g_chmod (path, 0644), 0);
  assert_null (nms_keysource_key_file_load (path, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_AUTH));
  assert_non_null (strstr (error->message, "0600"));
  g_clear_error (&error);

  assert_true (g_file_set_contents_full (longer, "0123456789012345678901234567890123", 34,
                                         G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  assert_null (nms_keysource_key_file_load (longer, &error));
  assert_non_null (strstr (error->message, "34 bytes"));
  nmt_remove_tree (home);
}

static void
test_passphrase_from_fd (void **state)
{
  int fds[2];
  g_autoptr(NmsCryptoSecret) pass = NULL;
  g_autoptr(GError) error = NULL;

  assert_int_equal (pipe (fds), 0);
  assert_int_equal (write (fds[1], "p\xc3\xa4ss word\r\nignored", 19), 19);
  close (fds[1]);
  pass = nms_keysource_read_passphrase (fds[0], "unused", &error);
  close (fds[0]);
  assert_non_null (pass);
  assert_int_equal (nms_crypto_secret_len (pass), 10);
  assert_memory_equal (nms_crypto_secret_peek (pass), "p\xc3\xa4ss word", 10);

  assert_int_equal (pipe (fds), 0);
  close (fds[1]);
  g_clear_pointer (&pass, nms_crypto_secret_free);
  pass = nms_keysource_read_passphrase (fds[0], "unused", &error);
  close (fds[0]);
  assert_null (pass);
  assert_non_null (strstr (error->message, "empty"));
}

static void
test_config (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *conf = g_build_filename (home, "nmstore.conf", NULL);
  g_autoptr(NmsConfig) config = NULL;
  g_autoptr(GError) error = NULL;

  config = nms_config_load (home, &error);
  assert_int_equal (config->pad_block, NMS_CRYPTO_PAD_BLOCK_DEFAULT);
  assert_int_equal (config->pwhash.memlimit, nms_crypto_pwhash_moderate ().memlimit);
  g_clear_pointer (&config, nms_config_free);

  assert_true (g_file_set_contents (conf, "[crypto]\npad_block = 1024\npwhash_opslimit = 1\npwhash_memlimit = 8192\n",
                                    -1, NULL));
  config = nms_config_load (home, &error);
  assert_non_null (config);
  assert_int_equal (config->pad_block, 1024);
  assert_int_equal (config->pwhash.opslimit, 1);
  assert_int_equal (config->pwhash.memlimit, 8192);
  g_clear_pointer (&config, nms_config_free);

  assert_true (g_file_set_contents (conf, "[crypto]\npwhash_memlimit = 100\n", -1, NULL));
  assert_null (nms_config_load (home, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CONFIG));
  assert_non_null (strstr (error->message, "memlimit"));
  g_clear_error (&error);
  assert_true (g_file_set_contents (conf, "[crypto]\npad_block = 0\n", -1, NULL));
  assert_null (nms_config_load (home, &error));
  assert_non_null (strstr (error->message, "pad_block"));
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_key_file),
    cmocka_unit_test (test_passphrase_from_fd),
    cmocka_unit_test (test_config),
  };

  if (!nms_crypto_init (NULL))
    return 1;
  return cmocka_run_group_tests (tests, NULL, NULL);
}
