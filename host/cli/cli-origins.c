/* SPDX-License-Identifier: MIT */
/* cli-origins.c: `nmstore origins`, what the data root holds: one line (or
 * JSON object) per origin that has a store, with its item count, bytes in
 * use, encryption and whether this command could open it. The origin is
 * read back from the store folder's name through the same parser every
 * command uses, so a folder that no origin could have made is skipped
 * rather than guessed at. */
#include "cli-common.h"
#include "cli-private.h"
#include "crypto/crypto.h"
#include "base/error.h"
#include "base/origin.h"
#include "config/store-origin.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  char     *origin;
  char     *encryption;  /* "none", or nms_crypto_source_name's */
  gboolean  locked;
  gboolean  counted;     /* FALSE while locked: a passphrase origin's names are sealed */
  guint64   items;
  guint64   bytes;
} OriginRow;

static void
origin_row_free (OriginRow *row)
{
  g_free (row->origin);
  g_free (row->encryption);
  g_free (row);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OriginRow, origin_row_free)

/* The origin whose store folder is called name, or NULL for a folder that
 * is not one (the log, the config, a stray folder). */
static NmsOrigin *
origin_of_folder (const char *name)
{
  const char *id = NULL;
  NmsOrigin *origin;

  if (g_str_has_prefix (name, "chromium-"))
    id = name + strlen ("chromium-");
  else if (g_str_has_prefix (name, "firefox-"))
    id = name + strlen ("firefox-");
  if (id == NULL || (origin = nms_origin_parse (id, NULL)) == NULL)
    return NULL;
  /* Round trip: only a folder this origin would have made is its store. */
  if (!g_str_equal (origin->dirname, name))
    {
      nms_origin_free (origin);
      return NULL;
    }
  return origin;
}

static gboolean
count_item (const NmsItem *item, gpointer user_data, GError **error)
{
  (*(guint64 *) user_data)++;
  return TRUE;
}

static OriginRow *
describe (const NmsConfig *config, const NmsOrigin *origin, GError **error)
{
  g_autoptr(NmsStore) store = nms_store_open_origin (config, origin, error);
  g_autoptr(OriginRow) row = NULL;
  gboolean ok;

  if (store == NULL)
    return NULL;
  row = g_new0 (OriginRow, 1);
  row->origin = g_strdup (origin->canonical);
  row->encryption = g_strdup (nms_store_encrypted (store)
                              ? nms_crypto_source_name (nms_store_key_source (store)) : "none");
  row->locked = nms_store_locked (store);
  if (row->locked)
    return g_steal_pointer (&row);
  /* One read transaction, so the count and the bytes describe one state. */
  if (!nms_store_begin (store, FALSE, error))
    return NULL;
  ok = nms_store_scan (store, NULL, FALSE, count_item, &row->items, error)
       && nms_store_bytes_in_use (store, NULL, 0, &row->bytes, error);
  if (!ok)
    {
      nms_store_rollback (store);
      return NULL;
    }
  if (!nms_store_commit (store, error))
    return NULL;
  row->counted = TRUE;
  return g_steal_pointer (&row);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Every origin with a store under the data root, sorted by origin. A store
 * that cannot be read is reported on stderr and sets *all_ok to FALSE; the
 * others are still listed. */
static GPtrArray *
collect (const NmsConfig *config, gboolean *all_ok, GError **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) origin_row_free);
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  guint i;

  *all_ok = TRUE;
  if ((dir = g_dir_open (config->root, 0, &local)) == NULL)
    {
      /* No data root yet: nothing was ever stored, which is no error. */
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&rows);
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot list the data root %s: %s; check its permissions",
                   config->root, local->message);
      return NULL;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (i = 0; i < names->len; i++)
    {
      g_autoptr(NmsOrigin) origin = origin_of_folder (names->pdata[i]);
      g_autofree char *db = NULL;
      g_autoptr(GError) row_error = NULL;
      OriginRow *row;

      if (origin == NULL)
        continue;
      db = g_build_filename (config->root, names->pdata[i], NMS_STORE_FILE_NAME, NULL);
      if (!g_file_test (db, G_FILE_TEST_IS_REGULAR))
        continue;
      if ((row = describe (config, origin, &row_error)) == NULL)
        {
          fprintf (stderr, "nmstore: %s: %s\n", origin->canonical, row_error->message);
          *all_ok = FALSE;
          continue;
        }
      g_ptr_array_add (rows, row);
    }
  return g_steal_pointer (&rows);
}

static void
print_json (GPtrArray *rows)
{
  cJSON *list = cJSON_CreateArray ();
  char *text;
  guint i;

  for (i = 0; i < rows->len; i++)
    {
      const OriginRow *row = rows->pdata[i];
      cJSON *o = cJSON_CreateObject ();

      cJSON_AddStringToObject (o, "origin", row->origin);
      /* null, not 0, when a locked origin's count cannot be known. */
      if (row->counted)
        {
          cJSON_AddNumberToObject (o, "items", (double) row->items);
          cJSON_AddNumberToObject (o, "bytesInUse", (double) row->bytes);
        }
      else
        {
          cJSON_AddNullToObject (o, "items");
          cJSON_AddNullToObject (o, "bytesInUse");
        }
      cJSON_AddStringToObject (o, "encryption", row->encryption);
      cJSON_AddBoolToObject (o, "locked", row->locked);
      cJSON_AddItemToArray (list, o);
    }
  text = cJSON_PrintUnformatted (list);
  fputs (text, stdout);
  fputc ('\n', stdout);
  cJSON_free (text);
  cJSON_Delete (list);
}

static void
print_table (GPtrArray *rows)
{
  guint i;

  printf ("%-52s %8s %12s  %-10s  %s\n", "ORIGIN", "ITEMS", "BYTES", "ENCRYPTION", "STATE");
  for (i = 0; i < rows->len; i++)
    {
      const OriginRow *row = rows->pdata[i];
      g_autofree char *items = row->counted ? g_strdup_printf ("%" G_GUINT64_FORMAT, row->items) : g_strdup ("?");
      g_autofree char *bytes = row->counted ? g_strdup_printf ("%" G_GUINT64_FORMAT, row->bytes) : g_strdup ("?");

      printf ("%-52s %8s %12s  %-10s  %s\n", row->origin, items, bytes, row->encryption,
              row->locked ? "locked"
              : g_str_equal (row->encryption, "none") ? "-" : "open");
    }
}

int
_nms_cli_origins (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array, one object per origin, for scripts", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- list the origins that have a store, with their size "
                                                            "and encryption");
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsConfig) config = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  gboolean all_ok;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return _nms_cli_fail_usage (context, error->message);
  if (argc != 1)
    return _nms_cli_fail_usage (context, "origins takes no arguments, only --json");
  if ((config = _nms_cli_load_config (&error)) == NULL || !nms_crypto_init (&error)
      || (rows = collect (config, &all_ok, &error)) == NULL)
    return _nms_cli_fail_error (error);
  if (json)
    print_json (rows);
  else
    print_table (rows);
  return all_ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
