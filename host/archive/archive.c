/* SPDX-License-Identifier: MIT */
/* archive.c: export, backup and restore of one origin's items. The store
 * does the SQLite work; this module decides the file formats and refuses
 * what would hurt: writing a backup over the live database, or restoring
 * a file that is not a backup of this origin. */
#include "archive-private.h"
#include "archive/archive.h"
#include "base/base64.h"
#include "base/error.h"
#include "json/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>

#define SEALED_FORMAT  "nmstore-sealed-export"
#define SEALED_VERSION 1

/* Text waiting to be written goes out once there is this much of it. */
#define EXPORT_FLUSH_BYTES (1u << 20)

typedef struct {
  GString        *out;
  gboolean        first;
  FILE           *file;      /* NULL: everything stays in out */
  guint64         done, total;
  NmsProgressFunc progress;
  gpointer        progress_data;
} Exporter;

/* Writes what has piled up and wipes it: an encrypted origin's export
 * --decrypt holds its values in the clear. */
static gboolean
export_flush (Exporter *e, GError **error)
{
  gboolean ok = fwrite (e->out->str, 1, e->out->len, e->file) == e->out->len;

  sodium_memzero (e->out->str, e->out->len);
  g_string_truncate (e->out, 0);
  if (!ok)
    g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot write the export: %s (is the disk full, or the "
                 "reading end of the pipe gone?)", g_strerror (errno));
  return ok;
}

static gboolean
write_failed (GError **error)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot write the export: %s (is the disk full, or the "
               "reading end of the pipe gone?)", g_strerror (errno));
  return FALSE;
}

/* Stored JSON is already the compact text a reply carries, so it is
 * spliced as it is: an export and an import give back the same bytes. */
void
_nms_archive_append_item (GString *out, gboolean first, const NmsItem *item)
{
  if (!first)
    g_string_append_c (out, ',');
  nms_json_append_string (out, item->key, item->key_len);
  g_string_append_c (out, ':');
  if (item->kind == NMS_VALUE_BYTES)
    nms_json_append_bytes (out, item->value, item->value_len);
  else
    g_string_append_len (out, (const char *) item->value, (gssize) item->value_len);
}

static gboolean
export_item (const NmsItem *item, gpointer user_data, GError **error)
{
  Exporter *e = user_data;

  _nms_archive_append_item (e->out, e->first, item);
  e->first = FALSE;
  e->done++;
  if (e->progress != NULL)
    e->progress (e->done, MAX (e->done, e->total), e->progress_data);
  return e->file == NULL || e->out->len < EXPORT_FLUSH_BYTES || export_flush (e, error);
}

static gboolean
count_item (const NmsItem *item, gpointer user_data, GError **error)
{
  (*(guint64 *) user_data)++;
  return TRUE;
}

/* One read transaction: every item as of one moment, whatever other
 * processes write meanwhile (an encrypted origin's listing takes several
 * statements). The names are counted first, for the progress line. */
gboolean
nms_archive_export (NmsStore *store, const char *prefix, FILE *out, NmsProgressFunc progress,
                    gpointer progress_data, GError **error)
{
  g_autoptr(GString) text = g_string_sized_new (EXPORT_FLUSH_BYTES + 4096);
  Exporter e = { text, TRUE, out, 0, 0, progress, progress_data };

  if (!nms_store_begin (store, FALSE, error))
    return FALSE;
  g_string_append_c (text, '{');
  if ((progress != NULL && !nms_store_scan (store, prefix, FALSE, count_item, &e.total, error))
      || !nms_store_scan (store, prefix, TRUE, export_item, &e, error))
    {
      sodium_memzero (text->str, text->len);
      nms_store_rollback (store);
      return FALSE;
    }
  g_string_append (text, "}\n");
  if (!export_flush (&e, error) || fflush (out) != 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot write the export: %s", g_strerror (errno));
      nms_store_rollback (store);
      return FALSE;
    }
  return nms_store_commit (store, error);
}

/* The list MAC's parts before the records: what the export is, and of
 * what; then the record count, so that a list cut short fails even where
 * the cut falls between parts. */
void
_nms_archive_sealed_mac_head (NmsCryptoListMac *mac, const char *origin, const char *prefix, guint64 n_records)
{
  static const char label[] = SEALED_FORMAT "-1";
  guint64 n = GUINT64_TO_LE (n_records);

  nms_crypto_list_mac_add (mac, label, sizeof label - 1);
  nms_crypto_list_mac_add (mac, origin, strlen (origin));
  nms_crypto_list_mac_add (mac, prefix ? prefix : "", prefix ? strlen (prefix) : 0);
  nms_crypto_list_mac_add (mac, &n, sizeof n);
}

void
_nms_archive_sealed_mac_record (NmsCryptoListMac *mac, const guint8 *token, const guint8 *sealed, gsize sealed_len)
{
  nms_crypto_list_mac_add (mac, token, NMS_CRYPTO_TOKEN_BYTES);
  nms_crypto_list_mac_add (mac, sealed, sealed_len);
}

typedef struct {
  Exporter          e;
  NmsCryptoListMac *mac;
  const char       *origin;
  const char       *prefix;
  const char       *envelope;   /* the key record's text */
  gboolean          head_done;
} SealedWriter;

/* What comes before the records; the MAC's head needs their count. */
static void
sealed_head (SealedWriter *w, guint64 n_records)
{
  GString *out = w->e.out;

  _nms_archive_sealed_mac_head (w->mac, w->origin, w->prefix, n_records);
  g_string_append (out, "{\"format\":\"" SEALED_FORMAT "\",\"version\":1,\"origin\":");
  nms_json_append_cstring (out, w->origin);
  g_string_append (out, ",\"prefix\":");
  if (w->prefix != NULL)
    nms_json_append_cstring (out, w->prefix);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\"envelope\":");
  g_string_append (out, w->envelope);
  g_string_append (out, ",\"records\":[");
  w->head_done = TRUE;
}

static gboolean
write_sealed (const guint8 *token, const guint8 *sealed, gsize sealed_len, guint64 index, guint64 n_records,
              gpointer user_data, GError **error)
{
  SealedWriter *w = user_data;
  GString *out = w->e.out;

  if (!w->head_done)
    sealed_head (w, n_records);
  _nms_archive_sealed_mac_record (w->mac, token, sealed, sealed_len);
  g_string_append (out, index > 0 ? ",\n[\"" : "\n[\"");
  nms_base64_append (out, token, NMS_CRYPTO_TOKEN_BYTES);
  g_string_append (out, "\",\"");
  nms_base64_append (out, sealed, sealed_len);
  g_string_append (out, "\"]");
  if (w->e.progress != NULL)
    w->e.progress (index + 1, n_records, w->e.progress_data);
  return out->len < EXPORT_FLUSH_BYTES || export_flush (&w->e, error);
}

static gboolean
export_sealed_locked_in (NmsStore *store, const char *origin, const char *prefix, SealedWriter *w, GError **error)
{
  g_autoptr(NmsCryptoListMac) mac = NULL;
  guint8 code[NMS_CRYPTO_MAC_BYTES];
  cJSON *envelope;
  char *text;
  gboolean ok;

  /* The key record is copied as stored: the export opens with exactly
   * what opened the origin when it was written. */
  envelope = cJSON_Parse (nms_store_crypt_envelope_json (store));
  if (envelope == NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_CORRUPT, "the origin's key record is not JSON");
      return FALSE;
    }
  text = cJSON_PrintUnformatted (envelope);
  cJSON_Delete (envelope);
  /* Locked: the scan says why (the MAC needs the keys). */
  if (nms_store_crypt_keys (store) == NULL)
    {
      cJSON_free (text);
      if (nms_store_sealed_scan (store, prefix, write_sealed, w, error))
        g_set_error (error, NMS_ERROR, NMS_ERROR_LOCKED, "the origin is locked; unlock it to export it");
      return FALSE;
    }
  mac = nms_crypto_list_mac_new (nms_store_crypt_keys (store));
  w->mac = mac;
  w->origin = origin;
  w->prefix = prefix;
  w->envelope = text;
  ok = nms_store_sealed_scan (store, prefix, write_sealed, w, error);
  if (ok && !w->head_done)
    sealed_head (w, 0);
  cJSON_free (text);
  if (!ok)
    return FALSE;
  nms_crypto_list_mac_final (mac, code);
  g_string_append (w->e.out, "],\n\"mac\":\"");
  nms_base64_append (w->e.out, code, sizeof code);
  g_string_append (w->e.out, "\"}\n");
  return export_flush (&w->e, error);
}

/* One read transaction: the key record and the records are one snapshot,
 * whatever other processes write meanwhile. Written to out as it goes. */
gboolean
nms_archive_export_sealed (NmsStore *store, const char *origin, const char *prefix, FILE *out,
                           NmsProgressFunc progress, gpointer progress_data, GError **error)
{
  g_autoptr(GString) text = g_string_sized_new (EXPORT_FLUSH_BYTES + 4096);
  SealedWriter w = { { text, TRUE, out, 0, 0, progress, progress_data } };
  gboolean ok;

  if (!nms_store_begin (store, FALSE, error))
    return FALSE;
  ok = export_sealed_locked_in (store, origin, prefix, &w, error) && (fflush (out) == 0 || write_failed (error));
  if (ok)
    return nms_store_commit (store, error);
  nms_store_rollback (store);
  return FALSE;
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

/* The scratch store is filled a few megabytes at a time. */
#define BACKUP_BATCH_BYTES (4u << 20)

typedef struct {
  GArray   *items;   /* NmsItem, each key and value a copy of its own */
  gsize     bytes;
  NmsStore *copy;
} ItemCollector;

static void
owned_item_clear (gpointer data)
{
  NmsItem *item = data;

  /* Values of an encrypted origin, in the clear: wiped, not just freed. */
  sodium_memzero ((char *) item->key, item->key_len);
  sodium_memzero ((guint8 *) item->value, item->value_len);
  g_free ((char *) item->key);
  g_free ((guint8 *) item->value);
}

static gboolean
flush_items (ItemCollector *c, GError **error)
{
  gboolean ok = c->items->len == 0 || nms_store_set (c->copy, (const NmsItem *) c->items->data, c->items->len, error);

  g_array_set_size (c->items, 0);
  c->bytes = 0;
  return ok;
}

static gboolean
collect_item (const NmsItem *item, gpointer user_data, GError **error)
{
  ItemCollector *c = user_data;
  NmsItem copy = { .key = g_strndup (item->key, item->key_len), .key_len = item->key_len, .kind = item->kind,
                   .value = g_memdup2 (item->value, MAX (item->value_len, 1)), .value_len = item->value_len };

  g_array_append_val (c->items, copy);
  c->bytes += item->key_len + item->value_len;
  return c->bytes < BACKUP_BATCH_BYTES || flush_items (c, error);
}

/* Removes the scratch store's directory: its database, WAL, shared memory
 * and the change bell, all of which nmstore made. */
static void
remove_scratch (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        remove_scratch (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

/* A backup in the clear of an encrypted origin: its items, decrypted in
 * one read transaction, are written into a fresh plaintext store in a
 * private scratch directory, which is then backed up to path like any
 * store. The scratch store lives only as long as this call. */
gboolean
nms_archive_backup_decrypted (NmsStore *store, const char *origin, const char *path, GError **error)
{
  g_autoptr(GArray) items = g_array_new (FALSE, TRUE, sizeof (NmsItem));
  ItemCollector c = { items, 0, NULL };
  /* The user's runtime directory is private and, on most systems, in
   * memory (tmpfs, emptied at logout): a crash before the scratch store is
   * removed leaves it there rather than beside the backup. */
  g_autofree char *scratch = g_build_filename (g_get_user_runtime_dir (), "nmstore-backup-XXXXXX", NULL);
  g_autofree char *store_dir = NULL;
  g_autoptr(NmsStore) copy = NULL;
  NmsStoreOptions options = { 0 };
  gboolean ok;

  g_array_set_clear_func (items, owned_item_clear);
  if (is_live_store (store, path))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s is the live store (or one of its files); "
                   "write the backup somewhere else", path);
      return FALSE;
    }
  if (g_mkdtemp_full (scratch, 0700) == NULL)
    {
      int saved = errno;
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot make a scratch directory in %s: %s",
                   g_get_user_runtime_dir (), g_strerror (saved));
      return FALSE;
    }
  /* The store goes one level down, so that its parent is the folder
   * just made: the runtime directory itself is not nmstore's to judge. */
  store_dir = g_build_filename (scratch, "store", NULL);
  if ((copy = nms_store_open (store_dir, origin, &options, error)) == NULL)
    {
      remove_scratch (scratch);
      return FALSE;
    }
  c.copy = copy;
  /* One read transaction of the origin, so the copy is one moment of it;
   * the items go over a batch at a time, not all at once. */
  ok = nms_store_begin (store, FALSE, error);
  if (ok)
    {
      gboolean began = nms_store_begin (copy, TRUE, error);

      ok = began && nms_store_scan (store, NULL, TRUE, collect_item, &c, error) && flush_items (&c, error)
           && nms_store_commit (copy, error);
      if (!ok && began)
        nms_store_rollback (copy);
      g_array_set_size (items, 0);
      if (ok)
        ok = nms_store_commit (store, error);
      else
        nms_store_rollback (store);
    }
  ok = ok && nms_store_backup_into (copy, path, error);
  g_clear_pointer (&copy, nms_store_free);
  remove_scratch (scratch);
  return ok;
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
