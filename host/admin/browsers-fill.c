/* SPDX-License-Identifier: MIT */
/* browsers-fill.c: the browser table (browsers.c) written out for what
 * cannot call nmstore to learn it: the macOS and Windows installer
 * scripts, filled at build time from templates, and the README's test.
 * Without this those scripts kept their own copy of the list, which
 * drifted from the table whenever a browser was added. */
#include "install-private.h"
#include "base/error.h"

#include <string.h>

#define TOKEN_PREFIX "@NMSTORE_BROWSERS_"

static const char *
family_folder (NmsInstallFamily family)
{
  /* The folders of share/nmstore/manifests (manifest/CMakeLists.txt). */
  return family == NMS_INSTALL_FIREFOX_FAMILY ? "firefox" : "chromium";
}

/* The scripts quote each folder or key in double quotes; a character
 * that the shell or PowerShell expands there (forbidden) would change
 * what runs. */
static gboolean
check_quotable (const NmsInstallBrowser *browser, const char *what, const char *value,
                const char *forbidden, GError **error)
{
  if (strpbrk (value, forbidden) == NULL)
    return TRUE;
  g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
               "the %s \"%s\" of browser \"%s\" in host/admin/browsers.c holds one of %s, which the installer "
               "script would expand inside its double quotes; write the entry without them",
               what, value, browser->name, forbidden);
  return FALSE;
}

/* macOS: one line of the postinstall script per browser with a folder;
 * `place` is the script's own function. A browser's support folder
 * appears once it has run, so only those are written, except where the
 * table says always (Firefox, as the script did before the table). */
static gboolean
macos_lines (GString *out, GError **error)
{
  gsize i;

  for (i = 0; i < nms_install_n_browsers (); i++)
    {
      const NmsInstallBrowser *b = nms_install_browser_nth (i);

      if (b->macos_dir == NULL)
        continue;
      if (!check_quotable (b, "macOS folder", b->macos_dir, "\"$`\\", error))
        return FALSE;
      if (b->macos_always)
        g_string_append_printf (out, "place %s \"$support/%s/NativeMessagingHosts\"\n",
                                family_folder (b->family), b->macos_dir);
      else
        g_string_append_printf (out, "if [ -d \"$support/%s\" ]; then place %s \"$support/%s/NativeMessagingHosts\"; fi\n",
                                b->macos_dir, family_folder (b->family), b->macos_dir);
    }
  return TRUE;
}

/* Windows: the HKCU keys of one family as a PowerShell list. */
static gboolean
windows_keys (GString *out, NmsInstallFamily family, GError **error)
{
  gsize i;
  gboolean first = TRUE;

  for (i = 0; i < nms_install_n_browsers (); i++)
    {
      const NmsInstallBrowser *b = nms_install_browser_nth (i);

      if (b->windows_key == NULL || b->family != family)
        continue;
      if (!check_quotable (b, "Windows key", b->windows_key, "\"$`", error))
        return FALSE;
      g_string_append_printf (out, "%s\"HKCU:\\%s\"", first ? "" : ", ", b->windows_key);
      first = FALSE;
    }
  return TRUE;
}

char *
_nms_install_browsers_fill (const char *text, GError **error)
{
  g_autoptr(GString) filled = g_string_new (text);
  g_autoptr(GString) macos = g_string_new (NULL);
  g_autoptr(GString) win_chromium = g_string_new (NULL);
  g_autoptr(GString) win_firefox = g_string_new (NULL);
  const char *left;

  if (!macos_lines (macos, error) || !windows_keys (win_chromium, NMS_INSTALL_CHROMIUM_FAMILY, error)
      || !windows_keys (win_firefox, NMS_INSTALL_FIREFOX_FAMILY, error))
    return NULL;
  /* The macOS token stands on a line of its own, which the lines replace. */
  g_string_replace (filled, TOKEN_PREFIX "MACOS@\n", macos->str, 0);
  g_string_replace (filled, TOKEN_PREFIX "WINDOWS_CHROMIUM@", win_chromium->str, 0);
  g_string_replace (filled, TOKEN_PREFIX "WINDOWS_FIREFOX@", win_firefox->str, 0);
  if ((left = strstr (filled->str, TOKEN_PREFIX)) != NULL)
    {
      g_autofree char *token = g_strndup (left, strcspn (left, "\n"));
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "unknown token in the template: %s; the known ones are " TOKEN_PREFIX "MACOS@ (alone on "
                   "its line), " TOKEN_PREFIX "WINDOWS_CHROMIUM@ and " TOKEN_PREFIX "WINDOWS_FIREFOX@", token);
      return NULL;
    }
  return g_string_free (g_steal_pointer (&filled), FALSE);
}

char *
_nms_install_browsers_table (void)
{
  GString *out = g_string_new (NULL);
  gsize i;

  for (i = 0; i < nms_install_n_browsers (); i++)
    {
      const NmsInstallBrowser *b = nms_install_browser_nth (i);

      /* The README writes Firefox-family folders from ~ (they are under
       * $HOME), the others relative to $XDG_CONFIG_HOME. */
      g_string_append_printf (out, "%s\t%s\t%s%s/\t%s\t%s\t%s\n", b->name, family_folder (b->family),
                              b->family == NMS_INSTALL_FIREFOX_FAMILY ? "~/" : "", b->user_dir,
                              b->macos_dir ? b->macos_dir : "-", b->windows_key ? b->windows_key : "-",
                              b->flatpak_id ? b->flatpak_id : "-");
    }
  return g_string_free (out, FALSE);
}
