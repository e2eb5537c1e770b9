/* SPDX-License-Identifier: MIT */
/* session-fix.c: the calls that rewrite a session: check (which only
 * writes with repair) and the migration from schema v1 to v2. Each runs in
 * one group of the store, so a failure leaves the session as it was. */
#include "session-private.h"
#include "base/error.h"
#include "json/json.h"

#include <string.h>

typedef struct {
  Session    *s;
  gboolean    rebuild_index;
  GPtrArray  *remove_keys;  /* char* */
  GHashTable *drop;         /* lowercase hashes whose entry and keys go */
  GPtrArray  *adopt;        /* cJSON* entries to add to the index */
  GPtrArray  *orphans;      /* SessionTorrent* read for orphan keys */
  GPtrArray  *unbitfield;   /* SessionTorrent* whose bitfield goes */
} Plan;

static void
plan_clear (Plan *plan)
{
  g_ptr_array_unref (plan->remove_keys);
  g_hash_table_unref (plan->drop);
  g_ptr_array_unref (plan->adopt);
  g_ptr_array_unref (plan->orphans);
  g_ptr_array_unref (plan->unbitfield);
}

static void
delete_json (gpointer value)
{
  cJSON_Delete (value);
}

static void
set_repair (cJSON *problem, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
set_repair (cJSON *problem, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  cJSON_AddStringToObject (problem, "repair", text);
}

static SessionTorrent *
torrent_of (Session *s, const char *hash)
{
  g_autofree char *lower = hash ? g_ascii_strdown (hash, -1) : NULL;
  return lower ? g_hash_table_lookup (s->by_hash, lower) : NULL;
}

/* An orphan: keys of a hash that the index does not list. Its metadata,
 * when sound, brings it back into the index; otherwise its keys go. */
static gboolean
plan_orphan (Plan *plan, const char *hash, GPtrArray *keys, GError **error)
{
  Session *s = plan->s;
  SessionTorrent *t = _nms_session_torrent_read (s, hash, NULL, error);
  g_autoptr(GString) list = g_string_new (NULL);
  cJSON *problem;
  guint i;

  if (t == NULL)
    return FALSE;
  g_ptr_array_add (plan->orphans, t);
  for (i = 0; i < keys->len; i++)
    g_string_append_printf (list, "%s%s", i ? ", " : "", (char *) keys->pdata[i]);
  problem = _nms_session_problem (s, "orphan", hash, keys->pdata[0], "%s: no entry in %s for %s", list->str,
                             s->index_key, hash);
  if (t->torrentfile != NULL || t->infodict != NULL)
    {
      cJSON *entry = cJSON_CreateObject ();
      cJSON_AddStringToObject (entry, "infoHash", hash);
      cJSON_AddStringToObject (entry, "source", t->torrentfile ? "file" : "magnet");
      if (t->torrentfile == NULL)
        {
          g_autofree char *uri = g_strconcat ("magnet:?xt=urn:btih:", hash, NULL);
          cJSON_AddStringToObject (entry, "magnetUri", uri);
        }
      cJSON_AddNumberToObject (entry, "addedAt", (double) (g_get_real_time () / 1000));
      g_ptr_array_add (plan->adopt, entry);
      set_repair (problem, "add %s back to the index as a %s torrent", hash, t->torrentfile ? "file" : "magnet");
    }
  else
    {
      for (i = 0; i < keys->len; i++)
        g_ptr_array_add (plan->remove_keys, g_strdup (keys->pdata[i]));
      set_repair (problem, "remove %s: without metadata it cannot be restored", list->str);
    }
  return TRUE;
}

/* Groups the keys under <prefix>torrent: by hash and plans each orphan. */
static gboolean
find_orphans (Plan *plan, GError **error)
{
  Session *s = plan->s;
  g_autofree char *under = g_strconcat (s->prefix, "torrent:", NULL);
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) group = g_ptr_array_new ();
  g_autofree char *current = NULL;
  gsize skip = strlen (under);
  guint i;

  if (!nms_store_scan (s->store, under, FALSE, _nms_session_collect_key, all, error))
    return FALSE;
  for (i = 0; i <= all->len; i++)
    {
      const char *key = i < all->len ? all->pdata[i] : NULL;
      g_autofree char *hash = NULL;

      if (key != NULL)
        {
          if (strlen (key) < skip + 40 || (key[skip + 40] != '\0' && key[skip + 40] != ':'))
            continue;
          hash = g_strndup (key + skip, 40);
          if (!nms_session_is_info_hash (hash) || torrent_of (s, hash) != NULL)
            continue;
        }
      if (current != NULL && (hash == NULL || strcmp (hash, current) != 0))
        {
          if (!plan_orphan (plan, current, group, error))
            return FALSE;
          g_ptr_array_set_size (group, 0);
        }
      if (hash != NULL)
        {
          g_free (current);
          current = g_strdup (hash);
          g_ptr_array_add (group, (gpointer) key);
        }
    }
  return TRUE;
}

static gboolean
has_magnet (const SessionTorrent *t)
{
  return cJSON_IsString (cJSON_GetObjectItemCaseSensitive (t->entry, "magnetUri"));
}

/* Turns the torrent's index entry (in the session's parsed index, which
 * the repaired index copies) into a magnet entry, with a link made from
 * the infohash when it has none. */
static void
as_magnet (Plan *plan, SessionTorrent *t)
{
  if (cJSON_GetObjectItemCaseSensitive (t->entry, "source") != NULL)
    cJSON_ReplaceItemInObjectCaseSensitive (t->entry, "source", cJSON_CreateString ("magnet"));
  else
    cJSON_AddStringToObject (t->entry, "source", "magnet");
  if (!has_magnet (t))
    {
      g_autofree char *uri = g_strconcat ("magnet:?xt=urn:btih:", t->hash, NULL);
      cJSON_DeleteItemFromObjectCaseSensitive (t->entry, "magnetUri");
      cJSON_AddStringToObject (t->entry, "magnetUri", uri);
    }
  plan->rebuild_index = TRUE;
}

static void
plan_problem (Plan *plan, cJSON *problem)
{
  Session *s = plan->s;
  const char *code = cJSON_GetObjectItemCaseSensitive (problem, "code")->valuestring;
  const cJSON *h = cJSON_GetObjectItemCaseSensitive (problem, "infoHash");
  const cJSON *k = cJSON_GetObjectItemCaseSensitive (problem, "key");
  const char *hash = cJSON_IsString (h) ? h->valuestring : NULL;
  const char *key = cJSON_IsString (k) ? k->valuestring : NULL;
  SessionTorrent *t = torrent_of (s, hash);

  if (cJSON_GetObjectItemCaseSensitive (problem, "repair") != NULL)
    return;
  if (g_str_equal (code, "schema-v1"))
    set_repair (problem, "nothing: run 'nmstore session migrate' first");
  else if (g_str_equal (code, "no-metadata") && !_nms_session_problem_counts (problem))
    set_repair (problem, "nothing: the engine fetches the metadata from the magnet link");
  else if (g_str_equal (code, "no-metadata"))
    {
      /* A file torrent without its .torrent: the engine skips it, but as a
       * magnet it comes back, from its infodict or from its peers. */
      if (t != NULL && (t->infodict_ok || has_magnet (t)))
        {
          as_magnet (plan, t);
          set_repair (problem, "make %s a magnet torrent, which the engine restores %s", hash,
                      t->infodict_ok ? "from its infodict" : "by fetching the metadata from its magnet link");
        }
      else
        {
          g_hash_table_add (plan->drop, g_ascii_strdown (hash, -1));
          set_repair (problem, "remove %s from the index, with its keys", hash);
        }
    }
  else if (g_str_equal (code, "bad-bencode") || g_str_equal (code, "hash-mismatch"))
    {
      gboolean torrentfile = g_str_has_suffix (key, ":torrentfile");
      gboolean file = t != NULL && _nms_session_entry_is_file (t->entry);

      g_ptr_array_add (plan->remove_keys, g_strdup (key));
      /* What restores the torrent once the key is gone: a file torrent
       * only its torrentfile, a magnet its link. */
      if (t == NULL)
        set_repair (problem, "remove %s", key);
      else if (!file || (!torrentfile && t->torrentfile_ok))
        set_repair (problem, "remove %s; the torrent then needs its metadata again", key);
      else if (t->infodict_ok || has_magnet (t))
        {
          as_magnet (plan, t);
          set_repair (problem, "remove %s and make %s a magnet torrent, which the engine restores %s", key, hash,
                      t->infodict_ok ? "from its infodict" : "from its magnet link");
        }
      else
        {
          g_hash_table_add (plan->drop, g_ascii_strdown (hash, -1));
          set_repair (problem, "remove %s and, as nothing else can restore it, %s from the index", key, hash);
        }
    }
  else if (g_str_equal (code, "bitfield-length"))
    {
      if (t != NULL)
        g_ptr_array_add (plan->unbitfield, t);
      set_repair (problem, "drop the bitfield from %s; the engine then checks the downloaded data again", key);
    }
  else if (g_str_equal (code, "bad-json") && g_strcmp0 (key, s->index_key) == 0)
    {
      plan->rebuild_index = TRUE;
      set_repair (problem, "keep a copy at %sbackup:bad-index and rebuild the index from the torrents' keys",
                  s->prefix);
    }
  else if (g_str_equal (code, "bad-json"))
    {
      g_ptr_array_add (plan->remove_keys, g_strdup (key));
      set_repair (problem, "remove %s; the torrent restarts without its saved progress", key);
    }
  else if (g_str_equal (code, "bad-entry") && t != NULL && !_nms_session_entry_is_file (t->entry) && !has_magnet (t))
    {
      /* A magnet entry without its link: the infohash alone finds it. */
      as_magnet (plan, t);
      set_repair (problem, "give %s the magnet link of its infohash", hash);
    }
  else if (g_str_equal (code, "bad-entry"))
    {
      plan->rebuild_index = TRUE;
      set_repair (problem, "drop that entry from the index");
    }
}

/* The index after repair: the sound entries that stay, then the adopted. */
static cJSON *
repaired_index (Plan *plan)
{
  Session *s = plan->s;
  cJSON *index = s->index ? cJSON_Duplicate (s->index, TRUE) : cJSON_CreateObject ();
  cJSON *list = cJSON_CreateArray ();
  guint i;

  if (s->index == NULL)
    cJSON_AddNumberToObject (index, "version", 2);
  for (i = 0; i < s->torrents->len; i++)
    {
      SessionTorrent *t = s->torrents->pdata[i];
      g_autofree char *lower = g_ascii_strdown (t->hash, -1);
      if (!g_hash_table_contains (plan->drop, lower))
        cJSON_AddItemToArray (list, cJSON_Duplicate (t->entry, TRUE));
    }
  for (i = 0; i < plan->adopt->len; i++)
    cJSON_AddItemToArray (list, cJSON_Duplicate (plan->adopt->pdata[i], TRUE));
  if (cJSON_GetObjectItemCaseSensitive (index, "torrents") != NULL)
    cJSON_ReplaceItemInObjectCaseSensitive (index, "torrents", list);
  else
    cJSON_AddItemToObject (index, "torrents", list);
  return index;
}

static gboolean
apply (Plan *plan, GError **error)
{
  Session *s = plan->s;
  /* Today's engine writes its index with setJson, so a new one is JSON. */
  NmsValueKind form = s->index_raw.found ? s->index_raw.kind : NMS_VALUE_JSON;
  GHashTableIter iter;
  gpointer hash;
  guint i;

  g_hash_table_iter_init (&iter, plan->drop);
  while (g_hash_table_iter_next (&iter, &hash, NULL))
    if (!_nms_session_torrent_keys (s->store, s->prefix, torrent_of (s, hash)->hash, plan->remove_keys, error))
      return FALSE;
  if (!nms_store_remove (s->store, (const char *const *) plan->remove_keys->pdata, plan->remove_keys->len, error))
    return FALSE;
  for (i = 0; i < plan->unbitfield->len; i++)
    {
      SessionTorrent *t = plan->unbitfield->pdata[i];
      g_autofree char *key = _nms_session_key (s, t->hash, ":state");
      cJSON_DeleteItemFromObjectCaseSensitive (t->state, "bitfield");
      if (!_nms_session_write_json (s->store, key, t->state_raw.kind, t->state, error))
        return FALSE;
    }
  if (plan->rebuild_index && s->index_raw.found && s->index == NULL)
    {
      g_autofree char *copy = g_strconcat (s->prefix, "backup:bad-index", NULL);
      gsize len;
      const guint8 *data = g_bytes_get_data (s->index_raw.value, &len);
      NmsItem item = { copy, strlen (copy), s->index_raw.kind, data, len };
      if (!nms_store_set (s->store, &item, 1, error))
        return FALSE;
    }
  if (plan->rebuild_index || plan->adopt->len > 0 || g_hash_table_size (plan->drop) > 0)
    {
      g_autoptr(cJSON) index = repaired_index (plan);
      return _nms_session_write_json (s->store, s->index_key, form, index, error);
    }
  return TRUE;
}

static gboolean
check (NmsStore *store, const char *prefix, gboolean repair, GString *out, GError **error)
{
  g_autoptr(Session) s = _nms_session_load (store, prefix, TRUE, error);
  Plan plan = { 0 };
  cJSON *problem;
  gboolean ok = TRUE;
  int counted = 0;

  if (s == NULL)
    return FALSE;
  plan.s = s;
  plan.remove_keys = g_ptr_array_new_with_free_func (g_free);
  plan.drop = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  plan.adopt = g_ptr_array_new_with_free_func (delete_json);
  plan.orphans = g_ptr_array_new_with_free_func (_nms_session_torrent_free);
  plan.unbitfield = g_ptr_array_new ();
  if (s->version != 1)
    ok = find_orphans (&plan, error);
  if (ok)
    {
      cJSON_ArrayForEach (problem, s->problems)
        plan_problem (&plan, problem);
      if (repair)
        ok = apply (&plan, error);
    }
  plan_clear (&plan);
  if (!ok)
    return FALSE;
  cJSON_ArrayForEach (problem, s->problems)
    counted += _nms_session_problem_counts (problem);
  /* Members in canonical (sorted) order. */
  g_string_append (out, "\"findings\":");
  nms_json_write (out, s->problems, FALSE);
  g_string_append (out, ",\"prefix\":");
  nms_json_append_cstring (out, s->prefix);
  g_string_append_printf (out, ",\"problems\":%d,\"repaired\":%s,\"torrents\":%u", counted,
                          repair && counted > 0 ? "true" : "false", s->torrents->len);
  return TRUE;
}

gboolean
nms_session_check (NmsStore *store, const char *prefix, gboolean repair, GString *out, GError **error)
{
  gsize at = out->len;
  gboolean ok;

  if (!repair)
    return check (store, prefix, FALSE, out, error);
  if (!nms_store_group_begin (store, error))
    return FALSE;
  ok = check (store, prefix, TRUE, out, error);
  if (!nms_store_group_end (store, ok, error))
    {
      g_string_truncate (out, at);
      return FALSE;
    }
  return TRUE;
}

static gboolean
copy_raw (NmsStore *store, const char *key, const SessionRaw *raw, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (raw->value, &len);
  NmsItem item = { key, strlen (key), raw->kind, data, len };

  return nms_store_set (store, &item, 1, error);
}

static gboolean
absent (NmsStore *store, const char *key, gboolean *is_absent, GError **error)
{
  SessionRaw raw = { 0 };

  if (!_nms_session_read (store, key, &raw, error))
    return FALSE;
  *is_absent = !raw.found;
  _nms_session_raw_clear (&raw);
  return TRUE;
}

/* Writes v1's base64 text of a .torrent or info dictionary as what today's
 * engine reads back with get(): the bencoded bytes themselves, stored as
 * bytes. Text that does not decode to bencode is kept as its bytes, so that
 * check and restore name it; the v1 backup holds it as it was. Keys that
 * already exist are left as they are. */
static gboolean
write_bencode (NmsStore *store, const char *key, const char *base64, GError **error)
{
  g_autoptr(GBytes) text = g_bytes_new (base64, strlen (base64));
  g_autoptr(GBytes) bytes = NULL;
  SessionRaw raw = { TRUE, NMS_VALUE_BYTES, text };
  const char *why = NULL;
  gboolean fresh;
  gsize len;
  const guint8 *data;

  if (!absent (store, key, &fresh, error))
    return FALSE;
  if (!fresh)
    return TRUE;
  bytes = _nms_session_raw_bencode (&raw, NULL, &why);
  data = g_bytes_get_data (bytes ? bytes : text, &len);
  {
    NmsItem item = { key, strlen (key), NMS_VALUE_BYTES, data, len };
    return nms_store_set (store, &item, 1, error);
  }
}

static void
copy_member (cJSON *to, const char *name, const cJSON *from, const char *member)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive (from, member);

  if (m != NULL && !cJSON_IsNull (m))
    cJSON_AddItemToObject (to, name, cJSON_Duplicate (m, TRUE));
}

/* A v2 state from a v1 entry and its state (NULL when v1 saved none: it
 * saved one only once the torrent had metadata). v1 kept the user's
 * choices in the index entry: userState (a stopped torrent stays stopped),
 * queuePosition, and the download root as storageToken, renamed
 * storageKey in jstorrent 8fd3e5e. Today's engine sets its counters
 * straight from uploaded and downloaded, so they are always numbers. */
static cJSON *
v2_state (const cJSON *old, const cJSON *state)
{
  const cJSON *user = cJSON_GetObjectItemCaseSensitive (old, "userState");
  const cJSON *key = cJSON_GetObjectItemCaseSensitive (old, "storageKey");
  const cJSON *token = cJSON_GetObjectItemCaseSensitive (old, "storageToken");
  cJSON *v2 = cJSON_CreateObject ();
  const char *counters[] = { "uploaded", "downloaded" };
  gsize i;

  cJSON_AddStringToObject (v2, "userState", cJSON_IsString (user) ? user->valuestring : "active");
  if (cJSON_IsString (key) || cJSON_IsString (token))
    cJSON_AddStringToObject (v2, "storageKey", cJSON_IsString (key) ? key->valuestring : token->valuestring);
  copy_member (v2, "queuePosition", old, "queuePosition");
  copy_member (v2, "bitfield", state, "bitfield");
  for (i = 0; i < G_N_ELEMENTS (counters); i++)
    {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive (state, counters[i]);
      cJSON_AddNumberToObject (v2, counters[i], cJSON_IsNumber (m) ? m->valuedouble : 0);
    }
  if (cJSON_GetObjectItemCaseSensitive (state, "updatedAt") != NULL)
    copy_member (v2, "updatedAt", state, "updatedAt");
  else
    copy_member (v2, "updatedAt", old, "addedAt");
  return v2;
}

/* Moves one v1 torrent: its entry becomes a v2 entry, its embedded
 * .torrent a torrentfile key, its state (and the user's choices from its
 * entry) a v2 state, and its infoBuffer an infodict, after the old state
 * is copied under the backup prefix. The index and states are written as
 * JSON and the metadata as bytes: the forms today's engine writes them in
 * (setJson, and set of the bencoded bytes). */
static gboolean
migrate_torrent (Session *s, const cJSON *old, const char *backup, cJSON *list, GError **error)
{
  const cJSON *hash = cJSON_GetObjectItemCaseSensitive (old, "infoHash");
  const cJSON *magnet = cJSON_GetObjectItemCaseSensitive (old, "magnetLink");
  const cJSON *file = cJSON_GetObjectItemCaseSensitive (old, "torrentFile");
  const cJSON *added = cJSON_GetObjectItemCaseSensitive (old, "addedAt");
  const cJSON *info = NULL;
  g_autofree char *v1_key = NULL, *v1_copy = NULL, *state_key = NULL, *file_key = NULL, *dict_key = NULL;
  g_autoptr(cJSON) state = NULL, v2 = NULL;
  SessionRaw raw = { 0 };
  const char *why = NULL;
  gboolean fresh, ok = TRUE;
  cJSON *entry;

  if (!cJSON_IsString (hash) || !nms_session_is_info_hash (hash->valuestring))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "cannot migrate: %s holds an entry without a 40-digit "
                   "hex \"infoHash\"; nothing was changed", s->index_key);
      return FALSE;
    }
  entry = cJSON_CreateObject ();
  cJSON_AddItemToArray (list, entry);
  cJSON_AddStringToObject (entry, "infoHash", hash->valuestring);
  cJSON_AddStringToObject (entry, "source", cJSON_IsString (file) ? "file" : "magnet");
  if (cJSON_IsString (magnet))
    cJSON_AddStringToObject (entry, "magnetUri", magnet->valuestring);
  else if (!cJSON_IsString (file))
    {
      /* Neither a link nor a file: the infohash alone still finds it. */
      g_autofree char *uri = g_strconcat ("magnet:?xt=urn:btih:", hash->valuestring, NULL);
      cJSON_AddStringToObject (entry, "magnetUri", uri);
    }
  cJSON_AddNumberToObject (entry, "addedAt", cJSON_IsNumber (added) ? added->valuedouble : 0);

  file_key = _nms_session_key (s, hash->valuestring, ":torrentfile");
  if (cJSON_IsString (file) && !write_bencode (s->store, file_key, file->valuestring, error))
    return FALSE;

  v1_key = _nms_session_key (s, hash->valuestring, "");
  if (!_nms_session_read (s->store, v1_key, &raw, error))
    return FALSE;
  if (raw.found)
    {
      v1_copy = g_strconcat (backup, "torrent:", hash->valuestring, NULL);
      ok = copy_raw (s->store, v1_copy, &raw, error)
           && nms_store_remove (s->store, (const char *const *) &v1_key, 1, error);
      state = ok ? _nms_session_raw_json (&raw, &why) : NULL;
      if (!cJSON_IsObject (state))
        g_clear_pointer (&state, cJSON_Delete);
      info = cJSON_GetObjectItemCaseSensitive (state, "infoBuffer");
    }
  _nms_session_raw_clear (&raw);
  if (!ok)
    return FALSE;
  state_key = _nms_session_key (s, hash->valuestring, ":state");
  dict_key = _nms_session_key (s, hash->valuestring, ":infodict");
  v2 = v2_state (old, state);
  if (!absent (s->store, state_key, &fresh, error)
      || (fresh && !_nms_session_write_json (s->store, state_key, NMS_VALUE_JSON, v2, error)))
    return FALSE;
  return !cJSON_IsString (info) || write_bencode (s->store, dict_key, info->valuestring, error);
}

/* Migrates s, backed up under backup; *migrated counts the torrents. */
static gboolean
migrate (Session *s, const char *backup, int *migrated, GError **error)
{
  g_autofree char *backup_index = g_strconcat (backup, "torrents", NULL);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive (s->index, "torrents");
  g_autoptr(cJSON) index = cJSON_CreateObject ();
  cJSON *entries, *old;
  gboolean fresh;

  if (!absent (s->store, backup_index, &fresh, error))
    return FALSE;
  if (!fresh)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "cannot migrate: a v1 backup from an earlier migration is "
                   "still at %s; remove the keys under %s first (nmstore rm), then run migrate again",
                   backup_index, backup);
      return FALSE;
    }
  if (!copy_raw (s->store, backup_index, &s->index_raw, error))
    return FALSE;
  cJSON_AddNumberToObject (index, "version", 2);
  entries = cJSON_AddArrayToObject (index, "torrents");
  cJSON_ArrayForEach (old, list)
    if (!migrate_torrent (s, old, backup, entries, error))
      return FALSE;
  *migrated = cJSON_GetArraySize (entries);
  return _nms_session_write_json (s->store, s->index_key, NMS_VALUE_JSON, index, error);
}

gboolean
nms_session_migrate (NmsStore *store, const char *prefix, GString *out, GError **error)
{
  g_autoptr(Session) s = NULL;
  g_autofree char *backup = NULL;
  int migrated = 0;
  gboolean ok;

  if (!nms_store_group_begin (store, error))
    return FALSE;
  s = _nms_session_load (store, prefix, FALSE, error);
  ok = s != NULL;
  if (ok && s->index_raw.found && s->index == NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "cannot migrate: %s does not parse; see 'nmstore session "
                   "check'", s->index_key);
      ok = FALSE;
    }
  if (ok)
    {
      backup = g_strconcat (s->prefix, "backup:v1:", NULL);
      if (s->version == 1)
        ok = migrate (s, backup, &migrated, error);
    }
  if (!nms_store_group_end (store, ok, error))
    return FALSE;
  /* Members in canonical (sorted) order. */
  g_string_append_printf (out, "\"alreadyV2\":%s,\"backupPrefix\":", s->version == 2 ? "true" : "false");
  nms_json_append_cstring (out, backup);
  g_string_append_printf (out, ",\"migrated\":%d", migrated);
  return TRUE;
}
