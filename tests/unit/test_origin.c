/* SPDX-License-Identifier: MIT */
/* test_origin.c: the origin module (origin.h): which caller identities are
 * well formed, how a browser's argv names one, and the store directory name
 * derived from it, which must never be able to leave the data root. */
#include "harness.h"

#include "base/error.h"
#include "base/origin.h"

#include <string.h>

#define CHROME_ID "abcdefghijklmnopabcdefghijklmnop"

static void
assert_dirname_safe (const NmsOrigin *origin)
{
  assert_non_null (origin->dirname);
  assert_true (strlen (origin->dirname) > 0);
  assert_null (strchr (origin->dirname, '/'));
  assert_null (strchr (origin->dirname, '\\'));
  assert_true (origin->dirname[0] != '.');
  assert_true (g_str_has_prefix (origin->dirname, origin->kind == NMS_ORIGIN_CHROMIUM ? "chromium-" : "firefox-"));
}

static void
assert_rejected (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = nms_origin_parse (text, &error);

  if (origin != NULL)
    fail_msg ("origin \"%s\" was accepted", text ? text : "(null)");
  assert_non_null (error);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_ORIGIN));
  assert_true (strlen (error->message) > 0);
}

static void
test_chrome_with_and_without_slash (void **state)
{
  const char *forms[] = { "chrome-extension://" CHROME_ID "/", "chrome-extension://" CHROME_ID };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NmsOrigin) origin = nms_origin_parse (forms[i], &error);

      assert_null (error);
      assert_non_null (origin);
      assert_int_equal (origin->kind, NMS_ORIGIN_CHROMIUM);
      assert_string_equal (origin->id, CHROME_ID);
      assert_string_equal (origin->canonical, "chrome-extension://" CHROME_ID "/");
      assert_string_equal (origin->dirname, "chromium-" CHROME_ID);
      assert_dirname_safe (origin);
    }
}

static void
test_chrome_every_letter (void **state)
{
  const char *ids[] = { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "pppppppppppppppppppppppppppppppp",
                        "ponmlkjihgfedcbaponmlkjihgfedcba", "hfjlljhbgdcnhkaehjemmbcjndfgaeea" };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *text = g_strconcat ("chrome-extension://", ids[i], "/", NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(NmsOrigin) origin = nms_origin_parse (text, &error);

      assert_null (error);
      assert_non_null (origin);
      assert_string_equal (origin->id, ids[i]);
      assert_true (nms_origin_is_chromium_id (ids[i]));
      assert_dirname_safe (origin);
    }
}

/* A bare id, as chrome://extensions shows it, names the same origin and
 * the same store as the full origin; a malformed bare id is refused. */
static void
test_chrome_bare_id (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) bare = nms_origin_parse (CHROME_ID, &error);
  g_autoptr(NmsOrigin) full = nms_origin_parse ("chrome-extension://" CHROME_ID "/", NULL);
  g_autofree char *id31 = g_strnfill (31, 'a');
  g_autofree char *id33 = g_strnfill (33, 'a');

  assert_null (error);
  assert_non_null (bare);
  assert_int_equal (bare->kind, NMS_ORIGIN_CHROMIUM);
  assert_string_equal (bare->id, CHROME_ID);
  assert_string_equal (bare->canonical, "chrome-extension://" CHROME_ID "/");
  assert_string_equal (bare->dirname, full->dirname);
  assert_dirname_safe (bare);

  assert_rejected (id31);
  assert_rejected (id33);
  assert_rejected ("ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP");
  assert_rejected ("abcdefghijklmnopabcdefghijklmnoq");
  assert_rejected (CHROME_ID "/");
  assert_rejected (" " CHROME_ID);
}

static void
test_chrome_invalid (void **state)
{
  g_autofree char *id31 = g_strnfill (31, 'a');
  g_autofree char *id33 = g_strnfill (33, 'a');
  g_autofree char *o31 = g_strconcat ("chrome-extension://", id31, "/", NULL);
  g_autofree char *o33 = g_strconcat ("chrome-extension://", id33, "/", NULL);
  char letter;

  assert_rejected (o31);
  assert_rejected (o33);
  assert_rejected ("chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP/");
  assert_rejected ("chrome-extension://Abcdefghijklmnopabcdefghijklmnop/");
  assert_rejected ("chrome-extension://abcdefghijklmnopabcdefghijklmno1/");
  assert_rejected ("chrome-extension://0bcdefghijklmnopabcdefghijklmnop/");
  assert_rejected ("chrome-extension://");
  assert_rejected ("chrome-extension:///");
  assert_rejected ("chrome-extension://" CHROME_ID "//");
  assert_rejected ("chrome-extension://" CHROME_ID "/x");
  assert_rejected ("chrome-extension://" CHROME_ID "/../x");
  assert_rejected ("chrome-extension://../" CHROME_ID);
  assert_rejected ("chrome-extension:// " CHROME_ID);
  assert_rejected ("chrome-extension://" CHROME_ID " ");
  assert_rejected ("Chrome-Extension://" CHROME_ID "/");
  assert_rejected ("moz-extension://" CHROME_ID "/");
  assert_rejected ("https://" CHROME_ID "/");
  assert_rejected ("file:///" CHROME_ID);
  assert_rejected ("");
  assert_rejected (NULL);

  for (letter = 'q'; letter <= 'z'; letter++)
    {
      g_autofree char *id = g_strdup (CHROME_ID);
      g_autofree char *text = NULL;

      id[7] = letter;
      text = g_strconcat ("chrome-extension://", id, "/", NULL);
      assert_rejected (text);
      assert_false (nms_origin_is_chromium_id (id));
    }
  assert_false (nms_origin_is_chromium_id (""));
  assert_false (nms_origin_is_chromium_id (id31));
  assert_false (nms_origin_is_chromium_id (id33));
  assert_false (nms_origin_is_chromium_id ("abcdefghijklmnopabcdefghijklmn0p"));
}

static void
test_firefox_valid (void **state)
{
  const char *ids[] = {
    "nmstore@example.org",
    "my-addon@example.com",
    "a.b_c+d@sub.example.org",
    "x@y",
    "{12345678-abcd-ef01-2345-6789abcdef01}",
    "{ABCDEF01-2345-6789-ABCD-EF0123456789}",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NmsOrigin) origin = nms_origin_parse (ids[i], &error);
      g_autofree char *want_dir = g_strconcat ("firefox-", ids[i], NULL);

      if (origin == NULL)
        fail_msg ("Firefox id \"%s\" was refused: %s", ids[i], error->message);
      assert_int_equal (origin->kind, NMS_ORIGIN_FIREFOX);
      assert_string_equal (origin->id, ids[i]);
      assert_string_equal (origin->canonical, ids[i]);
      assert_string_equal (origin->dirname, want_dir);
      assert_dirname_safe (origin);
    }
}

static void
test_firefox_invalid (void **state)
{
  g_autofree char *local = g_strnfill (130, 'a');
  g_autofree char *too_long = g_strconcat (local, "@example.org", NULL);

  assert_rejected ("no-at-sign");
  assert_rejected ("a/b@example.org");
  assert_rejected ("../x@example.org");
  assert_rejected ("x@example.org/..");
  assert_rejected ("x@..\\..\\y");
  assert_rejected ("a\\b@example.org");
  assert_rejected (".hidden@example.org");
  assert_rejected ("..@example.org");
  assert_rejected ("a@b@example.org");
  assert_rejected ("a@");
  assert_rejected ("a b@example.org");
  assert_rejected ("a@exa mple.org");
  assert_rejected ("a@example.org\n");
  assert_rejected ("a:b@example.org");
  assert_rejected ("caf\xC3\xA9@example.org");
  assert_rejected (too_long);
  assert_rejected ("{12345678-abcd-ef01-2345-6789abcdef0}");
  assert_rejected ("{12345678-abcd-ef01-2345-6789abcdef012}");
  assert_rejected ("{12345678-abcd-ef01-2345-6789abcdefgh}");
  assert_rejected ("{12345678abcd-ef01-2345-6789abcdef01-}");
  assert_rejected ("12345678-abcd-ef01-2345-6789abcdef01");
  assert_rejected ("{12345678-abcd-ef01-2345-6789abcdef01");
  assert_rejected ("{../../../../../../../../../../../..}");
}

static void
test_firefox_length_limit (void **state)
{
  /* The longest accepted id is accepted; one byte more is not. */
  gsize len;
  gsize longest = 0;

  for (len = 3; len <= 300; len++)
    {
      g_autofree char *local = g_strnfill (len - 2, 'a');
      g_autofree char *id = g_strconcat (local, "@b", NULL);
      g_autoptr(NmsOrigin) origin = nms_origin_parse (id, NULL);

      assert_int_equal (strlen (id), len);
      if (origin != NULL)
        {
          if (longest != 0)
            assert_int_equal (longest, len - 1); /* no gaps */
          longest = len;
          assert_dirname_safe (origin);
        }
    }
  /* Long enough for real ids, and bounded so the directory name is. */
  assert_true (longest >= 64);
  assert_true (longest < 250);
}

static void
test_copy (void **state)
{
  g_autoptr(NmsOrigin) a = nms_origin_parse ("chrome-extension://" CHROME_ID "/", NULL);
  g_autoptr(NmsOrigin) b = NULL;

  assert_non_null (a);
  b = nms_origin_copy (a);
  assert_non_null (b);
  assert_true (a != b);
  assert_int_equal (b->kind, a->kind);
  assert_string_equal (b->id, a->id);
  assert_string_equal (b->canonical, a->canonical);
  assert_string_equal (b->dirname, a->dirname);
  assert_true (b->id != a->id);
}

static void
test_distinct_origins_distinct_dirs (void **state)
{
  g_autoptr(NmsOrigin) a = nms_origin_parse ("chrome-extension://" CHROME_ID "/", NULL);
  g_autoptr(NmsOrigin) b = nms_origin_parse ("chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba/", NULL);
  g_autoptr(NmsOrigin) c = nms_origin_parse ("x@example.org", NULL);

  assert_non_null (a);
  assert_non_null (b);
  assert_non_null (c);
  assert_string_not_equal (a->dirname, b->dirname);
  assert_string_not_equal (a->dirname, c->dirname);
  assert_string_not_equal (b->dirname, c->dirname);
}

static NmsOrigin *
from_argv (const char *const *args, GError **error)
{
  int argc = (int) g_strv_length ((char **) args);
  return nms_origin_from_argv (argc, (char **) args, error);
}

static void
test_argv_chrome (void **state)
{
  const char *args[] = { "nmstore", "chrome-extension://" CHROME_ID "/", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = NULL;

  assert_true (nms_origin_is_browser_argv (2, (char **) args));
  origin = from_argv (args, &error);
  assert_null (error);
  assert_non_null (origin);
  assert_int_equal (origin->kind, NMS_ORIGIN_CHROMIUM);
  assert_string_equal (origin->canonical, "chrome-extension://" CHROME_ID "/");
  assert_dirname_safe (origin);
}

static void
test_argv_chrome_parent_window (void **state)
{
  const char *args[] = { "nmstore", "chrome-extension://" CHROME_ID "/", "--parent-window=6620", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = NULL;

  assert_true (nms_origin_is_browser_argv (3, (char **) args));
  origin = from_argv (args, &error);
  assert_null (error);
  assert_non_null (origin);
  assert_string_equal (origin->id, CHROME_ID);
}

static void
test_argv_firefox (void **state)
{
  const char *args[] = { "nmstore", "/home/u/.mozilla/native-messaging-hosts/org.nmstore.host.json",
                         "nmstore@example.org", NULL };
  const char *guid_args[] = { "nmstore", "C:\\Users\\u\\org.nmstore.host.json",
                              "{12345678-abcd-ef01-2345-6789abcdef01}", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = NULL;
  g_autoptr(NmsOrigin) guid = NULL;

  assert_true (nms_origin_is_browser_argv (3, (char **) args));
  origin = from_argv (args, &error);
  assert_null (error);
  assert_non_null (origin);
  assert_int_equal (origin->kind, NMS_ORIGIN_FIREFOX);
  assert_string_equal (origin->id, "nmstore@example.org");
  assert_string_equal (origin->dirname, "firefox-nmstore@example.org");
  assert_dirname_safe (origin);

  guid = from_argv (guid_args, &error);
  assert_null (error);
  assert_non_null (guid);
  assert_string_equal (guid->id, "{12345678-abcd-ef01-2345-6789abcdef01}");
  assert_dirname_safe (guid);
}

static void
assert_argv_rejected (const char *const *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NmsOrigin) origin = from_argv (args, &error);

  assert_null (origin);
  assert_non_null (error);
  assert_true (g_error_matches (error, NMS_ERROR, NMS_ERROR_ORIGIN));
  assert_true (strlen (error->message) > 0);
}

static void
test_argv_junk (void **state)
{
  const char *none[] = { "nmstore", NULL };
  const char *word[] = { "nmstore", "junk", NULL };
  const char *bad_chrome[] = { "nmstore", "chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP/", NULL };
  const char *chrome_extra[] = { "nmstore", "chrome-extension://" CHROME_ID "/", "--evil", NULL };
  const char *chrome_two[] = { "nmstore", "chrome-extension://" CHROME_ID "/",
                               "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba/", NULL };
  const char *ff_bad_id[] = { "nmstore", "/x/org.nmstore.host.json", "../../etc@x", NULL };
  const char *ff_slash[] = { "nmstore", "/x/org.nmstore.host.json", "a/b@example.org", NULL };
  const char *ff_no_manifest[] = { "nmstore", "/x/org.nmstore.host.txt", "nmstore@example.org", NULL };
  const char *ff_missing_id[] = { "nmstore", "/x/org.nmstore.host.json", NULL };
  const char *ff_extra[] = { "nmstore", "/x/org.nmstore.host.json", "nmstore@example.org", "more", NULL };

  assert_false (nms_origin_is_browser_argv (1, (char **) none));
  assert_false (nms_origin_is_browser_argv (2, (char **) word));
  assert_false (nms_origin_is_browser_argv (3, (char **) ff_no_manifest));
  assert_false (nms_origin_is_browser_argv (2, (char **) ff_missing_id));
  assert_argv_rejected (none);
  assert_argv_rejected (word);
  assert_argv_rejected (bad_chrome);
  assert_argv_rejected (chrome_extra);
  assert_argv_rejected (chrome_two);
  assert_argv_rejected (ff_bad_id);
  assert_argv_rejected (ff_slash);
  assert_argv_rejected (ff_no_manifest);
  assert_argv_rejected (ff_missing_id);
  assert_argv_rejected (ff_extra);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_chrome_with_and_without_slash),
    cmocka_unit_test (test_chrome_every_letter),
    cmocka_unit_test (test_chrome_bare_id),
    cmocka_unit_test (test_chrome_invalid),
    cmocka_unit_test (test_firefox_valid),
    cmocka_unit_test (test_firefox_invalid),
    cmocka_unit_test (test_firefox_length_limit),
    cmocka_unit_test (test_copy),
    cmocka_unit_test (test_distinct_origins_distinct_dirs),
    cmocka_unit_test (test_argv_chrome),
    cmocka_unit_test (test_argv_chrome_parent_window),
    cmocka_unit_test (test_argv_firefox),
    cmocka_unit_test (test_argv_junk),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
