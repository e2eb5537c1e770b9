/* SPDX-License-Identifier: MIT */
/* test_text_checks.c: the host's fast checks of request text (the ASCII
 * run before UTF-8 validation) still reject exactly what the slow path
 * rejected, wherever in the frame the bad byte sits. */
#include "harness.h"

#include <string.h>

/* A set request whose value is a string of `len` ASCII letters with
 * `bad` (bad_len bytes) written over it at offset `at` of the frame. */
static char *
request_with (gsize len, gsize at, const char *bad, gsize bad_len, gsize *frame_len)
{
  g_autoptr(GString) text = g_string_new ("{\"id\":1,\"op\":\"set\",\"items\":{\"k\":\"");
  char *frame;

  while (text->len < len)
    g_string_append_c (text, 'a');
  g_string_append (text, "\"}}");
  frame = g_memdup2 (text->str, text->len);
  if (bad != NULL)
    memcpy (frame + at, bad, bad_len);
  *frame_len = text->len;
  return frame;
}

static void
expect (NmtHost *host, const char *frame, gsize len, const char *code)
{
  cJSON *reply;

  assert_true (nmt_host_send_frame (host, frame, len));
  reply = nmt_host_recv (host);
  if (code == NULL)
    nmt_assert_ok (reply);
  else
    nmt_assert_error (reply, code);
  cJSON_Delete (reply);
}

static void
test_bad_bytes_anywhere (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  /* Offsets on both sides of the 8-byte steps and the tail loop. */
  static const gsize offsets[] = { 40, 41, 47, 48, 49, 55, 56, 63, 64, 95 };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      gsize len;
      g_autofree char *nul = request_with (100, offsets[i], "\0", 1, &len);
      g_autofree char *cont = request_with (100, offsets[i], "\x80", 1, &len);
      g_autofree char *cut = request_with (100, offsets[i], "\xC3", 1, &len);
      g_autofree char *good = request_with (100, offsets[i], "\xC3\xA9", 2, &len);

      expect (host, nul, len, "E_JSON");
      expect (host, cont, len, "E_JSON");
      expect (host, cut, len, "E_JSON");
      expect (host, good, len, NULL);
    }
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

static void
test_all_ascii_lengths (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  gsize n;

  /* Every length mod 8, so that the tail loop ends the run each way. */
  for (n = 40; n < 56; n++)
    {
      gsize len;
      g_autofree char *frame = request_with (n, 0, NULL, 0, &len);
      expect (host, frame, len, NULL);
    }
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_bad_bytes_anywhere),
    cmocka_unit_test (test_all_ascii_lengths),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
