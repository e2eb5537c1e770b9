/* test_set_text.c: a value comes back as cJSON prints it, whether the
 * host stored the request's own text (it was already in that form) or
 * printed the value again. Each case compares the reply byte for byte with
 * cJSON's printing of the value sent. */
#include "harness.h"

#include <string.h>

static const char *const values[] = {
  /* Canonical: stored from the request text. */
  "1", "-1", "0", "123456789012345", "-123456789012345", "true", "false", "null",
  "\"\"", "\"plain\"", "\"caf\xC3\xA9\"", "\"q\\\"b\\\\n\\nt\\tr\\rb\\bf\\f\"", "\"\\u001f\\u0001\"",
  "\"0123456789abcdef01234\\\"6789abcdef0123456789\\u001fabcdef0123\\\\456789abcdef\"",
  "\"0123456\\n89abcdef0123456789abcdef0123456789abcdef0123456789ab\\u00e9cdef\"",
  "[]", "{}", "[1,[2,[3]],{\"a\":{\"b\":[]}}]", "{\"a\":1,\"a\":2}",
  "{\"userState\":\"active\",\"bitfield\":\"ff00\",\"uploaded\":1,\"downloaded\":1763700000000}",
  /* Not canonical: printed again, and must come back printed. */
  "1.0", "1.5", "1e2", "-0", "1234567890123456", "12345678901234567890", "0.1", "1E400",
  "\"\\u00e9\"", "\"\\/\"", "\"\\u001F\"", "\"\\u000a\"", "\"\\u0008\"", "\"\\ud83d\\ude00\"",
  "[ 1, 2 ]", "{ \"a\" : 1 }", "{\"a\":[1 ,2]}", "\"a\\u0062c\"", "[1.25,{\"x\":-0.0}]",
};

static char *
recv_text (NmtHost *host)
{
  gsize len;
  char *frame = nmt_host_recv_frame (host, &len);

  assert_non_null (frame);
  return frame;
}

static void
test_values_come_back_as_printed (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (values); i++)
    {
      cJSON *parsed = cJSON_Parse (values[i]);
      char *printed;
      g_autofree char *set = g_strdup_printf ("{\"id\":1,\"op\":\"set\",\"items\":{\"x\":0,\"k\":%s,\"z\":%s}}",
                                              values[i], values[i]);
      g_autofree char *want = NULL;
      g_autofree char *reply = NULL;

      assert_non_null (parsed);
      printed = cJSON_PrintUnformatted (parsed);
      want = g_strdup_printf ("{\"id\":2,\"ok\":true,\"items\":{\"k\":%s,\"z\":%s}}", printed, printed);
      cJSON_free (printed);
      cJSON_Delete (parsed);

      assert_true (nmt_host_send (host, set));
      reply = recv_text (host);
      assert_string_equal (reply, "{\"id\":1,\"ok\":true}");
      g_free (g_steal_pointer (&reply));
      assert_true (nmt_host_send (host, "{\"id\":2,\"op\":\"get\",\"keys\":[\"k\",\"z\"]}"));
      reply = recv_text (host);
      if (strcmp (reply, want) != 0)
        fail_msg ("value %s came back as %s, not %s", values[i], reply, want);
    }
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

/* Whitespace around the request's members does not change the values. */
static void
test_spaced_request (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  g_autofree char *reply = NULL;

  assert_true (nmt_host_send (host, " { \"id\" : 1 , \"op\" : \"set\" , \"items\" : { \"a\" : [1,2] , \"b\" : 3 } } "));
  reply = recv_text (host);
  assert_string_equal (reply, "{\"id\":1,\"ok\":true}");
  g_free (g_steal_pointer (&reply));
  assert_true (nmt_host_send (host, "{\"id\":2,\"op\":\"get\",\"keys\":[\"a\",\"b\"]}"));
  reply = recv_text (host);
  assert_string_equal (reply, "{\"id\":2,\"ok\":true,\"items\":{\"a\":[1,2],\"b\":3}}");
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_values_come_back_as_printed),
    cmocka_unit_test (test_spaced_request),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
