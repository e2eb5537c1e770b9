/* session.c: reading the engine's session in whatever form its keys hold,
 * and the three calls that only read it or remove one torrent: restore,
 * summary and remove_torrent. Check, repair and migration are in
 * session-fix.c. */
#include "session-private.h"
#include "nmstore/base64.h"
#include "nmstore/error.h"

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

void
session_raw_clear (SessionRaw *raw)
{
  g_clear_pointer (&raw->value, g_bytes_unref);
  raw->found = FALSE;
}

static gboolean
keep_raw (const NmsItem *item, gpointer user_data, GError **error)
{
  SessionRaw *raw = user_data;

  raw->found = TRUE;
  raw->kind = item->kind;
  raw->value = g_bytes_new (item->value, item->value_len);
  return TRUE;
}

gboolean
session_read (NmsStore *store, const char *key, SessionRaw *raw, GError **error)
{
  session_raw_clear (raw);
  return nms_store_get (store, key, strlen (key), keep_raw, raw, error);
}

/* A JSON value, stored as JSON or as bytes of UTF-8 JSON text. */
cJSON *
session_raw_json (const SessionRaw *raw, const char **why)
{
  gsize len;
  const char *text = g_bytes_get_data (raw->value, &len);
  cJSON *value;

  if (raw->kind == NMS_VALUE_BYTES && !g_utf8_validate_len (text, len, NULL))
    {
      *why = "bytes that are not UTF-8 JSON text";
      return NULL;
    }
  value = cJSON_ParseWithLength (text, len);
  if (value == NULL)
    *why = "JSON that does not parse";
  return value;
}

/* Bencode bytes, stored raw, as bytes of base64 text, or as a JSON string
 * of base64. Raw bencode of a dictionary starts with 'd', which base64 of
 * anything also may; a leading 'd' that parses as bencode wins. */
GBytes *
session_raw_bencode (const SessionRaw *raw, const char **why)
{
  gsize len, out_len;
  const char *data = g_bytes_get_data (raw->value, &len);
  guint8 *decoded;

  if (raw->kind == NMS_VALUE_BYTES)
    {
      if (len > 0 && data[0] == 'd')
        {
          g_autoptr(NmsBencodeDoc) doc = nms_bencode_parse ((const guint8 *) data, len, NULL);
          if (doc != NULL)
            return g_bytes_ref (raw->value);
        }
      decoded = nms_base64_decode_strict (data, len, &out_len);
    }
  else
    {
      g_autoptr(cJSON) value = cJSON_ParseWithLength (data, len);
      if (!cJSON_IsString (value))
        {
          *why = "a JSON value that is not a base64 string";
          return NULL;
        }
      decoded = nms_base64_decode_strict (value->valuestring, strlen (value->valuestring), &out_len);
    }
  if (decoded == NULL)
    {
      *why = "neither bencode nor base64 of it";
      return NULL;
    }
  return g_bytes_new_take (decoded, out_len);
}

/* Writes value as JSON, or as bytes of its JSON text: the form the engine's
 * own writes of this session use. */
gboolean
session_write_json (NmsStore *store, const char *key, NmsValueKind form, const cJSON *value, GError **error)
{
  g_autofree char *text = cJSON_PrintUnformatted (value);
  NmsItem item = { key, strlen (key), form, (const guint8 *) text, strlen (text) };

  return nms_store_set (store, &item, 1, error);
}

char *
session_key (const Session *s, const char *hash, const char *suffix)
{
  return g_strconcat (s->prefix, "torrent:", hash, suffix, NULL);
}

cJSON *
session_problem (Session *s, const char *code, const char *hash, const char *key, const char *format, ...)
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
  cJSON_AddItemToArray (s->problems, p);
  return p;
}

void
session_torrent_free (gpointer data)
{
  SessionTorrent *t = data;

  g_free (t->hash);
  cJSON_Delete (t->state);
  session_raw_clear (&t->state_raw);
  g_clear_pointer (&t->torrentfile, g_bytes_unref);
  g_clear_pointer (&t->infodict, g_bytes_unref);
  nms_metainfo_clear (&t->meta);
  g_free (t);
}

void
session_free (Session *s)
{
  if (s == NULL)
    return;
  g_free (s->prefix);
  g_free (s->index_key);
  session_raw_clear (&s->index_raw);
  cJSON_Delete (s->index);
  g_clear_pointer (&s->torrents, g_ptr_array_unref);
  g_clear_pointer (&s->by_hash, g_hash_table_unref);
  cJSON_Delete (s->problems);
  g_free (s);
}

/* Reads a torrentfile or infodict key and checks it against the hash. */
static gboolean
load_metadata (Session *s, SessionTorrent *t, const char *suffix, NmsMetainfoSource source,
               GBytes **out, gboolean *stored, GError **error)
{
  g_autofree char *key = session_key (s, t->hash, suffix);
  SessionRaw raw = { 0 };
  g_autoptr(GError) bad = NULL;
  const char *why = NULL;
  NmsMetainfo meta;
  GBytes *bytes;
  gsize len;
  const guint8 *data;

  if (!session_read (s->store, key, &raw, error))
    return FALSE;
  *stored = raw.found;
  if (!raw.found)
    return TRUE;
  bytes = session_raw_bencode (&raw, &why);
  session_raw_clear (&raw);
  if (bytes == NULL)
    {
      session_problem (s, "bad-bencode", t->hash, key, "%s holds %s", key, why);
      return TRUE;
    }
  data = g_bytes_get_data (bytes, &len);
  if (!nms_bencode_metainfo (data, len, source, &meta, &bad))
    {
      session_problem (s, "bad-bencode", t->hash, key, "%s: %s", key, bad->message);
      g_bytes_unref (bytes);
      return TRUE;
    }
  if (g_ascii_strcasecmp (meta.info_hash, t->hash) != 0)
    {
      session_problem (s, "hash-mismatch", t->hash, key, "%s: its info dictionary's SHA-1 is %s, not the "
                       "infohash it is filed under", key, meta.info_hash);
      nms_metainfo_clear (&meta);
      g_bytes_unref (bytes);
      return TRUE;
    }
  *out = bytes;
  if (!t->has_meta)
    {
      t->meta = meta;
      t->has_meta = TRUE;
    }
  else
    nms_metainfo_clear (&meta);
  return TRUE;
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
      session_problem (s, "bitfield-length", t->hash, state_key, "%s: \"bitfield\" is not a hex string", state_key);
      return;
    }
  len = strlen (bf->valuestring);
  for (i = 0; i < len; i++)
    if (!g_ascii_isxdigit (bf->valuestring[i]))
      {
        session_problem (s, "bitfield-length", t->hash, state_key, "%s: \"bitfield\" is not hex", state_key);
        return;
      }
  if (t->has_meta && len != 2 * ((t->meta.piece_count + 7) / 8))
    {
      session_problem (s, "bitfield-length", t->hash, state_key, "%s: the bitfield has %" G_GSIZE_FORMAT
                       " hex digits, but %" G_GUINT64_FORMAT " pieces need %" G_GUINT64_FORMAT, state_key, len,
                       t->meta.piece_count, 2 * ((t->meta.piece_count + 7) / 8));
      return;
    }
  t->bitfield_ok = TRUE;
}

/* Reads one torrent's metadata and state, recording what is wrong with
 * them; NULL only when the store itself fails. */
SessionTorrent *
session_torrent_read (Session *s, const char *hash, cJSON *entry, GError **error)
{
  SessionTorrent *t = g_new0 (SessionTorrent, 1);
  g_autofree char *state_key = session_key (s, hash, ":state");
  const char *why = NULL;

  t->hash = g_strdup (hash);
  t->entry = entry;
  if (!load_metadata (s, t, ":torrentfile", NMS_METAINFO_TORRENT_FILE, &t->torrentfile, &t->torrentfile_stored, error)
      || !load_metadata (s, t, ":infodict", NMS_METAINFO_INFO_DICT, &t->infodict, &t->infodict_stored, error)
      || !session_read (s->store, state_key, &t->state_raw, error))
    {
      session_torrent_free (t);
      return NULL;
    }
  if (t->state_raw.found)
    {
      t->state = session_raw_json (&t->state_raw, &why);
      if (t->state == NULL || !cJSON_IsObject (t->state))
        {
          g_clear_pointer (&t->state, cJSON_Delete);
          session_problem (s, "bad-json", t->hash, state_key, "%s holds %s", state_key,
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
      session_problem (s, "bad-entry", NULL, s->index_key, "%s holds an entry without a 40-digit hex \"infoHash\"",
                       s->index_key);
      return TRUE;
    }
  if (g_hash_table_contains (s->by_hash, hash->valuestring))
    {
      session_problem (s, "bad-entry", hash->valuestring, s->index_key, "%s lists %s twice", s->index_key,
                       hash->valuestring);
      return TRUE;
    }
  if ((t = session_torrent_read (s, hash->valuestring, entry, error)) == NULL)
    return FALSE;
  g_ptr_array_add (s->torrents, t);
  g_hash_table_insert (s->by_hash, g_ascii_strdown (t->hash, -1), t);
  if (!t->torrentfile_stored && !t->infodict_stored)
    {
      /* A magnet waiting for its metadata is normal; only check lists it. */
      if (cJSON_IsString (magnet) && s->for_check)
        session_problem (s, "no-metadata", t->hash, NULL, "%s has neither torrentfile nor infodict; the engine "
                         "must fetch the metadata again from its magnet link", t->hash);
      else if (!cJSON_IsString (magnet))
        session_problem (s, "no-metadata", t->hash, NULL, "%s has neither torrentfile nor infodict nor a magnet "
                         "link, so it cannot be restored", t->hash);
    }
  return TRUE;
}

Session *
session_load (NmsStore *store, const char *prefix, gboolean for_check, GError **error)
{
  g_autoptr(Session) s = g_new0 (Session, 1);
  const cJSON *version, *list;
  cJSON *entry;
  const char *why = NULL;

  s->store = store;
  s->for_check = for_check;
  s->prefix = g_strdup (prefix ? prefix : NMS_SESSION_DEFAULT_PREFIX);
  s->index_key = g_strconcat (s->prefix, "torrents", NULL);
  s->torrents = g_ptr_array_new_with_free_func (session_torrent_free);
  s->by_hash = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->problems = cJSON_CreateArray ();

  if (!session_read (store, s->index_key, &s->index_raw, error))
    return NULL;
  if (!s->index_raw.found)
    return g_steal_pointer (&s);
  s->index = session_raw_json (&s->index_raw, &why);
  version = cJSON_GetObjectItemCaseSensitive (s->index, "version");
  list = cJSON_GetObjectItemCaseSensitive (s->index, "torrents");
  if (s->index == NULL || !cJSON_IsNumber (version) || !cJSON_IsArray (list))
    {
      session_problem (s, "bad-json", NULL, s->index_key, "%s holds %s", s->index_key,
                       why ? why : "JSON without \"version\" and a \"torrents\" list");
      g_clear_pointer (&s->index, cJSON_Delete);
      return g_steal_pointer (&s);
    }
  s->version = version->valueint;
  if (s->version == 1)
    {
      session_problem (s, "schema-v1", NULL, s->index_key, "%s is schema v1; run 'nmstore session migrate' "
                       "(op sessionMigrate) to read it", s->index_key);
      return g_steal_pointer (&s);
    }
  if (s->version != 2)
    {
      session_problem (s, "bad-json", NULL, s->index_key, "%s has version %d, which nmstore does not know",
                       s->index_key, s->version);
      return g_steal_pointer (&s);
    }
  cJSON_ArrayForEach (entry, list)
    if (!load_torrent (s, entry, error))
      return NULL;
  return g_steal_pointer (&s);
}

static cJSON *
bytes_value (GBytes *bytes)
{
  g_autoptr(GString) b64 = g_string_new (NULL);
  cJSON *v;
  gsize len;
  const guint8 *data;

  if (bytes == NULL)
    return cJSON_CreateNull ();
  data = g_bytes_get_data (bytes, &len);
  nms_base64_append (b64, data, len);
  v = cJSON_CreateObject ();
  cJSON_AddStringToObject (v, "$bytes", b64->str);
  return v;
}

static cJSON *
dup_or_null (const cJSON *value)
{
  return value != NULL ? cJSON_Duplicate (value, TRUE) : cJSON_CreateNull ();
}

static cJSON *
result_new (Session *s, gboolean with_index)
{
  cJSON *result = cJSON_CreateObject ();

  cJSON_AddStringToObject (result, "prefix", s->prefix);
  if (with_index)
    cJSON_AddItemToObject (result, "index", dup_or_null (s->index));
  return result;
}

static cJSON *
finish (Session *s, cJSON *result)
{
  cJSON_AddItemToObject (result, "problems", s->problems);
  s->problems = NULL;
  return result;
}

typedef void (*TorrentItemFunc) (SessionTorrent *t, cJSON *item);

/* Loads the session and builds one result item per listed torrent. */
static cJSON *
per_torrent (NmsStore *store, const char *prefix, gboolean with_index, TorrentItemFunc fill, GError **error)
{
  g_autoptr(Session) s = session_load (store, prefix, FALSE, error);
  cJSON *result, *list;
  guint i;

  if (s == NULL)
    return NULL;
  result = result_new (s, with_index);
  list = cJSON_AddArrayToObject (result, "torrents");
  for (i = 0; i < s->torrents->len; i++)
    {
      SessionTorrent *t = s->torrents->pdata[i];
      cJSON *item = cJSON_CreateObject ();

      cJSON_AddStringToObject (item, "infoHash", t->hash);
      fill (t, item);
      cJSON_AddItemToArray (list, item);
    }
  return finish (s, result);
}

static void
restore_item (SessionTorrent *t, cJSON *item)
{
  cJSON_AddItemToObject (item, "entry", cJSON_Duplicate (t->entry, TRUE));
  cJSON_AddItemToObject (item, "state", dup_or_null (t->state));
  cJSON_AddItemToObject (item, "torrentfile", bytes_value (t->torrentfile));
  cJSON_AddItemToObject (item, "infodict", bytes_value (t->infodict));
}

cJSON *
nms_session_restore (NmsStore *store, const char *prefix, GError **error)
{
  return per_torrent (store, prefix, TRUE, restore_item, error);
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
  cJSON_AddItemToObject (to, name, dup_or_null (cJSON_GetObjectItemCaseSensitive (from, member)));
}

static void
summary_item (SessionTorrent *t, cJSON *item)
{
  const cJSON *bf = cJSON_GetObjectItemCaseSensitive (t->state, "bitfield");

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
}

cJSON *
nms_session_summary (NmsStore *store, const char *prefix, GError **error)
{
  return per_torrent (store, prefix, FALSE, summary_item, error);
}

gboolean
session_collect_key (const NmsItem *item, gpointer user_data, GError **error)
{
  GPtrArray *keys = user_data;

  g_ptr_array_add (keys, g_strndup (item->key, item->key_len));
  return TRUE;
}

/* Every key of one torrent: <prefix>torrent:<hash>:* and v1's
 * <prefix>torrent:<hash>. */
gboolean
session_torrent_keys (NmsStore *store, const char *prefix, const char *hash, GPtrArray *keys, GError **error)
{
  g_autofree char *v1 = g_strconcat (prefix, "torrent:", hash, NULL);
  g_autofree char *under = g_strconcat (v1, ":", NULL);
  SessionRaw raw = { 0 };

  if (!session_read (store, v1, &raw, error))
    return FALSE;
  if (raw.found)
    g_ptr_array_add (keys, g_strdup (v1));
  session_raw_clear (&raw);
  return nms_store_scan (store, under, FALSE, session_collect_key, keys, error);
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
remove_torrent (NmsStore *store, const char *prefix, const char *hash, cJSON *removed,
                gboolean *index_updated, GError **error)
{
  g_autofree char *index_key = g_strconcat (prefix, "torrents", NULL);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  SessionRaw raw = { 0 };
  g_autoptr(cJSON) index = NULL;
  const char *why;
  gboolean ok;
  guint i;

  *index_updated = FALSE;
  ok = session_torrent_keys (store, prefix, hash, keys, error)
       && nms_store_remove (store, (const char *const *) keys->pdata, keys->len, error)
       && session_read (store, index_key, &raw, error);
  if (ok && raw.found && (index = session_raw_json (&raw, &why)) != NULL && index_drop (index, hash))
    {
      ok = session_write_json (store, index_key, raw.kind, index, error);
      *index_updated = ok;
    }
  session_raw_clear (&raw);
  for (i = 0; ok && i < keys->len; i++)
    cJSON_AddItemToArray (removed, cJSON_CreateString (keys->pdata[i]));
  return ok;
}

cJSON *
nms_session_remove_torrent (NmsStore *store, const char *prefix, const char *info_hash, GError **error)
{
  g_autoptr(cJSON) result = cJSON_CreateObject ();
  cJSON *removed = cJSON_AddArrayToObject (result, "removed");
  gboolean index_updated = FALSE, ok;

  if (!nms_session_is_info_hash (info_hash))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "\"%s\" is not an infohash (40 hex digits)", info_hash);
      return NULL;
    }
  if (prefix == NULL)
    prefix = NMS_SESSION_DEFAULT_PREFIX;
  if (!nms_store_group_begin (store, error))
    return NULL;
  ok = remove_torrent (store, prefix, info_hash, removed, &index_updated, error);
  if (!nms_store_group_end (store, ok, error))
    return NULL;
  cJSON_AddBoolToObject (result, "indexUpdated", index_updated);
  return g_steal_pointer (&result);
}
