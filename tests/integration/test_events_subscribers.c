/* SPDX-License-Identifier: MIT */
/* test_events_subscribers.c: writers log changes only while some host
 * process has a subscriber, and no subscriber loses an event for it.
 * Real host processes over real pipes, the store file read directly:
 *
 * - subscribers that come and go during a burst of pipelined writes from
 *   another process each get, per subscription, a gapless run of writes
 *   in commit order: never a write whose reply the writer had before the
 *   subscribe was sent, always every write sent after its reply;
 * - the writer's own port, subscribing in the middle of its own pipelined
 *   stream, gets exactly the writes after its subscribe request;
 * - no log rows while nobody subscribes, from a host or the command line;
 *   unsubscribing and exiting remove the registration;
 * - a SIGKILLed subscriber's registration is removed by the next host that
 *   starts or subscribes, and a registration removed under a live
 *   subscriber becomes an overflow, not a silent loss. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define STORE_DIR "chromium-abcdefghijklmnopabcdefghijklmnop"

static gint64
query_int (const char *home, const char *sql)
{
  g_autofree char *path = g_build_filename (home, STORE_DIR, "store.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  gint64 value;

  assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);
  value = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  sqlite3_close (db);
  return value;
}

static void
exec_sql (const char *home, const char *sql)
{
  g_autofree char *path = g_build_filename (home, STORE_DIR, "store.db", NULL);
  sqlite3 *db = NULL;

  assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  assert_int_equal (sqlite3_exec (db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close (db);
}

/* Ends a host as a browser does, by closing its input. */
static void
stop_host (NmtHost *host)
{
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_host_free (host);
}

/* A request whose reply may come after events, which are skipped. */
static void
call_ok_skipping_events (NmtHost *host, const char *json)
{
  assert_true (nmt_host_send (host, json));
  for (;;)
    {
      cJSON *msg = nmt_host_recv (host);

      assert_non_null (msg);
      if (cJSON_GetObjectItemCaseSensitive (msg, "id") != NULL)
        {
          nmt_assert_ok (msg);
          cJSON_Delete (msg);
          return;
        }
      cJSON_Delete (msg);
    }
}

static gint64
rows (const char *home)
{
  return query_int (home, "SELECT count(*) FROM changes");
}

static gint64
subscribers (const char *home)
{
  return query_int (home, "SELECT count(*) FROM subscribers");
}

/* The "i" of a changed event's one key "k", or -1 for anything else. */
static int
event_index (const cJSON *msg)
{
  const cJSON *name = cJSON_GetObjectItemCaseSensitive (msg, "event");
  const cJSON *changes = cJSON_GetObjectItemCaseSensitive (msg, "changes");
  const cJSON *k = changes ? cJSON_GetObjectItemCaseSensitive (changes, "k") : NULL;
  const cJSON *v = k ? cJSON_GetObjectItemCaseSensitive (k, "newValue") : NULL;

  if (!cJSON_IsString (name) || strcmp (name->valuestring, "changed") != 0 || !cJSON_IsNumber (v)
      || cJSON_GetArraySize (changes) != 1)
    return -1;
  return v->valueint;
}

/* ---- subscribers coming and going during another process's burst ---- */

enum { BURST = 3000, SUBSCRIBERS = 3, MAX_EPOCHS = 4 };

typedef struct {
  gint64  sub_sent;   /* monotonic µs just before the subscribe was sent */
  gint64  sub_reply;  /* just after its reply was read */
  GArray *events;     /* int: the i of each event, in arrival order */
  gboolean ended;     /* by the end marker, not by an unsubscribe */
} Epoch;

typedef struct {
  NmtHost *host;
  int      index;
  int      n_epochs;
  Epoch    epochs[MAX_EPOCHS];
  char    *failure;
  GMutex  *lock;      /* with ready: counts subscribers in their last epoch */
  GCond   *cond;
  int     *ready;
} Sub;

/* Sends a request and reads until its reply, appending the events that
 * come before it to events. */
static gboolean
call_collecting (Sub *sub, const char *json, GArray *events)
{
  if (!nmt_host_send (sub->host, json))
    return FALSE;
  for (;;)
    {
      cJSON *msg = nmt_host_recv (sub->host);
      int i;

      if (msg == NULL)
        return FALSE;
      if (cJSON_GetObjectItemCaseSensitive (msg, "id") != NULL)
        {
          gboolean ok = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (msg, "ok"));
          cJSON_Delete (msg);
          return ok;
        }
      i = event_index (msg);
      cJSON_Delete (msg);
      if (i < 0 || events == NULL)
        {
          sub->failure = g_strdup_printf ("subscriber %d: an unexpected event before a reply", sub->index);
          return FALSE;
        }
      g_array_append_val (events, i);
    }
}

static Epoch *
begin_epoch (Sub *sub)
{
  Epoch *e = &sub->epochs[sub->n_epochs++];

  e->events = g_array_new (FALSE, FALSE, sizeof (int));
  e->sub_sent = g_get_monotonic_time ();
  if (!call_collecting (sub, "{\"id\":1,\"op\":\"subscribe\"}", NULL))
    return NULL;
  e->sub_reply = g_get_monotonic_time ();
  return e;
}

/* Reads events for about ms milliseconds. */
static gboolean
read_for (Sub *sub, Epoch *e, int ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < until)
    if (nmt_host_readable (sub->host, 5))
      {
        cJSON *msg = nmt_host_recv (sub->host);
        int i = msg ? event_index (msg) : -1;

        cJSON_Delete (msg);
        if (i < 0)
          return FALSE;
        g_array_append_val (e->events, i);
      }
  return TRUE;
}

/* Subscriber s waits s * 60 ms into the burst; subscriber 1 then leaves
 * and comes back twice. Each ends reading up to the end marker. */
static gpointer
run_subscriber (gpointer data)
{
  Sub *sub = data;
  Epoch *e;
  int round;

  g_usleep ((gulong) (sub->index * 60000));
  if ((e = begin_epoch (sub)) == NULL)
    goto broken;
  for (round = 0; sub->index == 1 && round < 2; round++)
    {
      if (!read_for (sub, e, 30) || !call_collecting (sub, "{\"id\":2,\"op\":\"unsubscribe\"}", e->events))
        goto broken;
      if ((e = begin_epoch (sub)) == NULL)
        goto broken;
    }
  g_mutex_lock (sub->lock);
  (*sub->ready)++;
  g_cond_signal (sub->cond);
  g_mutex_unlock (sub->lock);
  for (;;)
    {
      cJSON *msg;
      int i;

      if (!nmt_host_readable (sub->host, 20000))
        {
          sub->failure = g_strdup_printf ("subscriber %d: no end marker within 20 s", sub->index);
          return NULL;
        }
      msg = nmt_host_recv (sub->host);
      i = msg ? event_index (msg) : -1;
      cJSON_Delete (msg);
      if (i < 0)
        goto broken;
      g_array_append_val (e->events, i);
      if (i == BURST)
        {
          e->ended = TRUE;
          return NULL;
        }
    }
broken:
  if (sub->failure == NULL)
    sub->failure = g_strdup_printf ("subscriber %d: a failed request or an unexpected message", sub->index);
  g_mutex_lock (sub->lock);
  (*sub->ready)++;
  g_cond_signal (sub->cond);
  g_mutex_unlock (sub->lock);
  return NULL;
}

typedef struct {
  NmtHost *host;
  int      n;
  gint64  *reply_at;  /* per write: monotonic µs once its reply was read */
  char    *failure;
} Drain;

static gpointer
drain_replies (gpointer data)
{
  Drain *d = data;

  for (int i = 0; i < d->n && d->failure == NULL; i++)
    {
      cJSON *reply = nmt_host_recv (d->host);
      const cJSON *id = cJSON_GetObjectItemCaseSensitive (reply, "id");

      if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "ok")) || !cJSON_IsNumber (id)
          || id->valueint != i)
        d->failure = g_strdup_printf ("reply %d is not the ok reply to write %d", i, i);
      else
        d->reply_at[i] = g_get_monotonic_time ();
      cJSON_Delete (reply);
    }
  return NULL;
}

/* What a subscription is owed: every write committed after its
 * subscribe committed. From outside, that is bounded by what the test
 * saw: a write whose reply arrived before the subscribe was sent was
 * committed before it (not owed), and one sent after the subscribe's
 * reply arrived is committed after it (owed). Between the two the order
 * is the database's; either way the events must be a gapless run. */
static void
check_epoch (int s, int n, const Epoch *e, const gint64 *sent_at, const gint64 *reply_at)
{
  int first_owed = BURST, j;

  for (j = 0; j < BURST; j++)
    if (sent_at[j] > e->sub_reply)
      {
        first_owed = j;
        break;
      }
  printf ("# subscriber %d, subscription %d: %u events, from %d%s\n", s, n, e->events->len,
          e->events->len ? g_array_index (e->events, int, 0) : -1, e->ended ? " to the end" : "");
  if (e->ended)
    assert_true (e->events->len > 0);
  if (e->events->len == 0)
    return;
  {
    int first = g_array_index (e->events, int, 0);

    if (first < BURST && reply_at[first] != 0 && reply_at[first] < e->sub_sent)
      fail_msg ("subscriber %d got write %d, acknowledged before it subscribed", s, first);
    if (first > first_owed)
      fail_msg ("subscriber %d missed writes %d to %d, sent after its subscribe reply", s, first_owed, first - 1);
    for (j = 1; j < (int) e->events->len; j++)
      if (g_array_index (e->events, int, j) != first + j)
        fail_msg ("subscriber %d: event %d is write %d, expected %d (missing, doubled or out of order)", s, j,
                  g_array_index (e->events, int, j), first + j);
  }
  /* The last subscription must run up to the end marker without a gap:
   * everything after it was committed after it. */
  if (e->ended)
    assert_int_equal (g_array_index (e->events, int, e->events->len - 1), BURST);
}

static void
test_subscribers_come_and_go_during_a_burst (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);
  g_autofree gint64 *sent_at = g_new0 (gint64, BURST + 1);
  g_autofree gint64 *reply_at = g_new0 (gint64, BURST + 1);
  Sub subs[SUBSCRIBERS] = { 0 };
  GThread *threads[SUBSCRIBERS];
  GMutex lock;
  GCond cond;
  int ready = 0, s, i, n;
  Drain drain = { writer, BURST, reply_at, NULL };
  GThread *drain_thread;

  g_mutex_init (&lock);
  g_cond_init (&cond);
  for (s = 0; s < SUBSCRIBERS; s++)
    {
      subs[s] = (Sub) { .host = nmt_host_start (home, NMT_ORIGIN), .index = s, .lock = &lock, .cond = &cond,
                        .ready = &ready };
      /* Started and idle, so that its hello is not what is measured. */
      nmt_host_call_ok (subs[s].host, "{\"id\":0,\"op\":\"hello\"}");
    }
  drain_thread = g_thread_new ("drain", drain_replies, &drain);
  for (s = 0; s < SUBSCRIBERS; s++)
    threads[s] = g_thread_new ("subscriber", run_subscriber, &subs[s]);
  for (i = 0; i < BURST; i++)
    {
      g_autofree char *request = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k\":%d}}", i, i);

      sent_at[i] = g_get_monotonic_time ();
      assert_true (nmt_host_send (writer, request));
      /* Paced, so that the burst lasts long enough for subscribers to
       * come and go inside it, and still arrives in batches. */
      if (i % 8 == 7)
        g_usleep (500);
    }
  g_thread_join (drain_thread);
  if (drain.failure != NULL)
    fail_msg ("writer: %s", drain.failure);
  /* The end marker, once every subscriber is in its last subscription. */
  g_mutex_lock (&lock);
  while (ready < SUBSCRIBERS)
    g_cond_wait (&cond, &lock);
  g_mutex_unlock (&lock);
  nmt_host_call_ok (writer, "{\"id\":-1,\"op\":\"set\",\"items\":{\"k\":3000}}");

  for (s = 0; s < SUBSCRIBERS; s++)
    {
      g_thread_join (threads[s]);
      if (subs[s].failure != NULL)
        fail_msg ("%s", subs[s].failure);
      assert_int_equal (subs[s].n_epochs, s == 1 ? 3 : 1);
      for (n = 0; n < subs[s].n_epochs; n++)
        {
          check_epoch (s, n, &subs[s].epochs[n], sent_at, reply_at);
          g_array_unref (subs[s].epochs[n].events);
        }
      stop_host (subs[s].host);
    }
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
  /* Every subscriber exited: nobody is registered, and the log is empty. */
  assert_int_equal (subscribers (home), 0);
  assert_int_equal (rows (home), 0);
  nmt_remove_tree (home);
}

/* ---- the writer's own port ---- */

/* 400 writes, a subscribe, 400 writes, in one pipelined stream: the port
 * gets events for exactly the second 400, whether or not another
 * process's subscriber already had the first 400 logged. */
static void
own_port_subscribes_mid_stream (gboolean other_subscriber)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) other = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  int i, replies = 0, next_event = 400;

  if (other_subscriber)
    nmt_host_call_ok (other, "{\"id\":0,\"op\":\"subscribe\"}");
  for (i = 0; i < 800; i++)
    {
      g_autofree char *request = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k\":%d}}", i, i);

      if (i == 400)
        nmt_frame_append_str (stream, "{\"id\":\"sub\",\"op\":\"subscribe\"}");
      nmt_frame_append_str (stream, request);
    }
  assert_true (nmt_host_send_raw (writer, stream->data, stream->len));
  while (replies < 801 || next_event < 800)
    {
      cJSON *msg;

      assert_true (nmt_host_readable (writer, 10000));
      msg = nmt_host_recv (writer);
      assert_non_null (msg);
      if (cJSON_GetObjectItemCaseSensitive (msg, "id") != NULL)
        {
          nmt_assert_ok (msg);
          replies++;
        }
      else if (event_index (msg) != next_event)
        fail_msg ("event %d: expected write %d (events before the subscribe are not owed)", event_index (msg),
                  next_event);
      else
        next_event++;
      cJSON_Delete (msg);
    }
  assert_false (nmt_host_readable (writer, 200));
  assert_int_equal (subscribers (home), other_subscriber ? 2 : 1);
  nmt_remove_tree (home);
}

static void
test_own_port_subscribes_mid_stream (void **state)
{
  own_port_subscribes_mid_stream (FALSE);
}

static void
test_own_port_subscribes_mid_stream_with_another_subscriber (void **state)
{
  own_port_subscribes_mid_stream (TRUE);
}

/* ---- no rows while nobody listens ---- */

static void
test_no_rows_while_nobody_subscribes (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) a = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) b = nmt_host_start (home, NMT_ORIGIN);
  const char *cli[] = { "set", "--origin", NMT_ORIGIN, "from-cli", "1", NULL };
  const char *cli2[] = { "set", "--origin", NMT_ORIGIN, "from-cli", "2", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int i;

  for (i = 0; i < 50; i++)
    {
      g_autofree char *request = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k\":%d,\"j\":%d}}", i, i, i);
      nmt_host_call_ok (a, request);
    }
  nmt_host_call_ok (a, "{\"id\":1,\"op\":\"remove\",\"keys\":[\"j\"]}");
  nmt_host_call_ok (a, "{\"id\":2,\"op\":\"clear\",\"prefix\":\"k\"}");
  assert_int_equal (nmt_run_cli (home, cli, NULL, &out, &err), 0);
  assert_int_equal (rows (home), 0);
  assert_int_equal (subscribers (home), 0);

  /* With a subscriber in b, a's writes and the command line's are logged. */
  nmt_host_call_ok (b, "{\"id\":3,\"op\":\"subscribe\"}");
  assert_int_equal (subscribers (home), 1);
  nmt_host_call_ok (a, "{\"id\":4,\"op\":\"set\",\"items\":{\"k\":1}}");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_run_cli (home, cli2, NULL, &out, &err), 0);
  assert_int_equal (rows (home), 2);

  /* Unsubscribing removes the registration and the log nobody reads. */
  call_ok_skipping_events (b, "{\"id\":5,\"op\":\"unsubscribe\"}");
  assert_int_equal (subscribers (home), 0);
  assert_int_equal (rows (home), 0);
  nmt_host_call_ok (a, "{\"id\":6,\"op\":\"set\",\"items\":{\"k\":2}}");
  assert_int_equal (rows (home), 0);

  /* So does a host's normal exit. */
  nmt_host_call_ok (b, "{\"id\":7,\"op\":\"subscribe\"}");
  assert_int_equal (subscribers (home), 1);
  nmt_host_close_input (b);
  assert_int_equal (nmt_host_wait (b), 0);
  assert_int_equal (subscribers (home), 0);
  nmt_remove_tree (home);
}

/* ---- a SIGKILLed subscriber, and a registration removed by mistake ---- */

static void
test_killed_subscriber_is_cleaned_up (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) victim = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) late = NULL;

  /* The writer sweeps dead registrations when it opens the store, so it
   * must have started before the victim dies. */
  nmt_host_call_ok (writer, "{\"id\":0,\"op\":\"hello\"}");
  nmt_host_call_ok (victim, "{\"id\":0,\"op\":\"subscribe\"}");
  nmt_host_signal (victim, SIGKILL);
  assert_int_equal (nmt_host_wait (victim), 128 + SIGKILL);
  assert_int_equal (subscribers (home), 1);

  /* The stale row only makes writers log for nobody. */
  nmt_host_call_ok (writer, "{\"id\":1,\"op\":\"set\",\"items\":{\"k\":1}}");
  assert_int_equal (rows (home), 1);

  /* A host that starts removes it, and the log with it. */
  late = nmt_host_start (home, NMT_ORIGIN);
  nmt_host_call_ok (late, "{\"id\":2,\"op\":\"hello\"}");
  assert_int_equal (subscribers (home), 0);
  assert_int_equal (rows (home), 0);
  nmt_host_call_ok (writer, "{\"id\":3,\"op\":\"set\",\"items\":{\"k\":2}}");
  assert_int_equal (rows (home), 0);

  /* So does a host that subscribes. */
  g_clear_pointer (&victim, nmt_host_free);
  victim = nmt_host_start (home, NMT_ORIGIN);
  nmt_host_call_ok (victim, "{\"id\":4,\"op\":\"subscribe\"}");
  nmt_host_signal (victim, SIGKILL);
  assert_int_equal (nmt_host_wait (victim), 128 + SIGKILL);
  assert_int_equal (subscribers (home), 1);
  nmt_host_call_ok (writer, "{\"id\":5,\"op\":\"subscribe\"}");
  assert_int_equal (subscribers (home), 1);
  nmt_host_call_ok (writer, "{\"id\":6,\"op\":\"unsubscribe\"}");
  assert_int_equal (subscribers (home), 0);
  nmt_remove_tree (home);
}

static void
test_removed_registration_means_overflow (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) sub = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) writer = nmt_host_start (home, NMT_ORIGIN);
  cJSON *msg;

  nmt_host_call_ok (sub, "{\"id\":0,\"op\":\"subscribe\"}");
  /* As if another process had wrongly judged it dead. */
  exec_sql (home, "DELETE FROM subscribers");
  /* Logged or not depends on whether the subscriber has already woken
   * (its own subscribe rang the bell) and registered again; either way it
   * must hear exactly once that it may have missed something. */
  nmt_host_call_ok (writer, "{\"id\":1,\"op\":\"set\",\"items\":{\"k\":1}}");
  /* Its next wake-up (at the latest, the one after its next request)
   * finds out, and says so, once. */
  assert_true (nmt_host_send (sub, "{\"id\":2,\"op\":\"get\",\"keys\":[\"k\"]}"));
  {
    gboolean replied = FALSE, overflowed = FALSE, saw_one = FALSE, wrote = FALSE;
    int last = -1;

    /* The reply and exactly one overflow; write 1 only if the subscriber
     * had registered again before it (so after the overflow); then, once
     * the subscriber has surely registered again (it has replied and
     * overflowed), write 2 must arrive. Nothing else, nothing twice. */
    while (last != 2)
      {
        if (replied && overflowed && !wrote)
          {
            nmt_host_call_ok (writer, "{\"id\":3,\"op\":\"set\",\"items\":{\"k\":2}}");
            wrote = TRUE;
          }
        assert_true (nmt_host_readable (sub, 5000));
        msg = nmt_host_recv (sub);
        assert_non_null (msg);
        if (cJSON_GetObjectItemCaseSensitive (msg, "id") != NULL)
          {
            assert_false (replied);
            nmt_assert_ok (msg);
            replied = TRUE;
          }
        else if (!overflowed)
          {
            nmt_assert_json (msg, "{\"event\":\"overflow\"}");
            overflowed = TRUE;
          }
        else
          {
            last = event_index (msg);
            assert_true ((last == 2 && wrote) || (last == 1 && !saw_one));
            saw_one |= last == 1;
          }
        cJSON_Delete (msg);
      }
  }
  /* Registered again, once. */
  assert_int_equal (subscribers (home), 1);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_subscribers_come_and_go_during_a_burst),
    cmocka_unit_test (test_own_port_subscribes_mid_stream),
    cmocka_unit_test (test_own_port_subscribes_mid_stream_with_another_subscriber),
    cmocka_unit_test (test_no_rows_while_nobody_subscribes),
    cmocka_unit_test (test_killed_subscriber_is_cleaned_up),
    cmocka_unit_test (test_removed_registration_means_overflow),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
