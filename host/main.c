/* main.c: one executable, two fronts. A browser starts nmstore with an
 * extension origin (Chromium) or a manifest path and add-on id (Firefox)
 * and gets the host; a person gets the command line. */
#include "nmstore/cli.h"
#include "nmstore/crypto.h"
#include "nmstore/os.h"

#include <stdio.h>

int
main (int argc, char **argv)
{
  nms_os_prepare_stdio ();
  nms_os_private_umask ();
  /* Once, before any thread: libsodium picks its implementations and
   * random source here. */
  if (!nms_crypto_init (NULL))
    {
      fputs ("nmstore: libsodium could not initialise; check that /dev/urandom is readable\n", stderr);
      return 1;
    }
  return nms_cli_main (argc, argv);
}
