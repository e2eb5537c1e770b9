/* os.c: the POSIX implementation of the operating-system seam (os.h). */
/* XSI for S_ISVTX (the sticky bit); POSIX.1-2008 otherwise. */
#define _XOPEN_SOURCE 700

#include "nmstore/os.h"
#include "nmstore/error.h"

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

static void
set_errno_error (GError **error, int errsv, const char *what, const char *path)
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
#endif
}

void
nms_os_private_umask (void)
{
  /* SQLite creates its database, WAL and shm files with 0644 & ~umask;
   * this makes them 0600 without a window where they are readable. */
  umask (077);
}

gboolean
nms_os_read (int fd, void *buf, gsize len, gsize *n_read, GError **error)
{
  for (;;)
    {
      ssize_t n = read (fd, buf, len);
      if (n >= 0)
        {
          *n_read = (gsize) n;
          return TRUE;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        {
          *n_read = 0;
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "no input ready");
          return FALSE;
        }
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot read from the browser: %s", g_strerror (errno));
      return FALSE;
    }
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

/* Why a folder that exists is not one nmstore may keep data in, with the
 * fix; NULL when it is fine. OpenSSH's rule for ~/.ssh: the folder is
 * checked, never repaired, because a folder nmstore did not make may be
 * someone else's (a shared /tmp, a folder a link points at), and chmodding
 * it would change what its owner decided. */
static char *
unfit_dir_reason (const char *path, const struct stat *st)
{
  if (S_ISLNK (st->st_mode))
    {
      g_autofree char *target = g_file_read_link (path, NULL);
      return g_strdup_printf ("%s is a symbolic link (to %s); nmstore does not follow links for its folders, "
                              "so that a link cannot send the data elsewhere: replace the link with a real "
                              "folder, or set NMSTORE_HOME to the real folder",
                              path, target ? target : "?");
    }
  if (!S_ISDIR (st->st_mode))
    return g_strdup_printf ("%s is not a folder; move it out of the way, or set NMSTORE_HOME to another folder",
                            path);
  if (st->st_uid != geteuid ())
    return g_strdup_printf ("%s belongs to uid %u, not to this user (uid %u); nmstore keeps data only in "
                            "folders of its own user: set NMSTORE_HOME to a folder of yours, or fix the owner "
                            "(chown)", path, (unsigned) st->st_uid, (unsigned) geteuid ());
  if ((st->st_mode & 077) != 0)
    return g_strdup_printf ("%s has mode %04o, so other users can reach it; nmstore does not change the "
                            "permissions of a folder it did not make: if the folder is yours alone, run: "
                            "chmod 700 %s", path, (unsigned) (st->st_mode & 07777), path);
  return NULL;
}

/* Makes path a private folder: created 0700 when missing (with any
 * missing parents, which are then nmstore's own), refused when it exists
 * but is a link, is looser than 0700, or is not this user's. */
gboolean
nms_os_make_private_dir (const char *path, GError **error)
{
  struct stat st;
  g_autofree char *reason = NULL;

  if (mkdir (path, 0700) != 0 && errno != EEXIST)
    {
      g_autofree char *parent = g_path_get_dirname (path);

      if (errno != ENOENT || g_str_equal (parent, path) || g_mkdir_with_parents (parent, 0700) != 0
          || (mkdir (path, 0700) != 0 && errno != EEXIST))
        {
          set_errno_error (error, errno, "cannot create the folder", path);
          return FALSE;
        }
    }
  /* lstat, whether just made or not: between the two calls another
   * process may have put something else there. */
  if (lstat (path, &st) != 0)
    {
      set_errno_error (error, errno, "cannot inspect", path);
      return FALSE;
    }
  if ((reason = unfit_dir_reason (path, &st)) != NULL)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s", reason);
      return FALSE;
    }
  return TRUE;
}

/* A file inside one of nmstore's private folders: it must be a regular
 * file of this user, not a link; one that is looser than 0600 is ours
 * and is tightened (the folder around it kept others out anyway). */
gboolean
nms_os_check_private (const char *path, gboolean is_dir, GError **error)
{
  struct stat st;

  if (is_dir)
    return nms_os_make_private_dir (path, error);
  if (lstat (path, &st) != 0)
    {
      set_errno_error (error, errno, "cannot inspect", path);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode) || st.st_uid != geteuid ())
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                   "refusing to use %s: it is %s, owned by uid %u; nmstore's files are regular files of their "
                   "user (uid %u). Move it out of the way (a backup can be restored with nmstore restore)",
                   path, S_ISLNK (st.st_mode) ? "a symbolic link" : S_ISREG (st.st_mode) ? "a file" : "not a regular file",
                   (unsigned) st.st_uid, (unsigned) geteuid ());
      return FALSE;
    }
  if ((st.st_mode & 07777) != 0600 && chmod (path, 0600) != 0)
    {
      set_errno_error (error, errno, "cannot restrict the permissions of", path);
      return FALSE;
    }
  return TRUE;
}

gboolean
nms_os_fsync_dir (const char *path, GError **error)
{
  /* A directory descriptor holds no POSIX record locks, so opening and
   * closing it cannot disturb SQLite's locks on the files inside. */
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r;

  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot open the directory", path);
      return FALSE;
    }
  r = fsync (fd);
  if (r != 0)
    {
      int errsv = errno;
      close (fd);
      set_errno_error (error, errsv, "cannot sync the directory", path);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

guint
nms_os_add_input_watch (int fd, NmsOsInputFunc func, gpointer user_data)
{
  return g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, func, user_data);
}

void
nms_os_add_termination_watch (GSourceFunc func, gpointer user_data)
{
  g_unix_signal_add (SIGTERM, func, user_data);
  g_unix_signal_add (SIGINT, func, user_data);
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

FILE *
nms_os_fopen_private_append (const char *path)
{
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    return NULL;
  return fdopen (fd, "a");
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

/* Opens (creating, 0600) a file to write to; -1 with error on failure. */
int
nms_os_open_private_file (const char *path, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    set_errno_error (error, errno, "cannot open", path);
  return fd;
}

/* Sets fd's file times to now. File monitors report it as an attribute
 * change, which GLib's inotify backend delivers at once; a plain write is
 * a "modification", which it batches for up to 100 ms after the first. */
gboolean
nms_os_poke_file (int fd, GError **error)
{
  if (futimens (fd, NULL) == 0)
    return TRUE;
  g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot touch the change bell: %s", g_strerror (errno));
  return FALSE;
}

void
nms_os_close (int fd)
{
  close (fd);
}

/* Creates an empty file readable by its owner only; an existing file is
 * left as it is (and checked by nms_os_check_private). */
gboolean
nms_os_create_private_file (const char *path, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0 && errno != EEXIST)
    {
      set_errno_error (error, errno, "cannot create", path);
      return FALSE;
    }
  if (fd >= 0)
    close (fd);
  return TRUE;
}

/* Creates path (which must not exist) as 0600 holding data, durably: a
 * key file that vanished in a crash would lock its store for good. */
gboolean
nms_os_write_new_private_file (const char *path, const void *data, gsize len, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  gboolean ok;

  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot create", path);
      if (errno == EEXIST)
        g_prefix_error (error, "refusing to overwrite an existing key file: ");
      return FALSE;
    }
  ok = nms_os_write_all (fd, data, len, error);
  if (ok && fsync (fd) != 0)
    {
      set_errno_error (error, errno, "cannot sync", path);
      ok = FALSE;
    }
  if (close (fd) != 0 && ok)
    {
      set_errno_error (error, errno, "cannot close", path);
      ok = FALSE;
    }
  if (!ok)
    {
      unlink (path);
      return FALSE;
    }
  return nms_os_fsync_dir (dir, error);
}

/* Reads a whole small file that must be ours and readable by nobody else:
 * a key file that others could read has already given its key away. */
gboolean
nms_os_read_private_file (const char *path, void *buf, gsize size, gsize *n_read, GError **error)
{
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  gsize got = 0;

  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot open", path);
      return FALSE;
    }
  if (fstat (fd, &st) != 0)
    {
      set_errno_error (error, errno, "cannot inspect", path);
      close (fd);
      return FALSE;
    }
  if (st.st_uid != geteuid () || (st.st_mode & 077) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH,
                   "%s must be a regular file owned by you (uid %u) with mode 0600, but has owner %u and mode %04o; "
                   "if someone else could read it, treat the key as exposed and run nmstore rekey",
                   path, (unsigned) geteuid (), (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
      close (fd);
      return FALSE;
    }
  if ((guint64) st.st_size > size)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_AUTH, "%s has %lld bytes; a key file has %" G_GSIZE_FORMAT,
                   path, (long long) st.st_size, size);
      close (fd);
      return FALSE;
    }
  while (got < size)
    {
      gsize n = 0;
      if (!nms_os_read (fd, (guint8 *) buf + got, size - got, &n, error))
        {
          g_prefix_error (error, "%s: ", path);
          close (fd);
          return FALSE;
        }
      if (n == 0)
        break;
      got += n;
    }
  close (fd);
  *n_read = got;
  return TRUE;
}

/* Syncs a file that nmstore wrote by name (a backup) to stable storage. */
gboolean
nms_os_fsync_file (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  int r;

  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot open", path);
      return FALSE;
    }
  r = fsync (fd);
  if (r != 0)
    {
      int errsv = errno;
      close (fd);
      set_errno_error (error, errsv, "cannot sync", path);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* FALSE with a reason when others may rename or replace entries of the
 * folder dir: writable by group or others without the sticky bit (a
 * shared /tmp has it: there, only an entry's owner may rename it). */
gboolean
nms_os_dir_entries_safe (const char *dir, GError **error)
{
  struct stat st;

  if (stat (dir, &st) != 0)
    {
      set_errno_error (error, errno, "cannot inspect the folder", dir);
      return FALSE;
    }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                   "refusing to write into %s: other users can write there (mode %04o) and it has no sticky "
                   "bit, so they could swap the file while it is written; choose a folder of your own",
                   dir, (unsigned) (st.st_mode & 07777));
      return FALSE;
    }
  return TRUE;
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
 * it ends the process as a power cut or SIGKILL would, with no cleanup. */
void
nms_os_crash_point (const char *name)
{
  if (g_strcmp0 (g_getenv ("NMSTORE_CRASH_AT"), name) == 0)
    kill (getpid (), SIGKILL);
}
