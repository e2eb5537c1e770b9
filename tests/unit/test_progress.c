/* SPDX-License-Identifier: MIT */
/* test_progress.c: the progress module (progress.h) with a clock the test
 * moves by hand, so that no test sleeps: silence for short work, a few
 * plain lines in a log, one redrawn line on a terminal. */
#define _GNU_SOURCE
#include "harness.h"

#include "base/progress.h"

#include <stdio.h>
#include <string.h>

#define SEC G_USEC_PER_SEC

typedef struct {
  gint64  now;
  char   *text;
  size_t  len;
  FILE   *out;
} Fake;

static gint64
fake_clock (gpointer user_data)
{
  return ((Fake *) user_data)->now;
}

static NmsProgress *
fake_new (Fake *f, gboolean tty)
{
  memset (f, 0, sizeof *f);
  f->now = 1000 * SEC;
  f->out = open_memstream (&f->text, &f->len);
  assert_non_null (f->out);
  return nms_progress_new ("encrypting", "items", f->out, tty, fake_clock, f);
}

/* What was written so far, as a string the test owns. */
static char *
fake_text (Fake *f)
{
  fflush (f->out);
  return g_strndup (f->text != NULL ? f->text : "", f->len);
}

static void
fake_clear (Fake *f)
{
  fclose (f->out);
  free (f->text);
}

static guint
count_lines (const char *text)
{
  guint n = 0;

  for (; *text; text++)
    n += *text == '\n';
  return n;
}

static void
test_short_work_is_silent (void **state)
{
  Fake f;
  g_autoptr(NmsProgress) p = fake_new (&f, FALSE);
  g_autofree char *text = NULL;
  guint64 i;

  for (i = 0; i <= 30000; i += 100)
    {
      f.now += 3000;   /* 0.9 s in all */
      nms_progress_step (i, 30000, p);
    }
  nms_progress_done (p);
  text = fake_text (&f);
  assert_string_equal (text, "");
  fake_clear (&f);
}

static void
test_plain_lines_are_few (void **state)
{
  Fake f;
  g_autoptr(NmsProgress) p = fake_new (&f, FALSE);
  g_autofree char *text = NULL;
  guint64 i;

  /* 30 s of work, a step every millisecond. */
  for (i = 0; i < 30000; i++)
    {
      f.now += 1000;
      nms_progress_step (i, 30000, p);
    }
  nms_progress_done (p);
  text = fake_text (&f);
  assert_non_null (strstr (text, "nmstore: encrypting 10% (3000/30000 items)\n"));
  assert_non_null (strstr (text, "nmstore: encrypting 40% (12000/30000 items)\n"));
  assert_true (g_str_has_suffix (text, "nmstore: encrypting 100% (30000/30000 items)\n"));
  /* One per tenth at most, and the last: not one per step or second. */
  assert_true (count_lines (text) <= 11);
  assert_null (strchr (text, '\r'));
  fake_clear (&f);
}

/* A step every two seconds: still one line per tenth crossed, at most. */
static void
test_plain_lines_at_most_one_a_second (void **state)
{
  Fake f;
  g_autoptr(NmsProgress) p = fake_new (&f, FALSE);
  g_autofree char *text = NULL;
  guint64 i;

  for (i = 0; i < 1000; i++)
    {
      f.now += SEC / 100;
      nms_progress_step (i, 100, p);   /* 100% reached at 1 s, then stays */
    }
  nms_progress_done (p);
  text = fake_text (&f);
  assert_true (count_lines (text) <= 2);
  fake_clear (&f);
}

static void
test_tty_redraws_one_line_and_clears_it (void **state)
{
  Fake f;
  g_autoptr(NmsProgress) p = fake_new (&f, TRUE);
  g_autofree char *text = NULL;
  guint64 i;
  guint draws = 0;
  const char *c;

  /* 5 s of work, a step every millisecond: 4 s past the quiet second, so
   * at most about 40 redraws at ten a second. */
  for (i = 0; i < 5000; i++)
    {
      f.now += 1000;
      nms_progress_step (i, 5000, p);
    }
  nms_progress_done (p);
  text = fake_text (&f);
  for (c = text; (c = strchr (c, '\r')) != NULL; c++)
    draws++;
  assert_true (draws >= 20 && draws <= 45);
  assert_null (strchr (text, '\n'));
  assert_non_null (strstr (text, "nmstore: encrypting ["));
  assert_non_null (strstr (text, "/5000 items)"));
  assert_true (g_str_has_suffix (text, "\r\033[K"));
  fake_clear (&f);
}

static void
test_unknown_total_and_null_progress (void **state)
{
  Fake f;
  g_autoptr(NmsProgress) p = fake_new (&f, FALSE);
  g_autofree char *text = NULL;
  guint64 i;

  for (i = 0; i < 60; i++)
    {
      f.now += SEC;
      nms_progress_step (i * 1000000, 0, p);
    }
  nms_progress_done (p);
  text = fake_text (&f);
  assert_non_null (strstr (text, "nmstore: encrypting 10000000 items\n"));
  assert_true (count_lines (text) <= 8);
  /* Quiet: no progress object at all, and every call is harmless. */
  assert_true (nms_progress_step (1, 2, NULL));
  nms_progress_done (NULL);
  assert_null (nms_progress_new_stderr ("x", "items", TRUE));
  fake_clear (&f);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_short_work_is_silent),
    cmocka_unit_test (test_plain_lines_are_few),
    cmocka_unit_test (test_plain_lines_at_most_one_a_second),
    cmocka_unit_test (test_tty_redraws_one_line_and_clears_it),
    cmocka_unit_test (test_unknown_total_and_null_progress),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
