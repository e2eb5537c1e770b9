/* SPDX-License-Identifier: MIT */
/* origin.h: who is calling.
 *
 * An origin is the identity a browser vouches for when it starts the host:
 * a Chromium extension origin (chrome-extension://<32 letters a-p>/) or a
 * Firefox add-on id. Each origin owns exactly one store, in a directory
 * whose name is derived from the validated origin, so that nothing a
 * caller sends can choose or escape that directory. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  NMS_ORIGIN_CHROMIUM,
  NMS_ORIGIN_FIREFOX,
} NmsOriginKind;

typedef struct {
  NmsOriginKind kind;
  char *id;         /* the extension id or add-on id */
  char *canonical;  /* as reported to the extension and by the CLI */
  char *dirname;    /* the store's directory name under the data root */
} NmsOrigin;

NmsOrigin *nms_origin_parse           (const char *text, GError **error);
gboolean   nms_origin_is_browser_argv (int argc, char **argv);
NmsOrigin *nms_origin_from_argv       (int argc, char **argv, GError **error);
NmsOrigin *nms_origin_copy            (const NmsOrigin *origin);
void       nms_origin_free            (NmsOrigin *origin);
gboolean   nms_origin_is_chromium_id  (const char *id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsOrigin, nms_origin_free)

G_END_DECLS
