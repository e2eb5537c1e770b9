/* SPDX-License-Identifier: MIT */
/* os-stop.c: SIGTERM and SIGINT for a thread that waits in a blocking read
 * (the operating-system seam, os.h).
 *
 * The host waits for the browser's next request in read(2) rather than in
 * its main loop's poll(2): a request that comes one at a time then costs
 * one system call and one loop iteration less, 3 to 4 µs of a sequential
 * get's 30 to 40 µs round trip on the benchmark's machine. But GLib's
 * signal handler lets an interrupted read go on (SA_RESTART), so a stop
 * signal alone would not reach a host that waits there.
 *
 * So a thread of the watch's own runs GLib's signal sources. When one
 * fires, it schedules the stop on the waiting thread's loop, and nudges
 * that thread with a signal whose handler lets no system call go on: its
 * read fails with EINTR, and the host goes back to its loop, where the stop
 * runs first. A nudge that lands just before the read begins is lost, so
 * the thread nudges again every NUDGE_INTERVAL_MS until the stop has run:
 * a stop may be that late, never lost. */
#define _POSIX_C_SOURCE 200809L

#include "base/os.h"
#include "base/error.h"

#include <errno.h>
#include <glib-unix.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

/* Between two nudges of a thread that has not stopped yet. */
#define NUDGE_INTERVAL_MS 10

struct _NmsOsStopWatch {
  GSourceFunc       func;
  gpointer          user_data;
  pthread_t         waiter;        /* the thread whose reads a stop interrupts */
  GMainContext     *waiter_context; /* where func runs */
  GSource          *stop;          /* runs func there; attached once a signal came */
  GMainContext     *context;       /* the watch's own thread's */
  GThread          *thread;
  GSource          *signals[2];
  GSource          *nudges;        /* while the stop has not run */
  struct sigaction  old_nudge;
  gboolean          nudge_set;     /* old_nudge holds what to put back */
  int               fired;         /* atomic: a stop signal came */
  int               done;          /* atomic: func has run */
  int               quit;          /* atomic: the thread is to end */
};

/* Real-time signals are never sent by the system or the terminal, and the
 * C library keeps those it needs below SIGRTMIN. */
static int
nudge_signal (void)
{
  return SIGRTMIN;
}

/* Does nothing: it is there so that the signal interrupts a system call
 * (no SA_RESTART) instead of killing the process. */
static void
on_nudge (int signum)
{
}

static gboolean
run_stop (gpointer user_data)
{
  NmsOsStopWatch *watch = user_data;

  g_atomic_int_set (&watch->done, TRUE);
  watch->func (watch->user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
nudge_again (gpointer user_data)
{
  NmsOsStopWatch *watch = user_data;

  if (g_atomic_int_get (&watch->done))
    {
      watch->nudges = NULL;
      return G_SOURCE_REMOVE;
    }
  pthread_kill (watch->waiter, nudge_signal ());
  return G_SOURCE_CONTINUE;
}

/* In the watch's thread. A second signal finds the stop on its way. */
static gboolean
on_signal (gpointer user_data)
{
  NmsOsStopWatch *watch = user_data;

  if (g_atomic_int_get (&watch->fired))
    return G_SOURCE_CONTINUE;
  /* Scheduled before it is marked fired: a waiter that sees the mark and
   * goes back to its loop finds the stop there. */
  g_source_attach (watch->stop, watch->waiter_context);
  g_atomic_int_set (&watch->fired, TRUE);
  pthread_kill (watch->waiter, nudge_signal ());
  watch->nudges = g_timeout_source_new (NUDGE_INTERVAL_MS);
  g_source_set_callback (watch->nudges, nudge_again, watch, NULL);
  g_source_attach (watch->nudges, watch->context);
  g_source_unref (watch->nudges);
  return G_SOURCE_CONTINUE;
}

static gpointer
watch_thread (gpointer user_data)
{
  NmsOsStopWatch *watch = user_data;

  /* Not a GMainLoop: one told to quit before it has started runs for
   * ever, and a host given no input stops at once. */
  g_main_context_push_thread_default (watch->context);
  while (!g_atomic_int_get (&watch->quit))
    g_main_context_iteration (watch->context, TRUE);
  g_main_context_pop_thread_default (watch->context);
  return NULL;
}

NmsOsStopWatch *
nms_os_stop_watch_new (GSourceFunc func, gpointer user_data, GError **error)
{
  g_autoptr(NmsOsStopWatch) watch = g_new0 (NmsOsStopWatch, 1);
  const int signums[] = { SIGTERM, SIGINT };
  struct sigaction nudge = { 0 };
  GError *thread_error = NULL;
  gsize i;

  watch->func = func;
  watch->user_data = user_data;
  watch->waiter = pthread_self ();
  watch->waiter_context = g_main_context_ref_thread_default ();
  watch->stop = g_idle_source_new ();
  /* Before the input it would otherwise wait behind: a writer that never
   * pauses must not keep the host from stopping. */
  g_source_set_priority (watch->stop, G_PRIORITY_HIGH);
  g_source_set_callback (watch->stop, run_stop, watch, NULL);
  watch->context = g_main_context_new ();

  nudge.sa_handler = on_nudge;
  sigemptyset (&nudge.sa_mask);
  if (sigaction (nudge_signal (), &nudge, &watch->old_nudge) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot handle signal %d: %s", nudge_signal (),
                   g_strerror (errno));
      return NULL;
    }
  watch->nudge_set = TRUE;
  /* Made here, not in the thread: GLib installs its handler as it makes
   * them, so a stop signal is caught from the moment this returns. */
  for (i = 0; i < G_N_ELEMENTS (signums); i++)
    {
      watch->signals[i] = g_unix_signal_source_new (signums[i]);
      g_source_set_callback (watch->signals[i], on_signal, watch, NULL);
      g_source_attach (watch->signals[i], watch->context);
    }
  watch->thread = g_thread_try_new ("nmstore-stop", watch_thread, watch, &thread_error);
  if (watch->thread == NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                   "cannot start the thread that watches for SIGTERM and SIGINT: %s "
                   "(the user's limit of processes, ulimit -u, may be reached)", thread_error->message);
      g_error_free (thread_error);
      return NULL;
    }
  return g_steal_pointer (&watch);
}

gboolean
nms_os_stop_watch_fired (NmsOsStopWatch *watch)
{
  return g_atomic_int_get (&watch->fired);
}

void
nms_os_stop_watch_free (NmsOsStopWatch *watch)
{
  gsize i;

  if (watch == NULL)
    return;
  if (watch->thread != NULL)
    {
      g_atomic_int_set (&watch->quit, TRUE);
      g_main_context_wakeup (watch->context);
      g_thread_join (watch->thread);
    }
  /* The thread has ended: nothing nudges the waiter any more. */
  if (watch->nudge_set)
    sigaction (nudge_signal (), &watch->old_nudge, NULL);
  for (i = 0; i < G_N_ELEMENTS (watch->signals); i++)
    if (watch->signals[i] != NULL)
      {
        g_source_destroy (watch->signals[i]);
        g_source_unref (watch->signals[i]);
      }
  if (watch->nudges != NULL)
    g_source_destroy (watch->nudges);
  g_source_destroy (watch->stop);
  g_source_unref (watch->stop);
  g_main_context_unref (watch->context);
  g_main_context_unref (watch->waiter_context);
  g_free (watch);
}
