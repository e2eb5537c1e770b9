/* SPDX-License-Identifier: MIT */
/* test_os_stop.c: the stop watch (os-stop.c). A stop signal must reach a
 * thread that waits in nms_os_read_input on a pipe that stays open, even
 * when the first nudge lands before the read begins, and then run the
 * stop on the thread's loop, ahead of input that keeps coming. Each test
 * holds the pipe's write end and writes to it after a few seconds, so that
 * a read the signal failed to interrupt ends with data, and the test
 * fails instead of hanging. */
#define _GNU_SOURCE
#include "harness.h"

#include "base/os.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

/* Long enough that a working watch always beats it, even under valgrind. */
#define RESCUE_SECONDS 5

typedef struct {
  int  write_fd;
  int  signum;         /* what signal_later sends */
  int  stops;          /* how many times the stop ran */
  int  cancelled;      /* atomic: the rescue is no longer wanted */
} Fixture;

/* Sends f->signum to the process once the test thread is in its read. */
static gpointer
signal_later (gpointer user_data)
{
  Fixture *f = user_data;

  g_usleep (50 * 1000);
  if (kill (getpid (), f->signum) != 0)
    g_error ("cannot signal the test: %s", g_strerror (errno));
  return NULL;
}

static gboolean
stay_ready (gpointer user_data)
{
  (*(int *) user_data)++;
  return G_SOURCE_CONTINUE;
}

static gboolean
count_stop (gpointer user_data)
{
  ((Fixture *) user_data)->stops++;
  return G_SOURCE_REMOVE;
}

/* Writes a byte to the pipe after RESCUE_SECONDS, unless cancelled. */
static gpointer
rescue (gpointer user_data)
{
  Fixture *f = user_data;
  int i;

  for (i = 0; i < RESCUE_SECONDS * 100 && !g_atomic_int_get (&f->cancelled); i++)
    g_usleep (10 * 1000);
  /* Not a cmocka assertion: those belong to the test's own thread. The
   * test sees the byte, or hangs until ctest's timeout without it. */
  if (!g_atomic_int_get (&f->cancelled) && write (f->write_fd, "x", 1) != 1)
    g_error ("cannot write to the test's pipe: %s", g_strerror (errno));
  return NULL;
}

/* Reads from read_fd as the host does, and says whether the read ended
 * without data (the stop's nudge) rather than with the rescue's byte. */
static gboolean
read_was_interrupted (int read_fd)
{
  g_autoptr(GError) error = NULL;
  char byte;
  gsize n = 0;

  if (nms_os_read_input (read_fd, &byte, 1, &n, &error))
    return FALSE;
  assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK));
  assert_int_equal (n, 0);
  return TRUE;
}

static void
wait_until_fired (NmsOsStopWatch *watch)
{
  int i;

  for (i = 0; i < RESCUE_SECONDS * 1000 && !nms_os_stop_watch_fired (watch); i++)
    g_usleep (1000);
  assert_true (nms_os_stop_watch_fired (watch));
}

static void
run_case (int signum, gboolean signal_before_read)
{
  Fixture f = { .signum = signum };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOsStopWatch) watch = nms_os_stop_watch_new (count_stop, &f, &error);
  GThread *thread, *sender = NULL;
  int fds[2];

  assert_non_null (watch);
  assert_false (nms_os_stop_watch_fired (watch));
  assert_int_equal (pipe (fds), 0);
  f.write_fd = fds[1];
  thread = g_thread_new ("rescue", rescue, &f);

  if (signal_before_read)
    {
      /* The first nudge hits this thread before it reads: only a later
       * one can end the read. */
      assert_int_equal (kill (getpid (), signum), 0);
      wait_until_fired (watch);
      g_usleep (2 * 1000);
    }
  else
    {
      /* The signal comes while the thread waits in the read. */
      sender = g_thread_new ("signal", signal_later, &f);
    }
  assert_true (read_was_interrupted (fds[0]));
  if (sender != NULL)
    g_thread_join (sender);
  assert_true (nms_os_stop_watch_fired (watch));

  /* The stop runs on this thread's loop, once, however often it is
   * asked to. */
  assert_int_equal (f.stops, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  assert_int_equal (f.stops, 1);
  assert_int_equal (kill (getpid (), signum), 0);
  g_usleep (50 * 1000);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  assert_int_equal (f.stops, 1);

  g_atomic_int_set (&f.cancelled, TRUE);
  g_thread_join (thread);
  close (fds[0]);
  close (fds[1]);
}

static void
test_sigterm_during_read (void **state)
{
  run_case (SIGTERM, FALSE);
}

static void
test_sigint_during_read (void **state)
{
  run_case (SIGINT, FALSE);
}

static void
test_sigterm_before_read (void **state)
{
  run_case (SIGTERM, TRUE);
}

/* The stop goes before a source that is always ready, as the input of a
 * browser that never pauses is. */
static void
test_stop_before_busy_input (void **state)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOsStopWatch) watch = nms_os_stop_watch_new (count_stop, &f, &error);
  int busy_runs = 0;
  guint busy;

  assert_non_null (watch);
  busy = g_idle_add_full (G_PRIORITY_DEFAULT, stay_ready, &busy_runs, NULL);
  assert_int_equal (kill (getpid (), SIGTERM), 0);
  wait_until_fired (watch);
  /* One iteration dispatches only the most urgent sources ready. */
  assert_true (g_main_context_iteration (NULL, FALSE));
  assert_int_equal (f.stops, 1);
  assert_int_equal (busy_runs, 0);
  assert_true (g_main_context_iteration (NULL, FALSE));
  assert_int_equal (busy_runs, 1);
  g_source_remove (busy);
}

/* A watch made and freed at once, before its thread has run, ends. */
static void
test_free_at_once (void **state)
{
  int i;

  for (i = 0; i < 50; i++)
    {
      Fixture f = { 0 };
      g_autoptr(GError) error = NULL;
      NmsOsStopWatch *watch = nms_os_stop_watch_new (count_stop, &f, &error);

      assert_non_null (watch);
      nms_os_stop_watch_free (watch);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sigterm_during_read),
    cmocka_unit_test (test_sigint_during_read),
    cmocka_unit_test (test_sigterm_before_read),
    cmocka_unit_test (test_stop_before_busy_input),
    cmocka_unit_test (test_free_at_once),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
