/* SPDX-License-Identifier: MIT */
/* proto-session.c: the session ops. Each is one request that calls one
 * nms_session_* function inside the batch transaction proto.c opens, so a
 * composite change (remove a torrent, migrate, repair) is one commit and
 * one write as far as any other process can tell. */
#include "proto-common.h"
#include "base/error.h"
#include "session/session.h"

#include <string.h>

static gboolean
session_prefix (NmsRequest *req, const char *op, const char **prefix, GError **error)
{
  if (!_nms_proto_optional_prefix (req, op, prefix, error))
    return FALSE;
  if (*prefix != NULL && **prefix == '\0')
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "%s: \"prefix\" must not be empty", op);
      return FALSE;
    }
  return TRUE;
}

static gboolean
op_session_restore (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const char *prefix;

  return session_prefix (req, "sessionRestore", &prefix, error)
         && nms_session_restore (proto->store, prefix, result, error);
}

static gboolean
op_session_summary (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const char *prefix;

  return session_prefix (req, "sessionSummary", &prefix, error)
         && nms_session_summary (proto->store, prefix, result, error);
}

static gboolean
op_session_remove_torrent (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const cJSON *hash = cJSON_GetObjectItemCaseSensitive (req->root, "infoHash");
  const char *prefix;

  if (!session_prefix (req, "sessionRemoveTorrent", &prefix, error))
    return FALSE;
  if (!cJSON_IsString (hash))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "sessionRemoveTorrent: \"infoHash\" (40 hex digits) is required");
      return FALSE;
    }
  return nms_session_remove_torrent (proto->store, prefix, hash->valuestring, result, error);
}

static gboolean
op_session_migrate (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const char *prefix;

  return session_prefix (req, "sessionMigrate", &prefix, error)
         && nms_session_migrate (proto->store, prefix, result, error);
}

static gboolean
op_session_check (NmsProto *proto, NmsRequest *req, GString *result, GError **error)
{
  const cJSON *repair = cJSON_GetObjectItemCaseSensitive (req->root, "repair");
  const char *prefix;

  if (!session_prefix (req, "sessionCheck", &prefix, error))
    return FALSE;
  if (repair != NULL && !cJSON_IsBool (repair))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "sessionCheck: \"repair\" must be true or false");
      return FALSE;
    }
  return nms_session_check (proto->store, prefix, cJSON_IsTrue (repair), result, error);
}

const NmsOpDef nms_proto_session_ops[] = {
  /* name                   run                         writes uses_store barrier */
  { "sessionRestore",       op_session_restore,         FALSE, TRUE,  FALSE },
  { "sessionSummary",       op_session_summary,         FALSE, TRUE,  FALSE },
  { "sessionRemoveTorrent", op_session_remove_torrent,  TRUE,  TRUE,  FALSE },
  { "sessionMigrate",       op_session_migrate,         TRUE,  TRUE,  FALSE },
  { "sessionCheck",         op_session_check,           TRUE,  TRUE,  FALSE },
  { NULL }
};
