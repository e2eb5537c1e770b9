/* SPDX-License-Identifier: MIT */
/* explorer.h: the crash-state explorer. A test runs a workload against the
 * real nmstore with libnmt-crashlog.so preloaded, which logs every change
 * the processes make to the files under the data root (crashlog.h), and
 * marks in the same log what the client sent and what it was told
 * (NmtMarkKind). The explorer then replays the log into a model of a file
 * system with a page cache and, at each sync point and at random points
 * between them, builds the states a power cut could leave on disk: what
 * was synced, plus any subset of the writes since (some torn: half of a
 * 512-byte or 4 KiB sector new, half old), plus a prefix of the name
 * operations (create, rename, unlink) not yet made durable by a sync of
 * their directory. The -shm file is dropped from every state, as after a
 * reboot. Each distinct state is written to a scratch data root and opened
 * with the real nmstore, and must hold exactly the items after some whole
 * number of operations, at least every one promised durable.
 *
 * The file-system model is POSIX's strict one, with what ext4 and XFS
 * also guarantee: fsync or fdatasync makes a file's contents durable (not
 * its name), a sync of a directory makes the names in it durable, and
 * name operations become durable in the order they were made. */
#pragma once

#include <glib.h>

#include "crashlog.h"

typedef enum {
  NMT_MARK_SEND = 1,   /* value k: operation k is about to be sent (so ops [0, k] may be in the file) */
  NMT_MARK_ACK,        /* value k: operation k was acknowledged */
  NMT_MARK_DURABLE,    /* value k: operations [0, k) are promised to survive power loss from here on */
} NmtMarkKind;

/* One logged workload: a data root, the log, and the environment that
 * makes the nmstore processes started meanwhile log into it. */
typedef struct NmtCrashRun NmtCrashRun;

/* root must exist; its contents now are taken as durable. log_path lies
 * outside root. drop_sync: the shim leaves syncs out (the self-check). */
NmtCrashRun *nmt_crash_run_new   (const char *root, const char *log_path, const char *shim, gboolean drop_sync);
/* Sets LD_PRELOAD and the shim's variables in this process's environment,
 * so that every nmstore it starts from now on is logged; _stop unsets them. */
void         nmt_crash_run_start (NmtCrashRun *run);
void         nmt_crash_run_stop  (NmtCrashRun *run);
void         nmt_crash_run_mark  (NmtCrashRun *run, NmtMarkKind kind, guint64 value);
const char  *nmt_crash_run_log   (NmtCrashRun *run);
void         nmt_crash_run_free  (NmtCrashRun *run);

typedef struct {
  const char *origin;        /* the origin whose items are checked */
  const char *nmstore;       /* the binary that opens each state */
  const char *scratch;       /* a directory for the states while they are checked */
  const char *keep;          /* failing states are copied under here (NULL: not kept) */
  const char *label;         /* names the workload in messages */
  /* snapshots[k]: the items (canonical text, see nmt_crash_canonical) after
   * operations [0, k); one more than there are operations. */
  GPtrArray  *snapshots;
  guint       states_per_cut;   /* states built at each cut point (at least 2: synced only, everything) */
  guint       max_cuts;         /* 0: every cut point; else this many, chosen at random over the whole log */
  guint       stop_after_lost;     /* stop once this many lost writes are seen (0: never stop early) */
  guint       max_distinct;        /* 0: no limit on the states opened */
  guint       jobs;                /* states opened at once (0: one per processor) */
  guint32     seed;
} NmtExploreOptions;

typedef struct {
  guint   events;            /* records in the log */
  guint   syncs;             /* sync records */
  guint   cut_points;
  guint   states;            /* (cut point, state) pairs judged */
  guint   distinct;          /* distinct on-disk states opened with nmstore */
  guint   torn;              /* distinct states with a torn sector or a partly written write */
  guint   encrypted;         /* distinct states of an encrypted store (checked with nmstore verify too) */
  guint   failures;          /* (cut point, state) pairs that failed */
  guint   lost;              /* of which: a write promised durable is missing */
  guint   mixed;             /* of which: items match no whole number of operations */
  guint   unopenable;        /* of which: nmstore could not open the store */
  guint   damaged;           /* of which: integrity_check or nmstore verify failed */
  GString *report;           /* the first failures, described */
} NmtExploreResult;

void  nmt_crash_explore       (const char *log_path, const NmtExploreOptions *options, NmtExploreResult *result);
void  nmt_explore_result_clear (NmtExploreResult *result);
/* The canonical text of an object of items: members sorted by key bytes,
 * each value as cJSON prints it unformatted. */
char *nmt_crash_canonical     (const void *items /* const cJSON* */);
