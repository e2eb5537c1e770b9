/* archive.c: export, backup and restore of one origin's items. The store
 * does the SQLite work; this module decides the file formats and refuses
 * what would hurt: writing a backup over the live database, or restoring
 * a file that is not a backup of this origin. */
#include "nmstore/archive.h"
#include "nmstore/base64.h"
#include "nmstore/error.h"

#include <cjson/cJSON.h>
#include <string.h>

static void
append_key (GString *out, const char *key, gsize len)
{
  g_autofree char *copy = g_strndup (key, len);
  cJSON *s = cJSON_CreateString (copy);
  char *text = cJSON_PrintUnformatted (s);

  g_string_append (out, text);
  cJSON_free (text);
  cJSON_Delete (s);
}

typedef struct {
  GString *out;
  gboolean first;
} Exporter;

/* Stored JSON is already the compact text a reply carries, so it is
 * spliced as it is: an export and an import give back the same bytes. */
static gboolean
export_item (const NmsItem *item, gpointer user_data, GError **error)
{
  Exporter *e = user_data;

  if (!e->first)
    g_string_append_c (e->out, ',');
  e->first = FALSE;
  append_key (e->out, item->key, item->key_len);
  g_string_append_c (e->out, ':');
  if (item->kind == NMS_VALUE_BYTES)
    {
      g_string_append (e->out, "{\"$bytes\":\"");
      nms_base64_append (e->out, item->value, item->value_len);
      g_string_append (e->out, "\"}");
    }
  else
    g_string_append_len (e->out, (const char *) item->value, (gssize) item->value_len);
  return TRUE;
}

gboolean
nms_archive_export (NmsStore *store, const char *prefix, GString *out, GError **error)
{
  Exporter e = { out, TRUE };

  g_string_append_c (out, '{');
  if (!nms_store_scan (store, prefix, TRUE, export_item, &e, error))
    return FALSE;
  g_string_append (out, "}\n");
  return TRUE;
}

static gboolean
is_live_store (NmsStore *store, const char *path)
{
  g_autofree char *live = g_canonicalize_filename (nms_store_path (store), NULL);
  g_autofree char *target = g_canonicalize_filename (path, NULL);

  return g_str_has_prefix (target, live);
}

gboolean
nms_archive_backup (NmsStore *store, const char *path, GError **error)
{
  if (is_live_store (store, path))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s is the live store (or one of its files); "
                   "write the backup somewhere else", path);
      return FALSE;
    }
  return nms_store_backup_into (store, path, error);
}

gboolean
nms_archive_restore (NmsStore *store, const char *path, const char *origin_name,
                     guint64 *n_items, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s does not exist or is not a file", path);
      return FALSE;
    }
  if (is_live_store (store, path))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s is the live store itself, not a backup", path);
      return FALSE;
    }
  return nms_store_replace_from (store, path, origin_name, n_items, error);
}

/* Turns an export's text into the one "set" request that imports it,
 * atomically. The text must be exactly one JSON object: anything after it
 * could smuggle other members into the request. The request keeps the
 * file's own text, so that the protocol layer, not a reprint, decides what
 * each value is (a reprint by cJSON would cut strings at U+0000). */
gboolean
nms_archive_import_request (const char *text, gsize len, GString *request, guint *n_items, GError **error)
{
  cJSON *parsed;
  const char *end = NULL;

  parsed = cJSON_ParseWithLengthOpts (text, len, &end, FALSE);
  while (end != NULL && end < text + len && g_ascii_isspace (*end))
    end++;
  if (!cJSON_IsObject (parsed) || end != text + len)
    {
      cJSON_Delete (parsed);
      g_set_error (error, NMS_ERROR, NMS_ERROR_JSON,
                   "the file is not one JSON object of key to value, as 'nmstore export' writes");
      return FALSE;
    }
  g_string_append (request, "{\"op\":\"set\",\"items\":");
  g_string_append_len (request, text, (gssize) len);
  g_string_append_c (request, '}');
  *n_items = (guint) cJSON_GetArraySize (parsed);
  cJSON_Delete (parsed);
  return TRUE;
}
