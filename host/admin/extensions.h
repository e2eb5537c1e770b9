/* SPDX-License-Identifier: MIT */
/* extensions.h: the extensions registered to use nmstore, one drop-in
 * file each, and the ids they need allowed.
 *
 * A drop-in is NAME.conf in $XDG_CONFIG_HOME/nmstore/extensions.d (this
 * user) or /etc/nmstore/extensions.d (every user; $NMSTORE_SYSTEM_ROOT
 * prefixes it, as every system path), in GKeyFile format:
 *
 *   [extension]
 *   chromium-ids=abcdefghijklmnopabcdefghijklmnop;
 *   firefox-ids=tool@example.org;
 *
 * `nmstore install` allows every id of every valid drop-in; a file with
 * anything wrong in it is refused whole, never half-used. */
#pragma once

#include <glib.h>

#include "admin/install.h"

G_BEGIN_DECLS

#define NMS_EXTENSIONS_GROUP "extension"
#define NMS_EXTENSIONS_CHROMIUM_KEY "chromium-ids"
#define NMS_EXTENSIONS_FIREFOX_KEY "firefox-ids"

typedef struct {
  char            *name;          /* the file name without .conf */
  char            *path;
  NmsInstallScope  scope;         /* user or system */
  char           **chromium_ids;  /* never NULL once loaded without error */
  char           **firefox_ids;
  char            *error;         /* why the file is refused (then no ids), or NULL */
} NmsExtension;

char      *nms_extensions_dir         (const NmsInstallEnv *env, NmsInstallScope scope);
gboolean   nms_extensions_check_name  (const char *name, GError **error);
/* Every *.conf of both folders, this user's first, each sorted by name;
 * refused files are in the list with ->error set. */
GPtrArray *nms_extensions_load        (const NmsInstallEnv *env);
/* Writes (or replaces, atomically) NAME.conf. User scope: a 0600 file in
 * 0700 folders of this user, created where missing and refused (never
 * chmod-ed) where open to others or someone else's. System scope: 0644
 * in 0755 folders, refused where writable by others. */
gboolean   nms_extensions_add         (const NmsInstallEnv *env, NmsInstallScope scope, const char *name,
                                       const char *const *chromium_ids, const char *const *firefox_ids,
                                       GError **error);
gboolean   nms_extensions_remove      (const NmsInstallEnv *env, NmsInstallScope scope, const char *name,
                                       GError **error);
/* Appends, without repeats, every id of the valid drop-ins. */
void       nms_extensions_collect_ids (GPtrArray *extensions, GPtrArray *chromium_ids, GPtrArray *firefox_ids);
void       nms_extension_free         (NmsExtension *extension);

G_END_DECLS
