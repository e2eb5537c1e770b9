/* SPDX-License-Identifier: MIT */
/* explorer.c: replays an I/O log (crashlog.h) into a model of a file
 * system with a page cache, builds the on-disk states a power cut could
 * leave at chosen points, and opens each with the real nmstore. See
 * explorer.h for what is modelled and what is checked. */
#define _GNU_SOURCE

#include "explorer.h"
#include "harness.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storecheck.h"

/* ------------------------------------------------------------------ the run */

struct NmtCrashRun {
  char    *root;
  char    *log_path;
  char    *shim;
  gboolean drop_sync;
  int      fd;
};

static void
append_locked (NmtCrashRun *run, NmtRec *rec, const char *path, const void *data, gsize len)
{
  GByteArray *buf = g_byte_array_new ();

  rec->magic = NMT_CRASHLOG_MAGIC;
  rec->pid = (int32_t) getpid ();
  rec->path_len = path ? (uint32_t) strlen (path) : 0;
  rec->data_len = len;
  g_byte_array_append (buf, (const guint8 *) rec, sizeof *rec);
  if (path)
    g_byte_array_append (buf, (const guint8 *) path, rec->path_len);
  if (len)
    g_byte_array_append (buf, data, (guint) len);
  flock (run->fd, LOCK_EX);
  if (write (run->fd, buf->data, buf->len) != (ssize_t) buf->len)
    g_error ("cannot write to the crash log %s: %s", run->log_path, g_strerror (errno));
  flock (run->fd, LOCK_UN);
  g_byte_array_unref (buf);
}

/* Records what root holds now: all of it is durable when the log begins. */
static void
record_initial (NmtCrashRun *run, const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  NmtRec rec = { .type = NMT_REC_INIT_DIR, .fd = -1, .fd2 = -1 };
  const char *name;

  append_locked (run, &rec, path, NULL, 0);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        record_initial (run, child);
      else
        {
          g_autofree char *data = NULL;
          gsize len = 0;
          NmtRec file = { .type = NMT_REC_INIT_FILE, .fd = -1, .fd2 = -1 };

          if (!g_file_get_contents (child, &data, &len, NULL))
            g_error ("cannot read %s", child);
          append_locked (run, &file, child, data, len);
        }
    }
}

NmtCrashRun *
nmt_crash_run_new (const char *root, const char *log_path, const char *shim, gboolean drop_sync)
{
  NmtCrashRun *run = g_new0 (NmtCrashRun, 1);

  run->root = realpath (root, NULL);
  if (run->root == NULL)
    g_error ("cannot resolve %s", root);
  run->log_path = g_strdup (log_path);
  run->shim = g_strdup (shim);
  run->drop_sync = drop_sync;
  run->fd = open (log_path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (run->fd < 0)
    g_error ("cannot create %s: %s", log_path, g_strerror (errno));
  record_initial (run, run->root);
  return run;
}

void
nmt_crash_run_start (NmtCrashRun *run)
{
  /* A sanitized nmstore wants its runtime first; the shim comes first. */
  const char *asan = g_getenv ("ASAN_OPTIONS");
  g_autofree char *asan_more = g_strdup_printf ("%s%sverify_asan_link_order=0", asan ? asan : "",
                                                asan && *asan ? ":" : "");

  g_setenv ("ASAN_OPTIONS", asan_more, TRUE);
  g_setenv ("LD_PRELOAD", run->shim, TRUE);
  g_setenv ("NMT_CRASHLOG", run->log_path, TRUE);
  g_setenv ("NMT_CRASHLOG_ROOT", run->root, TRUE);
  g_setenv ("NMT_CRASHLOG_DROP_SYNC", run->drop_sync ? "1" : "0", TRUE);
}

void
nmt_crash_run_stop (NmtCrashRun *run)
{
  g_unsetenv ("LD_PRELOAD");
  g_unsetenv ("NMT_CRASHLOG");
  g_unsetenv ("NMT_CRASHLOG_ROOT");
  g_unsetenv ("NMT_CRASHLOG_DROP_SYNC");
}

void
nmt_crash_run_mark (NmtCrashRun *run, NmtMarkKind kind, guint64 value)
{
  NmtRec rec = { .type = NMT_REC_MARK, .fd = -1, .fd2 = -1, .a = kind, .b = value };
  append_locked (run, &rec, NULL, NULL, 0);
}

const char *
nmt_crash_run_log (NmtCrashRun *run)
{
  return run->log_path;
}

void
nmt_crash_run_free (NmtCrashRun *run)
{
  if (run == NULL)
    return;
  close (run->fd);
  free (run->root);
  g_free (run->log_path);
  g_free (run->shim);
  g_free (run);
}

/* ------------------------------------------------------------- the log */

typedef struct {
  NmtRec         rec;    /* a copy: records lie unaligned in the log */
  char          *path;   /* relative to the root ("" is the root); NULL when outside it or absent */
  char          *path2;
  const guint8  *data;
} Event;

static char *
relative (const char *root, const char *p, gsize len)
{
  gsize n = strlen (root);

  if (len == 0)
    return NULL;
  if (len < n || strncmp (p, root, n) != 0 || (len > n && p[n] != '/'))
    return NULL;
  return len == n ? g_strdup ("") : g_strndup (p + n + 1, len - n - 1);
}

/* The root is the path of the first INIT_DIR record. */
static GArray *
parse_log (const guint8 *buf, gsize size)
{
  GArray *events = g_array_new (FALSE, TRUE, sizeof (Event));
  g_autofree char *root = NULL;
  gsize at = 0;

  while (at + sizeof (NmtRec) <= size)
    {
      Event e = { 0 };
      const NmtRec *rec = &e.rec;
      const char *p = (const char *) buf + at + sizeof (NmtRec);

      memcpy (&e.rec, buf + at, sizeof (NmtRec));

      if (rec->magic != NMT_CRASHLOG_MAGIC)
        g_error ("the crash log is damaged at byte %" G_GSIZE_FORMAT, at);
      if (root == NULL && rec->type == NMT_REC_INIT_DIR)
        root = g_strndup (p, rec->path_len);
      if (root != NULL)
        {
          e.path = relative (root, p, rec->path_len);
          e.path2 = relative (root, p + rec->path_len, rec->path2_len);
        }
      e.data = (const guint8 *) p + rec->path_len + rec->path2_len;
      at += sizeof (NmtRec) + rec->path_len + rec->path2_len + rec->data_len;
      if (at > size)
        break;
      g_array_append_val (events, e);
    }
  return events;
}

static void
events_free (GArray *events)
{
  for (guint i = 0; i < events->len; i++)
    {
      g_free (g_array_index (events, Event, i).path);
      g_free (g_array_index (events, Event, i).path2);
    }
  g_array_unref (events);
}

/* ------------------------------------------------------ the file system */

typedef enum { P_WRITE, P_RESIZE } PKind;

typedef struct {
  PKind         kind;
  guint64       seq;
  guint64       off;     /* P_RESIZE: the new size */
  guint64       len;
  const guint8 *data;    /* P_WRITE; NULL: zeros */
} PendingOp;

typedef struct {
  guint       id;
  gboolean    is_dir;
  GByteArray *cur;
  GByteArray *dur;
  GArray     *pending;   /* PendingOp since the last sync */
} Inode;

typedef enum { NS_CREATE, NS_REMOVE, NS_RENAME } NsKind;

typedef struct {
  NsKind  kind;
  guint64 seq;
  char   *path;     /* CREATE, REMOVE: the name; RENAME: from */
  char   *path2;    /* RENAME: to */
  char   *parent;   /* the directory whose sync makes it durable */
  Inode  *inode;
} NsOp;

typedef struct {
  Inode   *inode;
  gboolean sync_writes;   /* O_SYNC or O_DSYNC */
} FdInfo;

typedef struct {
  GHashTable *cur_ns;     /* rel path -> Inode* */
  GHashTable *dur_ns;
  GPtrArray  *ns_pending; /* NsOp* */
  GHashTable *fds;        /* "pid/fd" -> FdInfo* */
  GPtrArray  *inodes;     /* every Inode*, owned */
  guint64     seq;
} Fs;

static void
nsop_free (gpointer p)
{
  NsOp *op = p;
  g_free (op->path);
  g_free (op->path2);
  g_free (op->parent);
  g_free (op);
}

static void
inode_free (gpointer p)
{
  Inode *ino = p;
  g_byte_array_unref (ino->cur);
  g_byte_array_unref (ino->dur);
  g_array_unref (ino->pending);
  g_free (ino);
}

static Fs *
fs_new (void)
{
  Fs *fs = g_new0 (Fs, 1);

  fs->cur_ns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fs->dur_ns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fs->ns_pending = g_ptr_array_new_with_free_func (nsop_free);
  fs->fds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  fs->inodes = g_ptr_array_new_with_free_func (inode_free);
  return fs;
}

static void
fs_free (Fs *fs)
{
  g_hash_table_unref (fs->cur_ns);
  g_hash_table_unref (fs->dur_ns);
  g_ptr_array_unref (fs->ns_pending);
  g_hash_table_unref (fs->fds);
  g_ptr_array_unref (fs->inodes);
  g_free (fs);
}

static Inode *
inode_new (Fs *fs, gboolean is_dir)
{
  Inode *ino = g_new0 (Inode, 1);

  ino->id = fs->inodes->len;
  ino->is_dir = is_dir;
  ino->cur = g_byte_array_new ();
  ino->dur = g_byte_array_new ();
  ino->pending = g_array_new (FALSE, TRUE, sizeof (PendingOp));
  g_ptr_array_add (fs->inodes, ino);
  return ino;
}

static char *
parent_of (const char *path)
{
  const char *slash = strrchr (path, '/');
  return slash ? g_strndup (path, (gsize) (slash - path)) : g_strdup ("");
}

static void
ns_pending_add (Fs *fs, NsKind kind, const char *path, const char *path2, Inode *ino)
{
  NsOp *op = g_new0 (NsOp, 1);

  op->kind = kind;
  op->seq = fs->seq++;
  op->path = g_strdup (path);
  op->path2 = g_strdup (path2);
  op->parent = parent_of (kind == NS_RENAME ? path2 : path);
  op->inode = ino;
  g_ptr_array_add (fs->ns_pending, op);
}

static void
ns_apply (GHashTable *ns, const NsOp *op)
{
  switch (op->kind)
    {
    case NS_CREATE:
      g_hash_table_replace (ns, g_strdup (op->path), op->inode);
      break;
    case NS_REMOVE:
      g_hash_table_remove (ns, op->path);
      break;
    case NS_RENAME:
      if (g_hash_table_lookup (ns, op->path) == op->inode)
        g_hash_table_remove (ns, op->path);
      g_hash_table_replace (ns, g_strdup (op->path2), op->inode);
      break;
    }
}

/* Writes len bytes (zeros when data is NULL) at off, growing the file. */
static void
bytes_write (GByteArray *b, guint64 off, const guint8 *data, guint64 len)
{
  if (off + len > b->len)
    {
      guint old = b->len;
      g_byte_array_set_size (b, (guint) (off + len));
      memset (b->data + old, 0, b->len - old);
    }
  if (data)
    memcpy (b->data + off, data, len);
  else
    memset (b->data + off, 0, len);
}

static void
bytes_resize (GByteArray *b, guint64 size)
{
  guint old = b->len;

  g_byte_array_set_size (b, (guint) size);
  if (b->len > old)
    memset (b->data + old, 0, b->len - old);
}

static void
inode_sync (Inode *ino)
{
  g_byte_array_set_size (ino->dur, 0);
  g_byte_array_append (ino->dur, ino->cur->data, ino->cur->len);
  g_array_set_size (ino->pending, 0);
}

static const char *
path_of (Fs *fs, Inode *ino)
{
  GHashTableIter it;
  gpointer k, v;

  g_hash_table_iter_init (&it, fs->cur_ns);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (v == ino)
      return k;
  return NULL;
}

static char *
fd_key (const NmtRec *rec, int fd)
{
  return g_strdup_printf ("%d/%d", rec->pid, fd);
}

static FdInfo *
fd_lookup (Fs *fs, const NmtRec *rec)
{
  g_autofree char *key = fd_key (rec, rec->fd);
  return g_hash_table_lookup (fs->fds, key);
}

static void
pending_add (Fs *fs, Inode *ino, PKind kind, guint64 off, guint64 len, const guint8 *data)
{
  PendingOp op = { kind, fs->seq++, off, len, data };
  g_array_append_val (ino->pending, op);
}

static void
fs_apply (Fs *fs, const Event *e)
{
  const NmtRec *rec = &e->rec;
  FdInfo *info;

  switch ((NmtRecType) rec->type)
    {
    case NMT_REC_INIT_DIR:
    case NMT_REC_INIT_FILE:
      {
        Inode *ino;
        if (e->path == NULL)
          return;
        ino = inode_new (fs, rec->type == NMT_REC_INIT_DIR);
        g_byte_array_append (ino->cur, e->data, (guint) rec->data_len);
        inode_sync (ino);
        g_hash_table_replace (fs->cur_ns, g_strdup (e->path), ino);
        g_hash_table_replace (fs->dur_ns, g_strdup (e->path), ino);
        return;
      }
    case NMT_REC_OPEN:
      {
        Inode *ino;
        if (e->path == NULL)
          return;
        ino = g_hash_table_lookup (fs->cur_ns, e->path);
        if (ino == NULL)
          {
            ino = inode_new (fs, rec->c != 0);
            g_hash_table_replace (fs->cur_ns, g_strdup (e->path), ino);
            ns_pending_add (fs, NS_CREATE, e->path, NULL, ino);
          }
        if ((rec->a & O_TRUNC) && !ino->is_dir && ino->cur->len > 0)
          {
            bytes_resize (ino->cur, 0);
            pending_add (fs, ino, P_RESIZE, 0, 0, NULL);
          }
        info = g_new0 (FdInfo, 1);
        info->inode = ino;
        info->sync_writes = (rec->a & (O_SYNC | O_DSYNC)) != 0;
        g_hash_table_replace (fs->fds, fd_key (rec, rec->fd), info);
        return;
      }
    case NMT_REC_WRITE:
      if ((info = fd_lookup (fs, rec)) == NULL)
        return;
      bytes_write (info->inode->cur, rec->a, e->data, rec->data_len);
      pending_add (fs, info->inode, P_WRITE, rec->a, rec->data_len, e->data);
      if (info->sync_writes)
        inode_sync (info->inode);
      return;
    case NMT_REC_TRUNCATE:
      if ((info = fd_lookup (fs, rec)) == NULL)
        return;
      bytes_resize (info->inode->cur, rec->a);
      pending_add (fs, info->inode, P_RESIZE, rec->a, 0, NULL);
      return;
    case NMT_REC_EXTEND:
      if ((info = fd_lookup (fs, rec)) == NULL || rec->a + rec->b <= info->inode->cur->len)
        return;
      bytes_resize (info->inode->cur, rec->a + rec->b);
      pending_add (fs, info->inode, P_RESIZE, rec->a + rec->b, 0, NULL);
      return;
    case NMT_REC_SYNC:
      if ((info = fd_lookup (fs, rec)) == NULL)
        return;
      if (!info->inode->is_dir)
        inode_sync (info->inode);
      else
        {
          const char *dir = path_of (fs, info->inode);
          for (guint i = 0; dir != NULL && i < fs->ns_pending->len;)
            {
              NsOp *op = fs->ns_pending->pdata[i];
              if (g_str_equal (op->parent, dir))
                {
                  ns_apply (fs->dur_ns, op);
                  g_ptr_array_remove_index (fs->ns_pending, i);
                }
              else
                i++;
            }
        }
      return;
    case NMT_REC_SYNC_ALL:
      for (guint i = 0; i < fs->inodes->len; i++)
        inode_sync (fs->inodes->pdata[i]);
      for (guint i = 0; i < fs->ns_pending->len; i++)
        ns_apply (fs->dur_ns, fs->ns_pending->pdata[i]);
      g_ptr_array_set_size (fs->ns_pending, 0);
      return;
    case NMT_REC_RENAME:
      {
        Inode *ino = e->path ? g_hash_table_lookup (fs->cur_ns, e->path) : NULL;
        if (e->path2 == NULL)
          {
            /* Moved out of the root: gone from it. */
            if (ino != NULL)
              {
                g_hash_table_remove (fs->cur_ns, e->path);
                ns_pending_add (fs, NS_REMOVE, e->path, NULL, ino);
              }
            return;
          }
        if (ino == NULL)
          {
            /* Moved in from outside: its contents were never seen. */
            g_warning ("crash explorer: %s came from outside the data root; taken as empty", e->path2);
            ino = inode_new (fs, FALSE);
            g_hash_table_replace (fs->cur_ns, g_strdup (e->path2), ino);
            ns_pending_add (fs, NS_CREATE, e->path2, NULL, ino);
            return;
          }
        g_hash_table_remove (fs->cur_ns, e->path);
        g_hash_table_replace (fs->cur_ns, g_strdup (e->path2), ino);
        ns_pending_add (fs, NS_RENAME, e->path, e->path2, ino);
        return;
      }
    case NMT_REC_LINK:
      {
        Inode *ino = e->path ? g_hash_table_lookup (fs->cur_ns, e->path) : NULL;
        if (ino == NULL || e->path2 == NULL)
          return;
        g_hash_table_replace (fs->cur_ns, g_strdup (e->path2), ino);
        ns_pending_add (fs, NS_CREATE, e->path2, NULL, ino);
        return;
      }
    case NMT_REC_UNLINK:
    case NMT_REC_RMDIR:
      {
        Inode *ino = e->path ? g_hash_table_lookup (fs->cur_ns, e->path) : NULL;
        if (ino == NULL)
          return;
        g_hash_table_remove (fs->cur_ns, e->path);
        ns_pending_add (fs, NS_REMOVE, e->path, NULL, ino);
        return;
      }
    case NMT_REC_MKDIR:
      {
        Inode *ino;
        if (e->path == NULL)
          return;
        ino = inode_new (fs, TRUE);
        g_hash_table_replace (fs->cur_ns, g_strdup (e->path), ino);
        ns_pending_add (fs, NS_CREATE, e->path, NULL, ino);
        return;
      }
    case NMT_REC_CLOSE:
      {
        g_autofree char *key = fd_key (rec, rec->fd);
        g_hash_table_remove (fs->fds, key);
        return;
      }
    case NMT_REC_DUP:
      if ((info = fd_lookup (fs, rec)) != NULL)
        {
          FdInfo *copy = g_memdup2 (info, sizeof *info);
          g_hash_table_replace (fs->fds, fd_key (rec, rec->fd2), copy);
        }
      return;
    case NMT_REC_MARK:
      return;
    }
}

/* ------------------------------------------------------- building a state */

/* What happens to one pending write in a crash state. */
typedef enum { C_SKIP, C_APPLY, C_TEAR_FIRST_HALF, C_TEAR_SECOND_HALF, C_TEAR_PREFIX } ChoiceKind;

typedef struct {
  ChoiceKind kind;
  guint      sector;      /* 512 or 4096 */
  guint64    which;       /* the sector of the write that tears, counted from its first */
} Choice;

/* A crash state as chosen: how many pending name operations survive (a
 * prefix), and per dirty inode a choice per pending operation. */
typedef struct {
  guint       ns_prefix;
  GHashTable *choices;     /* Inode* -> Choice[] (g_free) */
  gboolean    torn;
  const char *how;
} Pick;

static void
pick_clear (Pick *pick)
{
  g_clear_pointer (&pick->choices, g_hash_table_unref);
}

/* Applies one pending write with its choice. Tearing happens inside the
 * bytes the write covered (SQLite's powersafe-overwrite assumption): the
 * sector's other half keeps what it held before. */
static void
apply_write (GByteArray *b, const PendingOp *op, const Choice *c)
{
  guint64 s, first, last, a, z, mid;

  if (c->kind == C_APPLY || op->len == 0)
    {
      bytes_write (b, op->off, op->data, op->len);
      return;
    }
  s = c->sector;
  first = op->off / s;
  last = (op->off + op->len - 1) / s;
  a = MAX (op->off, (first + c->which % (last - first + 1)) * s);
  z = MIN (op->off + op->len, (first + c->which % (last - first + 1) + 1) * s);
  mid = a + (z - a) / 2;
  /* The file grows to the write's end even where its bytes did not land. */
  if (op->off + op->len > b->len)
    bytes_resize (b, op->off + op->len);
  switch (c->kind)
    {
    case C_TEAR_FIRST_HALF:   /* new bytes up to mid, old after, in the torn sector */
      bytes_write (b, op->off, op->data, a - op->off);
      bytes_write (b, a, op->data + (a - op->off), mid - a);
      bytes_write (b, z, op->data + (z - op->off), op->off + op->len - z);
      break;
    case C_TEAR_SECOND_HALF:
      bytes_write (b, op->off, op->data, a - op->off);
      bytes_write (b, mid, op->data + (mid - op->off), z - mid);
      bytes_write (b, z, op->data + (z - op->off), op->off + op->len - z);
      break;
    case C_TEAR_PREFIX:       /* the sectors before the torn one, and half of it */
      bytes_write (b, op->off, op->data, mid - op->off);
      break;
    default:
      break;
    }
}

static GByteArray *
crash_contents (const Inode *ino, const Choice *choices)
{
  GByteArray *b = g_byte_array_sized_new (ino->dur->len);

  g_byte_array_append (b, ino->dur->data, ino->dur->len);
  for (guint i = 0; i < ino->pending->len; i++)
    {
      const PendingOp *op = &g_array_index (ino->pending, PendingOp, i);
      const Choice *c = choices ? &choices[i] : NULL;

      if (c == NULL || c->kind == C_SKIP)
        continue;
      if (op->kind == P_RESIZE)
        bytes_resize (b, op->off);
      else
        apply_write (b, op, c);
    }
  return b;
}

typedef struct {
  char       *path;
  gboolean    is_dir;
  GByteArray *data;
} StateFile;

static void
state_file_free (gpointer p)
{
  StateFile *f = p;
  g_free (f->path);
  if (f->data)
    g_byte_array_unref (f->data);
  g_free (f);
}

static gint
state_file_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(StateFile *const *) a)->path, (*(StateFile *const *) b)->path);
}

static gboolean
is_shm (const char *path)
{
  return g_str_has_suffix (path, "-shm");
}

/* The files of a crash state, sorted by path (parents first), and their
 * digest. Names whose directory did not survive are unreachable. */
static GPtrArray *
build_state (Fs *fs, const Pick *pick, char **digest)
{
  GHashTable *ns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *files = g_ptr_array_new_with_free_func (state_file_free);
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  GHashTableIter it;
  gpointer k, v;

  g_hash_table_iter_init (&it, fs->dur_ns);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_hash_table_replace (ns, g_strdup (k), v);
  for (guint i = 0; i < pick->ns_prefix && i < fs->ns_pending->len; i++)
    ns_apply (ns, fs->ns_pending->pdata[i]);

  g_hash_table_iter_init (&it, ns);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const char *path = k;
      Inode *ino = v;
      g_autofree char *up = NULL;
      gboolean reachable = TRUE;
      StateFile *f;

      if (*path == '\0' || is_shm (path))
        continue;
      for (up = parent_of (path); *up != '\0';)
        {
          Inode *d = g_hash_table_lookup (ns, up);
          char *next;
          if (d == NULL || !d->is_dir)
            {
              reachable = FALSE;
              break;
            }
          next = parent_of (up);
          g_free (up);
          up = next;
        }
      if (!reachable)
        continue;
      f = g_new0 (StateFile, 1);
      f->path = g_strdup (path);
      f->is_dir = ino->is_dir;
      if (!ino->is_dir)
        f->data = crash_contents (ino, pick->choices ? g_hash_table_lookup (pick->choices, ino) : NULL);
      g_ptr_array_add (files, f);
    }
  g_ptr_array_sort (files, state_file_cmp);
  for (guint i = 0; i < files->len; i++)
    {
      StateFile *f = files->pdata[i];
      guint64 len = f->data ? f->data->len : G_MAXUINT64;
      g_checksum_update (sum, (const guchar *) f->path, (gssize) strlen (f->path) + 1);
      g_checksum_update (sum, (const guchar *) &len, sizeof len);
      if (f->data)
        g_checksum_update (sum, f->data->data, f->data->len);
    }
  *digest = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  g_hash_table_unref (ns);
  return files;
}

static void
write_state (GPtrArray *files, const char *home)
{
  g_mkdir_with_parents (home, 0700);
  for (guint i = 0; i < files->len; i++)
    {
      StateFile *f = files->pdata[i];
      g_autofree char *path = g_build_filename (home, f->path, NULL);
      if (f->is_dir)
        {
          if (g_mkdir (path, 0700) != 0 && errno != EEXIST)
            g_error ("cannot make %s: %s", path, g_strerror (errno));
        }
      else
        {
          int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
          if (fd < 0 || (f->data->len > 0 && write (fd, f->data->data, f->data->len) != (ssize_t) f->data->len))
            g_error ("cannot write %s: %s", path, g_strerror (errno));
          close (fd);
        }
    }
}

/* Picks a crash state. Strategy 0 keeps only what was synced, 1 keeps
 * everything (what kill -9 leaves), the rest sample: a random subset of
 * the pending writes, a prefix of them in the order they were made (a
 * file system that writes back in order), or all but one; any of them
 * may tear a sector or cut a write short. */
static void
pick_state (Fs *fs, GRand *rand, guint strategy, Pick *pick)
{
  guint64 cut_seq = G_MAXUINT64;
  double p = 0.5;
  gboolean tear = FALSE;
  guint n_pending = 0, drop = G_MAXUINT;
  guint counted = 0;

  memset (pick, 0, sizeof *pick);
  pick->choices = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  for (guint i = 0; i < fs->inodes->len; i++)
    n_pending += ((Inode *) fs->inodes->pdata[i])->pending->len;

  if (strategy == 0)
    {
      pick->how = "synced only";
      pick->ns_prefix = 0;
      p = 0;
    }
  else if (strategy == 1)
    {
      pick->how = "everything written";
      pick->ns_prefix = fs->ns_pending->len;
      p = 1;
    }
  else
    {
      guint kind = (guint) g_rand_int_range (rand, 0, 4);
      tear = g_rand_boolean (rand);
      if (kind == 0)
        {
          pick->how = "random subset";
          p = 0.5;
          pick->ns_prefix = (guint) g_rand_int_range (rand, 0, (gint32) fs->ns_pending->len + 1);
        }
      else if (kind == 1)
        {
          pick->how = "random subset, random density";
          p = g_rand_double (rand);
          pick->ns_prefix = (guint) g_rand_int_range (rand, 0, (gint32) fs->ns_pending->len + 1);
        }
      else if (kind == 2)
        {
          /* In order: everything made before a random point. */
          guint64 lo = G_MAXUINT64, hi = 0;
          pick->how = "in-order prefix";
          for (guint i = 0; i < fs->inodes->len; i++)
            {
              Inode *ino = fs->inodes->pdata[i];
              for (guint j = 0; j < ino->pending->len; j++)
                {
                  guint64 s = g_array_index (ino->pending, PendingOp, j).seq;
                  lo = MIN (lo, s);
                  hi = MAX (hi, s);
                }
            }
          for (guint i = 0; i < fs->ns_pending->len; i++)
            {
              guint64 s = ((NsOp *) fs->ns_pending->pdata[i])->seq;
              lo = MIN (lo, s);
              hi = MAX (hi, s);
            }
          cut_seq = lo > hi ? 0 : lo + (guint64) g_rand_double_range (rand, 0, (double) (hi - lo + 2));
          pick->ns_prefix = 0;
          while (pick->ns_prefix < fs->ns_pending->len
                 && ((NsOp *) fs->ns_pending->pdata[pick->ns_prefix])->seq < cut_seq)
            pick->ns_prefix++;
        }
      else
        {
          pick->how = "all but one";
          p = 1;
          drop = n_pending ? (guint) g_rand_int_range (rand, 0, (gint32) n_pending) : G_MAXUINT;
          pick->ns_prefix = fs->ns_pending->len;
        }
    }

  for (guint i = 0; i < fs->inodes->len; i++)
    {
      Inode *ino = fs->inodes->pdata[i];
      Choice *choices;

      if (ino->pending->len == 0)
        continue;
      choices = g_new0 (Choice, ino->pending->len);
      for (guint j = 0; j < ino->pending->len; j++, counted++)
        {
          const PendingOp *op = &g_array_index (ino->pending, PendingOp, j);
          gboolean in = cut_seq != G_MAXUINT64 ? op->seq < cut_seq
                        : counted == drop ? FALSE : p >= 1 ? TRUE : p <= 0 ? FALSE : g_rand_double (rand) < p;
          choices[j].kind = in ? C_APPLY : C_SKIP;
        }
      g_hash_table_insert (pick->choices, ino, choices);
    }

  /* Tears: one or two included writes, or the last one an in-order cut kept. */
  if (tear)
    {
      guint n_tears = (guint) g_rand_int_range (rand, 1, 3);
      for (guint t = 0; t < n_tears; t++)
        {
          GHashTableIter it;
          gpointer k, v;
          guint n_writes = 0, target;

          g_hash_table_iter_init (&it, pick->choices);
          while (g_hash_table_iter_next (&it, &k, &v))
            for (guint j = 0; j < ((Inode *) k)->pending->len; j++)
              n_writes += ((Choice *) v)[j].kind == C_APPLY
                          && g_array_index (((Inode *) k)->pending, PendingOp, j).kind == P_WRITE;
          if (n_writes == 0)
            break;
          target = (guint) g_rand_int_range (rand, 0, (gint32) n_writes);
          g_hash_table_iter_init (&it, pick->choices);
          while (g_hash_table_iter_next (&it, &k, &v))
            for (guint j = 0; j < ((Inode *) k)->pending->len; j++)
              if (((Choice *) v)[j].kind == C_APPLY
                  && g_array_index (((Inode *) k)->pending, PendingOp, j).kind == P_WRITE && target-- == 0)
                {
                  Choice *c = &((Choice *) v)[j];
                  c->kind = (ChoiceKind) g_rand_int_range (rand, C_TEAR_FIRST_HALF, C_TEAR_PREFIX + 1);
                  c->sector = g_rand_boolean (rand) ? 512 : 4096;
                  c->which = (guint64) g_rand_int (rand);
                  pick->torn = TRUE;
                }
        }
    }
}

/* ------------------------------------------------------- judging a state */

typedef struct {
  gboolean done;         /* nmstore has read it (the explorer's lock) */
  gboolean opened;
  gboolean encrypted;
  char    *problem;      /* integrity, verify or open failure; NULL when none */
  GArray  *matches;      /* guint k whose snapshot the items equal */
  char    *items;        /* canonical text, kept only for failure reports */
} Observation;

static void
observation_free (gpointer p)
{
  Observation *o = p;
  g_free (o->problem);
  g_array_unref (o->matches);
  g_free (o->items);
  g_free (o);
}

static gint
cmp_item (gconstpointer a, gconstpointer b)
{
  const cJSON *x = *(const cJSON *const *) a, *y = *(const cJSON *const *) b;
  return strcmp (x->string, y->string);
}

char *
nmt_crash_canonical (const void *object)
{
  const cJSON *items = object, *item;
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  GString *out = g_string_new ("{");

  cJSON_ArrayForEach (item, items)
    g_ptr_array_add (sorted, (gpointer) item);
  g_ptr_array_sort (sorted, cmp_item);
  for (guint i = 0; i < sorted->len; i++)
    {
      const cJSON *it = sorted->pdata[i];
      char *value = cJSON_PrintUnformatted (it);
      cJSON *name = cJSON_CreateStringReference (it->string);
      char *key = cJSON_PrintUnformatted (name);
      g_string_append_printf (out, "%s%s:%s", i ? "," : "", key, value);
      cJSON_free (value);
      cJSON_free (key);
      cJSON_Delete (name);
    }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

static int
run_nmstore (const char *nmstore, const char *home, const char *const *args, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GError) error = NULL;
  int status = -1;

  env = g_environ_unsetenv (env, "LD_PRELOAD");
  env = g_environ_unsetenv (env, "NMT_CRASHLOG");
  env = g_environ_unsetenv (env, "NMT_CRASHLOG_ROOT");
  env = g_environ_setenv (env, "NMSTORE_HOME", home, TRUE);
  env = g_environ_setenv (env, "NMSTORE_LOG", "error", TRUE);
  g_ptr_array_add (argv, (gpointer) nmstore);
  for (; *args; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, out, err, &status, &error))
    g_error ("cannot run %s: %s", nmstore, error->message);
  return g_spawn_check_wait_status (status, NULL) ? 0 : (WIFEXITED (status) ? WEXITSTATUS (status) : 128);
}

static char *
find_db (const char *home)
{
  return nmt_store_find_db (home);
}

/* Whether the (recovered) store in home holds a key envelope. */
static gboolean
store_encrypted (const char *db_path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  gboolean yes = FALSE;

  if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK
      && sqlite3_prepare_v2 (db, "SELECT 1 FROM meta WHERE name = 'crypto'", -1, &s, NULL) == SQLITE_OK)
    yes = sqlite3_step (s) == SQLITE_ROW;
  sqlite3_finalize (s);
  sqlite3_close (db);
  return yes;
}

static Observation *
observe (const NmtExploreOptions *opt, const char *home, GHashTable *snapshot_index)
{
  Observation *o = g_new0 (Observation, 1);
  g_autofree char *db = find_db (home);
  g_autofree char *out = NULL, *err = NULL;
  const char *get_args[] = { "get", "--origin", opt->origin, NULL };
  const char *verify_args[] = { "verify", "--origin", opt->origin, NULL };
  GArray *ks;
  cJSON *items;

  o->matches = g_array_new (FALSE, FALSE, sizeof (guint));
  /* SQLite's own check, on a copy of the state as the power cut left it. */
  if (db != NULL)
    {
      gint64 rows = 0;
      char *problem = NULL;
      if (!nmt_store_check_integrity (db, &rows, &problem))
        {
          o->problem = g_strdup_printf ("PRAGMA integrity_check: %s", problem);
          g_free (problem);
          return o;
        }
    }
  if (run_nmstore (opt->nmstore, home, get_args, &out, &err) != 0)
    {
      o->problem = g_strdup_printf ("nmstore get failed: %s", g_strstrip (err));
      return o;
    }
  o->opened = TRUE;
  items = cJSON_Parse (out);
  if (!cJSON_IsObject (items))
    {
      o->problem = g_strdup_printf ("nmstore get printed no JSON object: %.200s", out);
      cJSON_Delete (items);
      return o;
    }
  o->items = nmt_crash_canonical (items);
  cJSON_Delete (items);
  if ((ks = g_hash_table_lookup (snapshot_index, o->items)) != NULL)
    g_array_append_vals (o->matches, ks->data, ks->len);

  g_free (db);
  db = find_db (home);
  if (db != NULL && store_encrypted (db))
    {
      g_autofree char *vout = NULL, *verr = NULL;
      o->encrypted = TRUE;
      if (run_nmstore (opt->nmstore, home, verify_args, &vout, &verr) != 0)
        o->problem = g_strdup_printf ("nmstore verify failed: %s %s", g_strstrip (vout), g_strstrip (verr));
    }
  return o;
}

/* ------------------------------------------------------------- exploring */

typedef struct {
  const NmtExploreOptions *opt;
  NmtExploreResult *res;
  GHashTable *seen;            /* digest -> Observation*; under lock */
  GHashTable *snapshot_index;  /* canonical text -> GArray of k; read only */
  GRand *rand;
  guint serial;
  guint64 durable, sent;
  gint stop;                   /* atomic */
  GMutex lock;                 /* seen, res, the observations' done */
  GCond done;
  GThreadPool *pool;
} Explorer;

/* What one cut point expects of a state, and how the state was made. */
typedef struct {
  guint       event;
  guint64     durable, sent;
  const char *how;
  gboolean    torn;
  guint       ns_prefix, ns_pending;
} Verdict;

/* A distinct state on its way to nmstore, on a worker thread. */
typedef struct {
  Explorer    *x;
  char        *digest;
  GPtrArray   *files;
  Observation *o;
  Verdict      first;
  guint        serial;
} Job;

static void
describe_files (GString *s, GPtrArray *files)
{
  for (guint i = 0; i < files->len; i++)
    {
      StateFile *f = files->pdata[i];
      if (f->is_dir)
        g_string_append_printf (s, "      %s/\n", f->path);
      else
        g_string_append_printf (s, "      %s (%u bytes)\n", f->path, f->data->len);
    }
}

/* Judges an observed state against what one cut point expects; x->lock
 * held. */
static void
verdict (Explorer *x, const char *digest, GPtrArray *files, const Observation *o, const Verdict *v)
{
  const char *why = NULL;
  guint best = G_MAXUINT;
  gboolean below = FALSE;

  x->res->states++;
  if (o->problem != NULL)
    why = o->problem;
  else
    {
      gboolean ok = FALSE;
      for (guint i = 0; i < o->matches->len; i++)
        {
          guint k = g_array_index (o->matches, guint, i);
          if (k >= v->durable && k <= v->sent)
            ok = TRUE;
          if (k < v->durable && (!below || k > best))
            best = k, below = TRUE;
          else if (!below && (best == G_MAXUINT || k < best))
            best = k;
        }
      if (ok)
        return;
      why = o->matches->len == 0 ? "its items match no whole number of operations: a write is half applied or damaged"
            : below ? "a write promised durable is missing"
            : "it holds a write that was never sent";
    }

  x->res->failures++;
  if (!o->opened)
    x->res->unopenable++;
  else if (o->problem != NULL)
    x->res->damaged++;
  else if (o->matches->len == 0)
    x->res->mixed++;
  else if (below)
    x->res->lost++;
  /* The first failure of each kind, described. */
  if (g_strstr_len (x->res->report->str, -1, why) == NULL && x->res->failures <= 200)
    {
      g_string_append_printf (x->res->report,
                              "  %s: state %s after log record %u (%s%s, %u of %u pending name operations): %s\n"
                              "    operations promised durable: [0, %" G_GUINT64_FORMAT "), sent: [0, %" G_GUINT64_FORMAT
                              "); the state holds the items after %s%u operations\n",
                              x->opt->label, digest, v->event, v->how, v->torn ? ", torn" : "", v->ns_prefix,
                              v->ns_pending, why, v->durable, v->sent,
                              o->matches->len ? "" : "no number of ", o->matches->len ? best : 0);
      if (o->items != NULL && o->matches->len == 0)
        g_string_append_printf (x->res->report, "    items: %.300s\n", o->items);
      g_string_append (x->res->report, "    files:\n");
      describe_files (x->res->report, files);
      if (x->opt->keep != NULL)
        {
          g_autofree char *kept = g_strdup_printf ("%s/%s-%s/home", x->opt->keep, x->opt->label, digest);
          write_state (files, kept);
          g_string_append_printf (x->res->report, "    kept in %s (NMSTORE_HOME=%s nmstore get --origin %s)\n",
                                  kept, kept, x->opt->origin);
        }
    }
  if (x->opt->stop_after_lost && x->res->lost >= x->opt->stop_after_lost)
    g_atomic_int_set (&x->stop, 1);
}

static void
run_job (gpointer data, gpointer user_data)
{
  Job *job = data;
  Explorer *x = job->x;
  g_autofree char *dir = g_strdup_printf ("%s/state-%u", x->opt->scratch, job->serial);
  g_autofree char *home = g_build_filename (dir, "home", NULL);
  Observation *fresh;

  write_state (job->files, home);
  fresh = observe (x->opt, home, x->snapshot_index);
  nmt_remove_tree (dir);

  g_mutex_lock (&x->lock);
  /* The placeholder in seen takes the findings. */
  job->o->opened = fresh->opened;
  job->o->encrypted = fresh->encrypted;
  job->o->problem = g_steal_pointer (&fresh->problem);
  g_array_append_vals (job->o->matches, fresh->matches->data, fresh->matches->len);
  job->o->items = g_steal_pointer (&fresh->items);
  job->o->done = TRUE;
  x->res->encrypted += job->o->encrypted;
  verdict (x, job->digest, job->files, job->o, &job->first);
  g_cond_broadcast (&x->done);
  g_mutex_unlock (&x->lock);

  observation_free (fresh);
  g_ptr_array_unref (job->files);
  g_free (job->digest);
  g_free (job);
}

static void
judge (Explorer *x, Fs *fs, guint event, const Pick *pick)
{
  char *digest = NULL;
  GPtrArray *files = build_state (fs, pick, &digest);
  Verdict v = { event, x->durable, x->sent, pick->how, pick->torn, pick->ns_prefix, fs->ns_pending->len };
  Observation *o;

  g_mutex_lock (&x->lock);
  o = g_hash_table_lookup (x->seen, digest);
  if (o == NULL)
    {
      Job *job;

      if (x->opt->max_distinct && x->res->distinct >= x->opt->max_distinct)
        {
          g_atomic_int_set (&x->stop, 1);
          g_mutex_unlock (&x->lock);
          g_ptr_array_unref (files);
          g_free (digest);
          return;
        }
      o = g_new0 (Observation, 1);
      o->matches = g_array_new (FALSE, FALSE, sizeof (guint));
      g_hash_table_insert (x->seen, g_strdup (digest), o);
      x->res->distinct++;
      x->res->torn += pick->torn;
      g_mutex_unlock (&x->lock);
      job = g_new0 (Job, 1);
      job->x = x;
      job->digest = digest;
      job->files = files;
      job->o = o;
      job->first = v;
      job->serial = x->serial++;
      g_thread_pool_push (x->pool, job, NULL);
      return;
    }
  /* Seen before: judged against this cut point once nmstore has read it. */
  while (!o->done)
    g_cond_wait (&x->done, &x->lock);
  verdict (x, digest, files, o, &v);
  g_mutex_unlock (&x->lock);
  g_ptr_array_unref (files);
  g_free (digest);
}

static void
explore_cut (Explorer *x, Fs *fs, guint event)
{
  guint n = MAX (2, x->opt->states_per_cut);

  x->res->cut_points++;
  for (guint s = 0; s < n && !g_atomic_int_get (&x->stop); s++)
    {
      Pick pick;
      pick_state (fs, x->rand, s, &pick);
      judge (x, fs, event, &pick);
      pick_clear (&pick);
    }
}

void
nmt_crash_explore (const char *log_path, const NmtExploreOptions *opt, NmtExploreResult *res)
{
  g_autofree char *buf = NULL;
  gsize size = 0;
  GArray *events;
  Fs *fs;
  Explorer x = { opt, res };
  g_autoptr(GError) error = NULL;
  gboolean *cut;

  if (res->report == NULL)
    res->report = g_string_new (NULL);
  if (!g_file_get_contents (log_path, &buf, &size, &error))
    g_error ("cannot read the crash log: %s", error->message);
  events = parse_log ((const guint8 *) buf, size);
  res->events += events->len;
  x.rand = g_rand_new_with_seed (opt->seed);
  g_mutex_init (&x.lock);
  g_cond_init (&x.done);
  x.pool = g_thread_pool_new (run_job, NULL, (gint) MAX (1, opt->jobs ? opt->jobs : g_get_num_processors ()),
                              FALSE, NULL);
  x.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, observation_free);
  x.snapshot_index = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_array_unref);
  for (guint k = 0; k < opt->snapshots->len; k++)
    {
      GArray *ks = g_hash_table_lookup (x.snapshot_index, opt->snapshots->pdata[k]);
      if (ks == NULL)
        {
          ks = g_array_new (FALSE, FALSE, sizeof (guint));
          g_hash_table_insert (x.snapshot_index, opt->snapshots->pdata[k], ks);
        }
      g_array_append_val (ks, k);
    }

  /* Cut points: after every sync and every durability promise, and at a
   * random record between each two syncs. */
  cut = g_new0 (gboolean, events->len + 1);
  {
    guint last_sync = 0, n_cuts = 0;
    for (guint i = 0; i < events->len; i++)
      {
        const NmtRec *rec = &g_array_index (events, Event, i).rec;
        if (rec->type == NMT_REC_SYNC || rec->type == NMT_REC_SYNC_ALL)
          {
            cut[i] = TRUE;
            res->syncs++;
            if (i > last_sync + 1)
              cut[g_rand_int_range (x.rand, (gint32) last_sync + 1, (gint32) i)] = TRUE;
            last_sync = i;
          }
        if (rec->type == NMT_REC_MARK && rec->a == NMT_MARK_DURABLE)
          cut[i] = TRUE;
      }
    for (guint i = 0; i < events->len; i++)
      n_cuts += cut[i];
    /* Too many for the budget: keep max_cuts of them, spread at random. */
    if (opt->max_cuts > 0 && n_cuts > opt->max_cuts)
      {
        guint keep = opt->max_cuts;
        for (guint i = 0; i < events->len; i++)
          if (cut[i])
            {
              if ((guint) g_rand_int_range (x.rand, 0, (gint32) n_cuts) < keep)
                keep--;
              else
                cut[i] = FALSE;
              n_cuts--;
            }
      }
  }

  fs = fs_new ();
  for (guint i = 0; i < events->len && !g_atomic_int_get (&x.stop); i++)
    {
      const Event *e = &g_array_index (events, Event, i);

      fs_apply (fs, e);
      if (e->rec.type == NMT_REC_MARK)
        {
          if (e->rec.a == NMT_MARK_SEND)
            x.sent = MAX (x.sent, e->rec.b + 1);
          else if (e->rec.a == NMT_MARK_DURABLE)
            x.durable = MAX (x.durable, e->rec.b);
        }
      if (cut[i])
        explore_cut (&x, fs, i);
    }
  /* Every state still with nmstore is judged before the log goes away. */
  g_thread_pool_free (x.pool, FALSE, TRUE);
  g_free (cut);
  fs_free (fs);
  events_free (events);
  g_hash_table_unref (x.seen);
  g_hash_table_unref (x.snapshot_index);
  g_rand_free (x.rand);
  g_mutex_clear (&x.lock);
  g_cond_clear (&x.done);
}

void
nmt_explore_result_clear (NmtExploreResult *res)
{
  if (res->report)
    g_string_free (res->report, TRUE);
  memset (res, 0, sizeof *res);
}
