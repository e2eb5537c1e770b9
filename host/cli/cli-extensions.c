/* SPDX-License-Identifier: MIT */
/* cli-extensions.c: `nmstore extensions add|rm|ls`, a thin front over
 * extensions.h. Registering changes no manifest by itself: the next
 * `nmstore install` (which add suggests) writes the ids in. */
#include "cli-common.h"
#include "cli-private.h"

#include "admin/extensions.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  gboolean  system;
  char    **extension_ids;
  char    **firefox_ids;
} ExtensionsArgs;

static void
extensions_args_clear (ExtensionsArgs *args)
{
  g_strfreev (args->extension_ids);
  g_strfreev (args->firefox_ids);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ExtensionsArgs, extensions_args_clear)

static GOptionContext *
extensions_context (const char *parameter, const char *summary, ExtensionsArgs *args, gboolean takes_ids)
{
  GOptionContext *context = g_option_context_new (parameter);
  GOptionEntry scope[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &args->system,
      "The system's folder /etc/nmstore/extensions.d (needs root; $" NMS_INSTALL_ROOT_ENV " prefixes it) "
      "instead of this user's", NULL },
    { NULL }
  };
  GOptionEntry ids[] = {
    { "extension-id", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->extension_ids,
      "A Chromium extension id the extension uses (repeatable)", "ID" },
    { "firefox-id", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args->firefox_ids,
      "A Firefox add-on id the extension uses (repeatable)", "ID" },
    { NULL }
  };

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, scope, NULL);
  if (takes_ids)
    g_option_context_add_main_entries (context, ids, NULL);
  return context;
}

static void
print_extension (const NmsExtension *extension)
{
  g_autofree char *chromium = NULL, *firefox = NULL;

  if (extension->error != NULL)
    {
      printf ("%-7s %-24s refused: %s\n", nms_install_scope_name (extension->scope), extension->name, extension->error);
      return;
    }
  chromium = g_strjoinv (",", extension->chromium_ids);
  firefox = g_strjoinv (",", extension->firefox_ids);
  printf ("%-7s %-24s chromium-ids=%s firefox-ids=%s %s\n", nms_install_scope_name (extension->scope),
          extension->name, chromium, firefox, extension->path);
}

int
_nms_cli_extensions (int argc, char **argv)
{
  const char *verb = argc > 1 ? argv[1] : NULL;
  gboolean add = g_strcmp0 (verb, "add") == 0, rm = g_strcmp0 (verb, "rm") == 0, ls = g_strcmp0 (verb, "ls") == 0;
  g_auto(ExtensionsArgs) args = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(NmsInstallEnv) env = nms_install_env_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  NmsInstallScope scope;

  context = extensions_context (add ? "NAME - register an extension's ids in NAME.conf"
                                : rm ? "NAME - remove the drop-in NAME.conf"
                                : ls ? "- list the registered extensions"
                                : "add NAME|rm NAME|ls - register the extensions whose ids install allows",
                                "Registers an extension's ids in a drop-in file NAME.conf, which every later "
                                "`nmstore install` allows\n(this user's $XDG_CONFIG_HOME/nmstore/extensions.d, "
                                "or with --system /etc/nmstore/extensions.d).",
                                &args, !rm && !ls);
  /* `extensions --help` (what the man page is made from) lists every
   * option; GOption prints it and exits 0. */
  if (g_strcmp0 (verb, "--help") == 0 || g_strcmp0 (verb, "-h") == 0)
    (void) g_option_context_parse (context, &argc, &argv, NULL);
  if (!add && !rm && !ls)
    return _nms_cli_fail_usage (context, verb ? "unknown extensions command; use add, rm or ls"
                                             : "extensions needs add, rm or ls");
  /* The verb stands where the program name would: GOption skips it,
   * and names the command by it in its messages. */
  argc--;
  argv++;
  argv[0] = name = g_strconcat ("extensions ", verb, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  scope = args.system ? NMS_INSTALL_SYSTEM : NMS_INSTALL_USER;
  if (ls)
    {
      g_autoptr(GPtrArray) extensions = NULL;
      gboolean ok = TRUE;
      guint i;

      if (argc != 1)
        return _nms_cli_fail_usage (context, "extensions ls takes no name");
      extensions = nms_extensions_load (env);
      for (i = 0; i < extensions->len; i++)
        {
          const NmsExtension *extension = extensions->pdata[i];
          if (!args.system || extension->scope == NMS_INSTALL_SYSTEM)
            print_extension (extension);
          ok = ok && extension->error == NULL;
        }
      if (extensions->len == 0)
        {
          g_autofree char *user = nms_extensions_dir (env, NMS_INSTALL_USER);
          g_autofree char *system = nms_extensions_dir (env, NMS_INSTALL_SYSTEM);
          printf ("no extension is registered (in %s or %s)\n", user, system);
        }
      return ok ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  if (argc != 2)
    return _nms_cli_fail_usage (context, add ? "extensions add takes one NAME" : "extensions rm takes one NAME");
  /* Every usage fault (name, ids) before anything is written. */
  if (!nms_extensions_check_name (argv[1], &error))
    return _nms_cli_fail_usage (context, error->message);
  if (add)
    {
      guint i;

      for (i = 0; args.extension_ids != NULL && args.extension_ids[i] != NULL; i++)
        if (!nms_install_check_extension_id (args.extension_ids[i], &error))
          return _nms_cli_fail_usage (context, error->message);
      for (i = 0; args.firefox_ids != NULL && args.firefox_ids[i] != NULL; i++)
        if (!nms_install_check_firefox_id (args.firefox_ids[i], &error))
          return _nms_cli_fail_usage (context, error->message);
      if (args.extension_ids == NULL && args.firefox_ids == NULL)
        return _nms_cli_fail_usage (context, "extensions add needs --extension-id ID or --firefox-id ID");
      if (!nms_extensions_add (env, scope, argv[1], (const char *const *) args.extension_ids,
                               (const char *const *) args.firefox_ids, &error))
        return _nms_cli_fail_error (error);
      {
        g_autofree char *dir = nms_extensions_dir (env, scope);
        printf ("registered %s in %s; run `nmstore install%s` to allow its ids\n", argv[1], dir,
                args.system ? " --system" : "");
      }
      return EXIT_SUCCESS;
    }
  if (!nms_extensions_remove (env, scope, argv[1], &error))
    return _nms_cli_fail_error (error);
  printf ("removed %s; manifests keep its ids until `nmstore uninstall%s` and `nmstore install%s`\n", argv[1],
          args.system ? " --system" : "", args.system ? " --system" : "");
  return EXIT_SUCCESS;
}
