/* SPDX-License-Identifier: MIT */
/* doctor-fixture.h: what the doctor's test suites (test_doctor.c,
 * test_doctor_sandbox.c) share: a private HOME, system root and data
 * root, running install and the doctor, and finding one check in the
 * doctor's JSON report. Static functions, included once per suite. */
#pragma once

#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>

#define OTHER_ID "abcdefghijklmnopabcdefghijklmnop"
#define ID_SHARED "ponmlkjihgfedcbaponmlkjihgfedcba"

typedef struct {
  NmtPrivateHome place;
  char *manifest;  /* Chromium's user manifest */
} Fixture;

G_GNUC_UNUSED static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);

  nmt_private_home_make (&f->place);
  f->manifest = g_build_filename (f->place.home, ".config", "chromium", "NativeMessagingHosts",
                                  "org.nmstore.host.json", NULL);
  *state = f;
  return 0;
}

G_GNUC_UNUSED static int
teardown (void **state)
{
  Fixture *f = *state;

  g_chmod (f->place.data, 0700);
  nmt_private_home_clear (&f->place);
  g_free (f->manifest);
  g_free (f);
  return 0;
}

G_GNUC_UNUSED static void
install_status (Fixture *f, const char *browser, int status)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "install", "--browser", browser, NULL };

  assert_int_equal (nmt_run_cli (f->place.data, args, NULL, &out, &err), status);
}

G_GNUC_UNUSED static void
install (Fixture *f, const char *browser)
{
  install_status (f, browser, 0);
}

/* Runs the doctor for `browser` and returns its JSON report. */
G_GNUC_UNUSED static cJSON *
doctor (Fixture *f, const char *browser, int expect_status)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "doctor", "--json", "--browser", browser, NULL };
  int status = nmt_run_cli (f->place.data, args, NULL, &out, &err);
  cJSON *report = cJSON_Parse (out);

  if (status != expect_status || report == NULL)
    fail_msg ("doctor exited %d (expected %d):\n%s%s", status, expect_status, out, err);
  assert_true (cJSON_IsBool (cJSON_GetObjectItem (report, "ok")));
  assert_int_equal (cJSON_IsTrue (cJSON_GetObjectItem (report, "ok")), expect_status == 0);
  return report;
}

/* The one check named (browser may be NULL for the global ones); fails
 * the test unless its status is `status` and its fix mentions `fix`. */
G_GNUC_UNUSED static const cJSON *
assert_check (const cJSON *report, const char *browser, const char *check, const char *status, const char *fix,
              const char *detail)
{
  const cJSON *c;
  g_autofree char *text = cJSON_Print (report);

  cJSON_ArrayForEach (c, cJSON_GetObjectItem (report, "checks"))
    {
      const cJSON *b = cJSON_GetObjectItem (c, "browser");
      const cJSON *f = cJSON_GetObjectItem (c, "fix");
      const cJSON *d = cJSON_GetObjectItem (c, "detail");

      if (!g_str_equal (cJSON_GetObjectItem (c, "check")->valuestring, check)
          || (browser == NULL) != cJSON_IsNull (b) || (browser != NULL && !g_str_equal (b->valuestring, browser)))
        continue;
      if (!g_str_equal (cJSON_GetObjectItem (c, "status")->valuestring, status))
        continue;
      if (fix != NULL && (!cJSON_IsString (f) || strstr (f->valuestring, fix) == NULL))
        fail_msg ("check %s: fix \"%s\" does not mention \"%s\"", check,
                  cJSON_IsString (f) ? f->valuestring : "(none)", fix);
      if (!cJSON_IsString (f) && g_str_equal (status, "fail"))
        fail_msg ("check %s failed without a fix:\n%s", check, text);
      if (detail != NULL && strstr (d->valuestring, detail) == NULL)
        fail_msg ("check %s: detail \"%s\" does not mention \"%s\"", check, d->valuestring, detail);
      return c;
    }
  fail_msg ("no %s check \"%s\" with status %s in:\n%s", browser ? browser : "global", check, status, text);
  return NULL;
}

/* Runs the doctor with extra arguments and returns its JSON report. */
G_GNUC_UNUSED static cJSON *
doctor_args (Fixture *f, const char *const *extra, int expect_status)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  cJSON *report;
  int status;

  g_ptr_array_add (args, "doctor");
  g_ptr_array_add (args, "--json");
  for (; *extra != NULL; extra++)
    g_ptr_array_add (args, (gpointer) *extra);
  g_ptr_array_add (args, NULL);
  status = nmt_run_cli (f->place.data, (const char *const *) args->pdata, NULL, &out, &err);
  report = cJSON_Parse (out);
  if (status != expect_status || report == NULL)
    fail_msg ("doctor exited %d (expected %d):\n%s%s", status, expect_status, out, err);
  return report;
}

G_GNUC_UNUSED static void
run_ok (Fixture *f, const char *const *args)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = nmt_run_cli (f->place.data, args, NULL, &out, &err);

  if (status != 0)
    fail_msg ("%s exited %d:\n%s%s", args[0], status, out, err);
}

