/* SPDX-License-Identifier: MIT */
/* bench-scale.c: the workloads that depend on how much is stored: W5 (cold
 * start with many keys), W6 (set latency with few against many keys) and
 * the host's peak memory on a store of 10,000 keys. */
#include "bench-work.h"

#include <math.h>
#include <string.h>

static const char hello_json[] = "{\"id\":1,\"op\":\"hello\"}";

static gboolean
fill_states (const BenchConfig *config, const char *home, guint n, guint32 seed, GError **error)
{
  g_autoptr(BenchData) data = bench_data_new (seed);
  BenchStateMaker maker = { data, config->state_bytes };

  return bench_work_populate (config, home, n, bench_work_state_item, &maker, error);
}

/* Time from starting the process to reading its reply to hello, in ms. */
static gboolean
cold_start (const BenchConfig *config, BenchSide side, const char *home, const BenchFrames *frames,
            BenchRss *rss, gdouble *ms, GError **error)
{
  gdouble start = bench_now ();
  BenchPeer *peer = bench_work_start (config, side, home, error);
  BenchExchange x;

  if (peer == NULL)
    return FALSE;
  if (!bench_peer_exchange (peer, frames, 1, BENCH_KEEP_NOTHING, &x, error))
    {
      bench_exchange_clear (&x);
      bench_peer_kill (peer);
      return FALSE;
    }
  *ms = (bench_now () - start) * 1e3;
  if (x.failures > 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "hello failed");
  bench_exchange_clear (&x);
  if (error != NULL && *error != NULL)
    {
      bench_peer_kill (peer);
      return FALSE;
    }
  return bench_work_stop (peer, side, rss, error);
}

static gboolean
run_w5 (const BenchConfig *config, const char *home, BenchReport *report, GError **error)
{
  g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr(GArray) host_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) echo_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(BenchFrames) host_frames = NULL, echo_frames = NULL;
  BenchRss rss = { 0 };
  BenchExchange x;
  BenchRow *row;
  guint i;

  /* The echo peer answers with a frame as long as the host's hello reply. */
  g_ptr_array_add (requests, g_strdup (hello_json));
  host_frames = bench_work_host_frames (requests);
  if (!bench_work_run (config, BENCH_HOST, home, host_frames, 1, BENCH_KEEP_SIZES, &x, NULL, error))
    return FALSE;
  g_array_append_vals (sizes, x.reply_sizes->data, x.reply_sizes->len);
  bench_exchange_clear (&x);
  echo_frames = bench_work_echo_frames (requests, sizes);

  for (i = 0; i < config->starts; i++)
    {
      gdouble ms;

      if (!cold_start (config, BENCH_HOST, home, host_frames, &rss, &ms, error))
        return FALSE;
      g_array_append_val (host_ms, ms);
      if (!cold_start (config, BENCH_ECHO, NULL, echo_frames, &rss, &ms, error))
        return FALSE;
      g_array_append_val (echo_ms, ms);
    }
  row = bench_report_add (report, "W5", "cold start to the first hello reply, 10,000 keys stored, median",
                          "ms", bench_median (host_ms), bench_median (echo_ms), BENCH_LOWER_IS_BETTER);
  bench_row_set_target (row, 10.0, BENCH_ON_VALUE);
  bench_row_set_label (row, "W5 start");
  bench_work_rss_row (report, "W5", &rss);
  return TRUE;
}

/* The host on the 10,000-key store doing what a status page and an active
 * engine do: list every key, write states, read some back. */
static gboolean
run_rss (const BenchConfig *config, const char *home, BenchReport *report, GError **error)
{
  g_autoptr(BenchData) data = bench_data_new (55);
  g_autoptr(GPtrArray) requests = bench_work_set_requests (data, config, config->pipe_ops, config->start_keys, TRUE);
  g_autoptr(BenchFrames) host_frames = NULL, echo_frames = NULL;
  BenchRss rss = { 0 };
  BenchExchange x;
  BenchRow *row;
  guint i;

  g_ptr_array_insert (requests, 0, g_strdup ("{\"id\":\"k\",\"op\":\"getKeys\"}"));
  g_ptr_array_insert (requests, 0, g_strdup (hello_json));
  for (i = 0; i < 100; i++)
    {
      g_autofree char *key = bench_work_state_key ((guint) g_rand_int_range (data->rand, 0, (gint32) config->start_keys));
      g_ptr_array_add (requests, g_strdup_printf ("{\"id\":\"g%u\",\"op\":\"get\",\"keys\":\"%s\"}", i, key));
    }
  host_frames = bench_work_host_frames (requests);
  echo_frames = bench_work_echo_frames (requests, NULL);
  if (!bench_work_run (config, BENCH_HOST, home, host_frames, config->window, BENCH_KEEP_NOTHING, &x, &rss, error))
    return FALSE;
  i = x.failures;
  bench_exchange_clear (&x);
  if (i > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%u requests failed on the 10,000-key store", i);
      return FALSE;
    }
  if (!bench_work_run (config, BENCH_ECHO, NULL, echo_frames, config->window, BENCH_KEEP_NOTHING, &x, &rss, error))
    return FALSE;
  bench_exchange_clear (&x);
  row = bench_report_add (report, "RSS",
                          "peak RSS, 10,000 keys stored: hello, getKeys, pipelined sets, gets",
                          "MB", (gdouble) rss.host_kb / 1024.0, (gdouble) rss.echo_kb / 1024.0,
                          BENCH_LOWER_IS_BETTER);
  bench_row_set_target (row, 16.0, BENCH_ON_VALUE);
  return TRUE;
}

static gboolean
run_w6 (const BenchConfig *config, BenchReport *report, GError **error)
{
  g_autofree char *small = bench_work_new_home (config, "w6-small");
  g_autofree char *large = bench_work_new_home (config, "w6-large");
  g_autoptr(BenchData) data = bench_data_new (6);
  g_autoptr(GPtrArray) small_sets = NULL, large_sets = NULL;
  g_autoptr(BenchFrames) small_frames = NULL, large_frames = NULL, echo_frames = NULL;
  g_autoptr(GArray) small_us = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) large_us = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) echo_us = g_array_new (FALSE, FALSE, sizeof (gdouble));
  BenchRss rss = { 0 };
  gdouble s, l, e;
  guint r;
  BenchRow *row;

  if (!fill_states (config, small, config->small_keys, 61, error)
      || !fill_states (config, large, config->large_keys, 62, error))
    return FALSE;
  /* Overwrites of keys picked at random among those stored: a large store
   * is then touched all over, not only in pages that stay in cache. */
  small_sets = bench_work_set_requests (data, config, config->seq_ops, config->small_keys, TRUE);
  large_sets = bench_work_set_requests (data, config, config->seq_ops, config->large_keys, TRUE);
  small_frames = bench_work_host_frames (small_sets);
  large_frames = bench_work_host_frames (large_sets);
  echo_frames = bench_work_echo_frames (large_sets, NULL);

  for (r = 0; r < config->rounds; r++)
    {
      const BenchFrames *frames[] = { small_frames, large_frames, echo_frames };
      GArray *into[] = { small_us, large_us, echo_us };
      guint k;

      for (k = 0; k < 3; k++)
        {
          BenchExchange x;
          gdouble median;
          guint failures;

          if (!bench_work_run (config, k < 2 ? BENCH_HOST : BENCH_ECHO, k == 0 ? small : large, frames[k],
                               1, BENCH_KEEP_NOTHING, &x, &rss, error))
            return FALSE;
          median = bench_median (x.latency_us);
          failures = x.failures;
          bench_exchange_clear (&x);
          if (failures > 0)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "W6: %u sets failed", failures);
              return FALSE;
            }
          g_array_append_val (into[k], median);
        }
    }
  s = bench_median (small_us);
  l = bench_median (large_us);
  e = bench_median (echo_us);
  bench_report_add (report, "W6", "median set latency, 100 keys stored", "µs", s, e, BENCH_LOWER_IS_BETTER);
  row = bench_report_add (report, "W6", "median set latency, 100,000 keys stored", "µs", l, e, BENCH_LOWER_IS_BETTER);
  bench_row_set_label (row, "W6 set, 100k keys");
  row = bench_report_add (report, "W6", "set latency with 100,000 keys over that with 100 keys", "x",
                          l / s, NAN, BENCH_LOWER_IS_BETTER);
  bench_row_set_target (row, 1.5, BENCH_ON_VALUE);
  bench_work_rss_row (report, "W6", &rss);
  return TRUE;
}

gboolean
bench_work_scale (const BenchConfig *config, BenchReport *report, GError **error)
{
  g_autofree char *home = bench_work_new_home (config, "w5-10k");

  if (!fill_states (config, home, config->start_keys, 5, error))
    return FALSE;
  return run_w5 (config, home, report, error)
         && run_rss (config, home, report, error)
         && run_w6 (config, report, error);
}
