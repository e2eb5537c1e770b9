/* SPDX-License-Identifier: MIT */
/* test_events_multi.c: change events between several real host processes
 * on one origin: order and completeness with 2 and 4 processes and under a
 * burst of 10,000 writes, a subscriber that stops reading, and the CPU an
 * idle subscriber uses. Latencies are printed, never asserted. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One thread per subscribed host reads its events: each carries
 * {"w":writer,"i":index,"t":monotonic µs when sent}. */
typedef struct {
  NmtHost *host;
  int      expected;   /* events to read */
  GArray  *latency_us; /* gint64 per event */
  GArray  *order;      /* gint: w * 1000000 + i, in arrival order */
  char    *failure;    /* NULL, or what went wrong */
} Reader;

static gpointer
read_events (gpointer data)
{
  Reader *r = data;
  int n;

  for (n = 0; n < r->expected && r->failure == NULL; n++)
    {
      cJSON *event;

      if (!nmt_host_readable (r->host, 10000))
        {
          r->failure = g_strdup_printf ("event %d of %d did not arrive within 10 s", n, r->expected);
          break;
        }
      event = nmt_host_recv (r->host);
      gint64 now = g_get_monotonic_time ();
      const cJSON *name = cJSON_GetObjectItemCaseSensitive (event, "event");
      const cJSON *changes = cJSON_GetObjectItemCaseSensitive (event, "changes");
      const cJSON *change = changes ? changes->child : NULL;
      const cJSON *v = change ? cJSON_GetObjectItemCaseSensitive (change, "newValue") : NULL;

      if (event == NULL || !cJSON_IsString (name) || strcmp (name->valuestring, "changed") != 0 || v == NULL)
        {
          char *text = event ? cJSON_PrintUnformatted (event) : NULL;
          r->failure = g_strdup_printf ("event %d: unexpected %s", n, text ? text : "end of output");
          free (text);
        }
      else
        {
          gint64 sent = (gint64) cJSON_GetObjectItem (v, "t")->valuedouble;
          gint key = cJSON_GetObjectItem (v, "w")->valueint * 1000000 + cJSON_GetObjectItem (v, "i")->valueint;
          gint64 latency = now - sent;

          g_array_append_val (r->latency_us, latency);
          g_array_append_val (r->order, key);
        }
      cJSON_Delete (event);
    }
  return NULL;
}

static Reader *
reader_start (NmtHost *host, int expected, GThread **thread)
{
  Reader *r = g_new0 (Reader, 1);

  r->host = host;
  r->expected = expected;
  r->latency_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  r->order = g_array_new (FALSE, FALSE, sizeof (gint));
  *thread = g_thread_new ("reader", read_events, r);
  return r;
}

static void
reader_free (Reader *r)
{
  g_array_unref (r->latency_us);
  g_array_unref (r->order);
  g_free (r->failure);
  g_free (r);
}

static int
cmp_gint64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static void
report_latency (const char *what, GArray *all)
{
  g_array_sort (all, cmp_gint64);
  printf ("# %s: %u events, latency median %.3f ms, p99 %.3f ms, max %.3f ms\n", what, all->len,
          g_array_index (all, gint64, all->len / 2) / 1000.0,
          g_array_index (all, gint64, all->len * 99 / 100) / 1000.0,
          g_array_index (all, gint64, all->len - 1) / 1000.0);
}

static char *
write_request (int id, int writer, int i)
{
  return g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"w%d\":{\"w\":%d,\"i\":%d,\"t\":%" G_GINT64_FORMAT "}}}",
                          id, writer, writer, i, g_get_monotonic_time ());
}

static void
call_ok (NmtHost *host, const char *json)
{
  cJSON *reply = nmt_host_call (host, json);

  nmt_assert_ok (reply);
  cJSON_Delete (reply);
}

/* Host 0 writes one value at a time; every other host must see every
 * write, in order. */
static void
run_processes (int n_hosts, int n_writes)
{
  g_autofree char *home = nmt_make_home ();
  NmtHost *hosts[8];
  Reader *readers[8];
  GThread *threads[8];
  g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *what = g_strdup_printf ("%d processes, 1 writer, %d sequential writes", n_hosts, n_writes);
  int h, i;

  for (h = 0; h < n_hosts; h++)
    {
      hosts[h] = nmt_host_start (home, NMT_ORIGIN);
      if (h > 0)
        call_ok (hosts[h], "{\"id\":0,\"op\":\"subscribe\"}");
    }
  for (h = 1; h < n_hosts; h++)
    readers[h] = reader_start (hosts[h], n_writes, &threads[h]);
  for (i = 0; i < n_writes; i++)
    {
      g_autofree char *request = write_request (i, 0, i);
      call_ok (hosts[0], request);
      g_usleep (1000); /* a steady stream, not a burst: that is the next test */
    }
  for (h = 1; h < n_hosts; h++)
    {
      g_thread_join (threads[h]);
      if (readers[h]->failure != NULL)
        fail_msg ("host %d: %s", h, readers[h]->failure);
      assert_int_equal (readers[h]->order->len, n_writes);
      for (i = 0; i < n_writes; i++)
        assert_int_equal (g_array_index (readers[h]->order, gint, i), i);
      g_array_append_vals (all, readers[h]->latency_us->data, readers[h]->latency_us->len);
      reader_free (readers[h]);
    }
  report_latency (what, all);
  for (h = 0; h < n_hosts; h++)
    nmt_host_free (hosts[h]);
  nmt_remove_tree (home);
}

static void
test_two_processes (void **state)
{
  run_processes (2, 300);
}

static void
test_four_processes (void **state)
{
  run_processes (4, 300);
}

/* Reads and checks n replies, so that a writer's pipe never fills. */
typedef struct {
  NmtHost *host;
  int      n;
  char    *failure;
} ReplyDrain;

static gpointer
drain_replies (gpointer data)
{
  ReplyDrain *d = data;

  for (int i = 0; i < d->n && d->failure == NULL; i++)
    {
      cJSON *reply = nmt_host_recv (d->host);
      if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "ok")))
        d->failure = g_strdup_printf ("reply %d is not ok", i);
      cJSON_Delete (reply);
    }
  return NULL;
}

/* Two writers pipeline 5,000 writes each, as fast as the pipes take them;
 * three subscribers must each see all 10,000, each writer's in its order,
 * and all three the very same commit order. */
static void
test_burst_of_10000 (void **state)
{
  enum { WRITERS = 2, SUBSCRIBERS = 3, PER_WRITER = 5000, TOTAL = WRITERS * PER_WRITER };
  g_autofree char *home = nmt_make_home ();
  NmtHost *writers[WRITERS], *subs[SUBSCRIBERS];
  ReplyDrain drains[WRITERS];
  GThread *drain_threads[WRITERS], *threads[SUBSCRIBERS];
  Reader *readers[SUBSCRIBERS];
  g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 start, elapsed;
  int w, s, i;

  for (s = 0; s < SUBSCRIBERS; s++)
    {
      subs[s] = nmt_host_start (home, NMT_ORIGIN);
      call_ok (subs[s], "{\"id\":0,\"op\":\"subscribe\"}");
      readers[s] = reader_start (subs[s], TOTAL, &threads[s]);
    }
  for (w = 0; w < WRITERS; w++)
    {
      writers[w] = nmt_host_start (home, NMT_ORIGIN);
      drains[w] = (ReplyDrain) { writers[w], PER_WRITER, NULL };
      drain_threads[w] = g_thread_new ("drain", drain_replies, &drains[w]);
    }
  start = g_get_monotonic_time ();
  for (i = 0; i < PER_WRITER; i++)
    for (w = 0; w < WRITERS; w++)
      {
        g_autofree char *request = write_request (i, w, i);
        assert_true (nmt_host_send (writers[w], request));
      }
  for (w = 0; w < WRITERS; w++)
    {
      g_thread_join (drain_threads[w]);
      if (drains[w].failure != NULL)
        fail_msg ("writer %d: %s", w, drains[w].failure);
    }
  elapsed = g_get_monotonic_time () - start;
  for (s = 0; s < SUBSCRIBERS; s++)
    {
      gint next[WRITERS] = { 0 };

      g_thread_join (threads[s]);
      if (readers[s]->failure != NULL)
        fail_msg ("subscriber %d: %s", s, readers[s]->failure);
      assert_int_equal (readers[s]->order->len, TOTAL);
      for (i = 0; i < TOTAL; i++)
        {
          gint key = g_array_index (readers[s]->order, gint, i);
          w = key / 1000000;
          assert_int_equal (key % 1000000, next[w]);
          next[w]++;
          if (s > 0)
            assert_int_equal (key, g_array_index (readers[0]->order, gint, i));
        }
      g_array_append_vals (all, readers[s]->latency_us->data, readers[s]->latency_us->len);
    }
  printf ("# burst: %d writes acknowledged in %.1f ms\n", TOTAL, elapsed / 1000.0);
  report_latency ("burst, send to event (includes queueing behind the burst)", all);
  for (s = 0; s < SUBSCRIBERS; s++)
    {
      reader_free (readers[s]);
      nmt_host_free (subs[s]);
    }
  for (w = 0; w < WRITERS; w++)
    nmt_host_free (writers[w]);
  nmt_remove_tree (home);
}

static long
rss_kib (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  const char *line;

  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  line = strstr (text, "VmRSS:");
  assert_non_null (line);
  return atol (line + strlen ("VmRSS:"));
}

/* A subscriber that stops reading holds up no writer; its memory stays
 * bounded; and when it reads again it is told it fell behind, then gets
 * the events after that. */
static void
test_slow_subscriber (void **state)
{
  enum { WRITES = 3000 };
  g_autofree char *home = nmt_make_home ();
  g_autofree char *conf = g_build_filename (home, "nmstore.conf", NULL);
  g_autoptr(NmtHost) slow = NULL;
  g_autoptr(NmtHost) writer = NULL;
  g_autoptr(GArray) write_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  int i, before_overflow = 0;
  long rss_before, rss_after;
  cJSON *msg;

  assert_true (g_file_set_contents (conf, "[events]\nkeep_changes = 200\n", -1, NULL));
  slow = nmt_host_start (home, NMT_ORIGIN);
  writer = nmt_host_start (home, NMT_ORIGIN);
  call_ok (slow, "{\"id\":0,\"op\":\"subscribe\"}");
  rss_before = rss_kib (nmt_host_pid (slow));

  /* Nobody reads `slow` while this runs: its pipe fills after a few
   * hundred events and it blocks on it. */
  for (i = 0; i < WRITES; i++)
    {
      g_autofree char *request = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k\":\"%0100d\"}}", i, i);
      gint64 t0 = g_get_monotonic_time (), dt;

      call_ok (writer, request);
      dt = g_get_monotonic_time () - t0;
      g_array_append_val (write_us, dt);
    }
  rss_after = rss_kib (nmt_host_pid (slow));
  report_latency ("writes while a subscriber does not read (write round trip)", write_us);
  printf ("# slow subscriber RSS: %ld KiB before, %ld KiB after %d unread events\n", rss_before, rss_after, WRITES);
  assert_true (rss_after - rss_before < 16 * 1024);

  for (;;)
    {
      const cJSON *name;

      if (!nmt_host_readable (slow, 5000))
        fail_msg ("no overflow after %d events of %d writes", before_overflow, WRITES);
      msg = nmt_host_recv (slow);
      assert_non_null (msg);
      name = cJSON_GetObjectItemCaseSensitive (msg, "event");
      assert_true (cJSON_IsString (name));
      if (strcmp (name->valuestring, "overflow") == 0)
        break;
      assert_string_equal (name->valuestring, "changed");
      before_overflow++;
      cJSON_Delete (msg);
    }
  nmt_assert_json (msg, "{\"event\":\"overflow\"}");
  cJSON_Delete (msg);
  printf ("# slow subscriber: %d events before its overflow, of %d writes\n", before_overflow, WRITES);
  assert_true (before_overflow < WRITES / 2);

  call_ok (writer, "{\"id\":-1,\"op\":\"set\",\"items\":{\"after\":true}}");
  /* The host may see that it fell behind while the writes are still
   * coming (under load it did): the writes after that point are then
   * events after the overflow, and must come in order, every one, up to
   * the last, before "after". */
  for (int last = -1;;)
    {
      const cJSON *k;

      assert_true (nmt_host_readable (slow, 5000));
      msg = nmt_host_recv (slow);
      k = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (msg, "changes"), "k"), "newValue");
      if (k == NULL)
        {
          assert_true (last == -1 || last == WRITES - 1);
          nmt_assert_json (msg, "{\"event\":\"changed\",\"area\":\"local\",\"changes\":{\"after\":{\"newValue\":true}}}");
          cJSON_Delete (msg);
          break;
        }
      assert_true (cJSON_IsString (k));
      if (last != -1)
        assert_int_equal (atoi (k->valuestring), last + 1);
      last = atoi (k->valuestring);
      cJSON_Delete (msg);
    }
  nmt_remove_tree (home);
}

static double
cpu_seconds (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after_name;

  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  /* The command name may hold spaces; the fields after it do not. */
  after_name = strrchr (text, ')');
  assert_non_null (after_name);
  fields = g_strsplit (after_name + 2, " ", 0);
  /* utime and stime are fields 14 and 15 of stat, 12 and 13 here. */
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) / sysconf (_SC_CLK_TCK);
}

/* A subscribed host with nothing to do sleeps: no polling. */
static void
test_idle_subscriber_cpu (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);
  double before, used;
  cJSON *event;

  call_ok (host, "{\"id\":0,\"op\":\"subscribe\"}");
  before = cpu_seconds (nmt_host_pid (host));
  g_usleep (10 * G_USEC_PER_SEC);
  used = cpu_seconds (nmt_host_pid (host)) - before;
  printf ("# idle subscriber: %.3f s of CPU over 10 s (%.2f%% of one core)\n", used, used * 10);
  assert_true (used < 0.2); /* 2% of one core: a resource bound, not a timing */

  /* ... and it was really listening all along. */
  call_ok (writer, "{\"id\":1,\"op\":\"set\",\"items\":{\"wake\":1}}");
  assert_true (nmt_host_readable (host, 5000));
  event = nmt_host_recv (host);
  assert_string_equal (cJSON_GetObjectItem (event, "event")->valuestring, "changed");
  cJSON_Delete (event);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_two_processes),
    cmocka_unit_test (test_four_processes),
    cmocka_unit_test (test_burst_of_10000),
    cmocka_unit_test (test_slow_subscriber),
    cmocka_unit_test (test_idle_subscriber_cpu),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
