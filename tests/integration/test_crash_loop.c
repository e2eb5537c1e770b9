/* SPDX-License-Identifier: MIT */
/* test_crash_loop.c: kill -9 at random moments, and nothing acknowledged
 * is ever lost and nothing is ever half written.
 *
 * Each iteration starts several host processes on one origin. Each writer
 * owns its own keys and pipelines a random mix of multi-key set, remove and
 * prefix clear requests; a group's three keys are always written, removed
 * or cleared together. At a random point every host gets SIGKILL, the
 * replies that made it into the pipes are collected (a reply that reached
 * the browser is an acknowledgement), and the file is opened read-only with
 * SQLite itself:
 *   - PRAGMA integrity_check says ok and each item's size is its count;
 *   - each writer's keys equal the model after some prefix of its requests
 *     that contains every acknowledged one (a host applies requests in
 *     order, so anything else is a lost or reordered write);
 *   - every group is whole: all three keys with one tag, or none.
 * The next iteration continues from what the file holds.
 *
 * The same loop runs again on an encrypted origin (key file, so hosts open
 * it by themselves). There the file holds tokens and sealed records, so the
 * test still runs PRAGMA integrity_check on it directly, but reads what
 * survived through a fresh host's get, turned into the same key ->
 * NmtStoredItem map; a record the host cannot open would be left out of
 * that listing, so its item count must equal the file's row count.
 *
 * NMT_CRASH_ITERATIONS sets the number of kills (default 300),
 * NMT_CRASH_ITERATIONS_ENCRYPTED those of the encrypted run (default 100:
 * every iteration also starts a reading host). To cover a new write op, add
 * an OpKind, its request text in op_request() and its effect on the model
 * in op_apply(). */
#include "harness.h"
#include "storecheck.h"

#include <signal.h>
#include <string.h>

#define N_WRITERS  3
#define N_GROUPS   6
#define N_SINGLES  10
#define MAX_OPS    40   /* per writer per iteration */

typedef enum { OP_SET_GROUP, OP_SET_SINGLES, OP_REMOVE_GROUP, OP_CLEAR_GROUP, OP_REMOVE_SINGLES } OpKind;

typedef struct {
  OpKind     kind;
  GPtrArray *keys;    /* owned strings */
  GPtrArray *values;  /* NmtStoredItem*, as the file must hold them, for sets */
  char      *prefix;  /* for clear */
  char      *json;    /* the request */
} Op;

typedef struct {
  guint64 acked_total;
  guint64 in_flight_at_kill;   /* sent but not acknowledged, summed */
  guint   unacked_found;       /* iterations where unacknowledged writes had committed */
  guint   kills_mid_stream;    /* iterations with a writer killed with requests in flight */
} Stats;

static void
op_free (gpointer p)
{
  Op *op = p;
  g_ptr_array_unref (op->keys);
  if (op->values != NULL)
    g_ptr_array_unref (op->values);
  g_free (op->prefix);
  g_free (op->json);
  g_free (op);
}

/* A value as the request carries it (JSON text) and as the file keeps it. */
static NmtStoredItem *
make_value (GRand *rand, const char *tag, GString *json_out)
{
  if (g_rand_int_range (rand, 0, 4) == 0)
    {
      gsize len = (gsize) g_rand_int_range (rand, 0, 600);
      g_autofree guint8 *raw = g_malloc (len + 1);
      g_autofree char *b64 = NULL;
      for (gsize i = 0; i < len; i++)
        raw[i] = (guint8) g_rand_int_range (rand, 0, 256);
      b64 = g_base64_encode (raw, len);
      g_string_append_printf (json_out, "{\"$bytes\":\"%s\"}", b64);
      return nmt_stored_item_new (1, raw, len);
    }
  else
    {
      /* Canonical JSON (members sorted), which the host keeps byte for byte. */
      gsize pad = (gsize) g_rand_int_range (rand, 0, 3000);
      g_autofree char *filler = g_strnfill (pad, 'x');
      g_autofree char *text = g_strdup_printf ("{\"n\":%d,\"s\":\"\xc3\xa9\xe2\x9c\x93%s\",\"tag\":\"%s\"}",
                                               g_rand_int_range (rand, -1000000, 1000000), filler, tag);
      g_string_append (json_out, text);
      return nmt_stored_item_new (0, text, strlen (text));
    }
}

static Op *
op_new (GRand *rand, int writer, guint64 seq)
{
  Op *op = g_new0 (Op, 1);
  g_autoptr(GString) json = g_string_new (NULL);
  g_autofree char *tag = g_strdup_printf ("w%d-%" G_GUINT64_FORMAT, writer, seq);
  int group = g_rand_int_range (rand, 0, N_GROUPS);
  int roll = g_rand_int_range (rand, 0, 10);

  op->keys = g_ptr_array_new_with_free_func (g_free);
  op->kind = roll < 4 ? OP_SET_GROUP : roll < 7 ? OP_SET_SINGLES : roll < 8 ? OP_REMOVE_GROUP
             : roll < 9 ? OP_CLEAR_GROUP : OP_REMOVE_SINGLES;
  g_string_append_printf (json, "{\"id\":\"%s\",\"op\":", tag);
  switch (op->kind)
    {
    case OP_SET_GROUP:
    case OP_SET_SINGLES:
      {
        int n = op->kind == OP_SET_GROUP ? 3 : g_rand_int_range (rand, 1, 4);
        g_autoptr(GString) one = g_string_new (NULL);
        g_autofree char *group_text = NULL;
        NmtStoredItem *shared = NULL;

        op->values = g_ptr_array_new_with_free_func (nmt_stored_item_free);
        g_string_append (json, "\"set\",\"items\":{");
        if (op->kind == OP_SET_GROUP)
          {
            /* One value for the whole group, so a half-applied write shows. */
            shared = make_value (rand, tag, one);
            group_text = g_strdup (one->str);
          }
        for (int i = 0; i < n; i++)
          {
            char *key = op->kind == OP_SET_GROUP
                        ? g_strdup_printf ("w%d:g%d:%c", writer, group, 'a' + i)
                        : g_strdup_printf ("w%d:s%d", writer, g_rand_int_range (rand, 0, N_SINGLES));
            if (g_ptr_array_find_with_equal_func (op->keys, key, g_str_equal, NULL))
              {
                g_free (key);
                continue;
              }
            g_ptr_array_add (op->keys, key);
            g_string_append_printf (json, "%s\"%s\":", op->keys->len > 1 ? "," : "", key);
            if (shared != NULL)
              {
                g_string_append (json, group_text);
                g_ptr_array_add (op->values, nmt_stored_item_new (shared->kind, g_bytes_get_data (shared->value, NULL),
                                                                  g_bytes_get_size (shared->value)));
              }
            else
              {
                g_string_truncate (one, 0);
                g_ptr_array_add (op->values, make_value (rand, tag, one));
                g_string_append (json, one->str);
              }
          }
        nmt_stored_item_free (shared);
        g_string_append (json, "}}");
        break;
      }
    case OP_REMOVE_GROUP:
      g_string_append (json, "\"remove\",\"keys\":[");
      for (int i = 0; i < 3; i++)
        {
          g_ptr_array_add (op->keys, g_strdup_printf ("w%d:g%d:%c", writer, group, 'a' + i));
          g_string_append_printf (json, "%s\"%s\"", i ? "," : "", (char *) op->keys->pdata[i]);
        }
      g_string_append (json, "]}");
      break;
    case OP_CLEAR_GROUP:
      op->prefix = g_strdup_printf ("w%d:g%d:", writer, group);
      g_string_append_printf (json, "\"clear\",\"prefix\":\"%s\"}", op->prefix);
      break;
    case OP_REMOVE_SINGLES:
      g_string_append (json, "\"remove\",\"keys\":[");
      for (int i = 0; i < 2; i++)
        {
          g_ptr_array_add (op->keys, g_strdup_printf ("w%d:s%d", writer, g_rand_int_range (rand, 0, N_SINGLES)));
          g_string_append_printf (json, "%s\"%s\"", i ? "," : "", (char *) op->keys->pdata[i]);
        }
      g_string_append (json, "]}");
      break;
    }
  op->json = g_string_free (g_steal_pointer (&json), FALSE);
  return op;
}

static void
op_apply (const Op *op, GHashTable *model)
{
  switch (op->kind)
    {
    case OP_SET_GROUP:
    case OP_SET_SINGLES:
      for (guint i = 0; i < op->keys->len; i++)
        {
          const NmtStoredItem *v = op->values->pdata[i];
          g_hash_table_insert (model, g_strdup (op->keys->pdata[i]),
                               nmt_stored_item_new (v->kind, g_bytes_get_data (v->value, NULL),
                                                    g_bytes_get_size (v->value)));
        }
      break;
    case OP_REMOVE_GROUP:
    case OP_REMOVE_SINGLES:
      for (guint i = 0; i < op->keys->len; i++)
        g_hash_table_remove (model, op->keys->pdata[i]);
      break;
    case OP_CLEAR_GROUP:
      {
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init (&it, model);
        while (g_hash_table_iter_next (&it, &key, NULL))
          if (g_str_has_prefix (key, op->prefix))
            g_hash_table_iter_remove (&it);
        break;
      }
    }
}

/* TRUE when the file's items under prefix are exactly the model's. */
static gboolean
same_items (GHashTable *model, GHashTable *file, const char *prefix)
{
  GHashTableIter it;
  gpointer key, value;
  guint in_file = 0;

  g_hash_table_iter_init (&it, file);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (g_str_has_prefix (key, prefix))
      {
        in_file++;
        if (!nmt_stored_item_equal (value, g_hash_table_lookup (model, key)))
          return FALSE;
      }
  return in_file == g_hash_table_size (model);
}

static GHashTable *
model_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, nmt_stored_item_free);
}

/* The model of writer w's keys as the file holds them now. */
static GHashTable *
model_from_file (GHashTable *file, const char *prefix)
{
  GHashTable *model = model_new ();
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init (&it, file);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (g_str_has_prefix (key, prefix))
      {
        const NmtStoredItem *v = value;
        g_hash_table_insert (model, g_strdup (key),
                             nmt_stored_item_new (v->kind, g_bytes_get_data (v->value, NULL), g_bytes_get_size (v->value)));
      }
  return model;
}

static void
check_groups_whole (GHashTable *file, guint iteration)
{
  for (int w = 0; w < N_WRITERS; w++)
    for (int g = 0; g < N_GROUPS; g++)
      {
        NmtStoredItem *v[3];
        int present = 0;
        for (int i = 0; i < 3; i++)
          {
            g_autofree char *key = g_strdup_printf ("w%d:g%d:%c", w, g, 'a' + i);
            v[i] = g_hash_table_lookup (file, key);
            present += v[i] != NULL;
          }
        if (present != 0 && (present != 3 || !nmt_stored_item_equal (v[0], v[1])
                             || !nmt_stored_item_equal (v[0], v[2])))
          fail_msg ("iteration %u: group w%d:g%d is half written (%d of 3 keys, or differing values)",
                    iteration, w, g, present);
      }
}

static guint
iterations (const char *env_name, guint fallback)
{
  const char *env = g_getenv (env_name);
  return env != NULL ? (guint) g_ascii_strtoull (env, NULL, 10) : fallback;
}

/* One item of a get reply as the plaintext file would hold it: JSON as its
 * compact text, {"$bytes":...} as kind 1 with the decoded bytes. */
static NmtStoredItem *
item_from_reply (const cJSON *value)
{
  const cJSON *b64 = cJSON_GetObjectItemCaseSensitive (value, "$bytes");

  if (cJSON_IsObject (value) && cJSON_IsString (b64) && cJSON_GetArraySize (value) == 1)
    {
      gsize len = 0;
      g_autofree guchar *raw = g_base64_decode (b64->valuestring, &len);
      return nmt_stored_item_new (1, raw, len);
    }
  else
    {
      char *text = cJSON_PrintUnformatted (value);
      NmtStoredItem *item = nmt_stored_item_new (0, text, strlen (text));
      cJSON_free (text);
      return item;
    }
}

/* What survived on an encrypted origin: the file must pass SQLite's own
 * check, and a fresh host must read back every row it holds. */
static GHashTable *
snapshot_encrypted (const char *home, const char *db_path, char **problem)
{
  g_autoptr(GHashTable) items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, nmt_stored_item_free);
  g_autoptr(NmtHost) host = NULL;
  const cJSON *listed, *value;
  gint64 rows = 0;
  cJSON *reply;

  if (!nmt_store_check_integrity (db_path, &rows, problem))
    return NULL;
  host = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (host, "{\"op\":\"get\"}");
  if (reply == NULL)
    {
      *problem = g_strdup ("no reply to get from a fresh host");
      return NULL;
    }
  nmt_assert_ok (reply);
  listed = nmt_member (reply, "items");
  cJSON_ArrayForEach (value, listed)
    g_hash_table_insert (items, g_strdup (value->string), item_from_reply (value));
  cJSON_Delete (reply);
  /* A sealed record that fails to open is left out of listings, which
   * would look like a clean removal to the model checks. */
  if ((gint64) g_hash_table_size (items) != rows)
    {
      *problem = g_strdup_printf ("the host lists %u items but the file holds %" G_GINT64_FORMAT " rows",
                                  g_hash_table_size (items), rows);
      return NULL;
    }
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  return g_steal_pointer (&items);
}

/* The kill -9 loop on NMT_ORIGIN, plaintext or encrypted; n kills. */
static void
crash_loop (gboolean encrypted, guint n)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *db_path = NULL;
  g_autoptr(GRand) rand = NULL;
  GHashTable *models[N_WRITERS];
  guint64 seq = 0;
  guint32 seed = (guint32) g_get_real_time ();
  Stats stats = { 0 };

  if (g_getenv ("NMT_CRASH_SEED") != NULL)
    seed = (guint32) g_ascii_strtoull (g_getenv ("NMT_CRASH_SEED"), NULL, 10);
  rand = g_rand_new_with_seed (seed);
  print_message ("crash loop%s: %u iterations, seed %u (NMT_CRASH_SEED to replay)\n",
                 encrypted ? " (encrypted)" : "", n, seed);
  if (encrypted)
    nmt_encrypt_origin (home, NMT_ORIGIN);
  for (int w = 0; w < N_WRITERS; w++)
    models[w] = model_new ();

  for (guint it = 0; it < n; it++)
    {
      NmtHost *hosts[N_WRITERS];
      GPtrArray *ops[N_WRITERS];
      guint acked[N_WRITERS] = { 0 };
      guint sent[N_WRITERS] = { 0 };
      guint kill_after = (guint) g_rand_int_range (rand, 1, N_WRITERS * MAX_OPS);
      guint total_sent = 0;
      g_autoptr(GHashTable) file = NULL;
      g_autofree char *problem = NULL;

      for (int w = 0; w < N_WRITERS; w++)
        {
          hosts[w] = nmt_host_start (home, NMT_ORIGIN);
          ops[w] = g_ptr_array_new_with_free_func (op_free);
          for (int i = 0; i < MAX_OPS; i++)
            g_ptr_array_add (ops[w], op_new (rand, w, seq++));
        }

      /* Pipelined bursts, round robin, until the kill point. */
      while (total_sent < kill_after)
        for (int w = 0; w < N_WRITERS && total_sent < kill_after; w++)
          {
            guint burst = (guint) g_rand_int_range (rand, 1, 6);
            for (guint b = 0; b < burst && sent[w] < MAX_OPS && total_sent < kill_after; b++)
              {
                const Op *op = ops[w]->pdata[sent[w]++];
                assert_true (nmt_host_send (hosts[w], op->json));
                total_sent++;
              }
            if (sent[w] == MAX_OPS && total_sent < kill_after)
              kill_after = total_sent;
          }
      g_usleep ((gulong) g_rand_int_range (rand, 0, 3000));
      for (int w = 0; w < N_WRITERS; w++)
        {
          hosts[w]->killed = TRUE;
          g_subprocess_send_signal (hosts[w]->proc, SIGKILL);
        }

      /* Whatever reply reached the pipe was seen by the browser. */
      for (int w = 0; w < N_WRITERS; w++)
        {
          cJSON *reply;
          while ((reply = nmt_host_recv (hosts[w])) != NULL)
            {
              const Op *op = ops[w]->pdata[acked[w]];
              const cJSON *id = cJSON_GetObjectItemCaseSensitive (reply, "id");
              g_autofree char *head = NULL;

              nmt_assert_ok (reply);
              /* Replies come in request order: this one is for the next request. */
              assert_true (cJSON_IsString (id));
              head = g_strdup_printf ("{\"id\":\"%s\",", id->valuestring);
              assert_true (g_str_has_prefix (op->json, head));
              acked[w]++;
              cJSON_Delete (reply);
            }
          g_subprocess_wait (hosts[w]->proc, NULL, NULL);
          assert_true (g_subprocess_get_if_signaled (hosts[w]->proc));
          nmt_host_free (hosts[w]);
          stats.acked_total += acked[w];
          stats.in_flight_at_kill += sent[w] - acked[w];
          if (sent[w] > acked[w])
            stats.kills_mid_stream++;
        }

      if (db_path == NULL)
        db_path = nmt_store_find_db (home);
      if (db_path == NULL)
        {
          /* Killed before any host created the store (slow starts under
           * valgrind): then nothing can have been acknowledged either. */
          for (int w = 0; w < N_WRITERS; w++)
            {
              assert_int_equal (acked[w], 0);
              g_ptr_array_unref (ops[w]);
            }
          continue;
        }
      file = encrypted ? snapshot_encrypted (home, db_path, &problem) : nmt_store_snapshot (db_path, &problem);
      if (file == NULL)
        fail_msg ("iteration %u (seed %u): %s", it, seed, problem);
      check_groups_whole (file, it);

      for (int w = 0; w < N_WRITERS; w++)
        {
          g_autofree char *prefix = g_strdup_printf ("w%d:", w);
          guint k;

          for (k = 0; k < acked[w]; k++)
            op_apply (ops[w]->pdata[k], models[w]);
          /* Requests sent but not acknowledged may have committed, in order. */
          for (k = acked[w]; !same_items (models[w], file, prefix) && k < sent[w]; k++)
            op_apply (ops[w]->pdata[k], models[w]);
          if (!same_items (models[w], file, prefix))
            fail_msg ("iteration %u (seed %u): writer %d's keys match no state between its %u acknowledged "
                      "and %u sent requests: an acknowledged write was lost or a write was misapplied",
                      it, seed, w, acked[w], sent[w]);
          if (k > acked[w])
            stats.unacked_found++;
          g_hash_table_unref (models[w]);
          models[w] = model_from_file (file, prefix);
          g_ptr_array_unref (ops[w]);
        }
    }

  print_message ("crash loop%s: %u SIGKILL iterations survived; %" G_GUINT64_FORMAT " acknowledged writes all present; "
                 "%" G_GUINT64_FORMAT " requests in flight at kills (%u writers cut mid-stream), "
                 "unacknowledged writes found committed %u times; 0 lost\n",
                 encrypted ? " (encrypted)" : "", n, stats.acked_total, stats.in_flight_at_kill,
                 stats.kills_mid_stream, stats.unacked_found);
  /* The loop must really have cut writers off mid-stream to prove anything. */
  if (n >= 50)
    assert_true (stats.kills_mid_stream > 0 && stats.acked_total > 0);
  for (int w = 0; w < N_WRITERS; w++)
    g_hash_table_unref (models[w]);
  nmt_remove_tree (home);
}

static void
test_kill9_loop (void **state)
{
  crash_loop (FALSE, iterations ("NMT_CRASH_ITERATIONS", 300));
}

static void
test_kill9_loop_encrypted (void **state)
{
  crash_loop (TRUE, iterations ("NMT_CRASH_ITERATIONS_ENCRYPTED", 100));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_kill9_loop),
    cmocka_unit_test (test_kill9_loop_encrypted),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
