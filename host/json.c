/* json.c: nmstore's JSON value format (see json.h): parsing through cJSON
 * with the two things cJSON cannot do itself (U+0000 inside strings, lone
 * surrogate escapes), and the canonical writer: exact numbers, sorted
 * members, JSON.stringify's escapes, and Chrome's byte count.
 *
 * Stuffing. cJSON keeps strings NUL-terminated, so a \u0000 escape would
 * cut its string short. A text holding one is rewritten before parsing:
 * every U+FFFF (raw or escaped) becomes two U+FFFF, and every \u0000
 * becomes U+FFFF followed by "0". In the parsed tree a U+FFFF is always
 * the first of such a pair, so nms_json_string() reads it back without
 * doubt. Texts without \u0000, nearly all of them, are parsed as they are. */
#include "nmstore/json.h"
#include "nmstore/error.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* U+FFFF in UTF-8: the stuffing mark. */
static const char mark[] = "\xEF\xBF\xBF";
#define MARK_LEN 3

/* The length of the leading run of ASCII bytes other than NUL. Requests
 * are mostly ASCII, and eight bytes at a time this costs a small part of
 * what g_utf8_validate_len does byte by byte, so that only the rest of the
 * text goes through it. */
static gsize
ascii_prefix (const guint8 *text, gsize len)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  const guint64 highs = G_GUINT64_CONSTANT (0x8080808080808080);
  gsize i = 0;

  for (; i + 8 <= len; i += 8)
    {
      guint64 w;
      memcpy (&w, text + i, sizeof w);
      /* A byte with its high bit set, or a zero byte, ends the run. */
      if ((w & highs) != 0 || ((w - ones) & ~w & highs) != 0)
        break;
    }
  while (i < len && text[i] != 0 && text[i] < 0x80)
    i++;
  return i;
}

/* The code unit of a \uXXXX escape at p (p[0] is the backslash), or -1. */
static int
escape_unit (const char *p, const char *end)
{
  int unit = 0, i;

  if (end - p < 6 || p[1] != 'u')
    return -1;
  for (i = 2; i < 6; i++)
    {
      int d = g_ascii_xdigit_value (p[i]);
      if (d < 0)
        return -1;
      unit = unit * 16 + d;
    }
  return unit;
}

/* Rewrites each lone surrogate escape to \uFFFD, the character Chrome
 * stores for it; counts the \u0000 escapes. An escape is always inside a
 * string in valid JSON, and walking them from the left keeps "\\u0000"
 * (an escaped backslash) from being read as one. */
static gsize
fix_escapes (char *text, gsize len)
{
  char *p = text, *end = text + len;
  gsize nuls = 0;

  while ((p = memchr (p, '\\', (gsize) (end - p))) != NULL)
    {
      int unit = escape_unit (p, end);

      if (unit < 0)
        {
          p += MIN (2, end - p);
          continue;
        }
      if (unit == 0)
        nuls++;
      else if (unit >= 0xD800 && unit <= 0xDBFF)
        {
          int next = p + 6 < end && p[6] == '\\' ? escape_unit (p + 6, end) : -1;
          if (next >= 0xDC00 && next <= 0xDFFF)
            {
              p += 12;
              continue;
            }
          memcpy (p + 2, "FFFD", 4);
        }
      else if (unit >= 0xDC00 && unit <= 0xDFFF)
        memcpy (p + 2, "FFFD", 4);
      p += 6;
    }
  return nuls;
}

/* The stuffed copy of text (see the top of this file). */
static GString *
stuff (const char *text, gsize len)
{
  GString *out = g_string_sized_new (len + 64);
  const char *p = text, *end = text + len;

  while (p < end)
    {
      if (*p == '\\')
        {
          int unit = escape_unit (p, end);
          if (unit == 0)
            {
              g_string_append_len (out, mark, MARK_LEN);
              g_string_append_c (out, '0');
              p += 6;
            }
          else if (unit == 0xFFFF)
            {
              g_string_append_len (out, mark, MARK_LEN);
              g_string_append_len (out, mark, MARK_LEN);
              p += 6;
            }
          else
            {
              gsize n = unit >= 0 ? 6 : (gsize) MIN (2, end - p);
              g_string_append_len (out, p, (gssize) n);
              p += n;
            }
        }
      else if (end - p >= MARK_LEN && memcmp (p, mark, MARK_LEN) == 0)
        {
          g_string_append_len (out, mark, MARK_LEN);
          g_string_append_len (out, mark, MARK_LEN);
          p += MARK_LEN;
        }
      else
        g_string_append_c (out, *p++);
    }
  return out;
}

static gboolean
parse_text (const char *text, gsize len, NmsJson *doc, GError **error)
{
  const char *end = NULL, *stop = text + len;

  doc->root = cJSON_ParseWithLengthOpts (text, len, &end, FALSE);
  if (doc->root == NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_JSON, "the text is not valid JSON (error near byte %" G_GSIZE_FORMAT ")",
                   end ? (gsize) (end - text) : (gsize) 0);
      return FALSE;
    }
  for (; end < stop; end++)
    if (!g_ascii_isspace (*end))
      {
        g_set_error (error, NMS_ERROR, NMS_ERROR_JSON, "the text has more after its JSON value");
        g_clear_pointer (&doc->root, cJSON_Delete);
        return FALSE;
      }
  return TRUE;
}

gboolean
nms_json_parse (guint8 *text, gsize len, NmsJson *doc, GError **error)
{
  const char *bad = NULL;
  gsize ascii;

  doc->root = NULL;
  doc->stuffed = FALSE;
  if (len == 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_JSON, "the text is empty");
      return FALSE;
    }
  ascii = ascii_prefix (text, len);
  if (ascii < len && !g_utf8_validate_len ((const char *) text + ascii, len - ascii, &bad))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_JSON,
                   "the text is not valid UTF-8 (first bad byte at offset %" G_GSIZE_FORMAT ")",
                   (gsize) (bad - (const char *) text));
      return FALSE;
    }
  if (fix_escapes ((char *) text, len) == 0)
    return parse_text ((const char *) text, len, doc, error);

  {
    g_autoptr(GString) stuffed = stuff ((const char *) text, len);
    gboolean ok;

    doc->stuffed = TRUE;
    ok = parse_text (stuffed->str, stuffed->len, doc, error);
    /* The copy may hold a secret (an unlock's passphrase): the caller
     * wipes its own frame, and this copy is wiped here. */
    sodium_memzero (stuffed->str, stuffed->len);
    return ok;
  }
}

gboolean
nms_json_parse_const (const char *text, gsize len, NmsJson *doc, GError **error)
{
  g_autofree guint8 *copy = g_memdup2 (text, len);

  return nms_json_parse (copy, len, doc, error);
}

void
nms_json_clear (NmsJson *doc)
{
  g_clear_pointer (&doc->root, cJSON_Delete);
  doc->stuffed = FALSE;
}

/* A string of a tree parsed stuffed or not, as its real bytes. */
static const char *
unstuff (gboolean stuffed, const char *s, gsize *len, char **owned)
{
  const char *hit = stuffed ? strstr (s, mark) : NULL;
  GString *out;

  *owned = NULL;
  if (hit == NULL)
    {
      *len = strlen (s);
      return s;
    }
  out = g_string_sized_new (strlen (s));
  do
    {
      g_string_append_len (out, s, hit - s);
      hit += MARK_LEN;
      if (strncmp (hit, mark, MARK_LEN) == 0)
        {
          g_string_append_len (out, mark, MARK_LEN);
          hit += MARK_LEN;
        }
      else
        {
          /* The mark and the "0" after it stand for U+0000. */
          g_string_append_c (out, '\0');
          if (*hit != '\0')
            hit++;
        }
      s = hit;
    }
  while ((hit = strstr (s, mark)) != NULL);
  g_string_append (out, s);
  *len = out->len;
  *owned = g_string_free (out, FALSE);
  return *owned;
}

const char *
nms_json_string (const NmsJson *doc, const char *s, gsize *len, char **owned)
{
  return unstuff (doc->stuffed, s, len, owned);
}

/* Writing. */

void
nms_json_append_string (GString *out, const char *text, gsize len)
{
  static const char hex[] = "0123456789abcdef";
  const guint8 *p = (const guint8 *) text, *end = p + len, *run = p;

  g_string_append_c (out, '"');
  for (; p < end; p++)
    {
      guint8 c = *p;
      const char *short_form = NULL;

      if (c >= 0x20 && c != '"' && c != '\\')
        continue;
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
      g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
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

typedef struct {
  const char  *name;
  gsize        len;
  char        *owned;
  const cJSON *node;
} Member;

static int
member_cmp (gconstpointer a, gconstpointer b)
{
  const Member *x = a, *y = b;
  int c = memcmp (x->name, y->name, MIN (x->len, y->len));

  return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* The members of an object, sorted by the bytes of their names. */
static GArray *
sorted_members (const cJSON *object, gboolean stuffed)
{
  GArray *list = g_array_new (FALSE, FALSE, sizeof (Member));
  const cJSON *child;

  for (child = object->child; child != NULL; child = child->next)
    {
      Member m = { .node = child };
      m.name = unstuff (stuffed, child->string, &m.len, &m.owned);
      g_array_append_val (list, m);
    }
  if (list->len > 1)
    g_array_sort (list, member_cmp);
  return list;
}

static void
members_free (GArray *list)
{
  for (guint i = 0; i < list->len; i++)
    g_free (g_array_index (list, Member, i).owned);
  g_array_free (list, TRUE);
}

void
nms_json_write (GString *out, const cJSON *value, gboolean stuffed)
{
  const cJSON *child;

  switch (value->type & 0xff)
    {
    case cJSON_False:
      g_string_append (out, "false");
      break;
    case cJSON_True:
      g_string_append (out, "true");
      break;
    case cJSON_NULL:
      g_string_append (out, "null");
      break;
    case cJSON_Number:
      nms_json_append_number (out, value->valuedouble);
      break;
    case cJSON_String:
    case cJSON_Raw:
      {
        g_autofree char *owned = NULL;
        gsize len;
        const char *s = unstuff (stuffed, value->valuestring ? value->valuestring : "", &len, &owned);
        nms_json_append_string (out, s, len);
      }
      break;
    case cJSON_Array:
      g_string_append_c (out, '[');
      /* cJSON's nesting limit (1000) bounds this recursion. */
      for (child = value->child; child != NULL; child = child->next)
        {
          nms_json_write (out, child, stuffed);
          if (child->next != NULL)
            g_string_append_c (out, ',');
        }
      g_string_append_c (out, ']');
      break;
    case cJSON_Object:
      {
        GArray *members = sorted_members (value, stuffed);
        g_string_append_c (out, '{');
        for (guint i = 0; i < members->len; i++)
          {
            const Member *m = &g_array_index (members, Member, i);
            if (i > 0)
              g_string_append_c (out, ',');
            nms_json_append_string (out, m->name, m->len);
            g_string_append_c (out, ':');
            nms_json_write (out, m->node, stuffed);
          }
        g_string_append_c (out, '}');
        members_free (members);
      }
      break;
    default:
      /* cJSON_Invalid only comes from a failed parse, never into a tree. */
      g_string_append (out, "null");
      break;
    }
}

/* Chrome's base::Value::Dict::Merge of the stored value into the
 * default (storage.get with an object of defaults). */
void
nms_json_write_merged (GString *out, const cJSON *fallback, gboolean fallback_stuffed,
                       const cJSON *stored, gboolean stored_stuffed)
{
  GArray *a, *b;
  guint i = 0, j = 0;
  gboolean first = TRUE;

  if (!cJSON_IsObject (fallback) || !cJSON_IsObject (stored))
    {
      nms_json_write (out, stored, stored_stuffed);
      return;
    }
  a = sorted_members (fallback, fallback_stuffed);
  b = sorted_members (stored, stored_stuffed);
  g_string_append_c (out, '{');
  while (i < a->len || j < b->len)
    {
      const Member *x = i < a->len ? &g_array_index (a, Member, i) : NULL;
      const Member *y = j < b->len ? &g_array_index (b, Member, j) : NULL;
      int c = x == NULL ? 1 : y == NULL ? -1 : member_cmp (x, y);

      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      nms_json_append_string (out, c < 0 ? x->name : y->name, c < 0 ? x->len : y->len);
      g_string_append_c (out, ':');
      if (c < 0)
        nms_json_write (out, x->node, fallback_stuffed);
      else if (c > 0)
        nms_json_write (out, y->node, stored_stuffed);
      else
        nms_json_write_merged (out, x->node, fallback_stuffed, y->node, stored_stuffed);
      i += c <= 0;
      j += c >= 0;
    }
  g_string_append_c (out, '}');
  members_free (a);
  members_free (b);
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
