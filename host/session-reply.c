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
#include "nmstore/json.h"

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
  session_raw_clear (&t->state_raw);
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
  if (!session_load_torrents (s, write_item, &r, error))
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
  g_autoptr(Session) s = session_open (store, prefix, FALSE, error);

  return s != NULL && write_session (s, TRUE, restore_item, out, error);
}

/* Share of pieces held, from the bitfield's set bits among the first
 * piece_count; spare bits in the last byte do not count. */
static double
progress_of (const char *hex, guint64 piece_count)
{
  guint64 have = 0, bit = 0;
  gsize i;

  for (i = 0; hex[i] != '\0' && hex[i + 1] != '\0' && bit < piece_count; i += 2)
    {
      guint byte = (guint) (g_ascii_xdigit_value (hex[i]) << 4 | g_ascii_xdigit_value (hex[i + 1]));
      int b;
      for (b = 7; b >= 0 && bit < piece_count; b--, bit++)
        have += (byte >> b) & 1;
    }
  return piece_count > 0 ? (double) have / (double) piece_count : 0.0;
}

static void
add_member_copy (cJSON *to, const char *name, const cJSON *from, const char *member)
{
  const cJSON *value = cJSON_GetObjectItemCaseSensitive (from, member);

  cJSON_AddItemToObject (to, name, value != NULL ? cJSON_Duplicate (value, TRUE) : cJSON_CreateNull ());
}

static gboolean
summary_item (Session *s, SessionTorrent *t, gpointer user_data, GError **error)
{
  Reply *r = user_data;
  const cJSON *bf = cJSON_GetObjectItemCaseSensitive (t->state, "bitfield");
  g_autoptr(cJSON) item = cJSON_CreateObject ();
  g_autoptr(GString) text = NULL;

  if (t->has_meta)
    {
      cJSON_AddStringToObject (item, "name", t->meta.name);
      cJSON_AddNumberToObject (item, "totalSize", (double) t->meta.total_size);
      cJSON_AddNumberToObject (item, "pieceCount", (double) t->meta.piece_count);
      cJSON_AddNumberToObject (item, "fileCount", (double) t->meta.file_count);
    }
  else
    {
      cJSON_AddNullToObject (item, "name");
      cJSON_AddNullToObject (item, "totalSize");
      cJSON_AddNullToObject (item, "pieceCount");
      cJSON_AddNullToObject (item, "fileCount");
    }
  if (t->has_meta && t->bitfield_ok && cJSON_IsString (bf))
    cJSON_AddNumberToObject (item, "progress", progress_of (bf->valuestring, t->meta.piece_count));
  else
    cJSON_AddNullToObject (item, "progress");
  add_member_copy (item, "uploaded", t->state, "uploaded");
  add_member_copy (item, "downloaded", t->state, "downloaded");
  add_member_copy (item, "userState", t->state, "userState");
  add_member_copy (item, "addedAt", t->entry, "addedAt");
  add_member_copy (item, "source", t->entry, "source");

  /* The item's members follow "infoHash", which begin_item writes. */
  begin_item (r, t);
  text = g_string_new (NULL);
  nms_json_write (text, item, FALSE);
  if (text->str[1] != '}')
    {
      g_string_append_c (r->out, ',');
      g_string_append (r->out, text->str + 1);
    }
  else
    g_string_append_c (r->out, '}');
  drop_written (t);
  return TRUE;
}

gboolean
nms_session_summary (NmsStore *store, const char *prefix, GString *out, GError **error)
{
  g_autoptr(Session) s = session_open (store, prefix, FALSE, error);

  if (s == NULL)
    return FALSE;
  s->verify = FALSE;
  s->keep_bytes = FALSE;
  return write_session (s, FALSE, summary_item, out, error);
}
