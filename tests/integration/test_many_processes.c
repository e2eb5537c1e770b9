/* SPDX-License-Identifier: MIT */
/* test_many_processes.c: eight host processes write one origin at once,
 * with readers beside them, and nothing is lost, blocked or torn.
 *
 * Each writer process owns its keys, so its own requests, answered in
 * order, fully determine them: every get it sends must read exactly its
 * model at that point, whatever the other seven are doing to the same
 * file. Pairs of keys are always set and removed together, so the reader
 * processes, which walk everybody's keys, must never see half a pair. No
 * reply may be an error (no E_BUSY, no locked database reaching a client),
 * and at the end the file holds exactly the union of the models.
 *
 * Every client runs in its own thread over its own host process, so the
 * load is truly concurrent. NMT_RACE_OPS sets the operations per writer
 * (default 5000).
 *
 * Under NMT_ENCRYPTED (CMakeLists.txt) the origin is encrypted: the file's
 * keys are tokens, so the final state is read back through a host and
 * compared with the models instead, and `nmstore verify` must find every
 * record good and the store's summary of its records (which every one of
 * the eight writers updates, each under the write lock) exact. */
#include "harness.h"
#include "storecheck.h"

#include <string.h>

#define N_WRITERS 8
#define N_READERS 2
#define N_KEYS    40
#define N_PAIRS   10
#define WINDOW    24   /* requests in flight per client */

typedef struct {
  const char *home;
  int         index;
  guint       n_ops;
  GHashTable *model;     /* key -> JSON text, for writers */
  guint64     requests;
  guint64     pair_reads;
  gint        running;   /* readers go on while it is set */
  char       *failure;   /* the first thing that went wrong */
} Client;

static void
client_fail (Client *c, char *message)
{
  if (c->failure == NULL)
    c->failure = message;
  else
    g_free (message);
}

static int
key_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The expected "items" of a get of the given keys, as compact JSON text:
 * in the keys' byte order, as Chrome's results are. */
static char *
expected_items (GHashTable *model, GPtrArray *keys)
{
  g_autoptr(GString) out = g_string_new ("{");
  gboolean first = TRUE;

  g_ptr_array_sort (keys, key_cmp);
  for (guint i = 0; i < keys->len; i++)
    {
      const char *v = g_hash_table_lookup (model, keys->pdata[i]);
      if (v == NULL)
        continue;
      g_string_append_printf (out, "%s\"%s\":%s", first ? "" : ",", (char *) keys->pdata[i], v);
      first = FALSE;
    }
  g_string_append_c (out, '}');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* One writer request; *expect is the items text a get must return. */
static char *
writer_request (Client *c, GRand *rand, guint seq, char **expect)
{
  g_autoptr(GString) req = g_string_new (NULL);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  int roll = g_rand_int_range (rand, 0, 100);
  int p = c->index;

  *expect = NULL;
  g_string_append_printf (req, "{\"id\":%u,\"op\":", seq);
  if (roll < 40)
    {
      int n = g_rand_int_range (rand, 1, 4);
      g_string_append (req, "\"set\",\"items\":{");
      for (int i = 0; i < n; i++)
        {
          char *key = g_strdup_printf ("p%d:k%d", p, g_rand_int_range (rand, 0, N_KEYS));
          char *value = g_rand_boolean (rand) ? g_strdup_printf ("\"p%d-%u-%d\"", p, seq, i)
                                              : g_strdup_printf ("%d", g_rand_int_range (rand, -99999, 99999));
          if (g_ptr_array_find_with_equal_func (keys, key, g_str_equal, NULL))
            {
              g_free (key);
              g_free (value);
              continue;
            }
          g_string_append_printf (req, "%s\"%s\":%s", keys->len ? "," : "", key, value);
          g_ptr_array_add (keys, g_strdup (key));
          g_hash_table_insert (c->model, key, value);
        }
      g_string_append (req, "}}");
    }
  else if (roll < 55)
    {
      int pair = g_rand_int_range (rand, 0, N_PAIRS);
      g_autofree char *value = g_strdup_printf ("\"pair-%d-%u\"", p, seq);
      g_string_append_printf (req, "\"set\",\"items\":{\"p%d:pair%d:a\":%s,\"p%d:pair%d:b\":%s}}",
                              p, pair, value, p, pair, value);
      g_hash_table_insert (c->model, g_strdup_printf ("p%d:pair%d:a", p, pair), g_strdup (value));
      g_hash_table_insert (c->model, g_strdup_printf ("p%d:pair%d:b", p, pair), g_strdup (value));
    }
  else if (roll < 65)
    {
      int pair = g_rand_int_range (rand, 0, N_PAIRS);
      int key = g_rand_int_range (rand, 0, N_KEYS);
      g_string_append_printf (req, "\"remove\",\"keys\":[\"p%d:pair%d:a\",\"p%d:pair%d:b\",\"p%d:k%d\"]}",
                              p, pair, p, pair, p, key);
      {
        g_autofree char *a = g_strdup_printf ("p%d:pair%d:a", p, pair);
        g_autofree char *b = g_strdup_printf ("p%d:pair%d:b", p, pair);
        g_autofree char *k = g_strdup_printf ("p%d:k%d", p, key);
        g_hash_table_remove (c->model, a);
        g_hash_table_remove (c->model, b);
        g_hash_table_remove (c->model, k);
      }
    }
  else if (roll < 67)
    {
      /* Rare: wipe all of this writer's pairs at once. */
      GHashTableIter it;
      gpointer key;
      g_autofree char *prefix = g_strdup_printf ("p%d:pair", p);
      g_string_append_printf (req, "\"clear\",\"prefix\":\"%s\"}", prefix);
      g_hash_table_iter_init (&it, c->model);
      while (g_hash_table_iter_next (&it, &key, NULL))
        if (g_str_has_prefix (key, prefix))
          g_hash_table_iter_remove (&it);
    }
  else
    {
      int n = g_rand_int_range (rand, 1, 6);
      g_string_append (req, "\"get\",\"keys\":[");
      for (int i = 0; i < n; i++)
        {
          char *key = i == 0 && g_rand_boolean (rand)
                      ? g_strdup_printf ("p%d:pair%d:a", p, g_rand_int_range (rand, 0, N_PAIRS))
                      : g_strdup_printf ("p%d:k%d", p, g_rand_int_range (rand, 0, N_KEYS));
          if (g_ptr_array_find_with_equal_func (keys, key, g_str_equal, NULL))
            {
              g_free (key);
              continue;
            }
          g_string_append_printf (req, "%s\"%s\"", keys->len ? "," : "", key);
          g_ptr_array_add (keys, key);
        }
      g_string_append (req, "]}");
      *expect = expected_items (c->model, keys);
    }
  return g_string_free (g_steal_pointer (&req), FALSE);
}

static gboolean
reply_ok (Client *c, cJSON *reply, guint seq)
{
  const cJSON *id = cJSON_GetObjectItemCaseSensitive (reply, "id");

  if (reply == NULL)
    {
      client_fail (c, g_strdup_printf ("client %d: the host ended before reply %u", c->index, seq));
      return FALSE;
    }
  if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (reply, "ok")) || !cJSON_IsNumber (id)
      || (guint) id->valuedouble != seq)
    {
      char *text = cJSON_PrintUnformatted (reply);
      client_fail (c, g_strdup_printf ("client %d: request %u got %s", c->index, seq, text));
      free (text);
      return FALSE;
    }
  return TRUE;
}

static gpointer
run_writer (gpointer data)
{
  Client *c = data;
  g_autoptr(NmtHost) host = nmt_host_start (c->home, NMT_ORIGIN);
  g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) c->index * 7919u + (guint32) g_get_real_time ());
  GPtrArray *expects = g_ptr_array_new_with_free_func (g_free);
  guint sent = 0, received = 0;

  while (received < c->n_ops && c->failure == NULL)
    {
      while (sent < c->n_ops && sent - received < WINDOW)
        {
          char *expect = NULL;
          g_autofree char *req = writer_request (c, rand, sent, &expect);
          g_ptr_array_add (expects, expect);
          nmt_host_send (host, req);
          sent++;
        }
      {
        cJSON *reply = nmt_host_recv (host);
        const char *expect = expects->pdata[received];
        if (reply_ok (c, reply, received) && expect != NULL)
          {
            char *items = cJSON_PrintUnformatted (cJSON_GetObjectItemCaseSensitive (reply, "items"));
            if (strcmp (items, expect) != 0)
              client_fail (c, g_strdup_printf ("writer %d: get %u read %s, but its own writes say %s",
                                               c->index, received, items, expect));
            free (items);
          }
        cJSON_Delete (reply);
        received++;
        c->requests++;
      }
    }
  nmt_host_close_input (host);
  if (nmt_host_wait (host) != 0)
    client_fail (c, g_strdup_printf ("writer %d: the host did not exit 0", c->index));
  g_ptr_array_unref (expects);
  return NULL;
}

/* Walks every writer's pairs until the writers are done; a pair seen with
 * one half, or with two different values, is a torn write. */
static gpointer
run_reader (gpointer data)
{
  Client *c = data;
  g_autoptr(NmtHost) host = nmt_host_start (c->home, NMT_ORIGIN);
  guint seq = 0;
  const guint n_kinds = 3;

  while (g_atomic_int_get (&c->running) && c->failure == NULL)
    {
      int p = (int) (seq % N_WRITERS);
      g_autofree char *req = NULL;

      switch (seq % n_kinds)
        {
        case 0:
          req = g_strdup_printf ("{\"id\":%u,\"op\":\"get\",\"prefix\":\"p%d:pair\"}", seq, p);
          break;
        case 1:
          req = g_strdup_printf ("{\"id\":%u,\"op\":\"getKeys\",\"prefix\":\"p%d:\"}", seq, p);
          break;
        default:
          req = g_strdup_printf ("{\"id\":%u,\"op\":\"getBytesInUse\",\"keys\":[\"p%d:k1\",\"p%d:k2\"]}", seq, p, p);
          break;
        }
      cJSON *reply;

      reply = nmt_host_call (host, req);
      if (reply_ok (c, reply, seq) && seq % n_kinds == 0)
        {
          const cJSON *items = cJSON_GetObjectItemCaseSensitive (reply, "items");
          for (int pair = 0; pair < N_PAIRS; pair++)
            {
              g_autofree char *ka = g_strdup_printf ("p%d:pair%d:a", p, pair);
              g_autofree char *kb = g_strdup_printf ("p%d:pair%d:b", p, pair);
              const cJSON *a = cJSON_GetObjectItemCaseSensitive (items, ka);
              const cJSON *b = cJSON_GetObjectItemCaseSensitive (items, kb);
              if ((a == NULL) != (b == NULL) || (a != NULL && !cJSON_Compare (a, b, TRUE)))
                client_fail (c, g_strdup_printf ("reader %d saw pair %s torn", c->index, ka));
              c->pair_reads += a != NULL;
            }
        }
      cJSON_Delete (reply);
      seq++;
      c->requests++;
    }
  return NULL;
}

/* The items of an encrypted origin as a host reads them, in the form
 * nmt_store_snapshot gives, after SQLite's check and nmstore verify. */
static GHashTable *
encrypted_snapshot (const char *home, const char *db)
{
  const char *verify[] = { "verify", "--origin", NMT_ORIGIN, NULL };
  GHashTable *file = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, nmt_stored_item_free);
  g_autofree char *problem = NULL, *out = NULL, *err = NULL;
  g_autoptr(NmtHost) host = NULL;
  const cJSON *item;
  cJSON *reply;
  gint64 rows = 0;

  if (!nmt_store_check_integrity (db, &rows, &problem))
    fail_msg ("%s", problem);
  if (nmt_run_cli (home, verify, NULL, &out, &err) != 0)
    fail_msg ("nmstore verify after the race: %s%s", out, err);
  print_message ("%s", out);
  host = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (host, "{\"op\":\"get\"}");
  nmt_assert_ok (reply);
  cJSON_ArrayForEach (item, cJSON_GetObjectItemCaseSensitive (reply, "items"))
    {
      char *text = cJSON_PrintUnformatted (item);
      g_hash_table_insert (file, g_strdup (item->string), nmt_stored_item_new (0, text, strlen (text)));
      free (text);
    }
  cJSON_Delete (reply);
  assert_int_equal (rows, g_hash_table_size (file));
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  return file;
}

static void
test_eight_writers_two_readers (void **state)
{
  g_autofree char *home = nmt_make_home ();
  const char *env = g_getenv ("NMT_RACE_OPS");
  guint n_ops = env ? (guint) g_ascii_strtoull (env, NULL, 10) : 5000;
  Client writers[N_WRITERS] = { 0 }, readers[N_READERS] = { 0 };
  GThread *wt[N_WRITERS], *rt[N_READERS];
  g_autofree char *db = NULL, *problem = NULL;
  g_autoptr(GHashTable) file = NULL;
  guint64 total = 0, expected_keys = 0;

  /* The store exists before the race, as it does once an extension ran. */
  {
    g_autoptr(NmtHost) h = nmt_host_start (home, NMT_ORIGIN);
    cJSON *r = nmt_host_call (h, "{\"op\":\"hello\"}");
    nmt_assert_ok (r);
    cJSON_Delete (r);
  }
  for (int i = 0; i < N_READERS; i++)
    {
      readers[i] = (Client) { .home = home, .index = i, .running = 1 };
      rt[i] = g_thread_new ("reader", run_reader, &readers[i]);
    }
  for (int i = 0; i < N_WRITERS; i++)
    {
      writers[i] = (Client) { .home = home, .index = i, .n_ops = n_ops,
                              .model = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free) };
      wt[i] = g_thread_new ("writer", run_writer, &writers[i]);
    }
  for (int i = 0; i < N_WRITERS; i++)
    g_thread_join (wt[i]);
  for (int i = 0; i < N_READERS; i++)
    {
      g_atomic_int_set (&readers[i].running, 0);
      g_thread_join (rt[i]);
    }

  for (int i = 0; i < N_WRITERS; i++)
    if (writers[i].failure != NULL)
      fail_msg ("%s", writers[i].failure);
  for (int i = 0; i < N_READERS; i++)
    if (readers[i].failure != NULL)
      fail_msg ("%s", readers[i].failure);

  db = nmt_store_find_db (home);
  if (g_getenv ("NMT_ENCRYPTED") != NULL)
    file = encrypted_snapshot (home, db);
  else if ((file = nmt_store_snapshot (db, &problem)) == NULL)
    fail_msg ("%s", problem);
  for (int i = 0; i < N_WRITERS; i++)
    {
      GHashTableIter it;
      gpointer key, value;
      g_hash_table_iter_init (&it, writers[i].model);
      while (g_hash_table_iter_next (&it, &key, &value))
        {
          NmtStoredItem *item = g_hash_table_lookup (file, key);
          if (item == NULL || item->kind != 0 || g_bytes_get_size (item->value) != strlen (value)
              || memcmp (g_bytes_get_data (item->value, NULL), value, strlen (value)) != 0)
            fail_msg ("the file's %s is not the model's %s", (char *) key, (char *) value);
          expected_keys++;
        }
      total += writers[i].requests;
      g_hash_table_unref (writers[i].model);
    }
  assert_int_equal (g_hash_table_size (file), expected_keys);
  for (int i = 0; i < N_READERS; i++)
    total += readers[i].requests;
  print_message ("many processes: %d writer and %d reader processes on one origin, %" G_GUINT64_FORMAT
                 " requests, %" G_GUINT64_FORMAT " pairs read whole by readers; no errors, final state equals the model\n",
                 N_WRITERS, N_READERS, total, readers[0].pair_reads + readers[1].pair_reads);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_eight_writers_two_readers),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
