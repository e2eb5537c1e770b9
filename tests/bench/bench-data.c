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

char *
bench_data_state_json (BenchData *data, gsize size)
{
  static const char hex[] = "0123456789abcdef";
  guint64 downloaded = (guint64) g_rand_int_range (data->rand, 0, G_MAXINT32) * 16;
  g_autofree char *head = g_strdup_printf (
      "{\"userState\":\"active\",\"storageKey\":\"default\",\"queuePosition\":%u,\"bitfield\":\"",
      g_rand_int_range (data->rand, 0, 1000));
  g_autofree char *tail = g_strdup_printf (
      "\",\"uploaded\":%" G_GUINT64_FORMAT ",\"downloaded\":%" G_GUINT64_FORMAT ",\"updatedAt\":%" G_GUINT64_FORMAT "}",
      downloaded / 3, downloaded, (guint64) 1763700000000 + data->serial++);
  gsize fixed = strlen (head) + strlen (tail);
  gsize bits = size > fixed ? size - fixed : 2;
  GString *out = g_string_sized_new (fixed + bits + 1);
  gsize i;

  g_string_append (out, head);
  /* A torrent part downloaded: whole bytes of set pieces, then a ragged
   * edge, then pieces still missing. */
  for (i = 0; i < bits; i++)
    {
      if (i < bits / 2)
        g_string_append_c (out, 'f');
      else if (i < bits * 3 / 4)
        g_string_append_c (out, hex[g_rand_int_range (data->rand, 0, 16)]);
      else
        g_string_append_c (out, '0');
    }
  g_string_append (out, tail);
  return g_string_free (out, FALSE);
}

char *
bench_data_torrentfile (BenchData *data, gsize size)
{
  g_autofree guint8 *bytes = g_malloc (size);
  g_autofree char *head = g_strdup_printf (
      "d8:announce35:udp://tracker.example.invalid:696910:created by13:nmstore-bench4:infod6:lengthi%ue"
      "4:name16:bench-payload.bin12:piece lengthi262144e6:pieces%" G_GSIZE_FORMAT ":",
      g_rand_int (data->rand), size > 200 ? size - 200 : 0);
  g_autofree char *b64 = NULL;
  gsize i, n = MIN (strlen (head), size);

  /* A bencoded header, then SHA-1 piece hashes, which do not compress. */
  memcpy (bytes, head, n);
  for (i = n; i < size; i++)
    bytes[i] = (guint8) g_rand_int_range (data->rand, 0, 256);
  if (size >= 2)
    {
      bytes[size - 2] = 'e';
      bytes[size - 1] = 'e';
    }
  b64 = g_base64_encode (bytes, size);
  return g_strdup_printf ("{\"$bytes\":\"%s\"}", b64);
}

char *
bench_data_index_json (BenchData *data, guint n_torrents)
{
  GString *out = g_string_new ("{\"version\":2,\"torrents\":[");
  guint i;

  for (i = 0; i < n_torrents; i++)
    {
      g_autofree char *hash = bench_data_info_hash (data, i);
      g_string_append_printf (out, "%s{\"infoHash\":\"%s\",\"source\":\"file\",\"addedAt\":%" G_GUINT64_FORMAT "}",
                              i ? "," : "", hash, (guint64) 1763000000000 + (guint64) i * 1000);
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
