/* SPDX-License-Identifier: MIT */
/* hex.c: bytes as lowercase hexadecimal (hex.h). */
#include "base/hex.h"

void
nms_hex_append (GString *out, const guint8 *data, gsize len)
{
  static const char digits[] = "0123456789abcdef";
  gsize i;

  for (i = 0; i < len; i++)
    {
      g_string_append_c (out, digits[data[i] >> 4]);
      g_string_append_c (out, digits[data[i] & 15]);
    }
}

char *
nms_hex_encode (const guint8 *data, gsize len)
{
  GString *out = g_string_sized_new (2 * len);

  nms_hex_append (out, data, len);
  return g_string_free (out, FALSE);
}
