/* SPDX-License-Identifier: MIT */
/* frame-loop.h: the read loop that the echo and floor peers share.
 *
 * Like the host, a peer reads everything already waiting on stdin and
 * answers every complete frame in it with one write. Plain C, no GLib, so
 * that the peers' start-up costs nothing the host would not also pay. */
#pragma once

#include <stddef.h>

#define FRAME_LOOP_MAX_FRAME (64u * 1024u * 1024u)

/* Called with the complete frames just read, headers included, back to
 * back in frames[0..len): the callback answers all of them (one write)
 * and returns 0, or returns -1 to stop the loop with a failure. */
typedef int (*FrameLoopFunc) (const unsigned char *frames, size_t len, void *user_data);

/* Writes all of p[0..len) to stdout; 0, or -1 on an error. */
int frame_loop_write_all (const unsigned char *p, size_t len);
/* Reads frames from stdin until it closes. Returns the process's exit
 * status: 0 when stdin ended between frames. `name` prefixes messages. */
int frame_loop_run       (const char *name, FrameLoopFunc func, void *user_data);
