/* SPDX-License-Identifier: MIT */
/* test_extensions.c: `nmstore extensions add|rm|ls` and the drop-in files
 * they edit, in a temporary HOME and system root: file and folder modes,
 * atomic replacement, refused folders and names, strict parsing, and
 * that `install` allows every registered id and none of a refused file. */
#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_A "abcdefghijklmnopabcdefghijklmnop"
#define ID_B "ponmlkjihgfedcbaponmlkjihgfedcba"
#define ID_C "aaaabbbbccccddddeeeeffffgggghhhh"
#define MANIFEST "org.nmstore.host.json"

typedef struct {
  NmtPrivateHome place;
  char *user_dir;    /* ~/.config/nmstore/extensions.d */
  char *system_dir;  /* ROOT/etc/nmstore/extensions.d */
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);

  nmt_private_home_make (&f->place);
  f->user_dir = g_build_filename (f->place.home, ".config", "nmstore", "extensions.d", NULL);
  f->system_dir = g_build_filename (f->place.root, "etc", "nmstore", "extensions.d", NULL);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  nmt_private_home_clear (&f->place);
  g_free (f->user_dir);
  g_free (f->system_dir);
  g_free (f);
  return 0;
}

static int
run (Fixture *f, char **out, char **err, const char *const *args)
{
  g_clear_pointer (out, g_free);
  g_clear_pointer (err, g_free);
  return nmt_run_cli (f->place.data, args, NULL, out, err);
}

static int
mode_of (const char *path)
{
  GStatBuf st;

  assert_int_equal (g_lstat (path, &st), 0);
  return st.st_mode & 07777;
}

static void
assert_contains (const char *text, const char *part)
{
  if (strstr (text, part) == NULL)
    fail_msg ("expected \"%s\" in:\n%s", part, text);
}

static void
assert_lacks (const char *text, const char *part)
{
  if (strstr (text, part) != NULL)
    fail_msg ("did not expect \"%s\" in:\n%s", part, text);
}

static char *
read_text (const char *dir, const char *rel)
{
  g_autofree char *path = g_build_filename (dir, rel, NULL);
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    fail_msg ("%s was not written", path);
  return text;
}

/* The names in dir, sorted, one per line: to see that nothing else
 * (no temporary file) is left there. */
static char *
listing (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *name;

  assert_non_null (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, (gpointer) name);
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (names, NULL);
  return g_strjoinv ("\n", (char **) names->pdata);
}

static void
test_add_ls_rm (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL, *text = NULL, *names = NULL;
  g_autofree char *file = g_build_filename (f->user_dir, "tool.conf", NULL);
  g_autofree char *parent = g_path_get_dirname (f->user_dir);

  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "tool", "--extension-id", ID_A,
                                                                 "--extension-id", ID_B, "--firefox-id", "tool@example.org",
                                                                 NULL }), 0);
  assert_contains (out, "nmstore install");
  /* Private: 0600 in 0700 folders, both made here. */
  assert_int_equal (mode_of (file), 0600);
  assert_int_equal (mode_of (f->user_dir), 0700);
  assert_int_equal (mode_of (parent), 0700);
  text = read_text (f->user_dir, "tool.conf");
  assert_contains (text, "[extension]\nchromium-ids=" ID_A ";" ID_B ";\nfirefox-ids=tool@example.org;\n");

  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "ls", NULL }), 0);
  assert_contains (out, "tool");
  assert_contains (out, ID_A "," ID_B);
  assert_contains (out, "tool@example.org");

  /* Adding again replaces the file whole, and leaves no temporary file. */
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "tool", "--extension-id", ID_C,
                                                                 NULL }), 0);
  g_free (text);
  text = read_text (f->user_dir, "tool.conf");
  assert_contains (text, "chromium-ids=" ID_C ";\n");
  assert_lacks (text, ID_A);
  assert_lacks (text, "firefox-ids");
  names = listing (f->user_dir);
  assert_string_equal (names, "tool.conf");
  assert_int_equal (mode_of (file), 0600);

  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "rm", "tool", NULL }), 0);
  assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "rm", "tool", NULL }), 1);
  assert_contains (err, "no extension \"tool\" is registered");
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "ls", NULL }), 0);
  assert_contains (out, "no extension is registered");
}

/* --system: 0644 in 0755 folders, under the (test's) system root. */
static void
test_add_system (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *file = g_build_filename (f->system_dir, "tool.conf", NULL);

  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "--system", "tool",
                                                                 "--firefox-id", "tool@example.org", NULL }), 0);
  assert_int_equal (mode_of (file), 0644);
  assert_int_equal (mode_of (f->system_dir), 0755);
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "ls", NULL }), 0);
  assert_contains (out, "system  tool");
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "rm", "--system", "tool", NULL }), 0);
  assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
}

/* A folder open to others, or someone else's, is refused and left as
 * it is: nmstore never chmods a folder it did not make. */
static void
test_refuses_loose_or_foreign_folder (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL;
  const char *add[] = { "extensions", "add", "tool", "--extension-id", ID_A, NULL };

  assert_int_equal (g_mkdir_with_parents (f->user_dir, 0700), 0);
  assert_int_equal (g_chmod (f->user_dir, 0755), 0);
  assert_int_equal (run (f, &out, &err, add), 1);
  assert_contains (err, "mode 0755");
  assert_int_equal (mode_of (f->user_dir), 0755);
  {
    g_autofree char *file = g_build_filename (f->user_dir, "tool.conf", NULL);
    assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
  }

  if (geteuid () != 0)
    {
      print_message ("not root: the foreign-owner case is skipped\n");
      return;
    }
  assert_int_equal (g_chmod (f->user_dir, 0700), 0);
  assert_int_equal (chown (f->user_dir, 65534, 65534), 0);
  assert_int_equal (run (f, &out, &err, add), 1);
  assert_contains (err, "belongs to uid 65534");
}

/* A name can never lead out of the folder; every usage fault exits 2. */
static void
test_usage_errors (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL;
  static const char *const bad_names[] = { "../escape", "a/b", ".hidden", "x/../y", "", "x y", "..", "tool.conf/../../x" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", bad_names[i],
                                                                     "--extension-id", ID_A, NULL }), 2);
      assert_contains (err, "is not an extension name");
      assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "rm", bad_names[i], NULL }), 2);
    }
  {
    g_autofree char *escaped = g_build_filename (f->place.home, ".config", "nmstore", "escape.conf", NULL);
    assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
  }
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "--help", NULL }), 0);
  assert_contains (out, "--extension-id");
  assert_contains (out, "--firefox-id");
  assert_contains (out, "--system");
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "rm", "--help", NULL }), 0);
  assert_contains (out, "extensions rm");
  assert_lacks (out, "--extension-id");
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", NULL }), 2);
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "frob", NULL }), 2);
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "ls", "--frob", NULL }), 2);
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "tool", NULL }), 2);
  assert_contains (err, "needs --extension-id");
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "tool", "--extension-id", "xyz",
                                                                 NULL }), 2);
  assert_contains (err, "32 letters");
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "tool", "--firefox-id", "no way",
                                                                 NULL }), 2);
  assert_contains (err, "not a Firefox add-on id");
  assert_false (g_file_test (f->user_dir, G_FILE_TEST_EXISTS));
}

/* install allows the ids of every drop-in, this user's and the system's,
 * besides the companion's and those asked for. */
static void
test_install_includes_dropins (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL, *chromium = NULL, *firefox = NULL;
  g_autofree char *system_file = g_build_filename (f->system_dir, "other.conf", NULL);

  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "tool", "--extension-id", ID_A,
                                                                 "--firefox-id", "tool@example.org", NULL }), 0);
  assert_int_equal (g_mkdir_with_parents (f->system_dir, 0755), 0);
  assert_true (g_file_set_contents (system_file, "# shipped by a package\n[extension]\nchromium-ids=" ID_B ";\n"
                                    "firefox-ids={12345678-1234-1234-1234-123456789abc};\n", -1, NULL));
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "install", "--browser", "chromium,firefox",
                                                                 "--extension-id", ID_C, NULL }), 0);
  assert_contains (out, "allows  tool ");
  assert_contains (out, "allows  other ");
  chromium = read_text (f->place.home, ".config/chromium/NativeMessagingHosts/" MANIFEST);
  firefox = read_text (f->place.home, ".mozilla/native-messaging-hosts/" MANIFEST);
  assert_contains (chromium, "[\"chrome-extension://hfjlljhbgdcnhkaehjemmbcjndfgaeea/\", \"chrome-extension://" ID_A
                             "/\", \"chrome-extension://" ID_B "/\", \"chrome-extension://" ID_C "/\"]");
  assert_contains (firefox, "[\"nmstore@nmstore.org\", \"tool@example.org\", "
                            "\"{12345678-1234-1234-1234-123456789abc}\"]");
}

/* A drop-in with one fault is refused whole: none of its ids are used,
 * the error names the file, the line and the key, and install fails;
 * the valid drop-ins are still used. */
static void
test_bad_dropin_refused (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL, *chromium = NULL;
  g_autofree char *bad = g_build_filename (f->user_dir, "bad.conf", NULL);
  static const char *const faults[] = {
    "[extension]\nchromium-ids=" ID_B ";\nfirefox-ids=not an id;\n",   /* a bad id */
    "[extension]\nchromium-ids=" ID_B ";\nchromium-id=" ID_C ";\n",    /* an unknown key */
    "[extension]\nchromium-ids=" ID_B ";\n[more]\nx=y\n",              /* an unknown group */
    "chromium-ids=" ID_B ";\n",                                         /* no group: not a key file */
    "[extension]\n",                                                    /* no ids */
  };
  static const char *const said[] = { "line 3, firefox-ids", "line 3: unknown key \"chromium-id\"",
                                      "unknown group [more]", "bad.conf: ", "no ids" };
  guint i;

  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "good", "--extension-id", ID_A,
                                                                 NULL }), 0);
  for (i = 0; i < G_N_ELEMENTS (faults); i++)
    {
      assert_true (g_file_set_contents (bad, faults[i], -1, NULL));
      assert_int_equal (run (f, &out, &err, (const char *const[]) { "install", "--browser", "chromium", NULL }), 1);
      assert_contains (err, bad);
      assert_contains (err, said[i]);
      g_free (chromium);
      chromium = read_text (f->place.home, ".config/chromium/NativeMessagingHosts/" MANIFEST);
      assert_contains (chromium, ID_A);
      assert_lacks (chromium, ID_B);
      assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "ls", NULL }), 1);
      assert_contains (out, "refused");
    }
}

/* --system installs allow the system's drop-ins only: one user's
 * registrations (root's, under sudo) do not go into every user's file. */
static void
test_system_install_ignores_user_dropins (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL, *manifest = NULL;

  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "mine", "--extension-id", ID_A,
                                                                 NULL }), 0);
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "extensions", "add", "--system", "shared",
                                                                 "--extension-id", ID_B, NULL }), 0);
  assert_int_equal (run (f, &out, &err, (const char *const[]) { "install", "--system", "--browser", "chromium",
                                                                 NULL }), 0);
  manifest = read_text (f->place.root, "etc/chromium/native-messaging-hosts/" MANIFEST);
  assert_contains (manifest, ID_B);
  assert_lacks (manifest, ID_A);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_add_ls_rm, setup, teardown),
    cmocka_unit_test_setup_teardown (test_add_system, setup, teardown),
    cmocka_unit_test_setup_teardown (test_refuses_loose_or_foreign_folder, setup, teardown),
    cmocka_unit_test_setup_teardown (test_usage_errors, setup, teardown),
    cmocka_unit_test_setup_teardown (test_install_includes_dropins, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bad_dropin_refused, setup, teardown),
    cmocka_unit_test_setup_teardown (test_system_install_ignores_user_dropins, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
