/* SPDX-License-Identifier: MIT */
/* frame-loop.c: see frame-loop.h. The loop hands the callback a span of
 * its own buffer rather than a copy, so that the echo peer still writes
 * straight from what it read, as it did before the floor peer shared it. */
#define _POSIX_C_SOURCE 200809L

#include "frame-loop.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64u * 1024u)

int
frame_loop_write_all (const unsigned char *p, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (1, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

int
frame_loop_run (const char *name, FrameLoopFunc func, void *user_data)
{
  unsigned char *buf = NULL;
  size_t capacity = 0, start = 0, end = 0;
  int status = 0;

  signal (SIGPIPE, SIG_IGN);
  for (;;)
    {
      size_t want = READ_CHUNK, done;
      ssize_t n;

      /* Room for the whole of a frame whose header is in. */
      if (end - start >= 4)
        {
          uint32_t len;
          memcpy (&len, buf + start, 4);
          if (len > FRAME_LOOP_MAX_FRAME)
            {
              fprintf (stderr, "%s: a frame of %u bytes is over the 64 MiB limit; send smaller requests\n",
                       name, len);
              free (buf);
              return 1;
            }
          if ((size_t) len + 4 > end - start && (size_t) len + 4 - (end - start) > want)
            want = (size_t) len + 4 - (end - start);
        }
      if (start > 0 && capacity - end < want)
        {
          memmove (buf, buf + start, end - start);
          end -= start;
          start = 0;
        }
      if (capacity - end < want)
        {
          unsigned char *bigger = realloc (buf, end + want);
          if (bigger == NULL)
            {
              fprintf (stderr, "%s: out of memory; free some and run again\n", name);
              free (buf);
              return 1;
            }
          buf = bigger;
          capacity = end + want;
        }

      n = read (0, buf + end, capacity - end);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      end += (size_t) n;

      /* Every complete frame is answered in one go. */
      done = start;
      while (end - done >= 4)
        {
          uint32_t len;
          memcpy (&len, buf + done, 4);
          if (end - done - 4 < len)
            break;
          done += 4 + (size_t) len;
        }
      if (done > start)
        {
          if (func (buf + start, done - start, user_data) != 0)
            {
              status = 1;
              break;
            }
          start = done;
        }
      if (start == end)
        start = end = 0;
    }
  free (buf);
  return status != 0 ? status : end == start ? 0 : 1;
}
