/* SPDX-License-Identifier: MIT */
/* test_bencode.c: the strict decoder accepts canonical bencode, refuses
 * every non-canonical or hostile form with an error, and reads a torrent's
 * facts and infohash from hand-built metainfo. */
#include "harness.h"
#include "session/bencode.h"

#include <string.h>

static NmsBencodeDoc *
parse (const char *text, GError **error)
{
  return nms_bencode_parse ((const guint8 *) text, strlen (text), error);
}

static void
test_accepts_canonical (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsBencodeDoc) doc = parse ("d1:ai-42e1:bl3:xyzi0ee1:cde1:d0:e", &error);
  const NmsBencode *root, *b, *x;

  assert_non_null (doc);
  root = nms_bencode_root (doc);
  assert_int_equal (root->type, NMS_BENCODE_DICT);
  assert_int_equal (nms_bencode_lookup (doc, root, "a")->integer, -42);
  b = nms_bencode_lookup (doc, root, "b");
  assert_int_equal (b->type, NMS_BENCODE_LIST);
  x = nms_bencode_first (doc, b);
  assert_int_equal (x->str_len, 3);
  assert_memory_equal (x->str, "xyz", 3);
  assert_int_equal (nms_bencode_next (doc, x)->integer, 0);
  assert_null (nms_bencode_next (doc, nms_bencode_next (doc, x)));
  assert_int_equal (nms_bencode_lookup (doc, root, "c")->type, NMS_BENCODE_DICT);
  assert_int_equal (nms_bencode_lookup (doc, root, "d")->str_len, 0);
  assert_null (nms_bencode_lookup (doc, root, "e"));
  /* raw spans cover exactly the value's own encoding */
  assert_int_equal (b->raw_len, strlen ("l3:xyzi0ee"));
  assert_memory_equal (b->raw, "l3:xyzi0ee", b->raw_len);
}

static void
test_refuses_non_canonical (void **state)
{
  const char *bad[] = {
    "", "i", "ie", "i-0e", "i03e", "i-e", "i1", "01:a", "2:a", "5", "l", "d", "di1ei1ee", "d1:b0:1:a0:e",
    "d1:a0:1:a0:e", "i1ei2e", "x", "i99999999999999999999e", "d1:ae", "l1:ae extra",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NmsBencodeDoc) doc = parse (bad[i], &error);
      if (doc != NULL)
        fail_msg ("accepted non-canonical bencode \"%s\"", bad[i]);
      assert_non_null (error);
      assert_true (strlen (error->message) > 0);
    }
}

static void
test_depth_limit (void **state)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsBencodeDoc) ok = NULL;
  g_autoptr(NmsBencodeDoc) too_deep = NULL;
  guint i;

  for (i = 0; i < NMS_BENCODE_MAX_DEPTH; i++)
    g_string_prepend_c (deep, 'l'), g_string_append_c (deep, 'e');
  ok = parse (deep->str, &error);
  assert_non_null (ok);
  g_string_prepend_c (deep, 'l');
  g_string_append_c (deep, 'e');
  too_deep = parse (deep->str, &error);
  assert_null (too_deep);
  assert_non_null (strstr (error->message, "nesting"));
}

static void
test_metainfo (void **state)
{
  const char *info = "d5:filesld6:lengthi3e4:pathl1:aeed6:lengthi5e4:pathl1:beee4:name3:dir"
                     "12:piece lengthi4e6:pieces40:0123456789012345678901234567890123456789e";
  g_autofree char *torrent = g_strdup_printf ("d8:announce4:none4:info%se", info);
  g_autofree char *expected = g_compute_checksum_for_string (G_CHECKSUM_SHA1, info, -1);
  g_autoptr(GError) error = NULL;
  NmsMetainfo m;

  assert_true (nms_bencode_metainfo ((const guint8 *) torrent, strlen (torrent), NMS_METAINFO_TORRENT_FILE, &m, &error));
  assert_string_equal (m.name, "dir");
  assert_int_equal (m.total_size, 8);
  assert_int_equal (m.file_count, 2);
  assert_int_equal (m.piece_count, 2);
  assert_int_equal (m.piece_length, 4);
  assert_string_equal (m.info_hash, expected);
  nms_metainfo_clear (&m);

  assert_true (nms_bencode_metainfo ((const guint8 *) info, strlen (info), NMS_METAINFO_INFO_DICT, &m, &error));
  assert_string_equal (m.info_hash, expected);
  nms_metainfo_clear (&m);

  /* a .torrent read as an info dictionary has no name or pieces */
  assert_false (nms_bencode_metainfo ((const guint8 *) torrent, strlen (torrent), NMS_METAINFO_INFO_DICT, &m, &error));
  g_clear_error (&error);
  assert_false (nms_bencode_metainfo ((const guint8 *) "d4:name1:xe", 11, NMS_METAINFO_INFO_DICT, &m, &error));
  assert_non_null (strstr (error->message, "piece length"));
}

static void
test_fuzz_entry_survives_garbage (void **state)
{
  guint8 buf[512];
  guint i, j;

  g_random_set_seed (7);
  for (i = 0; i < 2000; i++)
    {
      gsize len = g_random_int_range (0, sizeof buf);
      for (j = 0; j < len; j++)
        buf[j] = "dlie0123456789:-x"[g_random_int_range (0, 17)];
      nms_bencode_fuzz_one (buf, len);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_accepts_canonical),
    cmocka_unit_test (test_refuses_non_canonical),
    cmocka_unit_test (test_depth_limit),
    cmocka_unit_test (test_metainfo),
    cmocka_unit_test (test_fuzz_entry_survives_garbage),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
