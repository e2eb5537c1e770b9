/* SPDX-License-Identifier: MIT */
/* json-scan.c: the value format (json.h) read straight from text, with no
 * tree: the canonical text of a value, and the cheap check of a stored
 * value before it goes into a reply. json-walk.c reads with the same steps
 * (json-scan-private.h) to hand a text's members or elements to a visitor.
 *
 * Why not cJSON here: a cJSON tree costs about 80 bytes a value, so a
 * 64 MiB array of zeros would take 2.7 GiB. Reading the text once and
 * writing the canonical form as it goes keeps a value's cost near its own
 * size. The grammar is RFC 8259's, strictly; the fuzzer (fuzz_json) holds
 * this reader to json.c's cJSON-based one: whatever this accepts, that
 * accepts too, with the same canonical text. */
#include "json/json.h"
#include "json/json-private.h"
#include "json/json-scan-private.h"
#include "base/error.h"

#include <string.h>

/* cJSON's nesting limit, so that both readers agree on what is too deep. */
#define MAX_DEPTH 1000

typedef _NmsJsonScan Scan;

/* Offsets into one object's buffers: 32 bits are enough, since no text
 * read here is 4 GiB (scan_begin), and a member then costs 16 bytes. */
typedef struct {
  guint32 name_at, name_len;
  guint32 value_at, value_len;
} Entry;

static gboolean
utf8_error (Scan *s, const char *bad)
{
  g_set_error (s->error, NMS_ERROR, NMS_ERROR_JSON,
               "the text is not valid UTF-8, or holds a raw NUL (first bad byte at offset %" G_GSIZE_FORMAT ")",
               (gsize) (bad - (const char *) s->start));
  return FALSE;
}

/* Whether text read lazily (scan_begin_lazy) is UTF-8 where it has not
 * been read yet; FALSE, with the error of its first bad byte, if not. A
 * text's failure is then the one it has when its UTF-8 is checked first:
 * the same error whichever way it was read. */
static gboolean
rest_is_utf8 (Scan *s)
{
  const char *bad = NULL;

  if (!s->utf8_lazy || _nms_json_is_utf8 ((const char *) s->p, (gsize) (s->end - s->p), &bad))
    return TRUE;
  return utf8_error (s, bad);
}

static gboolean
fail (Scan *s, const char *what)
{
  if (!rest_is_utf8 (s))
    return FALSE;
  g_set_error (s->error, NMS_ERROR, NMS_ERROR_JSON, "the text is not valid JSON: %s (near byte %" G_GSIZE_FORMAT ")",
               what, (gsize) (s->p - s->start));
  return FALSE;
}

/* The end of a string's plain run from p: its first '"', '\\' or control
 * character, or the end of the text. Read lazily, each run of bytes of
 * 0x80 and above on the way is checked as UTF-8 (no character of UTF-8
 * has a byte below 0x80 but one of its own, so each such run holds whole
 * characters); NULL at the first that is not. */
static const guint8 *
string_run (const Scan *s, const guint8 *p)
{
  if (!s->utf8_lazy)
    return _nms_json_plain_run (p, s->end);
  for (;;)
    {
      const guint8 *high = _nms_json_ascii_run (p, s->end);

      if (high >= s->end || *high < 0x80)
        return high;
      for (p = high; p < s->end && *p >= 0x80; p++)
        ;
      if (!g_utf8_validate_len ((const char *) high, (gsize) (p - high), NULL))
        return NULL;
    }
}

static int
hex4 (const guint8 *p)
{
  int v = 0;

  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value ((char) p[i]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* A string, its bytes decoded into bytes when that is not NULL. The text
 * was checked as UTF-8 (without NUL) by the caller, or is checked here
 * (string_run). A lone surrogate escape is U+FFFD, as Chrome stores it. */
static gboolean
scan_string (Scan *s, GString *bytes)
{
  const guint8 *run;

  s->p++; /* the opening quote */
  run = s->p;
  for (;;)
    {
      const guint8 *stop = string_run (s, s->p);
      guint8 c;

      if (stop == NULL)
        return fail (s, "a string is not UTF-8 text");
      s->p = stop;
      if (s->p >= s->end)
        return fail (s, "a string is not closed");
      c = *s->p;
      if (c == '"')
        break;
      /* The run stopped at a control character or a backslash. */
      if (c != '\\')
        return fail (s, "a control character inside a string must be escaped");
      if (bytes != NULL)
        g_string_append_len (bytes, (const char *) run, s->p - run);
      if (s->end - s->p < 2)
        return fail (s, "an escape is cut short");
      switch (s->p[1])
        {
        case '"':  c = '"'; break;
        case '\\': c = '\\'; break;
        case '/':  c = '/'; break;
        case 'b':  c = '\b'; break;
        case 'f':  c = '\f'; break;
        case 'n':  c = '\n'; break;
        case 'r':  c = '\r'; break;
        case 't':  c = '\t'; break;
        case 'u':
          {
            gunichar u;
            int unit = s->end - s->p >= 6 ? hex4 (s->p + 2) : -1, low;

            if (unit < 0)
              return fail (s, "a \\u escape needs four hex digits");
            s->p += 6;
            u = (gunichar) unit;
            if (unit >= 0xD800 && unit <= 0xDBFF)
              {
                low = s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u' ? hex4 (s->p + 2) : -1;
                if (low >= 0xDC00 && low <= 0xDFFF)
                  {
                    u = 0x10000 + (((gunichar) unit - 0xD800) << 10) + ((gunichar) low - 0xDC00);
                    s->p += 6;
                  }
                else
                  u = 0xFFFD;
              }
            else if (unit >= 0xDC00 && unit <= 0xDFFF)
              u = 0xFFFD;
            if (bytes != NULL)
              {
                char utf8[6];
                g_string_append_len (bytes, utf8, g_unichar_to_utf8 (u, utf8));
              }
            run = s->p;
            continue;
          }
        default:
          return fail (s, "an unknown escape in a string");
        }
      if (bytes != NULL)
        g_string_append_c (bytes, (char) c);
      s->p += 2;
      run = s->p;
    }
  if (bytes != NULL)
    g_string_append_len (bytes, (const char *) run, s->p - run);
  s->p++; /* the closing quote */
  return TRUE;
}

/* A string without escapes is its own canonical text: none of its bytes
 * is one the writer escapes (json-write.c), so it is copied whole rather
 * than decoded and written again. FALSE, with nothing read, otherwise. */
static gboolean
plain_string (Scan *s, GString *out)
{
  const guint8 *close = string_run (s, s->p + 1);

  if (close == NULL || close >= s->end || *close != '"')
    return FALSE;
  g_string_append_len (out, (const char *) s->p, close + 1 - s->p);
  s->p = close + 1;
  return TRUE;
}

static gboolean
digits (Scan *s)
{
  const guint8 *from = s->p;

  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p > from;
}

/* Whether the number text [from, to) is an integer of at most 15 digits
 * other than -0: JSON's grammar already refused leading zeros. Most
 * numbers in a request are such (sizes, times, counters), and they skip
 * strtod and the shortest-digits search. */
static gboolean
short_integer (const guint8 *from, const guint8 *to)
{
  const guint8 *digits = from < to && *from == '-' ? from + 1 : from;

  if (to - digits < 1 || to - digits > 15 || (digits[0] == '0' && digits != from))
    return FALSE;
  for (const guint8 *p = digits; p < to; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
scan_number (Scan *s, GString *out)
{
  const guint8 *from = s->p;

  if (*s->p == '-')
    s->p++;
  if (s->p < s->end && *s->p == '0')
    s->p++;
  else if (!digits (s))
    return fail (s, "a number needs digits");
  if (s->p < s->end && *s->p == '.')
    {
      s->p++;
      if (!digits (s))
        return fail (s, "a number needs digits after its point");
    }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      s->p++;
      if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
        s->p++;
      if (!digits (s))
        return fail (s, "a number needs digits in its exponent");
    }
  if (out == NULL)
    return TRUE;
  if (short_integer (from, s->p))
    {
      /* Its own canonical text: a double holds it exactly, and
       * Number.prototype.toString writes the same digits back. */
      g_string_append_len (out, (const char *) from, s->p - from);
      return TRUE;
    }
  {
    /* The text is not NUL-terminated where the frame ends. */
    g_autofree char *copy = g_strndup ((const char *) from, (gsize) (s->p - from));
    nms_json_append_number (out, g_ascii_strtod (copy, NULL));
  }
  return TRUE;
}

static gboolean
scan_word (Scan *s, const char *word, GString *out)
{
  gsize n = strlen (word);

  if ((gsize) (s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    return fail (s, "an unexpected character");
  s->p += n;
  if (out != NULL)
    g_string_append_len (out, word, (gssize) n);
  return TRUE;
}

static gboolean scan_value (Scan *s, GString *out);

static gboolean
scan_array (Scan *s, GString *out)
{
  gboolean first = TRUE;

  s->p++;
  if (out != NULL)
    g_string_append_c (out, '[');
  _nms_json_scan_skip_space (s);
  if (s->p < s->end && *s->p == ']')
    {
      s->p++;
      if (out != NULL)
        g_string_append_c (out, ']');
      return TRUE;
    }
  for (;;)
    {
      if (!first && out != NULL)
        g_string_append_c (out, ',');
      first = FALSE;
      if (!scan_value (s, out))
        return FALSE;
      if (s->passed != NULL)
        s->passed ((const char *) s->p, s->passed_data);
      if (s->p >= s->end)
        return fail (s, "an array is not closed");
      if (*s->p == ']')
        break;
      if (*s->p != ',')
        return fail (s, "an array's elements need a comma between them");
      s->p++;
    }
  s->p++;
  if (out != NULL)
    g_string_append_c (out, ']');
  return TRUE;
}

static int
entry_cmp (gconstpointer a, gconstpointer b, gpointer names)
{
  const Entry *x = a, *y = b;
  const char *base = ((GString *) names)->str;
  int c = memcmp (base + x->name_at, base + y->name_at, MIN (x->name_len, y->name_len));

  return c != 0 ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Members are read into names and values, then written sorted by their
 * names' bytes (Chrome's order). */
static gboolean
scan_object (Scan *s, GString *out)
{
  g_autoptr(GString) names = out ? g_string_new (NULL) : NULL;
  g_autoptr(GString) values = out ? g_string_new (NULL) : NULL;
  g_autoptr(GArray) entries = out ? g_array_new (FALSE, FALSE, sizeof (Entry)) : NULL;
  gboolean sorted = TRUE;

  s->p++;
  _nms_json_scan_skip_space (s);
  if (s->p < s->end && *s->p == '}')
    s->p++;
  else
    for (;;)
      {
        Entry e = { 0 };

        _nms_json_scan_skip_space (s);
        if (s->p >= s->end || *s->p != '"')
          return fail (s, "an object's member needs a name in quotes");
        if (out != NULL)
          e.name_at = (guint32) names->len;
        if (!scan_string (s, names))
          return FALSE;
        _nms_json_scan_skip_space (s);
        if (s->p >= s->end || *s->p != ':')
          return fail (s, "a member's name needs a colon after it");
        s->p++;
        if (out != NULL)
          {
            e.name_len = (guint32) (names->len - e.name_at);
            e.value_at = (guint32) values->len;
          }
        if (!scan_value (s, values))
          return FALSE;
        if (out != NULL)
          {
            e.value_len = (guint32) (values->len - e.value_at);
            if (entries->len > 0 && entry_cmp (&g_array_index (entries, Entry, entries->len - 1), &e, names) >= 0)
              sorted = FALSE;
            g_array_append_val (entries, e);
          }
        if (s->p >= s->end)
          return fail (s, "an object is not closed");
        if (*s->p == '}')
          {
            s->p++;
            break;
          }
        if (*s->p != ',')
          return fail (s, "an object's members need a comma between them");
        s->p++;
      }
  if (out == NULL)
    return TRUE;

  /* Text from JSON.stringify of a sorted object, or from nmstore itself,
   * is in order already, and sorting would cost a copy of the entries. */
  if (!sorted)
    g_array_sort_with_data (entries, entry_cmp, names);
  g_string_append_c (out, '{');
  for (guint i = 0; i < entries->len; i++)
    {
      const Entry *e = &g_array_index (entries, Entry, i);

      if (i > 0 && entry_cmp (e - 1, e, names) == 0)
        {
          g_autofree char *shown = NULL;

          if (!rest_is_utf8 (s))
            return FALSE;
          shown = g_utf8_make_valid (names->str + e->name_at, (gssize) e->name_len);
          g_set_error (s->error, NMS_ERROR, NMS_ERROR_REQUEST,
                       "an object names the member \"%s\" twice (no JavaScript value does)", shown);
          return FALSE;
        }
      if (i > 0)
        g_string_append_c (out, ',');
      nms_json_append_string (out, names->str + e->name_at, e->name_len);
      g_string_append_c (out, ':');
      g_string_append_len (out, values->str + e->value_at, (gssize) e->value_len);
    }
  g_string_append_c (out, '}');
  return TRUE;
}

static gboolean
scan_value (Scan *s, GString *out)
{
  gboolean ok;

  _nms_json_scan_skip_space (s);
  if (s->p >= s->end)
    return fail (s, "a value is missing");
  s->values++;
  switch (*s->p)
    {
    case '{':
    case '[':
      if (s->depth >= MAX_DEPTH)
        return fail (s, "nesting deeper than 1000");
      s->depth++;
      ok = *s->p == '{' ? scan_object (s, out) : scan_array (s, out);
      s->depth--;
      break;
    case '"':
      if (out == NULL)
        ok = scan_string (s, NULL);
      else if (plain_string (s, out))
        ok = TRUE;
      else
        {
          g_autoptr(GString) bytes = g_string_new (NULL);
          ok = scan_string (s, bytes);
          if (ok)
            nms_json_append_string (out, bytes->str, bytes->len);
        }
      break;
    case 't':
      ok = scan_word (s, "true", out);
      break;
    case 'f':
      ok = scan_word (s, "false", out);
      break;
    case 'n':
      ok = scan_word (s, "null", out);
      break;
    default:
      ok = *s->p == '-' || g_ascii_isdigit (*s->p) ? scan_number (s, out) : fail (s, "an unexpected character");
      break;
    }
  _nms_json_scan_skip_space (s);
  return ok;
}

static gboolean
scan_begin_checked (Scan *s, const char *text, gsize len, gboolean check_utf8, GError **error)
{
  const char *bad = NULL;

  memset (s, 0, sizeof *s);
  if (len >= G_MAXUINT32)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "a JSON text of %" G_GSIZE_FORMAT " bytes is larger than "
                   "nmstore reads (4 GiB)", len);
      return FALSE;
    }
  /* An empty file maps to NULL, and NULL + 0 is undefined behaviour
   * (the import_file fuzzer found it). */
  if (text == NULL)
    text = "";
  s->start = s->p = (const guint8 *) text;
  s->end = s->p + len;
  s->error = error;
  /* NUL is not valid here: g_utf8_validate_len stops at it. */
  if (check_utf8 && !_nms_json_is_utf8 (text, len, &bad))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_JSON,
                   "the text is not valid UTF-8, or holds a raw NUL (first bad byte at offset %" G_GSIZE_FORMAT ")",
                   (gsize) (bad - text));
      return FALSE;
    }
  return TRUE;
}

static gboolean
scan_whole (Scan *s, GString *out)
{
  if (!scan_value (s, out))
    return FALSE;
  return s->p == s->end || fail (s, "more text after the value");
}

/* The text's UTF-8 is checked string by string as it is read, rather than
 * in a pass of its own before: a stored value read into a reply, or a
 * request, was read twice so (the check of a 2.5 KB state cost a third
 * more). Outside its strings, no byte of 0x80 or above, nor NUL, is valid
 * JSON: the reading refuses them there anyway. */
static gboolean
scan_begin_lazy (Scan *s, const char *text, gsize len, GError **error)
{
  if (!scan_begin_checked (s, text, len, FALSE, error))
    return FALSE;
  s->utf8_lazy = TRUE;
  return TRUE;
}

gboolean
nms_json_canonicalize (const char *text, gsize len, GString *out, GError **error)
{
  Scan s;
  gsize at = out->len;

  if (!scan_begin_lazy (&s, text, len, error))
    return FALSE;
  if (scan_whole (&s, out))
    return TRUE;
  g_string_truncate (out, at);
  return FALSE;
}

gboolean
nms_json_check (const char *text, gsize len, gsize *n_values, GError **error)
{
  Scan s;

  if (!scan_begin_lazy (&s, text, len, error) || !scan_whole (&s, NULL))
    return FALSE;
  if (n_values != NULL)
    *n_values = s.values;
  return TRUE;
}

/* The steps json-walk.c reads a text with (json-scan-private.h). */
gboolean
_nms_json_scan_begin (Scan *s, const char *text, gsize len, gboolean check_utf8, GError **error)
{
  return check_utf8 ? scan_begin_lazy (s, text, len, error) : scan_begin_checked (s, text, len, FALSE, error);
}

gboolean
_nms_json_scan_fail (Scan *s, const char *what)
{
  return fail (s, what);
}

gboolean
_nms_json_scan_string (Scan *s, GString *bytes)
{
  return scan_string (s, bytes);
}

gboolean
_nms_json_scan_value (Scan *s, GString *out)
{
  return scan_value (s, out);
}
