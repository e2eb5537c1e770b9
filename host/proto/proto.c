/* SPDX-License-Identifier: MIT */
/* proto.c: running batches under one commit, and formatting replies.
 * Parsing a request is in proto-parse.c, the op tables in proto-table.c;
 * the operations themselves are in proto-ops.c and the other op files,
 * and what they and this file share is in proto-common.c. A batch op's
 * inner requests are parsed and run here, as requests of the read they
 * came in (proto-batch.c splits them and writes the reply). */
#include "proto-batch.h"
#include "proto-parse.h"
#include "proto-common.h"
#include "base/error.h"
#include "wire/frame.h"
#include "json/json.h"

#include <sodium.h>
#include <string.h>

typedef struct _Slot Slot;
struct _Slot {
  NmsRequest      req;
  const NmsOpDef *op;
  char           *id_json;
  GError         *error;   /* the request could not be parsed or failed */
  GString        *result;  /* the reply: {"id":..,"ok":true, then the members */
  gsize           head;    /* where the op's members start in result */
  gboolean        secret;  /* may hold a passphrase: wiped however it ends */
  GLogLevelFlags  log_level; /* the failure is to be logged at this level; 0: not */
  NmsProtoInput   input;   /* the request's text (inside its batch's, for an inner one) */
  Slot           *inner;   /* a batch's requests, each a request of its own */
  gsize           n_inner;
  gboolean        in_batch; /* one of a batch's requests */
  gsize           held;    /* the bytes of result counted in Run.held */
};

/* One call's run: what its replies hold until they are handed out. */
typedef struct {
  NmsProto *proto;
  gsize     held;
} Run;

/* The most requests that share one transaction (a batch op's entries
 * counted each, and the first input always taken whole): their replies
 * wait for its commit. Requests that arrive together are served in such
 * groups, each written out once it commits, so that a client that sent
 * several batch frames gets the first one's replies while the host runs
 * the next, instead of all of them at the end. Larger groups saved
 * nothing measurable: twenty batch frames of 100 sets took as long in
 * twenty transactions as in one. */
#define GROUP_REQUESTS 32u

/* Each kind of failure (op and error code) is logged this many times by
 * a port, then once in every FAILURE_LOG_EVERY: an extension that retries
 * a failing write in a loop must not fill the disk or the browser's log. */
#define FAILURE_LOG_FIRST 3
#define FAILURE_LOG_EVERY 1000

static void slot_done (Slot *slot);

static void
slot_clear (Slot *slot)
{
  gsize i;

  for (i = 0; i < slot->n_inner; i++)
    slot_done (&slot->inner[i]);
  g_free (slot->inner);
  if (slot->req.replies != NULL)
    g_ptr_array_unref (slot->req.replies);
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
  _nms_proto_append_op_names (names);
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
run_slot (Run *run, Slot *slot)
{
  NmsProto *proto = run->proto;

  if (slot->op == NULL)
    return; /* a parse error, already in slot->error */
  g_clear_error (&slot->error);
  run->held -= slot->held;
  slot->held = 0;
  /* The op appends its members after the reply's head, so that a large
   * reply (a restore) is never copied to put the head in front of it. */
  if (slot->result != NULL)
    g_string_truncate (slot->result, slot->head);
  else
    {
      slot->result = g_string_sized_new (128);
      g_string_append (slot->result, "{\"id\":");
      g_string_append (slot->result, slot->id_json ? slot->id_json : "null");
      g_string_append (slot->result, ",\"ok\":true,");
      slot->head = slot->result->len;
    }
  if (slot->in_batch && run->held > NMS_PROTO_BATCH_HELD_BYTES)
    {
      /* Every request of a batch after this one is refused too, so that
       * what ran is a prefix the caller can continue from. */
      g_set_error (&slot->error, NMS_ERROR, NMS_ERROR_TOO_LARGE,
                   "this request did not run: the replies before it already hold more than %u MiB; "
                   "send it and the batch's requests after it again, in another batch",
                   NMS_PROTO_BATCH_HELD_BYTES / (1024u * 1024u));
      return;
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
      run_request (proto, slot);
    }
  if (slot->error != NULL)
    /* Logged by log_failures once the batch's transactions are over: a
     * log write that blocks (a stderr nobody reads) must not hold the
     * origin's write lock and stall every other port. */
    slot->log_level = slot->error->code == NMS_ERROR_IO || slot->error->code == NMS_ERROR_CORRUPT
                      || slot->error->code == NMS_ERROR_INTERNAL ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_DEBUG;
  else
    {
      slot->held = slot->result->len;
      run->held += slot->held;
    }
}

static void
log_failures (NmsProto *proto, Slot **slots, gsize n)
{
  gsize i;

  for (i = 0; i < n; i++)
    {
      Slot *slot = slots[i];
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
 * says exactly what happened to that request. A lone write request (every
 * sequential set) is already a transaction of its own (run_request), so it
 * is run as one: the batch's transaction would only wrap it in a
 * savepoint it does not need. */
static void
run_group (Run *run, Slot **slots, gsize from, gsize to)
{
  NmsProto *proto = run->proto;
  gboolean writes = FALSE;
  guint n_store = 0;
  Slot *last = NULL;
  g_autoptr(GError) error = NULL;
  gsize i;

  for (i = from; i < to; i++)
    if (slots[i]->op != NULL && slots[i]->op->uses_store)
      {
        n_store++;
        last = slots[i];
        writes |= slots[i]->op->writes;
      }
  if (n_store == 0 || proto->store == NULL || (n_store == 1 && last->op->writes))
    {
      for (i = from; i < to; i++)
        run_slot (run, slots[i]);
      return;
    }

  if (!nms_store_begin (proto->store, writes, &error))
    {
      for (i = from; i < to; i++)
        if (slots[i]->op != NULL && slots[i]->op->uses_store)
          {
            g_clear_error (&slots[i]->error);
            slots[i]->error = g_error_copy (error);
          }
        else
          run_slot (run, slots[i]);
      return;
    }
  for (i = from; i < to; i++)
    run_slot (run, slots[i]);
  if (nms_store_commit (proto->store, &error))
    return;

  g_warning ("a batch of %" G_GSIZE_FORMAT " requests failed to commit (%s); retrying them one by one",
             to - from, error->message);
  for (i = from; i < to; i++)
    run_slot (run, slots[i]);
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

/* The slot's whole reply, once: its error reply, or its result closed. */
static GString *
finish_reply (Slot *slot)
{
  if (slot->error != NULL)
    {
      gsize len;
      g_autofree char *text = nms_proto_error_reply (slot->id_json ? slot->id_json : "null", slot->error, &len);

      if (slot->result != NULL)
        g_string_free (slot->result, TRUE);
      slot->result = g_string_new_len (text, (gssize) len);
      return slot->result;
    }
  /* No members: the comma after "ok":true goes. */
  if (slot->result->len == slot->head)
    g_string_truncate (slot->result, slot->head - 1);
  g_string_append_c (slot->result, '}');
  return slot->result;
}

static void
reply_free (gpointer reply)
{
  if (reply != NULL)
    g_string_free (reply, TRUE);
}

/* Parses one request; an inner request of a batch shares its batch's
 * budget of values. An inner request's text is a slice of its batch's
 * frame, so when the frame holds neither word a secret is spelled with
 * (may_hold_secret FALSE), none of its slices is searched again: that
 * search was 7% of a batch of $bytes sets. */
static void
parse_slot (Slot *slot, NmsProtoInput *input, gboolean may_hold_secret, gsize *budget)
{
  slot->input = *input;
  slot->secret = may_hold_secret && _nms_proto_secret_frame (input->data, input->len);
  if (!_nms_proto_parse_request (input, slot->in_batch, budget, &slot->req, &slot->id_json, &slot->op, &slot->error))
    slot->op = NULL;
  else if (slot->op->secret && !slot->secret)
    {
      slot->secret = TRUE;
      _nms_proto_secret_guard ();
    }
}

/* A batch's requests, each parsed as a request of its own. One that must
 * come alone gets its own error and does not run. */
static void
split_batch (Slot *slot, gsize *budget)
{
  g_autoptr(GArray) texts = g_array_new (FALSE, FALSE, sizeof (NmsProtoInput));
  gsize i;

  if (!_nms_proto_batch_split (&slot->req, texts, &slot->error))
    {
      slot->op = NULL;
      return;
    }
  slot->n_inner = texts->len;
  slot->inner = g_new0 (Slot, texts->len);
  for (i = 0; i < texts->len; i++)
    {
      Slot *inner = &slot->inner[i];

      inner->in_batch = TRUE;
      parse_slot (inner, &g_array_index (texts, NmsProtoInput, i), slot->secret, budget);
      if (inner->op != NULL && inner->op->alone)
        {
          g_set_error (&inner->error, NMS_ERROR, NMS_ERROR_REQUEST,
                       "%s cannot be sent inside a batch; send it on its own, in a frame of its own",
                       inner->op->name);
          inner->op = NULL;
        }
    }
}

/* Parses and runs the first inputs, as many as make GROUP_REQUESTS
 * requests (*n_run of them, at least one); each slot keeps its result or
 * its error until the caller has handed it out and cleared it. A batch
 * op's requests run in its place, as requests of this read: in its
 * transaction, a savepoint each, cut by barriers like the others. */
static Slot *
run_batch (NmsProto *proto, NmsProtoInput *inputs, gsize n_inputs, gsize *n_run)
{
  Slot *slots = g_new0 (Slot, n_inputs);
  g_autoptr(GPtrArray) order = g_ptr_array_sized_new (MIN (n_inputs, GROUP_REQUESTS)); /* the slots that run, in order */
  Run run = { proto, 0 };
  gsize i, j, from = 0;

  for (i = 0; i < n_inputs && order->len < GROUP_REQUESTS; i++)
    {
      gsize budget = _nms_proto_envelope_budget (inputs[i].len);

      parse_slot (&slots[i], &inputs[i], TRUE, &budget);
      if (slots[i].op != NULL && slots[i].op->carries)
        split_batch (&slots[i], &budget);
      if (slots[i].op != NULL && slots[i].op->carries)
        for (j = 0; j < slots[i].n_inner; j++)
          g_ptr_array_add (order, &slots[i].inner[j]);
      else
        g_ptr_array_add (order, &slots[i]);
    }
  *n_run = i;
  _nms_proto_ensure_store (proto);

  /* A barrier (flush) must see everything before it committed, so the
   * batch is cut into groups around it. */
  for (i = 0; i <= order->len; i++)
    {
      Slot *slot = i < order->len ? order->pdata[i] : NULL;

      if (slot != NULL && (slot->op == NULL || !slot->op->barrier))
        continue;
      run_group (&run, (Slot **) order->pdata, from, i);
      if (slot != NULL)
        run_slot (&run, slot);
      from = i + 1;
    }

  /* Every transaction has ended: a batch op now writes its requests'
   * replies, and logging may block. */
  for (i = 0; i < *n_run; i++)
    if (slots[i].op != NULL && slots[i].op->carries)
      {
        slots[i].req.replies = g_ptr_array_new_full (slots[i].n_inner, reply_free);
        for (j = 0; j < slots[i].n_inner; j++)
          {
            g_ptr_array_add (slots[i].req.replies, finish_reply (&slots[i].inner[j]));
            slots[i].inner[j].result = NULL;
          }
        run_slot (&run, &slots[i]);
      }
  log_failures (proto, (Slot **) order->pdata, order->len);
  return slots;
}

/* The frame sits in the reader's buffer until later frames reuse it; an
 * unlock's passphrase should not wait that long. An inner request's text
 * is part of its batch's frame. */
static void
slot_done (Slot *slot)
{
  slot_clear (slot);
  if (slot->secret)
    sodium_memzero (slot->input.data, slot->input.len);
}

gsize
nms_proto_handle_batch (NmsProto *proto, NmsProtoInput *inputs, gsize n_inputs,
                        NmsProtoReplyFunc emit, gpointer user_data)
{
  gsize i, n_run;
  Slot *slots;

  if (n_inputs == 0)
    return 0;
  slots = run_batch (proto, inputs, n_inputs, &n_run);
  for (i = 0; i < n_run; i++)
    {
      GString *reply = finish_reply (&slots[i]);

      emit (slots[i].id_json ? slots[i].id_json : "null", reply->str, reply->len, user_data);
      slot_done (&slots[i]);
    }
  g_free (slots);
  return n_run;
}

char *
nms_proto_run_one (NmsProto *proto, NmsProtoInput *input, gsize *len, GError **error)
{
  gsize n_run;
  Slot *slot = run_batch (proto, input, 1, &n_run);
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
  slot_done (slot);
  g_free (slot);
  return out != NULL ? g_string_free (out, FALSE) : NULL;
}
