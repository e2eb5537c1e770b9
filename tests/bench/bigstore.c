/* SPDX-License-Identifier: MIT */
/* bigstore.c: nmstore-bench-bigstore ORIGIN MIB fills ORIGIN's store, in
 * the data root of NMSTORE_HOME, with about MIB mebibytes shaped like a
 * large torrent session: per torrent a ~2.5 KB JSON state and a torrent
 * file of 100 KB to 1 MB as bytes. It writes through the store module, in
 * transactions of a few megabytes, so the file is a real store (schema,
 * sizes, summary) and the generator's own memory stays small.
 * For tests/bench/large-store-memory.sh. */
#include "config/config.h"
#include "base/origin.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES (8u << 20)

static char *
state_json (guint i, GRand *rand)
{
  GString *s = g_string_new (NULL);
  guint j;

  g_string_append_printf (s, "{\"infoHash\":\"%040x\",\"name\":\"torrent number %u\",\"added\":%u,"
                             "\"progress\":%.4f,\"files\":[", i, i, 1700000000u + i, g_rand_double (rand));
  for (j = 0; s->len < 2400; j++)
    g_string_append_printf (s, "%s{\"path\":\"folder/file-%u-%u.bin\",\"length\":%u,\"done\":%s}", j ? "," : "", i,
                            j, g_rand_int (rand), g_rand_boolean (rand) ? "true" : "false");
  g_string_append (s, "]}");
  return g_string_free (s, FALSE);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsConfig) config = NULL;
  g_autoptr(NmsStore) store = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (15);
  NmsStoreOptions options = { 0 };
  guint64 want, written = 0, batch = 0;
  guint i;

  if (argc != 3 || (want = g_ascii_strtoull (argv[2], NULL, 10) << 20) == 0)
    {
      fprintf (stderr, "usage: %s ORIGIN MIB (the data root is NMSTORE_HOME)\n", argv[0]);
      return 2;
    }
  if ((origin = nms_origin_parse (argv[1], &error)) == NULL || (config = nms_config_load (NULL, &error)) == NULL)
    goto fail;
  dir = nms_config_store_dir (config, origin);
  if ((store = nms_store_open (dir, origin->canonical, &options, &error)) == NULL
      || !nms_store_begin (store, TRUE, &error))
    goto fail;
  for (i = 0; written < want; i++)
    {
      g_autofree char *state_key = g_strdup_printf ("torrent:%06u:state", i);
      g_autofree char *file_key = g_strdup_printf ("torrent:%06u:file", i);
      g_autofree char *state = state_json (i, rand);
      gsize file_len = (gsize) g_rand_int_range (rand, 100 << 10, 1 << 20);
      g_autofree guint8 *file = g_malloc (file_len);
      NmsItem items[2];
      gsize k;

      /* Random bytes, like a torrent's piece hashes: nothing compresses. */
      for (k = 0; k + 4 <= file_len; k += 4)
        {
          guint32 r = g_rand_int (rand);
          memcpy (file + k, &r, 4);
        }
      memset (file + k, 0, file_len - k);
      items[0] = (NmsItem) { state_key, strlen (state_key), NMS_VALUE_JSON, (const guint8 *) state, strlen (state) };
      items[1] = (NmsItem) { file_key, strlen (file_key), NMS_VALUE_BYTES, file, file_len };
      if (!nms_store_set (store, items, 2, &error))
        goto fail;
      written += strlen (state) + file_len;
      batch += strlen (state) + file_len;
      if (batch >= BATCH_BYTES)
        {
          if (!nms_store_commit (store, &error) || !nms_store_begin (store, TRUE, &error))
            goto fail;
          batch = 0;
        }
    }
  if (!nms_store_commit (store, &error))
    goto fail;
  printf ("%u items, %" G_GUINT64_FORMAT " bytes of values\n", 2 * i, written);
  return 0;

fail:
  fprintf (stderr, "bigstore: %s\n", error ? error->message : "failed");
  return 1;
}
