/* SPDX-License-Identifier: MIT */
/* session-forms.c: one stored key of the engine's session read and
 * written in whatever form it holds: JSON, bytes of JSON text, bencode,
 * and the base64 layers that JSTorrent versions and the chrome.storage.local
 * adapter put around them. Knows nothing of the session itself (its index,
 * torrents and findings), which is in session.c. */
#include "session-private.h"
#include "base/base64.h"
#include "json/json.h"

#include <string.h>

void
_nms_session_raw_clear (SessionRaw *raw)
{
  g_clear_pointer (&raw->value, g_bytes_unref);
  raw->found = FALSE;
}

static gboolean
keep_raw (const NmsItem *item, gpointer user_data, GError **error)
{
  SessionRaw *raw = user_data;

  raw->found = TRUE;
  raw->kind = item->kind;
  raw->value = g_bytes_new (item->value, item->value_len);
  return TRUE;
}

gboolean
_nms_session_read (NmsStore *store, const char *key, SessionRaw *raw, GError **error)
{
  _nms_session_raw_clear (raw);
  return nms_store_get (store, key, strlen (key), keep_raw, raw, error);
}

/* The base64 text inside a JSON string decoded, or NULL when the string
 * is not strict base64. The real extension's chrome.storage.local adapter
 * keeps every ISessionStore.set() value in this form. */
static GBytes *
decode_string (const char *text)
{
  gsize out_len;
  guint8 *decoded = nms_base64_decode_strict (text, strlen (text), &out_len);

  return decoded != NULL ? g_bytes_new_take (decoded, out_len) : NULL;
}

/* Parses JSON text with the value format's parser (json.h), so that the
 * numbers are the ones that were stored. A value holding U+0000 is not
 * read here: the session ops reply with the members they read through
 * cJSON, which cannot hold it, and the engine never writes one. */
static cJSON *
session_parse_json (const char *text, gsize len, const char **why)
{
  NmsJson doc;

  if (!nms_json_parse_const (text, len, &doc, NULL))
    {
      *why = "JSON that does not parse";
      return NULL;
    }
  if (doc.stuffed)
    {
      nms_json_clear (&doc);
      *why = "JSON holding U+0000, which the engine never writes (read it with get)";
      return NULL;
    }
  return doc.root;
}

/* A JSON value, stored as JSON or as bytes of UTF-8 JSON text, or (what an
 * engine's set() of JSON text leaves in chrome.storage.local) as a JSON
 * string of base64 of that text. A string counts as that last form only
 * when it decodes to a JSON object or array: the index and states are
 * objects, and any other string stays the string it is. */
cJSON *
_nms_session_raw_json (const SessionRaw *raw, const char **why)
{
  gsize len;
  const char *text = g_bytes_get_data (raw->value, &len);
  cJSON *value;

  if (raw->kind == NMS_VALUE_BYTES && !g_utf8_validate_len (text, len, NULL))
    {
      *why = "bytes that are not UTF-8 JSON text";
      return NULL;
    }
  value = session_parse_json (text, len, why);
  if (raw->kind == NMS_VALUE_JSON && cJSON_IsString (value))
    {
      g_autoptr(GBytes) inner = decode_string (value->valuestring);
      gsize inner_len;
      const char *inner_text = inner ? g_bytes_get_data (inner, &inner_len) : NULL;
      const char *inner_why = NULL;
      cJSON *parsed = inner_text && g_utf8_validate_len (inner_text, inner_len, NULL)
                      ? session_parse_json (inner_text, inner_len, &inner_why) : NULL;

      if (cJSON_IsObject (parsed) || cJSON_IsArray (parsed))
        {
          cJSON_Delete (value);
          return parsed;
        }
      cJSON_Delete (parsed);
    }
  return value;
}

/* Bencode as the engine reads it with get(), in every form a JSTorrent
 * version or adapter wrote it:
 *
 *  - raw bytes (today's engine, through nmstore's {"$bytes"});
 *  - bytes of base64 text (engines from the v2 schema until they stopped
 *    encoding it themselves, jstorrent dfa968a);
 *  - a JSON string of base64 (the real extension's chrome.storage.local,
 *    which stores every set() value as base64), and so, for those older
 *    engines, a JSON string of base64 of base64 text.
 *
 * So at most two layers of base64 are taken off, one of them base64 text
 * inside the stored bytes or string. Raw bencode of a
 * dictionary starts with 'd', which base64 text also may; a layer that
 * parses as bencode wins. *doc, when asked for, is the parse of the bytes
 * returned; when they are not bencode it is NULL and the bytes are the
 * innermost layer, so that the caller's own parse says what is wrong. */
GBytes *
_nms_session_raw_bencode (const SessionRaw *raw, NmsBencodeDoc **doc, const char **why)
{
  g_autoptr(GBytes) bytes = NULL;
  guint layer;

  if (raw->kind == NMS_VALUE_BYTES)
    bytes = g_bytes_ref (raw->value);
  else
    {
      gsize len;
      const char *text = g_bytes_get_data (raw->value, &len);
      g_autoptr(cJSON) value = cJSON_ParseWithLength (text, len);

      if (!cJSON_IsString (value))
        {
          *why = "a JSON value that is not a base64 string";
          return NULL;
        }
      if ((bytes = decode_string (value->valuestring)) == NULL)
        {
          *why = "a JSON string that is not base64";
          return NULL;
        }
    }
  for (layer = 0;; layer++)
    {
      gsize len, out_len;
      const char *data = g_bytes_get_data (bytes, &len);
      guint8 *decoded;

      if (len > 0 && data[0] == 'd')
        {
          g_autoptr(NmsBencodeDoc) parsed = nms_bencode_parse ((const guint8 *) data, len, NULL);
          if (parsed != NULL)
            {
              if (doc != NULL)
                *doc = g_steal_pointer (&parsed);
              return g_steal_pointer (&bytes);
            }
        }
      if (layer == 1 || (decoded = nms_base64_decode_strict (data, len, &out_len)) == NULL)
        break;
      g_bytes_unref (bytes);
      bytes = g_bytes_new_take (decoded, out_len);
    }
  if (raw->kind == NMS_VALUE_BYTES && layer == 0 && (g_bytes_get_size (bytes) == 0
                                                     || *(const char *) g_bytes_get_data (bytes, NULL) != 'd'))
    {
      *why = "neither bencode nor base64 text of it";
      return NULL;
    }
  return g_steal_pointer (&bytes);
}

/* Writes value as JSON, or as bytes of its JSON text: the form the engine's
 * own writes of this session use. */
gboolean
_nms_session_write_json (NmsStore *store, const char *key, NmsValueKind form, const cJSON *value, GError **error)
{
  g_autoptr(GString) text = g_string_new (NULL);
  NmsItem item = { key, strlen (key), form, NULL, 0 };

  /* The canonical text, as a set of the same value from the browser. */
  nms_json_write (text, value, FALSE);
  item.value = (const guint8 *) text->str;
  item.value_len = text->len;

  return nms_store_set (store, &item, 1, error);
}
