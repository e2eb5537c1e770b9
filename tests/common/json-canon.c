/* SPDX-License-Identifier: MIT */
/* json-canon.c: a test tool. For each line of JSON text on stdin, prints
 * one line: the value's canonical text as nmstore stores it (json.h) and,
 * after a tab, Chrome's byte count of it; or "!" and the error. The
 * browser-side tests compare it with JavaScript's own JSON.stringify. */
#define _GNU_SOURCE /* getline */
#include "json/json.h"

#include <stdio.h>
#include <string.h>

int
main (void)
{
  g_autoptr(GString) out = g_string_new (NULL);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  while ((n = getline (&line, &cap, stdin)) > 0)
    {
      g_autoptr(GError) error = NULL;

      if (line[n - 1] == '\n')
        line[--n] = '\0';
      g_string_truncate (out, 0);
      /* The reader a set's values go through (json-scan.c). */
      if (!nms_json_canonicalize (line, (gsize) n, out, &error))
        printf ("!%s\n", error->message);
      else
        printf ("%s\t%" G_GUINT64_FORMAT "\n", out->str, nms_json_chrome_length (out->str, out->len));
    }
  free (line);
  return 0;
}
