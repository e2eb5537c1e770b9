/* SPDX-License-Identifier: MIT */
/* proto.c: parsing requests, running batches under one commit, and
 * formatting replies. The operations themselves are in proto-ops.c and
 * the other op files; what they and this file share is in proto-common.c. */
#include "proto-common.h"
#include "base/error.h"
#include "wire/frame.h"
#include "json/json.h"

#include <sodium.h>
#include <string.h>

typedef struct {
  NmsRequest      req;
  const NmsOpDef *op;
  char           *id_json;
  GError         *error;   /* the request could not be parsed or failed */
  GString        *result;  /* the reply: {"id":..,"ok":true, then the members */
  gsize           head;    /* where the op's members start in result */
  gboolean        secret;  /* may hold a passphrase: wiped however it ends */
  GLogLevelFlags  log_level; /* the failure is to be logged at this level; 0: not */
} Slot;

/* Each kind of failure (op and error code) is logged this many times by
 * a port, then once in every FAILURE_LOG_EVERY: an extension that retries
 * a failing write in a loop must not fill the disk or the browser's log. */
#define FAILURE_LOG_FIRST 3
#define FAILURE_LOG_EVERY 1000

/* Each group of operations keeps its table in its own file; a new group
 * adds its table here. */
static const NmsOpDef *const op_tables[] = {
  nms_proto_core_ops,
  nms_proto_session_ops,
  nms_proto_events_ops,
  nms_proto_crypt_ops,
};

const NmsOpDef *
_nms_proto_find_op (const char *name)
{
  gsize t;
  const NmsOpDef *op;

  for (t = 0; t < G_N_ELEMENTS (op_tables); t++)
    for (op = op_tables[t]; op->name != NULL; op++)
      if (strcmp (op->name, name) == 0)
        return op;
  return NULL;
}

/* Every op's name as a JSON array, in table order: hello lists them, so
 * that the extension's own list is checked against this one. */
static void
nms_proto_append_op_names (GString *out)
{
  gsize t;
  const NmsOpDef *op;
  gboolean first = TRUE;

  g_string_append_c (out, '[');
  for (t = 0; t < G_N_ELEMENTS (op_tables); t++)
    for (op = op_tables[t]; op->name != NULL; op++)
      {
        if (!first)
          g_string_append_c (out, ',');
        nms_json_append_cstring (out, op->name);
        first = FALSE;
      }
  g_string_append_c (out, ']');
}

static void
slot_clear (Slot *slot)
{
  if (slot->secret)
    _nms_proto_wipe_tree (slot->req.root);
  cJSON_Delete (slot->req.root);
  if (slot->req.owned != NULL)
    g_ptr_array_unref (slot->req.owned);
  g_free (slot->id_json);
  g_clear_error (&slot->error);
  if (slot->result != NULL)
    g_string_free (slot->result, TRUE);
}

char *
_nms_proto_print_value (NmsRequest *req, const cJSON *value, gsize *len)
{
  GString *out = g_string_new (NULL);

  nms_json_write (out, value, req->stuffed);
  *len = out->len;
  return g_string_free (out, FALSE);
}

/* The first member name used twice in object itself, or NULL. A hash set
 * keeps a request with many members linear. */
static const char *
duplicate_in_object (const cJSON *object)
{
  g_autoptr(GHashTable) seen = NULL;
  const cJSON *child;

  if (!cJSON_IsObject (object) || object->child == NULL || object->child->next == NULL)
    return NULL;
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (child = object->child; child != NULL; child = child->next)
    if (!g_hash_table_add (seen, child->string))
      return child->string;
  return NULL;
}

/* The same, for any object nested anywhere in value. JavaScript cannot
 * produce such an object, and storing one would keep text that JSON.parse
 * reads differently from what was counted. */
static const char *
duplicate_in_tree (const cJSON *value)
{
  const char *dup = duplicate_in_object (value);
  const cJSON *child;

  /* cJSON's nesting limit (1000) bounds this recursion. */
  for (child = value->child; dup == NULL && child != NULL; child = child->next)
    if (cJSON_IsObject (child) || cJSON_IsArray (child))
      dup = duplicate_in_tree (child);
  return dup;
}

typedef struct {
  const char *value;  /* the "items" member's value, when it is an object */
  gsize       len;
  guint       seen;   /* how many "items" members */
} ItemsSpan;

static gboolean
find_items (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
            GError **error)
{
  ItemsSpan *span = user_data;

  if (name_len == 5 && memcmp (name, "items", 5) == 0 && span->seen++ == 0 && value[0] == '{')
    {
      span->value = value;
      span->len = value_len;
    }
  return TRUE;
}

/* The request without the values of its "items", which op_set reads
 * from the text itself (json-scan.c): a value then costs about its own
 * size, where a cJSON tree of an array of a million zeros would cost 80 MB.
 * What is left is parsed into a tree, within a budget of values that
 * keeps any request under 4 times its size plus 32 MiB. */
static gboolean
parse_envelope (Slot *slot, NmsProtoInput *input, NmsJson *doc, GError **error)
{
  const char *text = (const char *) input->data;
  ItemsSpan span = { 0 };
  g_autoptr(GString) envelope = NULL;
  gsize values = 0, budget = (2 * input->len + 16 * 1024 * 1024) / 100;
  gboolean ok;

  if (input->len > 0 && text[0] == '{'
      && !nms_json_each_member (text, input->len, find_items, &span, error))
    return FALSE;
  if (span.seen == 1 && span.value != NULL)
    {
      envelope = g_string_sized_new (input->len - span.len + 2);
      g_string_append_len (envelope, text, span.value - text);
      g_string_append (envelope, "{}");
      g_string_append_len (envelope, span.value + span.len, (gssize) (input->len - (gsize) (span.value - text) - span.len));
      slot->req.items = span.value;
      slot->req.items_len = span.len;
    }
  if (nms_json_check (envelope ? envelope->str : text, envelope ? envelope->len : input->len, &values, NULL)
      && values > budget)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   "the request holds %" G_GSIZE_FORMAT " values outside \"items\", more than the %" G_GSIZE_FORMAT
                   " a request of %" G_GSIZE_FORMAT " bytes may hold; split it into several requests",
                   values, budget, input->len);
      return FALSE;
    }
  if (envelope == NULL)
    return nms_json_parse (input->data, input->len, doc, error);
  ok = nms_json_parse ((guint8 *) envelope->str, envelope->len, doc, error);
  sodium_memzero (envelope->str, envelope->len);
  return ok;
}

static gboolean
parse_request (Slot *slot, NmsProtoInput *input)
{
  NmsJson doc;
  const cJSON *op, *id;
  const char *dup;
  GError **error = &slot->error;

  if (!parse_envelope (slot, input, &doc, error))
    {
      if ((*error)->code == NMS_ERROR_JSON)
        g_prefix_error (error, "the request: ");
      return FALSE;
    }
  slot->req.root = doc.root;
  slot->req.stuffed = doc.stuffed;
  if (!cJSON_IsObject (slot->req.root))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "a request must be a JSON object");
      return FALSE;
    }

  /* A repeated top-level member may be the id itself: echo none. */
  if ((dup = duplicate_in_object (slot->req.root)) != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "the request names the member \"%s\" twice", dup);
      return FALSE;
    }

  id = cJSON_GetObjectItemCaseSensitive (slot->req.root, "id");
  if (id != NULL && !cJSON_IsNull (id))
    {
      gsize len;
      g_autofree char *text = NULL;

      if (!cJSON_IsString (id) && !cJSON_IsNumber (id))
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "\"id\" must be a string or a number");
          return FALSE;
        }
      text = _nms_proto_print_value (&slot->req, id, &len);
      if (len > NMS_PROTO_MAX_ID_BYTES)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "\"id\" is longer than %d bytes",
                       NMS_PROTO_MAX_ID_BYTES);
          return FALSE;
        }
      g_free (slot->id_json);
      slot->id_json = g_steal_pointer (&text);
    }

  /* Nested ones after the id, so that this error reply carries it. */
  if ((dup = duplicate_in_tree (slot->req.root)) != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "the request names the member \"%s\" twice in one object", dup);
      return FALSE;
    }

  op = cJSON_GetObjectItemCaseSensitive (slot->req.root, "op");
  if (!cJSON_IsString (op))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   op == NULL ? "the request has no \"op\"" : "\"op\" must be a string");
      return FALSE;
    }
  slot->op = _nms_proto_find_op (op->valuestring);
  if (slot->op == NULL)
    {
      g_autoptr(GString) name = g_string_new (NULL);
      nms_json_append_cstring (name, op->valuestring);
      g_set_error (error, NMS_ERROR, NMS_ERROR_UNKNOWN_OP, "unknown op %s", name->str);
      return FALSE;
    }
  return TRUE;
}

void
nms_proto_set_progress (NmsProto *proto, NmsProgressFunc progress, gpointer user_data)
{
  proto->progress = progress;
  proto->progress_data = user_data;
  if (proto->store != NULL)
    nms_store_set_progress (proto->store, progress, user_data);
}

NmsProto *
nms_proto_new (const NmsConfig *config, const NmsOrigin *origin)
{
  NmsProto *proto = g_new0 (NmsProto, 1);
  GString *names;

  proto->config = g_new0 (NmsConfig, 1);
  proto->config->root = g_strdup (config->root);
  proto->config->file = g_strdup (config->file);
  proto->config->durability = config->durability;
  proto->config->quota_bytes = config->quota_bytes;
  proto->config->keep_changes = config->keep_changes;
  proto->config->keep_seconds = config->keep_seconds;
  proto->config->pad_block = config->pad_block;
  proto->config->pwhash = config->pwhash;
  proto->config->log_file = g_strdup (config->log_file);
  proto->origin = nms_origin_copy (origin);
  proto->failures_logged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  names = g_string_new (NULL);
  nms_proto_append_op_names (names);
  proto->op_names = g_string_free (names, FALSE);
  _nms_proto_ensure_store (proto);
  return proto;
}

void
nms_proto_free (NmsProto *proto)
{
  if (proto == NULL)
    return;
  _nms_proto_events_free (proto);
  g_clear_pointer (&proto->failures_logged, g_hash_table_unref);
  g_free (proto->open_error_logged);
  g_free (proto->op_names);
  nms_store_free (proto->store);
  g_clear_error (&proto->open_error);
  nms_config_free (proto->config);
  nms_origin_free (proto->origin);
  g_free (proto);
}

/* A write request is one unit for the store: all or nothing, and one
 * change event however many store calls it makes. A barrier runs in a
 * transaction of its own and records no change. */
static gboolean
run_request (NmsProto *proto, Slot *slot)
{
  gboolean request = slot->op->writes && !slot->op->barrier;
  gboolean ok;

  if (request && !nms_store_changes_begin (proto->store, &slot->error))
    return FALSE;
  ok = slot->op->run (proto, &slot->req, slot->result, &slot->error);
  if (request && !nms_store_changes_end (proto->store, ok, &slot->error))
    ok = FALSE;
  if (ok && slot->op->writes)
    proto->events.wrote = TRUE;
  return ok;
}

static void
run_slot (NmsProto *proto, Slot *slot)
{
  if (slot->op == NULL)
    return; /* a parse error, already in slot->error */
  g_clear_error (&slot->error);
  /* The op appends its members after the reply's head, so that a large
   * reply (a restore) is never copied to put the head in front of it. */
  if (slot->result != NULL)
    g_string_truncate (slot->result, slot->head);
  else
    {
      slot->result = g_string_new (NULL);
      g_string_printf (slot->result, "{\"id\":%s,\"ok\":true,", slot->id_json ? slot->id_json : "null");
      slot->head = slot->result->len;
    }
  if (slot->op->uses_store && proto->store == NULL)
    {
      /* Keep the open error's own code: a damaged file is E_CORRUPT. */
      slot->error = g_error_copy (proto->open_error);
      return;
    }
  slot->log_level = 0;
  if (!run_request (proto, slot) && slot->op->frees && slot->error->code == NMS_ERROR_IO
      && nms_store_release_reserve (proto->store))
    {
      /* A full disk must not keep an extension from freeing space: the
       * reserve's room is given to this delete, once. */
      g_clear_error (&slot->error);
      g_string_truncate (slot->result, slot->head);
      if (run_request (proto, slot))
        return;
    }
  if (slot->error != NULL)
    /* Logged by log_failures once the batch's transactions are over: a
     * log write that blocks (a stderr nobody reads) must not hold the
     * origin's write lock and stall every other port. */
    slot->log_level = slot->error->code == NMS_ERROR_IO || slot->error->code == NMS_ERROR_CORRUPT
                      || slot->error->code == NMS_ERROR_INTERNAL ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_DEBUG;
}

static void
log_failures (NmsProto *proto, Slot *slots, gsize n)
{
  gsize i;

  for (i = 0; i < n; i++)
    {
      Slot *slot = &slots[i];
      g_autofree char *kind = NULL;
      guint seen;

      if (slot->log_level == 0 || slot->error == NULL)
        continue;
      kind = g_strdup_printf ("%s %s", slot->op->name,
                              nms_error_code_name (slot->error->domain == NMS_ERROR ? slot->error->code
                                                                                    : NMS_ERROR_INTERNAL));
      seen = GPOINTER_TO_UINT (g_hash_table_lookup (proto->failures_logged, kind)) + 1;
      g_hash_table_insert (proto->failures_logged, g_strdup (kind), GUINT_TO_POINTER (MIN (seen, G_MAXUINT - 1)));
      if (seen < FAILURE_LOG_FIRST)
        g_log (G_LOG_DOMAIN, slot->log_level, "%s failed: %s", slot->op->name, slot->error->message);
      else if (seen == FAILURE_LOG_FIRST)
        g_log (G_LOG_DOMAIN, slot->log_level, "%s failed: %s (this port logs further %s failures once in %u)",
               slot->op->name, slot->error->message, kind, FAILURE_LOG_EVERY);
      else if (seen % FAILURE_LOG_EVERY == 0)
        g_log (G_LOG_DOMAIN, slot->log_level, "%s failed %u times on this port so far; the latest: %s",
               kind, seen, slot->error->message);
      slot->log_level = 0;
    }
}

/* Runs slots[from..to) in one transaction. If the commit itself fails,
 * every slot is run again in a transaction of its own, so that each reply
 * says exactly what happened to that request. */
static void
run_group (NmsProto *proto, Slot *slots, gsize from, gsize to)
{
  gboolean needs_store = FALSE, writes = FALSE;
  g_autoptr(GError) error = NULL;
  gsize i;

  for (i = from; i < to; i++)
    if (slots[i].op != NULL && slots[i].op->uses_store)
      {
        needs_store = TRUE;
        writes |= slots[i].op->writes;
      }
  if (!needs_store || proto->store == NULL)
    {
      for (i = from; i < to; i++)
        run_slot (proto, &slots[i]);
      return;
    }

  if (!nms_store_begin (proto->store, writes, &error))
    {
      for (i = from; i < to; i++)
        if (slots[i].op != NULL && slots[i].op->uses_store)
          {
            g_clear_error (&slots[i].error);
            slots[i].error = g_error_copy (error);
          }
        else
          run_slot (proto, &slots[i]);
      return;
    }
  for (i = from; i < to; i++)
    run_slot (proto, &slots[i]);
  if (nms_store_commit (proto->store, &error))
    return;

  g_warning ("a batch of %" G_GSIZE_FORMAT " requests failed to commit (%s); retrying them one by one",
             to - from, error->message);
  for (i = from; i < to; i++)
    run_slot (proto, &slots[i]);
}

char *
nms_proto_error_reply (const char *id_json, const GError *error, gsize *len)
{
  GString *out = g_string_new (NULL);
  int code = error->domain == NMS_ERROR ? error->code : NMS_ERROR_INTERNAL;

  g_string_append_printf (out, "{\"id\":%s,\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":",
                          id_json, nms_error_code_name (code));
  nms_json_append_string (out, error->message, strlen (error->message));
  g_string_append (out, "}}");
  *len = out->len;
  return g_string_free (out, FALSE);
}

static void
emit_slot (Slot *slot, NmsProtoReplyFunc emit, gpointer user_data)
{
  const char *id_json = slot->id_json ? slot->id_json : "null";
  g_autofree char *text = NULL;
  gsize len;

  if (slot->error != NULL)
    {
      text = nms_proto_error_reply (id_json, slot->error, &len);
      emit (id_json, text, len, user_data);
      return;
    }
  /* No members: the comma after "ok":true goes. */
  if (slot->result->len == slot->head)
    g_string_truncate (slot->result, slot->head - 1);
  g_string_append_c (slot->result, '}');
  emit (id_json, slot->result->str, slot->result->len, user_data);
}

/* Parses and runs a batch; each slot keeps its result or its error until
 * the caller has handed it out and cleared it. */
static Slot *
run_batch (NmsProto *proto, NmsProtoInput *inputs, gsize n_inputs)
{
  Slot *slots = g_new0 (Slot, n_inputs);
  gsize i, from = 0;

  for (i = 0; i < n_inputs; i++)
    {
      slots[i].secret = _nms_proto_secret_frame (inputs[i].data, inputs[i].len);
      if (!parse_request (&slots[i], &inputs[i]))
        slots[i].op = NULL;
      else if (slots[i].op->secret && !slots[i].secret)
        {
          slots[i].secret = TRUE;
          _nms_proto_secret_guard ();
        }
    }
  _nms_proto_ensure_store (proto);

  /* A barrier (flush) must see everything before it committed, so the
   * batch is cut into groups around it. */
  for (i = 0; i <= n_inputs; i++)
    {
      if (i < n_inputs && (slots[i].op == NULL || !slots[i].op->barrier))
        continue;
      run_group (proto, slots, from, i);
      if (i < n_inputs)
        run_slot (proto, &slots[i]);
      from = i + 1;
    }

  /* Every transaction of the batch has ended: logging may block now. */
  log_failures (proto, slots, n_inputs);
  return slots;
}

/* The frame sits in the reader's buffer until later frames reuse it; an
 * unlock's passphrase should not wait that long. */
static void
slot_done (Slot *slot, NmsProtoInput *input)
{
  if (slot->secret)
    sodium_memzero (input->data, input->len);
  slot_clear (slot);
}

void
nms_proto_handle_batch (NmsProto *proto, NmsProtoInput *inputs, gsize n_inputs,
                        NmsProtoReplyFunc emit, gpointer user_data)
{
  Slot *slots = run_batch (proto, inputs, n_inputs);
  gsize i;

  for (i = 0; i < n_inputs; i++)
    {
      emit_slot (&slots[i], emit, user_data);
      slot_done (&slots[i], &inputs[i]);
    }
  g_free (slots);
}

char *
nms_proto_run_one (NmsProto *proto, NmsProtoInput *input, gsize *len, GError **error)
{
  Slot *slot = run_batch (proto, input, 1);
  GString *out = NULL;

  if (slot->error != NULL)
    g_propagate_error (error, g_steal_pointer (&slot->error));
  else
    {
      /* The members the op wrote after the reply's head, with braces of
       * their own. */
      out = g_string_sized_new (slot->result->len - slot->head + 2);
      g_string_append_c (out, '{');
      g_string_append_len (out, slot->result->str + slot->head, (gssize) (slot->result->len - slot->head));
      g_string_append_c (out, '}');
      *len = out->len;
    }
  slot_done (slot, input);
  g_free (slot);
  return out != NULL ? g_string_free (out, FALSE) : NULL;
}
