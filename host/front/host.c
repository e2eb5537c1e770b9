/* SPDX-License-Identifier: MIT */
/* host.c: the native-messaging host's main loop.
 *
 * Reads every frame already waiting on stdin, hands them to the protocol
 * as one batch (one commit), and writes the replies back before reading
 * again. stdout is written with blocking writes on purpose: a browser that
 * stops reading makes the host wait, never buffer without bound.
 *
 * While the port is subscribed to change events, a file monitor on the
 * store's bell wakes the loop when another process commits a change; the
 * events go out after the replies of each batch too. The protocol holds
 * no store lock while this blocks on stdout, so a port that stops reading
 * never holds up writers: it falls behind, and is told so (overflow). */
#include "front/host.h"
#include "base/error.h"
#include "wire/frame.h"
#include "base/os.h"
#include "proto/proto.h"

#include <gio/gio.h>

#define STDIN_FD  0
#define STDOUT_FD 1
/* Read at most this much before serving it, so that a flood of requests
 * still gets replies at a steady pace. */
#define BATCH_READ_LIMIT (8u * 1024u * 1024u)
/* Take at most this many frames from the buffer at a time (proto.c serves
 * them in transactions of at most as many requests). Replies are held
 * until their transaction commits, so without a cap a burst of small reads
 * of a large value (thousands of them in one pipe-full) would hold every
 * reply in memory at once: a browser that stops reading would grow the
 * host by gigabytes instead of blocking it. A batch op carries up to 1000
 * requests in one frame; proto.c bounds what their replies hold instead
 * (NMS_PROTO_BATCH_HELD_BYTES). */
#define BATCH_MAX_REQUESTS 32u
/* Output is written out once this much waits, so that a large reply's
 * chunk frames are never all held at once. */
#define OUT_FLUSH_BYTES (1024u * 1024u)
/* An output buffer that grew past this for one batch is given back. It is
 * more than the flush size plus one frame (at most 1 MiB), so that
 * streaming a chunked reply does not allocate a new buffer per frame. */
#define OUT_KEEP_CAPACITY (4u * 1024u * 1024u)

typedef struct {
  NmsProto       *proto;
  NmsFrameReader *reader;
  GMainLoop      *loop;
  GByteArray     *out;
  int             exit_status;
  gboolean        output_closed;
  gboolean        done;
  GFileMonitor   *bell;       /* while subscribed */
  guint           resume_id;  /* continues a poll that stopped early */
  NmsOsStopWatch *stop;       /* SIGTERM and SIGINT */
} Host;

static void
finish (Host *host, int status)
{
  if (!host->done)
    host->exit_status = status;
  host->done = TRUE;
  g_main_loop_quit (host->loop);
}

static void
flush_output (Host *host)
{
  g_autoptr(GError) error = NULL;

  if (host->out->len == 0)
    return;
  if (!host->output_closed && !nms_os_write_all (STDOUT_FD, host->out->data, host->out->len, &error))
    {
      /* The browser has gone away: an ordinary end. What was committed
       * stays committed; there is nobody left to tell. */
      g_info ("the browser closed the pipe: %s", error->message);
      host->output_closed = TRUE;
    }
  if (host->out->len > OUT_KEEP_CAPACITY)
    {
      g_byte_array_unref (host->out);
      host->out = g_byte_array_new ();
    }
  else
    g_byte_array_set_size (host->out, 0);
}

/* Appends a message's frames, writing out whenever a megabyte is waiting:
 * a restore's chunk frames go out as they are built, never all held at
 * once beside the reply text they are cut from. Replies are only emitted
 * after their batch has committed, so writing early promises nothing
 * that is not already true. */
static void
emit_frames (Host *host, NmsFrameChunker *chunker)
{
  while (nms_frame_chunker_next (chunker, host->out))
    if (host->out->len >= OUT_FLUSH_BYTES)
      flush_output (host);
}

static void
emit_reply (const char *id_json, const char *json, gsize len, gpointer user_data)
{
  Host *host = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;  /* an error reply in its place */
  g_autoptr(NmsFrameChunker) chunker = nms_frame_chunker_new_message (id_json, json, len,
                                                                      NMS_FRAME_MAX_MESSAGE_BYTES, &error);

  if (chunker == NULL)
    {
      /* Every request gets a reply: this one says what went wrong. */
      gsize text_len;

      g_warning ("cannot frame a reply: %s", error->message);
      text = nms_proto_error_reply (id_json, error, &text_len);
      chunker = nms_frame_chunker_new_message (id_json, text, text_len, NMS_FRAME_MAX_MESSAGE_BYTES, NULL);
    }
  if (chunker != NULL)
    emit_frames (host, chunker);
}

static void
emit_event (const char *name, const char *json, gsize len, gpointer user_data)
{
  Host *host = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsFrameChunker) chunker = nms_frame_chunker_new_event (name, json, len,
                                                                    NMS_FRAME_MAX_MESSAGE_BYTES, &error);

  if (chunker == NULL)
    g_warning ("cannot frame an event: %s", error->message);
  else
    emit_frames (host, chunker);
}

static void send_events (Host *host);

static void
on_bell (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event, gpointer user_data)
{
  send_events (user_data);
}

static gboolean
on_resume (gpointer user_data)
{
  Host *host = user_data;

  host->resume_id = 0;
  send_events (host);
  return G_SOURCE_REMOVE;
}

/* Watches the bell exactly while the port is subscribed, so that a host
 * without subscribers is never woken by other processes' writes. */
static void
watch_bell (Host *host)
{
  gboolean want = nms_proto_subscribed (host->proto);

  if (want && host->bell == NULL)
    {
      g_autoptr(GFile) file = g_file_new_for_path (nms_proto_bell_path (host->proto));
      g_autoptr(GError) error = NULL;

      host->bell = g_file_monitor_file (file, G_FILE_MONITOR_NONE, NULL, &error);
      if (host->bell == NULL)
        {
          g_warning ("cannot watch %s for other processes' changes; events will only follow "
                     "this port's own writes: %s", nms_proto_bell_path (host->proto), error->message);
          return;
        }
      g_signal_connect (host->bell, "changed", G_CALLBACK (on_bell), host);
    }
  else if (!want && host->bell != NULL)
    {
      g_file_monitor_cancel (host->bell);
      g_clear_object (&host->bell);
    }
}

/* Appends the events that are due after anything already in host->out,
 * and writes everything out. */
static void
send_events (Host *host)
{
  gboolean more;

  watch_bell (host);
  more = nms_proto_poll_events (host->proto, emit_event, host);
  flush_output (host);
  if (more && host->resume_id == 0)
    host->resume_id = g_idle_add (on_resume, host);
}

/* Serves every complete frame in the buffer as one batch. Returns FALSE
 * when the stream can no longer be trusted. */
static gboolean
serve_buffered (Host *host)
{
  NmsProtoInput inputs[BATCH_MAX_REQUESTS];
  NmsFrameStatus status = NMS_FRAME_NEED_MORE;
  gsize n, served;

  /* Frames stay where they are in the reader's buffer until release, so
   * later batches can still point into it. */
  do
    {
      n = 0;
      while (n < BATCH_MAX_REQUESTS
             && (status = nms_frame_reader_next (host->reader, &inputs[n].data, &inputs[n].len)) == NMS_FRAME_READY)
        n++;
      /* proto.c serves them in groups, each written out as soon as it
       * has committed. */
      for (served = 0; served < n;)
        {
          served += nms_proto_handle_batch (host->proto, &inputs[served], n - served, emit_reply, host);
          flush_output (host);
        }
    }
  while (n == BATCH_MAX_REQUESTS);

  if (status == NMS_FRAME_OVERSIZED)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *reply = NULL;
      gsize len;

      g_set_error (&error, NMS_ERROR, NMS_ERROR_TOO_LARGE,
                   "a request of %u bytes is over the limit of %u bytes; the connection cannot continue",
                   nms_frame_reader_declared (host->reader), NMS_FRAME_MAX_REQUEST_BYTES);
      g_warning ("%s", error->message);
      reply = nms_proto_error_reply ("null", error, &len);
      nms_frame_append (host->out, reply, len);
    }
  send_events (host);
  nms_frame_reader_release (host->reader);
  return status != NMS_FRAME_OVERSIZED;
}

/* Reads what is waiting, without blocking after the first read (which
 * waits when nothing is). Returns FALSE at end of input. A read from a pipe
 * that leaves room in the buffer has taken everything there was, so only a
 * full one asks whether more is waiting: a lone request then costs no
 * extra poll. A read that a stop signal interrupts has read nothing. */
static gboolean
read_waiting (Host *host)
{
  gsize total = 0, space, n;

  do
    {
      g_autoptr(GError) error = NULL;
      guint8 *buf = nms_frame_reader_reserve (host->reader, &space);

      if (!nms_os_read_input (STDIN_FD, buf, space, &n, &error))
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return TRUE;
          g_warning ("%s", error->message);
          return FALSE;
        }
      if (n == 0)
        return FALSE;
      nms_frame_reader_advance (host->reader, n);
      total += n;
    }
  while (total < BATCH_READ_LIMIT && n == space && nms_os_readable_now (STDIN_FD));
  return TRUE;
}

static void
end_of_input (Host *host)
{
  gsize pending = nms_frame_reader_pending (host->reader);

  if (pending > 0)
    {
      g_warning ("the input ended inside a frame (%" G_GSIZE_FORMAT " bytes of it arrived); "
                 "that request was not run", pending);
      finish (host, 1);
    }
  else
    finish (host, 0);
}

/* Whether nothing but the input needs the loop: no bell to watch, no
 * events left to send, no stop to run. */
static gboolean
only_input_waits (Host *host)
{
  return host->bell == NULL && host->resume_id == 0 && !nms_os_stop_watch_fired (host->stop);
}

/* The loop found input waiting, so the first read takes it at once. Then,
 * while nothing else needs the loop, the host waits for the next request
 * in read itself instead of going back to the loop's poll: a request that
 * comes alone then costs one system call and one loop iteration less (the
 * sequential gets of tests/bench took 3 to 4 µs less, of 30 to 40). A stop
 * signal interrupts that read (os-stop.c). */
static gboolean
on_input (int fd, GIOCondition condition, gpointer user_data)
{
  Host *host = user_data;

  do
    {
      gboolean more = read_waiting (host);

      if (!serve_buffered (host))
        {
          finish (host, 1);
          return G_SOURCE_REMOVE;
        }
      if (!more)
        {
          end_of_input (host);
          return G_SOURCE_REMOVE;
        }
    }
  while (only_input_waits (host));
  return G_SOURCE_CONTINUE;
}

/* SIGTERM or SIGINT: serve what has already arrived, then stop. */
static gboolean
on_terminate (gpointer user_data)
{
  Host *host = user_data;
  gboolean more = TRUE;

  g_info ("asked to stop; serving what has arrived first");
  while (more && nms_os_readable_now (STDIN_FD))
    more = read_waiting (host);
  if (serve_buffered (host))
    finish (host, 0);
  else
    finish (host, 1);
  return G_SOURCE_REMOVE;
}

int
nms_host_run (const NmsConfig *config, const NmsOrigin *origin)
{
  g_autoptr(GError) error = NULL;
  Host host = { 0 };

  host.proto = nms_proto_new (config, origin);
  host.reader = nms_frame_reader_new (NMS_FRAME_MAX_REQUEST_BYTES);
  host.loop = g_main_loop_new (NULL, FALSE);
  host.out = g_byte_array_new ();

  host.stop = nms_os_stop_watch_new (on_terminate, &host, &error);
  if (host.stop == NULL)
    {
      g_warning ("cannot serve %s: %s", origin->canonical, error->message);
      host.exit_status = 1;
    }
  else
    {
      g_info ("serving %s from %s", origin->canonical, config->root);
      nms_os_add_input_watch (STDIN_FD, on_input, &host);
      g_main_loop_run (host.loop);
    }
  g_clear_pointer (&host.stop, nms_os_stop_watch_free);
  while (g_source_remove_by_user_data (&host))
    ;
  if (host.bell != NULL)
    g_file_monitor_cancel (host.bell);
  g_clear_object (&host.bell);

  g_byte_array_unref (host.out);
  g_main_loop_unref (host.loop);
  nms_frame_reader_free (host.reader);
  nms_proto_free (host.proto);
  return host.exit_status;
}
