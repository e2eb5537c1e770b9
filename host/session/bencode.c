/* SPDX-License-Identifier: MIT */
/* bencode.c: the strict bencode decoder and the metainfo reader behind
 * bencode.h. Values live in one flat array and refer to each other by
 * index, so a document is two allocations however large it is, and a
 * hostile input costs at most NMS_BENCODE_MAX_VALUES entries. */
#include "session/bencode.h"
#include "base/error.h"

#include <string.h>

#define NONE G_MAXUINT32

struct _NmsBencodeDoc {
  GArray *values;  /* NmsBencode; index 0 is the root */
};

typedef struct {
  const guint8 *data;
  gsize         len;
  gsize         pos;
  GArray       *values;
} Parser;

static gboolean
bad (Parser *p, GError **error, const char *what)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "not valid bencode: %s at byte %" G_GSIZE_FORMAT, what, p->pos);
  return FALSE;
}

/* A non-negative decimal without leading zeros, ending at stop. */
static gboolean
read_decimal (Parser *p, char stop, gboolean allow_negative, gint64 *out, GError **error)
{
  gboolean negative = FALSE;
  guint64 value = 0;
  gsize start;

  if (allow_negative && p->pos < p->len && p->data[p->pos] == '-')
    {
      negative = TRUE;
      p->pos++;
    }
  start = p->pos;
  while (p->pos < p->len && g_ascii_isdigit (p->data[p->pos]))
    {
      guint digit = p->data[p->pos] - '0';
      if (value > ((guint64) G_MAXINT64 - digit) / 10)
        return bad (p, error, "a number too large");
      value = value * 10 + digit;
      p->pos++;
    }
  if (p->pos == start)
    return bad (p, error, "a missing number");
  if (p->pos >= p->len || p->data[p->pos] != (guint8) stop)
    return bad (p, error, "a number not properly ended");
  if (p->data[start] == '0' && (p->pos - start > 1 || negative))
    return bad (p, error, "a number with a leading zero or \"-0\"");
  p->pos++;
  *out = negative ? -(gint64) value : (gint64) value;
  return TRUE;
}

static gboolean
read_string (Parser *p, const guint8 **str, gsize *len, GError **error)
{
  gint64 n;

  if (!read_decimal (p, ':', FALSE, &n, error))
    return FALSE;
  if ((guint64) n > p->len - p->pos)
    return bad (p, error, "a string longer than the input");
  *str = p->data + p->pos;
  *len = (gsize) n;
  p->pos += (gsize) n;
  return TRUE;
}

static int
compare_keys (const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
  int c = memcmp (a, b, MIN (a_len, b_len));
  return c != 0 ? c : (a_len > b_len) - (a_len < b_len);
}

static gboolean parse_value (Parser *p, guint depth, guint32 *index, GError **error);

static gboolean
parse_children (Parser *p, guint depth, guint32 self, gboolean dict, GError **error)
{
  guint32 prev = NONE;
  const guint8 *prev_key = NULL;
  gsize prev_key_len = 0;

  p->pos++;
  for (;;)
    {
      const guint8 *key = NULL;
      gsize key_len = 0;
      guint32 child;

      if (p->pos >= p->len)
        return bad (p, error, dict ? "a dictionary without its end" : "a list without its end");
      if (p->data[p->pos] == 'e')
        {
          p->pos++;
          return TRUE;
        }
      if (dict)
        {
          if (!g_ascii_isdigit (p->data[p->pos]))
            return bad (p, error, "a dictionary key that is not a string");
          if (!read_string (p, &key, &key_len, error))
            return FALSE;
          if (prev_key != NULL && compare_keys (prev_key, prev_key_len, key, key_len) >= 0)
            return bad (p, error, "dictionary keys out of order or repeated");
          prev_key = key;
          prev_key_len = key_len;
        }
      if (!parse_value (p, depth + 1, &child, error))
        return FALSE;
      g_array_index (p->values, NmsBencode, child).key = key;
      g_array_index (p->values, NmsBencode, child).key_len = key_len;
      if (prev == NONE)
        g_array_index (p->values, NmsBencode, self).first = child;
      else
        g_array_index (p->values, NmsBencode, prev).next = child;
      prev = child;
    }
}

static gboolean
parse_value (Parser *p, guint depth, guint32 *index, GError **error)
{
  NmsBencode v = { .first = NONE, .next = NONE };
  gsize start = p->pos;
  guint32 self;
  gboolean ok;

  if (depth >= NMS_BENCODE_MAX_DEPTH)
    return bad (p, error, "nesting deeper than the limit");
  if (p->values->len >= NMS_BENCODE_MAX_VALUES)
    return bad (p, error, "more values than the limit");
  if (p->pos >= p->len)
    return bad (p, error, "a missing value");

  self = p->values->len;
  g_array_append_val (p->values, v);
  switch (p->data[p->pos])
    {
    case 'i':
      p->pos++;
      v.type = NMS_BENCODE_INTEGER;
      ok = read_decimal (p, 'e', TRUE, &v.integer, error);
      break;
    case 'l':
    case 'd':
      v.type = p->data[p->pos] == 'l' ? NMS_BENCODE_LIST : NMS_BENCODE_DICT;
      g_array_index (p->values, NmsBencode, self).type = v.type;
      ok = parse_children (p, depth, self, v.type == NMS_BENCODE_DICT, error);
      v.first = g_array_index (p->values, NmsBencode, self).first;
      break;
    default:
      if (!g_ascii_isdigit (p->data[p->pos]))
        return bad (p, error, "an unknown value type");
      v.type = NMS_BENCODE_STRING;
      ok = read_string (p, &v.str, &v.str_len, error);
      break;
    }
  if (!ok)
    return FALSE;
  v.raw = p->data + start;
  v.raw_len = p->pos - start;
  g_array_index (p->values, NmsBencode, self) = v;
  *index = self;
  return TRUE;
}

NmsBencodeDoc *
nms_bencode_parse (const guint8 *data, gsize len, GError **error)
{
  Parser p = { data, len, 0, NULL };
  g_autoptr(NmsBencodeDoc) doc = g_new0 (NmsBencodeDoc, 1);
  guint32 root;

  if (len > NMS_BENCODE_MAX_INPUT)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_TOO_LARGE, "bencoded data of %" G_GSIZE_FORMAT
                   " bytes is over the %u-byte limit", len, NMS_BENCODE_MAX_INPUT);
      return NULL;
    }
  doc->values = p.values = g_array_new (FALSE, FALSE, sizeof (NmsBencode));
  if (!parse_value (&p, 0, &root, error))
    return NULL;
  if (p.pos != len)
    {
      bad (&p, error, "data after the value");
      return NULL;
    }
  return g_steal_pointer (&doc);
}

void
nms_bencode_doc_free (NmsBencodeDoc *doc)
{
  if (doc == NULL)
    return;
  g_array_free (doc->values, TRUE);
  g_free (doc);
}

const NmsBencode *
nms_bencode_root (const NmsBencodeDoc *doc)
{
  return &g_array_index (doc->values, NmsBencode, 0);
}

static const NmsBencode *
at (const NmsBencodeDoc *doc, guint32 index)
{
  return index == NONE ? NULL : &g_array_index (doc->values, NmsBencode, index);
}

const NmsBencode *
nms_bencode_first (const NmsBencodeDoc *doc, const NmsBencode *parent)
{
  return at (doc, parent->first);
}

const NmsBencode *
nms_bencode_next (const NmsBencodeDoc *doc, const NmsBencode *child)
{
  return at (doc, child->next);
}

/* NULL when dict is not a dictionary or has no such key. */
const NmsBencode *
nms_bencode_lookup (const NmsBencodeDoc *doc, const NmsBencode *dict, const char *key)
{
  gsize key_len = strlen (key);
  const NmsBencode *v;

  if (dict == NULL || dict->type != NMS_BENCODE_DICT)
    return NULL;
  for (v = nms_bencode_first (doc, dict); v != NULL; v = nms_bencode_next (doc, v))
    if (v->key_len == key_len && memcmp (v->key, key, key_len) == 0)
      return v;
  return NULL;
}

static gboolean
bad_meta (GError **error, const char *what)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "not a usable torrent: %s", what);
  return FALSE;
}

/* Adds a file's length, refusing a negative one or a sum that overflows. */
static gboolean
add_length (const NmsBencode *length, guint64 *total, GError **error)
{
  if (length == NULL || length->type != NMS_BENCODE_INTEGER || length->integer < 0)
    return bad_meta (error, "a file without a valid \"length\"");
  if ((guint64) length->integer > G_MAXUINT64 - *total)
    return bad_meta (error, "file lengths that add up past 2^64");
  *total += (guint64) length->integer;
  return TRUE;
}

/* Reads what nmstore shows of a torrent from its parsed document. The
 * SHA-1 is the costly part (the whole info dictionary), and only callers
 * that check the infohash ask for it. */
gboolean
nms_bencode_read_metainfo (const NmsBencodeDoc *doc, NmsMetainfoSource source, gboolean with_hash,
                           NmsMetainfo *info, GError **error)
{
  const NmsBencode *dict, *name, *plen, *pieces, *files, *f;

  memset (info, 0, sizeof *info);
  dict = nms_bencode_root (doc);
  if (source == NMS_METAINFO_TORRENT_FILE)
    dict = nms_bencode_lookup (doc, dict, "info");
  if (dict == NULL || dict->type != NMS_BENCODE_DICT)
    return bad_meta (error, source == NMS_METAINFO_TORRENT_FILE ? "no \"info\" dictionary"
                                                                : "the info dictionary is not a dictionary");
  name = nms_bencode_lookup (doc, dict, "name");
  plen = nms_bencode_lookup (doc, dict, "piece length");
  pieces = nms_bencode_lookup (doc, dict, "pieces");
  files = nms_bencode_lookup (doc, dict, "files");
  if (name == NULL || name->type != NMS_BENCODE_STRING)
    return bad_meta (error, "no \"name\"");
  if (plen == NULL || plen->type != NMS_BENCODE_INTEGER || plen->integer <= 0)
    return bad_meta (error, "no positive \"piece length\"");
  if (pieces == NULL || pieces->type != NMS_BENCODE_STRING || pieces->str_len % 20 != 0)
    return bad_meta (error, "\"pieces\" missing or not a multiple of 20 bytes (BitTorrent v2-only torrents are not read)");

  if (files != NULL)
    {
      if (files->type != NMS_BENCODE_LIST)
        return bad_meta (error, "\"files\" is not a list");
      for (f = nms_bencode_first (doc, files); f != NULL; f = nms_bencode_next (doc, f))
        {
          if (!add_length (nms_bencode_lookup (doc, f, "length"), &info->total_size, error))
            return FALSE;
          info->file_count++;
        }
    }
  else
    {
      if (!add_length (nms_bencode_lookup (doc, dict, "length"), &info->total_size, error))
        return FALSE;
      info->file_count = 1;
    }
  info->piece_length = (guint64) plen->integer;
  info->piece_count = pieces->str_len / 20;

  if (with_hash)
    {
      g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
      g_checksum_update (sha1, dict->raw, (gssize) dict->raw_len);
      g_strlcpy (info->info_hash, g_checksum_get_string (sha1), sizeof info->info_hash);
    }
  info->name = g_utf8_make_valid ((const char *) name->str, (gssize) name->str_len);
  return TRUE;
}

gboolean
nms_bencode_metainfo (const guint8 *data, gsize len, NmsMetainfoSource source,
                      NmsMetainfo *info, GError **error)
{
  g_autoptr(NmsBencodeDoc) doc = nms_bencode_parse (data, len, error);

  memset (info, 0, sizeof *info);
  return doc != NULL && nms_bencode_read_metainfo (doc, source, TRUE, info, error);
}

void
nms_metainfo_clear (NmsMetainfo *info)
{
  g_clear_pointer (&info->name, g_free);
}

void
nms_bencode_fuzz_one (const guint8 *data, gsize len)
{
  NmsMetainfo info;

  if (nms_bencode_metainfo (data, len, NMS_METAINFO_TORRENT_FILE, &info, NULL))
    nms_metainfo_clear (&info);
  if (nms_bencode_metainfo (data, len, NMS_METAINFO_INFO_DICT, &info, NULL))
    nms_metainfo_clear (&info);
}
