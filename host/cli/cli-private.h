/* SPDX-License-Identifier: MIT */
/* cli-private.h: the commands that live in files of their own, which
 * cli.c dispatches to. What they share is in cli-common.h. Not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* cli-install.c */
int _nms_cli_install   (int argc, char **argv);
int _nms_cli_uninstall (int argc, char **argv);
int _nms_cli_doctor    (int argc, char **argv);
int _nms_cli_extensions (int argc, char **argv);

/* cli-origins.c */
int _nms_cli_origins (int argc, char **argv);

/* cli-session.c */
int _nms_cli_session (int argc, char **argv);
/* cli-archive.c */
int _nms_cli_export  (int argc, char **argv);
int _nms_cli_import  (int argc, char **argv);
int _nms_cli_backup  (int argc, char **argv);
int _nms_cli_restore (int argc, char **argv);
/* cli-crypt.c */
int _nms_cli_encrypt (int argc, char **argv);
int _nms_cli_decrypt (int argc, char **argv);
int _nms_cli_passwd  (int argc, char **argv);
int _nms_cli_rekey   (int argc, char **argv);
int _nms_cli_verify  (int argc, char **argv);

G_END_DECLS
