/* SPDX-License-Identifier: MIT */
/* private-home.c: a private HOME and system root for the suites whose
 * commands write into them (install, extensions, doctor), so that no test
 * touches the real ones and each suite sets them up the same way. */
#include "harness.h"

#include <glib/gstdio.h>

char *
nmt_make_private_home (char **home, char **root, char **data)
{
  char *top = nmt_make_home ();
  g_autofree char *home_dir = g_build_filename (top, "home", NULL);
  g_autofree char *root_dir = g_build_filename (top, "root", NULL);

  assert_int_equal (g_mkdir (home_dir, 0755), 0);
  assert_int_equal (g_mkdir (root_dir, 0755), 0);
  g_setenv ("HOME", home_dir, TRUE);
  /* Unset, the config folder is HOME's: the one the test looks in. */
  g_unsetenv ("XDG_CONFIG_HOME");
  g_setenv ("NMSTORE_SYSTEM_ROOT", root_dir, TRUE);
  if (home != NULL)
    *home = g_steal_pointer (&home_dir);
  if (root != NULL)
    *root = g_steal_pointer (&root_dir);
  if (data != NULL)
    *data = g_build_filename (top, "data", NULL);
  return top;
}
