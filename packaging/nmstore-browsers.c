/* SPDX-License-Identifier: MIT */
/* nmstore-browsers: a build-time tool, never installed. It writes the
 * browser table (host/admin/browsers.c) into the macOS and Windows installer
 * scripts, which run where no nmstore can be asked, and prints the table
 * for the test that holds the README's table to it.
 *
 *   nmstore-browsers fill TEMPLATE OUTPUT [MODE]   (MODE: octal, e.g. 755)
 *   nmstore-browsers table */
#include "admin/install-private.h"

#include <stdio.h>
#include <stdlib.h>

static int
usage (void)
{
  fprintf (stderr, "usage: nmstore-browsers fill TEMPLATE OUTPUT [MODE] | nmstore-browsers table\n"
                   "(a build tool: CMake runs it; see packaging/browsers.cmake)\n");
  return 2;
}

static int
fill (const char *template_path, const char *output, const char *mode_text)
{
  g_autofree char *text = NULL, *filled = NULL;
  g_autoptr(GError) error = NULL;
  guint64 mode = 0644;

  if (mode_text != NULL && !g_ascii_string_to_unsigned (mode_text, 8, 0, 0777, &mode, &error))
    {
      fprintf (stderr, "nmstore-browsers: mode %s: %s; give it in octal, e.g. 755\n", mode_text, error->message);
      return 2;
    }
  if (!g_file_get_contents (template_path, &text, NULL, &error)
      || (filled = _nms_install_browsers_fill (text, &error)) == NULL
      || !g_file_set_contents_full (output, filled, -1, G_FILE_SET_CONTENTS_CONSISTENT, (int) mode, &error))
    {
      fprintf (stderr, "nmstore-browsers: %s: %s\n", template_path, error->message);
      return 1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc >= 4 && argc <= 5 && g_str_equal (argv[1], "fill"))
    return fill (argv[2], argv[3], argc == 5 ? argv[4] : NULL);
  if (argc == 2 && g_str_equal (argv[1], "table"))
    {
      g_autofree char *table = _nms_install_browsers_table ();
      fputs (table, stdout);
      return fflush (stdout) == 0 ? 0 : 1;
    }
  return usage ();
}
