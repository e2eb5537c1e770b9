/* SPDX-License-Identifier: MIT */
/* install.c: the browser table, and writing, finding and removing the
 * host manifest in each browser's folders (install.h).
 *
 * The folders come from each vendor's documentation and, where that is
 * silent (Brave, Vivaldi, Opera), from traces of which folder the browser
 * actually read; the README's "Installing" section lists them. */
#include "nmstore/install.h"
#include "nmstore/error.h"
#include "nmstore/origin.h"
#include "nmstore/os.h"
#include "nmstore/version.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#define MANIFEST_FILE NMS_HOST_NAME ".json"
#define MANIFEST_DESCRIPTION "nmstore: a durable key-value store for browser extensions"
#define CHROMIUM_LEAF "NativeMessagingHosts"
#define SYSTEM_LEAF "native-messaging-hosts"
#define MAX_SYSTEM_DIRS 2
#define MAX_BINARIES 4

typedef struct {
  const char *base;      /* absolute, under the root prefix */
  gboolean    if_exists; /* written only where base already exists */
} SystemDir;

struct _NmsInstallBrowser {
  const char      *name;
  const char      *title;
  NmsInstallFamily family;
  const char      *user_dir;      /* under $XDG_CONFIG_HOME, or $HOME for Firefox */
  const char      *config_dir;    /* the folder that shows the browser is used */
  SystemDir        system[MAX_SYSTEM_DIRS];
  const char      *binaries[MAX_BINARIES];
  const char      *flatpak_id;
  const char      *flatpak_dir;   /* under ~/.var/app/ID */
};

static const NmsInstallBrowser browsers[] = {
  { "chrome", "Google Chrome", NMS_INSTALL_CHROMIUM_FAMILY,
    "google-chrome/" CHROMIUM_LEAF, "google-chrome",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/google/chrome/chrome", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable" },
    "com.google.Chrome", "config/google-chrome/" CHROMIUM_LEAF },
  { "chromium", "Chromium", NMS_INSTALL_CHROMIUM_FAMILY,
    "chromium/" CHROMIUM_LEAF, "chromium",
    { { "/etc/chromium", FALSE } },
    { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium" },
    "org.chromium.Chromium", "config/chromium/" CHROMIUM_LEAF },
  { "edge", "Microsoft Edge", NMS_INSTALL_CHROMIUM_FAMILY,
    "microsoft-edge/" CHROMIUM_LEAF, "microsoft-edge",
    { { "/etc/opt/edge", FALSE } },
    { "/opt/microsoft/msedge/msedge", "/usr/bin/microsoft-edge", "/usr/bin/microsoft-edge-stable" },
    "com.microsoft.Edge", "config/microsoft-edge/" CHROMIUM_LEAF },
  /* Brave, Vivaldi and Opera read no system folder of their own. */
  { "brave", "Brave", NMS_INSTALL_CHROMIUM_FAMILY,
    "BraveSoftware/Brave-Browser/" CHROMIUM_LEAF, "BraveSoftware/Brave-Browser",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/brave.com/brave/brave", "/usr/bin/brave-browser" },
    "com.brave.Browser", "config/BraveSoftware/Brave-Browser/" CHROMIUM_LEAF },
  { "vivaldi", "Vivaldi", NMS_INSTALL_CHROMIUM_FAMILY,
    "vivaldi/" CHROMIUM_LEAF, "vivaldi",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/vivaldi/vivaldi", "/usr/bin/vivaldi", "/usr/bin/vivaldi-stable" },
    "com.vivaldi.Vivaldi", "config/vivaldi/" CHROMIUM_LEAF },
  /* Opera keeps its profile in ~/.config/opera but reads Chrome's folder. */
  { "opera", "Opera", NMS_INSTALL_CHROMIUM_FAMILY,
    "google-chrome/" CHROMIUM_LEAF, "opera",
    { { "/etc/opt/chrome", FALSE } },
    { "/usr/bin/opera", "/usr/lib/x86_64-linux-gnu/opera/opera" },
    "com.opera.Opera", "config/google-chrome/" CHROMIUM_LEAF },
  /* Debian's Firefox reads /usr/lib, Fedora's /usr/lib64. */
  { "firefox", "Firefox", NMS_INSTALL_FIREFOX_FAMILY,
    ".mozilla/" SYSTEM_LEAF, ".mozilla",
    { { "/usr/lib/mozilla", FALSE }, { "/usr/lib64/mozilla", TRUE } },
    { "/usr/bin/firefox", "/usr/bin/firefox-esr", "/usr/lib/firefox/firefox", "/usr/lib/firefox-esr/firefox-esr" },
    "org.mozilla.firefox", ".mozilla/" SYSTEM_LEAF },
};

static char *
env_dir (const char *name)
{
  const char *value = g_getenv (name);

  return value != NULL && g_path_is_absolute (value) ? g_canonicalize_filename (value, NULL) : NULL;
}

NmsInstallEnv *
nms_install_env_new (void)
{
  NmsInstallEnv *env = g_new0 (NmsInstallEnv, 1);

  env->home = env_dir ("HOME");
  if (env->home == NULL)
    env->home = g_strdup (g_get_home_dir ());
  env->config_home = env_dir ("XDG_CONFIG_HOME");
  if (env->config_home == NULL)
    env->config_home = g_build_filename (env->home, ".config", NULL);
  env->root = env_dir (NMS_INSTALL_ROOT_ENV);
  if (env->root == NULL)
    env->root = g_strdup ("/");
  return env;
}

void
nms_install_env_free (NmsInstallEnv *env)
{
  if (env == NULL)
    return;
  g_free (env->home);
  g_free (env->config_home);
  g_free (env->root);
  g_free (env);
}

gsize
nms_install_n_browsers (void)
{
  return G_N_ELEMENTS (browsers);
}

const NmsInstallBrowser *
nms_install_browser_nth (gsize i)
{
  return i < G_N_ELEMENTS (browsers) ? &browsers[i] : NULL;
}

const NmsInstallBrowser *
nms_install_browser_find (const char *name)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (browsers); i++)
    if (g_ascii_strcasecmp (browsers[i].name, name) == 0)
      return &browsers[i];
  return NULL;
}

const char *
nms_install_browser_name (const NmsInstallBrowser *browser)
{
  return browser->name;
}

const char *
nms_install_browser_title (const NmsInstallBrowser *browser)
{
  return browser->title;
}

const char *
nms_install_browser_flatpak_id (const NmsInstallBrowser *browser)
{
  return browser->flatpak_id;
}

NmsInstallFamily
nms_install_browser_family (const NmsInstallBrowser *browser)
{
  return browser->family;
}

const char *
nms_install_scope_name (NmsInstallScope scope)
{
  switch (scope)
    {
    case NMS_INSTALL_USER: return "user";
    case NMS_INSTALL_SYSTEM: return "system";
    case NMS_INSTALL_FLATPAK: return "flatpak";
    }
  return "?";
}

GPtrArray *
nms_install_parse_browsers (const char *spec, gboolean *named, GError **error)
{
  g_autoptr(GPtrArray) chosen = g_ptr_array_new ();
  g_auto(GStrv) names = NULL;
  gsize i, j;

  *named = spec != NULL && !g_str_equal (spec, "detected");
  if (!*named || g_str_equal (spec, "all"))
    {
      for (i = 0; i < G_N_ELEMENTS (browsers); i++)
        g_ptr_array_add (chosen, (gpointer) &browsers[i]);
      return g_steal_pointer (&chosen);
    }
  names = g_strsplit (spec, ",", -1);
  for (i = 0; i < G_N_ELEMENTS (browsers); i++)
    for (j = 0; names[j] != NULL; j++)
      if (g_ascii_strcasecmp (g_strstrip (names[j]), browsers[i].name) == 0)
        {
          g_ptr_array_add (chosen, (gpointer) &browsers[i]);
          break;
        }
  for (j = 0; names[j] != NULL; j++)
    if (nms_install_browser_find (names[j]) == NULL)
      {
        g_autoptr(GString) known = g_string_new (NULL);
        for (i = 0; i < G_N_ELEMENTS (browsers); i++)
          g_string_append_printf (known, "%s%s", i ? ", " : "", browsers[i].name);
        g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                     "unknown browser \"%s\"; use %s, all or detected", names[j], known->str);
        return NULL;
      }
  return g_steal_pointer (&chosen);
}

static char *
under_root (const NmsInstallEnv *env, const char *path)
{
  return g_build_filename (env->root, path, NULL);
}

static gboolean
installed_on_system (const NmsInstallEnv *env, const NmsInstallBrowser *browser)
{
  gsize i;

  for (i = 0; i < MAX_BINARIES && browser->binaries[i] != NULL; i++)
    {
      g_autofree char *path = under_root (env, browser->binaries[i]);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  return FALSE;
}

static const char *
user_base (const NmsInstallEnv *env, const NmsInstallBrowser *browser)
{
  return browser->family == NMS_INSTALL_FIREFOX_FAMILY ? env->home : env->config_home;
}

static NmsInstallTarget *
target_new (const NmsInstallBrowser *browser, NmsInstallScope scope, char *dir)
{
  NmsInstallTarget *target = g_new0 (NmsInstallTarget, 1);

  target->browser = browser;
  target->scope = scope;
  target->dir = dir;
  target->path = g_build_filename (dir, MANIFEST_FILE, NULL);
  return target;
}

static void
add_target (GPtrArray *targets, NmsInstallTarget *target)
{
  guint i;

  for (i = 0; i < targets->len; i++)
    if (g_str_equal (((NmsInstallTarget *) targets->pdata[i])->path, target->path))
      target->shared = TRUE;
  g_ptr_array_add (targets, target);
}

static void
add_browser_targets (GPtrArray *targets, const NmsInstallEnv *env,
                     const NmsInstallBrowser *browser, NmsInstallScope scope)
{
  gboolean on_system = installed_on_system (env, browser);
  NmsInstallTarget *target;
  gsize i;

  if (scope == NMS_INSTALL_USER)
    {
      g_autofree char *config = g_build_filename (user_base (env, browser), browser->config_dir, NULL);
      g_autofree char *app = g_build_filename (env->home, ".var", "app", browser->flatpak_id, NULL);

      target = target_new (browser, scope, g_build_filename (user_base (env, browser), browser->user_dir, NULL));
      target->detected = on_system || g_file_test (config, G_FILE_TEST_IS_DIR);
      add_target (targets, target);

      /* A Flatpak browser sees only its own folder, so the manifest goes
       * there and names a script there that leaves the sandbox. */
      if (g_file_test (app, G_FILE_TEST_IS_DIR))
        {
          target = target_new (browser, NMS_INSTALL_FLATPAK, g_build_filename (app, browser->flatpak_dir, NULL));
          target->wrapper = g_build_filename (app, "data", "nmstore", "nmstore-host", NULL);
          target->detected = TRUE;
          add_target (targets, target);
        }
      return;
    }

  for (i = 0; i < MAX_SYSTEM_DIRS && browser->system[i].base != NULL; i++)
    {
      g_autofree char *base = under_root (env, browser->system[i].base);
      gboolean base_exists = g_file_test (base, G_FILE_TEST_IS_DIR);

      if (browser->system[i].if_exists && !base_exists)
        continue;
      target = target_new (browser, scope, g_build_filename (base, SYSTEM_LEAF, NULL));
      /* A vendor folder that had to exist already is not ours to remove. */
      if (!browser->system[i].if_exists)
        target->base = g_steal_pointer (&base);
      target->detected = on_system || base_exists;
      add_target (targets, target);
    }
}

GPtrArray *
nms_install_targets (const NmsInstallEnv *env, GPtrArray *chosen, NmsInstallScope scope)
{
  GPtrArray *targets = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_install_target_free);
  guint i;

  for (i = 0; i < chosen->len; i++)
    add_browser_targets (targets, env, chosen->pdata[i], scope);
  return targets;
}

void
nms_install_target_free (NmsInstallTarget *target)
{
  if (target == NULL)
    return;
  g_free (target->dir);
  g_free (target->path);
  g_free (target->base);
  g_free (target->wrapper);
  g_free (target);
}

gboolean
nms_install_check_extension_id (const char *id, GError **error)
{
  if (nms_origin_is_chromium_id (id))
    return TRUE;
  g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
               "\"%s\" is not an extension id: an id is 32 letters from a to p, as chrome://extensions shows it", id);
  return FALSE;
}

gboolean
nms_install_check_firefox_id (const char *id, GError **error)
{
  const char *p;
  gboolean ok = *id != '\0' && strlen (id) <= 255;

  for (p = id; ok && *p != '\0'; p++)
    ok = g_ascii_isalnum (*p) || strchr ("@.-_+{}", *p) != NULL;
  ok = ok && (strchr (id, '@') != NULL || (id[0] == '{' && id[strlen (id) - 1] == '}'));
  if (!ok)
    g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                 "\"%s\" is not a Firefox add-on id: use name@domain or a {UUID}, as about:debugging shows it", id);
  return ok;
}

/* The ids the manifest allows, in order: for the Chromium family bare
 * extension ids (the companion first, then manifest->extension_ids), for
 * Firefox add-on ids (manifest->firefox_id, else the companion's). */
static GPtrArray *
requested_ids (NmsInstallFamily family, const NmsInstallManifest *manifest, GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  const char **id;

  if (family == NMS_INSTALL_FIREFOX_FAMILY)
    {
      const char *addon = manifest->firefox_id ? manifest->firefox_id : NMS_COMPANION_FIREFOX_ID;
      if (!nms_install_check_firefox_id (addon, error))
        return NULL;
      g_ptr_array_add (ids, g_strdup (addon));
      return g_steal_pointer (&ids);
    }
  g_ptr_array_add (ids, g_strdup (NMS_COMPANION_EXTENSION_ID));
  for (id = manifest->extension_ids; id != NULL && *id != NULL; id++)
    {
      if (!nms_install_check_extension_id (*id, error))
        return NULL;
      g_ptr_array_add (ids, g_strdup (*id));
    }
  return g_steal_pointer (&ids);
}

static void
add_unique (GPtrArray *ids, const char *id)
{
  if (!g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL))
    g_ptr_array_add (ids, g_strdup (id));
}

static char *
manifest_json_for_ids (NmsInstallFamily family, const char *host_path, GPtrArray *ids)
{
  cJSON *root = cJSON_CreateObject ();
  cJSON *allowed;
  char *text, *result;
  guint i;

  cJSON_AddStringToObject (root, "name", NMS_HOST_NAME);
  cJSON_AddStringToObject (root, "description", MANIFEST_DESCRIPTION);
  cJSON_AddStringToObject (root, "path", host_path);
  cJSON_AddStringToObject (root, "type", "stdio");
  if (family == NMS_INSTALL_FIREFOX_FAMILY)
    {
      allowed = cJSON_AddArrayToObject (root, "allowed_extensions");
      for (i = 0; i < ids->len; i++)
        cJSON_AddItemToArray (allowed, cJSON_CreateString (ids->pdata[i]));
    }
  else
    {
      allowed = cJSON_AddArrayToObject (root, "allowed_origins");
      for (i = 0; i < ids->len; i++)
        {
          g_autofree char *origin = g_strdup_printf ("chrome-extension://%s/", (char *) ids->pdata[i]);
          cJSON_AddItemToArray (allowed, cJSON_CreateString (origin));
        }
    }
  text = cJSON_Print (root);
  cJSON_Delete (root);
  result = g_strconcat (text, "\n", NULL);
  cJSON_free (text);
  return result;
}

char *
nms_install_manifest_json (NmsInstallFamily family, const char *host_path,
                           const NmsInstallManifest *manifest, GError **error)
{
  g_autoptr(GPtrArray) requested = requested_ids (family, manifest, error);
  g_autoptr(GPtrArray) ids = NULL;
  guint i;

  if (requested == NULL)
    return NULL;
  ids = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; i < requested->len; i++)
    add_unique (ids, requested->pdata[i]);
  return manifest_json_for_ids (family, host_path, ids);
}

/* Adds to ids every well-formed id the manifest already at path allows.
 * A person who once ran `install --extension-id X` must not lose X when
 * the doctor's fix, or a package upgrade's postinst, runs a plain
 * `install`: the browser would then refuse X access. A missing or broken
 * manifest keeps nothing; that is the case install is there to repair. */
static void
add_allowed_ids (GPtrArray *ids, NmsInstallFamily family, const char *path)
{
  gboolean firefox = family == NMS_INSTALL_FIREFOX_FAMILY;
  g_autofree char *text = NULL;
  const cJSON *list, *item;
  cJSON *json;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  json = cJSON_Parse (text);
  list = cJSON_GetObjectItemCaseSensitive (json, firefox ? "allowed_extensions" : "allowed_origins");
  if (!cJSON_IsArray (list))
    list = NULL;
  cJSON_ArrayForEach (item, list)
    {
      const char *value = cJSON_IsString (item) ? item->valuestring : NULL;

      if (value == NULL)
        continue;
      if (firefox && nms_install_check_firefox_id (value, NULL))
        add_unique (ids, value);
      else if (!firefox && g_str_has_prefix (value, "chrome-extension://")
               && strlen (value) == strlen ("chrome-extension://") + 32 + 1
               && g_str_has_suffix (value, "/"))
        {
          g_autofree char *id = g_strndup (value + strlen ("chrome-extension://"), 32);
          if (nms_origin_is_chromium_id (id))
            add_unique (ids, id);
        }
    }
  cJSON_Delete (json);
}

static gboolean
set_file_error (GError **error, int errsv, const char *what, const char *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv), "cannot %s %s: %s%s", what, path,
               g_strerror (errsv),
               errsv == EACCES || errsv == EPERM || errsv == EROFS
                 ? "; a system-wide install needs root (sudo), or use --user" : "");
  return FALSE;
}

/* Creates dir and its missing parents readable by everybody: a browser
 * may run as another user than the one who installed, and nmstore's own
 * umask (077, for the store) would otherwise make them private. Only the
 * folders made here get a mode; existing ones are left as they are. */
static gboolean
make_public_dirs (const char *dir, GError **error)
{
  g_autofree char *parent = NULL;
  g_autoptr(GError) local = NULL;

  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    return TRUE;
  parent = g_path_get_dirname (dir);
  if (!g_str_equal (parent, dir) && !make_public_dirs (parent, error))
    return FALSE;
  if (!nms_os_make_public_dir (dir, 0755, &local))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s%s", local->message,
                   strstr (local->message, "ermission") != NULL
                     ? "; a system-wide install needs root (sudo), or use --user" : "");
      return FALSE;
    }
  return TRUE;
}

/* Atomic: a browser reading at any moment sees the old file or the new.
 * The new file is created exclusively and given its mode through its
 * descriptor before it is renamed into place. */
static gboolean
write_public_file (const char *path, const char *text, int mode, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (!nms_os_write_file_atomic (path, text, strlen (text), mode, &local))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s%s", local->message,
                   strstr (local->message, "ermission") != NULL
                     ? "; a system-wide install needs root (sudo), or use --user" : "");
      return FALSE;
    }
  return TRUE;
}

static char *
wrapper_script (const char *binary)
{
  g_autofree char *quoted = g_shell_quote (binary);

  return g_strdup_printf ("#!/bin/sh\n"
                          "# Written by nmstore install. A Flatpak browser cannot run programs of the\n"
                          "# host system; flatpak-spawn --host starts nmstore outside the sandbox and\n"
                          "# passes stdin and stdout through. The app needs permission for it:\n"
                          "#   flatpak override --user --talk-name=org.freedesktop.Flatpak APP-ID\n"
                          "exec flatpak-spawn --host %s \"$@\"\n", quoted);
}

gboolean
nms_install_write (const NmsInstallTarget *target, const NmsInstallManifest *manifest, GError **error)
{
  g_autofree char *json = NULL;
  g_autoptr(GPtrArray) requested = NULL, ids = NULL;
  const char *host_path = manifest->binary;
  guint i;

  if (!g_path_is_absolute (manifest->binary))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "the host's path \"%s\" is relative; browsers on Linux and macOS need an absolute path",
                   manifest->binary);
      return FALSE;
    }
  if (target->wrapper != NULL)
    {
      g_autofree char *script = wrapper_script (manifest->binary);
      g_autofree char *wrapper_dir = g_path_get_dirname (target->wrapper);

      if (!make_public_dirs (wrapper_dir, error) || !write_public_file (target->wrapper, script, 0755, error))
        return FALSE;
      host_path = target->wrapper;
    }
  /* Chromium: the companion first, then what was allowed, then the new
   * ids; Firefox: what was allowed, then the add-on asked for. */
  requested = requested_ids (target->browser->family, manifest, error);
  if (requested == NULL)
    return FALSE;
  ids = g_ptr_array_new_with_free_func (g_free);
  if (target->browser->family != NMS_INSTALL_FIREFOX_FAMILY)
    add_unique (ids, NMS_COMPANION_EXTENSION_ID);
  add_allowed_ids (ids, target->browser->family, target->path);
  for (i = 0; i < requested->len; i++)
    add_unique (ids, requested->pdata[i]);
  json = manifest_json_for_ids (target->browser->family, host_path, ids);
  return json != NULL && make_public_dirs (target->dir, error)
         && write_public_file (target->path, json, 0644, error);
}

static gboolean
remove_file (const char *path, gboolean *removed, GError **error)
{
  if (g_unlink (path) == 0)
    {
      *removed = TRUE;
      return TRUE;
    }
  return errno == ENOENT || set_file_error (error, errno, "remove", path);
}

/* Only folders that are empty go: one the browser or a person put other
 * things in stays. */
static void
remove_empty_dir (const char *path)
{
  if (path != NULL)
    (void) g_rmdir (path);
}

gboolean
nms_install_remove (const NmsInstallTarget *target, gboolean *removed, GError **error)
{
  *removed = FALSE;
  if (!remove_file (target->path, removed, error))
    return FALSE;
  if (target->wrapper != NULL)
    {
      g_autofree char *wrapper_dir = g_path_get_dirname (target->wrapper);
      gboolean wrapper_removed = FALSE;

      if (!remove_file (target->wrapper, &wrapper_removed, error))
        return FALSE;
      remove_empty_dir (wrapper_dir);
    }
  remove_empty_dir (target->dir);
  remove_empty_dir (target->base);
  return TRUE;
}
