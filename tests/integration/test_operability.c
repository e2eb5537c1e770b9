/* SPDX-License-Identifier: MIT */
/* test_operability.c: what a person or an extension needs to keep
 * working when things are busy or full (issue 14, defect 8): the
 * encryption commands while hosts keep writing, and deletes on a full
 * disk. */
#define _GNU_SOURCE
#include "harness.h"

#include "storecheck.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A host that keeps writing and reading until told to stop, as a busy
 * extension's ports do. */
typedef struct {
  char         *home;
  int           who;
  volatile gint stop;
  guint         n_ok;
} Writer;

static gpointer
keep_writing (gpointer data)
{
  Writer *w = data;
  g_autoptr(NmtHost) host = nmt_host_start (w->home, NMT_ORIGIN);
  guint i;

  for (i = 0; !g_atomic_int_get (&w->stop); i++)
    {
      g_autoptr(GByteArray) burst = g_byte_array_new ();
      guint j;

      for (j = 0; j < 16; j++)
        {
          g_autofree char *req = j % 4 == 3
            ? g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"prefix\":\"w%d/\"}", j, w->who)
            : g_strdup_printf ("{\"id\":%u,\"op\":\"set\",\"items\":{\"w%d/%u\":\"%u-%u\"}}", j, w->who,
                               (i * 16 + j) % 200, i, j);
          nmt_frame_append_str (burst, req);
        }
      if (!nmt_host_send_raw (host, burst->data, burst->len))
        break;
      for (j = 0; j < 16; j++)
        {
          cJSON *r = nmt_host_recv (host);
          if (r == NULL)
            break;
          if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (r, "ok")))
            g_atomic_int_inc ((gint *) &w->n_ok);
          cJSON_Delete (r);
        }
    }
  nmt_host_close_input (host);
  nmt_host_wait (host);
  return NULL;
}

static void
stop_writers (Writer *writers, GThread **threads, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    g_atomic_int_set (&writers[i].stop, 1);
  for (i = 0; i < n; i++)
    g_thread_join (threads[i]);
}

static int
run (const char *home, const char *const *args, char **out, char **err)
{
  return nmt_run_cli (home, args, NULL, out, err);
}

/* encrypt, rekey and decrypt while three hosts keep writing: each
 * conversion commits, and the command says so and exits 0, whether or
 * not the file could be rewritten at once (it used to exit 1 with
 * "another process kept reading it" although the data was converted). */
static void
test_convert_under_busy_writers (void **state)
{
  g_autofree char *home = nmt_make_home ();
  const char *encrypt[] = { "encrypt", "--origin", NMT_ORIGIN, "--key-file", NULL };
  const char *rekey[] = { "rekey", "--origin", NMT_ORIGIN, NULL };
  const char *decrypt[] = { "decrypt", "--origin", NMT_ORIGIN, NULL };
  const char *verify[] = { "verify", "--origin", NMT_ORIGIN, NULL };
  const char *const *steps[] = { encrypt, rekey, decrypt };
  const char *says[] = { "encrypted", "not encrypted" };
  Writer writers[3];
  GThread *threads[3];
  guint i;

  {
    g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
    nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"kept\":\"before\"}}");
    nmt_host_close_input (host);
    assert_int_equal (nmt_host_wait (host), 0);
  }
  for (i = 0; i < G_N_ELEMENTS (writers); i++)
    {
      writers[i] = (Writer) { .home = home, .who = (int) i };
      threads[i] = g_thread_new ("writer", keep_writing, &writers[i]);
    }
  /* Every writer is under way before the first conversion. */
  for (i = 0; i < G_N_ELEMENTS (writers); i++)
    while (g_atomic_int_get ((gint *) &writers[i].n_ok) < 100)
      g_usleep (1000);
  for (i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      int status = run (home, steps[i], &out, &err);

      if (status != 0)
        {
          /* The writers point into this frame: stop them before failing,
           * or the next test runs beside threads writing into freed stack. */
          stop_writers (writers, threads, G_N_ELEMENTS (writers));
          fail_msg ("%s under busy writers exited %d: %s%s", steps[i][0], status, out, err);
        }
      print_message ("%s: %s%s", steps[i][0], out, err);
      {
        g_autofree char *vout = NULL, *verr = NULL;
        assert_int_equal (run (home, verify, &vout, &verr), 0);
        assert_non_null (strstr (vout, says[i == 2]));
      }
    }
  stop_writers (writers, threads, G_N_ELEMENTS (writers));
  for (i = 0; i < G_N_ELEMENTS (writers); i++)
    assert_true (writers[i].n_ok > 0);
  {
    g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
    cJSON *r = nmt_host_call (host, "{\"op\":\"get\",\"keys\":\"kept\"}");
    nmt_assert_json (nmt_member (r, "items"), "{\"kept\":\"before\"}");
    cJSON_Delete (r);
    nmt_host_close_input (host);
    assert_int_equal (nmt_host_wait (host), 0);
  }
  nmt_remove_tree (home);
}

static gboolean
scrub_pending (const char *home)
{
  g_autofree char *db = nmt_store_find_db (home);
  sqlite3 *raw = NULL;
  sqlite3_stmt *s = NULL;
  gboolean pending;

  assert_int_equal (sqlite3_open_v2 (db, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (raw, "SELECT 1 FROM meta WHERE name = 'scrub_pending'", -1, &s, NULL),
                    SQLITE_OK);
  pending = sqlite3_step (s) == SQLITE_ROW;
  sqlite3_finalize (s);
  sqlite3_close (raw);
  return pending;
}

/* Another process holds a read open all through the conversion, so the
 * WAL cannot be emptied: the data is converted all the same, and the
 * command says so and exits 0 (it used to exit 1, after waiting 30 s,
 * with a message that read as if nothing had happened). The rewrite is
 * finished by the next process that opens the store. */
static void
test_convert_while_a_reader_holds_on (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *db = NULL;
  const char *encrypt[] = { "encrypt", "--origin", NMT_ORIGIN, "--key-file", NULL };
  const char *verify[] = { "verify", "--origin", NMT_ORIGIN, NULL };
  g_autofree char *out = NULL, *err = NULL;
  sqlite3 *reader = NULL;
  sqlite3_stmt *s = NULL;
  int status;

  {
    g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
    nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"kept\":\"before\",\"other\":2}}");
    nmt_host_close_input (host);
    assert_int_equal (nmt_host_wait (host), 0);
  }
  db = nmt_store_find_db (home);
  assert_int_equal (sqlite3_open_v2 (db, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (reader, "SELECT key FROM items", -1, &s, NULL), SQLITE_OK);
  /* A statement stepped and not reset keeps its read open. */
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);

  status = run (home, encrypt, &out, &err);
  print_message ("encrypt with a reader holding on: exit %d: %s%s", status, out, err);
  assert_int_equal (status, 0);
  assert_non_null (strstr (out, "encrypted"));
  assert_non_null (strstr (err, "the conversion is committed"));
  assert_true (scrub_pending (home));

  sqlite3_finalize (s);
  sqlite3_close (reader);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* The next open finishes the rewrite. */
  assert_int_equal (run (home, verify, &out, &err), 0);
  assert_non_null (strstr (out, "encrypted, 2 records checked, 2 good"));
  assert_false (scrub_pending (home));
  nmt_remove_tree (home);
}

/* A host whose stderr nobody reads (a browser that does not drain it)
 * blocks at its next log line. It used to log failed requests inside
 * the batch's write transaction, so the whole origin stalled behind it:
 * another port's write waited the 30 s busy timeout and got E_BUSY. Now
 * failures are logged after the transaction ends, and repeats of one
 * kind are rate-limited. */
static void
test_blocked_stderr_does_not_hold_the_lock (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *fifo = g_strdup_printf ("%s.stderr", home);
  g_autofree char *big = g_strnfill (2000, 'q');
  const char *env[] = { "NMSTORE_LOG", "debug", NULL };
  NmtHostOptions options = { .extra_env = env, .stderr_path = fifo };
  const char *args[] = { "host", "--origin", NMT_ORIGIN, NULL };
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  g_autoptr(NmtHost) stuck = NULL;
  g_autoptr(NmtHost) other = NULL;
  char drain[4096];
  int rd, i;

  /* Every set of the burst fails its quota, a failure logged at debug. */
  nmt_write_config (home, "[store]\nquota_bytes = 1000\n");
  assert_int_equal (mkfifo (fifo, 0600), 0);
  rd = open (fifo, O_RDONLY | O_NONBLOCK);
  assert_true (rd >= 0);
  /* The smallest pipe: a few lines fill it. */
  fcntl (rd, F_SETPIPE_SZ, 4096);
  stuck = nmt_host_start_full (home, args, &options);
  for (i = 0; i < 32; i++)
    {
      g_autofree char *req = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"big%d\":\"%s\"}}",
                                              i, i, big);
      nmt_frame_append_str (burst, req);
    }
  /* Keep the pipe full while the stuck host works through its burst. */
  while (read (rd, drain, sizeof drain) > 0)
    ;
  assert_true (nmt_host_send_raw (stuck, burst->data, burst->len));

  /* Another port writes. */
  other = nmt_host_start (home, NMT_ORIGIN);
  {
    cJSON *r = nmt_host_call (other, "{\"id\":1,\"op\":\"set\",\"items\":{\"small\":1}}");
    if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (r, "ok")))
      fail_msg ("another port's write failed while one host's stderr was blocked: %s", cJSON_PrintUnformatted (r));
    cJSON_Delete (r);
  }

  /* Unblock the stuck host: it answers every request (each E_QUOTA) and
   * has logged only a few lines for 32 failures of one kind. */
  {
    g_autoptr(GString) logged = g_string_new (NULL);
    int flags = fcntl (rd, F_GETFL);
    guint lines = 0;
    gssize n;

    for (i = 0; i < 32; i++)
      {
        cJSON *r;
        while ((n = read (rd, drain, sizeof drain)) > 0)
          g_string_append_len (logged, drain, n);
        r = nmt_host_recv (stuck);
        nmt_assert_error (r, "E_QUOTA");
        cJSON_Delete (r);
      }
    nmt_host_close_input (stuck);
    fcntl (rd, F_SETFL, flags & ~O_NONBLOCK);
    while ((n = read (rd, drain, sizeof drain)) > 0)
      g_string_append_len (logged, drain, n);
    assert_int_equal (nmt_host_wait (stuck), 0);
    for (const char *p = logged->str; (p = strstr (p, "set failed")) != NULL; p++)
      lines++;
    print_message ("32 failed sets, %u log lines\n", lines);
    assert_true (lines >= 1 && lines <= 3);
  }
  close (rd);
  nmt_host_close_input (other);
  assert_int_equal (nmt_host_wait (other), 0);
  g_unlink (fifo);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_convert_under_busy_writers),
    cmocka_unit_test (test_convert_while_a_reader_holds_on),
    cmocka_unit_test (test_blocked_stderr_does_not_hold_the_lock),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
