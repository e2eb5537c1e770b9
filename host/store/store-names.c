/* SPDX-License-Identifier: MIT */
/* store-names.c: an encrypted origin's names in memory, so that listing
 * keys, prefix queries and Chrome's byte count need not decrypt every
 * record each time (store-crypt.c keeps names only inside the records).
 *
 * The cache maps each record's token to its real name, its kind and the
 * length of its plaintext value. It is built on the first call that needs
 * it after an unlock, by opening every record once, as a scan did; after
 * that getKeys and getBytesInUse of the whole store read it alone, a
 * prefix get opens only the records whose names match, and a prefix clear
 * deletes by token without opening any. A record that fails its check is
 * left out (and logged by token, by _nms_store_crypt_open), as a scan left
 * it out.
 *
 * It must never say what the file does not:
 *
 *   - Other processes write the same file. PRAGMA data_version changes
 *     when another connection commits, so the cache records the version it
 *     was built at and is rebuilt when a call, inside its transaction,
 *     reads another. The version is read before the records, so a commit
 *     slipping in between costs a rebuild, never a stale answer.
 *   - This connection's own commits do not change data_version, so its
 *     own writes (store-sealed.c's put, delete and clear) edit
 *     the cache in place, and anything that undoes them drops it: every
 *     rollback of the connection (an SQLite rollback hook, which also sees
 *     the implicit ones after I/O errors) and every ROLLBACK TO savepoint
 *     (store-txn.c's savepoint_end, which the hook does not see).
 *   - Locking, a changed envelope, a conversion and a restore drop it too.
 *
 * Names are as secret as values. The entries live in ordinary g_malloc
 * memory, not sodium_malloc: a guarded allocation per name costs pages and
 * locked memory per key, and a store has tens of thousands of keys. What
 * is kept is wiped (sodium_memzero) before it is freed, so a name does not
 * outlive its entry in freed heap memory. */
#include "store-private.h"
#include "store-names.h"
#include "store-crypt-state.h"

#include <sodium.h>
#include <string.h>

typedef struct {
  guint8  token[NMS_CRYPTO_TOKEN_BYTES];
  char   *name;       /* NUL-terminated; wiped when freed */
  gsize   name_len;
  guint8  kind;
  guint64 value_bytes; /* Chrome's count of the plaintext value */
} Entry;

struct _NmsStoreNames {
  GHashTable *by_token;   /* token -> Entry, owning both */
  GPtrArray  *by_name;    /* Entry, sorted by name bytes; NULL until asked for after a change */
  gint64      data_version;
};

static void
entry_free (gpointer data)
{
  Entry *e = data;

  sodium_memzero (e->name, e->name_len);
  g_free (e->name);
  sodium_memzero (e, sizeof *e);
  g_free (e);
}

static guint
token_hash (gconstpointer token)
{
  guint h;

  /* Tokens are keyed hashes: any of their bytes are already uniform. */
  memcpy (&h, token, sizeof h);
  return h;
}

static gboolean
token_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, NMS_CRYPTO_TOKEN_BYTES) == 0;
}

static int
compare_bytes (const char *a, gsize a_len, const char *b, gsize b_len)
{
  int c = memcmp (a, b, MIN (a_len, b_len));

  if (c != 0)
    return c;
  return a_len < b_len ? -1 : a_len > b_len;
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(const Entry *const *) a, *y = *(const Entry *const *) b;

  return compare_bytes (x->name, x->name_len, y->name, y->name_len);
}

static NmsStoreNames *
names_new (gint64 data_version)
{
  NmsStoreNames *names = g_new0 (NmsStoreNames, 1);

  names->by_token = g_hash_table_new_full (token_hash, token_equal, NULL, entry_free);
  names->data_version = data_version;
  return names;
}

static void
names_free (NmsStoreNames *names)
{
  g_clear_pointer (&names->by_name, g_ptr_array_unref);
  g_hash_table_destroy (names->by_token);
  g_free (names);
}

void
_nms_store_names_drop (NmsStore *store)
{
  g_clear_pointer (&store->crypt.names, names_free);
}

/* The rollback hook: SQLite calls it while the connection is busy, so it
 * only forgets. */
static void
on_rollback (void *data)
{
  _nms_store_names_drop (data);
}

void
_nms_store_names_watch (NmsStore *store)
{
  sqlite3_rollback_hook (store->db, on_rollback, store);
}

void
_nms_store_names_unwatch (NmsStore *store)
{
  if (store->db != NULL)
    sqlite3_rollback_hook (store->db, NULL, NULL);
}

static void
names_put (NmsStoreNames *names, const guint8 *token, const char *name, gsize name_len, guint8 kind,
           guint64 value_bytes)
{
  Entry *e = g_new0 (Entry, 1);

  memcpy (e->token, token, NMS_CRYPTO_TOKEN_BYTES);
  e->name = g_malloc (name_len + 1);
  memcpy (e->name, name, name_len);
  e->name[name_len] = '\0';
  e->name_len = name_len;
  e->kind = kind;
  e->value_bytes = value_bytes;
  /* The key is the entry's own token, so the old entry goes whole. */
  g_hash_table_replace (names->by_token, e->token, e);
  g_clear_pointer (&names->by_name, g_ptr_array_unref);
}

void
_nms_store_names_put (NmsStore *store, const guint8 *token, const char *name, gsize name_len, guint8 kind,
                     guint64 value_bytes)
{
  if (store->crypt.names != NULL)
    names_put (store->crypt.names, token, name, name_len, kind, value_bytes);
}

void
_nms_store_names_remove (NmsStore *store, const guint8 *token)
{
  NmsStoreNames *names = store->crypt.names;

  if (names != NULL && g_hash_table_remove (names->by_token, token))
    g_clear_pointer (&names->by_name, g_ptr_array_unref);
}

/* Every item is gone (a whole clear in this connection). */
void
_nms_store_names_remove_all (NmsStore *store)
{
  NmsStoreNames *names = store->crypt.names;

  if (names == NULL)
    return;
  g_hash_table_remove_all (names->by_token);
  g_clear_pointer (&names->by_name, g_ptr_array_unref);
}

/* Opens every record once; the version is read first (see the top). */
static gboolean
build (NmsStore *store, gint64 data_version, GError **error)
{
  NmsStoreNames *names = names_new (data_version);
  sqlite3_stmt *s = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (store->db, "SELECT key, value FROM items", -1, &s, NULL);
  for (rc = rc == SQLITE_OK ? sqlite3_step (s) : rc; rc == SQLITE_ROW; rc = sqlite3_step (s))
    {
      const guint8 *token = sqlite3_column_blob (s, 0);
      NmsCryptoItem item = { 0 };

      if (sqlite3_column_bytes (s, 0) != NMS_CRYPTO_TOKEN_BYTES)
        {
          g_warning ("%s: an item of an encrypted origin has no token; it is left out", store->path);
          continue;
        }
      if (!_nms_store_crypt_open (store, store->crypt.keys, token, sqlite3_column_blob (s, 1),
                                 (gsize) sqlite3_column_bytes (s, 1), &item, NULL))
        continue;
      names_put (names, token, item.name, item.name_len, item.kind,
                 nms_store_value_bytes ((NmsValueKind) item.kind, item.value, item.value_len));
      nms_crypto_item_clear (&item);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    {
      names_free (names);
      return _nms_store_fail (store, rc, "list the items", error);
    }
  _nms_store_names_drop (store);
  store->crypt.names = names;
  return TRUE;
}

/* The cache, current for the caller's transaction: kept when no other
 * connection has committed since it was built, else built again. */
static NmsStoreNames *
names_ready (NmsStore *store, GError **error)
{
  gint64 version;

  if (!_nms_store_crypt_ready (store, error) || !nms_store_data_version (store, &version, error))
    return NULL;
  if (store->crypt.names != NULL && store->crypt.names->data_version != version)
    _nms_store_names_drop (store);
  if (store->crypt.names == NULL && !build (store, version, error))
    return NULL;
  return store->crypt.names;
}

/* The entries whose names start with prefix (all when NULL or empty), in
 * byte order of the names: *n of them from *first, borrowed until the
 * cache next changes. */
static gboolean
names_range (NmsStore *store, const char *prefix, Entry *const **first, guint *n, GError **error)
{
  NmsStoreNames *names = names_ready (store, error);
  gsize prefix_len = prefix ? strlen (prefix) : 0;
  guint lo, hi, end;

  if (names == NULL)
    return FALSE;
  if (names->by_name == NULL)
    {
      GHashTableIter iter;
      gpointer value;

      names->by_name = g_ptr_array_sized_new (g_hash_table_size (names->by_token));
      g_hash_table_iter_init (&iter, names->by_token);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_ptr_array_add (names->by_name, value);
      g_ptr_array_sort (names->by_name, compare_entries);
    }
  /* The first name not below prefix, then every name that starts with it:
   * those are contiguous in byte order. */
  lo = 0, hi = names->by_name->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const Entry *e = g_ptr_array_index (names->by_name, mid);

      if (compare_bytes (e->name, e->name_len, prefix ? prefix : "", prefix_len) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  for (end = lo; end < names->by_name->len; end++)
    {
      const Entry *e = g_ptr_array_index (names->by_name, end);

      if (e->name_len < prefix_len || (prefix_len > 0 && memcmp (e->name, prefix, prefix_len) != 0))
        break;
    }
  *first = (Entry *const *) names->by_name->pdata + lo;
  *n = end - lo;
  return TRUE;
}

/* Visits the names that start with prefix, without values; visit must
 * not write to the store. */
gboolean
_nms_store_names_visit (NmsStore *store, const char *prefix, NmsStoreVisitFunc visit, gpointer user_data,
                       GError **error)
{
  Entry *const *first;
  guint i, n;

  if (!names_range (store, prefix, &first, &n, error))
    return FALSE;
  for (i = 0; i < n; i++)
    {
      NmsItem item = { .key = first[i]->name, .key_len = first[i]->name_len,
                       .kind = (NmsValueKind) first[i]->kind };

      if (!visit (&item, user_data, error))
        return FALSE;
    }
  return TRUE;
}

/* The tokens of the names that start with prefix, in byte order of the
 * names: a copy, so the caller may change the store while it walks them.
 * Tokens are in the file already; they are not secret. */
gboolean
_nms_store_names_tokens (NmsStore *store, const char *prefix, GArray **tokens, GError **error)
{
  Entry *const *first;
  guint i, n;

  if (!names_range (store, prefix, &first, &n, error))
    return FALSE;
  *tokens = g_array_sized_new (FALSE, FALSE, NMS_CRYPTO_TOKEN_BYTES, n);
  for (i = 0; i < n; i++)
    g_array_append_vals (*tokens, first[i]->token, 1);
  return TRUE;
}

/* Chrome's byte count of the whole store, from the names alone. */
gboolean
_nms_store_names_bytes (NmsStore *store, guint64 *bytes, GError **error)
{
  NmsStoreNames *names = names_ready (store, error);
  GHashTableIter iter;
  gpointer value;
  guint64 sum = 0;

  if (names == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, names->by_token);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const Entry *e = value;
      sum += e->name_len + e->value_bytes;
    }
  *bytes = sum;
  return TRUE;
}

/* Chrome's count for one item by token: FALSE in *known when the cache
 * has no such name (no item, or a damaged one: the caller reads it). */
gboolean
_nms_store_names_item_bytes (NmsStore *store, const guint8 *token, gboolean *known, guint64 *bytes,
                            GError **error)
{
  NmsStoreNames *names = names_ready (store, error);
  const Entry *e;

  if (names == NULL)
    return FALSE;
  e = g_hash_table_lookup (names->by_token, token);
  *known = e != NULL;
  *bytes = e ? e->name_len + e->value_bytes : 0;
  return TRUE;
}
