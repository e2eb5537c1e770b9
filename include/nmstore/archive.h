/* archive.h: moving an origin's data in and out of its store.
 *
 * An export is a JSON object of every item (or every item under a prefix),
 * the shape chrome.storage.local.get(null) gives, with binary values as
 * {"$bytes":"<base64>"}; importing one is an ordinary atomic "set". A
 * backup is a consistent copy of the whole database, taken while hosts
 * keep running; restoring one swaps every item in one transaction. */
#pragma once

#include <glib.h>

#include "nmstore/store.h"

G_BEGIN_DECLS

gboolean nms_archive_export  (NmsStore *store, const char *prefix, GString *out, GError **error);
gboolean nms_archive_backup  (NmsStore *store, const char *path, GError **error);
gboolean nms_archive_restore (NmsStore *store, const char *path, const char *origin_name,
                              guint64 *n_items, GError **error);
gboolean nms_archive_import_request (const char *text, gsize len, GString *request, guint *n_items,
                                     GError **error);

G_END_DECLS
