/* SPDX-License-Identifier: MIT */
/* cli.h: the command line for people, and the dispatch to host mode. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int nms_cli_main (int argc, char **argv);

G_END_DECLS
