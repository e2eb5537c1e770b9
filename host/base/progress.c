/* SPDX-License-Identifier: MIT */
/* progress.c: the progress line of long commands; see progress.h.
 *
 * Work that ends within QUIET_US prints nothing, so short commands stay as
 * terse as before. After that, a terminal gets one line redrawn with \r at
 * most every REDRAW_US; a log or a pipe gets a line only when the percent
 * has crossed another tenth and a second has passed since the last one,
 * so a long job writes about ten lines, not thousands. */
#include "base/progress.h"

#include <unistd.h>

#define QUIET_US          G_USEC_PER_SEC
#define REDRAW_US         (G_USEC_PER_SEC / 10)
#define LINE_US           G_USEC_PER_SEC
/* Without a total there is no tenth to cross: a line this often. */
#define LINE_UNKNOWN_US   (10 * G_USEC_PER_SEC)
#define BAR_WIDTH         24

struct _NmsProgress {
  char            *verb;
  char            *unit;
  FILE            *out;
  gboolean         tty;
  NmsProgressClock clock;
  gpointer         clock_data;
  gint64           started;
  gint64           quiet_us;     /* nothing shown before this much time */
  gint64           last_shown;   /* 0: nothing shown yet */
  int              last_tenth;   /* of the last plain line */
  guint64          done, total;
};

static gint64
real_clock (gpointer user_data)
{
  return g_get_monotonic_time ();
}

NmsProgress *
nms_progress_new (const char *verb, const char *unit, FILE *out, gboolean tty, NmsProgressClock clock,
                  gpointer clock_data)
{
  NmsProgress *p = g_new0 (NmsProgress, 1);

  p->verb = g_strdup (verb);
  p->unit = g_strdup (unit);
  p->out = out;
  p->tty = tty;
  p->clock = clock != NULL ? clock : real_clock;
  p->clock_data = clock_data;
  p->started = p->clock (p->clock_data);
  p->quiet_us = QUIET_US;
  p->last_tenth = -1;
  return p;
}

NmsProgress *
nms_progress_new_stderr (const char *verb, const char *unit, gboolean quiet)
{
  const char *after = g_getenv ("NMSTORE_PROGRESS_AFTER_MS");
  guint64 ms = 0;
  NmsProgress *p;

  if (quiet)
    return NULL;
  p = nms_progress_new (verb, unit, stderr, isatty (fileno (stderr)), NULL, NULL);
  /* A person who wants a line even for short work, and the tests, which
   * cannot make work last a second on every machine. */
  if (after != NULL && g_ascii_string_to_unsigned (after, 10, 0, G_MAXINT32, &ms, NULL))
    p->quiet_us = (gint64) ms * 1000;
  return p;
}

void
nms_progress_free (NmsProgress *p)
{
  if (p == NULL)
    return;
  g_free (p->verb);
  g_free (p->unit);
  g_free (p);
}

static int
percent (const NmsProgress *p)
{
  if (p->total == 0)
    return -1;
  return (int) (MIN (p->done, p->total) * 100 / p->total);
}

static void
draw_bar (NmsProgress *p)
{
  int pc = percent (p);
  char bar[BAR_WIDTH + 1];
  int i, filled = pc < 0 ? 0 : pc * BAR_WIDTH / 100;

  for (i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < filled ? '#' : '-';
  bar[BAR_WIDTH] = '\0';
  /* \033[K clears what a longer earlier line left to the right. */
  if (pc < 0)
    fprintf (p->out, "\rnmstore: %s %" G_GUINT64_FORMAT " %s\033[K", p->verb, p->done, p->unit);
  else
    fprintf (p->out, "\rnmstore: %s [%s] %3d%% (%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " %s)\033[K", p->verb,
             bar, pc, p->done, p->total, p->unit);
  fflush (p->out);
}

static void
print_line (NmsProgress *p)
{
  int pc = percent (p);

  if (pc < 0)
    fprintf (p->out, "nmstore: %s %" G_GUINT64_FORMAT " %s\n", p->verb, p->done, p->unit);
  else
    fprintf (p->out, "nmstore: %s %d%% (%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " %s)\n", p->verb, pc, p->done,
             p->total, p->unit);
  fflush (p->out);
}

gboolean
nms_progress_step (guint64 done, guint64 total, gpointer progress)
{
  NmsProgress *p = progress;
  gint64 now;
  int tenth;

  if (p == NULL)
    return TRUE;
  p->done = done;
  p->total = total;
  now = p->clock (p->clock_data);
  if (now - p->started < p->quiet_us)
    return TRUE;
  if (p->tty)
    {
      if (p->last_shown == 0 || now - p->last_shown >= REDRAW_US)
        {
          draw_bar (p);
          p->last_shown = now;
        }
      return TRUE;
    }
  tenth = total > 0 ? percent (p) / 10 : -1;
  if (p->last_shown != 0
      && (now - p->last_shown < (total > 0 ? LINE_US : LINE_UNKNOWN_US) || (total > 0 && tenth == p->last_tenth)))
    return TRUE;
  print_line (p);
  p->last_shown = now;
  p->last_tenth = tenth;
  return TRUE;
}

void
nms_progress_done (NmsProgress *p)
{
  if (p == NULL || p->last_shown == 0)
    return;
  if (p->tty)
    {
      fputs ("\r\033[K", p->out);
      fflush (p->out);
    }
  /* The log says the work finished, not just that it got to 90%. */
  else if (p->total == 0 || p->done < p->total || p->last_tenth != 10)
    {
      p->done = MAX (p->done, p->total);
      print_line (p);
    }
  p->last_shown = 0;
}
