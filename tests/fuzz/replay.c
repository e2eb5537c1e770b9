/* SPDX-License-Identifier: MIT */
/* replay.c: a main() for the fuzz targets in an ordinary build: runs the
 * target once on every file under the directories given as arguments (the
 * seed corpus and the regressions, crashing inputs kept from fuzzing).
 * A crash, sanitizer report or failed assertion fails the ctest. */
#include "fuzz.h"

#include <glib.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
  guint files = 0;

  LLVMFuzzerInitialize (&argc, &argv);
  for (int a = 1; a < argc; a++)
    {
      g_autoptr(GDir) dir = g_dir_open (argv[a], 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (argv[a], name, NULL);
          g_autofree char *data = NULL;
          gsize len;

          if (!g_file_test (path, G_FILE_TEST_IS_REGULAR) || !g_file_get_contents (path, &data, &len, NULL))
            continue;
          LLVMFuzzerTestOneInput ((const guint8 *) data, len);
          files++;
        }
    }
  printf ("replayed %u inputs\n", files);
  return files > 0 ? 0 : 1;
}
