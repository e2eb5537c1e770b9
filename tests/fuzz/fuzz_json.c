/* fuzz_json.c: libFuzzer target for the value format (json.c). Whatever
 * text parses, its canonical form must parse again to the same canonical
 * form, Chrome's count can only add to it, and merging a value with itself
 * must give the value back. */
#include "fuzz.h"
#include "nmstore/json.h"

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
  NmsJson doc, again;

  if (!nms_json_parse_const ((const char *) data, size, &doc, NULL))
    return 0;
  nms_json_write (once, doc.root, doc.stuffed);
  nms_json_write_merged (merged, doc.root, doc.stuffed, doc.root, doc.stuffed);
  g_assert (nms_json_parse_const (once->str, once->len, &again, NULL));
  nms_json_write (twice, again.root, again.stuffed);
  g_assert (once->len == twice->len && memcmp (once->str, twice->str, once->len) == 0);
  g_assert (merged->len == once->len && memcmp (merged->str, once->str, once->len) == 0);
  g_assert (nms_json_chrome_length (once->str, once->len) >= once->len);
  nms_json_clear (&doc);
  nms_json_clear (&again);
  return 0;
}
