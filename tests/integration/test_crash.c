/* SPDX-License-Identifier: MIT */
/* test_crash.c: SIGKILL of a host in the middle of a burst of pipelined
 * writes. Every write whose reply reached the browser must be present
 * afterwards with its exact value, and no write may be half there. */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <signal.h>
#include <string.h>

/* Each set writes three keys, so a torn transaction would show. */
#define KEYS_PER_SET 3

typedef struct {
  NmtHost *host;
  int      round;
  int      sent;  /* requests handed to the pipe, the last burst included */
} Writer;

/* A value that differs for every write and every key, and is long enough
 * that a batch takes a while to commit. */
static char *
value_json (int round, int i, int k)
{
  g_autofree char *fill = g_strnfill (200 + (gsize) (i % 50), (char) ('a' + (i + k) % 26));
  return g_strdup_printf ("{\"round\":%d,\"write\":%d,\"key\":%d,\"text\":\"%s\\u00e9\"}", round, i, k, fill);
}

static char *
set_request (int round, int i)
{
  GString *json = g_string_new (NULL);
  int k;

  g_string_append_printf (json, "{\"id\":%d,\"op\":\"set\",\"items\":{", i);
  for (k = 0; k < KEYS_PER_SET; k++)
    {
      g_autofree char *value = value_json (round, i, k);
      g_string_append_printf (json, "%s\"r%d/w%05d/%d\":%s", k ? "," : "", round, i, k, value);
    }
  g_string_append (json, "}}");
  return g_string_free (json, FALSE);
}

/* Writes requests in bursts of several frames per write, as a busy
 * extension would, until the pipe breaks: so the kill always lands in the
 * middle of the stream. */
static gpointer
write_requests (gpointer data)
{
  Writer *w = data;
  gboolean ok = TRUE;

  while (ok)
    {
      g_autoptr(GByteArray) burst = g_byte_array_new ();
      int end = w->sent + 25;

      for (; w->sent < end; w->sent++)
        {
          g_autofree char *json = set_request (w->round, w->sent);
          nmt_frame_append_str (burst, json);
        }
      ok = nmt_host_send_raw (w->host, burst->data, burst->len);
    }
  return NULL;
}

/* One round: stream sets, SIGKILL the host after kill_after replies, keep
 * every reply that had already been written, then check the store from a
 * new host. */
static void
kill_round (const char *home, int round, int kill_after)
{
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) again = NULL;
  Writer w = { host, round, 0 };
  GThread *thread;
  g_autofree char *prefix_request = NULL;
  cJSON *reply, *items;
  int acked = 0, i, k, present = 0;

  nmt_host_call_ok (host, "{\"op\":\"hello\"}");
  thread = g_thread_new ("writer", write_requests, &w);
  while ((reply = nmt_host_recv (host)) != NULL)
    {
      /* A reply is an acknowledgement only once it has fully arrived. */
      nmt_assert_ok (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, acked);
      cJSON_Delete (reply);
      if (++acked == kill_after)
        nmt_host_signal (host, SIGKILL);
    }
  assert_int_equal (nmt_host_wait (host), 128 + SIGKILL);
  g_thread_join (thread);
  assert_true (acked >= kill_after);
  assert_true (acked < w.sent);

  again = nmt_host_start (home, NMT_ORIGIN);
  prefix_request = g_strdup_printf ("{\"op\":\"get\",\"prefix\":\"r%d/\"}", round);
  reply = nmt_host_call (again, prefix_request);
  assert_non_null (reply);
  nmt_assert_ok (reply);
  items = nmt_member (reply, "items");
  for (i = 0; i < w.sent; i++)
    {
      int found = 0;
      for (k = 0; k < KEYS_PER_SET; k++)
        {
          g_autofree char *key = g_strdup_printf ("r%d/w%05d/%d", round, i, k);
          g_autofree char *value = value_json (round, i, k);
          cJSON *item = cJSON_GetObjectItemCaseSensitive (items, key);

          if (item == NULL)
            continue;
          found++;
          nmt_assert_json (item, value);
        }
      if (i < acked && found != KEYS_PER_SET)
        fail_msg ("round %d: write %d was acknowledged but %d of its %d keys are stored",
                  round, i, found, KEYS_PER_SET);
      if (found != 0 && found != KEYS_PER_SET)
        fail_msg ("round %d: write %d is torn: %d of its %d keys are stored", round, i, found, KEYS_PER_SET);
      present += found / KEYS_PER_SET;
    }
  print_message ("round %d: killed after %d replies; %d of %d sent writes stored\n", round, acked, present, w.sent);
  /* Nothing but these writes. */
  assert_int_equal (cJSON_GetArraySize (items), present * KEYS_PER_SET);
  cJSON_Delete (reply);
  nmt_host_close_input (again);
  assert_int_equal (nmt_host_wait (again), 0);
}

static void
test_sigkill_mid_burst (void **state)
{
  g_autofree char *home = nmt_make_home ();

  /* Several rounds on one store, killed at different points; each round
   * also starts on a store whose last host was killed. */
  kill_round (home, 0, 1);
  kill_round (home, 1, 700);
  kill_round (home, 2, 2500);
  kill_round (home, 3, 1234);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sigkill_mid_burst),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
