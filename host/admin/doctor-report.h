/* SPDX-License-Identifier: MIT */
/* doctor-report.h: the report every doctor file adds its checks to
 * (doctor-report.c). Not installed. */
#pragma once

#include "admin/doctor.h"

G_BEGIN_DECLS

struct _NmsDoctorReport {
  GPtrArray             *checks;
  const NmsInstallEnv   *env;     /* for the duration of nms_doctor_run only */
  const NmsDoctorWanted *wanted;  /* likewise */
};

/* An empty report; nms_doctor_run fills env and wanted while it runs. */
NmsDoctorReport *_nms_doctor_report_new (void);

/* Adds one check to the report; fix (taken) is required for WARN and
 * FAIL. target NULL: a check of nmstore itself, not of a browser. */
G_GNUC_PRINTF (6, 7)
void _nms_doctor_add (NmsDoctorReport *report, const NmsInstallTarget *target, const char *check,
                      NmsDoctorStatus status, char *fix, const char *format, ...);

G_END_DECLS
