/* SPDX-License-Identifier: MIT */
/* test_doctor_sandbox.c: the doctor on sandboxed browsers: a snap
 * Chromium (which cannot reach a host at all) and a snap Firefox with and
 * without the WebExtensions portal, each reported with its fix and never
 * as healthy. The snap folders are made in a private HOME; the portal is
 * a stand-in on a private D-Bus session bus. */
#include "harness.h"
#include "doctor-fixture.h"

#include <stdio.h>

/* Snap Chromium: the manifest in ~/.config/chromium is fine, the host
 * answers, and still the browser cannot reach it; never healthy. */
static void
test_snap_chromium (void **state)
{
  Fixture *f = *state;
  g_autofree char *snap = g_build_filename (f->place.home, "snap", "chromium", NULL);
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
  g_autofree char *snap = g_build_filename (f->place.home, "snap", "firefox", NULL);
  g_autofree char *bus = g_strdup_printf ("unix:path=%s/no-bus", f->place.top);
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

/* A stand-in for xdg-desktop-portal on a private bus: this program run
 * again with --fake-portal owns org.freedesktop.portal.Desktop, answers
 * the WebExtensions portal's version property, says "ready" on stdout
 * and serves until it is killed. A process of its own, not a thread:
 * the test waits for the doctor meanwhile, and GDBus's threads would
 * leave LeakSanitizer false reports in the test process. */
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
  (void) connection, (void) name, (void) user_data;
  printf ("ready\n");
  fflush (stdout);
}

static int
fake_portal_main (void)
{
  static const char xml[] =
    "<node><interface name='org.freedesktop.portal.WebExtensions'>"
    "<property name='version' type='u' access='read'/></interface></node>";
  static const GDBusInterfaceVTable vtable = { NULL, portal_get_property, NULL, { 0 } };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (xml, NULL);
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  if (bus == NULL || g_dbus_connection_register_object (bus, "/org/freedesktop/portal/desktop",
                                                        info->interfaces[0], &vtable, NULL, NULL, NULL) == 0)
    return 1;
  g_bus_own_name_on_connection (bus, "org.freedesktop.portal.Desktop", G_BUS_NAME_OWNER_FLAGS_NONE,
                                portal_name_acquired, NULL, NULL, NULL);
  g_main_loop_run (loop);
  return 0;
}

/* Snap Firefox where the portal answers: it works through the portal,
 * after a one-time prompt, so a warning with what to expect; never
 * reported healthy. */
static void
test_snap_firefox_with_portal (void **state)
{
  Fixture *f = *state;
  g_autofree char *snap = g_build_filename (f->place.home, "snap", "firefox", NULL);
  g_autofree char *daemon = g_find_program_in_path ("dbus-daemon");
  g_autofree char *line = NULL, *out = NULL, *err = NULL;
  g_autoptr(GTestDBus) bus = NULL;
  g_autoptr(GSubprocess) portal = NULL;
  g_autoptr(GDataInputStream) portal_out = NULL;
  g_autoptr(GError) error = NULL;
  const char *text_args[] = { "doctor", "--browser", "firefox", NULL };
  cJSON *report;

  if (daemon == NULL)
    {
      print_message ("dbus-daemon is not installed: skipped\n");
      skip ();
    }
  install (f, "firefox");
  g_mkdir_with_parents (snap, 0755);
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);
  portal = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "/proc/self/exe", "--fake-portal", NULL);
  assert_non_null (portal);
  portal_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (portal));
  line = g_data_input_stream_read_line (portal_out, NULL, NULL, &error);
  if (line == NULL || !g_str_equal (line, "ready"))
    fail_msg ("the stand-in portal did not start: %s", error ? error->message : "no \"ready\"");

  report = doctor (f, "firefox", 0);
  assert_check (report, "firefox", "snap", "warn", "asks once", "WebExtensions portal");
  assert_check (report, "firefox", "hello", "ok", NULL, NULL);
  cJSON_Delete (report);
  assert_int_equal (nmt_run_cli (f->place.data, text_args, NULL, &out, &err), 0);
  assert_null (strstr (out, "everything is in order"));
  assert_non_null (strstr (out, "no check failed, but read the 1 warning above"));

  g_subprocess_force_exit (portal);
  assert_true (g_subprocess_wait (portal, NULL, NULL));
  g_test_dbus_down (bus);
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_snap_chromium, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snap_firefox_without_portal, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snap_firefox_with_portal, setup, teardown),
  };

  if (argc == 2 && g_str_equal (argv[1], "--fake-portal"))
    return fake_portal_main ();
  return cmocka_run_group_tests (tests, NULL, NULL);
}
