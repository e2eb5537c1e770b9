/* SPDX-License-Identifier: MIT */
/* cli-install.c: the install, uninstall and doctor commands; thin fronts
 * over install.h and doctor.h. */
#include "cli-private.h"

#include "nmstore/doctor.h"
#include "nmstore/install.h"
#include "nmstore/os.h"

#include <stdio.h>

typedef struct {
  gboolean  user;
  gboolean  system;
  char     *browser;
  char    **extension_ids;
  char     *firefox_id;
  char     *binary;
} InstallArgs;

static void
install_args_clear (InstallArgs *args)
{
  g_free (args->browser);
  g_strfreev (args->extension_ids);
  g_free (args->firefox_id);
  g_free (args->binary);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (InstallArgs, install_args_clear)

static GOptionContext *
install_context (const char *summary, InstallArgs *args, gboolean writes)
{
  GOptionContext *context = g_option_context_new (summary);
  GOptionEntry entries[] = {
    { "browser", 'b', 0, G_OPTION_ARG_STRING, &args->browser,
      "chrome, chromium, edge, brave, vivaldi, opera, firefox (comma-separated), all, or detected", "B,..." },
    { "user", 0, 0, G_OPTION_ARG_NONE, &args->user, "This user's browser folders (the default)", NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &args->system,
      "The system's folders, for every user (needs root); $" NMS_INSTALL_ROOT_ENV " prefixes them", NULL },
    { "extension-id", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->extension_ids,
      "Also allow this Chromium extension id (repeatable)", "ID" },
    { "firefox-id", 0, 0, G_OPTION_ARG_STRING, &args->firefox_id,
      "Allow this Firefox add-on id instead of the companion's", "ID" },
    { "binary", 0, 0, G_OPTION_ARG_FILENAME, &args->binary,
      "The host program the manifests name (default: this nmstore)", "PATH" },
    { NULL }
  };
  /* The doctor checks both scopes and writes nothing: --browser only. */
  if (!writes)
    entries[1].long_name = NULL;
  g_option_context_add_main_entries (context, entries, NULL);
  return context;
}

static int
parse_install_args (GOptionContext *context, int argc, char **argv, InstallArgs *args,
                    NmsInstallScope *scope)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return nms_cli_fail_usage (context, error->message);
  if (argc != 1)
    return nms_cli_fail_usage (context, "this command takes options only");
  if (args->user && args->system)
    return nms_cli_fail_usage (context, "choose --user or --system, not both");
  *scope = args->system ? NMS_INSTALL_SYSTEM : NMS_INSTALL_USER;
  return EXIT_SUCCESS;
}

static char *
describe_target (const NmsInstallTarget *target)
{
  return g_strdup_printf ("%s/%s", nms_install_browser_name (target->browser), nms_install_scope_name (target->scope));
}

int
nms_cli_install (int argc, char **argv)
{
  g_auto(InstallArgs) args = { 0 };
  g_autoptr(GOptionContext) context = install_context ("- write the host's manifest where each browser looks for it",
                                                      &args, TRUE);
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(GPtrArray) browsers = NULL, targets = NULL;
  g_autoptr(GHashTable) written = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GError) error = NULL;
  NmsInstallManifest manifest = { 0 };
  NmsInstallScope scope;
  gboolean named;
  int status = EXIT_SUCCESS;
  guint i;

  if ((status = parse_install_args (context, argc, argv, &args, &scope)) != EXIT_SUCCESS)
    return status;
  if (args.binary == NULL && (args.binary = nms_os_executable_path ()) == NULL)
    return nms_cli_fail_usage (context, "cannot tell where this nmstore is; pass --binary /absolute/path/to/nmstore");
  if (!g_path_is_absolute (args.binary))
    return nms_cli_fail_usage (context, "--binary must be an absolute path: browsers on Linux and macOS need one");
  for (i = 0; args.extension_ids != NULL && args.extension_ids[i] != NULL; i++)
    if (!nms_install_check_extension_id (args.extension_ids[i], &error))
      return nms_cli_fail_usage (context, error->message);
  if (args.firefox_id != NULL && !nms_install_check_firefox_id (args.firefox_id, &error))
    return nms_cli_fail_usage (context, error->message);
  if ((browsers = nms_install_parse_browsers (args.browser, &named, &error)) == NULL)
    return nms_cli_fail_usage (context, error->message);
  manifest.binary = args.binary;
  manifest.extension_ids = (const char **) args.extension_ids;
  manifest.firefox_id = args.firefox_id;

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
          printf ("wrote   %-16s %s\n", what, target->path);
          if (target->scope == NMS_INSTALL_FLATPAK)
            printf ("        the Flatpak app must be allowed to start nmstore outside its sandbox: "
                     "flatpak override --user --talk-name=org.freedesktop.Flatpak %s\n",
                     nms_install_browser_flatpak_id (target->browser));
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
nms_cli_uninstall (int argc, char **argv)
{
  g_auto(InstallArgs) args = { 0 };
  g_autoptr(GOptionContext) context = install_context ("- remove the host's manifest from each browser's folders",
                                                      &args, TRUE);
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(GPtrArray) browsers = NULL, targets = NULL;
  g_autoptr(GError) error = NULL;
  NmsInstallScope scope;
  gboolean named;
  int status;
  guint i, n_removed = 0;

  if ((status = parse_install_args (context, argc, argv, &args, &scope)) != EXIT_SUCCESS)
    return status;
  /* Removing looks everywhere: a manifest left behind by a browser that
   * has since gone is still worth removing. */
  if ((browsers = nms_install_parse_browsers (args.browser ? args.browser : "all", &named, &error)) == NULL)
    return nms_cli_fail_usage (context, error->message);
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
nms_cli_doctor (int argc, char **argv)
{
  g_auto(InstallArgs) args = { 0 };
  gboolean json = FALSE;
  GOptionEntry extra[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the checks as JSON", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = install_context ("- check every browser's manifest and start the host as it would",
                                                      &args, FALSE);
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(GPtrArray) browsers = NULL;
  g_autoptr(NmsDoctorReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gboolean named;

  g_option_context_add_main_entries (context, extra, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return nms_cli_fail_usage (context, error->message);
  if (argc != 1)
    return nms_cli_fail_usage (context, "doctor takes options only");
  if ((browsers = nms_install_parse_browsers (args.browser, &named, &error)) == NULL)
    return nms_cli_fail_usage (context, error->message);
  /* Only browsers the person listed must have a manifest; with "all"
   * those that are not installed are skipped, as with "detected". */
  named = named && !g_str_equal (args.browser, "all");
  report = nms_doctor_run (env, browsers, named);
  text = json ? nms_doctor_report_json (report) : nms_doctor_report_text (report);
  fputs (text, stdout);
  return nms_doctor_report_ok (report) ? EXIT_SUCCESS : EXIT_FAILURE;
}
