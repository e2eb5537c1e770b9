/* SPDX-License-Identifier: MIT */
/* json.c: nmstore's JSON value format (see json.h) as trees: parsing
 * through cJSON with the two things cJSON cannot do itself (U+0000 inside
 * strings, lone surrogate escapes), the canonical writer of a tree (members
 * sorted), and Chrome's merge of get's defaults. The exact text of strings
 * and numbers is json-write.c's; reading text without a tree, json-scan.c's
 * and json-walk.c's.
 *
 * Stuffing. cJSON keeps strings NUL-terminated, so a \u0000 escape would
 * cut its string short. A text holding one is rewritten before parsing:
 * every U+FFFF (raw or escaped) becomes two U+FFFF, and every \u0000
 * becomes U+FFFF followed by "0". In the parsed tree a U+FFFF is always
 * the first of such a pair, so nms_json_string() reads it back without
 * doubt. Texts without \u0000, nearly all of them, are parsed as they are. */
#include "json/json.h"
#include "json/json-private.h"
#include "base/error.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* U+FFFF in UTF-8: the stuffing mark. */
static const char mark[] = "\xEF\xBF\xBF";
#define MARK_LEN 3

gboolean
nms_json_is_utf8 (const char *text, gsize len, const char **bad)
{
  return _nms_json_is_utf8 (text, len, bad);
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

  doc->root = NULL;
  doc->stuffed = FALSE;
  if (len == 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_JSON, "the text is empty");
      return FALSE;
    }
  if (!_nms_json_is_utf8 ((const char *) text, len, &bad))
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

/* Trees. */

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

typedef struct {
  GString *out;
  GArray  *defaults;  /* Member, sorted */
  gboolean stuffed;
  guint    next;      /* the first default not written yet */
  gboolean first;
} TextMerge;

static void
merge_comma (TextMerge *m)
{
  if (!m->first)
    g_string_append_c (m->out, ',');
  m->first = FALSE;
}

static gboolean merge_text (GString *out, const cJSON *fallback, gboolean stuffed, const char *stored, gsize len,
                            GError **error);

/* One stored member, in order: the defaults that sort before it first. */
static gboolean
merge_member (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
              GError **error)
{
  TextMerge *m = user_data;
  Member stored = { .name = name, .len = name_len };
  const Member *d = NULL;
  int c = 1;

  while (m->next < m->defaults->len
         && (c = member_cmp (d = &g_array_index (m->defaults, Member, m->next), &stored)) < 0)
    {
      merge_comma (m);
      nms_json_append_string (m->out, d->name, d->len);
      g_string_append_c (m->out, ':');
      nms_json_write (m->out, d->node, m->stuffed);
      m->next++;
    }
  merge_comma (m);
  nms_json_append_string (m->out, name, name_len);
  g_string_append_c (m->out, ':');
  if (m->next < m->defaults->len && c == 0)
    {
      m->next++;
      return merge_text (m->out, d->node, m->stuffed, value, value_len, error);
    }
  /* The stored text is canonical: it goes in as it is, but for the
   * white space the reader kept after it. */
  while (value_len > 0 && g_ascii_isspace (value[value_len - 1]))
    value_len--;
  g_string_append_len (m->out, value, (gssize) value_len);
  return TRUE;
}

/* Chrome's base::Value::Dict::Merge of the stored value into the default
 * (storage.get with an object of defaults): where both are objects their
 * members merge, recursively; anywhere else the stored value wins. stored
 * is canonical text; its members are read in order, beside the sorted
 * defaults, so that no tree of the stored value is built. */
static gboolean
merge_text (GString *out, const cJSON *fallback, gboolean stuffed, const char *stored, gsize len, GError **error)
{
  TextMerge m = { out, NULL, stuffed, 0, TRUE };
  gboolean ok;

  while (len > 0 && g_ascii_isspace (*stored))
    stored++, len--;
  if (!cJSON_IsObject (fallback) || len == 0 || stored[0] != '{')
    {
      while (len > 0 && g_ascii_isspace (stored[len - 1]))
        len--;
      g_string_append_len (out, stored, (gssize) len);
      return TRUE;
    }
  m.defaults = sorted_members (fallback, stuffed);
  g_string_append_c (out, '{');
  ok = nms_json_each_member (stored, len, merge_member, &m, error);
  for (; ok && m.next < m.defaults->len; m.next++)
    {
      const Member *d = &g_array_index (m.defaults, Member, m.next);
      merge_comma (&m);
      nms_json_append_string (out, d->name, d->len);
      g_string_append_c (out, ':');
      nms_json_write (out, d->node, stuffed);
    }
  g_string_append_c (out, '}');
  members_free (m.defaults);
  return ok;
}

gboolean
nms_json_write_merged_text (GString *out, const cJSON *fallback, gboolean fallback_stuffed,
                            const char *stored, gsize stored_len, GError **error)
{
  g_autoptr(GString) canonical = g_string_new (NULL);

  /* Values nmstore wrote are canonical already; this also brings one an
   * older nmstore sealed (and so could not upgrade) to sorted order. */
  if (!nms_json_canonicalize (stored, stored_len, canonical, error))
    return FALSE;
  return merge_text (out, fallback, fallback_stuffed, canonical->str, canonical->len, error);
}
