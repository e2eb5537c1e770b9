/* SPDX-License-Identifier: MIT */
/* proto-batch.c: the batch op, many requests in one frame. proto.c parses
 * and runs its inner requests as requests of their own, in the read's
 * transaction, and hands their replies to op_batch once they committed;
 * this file only splits the list and writes the reply. It calls nothing
 * in proto.c, which dispatches to it. */
#include "proto-batch.h"
#include "proto-common.h"
#include "base/error.h"
#include "json/json.h"

typedef struct {
  GArray *inputs;
} Split;

static gboolean
take_entry (const char *value, gsize value_len, guint64 index, gpointer user_data, GError **error)
{
  Split *split = user_data;
  NmsProtoInput input = { (guint8 *) value, value_len };

  if (index >= NMS_PROTO_MAX_BATCH_REQUESTS)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "batch: \"requests\" holds more than %u requests; send them in several batches",
                   NMS_PROTO_MAX_BATCH_REQUESTS);
      return FALSE;
    }
  if (value[0] != '{')
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "batch: entry %" G_GUINT64_FORMAT " of \"requests\" is not an object; each entry must be "
                   "a request object, as it would be sent alone", index);
      return FALSE;
    }
  g_array_append_val (split->inputs, input);
  return TRUE;
}

gboolean
_nms_proto_batch_split (NmsRequest *req, GArray *inputs, GError **error)
{
  Split split = { inputs };

  const cJSON *left = _nms_proto_param (req, "requests");

  /* parse_envelope (proto.c) takes "requests" out of the tree when it is
   * an array in a frame that begins with '{': anything else is still in
   * the tree. */
  if (req->requests == NULL)
    return _nms_proto_bad_param (error, "batch", left == NULL ? "\"requests\" is missing; give the requests as an array"
                                                 : !cJSON_IsArray (left) ? "\"requests\" must be an array of request objects"
                                                 : "send the batch with '{' as its first byte, without white space before it");
  /* The whole frame was checked as JSON (UTF-8, no raw NUL) before its
   * members were found, as each_element_utf8 asks. */
  if (!nms_json_each_element_utf8 (req->requests, req->requests_len, take_entry, NULL, &split, error))
    return FALSE;
  if (inputs->len == 0)
    return _nms_proto_bad_param (error, "batch", "\"requests\" is empty; give at least one request");
  return TRUE;
}

/* The inner requests' replies, each exactly as it would be alone, in
 * order. Each is freed once copied, so that the batch holds its replies
 * once rather than twice at the end. */
static gboolean
op_batch (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  gsize at = result->len, need = result->len + 16;
  guint i;

  /* Room for every reply at once: the batch's reply may be tens of
   * megabytes, and growing it by doubling copied it several times. */
  for (i = 0; req->replies != NULL && i < req->replies->len; i++)
    need += ((GString *) g_ptr_array_index (req->replies, i))->len + 1;
  g_string_set_size (result, need);
  g_string_truncate (result, at);
  g_string_append (result, "\"replies\":[");
  for (i = 0; req->replies != NULL && i < req->replies->len; i++)
    {
      GString *reply = g_ptr_array_index (req->replies, i);

      if (i > 0)
        g_string_append_c (result, ',');
      g_string_append_len (result, reply->str, (gssize) reply->len);
      g_string_free (reply, TRUE);
      req->replies->pdata[i] = NULL;
    }
  g_string_append_c (result, ']');
  return TRUE;
}

const NmsOpDef nms_proto_batch_ops[] = {
  /* name    run       writes uses_store barrier */
  { "batch", op_batch, FALSE, FALSE, FALSE, .alone = TRUE, .carries = TRUE },
  { NULL }
};
