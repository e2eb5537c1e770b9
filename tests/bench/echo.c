/* SPDX-License-Identifier: MIT */
/* echo.c: the echo peer, the limit every host figure is compared with.
 *
 * It reads native-messaging frames from stdin and writes each one back,
 * unchanged, to stdout: the least any host can do with the same pipes.
 * Like the host it reads everything already waiting and answers every
 * complete frame with one write, so the two differ only by what the host
 * does with a request. Plain C with no GLib, so that its start-up cost is
 * the lower bound for the cold-start figure too. The loop is frame-loop.c,
 * shared with the floor peer (floor.c). */
#include "frame-loop.h"

/* The frames go back as they came, straight from the read buffer. */
static int
echo_frames (const unsigned char *frames, size_t len, void *user_data)
{
  (void) user_data;
  return frame_loop_write_all (frames, len);
}

int
main (void)
{
  return frame_loop_run ("echo", echo_frames, NULL);
}
