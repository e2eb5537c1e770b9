/* SPDX-License-Identifier: MIT */
/* test_store_subscribers.c: that the store logs exactly while someone is
 * subscribed, on a real SQLite file looked at directly: no rows without a
 * subscriber, rows from the subscription on (also inside one transaction),
 * the log emptied when the last one leaves, and registrations of dead
 * processes removed while live ones stay. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "base/error.h"
#include "base/os.h"
#include "store/store.h"

#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char     *home;
  char     *dir;
  NmsStore *store;
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;

  f->home = nmt_make_home ();
  f->dir = g_build_filename (f->home, "origin", NULL);
  f->store = nms_store_open (f->dir, "test", NULL, &error);
  assert_non_null (f->store);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  nms_store_free (f->store);
  nmt_remove_tree (f->home);
  g_free (f->dir);
  g_free (f->home);
  g_free (f);
  return 0;
}

/* A number from the database file itself, through a connection of its own. */
static gint64
query_int (Fixture *f, const char *sql)
{
  g_autofree char *path = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  gint64 value;

  assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_step (s), SQLITE_ROW);
  value = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  sqlite3_close (db);
  return value;
}

static void
exec_sql (Fixture *f, const char *sql)
{
  g_autofree char *path = g_build_filename (f->dir, NMS_STORE_FILE_NAME, NULL);
  sqlite3 *db = NULL;

  assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_exec (db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close (db);
}

static void
set1 (NmsStore *store, const char *key, const char *json)
{
  NmsItem item = { key, strlen (key), NMS_VALUE_JSON, (const guint8 *) json, strlen (json) };
  g_autoptr(GError) error = NULL;

  assert_true (nms_store_set (store, &item, 1, &error));
}

static void
write_some (NmsStore *store)
{
  const char *keys[] = { "a" };
  g_autoptr(GError) error = NULL;

  set1 (store, "a", "1");
  set1 (store, "a", "2");
  set1 (store, "b", "3");
  assert_true (nms_store_remove (store, keys, 1, &error));
  assert_true (nms_store_clear (store, NULL, &error));
  assert_true (nms_store_begin (store, TRUE, &error));
  assert_true (nms_store_changes_begin (store, &error));
  set1 (store, "c", "4");
  assert_true (nms_store_changes_end (store, TRUE, &error));
  assert_true (nms_store_commit (store, &error));
}

static void
test_nobody_subscribed_no_rows (void **state)
{
  Fixture *f = *state;

  write_some (f->store);
  assert_int_equal (query_int (f, "SELECT count(*) FROM changes"), 0);
  assert_int_equal (query_int (f, "SELECT count(*) FROM subscribers"), 0);
  /* The writes themselves happened. */
  assert_int_equal (query_int (f, "SELECT count(*) FROM items"), 1);
}

/* Inside one write transaction a write before the subscription is not
 * logged and one after it is: the flag that a transaction asks once must
 * turn on with the subscription. */
static void
test_subscription_inside_a_transaction (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  gint64 id;
  guint64 cursor, head, pruned;

  assert_true (nms_store_begin (f->store, TRUE, &error));
  set1 (f->store, "before", "1");
  assert_true (nms_store_subscribe (f->store, &id, &cursor, &error));
  set1 (f->store, "after", "2");
  assert_true (nms_store_commit (f->store, &error));

  assert_int_equal (cursor, 0);
  assert_int_equal (query_int (f, "SELECT count(*) FROM changes"), 1);
  assert_int_equal (query_int (f, "SELECT count(*) FROM subscribers"), 1);
  assert_true (nms_store_changes_state (f->store, &head, &pruned, &error));
  assert_int_equal (head, 1);
}

/* When the last subscriber leaves, writes stop logging and the log is
 * emptied; a new subscriber starts at the old head, never below it. */
static void
test_last_unsubscribe_empties_the_log (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  gint64 one, two;
  guint64 cursor, head, pruned;
  gboolean exists;

  assert_true (nms_store_subscribe (f->store, &one, &cursor, &error));
  assert_true (nms_store_subscribe (f->store, &two, &cursor, &error));
  set1 (f->store, "a", "1");
  assert_true (nms_store_unsubscribe (f->store, one, &error));
  set1 (f->store, "a", "2");    /* two still listens */
  assert_int_equal (query_int (f, "SELECT count(*) FROM changes"), 2);
  assert_true (nms_store_subscribed (f->store, one, &exists, &error));
  assert_false (exists);
  assert_true (nms_store_subscribed (f->store, two, &exists, &error));
  assert_true (exists);

  assert_true (nms_store_unsubscribe (f->store, two, &error));
  assert_true (nms_store_unsubscribe (f->store, two, &error)); /* already gone: no error */
  assert_int_equal (query_int (f, "SELECT count(*) FROM changes"), 0);
  set1 (f->store, "a", "3");
  assert_int_equal (query_int (f, "SELECT count(*) FROM changes"), 0);

  assert_true (nms_store_changes_state (f->store, &head, &pruned, &error));
  assert_int_equal (head, 2);
  assert_int_equal (pruned, 2);
  assert_true (nms_store_subscribe (f->store, &one, &cursor, &error));
  assert_int_equal (cursor, 2);
  set1 (f->store, "a", "4");
  assert_true (nms_store_changes_state (f->store, &head, &pruned, &error));
  assert_int_equal (head, 3);
}

/* A pid that no process has now: a child that has exited and been reaped. */
static int
dead_pid (void)
{
  pid_t pid = fork ();

  if (pid == 0)
    _exit (0);
  assert_true (pid > 0);
  assert_int_equal (waitpid (pid, NULL, 0), pid);
  return (int) pid;
}

/* Rows of a dead pid, and of this pid with another start time (the pid
 * reused by a later process), go when a store is opened or a port
 * subscribes; this process's real row stays. */
static void
test_dead_subscribers_are_removed (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *sql = NULL;
  int me = nms_os_pid ();
  guint64 started = nms_os_process_start_time (me);
  gint64 id;
  guint64 cursor;
  guint n;

  assert_true (started > 0);
  assert_true (nms_store_subscribe (f->store, &id, &cursor, &error));
  sql = g_strdup_printf ("INSERT INTO subscribers (pid, started, since) VALUES (%d, 0, 0), (%d, %" G_GUINT64_FORMAT
                         ", 0)", dead_pid (), me, started + 1);
  exec_sql (f, sql);
  assert_int_equal (query_int (f, "SELECT count(*) FROM subscribers"), 3);

  /* Opening the store removes them. */
  nms_store_free (f->store);
  f->store = nms_store_open (f->dir, "test", NULL, &error);
  assert_non_null (f->store);
  assert_int_equal (query_int (f, "SELECT count(*) FROM subscribers"), 1);
  g_free (sql);
  sql = g_strdup_printf ("SELECT count(*) FROM subscribers WHERE id = %" G_GINT64_FORMAT, id);
  assert_int_equal (query_int (f, sql), 1);

  /* So does subscribing. */
  g_free (sql);
  sql = g_strdup_printf ("INSERT INTO subscribers (pid, started, since) VALUES (%d, 0, 0)", dead_pid ());
  exec_sql (f, sql);
  assert_true (nms_store_subscribe (f->store, &id, &cursor, &error));
  assert_int_equal (query_int (f, "SELECT count(*) FROM subscribers"), 2);

  /* Nothing left to do: no error, nothing removed. */
  assert_true (nms_store_forget_dead_subscribers (f->store, &n, &error));
  assert_int_equal (n, 0);
}

static void
test_process_liveness (void **state)
{
  int me = nms_os_pid ();

  assert_true (nms_os_process_alive (me, 0));
  assert_true (nms_os_process_alive (me, nms_os_process_start_time (me)));
  assert_false (nms_os_process_alive (me, nms_os_process_start_time (me) + 1));
  assert_false (nms_os_process_alive (dead_pid (), 0));
  assert_false (nms_os_process_alive (0, 0));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_nobody_subscribed_no_rows, setup, teardown),
    cmocka_unit_test_setup_teardown (test_subscription_inside_a_transaction, setup, teardown),
    cmocka_unit_test_setup_teardown (test_last_unsubscribe_empties_the_log, setup, teardown),
    cmocka_unit_test_setup_teardown (test_dead_subscribers_are_removed, setup, teardown),
    cmocka_unit_test (test_process_liveness),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
