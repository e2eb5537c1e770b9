/* SPDX-License-Identifier: MIT */
/* echo.c: the echo peer, the limit every host figure is compared with.
 *
 * It reads native-messaging frames from stdin and writes each one back,
 * unchanged, to stdout: the least any host can do with the same pipes.
 * Like the host it reads everything already waiting and answers every
 * complete frame with one write, so the two differ only by what the host
 * does with a request. Plain C with no GLib, so that its start-up cost is
 * the floor for the cold-start figure too. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64u * 1024u)
#define MAX_FRAME (64u * 1024u * 1024u)

static int
write_all (const unsigned char *p, size_t len)
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
main (void)
{
  unsigned char *buf = NULL;
  size_t capacity = 0, start = 0, end = 0;

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
          if (len > MAX_FRAME)
            {
              fprintf (stderr, "echo: a frame of %u bytes is over the limit\n", len);
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
          capacity = end + want;
          buf = realloc (buf, capacity);
          if (buf == NULL)
            return 1;
        }

      n = read (0, buf + end, capacity - end);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      end += (size_t) n;

      /* Every complete frame goes back in one write. */
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
          if (write_all (buf + start, done - start) != 0)
            break;
          start = done;
        }
      if (start == end)
        start = end = 0;
    }
  free (buf);
  return end == start ? 0 : 1;
}
