/* SPDX-License-Identifier: MIT */
/* cli-install.c: the install, uninstall and doctor commands; thin fronts
 * over install.h, extensions.h and doctor.h. */
#include "cli-common.h"
#include "cli-private.h"

#include "admin/doctor.h"
#include "admin/extensions.h"
#include "admin/install.h"
#include "base/os.h"

#include <stdio.h>

/* Which options a command takes: each lists only its own in --help. */
enum {
  TAKES_SCOPE = 1 << 0,   /* --user, --system */
  TAKES_IDS = 1 << 1,     /* --extension-id, --firefox-id */
  TAKES_BINARY = 1 << 2,  /* --binary */
};

typedef struct {
  gboolean  user;
  gboolean  system;
  char     *browser;
  char     *dir;
  char    **extension_ids;
  char    **firefox_ids;
  char     *binary;
  char     *browser_help;
} InstallArgs;

static void
install_args_clear (InstallArgs *args)
{
  g_free (args->browser);
  g_free (args->dir);
  g_strfreev (args->extension_ids);
  g_strfreev (args->firefox_ids);
  g_free (args->binary);
  g_free (args->browser_help);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (InstallArgs, install_args_clear)

static GOptionContext *
install_context (const char *summary, InstallArgs *args, guint takes)
{
  GOptionContext *context = g_option_context_new (summary);
  g_autofree char *names = nms_install_browser_names (", ");
  GOptionEntry browser[] = {
    { "browser", 'b', 0, G_OPTION_ARG_STRING, &args->browser, NULL, "B,..." },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &args->dir,
      "Instead of --browser: the NativeMessagingHosts folder of another Chromium-based browser", "PATH" },
    { NULL }
  };
  GOptionEntry scope[] = {
    { "user", 0, 0, G_OPTION_ARG_NONE, &args->user, "This user's browser folders (the default)", NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &args->system,
      "The system's folders, for every user (needs root); $" NMS_INSTALL_ROOT_ENV " prefixes them", NULL },
    { NULL }
  };
  GOptionEntry ids[] = {
    { "extension-id", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->extension_ids,
      "Add this Chromium extension id to allowed_origins (repeatable)", "ID" },
    { "firefox-id", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->firefox_ids,
      "Add this Firefox add-on id to allowed_extensions (repeatable)", "ID" },
    { NULL }
  };
  GOptionEntry binary[] = {
    { "binary", 0, 0, G_OPTION_ARG_FILENAME, &args->binary,
      "The host program the manifests name (default: this nmstore)", "PATH" },
    { NULL }
  };

  /* The list comes from the browser table itself, so it cannot go stale. */
  args->browser_help = g_strdup_printf ("%s (comma-separated), all, or detected", names);
  browser[0].description = args->browser_help;
  g_option_context_add_main_entries (context, browser, NULL);
  if (takes & TAKES_SCOPE)
    g_option_context_add_main_entries (context, scope, NULL);
  if (takes & TAKES_IDS)
    g_option_context_add_main_entries (context, ids, NULL);
  if (takes & TAKES_BINARY)
    g_option_context_add_main_entries (context, binary, NULL);
  return context;
}

/* Parses and checks every option; any fault is a usage error (exit 2). */
static int
parse_install_args (GOptionContext *context, int argc, char **argv, InstallArgs *args, gboolean dir_must_exist,
                    NmsInstallScope *scope)
{
  g_autoptr(GError) error = NULL;
  guint i;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (argc != 1)
    return _nms_cli_fail_usage (context, "this command takes options only");
  if (args->user && args->system)
    return _nms_cli_fail_usage (context, "choose --user or --system, not both");
  if (args->dir != NULL && (args->browser != NULL || args->system))
    return _nms_cli_fail_usage (context, "--dir names one folder: use it without --browser and --system");
  if (args->dir != NULL && !nms_install_check_dir (args->dir, dir_must_exist, &error))
    return _nms_cli_fail_usage (context, error->message);
  for (i = 0; args->extension_ids != NULL && args->extension_ids[i] != NULL; i++)
    if (!nms_install_check_extension_id (args->extension_ids[i], &error))
      return _nms_cli_fail_usage (context, error->message);
  for (i = 0; args->firefox_ids != NULL && args->firefox_ids[i] != NULL; i++)
    if (!nms_install_check_firefox_id (args->firefox_ids[i], &error))
      return _nms_cli_fail_usage (context, error->message);
  *scope = args->system ? NMS_INSTALL_SYSTEM : NMS_INSTALL_USER;
  return EXIT_SUCCESS;
}

/* The browsers --browser (or --dir) chose; NULL after a usage error. */
static GPtrArray *
chosen_browsers (NmsInstallEnv *env, const InstallArgs *args, const char *fallback, gboolean *named,
                 GError **error)
{
  GPtrArray *one;

  if (args->dir == NULL)
    return nms_install_parse_browsers (args->browser ? args->browser : fallback, named, error);
  env->dir = g_canonicalize_filename (args->dir, NULL);
  one = g_ptr_array_new ();
  g_ptr_array_add (one, (gpointer) nms_install_dir_browser ());
  *named = TRUE;
  return one;
}

static char *
describe_target (const NmsInstallTarget *target)
{
  return g_strdup_printf ("%s/%s", nms_install_browser_name (target->browser), nms_install_scope_name (target->scope));
}

/* The ids of the drop-ins that serve `scope`; refused ones are said on
 * stderr and make the command fail, but do not stop the others from
 * being used. */
static gboolean
registered_ids (const NmsInstallEnv *env, NmsInstallScope scope, GPtrArray *chromium_ids, GPtrArray *firefox_ids)
{
  g_autoptr(GPtrArray) extensions = nms_extensions_load (env);
  gboolean ok = TRUE;
  guint i;

  /* The system's manifests serve every user: one user's registrations
   * (root's, under sudo) do not belong in them. */
  if (scope == NMS_INSTALL_SYSTEM)
    for (i = extensions->len; i > 0; i--)
      if (((NmsExtension *) extensions->pdata[i - 1])->scope != NMS_INSTALL_SYSTEM)
        g_ptr_array_remove_index (extensions, i - 1);
  for (i = 0; i < extensions->len; i++)
    {
      const NmsExtension *extension = extensions->pdata[i];
      if (extension->error != NULL)
        {
          fprintf (stderr, "nmstore: %s\n", extension->error);
          ok = FALSE;
        }
      else
        printf ("allows  %-16s registered in %s\n", extension->name, extension->path);
    }
  nms_extensions_collect_ids (extensions, chromium_ids, firefox_ids);
  return ok;
}

static void
add_ids (GPtrArray *ids, char **more)
{
  for (; more != NULL && *more != NULL; more++)
    if (!g_ptr_array_find_with_equal_func (ids, *more, g_str_equal, NULL))
      g_ptr_array_add (ids, g_strdup (*more));
}

static void
print_written (const NmsInstallEnv *env, const NmsInstallTarget *target)
{
  g_autofree char *what = describe_target (target);
  g_autofree char *snap = nms_install_snap_dir (env, target->browser);

  printf ("wrote   %-16s %s\n", what, target->path);
  if (target->scope == NMS_INSTALL_FLATPAK)
    printf ("        the Flatpak app must be allowed to start nmstore outside its sandbox: "
            "flatpak override --user --talk-name=org.freedesktop.Flatpak %s\n",
            nms_install_browser_flatpak_id (target->browser));
  else if (snap != NULL && target->scope == NMS_INSTALL_USER)
    printf ("        %s is a snap (%s); run `nmstore doctor --browser %s` for what that means\n",
            nms_install_browser_title (target->browser), snap, nms_install_browser_name (target->browser));
}

int
_nms_cli_install (int argc, char **argv)
{
  g_auto(InstallArgs) args = { 0 };
  g_autoptr(GOptionContext) context = install_context ("- write the host's manifest where each browser looks for it",
                                                      &args, TAKES_SCOPE | TAKES_IDS | TAKES_BINARY);
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(GPtrArray) browsers = NULL, targets = NULL;
  g_autoptr(GPtrArray) chromium_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) firefox_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) written = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GError) error = NULL;
  NmsInstallManifest manifest = { 0 };
  NmsInstallScope scope;
  gboolean named;
  int status = EXIT_SUCCESS;
  guint i;

  if ((status = parse_install_args (context, argc, argv, &args, TRUE, &scope)) != EXIT_SUCCESS)
    return status;
  if (args.binary == NULL && (args.binary = nms_os_executable_path ()) == NULL)
    return _nms_cli_fail_usage (context, "cannot tell where this nmstore is; pass --binary /absolute/path/to/nmstore");
  if (!g_path_is_absolute (args.binary))
    return _nms_cli_fail_usage (context, "--binary must be an absolute path: browsers on Linux and macOS need one");
  if ((browsers = chosen_browsers (env, &args, NULL, &named, &error)) == NULL)
    return _nms_cli_fail_usage (context, error->message);
  if (!registered_ids (env, scope, chromium_ids, firefox_ids))
    status = EXIT_FAILURE;
  add_ids (chromium_ids, args.extension_ids);
  add_ids (firefox_ids, args.firefox_ids);
  g_ptr_array_add (chromium_ids, NULL);
  g_ptr_array_add (firefox_ids, NULL);
  manifest.binary = args.binary;
  manifest.extension_ids = (const char **) chromium_ids->pdata;
  manifest.firefox_ids = (const char **) firefox_ids->pdata;

  targets = nms_install_targets (env, browsers, scope);
  for (i = 0; i < targets->len; i++)
    {
      const NmsInstallTarget *target = targets->pdata[i];
      g_autofree char *what = describe_target (target);

      if (g_hash_table_contains (written, target->path))
        printf ("shared  %-16s %s\n", what, target->path);
      else if (!target->detected && !named)
        printf ("skipped %-16s %s is not installed here; name it with --browser %s to write anyway\n",
                 what, nms_install_browser_title (target->browser), nms_install_browser_name (target->browser));
      else if (!nms_install_write (target, &manifest, &error))
        {
          fprintf (stderr, "nmstore: %s: %s\n", what, error->message);
          g_clear_error (&error);
          status = EXIT_FAILURE;
        }
      else
        {
          g_hash_table_add (written, target->path);
          print_written (env, target);
        }
    }
  if (status == EXIT_SUCCESS && g_hash_table_size (written) == 0)
    {
      fprintf (stderr, "nmstore: no browser found in the %s folders; name one with --browser NAME, or use --browser all\n",
                  nms_install_scope_name (scope));
      status = EXIT_FAILURE;
    }
  return status;
}

int
_nms_cli_uninstall (int argc, char **argv)
{
  g_auto(InstallArgs) args = { 0 };
  g_autoptr(GOptionContext) context = install_context ("- remove the host's manifest from each browser's folders",
                                                      &args, TAKES_SCOPE);
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(GPtrArray) browsers = NULL, targets = NULL;
  g_autoptr(GError) error = NULL;
  NmsInstallScope scope;
  gboolean named;
  int status;
  guint i, n_removed = 0;

  if ((status = parse_install_args (context, argc, argv, &args, FALSE, &scope)) != EXIT_SUCCESS)
    return status;
  /* Removing looks everywhere: a manifest left behind by a browser that
   * has since gone is still worth removing. */
  if ((browsers = chosen_browsers (env, &args, "all", &named, &error)) == NULL)
    return _nms_cli_fail_usage (context, error->message);
  targets = nms_install_targets (env, browsers, scope);
  for (i = 0; i < targets->len; i++)
    {
      const NmsInstallTarget *target = targets->pdata[i];
      g_autofree char *what = describe_target (target);
      gboolean removed = FALSE;

      if (!nms_install_remove (target, &removed, &error))
        {
          fprintf (stderr, "nmstore: %s: %s\n", what, error->message);
          g_clear_error (&error);
          status = EXIT_FAILURE;
        }
      else if (removed)
        {
          n_removed++;
          printf ("removed %-16s %s\n", what, target->path);
        }
    }
  if (n_removed == 0 && status == EXIT_SUCCESS)
    printf ("nothing to remove: no %s manifest of nmstore was found\n", nms_install_scope_name (scope));
  return status;
}

int
_nms_cli_doctor (int argc, char **argv)
{
  g_auto(InstallArgs) args = { 0 };
  gboolean json = FALSE;
  GOptionEntry extra[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the checks as JSON", NULL },
    { NULL }
  };
  /* The doctor checks both scopes and writes nothing; --extension-id
   * and --firefox-id name ids every manifest must allow. */
  g_autoptr(GOptionContext) context = install_context ("- check every browser's manifest and start the host as it would",
                                                      &args, TAKES_IDS);
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(GPtrArray) browsers = NULL;
  g_autoptr(GPtrArray) chromium_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) firefox_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) extensions = NULL;
  g_autoptr(NmsDoctorReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  NmsDoctorWanted wanted = { 0 };
  NmsInstallScope scope;
  gboolean named;
  int status;

  g_option_context_add_main_entries (context, extra, NULL);
  if ((status = parse_install_args (context, argc, argv, &args, FALSE, &scope)) != EXIT_SUCCESS)
    return status;
  if ((browsers = chosen_browsers (env, &args, NULL, &named, &error)) == NULL)
    return _nms_cli_fail_usage (context, error->message);
  /* Only browsers the person listed must have a manifest; with "all"
   * those that are not installed are skipped, as with "detected". */
  named = named && (args.browser == NULL || !g_str_equal (args.browser, "all"));
  extensions = nms_extensions_load (env);
  add_ids (chromium_ids, args.extension_ids);
  add_ids (firefox_ids, args.firefox_ids);
  wanted.chromium_ids = chromium_ids;
  wanted.firefox_ids = firefox_ids;
  wanted.extensions = extensions;
  report = nms_doctor_run (env, browsers, named, &wanted);
  text = json ? nms_doctor_report_json (report) : nms_doctor_report_text (report);
  fputs (text, stdout);
  return nms_doctor_report_ok (report) ? EXIT_SUCCESS : EXIT_FAILURE;
}
