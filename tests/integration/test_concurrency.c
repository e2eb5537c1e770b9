/* SPDX-License-Identifier: MIT */
/* test_concurrency.c: several host processes on one origin at once, as
 * Chrome starts one per port. Pipelined bursts from each, on distinct and
 * shared keys: every acknowledged write is there afterwards, each process
 * sees the others' acknowledged writes, and nobody gets E_BUSY. */
#include "harness.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define ROUNDS 12
#define PER_BURST 150
#define SHARED_KEYS 20

static char *
own_value (char who, int round, int j)
{
  return g_strdup_printf ("{\"by\":\"%c\",\"round\":%d,\"j\":%d,\"pad\":\"%0*d\"}", who, round, j, 64 + j % 64, j);
}

static char *
shared_value (char who, int round)
{
  return g_strdup_printf ("{\"by\":\"%c\",\"round\":%d}", who, round);
}

/* One burst for who: multi-key sets of its own keys and a shared key, and
 * a get of the other process's keys from the previous round, which were
 * acknowledged before this burst was sent. */
static GByteArray *
make_burst (char who, char other, int round)
{
  GByteArray *burst = g_byte_array_new ();
  int j;

  for (j = 0; j < PER_BURST; j++)
    {
      g_autofree char *json = NULL;

      if (j % 10 == 9)
        json = g_strdup_printf ("{\"id\":%d,\"op\":\"get\",\"prefix\":\"%c/%02d/\"}", j, other, round - 1);
      else
        {
          g_autofree char *value = own_value (who, round, j);
          g_autofree char *shared = shared_value (who, round);
          json = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"%c/%02d/%03d\":%s,\"shared/%02d\":%s}}",
                                  j, who, round, j, value, (j - j / 10) % SHARED_KEYS, shared);
        }
      nmt_frame_append_str (burst, json);
    }
  return burst;
}

static void
read_burst (NmtHost *host, char other, int round)
{
  int j;

  for (j = 0; j < PER_BURST; j++)
    {
      cJSON *reply = nmt_host_recv (host);

      if (reply == NULL)
        fail_msg ("the host ended in round %d before reply %d", round, j);
      nmt_assert_ok (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, j);
      if (j % 10 == 9)
        {
          /* The other process's writes of the last round, all of them. */
          int expected = round == 0 ? 0 : PER_BURST - PER_BURST / 10;
          cJSON *items = nmt_member (reply, "items");
          assert_int_equal (cJSON_GetArraySize (items), expected);
        }
      cJSON_Delete (reply);
    }
}

static void
test_two_hosts_one_origin (void **state)
{
  g_autofree char *home = nmt_make_home ();
  /* Both start on a store that does not exist yet, so they also race to
   * create it. */
  g_autoptr(NmtHost) a = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) b = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) check = NULL;
  cJSON *reply, *items;
  int round, j;

  for (round = 0; round < ROUNDS; round++)
    {
      g_autoptr(GByteArray) burst_a = make_burst ('A', 'B', round);
      g_autoptr(GByteArray) burst_b = make_burst ('B', 'A', round);

      /* Both bursts are in flight before either reply is read. */
      assert_true (burst_a->len < 64 * 1024 && burst_b->len < 64 * 1024);
      assert_true (nmt_host_send_raw (a, burst_a->data, burst_a->len));
      assert_true (nmt_host_send_raw (b, burst_b->data, burst_b->len));
      read_burst (a, 'B', round);
      read_burst (b, 'A', round);
    }
  nmt_host_close_input (a);
  nmt_host_close_input (b);
  assert_int_equal (nmt_host_wait (a), 0);
  assert_int_equal (nmt_host_wait (b), 0);

  check = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (check, "{\"op\":\"get\"}");
  nmt_assert_ok (reply);
  items = nmt_member (reply, "items");
  for (round = 0; round < ROUNDS; round++)
    for (j = 0; j < PER_BURST; j++)
      {
        char who[] = { 'A', 'B' };
        if (j % 10 == 9)
          continue;
        for (gsize w = 0; w < G_N_ELEMENTS (who); w++)
          {
            g_autofree char *key = g_strdup_printf ("%c/%02d/%03d", who[w], round, j);
            g_autofree char *value = own_value (who[w], round, j);
            nmt_assert_json (nmt_member (items, key), value);
          }
      }
  /* A shared key holds the last round's value of one of the two. */
  for (j = 0; j < SHARED_KEYS; j++)
    {
      g_autofree char *key = g_strdup_printf ("shared/%02d", j);
      g_autofree char *by_a = shared_value ('A', ROUNDS - 1);
      g_autofree char *by_b = shared_value ('B', ROUNDS - 1);
      cJSON *item = nmt_member (items, key);
      cJSON *want_a = cJSON_Parse (by_a), *want_b = cJSON_Parse (by_b);

      assert_true (cJSON_Compare (item, want_a, TRUE) || cJSON_Compare (item, want_b, TRUE));
      cJSON_Delete (want_a);
      cJSON_Delete (want_b);
    }
  assert_int_equal (cJSON_GetArraySize (items), 2 * ROUNDS * (PER_BURST - PER_BURST / 10) + SHARED_KEYS);
  cJSON_Delete (reply);

  /* The byte count kept across processes matches the items. */
  reply = nmt_host_call (check, "{\"op\":\"getBytesInUse\"}");
  nmt_assert_ok (reply);
  {
    cJSON *all = nmt_host_call (check, "{\"op\":\"get\"}");
    cJSON *item;
    double sum = 0;

    cJSON_ArrayForEach (item, nmt_member (all, "items"))
      {
        char *text = cJSON_PrintUnformatted (item);
        sum += (double) (strlen (item->string) + strlen (text));
        cJSON_free (text);
      }
    assert_true (nmt_member (reply, "bytes")->valuedouble == sum);
    cJSON_Delete (all);
  }
  cJSON_Delete (reply);
  nmt_host_close_input (check);
  assert_int_equal (nmt_host_wait (check), 0);
  nmt_remove_tree (home);
}

/* Several hosts started at the same moment on a fresh origin, each
 * writing at once: creating the store is itself a race that must be
 * invisible. */
static void
test_simultaneous_start (void **state)
{
  const int attempts = 8, hosts = 4;
  int attempt, i;

  for (attempt = 0; attempt < attempts; attempt++)
    {
      g_autofree char *home = nmt_make_home ();
      NmtHost *h[4];

      for (i = 0; i < hosts; i++)
        h[i] = nmt_host_start (home, NMT_ORIGIN);
      for (i = 0; i < hosts; i++)
        {
          g_autofree char *json = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"h%d\":%d}}", i, i);
          assert_true (nmt_host_send (h[i], json));
        }
      for (i = 0; i < hosts; i++)
        {
          cJSON *reply = nmt_host_recv (h[i]);
          assert_non_null (reply);
          nmt_assert_ok (reply);
          cJSON_Delete (reply);
        }
      for (i = 0; i < hosts; i++)
        {
          cJSON *reply = nmt_host_call (h[i], "{\"op\":\"getKeys\"}");
          nmt_assert_ok (reply);
          nmt_assert_json (nmt_member (reply, "keys"), "[\"h0\",\"h1\",\"h2\",\"h3\"]");
          cJSON_Delete (reply);
          nmt_host_close_input (h[i]);
          assert_int_equal (nmt_host_wait (h[i]), 0);
          nmt_host_free (h[i]);
        }
      nmt_remove_tree (home);
    }
}

/* Another process holds the write lock on a store that is not yet WAL
 * (one that is being created) when a host opens it. SQLite does not run
 * the busy handler for the switch to WAL, so the host must wait by itself
 * rather than answer E_BUSY. */
static gpointer
release_lock_later (gpointer data)
{
  /* Long enough for the host to reach its store while the lock is held;
   * if it is slower, the test still passes, it just proves less. */
  g_usleep (150 * 1000);
  return GINT_TO_POINTER (sqlite3_exec (data, "COMMIT", NULL, NULL, NULL));
}

static void
test_open_while_creator_holds_lock (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *dir = g_build_filename (home, "chromium-abcdefghijklmnopabcdefghijklmnop", NULL);
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr(NmtHost) host = NULL;
  sqlite3 *db = NULL;
  GThread *thread;
  cJSON *reply;

  assert_int_equal (g_mkdir (dir, 0700), 0);
  assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
  /* The COMMIT needs the exclusive lock, and the host takes a shared one
   * each time it tries to switch the store to WAL: without a busy timeout
   * the COMMIT failed at once now and then, and the lock stayed held. */
  sqlite3_busy_timeout (db, 10000);
  assert_int_equal (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  host = nmt_host_start (home, NMT_ORIGIN);
  thread = g_thread_new ("release", release_lock_later, db);

  reply = nmt_host_call (host, "{\"op\":\"set\",\"items\":{\"a\":1}}");
  nmt_assert_ok (reply);
  cJSON_Delete (reply);
  assert_int_equal (GPOINTER_TO_INT (g_thread_join (thread)), SQLITE_OK);
  assert_int_equal (sqlite3_close (db), SQLITE_OK);
  reply = nmt_host_call (host, "{\"op\":\"get\"}");
  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "items"), "{\"a\":1}");
  cJSON_Delete (reply);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_two_hosts_one_origin),
    cmocka_unit_test (test_simultaneous_start),
    cmocka_unit_test (test_open_while_creator_holds_lock),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
