/* SPDX-License-Identifier: MIT */
/* test_session_upkeep.c: the session ops and commands that change or copy
 * a session, on real .torrent files made by Debian's mktorrent:
 * removeTorrent (also beside another process writing states), check and
 * check --repair, export and import, backup and restore while another
 * process writes. What the ops read back is in test_session.c. Needs
 * mktorrent; without it the whole suite is skipped, and says so. */
#include "sessioncheck.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

/* A small session of n real torrents, state and torrentfile each. */
static GPtrArray *
write_session (const char *work, NmtHost *host, guint n, guint seed)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) nmt_session_torrent_free);
  g_autoptr(cJSON) req = nmt_session_set_request (), index = cJSON_CreateObject ();
  cJSON *entries;
  guint i;

  cJSON_AddNumberToObject (index, "version", 2);
  entries = cJSON_AddArrayToObject (index, "torrents");
  for (i = 0; i < n; i++)
    {
      NmtSessionTorrent *tr = nmt_session_single_file_torrent (work, seed + i, 5000 + i);
      g_autofree char *fk = nmt_session_key (tr->hash, ":torrentfile");
      g_autofree char *sk = nmt_session_key (tr->hash, ":state");
      g_autofree char *text = nmt_session_b64 (tr->torrent);
      g_autoptr(cJSON) st = nmt_session_state_for (i, tr->pieces);
      cJSON *e = cJSON_CreateObject ();

      g_ptr_array_add (list, tr);
      cJSON_AddStringToObject (e, "infoHash", tr->hash);
      cJSON_AddStringToObject (e, "source", "file");
      cJSON_AddNumberToObject (e, "addedAt", 1700000000000.0 + i);
      cJSON_AddItemToArray (entries, e);
      cJSON_AddItemToObject (nmt_session_member (req, "items"), fk, nmt_session_bytes_json (text, strlen (text)));
      cJSON_AddItemToObject (nmt_session_member (req, "items"), sk, nmt_session_json_as_bytes (st));
    }
  cJSON_AddItemToObject (nmt_session_member (req, "items"), "session:torrents", nmt_session_json_as_bytes (index));
  nmt_session_call_ok (host, req);
  return list;
}

static gboolean
index_lists (cJSON *restore, const char *hash)
{
  cJSON *e;

  cJSON_ArrayForEach (e, nmt_session_member (nmt_session_member (restore, "index"), "torrents"))
    if (g_str_equal (nmt_session_member (e, "infoHash")->valuestring, hash))
      return TRUE;
  return FALSE;
}

static void
test_remove_torrent (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = write_session (*state, host, 3, 20000);
  NmtSessionTorrent *gone = list->pdata[1];
  g_autofree char *text = g_strdup_printf ("{\"op\":\"sessionRemoveTorrent\",\"infoHash\":\"%s\"}", gone->hash);
  g_autoptr(cJSON) reply = nmt_session_call (host, text);
  g_autoptr(cJSON) restore = NULL, again = NULL, bad = NULL;

  assert_true (cJSON_IsTrue (nmt_session_member (reply, "indexUpdated")));
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (reply, "removed")), 2);
  restore = nmt_session_call (host, "{\"op\":\"sessionRestore\"}");
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (restore, "torrents")), 2);
  assert_false (index_lists (restore, gone->hash));
  assert_true (index_lists (restore, ((NmtSessionTorrent *) list->pdata[0])->hash));
  again = nmt_session_call (host, text);
  assert_true (cJSON_IsFalse (nmt_session_member (again, "indexUpdated")));
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (again, "removed")), 0);
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
      if (!cJSON_IsTrue (nmt_session_member (reply, "ok")))
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
  g_autoptr(GPtrArray) list = write_session (*state, remover, 40, 30000);
  Writer w = { home, g_ptr_array_new (), 0, 0, 0 };
  GThread *thread;
  guint i, snapshots = 0;

  for (i = 20; i < 40; i++)
    g_ptr_array_add (w.hashes, ((NmtSessionTorrent *) list->pdata[i])->hash);
  thread = g_thread_new ("writer", write_states, &w);
  for (i = 0; i < 20; i++)
    {
      NmtSessionTorrent *tr = list->pdata[i];
      g_autofree char *text = g_strdup_printf ("{\"op\":\"sessionRemoveTorrent\",\"infoHash\":\"%s\"}", tr->hash);
      g_autoptr(cJSON) reply = nmt_session_call (remover, text);
      g_autoptr(cJSON) snap = nmt_session_call (reader, "{\"op\":\"sessionRestore\"}");
      cJSON *t;

      assert_true (cJSON_IsTrue (nmt_session_member (reply, "indexUpdated")));
      /* sessionRestore lists a torrent without metadata as a problem */
      assert_int_equal (cJSON_GetArraySize (nmt_session_member (snap, "problems")), 0);
      assert_int_equal (cJSON_GetArraySize (nmt_session_member (snap, "torrents")), 39 - (int) i);
      cJSON_ArrayForEach (t, nmt_session_member (snap, "torrents"))
        assert_false (cJSON_IsNull (nmt_session_member (t, "torrentfile")));
      snapshots++;
    }
  g_atomic_int_set (&w.stop, 1);
  g_thread_join (thread);
  g_print ("# %u removals beside %u concurrent state writes, %u snapshots\n", 20, w.writes, snapshots);
  assert_int_equal (w.failures, 0);
  assert_true (w.writes > 0);
  {
    g_autoptr(cJSON) keys = nmt_session_call (reader, "{\"op\":\"getKeys\",\"prefix\":\"session:torrent:\"}");
    cJSON *k;
    guint n = 0;
    cJSON_ArrayForEach (k, nmt_session_member (keys, "keys"))
      {
        for (i = 0; i < 20; i++)
          assert_null (strstr (k->valuestring, ((NmtSessionTorrent *) list->pdata[i])->hash));
        n++;
      }
    assert_int_equal (n, 40);
  }
  g_ptr_array_unref (w.hashes);
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

  cJSON_ArrayForEach (f, nmt_session_member (report, "findings"))
    if (g_str_equal (nmt_session_member (f, "code")->valuestring, code)
        && (hash == NULL || g_strcmp0 (cJSON_GetStringValue (nmt_session_member (f, "infoHash")), hash) == 0)
        && cJSON_IsString (nmt_session_member (f, "repair")))
      return TRUE;
  return FALSE;
}

/* Every finding of check, that check alone changes nothing, and that
 * --repair leaves a session that checks clean. */
static void
test_check_findings (void **state)
{
  const char *work = *state;
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GPtrArray) list = write_session (*state, host, 6, 50000);
  g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func ((GDestroyNotify) nmt_session_torrent_free);
  g_autoptr(cJSON) req = nmt_session_set_request (), report = NULL, after = NULL, restore = NULL;
  g_autofree char *before = NULL, *unchanged = NULL;
  NmtSessionTorrent *ok = list->pdata[0], *nometa = list->pdata[1], *badbf = list->pdata[2];
  NmtSessionTorrent *mismatch = list->pdata[3], *badjson = list->pdata[4], *badbencode = list->pdata[5];
  NmtSessionTorrent *adopt, *stray;
  cJSON *items = nmt_session_member (req, "items");
  const char *args[] = { "session", "check", "--origin", NMT_ORIGIN, NULL };
  const char *repair_args[] = { "session", "check", "--repair", "--origin", NMT_ORIGIN, NULL };
  g_autofree char *out = NULL, *err = NULL;

  g_ptr_array_add (extra, adopt = nmt_session_single_file_torrent (work, 50100, 7000));
  g_ptr_array_add (extra, stray = nmt_session_single_file_torrent (work, 50101, 7000));
  {
    g_autofree char *k1 = nmt_session_key (nometa->hash, ":torrentfile");
    g_autofree char *k2 = nmt_session_key (badbf->hash, ":state");
    g_autofree char *k3 = nmt_session_key (mismatch->hash, ":torrentfile");
    g_autofree char *k4 = nmt_session_key (badjson->hash, ":state");
    g_autofree char *k5 = nmt_session_key (badbencode->hash, ":torrentfile");
    g_autofree char *k6 = nmt_session_key (adopt->hash, ":torrentfile");
    g_autofree char *k7 = nmt_session_key (stray->hash, ":state");
    gsize len;
    const guint8 *other = g_bytes_get_data (ok->torrent, &len);
    const guint8 *adopted = NULL;
    gsize adopted_len;

    adopted = g_bytes_get_data (adopt->torrent, &adopted_len);
    cJSON_AddNullToObject (items, k1); /* replaced below by a remove */
    cJSON_AddItemToObject (items, k2, cJSON_Parse ("{\"userState\":\"active\",\"bitfield\":\"ffffffffffffffffffffff\","
                                                   "\"uploaded\":0,\"downloaded\":0,\"updatedAt\":0}"));
    cJSON_AddItemToObject (items, k3, nmt_session_bytes_json (other, len));
    cJSON_AddItemToObject (items, k4, nmt_session_bytes_json ("{\"userState\":", 13));
    cJSON_AddItemToObject (items, k5, nmt_session_bytes_json ("d4:infoi1", 9));
    cJSON_AddItemToObject (items, k6, nmt_session_bytes_json (adopted, adopted_len));
    cJSON_AddItemToObject (items, k7, cJSON_Parse ("{\"userState\":\"stopped\"}"));
    cJSON_DeleteItemFromObject (items, k1);
    nmt_session_call_ok (host, req);
    {
      g_autofree char *rm = g_strdup_printf ("{\"op\":\"remove\",\"keys\":\"%s\"}", k1);
      g_autoptr(cJSON) r = nmt_session_call (host, rm);
    }
  }

  before = export_text (home);
  assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 1);
  g_print ("%s", out);
  unchanged = export_text (home);
  assert_string_equal (before, unchanged);

  report = nmt_session_call (host, "{\"op\":\"sessionCheck\"}");
  assert_true (has_finding (report, "no-metadata", nometa->hash));
  assert_true (has_finding (report, "bitfield-length", badbf->hash));
  assert_true (has_finding (report, "hash-mismatch", mismatch->hash));
  assert_true (has_finding (report, "bad-json", badjson->hash));
  assert_true (has_finding (report, "bad-bencode", badbencode->hash));
  assert_true (has_finding (report, "orphan", adopt->hash));
  assert_true (has_finding (report, "orphan", stray->hash));
  assert_false (has_finding (report, "no-metadata", ok->hash));
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (report, "findings")), 7);

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  assert_int_equal (nmt_run_cli (home, repair_args, NULL, &out, &err), 0);
  after = nmt_session_call (host, "{\"op\":\"sessionCheck\"}");
  if (cJSON_GetArraySize (nmt_session_member (after, "findings")) != 0)
    fail_msg ("after --repair: %s", cJSON_PrintUnformatted (after));
  restore = nmt_session_call (host, "{\"op\":\"sessionRestore\"}");
  /* ok, badbf (bitfield dropped), badjson (state dropped), adopted */
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (restore, "torrents")), 4);
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
  g_autoptr(GPtrArray) list = write_session (*state, host, 3, 60000);
  g_autoptr(cJSON) report = NULL, fixed = NULL, restore = NULL, kept = NULL;
  guint i;

  g_autoptr(cJSON) r = nmt_session_call (host, "{\"op\":\"set\",\"items\":{\"session:torrents\":{\"$bytes\":\"eyJ2ZXJz\"}}}");
  report = nmt_session_call (host, "{\"op\":\"sessionCheck\"}");
  assert_true (has_finding (report, "bad-json", NULL));
  fixed = nmt_session_call (host, "{\"op\":\"sessionCheck\",\"repair\":true}");
  restore = nmt_session_call (host, "{\"op\":\"sessionRestore\"}");
  assert_int_equal (cJSON_GetArraySize (nmt_session_member (restore, "problems")), 0);
  for (i = 0; i < list->len; i++)
    assert_true (index_lists (restore, ((NmtSessionTorrent *) list->pdata[i])->hash));
  kept = nmt_session_call (host, "{\"op\":\"get\",\"keys\":\"session:backup:bad-index\"}");
  assert_string_equal (nmt_session_member (nmt_session_member (nmt_session_member (kept, "items"), "session:backup:bad-index"), "$bytes")->valuestring,
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
  g_autoptr(GPtrArray) list = write_session (*state, host, 5, 70000);
  g_autoptr(cJSON) r = nmt_session_call (host, "{\"op\":\"set\",\"items\":{\"ab\":\"x\\u0000y\",\"n\":1.5e300,"
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
      if (!cJSON_IsTrue (nmt_session_member (reply, "ok")))
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
    g_autoptr(cJSON) r = nmt_session_call (first, "{\"op\":\"set\",\"items\":{\"count\":0}}");
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
    g_autoptr(cJSON) before = nmt_session_call (open_host, "{\"op\":\"get\",\"keys\":\"count\"}");
    const char *args[] = { "restore", "--origin", NMT_ORIGIN, path, NULL };
    const char *wrong[] = { "restore", "--origin", NMT_ORIGIN_2, path, NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(cJSON) after = NULL, keys = NULL;

    assert_int_equal (nmt_session_member (nmt_session_member (before, "items"), "count")->valueint, (int) c.n);
    assert_int_equal (nmt_run_cli (home, args, NULL, &out, &err), 0);
    after = nmt_session_call (open_host, "{\"op\":\"get\",\"keys\":\"count\"}");
    assert_int_equal (nmt_session_member (nmt_session_member (after, "items"), "count")->valueint, (int) counts[0]);
    keys = nmt_session_call (open_host, "{\"op\":\"getKeys\",\"prefix\":\"item:\"}");
    assert_int_equal (cJSON_GetArraySize (nmt_session_member (keys, "keys")), (int) counts[0]);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    /* another origin's backup is refused */
    assert_int_equal (nmt_run_cli (home, wrong, NULL, &out, &err), 1);
    assert_non_null (strstr (err, "never restored into another"));
  }
  nmt_remove_tree (home);
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_remove_torrent),
    cmocka_unit_test (test_remove_under_concurrent_writer),
    cmocka_unit_test (test_check_findings),
    cmocka_unit_test (test_check_rebuilds_bad_index),
    cmocka_unit_test (test_export_import_identical),
    cmocka_unit_test (test_backup_while_writing),
  };

  /* 77 is ctest's SKIP_RETURN_CODE for this suite (tests/CMakeLists.txt). */
  if (!nmt_session_prepare ("integration_test_session_upkeep", argc, argv))
    return 77;
  return cmocka_run_group_tests (tests, nmt_session_setup, nmt_session_teardown);
}
