/* SPDX-License-Identifier: MIT */
/* test_proto_secrets.c: an unlock's passphrase does not outlive its
 * request in this process's memory, whatever becomes of the request
 * (refused for a duplicate member or an id that is an array, or run), and
 * core dumps are off from the moment such a request arrives, before any
 * key is loaded. The memory is searched the way a core file would be:
 * every writable anonymous mapping and the heap, freed chunks included. */
#define _GNU_SOURCE
#include "harness.h"

#include "config/config.h"
#include "crypto/crypto.h"
#include "base/origin.h"
#include "proto/proto.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* The middle of the passphrase is searched for: malloc writes its own
 * pointers over the first bytes of a freed chunk. */
#define PASSPHRASE "unlock-secret-" "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a" "-end"
#define NEEDLE "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"

typedef struct {
  char      *home;
  NmsConfig *config;
  NmsOrigin *origin;
  NmsProto  *proto;
  GPtrArray *replies;
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;

  assert_true (nms_crypto_init (NULL));
  f->home = nmt_make_home ();
  f->config = nms_config_load (f->home, &error);
  assert_non_null (f->config);
  f->origin = nms_origin_parse (NMT_ORIGIN, &error);
  assert_non_null (f->origin);
  f->proto = nms_proto_new (f->config, f->origin);
  f->replies = g_ptr_array_new_with_free_func (g_free);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  nms_proto_free (f->proto);
  nms_origin_free (f->origin);
  nms_config_free (f->config);
  g_ptr_array_unref (f->replies);
  nmt_remove_tree (f->home);
  g_free (f->home);
  g_free (f);
  return 0;
}

static void
emit (const char *id_json, const char *json, gsize len, gpointer user_data)
{
  g_ptr_array_add (user_data, g_strndup (json, len));
}

/* Whether needle is anywhere in the heap or a writable anonymous mapping.
 * ASan poisons freed memory and owns mappings of its own, so a scan there
 * would trip it rather than find anything: the scan tests are skipped in
 * the sanitizer stage, and run in every ordinary build. */
static gboolean
memory_holds (const char *needle)
{
#if defined(__SANITIZE_ADDRESS__)
  print_message ("heap scan skipped: this build runs under AddressSanitizer\n");
  skip ();
#endif
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;
  gsize n = strlen (needle);
  gboolean found = FALSE;
  guint i;

  assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (i = 0; lines[i] != NULL && !found; i++)
    {
      unsigned long start, end;
      char perms[8] = "", path[512] = "";

      if (sscanf (lines[i], "%lx-%lx %7s %*s %*s %*s %511s", &start, &end, perms, path) < 3)
        continue;
      if (perms[0] != 'r' || perms[1] != 'w' || (path[0] != '\0' && strcmp (path, "[heap]") != 0))
        continue;
      found = memmem ((const void *) start, end - start, needle, n) != NULL;
    }
  return found;
}

/* Hands one frame to the protocol, from a buffer of its own as the
 * reader's would be, and returns the reply. */
static const char *
send_frame (Fixture *f, const char *text)
{
  gsize len = strlen (text);
  NmsProtoInput input = { g_malloc (len), len };

  memcpy (input.data, text, len);
  nms_proto_handle_batch (f->proto, &input, 1, emit, f->replies);
  g_free (input.data);
  assert_true (f->replies->len > 0);
  return g_ptr_array_index (f->replies, f->replies->len - 1);
}

/* Core dumps go off at an unlock that fails to parse: no key was loaded,
 * so nothing else had turned them off. */
static void
test_core_dumps_off_for_a_malformed_unlock (void **state)
{
  Fixture *f = *state;
  struct rlimit core;

  assert_int_equal (getrlimit (RLIMIT_CORE, &core), 0);
  core.rlim_cur = core.rlim_max == RLIM_INFINITY || core.rlim_max > 4096 ? 4096 : core.rlim_max;
  assert_int_equal (setrlimit (RLIMIT_CORE, &core), 0);
  assert_int_equal (prctl (PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
  if (core.rlim_cur == 0)
    skip ();

  assert_non_null (strstr (send_frame (f, "{\"op\":\"unlock\",\"passphrase\":\"" PASSPHRASE "\",\"op\":\"unlock\"}"),
                           "E_REQUEST"));
  assert_int_equal (prctl (PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  assert_int_equal (getrlimit (RLIMIT_CORE, &core), 0);
  assert_int_equal (core.rlim_cur, 0);
}

static void
test_passphrase_of_duplicate_member_wiped (void **state)
{
  Fixture *f = *state;

  assert_false (memory_holds (NEEDLE));
  assert_non_null (strstr (send_frame (f, "{\"op\":\"unlock\",\"passphrase\":\"" PASSPHRASE "\",\"passphrase\":\""
                                          PASSPHRASE "\"}"), "twice"));
  assert_false (memory_holds (NEEDLE));
}

static void
test_passphrase_of_array_id_wiped (void **state)
{
  Fixture *f = *state;

  assert_non_null (strstr (send_frame (f, "{\"id\":[1,2],\"op\":\"unlock\",\"passphrase\":\"" PASSPHRASE "\"}"),
                           "\\\"id\\\" must be"));
  assert_false (memory_holds (NEEDLE));
  /* Nested duplicates are found after the id. */
  assert_non_null (strstr (send_frame (f, "{\"id\":1,\"op\":\"unlock\",\"passphrase\":\"" PASSPHRASE "\","
                                          "\"x\":{\"a\":1,\"a\":2}}"), "twice"));
  assert_false (memory_holds (NEEDLE));
}

/* Parsed and run: the op wipes its copy; the other strings go too. */
static void
test_passphrase_of_run_unlock_wiped (void **state)
{
  Fixture *f = *state;

  /* The origin is not encrypted: refused after parsing, by the op. */
  assert_non_null (strstr (send_frame (f, "{\"id\":7,\"op\":\"unlock\",\"passphrase\":\"" PASSPHRASE "\"}"),
                           "E_REQUEST"));
  assert_false (memory_holds (NEEDLE));
  /* Names spelt with escapes are known only once parsed. */
  assert_non_null (strstr (send_frame (f, "{\"op\":\"\\u0075nlock\",\"p\\u0061ssphrase\":\"" PASSPHRASE "\"}"),
                           "E_REQUEST"));
  assert_false (memory_holds (NEEDLE));
}

/* Inside a batch: the batch's frame is searched for a secret's words, and
 * a malformed unlock in it, or one refused there, is wiped with it as one
 * sent alone would be. (Its requests are searched again only when the
 * frame holds the words: they are slices of it.) */
static void
test_passphrase_inside_batch_wiped (void **state)
{
  Fixture *f = *state;

  assert_false (memory_holds (NEEDLE));
  assert_non_null (strstr (send_frame (f, "{\"id\":1,\"op\":\"batch\",\"requests\":[{\"id\":2,\"op\":\"set\",\"items\":{\"a\":1}},"
                                          "{\"id\":3,\"op\":\"unlock\",\"passphrase\":\"" PASSPHRASE "\",\"passphrase\":\""
                                          PASSPHRASE "\"}]}"), "twice"));
  assert_false (memory_holds (NEEDLE));
  assert_non_null (strstr (send_frame (f, "{\"id\":4,\"op\":\"batch\",\"requests\":[{\"id\":5,\"op\":\"unlock\",\"passphrase\":\""
                                          PASSPHRASE "\"}]}"), "cannot be sent inside a batch"));
  assert_false (memory_holds (NEEDLE));
}

/* Whether the protocol left the frame (len bytes, wiped after) holding
 * the passphrase, checked while it is still in its buffer, as a frame
 * stays in the reader's until later ones reuse it: once freed, its chunk
 * may be reused before the scan and hide a frame that was never wiped. */
static gboolean
frame_kept_secret (Fixture *f, char *frame, gsize len)
{
  NmsProtoInput input = { (guint8 *) frame, len };
  gboolean kept;

  nms_proto_handle_batch (f->proto, &input, 1, emit, f->replies);
  kept = memory_holds (NEEDLE);
  sodium_memzero (frame, len);
  return kept;
}

/* The words are found wherever they are in the frame: after a raw NUL
 * (the frame is refused before it is parsed, and wiped all the same), and
 * after a long base64 value, whose many "u" and "p" begin no word. */
static void
test_passphrase_after_nul_and_base64_wiped (void **state)
{
  Fixture *f = *state;
  static const char with_nul[] = "{\"x\":\"\0\",\"op\":\"unlock\",\"passphrase\":\"" PASSPHRASE "\"}";
  /* Sized once, so that growing it leaves no copy behind. */
  g_autoptr(GString) frame = g_string_sized_new (16384);
  guint8 raw[6000];

  assert_false (memory_holds (NEEDLE));
  {
    g_autofree char *copy = g_memdup2 (with_nul, sizeof with_nul - 1);
    assert_false (frame_kept_secret (f, copy, sizeof with_nul - 1));
  }

  g_string_append (frame, "{\"id\":1,\"op\":\"batch\",\"requests\":[{\"op\":\"set\",\"items\":{\"k\":{\"$bytes\":\"");
  for (gsize i = 0; i < sizeof raw; i++)
    raw[i] = (guint8) (i * 7919u >> 3);
  {
    g_autofree char *b64 = g_base64_encode (raw, sizeof raw);
    g_string_append (frame, b64);
  }
  g_string_append (frame, "\"}}},{\"op\":\"unlock\",\"passphrase\":\"" PASSPHRASE "\"}]}");
  assert_false (frame_kept_secret (f, frame->str, frame->len));
  assert_non_null (strstr (g_ptr_array_index (f->replies, f->replies->len - 1), "cannot be sent inside a batch"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_core_dumps_off_for_a_malformed_unlock, setup, teardown),
    cmocka_unit_test_setup_teardown (test_passphrase_of_duplicate_member_wiped, setup, teardown),
    cmocka_unit_test_setup_teardown (test_passphrase_of_array_id_wiped, setup, teardown),
    cmocka_unit_test_setup_teardown (test_passphrase_of_run_unlock_wiped, setup, teardown),
    cmocka_unit_test_setup_teardown (test_passphrase_inside_batch_wiped, setup, teardown),
    cmocka_unit_test_setup_teardown (test_passphrase_after_nul_and_base64_wiped, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
