/* SPDX-License-Identifier: MIT */
/* bench-peer.c: starting a peer over pipes as a browser does, and
 * exchanging frames with it, sequentially or with many in flight.
 *
 * Both pipe ends are non-blocking and driven by one poll loop, so that a
 * peer answering while it is still being written to (the echo peer with
 * 1 MiB frames, a host sending a chunked reply) cannot deadlock the driver.
 * The host and the echo peer go through this same code, so whatever it
 * costs is paid on both sides of every ratio. */
#define _GNU_SOURCE

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256u * 1024u)
#define WRITE_CHUNK (1024u * 1024u)

struct _BenchPeer {
  pid_t   pid;
  int     to_fd;    /* the peer's stdin */
  int     from_fd;  /* the peer's stdout */
  guint8 *buf;
  gsize   capacity, start, end;
};

gdouble
bench_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gdouble) ts.tv_sec + (gdouble) ts.tv_nsec / 1e9;
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

gdouble
bench_median (GArray *values)
{
  guint n = values->len;

  if (n == 0)
    return NAN;
  g_array_sort (values, compare_doubles);
  if (n % 2 == 1)
    return g_array_index (values, gdouble, n / 2);
  return (g_array_index (values, gdouble, n / 2 - 1) + g_array_index (values, gdouble, n / 2)) / 2;
}

BenchFrames *
bench_frames_new (void)
{
  BenchFrames *frames = g_new0 (BenchFrames, 1);

  frames->bytes = g_byte_array_new ();
  frames->group_end = g_array_new (FALSE, FALSE, sizeof (gsize));
  frames->expect = g_array_new (FALSE, FALSE, sizeof (guint));
  return frames;
}

void
bench_frames_free (BenchFrames *frames)
{
  if (frames == NULL)
    return;
  g_byte_array_unref (frames->bytes);
  g_array_unref (frames->group_end);
  g_array_unref (frames->expect);
  g_free (frames);
}

void
bench_frames_add (BenchFrames *frames, const char *json, gsize len)
{
  guint32 header = (guint32) len;

  g_byte_array_append (frames->bytes, (const guint8 *) &header, sizeof header);
  g_byte_array_append (frames->bytes, (const guint8 *) json, (guint) len);
}

void
bench_frames_end_group (BenchFrames *frames, guint expect)
{
  gsize end = frames->bytes->len;

  g_array_append_val (frames->group_end, end);
  g_array_append_val (frames->expect, expect);
}

guint
bench_frames_n_groups (const BenchFrames *frames)
{
  return frames->group_end->len;
}

void
bench_exchange_clear (BenchExchange *x)
{
  g_clear_pointer (&x->latency_us, g_array_unref);
  g_clear_pointer (&x->reply_sizes, g_array_unref);
  g_clear_pointer (&x->replies, g_ptr_array_unref);
  memset (x, 0, sizeof *x);
}

/* In the child, before exec: onto the one CPU in user_data (its number
 * plus one). A failure leaves it where the scheduler puts it, as --no-pin
 * would; the results say where peers were meant to run. */
static void
pin_child (gpointer user_data)
{
  cpu_set_t one;

  CPU_ZERO (&one);
  CPU_SET (GPOINTER_TO_INT (user_data) - 1, &one);
  (void) sched_setaffinity (0, sizeof one, &one);
}

BenchPeer *
bench_peer_start (const char *const *argv, const char *home, int peer_cpu, GError **error)
{
  g_auto(GStrv) envp = g_get_environ ();
  BenchPeer *peer;
  GPid pid;
  int to_fd, from_fd;

  if (home != NULL)
    envp = g_environ_setenv (envp, "NMSTORE_HOME", home, TRUE);
  envp = g_environ_setenv (envp, "NMSTORE_LOG", "error", FALSE);
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, envp, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                 peer_cpu >= 0 ? pin_child : NULL, GINT_TO_POINTER (peer_cpu + 1),
                                 &pid, &to_fd, &from_fd, NULL, error))
    return NULL;
  peer = g_new0 (BenchPeer, 1);
  peer->pid = pid;
  peer->to_fd = to_fd;
  peer->from_fd = from_fd;
  if (!g_unix_set_fd_nonblocking (to_fd, TRUE, error) || !g_unix_set_fd_nonblocking (from_fd, TRUE, error))
    {
      bench_peer_kill (peer);
      return NULL;
    }
  return peer;
}

pid_t
bench_peer_pid (BenchPeer *peer)
{
  return peer->pid;
}

/* Makes room for at least `want` more bytes at the end of the buffer. */
static void
reserve (BenchPeer *peer, gsize want)
{
  gsize buffered = peer->end - peer->start;

  if (peer->start > 0 && peer->capacity - peer->end < want)
    {
      memmove (peer->buf, peer->buf + peer->start, buffered);
      peer->start = 0;
      peer->end = buffered;
    }
  if (peer->capacity - peer->end < want)
    {
      peer->capacity = MAX (peer->end + want, peer->capacity * 2);
      peer->buf = g_realloc (peer->buf, peer->capacity);
    }
}

/* A host reply frame whose id is followed by "chunk" is one part of a
 * larger reply; its index and count come right after. */
static gboolean
chunk_position (const guint8 *body, gsize len, guint *index, guint *count)
{
  const char *p = (const char *) body, *end = p + MIN (len, 256u);
  char *after;

  if (len < 8 || memcmp (p, "{\"id\":", 6) != 0)
    return FALSE;
  for (p += 6; p < end && *p != ','; p++)
    ;
  if (end - p < 20 || memcmp (p, ",\"chunk\":", 9) != 0)
    return FALSE;
  *index = (guint) strtoul (p + 9, &after, 10);
  if (strncmp (after, ",\"chunks\":", 10) != 0)
    return FALSE;
  *count = (guint) strtoul (after + 10, NULL, 10);
  return TRUE;
}

static char *
chunk_part (const guint8 *body, gsize len)
{
  g_autofree char *text = g_strndup ((const char *) body, len);
  cJSON *frame = cJSON_Parse (text);
  const cJSON *part = cJSON_GetObjectItemCaseSensitive (frame, "part");
  char *copy = cJSON_IsString (part) ? g_strdup (part->valuestring) : g_strdup ("");

  cJSON_Delete (frame);
  return copy;
}

typedef struct {
  const BenchFrames *frames;
  BenchKeep          keep;
  BenchExchange     *x;
  GArray            *sent_at;    /* gdouble per group */
  guint              done;       /* groups complete */
  guint              seen;       /* messages of group `done` so far */
  gsize              group_bytes;
  GString           *reassembly; /* the chunked reply being put together */
} Exchange;

/* Takes every complete frame out of the buffer and accounts for it. */
static void
consume_frames (BenchPeer *peer, Exchange *ex, gdouble now)
{
  for (;;)
    {
      gsize buffered = peer->end - peer->start;
      const guint8 *body;
      guint32 len;
      guint index = 0, count = 0;
      gboolean chunk, last;

      if (buffered < 4)
        return;
      memcpy (&len, peer->buf + peer->start, 4);
      if (buffered - 4 < len)
        {
          reserve (peer, len + 4 - buffered);
          return;
        }
      body = peer->buf + peer->start + 4;
      peer->start += 4 + (gsize) len;
      if (peer->start == peer->end)
        peer->start = peer->end = 0;

      ex->x->bytes_in += 4 + (guint64) len;
      ex->group_bytes += 4 + (gsize) len;
      chunk = chunk_position (body, len, &index, &count);
      last = !chunk || index + 1 >= count;
      if (!chunk && g_strstr_len ((const char *) body, MIN (len, 256u), "\"ok\":false") != NULL)
        ex->x->failures++;
      if (ex->keep & BENCH_KEEP_REPLIES)
        {
          if (chunk)
            {
              g_autofree char *part = chunk_part (body, len);
              if (ex->reassembly == NULL)
                ex->reassembly = g_string_new (NULL);
              g_string_append (ex->reassembly, part);
              if (last)
                g_ptr_array_add (ex->x->replies, g_string_free (g_steal_pointer (&ex->reassembly), FALSE));
            }
          else
            g_ptr_array_add (ex->x->replies, g_strndup ((const char *) body, len));
        }
      if (!last)
        continue;

      ex->x->messages++;
      if (ex->done >= bench_frames_n_groups (ex->frames))
        continue; /* more than was asked for: counted, not attributed */
      if (++ex->seen < g_array_index (ex->frames->expect, guint, ex->done))
        continue;
      {
        gdouble us = (now - g_array_index (ex->sent_at, gdouble, ex->done)) * 1e6;
        g_array_append_val (ex->x->latency_us, us);
        if (ex->keep & BENCH_KEEP_SIZES)
          g_array_append_val (ex->x->reply_sizes, ex->group_bytes);
      }
      ex->done++;
      ex->seen = 0;
      ex->group_bytes = 0;
    }
}

gboolean
bench_peer_exchange (BenchPeer *peer, const BenchFrames *frames, guint window,
                     BenchKeep keep, BenchExchange *x, GError **error)
{
  guint n_groups = bench_frames_n_groups (frames);
  gsize total = frames->bytes->len, out = 0;
  guint sending = 0;  /* the group that `out` is in */
  Exchange ex = { frames, keep, x, NULL, 0, 0, 0, NULL };
  gdouble start;

  memset (x, 0, sizeof *x);
  x->latency_us = g_array_sized_new (FALSE, FALSE, sizeof (gdouble), n_groups);
  x->reply_sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  x->replies = g_ptr_array_new_with_free_func (g_free);
  ex.sent_at = g_array_sized_new (FALSE, TRUE, sizeof (gdouble), n_groups);
  g_array_set_size (ex.sent_at, n_groups);
  window = MAX (window, 1);

  start = bench_now ();
  while (ex.done < n_groups)
    {
      gboolean progress = FALSE, may_write;
      struct pollfd fds[2];
      nfds_t n_fds = 0;
      ssize_t n;

      /* A group is started only inside the window; one that has started
       * is always written to its end. */
      may_write = out < total
                  && (out > (sending == 0 ? 0 : g_array_index (frames->group_end, gsize, sending - 1))
                      || sending - ex.done < window);
      if (may_write)
        {
          gsize group_end = g_array_index (frames->group_end, gsize, sending);
          gsize group_start = sending == 0 ? 0 : g_array_index (frames->group_end, gsize, sending - 1);

          if (out == group_start)
            g_array_index (ex.sent_at, gdouble, sending) = bench_now ();
          n = write (peer->to_fd, frames->bytes->data + out, MIN (group_end - out, WRITE_CHUNK));
          if (n > 0)
            {
              out += (gsize) n;
              x->bytes_out += (guint64) n;
              if (out == group_end)
                sending++;
              progress = TRUE;
            }
          else if (n < 0 && errno != EAGAIN && errno != EINTR)
            {
              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                           "cannot write to the peer: %s", g_strerror (errno));
              goto fail;
            }
        }

      reserve (peer, READ_CHUNK);
      n = read (peer->from_fd, peer->buf + peer->end, peer->capacity - peer->end);
      if (n > 0)
        {
          peer->end += (gsize) n;
          consume_frames (peer, &ex, bench_now ());
          progress = TRUE;
        }
      else if (n == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                       "the peer closed its output after %u of %u requests", ex.done, n_groups);
          goto fail;
        }
      else if (errno != EAGAIN && errno != EINTR)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       "cannot read from the peer: %s", g_strerror (errno));
          goto fail;
        }
      if (progress)
        continue;

      fds[n_fds++] = (struct pollfd) { .fd = peer->from_fd, .events = POLLIN };
      if (may_write)
        fds[n_fds++] = (struct pollfd) { .fd = peer->to_fd, .events = POLLOUT };
      if (poll (fds, n_fds, 60000) == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "the peer did not answer for 60 s (%u of %u requests done)", ex.done, n_groups);
          goto fail;
        }
    }
  x->seconds = bench_now () - start;
  g_array_unref (ex.sent_at);
  return TRUE;

fail:
  g_array_unref (ex.sent_at);
  if (ex.reassembly != NULL)
    g_string_free (ex.reassembly, TRUE);
  return FALSE;
}

cJSON *
bench_peer_call (BenchPeer *peer, const char *json, GError **error)
{
  g_autoptr(BenchFrames) frames = bench_frames_new ();
  BenchExchange x;
  cJSON *reply;

  bench_frames_add (frames, json, strlen (json));
  bench_frames_end_group (frames, 1);
  if (!bench_peer_exchange (peer, frames, 1, BENCH_KEEP_REPLIES, &x, error))
    {
      bench_exchange_clear (&x);
      return NULL;
    }
  reply = x.replies->len > 0 ? cJSON_Parse (x.replies->pdata[0]) : NULL;
  bench_exchange_clear (&x);
  if (reply == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the peer's reply is not JSON");
  return reply;
}

static void
peer_free (BenchPeer *peer)
{
  if (peer->to_fd >= 0)
    close (peer->to_fd);
  if (peer->from_fd >= 0)
    close (peer->from_fd);
  g_free (peer->buf);
  g_free (peer);
}

/* The peak resident set of the running process, in KiB, or -1. wait4's
 * ru_maxrss cannot be used: Linux carries the forked driver's own resident
 * set over exec into it, and the driver holds every request in memory. */
static gint64
read_vm_hwm (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "\nVmHWM:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("\nVmHWM:"), NULL, 10);
}

gboolean
bench_peer_stop (BenchPeer *peer, BenchExit *exit_info, GError **error)
{
  struct rusage usage = { 0 };
  guint8 sink[65536];
  int status = 0;
  gint64 hwm = read_vm_hwm (peer->pid);
  pid_t r;

  /* Every request has been answered: what is left is freeing memory and
   * closing the store, so the peak is already in VmHWM. */
  close (peer->to_fd);
  peer->to_fd = -1;
  /* Whatever the peer still writes is read, so that it can finish. */
  g_unix_set_fd_nonblocking (peer->from_fd, FALSE, NULL);
  while (read (peer->from_fd, sink, sizeof sink) > 0)
    ;
  do
    r = wait4 (peer->pid, &status, 0, &usage);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot reap the peer: %s", g_strerror (errno));
      peer_free (peer);
      return FALSE;
    }
  exit_info->status = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  exit_info->maxrss_kb = hwm >= 0 ? hwm : usage.ru_maxrss;
  peer_free (peer);
  if (exit_info->status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the peer exited with status %d", exit_info->status);
      return FALSE;
    }
  return TRUE;
}

void
bench_peer_kill (BenchPeer *peer)
{
  if (peer == NULL)
    return;
  kill (peer->pid, SIGKILL);
  waitpid (peer->pid, NULL, 0);
  peer_free (peer);
}
