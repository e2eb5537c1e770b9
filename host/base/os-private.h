/* SPDX-License-Identifier: MIT */
/* os-private.h: what os.c shares with os-files.c, the two halves of the
 * POSIX seam. Not installed. Defined in os.c, the file nmstore-test
 * recompiles with its hooks, so that file stays the one that defines every
 * symbol of its object (tests/CMakeLists.txt). */
#pragma once

#include <glib.h>

/* Sets error to "<what> <path>: <errno text>", the form of every failed
 * system call on a named file. */
void _nms_os_set_errno_error (GError **error, int errsv, const char *what, const char *path);
