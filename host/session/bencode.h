/* SPDX-License-Identifier: MIT */
/* bencode.h: a strict decoder for BitTorrent's bencoding, and the few
 * facts nmstore reads from a .torrent file or an info dictionary.
 *
 * Input comes from an extension, so the decoder trusts nothing: it checks
 * the canonical form (no leading zeros, no "-0", dictionary keys in strictly
 * ascending byte order) and stops at hard limits on input size, nesting
 * depth and the number of values. Decoded values point into the caller's
 * buffer, which must outlive the document. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NMS_BENCODE_MAX_INPUT  (64u * 1024u * 1024u)
#define NMS_BENCODE_MAX_DEPTH  64u
#define NMS_BENCODE_MAX_VALUES (4u * 1024u * 1024u)

typedef enum {
  NMS_BENCODE_INTEGER,
  NMS_BENCODE_STRING,
  NMS_BENCODE_LIST,
  NMS_BENCODE_DICT,
} NmsBencodeType;

typedef struct _NmsBencodeDoc NmsBencodeDoc;

typedef struct {
  NmsBencodeType type;
  gint64         integer;
  const guint8  *str;       /* a string's bytes */
  gsize          str_len;
  const guint8  *raw;       /* the value's own encoding, e.g. to hash "info" */
  gsize          raw_len;
  const guint8  *key;       /* inside a dictionary: this value's key */
  gsize          key_len;
  guint32        first;     /* list or dict: index of the first child */
  guint32        next;      /* index of the next sibling */
} NmsBencode;

NmsBencodeDoc    *nms_bencode_parse     (const guint8 *data, gsize len, GError **error);
void              nms_bencode_doc_free  (NmsBencodeDoc *doc);
const NmsBencode *nms_bencode_root      (const NmsBencodeDoc *doc);
const NmsBencode *nms_bencode_first     (const NmsBencodeDoc *doc, const NmsBencode *parent);
const NmsBencode *nms_bencode_next      (const NmsBencodeDoc *doc, const NmsBencode *child);
const NmsBencode *nms_bencode_lookup    (const NmsBencodeDoc *doc, const NmsBencode *dict, const char *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsBencodeDoc, nms_bencode_doc_free)

/* What nmstore shows of a torrent. */
typedef struct {
  char    *name;          /* valid UTF-8 (invalid bytes replaced) */
  guint64  total_size;
  guint64  piece_count;
  guint64  piece_length;
  guint64  file_count;
  char     info_hash[41]; /* lowercase hex SHA-1 of the info dictionary's bytes;
                           * empty when read without it */
} NmsMetainfo;

typedef enum {
  NMS_METAINFO_TORRENT_FILE,  /* a whole .torrent: a dict with an "info" dict */
  NMS_METAINFO_INFO_DICT,     /* the info dictionary alone */
} NmsMetainfoSource;

gboolean nms_bencode_metainfo      (const guint8 *data, gsize len, NmsMetainfoSource source,
                                    NmsMetainfo *info, GError **error);
gboolean nms_bencode_read_metainfo (const NmsBencodeDoc *doc, NmsMetainfoSource source, gboolean with_hash,
                                    NmsMetainfo *info, GError **error);
void     nms_metainfo_clear   (NmsMetainfo *info);

/* Runs every reader above over arbitrary bytes; for fuzzers. Never fails. */
void     nms_bencode_fuzz_one (const guint8 *data, gsize len);

G_END_DECLS
