/* SPDX-License-Identifier: MIT */
/* test_config.c: the config module (config.h): the data root from
 * NMSTORE_HOME or XDG_DATA_HOME, nmstore.conf's defaults and settings, and
 * errors that name the file a person has to fix. */
#include "harness.h"

#include "config/config.h"
#include "base/error.h"
#include "base/origin.h"
#include "config/store-origin.h"
#include "store/store.h"

#include <glib/gstdio.h>
#include <string.h>

/* Set before anything asks GLib for the user data dir, which it caches. */
static char *xdg_home;

static void
write_conf (const char *root, const char *text)
{
  g_autofree char *path = g_build_filename (root, NMS_CONFIG_FILE_NAME, NULL);
  g_autoptr(GError) error = NULL;

  assert_true (g_file_set_contents (path, text, -1, &error));
}

static NmsConfig *
load_ok (const char *root)
{
  g_autoptr(GError) error = NULL;
  NmsConfig *config = nms_config_load (root, &error);

  if (config == NULL)
    fail_msg ("nms_config_load failed: %s", error->message);
  return config;
}

static void
assert_config_error (const char *root)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsConfig) config = nms_config_load (root, &error);
  g_autofree char *path = g_build_filename (root, NMS_CONFIG_FILE_NAME, NULL);

  assert_null (config);
  assert_non_null (error);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_CONFIG));
  if (strstr (error->message, path) == NULL)
    fail_msg ("the message \"%s\" does not name %s", error->message, path);
}

static void
test_defaults_without_file (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmsConfig) config = load_ok (home);
  g_autofree char *file = g_build_filename (home, NMS_CONFIG_FILE_NAME, NULL);

  assert_string_equal (config->root, home);
  assert_string_equal (config->file, file);
  assert_int_equal (config->durability, NMS_DURABILITY_NORMAL);
  assert_int_equal (config->quota_bytes, 0);
  assert_null (config->log_file);
  /* Loading a config never creates the file. */
  assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
  nmt_remove_tree (home);
}

static void
test_defaults_missing_root (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *root = g_build_filename (home, "not", "yet", NULL);
  g_autoptr(NmsConfig) config = load_ok (root);

  assert_string_equal (config->root, root);
  assert_int_equal (config->durability, NMS_DURABILITY_NORMAL);
  assert_int_equal (config->quota_bytes, 0);
  nmt_remove_tree (home);
}

static void
test_empty_file_is_defaults (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmsConfig) config = NULL;

  write_conf (home, "# nothing set\n[store]\n");
  config = load_ok (home);
  assert_int_equal (config->durability, NMS_DURABILITY_NORMAL);
  assert_int_equal (config->quota_bytes, 0);
  assert_null (config->log_file);
  nmt_remove_tree (home);
}

static void
test_durability (void **state)
{
  g_autofree char *home = nmt_make_home ();

  {
    g_autoptr(NmsConfig) config = NULL;
    write_conf (home, "[store]\ndurability = full\n");
    config = load_ok (home);
    assert_int_equal (config->durability, NMS_DURABILITY_FULL);
  }
  {
    g_autoptr(NmsConfig) config = NULL;
    write_conf (home, "[store]\ndurability = normal\n");
    config = load_ok (home);
    assert_int_equal (config->durability, NMS_DURABILITY_NORMAL);
  }
  {
    g_autoptr(NmsConfig) config = NULL;
    write_conf (home, "[store]\ndurability=full   \n");
    config = load_ok (home);
    assert_int_equal (config->durability, NMS_DURABILITY_FULL);
  }
  nmt_remove_tree (home);
}

static void
test_quota_bytes (void **state)
{
  g_autofree char *home = nmt_make_home ();

  {
    g_autoptr(NmsConfig) config = NULL;
    write_conf (home, "[store]\nquota_bytes = 1048576\n");
    config = load_ok (home);
    assert_int_equal (config->quota_bytes, 1048576);
    assert_int_equal (config->durability, NMS_DURABILITY_NORMAL);
  }
  {
    g_autoptr(NmsConfig) config = NULL;
    write_conf (home, "[store]\nquota_bytes = 0\n");
    config = load_ok (home);
    assert_int_equal (config->quota_bytes, 0);
  }
  {
    g_autoptr(NmsConfig) config = NULL;
    /* Over 4 GiB: the quota is 64-bit. */
    write_conf (home, "[store]\nquota_bytes = 10000000000\ndurability = full\n");
    config = load_ok (home);
    assert_true (config->quota_bytes == G_GUINT64_CONSTANT (10000000000));
    assert_int_equal (config->durability, NMS_DURABILITY_FULL);
  }
  nmt_remove_tree (home);
}

static void
test_log_file (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmsConfig) config = NULL;

  write_conf (home, "[log]\nfile = /tmp/nmstore-test.log\n");
  config = load_ok (home);
  assert_non_null (config->log_file);
  assert_string_equal (config->log_file, "/tmp/nmstore-test.log");
  nmt_remove_tree (home);
}

/* Each config text in bad, alone in a fresh data root, is refused. */
static void
assert_each_refused (const char *const *bad, gsize n)
{
  g_autofree char *home = nmt_make_home ();
  gsize i;

  for (i = 0; i < n; i++)
    {
      write_conf (home, bad[i]);
      assert_config_error (home);
    }
  nmt_remove_tree (home);
}

static void
test_invalid_durability (void **state)
{
  const char *bad[] = {
    "[store]\ndurability = fast\n",
    "[store]\ndurability = FULL\n",
    "[store]\ndurability =\n",
    "[store]\ndurability = 1\n",
    "[store]\ndurability = full normal\n",
  };

  assert_each_refused (bad, G_N_ELEMENTS (bad));
}

static void
test_invalid_quota (void **state)
{
  const char *bad[] = {
    "[store]\nquota_bytes = lots\n",
    "[store]\nquota_bytes = -1\n",
    "[store]\nquota_bytes = 1.5\n",
    "[store]\nquota_bytes = 10MB\n",
    "[store]\nquota_bytes =\n",
    "[store]\nquota_bytes = 0x100\n",
    "[store]\nquota_bytes = 99999999999999999999999\n",
  };

  assert_each_refused (bad, G_N_ELEMENTS (bad));
}

static void
test_malformed_file (void **state)
{
  g_autofree char *home = nmt_make_home ();

  write_conf (home, "this is not a key file\n");
  assert_config_error (home);
  write_conf (home, "[store\ndurability = full\n");
  assert_config_error (home);
  nmt_remove_tree (home);
}

static void
test_unreadable_file (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *path = g_build_filename (home, NMS_CONFIG_FILE_NAME, NULL);

  /* A directory where the file should be cannot be read as one. */
  assert_int_equal (g_mkdir (path, 0700), 0);
  assert_config_error (home);
  nmt_remove_tree (home);
}

static void
test_home_env_respected (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *saved = g_strdup (g_getenv ("NMSTORE_HOME"));
  g_autofree char *root = NULL;

  assert_true (g_setenv ("NMSTORE_HOME", home, TRUE));
  root = nms_config_default_root ();
  assert_string_equal (root, home);
  {
    g_autoptr(NmsConfig) config = NULL;

    write_conf (home, "[store]\nquota_bytes = 777\n");
    config = load_ok (NULL);
    assert_string_equal (config->root, home);
    assert_int_equal (config->quota_bytes, 777);
  }
  if (saved != NULL)
    g_setenv ("NMSTORE_HOME", saved, TRUE);
  else
    g_unsetenv ("NMSTORE_HOME");
  nmt_remove_tree (home);
}

static void
test_home_env_made_absolute (void **state)
{
  g_autofree char *saved = g_strdup (g_getenv ("NMSTORE_HOME"));
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *want = g_build_filename (cwd, "relative-root", NULL);
  g_autofree char *root = NULL;

  assert_true (g_setenv ("NMSTORE_HOME", "relative-root/./", TRUE));
  root = nms_config_default_root ();
  assert_true (g_path_is_absolute (root));
  assert_string_equal (root, want);
  if (saved != NULL)
    g_setenv ("NMSTORE_HOME", saved, TRUE);
  else
    g_unsetenv ("NMSTORE_HOME");
}

static void
test_xdg_default (void **state)
{
  g_autofree char *saved = g_strdup (g_getenv ("NMSTORE_HOME"));
  g_autofree char *want = g_build_filename (xdg_home, "nmstore", NULL);

  g_unsetenv ("NMSTORE_HOME");
  {
    g_autofree char *root = nms_config_default_root ();
    assert_string_equal (root, want);
  }
  /* An empty NMSTORE_HOME is as good as none. */
  g_setenv ("NMSTORE_HOME", "", TRUE);
  {
    g_autofree char *root = nms_config_default_root ();
    assert_string_equal (root, want);
  }
  if (saved != NULL)
    g_setenv ("NMSTORE_HOME", saved, TRUE);
  else
    g_unsetenv ("NMSTORE_HOME");
}

static void
test_store_dir (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmsConfig) config = load_ok (home);
  g_autoptr(NmsOrigin) chrome = nms_origin_parse (NMT_ORIGIN, NULL);
  g_autoptr(NmsOrigin) firefox = nms_origin_parse ("nmstore@example.org", NULL);
  g_autofree char *a = NULL, *b = NULL, *parent_a = NULL, *parent_b = NULL;

  assert_non_null (chrome);
  assert_non_null (firefox);
  a = nms_config_store_dir (config, chrome);
  b = nms_config_store_dir (config, firefox);
  parent_a = g_path_get_dirname (a);
  parent_b = g_path_get_dirname (b);
  assert_string_equal (parent_a, home);
  assert_string_equal (parent_b, home);
  assert_string_not_equal (a, b);
  assert_true (g_str_has_suffix (a, chrome->dirname));
  assert_true (g_str_has_suffix (b, firefox->dirname));
  nmt_remove_tree (home);
}

/* Every setting of nmstore.conf that a store takes reaches its options,
 * from the one place that reads them (the host and each command open an
 * origin's store through it). */
static void
test_store_options (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmsConfig) config = NULL;
  NmsStoreOptions options;

  write_conf (home, "[store]\ndurability = full\nquota_bytes = 123456\n"
                    "[events]\nkeep_changes = 77\nkeep_seconds = 9\n"
                    "[crypto]\npad_block = 1024\n");
  config = load_ok (home);
  memset (&options, 0xa5, sizeof options);
  nms_store_options_from_config (config, &options);
  assert_int_equal (options.durability, NMS_DURABILITY_FULL);
  assert_int_equal (options.quota_bytes, 123456);
  assert_int_equal (options.changes_keep_rows, 77);
  assert_int_equal (options.changes_keep_seconds, 9);
  assert_int_equal (options.pad_block, 1024);
  /* Not a setting: the store's own default. */
  assert_int_equal (options.busy_timeout_ms, 0);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_defaults_without_file),
    cmocka_unit_test (test_defaults_missing_root),
    cmocka_unit_test (test_empty_file_is_defaults),
    cmocka_unit_test (test_durability),
    cmocka_unit_test (test_quota_bytes),
    cmocka_unit_test (test_log_file),
    cmocka_unit_test (test_invalid_durability),
    cmocka_unit_test (test_invalid_quota),
    cmocka_unit_test (test_malformed_file),
    cmocka_unit_test (test_unreadable_file),
    cmocka_unit_test (test_home_env_respected),
    cmocka_unit_test (test_home_env_made_absolute),
    cmocka_unit_test (test_xdg_default),
    cmocka_unit_test (test_store_dir),
    cmocka_unit_test (test_store_options),
  };
  int status;

  xdg_home = nmt_make_home ();
  g_setenv ("XDG_DATA_HOME", xdg_home, TRUE);
  status = cmocka_run_group_tests (tests, NULL, NULL);
  nmt_remove_tree (xdg_home);
  g_free (xdg_home);
  return status;
}
