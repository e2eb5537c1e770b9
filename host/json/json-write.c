/* SPDX-License-Identifier: MIT */
/* json-write.c: the exact text of one string or number, as JavaScript's
 * JSON.stringify writes it, the {"$bytes"} form of raw bytes, and the
 * length Chrome's own JSON writer gives a canonical text: the pieces of the
 * value format (json.h) that must be exact to the byte, and that cJSON does
 * not do (it prints doubles with 15 digits when its approximate compare
 * allows). Every other file writes these through here, so the format has
 * one owner. */
#include "json/json.h"
#include "json/json-private.h"
#include "base/base64.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
nms_json_append_string (GString *out, const char *text, gsize len)
{
  static const char hex[] = "0123456789abcdef";
  const guint8 *p = (const guint8 *) text, *end = p + len, *run = p;

  g_string_append_c (out, '"');
  for (; (p = _nms_json_plain_run (p, end)) < end; p++)
    {
      guint8 c = *p;
      const char *short_form = NULL;

      g_string_append_len (out, (const char *) run, p - run);
      run = p + 1;
      switch (c)
        {
        case '"':  short_form = "\\\""; break;
        case '\\': short_form = "\\\\"; break;
        case '\b': short_form = "\\b"; break;
        case '\f': short_form = "\\f"; break;
        case '\n': short_form = "\\n"; break;
        case '\r': short_form = "\\r"; break;
        case '\t': short_form = "\\t"; break;
        default: break;
        }
      if (short_form != NULL)
        g_string_append (out, short_form);
      else
        {
          char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
          g_string_append_len (out, u, 6);
        }
    }
  g_string_append_len (out, (const char *) run, p - run);
  g_string_append_c (out, '"');
}

/* What nms_json_append_string writes for each byte, as a table: a reply
 * of tens of megabytes is counted byte by byte when it is cut into chunk
 * frames. Built by the compiler from the same rules as the escaper above;
 * test_json.c checks the two agree. */
#define ESC1(c)  ((c) == '"' || (c) == '\\' ? 2 : (c) >= 0x20 ? 1                                        \
                  : (c) == '\b' || (c) == '\f' || (c) == '\n' || (c) == '\r' || (c) == '\t' ? 2 : 6)
#define ESC4(c)  ESC1 (c), ESC1 ((c) + 1), ESC1 ((c) + 2), ESC1 ((c) + 3)
#define ESC16(c) ESC4 (c), ESC4 ((c) + 4), ESC4 ((c) + 8), ESC4 ((c) + 12)
#define ESC64(c) ESC16 (c), ESC16 ((c) + 16), ESC16 ((c) + 32), ESC16 ((c) + 48)
static const guint8 escaped_bytes[256] = { ESC64 (0), ESC64 (64), ESC64 (128), ESC64 (192) };

gsize
nms_json_escaped_length (const char *text, gsize len)
{
  const guint8 *p = (const guint8 *) text, *end = p + len;
  gsize total = 0;

  /* A reply of tens of megabytes is mostly base64: plain runs count as
   * their length, found many bytes at a time. */
  while (p < end)
    {
      const guint8 *run = _nms_json_plain_run (p, end);

      total += (gsize) (run - p);
      if (run == end)
        break;
      total += escaped_bytes[*run];
      p = run + 1;
    }
  return total;
}

static const char bytes_head[] = "{\"$bytes\":\"", bytes_tail[] = "\"}";

void
nms_json_append_bytes (GString *out, const guint8 *data, gsize len)
{
  g_string_append_len (out, bytes_head, sizeof bytes_head - 1);
  nms_base64_append (out, data, len);
  g_string_append_len (out, bytes_tail, sizeof bytes_tail - 1);
}

gsize
nms_json_bytes_length (gsize len)
{
  return sizeof bytes_head - 1 + 4 * ((len + 2) / 3) + sizeof bytes_tail - 1;
}

guint8 *
nms_json_read_bytes (const char *canonical, gsize len, gsize *out_len)
{
  gsize head = sizeof bytes_head - 1, tail = sizeof bytes_tail - 1;

  /* Canonical text has no white space and no needless escapes, so the
   * one form is recognised by its bytes. */
  if (len < head + tail || memcmp (canonical, bytes_head, head) != 0
      || memcmp (canonical + len - tail, bytes_tail, tail) != 0)
    return NULL;
  return nms_base64_decode_strict (canonical + head, len - head - tail, out_len);
}

/* The decimal digits of a double: d[0..k) with value 0.d × 10^n. */
typedef struct {
  char digits[24];
  int  k;
  int  n;
} Decimal;

/* value with p significant digits, correctly rounded (C's %e is). */
static void
decimal_at (double value, int p, Decimal *dec)
{
  char buf[40], *e, *s;
  char fmt[8];

  g_snprintf (fmt, sizeof fmt, "%%.%de", p - 1);
  g_ascii_formatd (buf, sizeof buf, fmt, value);
  e = strchr (buf, 'e');
  dec->k = 0;
  for (s = buf; s < e; s++)
    if (g_ascii_isdigit (*s))
      dec->digits[dec->k++] = *s;
  dec->n = atoi (e + 1) + 1;
  while (dec->k > 1 && dec->digits[dec->k - 1] == '0')
    dec->k--;
  dec->digits[dec->k] = '\0';
}

static gboolean
decimal_is (const Decimal *dec, double value)
{
  char buf[48];

  g_snprintf (buf, sizeof buf, "0.%se%d", dec->digits, dec->n);
  return g_ascii_strtod (buf, NULL) == value;
}

/* The last digit of dec moved by one (step +1 or -1), with its carry; FALSE
 * when that leaves k digits no more. */
static gboolean
decimal_step (const Decimal *dec, int k, int step, Decimal *to)
{
  int i;

  memset (to, 0, sizeof *to);
  memcpy (to->digits, dec->digits, (gsize) dec->k);
  for (i = dec->k; i < k; i++)
    to->digits[i] = '0';
  to->k = k;
  to->n = dec->n;
  for (i = k - 1; i >= 0; i--)
    {
      int d = to->digits[i] - '0' + step;
      if (d >= 0 && d <= 9)
        {
          to->digits[i] = (char) ('0' + d);
          break;
        }
      to->digits[i] = step > 0 ? '0' : '9';
    }
  if (i < 0 || to->digits[0] == '0')
    return FALSE;
  while (to->k > 1 && to->digits[to->k - 1] == '0')
    to->k--;
  to->digits[to->k] = '\0';
  return TRUE;
}

/* The shortest digits that read back as value (|value| > 0, finite), the
 * closest of them when several of one length do: ECMAScript's
 * Number::toString choice. The correctly rounded p digits are the closest
 * p digits, so the smallest p whose rounding reads back is the answer;
 * except beside a power of two, where the gap below value is half the gap
 * above and a p-digit neighbour of the rounding may read back when the
 * rounding itself does not. */
static void
shortest (double value, Decimal *dec)
{
  int lo = 1, hi = 17, p, exponent;

  /* Reading back is monotonic in p: more correctly rounded digits are
   * never further away. */
  while (lo < hi)
    {
      int mid = (lo + hi) / 2;
      decimal_at (value, mid, dec);
      if (decimal_is (dec, value))
        hi = mid;
      else
        lo = mid + 1;
    }
  decimal_at (value, lo, dec);
  frexp (value, &exponent);
  if (value != ldexp (0.5, exponent))
    return; /* not a power of two: the gaps are even */
  for (p = 1; p < lo; p++)
    {
      Decimal near, up, down;
      gboolean has_up, has_down;

      decimal_at (value, p, &near);
      has_up = decimal_step (&near, p, +1, &up) && decimal_is (&up, value);
      has_down = decimal_step (&near, p, -1, &down) && decimal_is (&down, value);
      if (has_up || has_down)
        {
          *dec = has_up ? up : down;
          return;
        }
    }
}

/* Decimal digits of an integer: most numbers in a request are integers
 * (sizes, times, counters), and printf's cost was a tenth of a set's
 * parsing in the profile. */
static void
append_integer (GString *out, gint64 value)
{
  char digits[24];
  char *p = digits + sizeof digits;
  guint64 u = value < 0 ? (guint64) 0 - (guint64) value : (guint64) value;

  do
    {
      *--p = (char) ('0' + u % 10);
      u /= 10;
    }
  while (u != 0);
  if (value < 0)
    *--p = '-';
  g_string_append_len (out, p, digits + sizeof digits - p);
}

void
nms_json_append_number (GString *out, double value)
{
  Decimal dec;
  int k, n;

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }
  if (value == 0)
    {
      /* JSON.stringify(-0) is "0". */
      g_string_append_c (out, '0');
      return;
    }
  /* Integers below 2^53 are exact, and no shorter digits name them. */
  if (value == floor (value) && fabs (value) < 9007199254740992.0)
    {
      append_integer (out, (gint64) value);
      return;
    }
  if (value < 0)
    {
      g_string_append_c (out, '-');
      value = -value;
    }
  shortest (value, &dec);
  k = dec.k;
  n = dec.n;
  if (k <= n && n <= 21)
    {
      g_string_append_len (out, dec.digits, k);
      for (; n > k; n--)
        g_string_append_c (out, '0');
    }
  else if (0 < n && n <= 21)
    {
      g_string_append_len (out, dec.digits, n);
      g_string_append_c (out, '.');
      g_string_append_len (out, dec.digits + n, k - n);
    }
  else if (-6 < n && n <= 0)
    {
      g_string_append (out, "0.");
      for (; n < 0; n++)
        g_string_append_c (out, '0');
      g_string_append_len (out, dec.digits, k);
    }
  else
    {
      g_string_append_c (out, dec.digits[0]);
      if (k > 1)
        {
          g_string_append_c (out, '.');
          g_string_append_len (out, dec.digits + 1, k - 1);
        }
      g_string_append_printf (out, "e%c%d", n - 1 >= 0 ? '+' : '-', ABS (n - 1));
    }
}

/* The length Chrome's writer gives a number that JavaScript writes as the
 * len bytes at p. Chrome keeps a number in the 32-bit range that has no
 * fraction as an integer, and writes it as JavaScript does. Any other is a
 * double, written in the same shortest digits, but in exponent form from
 * 10^12 up (JavaScript waits until 10^21), and with ".0" when it would
 * otherwise read back as an integer. Measured in Chromium: 999999999999
 * is "999999999999.0", 1e12 is "1e+12", 2^53-1 "9.007199254740991e+15". */
static gsize
chrome_number_length (const char *p, gsize len)
{
  gsize sign = p[0] == '-' ? 1 : 0;
  const char *digits = p + sign, *end = p + len, *dot;
  gsize int_len, k, n;
  char buf[16];
  gint64 v;

  if (memchr (p, 'e', len) != NULL)
    return len; /* an exponent already: from 10^21, or below 10^-6 */
  dot = memchr (p, '.', len);
  int_len = (gsize) ((dot ? dot : end) - digits);
  if (digits[0] == '0')
    return len; /* below 1: written as JavaScript writes it */
  n = int_len;  /* the decimal point's place */
  if (n >= 13)
    {
      /* k significant digits: the integer part without its trailing zeros,
       * or all of them and the fraction's. */
      if (dot != NULL)
        k = int_len + (gsize) (end - dot - 1);
      else
        for (k = int_len; k > 1 && digits[k - 1] == '0'; k--)
          ;
      /* d[.ddd]e+NN */
      return sign + k + (k > 1 ? 1 : 0) + 2 + (n - 1 >= 100 ? 3 : 2);
    }
  if (dot != NULL)
    return len;
  if (int_len > 10)
    return len + 2;
  memcpy (buf, p, len);
  buf[len] = '\0';
  v = g_ascii_strtoll (buf, NULL, 10);
  return v < G_MININT32 || v > G_MAXINT32 ? len + 2 : len;
}

/* The first byte at or after p inside a canonical string that
 * nms_json_chrome_length must look at: the string's end, an escape, or the
 * first byte of a character that Chrome escapes. The rest of the string
 * counts as its own length, and is skipped many bytes at a time. */
static const guint8 *
skip_uncounted (const guint8 *p, const guint8 *end)
{
  return _nms_json_find_any4 (p, end, '"', '\\', '<', 0xE2);
}

guint64
nms_json_chrome_length (const char *canonical, gsize len)
{
  const guint8 *p = (const guint8 *) canonical, *end = p + len;
  guint64 total = len;

  while (p < end)
    {
      if (*p == '"')
        {
          for (p++; p < end && *p != '"'; p++)
            {
              p = skip_uncounted (p, end);
              if (p >= end || *p == '"')
                break;
              if (*p == '\\')
                p++;
              else if (*p == '<')
                total += 5; /* \u003C */
              else if (*p == 0xE2 && end - p >= 3 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
                total += 3; /* \u2028, \u2029 */
            }
          p++;
        }
      else if (*p == '-' || g_ascii_isdigit (*p))
        {
          const guint8 *start = p;

          while (p < end && (*p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E' || g_ascii_isdigit (*p)))
            p++;
          total = total - (guint64) (p - start) + chrome_number_length ((const char *) start, (gsize) (p - start));
        }
      else
        p++;
    }
  return total;
}
