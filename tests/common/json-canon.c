/* json-canon.c: a test tool. For each line of JSON text on stdin, prints
 * one line: the value's canonical text as nmstore stores it (json.h) and,
 * after a tab, Chrome's byte count of it; or "!" and the error. The
 * browser-side tests compare it with JavaScript's own JSON.stringify. */
#define _GNU_SOURCE /* getline */
#include "nmstore/json.h"

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
      NmsJson doc;

      if (line[n - 1] == '\n')
        line[--n] = '\0';
      g_string_truncate (out, 0);
      if (!nms_json_parse_const (line, (gsize) n, &doc, &error))
        printf ("!%s\n", error->message);
      else
        {
          nms_json_write (out, doc.root, doc.stuffed);
          printf ("%s\t%" G_GUINT64_FORMAT "\n", out->str, nms_json_chrome_length (out->str, out->len));
          nms_json_clear (&doc);
        }
    }
  free (line);
  return 0;
}
