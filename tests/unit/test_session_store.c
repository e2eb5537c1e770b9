/* SPDX-License-Identifier: MIT */
/* test_session_store.c: the session functions (host/session/) called
 * directly on a real store that holds the engine's keys in the forms the
 * engine writes them: the index and states as JSON, a .torrent file as a
 * base64 JSON string (the real extension's adapter), an info dictionary
 * as bytes ($bytes). The .torrent bytes are built here from bencode text,
 * with their info-hash computed by GChecksum, so no tool is needed; the
 * integration suite (test_session.c) covers the same through the binary
 * with torrents made by mktorrent. */
#include "harness.h"
#include "storecheck.h"

#include "base/base64.h"
#include "base/error.h"
#include "session/session.h"
#include "store/store.h"

#include <string.h>

typedef struct {
  GBytes *info;     /* the info dictionary's bencode */
  GBytes *torrent;  /* a whole .torrent holding it */
  char   *hash;     /* lowercase hex SHA-1 of info */
} Torrent;

typedef struct {
  char     *home;
  NmsStore *store;
  Torrent   file;    /* a file torrent: index entry, state, torrentfile */
  Torrent   magnet;  /* a magnet torrent: index entry, state, infodict */
} Fixture;

/* A tiny single-file metainfo: name, length, one piece of 16 KiB. */
static void
torrent_make (Torrent *t, const char *name, guint64 length)
{
  g_autoptr(GString) info = g_string_new (NULL);
  g_autoptr(GString) whole = g_string_new (NULL);
  g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);

  g_string_append_printf (info, "d6:lengthi%" G_GUINT64_FORMAT "e4:name%zu:%s12:piece lengthi16384e6:pieces20:",
                          length, strlen (name), name);
  g_string_append_len (info, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\xfa\xfb\xfc\xfd\xfe\xff!\"#$", 20);
  g_string_append_c (info, 'e');
  g_string_append (whole, "d8:announce20:http://tracker/annnn4:info");
  g_string_append_len (whole, info->str, (gssize) info->len);
  g_string_append_c (whole, 'e');
  g_checksum_update (sha1, (const guchar *) info->str, (gssize) info->len);
  t->hash = g_strdup (g_checksum_get_string (sha1));
  t->info = g_bytes_new (info->str, info->len);
  t->torrent = g_bytes_new (whole->str, whole->len);
}

static void
torrent_clear (Torrent *t)
{
  g_clear_pointer (&t->info, g_bytes_unref);
  g_clear_pointer (&t->torrent, g_bytes_unref);
  g_clear_pointer (&t->hash, g_free);
}

static char *
key_of (const Torrent *t, const char *suffix)
{
  return g_strconcat ("session:torrent:", t->hash, suffix, NULL);
}

static char *
b64_of (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return g_base64_encode (data, len);
}

static void
put_bytes (NmsStore *store, const char *key, GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  NmsItem item = { key, strlen (key), NMS_VALUE_BYTES, data, len };
  g_autoptr(GError) error = NULL;

  if (!nms_store_set (store, &item, 1, &error))
    fail_msg ("set %s: %s", key, error->message);
}

/* The index with the two torrents, and extra entries (JSON text, comma
 * first) after them. */
static void
put_index (Fixture *f, const char *extra)
{
  g_autofree char *index = g_strdup_printf (
    "{\"version\":2,\"torrents\":[{\"infoHash\":\"%s\",\"source\":\"file\",\"addedAt\":1767225600000.5},"
    "{\"infoHash\":\"%s\",\"source\":\"magnet\",\"magnetUri\":\"magnet:?xt=urn:btih:%s\"}%s]}",
    f->file.hash, f->magnet.hash, f->magnet.hash, extra);

  nmt_store_set_ok (f->store, "session:torrents", index);
}

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autofree char *dir = NULL;
  g_autofree char *fk = NULL, *fs = NULL, *mk = NULL, *ms = NULL, *file64 = NULL, *quoted = NULL;

  f->home = nmt_make_home ();
  dir = g_build_filename (f->home, "origin", NULL);
  f->store = nmt_store_open (dir, 0);
  torrent_make (&f->file, "alpha.bin", 100);
  torrent_make (&f->magnet, "beta.bin", 200);
  put_index (f, "");
  fk = key_of (&f->file, ":torrentfile");
  fs = key_of (&f->file, ":state");
  mk = key_of (&f->magnet, ":infodict");
  ms = key_of (&f->magnet, ":state");
  file64 = b64_of (f->file.torrent);
  quoted = g_strdup_printf ("\"%s\"", file64);
  nmt_store_set_ok (f->store, fk, quoted);
  nmt_store_set_ok (f->store, fs, "{\"ratio\":0.30000000000000004,\"uploaded\":9007199254740991}");
  put_bytes (f->store, mk, f->magnet.info);
  nmt_store_set_ok (f->store, ms, "{\"paused\":true}");
  /* Not the session's: nothing here may touch it. */
  nmt_store_set_ok (f->store, "settings", "{\"theme\":\"dark\"}");
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  nms_store_free (f->store);
  torrent_clear (&f->file);
  torrent_clear (&f->magnet);
  nmt_remove_tree (f->home);
  g_free (f->home);
  g_free (f);
  return 0;
}

/* A call's reply members, wrapped into the object the protocol sends. */
static cJSON *
reply_of (GString *out)
{
  g_autofree char *text = g_strconcat ("{", out->str, "}", NULL);
  cJSON *reply = cJSON_Parse (text);

  if (reply == NULL)
    fail_msg ("not JSON: %s", text);
  return reply;
}

static void
assert_bytes (const cJSON *value, GBytes *expected)
{
  g_autofree char *b64 = b64_of (expected);
  const cJSON *inner = cJSON_GetObjectItemCaseSensitive (value, "$bytes");

  if (!cJSON_IsString (inner) || !g_str_equal (inner->valuestring, b64))
    fail_msg ("expected {\"$bytes\":\"%s\"}, got %s", b64, cJSON_PrintUnformatted (value));
}

static gboolean
has_finding (const cJSON *list, const char *code, const char *hash, const char *severity)
{
  const cJSON *p;

  cJSON_ArrayForEach (p, list)
    if (g_str_equal (cJSON_GetObjectItem (p, "code")->valuestring, code)
        && g_strcmp0 (cJSON_GetStringValue (cJSON_GetObjectItem (p, "infoHash")), hash) == 0
        && g_str_equal (cJSON_GetObjectItem (p, "severity")->valuestring, severity))
      return TRUE;
  return FALSE;
}

static void
test_restore_returns_every_form (void **state)
{
  Fixture *f = *state;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cJSON) reply = NULL;
  const cJSON *torrents, *t;

  if (!nms_session_restore (f->store, NULL, out, &error))
    fail_msg ("restore: %s", error->message);
  /* States and the index exactly as get gives them: no number rounded. */
  assert_non_null (strstr (out->str, "\"state\":{\"ratio\":0.30000000000000004,\"uploaded\":9007199254740991}"));
  assert_non_null (strstr (out->str, "\"addedAt\":1767225600000.5"));
  reply = reply_of (out);
  assert_string_equal (cJSON_GetObjectItem (reply, "prefix")->valuestring, "session:");
  assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (reply, "problems")), 0);
  assert_int_equal (cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "index"), "version")->valueint, 2);
  torrents = cJSON_GetObjectItem (reply, "torrents");
  assert_int_equal (cJSON_GetArraySize (torrents), 2);

  t = cJSON_GetArrayItem (torrents, 0);
  assert_string_equal (cJSON_GetObjectItem (t, "infoHash")->valuestring, f->file.hash);
  assert_string_equal (cJSON_GetObjectItem (cJSON_GetObjectItem (t, "entry"), "source")->valuestring, "file");
  /* The base64 string the adapter wrote comes back as the bytes it holds. */
  assert_bytes (cJSON_GetObjectItem (t, "torrentfile"), f->file.torrent);
  assert_true (cJSON_IsNull (cJSON_GetObjectItem (t, "infodict")));

  t = cJSON_GetArrayItem (torrents, 1);
  assert_string_equal (cJSON_GetObjectItem (t, "infoHash")->valuestring, f->magnet.hash);
  assert_bytes (cJSON_GetObjectItem (t, "infodict"), f->magnet.info);
  assert_true (cJSON_IsNull (cJSON_GetObjectItem (t, "torrentfile")));
  assert_true (cJSON_IsTrue (cJSON_GetObjectItem (cJSON_GetObjectItem (t, "state"), "paused")));
}

/* The same session under another prefix is that prefix's alone. */
static void
test_restore_of_an_empty_prefix (void **state)
{
  Fixture *f = *state;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cJSON) reply = NULL;

  assert_true (nms_session_restore (f->store, "other:", out, &error));
  reply = reply_of (out);
  assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (reply, "torrents")), 0);
  assert_true (cJSON_IsNull (cJSON_GetObjectItem (reply, "index")));
}

static void
test_remove_takes_exactly_its_keys (void **state)
{
  Fixture *f = *state;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cJSON) reply = NULL, index = NULL;
  g_autofree char *keys = NULL, *expected = NULL, *upper = g_ascii_strup (f->file.hash, -1);
  g_autofree char *fk = key_of (&f->file, ":torrentfile"), *fs = key_of (&f->file, ":state");
  const cJSON *removed, *list;

  if (!nms_session_remove_torrent (f->store, NULL, f->file.hash, out, &error))
    fail_msg ("remove: %s", error->message);
  reply = reply_of (out);
  assert_true (cJSON_IsTrue (cJSON_GetObjectItem (reply, "indexUpdated")));
  removed = cJSON_GetObjectItem (reply, "removed");
  assert_int_equal (cJSON_GetArraySize (removed), 2);
  assert_string_equal (cJSON_GetArrayItem (removed, 0)->valuestring, fs);
  assert_string_equal (cJSON_GetArrayItem (removed, 1)->valuestring, fk);

  keys = nmt_store_keys (f->store, NULL);
  expected = g_strconcat ("session:torrent:", f->magnet.hash, ":infodict,session:torrent:", f->magnet.hash,
                          ":state,session:torrents,settings", NULL);
  assert_string_equal (keys, expected);

  /* The index keeps the other torrent's entry as it was. */
  g_string_truncate (out, 0);
  assert_true (nms_session_restore (f->store, NULL, out, &error));
  g_clear_pointer (&reply, cJSON_Delete);
  reply = reply_of (out);
  list = cJSON_GetObjectItem (cJSON_GetObjectItem (reply, "index"), "torrents");
  assert_int_equal (cJSON_GetArraySize (list), 1);
  assert_string_equal (cJSON_GetObjectItem (cJSON_GetArrayItem (list, 0), "infoHash")->valuestring, f->magnet.hash);

  /* Again, in capitals as a person may type it: accepted, nothing left
   * to remove, and the index not rewritten. */
  g_string_truncate (out, 0);
  assert_true (nms_session_remove_torrent (f->store, NULL, upper, out, &error));
  assert_string_equal (out->str, "\"indexUpdated\":false,\"removed\":[]");
}

static void
test_remove_refuses_what_is_not_a_hash (void **state)
{
  Fixture *f = *state;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = nmt_store_keys (f->store, NULL), *after = NULL;
  g_autofree char *short_hash = g_strndup (f->file.hash, 39);

  assert_false (nms_session_remove_torrent (f->store, NULL, "../settings", out, &error));
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_REQUEST));
  assert_non_null (strstr (error->message, "40 hex digits"));
  g_clear_error (&error);
  assert_false (nms_session_remove_torrent (f->store, NULL, short_hash, out, &error));
  assert_int_equal (out->len, 0);
  after = nmt_store_keys (f->store, NULL);
  assert_string_equal (after, before);
  assert_true (nms_session_is_info_hash (f->file.hash));
  assert_false (nms_session_is_info_hash (short_hash));
}

/* A sound session has nothing to report but the magnet that waits. */
static void
test_check_of_a_sound_session (void **state)
{
  Fixture *f = *state;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cJSON) reply = NULL;

  if (!nms_session_check (f->store, NULL, FALSE, out, &error))
    fail_msg ("check: %s", error->message);
  reply = reply_of (out);
  assert_int_equal (cJSON_GetObjectItem (reply, "problems")->valueint, 0);
  assert_int_equal (cJSON_GetObjectItem (reply, "torrents")->valueint, 2);
  assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (reply, "findings")), 0);
}

static void
test_check_finds_missing_metadata_and_bad_entries (void **state)
{
  Fixture *f = *state;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cJSON) reply = NULL, after = NULL;
  g_autofree char *mk = key_of (&f->magnet, ":infodict");
  g_autofree char *fk = key_of (&f->file, ":torrentfile");
  g_autofree char *extra = NULL, *keys_before = NULL, *keys_after = NULL;
  const char *lost = "00112233445566778899aabbccddeeff00112233";
  const char *gone[] = { mk };
  const cJSON *findings;

  /* A file torrent with no key at all, an entry without an infoHash, the
   * magnet's infodict gone, and a torrentfile whose info is another's. */
  extra = g_strdup_printf (",{\"infoHash\":\"%s\",\"source\":\"file\"},{\"source\":\"file\"}", lost);
  put_index (f, extra);
  assert_true (nms_store_remove (f->store, gone, 1, &error));
  put_bytes (f->store, fk, f->magnet.torrent);
  keys_before = nmt_store_keys (f->store, NULL);

  if (!nms_session_check (f->store, NULL, FALSE, out, &error))
    fail_msg ("check: %s", error->message);
  reply = reply_of (out);
  findings = cJSON_GetObjectItem (reply, "findings");
  assert_true (has_finding (findings, "no-metadata", lost, "problem"));
  assert_true (has_finding (findings, "bad-entry", NULL, "problem"));
  assert_true (has_finding (findings, "no-metadata", f->magnet.hash, "info"));
  assert_true (has_finding (findings, "hash-mismatch", f->file.hash, "problem"));
  assert_int_equal (cJSON_GetObjectItem (reply, "problems")->valueint, 3);
  assert_false (cJSON_IsTrue (cJSON_GetObjectItem (reply, "repaired")));
  /* Without repair, check writes nothing. */
  keys_after = nmt_store_keys (f->store, NULL);
  assert_string_equal (keys_after, keys_before);

  /* Repair leaves a session with only the magnet's waiting to report. */
  g_string_truncate (out, 0);
  if (!nms_session_check (f->store, NULL, TRUE, out, &error))
    fail_msg ("repair: %s", error->message);
  g_string_truncate (out, 0);
  assert_true (nms_session_check (f->store, NULL, FALSE, out, &error));
  after = reply_of (out);
  if (cJSON_GetObjectItem (after, "problems")->valueint != 0)
    fail_msg ("after repair: %s", out->str);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_restore_returns_every_form, setup, teardown),
    cmocka_unit_test_setup_teardown (test_restore_of_an_empty_prefix, setup, teardown),
    cmocka_unit_test_setup_teardown (test_remove_takes_exactly_its_keys, setup, teardown),
    cmocka_unit_test_setup_teardown (test_remove_refuses_what_is_not_a_hash, setup, teardown),
    cmocka_unit_test_setup_teardown (test_check_of_a_sound_session, setup, teardown),
    cmocka_unit_test_setup_teardown (test_check_finds_missing_metadata_and_bad_entries, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
