/* SPDX-License-Identifier: MIT */
/* test_disk_faults.c: a full disk, a read-only data root and a store
 * deleted under a running host.
 *
 * A full disk is modelled with RLIMIT_FSIZE on the host process (set in
 * the child before exec, with SIGXFSZ ignored so that the write fails with
 * EFBIG instead of killing the process; an ignored disposition survives
 * exec). Space coming back is modelled by raising that limit on the running
 * host with prlimit(2): the host sees exactly what it would see when
 * another program frees space, writes that were failing start to succeed,
 * without a restart. */
#define _GNU_SOURCE
#include "harness.h"
#include "storecheck.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#define FSIZE_LIMIT (256 * 1024)

static void
limit_file_size (gpointer user_data)
{
  /* Only the soft limit: raising it back needs no privilege. */
  struct rlimit lim = { FSIZE_LIMIT, RLIM_INFINITY };

  signal (SIGXFSZ, SIG_IGN);
  setrlimit (RLIMIT_FSIZE, &lim);
}

static NmtHost *
start_limited (const char *home)
{
  const char *args[] = { "host", "--origin", NMT_ORIGIN, NULL };
  NmtHostOptions options = { .child_setup = limit_file_size };

  return nmt_host_start_full (home, args, &options);
}

static cJSON *
call_fmt_big (NmtHost *host, int id, const char *key, gsize size)
{
  g_autofree char *fill = g_strnfill (size, 'z');
  g_autofree char *req = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"%s\":\"%s\"}}", id, key, fill);
  return nmt_host_call (host, req);
}

/* The baseline every fault test starts from, acknowledged before it. */
static void
write_baseline (const char *home)
{
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  for (int i = 0; i < 20; i++)
    {
      g_autofree char *req = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"base%d\":\"value-%d\"}}", i, i, i);
      cJSON *r = nmt_host_call (host, req);
      nmt_assert_ok (r);
      cJSON_Delete (r);
    }
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
}

static void
assert_baseline (NmtHost *host)
{
  cJSON *r = nmt_host_call (host, "{\"id\":\"read\",\"op\":\"get\",\"prefix\":\"base\"}");
  const cJSON *items = cJSON_GetObjectItemCaseSensitive (r, "items");

  nmt_assert_ok (r);
  assert_int_equal (cJSON_GetArraySize (items), 20);
  for (int i = 0; i < 20; i++)
    {
      g_autofree char *key = g_strdup_printf ("base%d", i);
      g_autofree char *want = g_strdup_printf ("value-%d", i);
      const cJSON *v = cJSON_GetObjectItemCaseSensitive (items, key);
      assert_true (cJSON_IsString (v));
      assert_string_equal (v->valuestring, want);
    }
  cJSON_Delete (r);
}

static void
assert_file_has (const char *home, const char *const *keys, gboolean present)
{
  g_autofree char *db = nmt_store_find_db (home);
  g_autofree char *problem = NULL;
  g_autoptr(GHashTable) file = nmt_store_snapshot (db, &problem);

  if (file == NULL)
    fail_msg ("%s", problem);
  for (; *keys != NULL; keys++)
    if (g_hash_table_contains (file, *keys) != present)
      fail_msg ("%s should %sbe in the file", *keys, present ? "" : "not ");
}

static void
test_full_disk (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = NULL;
  struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
  const char *base_keys[] = { "base0", "base19", "small", NULL };
  const char *lost_keys[] = { "big1", "big2", "big3", NULL };
  guint failures = 0;
  cJSON *r;

  write_baseline (home);
  host = start_limited (home);
  r = nmt_host_call (host, "{\"id\":1,\"op\":\"set\",\"items\":{\"small\":\"fits\"}}");
  nmt_assert_ok (r);
  cJSON_Delete (r);

  /* Each is larger than the file size limit, alone and pipelined. */
  for (int i = 1; i <= 3; i++)
    {
      g_autofree char *key = g_strdup_printf ("big%d", i);
      const char *message;
      r = call_fmt_big (host, 10 + i, key, FSIZE_LIMIT + 1000);
      nmt_assert_error (r, "E_IO");
      message = cJSON_GetObjectItem (cJSON_GetObjectItem (r, "error"), "message")->valuestring;
      /* The person is told which file and what to do. */
      assert_non_null (strstr (message, "store.db"));
      assert_non_null (strstr (message, "full"));
      cJSON_Delete (r);
      failures++;
      assert_baseline (host);
    }
  r = nmt_host_call (host, "{\"id\":2,\"op\":\"hello\"}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  r = nmt_host_call (host, "{\"id\":3,\"op\":\"getKeys\",\"prefix\":\"big\"}");
  nmt_assert_ok (r);
  assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (r, "keys")), 0);
  cJSON_Delete (r);

  /* Space is back: the same write on the same running host succeeds. */
  if (prlimit (nmt_host_pid (host), RLIMIT_FSIZE, &unlimited, NULL) != 0)
    fail_msg ("cannot raise the host's file size limit: %s", g_strerror (errno));
  r = call_fmt_big (host, 20, "big1", FSIZE_LIMIT + 1000);
  nmt_assert_ok (r);
  cJSON_Delete (r);
  r = nmt_host_call (host, "{\"id\":21,\"op\":\"flush\"}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  assert_baseline (host);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);

  assert_file_has (home, base_keys, TRUE);
  assert_file_has (home, (const char *[]) { "big1", NULL }, TRUE);
  assert_file_has (home, lost_keys + 1, FALSE);
  print_message ("disk faults: %u writes refused with E_IO at a %d KiB file limit; reads and earlier writes intact; "
                 "writes work again once the limit is raised\n", failures, FSIZE_LIMIT / 1024);
  nmt_remove_tree (home);
}

/* A data root on a file system that becomes read-only (a remount, a
 * failing disk). Permission bits cannot model it: root ignores them, and
 * the host tightens the modes of files it owns. So the test mounts a small
 * tmpfs of its own, which needs root; elsewhere it is skipped, and says so. */
static int
unmount_if_mounted (void **state)
{
  char *home = *state;

  if (home != NULL)
    umount2 (home, MNT_DETACH); /* after a failure; harmless after success */
  g_free (home);
  return 0;
}

static void
test_read_only_root (void **state)
{
  g_autofree char *top = nmt_make_home ();
  char *home = g_build_filename (top, "ro", NULL);
  g_autoptr(NmtHost) host = NULL;
  cJSON *r;
  const char *message;

  *state = home;
  g_mkdir (home, 0700);
  if (mount ("nmstore-test", home, "tmpfs", 0, "size=4m,mode=0700") != 0)
    {
      print_message ("read-only root: skipped, cannot mount a tmpfs here (%s)\n", g_strerror (errno));
      nmt_remove_tree (top);
      skip ();
    }
  write_baseline (home);
  assert_int_equal (mount (NULL, home, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
  host = nmt_host_start (home, NMT_ORIGIN);

  r = nmt_host_call (host, "{\"id\":1,\"op\":\"hello\"}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  r = nmt_host_call (host, "{\"id\":2,\"op\":\"set\",\"items\":{\"a\":1}}");
  nmt_assert_error (r, "E_IO");
  message = cJSON_GetObjectItem (cJSON_GetObjectItem (r, "error"), "message")->valuestring;
  assert_non_null (strstr (message, home));
  assert_non_null (strstr (message, "writable"));
  cJSON_Delete (r);
  /* Reads fail too, with the same message: a WAL store cannot be opened
   * where its shared-memory index cannot be created. */
  r = nmt_host_call (host, "{\"id\":3,\"op\":\"get\",\"keys\":\"base0\"}");
  nmt_assert_error (r, "E_IO");
  cJSON_Delete (r);

  /* Writable again: the same host serves, and the old data is all there. */
  assert_int_equal (mount (NULL, home, NULL, MS_REMOUNT, "size=4m,mode=0700"), 0);
  r = nmt_host_call (host, "{\"id\":4,\"op\":\"set\",\"items\":{\"a\":1}}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  assert_baseline (host);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  assert_file_has (home, (const char *[]) { "a", "base0", "base19", NULL }, TRUE);
  assert_int_equal (umount (home), 0);
  nmt_remove_tree (top);
}

/* A disk that fills up: writes fail with E_IO, but an extension can still
 * free space, since the host gives up its reserve (store.reserve) for a
 * remove or a clear. A real full file system: a small tmpfs of the test's
 * own (root only; skipped elsewhere, saying so). */
static void
test_deletes_on_a_full_disk (void **state)
{
  g_autofree char *top = nmt_make_home ();
  char *home = g_build_filename (top, "full", NULL);
  g_autofree char *reserve = NULL;
  g_autoptr(NmtHost) host = NULL;
  guint stored = 0;
  cJSON *r;

  *state = home;
  g_mkdir (home, 0700);
  if (mount ("nmstore-test", home, "tmpfs", 0, "size=16m,mode=0700") != 0)
    {
      print_message ("full disk: skipped, cannot mount a tmpfs here (%s)\n", g_strerror (errno));
      nmt_remove_tree (top);
      skip ();
    }
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"small\":1}}");
  reserve = g_build_filename (home, "chromium-abcdefghijklmnopabcdefghijklmnop", "store.reserve", NULL);
  assert_true (g_file_test (reserve, G_FILE_TEST_IS_REGULAR));
  /* Until the disk is full: writes of 256 KiB, then smaller ones into
   * what is left, down to 1 KiB. */
  for (gsize size = 256 * 1024; size >= 1024; size /= 4)
    for (;;)
      {
        g_autofree char *key = g_strdup_printf ("fill%04u", stored);
        gboolean ok;

        r = call_fmt_big (host, (int) stored, key, size);
        ok = cJSON_IsTrue (cJSON_GetObjectItem (r, "ok"));
        if (!ok)
          nmt_assert_error (r, "E_IO");
        cJSON_Delete (r);
        if (!ok)
          break;
        assert_true (++stored < 5000);
      }
  assert_true (stored > 4);
  assert_true (g_file_test (reserve, G_FILE_TEST_IS_REGULAR));

  /* The extension frees space: a remove, then a clear of a prefix. */
  nmt_host_call_ok (host, "{\"op\":\"remove\",\"keys\":[\"fill0000\",\"fill0001\"]}");
  nmt_host_call_ok (host, "{\"op\":\"clear\",\"prefix\":\"fill\"}");
  r = nmt_host_call (host, "{\"op\":\"get\"}");
  nmt_assert_ok (r);
  nmt_assert_json (nmt_member (r, "items"), "{\"small\":1}");
  cJSON_Delete (r);
  print_message ("full disk: %u writes filled a 16 MiB file system; remove and clear then went through "
                 "on the reserve\n", stored);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  assert_int_equal (umount (home), 0);
  nmt_remove_tree (top);
}

/* Removes the store's file and its WAL and index (from 0), or only those
 * two (from 1), as a person resetting or replacing it would. */
static void
unlink_store (const char *db, gsize from)
{
  const char *suffixes[] = { "", "-wal", "-shm" };

  for (gsize i = from; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *path = g_strconcat (db, suffixes[i], NULL);
      g_unlink (path);
    }
}

/* After the store was swapped under host: one more write, then every
 * item must be items_json, and the host must end cleanly. */
static void
write_and_read_back (NmtHost *host, const char *set, const char *items_json)
{
  cJSON *r = nmt_host_call (host, set);

  nmt_assert_ok (r);
  cJSON_Delete (r);
  r = nmt_host_call (host, "{\"id\":3,\"op\":\"get\"}");
  nmt_assert_ok (r);
  {
    g_autofree char *items = cJSON_PrintUnformatted (cJSON_GetObjectItem (r, "items"));
    assert_string_equal (items, items_json);
  }
  cJSON_Delete (r);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
}

/* A person deletes the store (to reset it, or by accident) while a host
 * has it open. The host must not go on acknowledging writes into the
 * deleted file, where they would vanish at exit: it opens the store at
 * its path again, so what it acknowledges is what the disk holds. */
static void
test_store_deleted_under_host (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autofree char *db = NULL;
  cJSON *r;

  r = nmt_host_call (host, "{\"id\":1,\"op\":\"set\",\"items\":{\"before\":1}}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  db = nmt_store_find_db (home);
  assert_non_null (db);
  unlink_store (db, 0);
  write_and_read_back (host, "{\"id\":2,\"op\":\"set\",\"items\":{\"after\":2}}", "{\"after\":2}");

  /* The acknowledged write is in the file at the store's path. */
  assert_true (g_file_test (db, G_FILE_TEST_EXISTS));
  assert_file_has (home, (const char *[]) { "after", NULL }, TRUE);
  assert_file_has (home, (const char *[]) { "before", NULL }, FALSE);
  nmt_remove_tree (home);
}

/* Another store file renamed over the store's while a host has it open
 * (a person putting a backup back by hand). The host must serve the file
 * now at the path, not the one it had open, which no longer has a name. */
static void
test_store_replaced_under_host (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *other_home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autofree char *db = NULL, *other_db = NULL;
  cJSON *r;

  r = nmt_host_call (host, "{\"id\":1,\"op\":\"set\",\"items\":{\"before\":1}}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  {
    g_autoptr(NmtHost) other = nmt_host_start (other_home, NMT_ORIGIN);

    r = nmt_host_call (other, "{\"id\":1,\"op\":\"set\",\"items\":{\"restored\":2}}");
    nmt_assert_ok (r);
    cJSON_Delete (r);
    nmt_host_close_input (other);
    assert_int_equal (nmt_host_wait (other), 0);
  }
  db = nmt_store_find_db (home);
  other_db = nmt_store_find_db (other_home);
  assert_non_null (db);
  assert_non_null (other_db);
  /* The old file's WAL and index go with it: they belong to that file. */
  unlink_store (db, 1);
  assert_int_equal (g_rename (other_db, db), 0);
  write_and_read_back (host, "{\"id\":2,\"op\":\"set\",\"items\":{\"after\":3}}",
                       "{\"after\":3,\"restored\":2}");

  assert_file_has (home, (const char *[]) { "after", "restored", NULL }, TRUE);
  assert_file_has (home, (const char *[]) { "before", NULL }, FALSE);
  nmt_remove_tree (home);
  nmt_remove_tree (other_home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_full_disk),
    cmocka_unit_test_teardown (test_read_only_root, unmount_if_mounted),
    cmocka_unit_test_teardown (test_deletes_on_a_full_disk, unmount_if_mounted),
    cmocka_unit_test (test_store_deleted_under_host),
    cmocka_unit_test (test_store_replaced_under_host),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
