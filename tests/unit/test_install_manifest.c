/* SPDX-License-Identifier: MIT */
/* test_install_manifest.c: the install functions (host/admin/install.c,
 * host/admin/browsers.c) called directly, in a private HOME and system root
 * (NMSTORE_SYSTEM_ROOT), so that nothing is written outside a temporary
 * folder: the manifest each family gets, the merge that keeps ids an
 * earlier install allowed, the refusal of bad ids and paths, and that the
 * browser table gives each browser its own user folder except where a
 * browser is known to read another's. The integration suite
 * (test_install.c) covers the same through `nmstore install`. */
#include "harness.h"

#include "base/error.h"
#include "admin/install.h"
#include "nmstore/version.h"

#include <string.h>

/* As session.h gives it; install.h has no cJSON of its own. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (cJSON, cJSON_Delete)

#define OTHER_ID   "abcdefghijklmnopabcdefghijklmnop"
#define OTHER_ID_2 "ponmlkjihgfedcbaponmlkjihgfedcba"
#define BINARY     "/usr/bin/nmstore"

/* The user-scope target of one browser, in the private HOME. */
static NmsInstallTarget *
user_target (const NmsInstallEnv *env, const char *name)
{
  g_autoptr(GPtrArray) browsers = g_ptr_array_new ();
  g_autoptr(GPtrArray) targets = NULL;
  const NmsInstallBrowser *browser = nms_install_browser_find (name);

  assert_non_null (browser);
  g_ptr_array_add (browsers, (gpointer) browser);
  targets = nms_install_targets (env, browsers, NMS_INSTALL_USER);
  /* No Flatpak folder in the private HOME: one target. */
  assert_int_equal (targets->len, 1);
  return g_ptr_array_steal_index (targets, 0);
}

static cJSON *
read_manifest (const char *path)
{
  g_autofree char *text = NULL;
  cJSON *json;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    fail_msg ("no manifest at %s", path);
  json = cJSON_Parse (text);
  assert_non_null (json);
  return json;
}

/* The array a manifest allows, as "a,b,c". */
static char *
allowed_of (const cJSON *manifest, const char *member)
{
  g_autoptr(GString) out = g_string_new (NULL);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive (manifest, member);
  const cJSON *item;

  assert_true (cJSON_IsArray (list));
  cJSON_ArrayForEach (item, list)
    g_string_append_printf (out, "%s%s", out->len ? "," : "", item->valuestring);
  return g_strdup (out->str);
}

static void
assert_allowed (const cJSON *manifest, const char *member, const char *expected)
{
  g_autofree char *got = allowed_of (manifest, member);

  assert_string_equal (got, expected);
}

static void
test_manifest_of_each_family (void **state)
{
  const char *ids[] = { OTHER_ID, OTHER_ID, NULL };
  const char *fx[] = { "other@example.org", "{01234567-89ab-cdef-0123-456789abcdef}", NULL };
  NmsInstallManifest m = { BINARY, ids, fx };
  g_autoptr(GError) error = NULL;
  g_autofree char *chromium = nms_install_manifest_json (NMS_INSTALL_CHROMIUM_FAMILY, BINARY, &m, &error);
  g_autofree char *firefox = nms_install_manifest_json (NMS_INSTALL_FIREFOX_FAMILY, BINARY, &m, &error);
  g_autoptr(cJSON) c = NULL, f = NULL;

  (void) state;
  assert_non_null (chromium);
  assert_non_null (firefox);
  c = cJSON_Parse (chromium);
  f = cJSON_Parse (firefox);
  assert_string_equal (cJSON_GetObjectItem (c, "name")->valuestring, NMS_HOST_NAME);
  assert_string_equal (cJSON_GetObjectItem (c, "type")->valuestring, "stdio");
  assert_string_equal (cJSON_GetObjectItem (c, "path")->valuestring, BINARY);
  /* Chromium: origins, companion first, each id once; no Firefox member. */
  assert_allowed (c, "allowed_origins",
                  "chrome-extension://" NMS_COMPANION_EXTENSION_ID "/,chrome-extension://" OTHER_ID "/");
  assert_null (cJSON_GetObjectItem (c, "allowed_extensions"));
  /* Firefox: bare add-on ids; no Chromium member. */
  assert_allowed (f, "allowed_extensions",
                  NMS_COMPANION_FIREFOX_ID ",other@example.org,{01234567-89ab-cdef-0123-456789abcdef}");
  assert_null (cJSON_GetObjectItem (f, "allowed_origins"));
  assert_string_equal (cJSON_GetObjectItem (f, "path")->valuestring, BINARY);
}

static void
test_bad_ids_are_refused (void **state)
{
  static const char *const chromium_bad[] = {
    "abcdefghijklmnopabcdefghijklmnoq", /* q is not a to p */
    "abcdefghijklmnopabcdefghijklmno",  /* 31 letters */
    "ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
    "",
  };
  static const char *const firefox_bad[] = {
    "", "no-at-sign", "a b@example.org", "x@\"quote\"", "{unclosed",
  };
  g_autoptr(GError) error = NULL;
  gsize i;

  (void) state;
  assert_true (nms_install_check_extension_id (OTHER_ID, NULL));
  assert_true (nms_install_check_firefox_id ("other@example.org", NULL));
  assert_true (nms_install_check_firefox_id ("{01234567-89ab-cdef-0123-456789abcdef}", NULL));
  for (i = 0; i < G_N_ELEMENTS (chromium_bad); i++)
    {
      const char *ids[] = { chromium_bad[i], NULL };
      NmsInstallManifest m = { BINARY, ids, NULL };
      char *json;

      assert_false (nms_install_check_extension_id (chromium_bad[i], &error));
      assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_REQUEST));
      assert_non_null (strstr (error->message, "chrome://extensions"));
      g_clear_error (&error);
      json = nms_install_manifest_json (NMS_INSTALL_CHROMIUM_FAMILY, BINARY, &m, &error);
      if (json != NULL)
        fail_msg ("a manifest allowing \"%s\": %s", chromium_bad[i], json);
      g_clear_error (&error);
    }
  for (i = 0; i < G_N_ELEMENTS (firefox_bad); i++)
    {
      const char *ids[] = { firefox_bad[i], NULL };
      NmsInstallManifest m = { BINARY, NULL, ids };
      char *json;

      assert_false (nms_install_check_firefox_id (firefox_bad[i], &error));
      assert_non_null (strstr (error->message, "about:debugging"));
      g_clear_error (&error);
      json = nms_install_manifest_json (NMS_INSTALL_FIREFOX_FAMILY, BINARY, &m, &error);
      if (json != NULL)
        fail_msg ("a manifest allowing \"%s\": %s", firefox_bad[i], json);
      g_clear_error (&error);
    }
}

/* A later plain install keeps the ids an earlier one allowed, drops what
 * is not an id, and adds the new ones after them. */
static void
test_write_merges_allowed_ids (void **state)
{
  NmtPrivateHome *place = *state;
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(NmsInstallTarget) chromium = user_target (env, "chromium");
  g_autoptr(NmsInstallTarget) firefox = user_target (env, "firefox");
  const char *first[] = { OTHER_ID, NULL };
  const char *second[] = { OTHER_ID_2, NULL };
  const char *fx[] = { "other@example.org", NULL };
  NmsInstallManifest with_ids = { BINARY, first, fx };
  NmsInstallManifest plain = { BINARY, NULL, NULL };
  NmsInstallManifest more = { BINARY, second, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(cJSON) m = NULL;
  g_autofree char *home_prefix = g_strconcat (place->home, "/", NULL);
  g_autofree char *hand = NULL;

  /* Everything the targets name lies in the private HOME. */
  assert_true (g_str_has_prefix (chromium->path, home_prefix));
  assert_true (g_str_has_prefix (firefox->path, home_prefix));
  assert_true (g_str_has_suffix (chromium->path, "/.config/chromium/NativeMessagingHosts/" NMS_HOST_NAME ".json"));
  assert_true (g_str_has_suffix (firefox->path, "/.mozilla/native-messaging-hosts/" NMS_HOST_NAME ".json"));

  if (!nms_install_write (chromium, &with_ids, &error) || !nms_install_write (firefox, &with_ids, &error))
    fail_msg ("install: %s", error->message);
  assert_true (nms_install_write (chromium, &plain, &error));
  assert_true (nms_install_write (firefox, &plain, &error));
  m = read_manifest (chromium->path);
  assert_allowed (m, "allowed_origins",
                  "chrome-extension://" NMS_COMPANION_EXTENSION_ID "/,chrome-extension://" OTHER_ID "/");
  assert_string_equal (cJSON_GetObjectItem (m, "path")->valuestring, BINARY);
  g_clear_pointer (&m, cJSON_Delete);
  m = read_manifest (firefox->path);
  assert_allowed (m, "allowed_extensions", NMS_COMPANION_FIREFOX_ID ",other@example.org");
  g_clear_pointer (&m, cJSON_Delete);

  /* An origin a person added by hand stays; what is no id does not. */
  hand = g_strdup_printf ("{\"name\":\"%s\",\"path\":\"/old\",\"type\":\"stdio\",\"allowed_origins\":["
                          "\"chrome-extension://%s/\",\"chrome-extension://../\",\"chrome-extension://abcdefghijklmnopabcdefghijklmnoz/\",\"https://example.org/\",7,"
                          "\"chrome-extension://%s/x\"]}", NMS_HOST_NAME, OTHER_ID, OTHER_ID_2);
  nmt_write_file (chromium->path, hand);
  assert_true (nms_install_write (chromium, &more, &error));
  m = read_manifest (chromium->path);
  assert_allowed (m, "allowed_origins",
                  "chrome-extension://" NMS_COMPANION_EXTENSION_ID "/,chrome-extension://" OTHER_ID
                  "/,chrome-extension://" OTHER_ID_2 "/");
  assert_string_equal (cJSON_GetObjectItem (m, "path")->valuestring, BINARY);
}

/* A relative path, or a bad id, writes no file at all. */
static void
test_write_refuses_before_writing (void **state)
{
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(NmsInstallTarget) chromium = user_target (env, "chromium");
  const char *bad[] = { "not-an-id", NULL };
  NmsInstallManifest relative = { "bin/nmstore", NULL, NULL };
  NmsInstallManifest bad_id = { BINARY, bad, NULL };
  g_autoptr(GError) error = NULL;
  gboolean removed = TRUE;

  (void) state;
  assert_false (nms_install_write (chromium, &relative, &error));
  assert_non_null (strstr (error->message, "absolute path"));
  g_clear_error (&error);
  assert_false (nms_install_write (chromium, &bad_id, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_REQUEST));
  g_clear_error (&error);
  assert_false (g_file_test (chromium->path, G_FILE_TEST_EXISTS));
  assert_false (g_file_test (chromium->dir, G_FILE_TEST_EXISTS));

  /* Remove of what is not there is no error, and says so. */
  assert_true (nms_install_remove (chromium, &removed, &error));
  assert_false (removed);
}

/* Each browser in the table has its own user folder, except the ones
 * install marks as shared (Opera reads Chrome's); system targets all stay
 * under the private root. */
static void
test_every_browser_has_its_own_user_folder (void **state)
{
  NmtPrivateHome *place = *state;
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GPtrArray) systems = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *root_prefix = g_strconcat (place->root, "/", NULL);
  gboolean named = FALSE;
  guint i, n_shared = 0;

  all = nms_install_parse_browsers ("all", &named, &error);
  assert_non_null (all);
  assert_true (named);
  assert_int_equal (all->len, nms_install_n_browsers ());
  users = nms_install_targets (env, all, NMS_INSTALL_USER);
  assert_int_equal (users->len, all->len);
  for (i = 0; i < users->len; i++)
    {
      NmsInstallTarget *t = users->pdata[i];
      const char *name = nms_install_browser_name (t->browser);
      const char *owner = g_hash_table_lookup (seen, t->path);

      assert_true (g_path_is_absolute (t->path));
      assert_true (g_str_has_prefix (t->path, place->home));
      if (owner == NULL)
        {
          if (t->shared)
            fail_msg ("%s is marked shared, but no browser before it has %s", name, t->path);
          g_hash_table_insert (seen, t->path, (gpointer) name);
          continue;
        }
      if (!t->shared)
        fail_msg ("%s and %s have the same user folder %s, not marked shared", owner, name, t->path);
      /* The one sharing the table documents. */
      assert_string_equal (name, "opera");
      assert_string_equal (owner, "chrome");
      n_shared++;
    }
  assert_int_equal (n_shared, 1);

  systems = nms_install_targets (env, all, NMS_INSTALL_SYSTEM);
  for (i = 0; i < systems->len; i++)
    assert_true (g_str_has_prefix (((NmsInstallTarget *) systems->pdata[i])->path, root_prefix));

  g_clear_pointer (&all, g_ptr_array_unref);
  all = nms_install_parse_browsers ("chrome, nosuch", &named, &error);
  assert_null (all);
  assert_non_null (strstr (error->message, "unknown browser \"nosuch\""));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_manifest_of_each_family),
    cmocka_unit_test (test_bad_ids_are_refused),
    cmocka_unit_test_setup_teardown (test_write_merges_allowed_ids, nmt_private_home_setup,
                                     nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_write_refuses_before_writing, nmt_private_home_setup,
                                     nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_every_browser_has_its_own_user_folder, nmt_private_home_setup,
                                     nmt_private_home_teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
