/* SPDX-License-Identifier: MIT */
/* progress.h: how long commands tell a person they are still working.
 *
 * The store and archive layers never print: they call an NmsProgressFunc
 * with how much of how much is done. The command line passes
 * nms_progress_step with an NmsProgress, which writes to standard error
 * (never standard output, which may carry an export): on a terminal one
 * line redrawn in place, elsewhere a few plain lines, and nothing at all
 * for work that ends within a second. */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* done of total (total 0: not known). FALSE stops the work, which then
 * fails with NMS_ERROR_CANCELLED-like behaviour chosen by the caller;
 * nms_progress_step always returns TRUE. */
typedef gboolean (*NmsProgressFunc) (guint64 done, guint64 total, gpointer user_data);

/* Monotonic microseconds; g_get_monotonic_time in use, a fake in tests. */
typedef gint64 (*NmsProgressClock) (gpointer user_data);

typedef struct _NmsProgress NmsProgress;

/* verb: "encrypting"; unit: "items" or "MB". out: where to write; tty:
 * whether it is a terminal. clock NULL: the real monotonic clock. */
NmsProgress *nms_progress_new      (const char *verb, const char *unit, FILE *out, gboolean tty,
                                    NmsProgressClock clock, gpointer clock_data);
/* For the command line: standard error, or NULL (silence) when quiet. */
NmsProgress *nms_progress_new_stderr (const char *verb, const char *unit, gboolean quiet);
gboolean     nms_progress_step     (guint64 done, guint64 total, gpointer progress);
/* The work ended: clears the bar, or prints a last line when earlier
 * lines were printed. NULL-safe, like step. */
void         nms_progress_done     (NmsProgress *progress);
void         nms_progress_free     (NmsProgress *progress);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsProgress, nms_progress_free)

G_END_DECLS
