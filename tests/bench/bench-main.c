/* SPDX-License-Identifier: MIT */
/* bench-main.c: nmstore-bench, the host benchmark's command line.
 *
 *   nmstore-bench [--out DIR] [--quick] [--rounds N] [--only GROUP] [--wrapper CMD]
 *                 [--nmstore PATH] [--echo PATH] [--floor PATH] [--no-pin]
 *   nmstore-bench --validate DIR/results.json
 *
 * Runs every workload once, alternating the host, the floor peer (for the
 * sets and gets of W1-W3 and their batched W2b and W3b) and the echo peer, and
 * writes results.json, results.md and chart.dat into DIR. --quick uses
 * tiny counts: it proves the benchmark still runs, not how fast anything
 * is. */
#define _GNU_SOURCE /* sched_setaffinity */
#include "bench-work.h"

#include <glib/gstdio.h>
#include <sched.h>
#include <locale.h>
#include <string.h>
#include <sys/utsname.h>

static char *
read_load (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("unknown");
  fields = g_strsplit (g_strstrip (text), " ", 4);
  if (g_strv_length (fields) < 3)
    return g_strdup ("unknown");
  return g_strdup_printf ("%s %s %s", fields[0], fields[1], fields[2]);
}

static char *
cpu_model (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint i;

  if (!g_file_get_contents ("/proc/cpuinfo", &text, NULL, NULL))
    return g_strdup ("unknown");
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "model name"))
      {
        const char *colon = strchr (lines[i], ':');
        if (colon != NULL)
          return g_strstrip (g_strdup (colon + 1));
      }
  return g_strdup ("unknown");
}

static void
describe (BenchReport *report, const BenchConfig *config, int bench_cpu, gboolean quick)
{
  cJSON *c = report->conditions;
  cJSON *machine = cJSON_AddObjectToObject (c, "machine");
  cJSON *counts = cJSON_AddObjectToObject (c, "counts");
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format_iso8601 (now);
  g_autofree char *cpu = cpu_model ();
  g_autofree char *load = read_load ();
  struct utsname uts;

  cJSON_AddStringToObject (c, "date", date);
  cJSON_AddNumberToObject (machine, "nproc", g_get_num_processors ());
  cJSON_AddStringToObject (machine, "cpu", cpu);
  cJSON_AddStringToObject (machine, "kernel", uname (&uts) == 0 ? uts.release : "unknown");
  cJSON_AddStringToObject (c, "load_before", load);
  cJSON_AddBoolToObject (c, "quick", quick);
  if (config->peer_cpu >= 0)
    {
      cJSON *pinned = cJSON_AddObjectToObject (c, "pinned");

      cJSON_AddNumberToObject (pinned, "bench_cpu", bench_cpu);
      cJSON_AddNumberToObject (pinned, "peer_cpu", config->peer_cpu);
    }
  else
    cJSON_AddNullToObject (c, "pinned");
  cJSON_AddNumberToObject (counts, "rounds", config->rounds);
  cJSON_AddNumberToObject (counts, "sequential_requests_per_round", config->seq_ops);
  cJSON_AddNumberToObject (counts, "pipelined_requests_per_round", config->pipe_ops);
  cJSON_AddNumberToObject (counts, "in_flight", config->window);
  cJSON_AddNumberToObject (counts, "batched_requests_per_round", config->batch_ops);
  cJSON_AddNumberToObject (counts, "requests_per_batch", config->batch_size);
  cJSON_AddNumberToObject (counts, "batches_in_flight", config->batch_window);
  cJSON_AddNumberToObject (counts, "state_bytes", (double) config->state_bytes);
  cJSON_AddNumberToObject (counts, "torrents", config->torrents);
  cJSON_AddNumberToObject (counts, "torrentfile_average_bytes", (double) config->torrentfile_avg);
  cJSON_AddNumberToObject (counts, "cold_starts", config->starts);
  cJSON_AddNumberToObject (counts, "cold_start_keys", config->start_keys);
  cJSON_AddNumberToObject (counts, "scaling_keys_small", config->small_keys);
  cJSON_AddNumberToObject (counts, "scaling_keys_large", config->large_keys);
  cJSON_AddNumberToObject (counts, "bulk_frames_of_1MiB", config->bulk_frames);
  cJSON_AddStringToObject (c, "method",
                           "each figure is the median over rounds that alternate the host, the floor peer "
                           "(W1-W3b) and the echo peer, each round a fresh process; the floor peer is sent the "
                           "host's frames and commits each item with one prepared upsert into a WAL, "
                           "synchronous=NORMAL SQLite database shaped like the host's (a batch in one "
                           "transaction); the echo peer is sent the same requests, padded to the "
                           "size of the host's replies where those are larger");
}

/* With two CPUs or more, the benchmark runs on the first it may use and
 * every peer on the second, so that a round trip costs the same whichever
 * peer takes it. Left to the scheduler, a peer sometimes shares the
 * benchmark's CPU (a direct switch, about 10 µs quicker on this machine's
 * two) and sometimes not: one binary's sequential get measured 1.37x,
 * 1.59x and 2.07x its floor over three runs, 1.36x to 1.45x over four
 * pinned. Returns the benchmark's CPU, or -1 with peer_cpu -1. */
static int
pin (BenchConfig *config)
{
  cpu_set_t mine, one;
  int cpu, first = -1;

  config->peer_cpu = -1;
  if (sched_getaffinity (0, sizeof mine, &mine) != 0)
    return -1;
  for (cpu = 0; cpu < CPU_SETSIZE && config->peer_cpu < 0; cpu++)
    if (CPU_ISSET (cpu, &mine))
      {
        if (first < 0)
          first = cpu;
        else
          config->peer_cpu = cpu;
      }
  if (config->peer_cpu < 0)
    return -1;
  CPU_ZERO (&one);
  CPU_SET (first, &one);
  if (sched_setaffinity (0, sizeof one, &one) != 0)
    {
      config->peer_cpu = -1;
      return -1;
    }
  return first;
}

static gboolean
wanted (const BenchConfig *config, const char *group)
{
  return config->only == NULL || strcmp (config->only, group) == 0;
}

gboolean
bench_run_all (const BenchConfig *config, BenchReport *report, GError **error)
{
  if ((wanted (config, "sets") && !bench_work_sets (config, report, error))
      || (wanted (config, "gets") && !bench_work_gets (config, report, error))
      || (wanted (config, "restore") && !bench_work_restore (config, report, error))
      || (wanted (config, "scale") && !bench_work_scale (config, report, error))
      || (wanted (config, "encrypted") && !bench_work_encrypted (config, report, error)))
    return FALSE;
  if (!wanted (config, "encrypted"))
    bench_report_skip (report, "W7", "not asked for (--only)");
  return TRUE;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int argc, char **argv)
{
  g_autofree char *out = NULL, *nmstore = NULL, *echo = NULL, *floor = NULL, *validate = NULL, *wrapper = NULL;
  g_autofree char *only = NULL;
  gboolean quick = FALSE, keep = FALSE, no_pin = FALSE;
  gint rounds = 0;
  GOptionEntry entries[] = {
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Directory for the results (default: .)", "DIR" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "Tiny counts: checks that the benchmark runs", NULL },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Host/floor/echo rounds per figure", "N" },
    { "nmstore", 0, 0, G_OPTION_ARG_FILENAME, &nmstore, "The nmstore binary", "PATH" },
    { "echo", 0, 0, G_OPTION_ARG_FILENAME, &echo, "The echo peer binary", "PATH" },
    { "floor", 0, 0, G_OPTION_ARG_FILENAME, &floor, "The floor peer binary", "PATH" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only, "Run one group: sets (W1, W2, W2b), gets (W3, W3b), restore (W4), scale (W5, W6, RSS) or encrypted (W7)", "GROUP" },
    { "wrapper", 0, 0, G_OPTION_ARG_STRING, &wrapper, "Run each host under this command, e.g. \"valgrind --tool=callgrind\"", "CMD" },
    { "keep-scratch", 0, 0, G_OPTION_ARG_NONE, &keep, "Keep the stores the benchmark made", NULL },
    { "no-pin", 0, 0, G_OPTION_ARG_NONE, &no_pin, "Leave the benchmark and its peers where the scheduler puts them", NULL },
    { "validate", 0, 0, G_OPTION_ARG_FILENAME, &validate, "Only check that FILE is well-formed results", "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- the nmstore host benchmark");
  g_autoptr(GError) error = NULL;
  g_autoptr(BenchReport) report = NULL;
  BenchConfig config = {
    .rounds = 9, .seq_ops = 2000, .pipe_ops = 5000, .window = 64,
    .batch_ops = 2000, .batch_size = 100, .batch_window = 4,
    .torrents = 1000, .torrentfile_avg = 40 * 1024, .starts = 30, .start_keys = 10000,
    .small_keys = 100, .large_keys = 100000, .bulk_frames = 64, .state_bytes = 2560,
  };
  g_autofree char *load = NULL;
  int bench_cpu;
  gboolean ok;

  /* Only the character set: numbers in the results stay in C notation. */
  setlocale (LC_CTYPE, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("nmstore-bench: %s\n", error->message);
      return 2;
    }
  if (validate != NULL)
    {
      if (!bench_report_validate (validate, &error))
        {
          g_printerr ("nmstore-bench: %s\n", error->message);
          return 1;
        }
      g_print ("%s: well formed\n", validate);
      return 0;
    }
  if (quick)
    {
      config.rounds = 2, config.seq_ops = 20, config.pipe_ops = 200, config.torrents = 10;
      config.batch_ops = 200;
      config.starts = 2, config.start_keys = 200, config.small_keys = 10, config.large_keys = 600;
      config.bulk_frames = 4;
    }
  if (rounds > 0)
    config.rounds = (guint) rounds;
  config.only = only;
  if (wrapper != NULL && !g_shell_parse_argv (wrapper, NULL, &config.wrapper, &error))
    {
      g_printerr ("nmstore-bench: --wrapper: %s\n", error->message);
      return 2;
    }
  config.nmstore = g_strdup (nmstore ? nmstore : NMSTORE_BENCH_HOST_BIN);
  config.echo = g_strdup (echo ? echo : NMSTORE_BENCH_ECHO_BIN);
  config.floor = g_strdup (floor ? floor : NMSTORE_BENCH_FLOOR_BIN);
  config.scratch = g_dir_make_tmp ("nmstore-bench-XXXXXX", &error);
  if (config.scratch == NULL)
    {
      g_printerr ("nmstore-bench: %s\n", error->message);
      return 1;
    }

  bench_cpu = no_pin ? (config.peer_cpu = -1) : pin (&config);
  report = bench_report_new ();
  describe (report, &config, bench_cpu, quick);
  ok = bench_run_all (&config, report, &error);
  load = read_load ();
  cJSON_AddStringToObject (report->conditions, "load_after", load);
  if (ok)
    ok = bench_report_write (report, out ? out : ".", &error);
  if (!keep)
    remove_tree (config.scratch);
  else
    g_print ("stores kept in %s\n", config.scratch);
  g_free (config.nmstore);
  g_free (config.echo);
  g_free (config.floor);
  g_free (config.scratch);
  g_strfreev (config.wrapper);
  if (!ok)
    {
      g_printerr ("nmstore-bench: %s\n", error->message);
      return 1;
    }
  return 0;
}
