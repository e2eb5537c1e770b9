/* SPDX-License-Identifier: MIT */
/* json-private.h: what the JSON module's files share and nobody else
 * sees: reading text eight bytes at a time.
 *
 * Why: a request is mostly ASCII, and most of its bytes sit inside long
 * strings (a state's base64 bitfield, a .torrent file). The profile of a
 * `set` showed two thirds of the host's instructions going to looking at
 * those bytes one at a time, several times over. These look at sixteen
 * or eight bytes at once and return the exact position of the first byte
 * they look for; the word tests are exact about whether a word holds such
 * a byte, and the byte itself is then found one byte at a time. */
#pragma once

#include <glib.h>
#include <string.h>

/* SSE2 is part of every x86-64 processor: sixteen bytes at a time there,
 * eight (in a 64-bit word) elsewhere. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define _NMS_JSON_SSE2 1
#endif

#define _NMS_JSON_ONES  G_GUINT64_CONSTANT (0x0101010101010101)
#define _NMS_JSON_HIGHS G_GUINT64_CONSTANT (0x8080808080808080)

/* Whether any byte of w is zero. Exact for the word as a whole: a borrow
 * can mark a byte above a real zero, never a word without one. */
static inline guint64
_nms_json_word_has_zero (guint64 w)
{
  return (w - _NMS_JSON_ONES) & ~w & _NMS_JSON_HIGHS;
}

/* Whether any byte of w is b. */
static inline gboolean
_nms_json_word_has (guint64 w, guint8 b)
{
  return _nms_json_word_has_zero (w ^ (b * _NMS_JSON_ONES)) != 0;
}

/* The length of the leading run of ASCII bytes other than NUL. */
static inline gsize
_nms_json_ascii_prefix (const guint8 *text, gsize len)
{
  gsize i = 0;
  guint64 w;

#ifdef _NMS_JSON_SSE2
  for (; i + 16 <= len; i += 16)
    {
      __m128i x = _mm_loadu_si128 ((const __m128i *) (const void *) (text + i));
      /* The sign bits are the bytes of 0x80 and above. */
      int mask = _mm_movemask_epi8 (x) | _mm_movemask_epi8 (_mm_cmpeq_epi8 (x, _mm_setzero_si128 ()));

      if (mask != 0)
        return i + (gsize) __builtin_ctz ((unsigned) mask);
    }
#endif
  for (; i + 8 <= len; i += 8)
    {
      memcpy (&w, text + i, sizeof w);
      if ((w & _NMS_JSON_HIGHS) != 0 || _nms_json_word_has_zero (w) != 0)
        break;
    }
  while (i < len && text[i] != 0 && text[i] < 0x80)
    i++;
  return i;
}

/* Whether any byte of w is below 0x20 (a control character): the test
 * above in its form for any bound up to 0x80. */
static inline gboolean
_nms_json_word_has_control (guint64 w)
{
  return ((w - 0x20 * _NMS_JSON_ONES) & ~w & _NMS_JSON_HIGHS) != 0;
}

/* The first byte at or after p that is a, b, c or d, or (when controls is
 * set) below 0x20, or (when high is set) 0x80 or above; end if none is. Sixteen bytes at a time, then eight,
 * then one: the word tests only decide how far to skip, and the last loop
 * finds the byte itself. Always inlined with constant arguments, so each
 * caller gets its own comparisons. */
static inline const guint8 *
_nms_json_find (const guint8 *p, const guint8 *end, gboolean controls, gboolean high, guint8 a, guint8 b, guint8 c,
                guint8 d)
{
  guint64 w;

#ifdef _NMS_JSON_SSE2
  const __m128i va = _mm_set1_epi8 ((char) a), vb = _mm_set1_epi8 ((char) b);
  const __m128i vc = _mm_set1_epi8 ((char) c), vd = _mm_set1_epi8 ((char) d), ctl = _mm_set1_epi8 (0x1F);

  while (end - p >= 16)
    {
      __m128i x = _mm_loadu_si128 ((const __m128i *) (const void *) p);
      __m128i hit = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (x, va), _mm_cmpeq_epi8 (x, vb)),
                                  _mm_or_si128 (_mm_cmpeq_epi8 (x, vc), _mm_cmpeq_epi8 (x, vd)));
      int mask;

      /* min (x, 0x1F) == x exactly when x <= 0x1F, unsigned. */
      if (controls)
        hit = _mm_or_si128 (hit, _mm_cmpeq_epi8 (_mm_min_epu8 (x, ctl), x));
      /* The mask takes each byte's top bit: x's own is set from 0x80. */
      if (high)
        hit = _mm_or_si128 (hit, x);
      mask = _mm_movemask_epi8 (hit);
      if (mask != 0)
        return p + __builtin_ctz ((unsigned) mask);
      p += 16;
    }
#endif
  while (end - p >= 8)
    {
      memcpy (&w, p, sizeof w);
      if (_nms_json_word_has (w, a) || _nms_json_word_has (w, b) || _nms_json_word_has (w, c)
          || _nms_json_word_has (w, d) || (controls && _nms_json_word_has_control (w))
          || (high && (w & _NMS_JSON_HIGHS) != 0))
        break;
      p += 8;
    }
  while (p < end && *p != a && *p != b && *p != c && *p != d && !(controls && *p < 0x20) && !(high && *p >= 0x80))
    p++;
  return p;
}

/* The first byte at or after p that is '"', '\\' or a control character,
 * or end: the plain run of a string, which is copied or skipped whole. */
static inline const guint8 *
_nms_json_plain_run (const guint8 *p, const guint8 *end)
{
  return _nms_json_find (p, end, TRUE, FALSE, '"', '\\', '"', '\\');
}

/* The same, stopping at a byte of 0x80 or above too: for a reader that
 * checks a string's UTF-8 as it goes, rather than the whole text before. */
static inline const guint8 *
_nms_json_ascii_run (const guint8 *p, const guint8 *end)
{
  return _nms_json_find (p, end, TRUE, TRUE, '"', '\\', '"', '\\');
}

/* The first byte at or after p that is one of a, b, c or d, or end. */
static inline const guint8 *
_nms_json_find_any4 (const guint8 *p, const guint8 *end, guint8 a, guint8 b, guint8 c, guint8 d)
{
  return _nms_json_find (p, end, FALSE, FALSE, a, b, c, d);
}

/* What nms_json_is_utf8 (json.h) checks, for this module's own readers,
 * which sit below json.c and must not call it. */
static inline gboolean
_nms_json_is_utf8 (const char *text, gsize len, const char **bad)
{
  gsize ascii = _nms_json_ascii_prefix ((const guint8 *) text, len);

  return ascii == len || g_utf8_validate_len (text + ascii, len - ascii, bad);
}
