/* SPDX-License-Identifier: MIT */
/* proto-ops.c: the operations of protocol version 1, each checking its own
 * parameters and calling down into the store. */
#include "proto-common.h"
#include "archive/archive.h"
#include "base/error.h"
#include "wire/frame.h"
#include "json/json.h"
#include "nmstore/version.h"

#include <string.h>

static int
key_cmp (gconstpointer a, gconstpointer b)
{
  /* Keys hold no NUL, and strcmp compares bytes as unsigned char. */
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* A string or an array of strings, each a valid key. With unique, each
 * is kept once and the list is sorted by the keys' bytes: the order of
 * Chrome's result objects. */
static gboolean
key_list (NmsRequest *req, const cJSON *keys, const char *op, gboolean unique, GPtrArray **out, GError **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new ();
  const cJSON *k;
  gsize len;

  if (cJSON_IsString (keys))
    {
      const char *key = _nms_proto_key (req, keys->valuestring, &len, error);
      if (key == NULL)
        return FALSE;
      g_ptr_array_add (list, (gpointer) key);
      *out = g_steal_pointer (&list);
      return TRUE;
    }
  if (!cJSON_IsArray (keys))
    return _nms_proto_bad_param (error, op, "\"keys\" must be a string or an array of strings");
  cJSON_ArrayForEach (k, keys)
    {
      const char *key;

      if (!cJSON_IsString (k))
        return _nms_proto_bad_param (error, op, "every entry of \"keys\" must be a string");
      if ((key = _nms_proto_key (req, k->valuestring, &len, error)) == NULL)
        return FALSE;
      g_ptr_array_add (list, (gpointer) key);
    }
  if (unique && list->len > 1)
    {
      guint i, kept = 1;

      g_ptr_array_sort (list, key_cmp);
      for (i = 1; i < list->len; i++)
        if (strcmp (list->pdata[i], list->pdata[kept - 1]) != 0)
          list->pdata[kept++] = list->pdata[i];
      g_ptr_array_set_size (list, kept);
    }
  *out = g_steal_pointer (&list);
  return TRUE;
}

typedef struct {
  GString *out;
  gboolean first;
  gboolean found;  /* set by every item written */
} ItemWriter;

/* Appends "key":value, splicing the stored JSON text without parsing it. */
static gboolean
write_item (const NmsItem *item, gpointer user_data, GError **error)
{
  ItemWriter *w = user_data;

  if (!w->first)
    g_string_append_c (w->out, ',');
  w->first = FALSE;
  w->found = TRUE;
  nms_json_append_string (w->out, item->key, item->key_len);
  g_string_append_c (w->out, ':');
  _nms_proto_append_stored_value (w->out, item->kind, item->value, item->value_len);
  return TRUE;
}

static gboolean
write_key (const NmsItem *item, gpointer user_data, GError **error)
{
  ItemWriter *w = user_data;

  if (!w->first)
    g_string_append_c (w->out, ',');
  w->first = FALSE;
  nms_json_append_string (w->out, item->key, item->key_len);
  return TRUE;
}

static gboolean
op_hello (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  g_string_append (result, "\"name\":\"" NMS_HOST_NAME "\",\"version\":\"" NMS_VERSION "\",");
  g_string_append_printf (result, "\"protocol\":%d,\"origin\":", NMS_PROTOCOL_VERSION);
  nms_json_append_cstring (result, proto->origin->canonical);
  g_string_append_printf (result, ",\"limits\":{\"maxRequestBytes\":%u,\"maxResponseBytes\":%u,"
                          "\"maxKeyBytes\":%u,\"maxBatchRequests\":%u,\"quotaBytes\":",
                          NMS_FRAME_MAX_REQUEST_BYTES, NMS_FRAME_MAX_MESSAGE_BYTES, NMS_STORE_MAX_KEY_BYTES,
                          NMS_PROTO_MAX_BATCH_REQUESTS);
  if (proto->config->quota_bytes > 0)
    g_string_append_printf (result, "%" G_GUINT64_FORMAT "}", proto->config->quota_bytes);
  else
    g_string_append (result, "null}");
  g_string_append (result, ",\"store\":");
  if (proto->store != NULL)
    nms_json_append_cstring (result, nms_store_path (proto->store));
  else
    g_string_append (result, "null");
  if (proto->store != NULL)
    {
      g_autoptr(GError) local = NULL;

      /* Another process may have encrypted, decrypted or re-keyed it. */
      if (!nms_store_refresh_encryption (proto->store, &local))
        g_warning ("%s", local->message);
    }
  g_string_append_printf (result, ",\"encrypted\":%s,\"locked\":%s",
                          proto->store != NULL && nms_store_encrypted (proto->store) ? "true" : "false",
                          proto->store != NULL && nms_store_locked (proto->store) ? "true" : "false");
  g_string_append (result, ",\"ops\":");
  g_string_append (result, proto->op_names);
  return TRUE;
}

/* Keeps a copy of the one item nms_store_get found. The copy is never
 * NULL, even for empty bytes ({"$bytes":""}), since NULL means not found. */
static gboolean
keep_item (const NmsItem *item, gpointer user_data, GError **error)
{
  NmsItem *kept = user_data;
  guint8 *copy = g_malloc (item->value_len + 1);

  if (item->value_len > 0)
    memcpy (copy, item->value, item->value_len);
  kept->kind = item->kind;
  kept->value = copy;
  kept->value_len = item->value_len;
  return TRUE;
}

typedef struct {
  const char  *key;
  gsize        len;
  const cJSON *fallback;
} Default;

static int
default_cmp (gconstpointer a, gconstpointer b)
{
  const Default *x = a, *y = b;

  return strcmp (x->key, y->key);
}

/* get with an object of defaults, as Chrome does it: the result is the
 * defaults with the stored items merged into them (json.h), in key order. */
static gboolean
get_with_defaults (NmsProto *proto, NmsRequest *req, const cJSON *keys, ItemWriter *w, GError **error)
{
  g_autoptr(GArray) list = g_array_new (FALSE, FALSE, sizeof (Default));
  const cJSON *d;
  guint i;

  cJSON_ArrayForEach (d, keys)
    {
      Default def = { .fallback = d };
      if ((def.key = _nms_proto_key (req, d->string, &def.len, error)) == NULL)
        return FALSE;
      g_array_append_val (list, def);
    }
  g_array_sort (list, default_cmp);
  for (i = 0; i < list->len; i++)
    {
      const Default *def = &g_array_index (list, Default, i);
      NmsItem stored = { .key = def->key, .key_len = def->len };
      g_autofree guint8 *owned = NULL;

      if (!nms_store_get (proto->store, def->key, def->len, keep_item, &stored, error))
        return FALSE;
      owned = (guint8 *) stored.value;
      if (!w->first)
        g_string_append_c (w->out, ',');
      w->first = FALSE;
      nms_json_append_string (w->out, def->key, def->len);
      g_string_append_c (w->out, ':');
      if (owned == NULL)
        nms_json_write (w->out, def->fallback, req->stuffed);
      else if (cJSON_IsObject (def->fallback)
               && (stored.kind == NMS_VALUE_BYTES || (stored.value_len > 0 && stored.value[0] == '{')))
        {
          /* Bytes are the object {"$bytes": ...} to Chrome, and merge so. */
          g_autoptr(GString) bytes = NULL;
          const char *text = (const char *) stored.value;
          gsize len = stored.value_len;

          if (stored.kind == NMS_VALUE_BYTES)
            {
              bytes = g_string_new (NULL);
              _nms_proto_append_stored_value (bytes, stored.kind, stored.value, stored.value_len);
              text = bytes->str;
              len = bytes->len;
            }
          if (!nms_json_write_merged_text (w->out, def->fallback, req->stuffed, text, len, error))
            {
              g_prefix_error (error, "the stored value of \"%s\" is damaged: ", def->key);
              (*error)->code = NMS_ERROR_CORRUPT;
              return FALSE;
            }
        }
      else
        _nms_proto_append_stored_value (w->out, stored.kind, stored.value, stored.value_len);
    }
  return TRUE;
}

static gboolean
op_get (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const cJSON *keys = _nms_proto_param (req, "keys");
  const char *prefix;
  ItemWriter w = { result, TRUE, FALSE };
  gboolean ok = TRUE;

  if (!_nms_proto_optional_prefix (req, "get", &prefix, error))
    return FALSE;
  if (keys != NULL && prefix != NULL)
    return _nms_proto_bad_param (error, "get", "give \"keys\" or \"prefix\", not both");

  g_string_append (result, "\"items\":{");
  if (keys == NULL)
    ok = nms_store_scan (proto->store, prefix, TRUE, write_item, &w, error);
  else if (cJSON_IsObject (keys))
    ok = get_with_defaults (proto, req, keys, &w, error);
  else
    {
      g_autoptr(GPtrArray) list = NULL;
      guint i;

      if (!cJSON_IsString (keys) && !cJSON_IsArray (keys))
        return _nms_proto_bad_param (error, "get", "\"keys\" must be null, a string, an array of strings or an object");
      if (!key_list (req, keys, "get", TRUE, &list, error))
        return FALSE;
      for (i = 0; ok && i < list->len; i++)
        {
          const char *key = list->pdata[i];
          ok = nms_store_get (proto->store, key, strlen (key), write_item, &w, error);
        }
    }
  g_string_append_c (result, '}');
  return ok;
}

static gboolean
op_get_keys (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const char *prefix;
  ItemWriter w = { result, TRUE, FALSE };

  if (!_nms_proto_optional_prefix (req, "getKeys", &prefix, error))
    return FALSE;
  g_string_append (result, "\"keys\":[");
  if (!nms_store_scan (proto->store, prefix, FALSE, write_key, &w, error))
    return FALSE;
  g_string_append_c (result, ']');
  return TRUE;
}

static gboolean
op_set (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) list = g_array_new (FALSE, FALSE, sizeof (NmsItem));
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  NmsArchiveItems set = { list, seen, values, FALSE, TRUE };

  /* The request's parser left an object's text here (proto-parse.c), cut
   * from a frame it checked whole, as UTF-8 and as JSON: the values are
   * read once more, to their canonical text, and no more. */
  if (req->items == NULL)
    return _nms_proto_bad_param (error, "set", "\"items\" must be an object of key to value");
  if (!nms_json_each_member_canonical (req->items, req->items_len, nms_archive_add_member, &set, error))
    {
      if ((*error)->code == NMS_ERROR_JSON)
        g_prefix_error (error, "set: ");
      return FALSE;
    }
  return nms_store_set (proto->store, (const NmsItem *) list->data, list->len, error);
}

static gboolean
op_remove (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive (req->root, "keys");
  g_autoptr(GPtrArray) list = NULL;

  if (keys == NULL || cJSON_IsNull (keys))
    return _nms_proto_bad_param (error, "remove", "\"keys\" is required: a string or an array of strings");
  if (!key_list (req, keys, "remove", TRUE, &list, error))
    return FALSE;
  return nms_store_remove (proto->store, (const char *const *) list->pdata, list->len, error);
}

static gboolean
op_clear (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const char *prefix;

  return _nms_proto_optional_prefix (req, "clear", &prefix, error)
         && nms_store_clear (proto->store, prefix, error);
}

static gboolean
op_get_bytes_in_use (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const cJSON *keys = _nms_proto_param (req, "keys");
  g_autoptr(GPtrArray) list = NULL;
  guint64 bytes = 0;

  /* Chrome counts a key named twice twice. */
  if (keys != NULL && !key_list (req, keys, "getBytesInUse", FALSE, &list, error))
    return FALSE;
  /* An empty list names no keys; only an absent one means every item. */
  if (list != NULL && list->len == 0)
    {
      g_string_append (result, "\"bytes\":0");
      return TRUE;
    }
  if (!nms_store_bytes_in_use (proto->store, list ? (const char *const *) list->pdata : NULL,
                               list ? list->len : 0, &bytes, error))
    return FALSE;
  g_string_append_printf (result, "\"bytes\":%" G_GUINT64_FORMAT, bytes);
  return TRUE;
}

static gboolean
op_flush (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  return nms_store_flush (proto->store, error);
}

const NmsOpDef nms_proto_core_ops[] = {
  /* name            run                   writes uses_store barrier */
  { "hello",         op_hello,             FALSE, FALSE, FALSE, .alone = TRUE },
  { "get",           op_get,               FALSE, TRUE,  FALSE },
  { "getKeys",       op_get_keys,          FALSE, TRUE,  FALSE },
  { "set",           op_set,               TRUE,  TRUE,  FALSE },
  { "remove",        op_remove,            TRUE,  TRUE,  FALSE, FALSE, TRUE },
  { "clear",         op_clear,             TRUE,  TRUE,  FALSE, FALSE, TRUE },
  { "getBytesInUse", op_get_bytes_in_use,  FALSE, TRUE,  FALSE },
  { "flush",         op_flush,             TRUE,  TRUE,  TRUE  },
  { NULL }
};
