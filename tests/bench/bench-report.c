/* SPDX-License-Identifier: MIT */
/* bench-report.c: the benchmark's results, kept as rows and written as
 * results.json (for programs), results.md (for the README) and chart.dat
 * (for gnuplot), and the check that a results.json is well formed.
 *
 * A ratio is always the host's figure over a peer's, in the unit of the
 * row: over the echo peer's (the pipe's limit) and, where it was measured,
 * over the floor peer's (the pipe plus SQLite committing the same rows), so
 * a latency's ratio is best low and a rate's best high, as the row's sense
 * says. The chart instead shows every charted row as a cost relative to
 * the echo peer (latency over latency, or rate of the echo over rate of
 * the host), so that 1 is the pipe's limit and higher is worse on every
 * bar, with the floor's cost on the same scale beside it. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void
row_free (gpointer p)
{
  BenchRow *row = p;

  g_free (row->workload);
  g_free (row->figure);
  g_free (row->unit);
  g_free (row->label);
  g_free (row);
}

BenchReport *
bench_report_new (void)
{
  BenchReport *report = g_new0 (BenchReport, 1);

  report->rows = g_ptr_array_new_with_free_func (row_free);
  report->skipped = g_ptr_array_new_with_free_func (g_free);
  report->conditions = cJSON_CreateObject ();
  return report;
}

void
bench_report_free (BenchReport *report)
{
  if (report == NULL)
    return;
  g_ptr_array_unref (report->rows);
  g_ptr_array_unref (report->skipped);
  cJSON_Delete (report->conditions);
  g_free (report);
}

BenchRow *
bench_report_add (BenchReport *report, const char *workload, const char *figure, const char *unit,
                  gdouble value, gdouble echo, BenchSense sense)
{
  BenchRow *row = g_new0 (BenchRow, 1);

  row->workload = g_strdup (workload);
  row->figure = g_strdup (figure);
  row->unit = g_strdup (unit);
  row->value = value;
  row->echo = echo;
  row->floor = NAN;
  row->sense = sense;
  row->target = NAN;
  g_ptr_array_add (report->rows, row);
  g_print ("%-4s %-90s %12.2f %-5s echo %12.2f\n", workload, figure, value, unit, echo);
  return row;
}

void
bench_row_set_target (BenchRow *row, gdouble target, BenchTargetOn on)
{
  row->target = target;
  row->target_on = on;
}

void
bench_row_set_floor (BenchRow *row, gdouble floor)
{
  row->floor = floor;
  g_print ("%-4s %-90s %12.2f %-5s ÷ floor %.2f\n", row->workload, "  the floor peer (echo + SQLite)", floor,
           row->unit, floor > 0 ? row->value / floor : NAN);
}

void
bench_row_set_label (BenchRow *row, const char *label)
{
  g_free (row->label);
  row->label = g_strdup (label);
}

void
bench_report_skip (BenchReport *report, const char *workload, const char *why)
{
  g_ptr_array_add (report->skipped, g_strdup_printf ("%s: skipped: %s", workload, why));
  g_print ("%s: skipped: %s\n", workload, why);
}

static gdouble
ratio_to (const BenchRow *row, gdouble other)
{
  if (isnan (other) || other <= 0)
    return NAN;
  return row->value / other;
}

static gdouble
row_ratio (const BenchRow *row)
{
  return ratio_to (row, row->echo);
}

static gdouble
floor_ratio (const BenchRow *row)
{
  return ratio_to (row, row->floor);
}

/* TRUE, FALSE, or -1 when the row has no target. */
static int
row_met (const BenchRow *row)
{
  gdouble x = row->target_on == BENCH_ON_ECHO ? row_ratio (row)
              : row->target_on == BENCH_ON_FLOOR ? floor_ratio (row) : row->value;

  if (isnan (row->target) || isnan (x))
    return -1;
  return row->sense == BENCH_LOWER_IS_BETTER ? x <= row->target : x >= row->target;
}

static char *
target_text (const BenchRow *row)
{
  const char *op = row->sense == BENCH_LOWER_IS_BETTER ? "≤" : "≥";

  if (isnan (row->target))
    return g_strdup ("");
  if (row->target_on == BENCH_ON_ECHO)
    return g_strdup_printf ("%s %g× echo", op, row->target);
  if (row->target_on == BENCH_ON_FLOOR)
    return g_strdup_printf ("%s %g× floor", op, row->target);
  return g_strdup_printf ("%s %g %s", op, row->target, row->unit);
}

static cJSON *
number_or_null (gdouble x)
{
  return isnan (x) || isinf (x) ? cJSON_CreateNull () : cJSON_CreateNumber (x);
}

static char *
format_number (gdouble x)
{
  gdouble a = fabs (x);

  if (isnan (x))
    return g_strdup ("–");
  if (a >= 100)
    return g_strdup_printf ("%.0f", x);
  if (a >= 10)
    return g_strdup_printf ("%.1f", x);
  return g_strdup_printf ("%.2f", x);
}

static cJSON *
report_json (BenchReport *report)
{
  cJSON *root = cJSON_CreateObject ();
  cJSON *rows = cJSON_AddArrayToObject (root, "rows");
  cJSON *skipped = cJSON_AddArrayToObject (root, "skipped");
  guint i;

  cJSON_AddItemReferenceToObject (root, "conditions", report->conditions);
  for (i = 0; i < report->rows->len; i++)
    {
      const BenchRow *row = report->rows->pdata[i];
      cJSON *r = cJSON_CreateObject ();
      g_autofree char *target = target_text (row);
      int met = row_met (row);

      cJSON_AddStringToObject (r, "workload", row->workload);
      cJSON_AddStringToObject (r, "figure", row->figure);
      cJSON_AddStringToObject (r, "unit", row->unit);
      cJSON_AddItemToObject (r, "value", number_or_null (row->value));
      cJSON_AddItemToObject (r, "echo", number_or_null (row->echo));
      cJSON_AddItemToObject (r, "ratio", number_or_null (row_ratio (row)));
      cJSON_AddItemToObject (r, "floor", number_or_null (row->floor));
      cJSON_AddItemToObject (r, "floor_ratio", number_or_null (floor_ratio (row)));
      cJSON_AddStringToObject (r, "better", row->sense == BENCH_LOWER_IS_BETTER ? "lower" : "higher");
      cJSON_AddStringToObject (r, "target", target);
      cJSON_AddItemToObject (r, "met", met < 0 ? cJSON_CreateNull () : cJSON_CreateBool (met));
      cJSON_AddItemToArray (rows, r);
    }
  for (i = 0; i < report->skipped->len; i++)
    cJSON_AddItemToArray (skipped, cJSON_CreateString (report->skipped->pdata[i]));
  return root;
}

static char *
report_markdown (BenchReport *report)
{
  GString *md = g_string_new (NULL);
  const cJSON *c = report->conditions;
  const cJSON *m = cJSON_GetObjectItem (c, "machine");
  const cJSON *pinned = cJSON_GetObjectItem (c, "pinned");
  guint i;

  g_string_append_printf (md, "Measured %s on %s (%d cores, Linux %s); load average %s before, %s after.\n\n",
                          cJSON_GetStringValue (cJSON_GetObjectItem (c, "date")),
                          cJSON_GetStringValue (cJSON_GetObjectItem (m, "cpu")),
                          (int) cJSON_GetNumberValue (cJSON_GetObjectItem (m, "nproc")),
                          cJSON_GetStringValue (cJSON_GetObjectItem (m, "kernel")),
                          cJSON_GetStringValue (cJSON_GetObjectItem (c, "load_before")),
                          cJSON_GetStringValue (cJSON_GetObjectItem (c, "load_after")));
  if (cJSON_IsObject (pinned))
    g_string_append_printf (md, "The benchmark ran on CPU %d and every peer on CPU %d.\n\n",
                            (int) cJSON_GetNumberValue (cJSON_GetObjectItem (pinned, "bench_cpu")),
                            (int) cJSON_GetNumberValue (cJSON_GetObjectItem (pinned, "peer_cpu")));
  else
    g_string_append (md, "The benchmark and its peers ran where the scheduler put them.\n\n");
  g_string_append (md, "| workload | figure | value | unit | echo peer | ÷ echo "
                       "| floor (echo+SQLite) | ÷ floor | target | met? |\n"
                       "|---|---|---:|---|---:|---:|---:|---:|---|---|\n");
  for (i = 0; i < report->rows->len; i++)
    {
      const BenchRow *row = report->rows->pdata[i];
      g_autofree char *value = format_number (row->value);
      g_autofree char *echo = format_number (row->echo);
      g_autofree char *ratio = format_number (row_ratio (row));
      g_autofree char *floor = format_number (row->floor);
      g_autofree char *fratio = format_number (floor_ratio (row));
      g_autofree char *target = target_text (row);
      int met = row_met (row);

      g_string_append_printf (md, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", row->workload,
                              row->figure, value, row->unit, echo, ratio, floor, fratio, target,
                              met < 0 ? "" : met ? "yes" : "**no**");
    }
  for (i = 0; i < report->skipped->len; i++)
    g_string_append_printf (md, "%s%s\n", i == 0 ? "\n" : "\n", (const char *) report->skipped->pdata[i]);
  return g_string_free (md, FALSE);
}

/* A figure of the row as a cost relative to the echo peer: 1 is the
 * pipe's limit, higher is worse, whichever way the row's unit goes. */
static gdouble
cost_vs_echo (const BenchRow *row, gdouble figure)
{
  gdouble ratio = isnan (row->echo) || row->echo <= 0 ? NAN : figure / row->echo;

  return row->sense == BENCH_LOWER_IS_BETTER ? ratio : 1.0 / ratio;
}

static void
append_number (GString *dat, gdouble x)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (x) || isinf (x))
    g_string_append (dat, " NaN");
  else
    g_string_append_printf (dat, " %s", g_ascii_formatd (buf, sizeof buf, "%.4f", x));
}

static char *
chart_data (BenchReport *report)
{
  GString *dat = g_string_new ("# label cost_vs_echo target_cost_vs_echo floor_cost_vs_echo\n");
  guint i;

  for (i = 0; i < report->rows->len; i++)
    {
      const BenchRow *row = report->rows->pdata[i];
      gdouble cost = cost_vs_echo (row, row->value), target = NAN;

      if (row->label == NULL || isnan (cost))
        continue;
      /* Every target is drawn on the same scale as the bars: the figure
       * that would just meet it, relative to the echo peer in this run. */
      if (!isnan (row->target))
        target = cost_vs_echo (row, row->target_on == BENCH_ON_VALUE ? row->target
                                    : row->target * (row->target_on == BENCH_ON_ECHO ? row->echo : row->floor));
      g_string_append_printf (dat, "\"%s\"", row->label);
      append_number (dat, cost);
      append_number (dat, target);
      append_number (dat, cost_vs_echo (row, row->floor));
      g_string_append_c (dat, '\n');
    }
  return g_string_free (dat, FALSE);
}

gboolean
bench_report_write (BenchReport *report, const char *dir, GError **error)
{
  cJSON *root = report_json (report);
  g_autofree char *json = cJSON_Print (root);
  g_autofree char *md = report_markdown (report);
  g_autofree char *dat = chart_data (report);
  g_autofree char *json_path = g_build_filename (dir, "results.json", NULL);
  g_autofree char *md_path = g_build_filename (dir, "results.md", NULL);
  g_autofree char *dat_path = g_build_filename (dir, "chart.dat", NULL);
  g_autofree char *json_nl = g_strconcat (json, "\n", NULL);

  cJSON_Delete (root);
  return g_file_set_contents (json_path, json_nl, -1, error)
         && g_file_set_contents (md_path, md, -1, error)
         && g_file_set_contents (dat_path, dat, -1, error);
}

static gboolean
invalid (GError **error, const char *path, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path, what);
  return FALSE;
}

static gboolean
is_number_or_null (const cJSON *x)
{
  return cJSON_IsNull (x) || (cJSON_IsNumber (x) && isfinite (x->valuedouble));
}

gboolean
bench_report_validate (const char *path, GError **error)
{
  static const char *const needed[] = { "W1", "W2", "W2b", "W3", "W3b", "W4a", "W4b", "W5", "W6", "RSS" };
  /* The workloads measured against the floor peer: each needs a floor. */
  static const char *const floored[] = { "W1", "W2", "W2b", "W3", "W3b" };
  gboolean has_floor[G_N_ELEMENTS (floored)] = { FALSE };
  g_autofree char *text = NULL;
  cJSON *root;
  const cJSON *rows, *row, *skipped, *machine;
  gboolean seen[G_N_ELEMENTS (needed)] = { FALSE }, w7 = FALSE, ok = TRUE;
  guint i;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  root = cJSON_Parse (text);
  if (root == NULL)
    return invalid (error, path, "not JSON");
  rows = cJSON_GetObjectItem (root, "rows");
  skipped = cJSON_GetObjectItem (root, "skipped");
  machine = cJSON_GetObjectItem (cJSON_GetObjectItem (root, "conditions"), "machine");
  if (!cJSON_IsArray (rows) || cJSON_GetArraySize (rows) == 0 || !cJSON_IsArray (skipped)
      || !cJSON_IsNumber (cJSON_GetObjectItem (machine, "nproc")))
    ok = invalid (error, path, "rows, skipped or conditions.machine missing");
  cJSON_ArrayForEach (row, rows)
    {
      const cJSON *w = cJSON_GetObjectItem (row, "workload"), *v = cJSON_GetObjectItem (row, "value");
      const cJSON *met = cJSON_GetObjectItem (row, "met");
      const cJSON *floor = cJSON_GetObjectItem (row, "floor"), *fratio = cJSON_GetObjectItem (row, "floor_ratio");

      if (!ok)
        break;
      if (!cJSON_IsString (w) || !cJSON_IsString (cJSON_GetObjectItem (row, "figure"))
          || !cJSON_IsString (cJSON_GetObjectItem (row, "unit")) || !cJSON_IsNumber (v)
          || !isfinite (v->valuedouble) || v->valuedouble < 0
          || !is_number_or_null (cJSON_GetObjectItem (row, "echo"))
          || !is_number_or_null (cJSON_GetObjectItem (row, "ratio"))
          || !is_number_or_null (floor) || !is_number_or_null (fratio)
          || cJSON_IsNull (floor) != cJSON_IsNull (fratio)
          || (cJSON_IsNumber (floor) && floor->valuedouble <= 0)
          || !(cJSON_IsBool (met) || cJSON_IsNull (met)))
        ok = invalid (error, path, "a row is not {workload, figure, unit, value >= 0, echo, ratio, "
                                   "floor > 0 and floor_ratio (both numbers or both null), met}");
      for (i = 0; ok && i < G_N_ELEMENTS (needed); i++)
        if (strcmp (w->valuestring, needed[i]) == 0)
          seen[i] = TRUE;
      for (i = 0; ok && i < G_N_ELEMENTS (floored); i++)
        if (strcmp (w->valuestring, floored[i]) == 0 && cJSON_IsNumber (floor))
          has_floor[i] = TRUE;
      if (ok && strcmp (w->valuestring, "W7") == 0)
        w7 = TRUE;
    }
  cJSON_ArrayForEach (row, skipped)
    if (cJSON_IsString (row) && g_str_has_prefix (row->valuestring, "W7: skipped"))
      w7 = TRUE;
  for (i = 0; ok && i < G_N_ELEMENTS (needed); i++)
    if (!seen[i])
      {
        g_autofree char *what = g_strdup_printf ("no row for %s", needed[i]);
        ok = invalid (error, path, what);
      }
  for (i = 0; ok && i < G_N_ELEMENTS (floored); i++)
    if (!has_floor[i])
      {
        g_autofree char *what = g_strdup_printf ("no row of %s has the floor peer's figure", floored[i]);
        ok = invalid (error, path, what);
      }
  if (ok && !w7)
    ok = invalid (error, path, "W7 is neither measured nor reported as skipped");
  cJSON_Delete (root);
  return ok;
}
