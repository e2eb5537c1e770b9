/* SPDX-License-Identifier: MIT */
/* bench-restore.c: W4, restoring a session of many torrents.
 *
 * Today's engine reads the index, then for each torrent its state, its
 * .torrent file and its info dictionary, each an awaited get: three round
 * trips per torrent. The session op sessionRestore returns all of it in
 * one reply. W4a stores index and states only, W4b adds .torrent files
 * averaging 40 KB. The restore is measured only when the host knows the
 * op; the per-key figures are measured either way. W4b also times
 * sessionSummary, what a status page's torrent list asks for: each
 * torrent's name, size and progress, read from its .torrent and state. */
#include "bench-work.h"

#include <math.h>
#include <string.h>

#define MB (1000.0 * 1000.0)

/* A session of torrents: W4a's are magnet torrents whose metadata has not
 * arrived (index and states only), W4b's are file torrents with a .torrent
 * whose info dictionary hashes to the torrent's infohash and states whose
 * bitfield fits its piece count, so that a validating restore finds
 * nothing wrong with them. */
typedef struct {
  BenchData *data;
  gsize      state_bytes;
  gboolean   with_files;
  GPtrArray *hashes;  /* char*: each torrent's infohash */
  GArray    *seeds;   /* guint32: each .torrent file's seed */
  GArray    *sizes;   /* gsize: each .torrent file's size */
  GArray    *pieces;  /* guint: each torrent's piece count */
  char      *index;
} Session;

static Session *
session_new (const BenchConfig *config, gboolean with_files, guint32 seed)
{
  Session *s = g_new0 (Session, 1);
  guint t;

  s->data = bench_data_new (seed);
  s->state_bytes = config->state_bytes;
  s->with_files = with_files;
  s->hashes = g_ptr_array_new_with_free_func (g_free);
  s->seeds = g_array_new (FALSE, FALSE, sizeof (guint32));
  s->sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  s->pieces = g_array_new (FALSE, FALSE, sizeof (guint));
  for (t = 0; t < config->torrents; t++)
    {
      /* Sizes spread evenly over half to one and a half times the average. */
      gsize size = config->torrentfile_avg / 2
                   + (gsize) g_rand_int_range (s->data->rand, 0, (gint32) config->torrentfile_avg + 1);
      guint32 file_seed = seed * 100003u + t;
      char *hash = NULL;
      guint pieces = 0;

      if (with_files)
        g_free (bench_data_torrentfile (file_seed, size, &hash, &pieces));
      else
        hash = bench_data_info_hash (s->data, t);
      g_ptr_array_add (s->hashes, hash);
      g_array_append_val (s->seeds, file_seed);
      g_array_append_val (s->sizes, size);
      g_array_append_val (s->pieces, pieces);
    }
  s->index = bench_data_index_json (s->hashes, !with_files);
  return s;
}

static void
session_free (Session *s)
{
  bench_data_free (s->data);
  g_ptr_array_unref (s->hashes);
  g_array_unref (s->seeds);
  g_array_unref (s->sizes);
  g_array_unref (s->pieces);
  g_free (s->index);
  g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Session, session_free)

/* Item 0 is the index; then each torrent's state and, in W4b, its file. */
static char *
make_session_item (guint i, char **value, gpointer user_data)
{
  Session *s = user_data;
  guint per = s->with_files ? 2 : 1;
  guint t = (i - 1) / per;
  const char *hash;

  if (i == 0)
    {
      *value = g_strdup (s->index);
      return g_strdup ("session:torrents");
    }
  hash = s->hashes->pdata[t];
  if ((i - 1) % per == 0)
    {
      *value = s->with_files ? bench_data_state_for_pieces (s->data, g_array_index (s->pieces, guint, t))
                             : bench_data_state_json (s->data, s->state_bytes);
      return g_strdup_printf ("session:torrent:%s:state", hash);
    }
  {
    g_autofree char *same_hash = NULL;
    guint pieces;

    *value = bench_data_torrentfile (g_array_index (s->seeds, guint32, t), g_array_index (s->sizes, gsize, t),
                                     &same_hash, &pieces);
  }
  return g_strdup_printf ("session:torrent:%s:torrentfile", hash);
}

static GPtrArray *
per_key_requests (GPtrArray *hashes)
{
  static const char *const suffixes[] = { "state", "torrentfile", "infodict" };
  GPtrArray *requests = g_ptr_array_new_with_free_func (g_free);
  guint t, s, id = 0;

  g_ptr_array_add (requests, g_strdup ("{\"id\":0,\"op\":\"get\",\"keys\":\"session:torrents\"}"));
  for (t = 0; t < hashes->len; t++)
    for (s = 0; s < G_N_ELEMENTS (suffixes); s++)
      g_ptr_array_add (requests, g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"keys\":\"session:torrent:%s:%s\"}",
                                                  ++id, (const char *) hashes->pdata[t], suffixes[s]));
  return requests;
}

/* Counts the replies whose "items" hold something. */
static guint
count_found (GPtrArray *replies)
{
  guint i, found = 0;

  for (i = 0; i < replies->len; i++)
    {
      cJSON *reply = cJSON_Parse (replies->pdata[i]);
      const cJSON *items = cJSON_GetObjectItem (reply, "items");
      if (items != NULL && items->child != NULL)
        found++;
      cJSON_Delete (reply);
    }
  return found;
}

/* Asks the host whether it knows sessionRestore; *known is FALSE when it
 * answers E_UNKNOWN_OP. */
static gboolean
probe_restore (const BenchConfig *config, const char *home, gboolean *known, GError **error)
{
  BenchPeer *peer = bench_work_start (config, BENCH_HOST, home, error);
  cJSON *reply;
  const cJSON *code;

  if (peer == NULL)
    return FALSE;
  reply = bench_peer_call (peer, "{\"id\":0,\"op\":\"hello\"}", error);
  cJSON_Delete (reply);
  if (reply == NULL)
    return bench_peer_kill (peer), FALSE;
  reply = bench_peer_call (peer, "{\"id\":0,\"op\":\"sessionRestore\",\"prefix\":\"session:\"}", error);
  if (reply == NULL)
    return bench_peer_kill (peer), FALSE;
  code = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "error"), "code");
  *known = !(cJSON_IsString (code) && strcmp (code->valuestring, "E_UNKNOWN_OP") == 0);
  cJSON_Delete (reply);
  return bench_work_stop (peer, BENCH_HOST, NULL, error);
}

typedef struct {
  BenchPair per_key_ms;
  BenchPair restore_ms;
  gdouble   restore_bytes;  /* the restore reply's wire bytes */
  gdouble   per_key_bytes;
  gboolean  restored;
  BenchPair summary_ms;     /* W4b only: one sessionSummary */
} Restore;

/* Times one request that answers a whole session (op is sessionRestore or
 * sessionSummary), host against the echo peer sent a reply as long. An
 * untimed first pass checks that it answered every torrent without a
 * problem: a figure of a failed call would mean nothing. *bytes, unless
 * NULL, is the reply's length on the wire. */
static gboolean
measure_session_op (const BenchConfig *config, const char *home, const char *op, guint torrents, BenchRss *rss,
                    BenchPair *ms, gdouble *bytes, GError **error)
{
  g_autoptr(GPtrArray) one = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(BenchFrames) host = NULL, echo = NULL;
  BenchExchange x;
  cJSON *reply;
  const cJSON *problems;
  gboolean ok;
  int n;

  g_ptr_array_add (one, g_strdup_printf ("{\"id\":1,\"op\":\"%s\",\"prefix\":\"session:\"}", op));
  host = bench_work_host_frames (one);
  if (!bench_work_run (config, BENCH_HOST, home, host, 1, BENCH_KEEP_SIZES | BENCH_KEEP_REPLIES, &x, rss, error))
    return FALSE;
  reply = x.replies->len ? cJSON_Parse (x.replies->pdata[0]) : NULL;
  if (bytes != NULL)
    *bytes = (gdouble) x.bytes_in;
  echo = bench_work_echo_frames (one, x.reply_sizes);
  bench_exchange_clear (&x);
  problems = cJSON_GetObjectItem (reply, "problems");
  ok = cJSON_IsTrue (cJSON_GetObjectItem (reply, "ok"));
  n = cJSON_GetArraySize (cJSON_GetObjectItem (reply, "torrents"));
  if (!ok || cJSON_GetArraySize (problems) > 0 || (guint) n != torrents)
    {
      g_autofree char *first = problems && problems->child ? cJSON_PrintUnformatted (problems->child) : NULL;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "W4: %s answered ok:%s with %d of %u torrents and %d problems with the benchmark's data (first: %s)",
                   op, ok ? "true" : "false", n, torrents, cJSON_GetArraySize (problems), first ? first : "none");
      cJSON_Delete (reply);
      return FALSE;
    }
  cJSON_Delete (reply);
  if (!bench_work_alternate (config, home, host, NULL, echo, 1, FALSE, rss, ms, error))
    return FALSE;
  ms->host /= 1e3;
  ms->echo /= 1e3;
  return TRUE;
}

static gboolean
measure (const BenchConfig *config, const char *home, GPtrArray *hashes, guint expect_found, gboolean with_files,
         BenchRss *rss, Restore *out, GError **error)
{
  g_autoptr(GPtrArray) per_key = per_key_requests (hashes);
  g_autoptr(BenchFrames) per_key_host = bench_work_host_frames (per_key);
  g_autoptr(BenchFrames) per_key_echo = NULL;
  BenchExchange x;
  guint found;

  /* One untimed pass checks what comes back and learns the reply sizes
   * that the echo peer must match. */
  if (!bench_work_run (config, BENCH_HOST, home, per_key_host, 1, BENCH_KEEP_SIZES | BENCH_KEEP_REPLIES,
                       &x, rss, error))
    return FALSE;
  found = count_found (x.replies);
  out->per_key_bytes = (gdouble) x.bytes_in;
  per_key_echo = bench_work_echo_frames (per_key, x.reply_sizes);
  bench_exchange_clear (&x);
  if (found != expect_found)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "W4: %u of %u per-key gets found their item",
                   found, expect_found);
      return FALSE;
    }
  if (!bench_work_alternate (config, home, per_key_host, NULL, per_key_echo, 1, TRUE, rss, &out->per_key_ms, error))
    return FALSE;
  /* The rate is requests per second; the figure is the whole restore. */
  out->per_key_ms.host = per_key->len / out->per_key_ms.host * 1e3;
  out->per_key_ms.echo = per_key->len / out->per_key_ms.echo * 1e3;

  if (!probe_restore (config, home, &out->restored, error))
    return FALSE;
  if (!out->restored)
    return TRUE;
  if (!measure_session_op (config, home, "sessionRestore", hashes->len, rss, &out->restore_ms, &out->restore_bytes,
                           error))
    return FALSE;
  /* A summary of torrents without metadata has no name or size to show. */
  return !with_files
         || measure_session_op (config, home, "sessionSummary", hashes->len, rss, &out->summary_ms, NULL, error);
}

/* The pipe's bulk limit: the echo peer bouncing 1 MiB frames, in bytes
 * per second of what comes back. */
static gboolean
bulk_limit (const BenchConfig *config, gdouble *bytes_per_s, GError **error)
{
  g_autoptr(GPtrArray) frames_json = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr(GArray) rates = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(BenchFrames) frames = NULL;
  gsize size = 4 + 1024 * 1024;
  guint i, r;

  for (i = 0; i < config->bulk_frames; i++)
    {
      g_ptr_array_add (frames_json, g_strdup_printf ("{\"id\":%u,\"op\":\"bulk\"}", i));
      g_array_append_val (sizes, size);
    }
  frames = bench_work_echo_frames (frames_json, sizes);
  for (r = 0; r < config->rounds; r++)
    {
      BenchExchange x;
      gdouble rate;

      if (!bench_work_run (config, BENCH_ECHO, NULL, frames, 8, BENCH_KEEP_NOTHING, &x, NULL, error))
        return FALSE;
      rate = (gdouble) x.bytes_in / x.seconds;
      g_array_append_val (rates, rate);
      bench_exchange_clear (&x);
    }
  *bytes_per_s = bench_median (rates);
  return TRUE;
}

gboolean
bench_work_restore (const BenchConfig *config, BenchReport *report, GError **error)
{
  g_autofree char *home_a = bench_work_new_home (config, "w4a");
  g_autofree char *home_b = bench_work_new_home (config, "w4b");
  g_autoptr(Session) a = session_new (config, FALSE, 41);
  g_autoptr(Session) b = session_new (config, TRUE, 42);
  BenchRss rss_a = { 0 }, rss_b = { 0 };
  Restore ra = { 0 }, rb = { 0 };
  gdouble bulk;
  BenchRow *row;

  if (!bench_work_populate (config, home_a, 1 + config->torrents, make_session_item, a, error)
      || !bench_work_populate (config, home_b, 1 + 2 * config->torrents, make_session_item, b, error))
    return FALSE;
  if (!measure (config, home_a, a->hashes, 1 + config->torrents, FALSE, &rss_a, &ra, error)
      || !measure (config, home_b, b->hashes, 1 + 2 * config->torrents, TRUE, &rss_b, &rb, error)
      || !bulk_limit (config, &bulk, error))
    return FALSE;

  row = bench_report_add (report, "W4a", "restore 1,000 torrents (index, states) by per-key gets, 3 per torrent",
                          "ms", ra.per_key_ms.host, ra.per_key_ms.echo, BENCH_LOWER_IS_BETTER);
  bench_row_set_label (row, "W4a per-key");
  if (ra.restored)
    {
      row = bench_report_add (report, "W4a", "restore 1,000 torrents (index, states) by one sessionRestore",
                              "ms", ra.restore_ms.host, ra.restore_ms.echo, BENCH_LOWER_IS_BETTER);
      bench_row_set_label (row, "W4a restore");
      bench_report_add (report, "W4a", "sessionRestore speed-up over per-key gets", "x",
                        ra.per_key_ms.host / ra.restore_ms.host, NAN, BENCH_HIGHER_IS_BETTER);
    }
  bench_work_rss_row (report, "W4a", &rss_a);

  row = bench_report_add (report, "W4b", "restore with 40 KB .torrent files by per-key gets, 3 per torrent",
                          "ms", rb.per_key_ms.host, rb.per_key_ms.echo, BENCH_LOWER_IS_BETTER);
  bench_row_set_label (row, "W4b per-key");
  bench_report_add (report, "W4b", "the same, reply bytes per second against the pipe's bulk limit (1 MiB echo frames)",
                    "MB/s", rb.per_key_bytes / (rb.per_key_ms.host / 1e3) / MB, bulk / MB, BENCH_HIGHER_IS_BETTER);
  if (rb.restored)
    {
      row = bench_report_add (report, "W4b", "restore with 40 KB .torrent files by one sessionRestore, "
                              "reply bytes per second against the pipe's bulk limit", "MB/s",
                              rb.restore_bytes / (rb.restore_ms.host / 1e3) / MB, bulk / MB, BENCH_HIGHER_IS_BETTER);
      bench_row_set_target (row, 0.8, BENCH_ON_ECHO);
      bench_row_set_label (row, "W4b restore");
      row = bench_report_add (report, "W4b",
                              "the torrent list: one sessionSummary of 1,000 torrents (name, size, progress)", "ms",
                              rb.summary_ms.host, rb.summary_ms.echo, BENCH_LOWER_IS_BETTER);
      bench_row_set_label (row, "W4b summary");
    }
  bench_work_rss_row (report, "W4b", &rss_b);

  if (!ra.restored)
    bench_report_skip (report, "W4a", "host has no sessionRestore");
  if (!rb.restored)
    bench_report_skip (report, "W4b", "host has no sessionRestore");
  return TRUE;
}
