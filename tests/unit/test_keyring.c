/* SPDX-License-Identifier: MIT */
/* test_keyring.c: the desktop keyring as a key source, against a real
 * Secret Service: gnome-keyring-daemon on a private D-Bus session bus
 * (dbus-run-session), with HOME in a temporary directory so that no real
 * keyring is touched. The program re-runs itself inside that session. */
#include "harness.h"
#include "crypto/crypto.h"
#include "base/error.h"
#include "config/keysource.h"

#include <sodium.h>
#include <string.h>

#define INSIDE_ENV "NMT_KEYRING_SESSION"

static void
test_keyring_round_trip (void **state)
{
  guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES], other_id[NMS_CRYPTO_STORE_ID_BYTES];
  g_autoptr(NmsCryptoSecret) kek = NULL;
  g_autoptr(NmsCryptoSecret) loaded = NULL;
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_secret_new_random (NMS_CRYPTO_KEY_BYTES);
  g_autoptr(NmsCryptoSecret) opened = NULL;
  g_autoptr(NmsCryptoEnvelope) envelope = nms_crypto_envelope_new (NMS_CRYPTO_SOURCE_KEYRING, NULL);
  g_autoptr(GError) error = NULL;

  memcpy (store_id, envelope->store_id, sizeof store_id);
  memcpy (other_id, store_id, sizeof other_id);
  other_id[15] ^= 1;

  kek = nms_keysource_keyring_create (store_id, "nmstore test store", &error);
  if (kek == NULL)
    fail_msg ("keyring_create: %s", error->message);
  nms_crypto_wrap (envelope, kek, data_key);

  loaded = nms_keysource_keyring_load (store_id, &error);
  if (loaded == NULL)
    fail_msg ("keyring_load: %s", error->message);
  assert_memory_equal (nms_crypto_secret_peek (kek), nms_crypto_secret_peek (loaded), NMS_CRYPTO_KEY_BYTES);
  opened = nms_crypto_unwrap (envelope, loaded, &error);
  assert_non_null (opened);
  assert_memory_equal (nms_crypto_secret_peek (opened), nms_crypto_secret_peek (data_key), NMS_CRYPTO_KEY_BYTES);

  /* Another store's id finds nothing, and says so. */
  assert_null (nms_keysource_keyring_load (other_id, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_AUTH));
  assert_non_null (strstr (error->message, "holds no key"));
  g_clear_error (&error);

  assert_true (nms_keysource_keyring_delete (store_id, &error));
  assert_null (nms_keysource_keyring_load (store_id, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_AUTH));
}

/* The whole way: nmstore encrypt --keyring, a host that opens the origin
 * by itself, passwd away from the keyring (which removes the entry),
 * and decrypt. */
static void
test_keyring_origin (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *conf = g_build_filename (home, "nmstore.conf", NULL);
  const char *encrypt[] = { "encrypt", "--origin", NMT_ORIGIN, "--keyring", NULL };
  const char *passwd[] = { "passwd", "--origin", NMT_ORIGIN, "--passphrase", "--passphrase-fd", "0", NULL };
  const char *verify[] = { "verify", "--origin", NMT_ORIGIN, "--passphrase-fd", "0", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  NmtHost *host;
  cJSON *reply;

  assert_true (g_file_set_contents (conf, "[crypto]\npwhash_opslimit = 1\npwhash_memlimit = 8192\n", -1, NULL));
  host = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (host, "{\"op\":\"set\",\"items\":{\"k\":\"kept in the keyring's care\"}}");
  nmt_assert_ok (reply);
  cJSON_Delete (reply);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_host_free (host);

  if (nmt_run_cli (home, encrypt, NULL, &out, &err) != 0)
    fail_msg ("encrypt --keyring: %s", err);
  host = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (host, "{\"op\":\"hello\"}");
  assert_true (cJSON_IsTrue (cJSON_GetObjectItem (reply, "encrypted")));
  assert_true (cJSON_IsFalse (cJSON_GetObjectItem (reply, "locked")));
  cJSON_Delete (reply);
  reply = nmt_host_call (host, "{\"op\":\"get\",\"keys\":\"k\"}");
  nmt_assert_ok (reply);
  assert_string_equal (cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "items"), "k")->valuestring,
                       "kept in the keyring's care");
  cJSON_Delete (reply);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_host_free (host);

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  if (nmt_run_cli (home, passwd, "a passphrase now\n", &out, &err) != 0)
    fail_msg ("passwd: %s", err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_run_cli (home, verify, "a passphrase now\n", &out, &err), 0);
  assert_non_null (strstr (out, "1 good, 0 damaged"));
  nmt_remove_tree (home);
}

/* Starts this program again inside a private bus with an unlocked
 * keyring; returns its exit status, or -1 with *why when that cannot be. */
static int
run_inside_session (const char *self, char **why)
{
  g_autofree char *dbus = g_find_program_in_path ("dbus-run-session");
  g_autofree char *daemon = g_find_program_in_path ("gnome-keyring-daemon");
  g_autofree char *home = NULL;
  g_autofree char *runtime = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  if (!nms_keysource_keyring_built ())
    return *why = g_strdup ("this nmstore was built without libsecret"), -1;
  if (dbus == NULL || daemon == NULL)
    return *why = g_strdup ("dbus-run-session or gnome-keyring-daemon is not installed "
                            "(Debian: dbus-daemon, gnome-keyring)"), -1;
  home = nmt_make_home ();
  runtime = g_build_filename (home, "run", NULL);
  data = g_build_filename (home, "data", NULL);
  g_mkdir_with_parents (runtime, 0700);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_setenv (launcher, "HOME", home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, INSIDE_ENV, "1", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DBUS_SESSION_BUS_ADDRESS");
  /* --unlock reads the new login keyring's password from stdin and
   * creates that keyring unlocked, as a desktop login would. */
  proc = g_subprocess_launcher_spawn (launcher, &error, dbus, "--", "sh", "-c",
                                      "printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null"
                                      " && exec \"$0\"", self, NULL);
  if (proc == NULL || !g_subprocess_wait (proc, NULL, &error))
    fail_msg ("cannot start dbus-run-session: %s", error->message);
  status = g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : 1;
  nmt_remove_tree (home);
  return status;
}

static void
test_skipped (void **state)
{
  print_message ("skipped: %s\n", (const char *) *state);
  skip ();
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_keyring_round_trip),
    cmocka_unit_test (test_keyring_origin),
  };
  g_autofree char *why = NULL;
  g_autofree char *self = NULL;
  int status;

  if (!nms_crypto_init (NULL))
    return 1;
  if (g_getenv (INSIDE_ENV) != NULL)
    return cmocka_run_group_tests (tests, NULL, NULL);
  self = g_canonicalize_filename (argv[0], NULL);
  status = run_inside_session (self, &why);
  if (status < 0)
    {
      const struct CMUnitTest skipped[] = { cmocka_unit_test_prestate (test_skipped, why) };
      return cmocka_run_group_tests (skipped, NULL, NULL);
    }
  return status;
}
