/* SPDX-License-Identifier: MIT */
/* bench-batch.c: W2b and W3b, the sets of W2 and the gets of W3 sent as
 * `batch` frames (docs/PROTOCOL.md), as the extension's client coalesces
 * requests made in one task.
 *
 * A batch frame holds config->batch_size requests (100 by default: the
 * client sends up to 1000, but a torrent client's bursts, a periodic save of
 * the states of its active torrents, are tens to a few hundred requests, and
 * 100 sets of a 2.5 KB state already make a 260 KB frame), and
 * config->batch_window frames are in flight (4: the peer always has the next
 * frame waiting while it answers one, as with W2's 64 requests, without the
 * whole run in the pipe at once). Each figure is in requests per second, so
 * that it reads against W2 and W3, and each peer's speed-up over its own
 * unbatched figure is reported too. The floor peer runs each batch in one
 * bare transaction; the echo peer sends each batch frame back (for gets,
 * padded to the size of the host's reply).
 *
 * In the timed rounds the driver sees only each batch's own "ok" (it reads
 * the head of a reply), so before them one batch frame goes to a fresh host
 * and a fresh floor peer and every entry of their replies is checked: ok,
 * and for gets the very value that was set. */
#include "bench-work.h"

#include <math.h>
#include <string.h>

/* The requests' JSON texts as batch frames: one group of one reply each. */
static GPtrArray *
batch_requests (const BenchConfig *config, GPtrArray *requests, GArray *counts)
{
  GPtrArray *batches = g_ptr_array_new_with_free_func (g_free);
  guint i = 0, b = 0;

  while (i < requests->len)
    {
      g_autoptr(GString) frame = g_string_new (NULL);
      guint n;

      g_string_printf (frame, "{\"id\":%u,\"op\":\"batch\",\"requests\":[", b++);
      for (n = 0; n < config->batch_size && i < requests->len; n++, i++)
        g_string_append_printf (frame, "%s%s", n ? "," : "", (const char *) requests->pdata[i]);
      g_string_append (frame, "]}");
      g_ptr_array_add (batches, g_string_free (g_steal_pointer (&frame), FALSE));
      g_array_append_val (counts, n);
    }
  return batches;
}

/* Sends one batch frame to a fresh peer of `side` and checks that the
 * batch and every entry in it answered ok, and, when value is not NULL,
 * that every entry returned key's value. *reply_bytes: the reply's length
 * on the pipe, in one frame. */
static gboolean
check_batch (const BenchConfig *config, BenchSide side, const char *home, const char *batch, guint n,
             const char *key, const char *value, gsize *reply_bytes, GError **error)
{
  const char *who = side == BENCH_HOST ? "the host" : "the floor peer";
  BenchPeer *peer = bench_work_start (config, side, home, error);
  cJSON *reply;
  const cJSON *replies, *entry;
  guint good = 0;

  if (peer == NULL)
    return FALSE;
  reply = bench_peer_call (peer, batch, error);
  if (!bench_work_stop (peer, side, NULL, error) || reply == NULL)
    return cJSON_Delete (reply), FALSE;
  replies = cJSON_GetObjectItem (reply, "replies");
  cJSON_ArrayForEach (entry, replies)
    {
      g_autofree char *printed = NULL;

      if (!cJSON_IsTrue (cJSON_GetObjectItem (entry, "ok")))
        break;
      if (value != NULL)
        {
          printed = cJSON_PrintUnformatted (cJSON_GetObjectItem (cJSON_GetObjectItem (entry, "items"), key));
          if (printed == NULL || strcmp (printed, value) != 0)
            break;
        }
      good++;
    }
  if (!cJSON_IsTrue (cJSON_GetObjectItem (reply, "ok")) || good != n || cJSON_GetArraySize (replies) != (int) n)
    {
      g_autofree char *text = cJSON_PrintUnformatted (reply);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s did not answer a batch of %u with %u ok replies%s; it said: %.300s", who, n, n,
                   value ? " holding the value set" : "", text);
      cJSON_Delete (reply);
      return FALSE;
    }
  if (reply_bytes != NULL)
    {
      g_autofree char *text = cJSON_PrintUnformatted (reply);
      *reply_bytes = 4 + strlen (text);
    }
  cJSON_Delete (reply);
  return TRUE;
}

/* Measures one batched workload and adds its rows. */
static gboolean
run_batched (const BenchConfig *config, BenchReport *report, const char *home, const char *workload,
             const char *what, GPtrArray *requests, const char *key, const char *value,
             const BenchPair *unbatched, GError **error)
{
  g_autoptr(GArray) counts = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GPtrArray) batches = batch_requests (config, requests, counts);
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr(BenchFrames) host = NULL, echo = NULL;
  g_autofree char *figure = NULL, *speedup = NULL;
  gdouble per_frame = (gdouble) requests->len / batches->len;
  gsize full = 0;
  BenchRss rss = { 0 };
  BenchPair p;
  BenchRow *row;
  guint i;

  if (!check_batch (config, BENCH_HOST, home, batches->pdata[0], g_array_index (counts, guint, 0), key, value,
                    &full, error)
      || !check_batch (config, BENCH_FLOOR, home, batches->pdata[0], g_array_index (counts, guint, 0), key,
                       value, NULL, error))
    return FALSE;
  /* The echo peer moves as many bytes as the host: a set batch comes back
   * as it was sent (as in W2), a get batch padded to the host's reply. */
  for (i = 0; value != NULL && i < batches->len; i++)
    {
      gsize size = full * g_array_index (counts, guint, i) / g_array_index (counts, guint, 0);
      g_array_append_val (sizes, size);
    }
  host = bench_work_host_frames (batches);
  echo = bench_work_echo_frames (batches, value != NULL ? sizes : NULL);
  if (!bench_work_alternate (config, home, host, host, echo, config->batch_window, TRUE, &rss, &p, error))
    return FALSE;

  figure = g_strdup_printf ("%s in batch frames of %u, %u frames in flight", what, config->batch_size,
                            config->batch_window);
  row = bench_report_add (report, workload, figure, "req/s", p.host * per_frame, p.echo * per_frame,
                          BENCH_HIGHER_IS_BETTER);
  bench_row_set_floor (row, p.floor * per_frame);
  bench_row_set_label (row, strcmp (workload, "W2b") == 0 ? "W2b set batch" : "W3b get batch");

  /* Each peer against its own unbatched figure: ÷ floor then says how much
   * of what batching gains the floor the host gains too. */
  speedup = g_strdup_printf ("speed-up of batching over %s, each peer over its own unbatched figure",
                             strcmp (workload, "W2b") == 0 ? "W2 (pipelined sets)" : "W3 (pipelined gets)");
  row = bench_report_add (report, workload, speedup, "x", p.host * per_frame / unbatched->host,
                          p.echo * per_frame / unbatched->echo, BENCH_HIGHER_IS_BETTER);
  bench_row_set_floor (row, p.floor * per_frame / unbatched->floor);
  return TRUE;
}

gboolean
bench_batch_sets (const BenchConfig *config, BenchReport *report, const char *home, BenchData *data,
                  const BenchPair *unbatched, GError **error)
{
  /* The 64 keys of W2, so that the two rates compare like with like. */
  g_autoptr(GPtrArray) requests = bench_work_set_requests (data, config, config->batch_ops, 64, FALSE);

  return run_batched (config, report, home, "W2b", "pipelined set of 2.5 KB states", requests, NULL, NULL,
                      unbatched, error);
}

gboolean
bench_batch_gets (const BenchConfig *config, BenchReport *report, const char *home, const char *key,
                  const char *value, const BenchPair *unbatched, GError **error)
{
  g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; i < config->batch_ops; i++)
    g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"keys\":\"%s\"}", i, key));
  return run_batched (config, report, home, "W3b", "pipelined get of a 2.5 KB value", requests, key, value,
                      unbatched, error);
}
