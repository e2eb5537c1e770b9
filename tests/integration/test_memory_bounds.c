/* SPDX-License-Identifier: MIT */
/* test_memory_bounds.c: the host's memory stays bounded under the largest
 * requests a browser may send, and under a browser that stops reading.
 *
 * Peak RSS is read from /proc/PID/status (VmHWM) while the host is still
 * alive. The bounds are generous multiples of the request size: what they
 * catch is growth with the number of requests, or with the replies that a
 * stalled reader leaves unread, not a few megabytes either way. Under a
 * wrapper such as valgrind, or with ASan, the figures are the tool's, so
 * the bounds are reported but not asserted. */
#include "harness.h"

#include <gio/gunixoutputstream.h>
#include <stdio.h>
#include <string.h>

#define MIB (1024 * 1024)

/* ASan keeps freed memory in quarantine, and valgrind's RSS is its own:
 * only a plain build measures the host's own memory. */
#if defined(__SANITIZE_ADDRESS__)
#define MEASURES_NATIVE_RSS() FALSE
#else
#define MEASURES_NATIVE_RSS() (!nmt_host_wrapped ())
#endif
#define BIG_REQUEST (64u * MIB - 64)   /* the largest frame Chrome sends, less the envelope */

static void
send_big_get (NmtHost *host, guint id)
{
  /* A get of a 64 MiB default value: parsed, and echoed in a chunked reply. */
  g_autofree char *head = g_strdup_printf ("{\"id\":%u,\"op\":\"getBytesInUse\",\"keys\":[\"a\"],\"pad\":\"", id);
  const char *tail = "\"}";
  gsize fill = BIG_REQUEST - strlen (head) - strlen (tail);
  guint32 len = (guint32) (strlen (head) + fill + strlen (tail));
  g_autofree char *pad = g_strnfill (fill, 'p');

  assert_true (nmt_host_send_raw (host, &len, sizeof len));
  assert_true (nmt_host_send_raw (host, head, strlen (head)));
  assert_true (nmt_host_send_raw (host, pad, fill));
  assert_true (nmt_host_send_raw (host, tail, strlen (tail)));
}

static void
test_back_to_back_64mib_requests (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  gint64 after_first = 0, peak = 0;
  /* Under valgrind one request takes minutes; the bound is not asserted there. */
  const guint n = nmt_host_wrapped () ? 1 : 8;

  for (guint i = 0; i < n; i++)
    {
      cJSON *r;
      send_big_get (host, i);
      r = nmt_host_recv (host);
      nmt_assert_ok (r);
      cJSON_Delete (r);
      peak = nmt_proc_status_kib (nmt_host_pid (host), "VmHWM");
      if (i == 0)
        after_first = peak;
    }
  print_message ("memory: %u requests of 64 MiB back to back: host peak RSS %" G_GINT64_FORMAT " KiB after the first, "
                 "%" G_GINT64_FORMAT " KiB after all; now %" G_GINT64_FORMAT " KiB\n", n, after_first, peak,
                 nmt_proc_status_kib (nmt_host_pid (host), "VmRSS"));
  if (MEASURES_NATIVE_RSS ())
    {
      /* The frame buffer and cJSON's tree of one request: a few times 64 MiB. */
      assert_true (peak < 5 * 64 * 1024);
      /* And no growth with the number of requests. */
      assert_true (peak < after_first + 16 * 1024);
    }
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

/* The browser keeps sending reads of a large value and never reads a
 * reply. The host must block on the full pipe, not buffer the replies. */
static void
test_stalled_reader_blocks_the_host (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autofree char *value = g_strnfill (900 * 1024, 'v');
  g_autofree char *set = g_strdup_printf ("{\"id\":0,\"op\":\"set\",\"items\":{\"big\":\"%s\"}}", value);
  const char *get = "{\"op\":\"get\",\"keys\":\"big\"}";
  cJSON *r = nmt_host_call (host, set);
  gint64 peak_early = 0, peak_late = 0;
  GPollFD pfd;
  guint sent = 0;
  int in_fd;

  nmt_assert_ok (r);
  cJSON_Delete (r);

  /* Send get requests (each asks for ~900 KiB of reply) until the host
   * stops reading: its stdin pipe fills once it is blocked on stdout. */
  in_fd = g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (host->in));
  pfd = (GPollFD) { .fd = in_fd, .events = G_IO_OUT };
  for (;;)
    {
      guint32 len = (guint32) strlen (get);
      /* Writable for 2 s means the host is still reading; 2 s of not being
       * writable means it has stopped. Neither is asserted as a time. */
      if (g_poll (&pfd, 1, 2000) == 0)
        break;
      assert_true (nmt_host_send_raw (host, &len, sizeof len));
      assert_true (nmt_host_send_raw (host, get, len));
      sent++;
      if (sent == 50)
        peak_early = nmt_proc_status_kib (nmt_host_pid (host), "VmHWM");
      assert_true (sent < 100000); /* it would have grown to ~90 GB of replies */
    }
  peak_late = nmt_proc_status_kib (nmt_host_pid (host), "VmHWM");
  print_message ("memory: stalled reader: %u requests for 900 KiB each went unread; the host blocked, "
                 "peak RSS %" G_GINT64_FORMAT " KiB (after 50 requests: %" G_GINT64_FORMAT " KiB)\n",
                 sent, peak_late, peak_early);
  if (MEASURES_NATIVE_RSS ())
    /* Bounded by one batch's replies (its read limit), not by what was sent. */
    assert_true (peak_late < 256 * 1024);

  /* Reading again drains every reply, in order, and the host carries on. */
  for (guint i = 0; i < sent; i++)
    {
      r = nmt_host_recv (host);
      assert_non_null (r);
      nmt_assert_ok (r);
      cJSON_Delete (r);
    }
  r = nmt_host_call (host, "{\"id\":\"last\",\"op\":\"hello\"}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

/* Sends {"op":"set","items":{"k":<open><piece>,<piece>,...<close>}} of about
 * size bytes, without building it whole in this process. */
static void
send_big_set (NmtHost *host, gsize size, const char *open, const char *piece, const char *close)
{
  static const char head[] = "{\"id\":1,\"op\":\"set\",\"items\":{\"k\":";
  static const char tail[] = "}}";
  gsize piece_len = strlen (piece) + 1, fixed = strlen (head) + strlen (open) + strlen (close) + strlen (tail);
  gsize n = (size - fixed) / piece_len;
  guint32 len = (guint32) (fixed + n * piece_len - 1);
  g_autoptr(GString) block = g_string_new (NULL);

  for (gsize i = 0; i < 4096; i++)
    g_string_append_printf (block, "%s,", piece);
  assert_true (nmt_host_send_raw (host, &len, sizeof len));
  assert_true (nmt_host_send_raw (host, head, strlen (head)));
  assert_true (nmt_host_send_raw (host, open, strlen (open)));
  for (gsize i = 0; i < n - 1; i += 4096)
    assert_true (nmt_host_send_raw (host, block->str, MIN (4096, n - 1 - i) * piece_len));
  assert_true (nmt_host_send_raw (host, piece, strlen (piece)));
  assert_true (nmt_host_send_raw (host, close, strlen (close)));
  assert_true (nmt_host_send_raw (host, tail, strlen (tail)));
}

/* Huge arrays of tiny elements, the shape that costs a JSON tree most
 * (a node of about 80 bytes for each 2 bytes of text): each is stored,
 * and the host's peak stays under 4 times the request plus 32 MiB. */
static void
test_tiny_elements_cost_their_size (void **state)
{
  static const char *const shapes[][3] = {
    { "[", "0", "]" },     /* 32 million zeros */
    { "[", "[]", "]" },    /* 21 million empty arrays */
    { "[", "{}", "]" },
  };

  /* Under valgrind a 64 MiB request takes minutes: 4 MiB there, where
   * the bound is not asserted anyway. */
  gsize size = nmt_host_wrapped () ? 4 * MIB : BIG_REQUEST;

  for (gsize i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autofree char *home = nmt_make_home ();
      g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
      gint64 peak_kib;
      cJSON *r;

      send_big_set (host, size, shapes[i][0], shapes[i][1], shapes[i][2]);
      r = nmt_host_recv (host);
      nmt_assert_ok (r);
      cJSON_Delete (r);
      peak_kib = nmt_proc_status_kib (nmt_host_pid (host), "VmHWM");
      printf ("# a %" G_GSIZE_FORMAT " MiB set of %s%s,...%s: peak RSS %" G_GINT64_FORMAT " MiB (bound %"
              G_GSIZE_FORMAT " MiB)\n", size / MIB, shapes[i][0], shapes[i][1], shapes[i][2], peak_kib / 1024,
              4 * size / MIB + 32);
      if (MEASURES_NATIVE_RSS ())
        assert_true (peak_kib < (gint64) ((4 * size + 32 * MIB) / 1024));
      r = nmt_host_call (host, "{\"op\":\"getBytesInUse\",\"keys\":\"k\"}");
      nmt_assert_ok (r);
      assert_true (nmt_member (r, "bytes")->valuedouble > (double) size / 2);
      cJSON_Delete (r);
      nmt_remove_tree (home);
    }
}

/* A list of keys that would cost more than the budget as a tree is
 * refused with a clear error, and the host goes on. */
static void
test_too_many_keys_refused (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  static const char head[] = "{\"id\":2,\"op\":\"get\",\"keys\":[";
  gsize n = ((nmt_host_wrapped () ? 4 * MIB : BIG_REQUEST) - 64) / 4;
  g_autoptr(GString) block = g_string_new (NULL);
  guint32 len = (guint32) (strlen (head) + n * 4 - 1 + 2);
  cJSON *r;

  for (gsize i = 0; i < 4096; i++)
    g_string_append (block, "\"a\",");
  assert_true (nmt_host_send_raw (host, &len, sizeof len));
  assert_true (nmt_host_send_raw (host, head, strlen (head)));
  for (gsize i = 0; i < n - 1; i += 4096)
    assert_true (nmt_host_send_raw (host, block->str, MIN (4096, n - 1 - i) * 4));
  assert_true (nmt_host_send_raw (host, "\"a\"]}", 5));
  r = nmt_host_recv (host);
  nmt_assert_error (r, "E_REQUEST");
  assert_non_null (strstr (nmt_member (nmt_member (r, "error"), "message")->valuestring, "split it"));
  cJSON_Delete (r);
  if (MEASURES_NATIVE_RSS ())
    assert_true (nmt_proc_status_kib (nmt_host_pid (host), "VmHWM") < (gint64) (4 * 64 + 32) * 1024);
  nmt_host_call_ok (host, "{\"op\":\"hello\"}");
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_back_to_back_64mib_requests),
    cmocka_unit_test (test_stalled_reader_blocks_the_host),
    cmocka_unit_test (test_tiny_elements_cost_their_size),
    cmocka_unit_test (test_too_many_keys_refused),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
