/* SPDX-License-Identifier: MIT */
/* browsers.c: the browser table and the targets it yields: which file
 * each browser reads in which scope (install.h). What goes into those
 * files is install.c's.
 *
 * The folders come from the vendors' documentation and from peers'
 * installers (KeePassXC, Bitwarden, browserpass); where those are silent
 * (Brave, Vivaldi, Opera), from traces of which folder the browser
 * actually read. The README's "Installing" table cites each row. The
 * macOS folders and Windows keys are those KeePassXC's and Bitwarden's
 * installers write; they reach the macOS and Windows installer scripts
 * through browsers-fill.c, so this table is the one list of browsers. */
#include "install-private.h"
#include "base/error.h"

#include <string.h>

#define CHROMIUM_LEAF "NativeMessagingHosts"
#define SYSTEM_LEAF "native-messaging-hosts"

static const NmsInstallBrowser browsers[] = {
  { "chrome", "Google Chrome", NMS_INSTALL_CHROMIUM_FAMILY,
    "google-chrome/" CHROMIUM_LEAF, "google-chrome",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/google/chrome/chrome", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable" },
    "com.google.Chrome", "config/google-chrome/" CHROMIUM_LEAF, NULL,
    "Google/Chrome", FALSE, "Software\\Google\\Chrome" },
  /* Chrome's other channels keep their own profile folder (channel
   * suffix) but read the same system folder as the stable channel. */
  { "chrome-beta", "Google Chrome Beta", NMS_INSTALL_CHROMIUM_FAMILY,
    "google-chrome-beta/" CHROMIUM_LEAF, "google-chrome-beta",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/google/chrome-beta/chrome", "/usr/bin/google-chrome-beta" },
    NULL, NULL, NULL,
    "Google/Chrome Beta", FALSE, NULL },
  { "chrome-dev", "Google Chrome Dev", NMS_INSTALL_CHROMIUM_FAMILY,
    "google-chrome-unstable/" CHROMIUM_LEAF, "google-chrome-unstable",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/google/chrome-unstable/chrome", "/usr/bin/google-chrome-unstable" },
    NULL, NULL, NULL,
    "Google/Chrome Dev", FALSE, NULL },
  { "chrome-canary", "Google Chrome Canary", NMS_INSTALL_CHROMIUM_FAMILY,
    "google-chrome-canary/" CHROMIUM_LEAF, "google-chrome-canary",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/google/chrome-canary/chrome", "/usr/bin/google-chrome-canary" },
    NULL, NULL, NULL,
    "Google/Chrome Canary", FALSE, NULL },
  { "chromium", "Chromium", NMS_INSTALL_CHROMIUM_FAMILY,
    "chromium/" CHROMIUM_LEAF, "chromium",
    { { "/etc/chromium", FALSE } },
    { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium" },
    "org.chromium.Chromium", "config/chromium/" CHROMIUM_LEAF, "chromium",
    "Chromium", FALSE, "Software\\Chromium" },
  { "edge", "Microsoft Edge", NMS_INSTALL_CHROMIUM_FAMILY,
    "microsoft-edge/" CHROMIUM_LEAF, "microsoft-edge",
    { { "/etc/opt/edge", FALSE } },
    { "/opt/microsoft/msedge/msedge", "/usr/bin/microsoft-edge", "/usr/bin/microsoft-edge-stable" },
    "com.microsoft.Edge", "config/microsoft-edge/" CHROMIUM_LEAF, NULL,
    "Microsoft Edge", FALSE, "Software\\Microsoft\\Edge" },
  { "edge-beta", "Microsoft Edge Beta", NMS_INSTALL_CHROMIUM_FAMILY,
    "microsoft-edge-beta/" CHROMIUM_LEAF, "microsoft-edge-beta",
    { { "/etc/opt/edge", FALSE } },
    { "/opt/microsoft/msedge-beta/msedge", "/usr/bin/microsoft-edge-beta" },
    NULL, NULL, NULL,
    "Microsoft Edge Beta", FALSE, NULL },
  { "edge-dev", "Microsoft Edge Dev", NMS_INSTALL_CHROMIUM_FAMILY,
    "microsoft-edge-dev/" CHROMIUM_LEAF, "microsoft-edge-dev",
    { { "/etc/opt/edge", FALSE } },
    { "/opt/microsoft/msedge-dev/msedge", "/usr/bin/microsoft-edge-dev" },
    NULL, NULL, NULL,
    "Microsoft Edge Dev", FALSE, NULL },
  /* Brave, Vivaldi and Opera read no system folder of their own. */
  { "brave", "Brave", NMS_INSTALL_CHROMIUM_FAMILY,
    "BraveSoftware/Brave-Browser/" CHROMIUM_LEAF, "BraveSoftware/Brave-Browser",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/brave.com/brave/brave", "/usr/bin/brave-browser" },
    "com.brave.Browser", "config/BraveSoftware/Brave-Browser/" CHROMIUM_LEAF, NULL,
    "BraveSoftware/Brave-Browser", FALSE, NULL },
  { "vivaldi", "Vivaldi", NMS_INSTALL_CHROMIUM_FAMILY,
    "vivaldi/" CHROMIUM_LEAF, "vivaldi",
    { { "/etc/opt/chrome", FALSE } },
    { "/opt/vivaldi/vivaldi", "/usr/bin/vivaldi", "/usr/bin/vivaldi-stable" },
    "com.vivaldi.Vivaldi", "config/vivaldi/" CHROMIUM_LEAF, NULL,
    "Vivaldi", FALSE, NULL },
  /* Opera keeps its profile in ~/.config/opera but reads Chrome's folder. */
  { "opera", "Opera", NMS_INSTALL_CHROMIUM_FAMILY,
    "google-chrome/" CHROMIUM_LEAF, "opera",
    { { "/etc/opt/chrome", FALSE } },
    { "/usr/bin/opera", "/usr/lib/x86_64-linux-gnu/opera/opera" },
    "com.opera.Opera", "config/google-chrome/" CHROMIUM_LEAF, NULL,
    NULL, FALSE, NULL },
  /* Debian's Firefox reads /usr/lib, Fedora's /usr/lib64. */
  { "firefox", "Firefox", NMS_INSTALL_FIREFOX_FAMILY,
    ".mozilla/" SYSTEM_LEAF, ".mozilla",
    { { "/usr/lib/mozilla", FALSE }, { "/usr/lib64/mozilla", TRUE } },
    { "/usr/bin/firefox", "/usr/bin/firefox-esr", "/usr/lib/firefox/firefox", "/usr/lib/firefox-esr/firefox-esr" },
    "org.mozilla.firefox", ".mozilla/" SYSTEM_LEAF, "firefox",
    "Mozilla", TRUE, "Software\\Mozilla" },
  /* LibreWolf renamed Mozilla's folders; its system folder is written
   * only where LibreWolf's own /usr/lib/librewolf is there. */
  { "librewolf", "LibreWolf", NMS_INSTALL_FIREFOX_FAMILY,
    ".librewolf/" SYSTEM_LEAF, ".librewolf",
    { { "/usr/lib/librewolf", TRUE } },
    { "/usr/bin/librewolf", "/usr/lib/librewolf/librewolf", "/usr/share/librewolf/librewolf" },
    "io.gitlab.librewolf-community", ".librewolf/" SYSTEM_LEAF, NULL,
    "LibreWolf", FALSE, NULL },
};

/* Not in the table: the folder of a browser nmstore does not know,
 * which the person names with --dir. */
static const NmsInstallBrowser dir_browser = {
  "dir", "The browser whose folder --dir names", NMS_INSTALL_CHROMIUM_FAMILY,
  NULL, NULL, { { NULL, FALSE } }, { NULL }, NULL, NULL, NULL, NULL, FALSE, NULL
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
  g_free (env->dir);
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

const NmsInstallBrowser *
nms_install_dir_browser (void)
{
  return &dir_browser;
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

const char *
nms_install_browser_snap (const NmsInstallBrowser *browser)
{
  return browser->snap;
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

char *
nms_install_browser_names (const char *separator)
{
  GString *known = g_string_new (NULL);
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (browsers); i++)
    g_string_append_printf (known, "%s%s", i ? separator : "", browsers[i].name);
  return g_string_free (known, FALSE);
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
        g_autofree char *known = nms_install_browser_names (", ");
        g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                     "unknown browser \"%s\"; use %s, all or detected (or --dir PATH for another "
                     "Chromium-based browser)", names[j], known);
        return NULL;
      }
  return g_steal_pointer (&chosen);
}

gboolean
nms_install_check_dir (const char *dir, gboolean must_exist, GError **error)
{
  g_autofree char *parent = NULL, *base = NULL;

  if (!g_path_is_absolute (dir) || strstr (dir, "/../") != NULL || g_str_has_suffix (dir, "/.."))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "--dir \"%s\" is not an absolute path without \"..\"; give the browser's "
                   "NativeMessagingHosts folder in full, e.g. ~/.config/BROWSER/NativeMessagingHosts", dir);
      return FALSE;
    }
  base = g_path_get_basename (dir);
  /* Chromium reads the user folder NativeMessagingHosts and the system
   * folder native-messaging-hosts; any other name is a mistake (most
   * often the profile folder itself) that would pass silently. */
  if (!g_str_equal (base, "NativeMessagingHosts") && !g_str_equal (base, "native-messaging-hosts"))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "--dir %s: the folder must be the browser's NativeMessagingHosts (or a system "
                   "native-messaging-hosts) folder, e.g. %s/NativeMessagingHosts", dir, dir);
      return FALSE;
    }
  parent = g_path_get_dirname (dir);
  if (must_exist && !g_file_test (parent, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "--dir %s: %s does not exist; is this the browser's profile folder? Start the browser "
                   "once, or check the path (chrome://version shows the profile path)", dir, parent);
      return FALSE;
    }
  return TRUE;
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

  for (i = 0; i < _NMS_INSTALL_MAX_BINARIES && browser->binaries[i] != NULL; i++)
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

char *
nms_install_snap_dir (const NmsInstallEnv *env, const NmsInstallBrowser *browser)
{
  g_autofree char *dir = NULL;

  if (browser->snap == NULL)
    return NULL;
  dir = g_build_filename (env->home, "snap", browser->snap, NULL);
  return g_file_test (dir, G_FILE_TEST_IS_DIR) ? g_steal_pointer (&dir) : NULL;
}

static NmsInstallTarget *
target_new (const NmsInstallBrowser *browser, NmsInstallScope scope, char *dir)
{
  NmsInstallTarget *target = g_new0 (NmsInstallTarget, 1);

  target->browser = browser;
  target->scope = scope;
  target->dir = dir;
  target->path = g_build_filename (dir, _NMS_INSTALL_MANIFEST_FILE, NULL);
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
  gboolean on_system;
  NmsInstallTarget *target;
  gsize i;

  if (browser == &dir_browser)
    {
      /* --dir is one folder, whatever the scope; nothing to detect. */
      if (env->dir != NULL && scope != NMS_INSTALL_FLATPAK)
        {
          target = target_new (browser, NMS_INSTALL_USER, g_strdup (env->dir));
          target->detected = TRUE;
          add_target (targets, target);
        }
      return;
    }
  on_system = installed_on_system (env, browser);
  if (scope == NMS_INSTALL_USER)
    {
      g_autofree char *config = g_build_filename (user_base (env, browser), browser->config_dir, NULL);
      g_autofree char *snap = nms_install_snap_dir (env, browser);

      target = target_new (browser, scope, g_build_filename (user_base (env, browser), browser->user_dir, NULL));
      target->detected = on_system || snap != NULL || g_file_test (config, G_FILE_TEST_IS_DIR);
      add_target (targets, target);

      /* A Flatpak browser sees only its own folder, so the manifest goes
       * there and names a script there that leaves the sandbox. */
      if (browser->flatpak_id != NULL)
        {
          g_autofree char *app = g_build_filename (env->home, ".var", "app", browser->flatpak_id, NULL);

          if (g_file_test (app, G_FILE_TEST_IS_DIR))
            {
              target = target_new (browser, NMS_INSTALL_FLATPAK, g_build_filename (app, browser->flatpak_dir, NULL));
              target->wrapper = g_build_filename (app, "data", "nmstore", "nmstore-host", NULL);
              target->detected = TRUE;
              add_target (targets, target);
            }
        }
      return;
    }

  for (i = 0; i < _NMS_INSTALL_MAX_SYSTEM_DIRS && browser->system[i].base != NULL; i++)
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
