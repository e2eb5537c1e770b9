/* SPDX-License-Identifier: MIT */
/* session.h: the extension engine's torrent session, as stored under a
 * prefix (by default "session:"):
 *
 *   <prefix>torrents                     the index, schema v2 (v1 is migrated)
 *   <prefix>torrent:<hash>:state         progress and user state, rewritten often
 *   <prefix>torrent:<hash>:torrentfile   the .torrent file (file-source torrents)
 *   <prefix>torrent:<hash>:infodict      the info dictionary (magnet torrents)
 *
 * The engine writes Uint8Arrays, so each key may hold a JSON value, bytes
 * of UTF-8 JSON, raw bencode, or base64 of it, as bytes or as a JSON
 * string. Every reader here accepts all of these; only migrate and repair
 * write, and they write what today's engine reads: the index and states
 * as JSON values, .torrent files and info dictionaries as raw bytes.
 *
 * Each call appends its result to out as the members of a protocol reply
 * (canonical text, json.h, without the braces), and runs inside one group
 * of the store, so it changes everything or nothing. On failure out is as
 * it was. Restore and summary, whose replies can be tens of megabytes,
 * write torrent by torrent and build no tree of the whole reply. */
#pragma once

#include <cjson/cJSON.h>
#include <glib.h>

#include "store/store.h"

G_BEGIN_DECLS

#define NMS_SESSION_DEFAULT_PREFIX "session:"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (cJSON, cJSON_Delete)

gboolean nms_session_restore      (NmsStore *store, const char *prefix, GString *out, GError **error);
gboolean nms_session_summary      (NmsStore *store, const char *prefix, GString *out, GError **error);
gboolean nms_session_remove_torrent (NmsStore *store, const char *prefix, const char *info_hash, GString *out,
                                     GError **error);
gboolean nms_session_migrate        (NmsStore *store, const char *prefix, GString *out, GError **error);
gboolean nms_session_check          (NmsStore *store, const char *prefix, gboolean repair, GString *out,
                                     GError **error);

gboolean nms_session_is_info_hash (const char *text);

G_END_DECLS
