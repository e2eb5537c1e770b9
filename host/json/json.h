/* SPDX-License-Identifier: MIT */
/* json.h: the JSON value format nmstore keeps and sends.
 *
 * A value is stored as canonical text: the text Chrome's storage would
 * hand back to JavaScript, written the way JSON.stringify writes it.
 *   - Numbers in JavaScript's shortest round-trip form (1e-7, 1e+21,
 *     0.30000000000000004); never rounded.
 *   - Object members sorted by the UTF-8 bytes of their names, at every
 *     depth, as Chrome's base::Value dictionaries keep them.
 *   - Strings escaped as JSON.stringify escapes them; a lone UTF-16
 *     surrogate escape becomes U+FFFD, as Chrome converts it.
 * So two equal values have equal text, and a stored value can be spliced
 * into a reply without parsing it.
 *
 * cJSON parses; it cannot hold U+0000 inside a string, so a text with
 * \u0000 escapes is parsed "stuffed" (see json.c) and every string read
 * from such a tree goes through nms_json_string(). */
#pragma once

#include <cjson/cJSON.h>
#include <glib.h>
#include <string.h>

G_BEGIN_DECLS

typedef struct {
  cJSON   *root;
  gboolean stuffed;  /* strings hold U+FFFF pairs that stand for U+0000 */
} NmsJson;

/* Parses len bytes of UTF-8 JSON (one value, white space around it).
 * Rewrites lone surrogate escapes in text to \uFFFD in place. E_JSON for
 * text that is not UTF-8 or not JSON. */
gboolean nms_json_parse          (guint8 *text, gsize len, NmsJson *doc, GError **error);
/* Whether text is UTF-8 without NUL, as every frame must be: what
 * g_utf8_validate_len checks (setting *bad likewise), with the ASCII runs
 * that make up most requests and replies skipped eight bytes at a time. */
gboolean nms_json_is_utf8        (const char *text, gsize len, const char **bad);
/* The same for text that must not change; it is copied when needed. */
gboolean nms_json_parse_const    (const char *text, gsize len, NmsJson *doc, GError **error);
void     nms_json_clear          (NmsJson *doc);

/* A string of the tree (a value or a member name) as its real bytes, which
 * may hold U+0000: *len is set, and the result is owned by the caller
 * when *owned is set, else it is s itself. */
const char *nms_json_string      (const NmsJson *doc, const char *s, gsize *len, char **owned);

/* Appends value as canonical text. */
void     nms_json_write          (GString *out, const cJSON *value, gboolean stuffed);
/* Appends Chrome's merge of a stored value, given as its text, over a
 * default: members of two objects merge recursively; anywhere else the
 * stored value wins. No tree of the stored value is built, so a large one
 * costs about its own size. */
gboolean nms_json_write_merged_text (GString *out, const cJSON *fallback, gboolean fallback_stuffed,
                                     const char *stored, gsize stored_len, GError **error);
/* Appends a string as JSON.stringify writes it (with its quotes). */
void     nms_json_append_string  (GString *out, const char *text, gsize len);
static inline void
nms_json_append_cstring (GString *out, const char *text)
{
  nms_json_append_string (out, text, strlen (text));
}
/* The bytes nms_json_append_string writes for text, without its two
 * quotes: what a writer that cuts text into JSON strings (frame.c) counts
 * before it writes them. */
gsize    nms_json_escaped_length (const char *text, gsize len);
/* No byte of a string is written as more than this (\u001f). */
#define NMS_JSON_MAX_ESCAPED_BYTE 6

/* Raw bytes as JavaScript sees them: {"$bytes":"<base64>"}, strict base64
 * (base64.h). Appends that text. */
void     nms_json_append_bytes   (GString *out, const guint8 *data, gsize len);
/* Its length, which is also what Chrome counts for it. */
gsize    nms_json_bytes_length   (gsize len);
/* The bytes that canonical text stands for when it is exactly what
 * nms_json_append_bytes writes, else NULL: an object with other members,
 * or a "$bytes" that is not strict base64, is ordinary JSON. Never NULL
 * for bytes, even empty ones; *out_len is set. */
guint8  *nms_json_read_bytes     (const char *canonical, gsize len, gsize *out_len);

/* Appends a number as JavaScript's Number.prototype.toString writes it;
 * NaN and the infinities as null, as JSON.stringify does. */
void     nms_json_append_number  (GString *out, double value);

/* The length of canonical text as Chrome's base::JSONWriter writes the
 * same value, which is what chrome.storage counts: it writes "<" as
 * \u003C and U+2028/U+2029 as escapes, and a number that is not a 32-bit
 * integer as a double: in exponent form from 1e12 up, with ".0" when it
 * has neither a fraction nor an exponent. */
guint64  nms_json_chrome_length  (const char *canonical, gsize len);

/* From text, without a tree (json-scan.c, json-walk.c): a value costs about
 * its size, where a cJSON tree costs about 80 bytes a value. Strict RFC 8259
 * JSON in UTF-8, nested at most 1000 deep. */

/* Appends the canonical text of the one value in text (white space around
 * it allowed). E_JSON for text that is not JSON, E_REQUEST for an object
 * that names a member twice. */
gboolean nms_json_canonicalize   (const char *text, gsize len, GString *out, GError **error);
/* Whether text is one JSON value: the cheap check of stored text before it
 * goes into a reply. *n_values, when asked for, counts the values in it. */
gboolean nms_json_check          (const char *text, gsize len, gsize *n_values, GError **error);
/* Calls visit with each member of the object that text is: its name's
 * bytes (which may hold U+0000) and its value's text, checked but not
 * parsed. The text is checked as it is read, so visit may have seen the
 * first members of a text that is then refused: a visitor only takes note
 * of what it is shown until this returns TRUE. */
typedef gboolean (*NmsJsonMemberFunc) (const char *name, gsize name_len, const char *value, gsize value_len,
                                       gpointer user_data, GError **error);
gboolean nms_json_each_member    (const char *text, gsize len, NmsJsonMemberFunc visit, gpointer user_data,
                                  GError **error);
/* The same for text the caller has already found to be UTF-8 without NUL:
 * a large mapped file, checked a piece at a time, so that the check does
 * not bring all of it into memory at once (archive-import.c). passed,
 * when not NULL, is told (with user_data) after each array element at any
 * depth how far the scan has got: the text before it is not read again
 * until visit is called, with pointers into the current member only. */
typedef void (*NmsJsonPassedFunc) (const char *at, gpointer user_data);
gboolean nms_json_each_member_utf8 (const char *text, gsize len, NmsJsonMemberFunc visit,
                                    NmsJsonPassedFunc passed, gpointer user_data, GError **error);
/* The same again, but visit is given each value's canonical text (as
 * nms_json_canonicalize writes it): a request's "items", whose values are
 * then read once rather than checked and then canonicalized. The value's
 * text is valid only during the call. */
gboolean nms_json_each_member_canonical (const char *text, gsize len, NmsJsonMemberFunc visit, gpointer user_data,
                                         GError **error);
/* Calls visit with each element's text of the array that text is, under
 * the same condition. */
typedef gboolean (*NmsJsonElementFunc) (const char *value, gsize value_len, guint64 index, gpointer user_data,
                                        GError **error);
gboolean nms_json_each_element_utf8 (const char *text, gsize len, NmsJsonElementFunc visit,
                                     NmsJsonPassedFunc passed, gpointer user_data, GError **error);

G_END_DECLS
