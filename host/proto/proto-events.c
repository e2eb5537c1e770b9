/* SPDX-License-Identifier: MIT */
/* proto-events.c: change events, like chrome.storage.onChanged.
 *
 * A subscribed port keeps a cursor into the store's change log. After each
 * batch, and whenever the store's bell rings, the rows after the cursor
 * become events, in log order, which is commit order. A port whose cursor
 * fell behind the pruned part of the log (it did not read its pipe for a
 * long time) gets one overflow event and starts again from the newest
 * row: it must re-read, since some events are gone.
 *
 * Subscribing registers the port in the store (store-subscribers.c), so
 * that writers log while it listens; unsubscribing and the end of the
 * process remove the registration. Both run alone in a transaction of
 * their own (barrier ops), so that a batch's commit failing and running
 * its requests again can never leave a port subscribed without one. */
#include "proto-common.h"
#include "base/error.h"
#include "json/json.h"

#include <string.h>

/* One poll reads at most this much before letting the caller write it
 * out, so that a port far behind costs bounded memory. */
#define POLL_MAX_ROWS  1024
#define POLL_MAX_BYTES (4u * 1024u * 1024u)
#define READ_ROWS      64

static const char overflow_event[] = "{\"event\":\"overflow\"}";

static gboolean
op_subscribe (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  NmsProtoEvents *ev = &proto->events;
  const char *prefix;
  guint64 head;

  if (!_nms_proto_optional_prefix (req, "subscribe", &prefix, error))
    return FALSE;
  /* Subscribing again only changes the prefix: nothing already committed
   * is skipped or sent twice. */
  if (!ev->subscribed)
    {
      gint64 id;

      /* An unsubscribe whose removal failed left this port's old row. */
      if (ev->subscription != 0 && nms_store_unsubscribe (proto->store, ev->subscription, NULL))
        ev->subscription = 0;
      if (!nms_store_subscribe (proto->store, &id, &head, error))
        return FALSE;
      ev->subscription = id;
      if (!nms_store_data_version (proto->store, &ev->data_version, error))
        {
          if (nms_store_unsubscribe (proto->store, id, NULL))
            ev->subscription = 0;
          return FALSE;
        }
      ev->cursor = head;
      ev->more = FALSE;
      ev->wrote = FALSE;
    }
  g_free (ev->prefix);
  ev->prefix = prefix != NULL && *prefix != '\0' ? g_strdup (prefix) : NULL;
  ev->subscribed = TRUE;
  return TRUE;
}

/* The port stops hearing events even when its row cannot be removed:
 * that row only makes writers log for nobody until it goes. */
static gboolean
drop_subscription (NmsProto *proto, GError **error)
{
  NmsProtoEvents *ev = &proto->events;

  ev->subscribed = FALSE;
  g_clear_pointer (&ev->prefix, g_free);
  if (ev->subscription == 0 || proto->store == NULL)
    return TRUE;
  if (!nms_store_unsubscribe (proto->store, ev->subscription, error))
    return FALSE;
  ev->subscription = 0;
  return TRUE;
}

static gboolean
op_unsubscribe (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  return drop_subscription (proto, error);
}

void
_nms_proto_events_free (NmsProto *proto)
{
  g_autoptr(GError) error = NULL;

  if (!drop_subscription (proto, &error))
    g_warning ("cannot remove this port's subscription; writers on this origin will record "
               "changes for nobody until a host starts or subscribes: %s", error->message);
}

const NmsOpDef nms_proto_events_ops[] = {
  /* name          run             writes uses_store barrier */
  { "subscribe",   op_subscribe,   TRUE,  TRUE,  TRUE, .alone = TRUE },
  { "unsubscribe", op_unsubscribe, TRUE,  FALSE, TRUE, .alone = TRUE },
  { NULL }
};

gboolean
nms_proto_subscribed (NmsProto *proto)
{
  return proto->events.subscribed && proto->store != NULL;
}

const char *
nms_proto_bell_path (NmsProto *proto)
{
  return proto->store != NULL ? nms_store_bell_path (proto->store) : NULL;
}

typedef struct {
  NmsProto         *proto;
  NmsProtoEventFunc emit;
  gpointer          user_data;
  gsize             rows;
  gsize             bytes;
} Poll;

static gboolean
under_prefix (const NmsChange *change, const char *prefix)
{
  gsize len = prefix ? strlen (prefix) : 0;

  /* memcmp with a NULL pointer is undefined even for zero bytes. */
  return len == 0 || (change->key_len >= len && memcmp (change->key, prefix, len) == 0);
}

/* Formats one log row as Chrome's onChanged shape: oldValue absent for a
 * new key, newValue absent for a removed one. */
static gboolean
emit_row (guint64 seq, const NmsChange *changes, gsize n_changes, gpointer user_data, GError **error)
{
  Poll *poll = user_data;
  const char *prefix = poll->proto->events.prefix;
  g_autoptr(GString) out = g_string_new ("{\"event\":\"changed\",\"area\":\"local\",\"changes\":{");
  gboolean any = FALSE;
  gsize i;

  poll->proto->events.cursor = seq;
  poll->rows++;
  for (i = 0; i < n_changes; i++)
    {
      const NmsChange *c = &changes[i];

      if (!under_prefix (c, prefix))
        continue;
      if (any)
        g_string_append_c (out, ',');
      any = TRUE;
      nms_json_append_string (out, c->key, c->key_len);
      /* Chrome's order: the record's members sorted, newValue first. */
      g_string_append (out, ":{");
      if (c->new_value.present)
        {
          g_string_append (out, "\"newValue\":");
          _nms_proto_append_stored_value (out, c->new_value.kind, c->new_value.value, c->new_value.value_len);
        }
      if (c->old_value.present)
        {
          g_string_append (out, c->new_value.present ? ",\"oldValue\":" : "\"oldValue\":");
          _nms_proto_append_stored_value (out, c->old_value.kind, c->old_value.value, c->old_value.value_len);
        }
      g_string_append_c (out, '}');
    }
  if (!any)
    return TRUE;
  g_string_append (out, "}}");
  poll->bytes += out->len;
  poll->emit ("changed", out->str, out->len, poll->user_data);
  return TRUE;
}

/* This port's row is gone: another process took this one for dead (a pid
 * namespace it cannot see into, say). Writes since then may not have been
 * logged, so the port must re-read; it registers again from the head. */
static gboolean
resubscribe (Poll *poll, GError **error)
{
  NmsProtoEvents *ev = &poll->proto->events;
  guint64 head;
  gint64 id;

  g_warning ("this port's subscription was removed by another process; it is told to re-read");
  if (!nms_store_subscribe (poll->proto->store, &id, &head, error))
    return FALSE;
  ev->subscription = id;
  ev->cursor = head;
  ev->more = FALSE;
  poll->emit ("overflow", overflow_event, strlen (overflow_event), poll->user_data);
  return TRUE;
}

/* Reads the log from the cursor inside one read transaction, which ends
 * before this returns. */
static gboolean
read_log (Poll *poll, GError **error)
{
  NmsProtoEvents *ev = &poll->proto->events;
  NmsStore *store = poll->proto->store;
  guint64 head, pruned, before;
  gboolean ok, registered = FALSE;

  if (!nms_store_begin (store, FALSE, error))
    return FALSE;
  ok = nms_store_subscribed (store, ev->subscription, &registered, error);
  if (ok && !registered)
    {
      nms_store_rollback (store);
      return resubscribe (poll, error);
    }
  ok = ok && nms_store_changes_state (store, &head, &pruned, error);
  if (ok && ev->cursor < pruned)
    {
      g_info ("a subscriber fell %" G_GUINT64_FORMAT " changes behind, past the kept log; "
              "it is told to re-read", head - ev->cursor);
      poll->emit ("overflow", overflow_event, strlen (overflow_event), poll->user_data);
      ev->cursor = head;
    }
  do
    {
      before = ev->cursor;
      ok = ok && nms_store_changes_read (store, ev->cursor, READ_ROWS, emit_row, poll, error);
    }
  while (ok && ev->cursor != before && poll->rows < POLL_MAX_ROWS && poll->bytes < POLL_MAX_BYTES);
  ev->more = ok && ev->cursor < head;
  if (!ok)
    {
      nms_store_rollback (store);
      return FALSE;
    }
  return nms_store_commit (store, error);
}

gboolean
nms_proto_poll_events (NmsProto *proto, NmsProtoEventFunc emit, gpointer user_data)
{
  NmsProtoEvents *ev = &proto->events;
  g_autoptr(GError) error = NULL;
  Poll poll = { proto, emit, user_data, 0, 0 };
  gint64 version;

  if (!nms_proto_subscribed (proto))
    return FALSE;
  /* The bell also rings for this process's own commits, and data_version
   * does not move for those: it tells a wake-up with nothing new. */
  if (!nms_store_data_version (proto->store, &version, &error))
    {
      g_warning ("cannot check the store for changes: %s", error->message);
      return FALSE;
    }
  if (version == ev->data_version && !ev->wrote && !ev->more)
    return FALSE;
  ev->data_version = version;
  ev->wrote = FALSE;
  if (!read_log (&poll, &error))
    {
      /* The subscriber cannot trust what it has; it re-reads from here. */
      guint64 head = ev->cursor, pruned;

      g_warning ("cannot read the change log: %s", error->message);
      g_clear_error (&error);
      if (nms_store_changes_state (proto->store, &head, &pruned, &error))
        {
          ev->cursor = head;
          emit ("overflow", overflow_event, strlen (overflow_event), user_data);
        }
      ev->more = FALSE;
    }
  return ev->more;
}
