/* SPDX-License-Identifier: MIT */
/* test_base64.c: strict base64 (host/base/base64.c) against GLib's own
 * encoder and a character-by-character reading of RFC 4648: every length
 * round-trips, and every text that is not exactly what the encoder writes
 * (a foreign character anywhere, '=' out of place, too much or too little
 * padding, bits set after the last byte) is refused. */
#include "harness.h"

#include "base/base64.h"

#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The rule, one character at a time: what the fast check must agree with. */
static gboolean
strict_by_hand (const char *text, gsize len)
{
  gsize i, pad = 0;

  if (len % 4 != 0)
    return FALSE;
  while (pad < 2 && pad < len && text[len - 1 - pad] == '=')
    pad++;
  for (i = 0; i < len - pad; i++)
    if (text[i] == '\0' || strchr (alphabet, text[i]) == NULL)
      return FALSE;
  if (pad > 0)
    {
      int last = (int) (strchr (alphabet, text[len - pad - 1]) - alphabet);
      return (last & (pad == 2 ? 0x0f : 0x03)) == 0;
    }
  return TRUE;
}

static void
test_every_length_round_trips (void **state)
{
  guint8 data[300];
  gsize n, i;

  (void) state;
  for (i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 37 + 11);
  for (n = 0; n <= sizeof data; n++)
    {
      g_autofree char *text = g_base64_encode (data, n);
      gsize out_len = 0;
      g_autofree guint8 *out = NULL;

      assert_true (nms_base64_is_strict (text, strlen (text)));
      out = nms_base64_decode_strict (text, strlen (text), &out_len);
      assert_non_null (out);
      assert_int_equal (out_len, n);
      assert_memory_equal (out, data, n);
    }
}

/* Each byte value at each position of texts of every length up to 24 (so
 * that both the eight-at-a-time part and the tail are reached), and the
 * padded endings with every last character. */
static void
test_every_byte_at_every_position (void **state)
{
  guint8 data[18];
  gsize n, pos, i;
  int c;

  (void) state;
  for (i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 91 + 7);
  for (n = 0; n <= sizeof data; n++)
    {
      g_autofree char *good = g_base64_encode (data, n);
      gsize len = strlen (good);

      for (pos = 0; pos < len; pos++)
        for (c = 0; c < 256; c++)
          {
            g_autofree char *text = g_memdup2 (good, len + 1);

            text[pos] = (char) c;
            if (nms_base64_is_strict (text, len) != strict_by_hand (text, len))
              fail_msg ("length %" G_GSIZE_FORMAT ", byte %d at %" G_GSIZE_FORMAT ": \"%s\" judged %s", len, c, pos,
                        text, nms_base64_is_strict (text, len) ? "strict" : "not strict");
          }
    }
}

static void
test_padding_and_trailing_bits (void **state)
{
  static const struct {
    const char *text;
    gboolean    strict;
  } cases[] = {
    { "", TRUE }, { "AQ==", TRUE }, { "AR==", FALSE }, { "AAE=", TRUE }, { "AAF=", FALSE },
    { "AQ=", FALSE }, { "AQ", FALSE }, { "A===", FALSE }, { "====", FALSE }, { "AB=A", FALSE },
    { "A=AA", FALSE }, { "AQ==AQ==", FALSE }, { "AAAA", TRUE }, { "AAA=AAAA", FALSE },
    { "QUJDREVGR0g=", TRUE }, { "QUJDREVGR0h=", FALSE }, { "QUJD REVG", FALSE }, { "QUJD\nREVG", FALSE },
    { "QUJD-_VG", FALSE }, { "+/+/+/+/+/+/", TRUE },
  };
  gsize i;

  (void) state;
  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    if (nms_base64_is_strict (cases[i].text, strlen (cases[i].text)) != cases[i].strict)
      fail_msg ("\"%s\" should be judged %s", cases[i].text, cases[i].strict ? "strict" : "not strict");
  /* A NUL inside is a foreign character too. */
  assert_false (nms_base64_is_strict ("AA\0A", 4));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_every_length_round_trips),
    cmocka_unit_test (test_every_byte_at_every_position),
    cmocka_unit_test (test_padding_and_trailing_bits),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
