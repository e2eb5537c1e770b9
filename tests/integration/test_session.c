/* SPDX-License-Identifier: MIT */
/* test_session.c: what the session ops read back, on real .torrent files
 * made by Debian's mktorrent over generated data: sessionRestore of 1,000
 * torrents in every stored form, the torrent list's summary, values exactly
 * as get gives them, and the migration of a v1 session. The ops and
 * commands that change or copy a session are in test_session_upkeep.c.
 * Needs mktorrent (tests/run.sh installs it); without it the whole suite is
 * skipped, and says so. */
#include "sessioncheck.h"

#include <math.h>
#include <string.h>

#define N_RESTORE 1000
#define N_V1      50

/* 1,000 torrents in every stored form the engine or setJson may leave,
 * then one sessionRestore compared item by item with what was written. */
static void
test_restore_1000 (void **state)
{
  const char *work = *state;
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) torrents = g_ptr_array_new_with_free_func ((GDestroyNotify) nmt_session_torrent_free);
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
    g_ptr_array_add (torrents, nmt_session_single_file_torrent (work, i, 2000 + i * 37));
  g_print ("# made %u torrents with mktorrent in %.1f s\n", N_RESTORE, (g_get_monotonic_time () - start) / 1e6);

  for (i = 0; i < N_RESTORE; i++)
    {
      NmtSessionTorrent *tr = torrents->pdata[i];
      g_autofree char *sk = nmt_session_key (tr->hash, ":state");
      g_autofree char *fk = nmt_session_key (tr->hash, ":torrentfile");
      g_autofree char *dk = nmt_session_key (tr->hash, ":infodict");
      cJSON *entry = cJSON_CreateObject ();
      cJSON *st = nmt_session_state_for (i, tr->pieces);
      gsize len;
      const guint8 *raw = g_bytes_get_data (tr->torrent, &len);
      g_autofree char *text = nmt_session_b64 (tr->torrent);

      if (req == NULL)
        req = nmt_session_set_request ();
      items = nmt_session_member (req, "items");
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
      cJSON_AddItemToObject (items, sk, i % 2 ? nmt_session_json_as_bytes (st) : st);
      if (i % 2)
        cJSON_Delete (st);
      switch (i % 4)
        {
        case 0: cJSON_AddItemToObject (items, fk, nmt_session_bytes_json (raw, len)); break;          /* raw bytes */
        case 1: cJSON_AddItemToObject (items, fk, nmt_session_bytes_json (text, strlen (text))); break; /* engine: base64 text */
        case 2: cJSON_AddStringToObject (items, fk, text); break;                          /* JSON string */
        default:
          {
            g_autofree char *info64 = nmt_session_b64 (tr->info);
            cJSON_AddItemToObject (items, dk, nmt_session_bytes_json (info64, strlen (info64)));
          }
        }
      if (i % 100 == 99)
        {
          nmt_session_call_ok (host, req);
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
  req = nmt_session_set_request ();
  cJSON_AddItemToObject (nmt_session_member (req, "items"), "session:torrents", nmt_session_json_as_bytes (index));
  cJSON_AddItemToObject (nmt_session_member (req, "items"), "session:dht:state", cJSON_CreateString ("unrelated"));
  nmt_session_call_ok (host, req);

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
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (reply, "problems")), 0);
  assert_string_equal (nmt_session_member (reply, "prefix")->valuestring, "session:");
  assert_true (cJSON_Compare (nmt_session_member (reply, "index"), index, TRUE));
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (reply, "torrents")), N_RESTORE);
  i = 0;
  cJSON_ArrayForEach (t, nmt_session_member (reply, "torrents"))
    {
      NmtSessionTorrent *tr = torrents->pdata[i];
      assert_string_equal (nmt_session_member (t, "infoHash")->valuestring, tr->hash);
      assert_true (cJSON_Compare (nmt_session_member (t, "entry"), cJSON_GetArrayItem (list, (int) i), TRUE));
      assert_true (cJSON_Compare (nmt_session_member (t, "state"), cJSON_GetArrayItem (states, (int) i), TRUE));
      if (i % 4 == 3)
        {
          assert_true (cJSON_IsNull (nmt_session_member (t, "torrentfile")));
          nmt_session_assert_bytes_member (t, "infodict", tr->info);
        }
      else
        {
          nmt_session_assert_bytes_member (t, "torrentfile", tr->torrent);
          assert_true (cJSON_IsNull (nmt_session_member (t, "infodict")));
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
  const char *work = *state;
  g_autofree char *home = nmt_make_home ();
  g_autofree char *dir = g_strdup_printf ("%s/multi", work);
  g_autofree char *big = g_strdup_printf ("%s/many-files", work);
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) nmt_session_torrent_free);
  g_autoptr(cJSON) req = nmt_session_set_request (), index = cJSON_CreateObject (), reply = NULL;
  cJSON *entries, *t;
  guint i;

  g_mkdir_with_parents (dir, 0700);
  g_mkdir_with_parents (big, 0700);
  for (i = 0; i < 5; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s/part-%u.dat", dir, i);
      nmt_session_fill_file (p, 40000 + i * 1000, 100 + i);
    }
  /* Long names make a .torrent over 1 MiB from little data. */
  for (i = 0; i < 5500; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s/%0180u.dat", big, i);
      nmt_session_fill_file (p, 16 + i % 7, 1000 + i);
    }
  g_ptr_array_add (list, nmt_session_single_file_torrent (work, 9000, 123457));
  g_ptr_array_add (list, nmt_session_make_torrent (dir, 15));
  g_ptr_array_add (list, nmt_session_make_torrent (big, 15));
  assert_true (g_bytes_get_size (((NmtSessionTorrent *) list->pdata[2])->torrent) > 1024 * 1024);
  /* More pieces than state_for's twelve digit pairs cover, and not a
   * multiple of 8: progress counts whole bytes of the bitfield, every hex
   * digit among them, and then the first bits of the last byte. */
  g_ptr_array_add (list, nmt_session_single_file_torrent (work, 9001, 4000000));
  assert_true (((NmtSessionTorrent *) list->pdata[3])->pieces > 8 * 12 && ((NmtSessionTorrent *) list->pdata[3])->pieces % 8 != 0);

  cJSON_AddNumberToObject (index, "version", 2);
  entries = cJSON_AddArrayToObject (index, "torrents");
  for (i = 0; i < list->len; i++)
    {
      NmtSessionTorrent *tr = list->pdata[i];
      g_autofree char *fk = nmt_session_key (tr->hash, ":torrentfile");
      g_autofree char *sk = nmt_session_key (tr->hash, ":state");
      g_autofree char *text = nmt_session_b64 (tr->torrent);
      cJSON *e = cJSON_CreateObject ();
      g_autoptr(cJSON) st = nmt_session_state_for (i + 1, tr->pieces);

      cJSON_AddStringToObject (e, "infoHash", tr->hash);
      cJSON_AddStringToObject (e, "source", "file");
      cJSON_AddNumberToObject (e, "addedAt", 1700000000000.0);
      cJSON_AddItemToArray (entries, e);
      cJSON_AddItemToObject (nmt_session_member (req, "items"), fk, nmt_session_bytes_json (text, strlen (text)));
      cJSON_AddItemToObject (nmt_session_member (req, "items"), sk, nmt_session_json_as_bytes (st));
    }
  cJSON_AddItemToObject (nmt_session_member (req, "items"), "session:torrents", nmt_session_json_as_bytes (index));
  nmt_session_call_ok (host, req);

  reply = nmt_session_call (host, "{\"op\":\"sessionSummary\"}");
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (reply, "problems")), 0);
  i = 0;
  cJSON_ArrayForEach (t, nmt_session_member (reply, "torrents"))
    {
      NmtSessionTorrent *tr = list->pdata[i++];
      /* The state it was written with (i is now one past its index). */
      g_autoptr(cJSON) st = nmt_session_state_for (i, tr->pieces);
      const char *bf = nmt_session_member (st, "bitfield")->valuestring;
      guint64 have = 0, p;

      assert_string_equal (nmt_session_member (t, "name")->valuestring, tr->name);
      assert_true (nmt_session_member (t, "totalSize")->valuedouble == (double) tr->size);
      assert_true (nmt_session_member (t, "pieceCount")->valuedouble == (double) tr->pieces);
      assert_true (nmt_session_member (t, "fileCount")->valuedouble == (double) tr->files);
      /* Bit by bit: piece p is bit 3 - p % 4 of hex digit p / 4. */
      for (p = 0; p < tr->pieces; p++)
        have += (guint64) (g_ascii_xdigit_value (bf[p / 4]) >> (3 - p % 4)) & 1;
      assert_true (fabs (nmt_session_member (t, "progress")->valuedouble - (double) have / (double) tr->pieces) < 1e-9);
      assert_string_equal (nmt_session_member (t, "source")->valuestring, "file");
      assert_true (nmt_session_member (t, "uploaded")->valuedouble == i * 1000.0);
    }
  assert_int_equal (i, 4);
  assert_int_equal (((NmtSessionTorrent *) list->pdata[1])->files, 5);
  assert_int_equal (((NmtSessionTorrent *) list->pdata[2])->files, 5500);

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

/* A v1 value as the engine wrote it, set(TextEncoder(JSON.stringify(v))):
 * through NativeSessionStore {"$bytes"} of the text; through the real
 * extension's chrome.storage.local adapter, a JSON string of its base64. */
static cJSON *
v1_value (const cJSON *value, gboolean extension_form)
{
  g_autofree char *text = NULL, *encoded = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (!extension_form)
    return nmt_session_json_as_bytes (value);
  text = cJSON_PrintUnformatted (value);
  bytes = g_bytes_new (text, strlen (text));
  encoded = nmt_session_b64 (bytes);
  return cJSON_CreateString (encoded);
}

static cJSON *
get_value (NmtHost *host, const char *key)
{
  g_autofree char *text = g_strdup_printf ("{\"op\":\"get\",\"keys\":\"%s\"}", key);
  g_autoptr(cJSON) reply = nmt_session_call (host, text);
  cJSON *v = nmt_session_member (nmt_session_member (reply, "items"), key);

  return v ? cJSON_Duplicate (v, TRUE) : NULL;
}

/* A v1 session of 50 torrents with the last v1 engine's fields
 * (jstorrent 16c02d1: userState, queuePosition and storageKey in the
 * entry; earlier ones called the root storageToken): embedded .torrent
 * files, magnet links with infoBuffer in their state, and magnets without
 * any state. Once as NativeSessionStore stores the engine's writes, once
 * as the real extension left them in chrome.storage.local. */
static void
migrate_v1 (const char *work, gboolean extension_form)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) nmt_session_torrent_free);
  g_autoptr(cJSON) req = nmt_session_set_request (), index = cJSON_CreateObject (), reply = NULL, again = NULL;
  g_autoptr(cJSON) restore = NULL, check = NULL, backup = NULL, stored = NULL;
  g_autofree char *v1_index = NULL;
  cJSON *entries, *t;
  guint i;

  cJSON_AddNumberToObject (index, "version", 1);
  entries = cJSON_AddArrayToObject (index, "torrents");
  for (i = 0; i < N_V1; i++)
    {
      NmtSessionTorrent *tr = nmt_session_single_file_torrent (work, 40000 + i, 3000 + i);
      cJSON *e = cJSON_CreateObject ();
      g_autofree char *uri = g_strdup_printf ("magnet:?xt=urn:btih:%s&dn=%s", tr->hash, tr->name);

      g_ptr_array_add (list, tr);
      cJSON_AddStringToObject (e, "infoHash", tr->hash);
      if (i < 20)
        {
          g_autofree char *text = nmt_session_b64 (tr->torrent);
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
              g_autofree char *info = nmt_session_b64 (tr->info);
              cJSON_AddStringToObject (st, "infoBuffer", info);
            }
          cJSON_AddItemToObject (nmt_session_member (req, "items"), k, v1_value (st, extension_form));
          cJSON_Delete (st);
        }
    }
  cJSON_AddItemToObject (nmt_session_member (req, "items"), "session:torrents", v1_value (index, extension_form));
  nmt_session_call_ok (host, req);
  v1_index = cJSON_PrintUnformatted (nmt_session_member (nmt_session_member (req, "items"), "session:torrents"));

  /* restore says what is wrong rather than guessing */
  restore = nmt_session_call (host, "{\"op\":\"sessionRestore\"}");
  assert_string_equal (nmt_session_member (cJSON_GetArrayItem (nmt_session_member (restore, "problems"), 0), "code")->valuestring, "schema-v1");
  g_clear_pointer (&restore, cJSON_Delete);

  reply = nmt_session_call (host, "{\"op\":\"sessionMigrate\"}");
  assert_int_equal (nmt_session_member (reply, "migrated")->valueint, N_V1);
  assert_true (cJSON_IsFalse (nmt_session_member (reply, "alreadyV2")));
  assert_string_equal (nmt_session_member (reply, "backupPrefix")->valuestring, "session:backup:v1:");
  again = nmt_session_call (host, "{\"op\":\"sessionMigrate\"}");
  assert_int_equal (nmt_session_member (again, "migrated")->valueint, 0);
  assert_true (cJSON_IsTrue (nmt_session_member (again, "alreadyV2")));

  /* The index as today's engine writes it: JSON, as setJson stores it. */
  stored = get_value (host, "session:torrents");
  assert_int_equal (nmt_session_member (stored, "version")->valueint, 2);

  restore = nmt_session_call (host, "{\"op\":\"sessionRestore\"}");
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (restore, "problems")), 0);
  assert_int_equal (nmt_session_member (nmt_session_member (restore, "index"), "version")->valueint, 2);
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (restore, "torrents")), N_V1);
  i = 0;
  cJSON_ArrayForEach (t, nmt_session_member (restore, "torrents"))
    {
      NmtSessionTorrent *tr = list->pdata[i];
      const cJSON *e = nmt_session_member (t, "entry"), *st = nmt_session_member (t, "state");
      g_autofree char *fk = nmt_session_key (tr->hash, ":torrentfile");
      g_autofree char *dk = nmt_session_key (tr->hash, ":infodict");
      g_autoptr(cJSON) file = get_value (host, fk), dict = get_value (host, dk);

      assert_string_equal (nmt_session_member (t, "infoHash")->valuestring, tr->hash);
      assert_true (nmt_session_member (e, "addedAt")->valuedouble == 1650000000000.0 + i);
      assert_string_equal (nmt_session_member (e, "source")->valuestring, i < 20 ? "file" : "magnet");
      /* The metadata is stored as the bencoded bytes themselves, which
       * today's engine reads back with get(), not as base64 text. */
      if (i < 20)
        {
          nmt_session_assert_bytes_member (t, "torrentfile", tr->torrent);
          assert_true (cJSON_IsString (nmt_session_member (file, "$bytes")));
          {
            g_autofree char *want = nmt_session_b64 (tr->torrent);
            assert_string_equal (nmt_session_member (file, "$bytes")->valuestring, want);
          }
        }
      else
        {
          assert_null (file);
          assert_non_null (strstr (nmt_session_member (e, "magnetUri")->valuestring, tr->hash));
        }
      if (i >= 20 && i < 40)
        {
          g_autofree char *want = nmt_session_b64 (tr->info);
          nmt_session_assert_bytes_member (t, "infodict", tr->info);
          assert_string_equal (nmt_session_member (dict, "$bytes")->valuestring, want);
        }
      else
        assert_null (dict);
      /* Every torrent has a state, with the user's choices from v1's entry. */
      assert_true (cJSON_IsObject (st));
      assert_string_equal (nmt_session_member (st, "userState")->valuestring,
                           i % 3 == 0 ? "stopped" : i % 3 == 1 ? "active" : "queued");
      assert_string_equal (nmt_session_member (st, "storageKey")->valuestring, i % 2 ? "downloads" : "default");
      assert_int_equal (nmt_session_member (st, "queuePosition")->valueint, 100 + (int) i);
      assert_true (cJSON_IsNumber (nmt_session_member (st, "uploaded")) && cJSON_IsNumber (nmt_session_member (st, "downloaded")));
      if (i < 40)
        {
          assert_int_equal (nmt_session_member (st, "uploaded")->valueint, i);
          assert_int_equal (nmt_session_member (st, "downloaded")->valueint, i * 2);
          assert_int_equal ((int) strlen (nmt_session_member (st, "bitfield")->valuestring), 2 * ((tr->pieces + 7) / 8));
        }
      else
        assert_null (nmt_session_member (st, "bitfield"));
      i++;
    }
  /* the v1 keys are kept, byte for byte, under the backup prefix */
  backup = nmt_session_call (host, "{\"op\":\"get\",\"keys\":\"session:backup:v1:torrents\"}");
  {
    g_autofree char *kept = cJSON_PrintUnformatted (nmt_session_member (nmt_session_member (backup, "items"), "session:backup:v1:torrents"));
    assert_string_equal (kept, v1_index);
  }
  g_clear_pointer (&backup, cJSON_Delete);
  backup = nmt_session_call (host, "{\"op\":\"getKeys\",\"prefix\":\"session:backup:v1:torrent:\"}");
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (backup, "keys")), 40);
  /* and no v1 state key is left where v2 keys live */
  g_clear_pointer (&backup, cJSON_Delete);
  backup = nmt_session_call (host, "{\"op\":\"getKeys\",\"prefix\":\"session:torrent:\"}");
  {
    cJSON *k;
    cJSON_ArrayForEach (k, nmt_session_member (backup, "keys"))
      assert_true (strlen (k->valuestring) > strlen ("session:torrent:") + 40);
  }
  /* check: only the ten magnets still waiting for metadata, as information */
  check = nmt_session_call (host, "{\"op\":\"sessionCheck\"}");
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (check, "findings")), 10);
  assert_int_equal (nmt_session_member (check, "problems")->valueint, 0);
  cJSON_ArrayForEach (t, nmt_session_member (check, "findings"))
    {
      assert_string_equal (nmt_session_member (t, "code")->valuestring, "no-metadata");
      assert_string_equal (nmt_session_member (t, "severity")->valuestring, "info");
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
  migrate_v1 (*state, FALSE);
}

static void
test_migrate_v1_extension_form (void **state)
{
  migrate_v1 (*state, TRUE);
}

/* base64 of text, as a new string */
static char *
b64_text (const char *text)
{
  g_autoptr(GBytes) b = g_bytes_new (text, strlen (text));
  return nmt_session_b64 (b);
}

static gboolean
has_problem (const cJSON *restore, const char *code, const char *hash)
{
  const cJSON *p;

  cJSON_ArrayForEach (p, nmt_session_member (restore, "problems"))
    if (g_str_equal (nmt_session_member (p, "code")->valuestring, code)
        && g_strcmp0 (cJSON_GetStringValue (nmt_session_member (p, "infoHash")), hash) == 0)
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
  const char *work = *state;
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) nmt_session_torrent_free);
  g_autoptr(cJSON) req = nmt_session_set_request (), index = cJSON_CreateObject (), restore = NULL, fixed = NULL, again = NULL;
  g_autofree char *index_text = NULL, *index64 = NULL;
  cJSON *items = nmt_session_member (req, "items"), *entries, *t;
  guint i;

  cJSON_AddNumberToObject (index, "version", 2);
  entries = cJSON_AddArrayToObject (index, "torrents");
  for (i = 0; i < 7; i++)
    {
      NmtSessionTorrent *tr = nmt_session_single_file_torrent (work, 80000 + i, 4000 + i * 100);
      g_autofree char *fk = nmt_session_key (tr->hash, ":torrentfile");
      g_autofree char *dk = nmt_session_key (tr->hash, ":infodict");
      g_autofree char *sk = nmt_session_key (tr->hash, ":state");
      g_autofree char *file64 = nmt_session_b64 (tr->torrent), *info64 = nmt_session_b64 (tr->info);
      g_autoptr(cJSON) st = nmt_session_state_for (i, tr->pieces);
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
          cJSON_AddItemToObject (items, fk, nmt_session_bytes_json (file64, strlen (file64)));
          cJSON_AddItemToObject (items, sk, nmt_session_json_as_bytes (st));
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
  nmt_session_call_ok (host, req);

  restore = nmt_session_call (host, "{\"op\":\"sessionRestore\"}");
  assert_true (cJSON_Compare (nmt_session_member (restore, "index"), index, TRUE));
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (restore, "torrents")), 7);
  i = 0;
  cJSON_ArrayForEach (t, nmt_session_member (restore, "torrents"))
    {
      NmtSessionTorrent *tr = list->pdata[i];
      if (i < 3)
        nmt_session_assert_bytes_member (t, "torrentfile", tr->torrent);
      else if (i < 6)
        nmt_session_assert_bytes_member (t, "infodict", tr->info);
      if (i < 3)
        {
          g_autoptr(cJSON) st = nmt_session_state_for (i, tr->pieces);
          assert_true (cJSON_Compare (nmt_session_member (t, "state"), st, TRUE));
        }
      i++;
    }
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (restore, "problems")), 3);
  assert_true (has_problem (restore, "no-metadata", ((NmtSessionTorrent *) list->pdata[4])->hash));
  assert_true (has_problem (restore, "bad-entry", ((NmtSessionTorrent *) list->pdata[5])->hash));
  assert_true (has_problem (restore, "bad-bencode", ((NmtSessionTorrent *) list->pdata[6])->hash));

  /* Repair makes the first two magnets, which their infodicts restore, and
   * drops the third, which nothing can. */
  fixed = nmt_session_call (host, "{\"op\":\"sessionCheck\",\"repair\":true}");
  assert_true (cJSON_IsTrue (nmt_session_member (fixed, "repaired")));
  g_clear_pointer (&restore, cJSON_Delete);
  restore = nmt_session_call (host, "{\"op\":\"sessionRestore\"}");
  if (cJSON_GetArraySize (nmt_session_member (restore, "problems")) != 0)
    fail_msg ("after repair: %s", cJSON_PrintUnformatted (nmt_session_member (restore, "problems")));
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (restore, "torrents")), 6);
  t = cJSON_GetArrayItem (nmt_session_member (restore, "torrents"), 4);
  assert_string_equal (nmt_session_member (nmt_session_member (t, "entry"), "source")->valuestring, "magnet");
  assert_non_null (strstr (nmt_session_member (nmt_session_member (t, "entry"), "magnetUri")->valuestring, ((NmtSessionTorrent *) list->pdata[4])->hash));
  t = cJSON_GetArrayItem (nmt_session_member (restore, "torrents"), 5);
  assert_non_null (strstr (nmt_session_member (nmt_session_member (t, "entry"), "magnetUri")->valuestring, ((NmtSessionTorrent *) list->pdata[5])->hash));
  again = nmt_session_call (host, "{\"op\":\"sessionCheck\"}");
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (again, "findings")), 0);
  nmt_remove_tree (home);
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_summary_real_torrents),
    cmocka_unit_test (test_migrate_v1),
    cmocka_unit_test (test_migrate_v1_extension_form),
    cmocka_unit_test (test_restore_engine_forms),
    cmocka_unit_test (test_restore_values_exact),
    cmocka_unit_test (test_restore_1000),
  };

  /* 77 is ctest's SKIP_RETURN_CODE for this suite (tests/CMakeLists.txt). */
  if (!nmt_session_prepare ("integration_test_session", argc, argv))
    return 77;
  return cmocka_run_group_tests (tests, nmt_session_setup, nmt_session_teardown);
}
