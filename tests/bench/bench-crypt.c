/* bench-crypt.c: W7, the cost of encryption. W1's sequential and W2's
 * pipelined set and W3's sequential get, each on a plaintext origin and on
 * an encrypted one (a key file beside the store, so no passphrase is
 * typed), measured in the same run; each W7 row gives the encrypted
 * figure, and its text the plaintext one and the ratio. */
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

  if (!bench_work_alternate (config, homes[0], host, echo, window, rate, &rss, &plain, error)
      || !bench_work_alternate (config, homes[1], host, echo, window, rate, &rss, &enc, error))
    return FALSE;
  /* As a cost: above 1 is slower than plaintext, for either unit. */
  ratio = rate ? plain.host / enc.host : enc.host / plain.host;
  figure = g_strdup_printf ("%s on an encrypted origin (plaintext %.1f %s; %.2fx its cost)", what, plain.host,
                            rate ? "msg/s" : "µs", ratio);
  bench_report_add (report, "W7", figure, rate ? "msg/s" : "µs", enc.host, enc.echo,
                    rate ? BENCH_HIGHER_IS_BETTER : BENCH_LOWER_IS_BETTER);
  return TRUE;
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
         && measure (config, report, homes, gets, 1, FALSE, "sequential get of a 2.5 KB value", error);
}
