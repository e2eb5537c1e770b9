/* SPDX-License-Identifier: MIT */
/* bench-crypt.c: W7, the cost of encryption. W1's sequential and W2's
 * pipelined set and W3's sequential get, each on a plaintext origin and on
 * an encrypted one (a key file beside the store, so no passphrase is
 * typed), measured in the same run; each W7 row gives the encrypted
 * figure, and its text the plaintext one and the ratio. Then the queries
 * that need names, which an encrypted origin keeps only inside its
 * records: a prefix get of one torrent's keys and a getKeys, on origins
 * holding 200 torrents with 100 KB .torrent files. */
#include "bench-work.h"

#include <string.h>

/* Encrypts home's origin with `nmstore encrypt --key-file`. */
static gboolean
encrypt_home (const BenchConfig *config, const char *home, GError **error)
{
  const char *argv[] = { config->nmstore, "encrypt", "--origin", BENCH_ORIGIN, "--key-file", NULL };
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "NMSTORE_HOME", home, TRUE);
  g_autofree char *err = NULL;
  gint status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "W7: nmstore encrypt failed: %s", err);
      return FALSE;
    }
  return TRUE;
}

static gboolean
store_value (const BenchConfig *config, const char *home, const char *set, GError **error)
{
  BenchPeer *peer = bench_work_start (config, BENCH_HOST, home, error);
  cJSON *reply;

  if (peer == NULL)
    return FALSE;
  reply = bench_peer_call (peer, set, error);
  if (reply == NULL || !cJSON_IsTrue (cJSON_GetObjectItem (reply, "ok")))
    {
      if (reply != NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "W7: the host refused to store the value");
      cJSON_Delete (reply);
      bench_peer_kill (peer);
      return FALSE;
    }
  cJSON_Delete (reply);
  return bench_work_stop (peer, BENCH_HOST, NULL, error);
}

static gboolean
measure (const BenchConfig *config, BenchReport *report, const char *const homes[2], GPtrArray *requests,
         guint window, gboolean rate, const char *what, GError **error)
{
  g_autoptr(BenchFrames) host = bench_work_host_frames (requests);
  g_autoptr(BenchFrames) echo = bench_work_echo_frames (requests, NULL);
  BenchPair plain, enc;
  BenchRss rss = { 0 };
  g_autofree char *figure = NULL;
  gdouble ratio;

  if (!bench_work_alternate (config, homes[0], host, NULL, echo, window, rate, &rss, &plain, error)
      || !bench_work_alternate (config, homes[1], host, NULL, echo, window, rate, &rss, &enc, error))
    return FALSE;
  /* As a cost: above 1 is slower than plaintext, for either unit. */
  ratio = rate ? plain.host / enc.host : enc.host / plain.host;
  figure = g_strdup_printf ("%s on an encrypted origin (plaintext %.1f %s; %.2fx its cost)", what, plain.host,
                            rate ? "msg/s" : "µs", ratio);
  bench_report_add (report, "W7", figure, rate ? "msg/s" : "µs", enc.host, enc.echo,
                    rate ? BENCH_HIGHER_IS_BETTER : BENCH_LOWER_IS_BETTER);
  return TRUE;
}

/* The names workload: torrent t has a state, a small stats record and
 * its .torrent file, 3 keys. */
#define NAMES_TORRENTS      200u
#define NAMES_TORRENTFILE   (100u * 1024u)
#define NAMES_REQUESTS      100u

typedef struct {
  BenchData *data;
  GPtrArray *hashes;
  gsize      state_bytes;
} Torrents;

static char *
torrent_item (guint i, char **value, gpointer user_data)
{
  Torrents *t = user_data;
  const char *hash = t->hashes->pdata[i / 3];
  g_autofree char *same_hash = NULL;
  guint pieces;

  switch (i % 3)
    {
    case 0:
      *value = bench_data_state_json (t->data, t->state_bytes);
      return g_strdup_printf ("session:torrent:%s:state", hash);
    case 1:
      *value = g_strdup ("{\"uploaded\":123456789,\"downloaded\":987654321,\"ratio\":0.125}");
      return g_strdup_printf ("session:torrent:%s:stats", hash);
    default:
      *value = bench_data_torrentfile (7000u + i / 3, NAMES_TORRENTFILE, &same_hash, &pieces);
      return g_strdup_printf ("session:torrent:%s:torrentfile", hash);
    }
}

/* Both origins hold the same torrents; then a prefix get of one
 * torrent's 3 keys (a random torrent each time) and a getKeys of all of
 * them, sequential, each host process serving the whole list. */
static gboolean
measure_names (const BenchConfig *config, BenchReport *report, const char *const homes[2], GError **error)
{
  g_autoptr(BenchData) data = bench_data_new (77);
  g_autoptr(GPtrArray) hashes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) prefix_gets = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) get_keys = g_ptr_array_new_with_free_func (g_free);
  guint n_torrents = MIN (NAMES_TORRENTS, config->torrents), n = MIN (NAMES_REQUESTS, config->seq_ops), i;
  Torrents t = { data, hashes, config->state_bytes };
  g_autofree char *prefix_what = NULL, *keys_what = NULL;

  for (i = 0; i < n_torrents; i++)
    g_ptr_array_add (hashes, bench_data_info_hash (data, i));
  if (!bench_work_populate (config, homes[0], 3 * n_torrents, torrent_item, &t, error)
      || !bench_work_populate (config, homes[1], 3 * n_torrents, torrent_item, &t, error))
    return FALSE;
  for (i = 0; i < n; i++)
    {
      const char *hash = hashes->pdata[g_rand_int_range (data->rand, 0, (gint32) n_torrents)];

      g_ptr_array_add (prefix_gets, g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"prefix\":\"session:torrent:%s:\"}",
                                                     i, hash));
      g_ptr_array_add (get_keys, g_strdup_printf ("{\"id\":%u,\"op\":\"getKeys\"}", i));
    }
  prefix_what = g_strdup_printf ("sequential prefix get of one torrent's 3 keys among %u torrents with %u KB "
                                 ".torrent files", n_torrents, NAMES_TORRENTFILE / 1024);
  keys_what = g_strdup_printf ("sequential getKeys of %u keys (%u torrents with %u KB .torrent files)",
                               3 * n_torrents, n_torrents, NAMES_TORRENTFILE / 1024);
  return measure (config, report, homes, prefix_gets, 1, FALSE, prefix_what, error)
         && measure (config, report, homes, get_keys, 1, FALSE, keys_what, error);
}

gboolean
bench_work_encrypted (const BenchConfig *config, BenchReport *report, GError **error)
{
  g_autoptr(BenchData) data = bench_data_new (7);
  g_autofree char *plain = bench_work_new_home (config, "w7-plain");
  g_autofree char *enc = bench_work_new_home (config, "w7-encrypted");
  const char *const homes[2] = { plain, enc };
  g_autoptr(GPtrArray) seq = bench_work_set_requests (data, config, config->seq_ops, 1, FALSE);
  g_autoptr(GPtrArray) piped = bench_work_set_requests (data, config, config->pipe_ops, 64, FALSE);
  g_autoptr(GPtrArray) gets = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *key = bench_work_state_key (0);
  g_autofree char *state = bench_data_state_json (data, config->state_bytes);
  g_autofree char *set = g_strdup_printf ("{\"id\":0,\"op\":\"set\",\"items\":{\"%s\":%s}}", key, state);
  guint i;

  if (!encrypt_home (config, enc, error))
    return FALSE;
  for (i = 0; i < config->seq_ops; i++)
    g_ptr_array_add (gets, g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"keys\":\"%s\"}", i, key));
  return measure (config, report, homes, seq, 1, FALSE, "sequential set of a 2.5 KB state", error)
         && measure (config, report, homes, piped, config->window, TRUE, "pipelined set of 2.5 KB states, 64 in flight",
                     error)
         && store_value (config, plain, set, error) && store_value (config, enc, set, error)
         && measure (config, report, homes, gets, 1, FALSE, "sequential get of a 2.5 KB value", error)
         && measure_names (config, report, homes, error);
}
