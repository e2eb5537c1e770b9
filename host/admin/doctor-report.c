/* SPDX-License-Identifier: MIT */
/* doctor-report.c: the report of `nmstore doctor`: the checks the other
 * doctor files add to it, and its text and JSON forms (doctor.h). It lives
 * below doctor.c and doctor-data.c, which both add to it, so that neither
 * calls back into the other. */
#include "doctor-report.h"

#include <cjson/cJSON.h>

static void
check_free (NmsDoctorCheck *check)
{
  g_free (check->subject);
  g_free (check->check);
  g_free (check->detail);
  g_free (check->fix);
  g_free (check);
}

void
_nms_doctor_add (NmsDoctorReport *report, const NmsInstallTarget *target, const char *check,
     NmsDoctorStatus status, char *fix, const char *format, ...)
{
  NmsDoctorCheck *c = g_new0 (NmsDoctorCheck, 1);
  va_list args;

  c->subject = target ? g_strdup (nms_install_browser_name (target->browser)) : NULL;
  c->scope = target ? nms_install_scope_name (target->scope) : NULL;
  c->check = g_strdup (check);
  c->status = status;
  c->fix = fix;
  va_start (args, format);
  c->detail = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (report->checks, c);
}

NmsDoctorReport *
_nms_doctor_report_new (void)
{
  NmsDoctorReport *report = g_new0 (NmsDoctorReport, 1);

  report->checks = g_ptr_array_new_with_free_func ((GDestroyNotify) check_free);
  return report;
}

void
nms_doctor_report_free (NmsDoctorReport *report)
{
  if (report == NULL)
    return;
  g_ptr_array_unref (report->checks);
  g_free (report);
}

gboolean
nms_doctor_report_ok (const NmsDoctorReport *report)
{
  guint i;

  for (i = 0; i < report->checks->len; i++)
    if (((NmsDoctorCheck *) report->checks->pdata[i])->status == NMS_DOCTOR_FAIL)
      return FALSE;
  return TRUE;
}

GPtrArray *
nms_doctor_report_checks (const NmsDoctorReport *report)
{
  return report->checks;
}

const char *
nms_doctor_status_name (NmsDoctorStatus status)
{
  switch (status)
    {
    case NMS_DOCTOR_OK: return "ok";
    case NMS_DOCTOR_WARN: return "warn";
    case NMS_DOCTOR_FAIL: return "fail";
    case NMS_DOCTOR_SKIP: return "skip";
    }
  return "?";
}

char *
nms_doctor_report_text (const NmsDoctorReport *report)
{
  GString *out = g_string_new (NULL);
  guint i, failed = 0, warned = 0;

  for (i = 0; i < report->checks->len; i++)
    {
      const NmsDoctorCheck *c = report->checks->pdata[i];
      g_autofree char *subject = c->subject ? g_strdup_printf ("%s/%s", c->subject, c->scope)
                                            : g_strdup ("nmstore");
      g_autofree char *status = g_ascii_strup (nms_doctor_status_name (c->status), -1);

      failed += c->status == NMS_DOCTOR_FAIL;
      warned += c->status == NMS_DOCTOR_WARN;
      g_string_append_printf (out, "%-4s %-16s %-10s %s", status, subject, c->check, c->detail);
      if (c->fix != NULL)
        g_string_append_printf (out, " -> fix: %s", c->fix);
      g_string_append_c (out, '\n');
    }
  if (failed > 0)
    g_string_append_printf (out, "%u check%s failed\n", failed, failed == 1 ? "" : "s");
  else if (warned > 0)
    g_string_append_printf (out, "no check failed, but read the %u warning%s above\n", warned, warned == 1 ? "" : "s");
  else
    g_string_append (out, "everything is in order\n");
  return g_string_free (out, FALSE);
}

char *
nms_doctor_report_json (const NmsDoctorReport *report)
{
  cJSON *root = cJSON_CreateObject ();
  cJSON *checks;
  char *text, *result;
  guint i;

  cJSON_AddBoolToObject (root, "ok", nms_doctor_report_ok (report));
  checks = cJSON_AddArrayToObject (root, "checks");
  for (i = 0; i < report->checks->len; i++)
    {
      const NmsDoctorCheck *c = report->checks->pdata[i];
      cJSON *item = cJSON_CreateObject ();

      cJSON_AddItemToObject (item, "browser", c->subject ? cJSON_CreateString (c->subject) : cJSON_CreateNull ());
      cJSON_AddItemToObject (item, "scope", c->scope ? cJSON_CreateString (c->scope) : cJSON_CreateNull ());
      cJSON_AddStringToObject (item, "check", c->check);
      cJSON_AddStringToObject (item, "status", nms_doctor_status_name (c->status));
      cJSON_AddStringToObject (item, "detail", c->detail);
      cJSON_AddItemToObject (item, "fix", c->fix ? cJSON_CreateString (c->fix) : cJSON_CreateNull ());
      cJSON_AddItemToArray (checks, item);
    }
  text = cJSON_Print (root);
  cJSON_Delete (root);
  result = g_strconcat (text, "\n", NULL);
  cJSON_free (text);
  return result;
}
