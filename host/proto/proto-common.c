/* SPDX-License-Identifier: MIT */
/* proto-common.c: what the op files (proto-ops.c, proto-events.c,
 * proto-session.c, proto-crypt.c) and the dispatcher (proto.c) all need:
 * reading a request's members and keys, writing a stored value, opening
 * the store. It lives below all of them so that no op file calls back up
 * into proto.c or across into another op file. */
#include "proto-common.h"
#include "base/error.h"
#include "config/store-origin.h"
#include "json/json.h"

gboolean
_nms_proto_bad_param (GError **error, const char *op, const char *what)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "%s: %s", op, what);
  return FALSE;
}

/* A missing member and an explicit null both mean "not given". */
const cJSON *
_nms_proto_param (NmsRequest *req, const char *name)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive (req->root, name);
  return cJSON_IsNull (item) ? NULL : item;
}

const char *
_nms_proto_key (NmsRequest *req, const char *raw, gsize *len, GError **error)
{
  char *owned = NULL;
  NmsJson doc = { req->root, req->stuffed };
  const char *key = nms_json_string (&doc, raw, len, &owned);

  if (owned != NULL)
    {
      if (req->owned == NULL)
        req->owned = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (req->owned, owned);
    }
  return nms_store_check_key (key, *len, error) ? key : NULL;
}

gboolean
_nms_proto_optional_prefix (NmsRequest *req, const char *op, const char **prefix, GError **error)
{
  const cJSON *p = _nms_proto_param (req, "prefix");
  gsize len;

  *prefix = NULL;
  if (p == NULL)
    return TRUE;
  if (!cJSON_IsString (p))
    return _nms_proto_bad_param (error, op, "\"prefix\" must be a string");
  *prefix = _nms_proto_key (req, p->valuestring, &len, error);
  return *prefix != NULL;
}

/* Appends a stored value as the protocol shows it: JSON text as it is,
 * raw bytes as {"$bytes":"<base64>"}. */
void
_nms_proto_append_stored_value (GString *out, NmsValueKind kind, const guint8 *data, gsize len)
{
  if (kind != NMS_VALUE_BYTES)
    {
      g_string_append_len (out, (const char *) data, len);
      return;
    }
  nms_json_append_bytes (out, data, len);
}

gboolean
_nms_proto_ensure_store (NmsProto *proto)
{
  /* A store deleted or replaced under a running host is opened again at
   * its path, before the batch runs, so that an acknowledged write is
   * always in the file that every other process and the next start see. */
  if (proto->store != NULL && nms_store_has_moved (proto->store))
    {
      g_warning ("%s was deleted or replaced while this host had it open; opening it again",
                 nms_store_path (proto->store));
      g_clear_pointer (&proto->store, nms_store_free);
    }
  if (proto->store != NULL)
    return TRUE;
  g_clear_error (&proto->open_error);
  proto->store = nms_store_open_origin (proto->config, proto->origin, &proto->open_error);
  if (proto->store != NULL)
    nms_store_set_progress (proto->store, proto->progress, proto->progress_data);
  /* Tried again before every batch: the same reason is logged once. */
  if (proto->store == NULL && g_strcmp0 (proto->open_error_logged, proto->open_error->message) != 0)
    {
      g_warning ("cannot open the store of %s: %s", proto->origin->canonical, proto->open_error->message);
      g_free (proto->open_error_logged);
      proto->open_error_logged = g_strdup (proto->open_error->message);
    }
  return proto->store != NULL;
}
