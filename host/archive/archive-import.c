/* SPDX-License-Identifier: MIT */
/* archive-import.c: importing a plain export from a file without holding
 * it, or a tree of it, in memory.
 *
 * The file is mapped and walked once by the tree-less member reader of
 * json-walk.c; the pages already walked are handed back to the kernel as
 * it goes, so the process keeps a few megabytes of the file, not all of
 * it. Items go to the store in batches of a few megabytes, all inside one
 * write transaction: the import is still all or nothing. */
/* madvise and its MADV_ names are not in strict C. */
#define _DEFAULT_SOURCE
#include "archive/archive.h"
#include "base/error.h"
#include "json/json.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define IMPORT_BATCH_BYTES (4u << 20)
/* Pages behind the reader are given back once this much has piled up. */
#define IMPORT_DROP_BYTES  (16u << 20)
#define SEALED_FORMAT      "nmstore-sealed-export"

/* Takes text, a value's canonical text: bytes for exactly the form
 * nmstore writes back; anything else that looks like it is ordinary JSON,
 * as Chrome stores it. */
static void
value_from_canonical (GString *text, NmsValueKind *kind, guint8 **data, gsize *data_len)
{
  gsize len = 0;
  guint8 *bytes = nms_json_read_bytes (text->str, text->len, &len);

  if (bytes != NULL)
    {
      *kind = NMS_VALUE_BYTES;
      g_string_free (text, TRUE);
    }
  else
    {
      *kind = NMS_VALUE_JSON;
      len = text->len;
      bytes = (guint8 *) g_string_free (text, FALSE);
    }
  *data = bytes;
  *data_len = len;
}

gboolean
nms_archive_value_from_json (const char *value, gsize value_len, NmsValueKind *kind, guint8 **data,
                             gsize *data_len, GError **error)
{
  GString *text = g_string_sized_new (value_len);

  if (!nms_json_canonicalize (value, value_len, text, error))
    {
      g_string_free (text, TRUE);
      return FALSE;
    }
  value_from_canonical (text, kind, data, data_len);
  return TRUE;
}

gboolean
nms_archive_add_member (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
                        GError **error)
{
  NmsArchiveItems *set = user_data;
  NmsItem item = { 0 };
  guint8 *data = NULL;
  char *key;

  if (!nms_store_check_key (name, name_len, error))
    return FALSE;
  /* A mapped file was checked whole before; it may have changed since. */
  if (set->from_file && !g_utf8_validate_len (name, name_len, NULL))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_JSON, "the file changed while it was imported");
      return FALSE;
    }
  key = g_strndup (name, name_len);
  if (!g_hash_table_add (set->seen, key))
    {
      if (set->from_file)
        g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "the file names the key \"%s\" twice", key);
      else
        g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "set: \"items\" names a key twice");
      return FALSE;
    }
  if (set->canonical)
    value_from_canonical (g_string_new_len (value, (gssize) value_len), &item.kind, &data, &item.value_len);
  else if (!nms_archive_value_from_json (value, value_len, &item.kind, &data, &item.value_len, error))
    {
      /* A file of many items says which one; a request's error is its own. */
      if (set->from_file)
        g_prefix_error (error, "the value of \"%s\": ", key);
      return FALSE;
    }
  g_ptr_array_add (set->values, data);
  item.key = key;
  item.key_len = name_len;
  item.value = data;
  g_array_append_val (set->items, item);
  return TRUE;
}

/* The mapped file, and how much of its start was handed back. */
typedef struct {
  const char *base;
  gsize       len;
  gsize       dropped;
} Mapped;

/* Gives back the pages of the file the reader has passed: mapped pages
 * that were read count in the process's memory until they are. */
static void
drop_behind (Mapped *m, const char *at)
{
  long page = sysconf (_SC_PAGESIZE);
  gsize upto = (gsize) (at - m->base) / (gsize) page * (gsize) page;

  if (upto < m->dropped + IMPORT_DROP_BYTES)
    return;
  madvise ((char *) m->base + m->dropped, upto - m->dropped, MADV_DONTNEED);
  m->dropped = upto;
}

typedef struct {
  Mapped   map;
  gboolean sealed;
} Sniffer;

/* A sealed export's records are one member: the scanner says how far it
 * has got inside it. */
static void
sniff_passed (const char *at, gpointer user_data)
{
  drop_behind (&((Sniffer *) user_data)->map, at);
}

/* The UTF-8 check of nms_json_each_member, a piece at a time, with the
 * pages checked handed back. A character cut at a piece's end is checked
 * again with the next piece. */
static gboolean
check_utf8 (Mapped *m, GError **error)
{
  gsize at = 0;

  while (at < m->len)
    {
      gsize n = MIN (m->len - at, (gsize) IMPORT_DROP_BYTES), ok_len;
      const char *bad = NULL;

      if (g_utf8_validate_len (m->base + at, n, &bad))
        ok_len = n;
      else
        {
          ok_len = (gsize) (bad - (m->base + at));
          /* Only an incomplete character at the end of a piece that is not
           * the file's end may be fine; it is checked again below. */
          if (at + n == m->len || n - ok_len >= 4 || ok_len == 0)
            {
              g_set_error (error, NMS_ERROR, NMS_ERROR_JSON, "the file is not valid UTF-8, or holds a raw NUL "
                           "(first bad byte at offset %" G_GSIZE_FORMAT ")", at + ok_len);
              return FALSE;
            }
        }
      at += ok_len;
      drop_behind (m, m->base + at);
    }
  return TRUE;
}

/* Whether a member is a sealed export's "format": such a file is never
 * read as a plain one (see looks_sealed in archive.c). */
static gboolean
find_format (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
             GError **error)
{
  Sniffer *sniff = user_data;
  gboolean *sealed = &sniff->sealed;

  drop_behind (&sniff->map, value);
  if (name_len == 6 && memcmp (name, "format", 6) == 0 && value_len > 0 && value[0] == '"')
    {
      cJSON *s = cJSON_ParseWithLength (value, value_len);

      *sealed |= cJSON_IsString (s) && g_str_equal (s->valuestring, SEALED_FORMAT);
      cJSON_Delete (s);
    }
  return TRUE;
}

typedef struct {
  NmsStore       *store;
  NmsArchiveItems set;       /* items: this batch's; seen: every key so far */
  gsize           batch_bytes;
  guint64         n_items;
  Mapped          map;
  NmsProgressFunc progress;
  gpointer        progress_data;
} Importer;

static void
wipe_buffers (Importer *im)
{
  guint i;

  /* A --decrypt export's values are an encrypted origin's, in the clear. */
  for (i = 0; i < im->set.items->len; i++)
    {
      NmsItem *item = &g_array_index (im->set.items, NmsItem, i);
      sodium_memzero ((guint8 *) item->value, item->value_len);
    }
  g_ptr_array_set_size (im->set.values, 0);
  g_array_set_size (im->set.items, 0);
  im->batch_bytes = 0;
}

static gboolean
flush_batch (Importer *im, GError **error)
{
  gboolean ok = im->set.items->len == 0
                || nms_store_set (im->store, (const NmsItem *) im->set.items->data, im->set.items->len, error);

  im->n_items += im->set.items->len;
  wipe_buffers (im);
  return ok;
}

static void
import_passed (const char *at, gpointer user_data)
{
  drop_behind (&((Importer *) user_data)->map, at);
}

/* One item of an export (the item, as "set" takes it:
 * nms_archive_add_member), in batches of IMPORT_BATCH_BYTES. */
static gboolean
import_member (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
               GError **error)
{
  Importer *im = user_data;

  if (!nms_archive_add_member (name, name_len, value, value_len, &im->set, error))
    return FALSE;
  im->batch_bytes += name_len + g_array_index (im->set.items, NmsItem, im->set.items->len - 1).value_len;
  drop_behind (&im->map, value);
  if (im->progress != NULL)
    im->progress ((guint64) (value + value_len - im->map.base) >> 20, (guint64) im->map.len >> 20,
                  im->progress_data);
  return im->batch_bytes < IMPORT_BATCH_BYTES || flush_batch (im, error);
}

/* One pass over the whole file: it is one well-formed object, and which
 * kind of export it is, before a store is opened or anything written. */
gboolean
nms_archive_file_is_sealed (const char *path, gboolean *sealed, GError **error)
{
  g_autoptr(GMappedFile) map = g_mapped_file_new (path, FALSE, error);
  Sniffer sniff = { { 0 } };

  *sealed = FALSE;
  if (map == NULL)
    return FALSE;
  sniff.map.base = g_mapped_file_get_contents (map);
  sniff.map.len = g_mapped_file_get_length (map);
  madvise ((char *) sniff.map.base, sniff.map.len, MADV_SEQUENTIAL);
  if (!check_utf8 (&sniff.map, error))
    return FALSE;
  sniff.map.dropped = 0;
  if (!nms_json_each_member_utf8 (sniff.map.base, sniff.map.len, find_format, sniff_passed, &sniff, error))
    {
      g_prefix_error (error, "the file is not one JSON object of key to value, as 'nmstore export' writes: ");
      return FALSE;
    }
  *sealed = sniff.sealed;
  return TRUE;
}

gboolean
nms_archive_import_file (NmsStore *store, const char *path, guint64 *n_items, NmsProgressFunc progress,
                         gpointer progress_data, GError **error)
{
  g_autoptr(GMappedFile) map = g_mapped_file_new (path, FALSE, error);
  g_autoptr(GArray) items = g_array_new (FALSE, TRUE, sizeof (NmsItem));
  g_autoptr(GPtrArray) buffers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Importer im = { store, { items, seen, buffers, TRUE } };
  gboolean ok;

  *n_items = 0;
  if (map == NULL)
    return FALSE;
  im.map.base = g_mapped_file_get_contents (map);
  im.map.len = g_mapped_file_get_length (map);
  im.progress = progress;
  im.progress_data = progress_data;
  madvise ((char *) im.map.base, im.map.len, MADV_SEQUENTIAL);

  if (!nms_store_begin (store, TRUE, error))
    return FALSE;
  /* Checked by nms_archive_file_is_sealed; each value is checked again by
   * its canonicalization, and each name here, should the file have
   * changed since. */
  ok = nms_json_each_member_utf8 (im.map.base, im.map.len, import_member, import_passed, &im, error) && flush_batch (&im, error);
  wipe_buffers (&im);
  if (!ok)
    {
      nms_store_rollback (store);
      return FALSE;
    }
  if (!nms_store_commit (store, error))
    return FALSE;
  *n_items = im.n_items;
  return TRUE;
}
