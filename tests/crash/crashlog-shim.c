/* SPDX-License-Identifier: MIT */
/* crashlog-shim.c: libnmt-crashlog.so, an LD_PRELOAD library for the
 * power-loss tests only (never linked into nmstore, never installed).
 *
 * Loaded into a real nmstore process, it interposes the libc calls that
 * change files (open, write, pwrite, writev, ftruncate, fallocate, fsync,
 * fdatasync, sync, rename, link, unlink, mkdir, rmdir, close, dup) and,
 * for every one that succeeds on a file or directory under
 * $NMT_CRASHLOG_ROOT, appends a record (crashlog.h) to $NMT_CRASHLOG: the
 * file, the offset, the bytes written, truncations, and each sync point.
 * SQLite, GLib and nmstore itself all reach the kernel through these
 * symbols, so the log is everything the process did to its files.
 *
 * Each call and its record happen under an flock on the log, taken by
 * every traced process and by the test when it writes its marks, so the
 * log's order is the order in which the calls took effect.
 *
 * NMT_CRASHLOG_DROP_SYNC=1 leaves every sync out of the log (the calls
 * still run): to the explorer the process then never made anything
 * durable, which is how the explorer's self-check makes sure it can fail. */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE

#include "crashlog.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536

static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static unsigned char tracked[MAX_FDS];
static char root[PATH_MAX];
static size_t root_len;
static char log_path[PATH_MAX];
static int log_fd = -1;
static pid_t log_pid;
static int drop_sync;
static int enabled;

#define REAL(name) static __typeof__ (name) *real_##name
REAL (open); REAL (open64); REAL (openat); REAL (openat64);
REAL (write); REAL (pwrite); REAL (pwrite64); REAL (writev); REAL (pwritev);
REAL (ftruncate); REAL (ftruncate64); REAL (truncate);
REAL (fallocate); REAL (fallocate64); REAL (posix_fallocate); REAL (posix_fallocate64);
REAL (fsync); REAL (fdatasync); REAL (sync); REAL (syncfs);
REAL (rename); REAL (renameat); REAL (renameat2);
REAL (unlink); REAL (unlinkat); REAL (mkdir); REAL (mkdirat); REAL (rmdir);
REAL (link); REAL (linkat);
REAL (close); REAL (dup); REAL (dup2); REAL (dup3);

#define LOAD(name) real_##name = (__typeof__ (real_##name)) dlsym (RTLD_NEXT, #name)

__attribute__ ((constructor)) static void
init (void)
{
  const char *r = getenv ("NMT_CRASHLOG_ROOT");
  const char *l = getenv ("NMT_CRASHLOG");

  LOAD (open); LOAD (open64); LOAD (openat); LOAD (openat64);
  LOAD (write); LOAD (pwrite); LOAD (pwrite64); LOAD (writev); LOAD (pwritev);
  LOAD (ftruncate); LOAD (ftruncate64); LOAD (truncate);
  LOAD (fallocate); LOAD (fallocate64); LOAD (posix_fallocate); LOAD (posix_fallocate64);
  LOAD (fsync); LOAD (fdatasync); LOAD (sync); LOAD (syncfs);
  LOAD (rename); LOAD (renameat); LOAD (renameat2);
  LOAD (unlink); LOAD (unlinkat); LOAD (mkdir); LOAD (mkdirat); LOAD (rmdir);
  LOAD (link); LOAD (linkat);
  LOAD (close); LOAD (dup); LOAD (dup2); LOAD (dup3);
  if (r == NULL || l == NULL || *r != '/' || strlen (r) >= sizeof root || strlen (l) >= sizeof log_path)
    return;
  strcpy (root, r);
  root_len = strlen (root);
  while (root_len > 1 && root[root_len - 1] == '/')
    root[--root_len] = '\0';
  strcpy (log_path, l);
  drop_sync = getenv ("NMT_CRASHLOG_DROP_SYNC") != NULL && strcmp (getenv ("NMT_CRASHLOG_DROP_SYNC"), "1") == 0;
  enabled = 1;
}

/* The absolute form of path as seen from dirfd, in buf; NULL when it
 * cannot be told. */
static const char *
absolute (int dirfd, const char *path, char *buf, size_t size)
{
  char base[PATH_MAX];

  if (path == NULL)
    return NULL;
  if (path[0] == '/')
    return path;
  if (dirfd == AT_FDCWD)
    {
      if (getcwd (base, sizeof base) == NULL)
        return NULL;
    }
  else
    {
      char link[64];
      ssize_t n;

      snprintf (link, sizeof link, "/proc/self/fd/%d", dirfd);
      n = readlink (link, base, sizeof base - 1);
      if (n < 0)
        return NULL;
      base[n] = '\0';
    }
  if ((size_t) snprintf (buf, size, "%s/%s", base, path) >= size)
    return NULL;
  return buf;
}

static int
under_root (const char *abs)
{
  return enabled && abs != NULL && strncmp (abs, root, root_len) == 0
         && (abs[root_len] == '/' || abs[root_len] == '\0');
}

static int
is_tracked (int fd)
{
  return enabled && fd >= 0 && fd < MAX_FDS && tracked[fd];
}

static void
set_tracked (int fd, int on)
{
  if (fd >= 0 && fd < MAX_FDS)
    tracked[fd] = (unsigned char) on;
}

static void
begin (void)
{
  pthread_mutex_lock (&lock);
  if (log_fd < 0 || log_pid != getpid ())
    {
      if (log_fd >= 0)
        real_close (log_fd);
      log_fd = real_open (log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
      log_pid = getpid ();
      set_tracked (log_fd, 0);
    }
  if (log_fd >= 0)
    flock (log_fd, LOCK_EX);
}

static void
end (void)
{
  if (log_fd >= 0)
    flock (log_fd, LOCK_UN);
  pthread_mutex_unlock (&lock);
}

/* Appends one record: header, paths, then data from iov (iovcnt pieces,
 * data_len bytes in all). */
static void
record (NmtRec *rec, const char *path, const char *path2, const struct iovec *iov, int iovcnt, uint64_t data_len)
{
  struct iovec parts[3 + 64];
  int n = 0, i;
  size_t total, done = 0;

  if (log_fd < 0)
    return;
  rec->magic = NMT_CRASHLOG_MAGIC;
  rec->pid = (int32_t) getpid ();
  rec->path_len = path ? (uint32_t) strlen (path) : 0;
  rec->path2_len = path2 ? (uint32_t) strlen (path2) : 0;
  rec->data_len = data_len;
  parts[n++] = (struct iovec) { rec, sizeof *rec };
  if (rec->path_len)
    parts[n++] = (struct iovec) { (void *) path, rec->path_len };
  if (rec->path2_len)
    parts[n++] = (struct iovec) { (void *) path2, rec->path2_len };
  /* Only the bytes the call wrote: data_len may end inside a piece. */
  for (i = 0; i < iovcnt && i < 64 && done < data_len; i++)
    {
      size_t take = iov[i].iov_len < data_len - done ? iov[i].iov_len : data_len - done;
      parts[n++] = (struct iovec) { iov[i].iov_base, take };
      done += take;
    }
  total = 0;
  for (i = 0; i < n; i++)
    total += parts[i].iov_len;
  /* The log is ours alone under the flock: a short write just goes on. */
  for (i = 0; i < n;)
    {
      ssize_t w = real_writev (log_fd, parts + i, n - i);
      if (w <= 0)
        {
          if (w < 0 && errno == EINTR)
            continue;
          return;
        }
      total -= (size_t) w;
      while (i < n && (size_t) w >= parts[i].iov_len)
        w -= (ssize_t) parts[i++].iov_len;
      if (i < n)
        {
          parts[i].iov_base = (char *) parts[i].iov_base + w;
          parts[i].iov_len -= (size_t) w;
        }
    }
}

static void
simple (NmtRecType type, int fd, int fd2, const char *path, const char *path2, uint64_t a, uint64_t b, uint64_t c)
{
  NmtRec rec = { .type = type, .fd = fd, .fd2 = fd2, .a = a, .b = b, .c = c };
  record (&rec, path, path2, NULL, 0, 0);
}

/* Every open goes through here. */
static int
do_open (int dirfd, const char *path, int flags, mode_t mode, int use_at)
{
  char buf[PATH_MAX];
  const char *abs = enabled ? absolute (dirfd, path, buf, sizeof buf) : NULL;
  struct stat st;
  int fd, existed, saved;

  if (!under_root (abs))
    {
      fd = use_at ? real_openat (dirfd, path, flags, mode) : real_open (path, flags, mode);
      if (fd >= 0)
        set_tracked (fd, 0);
      return fd;
    }
  begin ();
  existed = lstat (abs, &st) == 0;
  fd = use_at ? real_openat (dirfd, path, flags, mode) : real_open (path, flags, mode);
  saved = errno;
  if (fd >= 0)
    {
      struct stat now;
      int is_dir = fstat (fd, &now) == 0 && S_ISDIR (now.st_mode);
      set_tracked (fd, 1);
      simple (NMT_REC_OPEN, fd, -1, abs, NULL, (uint64_t) flags, !existed, is_dir);
    }
  end ();
  errno = saved;
  return fd;
}

static mode_t
mode_arg (int flags, va_list ap)
{
  return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t) va_arg (ap, int) : 0;
}

int
open (const char *path, int flags, ...)
{
  va_list ap;
  mode_t mode;
  va_start (ap, flags);
  mode = mode_arg (flags, ap);
  va_end (ap);
  return do_open (AT_FDCWD, path, flags, mode, 0);
}

int
open64 (const char *path, int flags, ...)
{
  va_list ap;
  mode_t mode;
  va_start (ap, flags);
  mode = mode_arg (flags, ap);
  va_end (ap);
  return do_open (AT_FDCWD, path, flags | O_LARGEFILE, mode, 0);
}

int
openat (int dirfd, const char *path, int flags, ...)
{
  va_list ap;
  mode_t mode;
  va_start (ap, flags);
  mode = mode_arg (flags, ap);
  va_end (ap);
  return do_open (dirfd, path, flags, mode, 1);
}

int
openat64 (int dirfd, const char *path, int flags, ...)
{
  va_list ap;
  mode_t mode;
  va_start (ap, flags);
  mode = mode_arg (flags, ap);
  va_end (ap);
  return do_open (dirfd, path, flags | O_LARGEFILE, mode, 1);
}

int __open_2 (const char *path, int flags);
int __open64_2 (const char *path, int flags);
int __openat_2 (int dirfd, const char *path, int flags);
int __openat64_2 (int dirfd, const char *path, int flags);
int creat64 (const char *path, mode_t mode);

int __open_2 (const char *path, int flags) { return do_open (AT_FDCWD, path, flags, 0, 0); }
int __open64_2 (const char *path, int flags) { return do_open (AT_FDCWD, path, flags | O_LARGEFILE, 0, 0); }
int __openat_2 (int dirfd, const char *path, int flags) { return do_open (dirfd, path, flags, 0, 1); }
int __openat64_2 (int dirfd, const char *path, int flags) { return do_open (dirfd, path, flags | O_LARGEFILE, 0, 1); }
int creat (const char *path, mode_t mode) { return do_open (AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0); }
int creat64 (const char *path, mode_t mode) { return do_open (AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode, 0); }

/* Where write() or writev() on fd is about to write. */
static off_t
current_offset (int fd)
{
  int fl = fcntl (fd, F_GETFL);
  struct stat st;

  if (fl >= 0 && (fl & O_APPEND))
    return fstat (fd, &st) == 0 ? st.st_size : 0;
  return lseek (fd, 0, SEEK_CUR);
}

static void
record_write (int fd, off_t off, const struct iovec *iov, int iovcnt, ssize_t n)
{
  NmtRec rec = { .type = NMT_REC_WRITE, .fd = fd, .fd2 = -1, .a = (uint64_t) off };
  if (n > 0)
    record (&rec, NULL, NULL, iov, iovcnt, (uint64_t) n);
}

ssize_t
write (int fd, const void *buf, size_t count)
{
  ssize_t n;
  off_t off;
  int saved;
  struct iovec iov = { (void *) buf, count };

  if (!is_tracked (fd))
    return real_write (fd, buf, count);
  begin ();
  off = current_offset (fd);
  n = real_write (fd, buf, count);
  saved = errno;
  record_write (fd, off, &iov, 1, n);
  end ();
  errno = saved;
  return n;
}

static ssize_t
do_pwrite (int fd, const void *buf, size_t count, off_t off)
{
  ssize_t n;
  int saved;
  struct iovec iov = { (void *) buf, count };

  if (!is_tracked (fd))
    return real_pwrite64 (fd, buf, count, off);
  begin ();
  n = real_pwrite64 (fd, buf, count, off);
  saved = errno;
  record_write (fd, off, &iov, 1, n);
  end ();
  errno = saved;
  return n;
}

ssize_t pwrite (int fd, const void *buf, size_t count, off_t off) { return do_pwrite (fd, buf, count, off); }
ssize_t pwrite64 (int fd, const void *buf, size_t count, off64_t off) { return do_pwrite (fd, buf, count, off); }

ssize_t
writev (int fd, const struct iovec *iov, int iovcnt)
{
  ssize_t n;
  off_t off;
  int saved;

  if (!is_tracked (fd))
    return real_writev (fd, iov, iovcnt);
  begin ();
  off = current_offset (fd);
  n = real_writev (fd, iov, iovcnt);
  saved = errno;
  record_write (fd, off, iov, iovcnt, n);
  end ();
  errno = saved;
  return n;
}

ssize_t
pwritev (int fd, const struct iovec *iov, int iovcnt, off_t off)
{
  ssize_t n;
  int saved;

  if (!is_tracked (fd))
    return real_pwritev (fd, iov, iovcnt, off);
  begin ();
  n = real_pwritev (fd, iov, iovcnt, off);
  saved = errno;
  record_write (fd, off, iov, iovcnt, n);
  end ();
  errno = saved;
  return n;
}

static int
do_ftruncate (int fd, off_t len)
{
  int r, saved;

  if (!is_tracked (fd))
    return real_ftruncate64 (fd, len);
  begin ();
  r = real_ftruncate64 (fd, len);
  saved = errno;
  if (r == 0)
    simple (NMT_REC_TRUNCATE, fd, -1, NULL, NULL, (uint64_t) len, 0, 0);
  end ();
  errno = saved;
  return r;
}

int ftruncate (int fd, off_t len) { return do_ftruncate (fd, len); }
int ftruncate64 (int fd, off64_t len) { return do_ftruncate (fd, len); }

int
truncate (const char *path, off_t len)
{
  char buf[PATH_MAX];
  const char *abs = enabled ? absolute (AT_FDCWD, path, buf, sizeof buf) : NULL;
  int fd, r;

  if (!under_root (abs))
    return real_truncate (path, len);
  /* As an open, a truncate and a close, so that the explorer needs one
   * way to name a file's contents. */
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  r = ftruncate (fd, len);
  close (fd);
  return r;
}

static int
do_extend (int fd, int mode, off_t off, off_t len, int posix)
{
  int r, saved;

  if (!is_tracked (fd))
    return posix ? real_posix_fallocate64 (fd, off, len) : real_fallocate64 (fd, mode, off, len);
  begin ();
  r = posix ? real_posix_fallocate64 (fd, off, len) : real_fallocate64 (fd, mode, off, len);
  saved = posix ? r : errno;
  /* Only plain allocation extends the file; KEEP_SIZE and hole punching
   * are not used on these files (a punch would need its own record). */
  if ((posix ? r == 0 : r == 0) && (posix || mode == 0))
    simple (NMT_REC_EXTEND, fd, -1, NULL, NULL, (uint64_t) off, (uint64_t) len, 0);
  end ();
  if (!posix)
    errno = saved;
  return r;
}

int fallocate (int fd, int mode, off_t off, off_t len) { return do_extend (fd, mode, off, len, 0); }
int fallocate64 (int fd, int mode, off64_t off, off64_t len) { return do_extend (fd, mode, off, len, 0); }
int posix_fallocate (int fd, off_t off, off_t len) { return do_extend (fd, 0, off, len, 1); }
int posix_fallocate64 (int fd, off64_t off, off64_t len) { return do_extend (fd, 0, off, len, 1); }

static int
do_sync (int fd, int data_only)
{
  int r, saved;

  if (!is_tracked (fd))
    return data_only ? real_fdatasync (fd) : real_fsync (fd);
  begin ();
  r = data_only ? real_fdatasync (fd) : real_fsync (fd);
  saved = errno;
  if (r == 0 && !drop_sync)
    simple (NMT_REC_SYNC, fd, -1, NULL, NULL, (uint64_t) data_only, 0, 0);
  end ();
  errno = saved;
  return r;
}

int fsync (int fd) { return do_sync (fd, 0); }
int fdatasync (int fd) { return do_sync (fd, 1); }

void
sync (void)
{
  if (!enabled)
    {
      real_sync ();
      return;
    }
  begin ();
  real_sync ();
  if (!drop_sync)
    simple (NMT_REC_SYNC_ALL, -1, -1, NULL, NULL, 0, 0, 0);
  end ();
}

int
syncfs (int fd)
{
  int r, saved;

  if (!enabled)
    return real_syncfs (fd);
  begin ();
  r = real_syncfs (fd);
  saved = errno;
  if (r == 0 && !drop_sync)
    simple (NMT_REC_SYNC_ALL, -1, -1, NULL, NULL, 0, 0, 0);
  end ();
  errno = saved;
  return r;
}

/* Calls on names: rename, link, unlink, mkdir, rmdir. */
typedef enum { N_RENAME, N_LINK, N_UNLINK, N_MKDIR, N_RMDIR } NameOp;

static int
do_names (NameOp op, int dirfd1, const char *p1, int dirfd2, const char *p2, int flags, mode_t mode)
{
  char b1[PATH_MAX], b2[PATH_MAX];
  const char *a1 = enabled ? absolute (dirfd1, p1, b1, sizeof b1) : NULL;
  const char *a2 = enabled && p2 ? absolute (dirfd2, p2, b2, sizeof b2) : NULL;
  int watched = under_root (a1) || under_root (a2);
  int r, saved;

  if (watched)
    begin ();
  switch (op)
    {
    case N_RENAME: r = flags ? real_renameat2 (dirfd1, p1, dirfd2, p2, (unsigned) flags)
                             : real_renameat (dirfd1, p1, dirfd2, p2); break;
    case N_LINK:   r = real_linkat (dirfd1, p1, dirfd2, p2, flags); break;
    case N_UNLINK: r = real_unlinkat (dirfd1, p1, flags); break;
    case N_MKDIR:  r = real_mkdirat (dirfd1, p1, mode); break;
    default:       r = real_unlinkat (dirfd1, p1, AT_REMOVEDIR); break;
    }
  saved = errno;
  if (watched && r == 0)
    switch (op)
      {
      case N_RENAME: simple (NMT_REC_RENAME, -1, -1, a1, a2, 0, 0, 0); break;
      case N_LINK:   simple (NMT_REC_LINK, -1, -1, a1, a2, 0, 0, 0); break;
      case N_UNLINK: simple ((flags & AT_REMOVEDIR) ? NMT_REC_RMDIR : NMT_REC_UNLINK, -1, -1, a1, NULL, 0, 0, 0); break;
      case N_MKDIR:  simple (NMT_REC_MKDIR, -1, -1, a1, NULL, 0, 0, 0); break;
      default:       simple (NMT_REC_RMDIR, -1, -1, a1, NULL, 0, 0, 0); break;
      }
  if (watched)
    end ();
  errno = saved;
  return r;
}

int rename (const char *a, const char *b) { return do_names (N_RENAME, AT_FDCWD, a, AT_FDCWD, b, 0, 0); }
int renameat (int da, const char *a, int db, const char *b) { return do_names (N_RENAME, da, a, db, b, 0, 0); }
int renameat2 (int da, const char *a, int db, const char *b, unsigned flags) { return do_names (N_RENAME, da, a, db, b, (int) flags, 0); }
int link (const char *a, const char *b) { return do_names (N_LINK, AT_FDCWD, a, AT_FDCWD, b, 0, 0); }
int linkat (int da, const char *a, int db, const char *b, int flags) { return do_names (N_LINK, da, a, db, b, flags, 0); }
int unlink (const char *p) { return do_names (N_UNLINK, AT_FDCWD, p, AT_FDCWD, NULL, 0, 0); }
int unlinkat (int d, const char *p, int flags) { return do_names (N_UNLINK, d, p, AT_FDCWD, NULL, flags, 0); }
int mkdir (const char *p, mode_t mode) { return do_names (N_MKDIR, AT_FDCWD, p, AT_FDCWD, NULL, 0, mode); }
int mkdirat (int d, const char *p, mode_t mode) { return do_names (N_MKDIR, d, p, AT_FDCWD, NULL, 0, mode); }
int rmdir (const char *p) { return do_names (N_RMDIR, AT_FDCWD, p, AT_FDCWD, NULL, 0, 0); }

int
close (int fd)
{
  int r, saved;

  if (!is_tracked (fd))
    return real_close (fd);
  begin ();
  r = real_close (fd);
  saved = errno;
  set_tracked (fd, 0);
  simple (NMT_REC_CLOSE, fd, -1, NULL, NULL, 0, 0, 0);
  end ();
  errno = saved;
  return r;
}

static int
after_dup (int old, int fd)
{
  if (fd < 0)
    return fd;
  if (is_tracked (old))
    {
      int saved = errno;
      begin ();
      set_tracked (fd, 1);
      simple (NMT_REC_DUP, old, fd, NULL, NULL, 0, 0, 0);
      end ();
      errno = saved;
    }
  else if (is_tracked (fd))
    {
      /* dup2 over a tracked descriptor closed it. */
      begin ();
      set_tracked (fd, 0);
      simple (NMT_REC_CLOSE, fd, -1, NULL, NULL, 0, 0, 0);
      end ();
    }
  return fd;
}

int dup (int old) { return after_dup (old, real_dup (old)); }
int dup2 (int old, int fd) { if (old == fd) return real_dup2 (old, fd); return after_dup (old, real_dup2 (old, fd)); }
int dup3 (int old, int fd, int flags) { return after_dup (old, real_dup3 (old, fd, flags)); }
