/* SPDX-License-Identifier: MIT */
/* os-files.c: the POSIX implementation of os.h's private files and
 * folders: making and checking nmstore's folders and the files in them,
 * writing them durably or atomically, reading them back. The process and
 * stdio side of the seam (and nms_os_crash_point, which nmstore-test
 * recompiles with its hooks) is in os.c. */
/* XSI for S_ISVTX (the sticky bit); POSIX.1-2008 otherwise. */
#define _XOPEN_SOURCE 700

#include "base/os.h"
#include "base/os-private.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
          _nms_os_set_errno_error (error, errno, "cannot create the folder", path);
          return FALSE;
        }
    }
  /* lstat, whether just made or not: between the two calls another
   * process may have put something else there. */
  if (lstat (path, &st) != 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot inspect", path);
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
      _nms_os_set_errno_error (error, errno, "cannot inspect", path);
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
      _nms_os_set_errno_error (error, errno, "cannot restrict the permissions of", path);
      return FALSE;
    }
  return TRUE;
}

/* Opens path with flags and syncs it to stable storage; what names it in
 * the messages ("the directory", or nothing for a file). */
static gboolean
fsync_path (const char *path, int flags, const char *what, GError **error)
{
  int fd = open (path, flags | O_CLOEXEC);
  g_autofree char *open_doing = g_strconcat ("cannot open", what, NULL);
  g_autofree char *sync_doing = g_strconcat ("cannot sync", what, NULL);
  int errsv;

  if (fd < 0)
    {
      _nms_os_set_errno_error (error, errno, open_doing, path);
      return FALSE;
    }
  if (fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  errsv = errno;
  close (fd);
  _nms_os_set_errno_error (error, errsv, sync_doing, path);
  return FALSE;
}

gboolean
nms_os_fsync_dir (const char *path, GError **error)
{
  /* A directory descriptor holds no POSIX record locks, so opening and
   * closing it cannot disturb SQLite's locks on the files inside. */
  return fsync_path (path, O_RDONLY | O_DIRECTORY, " the directory", error);
}

/* Checks that an open file is a regular file of this user that nobody
 * else can read or write; what names it in errors is path. */
static gboolean
check_own_regular_fd (int fd, const char *path, const char *fix, GError **error)
{
  struct stat st;

  if (fstat (fd, &st) != 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot inspect", path);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    {
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO,
                   "refusing to use %s: it must be a regular file of this user (uid %u) with mode 0600, but it "
                   "is %s with owner %u and mode %04o; %s",
                   path, (unsigned) geteuid (), S_ISREG (st.st_mode) ? "a file" : S_ISFIFO (st.st_mode) ? "a FIFO"
                   : "not a regular file", (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777), fix);
      return FALSE;
    }
  return TRUE;
}

/* Opens a file to write to: created exclusively (0600) when missing;
 * when it exists, it is opened without following a link and without
 * blocking (a FIFO would hang the open) and must be a private regular
 * file of this user. flags: O_APPEND or 0. -1 with error on failure. */
static int
open_private_for_writing (const char *path, int flags, const char *fix, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | flags, 0600);

  if (fd >= 0)
    return fd;
  if (errno != EEXIST)
    {
      _nms_os_set_errno_error (error, errno, "cannot create", path);
      return -1;
    }
  fd = open (path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | flags);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "cannot open %s: %s%s", path, g_strerror (errsv),
                   errsv == ELOOP ? " (it is a symbolic link, which nmstore does not follow)"
                   : errsv == ENXIO ? " (it is a FIFO or socket, not a file)" : "");
      g_prefix_error (error, "%s: ", fix);
      return -1;
    }
  if (!check_own_regular_fd (fd, path, fix, error))
    {
      close (fd);
      return -1;
    }
  /* Back to blocking writes: O_NONBLOCK only guarded the open. */
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

/* The change bell: opened by every host of an origin, created by the
 * first. */
int
nms_os_open_private_file (const char *path, GError **error)
{
  return open_private_for_writing (path, 0, "remove it; nmstore makes it again", error);
}

/* The log file named in nmstore.conf: appended to, made 0600 when
 * missing, and refused when it is a link, a FIFO (which would block the
 * host at its first message) or readable by others. */
FILE *
nms_os_fopen_private_append (const char *path, GError **error)
{
  g_autofree char *fix = g_strdup_printf ("point [log] file at a file of your own (chmod 600 %s), or remove "
                                          "the line", path);
  int fd = open_private_for_writing (path, O_APPEND, fix, error);
  FILE *f;

  if (fd < 0)
    return NULL;
  if ((f = fdopen (fd, "a")) == NULL)
    {
      _nms_os_set_errno_error (error, errno, "cannot open", path);
      close (fd);
    }
  return f;
}

/* An existing file, opened only to be asked about later (not a link). */
int
nms_os_open_to_watch (const char *path, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);

  if (fd < 0)
    _nms_os_set_errno_error (error, errno, "cannot open", path);
  return fd;
}

/* TRUE when the file open as fd has no name left: deleted, or replaced by
 * another file renamed over its name. FALSE when fstat fails too. */
gboolean
nms_os_file_unlinked (int fd)
{
  GStatBuf st;

  return fstat (fd, &st) == 0 && st.st_nlink == 0;
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

/* Creates path (which must not exist yet) as a private file of size
 * bytes whose blocks are allocated now, so that removing it later gives
 * that much space back to a full disk. FALSE, with nothing left behind,
 * when the disk has no room for it. */
gboolean
nms_os_create_reserve (const char *path, gsize size, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  int rc;

  if (fd < 0)
    {
      if (errno == EEXIST)
        return nms_os_check_private (path, FALSE, error);
      _nms_os_set_errno_error (error, errno, "cannot create", path);
      return FALSE;
    }
  rc = posix_fallocate (fd, 0, (off_t) size);
  close (fd);
  if (rc != 0)
    {
      unlink (path);
      _nms_os_set_errno_error (error, rc, "cannot allocate room for", path);
      return FALSE;
    }
  return TRUE;
}

/* Creates an empty file readable by its owner only; an existing file is
 * left as it is (and checked by nms_os_check_private). */
gboolean
nms_os_create_private_file (const char *path, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0 && errno != EEXIST)
    {
      _nms_os_set_errno_error (error, errno, "cannot create", path);
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
      _nms_os_set_errno_error (error, errno, "cannot create", path);
      if (errno == EEXIST)
        g_prefix_error (error, "refusing to overwrite an existing key file: ");
      return FALSE;
    }
  ok = nms_os_write_all (fd, data, len, error);
  if (ok && fsync (fd) != 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot sync", path);
      ok = FALSE;
    }
  if (close (fd) != 0 && ok)
    {
      _nms_os_set_errno_error (error, errno, "cannot close", path);
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
  /* O_NONBLOCK: a FIFO put where the key file should be would otherwise
   * hang the open until somebody writes to it. */
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  gsize got = 0;

  if (fd < 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot open", path);
      if (errno == ELOOP)
        g_prefix_error (error, "a key file must not be a symbolic link: ");
      return FALSE;
    }
  if (fstat (fd, &st) != 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot inspect", path);
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

/* Replaces path atomically with a new file of the given mode holding
 * data: the new file is created exclusively (O_EXCL|O_NOFOLLOW) under a
 * random name in the same folder, given its mode through its descriptor
 * (never by name, which a link could redirect), written, synced and
 * renamed over path. A reader sees the old file or the new. */
gboolean
nms_os_write_file_atomic (const char *path, const void *data, gsize len, int mode, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  gboolean ok;

  if (fd < 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot create a file in", dir);
      return FALSE;
    }
  ok = fchmod (fd, (mode_t) mode) == 0;
  if (!ok)
    _nms_os_set_errno_error (error, errno, "cannot set the permissions of", tmp);
  ok = ok && nms_os_write_all (fd, data, len, error);
  if (ok && fsync (fd) != 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot sync", tmp);
      ok = FALSE;
    }
  if (close (fd) != 0 && ok)
    {
      _nms_os_set_errno_error (error, errno, "cannot close", tmp);
      ok = FALSE;
    }
  if (ok && rename (tmp, path) != 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot replace", path);
      ok = FALSE;
    }
  if (!ok)
    unlink (tmp);
  return ok;
}

/* Creates the folder path with the given mode (0755 for the browsers'
 * manifest folders), set through chmod only when this call made it:
 * an existing folder is left as its owner made it. FALSE with errno set
 * when mkdir fails for another reason than the folder existing. */
gboolean
nms_os_make_public_dir (const char *path, int mode, GError **error)
{
  if (mkdir (path, (mode_t) mode) != 0)
    {
      if (errno == EEXIST)
        return TRUE;
      _nms_os_set_errno_error (error, errno, "cannot create the folder", path);
      return FALSE;
    }
  /* The umask (077 in nmstore) took bits away; the folder is new and
   * nobody else's. */
  if (chmod (path, (mode_t) mode) != 0)
    {
      _nms_os_set_errno_error (error, errno, "cannot set the permissions of", path);
      return FALSE;
    }
  return TRUE;
}

/* Reads a whole small file that must be a regular file: nmstore.conf. A
 * FIFO there would hang a plain open and read forever, and a link could
 * make the host read any file; both are refused. Errors opening it are
 * G_FILE_ERROR, so that a caller can tell a missing file apart. */
gboolean
nms_os_read_regular_file (const char *path, gsize max_size, char **contents, gsize *length, GError **error)
{
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  g_autofree char *buf = NULL;
  gsize got = 0;

  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv), "cannot open %s: %s%s", path,
                   g_strerror (errsv), errsv == ELOOP ? " (a symbolic link, which nmstore does not follow: "
                                                        "put the file itself there)" : "");
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || (guint64) st.st_size > max_size)
    {
      int errsv = errno;
      if (!S_ISREG (st.st_mode))
        g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s is not a regular file (%s); replace it with a file",
                     path, S_ISFIFO (st.st_mode) ? "a FIFO" : S_ISDIR (st.st_mode) ? "a folder" : "a device or socket");
      else if ((guint64) st.st_size > max_size)
        g_set_error (error, NMS_ERROR, NMS_ERROR_IO, "%s has %lld bytes, more than the %" G_GSIZE_FORMAT
                     " such a file may have", path, (long long) st.st_size, max_size);
      else
        _nms_os_set_errno_error (error, errsv, "cannot inspect", path);
      close (fd);
      return FALSE;
    }
  buf = g_malloc ((gsize) st.st_size + 1);
  while (got < (gsize) st.st_size)
    {
      gsize n = 0;
      if (!nms_os_read (fd, buf + got, (gsize) st.st_size - got, &n, error))
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
  buf[got] = '\0';
  *contents = g_steal_pointer (&buf);
  *length = got;
  return TRUE;
}

/* Syncs a file that nmstore wrote by name (a backup) to stable storage. */
gboolean
nms_os_fsync_file (const char *path, GError **error)
{
  return fsync_path (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, "", error);
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
      _nms_os_set_errno_error (error, errno, "cannot inspect the folder", dir);
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
