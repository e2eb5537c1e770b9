/* SPDX-License-Identifier: MIT */
/* log.h: where log lines go.
 *
 * stdout belongs to the browser's frames, so every log line goes to
 * stderr (and, when configured, to a file), filtered by NMSTORE_LOG. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nms_log_parse_level (const char *name, GLogLevelFlags *level);
void     nms_log_init        (const char *log_file);

G_END_DECLS
