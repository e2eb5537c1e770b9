/* SPDX-License-Identifier: MIT */
/* json-walk.c: a text's members, or its elements, handed to a visitor as
 * they are read (json.h), with json-scan.c's steps: a request's envelope
 * and its "items", a batch's requests, an import file's records. Each is
 * read once, its value's text or canonical text handed over, and never
 * parsed into a tree. */
#include "json/json.h"
#include "json/json-scan-private.h"

typedef _NmsJsonScan Scan;

static gboolean each_member (Scan *s, NmsJsonMemberFunc visit, gpointer user_data);

gboolean
nms_json_each_member (const char *text, gsize len, NmsJsonMemberFunc visit, gpointer user_data, GError **error)
{
  Scan s;

  return _nms_json_scan_begin (&s, text, len, TRUE, error) && each_member (&s, visit, user_data);
}

gboolean
nms_json_each_member_utf8 (const char *text, gsize len, NmsJsonMemberFunc visit, NmsJsonPassedFunc passed,
                           gpointer user_data, GError **error)
{
  Scan s;

  if (!_nms_json_scan_begin (&s, text, len, FALSE, error))
    return FALSE;
  s.passed = passed;
  s.passed_data = user_data;
  return each_member (&s, visit, user_data);
}

gboolean
nms_json_each_member_canonical (const char *text, gsize len, NmsJsonMemberFunc visit, gpointer user_data,
                                GError **error)
{
  g_autoptr(GString) canonical = g_string_sized_new (len);
  Scan s;

  if (!_nms_json_scan_begin (&s, text, len, FALSE, error))
    return FALSE;
  s.canonical = canonical;
  return each_member (&s, visit, user_data);
}

static gboolean
each_member (Scan *sp, NmsJsonMemberFunc visit, gpointer user_data)
{
  g_autoptr(GString) name = g_string_new (NULL);
  GError **error = sp->error;
  Scan s = *sp;

  _nms_json_scan_skip_space (&s);
  if (s.p >= s.end || *s.p != '{')
    return _nms_json_scan_fail (&s, "an object was expected");
  s.p++;
  _nms_json_scan_skip_space (&s);
  if (s.p < s.end && *s.p == '}')
    {
      s.p++;
      _nms_json_scan_skip_space (&s);
      return s.p == s.end || _nms_json_scan_fail (&s, "more text after the value");
    }
  for (;;)
    {
      const guint8 *value;

      _nms_json_scan_skip_space (&s);
      if (s.p >= s.end || *s.p != '"')
        return _nms_json_scan_fail (&s, "an object's member needs a name in quotes");
      g_string_truncate (name, 0);
      if (!_nms_json_scan_string (&s, name))
        return FALSE;
      _nms_json_scan_skip_space (&s);
      if (s.p >= s.end || *s.p != ':')
        return _nms_json_scan_fail (&s, "a member's name needs a colon after it");
      s.p++;
      _nms_json_scan_skip_space (&s);
      value = s.p;
      s.depth = 1;
      if (s.canonical != NULL)
        g_string_truncate (s.canonical, 0);
      if (!_nms_json_scan_value (&s, s.canonical))
        return FALSE;
      if (s.canonical != NULL
          ? !visit (name->str, name->len, s.canonical->str, s.canonical->len, user_data, error)
          : !visit (name->str, name->len, (const char *) value, (gsize) (s.p - value), user_data, error))
        return FALSE;
      if (s.p >= s.end)
        return _nms_json_scan_fail (&s, "an object is not closed");
      if (*s.p == '}')
        break;
      if (*s.p != ',')
        return _nms_json_scan_fail (&s, "an object's members need a comma between them");
      s.p++;
    }
  s.p++;
  _nms_json_scan_skip_space (&s);
  return s.p == s.end || _nms_json_scan_fail (&s, "more text after the value");
}

gboolean
nms_json_each_element_utf8 (const char *text, gsize len, NmsJsonElementFunc visit, NmsJsonPassedFunc passed,
                            gpointer user_data, GError **error)
{
  guint64 index = 0;
  Scan s;

  if (!_nms_json_scan_begin (&s, text, len, FALSE, error))
    return FALSE;
  s.passed = passed;
  s.passed_data = user_data;
  _nms_json_scan_skip_space (&s);
  if (s.p >= s.end || *s.p != '[')
    return _nms_json_scan_fail (&s, "an array was expected");
  s.p++;
  _nms_json_scan_skip_space (&s);
  if (s.p < s.end && *s.p == ']')
    s.p++;
  else
    for (;;)
      {
        const guint8 *value;

        _nms_json_scan_skip_space (&s);
        value = s.p;
        s.depth = 1;
        if (!_nms_json_scan_value (&s, NULL))
          return FALSE;
        if (!visit ((const char *) value, (gsize) (s.p - value), index++, user_data, error))
          return FALSE;
        if (s.p >= s.end)
          return _nms_json_scan_fail (&s, "an array is not closed");
        if (*s.p == ']')
          {
            s.p++;
            break;
          }
        if (*s.p != ',')
          return _nms_json_scan_fail (&s, "an array's elements need a comma between them");
        s.p++;
      }
  _nms_json_scan_skip_space (&s);
  return s.p == s.end || _nms_json_scan_fail (&s, "more text after the value");
}
