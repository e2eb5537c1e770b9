/* SPDX-License-Identifier: MIT */
/* test_damaged_files.c: a store file changed behind nmstore's back, by a
 * person or a program, and a crafted backup. Whatever is in the file, the
 * host never sends a frame that is not valid JSON and never forges a
 * reply: a damaged item is E_CORRUPT for that key, the rest of the origin
 * stays readable, and restore refuses a backup it cannot vouch for. */
#include "harness.h"
#include "storecheck.h"

#include <sqlite3.h>
#include <string.h>

#define MIB (1024 * 1024)

static char *
store_path (const char *home)
{
  return g_build_filename (home, "chromium-abcdefghijklmnopabcdefghijklmnop", "store.db", NULL);
}

/* A store holding a, b and c, with the host that wrote it gone. */
static char *
make_store (void)
{
  char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);

  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":1,\"b\":[true],\"c\":\"keep\"}}");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  return home;
}

/* The items request gives: expected, compared as JSON. */
static void
expect_items (NmtHost *host, const char *request, const char *expected)
{
  cJSON *reply = nmt_host_call (host, request);

  nmt_assert_ok (reply);
  nmt_assert_json (nmt_member (reply, "items"), expected);
  cJSON_Delete (reply);
}

/* The next reply parses as JSON and is the error code, naming what. */
static void
expect_corrupt (NmtHost *host, const char *request, const char *names)
{
  cJSON *reply = nmt_host_call (host, request);
  const char *message;

  if (reply == NULL)
    fail_msg ("%s: the reply is not valid JSON, or never came", request);
  nmt_assert_error (reply, "E_CORRUPT");
  message = nmt_member (nmt_member (reply, "error"), "message")->valuestring;
  if (names != NULL && strstr (message, names) == NULL)
    fail_msg ("%s: the message does not name %s: %s", request, names, message);
  cJSON_Delete (reply);
}

typedef struct {
  const char *name;
  GBytes     *value;  /* what the attacker writes as a's value */
} Damage;

static GPtrArray *
damages (void)
{
  GPtrArray *list = g_ptr_array_new ();
  static Damage d[4];
  GString *nul = g_string_new ("\"");
  GString *bad_utf8 = g_string_new ("\"");
  const char *forged = "1},\"ok\":false,\"error\":{\"code\":\"E_AUTH\",\"message\":\"forged\"}";

  /* More than one reply frame, so that the chunker is on the way too;
   * under valgrind, where a MiB takes long, less. */
  gsize size = nmt_host_wrapped () ? 64 * 1024 : MIB + 100;

  for (gsize i = 0; i < size; i++)
    g_string_append_c (nul, i == size / 2 ? '\0' : 'n');
  g_string_append_c (nul, '"');
  for (gsize i = 0; i < size; i++)
    g_string_append_c (bad_utf8, i % 1000 == 7 ? '\xff' : 'u');
  g_string_append_c (bad_utf8, '"');
  d[0] = (Damage) { "a raw NUL in 1 MiB", g_string_free_to_bytes (nul) };
  d[1] = (Damage) { "1 MiB that is not UTF-8", g_string_free_to_bytes (bad_utf8) };
  d[2] = (Damage) { "text that would forge a reply", g_bytes_new_static (forged, strlen (forged)) };
  d[3] = (Damage) { "not JSON", g_bytes_new_static ("{\"x\"", 4) };
  for (gsize i = 0; i < G_N_ELEMENTS (d); i++)
    g_ptr_array_add (list, &d[i]);
  return list;
}

/* The file changed directly: every read of the damaged key, and of all,
 * is E_CORRUPT; other keys read; the damaged key can be removed. */
static void
test_edited_store_never_breaks_a_frame (void **state)
{
  g_autoptr(GPtrArray) list = damages ();

  for (guint i = 0; i < list->len; i++)
    {
      const Damage *d = list->pdata[i];
      g_autofree char *home = make_store ();
      g_autofree char *path = store_path (home);
      g_autoptr(NmtHost) host = NULL;
      gsize len;
      const void *data = g_bytes_get_data (d->value, &len);

      print_message ("damage: %s\n", d->name);
      nmt_store_edit (path, "UPDATE items SET value = ?1 WHERE key = 'a'", data, len);
      host = nmt_host_start (home, NMT_ORIGIN);
      expect_corrupt (host, "{\"op\":\"get\",\"keys\":\"a\"}", "\"a\"");
      expect_corrupt (host, "{\"op\":\"get\"}", "\"a\"");
      expect_corrupt (host, "{\"op\":\"get\",\"prefix\":\"\"}", "\"a\"");
      expect_corrupt (host, "{\"op\":\"get\",\"keys\":{\"a\":{\"d\":1}}}", "\"a\"");
      expect_items (host, "{\"op\":\"get\",\"keys\":[\"b\",\"c\"]}", "{\"b\":[true],\"c\":\"keep\"}");
      nmt_host_call_ok (host, "{\"op\":\"remove\",\"keys\":\"a\"}");
      expect_items (host, "{\"op\":\"get\"}", "{\"b\":[true],\"c\":\"keep\"}");
      nmt_host_close_input (host);
      assert_int_equal (nmt_host_wait (host), 0);
      nmt_remove_tree (home);
    }
  for (guint i = 0; i < list->len; i++)
    g_bytes_unref (((Damage *) list->pdata[i])->value);
}

/* A key that is not UTF-8 in the file is E_CORRUPT for any listing, not a
 * frame of bad text. */
static void
test_edited_key_never_breaks_a_frame (void **state)
{
  g_autofree char *home = make_store ();
  g_autofree char *path = store_path (home);
  g_autoptr(NmtHost) host = NULL;

  nmt_store_edit (path, "INSERT INTO items (key, kind, size, value) VALUES (CAST (?1 AS TEXT), 0, 3, CAST ('1' AS BLOB))",
             "z\xff\xfe", 3);
  host = nmt_host_start (home, NMT_ORIGIN);
  expect_corrupt (host, "{\"op\":\"getKeys\"}", "not UTF-8");
  expect_corrupt (host, "{\"op\":\"get\"}", "not UTF-8");
  expect_items (host, "{\"op\":\"get\",\"keys\":\"a\"}", "{\"a\":1}");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

static int
cli (const char *home, const char *verb, const char *file, char **err)
{
  const char *args[] = { verb, "--origin", NMT_ORIGIN, file, NULL };
  g_autofree char *out = NULL;

  return nmt_run_cli (home, args, NULL, &out, err);
}

/* restore checks every record of a backup: a damaged value, a kind it
 * does not know and a negative size (which would let writes past the
 * quota) are each refused, and the store is left as it was. */
static void
test_crafted_backup_refused (void **state)
{
  g_autoptr(GPtrArray) list = damages ();
  const char *const rows[] = {
    "UPDATE items SET kind = 7 WHERE key = 'a'",
    "UPDATE items SET size = -5000000 WHERE key = 'a'",
  };

  for (guint i = 0; i < list->len + G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *home = make_store ();
      g_autofree char *backup = g_build_filename (home, "crafted.db", NULL);
      g_autofree char *err = NULL;
      g_autoptr(NmtHost) host = NULL;

      assert_int_equal (cli (home, "backup", backup, NULL), 0);
      if (i < list->len)
        {
          gsize len;
          const Damage *d = list->pdata[i];
          const void *data = g_bytes_get_data (d->value, &len);
          print_message ("crafted backup: %s\n", d->name);
          nmt_store_edit (backup, "UPDATE items SET value = ?1 WHERE key = 'a'", data, len);
        }
      else
        {
          const char *sql = rows[i - list->len];
          print_message ("crafted backup: %s\n", sql);
          /* The backup's own checks go first, as an attacker's would. */
          nmt_store_edit (backup, "DROP TRIGGER IF EXISTS items_sane_update", NULL, 0);
          nmt_store_edit (backup, sql, NULL, 0);
        }
      if (cli (home, "restore", backup, &err) == 0)
        fail_msg ("a crafted backup was restored");
      assert_true (strlen (err) > 20);
      host = nmt_host_start (home, NMT_ORIGIN);
      expect_items (host, "{\"op\":\"get\"}", "{\"a\":1,\"b\":[true],\"c\":\"keep\"}");
      nmt_host_close_input (host);
      assert_int_equal (nmt_host_wait (host), 0);
      nmt_remove_tree (home);
    }
  for (guint i = 0; i < list->len; i++)
    g_bytes_unref (((Damage *) list->pdata[i])->value);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_edited_store_never_breaks_a_frame),
    cmocka_unit_test (test_edited_key_never_breaks_a_frame),
    cmocka_unit_test (test_crafted_backup_refused),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
