/* SPDX-License-Identifier: MIT */
/* json-scan-private.h: the text reader's state and steps (json-scan.c),
 * for json-walk.c, which reads with them to hand a text's members or
 * elements to a visitor. Nobody outside json/ sees them. */
#pragma once

#include "json/json.h"

typedef struct {
  const guint8 *start;
  const guint8 *p;
  const guint8 *end;
  guint         depth;
  gsize         values;  /* every value read, containers included */
  GError      **error;
  /* Told after each array element how far the scan has got, so that a
   * caller reading a large mapped file can hand back the pages behind. */
  NmsJsonPassedFunc passed;
  gpointer          passed_data;
  /* When not NULL, each_member hands visit a member's canonical text,
   * written here, rather than its text as it stands. */
  GString          *canonical;
  /* The text's UTF-8 is checked as its strings are read (scan_begin_lazy),
   * not all before: only what lies before p has been. */
  gboolean          utf8_lazy;
} _NmsJsonScan;

/* Begins reading text. check_utf8: its UTF-8 is checked as its strings
 * are read (a fault anywhere then reports the first bad byte); otherwise
 * the caller has checked it. */
gboolean _nms_json_scan_begin  (_NmsJsonScan *s, const char *text, gsize len, gboolean check_utf8, GError **error);
/* FALSE, with the error "what" near the reader's position (or the text's
 * first bad byte, when its UTF-8 is checked as it is read). */
gboolean _nms_json_scan_fail   (_NmsJsonScan *s, const char *what);
/* A string from its opening quote, its bytes decoded into bytes. */
gboolean _nms_json_scan_string (_NmsJsonScan *s, GString *bytes);
/* One value, its canonical text appended to out when out is not NULL. */
gboolean _nms_json_scan_value  (_NmsJsonScan *s, GString *out);

static inline void
_nms_json_scan_skip_space (_NmsJsonScan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}
