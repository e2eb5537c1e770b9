/* SPDX-License-Identifier: MIT */
/* proto-table.c: the op tables, found by name. Apart from proto.c so
 * that the parser and the batch op, which both look ops up, do not call
 * each other through it. */
#include "proto-common.h"
#include "json/json.h"

#include <string.h>

/* Each group of operations keeps its table in its own file; a new group
 * adds its table here. */
static const NmsOpDef *const op_tables[] = {
  nms_proto_core_ops,
  nms_proto_session_ops,
  nms_proto_events_ops,
  nms_proto_crypt_ops,
  nms_proto_batch_ops,
};

const NmsOpDef *
_nms_proto_find_op (const char *name)
{
  gsize t;
  const NmsOpDef *op;

  for (t = 0; t < G_N_ELEMENTS (op_tables); t++)
    for (op = op_tables[t]; op->name != NULL; op++)
      if (strcmp (op->name, name) == 0)
        return op;
  return NULL;
}

void
_nms_proto_append_op_names (GString *out)
{
  gsize t;
  const NmsOpDef *op;
  gboolean first = TRUE;

  g_string_append_c (out, '[');
  for (t = 0; t < G_N_ELEMENTS (op_tables); t++)
    for (op = op_tables[t]; op->name != NULL; op++)
      {
        if (!first)
          g_string_append_c (out, ',');
        nms_json_append_cstring (out, op->name);
        first = FALSE;
      }
  g_string_append_c (out, ']');
}
