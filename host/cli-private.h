/* cli-private.h: what the command-line files share: the usage and error
 * exits of cli.c, and the commands that live in files of their own. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NMS_CLI_EXIT_USAGE 2

int nms_cli_fail_usage (GOptionContext *context, const char *message);
int nms_cli_fail_error (const GError *error);

/* cli-install.c */
int nms_cli_install   (int argc, char **argv);
int nms_cli_uninstall (int argc, char **argv);
int nms_cli_doctor    (int argc, char **argv);

G_END_DECLS
