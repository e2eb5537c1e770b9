/* SPDX-License-Identifier: MIT */
/* bench-work.c: the workloads W1-W3, W5, W6 and the peak-RSS figure, and
 * the helpers that every workload shares. W4 is in bench-restore.c.
 *
 * Every figure is taken in rounds that alternate the host, the floor peer
 * (where it is measured) and the echo peer, each round in a fresh process,
 * and the reported figure is the median over rounds. A machine busy with other work then slows both sides
 * alike, and the ratio stays fair even when the absolute figures do not. */
#include "bench-work.h"

#include <math.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)
#define POPULATE_ITEMS_PER_SET 500u

BenchPeer *
bench_work_start (const BenchConfig *config, BenchSide side, const char *home, GError **error)
{
  const char *host_argv[] = { config->nmstore, "host", "--origin", BENCH_ORIGIN, NULL };
  const char *echo_argv[] = { config->echo, NULL };
  const char *floor_argv[] = { config->floor, NULL };
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  guint i;

  if (side == BENCH_FLOOR)
    return bench_peer_start (floor_argv, home, config->peer_cpu, error);
  if (side == BENCH_ECHO || config->wrapper == NULL)
    return bench_peer_start (side == BENCH_HOST ? host_argv : echo_argv, home, config->peer_cpu, error);
  for (i = 0; config->wrapper[i] != NULL; i++)
    g_ptr_array_add (argv, config->wrapper[i]);
  for (i = 0; i < G_N_ELEMENTS (host_argv); i++)
    g_ptr_array_add (argv, (gpointer) host_argv[i]);
  return bench_peer_start ((const char *const *) argv->pdata, home, config->peer_cpu, error);
}

gboolean
bench_work_stop (BenchPeer *peer, BenchSide side, BenchRss *rss, GError **error)
{
  BenchExit info = { 0 };

  if (!bench_peer_stop (peer, &info, error))
    return FALSE;
  if (rss != NULL && side != BENCH_FLOOR)
    {
      gint64 *max = side == BENCH_HOST ? &rss->host_kb : &rss->echo_kb;
      *max = MAX (*max, info.maxrss_kb);
    }
  return TRUE;
}

gboolean
bench_work_run (const BenchConfig *config, BenchSide side, const char *home,
                const BenchFrames *frames, guint window, BenchKeep keep,
                BenchExchange *x, BenchRss *rss, GError **error)
{
  BenchPeer *peer = bench_work_start (config, side, home, error);

  if (peer == NULL)
    return FALSE;
  if (!bench_peer_exchange (peer, frames, window, keep, x, error))
    {
      bench_peer_kill (peer);
      return FALSE;
    }
  return bench_work_stop (peer, side, rss, error);
}

BenchFrames *
bench_work_host_frames (GPtrArray *requests)
{
  BenchFrames *frames = bench_frames_new ();
  guint i;

  for (i = 0; i < requests->len; i++)
    {
      const char *json = requests->pdata[i];
      bench_frames_add (frames, json, strlen (json));
      bench_frames_end_group (frames, 1);
    }
  return frames;
}

BenchFrames *
bench_work_echo_frames (GPtrArray *requests, GArray *reply_sizes)
{
  const gsize max_body = 1024 * 1024;
  BenchFrames *frames = bench_frames_new ();
  guint i;

  for (i = 0; i < requests->len; i++)
    {
      const char *json = requests->pdata[i];
      gsize reply = reply_sizes ? g_array_index (reply_sizes, gsize, i) : 0;
      guint count = 0;

      if (reply <= max_body + 4)
        {
          g_autofree char *padded = bench_data_pad_request (json, reply > 4 ? reply - 4 : 0);
          bench_frames_add (frames, padded, strlen (padded));
          bench_frames_end_group (frames, 1);
          continue;
        }
      while (reply > 0)
        {
          gsize body = MIN (reply - MIN (reply, 4), max_body);
          g_autofree char *padded = bench_data_pad_request (json, body);
          bench_frames_add (frames, padded, strlen (padded));
          reply -= MIN (reply, body + 4);
          count++;
        }
      bench_frames_end_group (frames, count);
    }
  return frames;
}

char *
bench_work_new_home (const BenchConfig *config, const char *name)
{
  char *home = g_build_filename (config->scratch, name, NULL);

  g_mkdir_with_parents (home, 0700);
  return home;
}

char *
bench_work_state_key (guint i)
{
  g_autofree char *hash = bench_data_info_hash (NULL, i);
  return g_strdup_printf ("session:torrent:%s:state", hash);
}

gboolean
bench_work_populate (const BenchConfig *config, const char *home, guint n_items,
                     BenchItemFunc make_item, gpointer user_data, GError **error)
{
  BenchPeer *peer = bench_work_start (config, BENCH_HOST, home, error);
  guint next = 0, id = 0;

  if (peer == NULL)
    return FALSE;
  while (next < n_items)
    {
      g_autoptr(BenchFrames) frames = bench_frames_new ();
      BenchExchange x;
      guint r;

      /* A few large sets at a time keep the driver's memory modest. */
      for (r = 0; r < 8 && next < n_items; r++)
        {
          g_autoptr(GString) req = g_string_new (NULL);
          guint k;

          g_string_printf (req, "{\"id\":%u,\"op\":\"set\",\"items\":{", id++);
          for (k = 0; k < POPULATE_ITEMS_PER_SET && next < n_items; k++, next++)
            {
              g_autofree char *value = NULL;
              g_autofree char *key = make_item (next, &value, user_data);
              g_string_append_printf (req, "%s\"%s\":%s", k ? "," : "", key, value);
            }
          g_string_append (req, "}}");
          bench_frames_add (frames, req->str, req->len);
          bench_frames_end_group (frames, 1);
        }
      if (!bench_peer_exchange (peer, frames, 4, BENCH_KEEP_NOTHING, &x, error))
        {
          bench_exchange_clear (&x);
          bench_peer_kill (peer);
          return FALSE;
        }
      r = x.failures;
      bench_exchange_clear (&x);
      if (r > 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the host refused %u sets while filling %s", r, home);
          bench_peer_kill (peer);
          return FALSE;
        }
    }
  return bench_work_stop (peer, BENCH_HOST, NULL, error);
}

void
bench_work_rss_row (BenchReport *report, const char *workload, const BenchRss *rss)
{
  bench_report_add (report, workload, "peak RSS of the host process", "MB",
                    (gdouble) rss->host_kb / 1024.0,
                    rss->echo_kb > 0 ? (gdouble) rss->echo_kb / 1024.0 : NAN, BENCH_LOWER_IS_BETTER);
}

char *
bench_work_state_item (guint i, char **value, gpointer user_data)
{
  BenchStateMaker *maker = user_data;

  *value = bench_data_state_json (maker->data, maker->size);
  return bench_work_state_key (i);
}

/* Set requests for the states of torrents, key i % n_keys each (or a
 * random one of n_keys when random is set). */
GPtrArray *
bench_work_set_requests (BenchData *data, const BenchConfig *config, guint n, guint n_keys, gboolean random)
{
  GPtrArray *requests = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; i < n; i++)
    {
      guint k = random ? (guint) g_rand_int_range (data->rand, 0, (gint32) n_keys) : i % n_keys;
      g_autofree char *key = bench_work_state_key (k);
      g_autofree char *state = bench_data_state_json (data, config->state_bytes);
      g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"set\",\"items\":{\"%s\":%s}}", i, key, state));
    }
  return requests;
}

gboolean
bench_work_check_get (const BenchConfig *config, BenchSide side, const char *home, const char *set,
                      const char *get, const char *key, const char *value, cJSON **reply_out, GError **error)
{
  BenchPeer *peer = bench_work_start (config, side, home, error);
  const char *who = side == BENCH_HOST ? "the host" : "the floor peer";
  g_autofree char *printed = NULL;
  cJSON *reply;
  gboolean ok;

  if (peer == NULL)
    return FALSE;
  reply = bench_peer_call (peer, set, error);
  ok = reply != NULL && cJSON_IsTrue (cJSON_GetObjectItem (reply, "ok"));
  cJSON_Delete (reply);
  reply = ok ? bench_peer_call (peer, get, error) : NULL;
  if (!bench_work_stop (peer, side, NULL, error) || reply == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s refused to store %s; run it by hand to see why", who, key);
      else
        g_prefix_error (error, "%s: ", who);
      return cJSON_Delete (reply), FALSE;
    }
  printed = cJSON_PrintUnformatted (cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "items"), key));
  if (printed == NULL || strcmp (printed, value) != 0)
    {
      cJSON_Delete (reply);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s's get did not return the value that was set to %s", who, key);
      return FALSE;
    }
  if (reply_out != NULL)
    *reply_out = reply;
  else
    cJSON_Delete (reply);
  return TRUE;
}

/* Alternates host, floor and echo rounds over the same requests. A
 * round's figure is its median round trip, or its rate in messages per
 * second; the result is the median over rounds. */
gboolean
bench_work_alternate (const BenchConfig *config, const char *home, const BenchFrames *host_frames,
                      const BenchFrames *floor_frames, const BenchFrames *echo_frames,
                      guint window, gboolean rate, BenchRss *rss, BenchPair *out, GError **error)
{
  static const BenchSide order[] = { BENCH_HOST, BENCH_FLOOR, BENCH_ECHO };
  static const char *const names[] = { "the host", "the floor peer", "the echo peer" };
  const BenchFrames *frames_of[] = { host_frames, floor_frames, echo_frames };
  g_autoptr(GArray) host = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) floor = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) echo = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *figures_of[] = { host, floor, echo };
  guint r, side;

  for (r = 0; r < config->rounds; r++)
    for (side = 0; side < G_N_ELEMENTS (order); side++)
      {
        const BenchFrames *frames = frames_of[side];
        BenchExchange x;
        gdouble figure;

        if (frames == NULL)
          continue;
        if (!bench_work_run (config, order[side], home, frames, window, BENCH_KEEP_NOTHING, &x, rss, error))
          {
            g_prefix_error (error, "%s: ", names[side]);
            return FALSE;
          }
        if (x.failures > 0)
          {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "%s answered %u requests with \"ok\":false; run them by hand against it to see why",
                         names[side], x.failures);
            bench_exchange_clear (&x);
            return FALSE;
          }
        figure = rate ? bench_frames_n_groups (frames) / x.seconds : bench_median (x.latency_us);
        g_array_append_val (figures_of[side], figure);
        bench_exchange_clear (&x);
      }
  out->host = bench_median (host);
  out->floor = bench_median (floor);
  out->echo = bench_median (echo);
  return TRUE;
}

gboolean
bench_work_sets (const BenchConfig *config, BenchReport *report, GError **error)
{
  g_autoptr(BenchData) data = bench_data_new (1);
  g_autofree char *home = bench_work_new_home (config, "w1w2");
  g_autoptr(GPtrArray) seq = bench_work_set_requests (data, config, config->seq_ops, 1, FALSE);
  g_autoptr(GPtrArray) piped = bench_work_set_requests (data, config, config->pipe_ops, 64, FALSE);
  g_autoptr(BenchFrames) seq_host = bench_work_host_frames (seq);
  g_autoptr(BenchFrames) seq_echo = bench_work_echo_frames (seq, NULL);
  g_autoptr(BenchFrames) pipe_host = bench_work_host_frames (piped);
  g_autoptr(BenchFrames) pipe_echo = bench_work_echo_frames (piped, NULL);
  BenchRss rss1 = { 0 }, rss2 = { 0 };
  BenchPair p;
  BenchRow *row;

  /* The floor peer is sent the host's own frames, in the same rounds. */
  if (!bench_work_alternate (config, home, seq_host, seq_host, seq_echo, 1, FALSE, &rss1, &p, error))
    return FALSE;
  row = bench_report_add (report, "W1", "sequential set of a 2.5 KB state, median round trip", "µs",
                          p.host, p.echo, BENCH_LOWER_IS_BETTER);
  bench_row_set_floor (row, p.floor);
  bench_row_set_target (row, 1.25, BENCH_ON_FLOOR);
  bench_row_set_label (row, "W1 set");
  bench_work_rss_row (report, "W1", &rss1);

  if (!bench_work_alternate (config, home, pipe_host, pipe_host, pipe_echo, config->window, TRUE, &rss2, &p, error))
    return FALSE;
  row = bench_report_add (report, "W2", "pipelined set of 2.5 KB states, 64 in flight", "msg/s",
                          p.host, p.echo, BENCH_HIGHER_IS_BETTER);
  bench_row_set_floor (row, p.floor);
  bench_row_set_target (row, 0.8, BENCH_ON_FLOOR);
  bench_row_set_label (row, "W2 set x64");
  bench_work_rss_row (report, "W2", &rss2);
  return bench_batch_sets (config, report, home, data, &p, error);
}

gboolean
bench_work_gets (const BenchConfig *config, BenchReport *report, GError **error)
{
  g_autoptr(BenchData) data = bench_data_new (3);
  g_autofree char *home = bench_work_new_home (config, "w3");
  g_autofree char *key = bench_work_state_key (0);
  g_autofree char *state = bench_data_state_json (data, config->state_bytes);
  g_autofree char *set = g_strdup_printf ("{\"id\":0,\"op\":\"set\",\"items\":{\"%s\":%s}}", key, state);
  g_autoptr(GPtrArray) seq = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) piped = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr(BenchFrames) seq_host = NULL, seq_echo = NULL, pipe_host = NULL, pipe_echo = NULL;
  g_autofree char *get = g_strdup_printf ("{\"id\":0,\"op\":\"get\",\"keys\":\"%s\"}", key);
  g_autofree char *text = NULL;
  cJSON *reply;
  gsize reply_size;
  BenchRss rss = { 0 };
  BenchPair p;
  BenchRow *row;
  guint i;

  /* Store the value in the floor's database too, and check that both
   * return it exactly. */
  if (!bench_work_check_get (config, BENCH_FLOOR, home, set, get, key, state, NULL, error))
    return FALSE;
  if (!bench_work_check_get (config, BENCH_HOST, home, set, get, key, state, &reply, error))
    return FALSE;
  text = cJSON_PrintUnformatted (reply);
  /* The host's reply is compact JSON; its length is what the pipe carries. */
  reply_size = 4 + strlen (text);
  cJSON_Delete (reply);

  for (i = 0; i < MAX (config->seq_ops, config->pipe_ops); i++)
    {
      char *one = g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"keys\":\"%s\"}", i, key);
      if (i < config->seq_ops)
        g_ptr_array_add (seq, g_strdup (one));
      if (i < config->pipe_ops)
        g_ptr_array_add (piped, g_strdup (one));
      g_free (one);
      g_array_append_val (sizes, reply_size);
    }
  seq_host = bench_work_host_frames (seq);
  seq_echo = bench_work_echo_frames (seq, sizes);
  pipe_host = bench_work_host_frames (piped);
  pipe_echo = bench_work_echo_frames (piped, sizes);

  if (!bench_work_alternate (config, home, seq_host, seq_host, seq_echo, 1, FALSE, &rss, &p, error))
    return FALSE;
  row = bench_report_add (report, "W3", "sequential get of a 2.5 KB value, median round trip", "µs",
                          p.host, p.echo, BENCH_LOWER_IS_BETTER);
  bench_row_set_floor (row, p.floor);
  bench_row_set_target (row, 1.25, BENCH_ON_FLOOR);
  bench_row_set_label (row, "W3 get");
  if (!bench_work_alternate (config, home, pipe_host, pipe_host, pipe_echo, config->window, TRUE, &rss, &p, error))
    return FALSE;
  row = bench_report_add (report, "W3", "pipelined get of a 2.5 KB value, 64 in flight", "msg/s",
                          p.host, p.echo, BENCH_HIGHER_IS_BETTER);
  bench_row_set_floor (row, p.floor);
  bench_row_set_target (row, 0.8, BENCH_ON_FLOOR);
  bench_row_set_label (row, "W3 get x64");
  bench_work_rss_row (report, "W3", &rss);
  return bench_batch_gets (config, report, home, key, state, &p, error);
}
