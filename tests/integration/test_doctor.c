/* SPDX-License-Identifier: MIT */
/* test_doctor.c: `nmstore doctor` on a healthy set-up and on each way an
 * installation breaks, checking that it names the right check and the
 * right fix, and exits non-zero. */
#include "harness.h"
#include "doctor-fixture.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>


/* Rewrites one member of the Chromium manifest. */
static void
edit_manifest (Fixture *f, const char *member, cJSON *value)
{
  g_autofree char *text = NULL;
  char *out;
  cJSON *json;

  assert_true (g_file_get_contents (f->manifest, &text, NULL, NULL));
  json = cJSON_Parse (text);
  cJSON_ReplaceItemInObjectCaseSensitive (json, member, value);
  out = cJSON_Print (json);
  assert_true (g_file_set_contents (f->manifest, out, -1, NULL));
  cJSON_free (out);
  cJSON_Delete (json);
}

static char *
write_script (Fixture *f, const char *name, const char *body, int mode)
{
  char *path = g_build_filename (f->place.top, name, NULL);

  assert_true (g_file_set_contents (path, body, -1, NULL));
  assert_int_equal (g_chmod (path, mode), 0);
  return path;
}

static void
test_healthy (void **state)
{
  Fixture *f = *state;
  cJSON *report;
  const cJSON *c;

  install (f, "chromium,firefox");
  report = doctor (f, "chromium,firefox", 0);
  assert_check (report, "chromium", "hello", "ok", NULL, "answered hello: org.nmstore.host");
  assert_check (report, "firefox", "hello", "ok", NULL, "firefox-nmstore@nmstore.org");
  assert_check (report, NULL, "disk-space", "ok", NULL, "free");
  /* The stores the launches created are checked too. */
  assert_check (report, NULL, "store", "ok", NULL, "integrity");
  cJSON_ArrayForEach (c, cJSON_GetObjectItem (report, "checks"))
    assert_true (cJSON_IsNull (cJSON_GetObjectItem (c, "fix")));
  cJSON_Delete (report);
}

static void
test_wrong_path (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString ("/opt/gone/nmstore"));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "path", "fail", "nmstore install --browser chromium", "does not exist");
  assert_check (report, "chromium", "hello", "skip", NULL, NULL);
  cJSON_Delete (report);
}

static void
test_relative_path (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString ("bin/nmstore"));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "path", "fail", "nmstore install --browser chromium", "not an absolute path");
  cJSON_Delete (report);
}

static void
test_not_executable (void **state)
{
  Fixture *f = *state;
  g_autofree char *copy = write_script (f, "nmstore-copy", "#!/bin/sh\n", 0644);
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString (copy));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "path", "fail", "chmod 755", "not an executable file");
  cJSON_Delete (report);
}

static void
test_missing_id (void **state)
{
  Fixture *f = *state;
  const char *ids[] = { "chrome-extension://" OTHER_ID "/" };
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "allowed_origins", cJSON_CreateStringArray (ids, 1));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "allowed", "fail", "nmstore install --browser chromium", "companion extension");
  /* The host itself is fine, as the other extension would find. */
  assert_check (report, "chromium", "hello", "ok", NULL, NULL);
  cJSON_Delete (report);
}

static void
test_name_mismatch (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "name", cJSON_CreateString ("org.nmstore.other"));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "name", "fail", "nmstore install --browser chromium", "org.nmstore.other");
  cJSON_Delete (report);
}

static void
test_invalid_json (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  assert_true (g_file_set_contents (f->manifest, "{\"name\": \"org.nmstore.host\",", -1, NULL));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "json", "fail", "nmstore install --browser chromium", "not a valid JSON");
  cJSON_Delete (report);
}

static void
test_data_root_not_writable (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  g_mkdir (f->place.data, 0500);
  g_chmod (f->place.data, 0500);
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "chmod 700", "not writable");
  cJSON_Delete (report);
}

/* The host refuses a data root looser than 0700 (issue 14), so the
 * doctor fails it rather than warning. */
static void
test_data_root_loose (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  g_mkdir (f->place.data, 0755);
  g_chmod (f->place.data, 0755);
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "chmod 700", "refuses");
  cJSON_Delete (report);
}

static void
test_stdout_before_frames (void **state)
{
  Fixture *f = *state;
  g_autofree char *body = g_strdup_printf ("#!/bin/sh\necho \"starting nmstore\"\nexec '%s' \"$@\"\n", NMT_NMSTORE_BIN);
  g_autofree char *wrapper = write_script (f, "noisy-host", body, 0755);
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString (wrapper));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "path", "ok", NULL, NULL);
  assert_check (report, "chromium", "hello", "fail", "stdout must carry frames only", "starting nmstore");
  cJSON_Delete (report);
}

static void
test_crash_on_start (void **state)
{
  Fixture *f = *state;
  g_autofree char *wrapper = write_script (f, "crashing-host",
                                           "#!/bin/sh\necho 'libcjson.so.1: cannot open shared object' >&2\n"
                                           "kill -SEGV $$\n", 0755);
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString (wrapper));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "hello", "fail", "--version", "killed by signal 11");
  assert_check (report, "chromium", "hello", "fail", NULL, "libcjson.so.1");
  cJSON_Delete (report);
}

/* The browser is there (its config folder) but nmstore was never
 * installed for it. */
static void
test_detected_without_manifest (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = g_build_filename (f->place.home, ".config", "google-chrome", NULL);
  cJSON *report;

  g_mkdir_with_parents (config, 0700);
  report = doctor (f, "detected", 1);
  assert_check (report, "chrome", "manifest", "fail", "nmstore install --browser chrome", "Google Chrome is here");
  assert_check (report, "edge", "manifest", "skip", NULL, "not installed");
  cJSON_Delete (report);
}

static void
test_corrupt_store (void **state)
{
  Fixture *f = *state;
  g_autofree char *dir = g_build_filename (f->place.data, "chromium-" OTHER_ID, NULL);
  g_autofree char *db = g_build_filename (dir, "store.db", NULL);
  g_autofree char *junk = g_strnfill (8192, 'x');
  cJSON *report;

  install (f, "chromium");
  g_mkdir_with_parents (dir, 0700);
  assert_true (g_file_set_contents (db, junk, -1, NULL));
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "store", "fail", ".recover", NULL);
  cJSON_Delete (report);
}

/* The text form: one line per check, each failure with its fix. */
static void
test_text_report (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "doctor", "--browser", "chromium", NULL };
  g_auto(GStrv) lines = NULL;
  guint i, failures = 0;

  install (f, "chromium");
  edit_manifest (f, "path", cJSON_CreateString ("/opt/gone/nmstore"));
  assert_int_equal (nmt_run_cli (f->place.data, args, NULL, &out, &err), 1);
  lines = g_strsplit (out, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "FAIL"))
      {
        failures++;
        assert_non_null (strstr (lines[i], " -> fix: "));
      }
  assert_int_equal (failures, 1);
  assert_non_null (strstr (out, "1 check failed"));
}

/* The "forbidden" case: the manifest is fine but does not allow the
 * extension asked about; the fix adds it. */
static void
test_forbidden_extension_id (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  report = doctor_args (f, (const char *const[]) { "--browser", "chromium", "--extension-id", OTHER_ID, NULL }, 1);
  assert_check (report, "chromium", "allowed-id", "fail", "nmstore install --browser chromium --extension-id " OTHER_ID,
                "is forbidden");
  assert_check (report, "chromium", "allowed", "ok", NULL, "companion extension is allowed");
  cJSON_Delete (report);

  /* The fix works: after it the same question passes. */
  run_ok (f, (const char *const[]) { "install", "--browser", "chromium", "--extension-id", OTHER_ID, NULL });
  report = doctor_args (f, (const char *const[]) { "--browser", "chromium", "--extension-id", OTHER_ID, NULL }, 0);
  assert_check (report, "chromium", "allowed-id", "ok", NULL, OTHER_ID " is allowed");
  cJSON_Delete (report);
}

static void
test_forbidden_firefox_id (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "firefox");
  report = doctor_args (f, (const char *const[]) { "--browser", "firefox", "--firefox-id", "tool@example.org", NULL }, 1);
  assert_check (report, "firefox", "allowed-id", "fail", "nmstore install --browser firefox --firefox-id tool@example.org",
                "is forbidden");
  cJSON_Delete (report);
}

/* Every registered extension is checked without being named; a drop-in
 * added after install is forbidden until install runs again. */
static void
test_registered_extension_checked (void **state)
{
  Fixture *f = *state;
  cJSON *report;

  install (f, "chromium");
  run_ok (f, (const char *const[]) { "extensions", "add", "tool", "--extension-id", OTHER_ID, NULL });
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "extension", "ok", NULL, "tool.conf registers " OTHER_ID);
  assert_check (report, "chromium", "allowed-id", "fail", "nmstore install --browser chromium (it allows every registered id)",
                "/extensions.d/tool.conf)");
  cJSON_Delete (report);

  install (f, "chromium");
  report = doctor (f, "chromium", 0);
  assert_check (report, "chromium", "allowed-id", "ok", NULL, OTHER_ID " is allowed");
  cJSON_Delete (report);
}

/* A drop-in the install refuses is a failure with its fix. */
static void
test_refused_dropin (void **state)
{
  Fixture *f = *state;
  g_autofree char *dir = g_build_filename (f->place.home, ".config", "nmstore", "extensions.d", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.conf", NULL);
  cJSON *report;

  g_mkdir_with_parents (dir, 0700);
  assert_true (g_file_set_contents (bad, "[extension]\nchromium-ids=xyz;\n", -1, NULL));
  install_status (f, "chromium", 1);
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "extension", "fail", "nmstore extensions rm bad", "line 2, chromium-ids");
  cJSON_Delete (report);
}

/* The remaining cases, each with its fix: a wrong "type", a manifest
 * that cannot be read, a data root that is a link, a file or someone
 * else's, and an nmstore.conf that is not a key file. */
static void
test_other_cases (void **state)
{
  Fixture *f = *state;
  g_autofree char *elsewhere = g_build_filename (f->place.top, "elsewhere", NULL);
  g_autofree char *conf = g_build_filename (f->place.data, "nmstore.conf", NULL);
  cJSON *report;

  install (f, "chromium");
  edit_manifest (f, "type", cJSON_CreateString ("socket"));
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "type", "fail", "nmstore install --browser chromium", "must be \"stdio\"");
  cJSON_Delete (report);

  /* A folder where the manifest should be: the browser cannot read it. */
  assert_int_equal (g_unlink (f->manifest), 0);
  assert_int_equal (g_mkdir (f->manifest, 0755), 0);
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "manifest", "fail", "nmstore install --browser chromium", NULL);
  cJSON_Delete (report);
  assert_int_equal (g_rmdir (f->manifest), 0);
  install (f, "chromium");

  /* The doctor's hello created the data root; start each case afresh. */
  nmt_remove_tree (f->place.data);
  g_mkdir (elsewhere, 0700);
  {
    g_autoptr(GFile) link = g_file_new_for_path (f->place.data);
    assert_true (g_file_make_symbolic_link (link, elsewhere, NULL, NULL));
  }
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "replace the link", "symbolic link");
  cJSON_Delete (report);
  assert_int_equal (g_unlink (f->place.data), 0);

  assert_true (g_file_set_contents (f->place.data, "", 0, NULL));
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "out of the way", "is not a folder");
  cJSON_Delete (report);
  assert_int_equal (g_unlink (f->place.data), 0);

  g_mkdir (f->place.data, 0700);
  assert_true (g_file_set_contents (conf, "this is not a key file\n", -1, NULL));
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "config", "fail", "edit or remove", "nmstore.conf");
  cJSON_Delete (report);
  assert_int_equal (g_unlink (conf), 0);
  nmt_remove_tree (f->place.data);
  g_mkdir (f->place.data, 0700);

  if (geteuid () != 0)
    {
      print_message ("not root: the foreign data root case is skipped\n");
      return;
    }
  assert_int_equal (chown (f->place.data, 65534, 65534), 0);
  report = doctor (f, "chromium", 1);
  assert_check (report, NULL, "data-root", "fail", "chown", "belongs to uid 65534");
  cJSON_Delete (report);
  assert_int_equal (chown (f->place.data, 0, 0), 0);
}

/* A system manifest answers for the system's drop-ins only, as install
 * writes it: a user's registration is checked in the user's manifest. */
static void
test_registered_scopes (void **state)
{
  Fixture *f = *state;
  g_autofree char *out = NULL, *err = NULL;
  const char *system_install[] = { "install", "--system", "--browser", "chromium", NULL };
  cJSON *report;

  run_ok (f, (const char *const[]) { "extensions", "add", "mine", "--extension-id", OTHER_ID, NULL });
  assert_int_equal (nmt_run_cli (f->place.data, system_install, NULL, &out, &err), 0);
  assert_null (strstr (out, OTHER_ID));
  /* With no manifest of the user's own, the browser reads the system's,
   * which does not allow the user's registration. */
  report = doctor (f, "chromium", 1);
  assert_check (report, "chromium", "allowed-id", "fail", "run: nmstore install --browser chromium (it allows",
                "/extensions.d/mine.conf)");
  cJSON_Delete (report);
  install (f, "chromium");
  report = doctor (f, "chromium", 0);
  assert_check (report, "chromium", "allowed-id", "ok", NULL, OTHER_ID " is allowed");
  cJSON_Delete (report);

  /* A system registration: both manifests must allow it, each fixed by
   * the install of its own scope. */
  run_ok (f, (const char *const[]) { "extensions", "add", "--system", "shared", "--extension-id", ID_SHARED, NULL });
  {
    g_autofree char *text = NULL, *text_err = NULL;
    const char *args[] = { "doctor", "--browser", "chromium", NULL };

    assert_int_equal (nmt_run_cli (f->place.data, args, NULL, &text, &text_err), 1);
    assert_non_null (strstr (text, "FAIL chromium/user    allowed-id " ID_SHARED " is not allowed"));
    assert_non_null (strstr (text, "FAIL chromium/system  allowed-id " ID_SHARED " is not allowed"));
    assert_non_null (strstr (text, "fix: run: sudo nmstore install --system --browser chromium (it allows every "
                                   "registered id)"));
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_healthy, setup, teardown),
    cmocka_unit_test_setup_teardown (test_wrong_path, setup, teardown),
    cmocka_unit_test_setup_teardown (test_relative_path, setup, teardown),
    cmocka_unit_test_setup_teardown (test_not_executable, setup, teardown),
    cmocka_unit_test_setup_teardown (test_missing_id, setup, teardown),
    cmocka_unit_test_setup_teardown (test_name_mismatch, setup, teardown),
    cmocka_unit_test_setup_teardown (test_invalid_json, setup, teardown),
    cmocka_unit_test_setup_teardown (test_data_root_not_writable, setup, teardown),
    cmocka_unit_test_setup_teardown (test_data_root_loose, setup, teardown),
    cmocka_unit_test_setup_teardown (test_stdout_before_frames, setup, teardown),
    cmocka_unit_test_setup_teardown (test_crash_on_start, setup, teardown),
    cmocka_unit_test_setup_teardown (test_detected_without_manifest, setup, teardown),
    cmocka_unit_test_setup_teardown (test_corrupt_store, setup, teardown),
    cmocka_unit_test_setup_teardown (test_text_report, setup, teardown),
    cmocka_unit_test_setup_teardown (test_forbidden_extension_id, setup, teardown),
    cmocka_unit_test_setup_teardown (test_forbidden_firefox_id, setup, teardown),
    cmocka_unit_test_setup_teardown (test_registered_extension_checked, setup, teardown),
    cmocka_unit_test_setup_teardown (test_refused_dropin, setup, teardown),
    cmocka_unit_test_setup_teardown (test_other_cases, setup, teardown),
    cmocka_unit_test_setup_teardown (test_registered_scopes, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
