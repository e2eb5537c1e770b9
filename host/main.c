/* main.c: one executable, two fronts. A browser starts nmstore with an
 * extension origin (Chromium) or a manifest path and add-on id (Firefox)
 * and gets the host; a person gets the command line. */
#include "nmstore/cli.h"
#include "nmstore/os.h"

int
main (int argc, char **argv)
{
  nms_os_prepare_stdio ();
  nms_os_private_umask ();
  return nms_cli_main (argc, argv);
}
