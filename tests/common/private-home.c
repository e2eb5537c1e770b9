/* SPDX-License-Identifier: MIT */
/* private-home.c: a private HOME and system root for the suites whose
 * commands write into them (install, extensions, doctor), so that no test
 * touches the real ones and each suite sets them up the same way. */
#include "harness.h"

#include <glib/gstdio.h>

void
nmt_private_home_make (NmtPrivateHome *place)
{
  place->top = nmt_make_home ();
  place->home = g_build_filename (place->top, "home", NULL);
  place->root = g_build_filename (place->top, "root", NULL);
  place->data = g_build_filename (place->top, "data", NULL);
  assert_int_equal (g_mkdir (place->home, 0755), 0);
  assert_int_equal (g_mkdir (place->root, 0755), 0);
  g_setenv ("HOME", place->home, TRUE);
  /* Unset, the config folder is HOME's: the one the test looks in. */
  g_unsetenv ("XDG_CONFIG_HOME");
  g_setenv ("NMSTORE_SYSTEM_ROOT", place->root, TRUE);
}

void
nmt_private_home_clear (NmtPrivateHome *place)
{
  nmt_remove_tree (place->top);
  g_clear_pointer (&place->top, g_free);
  g_clear_pointer (&place->home, g_free);
  g_clear_pointer (&place->root, g_free);
  g_clear_pointer (&place->data, g_free);
}

int
nmt_private_home_setup (void **state)
{
  NmtPrivateHome *place = g_new0 (NmtPrivateHome, 1);

  nmt_private_home_make (place);
  *state = place;
  return 0;
}

int
nmt_private_home_teardown (void **state)
{
  nmt_private_home_clear (*state);
  g_free (*state);
  return 0;
}
