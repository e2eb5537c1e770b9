/* SPDX-License-Identifier: MIT */
/* log.c: GLib structured logging to stderr and an optional file. */
#include "base/log.h"
#include "base/os.h"

#include <stdio.h>

typedef struct {
  GLogLevelFlags threshold; /* the least severe level still written */
  FILE *file;
} LogSink;

gboolean
nms_log_parse_level (const char *name, GLogLevelFlags *level)
{
  if (name == NULL || *name == '\0' || g_ascii_strcasecmp (name, "warning") == 0)
    *level = G_LOG_LEVEL_WARNING;
  else if (g_ascii_strcasecmp (name, "error") == 0)
    *level = G_LOG_LEVEL_CRITICAL;
  else if (g_ascii_strcasecmp (name, "info") == 0)
    *level = G_LOG_LEVEL_INFO;
  else if (g_ascii_strcasecmp (name, "debug") == 0)
    *level = G_LOG_LEVEL_DEBUG;
  else
    return FALSE;
  return TRUE;
}

/* GLib's levels grow less severe as their bit grows; MESSAGE sits with
 * WARNING so that nothing GLib itself says at that level is lost. */
static gboolean
passes (GLogLevelFlags level, GLogLevelFlags threshold)
{
  level &= G_LOG_LEVEL_MASK;
  if (level == G_LOG_LEVEL_MESSAGE)
    level = G_LOG_LEVEL_WARNING;
  return level <= threshold;
}

static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  LogSink *sink = user_data;
  g_autofree char *line = NULL;

  if (!passes (level, sink->threshold))
    return G_LOG_WRITER_HANDLED;
  line = g_log_writer_format_fields (level, fields, n_fields, FALSE);
  fprintf (stderr, "%s\n", line);
  fflush (stderr);
  if (sink->file != NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *stamp = g_date_time_format_iso8601 (now);
      fprintf (sink->file, "%s %s\n", stamp, line);
      fflush (sink->file);
    }
  return G_LOG_WRITER_HANDLED;
}

static void
sink_free (gpointer data)
{
  LogSink *sink = data;

  if (sink->file != NULL)
    fclose (sink->file);
  g_free (sink);
}

/* Installs the writer once per process. An unknown NMSTORE_LOG value
 * falls back to warnings and says so, rather than failing the host. */
void
nms_log_init (const char *log_file)
{
  LogSink *sink = g_new0 (LogSink, 1);
  const char *level = g_getenv ("NMSTORE_LOG");
  gboolean level_ok = nms_log_parse_level (level, &sink->threshold);
  g_autoptr(GError) file_error = NULL;

  if (log_file != NULL && *log_file != '\0')
    sink->file = nms_os_fopen_private_append (log_file, &file_error);
  g_log_set_writer_func (write_log, sink, sink_free);
  if (!level_ok)
    g_warning ("NMSTORE_LOG=\"%s\" is not one of error, warning, info, debug; using warning", level);
  if (file_error != NULL)
    g_warning ("logging to stderr only: %s", file_error->message);
}
