/* SPDX-License-Identifier: MIT */
/* base64.c: strict base64 (RFC 4648, standard alphabet, padded). GLib's
 * decoder skips characters it does not know, which would let corrupt text
 * pass as data; every reader checks with nms_base64_is_strict first. */
#include "base/base64.h"

#include <string.h>

gboolean
nms_base64_is_strict (const char *text, gsize len)
{
  gsize i, pad = 0;

  if (len % 4 != 0)
    return FALSE;
  for (i = 0; i < len; i++)
    {
      char c = text[i];
      if (c == '=')
        {
          if (i < len - 2)
            return FALSE;
          pad++;
        }
      else if (pad > 0 || !(g_ascii_isalnum (c) || c == '+' || c == '/'))
        return FALSE;
    }
  /* The bits after the last byte must be zero, or "AR==" would store the
   * byte of "AQ==" and a $bytes value would not come back as it was sent. */
  if (pad > 0)
    {
      const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      int last = (int) (strchr (alphabet, text[len - pad - 1]) - alphabet);
      if ((last & (pad == 2 ? 0x0f : 0x03)) != 0)
        return FALSE;
    }
  return TRUE;
}

/* NULL when text is not strict base64. */
guint8 *
nms_base64_decode_strict (const char *text, gsize len, gsize *out_len)
{
  guint8 *out;
  gint state = 0;
  guint save = 0;

  if (!nms_base64_is_strict (text, len))
    return NULL;
  out = g_malloc ((len / 4) * 3 + 3);
  *out_len = g_base64_decode_step (text, len, out, &state, &save);
  return out;
}

void
nms_base64_append (GString *out, const guint8 *data, gsize len)
{
  gint state = 0, save = 0;
  gsize at = out->len, n;

  g_string_set_size (out, at + (len / 3 + 1) * 4 + 4);
  n = g_base64_encode_step (data, len, FALSE, out->str + at, &state, &save);
  n += g_base64_encode_close (FALSE, out->str + at + n, &state, &save);
  g_string_truncate (out, at + n);
}
