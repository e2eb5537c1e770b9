/* SPDX-License-Identifier: MIT */
/* test_doctor_sandbox.c: the doctor on sandboxed browsers: a snap
 * Chromium (which cannot reach a host at all) and a snap Firefox with and
 * without the WebExtensions portal, each reported with its fix and never
 * as healthy. The snap folders are made in a private HOME; the portal is
 * a stand-in on a private D-Bus session bus. */
#include "harness.h"
#include "doctor-fixture.h"

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

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_snap_chromium, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snap_firefox_without_portal, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snap_firefox_with_portal, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
