/* SPDX-License-Identifier: MIT */
/* proto-parse.c: a request's text into its tree, its id and its op. Apart
 * from proto.c, which runs what this parses. */
#include "proto-parse.h"
#include "proto-common.h"
#include "base/error.h"
#include "json/json.h"

#include <sodium.h>
#include <string.h>

char *
_nms_proto_print_value (NmsRequest *req, const cJSON *value, gsize *len)
{
  GString *out = g_string_new (NULL);

  nms_json_write (out, value, req->stuffed);
  *len = out->len;
  return g_string_free (out, FALSE);
}

/* Objects up to this many members are checked pair by pair: a request's
 * envelope has three or four, and a hash set for them cost more than the
 * rest of its parsing. */
#define DUP_PAIRWISE_MAX 8

/* The first member name used twice in object itself, or NULL. A hash set
 * keeps an object with many members linear. */
static const char *
duplicate_in_object (const cJSON *object)
{
  g_autoptr(GHashTable) seen = NULL;
  const cJSON *child, *other;
  guint n = 0;

  if (!cJSON_IsObject (object) || object->child == NULL || object->child->next == NULL)
    return NULL;
  for (child = object->child; child != NULL && n <= DUP_PAIRWISE_MAX; child = child->next)
    n++;
  if (n <= DUP_PAIRWISE_MAX)
    {
      for (child = object->child; child != NULL; child = child->next)
        for (other = object->child; other != child; other = other->next)
          if (strcmp (other->string, child->string) == 0)
            return child->string;
      return NULL;
    }
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (child = object->child; child != NULL; child = child->next)
    if (!g_hash_table_add (seen, child->string))
      return child->string;
  return NULL;
}

/* The same, for any object nested anywhere below value (value itself is
 * checked first, on its own). JavaScript cannot produce such an object,
 * and storing one would keep text that JSON.parse reads differently from
 * what was counted. */
static const char *
duplicate_below (const cJSON *value)
{
  const char *dup = NULL;
  const cJSON *child;

  /* cJSON's nesting limit (1000) bounds this recursion. */
  for (child = value->child; dup == NULL && child != NULL; child = child->next)
    if (cJSON_IsObject (child) || cJSON_IsArray (child))
      {
        dup = duplicate_in_object (child);
        if (dup == NULL)
          dup = duplicate_below (child);
      }
  return dup;
}

/* A member that parse_envelope keeps as text rather than parsing. */
typedef struct {
  const char *name;
  char        open;   /* the first byte of a value kept as text */
  const char *empty;  /* what the tree holds in its place */
  const char *value;  /* the value, when it begins with open */
  gsize       len;
  guint       seen;   /* how many members of that name */
} Cut;

static gboolean
find_cuts (const char *name, gsize name_len, const char *value, gsize value_len, gpointer user_data,
           GError **error)
{
  Cut *cuts = user_data;
  gsize c;

  for (c = 0; cuts[c].name != NULL; c++)
    if (name_len == strlen (cuts[c].name) && memcmp (name, cuts[c].name, name_len) == 0
        && cuts[c].seen++ == 0 && value[0] == cuts[c].open)
      {
        cuts[c].value = value;
        cuts[c].len = value_len;
      }
  return TRUE;
}

/* Whether text cannot name "items" or "requests": a name written with
 * escapes ("ite\u006ds") holds a backslash, and any other spelling of
 * either is the word between quotes. A loop over the quotes, not memmem:
 * a get's request has a dozen, and two memmem calls cost it 600
 * instructions. */
static gboolean
nothing_to_cut (const char *text, gsize len)
{
  const char *end = text + len, *q = text;

  /* The quotes first: a set's "items" comes within its first few. */
  while ((q = memchr (q, '"', (gsize) (end - q))) != NULL)
    {
      gsize left = (gsize) (end - ++q);

      if ((left >= 6 && memcmp (q, "items\"", 6) == 0) || (left >= 9 && memcmp (q, "requests\"", 9) == 0))
        return FALSE;
    }
  return memchr (text, '\\', len) == NULL;
}

/* The values a request of len bytes may hold outside "items" and
 * "requests". */
gsize
_nms_proto_envelope_budget (gsize len)
{
  return (2 * len + 16 * 1024 * 1024) / 100;
}

/* The request without the values of its "items", which op_set reads
 * from the text itself (json-walk.c): a value then costs about its own
 * size, where a cJSON tree of an array of a million zeros would cost 80 MB.
 * A batch's "requests" are kept as text too, each parsed as a request of
 * its own. What is left is parsed into a tree, within a budget of values
 * that keeps any request under 4 times its size plus 32 MiB: *budget is
 * what is left of it, which a batch's requests share with their batch. */
static gboolean
parse_envelope (NmsRequest *req, gboolean in_batch, NmsProtoInput *input, NmsJson *doc, gsize *budget,
                GError **error)
{
  const char *text = (const char *) input->data, *at = text;
  Cut cuts[] = { { "items", '{', "{}" }, { "requests", '[', "[]" }, { NULL } };
  const Cut *keep[2];
  g_autoptr(GString) envelope = NULL;
  gsize values = 0, n = 0, c;
  gboolean ok, walk = input->len > 0 && text[0] == '{', counted = FALSE;

  /* Text that names no member to cut needs no walk to find one: its one
   * check validates it and counts its values (a get's request then costs
   * 2 k instructions less, of 35 k). Text the check refuses still takes
   * the walk, whose error is the stricter reader's. */
  if (walk && nothing_to_cut (text, input->len) && nms_json_check (text, input->len, &values, NULL))
    {
      walk = FALSE;
      counted = TRUE;
    }
  /* A batch's request is cut from a frame that was checked whole. */
  if (walk
      && !(in_batch ? nms_json_each_member_utf8 (text, input->len, find_cuts, NULL, cuts, error)
                    : nms_json_each_member (text, input->len, find_cuts, cuts, error)))
    return FALSE;
  for (c = 0; cuts[c].name != NULL; c++)
    if (cuts[c].seen == 1 && cuts[c].value != NULL)
      keep[n++] = &cuts[c];
  if (n == 2 && keep[1]->value < keep[0]->value)
    {
      const Cut *first = keep[1];
      keep[1] = keep[0];
      keep[0] = first;
    }
  if (n > 0)
    {
      envelope = g_string_sized_new (input->len + 4);
      for (c = 0; c < n; c++)
        {
          g_string_append_len (envelope, at, keep[c]->value - at);
          g_string_append (envelope, keep[c]->empty);
          at = keep[c]->value + keep[c]->len;
        }
      g_string_append_len (envelope, at, (gssize) (input->len - (gsize) (at - text)));
    }
  if (cuts[0].seen == 1 && cuts[0].value != NULL)
    {
      req->items = cuts[0].value;
      req->items_len = cuts[0].len;
    }
  if (cuts[1].seen == 1 && cuts[1].value != NULL)
    {
      req->requests = cuts[1].value;
      req->requests_len = cuts[1].len;
    }
  if (counted || nms_json_check (envelope ? envelope->str : text, envelope ? envelope->len : input->len, &values, NULL))
    {
      if (values > *budget)
        {
          if (in_batch)
            g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                         "the requests of this batch hold more values outside \"items\" than a batch of its size "
                         "may hold; this one holds %" G_GSIZE_FORMAT "; send it on its own or in a smaller batch",
                         values);
          else
            g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                         "the request holds %" G_GSIZE_FORMAT " values outside \"items\", more than the %" G_GSIZE_FORMAT
                         " a request of %" G_GSIZE_FORMAT " bytes may hold; split it into several requests",
                         values, *budget, input->len);
          return FALSE;
        }
      *budget -= values;
    }
  if (envelope == NULL)
    return nms_json_parse (input->data, input->len, doc, error);
  ok = nms_json_parse ((guint8 *) envelope->str, envelope->len, doc, error);
  sodium_memzero (envelope->str, envelope->len);
  return ok;
}

gboolean
_nms_proto_parse_request (NmsProtoInput *input, gboolean in_batch, gsize *budget, NmsRequest *req,
                          char **id_json, const NmsOpDef **op, GError **error)
{
  NmsJson doc;
  const cJSON *name, *id;
  const char *dup;

  if (!parse_envelope (req, in_batch, input, &doc, budget, error))
    {
      if ((*error)->code == NMS_ERROR_JSON)
        g_prefix_error (error, "the request: ");
      return FALSE;
    }
  req->root = doc.root;
  req->stuffed = doc.stuffed;
  if (!cJSON_IsObject (req->root))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "a request must be a JSON object");
      return FALSE;
    }

  /* A repeated top-level member may be the id itself: echo none. */
  if ((dup = duplicate_in_object (req->root)) != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "the request names the member \"%s\" twice", dup);
      return FALSE;
    }

  id = cJSON_GetObjectItemCaseSensitive (req->root, "id");
  if (id != NULL && !cJSON_IsNull (id))
    {
      gsize len;
      g_autofree char *text = NULL;

      if (!cJSON_IsString (id) && !cJSON_IsNumber (id))
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "\"id\" must be a string or a number");
          return FALSE;
        }
      text = _nms_proto_print_value (req, id, &len);
      if (len > NMS_PROTO_MAX_ID_BYTES)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "\"id\" is longer than %d bytes",
                       NMS_PROTO_MAX_ID_BYTES);
          return FALSE;
        }
      g_free (*id_json);
      *id_json = g_steal_pointer (&text);
    }

  /* Nested ones after the id, so that this error reply carries it. */
  if ((dup = duplicate_below (req->root)) != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST, "the request names the member \"%s\" twice in one object", dup);
      return FALSE;
    }

  name = cJSON_GetObjectItemCaseSensitive (req->root, "op");
  if (!cJSON_IsString (name))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_REQUEST,
                   name == NULL ? "the request has no \"op\"" : "\"op\" must be a string");
      return FALSE;
    }
  *op = _nms_proto_find_op (name->valuestring);
  if (*op == NULL)
    {
      g_autoptr(GString) quoted = g_string_new (NULL);
      nms_json_append_cstring (quoted, name->valuestring);
      g_set_error (error, NMS_ERROR, NMS_ERROR_UNKNOWN_OP, "unknown op %s", quoted->str);
      return FALSE;
    }
  return TRUE;
}
