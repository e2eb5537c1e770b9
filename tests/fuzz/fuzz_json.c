/* SPDX-License-Identifier: MIT */
/* fuzz_json.c: libFuzzer target for the value format (json.c and
 * json-scan.c). Whatever text parses, its canonical form must parse again
 * to the same canonical form, and merging a value with itself must give
 * the value back. The text reader
 * (json-scan.c) is held to the cJSON one: what it accepts, cJSON accepts,
 * with the same canonical text; what cJSON rejects, it rejects; and a
 * text that is not UTF-8 it refuses for its first bad byte. */
#include "fuzz.h"
#include "base/error.h"
#include "json/json.h"

#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GString) once = g_string_new (NULL);
  g_autoptr(GString) twice = g_string_new (NULL);
  g_autoptr(GString) merged = g_string_new (NULL);
  g_autoptr(GString) scanned = g_string_new (NULL);
  g_autoptr(GString) rescanned = g_string_new (NULL);
  g_autoptr(GError) scan_error = NULL, rescan_error = NULL;
  NmsJson doc, again;
  gboolean scan_ok = nms_json_canonicalize ((const char *) data, size, scanned, &scan_error);

  const char *bad = NULL;

  g_assert (scan_ok == nms_json_check ((const char *) data, size, NULL, NULL)
            || g_error_matches (scan_error, NMS_ERROR, NMS_ERROR_REQUEST));
  /* The text reader checks UTF-8 string by string as it reads; a text that
   * is not UTF-8 is still refused for its first bad byte, before any other
   * fault, as when its UTF-8 was checked first. */
  if (!nms_json_is_utf8 ((const char *) data, size, &bad))
    {
      g_autofree char *want = g_strdup_printf ("(first bad byte at offset %" G_GSIZE_FORMAT ")",
                                               (gsize) (bad - (const char *) data));

      g_assert (!scan_ok && strstr (scan_error->message, want) != NULL);
    }
  if (!nms_json_parse_const ((const char *) data, size, &doc, NULL))
    {
      g_assert (!scan_ok);
      return 0;
    }
  nms_json_write (once, doc.root, doc.stuffed);
  /* A tree's canonical text is strict JSON, and a fixed point. */
  g_assert (nms_json_check (once->str, once->len, NULL, NULL));
  g_assert (nms_json_parse_const (once->str, once->len, &again, NULL));
  nms_json_write (twice, again.root, again.stuffed);
  g_assert (once->len == twice->len && memcmp (once->str, twice->str, once->len) == 0);
  /* Chrome's count can be shorter (1e20 is "1e+20" to it) but never 0. */
  g_assert (nms_json_chrome_length (once->str, once->len) > 0);
  /* The text reader gives the same canonical text, unless an object names
   * a member twice, which only it refuses; cJSON alone also takes some
   * non-strict forms (a leading zero, "1."). */
  if (nms_json_canonicalize (once->str, once->len, rescanned, &rescan_error))
    {
      g_assert (rescanned->len == once->len && memcmp (rescanned->str, once->str, once->len) == 0);
      /* A value merged over itself is itself. */
      g_assert (nms_json_write_merged_text (merged, doc.root, doc.stuffed, once->str, once->len, NULL));
      g_assert (merged->len == once->len && memcmp (merged->str, once->str, once->len) == 0);
    }
  else
    g_assert (g_error_matches (rescan_error, NMS_ERROR, NMS_ERROR_REQUEST));
  if (scan_ok)
    g_assert (scanned->len == once->len && memcmp (scanned->str, once->str, once->len) == 0);
  nms_json_clear (&doc);
  nms_json_clear (&again);
  return 0;
}
