/* SPDX-License-Identifier: MIT */
/* os.c: the POSIX implementation of the operating-system seam (os.h),
 * process and stdio side: the host's stdio, watches, processes,
 * descriptors, the passphrase prompt and the crash points of the tests.
 * The private files and folders side is in os-files.c. nmstore-test
 * recompiles this file with NMSTORE_TEST_HOOKS (tests/CMakeLists.txt), so
 * nms_os_crash_point stays here. */
/* POSIX.1-2008 (and XSI, as before the split). */
#define _XOPEN_SOURCE 700

#include "base/os.h"
#include "base/os-private.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#ifdef _WIN32
#include <io.h>
#endif
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

void
_nms_os_set_errno_error (GError **error, int errsv, const char *what, const char *path)
{
  g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s %s: %s", what, path, g_strerror (errsv));
}

void
nms_os_prepare_stdio (void)
{
#ifdef _WIN32
  /* Text mode would turn a length byte 0x0a into 0x0d 0x0a and end the
   * input at 0x1a; frames are binary. */
  _setmode (_fileno (stdin), _O_BINARY);
  _setmode (_fileno (stdout), _O_BINARY);
#else
  /* A browser that has gone away shows up as EPIPE on the next write and
   * ends the host normally; the default SIGPIPE would kill it first. */
  signal (SIGPIPE, SIG_IGN);
  /* A file-size limit (RLIMIT_FSIZE, ulimit -f) would kill the host with
   * SIGXFSZ in the middle of a write; ignored, the write fails with EFBIG,
   * SQLite rolls the transaction back and the request gets E_IO like on a
   * full disk. */
  signal (SIGXFSZ, SIG_IGN);
#endif
}

void
nms_os_private_umask (void)
{
  /* SQLite creates its database, WAL and shm files with 0644 & ~umask;
   * this makes them 0600 without a window where they are readable. */
  umask (077);
}

/* One read(2). On EINTR it reads again when restart is set; otherwise it
 * fails as when nothing could be read without waiting. */
static gboolean
read_once (int fd, void *buf, gsize len, gboolean restart, gsize *n_read, GError **error)
{
  ssize_t n;

  do
    n = read (fd, buf, len);
  while (n < 0 && errno == EINTR && restart);
  if (n >= 0)
    {
      *n_read = (gsize) n;
      return TRUE;
    }
  *n_read = 0;
  if (errno == EAGAIN || errno == EINTR)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "no input ready");
      return FALSE;
    }
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
               "cannot read from the browser: %s", g_strerror (errno));
  return FALSE;
}

gboolean
nms_os_read (int fd, void *buf, gsize len, gsize *n_read, GError **error)
{
  return read_once (fd, buf, len, TRUE, n_read, error);
}

/* A read that may wait for the browser. A signal that interrupts it (a
 * stop watch's nudge, os-stop.c) ends it like a descriptor with nothing to
 * read, G_IO_ERROR_WOULD_BLOCK, so that the caller looks at its loop
 * before it waits again. */
gboolean
nms_os_read_input (int fd, void *buf, gsize len, gsize *n_read, GError **error)
{
  return read_once (fd, buf, len, FALSE, n_read, error);
}

gboolean
nms_os_write_all (int fd, const void *buf, gsize len, GError **error)
{
  const guint8 *p = buf;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       "cannot write to the browser: %s", g_strerror (errno));
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

gboolean
nms_os_readable_now (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  int r;

  do
    r = poll (&pfd, 1, 0);
  while (r < 0 && errno == EINTR);
  return r > 0 && (pfd.revents & (POLLIN | POLLHUP)) != 0;
}

/* The source may recurse: GLib takes a source that may not out of the
 * poll set while it runs and puts it back after, and each of those steps
 * signals the loop's wakeup fd, so every request cost four extra system
 * calls (two eventfd writes, a poll that wakes, a read). The callbacks
 * never run a nested loop, so nothing can call them again while they run. */
guint
nms_os_add_input_watch (int fd, NmsOsInputFunc func, gpointer user_data)
{
  g_autoptr(GSource) source = g_unix_fd_source_new (fd, G_IO_IN | G_IO_HUP | G_IO_ERR);

  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) func, user_data, NULL);
  return g_source_attach (source, NULL);
}

/* Both: a core_pattern that pipes to a program (systemd-coredump) may
 * ignore RLIMIT_CORE, but the kernel dumps no process that is not
 * dumpable, and that also keeps other processes of the user from reading
 * this one's memory through /proc or ptrace. */
gboolean
nms_os_disable_core_dumps (GError **error)
{
  struct rlimit none = { 0, 0 };

#ifdef __linux__
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot make the process undumpable: %s", g_strerror (errno));
      return FALSE;
    }
#endif
  if (setrlimit (RLIMIT_CORE, &none) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot disable core dumps: %s", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

int
nms_os_pid (void)
{
  return (int) getpid ();
}

/* When process pid started, in clock ticks since boot (Linux's
 * /proc/PID/stat field 22); 0 when that cannot be read. Together with the
 * pid it names one process: a pid reused by a later process has a later
 * start time. */
guint64
nms_os_process_start_time (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  const char *p;
  int field;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  /* The command name (field 2) is in parentheses and may hold spaces or
   * parentheses itself; the fields after its last ')' are plain. */
  p = strrchr (text, ')');
  for (field = 2; p != NULL && field < 22; field++)
    p = strchr (p + 1, ' ');
  return p != NULL ? g_ascii_strtoull (p + 1, NULL, 10) : 0;
}

/* FALSE only when process pid is certainly gone: no such process, or its
 * pid now belongs to a process that started at another time. A process of
 * another user, or one whose start time is unknown, counts as alive. */
gboolean
nms_os_process_alive (int pid, guint64 start_time)
{
  guint64 now;

  if (pid <= 0)
    return FALSE;
  if (kill ((pid_t) pid, 0) != 0 && errno == ESRCH)
    return FALSE;
  if (start_time == 0 || (now = nms_os_process_start_time (pid)) == 0)
    return TRUE;
  return now == start_time;
}

guint
nms_os_user_id (void)
{
  return (guint) geteuid ();
}

/* The running program's absolute path, which is what a manifest must
 * name; NULL when the system cannot tell. */
char *
nms_os_executable_path (void)
{
  return g_file_read_link ("/proc/self/exe", NULL);
}

void
nms_os_close (int fd)
{
  close (fd);
}

/* The host needs some descriptors beyond stdio: SQLite's database, WAL
 * and shared-memory files, the change bell and its file monitor, GLib's
 * wake-up descriptors for its main loop and worker thread, a log file.
 * GLib aborts the process (g_error) when it cannot make a wake-up
 * descriptor, so the host makes sure up front that enough are free:
 * raising its soft limit to the hard one if that helps, otherwise
 * refusing to start with a message. */
gboolean
nms_os_ensure_free_fds (guint wanted, GError **error)
{
  int fds[64];
  guint n = 0, i;
  struct rlimit lim;
  gboolean raised = FALSE;
  int errsv = 0;

  g_return_val_if_fail (wanted <= G_N_ELEMENTS (fds), FALSE);
  for (;;)
    {
      while (n < wanted && (fds[n] = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        n++;
      errsv = n < wanted ? errno : 0;
      if (n == wanted || (errsv != EMFILE && errsv != ENFILE) || raised)
        break;
      /* Only the soft limit: raising it up to the hard one needs no
       * privilege. */
      raised = TRUE;
      if (getrlimit (RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == lim.rlim_max)
        break;
      lim.rlim_cur = lim.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &lim) != 0)
        break;
    }
  for (i = 0; i < n; i++)
    close (fds[i]);
  if (n == wanted || (errsv != EMFILE && errsv != ENFILE))
    return TRUE;   /* enough, or nothing to tell (no /dev/null): GLib will say */
  if (getrlimit (RLIMIT_NOFILE, &lim) != 0)
    lim.rlim_cur = lim.rlim_max = 0;
  g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
               "only %u file descriptors are free (the limit, ulimit -n, is %llu, hard %llu) and nmstore needs "
               "%u; raise the limit where the browser is started (ulimit -n 1024), or close descriptors the "
               "browser passes on", n, (unsigned long long) lim.rlim_cur, (unsigned long long) lim.rlim_max,
               wanted);
  return FALSE;
}

/* Reads one line into buf, without its line end. fd < 0 means the
 * controlling terminal, with the prompt shown and echo off; otherwise the
 * line comes from fd (--passphrase-fd), for scripts. Byte by byte, so no
 * stdio buffer keeps a copy of the passphrase. */
gboolean
nms_os_read_passphrase (int fd, const char *prompt, char *buf, gsize size, gsize *len, GError **error)
{
  struct termios saved, quiet;
  gboolean own = fd < 0, restore = FALSE, ok = TRUE;
  gsize n = 0;

  if (own)
    {
      fd = open ("/dev/tty", O_RDWR | O_CLOEXEC);
      if (fd < 0)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH,
                       "no terminal to ask for the passphrase on (%s); give it with --passphrase-fd N",
                       g_strerror (errno));
          return FALSE;
        }
      if (tcgetattr (fd, &saved) == 0)
        {
          quiet = saved;
          quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHONL);
          restore = tcsetattr (fd, TCSAFLUSH, &quiet) == 0;
        }
      nms_os_write_all (fd, prompt, strlen (prompt), NULL);
    }
  for (;;)
    {
      char c;
      gsize got = 0;

      if (!nms_os_read (fd, &c, 1, &got, error))
        {
          ok = FALSE;
          break;
        }
      if (got == 0 || c == '\n')
        break;
      if (n + 1 >= size)
        {
          g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH, "the passphrase is longer than %" G_GSIZE_FORMAT " bytes",
                       size - 1);
          ok = FALSE;
          break;
        }
      buf[n++] = c;
    }
  if (ok && n > 0 && buf[n - 1] == '\r')
    n--;
  if (own)
    {
      if (restore)
        tcsetattr (fd, TCSAFLUSH, &saved);
      nms_os_write_all (fd, "\n", 1, NULL);
      close (fd);
    }
  if (!ok)
    {
      memset (buf, 0, size);
      return FALSE;
    }
  buf[n] = '\0';
  *len = n;
  return TRUE;
}

/* Tests of crash safety set NMSTORE_CRASH_AT to a named point; reaching
 * it ends the process as a power cut or SIGKILL would, with no cleanup.
 * Only nmstore-test, the copy of the program the tests build with
 * NMSTORE_TEST_HOOKS (tests/CMakeLists.txt), reads it: the nmstore that is
 * installed and packaged cannot be told to kill itself. */
void
nms_os_crash_point (const char *name)
{
#ifdef NMSTORE_TEST_HOOKS
  if (g_strcmp0 (g_getenv ("NMSTORE_CRASH_AT"), name) == 0)
    kill (getpid (), SIGKILL);
#else
  (void) name;
#endif
}
