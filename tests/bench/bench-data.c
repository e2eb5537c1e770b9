/* SPDX-License-Identifier: MIT */
/* bench-data.c: synthetic session data shaped like the extension engine's.
 *
 * The engine keeps an index of torrents, a small JSON state per torrent
 * that it rewrites about once a second, and the .torrent file's bytes.
 * The values here have those shapes and sizes and are reproducible from a
 * seed, so that two runs store and move the same bytes. */
#include "bench.h"

#include <string.h>

BenchData *
bench_data_new (guint32 seed)
{
  BenchData *data = g_new0 (BenchData, 1);

  data->rand = g_rand_new_with_seed (seed);
  return data;
}

void
bench_data_free (BenchData *data)
{
  if (data == NULL)
    return;
  g_rand_free (data->rand);
  g_free (data);
}

char *
bench_data_info_hash (BenchData *data, guint i)
{
  g_autofree char *name = g_strdup_printf ("bench-torrent-%u", i);

  return g_compute_checksum_for_string (G_CHECKSUM_SHA1, name, -1);
}

/* A state whose bitfield has bitfield_hex hex digits. */
static char *
state_with_bitfield (BenchData *data, gsize bitfield_hex)
{
  static const char hex[] = "0123456789abcdef";
  guint64 downloaded = (guint64) g_rand_int_range (data->rand, 0, G_MAXINT32) * 16;
  GString *out = g_string_sized_new (bitfield_hex + 200);
  gsize i;

  guint queue_position = (guint) g_rand_int_range (data->rand, 0, 1000);

  /* Members in byte order: the host keeps them so, as Chrome does, and
   * the benchmarks compare what comes back with what was sent. */
  g_string_assign (out, "{\"bitfield\":\"");
  /* A torrent part downloaded: whole bytes of pieces it has, a ragged
   * edge, then pieces still missing. */
  for (i = 0; i < bitfield_hex; i++)
    {
      if (i < bitfield_hex / 2)
        g_string_append_c (out, 'f');
      else if (i < bitfield_hex * 3 / 4)
        g_string_append_c (out, hex[g_rand_int_range (data->rand, 0, 16)]);
      else
        g_string_append_c (out, '0');
    }
  g_string_append_printf (out, "\",\"downloaded\":%" G_GUINT64_FORMAT ",\"queuePosition\":%u,"
                          "\"storageKey\":\"default\",\"updatedAt\":%" G_GUINT64_FORMAT ","
                          "\"uploaded\":%" G_GUINT64_FORMAT ",\"userState\":\"active\"}",
                          downloaded, queue_position, (guint64) 1763700000000 + data->serial++, downloaded / 3);
  return g_string_free (out, FALSE);
}

char *
bench_data_state_json (BenchData *data, gsize size)
{
  g_autofree char *probe = state_with_bitfield (data, 0);
  gsize fixed = strlen (probe);

  return state_with_bitfield (data, size > fixed ? size - fixed : 2);
}

char *
bench_data_state_for_pieces (BenchData *data, guint pieces)
{
  return state_with_bitfield (data, 2 * (((gsize) pieces + 7) / 8));
}

char *
bench_data_torrentfile (guint32 seed, gsize size, char **info_hash, guint *pieces)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr(GByteArray) file = g_byte_array_new ();
  g_autoptr(GString) info = g_string_new (NULL);
  g_autofree char *name = g_strdup_printf ("bench-payload-%08x.bin", seed);
  const char *head = "d8:announce36:udp://tracker.example.invalid:6969/a10:created by13:nmstore-bench4:info";
  guint n = size > 300 ? (guint) ((size - 300) / 20) : 1, i;
  g_autofree char *b64 = NULL;
  char *json;

  /* The info dictionary, keys in order, with n SHA-1 piece hashes: random
   * bytes, which is what piece hashes look like. */
  g_string_printf (info, "d6:lengthi%" G_GUINT64_FORMAT "e4:name%zu:%s12:piece lengthi262144e6:pieces%u:",
                   (guint64) n * 262144, strlen (name), name, n * 20);
  for (i = 0; i < n * 20; i++)
    g_string_append_c (info, (char) g_rand_int_range (rand, 0, 256));
  g_string_append_c (info, 'e');

  g_byte_array_append (file, (const guint8 *) head, (guint) strlen (head));
  g_byte_array_append (file, (const guint8 *) info->str, (guint) info->len);
  g_byte_array_append (file, (const guint8 *) "e", 1);
  *info_hash = g_compute_checksum_for_data (G_CHECKSUM_SHA1, (const guint8 *) info->str, info->len);
  *pieces = n;
  b64 = g_base64_encode (file->data, file->len);
  json = g_strdup_printf ("{\"$bytes\":\"%s\"}", b64);
  return json;
}

char *
bench_data_index_json (GPtrArray *hashes, gboolean magnet)
{
  GString *out = g_string_new ("{\"version\":2,\"torrents\":[");
  guint i;

  for (i = 0; i < hashes->len; i++)
    {
      const char *hash = hashes->pdata[i];
      g_string_append_printf (out, "%s{\"infoHash\":\"%s\",\"source\":\"%s\",", i ? "," : "", hash,
                              magnet ? "magnet" : "file");
      if (magnet)
        g_string_append_printf (out, "\"magnetUri\":\"magnet:?xt=urn:btih:%s&dn=bench-%u\",", hash, i);
      g_string_append_printf (out, "\"addedAt\":%" G_GUINT64_FORMAT "}", (guint64) 1763000000000 + (guint64) i * 1000);
    }
  g_string_append (out, "]}");
  return g_string_free (out, FALSE);
}

char *
bench_data_pad_request (const char *json, gsize size)
{
  gsize len = strlen (json);
  gsize overhead = strlen (",\"pad\":\"\"");
  GString *out;

  if (len == 0 || json[len - 1] != '}' || size <= len + overhead)
    return g_strdup (json);
  out = g_string_sized_new (size + 1);
  g_string_append_len (out, json, (gssize) len - 1);
  g_string_append (out, ",\"pad\":\"");
  while (out->len < size - 2)
    g_string_append_c (out, 'x');
  g_string_append (out, "\"}");
  return g_string_free (out, FALSE);
}
