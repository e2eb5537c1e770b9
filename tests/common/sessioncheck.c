/* SPDX-License-Identifier: MIT */
/* sessioncheck.c: see sessioncheck.h. */
#include "sessioncheck.h"
#include "base/base64.h"
#include "session/bencode.h"

#include <glib/gstdio.h>
#include <string.h>

void
nmt_session_torrent_free (NmtSessionTorrent *t)
{
  g_free (t->hash);
  g_bytes_unref (t->torrent);
  g_bytes_unref (t->info);
  g_free (t->name);
  g_free (t);
}

void
nmt_session_fill_file (const char *path, gsize len, guint32 seed)
{
  g_autofree guint8 *data = g_malloc (len);
  gsize i;

  for (i = 0; i < len; i++)
    {
      seed = seed * 1103515245u + 12345u;
      data[i] = (guint8) (seed >> 16);
    }
  assert_true (g_file_set_contents (path, (const char *) data, (gssize) len, NULL));
}

/* Runs mktorrent on target and reads the result back with nmstore's decoder. */
NmtSessionTorrent *
nmt_session_make_torrent (const char *target, int piece_exp)
{
  g_autofree char *out = g_strconcat (target, ".torrent", NULL);
  g_autofree char *l = g_strdup_printf ("%d", piece_exp);
  const char *argv[] = { "mktorrent", "-a", "http://tracker.invalid/announce", "-l", l, "-o", out, target, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsBencodeDoc) doc = NULL;
  g_autofree char *text = NULL;
  NmtSessionTorrent *t = g_new0 (NmtSessionTorrent, 1);
  NmsMetainfo m;
  gsize len;
  int status;

  g_unlink (out);
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error) || !g_spawn_check_wait_status (status, &error))
    fail_msg ("mktorrent failed: %s", error->message);
  assert_true (g_file_get_contents (out, &text, &len, NULL));
  t->torrent = g_bytes_new (text, len);
  doc = nms_bencode_parse ((const guint8 *) text, len, &error);
  assert_non_null (doc);
  {
    const NmsBencode *info = nms_bencode_lookup (doc, nms_bencode_root (doc), "info");
    assert_non_null (info);
    t->info = g_bytes_new (info->raw, info->raw_len);
  }
  assert_true (nms_bencode_metainfo ((const guint8 *) text, len, NMS_METAINFO_TORRENT_FILE, &m, &error));
  t->hash = g_strdup (m.info_hash);
  t->name = g_strdup (m.name);
  t->size = m.total_size;
  t->pieces = m.piece_count;
  t->files = m.file_count;
  nms_metainfo_clear (&m);
  return t;
}

NmtSessionTorrent *
nmt_session_single_file_torrent (const char *work, guint seed, gsize size)
{
  g_autofree char *path = g_strdup_printf ("%s/file-%u.bin", work, seed);
  nmt_session_fill_file (path, size, seed);
  return nmt_session_make_torrent (path, 15);
}

char *
nmt_session_b64 (GBytes *bytes)
{
  g_autoptr(GString) s = g_string_new (NULL);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  nms_base64_append (s, data, len);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* {"$bytes": base64(data)} */
cJSON *
nmt_session_bytes_json (const void *data, gsize len)
{
  g_autoptr(GBytes) b = g_bytes_new (data, len);
  g_autofree char *text = nmt_session_b64 (b);
  cJSON *v = cJSON_CreateObject ();

  cJSON_AddStringToObject (v, "$bytes", text);
  return v;
}

/* The engine's TextEncoder(JSON.stringify(value)) as {"$bytes"}. */
cJSON *
nmt_session_json_as_bytes (const cJSON *value)
{
  g_autofree char *text = cJSON_PrintUnformatted (value);
  return nmt_session_bytes_json (text, strlen (text));
}

void
nmt_session_call_ok (NmtHost *host, cJSON *request)
{
  g_autofree char *text = cJSON_PrintUnformatted (request);

  nmt_host_call_ok (host, text);
}

cJSON *
nmt_session_call (NmtHost *host, const char *text)
{
  cJSON *reply = nmt_host_call (host, text);
  nmt_assert_ok (reply);
  return reply;
}

cJSON *
nmt_session_set_request (void)
{
  cJSON *r = cJSON_CreateObject ();
  cJSON_AddStringToObject (r, "op", "set");
  cJSON_AddObjectToObject (r, "items");
  return r;
}

char *
nmt_session_key (const char *hash, const char *suffix)
{
  return g_strconcat ("session:torrent:", hash, suffix, NULL);
}

cJSON *
nmt_session_state_for (guint i, guint64 pieces)
{
  /* Every hex digit, in both cases, so that the summary's progress is
   * counted from each of them. */
  static const char *const pairs[] = { "ff", "0f", "12", "34", "56", "78", "9a", "bc", "de", "AB", "CD", "EF" };
  cJSON *s = cJSON_CreateObject ();
  g_autoptr(GString) bf = g_string_new (NULL);
  guint64 b;

  cJSON_AddStringToObject (s, "userState", i % 3 ? "active" : "stopped");
  cJSON_AddNumberToObject (s, "queuePosition", i);
  for (b = 0; b < (pieces + 7) / 8; b++)
    g_string_append (bf, pairs[b % G_N_ELEMENTS (pairs)]);
  cJSON_AddStringToObject (s, "bitfield", bf->str);
  cJSON_AddNumberToObject (s, "uploaded", i * 1000.0);
  cJSON_AddNumberToObject (s, "downloaded", i * 3000.0 + 1);
  cJSON_AddNumberToObject (s, "updatedAt", 1700000000000.0 + i);
  return s;
}

cJSON *
nmt_session_member (const cJSON *o, const char *name)
{
  return cJSON_GetObjectItemCaseSensitive (o, name);
}

void
nmt_session_assert_bytes_member (const cJSON *o, const char *name, GBytes *expected)
{
  const cJSON *v = nmt_session_member (nmt_session_member (o, name), "$bytes");
  g_autofree char *want = nmt_session_b64 (expected);

  assert_true (cJSON_IsString (v));
  assert_string_equal (v->valuestring, want);
}

gboolean
nmt_session_prepare (const char *suite, int argc, char **argv)
{
  g_autofree char *mktorrent = g_find_program_in_path ("mktorrent");

  if (mktorrent == NULL)
    {
      g_printerr ("%s: SKIPPED: mktorrent is not installed; install it (apt-get install mktorrent, as "
                  "tests/run.sh does) to run these tests\n", suite);
      return FALSE;
    }
  if (argc > 1)
    cmocka_set_test_filter (argv[1]);
  return TRUE;
}

int
nmt_session_setup (void **state)
{
  *state = nmt_make_home ();
  return 0;
}

int
nmt_session_teardown (void **state)
{
  nmt_remove_tree (*state);
  g_free (*state);
  return 0;
}
