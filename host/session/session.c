/* SPDX-License-Identifier: MIT */
/* session.c: reading the engine's session (its index, each torrent's
 * metadata and state, what is wrong with them) and removing one torrent.
 * Each key's value in whatever form it holds is read and written by
 * session-forms.c; restore and summary, which write what was read into a
 * reply, are in session-reply.c; check, repair and migration in
 * session-fix.c. */
#include "session-private.h"
#include "base/error.h"
#include "json/json.h"

#include <string.h>

gboolean
nms_session_is_info_hash (const char *text)
{
  gsize i;

  for (i = 0; i < 40; i++)
    if (!g_ascii_isxdigit (text[i]))
      return FALSE;
  return text[40] == '\0';
}

char *
_nms_session_key (const Session *s, const char *hash, const char *suffix)
{
  return g_strconcat (s->prefix, "torrent:", hash, suffix, NULL);
}

cJSON *
_nms_session_problem (Session *s, const char *code, const char *hash, const char *key, const char *format, ...)
{
  cJSON *p = cJSON_CreateObject ();
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  cJSON_AddStringToObject (p, "code", code);
  cJSON_AddItemToObject (p, "infoHash", hash ? cJSON_CreateString (hash) : cJSON_CreateNull ());
  cJSON_AddItemToObject (p, "key", key ? cJSON_CreateString (key) : cJSON_CreateNull ());
  cJSON_AddStringToObject (p, "reason", reason);
  cJSON_AddStringToObject (p, "severity", "problem");
  cJSON_AddItemToArray (s->problems, p);
  return p;
}

/* A finding that describes a normal state (a magnet still waiting for its
 * metadata): listed by check, but not a failure. */
void
_nms_session_problem_is_info (cJSON *problem)
{
  cJSON_ReplaceItemInObjectCaseSensitive (problem, "severity", cJSON_CreateString ("info"));
}

gboolean
_nms_session_problem_counts (const cJSON *problem)
{
  const cJSON *severity = cJSON_GetObjectItemCaseSensitive (problem, "severity");
  return !cJSON_IsString (severity) || !g_str_equal (severity->valuestring, "info");
}

/* The engine's restoreSession() takes an entry whose source is "file" to
 * its torrentfile, and any other to its magnet link. */
gboolean
_nms_session_entry_is_file (const cJSON *entry)
{
  const cJSON *source = cJSON_GetObjectItemCaseSensitive (entry, "source");
  return cJSON_IsString (source) && g_str_equal (source->valuestring, "file");
}

void
_nms_session_torrent_free (gpointer data)
{
  SessionTorrent *t = data;

  g_free (t->hash);
  cJSON_Delete (t->state);
  _nms_session_raw_clear (&t->state_raw);
  g_clear_pointer (&t->torrentfile, g_bytes_unref);
  g_clear_pointer (&t->infodict, g_bytes_unref);
  nms_metainfo_clear (&t->meta);
  g_free (t);
}

void
_nms_session_free (Session *s)
{
  if (s == NULL)
    return;
  g_free (s->prefix);
  g_free (s->index_key);
  _nms_session_raw_clear (&s->index_raw);
  cJSON_Delete (s->index);
  g_clear_pointer (&s->torrents, g_ptr_array_unref);
  g_clear_pointer (&s->by_hash, g_hash_table_unref);
  cJSON_Delete (s->problems);
  g_free (s);
}

typedef struct {
  Session           *s;
  SessionTorrent    *t;
  const char        *key;
  NmsMetainfoSource  source;
  GBytes           **out;
  gboolean          *stored;
  gboolean          *ok;
} MetadataRead;

/* Runs on the value while the store still holds it, so that a summary,
 * which keeps no bytes, copies none. */
static gboolean
check_metadata (const NmsItem *item, gpointer user_data, GError **error)
{
  MetadataRead *r = user_data;
  Session *s = r->s;
  SessionTorrent *t = r->t;
  g_autoptr(GBytes) stored = g_bytes_new_static (item->value, item->value_len);
  SessionRaw raw = { TRUE, item->kind, stored };
  g_autoptr(NmsBencodeDoc) doc = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) bad = NULL;
  const char *why = NULL;
  NmsMetainfo meta;
  gsize len;
  const guint8 *data;

  *r->stored = TRUE;
  if ((bytes = _nms_session_raw_bencode (&raw, &doc, &why)) == NULL)
    {
      _nms_session_problem (s, "bad-bencode", t->hash, r->key, "%s holds %s", r->key, why);
      return TRUE;
    }
  data = g_bytes_get_data (bytes, &len);
  if (doc == NULL)
    doc = nms_bencode_parse (data, len, &bad);
  if (doc == NULL || !nms_bencode_read_metainfo (doc, r->source, s->verify, &meta, &bad))
    {
      _nms_session_problem (s, "bad-bencode", t->hash, r->key, "%s: %s", r->key, bad->message);
      return TRUE;
    }
  if (s->verify && g_ascii_strcasecmp (meta.info_hash, t->hash) != 0)
    {
      _nms_session_problem (s, "hash-mismatch", t->hash, r->key, "%s: its info dictionary's SHA-1 is %s, not the "
                       "infohash it is filed under", r->key, meta.info_hash);
      nms_metainfo_clear (&meta);
      return TRUE;
    }
  *r->ok = TRUE;
  /* Bytes still pointing into the store's row are copied only when kept. */
  if (s->keep_bytes)
    *r->out = bytes == stored ? g_bytes_new (data, len) : g_steal_pointer (&bytes);
  if (!t->has_meta)
    {
      t->meta = meta;
      t->has_meta = TRUE;
    }
  else
    nms_metainfo_clear (&meta);
  return TRUE;
}

/* Reads a torrentfile or infodict key and, unless the session was opened
 * without verifying, checks it against the hash. */
static gboolean
load_metadata (Session *s, SessionTorrent *t, const char *suffix, NmsMetainfoSource source,
               GBytes **out, gboolean *stored, gboolean *ok, GError **error)
{
  g_autofree char *key = _nms_session_key (s, t->hash, suffix);
  MetadataRead r = { s, t, key, source, out, stored, ok };

  *stored = FALSE;
  *ok = FALSE;
  return nms_store_get (s->store, key, strlen (key), check_metadata, &r, error);
}

/* The bitfield holds one bit per piece, padded to whole bytes, as hex. */
static void
check_bitfield (Session *s, SessionTorrent *t, const char *state_key)
{
  const cJSON *bf = cJSON_GetObjectItemCaseSensitive (t->state, "bitfield");
  gsize len, i;

  t->bitfield_ok = TRUE;
  if (bf == NULL || cJSON_IsNull (bf))
    return;
  t->bitfield_ok = FALSE;
  if (!cJSON_IsString (bf))
    {
      _nms_session_problem (s, "bitfield-length", t->hash, state_key, "%s: \"bitfield\" is not a hex string", state_key);
      return;
    }
  len = strlen (bf->valuestring);
  for (i = 0; i < len; i++)
    if (!g_ascii_isxdigit (bf->valuestring[i]))
      {
        _nms_session_problem (s, "bitfield-length", t->hash, state_key, "%s: \"bitfield\" is not hex", state_key);
        return;
      }
  if (t->has_meta && len != 2 * ((t->meta.piece_count + 7) / 8))
    {
      _nms_session_problem (s, "bitfield-length", t->hash, state_key, "%s: the bitfield has %" G_GSIZE_FORMAT
                       " hex digits, but %" G_GUINT64_FORMAT " pieces need %" G_GUINT64_FORMAT, state_key, len,
                       t->meta.piece_count, 2 * ((t->meta.piece_count + 7) / 8));
      return;
    }
  t->bitfield_ok = TRUE;
}

/* Reads one torrent's metadata and state, recording what is wrong with
 * them; NULL only when the store itself fails. */
SessionTorrent *
_nms_session_torrent_read (Session *s, const char *hash, cJSON *entry, GError **error)
{
  SessionTorrent *t = g_new0 (SessionTorrent, 1);
  g_autofree char *state_key = _nms_session_key (s, hash, ":state");
  const char *why = NULL;

  t->hash = g_strdup (hash);
  t->entry = entry;
  if (!load_metadata (s, t, ":torrentfile", NMS_METAINFO_TORRENT_FILE, &t->torrentfile, &t->torrentfile_stored,
                      &t->torrentfile_ok, error)
      || !load_metadata (s, t, ":infodict", NMS_METAINFO_INFO_DICT, &t->infodict, &t->infodict_stored,
                         &t->infodict_ok, error)
      || !_nms_session_read (s->store, state_key, &t->state_raw, error))
    {
      _nms_session_torrent_free (t);
      return NULL;
    }
  if (t->state_raw.found)
    {
      t->state = _nms_session_raw_json (&t->state_raw, &why);
      if (t->state == NULL || !cJSON_IsObject (t->state))
        {
          g_clear_pointer (&t->state, cJSON_Delete);
          _nms_session_problem (s, "bad-json", t->hash, state_key, "%s holds %s", state_key,
                           why ? why : "JSON that is not an object");
        }
      else
        check_bitfield (s, t, state_key);
    }
  return t;
}

static gboolean
load_torrent (Session *s, cJSON *entry, GError **error)
{
  const cJSON *hash = cJSON_GetObjectItemCaseSensitive (entry, "infoHash");
  const cJSON *magnet = cJSON_GetObjectItemCaseSensitive (entry, "magnetUri");
  SessionTorrent *t;

  if (!cJSON_IsString (hash) || !nms_session_is_info_hash (hash->valuestring))
    {
      _nms_session_problem (s, "bad-entry", NULL, s->index_key, "%s holds an entry without a 40-digit hex \"infoHash\"",
                       s->index_key);
      return TRUE;
    }
  if (g_hash_table_contains (s->by_hash, hash->valuestring))
    {
      _nms_session_problem (s, "bad-entry", hash->valuestring, s->index_key, "%s lists %s twice", s->index_key,
                       hash->valuestring);
      return TRUE;
    }
  if ((t = _nms_session_torrent_read (s, hash->valuestring, entry, error)) == NULL)
    return FALSE;
  g_ptr_array_add (s->torrents, t);
  g_hash_table_insert (s->by_hash, g_ascii_strdown (t->hash, -1), t);
  /* What the engine's restoreSession() would skip is a problem for
   * restore as much as for check; a magnet still waiting for its metadata
   * is normal, and only check lists it, as information. */
  if (_nms_session_entry_is_file (entry))
    {
      if (t->torrentfile_stored)
        ; /* a broken torrentfile is already reported */
      else if (t->infodict_ok)
        _nms_session_problem (s, "no-metadata", t->hash, NULL, "%s is a file torrent without its torrentfile, which "
                         "is all the engine restores a file torrent from, so it would skip it; its infodict is "
                         "sound", t->hash);
      else if (!t->infodict_stored)
        _nms_session_problem (s, "no-metadata", t->hash, NULL, "%s is a file torrent with neither torrentfile nor "
                         "infodict, so it cannot be restored", t->hash);
    }
  else if (!cJSON_IsString (magnet))
    _nms_session_problem (s, "bad-entry", t->hash, s->index_key, "%s lists %s as a magnet torrent without a "
                     "\"magnetUri\", which the engine needs to restore it, so it would skip it", s->index_key,
                     t->hash);
  else if (!t->torrentfile_stored && !t->infodict_stored && s->for_check)
    _nms_session_problem_is_info (_nms_session_problem (s, "no-metadata", t->hash, NULL, "%s is a magnet still waiting for "
                                              "its metadata; the engine fetches it from the magnet link", t->hash));
  return TRUE;
}

/* Reads the index. The torrents it lists are read by
 * _nms_session_load_torrents, one at a time, so that a caller can write each
 * out and drop its bytes before the next is read. */
Session *
_nms_session_open (NmsStore *store, const char *prefix, gboolean for_check, GError **error)
{
  g_autoptr(Session) s = g_new0 (Session, 1);
  const cJSON *version, *list;
  const char *why = NULL;

  s->store = store;
  s->for_check = for_check;
  s->verify = TRUE;
  s->keep_bytes = TRUE;
  s->prefix = g_strdup (prefix ? prefix : NMS_SESSION_DEFAULT_PREFIX);
  s->index_key = g_strconcat (s->prefix, "torrents", NULL);
  s->torrents = g_ptr_array_new_with_free_func (_nms_session_torrent_free);
  s->by_hash = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->problems = cJSON_CreateArray ();

  if (!_nms_session_read (store, s->index_key, &s->index_raw, error))
    return NULL;
  if (!s->index_raw.found)
    return g_steal_pointer (&s);
  s->index = _nms_session_raw_json (&s->index_raw, &why);
  version = cJSON_GetObjectItemCaseSensitive (s->index, "version");
  list = cJSON_GetObjectItemCaseSensitive (s->index, "torrents");
  if (s->index == NULL || !cJSON_IsNumber (version) || !cJSON_IsArray (list))
    {
      _nms_session_problem (s, "bad-json", NULL, s->index_key, "%s holds %s", s->index_key,
                       why ? why : "JSON without \"version\" and a \"torrents\" list");
      g_clear_pointer (&s->index, cJSON_Delete);
      return g_steal_pointer (&s);
    }
  s->version = version->valueint;
  if (s->version == 1)
    {
      _nms_session_problem (s, "schema-v1", NULL, s->index_key, "%s is schema v1; run 'nmstore session migrate' "
                       "(op sessionMigrate) to read it", s->index_key);
      return g_steal_pointer (&s);
    }
  if (s->version != 2)
    {
      _nms_session_problem (s, "bad-json", NULL, s->index_key, "%s has version %d, which nmstore does not know",
                       s->index_key, s->version);
      return g_steal_pointer (&s);
    }
  s->list = list;
  return g_steal_pointer (&s);
}

/* Reads every torrent the index lists, calling each (when not NULL) after
 * each one that was read. */
gboolean
_nms_session_load_torrents (Session *s, SessionTorrentFunc each, gpointer user_data, GError **error)
{
  cJSON *entry;
  guint before;
  guint64 done = 0, total;

  if (s->list == NULL)
    return TRUE;
  total = (guint64) cJSON_GetArraySize (s->list);
  cJSON_ArrayForEach (entry, s->list)
    {
      before = s->torrents->len;
      if (!load_torrent (s, entry, error))
        return FALSE;
      /* Reading and checking each torrent's files is what takes long. */
      nms_store_report_progress (s->store, ++done, total);
      if (each != NULL && s->torrents->len > before
          && !each (s, s->torrents->pdata[s->torrents->len - 1], user_data, error))
        return FALSE;
    }
  return TRUE;
}

Session *
_nms_session_load (NmsStore *store, const char *prefix, gboolean for_check, GError **error)
{
  g_autoptr(Session) s = _nms_session_open (store, prefix, for_check, error);

  if (s == NULL || !_nms_session_load_torrents (s, NULL, NULL, error))
    return NULL;
  return g_steal_pointer (&s);
}

gboolean
_nms_session_collect_key (const NmsItem *item, gpointer user_data, GError **error)
{
  GPtrArray *keys = user_data;

  g_ptr_array_add (keys, g_strndup (item->key, item->key_len));
  return TRUE;
}

/* Every key of one torrent: <prefix>torrent:<hash>:* and v1's
 * <prefix>torrent:<hash>. */
gboolean
_nms_session_torrent_keys (NmsStore *store, const char *prefix, const char *hash, GPtrArray *keys, GError **error)
{
  g_autofree char *v1 = g_strconcat (prefix, "torrent:", hash, NULL);
  g_autofree char *under = g_strconcat (v1, ":", NULL);
  SessionRaw raw = { 0 };

  if (!_nms_session_read (store, v1, &raw, error))
    return FALSE;
  if (raw.found)
    g_ptr_array_add (keys, g_strdup (v1));
  _nms_session_raw_clear (&raw);
  return nms_store_scan (store, under, FALSE, _nms_session_collect_key, keys, error);
}

/* Drops the entry for hash from the parsed index; TRUE when there was one. */
static gboolean
index_drop (cJSON *index, const char *hash)
{
  cJSON *list = cJSON_GetObjectItemCaseSensitive (index, "torrents");
  cJSON *entry;

  cJSON_ArrayForEach (entry, list)
    {
      const cJSON *h = cJSON_GetObjectItemCaseSensitive (entry, "infoHash");
      if (cJSON_IsString (h) && g_ascii_strcasecmp (h->valuestring, hash) == 0)
        {
          cJSON_Delete (cJSON_DetachItemViaPointer (list, entry));
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
remove_torrent (NmsStore *store, const char *prefix, const char *hash, GPtrArray *keys,
                gboolean *index_updated, GError **error)
{
  g_autofree char *index_key = g_strconcat (prefix, "torrents", NULL);
  SessionRaw raw = { 0 };
  g_autoptr(cJSON) index = NULL;
  const char *why;
  gboolean ok;

  *index_updated = FALSE;
  ok = _nms_session_torrent_keys (store, prefix, hash, keys, error)
       && nms_store_remove (store, (const char *const *) keys->pdata, keys->len, error)
       && _nms_session_read (store, index_key, &raw, error);
  if (ok && raw.found && (index = _nms_session_raw_json (&raw, &why)) != NULL && index_drop (index, hash))
    {
      ok = _nms_session_write_json (store, index_key, raw.kind, index, error);
      *index_updated = ok;
    }
  _nms_session_raw_clear (&raw);
  return ok;
}

gboolean
nms_session_remove_torrent (NmsStore *store, const char *prefix, const char *info_hash, GString *out,
                            GError **error)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  gboolean index_updated = FALSE, ok;
  guint i;

  if (!nms_session_is_info_hash (info_hash))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "\"%s\" is not an infohash (40 hex digits)", info_hash);
      return FALSE;
    }
  if (prefix == NULL)
    prefix = NMS_SESSION_DEFAULT_PREFIX;
  if (!nms_store_group_begin (store, error))
    return FALSE;
  ok = remove_torrent (store, prefix, info_hash, keys, &index_updated, error);
  if (!nms_store_group_end (store, ok, error))
    return FALSE;
  /* Members in canonical (sorted) order. */
  g_string_append_printf (out, "\"indexUpdated\":%s,\"removed\":[", index_updated ? "true" : "false");
  for (i = 0; i < keys->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      nms_json_append_cstring (out, keys->pdata[i]);
    }
  g_string_append_c (out, ']');
  return TRUE;
}
