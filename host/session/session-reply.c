/* SPDX-License-Identifier: MIT */
/* session-reply.c: restore and summary, the two calls that turn a whole
 * session into one reply.
 *
 * A restore of 1,000 torrents with 40 KB .torrent files is a reply of
 * 55 MB, so it is written as text straight into the reply, torrent by
 * torrent: each torrent's bytes are base64-encoded into it and dropped
 * before the next torrent is read. Neither call builds a JSON tree of the
 * whole reply, and the reply text is the only copy of it. A summary keeps
 * no bytes at all and does not hash the metadata: checking infohashes is
 * sessionCheck's job (and restore's, which hands the bytes to the engine). */
#include "session-private.h"
#include "json/json.h"

#include <string.h>

typedef struct {
  GString *out;
  guint    count;  /* torrents written so far */
} Reply;

/* Small values (an entry, a state, the index) in their canonical text,
 * exactly as get returns them. */
static void
append_json (GString *out, const cJSON *value)
{
  if (value == NULL)
    g_string_append (out, "null");
  else
    nms_json_write (out, value, FALSE);
}

static void
append_string (GString *out, const char *text)
{
  nms_json_append_cstring (out, text);
}

/* {"$bytes":"<base64>"} or null, encoded into the reply where it goes. */
static void
append_bytes (GString *out, GBytes *bytes)
{
  gsize len;
  const guint8 *data;

  if (bytes == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  data = g_bytes_get_data (bytes, &len);
  nms_json_append_bytes (out, data, len);
}

/* What was read of a torrent once it is in the reply: only the small
 * facts stay, for the rest of the load (duplicates, problems). */
static void
drop_written (SessionTorrent *t)
{
  g_clear_pointer (&t->torrentfile, g_bytes_unref);
  g_clear_pointer (&t->infodict, g_bytes_unref);
  g_clear_pointer (&t->state, cJSON_Delete);
  _nms_session_raw_clear (&t->state_raw);
}

static void
begin_item (Reply *r, SessionTorrent *t)
{
  if (r->count++ > 0)
    g_string_append_c (r->out, ',');
  g_string_append (r->out, "{\"infoHash\":");
  append_string (r->out, t->hash);
}

/* Writes the members of a reply around its torrents, read one at a time. */
static gboolean
write_session (Session *s, gboolean with_index, SessionTorrentFunc write_item, GString *out, GError **error)
{
  Reply r = { out, 0 };

  g_string_append (out, "\"prefix\":");
  append_string (out, s->prefix);
  if (with_index)
    {
      g_string_append (out, ",\"index\":");
      append_json (out, s->index);
    }
  g_string_append (out, ",\"torrents\":[");
  if (!_nms_session_load_torrents (s, write_item, &r, error))
    return FALSE;
  g_string_append (out, "],\"problems\":");
  append_json (out, s->problems);
  return TRUE;
}

static gboolean
restore_item (Session *s, SessionTorrent *t, gpointer user_data, GError **error)
{
  Reply *r = user_data;

  begin_item (r, t);
  g_string_append (r->out, ",\"entry\":");
  append_json (r->out, t->entry);
  g_string_append (r->out, ",\"state\":");
  append_json (r->out, t->state);
  g_string_append (r->out, ",\"torrentfile\":");
  append_bytes (r->out, t->torrentfile);
  g_string_append (r->out, ",\"infodict\":");
  append_bytes (r->out, t->infodict);
  g_string_append_c (r->out, '}');
  drop_written (t);
  return TRUE;
}

gboolean
nms_session_restore (NmsStore *store, const char *prefix, GString *out, GError **error)
{
  g_autoptr(Session) s = _nms_session_open (store, prefix, FALSE, error);

  return s != NULL && write_session (s, TRUE, restore_item, out, error);
}

/* The set bits of each hex digit's value, by the digit. */
static const guint8 digit_bits[256] = {
  ['0'] = 0, ['1'] = 1, ['2'] = 1, ['3'] = 2, ['4'] = 1, ['5'] = 2, ['6'] = 2, ['7'] = 3,
  ['8'] = 1, ['9'] = 2, ['a'] = 2, ['b'] = 3, ['c'] = 2, ['d'] = 3, ['e'] = 3, ['f'] = 4,
  ['A'] = 2, ['B'] = 3, ['C'] = 2, ['D'] = 3, ['E'] = 3, ['F'] = 4,
};

/* Share of pieces held, from the bitfield's set bits among the first
 * piece_count (the first piece is the first byte's high bit); spare bits
 * in the last byte do not count. The caller checked the bitfield: hex
 * digits only, as many as piece_count needs (check_bitfield). Whole bytes
 * are counted a digit at a time: bit by bit, this loop was a sixth of a
 * 1,000-torrent summary's instructions. */
static double
progress_of (const char *hex, guint64 piece_count)
{
  guint64 have = 0, bit = 0;
  gsize i;

  for (i = 0; hex[i] != '\0' && hex[i + 1] != '\0' && bit + 8 <= piece_count; i += 2, bit += 8)
    have += digit_bits[(guchar) hex[i]] + digit_bits[(guchar) hex[i + 1]];
  if (bit < piece_count && hex[i] != '\0' && hex[i + 1] != '\0')
    {
      guint byte = (guint) (g_ascii_xdigit_value (hex[i]) << 4 | g_ascii_xdigit_value (hex[i + 1]));
      int b;
      for (b = 7; bit < piece_count; b--, bit++)
        have += (byte >> b) & 1;
    }
  return piece_count > 0 ? (double) have / (double) piece_count : 0.0;
}

/* ,"name": where name is one of this file's member names (plain ASCII,
 * nothing to escape), appended as it stands: printf would parse its
 * format again for each member of each torrent. */
static void
append_name (GString *out, const char *name)
{
  g_string_append (out, ",\"");
  g_string_append (out, name);
  g_string_append (out, "\":");
}

/* ,"name":value, with value a member of from (null when it has none). */
static void
append_member_of (GString *out, const char *name, const cJSON *from, const char *member)
{
  append_name (out, name);
  append_json (out, cJSON_GetObjectItemCaseSensitive (from, member));
}

/* ,"name":number, or null for a torrent without metadata. */
static void
append_number_member (GString *out, const char *name, gboolean known, double value)
{
  append_name (out, name);
  if (known)
    nms_json_append_number (out, value);
  else
    g_string_append (out, "null");
}

static gboolean
summary_item (Session *s, SessionTorrent *t, gpointer user_data, GError **error)
{
  Reply *r = user_data;
  const cJSON *bf = cJSON_GetObjectItemCaseSensitive (t->state, "bitfield");
  gboolean meta = t->has_meta, has_progress = meta && t->bitfield_ok && cJSON_IsString (bf);

  /* The item's members follow "infoHash", which begin_item writes, in
   * canonical (sorted) order. */
  begin_item (r, t);
  append_member_of (r->out, "addedAt", t->entry, "addedAt");
  append_member_of (r->out, "downloaded", t->state, "downloaded");
  append_number_member (r->out, "fileCount", meta, (double) t->meta.file_count);
  g_string_append (r->out, ",\"name\":");
  if (meta)
    append_string (r->out, t->meta.name);
  else
    g_string_append (r->out, "null");
  append_number_member (r->out, "pieceCount", meta, (double) t->meta.piece_count);
  append_number_member (r->out, "progress", has_progress,
                        has_progress ? progress_of (bf->valuestring, t->meta.piece_count) : 0);
  append_member_of (r->out, "source", t->entry, "source");
  append_number_member (r->out, "totalSize", meta, (double) t->meta.total_size);
  append_member_of (r->out, "uploaded", t->state, "uploaded");
  append_member_of (r->out, "userState", t->state, "userState");
  g_string_append_c (r->out, '}');
  drop_written (t);
  return TRUE;
}

gboolean
nms_session_summary (NmsStore *store, const char *prefix, GString *out, GError **error)
{
  g_autoptr(Session) s = _nms_session_open (store, prefix, FALSE, error);

  if (s == NULL)
    return FALSE;
  s->verify = FALSE;
  s->keep_bytes = FALSE;
  return write_session (s, FALSE, summary_item, out, error);
}
