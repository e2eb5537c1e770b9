/* SPDX-License-Identifier: MIT */
/* main.c: one executable, two fronts. A browser starts nmstore with an
 * extension origin (Chromium) or a manifest path and add-on id (Firefox)
 * and gets the host; a person gets the command line. */
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "base/os.h"

#include <stdio.h>

/* Descriptors nmstore needs free beyond stdin, stdout and stderr; see
 * nms_os_ensure_free_fds. A subscribed host on an encrypted origin with
 * a log file holds 7 beyond stdio, and opens a few more for moments
 * (a key file, a backup, a D-Bus connection to the keyring). */
#define FREE_FDS_NEEDED 16

static int
refuse (GError *error)
{
  fprintf (stderr, "nmstore: %s\n", error->message);
  g_error_free (error);
  return 1;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;

  nms_os_prepare_stdio ();
  nms_os_private_umask ();
  /* Before GLib makes its first main context: with no descriptor left
   * it aborts the process instead of returning an error. */
  if (!nms_os_ensure_free_fds (FREE_FDS_NEEDED, &error))
    return refuse (error);
  /* Once, before any thread: libsodium picks its implementations and
   * random source here. */
  if (!nms_crypto_init (NULL))
    {
      fputs ("nmstore: libsodium could not initialise; check that /dev/urandom is readable\n", stderr);
      return 1;
    }
  if (!nms_store_init (&error))
    return refuse (error);
  return nms_cli_main (argc, argv);
}
