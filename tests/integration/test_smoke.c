/* SPDX-License-Identifier: MIT */
/* test_smoke.c: the host answers hello over real pipes and ends on EOF. */
#include "harness.h"

static void
test_hello (void **state)
{
  g_autofree char *home = nmt_make_home ();
  g_autoptr(NmtHost) host = nmt_host_start (home, NMT_ORIGIN);
  cJSON *reply = nmt_host_call (host, "{\"id\":1,\"op\":\"hello\"}");

  nmt_assert_ok (reply);
  assert_string_equal (cJSON_GetObjectItem (reply, "name")->valuestring, "org.nmstore.host");
  cJSON_Delete (reply);
  nmt_host_close_input (host);
  assert_int_equal (nmt_host_wait (host), 0);
  nmt_remove_tree (home);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_hello),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
