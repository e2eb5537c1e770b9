/* SPDX-License-Identifier: MIT */
/* doctor.c: the browser checks behind `nmstore doctor` (doctor.h). The
 * data root and stores are doctor-data.c's; starting the host is
 * doctor-launch.c's; the report they all add to is doctor-report.c's. */
#include "doctor-private.h"
#include "doctor-report.h"

#include "config/config.h"
#include "admin/extensions.h"
#include "base/error.h"
#include "base/os.h"
#include "store/store.h"
#include "nmstore/version.h"

#include <cjson/cJSON.h>
#include <gio/gio.h>
#include <string.h>

/* The command that writes this browser's manifest again. */
static char *
install_command (const NmsInstallEnv *env, const NmsInstallBrowser *browser, NmsInstallScope scope)
{
  g_autofree char *quoted = env->dir ? g_shell_quote (env->dir) : NULL;

  if (browser == nms_install_dir_browser ())
    return g_strdup_printf ("nmstore install --dir %s", quoted ? quoted : "PATH");
  return g_strdup_printf ("%snmstore install%s --browser %s", scope == NMS_INSTALL_SYSTEM ? "sudo " : "",
                          scope == NMS_INSTALL_SYSTEM ? " --system" : "", nms_install_browser_name (browser));
}

static char *
reinstall (const NmsDoctorReport *report, const NmsInstallTarget *target)
{
  g_autofree char *command = install_command (report->env, target->browser, target->scope);

  return g_strconcat ("run: ", command, NULL);
}

static const char *
member_string (const cJSON *json, const char *name)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive (json, name);

  return cJSON_IsString (item) ? item->valuestring : NULL;
}

/* The caller the browser would name: the companion when it is allowed,
 * else the first id allowed; NULL when none is well formed. */
static char *
allowed_caller (const NmsInstallTarget *target, const cJSON *json, gboolean *has_companion)
{
  gboolean firefox = nms_install_browser_family (target->browser) == NMS_INSTALL_FIREFOX_FAMILY;
  const cJSON *member = cJSON_GetObjectItemCaseSensitive (json, firefox ? "allowed_extensions" : "allowed_origins");
  const cJSON *list = cJSON_IsArray (member) ? member : NULL;
  g_autofree char *companion = firefox ? g_strdup (NMS_COMPANION_FIREFOX_ID)
                                       : g_strdup_printf ("chrome-extension://%s/", NMS_COMPANION_EXTENSION_ID);
  const cJSON *item;
  char *first = NULL;

  *has_companion = FALSE;
  cJSON_ArrayForEach (item, list)
    {
      if (!cJSON_IsString (item))
        continue;
      if (g_str_equal (item->valuestring, companion))
        *has_companion = TRUE;
      if (first == NULL && firefox)
        first = g_strdup (item->valuestring);
      else if (first == NULL && g_str_has_prefix (item->valuestring, "chrome-extension://")
               && strlen (item->valuestring) == strlen (companion))
        first = g_strndup (item->valuestring + strlen ("chrome-extension://"), 32);
    }
  if (*has_companion)
    {
      g_free (first);
      return g_strdup (firefox ? NMS_COMPANION_FIREFOX_ID : NMS_COMPANION_EXTENSION_ID);
    }
  return first;
}

static gboolean
check_host_path (NmsDoctorReport *report, const NmsInstallTarget *target, const char *path)
{
  if (path == NULL || !g_path_is_absolute (path))
    {
      _nms_doctor_add (report, target, "path", NMS_DOCTOR_FAIL, reinstall (report, target),
                       "\"%s\" is not an absolute path; Linux browsers need one", path ? path : "(missing)");
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      /* What each browser says for a missing program, seen for real:
       * Chromium 156 reports it as a missing manifest
       * (tests/browser/e2e/status-page.test.js, "binary moved"), Firefox
       * ESR 153 as an unexpected error (tests/browser/firefox/). */
      _nms_doctor_add (report, target, "path", NMS_DOCTOR_FAIL, reinstall (report, target),
                       "%s does not exist (moved, or an old install?); Chromium reports "
                       "\"Specified native messaging host not found.\", Firefox \"An unexpected error occurred\"",
                       path);
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR) || !g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    {
      _nms_doctor_add (report, target, "path", NMS_DOCTOR_FAIL, g_strdup_printf ("run: chmod 755 %s", path),
                       "%s is not an executable file", path);
      return FALSE;
    }
  _nms_doctor_add (report, target, "path", NMS_DOCTOR_OK, NULL, "%s is executable", path);
  return TRUE;
}

/* One id that must be allowed; `registered` is its drop-in, or NULL for
 * an id asked for on the command line. An id that is not
 * allowed is one the browser turns away: "Access to the specified
 * native messaging host is forbidden". */
static void
check_wanted_id (NmsDoctorReport *report, const NmsInstallTarget *target, const cJSON *list, const char *id,
                 const NmsExtension *registered)
{
  gboolean firefox = nms_install_browser_family (target->browser) == NMS_INSTALL_FIREFOX_FAMILY;
  const char *option = firefox ? "firefox-id" : "extension-id";
  const char *registered_by = registered ? registered->path : NULL;
  g_autofree char *entry = firefox ? g_strdup (id) : g_strdup_printf ("chrome-extension://%s/", id);
  g_autofree char *command = NULL;
  const cJSON *item;
  gboolean allowed = FALSE;

  cJSON_ArrayForEach (item, list)
    allowed = allowed || (cJSON_IsString (item) && g_str_equal (item->valuestring, entry));
  if (allowed)
    {
      _nms_doctor_add (report, target, "allowed-id", NMS_DOCTOR_OK, NULL, "%s is allowed", id);
      return;
    }
  /* A user's registration goes into a manifest of the user's own, which
   * the browser reads before the system's. */
  command = install_command (report->env, target->browser,
                             registered && registered->scope != NMS_INSTALL_SYSTEM ? NMS_INSTALL_USER : target->scope);
  _nms_doctor_add (report, target, "allowed-id", NMS_DOCTOR_FAIL,
                   registered_by
                     ? g_strdup_printf ("run: %s (it allows every registered id)", command)
                     : g_strdup_printf ("run: %s --%s %s (or register it for every install: nmstore extensions add "
                                        "NAME --%s %s, then: %s)", command, option, id, option, id, command),
                   "%s is not allowed by %s%s%s%s: the browser refuses that extension with \"Access to the "
                   "specified native messaging host is forbidden\"", id, target->path,
                   registered_by ? " (registered by " : "", registered_by ? registered_by : "",
                   registered_by ? ")" : "");
}

/* The ids asked for, then those of the valid drop-ins. A system
 * manifest answers for this user's drop-ins (user_ids) only where the
 * user has no manifest of their own, which the browser would read first. */
static void
check_wanted_ids (NmsDoctorReport *report, const NmsInstallTarget *target, const cJSON *json, gboolean user_ids)
{
  gboolean firefox = nms_install_browser_family (target->browser) == NMS_INSTALL_FIREFOX_FAMILY;
  GPtrArray *asked = firefox ? report->wanted->firefox_ids : report->wanted->chromium_ids;
  GPtrArray *extensions = report->wanted->extensions;
  const cJSON *member = cJSON_GetObjectItemCaseSensitive (json, firefox ? "allowed_extensions" : "allowed_origins");
  const cJSON *list = cJSON_IsArray (member) ? member : NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint i;
  char **id;

  for (i = 0; asked != NULL && i < asked->len; i++)
    if (g_hash_table_add (seen, asked->pdata[i]))
      check_wanted_id (report, target, list, asked->pdata[i], NULL);
  for (i = 0; extensions != NULL && i < extensions->len; i++)
    {
      const NmsExtension *e = extensions->pdata[i];

      if (e->error != NULL || (!user_ids && e->scope != NMS_INSTALL_SYSTEM))
        continue;
      for (id = firefox ? e->firefox_ids : e->chromium_ids; *id != NULL; id++)
        if (g_hash_table_add (seen, *id))
          check_wanted_id (report, target, list, *id, e);
    }
}

/* A snap browser runs confined; say what that means for nmstore. */
static void
check_snap (NmsDoctorReport *report, const NmsInstallTarget *target, const char *snap_dir)
{
  const char *title = nms_install_browser_title (target->browser);

  if (nms_install_browser_family (target->browser) != NMS_INSTALL_FIREFOX_FAMILY)
    {
      _nms_doctor_add (report, target, "snap", NMS_DOCTOR_FAIL,
                       g_strdup_printf ("use a %s that is not a snap instead of the snap: its Flatpak (%s), "
                                        "Debian's package (Ubuntu's chromium-browser .deb only installs the snap), "
                                        "or Google Chrome's .deb; then run: nmstore install --browser %s",
                                        title, nms_install_browser_flatpak_id (target->browser),
                                        nms_install_browser_name (target->browser)),
                       "%s is a snap (%s): it reads manifests from %s/common/%s/NativeMessagingHosts only, and "
                       "its confinement does not let it start a program from outside the snap, so it cannot "
                       "reach nmstore", title, snap_dir, snap_dir, nms_install_browser_snap (target->browser));
      return;
    }
  if (_nms_doctor_portal_version () > 0)
    _nms_doctor_add (report, target, "snap", NMS_DOCTOR_WARN,
                     g_strdup ("nothing to install: on first use Firefox asks once whether the extension may start "
                               "nmstore; allow it (if it never asks, set "
                               "widget.use-xdg-desktop-portal.native-messaging to 1 in about:config)"),
                     "%s is a snap (%s): it starts nmstore through the WebExtensions portal of "
                     "xdg-desktop-portal, which is here and reads the manifest in ~/.mozilla/native-messaging-hosts",
                     title, snap_dir);
  else
    _nms_doctor_add (report, target, "snap", NMS_DOCTOR_FAIL,
                     g_strdup ("install an xdg-desktop-portal that provides the WebExtensions portal, log in again, "
                               "and set widget.use-xdg-desktop-portal.native-messaging to 1 in about:config; or "
                               "use Firefox from a .deb instead of the snap"),
                     "%s is a snap (%s): it can start nmstore only through the WebExtensions portal "
                     "(org.freedesktop.portal.WebExtensions), and no such portal answers on this session bus",
                     title, snap_dir);
}

/* One manifest, read the way the browser reads it, then the host it
 * names started the way the browser starts it. */
static void
check_manifest (NmsDoctorReport *report, const NmsInstallTarget *target, gboolean user_ids)
{
  g_autofree char *text = NULL;
  g_autofree char *caller = NULL;
  g_autofree char *detail = NULL, *fix = NULL;
  g_autoptr(GError) error = NULL;
  const char *name, *type, *path;
  gboolean has_companion, path_ok;
  cJSON *json;

  if (!g_file_get_contents (target->path, &text, NULL, &error))
    {
      _nms_doctor_add (report, target, "manifest", NMS_DOCTOR_FAIL, reinstall (report, target), "%s", error->message);
      return;
    }
  _nms_doctor_add (report, target, "manifest", NMS_DOCTOR_OK, NULL, "%s", target->path);
  json = cJSON_Parse (text);
  if (!cJSON_IsObject (json))
    {
      _nms_doctor_add (report, target, "json", NMS_DOCTOR_FAIL, reinstall (report, target),
                       "%s is not a valid JSON object; the browser ignores it", target->path);
      cJSON_Delete (json);
      return;
    }
  _nms_doctor_add (report, target, "json", NMS_DOCTOR_OK, NULL, "valid JSON");

  name = member_string (json, "name");
  if (name == NULL || !g_str_equal (name, NMS_HOST_NAME))
    _nms_doctor_add (report, target, "name", NMS_DOCTOR_FAIL, reinstall (report, target),
                     "\"name\" is \"%s\" but the file is %s.json; the browser reports \"specified native messaging host not found\"",
                     name ? name : "(missing)", NMS_HOST_NAME);
  else
    _nms_doctor_add (report, target, "name", NMS_DOCTOR_OK, NULL, "\"%s\" matches the file name", name);

  type = member_string (json, "type");
  if (type == NULL || !g_str_equal (type, "stdio"))
    _nms_doctor_add (report, target, "type", NMS_DOCTOR_FAIL, reinstall (report, target),
                     "\"type\" is \"%s\"; it must be \"stdio\"", type ? type : "(missing)");

  path = member_string (json, "path");
  path_ok = check_host_path (report, target, path);

  caller = allowed_caller (target, json, &has_companion);
  if (!has_companion)
    {
      g_autofree char *again = reinstall (report, target);
      _nms_doctor_add (report, target, "allowed", NMS_DOCTOR_FAIL,
                     g_strdup_printf ("%s (it allows the companion and keeps the ids allowed now)", again),
                     "the companion extension (%s) is not allowed; the browser refuses it access",
                     nms_install_browser_family (target->browser) == NMS_INSTALL_FIREFOX_FAMILY
                       ? NMS_COMPANION_FIREFOX_ID : NMS_COMPANION_EXTENSION_ID);
    }
  else
    _nms_doctor_add (report, target, "allowed", NMS_DOCTOR_OK, NULL, "the companion extension is allowed");
  check_wanted_ids (report, target, json, user_ids);

  if (target->scope == NMS_INSTALL_FLATPAK)
    _nms_doctor_add (report, target, "hello", NMS_DOCTOR_SKIP, NULL,
                     "not started: the manifest names a flatpak-spawn script that runs only inside the sandbox");
  else if (!path_ok || caller == NULL)
    _nms_doctor_add (report, target, "hello", NMS_DOCTOR_SKIP, NULL, "not started: fix the checks above first");
  else if (_nms_doctor_launch (nms_install_browser_family (target->browser), path, target->path, caller,
                              &detail, &fix))
    _nms_doctor_add (report, target, "hello", NMS_DOCTOR_OK, NULL, "%s", detail);
  else
    _nms_doctor_add (report, target, "hello", NMS_DOCTOR_FAIL, g_steal_pointer (&fix), "%s", detail);
  cJSON_Delete (json);
}

static void
check_browser (NmsDoctorReport *report, GPtrArray *targets, const NmsInstallBrowser *browser, gboolean named)
{
  g_autoptr(GString) looked = g_string_new (NULL);
  const NmsInstallTarget *first = NULL;
  g_autofree char *snap_dir = nms_install_snap_dir (report->env, browser);
  g_autofree char *command = NULL;
  gboolean detected = named, found = FALSE, user_found = FALSE;
  guint i;

  /* Chromium reads the user's manifest before the system's (FindManifest
   * in chrome/browser/extensions/api/messaging/launch_context_posix.cc). */
  for (i = 0; i < targets->len; i++)
    {
      const NmsInstallTarget *target = targets->pdata[i];
      user_found = user_found || (target->browser == browser && target->scope == NMS_INSTALL_USER
                                  && g_file_test (target->path, G_FILE_TEST_EXISTS));
    }
  for (i = 0; i < targets->len; i++)
    {
      const NmsInstallTarget *target = targets->pdata[i];

      if (target->browser != browser)
        continue;
      first = first ? first : target;
      detected = detected || target->detected;
      if (!g_file_test (target->path, G_FILE_TEST_EXISTS))
        {
          g_string_append_printf (looked, "%s%s", looked->len ? ", " : "", target->dir);
          continue;
        }
      found = TRUE;
      if (target->shared)
        _nms_doctor_add (report, target, "manifest", NMS_DOCTOR_OK, NULL, "%s (checked above: shared with another browser)",
                         target->path);
      else
        check_manifest (report, target, target->scope != NMS_INSTALL_SYSTEM || !user_found);
    }
  if (first != NULL && snap_dir != NULL)
    check_snap (report, first, snap_dir);
  if (found || first == NULL)
    return;
  if (detected)
    _nms_doctor_add (report, first, "manifest", NMS_DOCTOR_FAIL,
                     g_strdup_printf ("run: %s", (command = install_command (report->env, browser, NMS_INSTALL_USER))),
                     "%s is here but has no %s.json in %s; it reports \"specified native messaging host not found\"",
                     nms_install_browser_title (browser), NMS_HOST_NAME, looked->str);
  else
    _nms_doctor_add (report, first, "manifest", NMS_DOCTOR_SKIP, NULL, "%s is not installed here",
                     nms_install_browser_title (browser));
}

/* Each drop-in: the ids it registers, or why it is refused. */
static void
check_extensions (NmsDoctorReport *report)
{
  GPtrArray *extensions = report->wanted->extensions;
  guint i;

  for (i = 0; extensions != NULL && i < extensions->len; i++)
    {
      const NmsExtension *e = extensions->pdata[i];
      g_autofree char *chromium = e->error ? NULL : g_strjoinv (", ", e->chromium_ids);
      g_autofree char *firefox = e->error ? NULL : g_strjoinv (", ", e->firefox_ids);

      if (e->error != NULL)
        _nms_doctor_add (report, NULL, "extension", NMS_DOCTOR_FAIL,
                         g_strdup_printf ("correct %s (see the README's drop-in format), or run: nmstore extensions rm%s %s",
                                          e->path, e->scope == NMS_INSTALL_SYSTEM ? " --system" : "", e->name),
                         "%s", e->error);
      else
        _nms_doctor_add (report, NULL, "extension", NMS_DOCTOR_OK, NULL, "%s registers %s%s%s", e->path, chromium,
                         *chromium && *firefox ? ", " : "", firefox);
    }
}

NmsDoctorReport *
nms_doctor_run (const NmsInstallEnv *env, GPtrArray *browsers, gboolean named, const NmsDoctorWanted *wanted)
{
  NmsDoctorReport *report = _nms_doctor_report_new ();
  static const NmsDoctorWanted nothing = { NULL, NULL, NULL };
  g_autoptr(GPtrArray) targets = nms_install_targets (env, browsers, NMS_INSTALL_USER);
  g_autoptr(GPtrArray) system = nms_install_targets (env, browsers, NMS_INSTALL_SYSTEM);
  g_autoptr(NmsConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  guint i;

  report->env = env;
  report->wanted = wanted ? wanted : &nothing;
  /* One list, so that a file two browsers share is checked once. */
  for (i = 0; i < system->len; i++)
    {
      NmsInstallTarget *target = g_steal_pointer (&system->pdata[i]);
      guint j;
      for (j = 0; j < targets->len && !target->shared; j++)
        target->shared = g_str_equal (((NmsInstallTarget *) targets->pdata[j])->path, target->path);
      g_ptr_array_add (targets, target);
    }
  g_ptr_array_set_free_func (system, NULL);

  config = nms_config_load (NULL, &error);
  if (config == NULL)
    _nms_doctor_add (report, NULL, "config", NMS_DOCTOR_FAIL, g_strdup ("edit or remove the file named above"),
                     "%s", error->message);
  else
    {
      /* Before the launches: the host tightens the data root itself. */
      _nms_doctor_check_data_root (report, config->root);
    }
  check_extensions (report);
  for (i = 0; i < browsers->len; i++)
    check_browser (report, targets, browsers->pdata[i], named);
  if (config != NULL)
    _nms_doctor_check_stores (report, config->root);
  report->env = NULL;
  report->wanted = NULL;
  return report;
}
