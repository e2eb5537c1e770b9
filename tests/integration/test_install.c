/* SPDX-License-Identifier: MIT */
/* test_install.c: `nmstore install` and `uninstall` into a temporary HOME
 * and a temporary system root, for every browser: every path written,
 * every byte of every manifest, the modes, and that uninstall leaves
 * nothing behind. */
#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define EXTRA_ID "abcdefghijklmnopabcdefghijklmnop"
#define FILE_NAME "org.nmstore.host.json"

/* Everything install writes lands under these. */
typedef NmtPrivateHome Fixture;

static char *
chromium_json (const char *path, const char *extra_id)
{
  g_autofree char *extra = extra_id ? g_strdup_printf (", \"chrome-extension://%s/\"", extra_id) : g_strdup ("");

  return g_strdup_printf ("{\n"
                          "\t\"name\":\t\"org.nmstore.host\",\n"
                          "\t\"description\":\t\"nmstore: a durable key-value store for browser extensions\",\n"
                          "\t\"path\":\t\"%s\",\n"
                          "\t\"type\":\t\"stdio\",\n"
                          "\t\"allowed_origins\":\t[\"chrome-extension://hfjlljhbgdcnhkaehjemmbcjndfgaeea/\"%s]\n"
                          "}\n", path, extra);
}

static char *
firefox_json (const char *path, const char *addon)
{
  return g_strdup_printf ("{\n"
                          "\t\"name\":\t\"org.nmstore.host\",\n"
                          "\t\"description\":\t\"nmstore: a durable key-value store for browser extensions\",\n"
                          "\t\"path\":\t\"%s\",\n"
                          "\t\"type\":\t\"stdio\",\n"
                          "\t\"allowed_extensions\":\t[\"%s\"]\n"
                          "}\n", path, addon);
}

/* Every regular file under dir, relative to it, sorted. */
static void
collect (const char *top, const char *dir, GPtrArray *out)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        collect (top, path, out);
      else
        g_ptr_array_add (out, g_strdup (path + strlen (top) + 1));
    }
}

static void
assert_files (const char *top, const char *const *expected)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) listing = g_string_new (NULL);
  guint i, n = g_strv_length ((char **) expected);

  collect (top, top, found);
  for (i = 0; i < found->len; i++)
    g_string_append_printf (listing, "%s\n", (char *) found->pdata[i]);
  for (i = 0; i < n; i++)
    if (!g_ptr_array_find_with_equal_func (found, expected[i], g_str_equal, NULL))
      fail_msg ("%s was not written under %s; found:\n%s", expected[i], top, listing->str);
  if (found->len != n)
    fail_msg ("expected %u files under %s, found:\n%s", n, top, listing->str);
}

static void
assert_file (const char *top, const char *rel, const char *content, int mode)
{
  g_autofree char *path = g_build_filename (top, rel, NULL);
  g_autofree char *text = NULL;
  GStatBuf st;

  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  assert_string_equal (text, content);
  assert_int_equal (g_stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, mode);
}

static int
run (char **out, char **err, const char *const *args)
{
  g_autofree char *data = g_build_filename (g_getenv ("NMSTORE_SYSTEM_ROOT"), "..", "data", NULL);
  return nmt_run_cli (data, args, NULL, out, err);
}

#define N_CHROMIUM_USER_FILES 10
static const char *const user_files[] = {
  ".config/google-chrome/NativeMessagingHosts/" FILE_NAME,  /* Chrome and Opera */
  ".config/google-chrome-beta/NativeMessagingHosts/" FILE_NAME,
  ".config/google-chrome-unstable/NativeMessagingHosts/" FILE_NAME,
  ".config/google-chrome-canary/NativeMessagingHosts/" FILE_NAME,
  ".config/chromium/NativeMessagingHosts/" FILE_NAME,
  ".config/microsoft-edge/NativeMessagingHosts/" FILE_NAME,
  ".config/microsoft-edge-beta/NativeMessagingHosts/" FILE_NAME,
  ".config/microsoft-edge-dev/NativeMessagingHosts/" FILE_NAME,
  ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts/" FILE_NAME,
  ".config/vivaldi/NativeMessagingHosts/" FILE_NAME,
  ".mozilla/native-messaging-hosts/" FILE_NAME,             /* N_CHROMIUM_USER_FILES */
  ".librewolf/native-messaging-hosts/" FILE_NAME,
  NULL
};

static void
test_user_every_browser (void **state)
{
  Fixture *f = *state;
  const char *args[] = { "install", "--browser", "all", "--extension-id", EXTRA_ID,
                         "--firefox-id", "tester@example.org", NULL };
  const char *uninstall[] = { "uninstall", NULL };
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;
  g_autofree char *chromium = chromium_json (NMT_NMSTORE_BIN, EXTRA_ID);
  g_autofree char *firefox = firefox_json (NMT_NMSTORE_BIN, "nmstore@nmstore.org\", \"tester@example.org");
  g_autofree char *leaf = g_build_filename (f->home, ".config", "chromium", "NativeMessagingHosts", NULL);
  GStatBuf st;
  guint i;

  assert_int_equal (run (&out, &err, args), 0);
  assert_files (f->home, user_files);
  for (i = 0; i < N_CHROMIUM_USER_FILES; i++)
    assert_file (f->home, user_files[i], chromium, 0644);
  /* --firefox-id adds to the companion's add-on, for Firefox and LibreWolf. */
  assert_file (f->home, user_files[N_CHROMIUM_USER_FILES], firefox, 0644);
  assert_file (f->home, user_files[N_CHROMIUM_USER_FILES + 1], firefox, 0644);
  assert_int_equal (g_stat (leaf, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0755);
  assert_non_null (strstr (out, "shared  opera/user"));
  /* Nothing under the system root in user scope. */
  assert_files (f->root, (const char *const[]) { NULL });

  assert_int_equal (run (&out2, &err2, uninstall), 0);
  assert_files (f->home, (const char *const[]) { NULL });
  assert_false (g_file_test (leaf, G_FILE_TEST_EXISTS));
}

static void
test_system_every_browser (void **state)
{
  Fixture *f = *state;
  const char *args[] = { "install", "--system", "--browser", "all", NULL };
  const char *uninstall[] = { "uninstall", "--system", NULL };
  const char *const expected[] = {
    "etc/opt/chrome/native-messaging-hosts/" FILE_NAME,   /* Chrome, Brave, Vivaldi, Opera */
    "etc/chromium/native-messaging-hosts/" FILE_NAME,
    "etc/opt/edge/native-messaging-hosts/" FILE_NAME,
    "usr/lib/mozilla/native-messaging-hosts/" FILE_NAME,
    "usr/lib64/mozilla/native-messaging-hosts/" FILE_NAME, /* because usr/lib64/mozilla exists */
    NULL
  };
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;
  g_autofree char *lib64 = g_build_filename (f->root, "usr", "lib64", "mozilla", NULL);
  g_autofree char *chrome = g_build_filename (f->root, "etc", "opt", "chrome", NULL);
  g_autofree char *chromium = chromium_json (NMT_NMSTORE_BIN, NULL);
  g_autofree char *firefox = firefox_json (NMT_NMSTORE_BIN, "nmstore@nmstore.org");
  guint i;

  g_mkdir_with_parents (lib64, 0755);
  assert_int_equal (run (&out, &err, args), 0);
  assert_files (f->root, expected);
  for (i = 0; i < 3; i++)
    assert_file (f->root, expected[i], chromium, 0644);
  assert_file (f->root, expected[3], firefox, 0644);
  assert_file (f->root, expected[4], firefox, 0644);
  assert_files (f->home, (const char *const[]) { NULL });

  assert_int_equal (run (&out2, &err2, uninstall), 0);
  assert_files (f->root, (const char *const[]) { NULL });
  /* The vendor folders install created go; the one that was there stays. */
  assert_false (g_file_test (chrome, G_FILE_TEST_EXISTS));
  assert_true (g_file_test (lib64, G_FILE_TEST_IS_DIR));
}

/* Without --browser only what is there: a config folder, a binary under
 * the system root, or a Flatpak app folder. */
static void
test_detected_only (void **state)
{
  Fixture *f = *state;
  const char *args[] = { "install", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *vivaldi = g_build_filename (f->home, ".config", "vivaldi", NULL);
  g_autofree char *bin = g_build_filename (f->root, "usr", "bin", NULL);
  g_autofree char *firefox_bin = g_build_filename (bin, "firefox", NULL);
  g_autofree char *app = g_build_filename (f->home, ".var", "app", "com.brave.Browser", NULL);
  g_autofree char *wrapper = g_build_filename (app, "data", "nmstore", "nmstore-host", NULL);
  g_autofree char *wrapper_json = chromium_json (wrapper, NULL);
  g_autofree char *script = g_strdup_printf ("#!/bin/sh\n"
    "# Written by nmstore install. A Flatpak browser cannot run programs of the\n"
    "# host system; flatpak-spawn --host starts nmstore outside the sandbox and\n"
    "# passes stdin and stdout through. The app needs permission for it:\n"
    "#   flatpak override --user --talk-name=org.freedesktop.Flatpak APP-ID\n"
    "exec flatpak-spawn --host '%s' \"$@\"\n", NMT_NMSTORE_BIN);
  g_autofree char *chromium = chromium_json (NMT_NMSTORE_BIN, NULL);
  g_autofree char *firefox = firefox_json (NMT_NMSTORE_BIN, "nmstore@nmstore.org");
  const char *const expected[] = {
    ".config/vivaldi/NativeMessagingHosts/" FILE_NAME,
    ".mozilla/native-messaging-hosts/" FILE_NAME,
    ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser/NativeMessagingHosts/" FILE_NAME,
    ".var/app/com.brave.Browser/data/nmstore/nmstore-host",
    NULL
  };

  g_mkdir_with_parents (vivaldi, 0700);
  g_mkdir_with_parents (bin, 0755);
  g_mkdir_with_parents (app, 0755);
  assert_true (g_file_set_contents (firefox_bin, "", 0, NULL));
  assert_int_equal (run (&out, &err, args), 0);
  assert_files (f->home, expected);
  assert_file (f->home, expected[0], chromium, 0644);
  assert_file (f->home, expected[1], firefox, 0644);
  assert_file (f->home, expected[2], wrapper_json, 0644);
  assert_file (f->home, expected[3], script, 0755);
  assert_non_null (strstr (out, "flatpak override --user --talk-name=org.freedesktop.Flatpak com.brave.Browser"));
  assert_non_null (strstr (out, "skipped chrome/user"));
}

/* A stale manifest (old path, private mode) is repaired by running
 * install again, and a second run changes nothing. */
static void
test_repair_is_idempotent (void **state)
{
  Fixture *f = *state;
  const char *args[] = { "install", "--browser", "chromium", NULL };
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;
  g_autofree char *dir = g_build_filename (f->home, ".config", "chromium", "NativeMessagingHosts", NULL);
  g_autofree char *path = g_build_filename (dir, FILE_NAME, NULL);
  g_autofree char *stale = chromium_json ("/opt/old/nmstore", NULL);
  g_autofree char *fresh = chromium_json (NMT_NMSTORE_BIN, NULL);
  const char *rel = ".config/chromium/NativeMessagingHosts/" FILE_NAME;

  g_mkdir_with_parents (dir, 0755);
  assert_true (g_file_set_contents (path, stale, -1, NULL));
  g_chmod (path, 0600);
  assert_int_equal (run (&out, &err, args), 0);
  assert_file (f->home, rel, fresh, 0644);
  assert_int_equal (run (&out2, &err2, args), 0);
  assert_file (f->home, rel, fresh, 0644);
  assert_files (f->home, (const char *const[]) { rel, NULL });
}

/* Running install again, as the doctor's fix and every package upgrade
 * do, keeps each extension and add-on id the manifest already allows:
 * dropping one locks that extension out ("Access to the specified native
 * messaging host is forbidden"). New ids are added after the kept ones. */
static void
test_rerun_keeps_ids (void **state)
{
  Fixture *f = *state;
  const char *with_ids[] = { "install", "--browser", "chromium,firefox", "--extension-id", EXTRA_ID,
                             "--firefox-id", "tester@example.org", NULL };
  const char *plain[] = { "install", "--browser", "chromium,firefox", NULL };
  const char *another[] = { "install", "--browser", "chromium", "--extension-id", "ponmlkjihgfedcbaponmlkjihgfedcba", NULL };
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL, *out3 = NULL, *err3 = NULL;
  g_autofree char *out4 = NULL, *err4 = NULL;
  g_autofree char *chromium = chromium_json (NMT_NMSTORE_BIN, EXTRA_ID);
  g_autofree char *firefox = firefox_json (NMT_NMSTORE_BIN, "nmstore@nmstore.org\", \"tester@example.org");
  g_autofree char *both = g_strdup (firefox);
  g_autofree char *three = chromium_json (NMT_NMSTORE_BIN, EXTRA_ID "/\", \"chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba");
  const char *crel = ".config/chromium/NativeMessagingHosts/" FILE_NAME;
  const char *frel = ".mozilla/native-messaging-hosts/" FILE_NAME;

  assert_int_equal (run (&out, &err, with_ids), 0);
  assert_file (f->home, crel, chromium, 0644);
  assert_file (f->home, frel, firefox, 0644);

  /* The plain command drops nothing. */
  assert_int_equal (run (&out2, &err2, plain), 0);
  assert_file (f->home, crel, chromium, 0644);
  assert_file (f->home, frel, both, 0644);

  assert_int_equal (run (&out3, &err3, another), 0);
  assert_file (f->home, crel, three, 0644);
  assert_int_equal (run (&out4, &err4, plain), 0);
  assert_file (f->home, crel, three, 0644);
  assert_file (f->home, frel, both, 0644);
}

/* XDG_CONFIG_HOME moves the Chromium family's folders, not Firefox's. */
static void
test_xdg_config_home (void **state)
{
  Fixture *f = *state;
  const char *args[] = { "install", "--browser", "edge,firefox", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *config = g_build_filename (f->home, "cfg", NULL);

  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  assert_int_equal (run (&out, &err, args), 0);
  g_unsetenv ("XDG_CONFIG_HOME");
  assert_files (f->home, (const char *const[]) {
    "cfg/microsoft-edge/NativeMessagingHosts/" FILE_NAME,
    ".mozilla/native-messaging-hosts/" FILE_NAME, NULL });
}

/* The templates CMake fills in are what install writes for that path. */
static void
test_templates_match (void **state)
{
  Fixture *f = *state;
  const char *args[] = { "install", "--browser", "chrome,firefox", "--binary", NMT_INSTALLED_BIN, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *chromium = NULL, *firefox = NULL;
  g_autofree char *chromium_path = g_build_filename (NMT_MANIFEST_DIR, "chromium", FILE_NAME, NULL);
  g_autofree char *firefox_path = g_build_filename (NMT_MANIFEST_DIR, "firefox", FILE_NAME, NULL);

  assert_true (g_file_get_contents (chromium_path, &chromium, NULL, NULL));
  assert_true (g_file_get_contents (firefox_path, &firefox, NULL, NULL));
  assert_int_equal (run (&out, &err, args), 0);
  assert_file (f->home, user_files[0], chromium, 0644);
  assert_file (f->home, user_files[N_CHROMIUM_USER_FILES], firefox, 0644);
}

static void
expect_usage (const char *const *args, const char *message)
{
  g_autofree char *out = NULL, *err = NULL;

  assert_int_equal (run (&out, &err, args), 2);
  if (strstr (err, message) == NULL)
    fail_msg ("expected \"%s\" in: %s", message, err);
}

static void
test_bad_arguments (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL;

  expect_usage ((const char *const[]) { "install", "--browser", "netscape", NULL }, "unknown browser \"netscape\"");
  expect_usage ((const char *const[]) { "install", "--extension-id", "xyz", NULL }, "32 letters from a to p");
  expect_usage ((const char *const[]) { "install", "--firefox-id", "no spaces", NULL }, "not a Firefox add-on id");
  expect_usage ((const char *const[]) { "install", "--user", "--system", NULL }, "not both");
  expect_usage ((const char *const[]) { "install", "--binary", "relative/nmstore", "--browser", "chrome", NULL },
                "absolute path");
  /* Nothing found and nothing named: an error, not a silent success. */
  assert_int_equal (run (&out, &err, (const char *const[]) { "install", NULL }), 1);
  assert_non_null (strstr (err, "no browser found"));
  assert_files (f->home, (const char *const[]) { NULL });
}

/* The new browsers: each is detected by its own config folder or binary
 * and gets its own folder; LibreWolf's system folder is written only
 * where LibreWolf's /usr/lib/librewolf is there. */
static void
test_new_browsers_detected (void **state)
{
  Fixture *f = *state;
  static const char *const configs[] = { ".config/google-chrome-beta", ".config/google-chrome-unstable",
                                         ".config/google-chrome-canary", ".config/microsoft-edge-beta",
                                         ".config/microsoft-edge-dev", ".librewolf" };
  const char *const expected[] = {
    ".config/google-chrome-beta/NativeMessagingHosts/" FILE_NAME,
    ".config/google-chrome-unstable/NativeMessagingHosts/" FILE_NAME,
    ".config/google-chrome-canary/NativeMessagingHosts/" FILE_NAME,
    ".config/microsoft-edge-beta/NativeMessagingHosts/" FILE_NAME,
    ".config/microsoft-edge-dev/NativeMessagingHosts/" FILE_NAME,
    ".librewolf/native-messaging-hosts/" FILE_NAME,
    NULL
  };
  const char *const system_expected[] = {
    "etc/opt/chrome/native-messaging-hosts/" FILE_NAME,
    "usr/lib/librewolf/native-messaging-hosts/" FILE_NAME,
    "usr/lib/librewolf/librewolf",
    NULL
  };
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL, *out3 = NULL, *err3 = NULL;
  g_autofree char *librewolf = g_build_filename (f->root, "usr", "lib", "librewolf", NULL);
  g_autofree char *librewolf_bin = g_build_filename (librewolf, "librewolf", NULL);
  g_autofree char *chrome_beta = g_build_filename (f->root, "opt", "google", "chrome-beta", NULL);
  g_autofree char *chrome_beta_bin = g_build_filename (chrome_beta, "chrome", NULL);
  g_autofree char *firefox = firefox_json (NMT_NMSTORE_BIN, "nmstore@nmstore.org");
  guint i;

  for (i = 0; i < G_N_ELEMENTS (configs); i++)
    {
      g_autofree char *dir = g_build_filename (f->home, configs[i], NULL);
      g_mkdir_with_parents (dir, 0700);
    }
  assert_int_equal (run (&out, &err, (const char *const[]) { "install", NULL }), 0);
  assert_files (f->home, expected);
  assert_file (f->home, expected[5], firefox, 0644);

  /* System scope: Chrome Beta (found by its binary) shares Chrome's
   * folder; LibreWolf writes into its own existing folder. */
  g_mkdir_with_parents (librewolf, 0755);
  g_mkdir_with_parents (chrome_beta, 0755);
  assert_true (g_file_set_contents (librewolf_bin, "", 0, NULL));
  assert_true (g_file_set_contents (chrome_beta_bin, "", 0, NULL));
  assert_int_equal (run (&out2, &err2, (const char *const[]) { "install", "--system", "--browser",
                                                               "chrome-beta,librewolf", NULL }), 0);
  nmt_remove_tree (chrome_beta);
  assert_files (f->root, system_expected);
  assert_file (f->root, system_expected[1], firefox, 0644);
  assert_int_equal (run (&out3, &err3, (const char *const[]) { "uninstall", "--system", NULL }), 0);
  /* LibreWolf's own folder stays: it was not made by install. */
  assert_files (f->root, (const char *const[]) { "usr/lib/librewolf/librewolf", NULL });
}

/* --dir: one NativeMessagingHosts folder of a browser not in the table,
 * for install, doctor and uninstall alike. */
static void
test_dir (void **state)
{
  Fixture *f = *state;
  g_autofree char *profile = g_build_filename (f->home, ".config", "thorium", NULL);
  g_autofree char *dir = g_build_filename (profile, "NativeMessagingHosts", NULL);
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL, *out3 = NULL, *err3 = NULL;
  g_autofree char *out4 = NULL, *err4 = NULL;
  g_autofree char *chromium = chromium_json (NMT_NMSTORE_BIN, EXTRA_ID);

  g_mkdir_with_parents (profile, 0700);
  assert_int_equal (run (&out, &err, (const char *const[]) { "install", "--dir", dir, "--extension-id", EXTRA_ID,
                                                             NULL }), 0);
  /* Only that folder: no browser of the table is written. */
  assert_files (f->home, (const char *const[]) { ".config/thorium/NativeMessagingHosts/" FILE_NAME, NULL });
  assert_file (f->home, ".config/thorium/NativeMessagingHosts/" FILE_NAME, chromium, 0644);

  assert_int_equal (run (&out2, &err2, (const char *const[]) { "doctor", "--dir", dir, NULL }), 0);
  assert_non_null (strstr (out2, "OK   dir/user         hello"));

  assert_int_equal (run (&out3, &err3, (const char *const[]) { "uninstall", "--dir", dir, NULL }), 0);
  assert_files (f->home, (const char *const[]) { NULL });
  /* Missing, the doctor says so with the command that writes it. */
  assert_int_equal (run (&out4, &err4, (const char *const[]) { "doctor", "--dir", dir, NULL }), 1);
  assert_non_null (strstr (out4, "fix: run: nmstore install --dir"));
}

/* Every usage fault of install, uninstall and doctor exits 2. */
static void
test_usage_errors_exit_2 (void **state)
{
  Fixture *f = *state;
  g_autofree char *missing = g_build_filename (f->top, "no", "such", "NativeMessagingHosts", NULL);
  static const char *const commands[] = { "install", "uninstall", "doctor" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      expect_usage ((const char *const[]) { commands[i], "--frob", NULL }, "Unknown option --frob");
      expect_usage ((const char *const[]) { commands[i], "--browser", "mosaic", NULL }, "unknown browser \"mosaic\"");
      expect_usage ((const char *const[]) { commands[i], "--dir", "relative/NativeMessagingHosts", NULL },
                    "is not an absolute path");
      expect_usage ((const char *const[]) { commands[i], "--dir", "/a/../b", NULL }, "is not an absolute path");
      expect_usage ((const char *const[]) { commands[i], "--dir", f->home, NULL }, "must be the browser's NativeMessagingHosts");
      expect_usage ((const char *const[]) { commands[i], "--dir", "/tmp", "--browser", "chrome", NULL },
                    "without --browser");
      expect_usage ((const char *const[]) { commands[i], "stray", NULL }, "options only");
    }
  expect_usage ((const char *const[]) { "install", "--dir", missing, NULL }, "does not exist");
  expect_usage ((const char *const[]) { "doctor", "--extension-id", "xyz", NULL }, "32 letters from a to p");
  expect_usage ((const char *const[]) { "doctor", "--firefox-id", "no spaces", NULL }, "not a Firefox add-on id");
  expect_usage ((const char *const[]) { "uninstall", "--extension-id", EXTRA_ID, NULL }, "Unknown option");
  expect_usage ((const char *const[]) { "doctor", "--system", NULL }, "Unknown option");
}

/* Each command's --help lists its own options only, and the browsers
 * from the table. */
static void
test_help (void **state)
{
  g_autofree char *install = NULL, *uninstall = NULL, *doctor = NULL, *err = NULL, *err2 = NULL, *err3 = NULL;

  (void) state;
  assert_int_equal (run (&install, &err, (const char *const[]) { "install", "--help", NULL }), 0);
  assert_int_equal (run (&uninstall, &err2, (const char *const[]) { "uninstall", "--help", NULL }), 0);
  assert_int_equal (run (&doctor, &err3, (const char *const[]) { "doctor", "--help", NULL }), 0);
  assert_non_null (strstr (install, "Add this Firefox add-on id to allowed_extensions"));
  assert_non_null (strstr (install, "--binary"));
  assert_non_null (strstr (install, "chrome-canary, chromium, edge, edge-beta, edge-dev, brave, vivaldi, opera, "
                                    "firefox, librewolf"));
  assert_non_null (strstr (uninstall, "--browser"));
  assert_non_null (strstr (uninstall, "--dir"));
  assert_non_null (strstr (uninstall, "--system"));
  assert_null (strstr (uninstall, "--extension-id"));
  assert_null (strstr (uninstall, "--firefox-id"));
  assert_null (strstr (uninstall, "--binary"));
  assert_non_null (strstr (doctor, "--extension-id"));
  assert_non_null (strstr (doctor, "--json"));
  assert_null (strstr (doctor, "--binary"));
  assert_null (strstr (doctor, "--system"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_user_every_browser, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_system_every_browser, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_detected_only, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_repair_is_idempotent, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_rerun_keeps_ids, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_xdg_config_home, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_templates_match, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_bad_arguments, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_new_browsers_detected, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_dir, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_usage_errors_exit_2, nmt_private_home_setup, nmt_private_home_teardown),
    cmocka_unit_test_setup_teardown (test_help, nmt_private_home_setup, nmt_private_home_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
