/* SPDX-License-Identifier: MIT */
/* archive-sealed-in.c: importing a sealed export from a file without
 * holding it, or a tree of it, in memory.
 *
 * The file is mapped (its UTF-8 checked by nms_archive_file_is_sealed)
 * and its members read without a tree; the records are walked three
 * times: to count them (the list MAC starts with the count), to check
 * the MAC over all of them before anything is written, and to open each
 * and write it, in batches inside one write transaction, so the import
 * stays all or nothing. Pages already walked are handed back each time. */
#define _DEFAULT_SOURCE
#include "archive-private.h"
#include "archive/archive.h"
#include "base/base64.h"
#include "base/error.h"
#include "json/json.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEALED_FORMAT  "nmstore-sealed-export"
#define SEALED_VERSION 1
#define BATCH_BYTES    (4u << 20)
#define DROP_BYTES     (16u << 20)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (cJSON, cJSON_Delete)

struct _NmsArchiveSealedFile {
  GMappedFile       *map;
  char              *origin;
  char              *prefix;
  NmsCryptoEnvelope *envelope;
  guint8            *mac;
  gsize              mac_len;
  const char        *records;   /* the "records" member's text, in map */
  gsize              records_len;
  gsize              dropped;
  guint              members;   /* bit per member seen */
  guint              n_members;
};

static const char *const members[] = { "format", "version", "origin", "prefix", "envelope", "records", "mac" };

void
nms_archive_sealed_file_free (NmsArchiveSealedFile *f)
{
  if (f == NULL)
    return;
  g_clear_pointer (&f->map, g_mapped_file_unref);
  g_free (f->origin);
  g_free (f->prefix);
  nms_crypto_envelope_free (f->envelope);
  g_free (f->mac);
  g_free (f);
}

static gboolean
bad (GError **error, const char *what)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_JSON,
               "the file is a sealed export of nmstore, but %s: it was damaged or edited, so nothing was imported",
               what);
  return FALSE;
}

static void
drop_behind (NmsArchiveSealedFile *f, const char *at)
{
  const char *base = g_mapped_file_get_contents (f->map);
  long page = sysconf (_SC_PAGESIZE);
  gsize upto = (gsize) (at - base) / (gsize) page * (gsize) page;

  if (upto < f->dropped + DROP_BYTES)
    return;
  madvise ((char *) base + f->dropped, upto - f->dropped, MADV_DONTNEED);
  f->dropped = upto;
}

static void
rewind_map (NmsArchiveSealedFile *f)
{
  madvise (g_mapped_file_get_contents (f->map), g_mapped_file_get_length (f->map), MADV_DONTNEED);
  f->dropped = 0;
}

static void
head_passed (const char *at, gpointer user_data)
{
  drop_behind (user_data, at);
}

/* The small members are parsed as they come; "records" is only located. */
static gboolean
head_member (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
             GError **error)
{
  NmsArchiveSealedFile *f = user_data;
  g_autoptr(cJSON) parsed = NULL;
  gsize i;

  f->n_members++;
  for (i = 0; i < G_N_ELEMENTS (members); i++)
    if (strlen (members[i]) == name_len && memcmp (members[i], name, name_len) == 0)
      break;
  if (i == G_N_ELEMENTS (members) || (f->members & (1u << i)))
    return bad (error, "it has members a sealed export does not have");
  f->members |= 1u << i;
  if (g_str_equal (members[i], "records"))
    {
      f->records = value;
      f->records_len = value_len;
      drop_behind (f, value + value_len);
      return TRUE;
    }
  parsed = cJSON_ParseWithLength (value, value_len);
  if (g_str_equal (members[i], "version"))
    {
      if (!cJSON_IsNumber (parsed) || parsed->valuedouble != SEALED_VERSION)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_JSON,
                       "the file is a sealed export of a format version this nmstore does not know; "
                       "import it with the nmstore that wrote it");
          return FALSE;
        }
    }
  else if (g_str_equal (members[i], "origin"))
    {
      if (!cJSON_IsString (parsed))
        return bad (error, "its origin, prefix or key record has the wrong type");
      f->origin = g_strdup (parsed->valuestring);
    }
  else if (g_str_equal (members[i], "prefix"))
    {
      if (!cJSON_IsNull (parsed) && !cJSON_IsString (parsed))
        return bad (error, "its origin, prefix or key record has the wrong type");
      f->prefix = cJSON_IsString (parsed) ? g_strdup (parsed->valuestring) : NULL;
    }
  else if (g_str_equal (members[i], "envelope"))
    {
      g_autofree char *text = NULL;

      if (!cJSON_IsObject (parsed))
        return bad (error, "its origin, prefix or key record has the wrong type");
      text = cJSON_PrintUnformatted (parsed);
      if ((f->envelope = nms_crypto_envelope_parse (text, error)) == NULL)
        return FALSE;
    }
  else if (g_str_equal (members[i], "mac"))
    {
      if (!cJSON_IsString (parsed)
          || (f->mac = nms_base64_decode_strict (parsed->valuestring, strlen (parsed->valuestring), &f->mac_len))
             == NULL)
        return bad (error, "its \"mac\" is not base64");
    }
  return TRUE;
}

NmsArchiveSealedFile *
nms_archive_sealed_file_open (const char *path, GError **error)
{
  g_autoptr(NmsArchiveSealedFile) f = g_new0 (NmsArchiveSealedFile, 1);
  gsize i;

  if ((f->map = g_mapped_file_new (path, FALSE, error)) == NULL)
    return NULL;
  madvise (g_mapped_file_get_contents (f->map), g_mapped_file_get_length (f->map), MADV_SEQUENTIAL);
  if (!nms_json_each_member_utf8 (g_mapped_file_get_contents (f->map), g_mapped_file_get_length (f->map),
                                  head_member, head_passed, f, error))
    return NULL;
  for (i = 0; i < G_N_ELEMENTS (members); i++)
    if (!(f->members & (1u << i)))
      {
        g_autofree char *what = g_strdup_printf ("it has no \"%s\"", members[i]);
        bad (error, what);
        return NULL;
      }
  rewind_map (f);
  return g_steal_pointer (&f);
}

const NmsCryptoEnvelope *
nms_archive_sealed_file_envelope (const NmsArchiveSealedFile *f)
{
  return f->envelope;
}

const char *
nms_archive_sealed_file_origin (const NmsArchiveSealedFile *f)
{
  return f->origin;
}

/* One record: [token, sealed], both base64. */
static gboolean
decode_pair (const char *value, gsize len, guint8 **token, guint8 **sealed, gsize *sealed_len, GError **error)
{
  g_autoptr(cJSON) pair = cJSON_ParseWithLength (value, len);
  const cJSON *a = cJSON_GetArrayItem (pair, 0), *b = cJSON_GetArrayItem (pair, 1);
  gsize token_len = 0;

  *token = *sealed = NULL;
  if (!cJSON_IsArray (pair) || cJSON_GetArraySize (pair) != 2 || !cJSON_IsString (a) || !cJSON_IsString (b))
    return bad (error, "one of its records is not a pair of base64 strings");
  *token = nms_base64_decode_strict (a->valuestring, strlen (a->valuestring), &token_len);
  *sealed = nms_base64_decode_strict (b->valuestring, strlen (b->valuestring), sealed_len);
  if (*token == NULL || *sealed == NULL || token_len != NMS_CRYPTO_TOKEN_BYTES)
    {
      g_clear_pointer (token, g_free);
      g_clear_pointer (sealed, g_free);
      return bad (error, "one of its records is not a token and a sealed value in base64");
    }
  return TRUE;
}

typedef struct {
  NmsArchiveSealedFile *f;
  guint64               n;
} CountPass;

static gboolean
count_record (const char *value, gsize len, guint64 index, gpointer user_data, GError **error)
{
  CountPass *pass = user_data;

  drop_behind (pass->f, value);
  pass->n++;
  return TRUE;
}

typedef struct {
  NmsArchiveSealedFile *f;
  NmsCryptoListMac     *mac;
} MacPass;

static gboolean
mac_record (const char *value, gsize len, guint64 index, gpointer user_data, GError **error)
{
  MacPass *pass = user_data;
  g_autofree guint8 *token = NULL, *sealed = NULL;
  gsize sealed_len = 0;

  drop_behind (pass->f, value);
  if (!decode_pair (value, len, &token, &sealed, &sealed_len, error))
    return FALSE;
  _nms_archive_sealed_mac_record (pass->mac, token, sealed, sealed_len);
  return TRUE;
}

typedef struct {
  NmsArchiveSealedFile *f;
  NmsStore             *store;
  const NmsCryptoKeys  *keys;
  GArray               *items;     /* NmsItem of this batch */
  GPtrArray            *buffers;
  gsize                 batch_bytes;
  guint64               n_items, total;
  NmsProgressFunc       progress;
  gpointer              progress_data;
} WritePass;

/* The batch's names and values are in the clear: wiped, not just freed. */
static void
wipe_batch (WritePass *w)
{
  guint i;

  for (i = 0; i < w->items->len; i++)
    {
      NmsItem *item = &g_array_index (w->items, NmsItem, i);

      sodium_memzero ((char *) item->key, item->key_len);
      sodium_memzero ((guint8 *) item->value, item->value_len);
    }
  g_ptr_array_set_size (w->buffers, 0);
  g_array_set_size (w->items, 0);
  w->batch_bytes = 0;
}

static gboolean
flush (WritePass *w, GError **error)
{
  gboolean ok = w->items->len == 0
                || nms_store_set (w->store, (const NmsItem *) w->items->data, w->items->len, error);

  w->n_items += w->items->len;
  wipe_batch (w);
  return ok;
}

static gboolean
write_record (const char *value, gsize len, guint64 index, gpointer user_data, GError **error)
{
  WritePass *w = user_data;
  g_autofree guint8 *token = NULL, *sealed = NULL;
  gsize sealed_len = 0;
  NmsCryptoItem plain = { 0 };
  NmsItem item = { 0 };

  drop_behind (w->f, value);
  if (!decode_pair (value, len, &token, &sealed, &sealed_len, error))
    return FALSE;
  if (!nms_crypto_open_item (w->keys, token, sealed, sealed_len, &plain, error))
    {
      g_prefix_error (error, "record %" G_GUINT64_FORMAT " of the sealed export: ", index + 1);
      return FALSE;
    }
  item.key = g_strndup (plain.name, plain.name_len);
  item.key_len = plain.name_len;
  item.kind = (NmsValueKind) plain.kind;
  if (item.kind == NMS_VALUE_JSON)
    {
      /* As a "set" would take it: the canonical text. */
      GString *text = g_string_sized_new (plain.value_len);
      gboolean ok = nms_json_canonicalize ((const char *) plain.value, plain.value_len, text, error);

      item.value_len = text->len;
      item.value = (guint8 *) g_string_free (text, !ok);
      if (!ok)
        {
          nms_crypto_item_clear (&plain);
          g_free ((char *) item.key);
          return FALSE;
        }
    }
  else
    {
      item.value = g_memdup2 (plain.value_len ? plain.value : (const guint8 *) "", MAX (plain.value_len, 1));
      item.value_len = plain.value_len;
    }
  nms_crypto_item_clear (&plain);
  g_ptr_array_add (w->buffers, (char *) item.key);
  g_ptr_array_add (w->buffers, (guint8 *) item.value);
  g_array_append_val (w->items, item);
  w->batch_bytes += item.key_len + item.value_len;
  if (w->progress != NULL)
    w->progress (index + 1, w->total, w->progress_data);
  return w->batch_bytes < BATCH_BYTES || flush (w, error);
}

gboolean
nms_archive_sealed_file_import (NmsArchiveSealedFile *f, const NmsCryptoSecret *kek, NmsStore *store,
                                guint64 *n_items, NmsProgressFunc progress, gpointer progress_data, GError **error)
{
  g_autoptr(NmsCryptoSecret) data_key = nms_crypto_unwrap (f->envelope, kek, error);
  g_autoptr(NmsCryptoKeys) keys = NULL;
  g_autoptr(NmsCryptoListMac) mac = NULL;
  g_autoptr(GArray) items = g_array_new (FALSE, TRUE, sizeof (NmsItem));
  g_autoptr(GPtrArray) buffers = g_ptr_array_new_with_free_func (g_free);
  CountPass count = { f, 0 };
  MacPass mac_pass;
  WritePass w;
  gboolean ok;

  *n_items = 0;
  if (data_key == NULL)
    return FALSE;
  /* The pad block only matters for sealing; opening finds any padding. */
  keys = nms_crypto_keys_new (data_key, f->envelope->store_id, NMS_CRYPTO_PAD_BLOCK_DEFAULT);
  mac = nms_crypto_list_mac_new (keys);

  /* The count, then the MAC over all of it, before anything is written. */
  if (!nms_json_each_element_utf8 (f->records, f->records_len, count_record, NULL, &count, NULL))
    return bad (error, "its \"records\" is not an array");
  rewind_map (f);
  _nms_archive_sealed_mac_head (mac, f->origin, f->prefix, count.n);
  mac_pass = (MacPass) { f, mac };
  if (!nms_json_each_element_utf8 (f->records, f->records_len, mac_record, NULL, &mac_pass, error))
    return FALSE;
  rewind_map (f);
  if (!nms_crypto_list_mac_verify (mac, f->mac, f->mac_len, error))
    {
      g_prefix_error (error, "the sealed export failed its check, so nothing was imported: ");
      return FALSE;
    }

  w = (WritePass) { f, store, keys, items, buffers, 0, 0, count.n, progress, progress_data };
  if (!nms_store_begin (store, TRUE, error))
    return FALSE;
  ok = nms_json_each_element_utf8 (f->records, f->records_len, write_record, NULL, &w, error) && flush (&w, error);
  if (!ok)
    {
      wipe_batch (&w);
      nms_store_rollback (store);
      return FALSE;
    }
  if (!nms_store_commit (store, error))
    return FALSE;
  *n_items = w.n_items;
  return TRUE;
}
