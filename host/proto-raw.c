/* proto-raw.c: finding the request text of the values a set stores, and
 * telling whether that text is already exactly what the host would store.
 *
 * A value is stored as cJSON prints it (compact JSON, numbers re-printed),
 * so that it comes back the way JSON.stringify would write it. Browsers
 * already send that form for most values; when the request's own text for
 * a value is byte for byte what cJSON would print, the host stores that
 * text and skips printing it again, which for a 2.5 KB session state is a
 * quarter of the work of a set. The scanner runs only over text that cJSON
 * has already accepted, and answers "not canonical" for anything it is not
 * sure of, so every doubtful value still takes the printing path. */
#include "proto-private.h"

#include <string.h>

/* Skips JSON whitespace; its presence inside a value makes it
 * non-canonical, between members it does not matter. */
static const char *
skip_space (const char *p, const char *end, gboolean *canonical)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
      *canonical = FALSE;
      p++;
    }
  return p;
}

static gboolean
is_lower_hex (char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Whether the 8 bytes at p are all plain string content: none is '"',
 * '\\' or a control character.
 * A session state is mostly one long hex string, and this takes it eight
 * bytes at a time. */
static gboolean
all_plain (const char *p)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  const guint64 highs = G_GUINT64_CONSTANT (0x8080808080808080);
  guint64 w, quote, backslash, control;

  memcpy (&w, p, sizeof w);
  quote = w ^ (ones * '"');
  backslash = w ^ (ones * '\\');
  /* A zero byte in quote or backslash, or a byte below 0x20 in w. */
  control = ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | ((w - ones * 0x20) & ~w);
  return (control & highs) == 0;
}

/* p is at the opening quote. cJSON prints a string's bytes as they are
 * except '"', '\\' and control characters: those as \" \\ \b \f \n \r \t
 * or a lower-case \u00XX. Any other escape in the request (\/, \u00e9, a
 * surrogate pair) or a raw control character would come out differently. */
static const char *
skip_string (const char *p, const char *end, gboolean *canonical)
{
  for (p++; p < end; p++)
    {
      guint8 c;

      while (end - p >= 8 && all_plain (p))
        p += 8;
      if (p >= end)
        break;
      c = (guint8) *p;

      if (c == '"')
        return p + 1;
      if (c < 0x20)
        *canonical = FALSE;
      if (c != '\\')
        continue;
      if (p + 1 >= end)
        return end;
      switch (p[1])
        {
        case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
          p++;
          break;
        case 'u':
          if (end - p < 6)
            return end;
          if (!(p[2] == '0' && p[3] == '0' && (p[4] == '0' || p[4] == '1') && is_lower_hex (p[5]))
              || g_ascii_strncasecmp (p + 2, "0008", 4) == 0 || g_ascii_strncasecmp (p + 2, "0009", 4) == 0
              || g_ascii_strncasecmp (p + 2, "000a", 4) == 0 || g_ascii_strncasecmp (p + 2, "000c", 4) == 0
              || g_ascii_strncasecmp (p + 2, "000d", 4) == 0)
            *canonical = FALSE;
          p += 5;
          break;
        default:
          *canonical = FALSE;
          p++;
          break;
        }
    }
  return end;
}

/* cJSON prints an integral double of at most 15 digits with exactly those
 * digits (as %d, or %1.15g without an exponent); "-0" becomes "0", and
 * fractions and exponents may be re-printed, so only plain integers of up
 * to 15 digits count as canonical. */
static const char *
skip_number (const char *p, const char *end, gboolean *canonical)
{
  const char *start = p, *digits;

  if (p < end && *p == '-')
    p++;
  digits = p;
  while (p < end && *p >= '0' && *p <= '9')
    p++;
  if (p - digits > 15 || p == digits || (p - digits > 1 && *digits == '0')
      || (*start == '-' && p - digits == 1 && *digits == '0'))
    *canonical = FALSE;
  while (p < end && (*p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-' || (*p >= '0' && *p <= '9')))
    {
      *canonical = FALSE;
      p++;
    }
  return p;
}

static const char *skip_value (const char *p, const char *end, gboolean *canonical);

/* Objects and arrays: the members or elements, with no whitespace in a
 * canonical text. cJSON keeps a repeated member and prints it again, so
 * repeats need no special care. */
static const char *
skip_container (const char *p, const char *end, gboolean *canonical)
{
  char close = *p == '{' ? '}' : ']';
  gboolean object = close == '}';

  p = skip_space (p + 1, end, canonical);
  if (p < end && *p == close)
    return p + 1;
  while (p < end)
    {
      if (object)
        {
          if (*p != '"')
            return end;
          p = skip_space (skip_string (p, end, canonical), end, canonical);
          if (p >= end || *p != ':')
            return end;
          p = skip_space (p + 1, end, canonical);
        }
      p = skip_space (skip_value (p, end, canonical), end, canonical);
      if (p < end && *p == close)
        return p + 1;
      if (p >= end || *p != ',')
        return end;
      p = skip_space (p + 1, end, canonical);
    }
  return end;
}

static const char *
skip_value (const char *p, const char *end, gboolean *canonical)
{
  if (p >= end)
    return end;
  switch (*p)
    {
    case '"':
      return skip_string (p, end, canonical);
    case '{':
    case '[':
      return skip_container (p, end, canonical);
    case 't':
    case 'n':
      return end - p >= 4 ? p + 4 : end;
    case 'f':
      return end - p >= 5 ? p + 5 : end;
    default:
      return skip_number (p, end, canonical);
    }
}

GArray *
nms_proto_raw_members (NmsRequest *req, const char *name)
{
  const char *p = req->text, *end = req->text + req->text_len;
  gsize name_len = strlen (name);
  gboolean ignored = TRUE;

  /* The sentinel that stands in for U+0000 must be undone by printing. */
  if (req->text == NULL || req->nul_sentinel)
    return NULL;
  p = skip_space (p, end, &ignored);
  if (p >= end || *p != '{')
    return NULL;
  p = skip_space (p + 1, end, &ignored);
  while (p < end && *p == '"')
    {
      const char *key = p + 1, *key_end;

      p = skip_string (p, end, &ignored);
      key_end = p - 1;
      p = skip_space (p, end, &ignored);
      if (p >= end || *p != ':')
        return NULL;
      p = skip_space (p + 1, end, &ignored);
      /* A name written with escapes is not found here, and its values are
       * printed as before. */
      if ((gsize) (key_end - key) == name_len && memcmp (key, name, name_len) == 0 && *p == '{')
        {
          GArray *members = g_array_new (FALSE, FALSE, sizeof (NmsRawValue));

          p = skip_space (p + 1, end, &ignored);
          while (p < end && *p == '"')
            {
              NmsRawValue value = { NULL, 0, TRUE };

              p = skip_space (skip_string (p, end, &ignored), end, &ignored);
              if (p >= end || *p != ':')
                break;
              value.text = p = skip_space (p + 1, end, &ignored);
              p = skip_value (p, end, &value.canonical);
              value.len = (gsize) (p - value.text);
              g_array_append_val (members, value);
              p = skip_space (p, end, &ignored);
              if (p < end && *p == ',')
                p = skip_space (p + 1, end, &ignored);
            }
          return members;
        }
      p = skip_space (skip_value (p, end, &ignored), end, &ignored);
      if (p < end && *p == ',')
        p = skip_space (p + 1, end, &ignored);
    }
  return NULL;
}
