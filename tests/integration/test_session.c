/* SPDX-License-Identifier: MIT */
/* test_session.c: the session ops and commands on real .torrent files made
 * by Debian's mktorrent over generated data, with info dictionaries cut out
 * of them by nmstore's own decoder. Needs mktorrent (tests/run.sh installs
 * it); without it the whole suite is skipped, and says so. */
#include "harness.h"
#include "base/base64.h"
#include "session/bencode.h"
#include "session/session.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <math.h>
#include <string.h>

#define N_RESTORE 1000
#define N_V1      50

typedef struct {
  char   *hash;
  GBytes *torrent;  /* the whole .torrent */
  GBytes *info;     /* its info dictionary's bytes */
  char   *name;
  guint64 size, pieces, files;
} Torrent;

static char *work;  /* scratch directory for data and .torrent files */

static void
torrent_free (Torrent *t)
{
  g_free (t->hash);
  g_bytes_unref (t->torrent);
  g_bytes_unref (t->info);
  g_free (t->name);
  g_free (t);
}

static void
fill (const char *path, gsize len, guint32 seed)
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
static Torrent *
make_torrent (const char *target, int piece_exp)
{
  g_autofree char *out = g_strconcat (target, ".torrent", NULL);
  g_autofree char *l = g_strdup_printf ("%d", piece_exp);
  const char *argv[] = { "mktorrent", "-a", "http://tracker.invalid/announce", "-l", l, "-o", out, target, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsBencodeDoc) doc = NULL;
  g_autofree char *text = NULL;
  Torrent *t = g_new0 (Torrent, 1);
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

static Torrent *
single_file_torrent (guint seed, gsize size)
{
  g_autofree char *path = g_strdup_printf ("%s/file-%u.bin", work, seed);
  fill (path, size, seed);
  return make_torrent (path, 15);
}

static char *
b64 (GBytes *bytes)
{
  g_autoptr(GString) s = g_string_new (NULL);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  nms_base64_append (s, data, len);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* {"$bytes": base64(data)} */
static cJSON *
bytes_json (const void *data, gsize len)
{
  g_autoptr(GBytes) b = g_bytes_new (data, len);
  g_autofree char *text = b64 (b);
  cJSON *v = cJSON_CreateObject ();

  cJSON_AddStringToObject (v, "$bytes", text);
  return v;
}

/* The engine's TextEncoder(JSON.stringify(value)) as {"$bytes"}. */
static cJSON *
json_as_bytes (const cJSON *value)
{
  g_autofree char *text = cJSON_PrintUnformatted (value);
  return bytes_json (text, strlen (text));
}

static void
call_ok (NmtHost *host, cJSON *request)
{
  g_autofree char *text = cJSON_PrintUnformatted (request);
  g_autoptr(cJSON) reply = nmt_host_call (host, text);

  nmt_assert_ok (reply);
}

static cJSON *
call (NmtHost *host, const char *text)
{
  cJSON *reply = nmt_host_call (host, text);
  nmt_assert_ok (reply);
  return reply;
}

static cJSON *
set_request (void)
{
  cJSON *r = cJSON_CreateObject ();
  cJSON_AddStringToObject (r, "op", "set");
  cJSON_AddObjectToObject (r, "items");
  return r;
}

static char *
key_of (const char *hash, const char *suffix)
{
  return g_strconcat ("session:torrent:", hash, suffix, NULL);
}

static cJSON *
state_for (guint i, guint64 pieces)
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

static cJSON *
member (const cJSON *o, const char *name)
{
  return cJSON_GetObjectItemCaseSensitive (o, name);
}

static void
assert_bytes_member (const cJSON *o, const char *name, GBytes *expected)
{
  const cJSON *v = member (member (o, name), "$bytes");
  g_autofree char *want = b64 (expected);

  assert_true (cJSON_IsString (v));
  assert_string_equal (v->valuestring, want);
}

/* 1,000 torrents in every stored form the engine or setJson may leave,
 * then one sessionRestore compared item by item with what was written. */
static void
test_restore_1000 (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) torrents = g_ptr_array_new_with_free_func ((GDestroyNotify) torrent_free);
  g_autoptr(cJSON) index = cJSON_CreateObject ();
  g_autoptr(cJSON) states = cJSON_CreateArray ();
  g_autoptr(cJSON) req = NULL, reply = NULL;
  cJSON *list = NULL, *items, *t;
  g_autofree char *reply_text = NULL, *printed = NULL;
  gsize text_len = 0;
  guint i, n_frames = 0;
  gint64 start;

  cJSON_AddNumberToObject (index, "version", 2);
  list = cJSON_AddArrayToObject (index, "torrents");
  start = g_get_monotonic_time ();
  for (i = 0; i < N_RESTORE; i++)
    g_ptr_array_add (torrents, single_file_torrent (i, 2000 + i * 37));
  g_print ("# made %u torrents with mktorrent in %.1f s\n", N_RESTORE, (g_get_monotonic_time () - start) / 1e6);

  for (i = 0; i < N_RESTORE; i++)
    {
      Torrent *tr = torrents->pdata[i];
      g_autofree char *sk = key_of (tr->hash, ":state");
      g_autofree char *fk = key_of (tr->hash, ":torrentfile");
      g_autofree char *dk = key_of (tr->hash, ":infodict");
      cJSON *entry = cJSON_CreateObject ();
      cJSON *st = state_for (i, tr->pieces);
      gsize len;
      const guint8 *raw = g_bytes_get_data (tr->torrent, &len);
      g_autofree char *text = b64 (tr->torrent);

      if (req == NULL)
        req = set_request ();
      items = member (req, "items");
      cJSON_AddStringToObject (entry, "infoHash", tr->hash);
      cJSON_AddStringToObject (entry, "source", i % 4 == 3 ? "magnet" : "file");
      if (i % 4 == 3)
        {
          g_autofree char *uri = g_strconcat ("magnet:?xt=urn:btih:", tr->hash, NULL);
          cJSON_AddStringToObject (entry, "magnetUri", uri);
        }
      cJSON_AddNumberToObject (entry, "addedAt", 1600000000000.0 + i);
      cJSON_AddItemToArray (list, entry);
      cJSON_AddItemToArray (states, cJSON_Duplicate (st, TRUE));
      /* half the states as the engine writes them, half as setJson does */
      cJSON_AddItemToObject (items, sk, i % 2 ? json_as_bytes (st) : st);
      if (i % 2)
        cJSON_Delete (st);
      switch (i % 4)
        {
        case 0: cJSON_AddItemToObject (items, fk, bytes_json (raw, len)); break;          /* raw bytes */
        case 1: cJSON_AddItemToObject (items, fk, bytes_json (text, strlen (text))); break; /* engine: base64 text */
        case 2: cJSON_AddStringToObject (items, fk, text); break;                          /* JSON string */
        default:
          {
            g_autofree char *info64 = b64 (tr->info);
            cJSON_AddItemToObject (items, dk, bytes_json (info64, strlen (info64)));
          }
        }
      if (i % 100 == 99)
        {
          call_ok (host, req);
          g_clear_pointer (&req, cJSON_Delete);
        }
    }
  /* A long member the engine does not read, with quotes, escapes and
   * UTF-8, takes the reply past 1 MiB so that it comes in chunks. */
  {
    g_autoptr(GString) note = g_string_new (NULL);
    while (note->len < 512 * 1024)
      g_string_append (note, "\"quoted\" \\ tab\t \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80 ");
    cJSON_AddStringToObject (index, "note", note->str);
  }
  req = set_request ();
  cJSON_AddItemToObject (member (req, "items"), "session:torrents", json_as_bytes (index));
  cJSON_AddItemToObject (member (req, "items"), "session:dht:state", cJSON_CreateString ("unrelated"));
  call_ok (host, req);

  start = g_get_monotonic_time ();
  assert_true (nmt_host_send (host, "{\"id\":1,\"op\":\"sessionRestore\"}"));
  reply_text = nmt_host_recv_text (host, &text_len, &n_frames);
  g_print ("# sessionRestore of %u torrents: %.1f ms, %" G_GSIZE_FORMAT " bytes in %u frames\n", N_RESTORE,
           (g_get_monotonic_time () - start) / 1e3, text_len, n_frames);
  reply = cJSON_Parse (reply_text);
  nmt_assert_ok (reply);
  /* The host writes this reply as text, torrent by torrent, and streams it
   * out in chunk frames: put back together it is byte for byte the text
   * cJSON prints for the whole reply, as when it was built as one tree. */
  assert_true (n_frames >= 2);
  printed = cJSON_PrintUnformatted (reply);
  assert_int_equal (strlen (printed), text_len);
  assert_string_equal (printed, reply_text);
  assert_int_equal (cJSON_GetArraySize (member (reply, "problems")), 0);
  assert_string_equal (member (reply, "prefix")->valuestring, "session:");
  assert_true (cJSON_Compare (member (reply, "index"), index, TRUE));
  assert_int_equal (cJSON_GetArraySize (member (reply, "torrents")), N_RESTORE);
  i = 0;
  cJSON_ArrayForEach (t, member (reply, "torrents"))
    {
      Torrent *tr = torrents->pdata[i];
      assert_string_equal (member (t, "infoHash")->valuestring, tr->hash);
      assert_true (cJSON_Compare (member (t, "entry"), cJSON_GetArrayItem (list, (int) i), TRUE));
      assert_true (cJSON_Compare (member (t, "state"), cJSON_GetArrayItem (states, (int) i), TRUE));
      if (i % 4 == 3)
        {
          assert_true (cJSON_IsNull (member (t, "torrentfile")));
          assert_bytes_member (t, "infodict", tr->info);
        }
      else
        {
          assert_bytes_member (t, "torrentfile", tr->torrent);
          assert_true (cJSON_IsNull (member (t, "infodict")));
        }
      i++;
    }
  nmt_remove_tree (home);
}

/* Single-file, multi-file and a .torrent over 1 MiB: the summary reads
 * name, size, pieces and files from them, and progress from the bitfield. */
static void
test_summary_real_torrents (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *dir = g_strdup_printf ("%s/multi", work);
  g_autofree char *big = g_strdup_printf ("%s/many-files", work);
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) torrent_free);
  g_autoptr(cJSON) req = set_request (), index = cJSON_CreateObject (), reply = NULL;
  cJSON *entries, *t;
  guint i;

  g_mkdir_with_parents (dir, 0700);
  g_mkdir_with_parents (big, 0700);
  for (i = 0; i < 5; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s/part-%u.dat", dir, i);
      fill (p, 40000 + i * 1000, 100 + i);
    }
  /* Long names make a .torrent over 1 MiB from little data. */
  for (i = 0; i < 5500; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s/%0180u.dat", big, i);
      fill (p, 16 + i % 7, 1000 + i);
    }
  g_ptr_array_add (list, single_file_torrent (9000, 123457));
  g_ptr_array_add (list, make_torrent (dir, 15));
  g_ptr_array_add (list, make_torrent (big, 15));
  assert_true (g_bytes_get_size (((Torrent *) list->pdata[2])->torrent) > 1024 * 1024);
  /* More pieces than state_for's twelve digit pairs cover, and not a
   * multiple of 8: progress counts whole bytes of the bitfield, every hex
   * digit among them, and then the first bits of the last byte. */
  g_ptr_array_add (list, single_file_torrent (9001, 4000000));
  assert_true (((Torrent *) list->pdata[3])->pieces > 8 * 12 && ((Torrent *) list->pdata[3])->pieces % 8 != 0);

  cJSON_AddNumberToObject (index, "version", 2);
  entries = cJSON_AddArrayToObject (index, "torrents");
  for (i = 0; i < list->len; i++)
    {
      Torrent *tr = list->pdata[i];
      g_autofree char *fk = key_of (tr->hash, ":torrentfile");
      g_autofree char *sk = key_of (tr->hash, ":state");
      g_autofree char *text = b64 (tr->torrent);
      cJSON *e = cJSON_CreateObject ();
      g_autoptr(cJSON) st = state_for (i + 1, tr->pieces);

      cJSON_AddStringToObject (e, "infoHash", tr->hash);
      cJSON_AddStringToObject (e, "source", "file");
      cJSON_AddNumberToObject (e, "addedAt", 1700000000000.0);
      cJSON_AddItemToArray (entries, e);
      cJSON_AddItemToObject (member (req, "items"), fk, bytes_json (text, strlen (text)));
      cJSON_AddItemToObject (member (req, "items"), sk, json_as_bytes (st));
    }
  cJSON_AddItemToObject (member (req, "items"), "session:torrents", json_as_bytes (index));
  call_ok (host, req);

  reply = call (host, "{\"op\":\"sessionSummary\"}");
  assert_int_equal (cJSON_GetArraySize (member (reply, "problems")), 0);
  i = 0;
  cJSON_ArrayForEach (t, member (reply, "torrents"))
    {
      Torrent *tr = list->pdata[i++];
      /* The state it was written with (i is now one past its index). */
      g_autoptr(cJSON) st = state_for (i, tr->pieces);
      const char *bf = member (st, "bitfield")->valuestring;
      guint64 have = 0, p;

      assert_string_equal (member (t, "name")->valuestring, tr->name);
      assert_true (member (t, "totalSize")->valuedouble == (double) tr->size);
      assert_true (member (t, "pieceCount")->valuedouble == (double) tr->pieces);
      assert_true (member (t, "fileCount")->valuedouble == (double) tr->files);
      /* Bit by bit: piece p is bit 3 - p % 4 of hex digit p / 4. */
      for (p = 0; p < tr->pieces; p++)
        have += (guint64) (g_ascii_xdigit_value (bf[p / 4]) >> (3 - p % 4)) & 1;
      assert_true (fabs (member (t, "progress")->valuedouble - (double) have / (double) tr->pieces) < 1e-9);
      assert_string_equal (member (t, "source")->valuestring, "file");
      assert_true (member (t, "uploaded")->valuedouble == i * 1000.0);
    }
  assert_int_equal (i, 4);
  assert_int_equal (((Torrent *) list->pdata[1])->files, 5);
  assert_int_equal (((Torrent *) list->pdata[2])->files, 5500);

  /* session ls shows the same, as a table */
  {
    const char *args[] = { "session", "ls", "--origin", NMT_ORIGIN, NULL };
    g_autofree char *out = NULL, *err = NULL;
    assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 0);
    g_print ("%s", out);
    assert_non_null (strstr (out, "file-9000.bin"));
    assert_non_null (strstr (out, "multi"));
    assert_non_null (strstr (out, "%"));
  }
  nmt_remove_tree (home);
}

/* A small session of n real torrents, state and torrentfile each. */
static GPtrArray *
write_session (NmtHost *host, guint n, guint seed)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) torrent_free);
  g_autoptr(cJSON) req = set_request (), index = cJSON_CreateObject ();
  cJSON *entries;
  guint i;

  cJSON_AddNumberToObject (index, "version", 2);
  entries = cJSON_AddArrayToObject (index, "torrents");
  for (i = 0; i < n; i++)
    {
      Torrent *tr = single_file_torrent (seed + i, 5000 + i);
      g_autofree char *fk = key_of (tr->hash, ":torrentfile");
      g_autofree char *sk = key_of (tr->hash, ":state");
      g_autofree char *text = b64 (tr->torrent);
      g_autoptr(cJSON) st = state_for (i, tr->pieces);
      cJSON *e = cJSON_CreateObject ();

      g_ptr_array_add (list, tr);
      cJSON_AddStringToObject (e, "infoHash", tr->hash);
      cJSON_AddStringToObject (e, "source", "file");
      cJSON_AddNumberToObject (e, "addedAt", 1700000000000.0 + i);
      cJSON_AddItemToArray (entries, e);
      cJSON_AddItemToObject (member (req, "items"), fk, bytes_json (text, strlen (text)));
      cJSON_AddItemToObject (member (req, "items"), sk, json_as_bytes (st));
    }
  cJSON_AddItemToObject (member (req, "items"), "session:torrents", json_as_bytes (index));
  call_ok (host, req);
  return list;
}

static gboolean
index_lists (cJSON *restore, const char *hash)
{
  cJSON *e;

  cJSON_ArrayForEach (e, member (member (restore, "index"), "torrents"))
    if (g_str_equal (member (e, "infoHash")->valuestring, hash))
      return TRUE;
  return FALSE;
}

static void
test_remove_torrent (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = write_session (host, 3, 20000);
  Torrent *gone = list->pdata[1];
  g_autofree char *text = g_strdup_printf ("{\"op\":\"sessionRemoveTorrent\",\"infoHash\":\"%s\"}", gone->hash);
  g_autoptr(cJSON) reply = call (host, text);
  g_autoptr(cJSON) restore = NULL, again = NULL, bad = NULL;

  assert_true (cJSON_IsTrue (member (reply, "indexUpdated")));
  assert_int_equal (cJSON_GetArraySize (member (reply, "removed")), 2);
  restore = call (host, "{\"op\":\"sessionRestore\"}");
  assert_int_equal (cJSON_GetArraySize (member (restore, "torrents")), 2);
  assert_false (index_lists (restore, gone->hash));
  assert_true (index_lists (restore, ((Torrent *) list->pdata[0])->hash));
  again = call (host, text);
  assert_true (cJSON_IsFalse (member (again, "indexUpdated")));
  assert_int_equal (cJSON_GetArraySize (member (again, "removed")), 0);
  bad = nmt_host_call (host, "{\"op\":\"sessionRemoveTorrent\",\"infoHash\":\"../etc\"}");
  nmt_assert_error (bad, "E_REQUEST");
  nmt_remove_tree (home);
}

typedef struct {
  const char *home;
  GPtrArray  *hashes;   /* torrents whose state the writer keeps writing */
  gint        stop;
  guint       writes, failures;
} Writer;

/* Another process, as the engine's once-a-second state saves, but fast. */
static gpointer
write_states (gpointer data)
{
  Writer *w = data;
  g_autoptr(NmtHost) host = nmt_host_start (w->home, NMT_ORIGIN);
  guint n = 0;

  while (!g_atomic_int_get (&w->stop))
    {
      const char *hash = w->hashes->pdata[n % w->hashes->len];
      g_autofree char *text = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"session:torrent:%s:state\":"
                                               "{\"userState\":\"active\",\"uploaded\":%u,\"downloaded\":1,"
                                               "\"updatedAt\":1}}}", hash, n);
      cJSON *reply = nmt_host_call (host, text);
      if (!cJSON_IsTrue (member (reply, "ok")))
        w->failures++;
      cJSON_Delete (reply);
      n++;
    }
  w->writes = n;
  return NULL;
}

/* Removal while another process writes: every snapshot a third process
 * reads shows each torrent whole or gone, never half removed. */
static void
test_remove_under_concurrent_writer (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) remover = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) reader = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = write_session (remover, 40, 30000);
  Writer w = { home, g_ptr_array_new (), 0, 0, 0 };
  GThread *thread;
  guint i, snapshots = 0;

  for (i = 20; i < 40; i++)
    g_ptr_array_add (w.hashes, ((Torrent *) list->pdata[i])->hash);
  thread = g_thread_new ("writer", write_states, &w);
  for (i = 0; i < 20; i++)
    {
      Torrent *tr = list->pdata[i];
      g_autofree char *text = g_strdup_printf ("{\"op\":\"sessionRemoveTorrent\",\"infoHash\":\"%s\"}", tr->hash);
      g_autoptr(cJSON) reply = call (remover, text);
      g_autoptr(cJSON) snap = call (reader, "{\"op\":\"sessionRestore\"}");
      cJSON *t;

      assert_true (cJSON_IsTrue (member (reply, "indexUpdated")));
      /* sessionRestore lists a torrent without metadata as a problem */
      assert_int_equal (cJSON_GetArraySize (member (snap, "problems")), 0);
      assert_int_equal (cJSON_GetArraySize (member (snap, "torrents")), 39 - (int) i);
      cJSON_ArrayForEach (t, member (snap, "torrents"))
        assert_false (cJSON_IsNull (member (t, "torrentfile")));
      snapshots++;
    }
  g_atomic_int_set (&w.stop, 1);
  g_thread_join (thread);
  g_print ("# %u removals beside %u concurrent state writes, %u snapshots\n", 20, w.writes, snapshots);
  assert_int_equal (w.failures, 0);
  assert_true (w.writes > 0);
  {
    g_autoptr(cJSON) keys = call (reader, "{\"op\":\"getKeys\",\"prefix\":\"session:torrent:\"}");
    cJSON *k;
    guint n = 0;
    cJSON_ArrayForEach (k, member (keys, "keys"))
      {
        for (i = 0; i < 20; i++)
          assert_null (strstr (k->valuestring, ((Torrent *) list->pdata[i])->hash));
        n++;
      }
    assert_int_equal (n, 40);
  }
  g_ptr_array_unref (w.hashes);
  nmt_remove_tree (home);
}

/* A v1 value as the engine wrote it, set(TextEncoder(JSON.stringify(v))):
 * through NativeSessionStore {"$bytes"} of the text; through the real
 * extension's chrome.storage.local adapter, a JSON string of its base64. */
static cJSON *
v1_value (const cJSON *value, gboolean extension_form)
{
  g_autofree char *text = NULL, *encoded = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (!extension_form)
    return json_as_bytes (value);
  text = cJSON_PrintUnformatted (value);
  bytes = g_bytes_new (text, strlen (text));
  encoded = b64 (bytes);
  return cJSON_CreateString (encoded);
}

static cJSON *
get_value (NmtHost *host, const char *key)
{
  g_autofree char *text = g_strdup_printf ("{\"op\":\"get\",\"keys\":\"%s\"}", key);
  g_autoptr(cJSON) reply = call (host, text);
  cJSON *v = member (member (reply, "items"), key);

  return v ? cJSON_Duplicate (v, TRUE) : NULL;
}

/* A v1 session of 50 torrents with the last v1 engine's fields
 * (jstorrent 16c02d1: userState, queuePosition and storageKey in the
 * entry; earlier ones called the root storageToken): embedded .torrent
 * files, magnet links with infoBuffer in their state, and magnets without
 * any state. Once as NativeSessionStore stores the engine's writes, once
 * as the real extension left them in chrome.storage.local. */
static void
migrate_v1 (gboolean extension_form)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) torrent_free);
  g_autoptr(cJSON) req = set_request (), index = cJSON_CreateObject (), reply = NULL, again = NULL;
  g_autoptr(cJSON) restore = NULL, check = NULL, backup = NULL, stored = NULL;
  g_autofree char *v1_index = NULL;
  cJSON *entries, *t;
  guint i;

  cJSON_AddNumberToObject (index, "version", 1);
  entries = cJSON_AddArrayToObject (index, "torrents");
  for (i = 0; i < N_V1; i++)
    {
      Torrent *tr = single_file_torrent (40000 + i, 3000 + i);
      cJSON *e = cJSON_CreateObject ();
      g_autofree char *uri = g_strdup_printf ("magnet:?xt=urn:btih:%s&dn=%s", tr->hash, tr->name);

      g_ptr_array_add (list, tr);
      cJSON_AddStringToObject (e, "infoHash", tr->hash);
      if (i < 20)
        {
          g_autofree char *text = b64 (tr->torrent);
          cJSON_AddStringToObject (e, "torrentFile", text);
        }
      else
        cJSON_AddStringToObject (e, "magnetLink", uri);
      cJSON_AddStringToObject (e, "name", tr->name);
      cJSON_AddStringToObject (e, i % 2 ? "storageKey" : "storageToken", i % 2 ? "downloads" : "default");
      cJSON_AddNumberToObject (e, "addedAt", 1650000000000.0 + i);
      cJSON_AddStringToObject (e, "userState", i % 3 == 0 ? "stopped" : i % 3 == 1 ? "active" : "queued");
      cJSON_AddNumberToObject (e, "queuePosition", 100 + i);
      cJSON_AddItemToArray (entries, e);
      if (i < 40)
        {
          g_autofree char *k = g_strconcat ("session:torrent:", tr->hash, NULL);
          cJSON *st = cJSON_CreateObject ();
          g_autofree char *bf = g_strnfill (2 * ((tr->pieces + 7) / 8), 'f');
          cJSON_AddStringToObject (st, "bitfield", bf);
          cJSON_AddNumberToObject (st, "uploaded", i);
          cJSON_AddNumberToObject (st, "downloaded", i * 2);
          cJSON_AddNumberToObject (st, "updatedAt", 1);
          if (i >= 20)
            {
              g_autofree char *info = b64 (tr->info);
              cJSON_AddStringToObject (st, "infoBuffer", info);
            }
          cJSON_AddItemToObject (member (req, "items"), k, v1_value (st, extension_form));
          cJSON_Delete (st);
        }
    }
  cJSON_AddItemToObject (member (req, "items"), "session:torrents", v1_value (index, extension_form));
  call_ok (host, req);
  v1_index = cJSON_PrintUnformatted (member (member (req, "items"), "session:torrents"));

  /* restore says what is wrong rather than guessing */
  restore = call (host, "{\"op\":\"sessionRestore\"}");
  assert_string_equal (member (cJSON_GetArrayItem (member (restore, "problems"), 0), "code")->valuestring, "schema-v1");
  g_clear_pointer (&restore, cJSON_Delete);

  reply = call (host, "{\"op\":\"sessionMigrate\"}");
  assert_int_equal (member (reply, "migrated")->valueint, N_V1);
  assert_true (cJSON_IsFalse (member (reply, "alreadyV2")));
  assert_string_equal (member (reply, "backupPrefix")->valuestring, "session:backup:v1:");
  again = call (host, "{\"op\":\"sessionMigrate\"}");
  assert_int_equal (member (again, "migrated")->valueint, 0);
  assert_true (cJSON_IsTrue (member (again, "alreadyV2")));

  /* The index as today's engine writes it: JSON, as setJson stores it. */
  stored = get_value (host, "session:torrents");
  assert_int_equal (member (stored, "version")->valueint, 2);

  restore = call (host, "{\"op\":\"sessionRestore\"}");
  assert_int_equal (cJSON_GetArraySize (member (restore, "problems")), 0);
  assert_int_equal (member (member (restore, "index"), "version")->valueint, 2);
  assert_int_equal (cJSON_GetArraySize (member (restore, "torrents")), N_V1);
  i = 0;
  cJSON_ArrayForEach (t, member (restore, "torrents"))
    {
      Torrent *tr = list->pdata[i];
      const cJSON *e = member (t, "entry"), *st = member (t, "state");
      g_autofree char *fk = key_of (tr->hash, ":torrentfile");
      g_autofree char *dk = key_of (tr->hash, ":infodict");
      g_autoptr(cJSON) file = get_value (host, fk), dict = get_value (host, dk);

      assert_string_equal (member (t, "infoHash")->valuestring, tr->hash);
      assert_true (member (e, "addedAt")->valuedouble == 1650000000000.0 + i);
      assert_string_equal (member (e, "source")->valuestring, i < 20 ? "file" : "magnet");
      /* The metadata is stored as the bencoded bytes themselves, which
       * today's engine reads back with get(), not as base64 text. */
      if (i < 20)
        {
          assert_bytes_member (t, "torrentfile", tr->torrent);
          assert_true (cJSON_IsString (member (file, "$bytes")));
          {
            g_autofree char *want = b64 (tr->torrent);
            assert_string_equal (member (file, "$bytes")->valuestring, want);
          }
        }
      else
        {
          assert_null (file);
          assert_non_null (strstr (member (e, "magnetUri")->valuestring, tr->hash));
        }
      if (i >= 20 && i < 40)
        {
          g_autofree char *want = b64 (tr->info);
          assert_bytes_member (t, "infodict", tr->info);
          assert_string_equal (member (dict, "$bytes")->valuestring, want);
        }
      else
        assert_null (dict);
      /* Every torrent has a state, with the user's choices from v1's entry. */
      assert_true (cJSON_IsObject (st));
      assert_string_equal (member (st, "userState")->valuestring,
                           i % 3 == 0 ? "stopped" : i % 3 == 1 ? "active" : "queued");
      assert_string_equal (member (st, "storageKey")->valuestring, i % 2 ? "downloads" : "default");
      assert_int_equal (member (st, "queuePosition")->valueint, 100 + (int) i);
      assert_true (cJSON_IsNumber (member (st, "uploaded")) && cJSON_IsNumber (member (st, "downloaded")));
      if (i < 40)
        {
          assert_int_equal (member (st, "uploaded")->valueint, i);
          assert_int_equal (member (st, "downloaded")->valueint, i * 2);
          assert_int_equal ((int) strlen (member (st, "bitfield")->valuestring), 2 * ((tr->pieces + 7) / 8));
        }
      else
        assert_null (member (st, "bitfield"));
      i++;
    }
  /* the v1 keys are kept, byte for byte, under the backup prefix */
  backup = call (host, "{\"op\":\"get\",\"keys\":\"session:backup:v1:torrents\"}");
  {
    g_autofree char *kept = cJSON_PrintUnformatted (member (member (backup, "items"), "session:backup:v1:torrents"));
    assert_string_equal (kept, v1_index);
  }
  g_clear_pointer (&backup, cJSON_Delete);
  backup = call (host, "{\"op\":\"getKeys\",\"prefix\":\"session:backup:v1:torrent:\"}");
  assert_int_equal (cJSON_GetArraySize (member (backup, "keys")), 40);
  /* and no v1 state key is left where v2 keys live */
  g_clear_pointer (&backup, cJSON_Delete);
  backup = call (host, "{\"op\":\"getKeys\",\"prefix\":\"session:torrent:\"}");
  {
    cJSON *k;
    cJSON_ArrayForEach (k, member (backup, "keys"))
      assert_true (strlen (k->valuestring) > strlen ("session:torrent:") + 40);
  }
  /* check: only the ten magnets still waiting for metadata, as information */
  check = call (host, "{\"op\":\"sessionCheck\"}");
  assert_int_equal (cJSON_GetArraySize (member (check, "findings")), 10);
  assert_int_equal (member (check, "problems")->valueint, 0);
  cJSON_ArrayForEach (t, member (check, "findings"))
    {
      assert_string_equal (member (t, "code")->valuestring, "no-metadata");
      assert_string_equal (member (t, "severity")->valuestring, "info");
    }
  {
    const char *args[] = { "session", "check", "--origin", NMT_ORIGIN, NULL };
    g_autofree char *out = NULL, *err = NULL;
    assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 0);
    assert_non_null (strstr (out, "no problems in 50 torrent(s)"));
    assert_non_null (strstr (out, "waiting for its metadata"));
  }
  nmt_remove_tree (home);
}

static void
test_migrate_v1 (void **state)
{
  migrate_v1 (FALSE);
}

static void
test_migrate_v1_extension_form (void **state)
{
  migrate_v1 (TRUE);
}

/* base64 of text, as a new string */
static char *
b64_text (const char *text)
{
  g_autoptr(GBytes) b = g_bytes_new (text, strlen (text));
  return b64 (b);
}

static gboolean
has_problem (const cJSON *restore, const char *code, const char *hash)
{
  const cJSON *p;

  cJSON_ArrayForEach (p, member (restore, "problems"))
    if (g_str_equal (member (p, "code")->valuestring, code)
        && g_strcmp0 (cJSON_GetStringValue (member (p, "infoHash")), hash) == 0)
      return TRUE;
  return FALSE;
}

/* Every form a JSTorrent version or adapter left its keys in, as
 * sessionRestore must read them (the bytes the engine's get() gets), and
 * what the engine would skip, which restore must report rather than
 * return as if it were fine. */
/* sessionRestore hands back states and the index exactly as get would:
 * numbers never rounded, members in Chrome's order. */
static void
test_restore_values_exact (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autofree char *text = NULL;
  const char *hash = "0123456789abcdef0123456789abcdef01234567";
  g_autofree char *set = g_strdup_printf (
    "{\"op\":\"set\",\"items\":{\"session:torrents\":{\"version\":2,\"torrents\":[{\"source\":\"magnet\","
    "\"magnetUri\":\"magnet:?xt=urn:btih:%s\",\"infoHash\":\"%s\",\"addedAt\":1767225600000.5}]},"
    "\"session:torrent:%s:state\":{\"uploaded\":9007199254740991,\"ratio\":0.30000000000000004,\"bitfield\":\"ff\"}}}",
    hash, hash, hash);

  {
    cJSON *reply = nmt_host_call (host, set);
    nmt_assert_ok (reply);
    cJSON_Delete (reply);
  }
  assert_true (nmt_host_send (host, "{\"id\":1,\"op\":\"sessionRestore\"}"));
  text = nmt_host_recv_text (host, NULL, NULL);
  assert_non_null (text);
  if (strstr (text, "\"state\":{\"bitfield\":\"ff\",\"ratio\":0.30000000000000004,\"uploaded\":9007199254740991}") == NULL
      || strstr (text, "\"addedAt\":1767225600000.5") == NULL)
    fail_msg ("sessionRestore changed a value: %s", text);
  nmt_remove_tree (home);
}

static void
test_restore_engine_forms (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) torrent_free);
  g_autoptr(cJSON) req = set_request (), index = cJSON_CreateObject (), restore = NULL, fixed = NULL, again = NULL;
  g_autofree char *index_text = NULL, *index64 = NULL;
  cJSON *items = member (req, "items"), *entries, *t;
  guint i;

  cJSON_AddNumberToObject (index, "version", 2);
  entries = cJSON_AddArrayToObject (index, "torrents");
  for (i = 0; i < 7; i++)
    {
      Torrent *tr = single_file_torrent (80000 + i, 4000 + i * 100);
      g_autofree char *fk = key_of (tr->hash, ":torrentfile");
      g_autofree char *dk = key_of (tr->hash, ":infodict");
      g_autofree char *sk = key_of (tr->hash, ":state");
      g_autofree char *file64 = b64 (tr->torrent), *info64 = b64 (tr->info);
      g_autoptr(cJSON) st = state_for (i, tr->pieces);
      gboolean magnet = i == 3 || i == 5;
      cJSON *e = cJSON_CreateObject ();

      g_ptr_array_add (list, tr);
      cJSON_AddStringToObject (e, "infoHash", tr->hash);
      cJSON_AddStringToObject (e, "source", magnet ? "magnet" : "file");
      if (i == 3)
        {
          g_autofree char *uri = g_strconcat ("magnet:?xt=urn:btih:", tr->hash, NULL);
          cJSON_AddStringToObject (e, "magnetUri", uri);
        }
      cJSON_AddNumberToObject (e, "addedAt", 1700000000000.0 + i);
      cJSON_AddItemToArray (entries, e);
      switch (i)
        {
        case 0: /* the real extension, today's engine: base64 of the bytes */
          cJSON_AddStringToObject (items, fk, file64);
          cJSON_AddItemToObject (items, sk, cJSON_Duplicate (st, TRUE));
          break;
        case 1: /* the real extension, engines before jstorrent dfa968a: base64 of base64 text */
          {
            g_autofree char *twice = b64_text (file64), *state_text = cJSON_PrintUnformatted (st);
            g_autofree char *state64 = b64_text (state_text);
            cJSON_AddStringToObject (items, fk, twice);
            cJSON_AddStringToObject (items, sk, state64);
          }
          break;
        case 2: /* NativeSessionStore, engines before dfa968a: bytes of base64 text */
          cJSON_AddItemToObject (items, fk, bytes_json (file64, strlen (file64)));
          cJSON_AddItemToObject (items, sk, json_as_bytes (st));
          break;
        case 3: /* a magnet with its info dictionary, as the real extension keeps it */
          cJSON_AddStringToObject (items, dk, info64);
          break;
        case 4: /* a file torrent that has only an infodict: the engine skips it */
          cJSON_AddStringToObject (items, dk, info64);
          break;
        case 5: /* a magnet without its link: the engine skips it */
          cJSON_AddStringToObject (items, dk, info64);
          break;
        default: /* three layers of base64: no engine reads that */
          {
            g_autofree char *twice = b64_text (file64), *thrice = b64_text (twice);
            cJSON_AddStringToObject (items, fk, thrice);
          }
        }
    }
  /* The index as an engine's set() of its JSON text left it in the real
   * extension's chrome.storage.local: a base64 string. */
  index_text = cJSON_PrintUnformatted (index);
  index64 = b64_text (index_text);
  cJSON_AddStringToObject (items, "session:torrents", index64);
  call_ok (host, req);

  restore = call (host, "{\"op\":\"sessionRestore\"}");
  assert_true (cJSON_Compare (member (restore, "index"), index, TRUE));
  assert_int_equal (cJSON_GetArraySize (member (restore, "torrents")), 7);
  i = 0;
  cJSON_ArrayForEach (t, member (restore, "torrents"))
    {
      Torrent *tr = list->pdata[i];
      if (i < 3)
        assert_bytes_member (t, "torrentfile", tr->torrent);
      else if (i < 6)
        assert_bytes_member (t, "infodict", tr->info);
      if (i < 3)
        {
          g_autoptr(cJSON) st = state_for (i, tr->pieces);
          assert_true (cJSON_Compare (member (t, "state"), st, TRUE));
        }
      i++;
    }
  assert_int_equal (cJSON_GetArraySize (member (restore, "problems")), 3);
  assert_true (has_problem (restore, "no-metadata", ((Torrent *) list->pdata[4])->hash));
  assert_true (has_problem (restore, "bad-entry", ((Torrent *) list->pdata[5])->hash));
  assert_true (has_problem (restore, "bad-bencode", ((Torrent *) list->pdata[6])->hash));

  /* Repair makes the first two magnets, which their infodicts restore, and
   * drops the third, which nothing can. */
  fixed = call (host, "{\"op\":\"sessionCheck\",\"repair\":true}");
  assert_true (cJSON_IsTrue (member (fixed, "repaired")));
  g_clear_pointer (&restore, cJSON_Delete);
  restore = call (host, "{\"op\":\"sessionRestore\"}");
  if (cJSON_GetArraySize (member (restore, "problems")) != 0)
    fail_msg ("after repair: %s", cJSON_PrintUnformatted (member (restore, "problems")));
  assert_int_equal (cJSON_GetArraySize (member (restore, "torrents")), 6);
  t = cJSON_GetArrayItem (member (restore, "torrents"), 4);
  assert_string_equal (member (member (t, "entry"), "source")->valuestring, "magnet");
  assert_non_null (strstr (member (member (t, "entry"), "magnetUri")->valuestring, ((Torrent *) list->pdata[4])->hash));
  t = cJSON_GetArrayItem (member (restore, "torrents"), 5);
  assert_non_null (strstr (member (member (t, "entry"), "magnetUri")->valuestring, ((Torrent *) list->pdata[5])->hash));
  again = call (host, "{\"op\":\"sessionCheck\"}");
  assert_int_equal (cJSON_GetArraySize (member (again, "findings")), 0);
  nmt_remove_tree (home);
}

static char *
export_text (const char *home)
{
  const char *args[] = { "export", "--origin", NMT_ORIGIN, NULL };
  char *out = NULL;
  g_autofree char *err = NULL;

  assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 0);
  return out;
}

static gboolean
has_finding (const cJSON *report, const char *code, const char *hash)
{
  const cJSON *f;

  cJSON_ArrayForEach (f, member (report, "findings"))
    if (g_str_equal (member (f, "code")->valuestring, code)
        && (hash == NULL || g_strcmp0 (cJSON_GetStringValue (member (f, "infoHash")), hash) == 0)
        && cJSON_IsString (member (f, "repair")))
      return TRUE;
  return FALSE;
}

/* Every finding of check, that check alone changes nothing, and that
 * --repair leaves a session that checks clean. */
static void
test_check_findings (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = write_session (host, 6, 50000);
  g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func ((GDestroyNotify) torrent_free);
  g_autoptr(cJSON) req = set_request (), report = NULL, after = NULL, restore = NULL;
  g_autofree char *before = NULL, *unchanged = NULL;
  Torrent *ok = list->pdata[0], *nometa = list->pdata[1], *badbf = list->pdata[2];
  Torrent *mismatch = list->pdata[3], *badjson = list->pdata[4], *badbencode = list->pdata[5];
  Torrent *adopt, *stray;
  cJSON *items = member (req, "items");
  const char *args[] = { "session", "check", "--origin", NMT_ORIGIN, NULL };
  const char *repair_args[] = { "session", "check", "--repair", "--origin", NMT_ORIGIN, NULL };
  g_autofree char *out = NULL, *err = NULL;

  g_ptr_array_add (extra, adopt = single_file_torrent (50100, 7000));
  g_ptr_array_add (extra, stray = single_file_torrent (50101, 7000));
  {
    g_autofree char *k1 = key_of (nometa->hash, ":torrentfile");
    g_autofree char *k2 = key_of (badbf->hash, ":state");
    g_autofree char *k3 = key_of (mismatch->hash, ":torrentfile");
    g_autofree char *k4 = key_of (badjson->hash, ":state");
    g_autofree char *k5 = key_of (badbencode->hash, ":torrentfile");
    g_autofree char *k6 = key_of (adopt->hash, ":torrentfile");
    g_autofree char *k7 = key_of (stray->hash, ":state");
    gsize len;
    const guint8 *other = g_bytes_get_data (ok->torrent, &len);
    const guint8 *adopted = NULL;
    gsize adopted_len;

    adopted = g_bytes_get_data (adopt->torrent, &adopted_len);
    cJSON_AddNullToObject (items, k1); /* replaced below by a remove */
    cJSON_AddItemToObject (items, k2, cJSON_Parse ("{\"userState\":\"active\",\"bitfield\":\"ffffffffffffffffffffff\","
                                                   "\"uploaded\":0,\"downloaded\":0,\"updatedAt\":0}"));
    cJSON_AddItemToObject (items, k3, bytes_json (other, len));
    cJSON_AddItemToObject (items, k4, bytes_json ("{\"userState\":", 13));
    cJSON_AddItemToObject (items, k5, bytes_json ("d4:infoi1", 9));
    cJSON_AddItemToObject (items, k6, bytes_json (adopted, adopted_len));
    cJSON_AddItemToObject (items, k7, cJSON_Parse ("{\"userState\":\"stopped\"}"));
    cJSON_DeleteItemFromObject (items, k1);
    call_ok (host, req);
    {
      g_autofree char *rm = g_strdup_printf ("{\"op\":\"remove\",\"keys\":\"%s\"}", k1);
      g_autoptr(cJSON) r = call (host, rm);
    }
  }

  before = export_text (home);
  assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 1);
  g_print ("%s", out);
  unchanged = export_text (home);
  assert_string_equal (before, unchanged);

  report = call (host, "{\"op\":\"sessionCheck\"}");
  assert_true (has_finding (report, "no-metadata", nometa->hash));
  assert_true (has_finding (report, "bitfield-length", badbf->hash));
  assert_true (has_finding (report, "hash-mismatch", mismatch->hash));
  assert_true (has_finding (report, "bad-json", badjson->hash));
  assert_true (has_finding (report, "bad-bencode", badbencode->hash));
  assert_true (has_finding (report, "orphan", adopt->hash));
  assert_true (has_finding (report, "orphan", stray->hash));
  assert_false (has_finding (report, "no-metadata", ok->hash));
  assert_int_equal (cJSON_GetArraySize (member (report, "findings")), 7);

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_run_cli (home, repair_args, NULL, &out, &err), 0);
  after = call (host, "{\"op\":\"sessionCheck\"}");
  if (cJSON_GetArraySize (member (after, "findings")) != 0)
    fail_msg ("after --repair: %s", cJSON_PrintUnformatted (after));
  restore = call (host, "{\"op\":\"sessionRestore\"}");
  /* ok, badbf (bitfield dropped), badjson (state dropped), adopted */
  assert_int_equal (cJSON_GetArraySize (member (restore, "torrents")), 4);
  assert_true (index_lists (restore, adopt->hash));
  assert_false (index_lists (restore, nometa->hash));
  assert_false (index_lists (restore, mismatch->hash));
  nmt_remove_tree (home);
}

/* An index that no longer parses is rebuilt from the torrents' own keys. */
static void
test_check_rebuilds_bad_index (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = write_session (host, 3, 60000);
  g_autoptr(cJSON) report = NULL, fixed = NULL, restore = NULL, kept = NULL;
  guint i;

  g_autoptr(cJSON) r = call (host, "{\"op\":\"set\",\"items\":{\"session:torrents\":{\"$bytes\":\"eyJ2ZXJz\"}}}");
  report = call (host, "{\"op\":\"sessionCheck\"}");
  assert_true (has_finding (report, "bad-json", NULL));
  fixed = call (host, "{\"op\":\"sessionCheck\",\"repair\":true}");
  restore = call (host, "{\"op\":\"sessionRestore\"}");
  assert_int_equal (cJSON_GetArraySize (member (restore, "problems")), 0);
  for (i = 0; i < list->len; i++)
    assert_true (index_lists (restore, ((Torrent *) list->pdata[i])->hash));
  kept = call (host, "{\"op\":\"get\",\"keys\":\"session:backup:bad-index\"}");
  assert_string_equal (member (member (member (kept, "items"), "session:backup:bad-index"), "$bytes")->valuestring,
                       "eyJ2ZXJz");
  nmt_remove_tree (home);
}

/* export -> import into an empty origin -> export gives the same bytes,
 * with binary values, U+0000 in strings and unusual numbers. */
static void
test_export_import_identical (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *file = g_build_filename (home, "export.json", NULL);
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = write_session (host, 5, 70000);
  g_autoptr(cJSON) r = call (host, "{\"op\":\"set\",\"items\":{\"ab\":\"x\\u0000y\",\"n\":1.5e300,"
                                   "\"e\":{},\"u\":\"\\u00e9\\ud83d\\ude00\",\"z\":{\"$bytes\":\"\"}}}");
  g_autofree char *first = export_text (home), *second = NULL, *out = NULL, *err = NULL;
  const char *import_args[] = { "import", "--origin", NMT_ORIGIN_2, file, NULL };
  const char *export2[] = { "export", "--origin", NMT_ORIGIN_2, NULL };

  assert_true (g_file_set_contents (file, first, -1, NULL));
  assert_int_equal (nmt_run_cli (home, import_args, NULL, &out, &err), 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_run_cli (home, export2, NULL, &second, &err), 0);
  assert_non_null (strstr (first, "\"session:torrents\":{\"$bytes\":\""));
  assert_non_null (strstr (first, "\"ab\":\"x\\u0000y\""));
  assert_string_equal (first, second);

  /* not one object: refused, nothing written */
  assert_true (g_file_set_contents (file, "{\"a\":1} {\"b\":2}", -1, NULL));
  g_clear_pointer (&err, g_free);
  g_clear_pointer (&out, g_free);
  assert_int_equal (nmt_run_cli (home, import_args, NULL, &out, &err), 1);
  assert_non_null (strstr (err, "not one JSON object"));
  nmt_remove_tree (home);
}

typedef struct {
  const char *home;
  gint        stop;
  guint       n;
  guint       failures;
} Counter;

/* Each write adds item:N and sets count to N+1 in one request, so a
 * consistent copy always holds exactly count items. */
static gpointer
count_up (gpointer data)
{
  Counter *c = data;
  g_autoptr(NmtHost) host = nmt_host_start (c->home, NMT_ORIGIN);

  while (!g_atomic_int_get (&c->stop) || c->n < 200)
    {
      g_autofree char *text = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"item:%06u\":\"%0200u\","
                                               "\"count\":%u}}", c->n, c->n, c->n + 1);
      cJSON *reply = nmt_host_call (host, text);
      if (!cJSON_IsTrue (member (reply, "ok")))
        c->failures++;
      cJSON_Delete (reply);
      c->n++;
    }
  return NULL;
}

static void
check_backup_file (const char *path, guint *count)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  GStatBuf st;

  assert_int_equal (g_stat (path, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);
  assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, "SELECT (SELECT integrity_check FROM pragma_integrity_check), "
                                            "(SELECT CAST(value AS INTEGER) FROM items WHERE key = 'count'), "
                                            "(SELECT count(*) FROM items WHERE key LIKE 'item:%')", -1, &s, NULL),
                    SQLITE_OK);
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);
  assert_string_equal ((const char *) sqlite3_column_text (s, 0), "ok");
  assert_int_equal (sqlite3_column_int (s, 1), sqlite3_column_int (s, 2));
  *count = (guint) sqlite3_column_int (s, 2);
  sqlite3_finalize (s);
  sqlite3_close (db);
}

/* Backups taken while another process writes are consistent copies, and
 * restore puts one back while a host holds the store open. */
static void
test_backup_while_writing (void **state)
{
  g_autofree char *home = nmt_make_home ();
  Counter c = { home, 0, 0, 0 };
  GThread *thread;
  guint i, counts[3];
  g_autofree char *path = NULL;

  {
    /* the store must exist before the backups start */
    g_autoptr(NmtHost) first = nmt_host_start (home, NMT_ORIGIN);
    g_autoptr(cJSON) r = call (first, "{\"op\":\"set\",\"items\":{\"count\":0}}");
  }
  thread = g_thread_new ("counter", count_up, &c);
  g_usleep (200000);
  for (i = 0; i < 3; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s/backup-%u.db", home, i);
      const char *args[] = { "backup", "--origin", NMT_ORIGIN, p, NULL };
      g_autofree char *out = NULL, *err = NULL;

      assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 0);
      check_backup_file (p, &counts[i]);
      g_usleep (100000);
    }
  g_atomic_int_set (&c.stop, 1);
  g_thread_join (thread);
  g_print ("# backups held %u, %u, %u of the writer's %u writes\n", counts[0], counts[1], counts[2], c.n);
  assert_int_equal (c.failures, 0);
  assert_true (counts[0] > 0 && counts[2] < c.n);

  /* restore the first backup while a host is open on the store */
  path = g_strdup_printf ("%s/backup-0.db", home);
  {
    g_autoptr(NmtHost) open_host = nmt_host_start (home, NMT_ORIGIN);
    g_autoptr(cJSON) before = call (open_host, "{\"op\":\"get\",\"keys\":\"count\"}");
    const char *args[] = { "restore", "--origin", NMT_ORIGIN, path, NULL };
    const char *wrong[] = { "restore", "--origin", NMT_ORIGIN_2, path, NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(cJSON) after = NULL, keys = NULL;

    assert_int_equal (member (member (before, "items"), "count")->valueint, (int) c.n);
    assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 0);
    after = call (open_host, "{\"op\":\"get\",\"keys\":\"count\"}");
    assert_int_equal (member (member (after, "items"), "count")->valueint, (int) counts[0]);
    keys = call (open_host, "{\"op\":\"getKeys\",\"prefix\":\"item:\"}");
    assert_int_equal (cJSON_GetArraySize (member (keys, "keys")), (int) counts[0]);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    /* another origin's backup is refused */
    assert_int_equal (nmt_run_cli (home, wrong, NULL, &out, &err), 1);
    assert_non_null (strstr (err, "never restored into another"));
  }
  nmt_remove_tree (home);
}

static int
setup (void **state)
{
  work = nmt_make_home ();
  return 0;
}

static int
teardown (void **state)
{
  nmt_remove_tree (work);
  g_free (work);
  return 0;
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_summary_real_torrents),
    cmocka_unit_test (test_remove_torrent),
    cmocka_unit_test (test_remove_under_concurrent_writer),
    cmocka_unit_test (test_migrate_v1),
    cmocka_unit_test (test_migrate_v1_extension_form),
    cmocka_unit_test (test_restore_engine_forms),
    cmocka_unit_test (test_restore_values_exact),
    cmocka_unit_test (test_check_findings),
    cmocka_unit_test (test_check_rebuilds_bad_index),
    cmocka_unit_test (test_export_import_identical),
    cmocka_unit_test (test_backup_while_writing),
    cmocka_unit_test (test_restore_1000),
  };
  g_autofree char *mktorrent = g_find_program_in_path ("mktorrent");

  /* 77 is ctest's SKIP_RETURN_CODE for this suite (tests/CMakeLists.txt). */
  if (mktorrent == NULL)
    {
      g_printerr ("integration_test_session: SKIPPED: mktorrent is not installed; "
                  "install it (apt-get install mktorrent, as tests/run.sh does) to run these tests\n");
      return 77;
    }
  if (argc > 1)
    cmocka_set_test_filter (argv[1]);
  return cmocka_run_group_tests (tests, setup, teardown);
}
