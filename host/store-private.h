/* SPDX-License-Identifier: MIT */
/* store-private.h: what store.c (items, transactions) shares with
 * store-changes.c (the change log), store-crypt.c (encrypted origins) and
 * store-convert.c (turning encryption on and off). Not installed. */
#pragma once

#include <sqlite3.h>

#include "nmstore/crypto.h"
#include "nmstore/store.h"

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
  STMT_TOTAL,
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
  LOG_STMT_DATA_VERSION,
  LOG_STMT_SEAL,
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
 * process from subscribing or unsubscribing until it ends. */
typedef enum {
  NMS_LISTENING_UNKNOWN = 0,
  NMS_LISTENING_NO,
  NMS_LISTENING_YES,
} NmsListening;

typedef struct {
  sqlite3_stmt *stmts[N_LOG_STMTS];
  sqlite3_stmt *sub_stmts[N_SUB_STMTS];
  NmsListening  listening;
  NmsChangeSet *call;          /* the running store call's changes */
  NmsChangeSet *request;       /* the running request's changes; reused */
  gboolean      in_request;    /* between changes_begin and changes_end */
  gboolean      request_owns_transaction;
  gboolean      rows_pending;  /* the open transaction added rows */
  int           bell_fd;
  char         *bell_path;
} NmsChangeLog;

/* An encrypted store's state in this process. The envelope is re-read at
 * the start of every transaction, because another process (the CLI's
 * encrypt, decrypt, passwd or rekey) may have changed it. */
enum {
  CRYPT_STMT_GET,
  CRYPT_STMT_UPSERT,
  CRYPT_STMT_DELETE,
  CRYPT_STMT_ENVELOPE,
  CRYPT_STMT_SEALED_SIGNS,
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
  guint64            records_opened; /* by nms_store_crypt_open, for the tests */
  /* Set: every data op answers E_CORRUPT with it. The records do not match
   * their summary, or the key record is gone from a store that holds
   * sealed records (store-summary.c); damaged_version is data_version
   * when that was found, so it is looked at again only after a change. */
  char              *why_damaged;
  gint64             damaged_version;
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
  NmsStoreOptions options;
  sqlite3_stmt  **stmts;
  gboolean        in_batch;
  guint           groups;             /* open nms_store_group_begin() calls */
  gboolean        group_owns_request; /* the outermost group began a request */
  NmsChangeLog    log;
  NmsStoreCrypt   crypt;
  char           *scrub_note;         /* why the last conversion's rewrite is still pending */
  gboolean        full;               /* a write failed for want of disk space (store-files.c) */
  /* Told how far a whole-store command has got (nms_store_set_progress). */
  NmsProgressFunc progress;
  gpointer        progress_data;
};

gboolean nms_store_fail (NmsStore *store, int rc, const char *doing, GError **error);
sqlite3_stmt *nms_store_stmt (NmsStore *store, int which);
gboolean nms_store_nested (NmsStore *store);
gboolean nms_store_exec (NmsStore *store, const char *sql, const char *doing, GError **error);
/* store-scrub.c, for store-convert.c: the rewrite after a committed
 * conversion (a rewrite that cannot finish yet is a note, not a failure),
 * and an earlier conversion's unfinished one, before a new conversion. */
gboolean nms_store_scrub_after_commit   (NmsStore *store);
gboolean nms_store_finish_earlier_scrub (NmsStore *store, GError **error);
/* One atomic write: a savepoint inside a batch or request, else its own
 * write transaction (store.c). */
gboolean nms_store_op_begin (NmsStore *store, GError **error);
gboolean nms_store_op_begin_keyless (NmsStore *store, GError **error);
gboolean nms_store_op_end   (NmsStore *store, gboolean ok, GError **error);
/* Triggers that keep every item's kind and size sane (store-items.c). */
extern const char nms_store_items_schema_sql[];
/* The cheap check of a plaintext item read from the file (store-items.c). */
gboolean nms_store_item_check (NmsStore *store, const NmsItem *item, gboolean with_value, GError **error);
/* Plaintext items to their canonical text and count (store-items.c). */
gboolean nms_store_items_canonicalize (NmsStore *store, gboolean strict, GError **error);

/* The change log's side of store.c's life cycle and transactions. */
extern const char nms_store_log_schema_sql[];
gboolean nms_store_log_open       (NmsStore *store, GError **error);
void     nms_store_log_close      (NmsStore *store);
void     nms_store_log_note       (NmsStore *store, const char *key, gsize key_len,
                                   const NmsValueRef *before, const NmsValueRef *after);
void     nms_store_log_call_begin (NmsStore *store);
gboolean nms_store_log_call_end   (NmsStore *store, gboolean ok, GError **error);
void     nms_store_log_request_begin  (NmsStore *store);
gboolean nms_store_log_request_end    (NmsStore *store, gboolean keep, GError **error);
gboolean nms_store_log_forget         (NmsStore *store, GError **error);
void     nms_store_log_after_commit   (NmsStore *store);
void     nms_store_log_after_rollback (NmsStore *store);
/* FALSE in *yes when no process has a subscriber, so that the open write
 * transaction need neither read old values nor write log rows. */
gboolean nms_store_log_wanted     (NmsStore *store, gboolean *yes, GError **error);

/* The subscribers table (store-subscribers.c). */
extern const char nms_store_subscribers_schema_sql[];
gboolean nms_store_subscribers_open  (NmsStore *store, GError **error);
void     nms_store_subscribers_close (NmsStore *store);
gboolean nms_store_subscribers_any   (NmsStore *store, gboolean *any, GError **error);
gboolean nms_store_log_truncate      (NmsStore *store, GError **error);

/* store-crypt.c, for store.c, store-changes.c and store-convert.c. */
gboolean nms_store_crypt_refresh     (NmsStore *store, GError **error);
gboolean nms_store_crypt_refresh_now (NmsStore *store, GError **error);
void     nms_store_crypt_clear       (NmsStore *store);
gboolean nms_store_crypt_ready       (NmsStore *store, GError **error);
gboolean nms_store_crypt_open        (NmsStore *store, const NmsCryptoKeys *keys, const guint8 *token,
                                      const guint8 *sealed, gsize sealed_len, NmsCryptoItem *item, GError **error);
/* The encrypted forms of store.c's item calls; the caller holds the
 * transaction and has checked nms_store_crypt_ready(). */
gboolean nms_store_crypt_get         (NmsStore *store, const char *key, gsize key_len,
                                      NmsStoreVisitFunc visit, gpointer user_data, GError **error);
gboolean nms_store_crypt_visit       (NmsStore *store, const char *prefix, gboolean with_values,
                                      NmsStoreVisitFunc visit, gpointer user_data, GError **error);
gboolean nms_store_crypt_note_change (NmsStore *store, const char *key, gsize key_len, const NmsValueRef *after,
                                      gboolean *changed, GError **error);
gboolean nms_store_crypt_put         (NmsStore *store, const NmsItem *item, GError **error);
gboolean nms_store_crypt_delete      (NmsStore *store, const char *key, gsize key_len, GError **error);
gboolean nms_store_crypt_clear_prefix (NmsStore *store, const char *prefix, GError **error);
gboolean nms_store_crypt_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys,
                                       guint64 *bytes, GError **error);
const NmsStoreKeys *_nms_store_keys (NmsStore *store, GError **error);
NmsCryptoSecret *nms_store_crypt_load_kek (NmsStore *store, const NmsCryptoEnvelope *envelope,
                                           const NmsCryptoSecret *passphrase, GError **error);
/* How many records this handle has opened (decrypted) since it was
 * opened: lets the tests see which calls decrypt what. */
guint64  nms_store_crypt_records_opened (NmsStore *store);

/* store-summary.c: the authenticated summary of an encrypted store's
 * records. begin and end bracket every store call (store.c); forget and
 * note are store-crypt.c's, around each record it replaces or removes and
 * each it writes; cleared follows a whole clear. */
gboolean nms_store_summary_kept    (NmsStore *store);
void     nms_store_summary_begin   (NmsStore *store);
gboolean nms_store_summary_end     (NmsStore *store, gboolean ok, GError **error);
void     nms_store_summary_cleared (NmsStore *store);
gboolean nms_store_summary_forget  (NmsStore *store, const guint8 *token, GError **error);
void     nms_store_summary_note    (NmsStore *store, const guint8 *token, const guint8 *head, gsize head_len,
                                    guint64 sealed_len, gboolean add);
gboolean nms_store_summary_rewrite (NmsStore *store, const NmsCryptoKeys *keys, GError **error);
gboolean nms_store_summary_check   (NmsStore *store, GError **error);
void     nms_store_summary_close   (NmsStore *store);
/* A whole clear's side in store-crypt.c: the names and the summary. */
void     nms_store_crypt_cleared   (NmsStore *store);

/* store-names.c: an encrypted store's names in memory, for store.c and
 * store-crypt.c. put and the removes edit the cache only when there is
 * one; visit, tokens and the byte counts build it when needed, and so
 * need the store unlocked and the caller's transaction. */
void     nms_store_names_watch      (NmsStore *store);
void     nms_store_names_unwatch    (NmsStore *store);
void     nms_store_names_drop       (NmsStore *store);
void     nms_store_names_put        (NmsStore *store, const guint8 *token, const char *name, gsize name_len,
                                     guint8 kind, guint64 value_bytes);
void     nms_store_names_remove     (NmsStore *store, const guint8 *token);
void     nms_store_names_remove_all (NmsStore *store);
gboolean nms_store_names_visit      (NmsStore *store, const char *prefix, NmsStoreVisitFunc visit,
                                     gpointer user_data, GError **error);
gboolean nms_store_names_tokens     (NmsStore *store, const char *prefix, GArray **tokens, GError **error);
gboolean nms_store_names_bytes      (NmsStore *store, guint64 *bytes, GError **error);
gboolean nms_store_names_item_bytes (NmsStore *store, const guint8 *token, gboolean *known, guint64 *bytes,
                                     GError **error);
