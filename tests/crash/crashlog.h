/* SPDX-License-Identifier: MIT */
/* crashlog.h: the record format of the I/O log that libnmt-crashlog.so
 * (crashlog-shim.c, LD_PRELOADed into nmstore) writes and the crash-state
 * explorer (explorer.c) reads. One record per call that changed a file
 * under the watched root, in the order the calls took effect: every
 * process takes an flock on the log around the real call and its record,
 * so records of several processes interleave in a true order. */
#pragma once

#include <stdint.h>

#define NMT_CRASHLOG_MAGIC 0x4e4d434cu /* "NMCL" */

typedef enum {
  NMT_REC_OPEN = 1,    /* fd, path, a = flags, b = 1 when it created the file, c = 1 for a directory */
  NMT_REC_WRITE,       /* fd, a = offset, data */
  NMT_REC_TRUNCATE,    /* fd, a = new size */
  NMT_REC_SYNC,        /* fd (fsync or fdatasync; a file or a directory) */
  NMT_REC_SYNC_ALL,    /* sync() or syncfs() */
  NMT_REC_RENAME,      /* path -> path2 */
  NMT_REC_UNLINK,      /* path */
  NMT_REC_MKDIR,       /* path */
  NMT_REC_RMDIR,       /* path */
  NMT_REC_LINK,        /* path -> path2 (a new name for path's file) */
  NMT_REC_CLOSE,       /* fd */
  NMT_REC_DUP,         /* fd -> fd2 */
  NMT_REC_EXTEND,      /* fd, a = offset, b = length (fallocate: zeros where the file was shorter) */
  NMT_REC_INIT_FILE,   /* written by the test: path and data of a file there before the log began */
  NMT_REC_INIT_DIR,    /* written by the test: a directory there before the log began */
  NMT_REC_MARK,        /* written by the test: a = mark kind, b = value (see explorer.h) */
} NmtRecType;

/* Followed by path_len bytes of path, path2_len of path2, data_len of data.
 * Paths are absolute. */
typedef struct {
  uint32_t magic;
  uint32_t type;
  int32_t  pid;
  int32_t  fd;
  int32_t  fd2;
  uint32_t path_len;
  uint32_t path2_len;
  uint32_t pad;
  uint64_t a;
  uint64_t b;
  uint64_t c;
  uint64_t data_len;
} NmtRec;
