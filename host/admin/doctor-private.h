/* SPDX-License-Identifier: MIT */
/* doctor-private.h: what doctor.c takes from doctor-launch.c and
 * doctor-data.c. Not installed. */
#pragma once

#include "admin/doctor.h"

G_BEGIN_DECLS

/* How long the host may take to answer hello, or to exit once its
 * stdin closes; far longer than it needs, so that only a hung host
 * reaches it. */
#define NMS_DOCTOR_LAUNCH_TIMEOUT_S 10

/* Starts host_path as the browser of `family` would, for the manifest at
 * manifest_path and the caller `caller` (an extension id or add-on id),
 * exchanges hello, and says what happened. Returns TRUE when the host
 * answered; otherwise *detail and *fix say why it did not. */
gboolean _nms_doctor_launch (NmsInstallFamily family, const char *host_path,
                            const char *manifest_path, const char *caller,
                            char **detail, char **fix);

void _nms_doctor_check_data_root (NmsDoctorReport *report, const char *root);
void _nms_doctor_check_stores    (NmsDoctorReport *report, const char *root);

/* The version of the WebExtensions portal (org.freedesktop.portal.
 * WebExtensions) on this session bus, through which a snap or Flatpak
 * Firefox starts native hosts; 0 when no portal answers. */
guint _nms_doctor_portal_version (void);

G_END_DECLS
