/* SPDX-License-Identifier: MIT */
/* test_lifecycle.c: how a host ends and what survives it: EOF, SIGTERM and
 * SIGINT (idle and with requests in flight), a frame cut off by EOF, a
 * browser that stops reading, a restart; and that stdout carries frames
 * and nothing else even with debug logging. */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <signal.h>
#include <string.h>

/* A new host on home, which must hold exactly the items expected. */
static void
assert_stored (const char *home, const char *expected)
{
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);

  nmt_assert_items (host, expected);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
}

/* One request answered proves the host is in its main loop, where its
 * signal handlers are installed; a signal before that would test exec. */
static void
wait_until_serving (NmtHost *host)
{
  nmt_host_call_ok (host, "{\"op\":\"hello\"}");
}

static void
test_restart (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) again = NULL;
  const char *chrome_args[] = { NMT_ORIGIN, NULL };
  const char *items = "{\"a\":1,\"n\":null,\"nested\":{\"x\":[1,\"\\u00e9\",{}]},\"s\":\"text\"}";
  g_autofree char *text = NULL;

  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":1,\"s\":\"text\",\"gone\":true}}");
  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"n\":null,\"nested\":{\"x\":[1,\"\\u00e9\",{}]}}}");
  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"z\":\"a\\u0000b\"}}");
  nmt_host_call_ok (host, "{\"op\":\"remove\",\"keys\":\"gone\"}");
  nmt_host_close_input (host);
  assert_null (nmt_host_recv_frame (host, NULL));
  assert_int_equal (nmt_host_wait (host), 0);

  /* The browser's own way of starting the host finds the same store. */
  again = nmt_host_start_argv (home, chrome_args, NULL);
  nmt_host_unlock_suite (again);
  assert_true (nmt_host_send (again, "{\"op\":\"get\",\"keys\":\"z\"}"));
  text = nmt_host_recv_text (again, NULL, NULL);
  assert_string_equal (text, "{\"id\":null,\"ok\":true,\"items\":{\"z\":\"a\\u0000b\"}}");
  nmt_host_call_ok (again, "{\"op\":\"remove\",\"keys\":\"z\"}");
  nmt_assert_items (again, items);
  nmt_host_close_input (again);
  assert_int_equal (nmt_host_wait (again), 0);

  assert_stored (home, items);
  nmt_remove_tree (home);
}

/* durability = full in nmstore.conf: the same protocol, and the same data
 * after a restart, with flush and without. */
static void
test_restart_durability_full (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = NULL;

  nmt_write_config (home, "[store]\ndurability = full\n");
  host = nmt_host_start (home, NMT_ORIGIN);
  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"a\":1}}");
  nmt_host_call_ok (host, "{\"op\":\"flush\"}");
  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"b\":[2]}}");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  assert_stored (home, "{\"a\":1,\"b\":[2]}");
  nmt_remove_tree (home);
}

static void
expect_signal_when_idle (int signum)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);

  nmt_host_call_ok (host, "{\"op\":\"set\",\"items\":{\"before\":1}}");
  nmt_host_signal (host, signum);
  /* The host ends although its stdin is still open. */
  assert_null (nmt_host_recv_frame (host, NULL));
  assert_int_equal (nmt_host_wait (host), 0);
  assert_stored (home, "{\"before\":1}");
  nmt_remove_tree (home);
}

static void
test_sigterm_idle (void **state)
{
  expect_signal_when_idle (SIGTERM);
}

static void
test_sigint_idle (void **state)
{
  expect_signal_when_idle (SIGINT);
}

/* Requests that have fully arrived when the signal comes are all served,
 * committed and answered in order before the host exits 0. The burst fits
 * in the pipe, so every byte of it has arrived once the write returns. */
static void
expect_signal_in_flight (int signum)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  g_autoptr(GString) expected = g_string_new ("{");
  const int n = 400;
  cJSON *reply;
  int i;

  wait_until_serving (host);
  for (i = 0; i < n; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k%03d\":%d}}", i, i, i);
      nmt_frame_append_str (burst, json);
      g_string_append_printf (expected, "%s\"k%03d\":%d", i ? "," : "", i, i);
    }
  g_string_append_c (expected, '}');
  assert_true (burst->len < 32 * 1024);
  assert_true (nmt_host_send_raw (host, burst->data, burst->len));
  nmt_host_signal (host, signum);

  for (i = 0; i < n; i++)
    {
      reply = nmt_host_recv (host);
      if (reply == NULL)
        fail_msg ("the host stopped after %d of %d replies", i, n);
      nmt_assert_ok (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, i);
      cJSON_Delete (reply);
    }
  assert_null (nmt_host_recv_frame (host, NULL));
  assert_int_equal (nmt_host_wait (host), 0);
  assert_stored (home, expected->str);
  nmt_remove_tree (home);
}

static void
test_sigterm_in_flight (void **state)
{
  expect_signal_in_flight (SIGTERM);
}

static void
test_sigint_in_flight (void **state)
{
  expect_signal_in_flight (SIGINT);
}

typedef struct {
  NmtHost *host;
  int      sent;  /* requests handed to the pipe, the last burst included */
} Writer;

/* Streams sets in bursts until the pipe breaks, so the signal always
 * lands in the middle of the stream, and the host must stop although its
 * input never runs dry. */
static gpointer
write_requests (gpointer data)
{
  Writer *w = data;
  g_autofree char *filler = g_strnfill (900, 'v');
  gboolean ok = TRUE;

  while (ok)
    {
      g_autoptr(GByteArray) burst = g_byte_array_new ();
      int end = w->sent + 50;

      for (; w->sent < end; w->sent++)
        {
          g_autofree char *json = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k%07d\":\"%s\"}}",
                                                   w->sent, w->sent, filler);
          nmt_frame_append_str (burst, json);
        }
      ok = nmt_host_send_raw (w->host, burst->data, burst->len);
    }
  return NULL;
}

/* SIGTERM while a writer is still streaming: the replies that come are a
 * prefix of the requests, all ok, the host exits 0, and every
 * acknowledged write is stored. */
static void
test_sigterm_during_stream (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(NmtHost) again = NULL;
  Writer w = { 0 };
  GThread *thread;
  cJSON *reply, *items;
  int acked = 0, i;

  w.host = host;
  wait_until_serving (host);
  thread = g_thread_new ("writer", write_requests, &w);
  while ((reply = nmt_host_recv (host)) != NULL)
    {
      nmt_assert_ok (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, acked);
      cJSON_Delete (reply);
      if (++acked == 500)
        nmt_host_signal (host, SIGTERM);
    }
  assert_int_equal (nmt_host_wait (host), 0);
  /* The writer sees the pipe close (EPIPE) and stops. */
  g_thread_join (thread);
  assert_true (acked >= 500);
  assert_true (acked < w.sent);

  again = nmt_host_start (home, NMT_ORIGIN);
  reply = nmt_host_call (again, "{\"op\":\"getKeys\"}");
  nmt_assert_ok (reply);
  items = nmt_member (reply, "keys");
  /* Acknowledged writes are there; nothing unacknowledged is required. */
  assert_true (cJSON_GetArraySize (items) >= acked);
  assert_true (cJSON_GetArraySize (items) <= w.sent);
  for (i = 0; i < acked; i++)
    {
      g_autofree char *key = g_strdup_printf ("k%07d", i);
      assert_string_equal (cJSON_GetArrayItem (items, i)->valuestring, key);
    }
  cJSON_Delete (reply);
  nmt_host_close_input (again);
  assert_int_equal (nmt_host_wait (again), 0);
  nmt_remove_tree (home);
}

/* EOF with a burst still unserved: all of it is committed and answered,
 * then the host exits 0. */
static void
test_eof_in_flight (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  int i;

  for (i = 0; i < 100; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"id\":%d,\"op\":\"set\",\"items\":{\"k\":%d}}", i, i);
      nmt_frame_append_str (burst, json);
    }
  assert_true (nmt_host_send_raw (host, burst->data, burst->len));
  nmt_host_close_input (host);
  for (i = 0; i < 100; i++)
    {
      cJSON *reply = nmt_host_recv (host);
      assert_non_null (reply);
      nmt_assert_ok (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, i);
      cJSON_Delete (reply);
    }
  assert_null (nmt_host_recv_frame (host, NULL));
  assert_int_equal (nmt_host_wait (host), 0);
  /* The last write wins, so the writes ran in order. */
  assert_stored (home, "{\"k\":99}");
  nmt_remove_tree (home);
}

/* A frame cut off by EOF is not run; the complete requests before it are
 * committed and answered; the host exits 1. */
static void
expect_cut_frame (const void *tail, gsize tail_len)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  cJSON *reply;
  int i;

  nmt_frame_append_str (burst, "{\"id\":1,\"op\":\"set\",\"items\":{\"a\":1}}");
  nmt_frame_append_str (burst, "{\"id\":2,\"op\":\"set\",\"items\":{\"b\":2}}");
  g_byte_array_append (burst, tail, (guint) tail_len);
  assert_true (nmt_host_send_raw (host, burst->data, burst->len));
  nmt_host_close_input (host);
  for (i = 1; i <= 2; i++)
    {
      reply = nmt_host_recv (host);
      assert_non_null (reply);
      nmt_assert_ok (reply);
      assert_int_equal (nmt_member (reply, "id")->valueint, i);
      cJSON_Delete (reply);
    }
  assert_null (nmt_host_recv_frame (host, NULL));
  assert_int_equal (nmt_host_wait (host), 1);
  assert_stored (home, "{\"a\":1,\"b\":2}");
  nmt_remove_tree (home);
}

static void
test_eof_cut_frame (void **state)
{
  const char *body = "{\"id\":3,\"op\":\"set\",\"items\":{\"c\":3}}";
  guint32 header = (guint32) strlen (body);
  g_autoptr(GByteArray) tail = g_byte_array_new ();

  /* Inside the body: the whole request but its last byte. */
  g_byte_array_append (tail, (const guint8 *) &header, sizeof header);
  g_byte_array_append (tail, (const guint8 *) body, (guint) strlen (body) - 1);
  expect_cut_frame (tail->data, tail->len);
  /* Inside the header. */
  expect_cut_frame (&header, 2);
}

/* A browser that stops reading: the host's writes fail with EPIPE, which
 * must neither kill it (SIGPIPE) nor lose the committed write. */
static void
test_browser_gone (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);

  wait_until_serving (host);
  assert_true (g_input_stream_close (host->out, NULL, NULL));
  assert_true (nmt_host_send (host, "{\"op\":\"set\",\"items\":{\"written\":true}}"));
  assert_true (nmt_host_send (host, "{\"op\":\"set\",\"items\":{\"also\":true}}"));
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  assert_stored (home, "{\"also\":true,\"written\":true}");
  nmt_remove_tree (home);
}

/* With debug logging, stdout still holds frames and only frames: parsed
 * as frames it is used up exactly, every frame is a JSON object, and the
 * log lines went to stderr. */
static void
test_stdout_only_frames (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autofree char *log_path = g_build_filename (home, "stderr.log", NULL);
  const char *args[] = { "host", "--origin", NMT_ORIGIN, NULL };
  const char *env[] = { "NMSTORE_LOG", "debug", NULL };
  NmtHostOptions options = { .extra_env = env, .stderr_path = log_path };
  g_autoptr(NmtHost) host = NULL;
  g_autoptr(GByteArray) burst = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autofree char *big = g_strnfill (2 * 1024 * 1024, 'b');
  g_autofree char *set_big = g_strdup_printf ("{\"op\":\"set\",\"items\":{\"big\":\"%s\"}}", big);
  g_autofree char *log = NULL;
  static const char *const requests[] = {
    "{\"id\":1,\"op\":\"hello\"}",
    "{\"id\":2,\"op\":\"set\",\"items\":{\"a\":1}}",
    "{\"id\":3,\"op\":\"get\",\"keys\":\"a\"}",
    "not json",
    "{\"id\":5,\"op\":\"noSuchOp\"}",
    "{\"id\":6,\"op\":\"set\",\"items\":{\"\\u0000\":1}}",
    "{\"id\":7,\"op\":\"flush\"}",
    "{\"id\":8,\"op\":\"get\",\"keys\":\"big\"}",
    "{\"id\":9,\"op\":\"getKeys\"}",
  };
  guint8 buf[65536];
  gsize n, at, replies = 0, whole = 0;
  gsize i;

  host = nmt_host_start_full (home, args, &options);
  nmt_frame_append_str (burst, set_big);
  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    nmt_frame_append_str (burst, requests[i]);
  assert_true (nmt_host_send_raw (host, burst->data, burst->len));
  nmt_host_close_input (host);
  while (g_input_stream_read_all (host->out, buf, sizeof buf, &n, NULL, NULL) && n > 0)
    g_byte_array_append (out, buf, (guint) n);
  assert_int_equal (nmt_host_wait (host), 0);

  for (at = 0; at < out->len;)
    {
      guint32 len;
      g_autofree char *body = NULL;
      cJSON *frame;

      assert_true (out->len - at >= sizeof len);
      memcpy (&len, out->data + at, sizeof len);
      at += sizeof len;
      assert_true (len <= NMT_MAX_MESSAGE_BYTES);
      assert_true (out->len - at >= len);
      body = g_strndup ((const char *) out->data + at, len);
      at += len;
      frame = cJSON_Parse (body);
      if (!cJSON_IsObject (frame))
        fail_msg ("stdout holds something that is not a JSON object frame: %.200s", body);
      assert_non_null (cJSON_GetObjectItemCaseSensitive (frame, "id"));
      if (cJSON_GetObjectItemCaseSensitive (frame, "chunks") == NULL)
        whole++;
      else if (cJSON_GetObjectItemCaseSensitive (frame, "chunk")->valueint == 0)
        replies++;
      cJSON_Delete (frame);
    }
  assert_int_equal (at, out->len);
  /* One reply per request: the get of big came as chunks. */
  assert_int_equal (whole + replies, G_N_ELEMENTS (requests) + 1);
  assert_int_equal (replies, 1);

  /* Debug logging really was on, and it went to stderr. */
  assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  assert_non_null (strstr (log, "a key must not contain the character U+0000"));
  nmt_remove_tree (home);
}

/* A host start loads only what serving a port needs: libsecret (and the
 * libgcrypt and libgpg-error it pulls in) is loaded when the desktop
 * keyring is used, so linking it again would slow every start. */
static void
test_start_loads_no_keyring_library (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autofree char *maps_path = NULL;
  g_autofree char *maps = NULL;
  cJSON *r;

  r = nmt_host_call (host, "{\"id\":1,\"op\":\"hello\"}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  r = nmt_host_call (host, "{\"id\":2,\"op\":\"set\",\"items\":{\"a\":1}}");
  nmt_assert_ok (r);
  cJSON_Delete (r);
  maps_path = g_strdup_printf ("/proc/%d/maps", nmt_host_pid (host));
  assert_true (g_file_get_contents (maps_path, &maps, NULL, NULL));
  /* The check can see a library: libsqlite3 is mapped. */
  assert_non_null (strstr (maps, "libsqlite3"));
  if (strstr (maps, "libsecret") != NULL || strstr (maps, "libgcrypt") != NULL)
    fail_msg ("the host mapped the keyring's libraries at start:\n%s", maps);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_start_loads_no_keyring_library),
    cmocka_unit_test (test_restart),
    cmocka_unit_test (test_restart_durability_full),
    cmocka_unit_test (test_sigterm_idle),
    cmocka_unit_test (test_sigint_idle),
    cmocka_unit_test (test_sigterm_in_flight),
    cmocka_unit_test (test_sigint_in_flight),
    cmocka_unit_test (test_sigterm_during_stream),
    cmocka_unit_test (test_eof_in_flight),
    cmocka_unit_test (test_eof_cut_frame),
    cmocka_unit_test (test_browser_gone),
    cmocka_unit_test (test_stdout_only_frames),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
