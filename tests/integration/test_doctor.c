/* SPDX-License-Identifier: MIT */
/* test_doctor.c: `nmstore doctor` on a healthy set-up and on each way an
 * installation breaks, checking that it names the right check and the
 * right fix, and exits non-zero. */
#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define OTHER_ID "abcdefghijklmnopabcdefghijklmnop"
#define ID_SHARED "ponmlkjihgfedcbaponmlkjihgfedcba"

typedef struct {
  char *top;
  char *home;
  char *data;
  char *manifest;  /* Chromium's user manifest */
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autofree char *root = NULL;

  f->top = nmt_make_home ();
  f->home = g_build_filename (f->top, "home", NULL);
  f->data = g_build_filename (f->top, "data", NULL);
  root = g_build_filename (f->top, "root", NULL);
  f->manifest = g_build_filename (f->home, ".config", "chromium", "NativeMessagingHosts",
                                  "org.nmstore.host.json", NULL);
  g_mkdir (f->home, 0755);
  g_mkdir (root, 0755);
  g_setenv ("HOME", f->home, TRUE);
  g_unsetenv ("XDG_CONFIG_HOME");
  g_setenv ("NMSTORE_SYSTEM_ROOT", root, TRUE);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  g_chmod (f->data, 0700);
  nmt_remove_tree (f->top);
  g_free (f->top);
  g_free (f->home);
  g_free (f->data);
  g_free (f->manifest);
  g_free (f);
  return 0;
}

static void
install_status (Fixture *f, const char *browser, int status)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "install", "--browser", browser, NULL };

  assert_int_equal (nmt_run_cli (f->data, args, NULL, &out, &err), status);
}

static void
install (Fixture *f, const char *browser)
{
  install_status (f, browser, 0);
}

/* Runs the doctor for `browser` and returns its JSON report. */
static cJSON *
doctor (Fixture *f, const char *browser, int expect_status)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "doctor", "--json", "--browser", browser, NULL };
  int status = nmt_run_cli (f->data, args, NULL, &out, &err);
  cJSON *report = cJSON_Parse (out);

  if (status != expect_status || report == NULL)
    fail_msg ("doctor exited %d (expected %d):\n%s%s", status, expect_status, out, err);
  assert_true (cJSON_IsBool (cJSON_GetObjectItem (report, "ok")));
  assert_int_equal (cJSON_IsTrue (cJSON_GetObjectItem (report, "ok")), expect_status == 0);
  return report;
}

/* The one check named (browser may be NULL for the global ones); fails
 * the test unless its status is `status` and its fix mentions `fix`. */
static const cJSON *
assert_check (const cJSON *report, const char *browser, const char *check, const char *status, const char *fix,
              const char *detail)
{
  const cJSON *c;
  g_autofree char *text = cJSON_Print (report);

  cJSON_ArrayForEach (c, cJSON_GetObjectItem (report, "checks"))
    {
      const cJSON *b = cJSON_GetObjectItem (c, "browser");
      const cJSON *f = cJSON_GetObjectItem (c, "fix");
      const cJSON *d = cJSON_GetObjectItem (c, "detail");

      if (!g_str_equal (cJSON_GetObjectItem (c, "check")->valuestring, check)
          || (browser == NULL) != cJSON_IsNull (b) || (browser != NULL && !g_str_equal (b->valuestring, browser)))
        continue;
      if (!g_str_equal (cJSON_GetObjectItem (c, "status")->valuestring, status))
        continue;
      if (fix != NULL && (!cJSON_IsString (f) || strstr (f->valuestring, fix) == NULL))
        fail_msg ("check %s: fix \"%s\" does not mention \"%s\"", check,
                  cJSON_IsString (f) ? f->valuestring : "(none)", fix);
      if (!cJSON_IsString (f) && g_str_equal (status, "fail"))
        fail_msg ("check %s failed without a fix:\n%s", check, text);
      if (detail != NULL && strstr (d->valuestring, detail) == NULL)
        fail_msg ("check %s: detail \"%s\" does not mention \"%s\"", check, d->valuestring, detail);
      return c;
    }
  fail_msg ("no %s check \"%s\" with status %s in:\n%s", browser ? browser : "global", check, status, text);
  return NULL;
}

/* Rewrites one member of the Chromium manifest. */
static void
edit_manifest (Fixture *f, const char *member, cJSON *value)
{
  g_autofree char *text = NULL;
  char *out;
  cJSON *json;

  assert_true (g_file_get_contents (f->manifest, &text, NULL, NULL));
  json = cJSON_Parse (text);
  cJSON_ReplaceItemInObjectCaseSensitive (json, member, value);
  out = cJSON_Print (json);
  assert_true (g_file_set_contents (f->manifest, out, -1, NULL));
  cJSON_free (out);
  cJSON_Delete (json);
}

static char *
write_script (Fixture *f, const char *name, const char *body, int mode)
{
  char *path = g_build_filename (f->top, name, NULL);

  assert_true (g_file_set_contents (path, body, -1, NULL));
  assert_int_equal (g_chmod (path, mode), 0);
  return path;
}

static void
test_healthy (void **state)
{
  Fixture *f = *state;
  cJSON *report;
  const cJSON *c;

  install (f, "chromium,firefox");
  report = doctor (f, "chromium,firefox", 0);
  assert_check (report, "chromium", "hello", "ok", NULL, "answered hello: org.nmstore.host");
  assert_check (report, "firefox", "hello", "ok", NULL, "firefox-nmstore@nmstore.org");
  assert_check (report, NULL, "disk-space", "ok", NULL, "free");
  /* The stores the launches created are checked too. */
  assert_check (report, NULL, "store", "ok", NULL, "integrity");
  cJSON_ArrayForEach (c, cJSON_GetObjectItem (report, "checks"))
    assert_true (cJSON_IsNull (cJSON_GetObjectItem (c, "fix")));
  cJSON_Delete (report);
}

static void
test_wrong_path (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString ("/opt/gone/nmstore"));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "path", "fail", "nmstore install --browser chromium", "does not exist");
  assert_check (report, "chromium", "hello", "skip", NULL, NULL);
  cJSON_Delete (report);
}

static void
test_relative_path (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString ("bin/nmstore"));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "path", "fail", "nmstore install --browser chromium", "not an absolute path");
  cJSON_Delete (report);
}

static void
test_not_executable (void **state)
{
  Fixture *f = *state;
  g_autofree char *copy = write_script (f, "nmstore-copy", "#!/bin/sh\n", 0644);
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString (copy));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "path", "fail", "chmod 755", "not an executable file");
  cJSON_Delete (report);
}

static void
test_missing_id (void **state)
{
  Fixture *f = *state;
  const char *ids[] = { "chrome-extension://" OTHER_ID "/" };
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "allowed_origins", cJSON_CreateStringArray (ids, 1));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "allowed", "fail", "nmstore install --browser chromium", "companion extension");
  /* The host itself is fine, as the other extension would find. */
  assert_check (report, "chromium", "hello", "ok", NULL, NULL);
  cJSON_Delete (report);
}

static void
test_name_mismatch (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "name", cJSON_CreateString ("org.nmstore.other"));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "name", "fail", "nmstore install --browser chromium", "org.nmstore.other");
  cJSON_Delete (report);
}

static void
test_invalid_json (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  assert_true (g_file_set_contents (f->manifest, "{\"name\": \"org.nmstore.host\",", -1, NULL));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "json", "fail", "nmstore install --browser chromium", "not a valid JSON");
  cJSON_Delete (report);
}

static void
test_data_root_not_writable (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  g_mkdir (f->data, 0500);
  g_chmod (f->data, 0500);
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "chmod 700", "not writable");
  cJSON_Delete (report);
}

/* The host refuses a data root looser than 0700 (issue 14), so the
 * doctor fails it rather than warning. */
static void
test_data_root_loose (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  g_mkdir (f->data, 0755);
  g_chmod (f->data, 0755);
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "chmod 700", "refuses");
  cJSON_Delete (report);
}

static void
test_stdout_before_frames (void **state)
{
  Fixture *f = *state;
  g_autofree char *body = g_strdup_printf ("#!/bin/sh\necho \"starting nmstore\"\nexec '%s' \"$@\"\n", NMT_NMSTORE_BIN);
  g_autofree char *wrapper = write_script (f, "noisy-host", body, 0755);
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString (wrapper));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "path", "ok", NULL, NULL);
  assert_check (report, "chromium", "hello", "fail", "stdout must carry frames only", "starting nmstore");
  cJSON_Delete (report);
}

static void
test_crash_on_start (void **state)
{
  Fixture *f = *state;
  g_autofree char *wrapper = write_script (f, "crashing-host",
                                           "#!/bin/sh\necho 'libcjson.so.1: cannot open shared object' >&2\n"
                                           "kill -SEGV $$\n", 0755);
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString (wrapper));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "hello", "fail", "--version", "killed by signal 11");
  assert_check (report, "chromium", "hello", "fail", NULL, "libcjson.so.1");
  cJSON_Delete (report);
}

/* The browser is there (its config folder) but nmstore was never
 * installed for it. */
static void
test_detected_without_manifest (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = g_build_filename (f->home, ".config", "google-chrome", NULL);
  cJSON *report;

  g_mkdir_with_parents (config, 0700);
  report = doctor (f, "detected", 1);
  assert_check (report, "chrome", "manifest", "fail", "nmstore install --browser chrome", "Google Chrome is here");
  assert_check (report, "edge", "manifest", "skip", NULL, "not installed");
  cJSON_Delete (report);
}

static void
test_corrupt_store (void **state)
{
  Fixture *f = *state;
  g_autofree char *dir = g_build_filename (f->data, "chromium-" OTHER_ID, NULL);
  g_autofree char *db = g_build_filename (dir, "store.db", NULL);
  g_autofree char *junk = g_strnfill (8192, 'x');
  cJSON *report;

  install (f, "chromium");
  g_mkdir_with_parents (dir, 0700);
  assert_true (g_file_set_contents (db, junk, -1, NULL));
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "store", "fail", ".recover", NULL);
  cJSON_Delete (report);
}

/* The text form: one line per check, each failure with its fix. */
static void
test_text_report (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "doctor", "--browser", "chromium", NULL };
  g_auto(GStrv) lines = NULL;
  guint i, failures = 0;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString ("/opt/gone/nmstore"));
  assert_int_equal (nmt_run_cli (f->data, args, NULL, &out, &err), 1);
  lines = g_strsplit (out, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "FAIL"))
      {
        failures++;
        assert_non_null (strstr (lines[i], " -> fix: "));
      }
  assert_int_equal (failures, 1);
  assert_non_null (strstr (out, "1 check failed"));
}

/* Runs the doctor with extra arguments and returns its JSON report. */
static cJSON *
doctor_args (Fixture *f, const char *const *extra, int expect_status)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  cJSON *report;
  int status;

  g_ptr_array_add (args, "doctor");
  g_ptr_array_add (args, "--json");
  for (; *extra != NULL; extra++)
    g_ptr_array_add (args, (gpointer) *extra);
  g_ptr_array_add (args, NULL);
  status = nmt_run_cli (f->data, (const char *const *) args->pdata, NULL, &out, &err);
  report = cJSON_Parse (out);
  if (status != expect_status || report == NULL)
    fail_msg ("doctor exited %d (expected %d):\n%s%s", status, expect_status, out, err);
  return report;
}

static void
run_ok (Fixture *f, const char *const *args)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = nmt_run_cli (f->data, args, NULL, &out, &err);

  if (status != 0)
    fail_msg ("%s exited %d:\n%s%s", args[0], status, out, err);
}

/* The "forbidden" case: the manifest is fine but does not allow the
 * extension asked about; the fix adds it. */
static void
test_forbidden_extension_id (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  report = doctor_args (f, (const char *const[]) { "--browser", "chromium", "--extension-id", OTHER_ID, NULL }, 1);
  assert_check (report, "chromium", "allowed-id", "fail", "nmstore install --browser chromium --extension-id " OTHER_ID,
                "is forbidden");
  assert_check (report, "chromium", "allowed", "ok", NULL, "companion extension is allowed");
  cJSON_Delete (report);

  /* The fix works: after it the same question passes. */
  run_ok (f, (const char *const[]) { "install", "--browser", "chromium", "--extension-id", OTHER_ID, NULL });
  report = doctor_args (f, (const char *const[]) { "--browser", "chromium", "--extension-id", OTHER_ID, NULL }, 0);
  assert_check (report, "chromium", "allowed-id", "ok", NULL, OTHER_ID " is allowed");
  cJSON_Delete (report);
}

static void
test_forbidden_firefox_id (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "firefox");
  report = doctor_args (f, (const char *const[]) { "--browser", "firefox", "--firefox-id", "tool@example.org", NULL }, 1);
  assert_check (report, "firefox", "allowed-id", "fail", "nmstore install --browser firefox --firefox-id tool@example.org",
                "is forbidden");
  cJSON_Delete (report);
}

/* Every registered extension is checked without being named; a drop-in
 * added after install is forbidden until install runs again. */
static void
test_registered_extension_checked (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  run_ok (f, (const char *const[]) { "extensions", "add", "tool", "--extension-id", OTHER_ID, NULL });
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "extension", "ok", NULL, "tool.conf registers " OTHER_ID);
  assert_check (report, "chromium", "allowed-id", "fail", "nmstore install --browser chromium (it allows every registered id)",
                "/extensions.d/tool.conf)");
  cJSON_Delete (report);

  install (f, "chromium");
  report = doctor (f, "chromium", 0);
  assert_check (report, "chromium", "allowed-id", "ok", NULL, OTHER_ID " is allowed");
  cJSON_Delete (report);
}

/* A drop-in the install refuses is a failure with its fix. */
static void
test_refused_dropin (void **state)
{
  Fixture *f = *state;
  g_autofree char *dir = g_build_filename (f->home, ".config", "nmstore", "extensions.d", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.conf", NULL);
  cJSON *report;

  g_mkdir_with_parents (dir, 0700);
  assert_true (g_file_set_contents (bad, "[extension]\nchromium-ids=xyz;\n", -1, NULL));
  install_status (f, "chromium", 1);
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "extension", "fail", "nmstore extensions rm bad", "line 2, chromium-ids");
  cJSON_Delete (report);
}

/* Snap Chromium: the manifest in ~/.config/chromium is fine, the host
 * answers, and still the browser cannot reach it; never healthy. */
static void
test_snap_chromium (void **state)
{
  Fixture *f = *state;
  g_autofree char *snap = g_build_filename (f->home, "snap", "chromium", NULL);
  cJSON *report;

  install (f, "chromium");
  report = doctor (f, "chromium", 0);
  cJSON_Delete (report);
  g_mkdir_with_parents (snap, 0755);
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "snap", "fail", "instead of the snap", "common/chromium/NativeMessagingHosts");
  assert_check (report, "chromium", "hello", "ok", NULL, NULL);
  cJSON_Delete (report);
}

/* Snap Firefox with no WebExtensions portal on the session bus (here a
 * bus address where nothing listens). */
static void
test_snap_firefox_without_portal (void **state)
{
  Fixture *f = *state;
  g_autofree char *snap = g_build_filename (f->home, "snap", "firefox", NULL);
  g_autofree char *bus = g_strdup_printf ("unix:path=%s/no-bus", f->top);
  cJSON *report;

  install (f, "firefox");
  g_mkdir_with_parents (snap, 0755);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", bus, TRUE);
  report = doctor (f, "firefox", 1);
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  assert_check (report, "firefox", "snap", "fail", "widget.use-xdg-desktop-portal.native-messaging",
                "org.freedesktop.portal.WebExtensions");
  cJSON_Delete (report);
}

/* A stand-in for xdg-desktop-portal on a private bus: it owns
 * org.freedesktop.portal.Desktop and answers the WebExtensions portal's
 * version property, from a thread of its own, because the test's main
 * thread waits for the doctor. */
typedef struct {
  GMainContext *context;
  GMainLoop    *loop;
  GMutex        lock;
  GCond         ready;
  gboolean      owned;
} FakePortal;

static GVariant *
portal_get_property (GDBusConnection *connection, const char *sender, const char *path, const char *interface,
                     const char *property, GError **error, gpointer user_data)
{
  (void) connection, (void) sender, (void) path, (void) interface, (void) error, (void) user_data;
  return g_str_equal (property, "version") ? g_variant_new_uint32 (1) : NULL;
}

static void
portal_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  FakePortal *portal = user_data;

  (void) connection, (void) name;
  g_mutex_lock (&portal->lock);
  portal->owned = TRUE;
  g_cond_signal (&portal->ready);
  g_mutex_unlock (&portal->lock);
}

static gpointer
portal_thread (gpointer data)
{
  static const char xml[] =
    "<node><interface name='org.freedesktop.portal.WebExtensions'>"
    "<property name='version' type='u' access='read'/></interface></node>";
  static const GDBusInterfaceVTable vtable = { NULL, portal_get_property, NULL, { 0 } };
  FakePortal *portal = data;
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (xml, NULL);
  g_autoptr(GDBusConnection) bus = NULL;
  guint owner;

  g_main_context_push_thread_default (portal->context);
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  assert_non_null (bus);
  assert_true (g_dbus_connection_register_object (bus, "/org/freedesktop/portal/desktop", info->interfaces[0],
                                                  &vtable, portal, NULL, NULL) > 0);
  owner = g_bus_own_name_on_connection (bus, "org.freedesktop.portal.Desktop", G_BUS_NAME_OWNER_FLAGS_NONE,
                                        portal_name_acquired, NULL, portal, NULL);
  g_main_loop_run (portal->loop);
  g_bus_unown_name (owner);
  g_main_context_pop_thread_default (portal->context);
  return NULL;
}

/* Snap Firefox where the portal answers: it works through the portal,
 * after a one-time prompt, so a warning with what to expect; never
 * reported healthy. */
static void
test_snap_firefox_with_portal (void **state)
{
  Fixture *f = *state;
  g_autofree char *snap = g_build_filename (f->home, "snap", "firefox", NULL);
  g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  FakePortal portal = { 0 };
  GThread *thread;
  const cJSON *check;
  cJSON *report;

  if (g_find_program_in_path ("dbus-daemon") == NULL)
    {
      print_message ("dbus-daemon is not installed: skipped\n");
      return;
    }
  install (f, "firefox");
  g_mkdir_with_parents (snap, 0755);
  g_test_dbus_up (bus);
  portal.context = g_main_context_new ();
  portal.loop = g_main_loop_new (portal.context, FALSE);
  g_mutex_init (&portal.lock);
  g_cond_init (&portal.ready);
  thread = g_thread_new ("fake-portal", portal_thread, &portal);
  g_mutex_lock (&portal.lock);
  while (!portal.owned)
    g_cond_wait (&portal.ready, &portal.lock);
  g_mutex_unlock (&portal.lock);

  report = doctor (f, "firefox", 0);
  check = assert_check (report, "firefox", "snap", "warn", "asks once", "WebExtensions portal");
  assert_non_null (check);
  assert_check (report, "firefox", "hello", "ok", NULL, NULL);
  cJSON_Delete (report);
  {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "doctor", "--browser", "firefox", NULL };

    assert_int_equal (nmt_run_cli (f->data, args, NULL, &out, &err), 0);
    assert_null (strstr (out, "everything is in order"));
    assert_non_null (strstr (out, "no check failed, but read the 1 warning above"));
  }

  g_main_loop_quit (portal.loop);
  g_thread_join (thread);
  g_main_loop_unref (portal.loop);
  g_main_context_unref (portal.context);
  g_test_dbus_down (bus);
}

/* The remaining cases, each with its fix: a wrong "type", a manifest
 * that cannot be read, a data root that is a link, a file or someone
 * else's, and an nmstore.conf that is not a key file. */
static void
test_other_cases (void **state)
{
  Fixture *f = *state;
  g_autofree char *elsewhere = g_build_filename (f->top, "elsewhere", NULL);
  g_autofree char *conf = g_build_filename (f->data, "nmstore.conf", NULL);
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "type", cJSON_CreateString ("socket"));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "type", "fail", "nmstore install --browser chromium", "must be \"stdio\"");
  cJSON_Delete (report);

  /* A folder where the manifest should be: the browser cannot read it. */
  assert_int_equal (g_unlink (f->manifest), 0);
  assert_int_equal (g_mkdir (f->manifest, 0755), 0);
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "manifest", "fail", "nmstore install --browser chromium", NULL);
  cJSON_Delete (report);
  assert_int_equal (g_rmdir (f->manifest), 0);
  install (f, "chromium");

  /* The doctor's hello created the data root; start each case afresh. */
  nmt_remove_tree (f->data);
  g_mkdir (elsewhere, 0700);
  {
    g_autoptr(GFile) link = g_file_new_for_path (f->data);
    assert_true (g_file_make_symbolic_link (link, elsewhere, NULL, NULL));
  }
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "replace the link", "symbolic link");
  cJSON_Delete (report);
  assert_int_equal (g_unlink (f->data), 0);

  assert_true (g_file_set_contents (f->data, "", 0, NULL));
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "out of the way", "is not a folder");
  cJSON_Delete (report);
  assert_int_equal (g_unlink (f->data), 0);

  g_mkdir (f->data, 0700);
  assert_true (g_file_set_contents (conf, "this is not a key file\n", -1, NULL));
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "config", "fail", "edit or remove", "nmstore.conf");
  cJSON_Delete (report);
  assert_int_equal (g_unlink (conf), 0);
  nmt_remove_tree (f->data);
  g_mkdir (f->data, 0700);

  if (geteuid () != 0)
    {
      print_message ("not root: the foreign data root case is skipped\n");
      return;
    }
  assert_int_equal (chown (f->data, 65534, 65534), 0);
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "chown", "belongs to uid 65534");
  cJSON_Delete (report);
  assert_int_equal (chown (f->data, 0, 0), 0);
}

/* A system manifest answers for the system's drop-ins only, as install
 * writes it: a user's registration is checked in the user's manifest. */
static void
test_registered_scopes (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL;
  const char *system_install[] = { "install", "--system", "--browser", "chromium", NULL };
  cJSON *report;

  run_ok (f, (const char *const[]) { "extensions", "add", "mine", "--extension-id", OTHER_ID, NULL });
  assert_int_equal (nmt_run_cli (f->data, system_install, NULL, &out, &err), 0);
  assert_null (strstr (out, OTHER_ID));
  /* With no manifest of the user's own, the browser reads the system's,
   * which does not allow the user's registration. */
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "allowed-id", "fail", "run: nmstore install --browser chromium (it allows",
                "/extensions.d/mine.conf)");
  cJSON_Delete (report);
  install (f, "chromium");
  report = doctor (f, "chromium", 0);
  assert_check (report, "chromium", "allowed-id", "ok", NULL, OTHER_ID " is allowed");
  cJSON_Delete (report);

  /* A system registration: both manifests must allow it, each fixed by
   * the install of its own scope. */
  run_ok (f, (const char *const[]) { "extensions", "add", "--system", "shared", "--extension-id", ID_SHARED, NULL });
  {
    g_autofree char *text = NULL, *text_err = NULL;
    const char *args[] = { "doctor", "--browser", "chromium", NULL };

    assert_int_equal (nmt_run_cli (f->data, args, NULL, &text, &text_err), 1);
    assert_non_null (strstr (text, "FAIL chromium/user    allowed-id " ID_SHARED " is not allowed"));
    assert_non_null (strstr (text, "FAIL chromium/system  allowed-id " ID_SHARED " is not allowed"));
    assert_non_null (strstr (text, "fix: run: sudo nmstore install --system --browser chromium (it allows every "
                                   "registered id)"));
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_healthy, setup, teardown),
    cmocka_unit_test_setup_teardown (test_wrong_path, setup, teardown),
    cmocka_unit_test_setup_teardown (test_relative_path, setup, teardown),
    cmocka_unit_test_setup_teardown (test_not_executable, setup, teardown),
    cmocka_unit_test_setup_teardown (test_missing_id, setup, teardown),
    cmocka_unit_test_setup_teardown (test_name_mismatch, setup, teardown),
    cmocka_unit_test_setup_teardown (test_invalid_json, setup, teardown),
    cmocka_unit_test_setup_teardown (test_data_root_not_writable, setup, teardown),
    cmocka_unit_test_setup_teardown (test_data_root_loose, setup, teardown),
    cmocka_unit_test_setup_teardown (test_stdout_before_frames, setup, teardown),
    cmocka_unit_test_setup_teardown (test_crash_on_start, setup, teardown),
    cmocka_unit_test_setup_teardown (test_detected_without_manifest, setup, teardown),
    cmocka_unit_test_setup_teardown (test_corrupt_store, setup, teardown),
    cmocka_unit_test_setup_teardown (test_text_report, setup, teardown),
    cmocka_unit_test_setup_teardown (test_forbidden_extension_id, setup, teardown),
    cmocka_unit_test_setup_teardown (test_forbidden_firefox_id, setup, teardown),
    cmocka_unit_test_setup_teardown (test_registered_extension_checked, setup, teardown),
    cmocka_unit_test_setup_teardown (test_refused_dropin, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snap_chromium, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snap_firefox_without_portal, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snap_firefox_with_portal, setup, teardown),
    cmocka_unit_test_setup_teardown (test_other_cases, setup, teardown),
    cmocka_unit_test_setup_teardown (test_registered_scopes, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
