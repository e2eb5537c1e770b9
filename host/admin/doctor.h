/* SPDX-License-Identifier: MIT */
/* doctor.h: finds what stops a browser from reaching nmstore, and says
 * how to fix it.
 *
 * For every browser it checks each manifest it finds (or misses) as the
 * browser would read it, then starts the host exactly as that browser
 * does and exchanges hello. It also checks the data root, the free disk
 * space and the integrity of every store. Each check is one line; every
 * failure carries a fix a person can run. */
#pragma once

#include <glib.h>

#include "admin/install.h"

G_BEGIN_DECLS

typedef enum {
  NMS_DOCTOR_OK,
  NMS_DOCTOR_WARN,
  NMS_DOCTOR_FAIL,
  NMS_DOCTOR_SKIP,
} NmsDoctorStatus;

typedef struct {
  char            *subject;  /* "chrome", "firefox", or NULL for the data root and stores */
  const char      *scope;    /* "user", "system", "flatpak", or NULL */
  char            *check;    /* "manifest", "json", "name", "type", "path", "allowed", "hello", ... */
  NmsDoctorStatus  status;
  char            *detail;
  char            *fix;      /* set for WARN and FAIL */
} NmsDoctorCheck;

typedef struct _NmsDoctorReport NmsDoctorReport;

/* The ids each manifest must allow besides the companion: those asked
 * for with --extension-id and --firefox-id (every manifest), and those
 * of the registered drop-ins (a system manifest: the system's only, as
 * install writes them). */
typedef struct {
  GPtrArray *chromium_ids;  /* of char*, asked for; NULL: none */
  GPtrArray *firefox_ids;
  GPtrArray *extensions;    /* the drop-ins (NmsExtension); or NULL */
} NmsDoctorWanted;

/* browsers: what --browser chose; named: the person listed them, so a
 * missing manifest is a failure even where the browser is not found. */
NmsDoctorReport *nms_doctor_run          (const NmsInstallEnv *env, GPtrArray *browsers, gboolean named,
                                          const NmsDoctorWanted *wanted);
void             nms_doctor_report_free  (NmsDoctorReport *report);
gboolean         nms_doctor_report_ok    (const NmsDoctorReport *report);
GPtrArray       *nms_doctor_report_checks(const NmsDoctorReport *report);
char            *nms_doctor_report_text  (const NmsDoctorReport *report);
char            *nms_doctor_report_json  (const NmsDoctorReport *report);
const char      *nms_doctor_status_name  (NmsDoctorStatus status);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsDoctorReport, nms_doctor_report_free)

G_END_DECLS
