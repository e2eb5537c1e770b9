/* SPDX-License-Identifier: MIT */
/* store-private.h: the store's state, which every part of it reads and
 * writes, and its bottom (store-core.c). Each part's calls are in a header
 * of its own beside it (store-txn.h, store-changes.h, store-crypt.h, ...).
 * Not installed. */
#pragma once

#include <sqlite3.h>

#include "crypto/crypto.h"
#include "store/store.h"
#include "store-record.h"

/* The store's prepared statements, made once at open (store.c). */
enum {
  STMT_GET,
  STMT_UPSERT,
  STMT_DELETE,
  STMT_SCAN_ITEMS,
  STMT_SCAN_ITEMS_RANGE,
  STMT_SCAN_KEYS,
  STMT_SCAN_KEYS_RANGE,
  STMT_SIZE_OF,
  STMT_CLEAR,
  STMT_CLEAR_RANGE,
  STMT_BEGIN_WRITE,
  STMT_BEGIN_READ,
  STMT_COMMIT,
  STMT_SAVEPOINT,
  STMT_RELEASE,
  STMT_UNDO,
  STMT_SAVEPOINT_REQUEST,
  STMT_RELEASE_REQUEST,
  STMT_UNDO_REQUEST,
  STMT_DATA_VERSION,
  N_STMTS
};

/* The keys one write touched, each with its value before and after. */
typedef struct _NmsChangeSet NmsChangeSet;

enum {
  LOG_STMT_INSERT,
  LOG_STMT_AFTER,
  LOG_STMT_HEAD,
  LOG_STMT_PRUNED,
  LOG_STMT_FIRST_RECENT,
  LOG_STMT_PRUNE,
  LOG_STMT_SET_PRUNED,
  N_LOG_STMTS
};

enum {
  SUB_STMT_ANY,
  SUB_STMT_EXISTS,
  SUB_STMT_INSERT,
  SUB_STMT_DELETE,
  SUB_STMT_LIST,
  N_SUB_STMTS
};

/* Whether the open write transaction must log: unknown until its first
 * write asks, then fixed, because its write lock keeps every other
 * process from subscribing or unsubscribing until it ends. The answer
 * also holds for later transactions while data_version stays the same:
 * only another connection's commit can change the subscribers behind this
 * connection's back (this one's own changes set the answer as they go). */
typedef enum {
  NMS_LISTENING_UNKNOWN = 0,
  NMS_LISTENING_NO,
  NMS_LISTENING_YES,
} NmsListening;

typedef struct {
  sqlite3_stmt *stmts[N_LOG_STMTS];
  sqlite3_stmt *sub_stmts[N_SUB_STMTS];
  NmsListening  listening;
  gint64        listening_version; /* the data_version that listening is for */
  NmsChangeSet *call;          /* the running store call's changes */
  NmsChangeSet *request;       /* the running request's changes; reused */
  gboolean      in_request;    /* between changes_begin and changes_end */
  gboolean      request_owns_transaction;
  gboolean      rows_pending;  /* the open transaction added rows */
  int           bell_fd;
  char         *bell_path;
} NmsChangeLog;

/* An encrypted store's state in this process. The envelope is re-read at
 * the start of every transaction in which another connection may have
 * changed it (the CLI's encrypt, decrypt, passwd or rekey): whenever
 * data_version differs from the last read's, or this connection changed
 * the key record itself. */
enum {
  CRYPT_STMT_GET,
  CRYPT_STMT_UPSERT,
  CRYPT_STMT_DELETE,
  CRYPT_STMT_ENVELOPE,
  CRYPT_STMT_SEAL_CHANGE,
  N_CRYPT_STMTS
};

/* The names of an encrypted store's items, in memory (store-names.c). */
typedef struct _NmsStoreNames NmsStoreNames;

typedef struct {
  sqlite3_stmt      *stmts[N_CRYPT_STMTS];
  char              *envelope_json; /* as last read; NULL: a plaintext store */
  NmsCryptoEnvelope *envelope;
  NmsCryptoKeys     *keys;          /* NULL: locked */
  NmsCryptoSecret   *kek;           /* a passphrase origin's, while unlocked: opens a rekey */
  char              *why_locked;    /* for E_LOCKED's message */
  NmsStoreNames     *names;         /* NULL: not built, or dropped */
  guint64            records_opened; /* by _nms_store_crypt_open, for the tests */
  /* Set: every data op answers E_CORRUPT with it. The records do not match
   * their summary, or the key record is gone from a store that holds
   * sealed records (store-summary.c); damaged_version is data_version
   * when that was found, so it is looked at again only after a change. */
  char              *why_damaged;
  gint64             damaged_version;
  /* The key record was last read in a snapshot with this data_version,
   * and this connection has not written it since. */
  gboolean           checked;
  gint64             checked_version;
  /* The running store call's change to the summary (store-summary.c). */
  sqlite3_stmt      *summary_stmts[4];
  guint8             summary_delta[NMS_CRYPTO_SUM_BYTES];
  gint64             summary_count_delta;
  gboolean           summary_cleared;
  gboolean           summary_dirty;
} NmsStoreCrypt;

struct _NmsStore {
  sqlite3        *db;
  char           *dir;
  char           *path;
  int             file_fd;            /* the file SQLite opened, to see it unlinked (store-core.c) */
  gboolean        bytes_counted;      /* this connection keeps the sum of sizes (store-bytes.c) */
  sqlite3_stmt   *bytes_stmts[3];     /* store-bytes.c's, prepared on first use */
  NmsStoreOptions options;
  sqlite3_stmt  **stmts;
  gboolean        in_batch;
  guint           groups;             /* open nms_store_group_begin() calls */
  gboolean        group_owns_request; /* the outermost group began a request */
  NmsChangeLog    log;
  /* The two forms of records (store-record.h), set at open. */
  const NmsStoreRecordClass *plain_records;
  const NmsStoreRecordClass *sealed_records;
  NmsStoreCrypt   crypt;
  char           *scrub_note;         /* why the last conversion's rewrite is still pending */
  gboolean        full;               /* a write failed for want of disk space (store-files.c) */
  /* Told how far a whole-store command has got (nms_store_set_progress). */
  NmsProgressFunc progress;
  gpointer        progress_data;
};

/* store-core.c: the bottom of the store, below every part of it. */
gboolean _nms_store_fail (NmsStore *store, int rc, const char *doing, GError **error);
sqlite3_stmt *_nms_store_stmt (NmsStore *store, int which);
gboolean _nms_store_nested (NmsStore *store);
gboolean _nms_store_exec (NmsStore *store, const char *sql, const char *doing, GError **error);
/* Right after SQLite opens the file: keeps it open too, for
 * nms_store_has_moved. */
gboolean _nms_store_watch_file (NmsStore *store, GError **error);
/* The same, for one person's command that must get the lock between
 * writers committing back to back: polls for it every millisecond (until
 * the busy timeout) instead of SQLite's ever longer sleeps. */
gboolean _nms_store_exec_eager (NmsStore *store, const char *sql, const char *doing, GError **error);
/* A statement prepared on its first use into *slot (the encrypted store's:
 * a plaintext store needs few of them), reset for this one. */
sqlite3_stmt *_nms_store_lazy_stmt (NmsStore *store, sqlite3_stmt **slot, const char *sql, GError **error);
