/* SPDX-License-Identifier: MIT */
/* store.h: one origin's key-value store, kept in one SQLite database.
 *
 * Keys are UTF-8 strings without NUL, ordered by their bytes. A value is
 * either compact JSON text, kept exactly as it will be spliced into a
 * reply, or raw bytes that the protocol presents as {"$bytes":"<base64>"}.
 *
 * Every mutating call is atomic on its own. Calls made between
 * nms_store_begin() and nms_store_commit() also share one transaction, so
 * a batch of requests costs one commit; a failing call inside a batch is
 * rolled back alone and leaves the others in place.
 *
 * While any process has a subscriber (nms_store_subscribe), every write
 * also leaves a row in the store's change log, in the same transaction:
 * per key, the value before and after. With none, writes log nothing and
 * read no old values. Calls made between
 * nms_store_changes_begin() and nms_store_changes_end() form one request:
 * one row, and all or nothing. Other processes read the log after their
 * cursor (nms_store_changes_read) when the file at nms_store_bell_path()
 * changes, which happens after every commit that added rows. */
#pragma once

#include <glib.h>

#include "crypto/crypto.h"
#include "base/progress.h"

G_BEGIN_DECLS

#define NMS_STORE_FILE_NAME     "store.db"
#define NMS_STORE_MAX_KEY_BYTES 8192u
/* 2 added the change log, 3 the subscribers table, 4 canonical values
 * (json.h) with Chrome's count, 5 a byte counter that leaves meta alone
 * when a size does not change, 6 no byte counter in the file at all
 * (store-bytes.c); older files are upgraded in place. */
#define NMS_STORE_SCHEMA        6
/* The change log keeps at most this many rows, none older than this. */
#define NMS_STORE_CHANGES_KEEP_ROWS    10000u
#define NMS_STORE_CHANGES_KEEP_SECONDS 60u

typedef struct _NmsStore NmsStore;

typedef enum {
  NMS_VALUE_JSON  = 0,
  NMS_VALUE_BYTES = 1,
} NmsValueKind;

typedef struct {
  const char   *key;
  gsize         key_len;
  NmsValueKind  kind;
  const guint8 *value;
  gsize         value_len;
} NmsItem;

/* Where the store gets the key-encryption key (KEK) of an encrypted
 * origin. The store reads no key file and no keyring itself: it only
 * calls through this, which its caller gives it in NmsStoreOptions.keys
 * (nmstore's fronts give keysource.h's nms_keysource_store_keys()). A
 * store opened without one stays locked, and says why when a key is
 * asked of it. store_dir is the folder of the store's database. */
typedef struct {
  /* The KEK that opens envelope; a passphrase envelope needs passphrase
   * (NULL there: NMS_ERROR_LOCKED). */
  NmsCryptoSecret *(*load_kek)   (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *passphrase,
                                  const char *store_dir, gpointer user_data, GError **error);
  /* The KEK for envelope, just reset to its new source: derived from
   * passphrase, or from a key file (made when it does not exist yet), or
   * a new keyring entry. */
  NmsCryptoSecret *(*create_kek) (const NmsCryptoEnvelope *envelope, const NmsCryptoSecret *passphrase,
                                  const char *store_dir, gpointer user_data, GError **error);
  /* The KEK of source for store_id is used no more (the store was
   * decrypted, or wrapped under another source): drop what only held it,
   * such as a keyring entry. */
  gboolean         (*forget_kek) (NmsCryptoSource source, const guint8 store_id[NMS_CRYPTO_STORE_ID_BYTES],
                                  gpointer user_data, GError **error);
  gpointer           user_data;
} NmsStoreKeys;

typedef enum {
  NMS_DURABILITY_NORMAL,  /* survives a crash of the host or the browser */
  NMS_DURABILITY_FULL,    /* survives power loss after every write */
} NmsDurability;

typedef struct {
  NmsDurability durability;
  guint64       quota_bytes;     /* 0: unlimited */
  guint         busy_timeout_ms; /* 0: the default */
  guint         changes_keep_rows;    /* 0: NMS_STORE_CHANGES_KEEP_ROWS */
  guint         changes_keep_seconds; /* 0: NMS_STORE_CHANGES_KEEP_SECONDS */
  gsize         pad_block;       /* encrypted origins; 0: NMS_CRYPTO_PAD_BLOCK_DEFAULT */
  const NmsStoreKeys *keys;      /* encrypted origins; NULL: none can be unlocked */
} NmsStoreOptions;

/* One side of a change: the value a key had, or that it has now. */
typedef struct {
  gboolean      present;
  NmsValueKind  kind;
  const guint8 *value;
  gsize         value_len;
} NmsValueRef;

/* What one request did to one key; at least one side is present, and the
 * two differ. */
typedef struct {
  const char *key;      /* NUL-terminated */
  gsize       key_len;
  NmsValueRef old_value;
  NmsValueRef new_value;
} NmsChange;

/* Called once per log row, in sequence order. */
typedef gboolean (*NmsStoreChangesFunc) (guint64 seq, const NmsChange *changes, gsize n_changes,
                                         gpointer user_data, GError **error);

/* Called once per item found; returning FALSE stops the walk with *error. */
typedef gboolean (*NmsStoreVisitFunc) (const NmsItem *item, gpointer user_data, GError **error);

/* Once per process, before any store is opened and before any thread:
 * SQLite's process-wide settings. Stores work without it, only slower. */
gboolean    nms_store_init         (GError **error);
NmsStore   *nms_store_open         (const char *dir, const char *origin_name,
                                    const NmsStoreOptions *options, GError **error);
void        nms_store_free         (NmsStore *store);
const char *nms_store_path         (NmsStore *store);
gboolean    nms_store_has_moved    (NmsStore *store);

gboolean    nms_store_begin        (NmsStore *store, gboolean write, GError **error);
gboolean    nms_store_commit       (NmsStore *store, GError **error);
void        nms_store_rollback     (NmsStore *store);

gboolean    nms_store_check_key    (const char *key, gsize key_len, GError **error);
guint64     nms_store_value_bytes  (NmsValueKind kind, const guint8 *value, gsize value_len);
guint64     nms_store_item_bytes   (NmsValueKind kind, gsize key_len, const guint8 *value, gsize value_len);

gboolean    nms_store_get          (NmsStore *store, const char *key, gsize key_len,
                                    NmsStoreVisitFunc visit, gpointer user_data, GError **error);
gboolean    nms_store_scan         (NmsStore *store, const char *prefix, gboolean with_values,
                                    NmsStoreVisitFunc visit, gpointer user_data, GError **error);
gboolean    nms_store_set          (NmsStore *store, const NmsItem *items, gsize n_items, GError **error);
gboolean    nms_store_remove       (NmsStore *store, const char *const *keys, gsize n_keys, GError **error);
gboolean    nms_store_clear        (NmsStore *store, const char *prefix, GError **error);
gboolean    nms_store_bytes_in_use (NmsStore *store, const char *const *keys, gsize n_keys,
                                    guint64 *bytes, GError **error);
gboolean    nms_store_flush        (NmsStore *store, GError **error);
/* A full disk: after a write failed for want of space, gives up the
 * store's reserve so that a delete can be tried again (TRUE when it did).
 * The reserve is made when the store opens, when there is room. */
gboolean    nms_store_release_reserve (NmsStore *store);
void        nms_store_keep_reserve (NmsStore *store);
gboolean    nms_store_check_integrity (NmsStore *store, GError **error);
gboolean    nms_store_group_begin  (NmsStore *store, GError **error);
gboolean    nms_store_group_end    (NmsStore *store, gboolean ok, GError **error);
gboolean    nms_store_backup_into  (NmsStore *store, const char *path, GError **error);
gboolean    nms_store_replace_from (NmsStore *store, const char *path, const char *origin_name,
                                    guint64 *n_items, GError **error);

gboolean    nms_store_changes_begin (NmsStore *store, GError **error);
gboolean    nms_store_changes_end   (NmsStore *store, gboolean keep, GError **error);
gboolean    nms_store_changes_state (NmsStore *store, guint64 *head, guint64 *pruned_through, GError **error);
gboolean    nms_store_changes_read  (NmsStore *store, guint64 after, guint max_rows,
                                     NmsStoreChangesFunc visit, gpointer user_data, GError **error);
gboolean    nms_store_data_version  (NmsStore *store, gint64 *version, GError **error);
gboolean    nms_store_subscribe     (NmsStore *store, gint64 *id, guint64 *cursor, GError **error);
gboolean    nms_store_unsubscribe   (NmsStore *store, gint64 id, GError **error);
gboolean    nms_store_subscribed    (NmsStore *store, gint64 id, gboolean *exists, GError **error);
gboolean    nms_store_forget_dead_subscribers (NmsStore *store, guint *n_removed, GError **error);
const char *nms_store_bell_path     (NmsStore *store);
const char *nms_store_engine_version (void);

/* Encrypted origins (store-crypt.c, store-convert.c). A locked store
 * answers every item call with NMS_ERROR_LOCKED. */
gboolean    nms_store_refresh_encryption (NmsStore *store, GError **error);
gboolean    nms_store_encrypted    (NmsStore *store);
gboolean    nms_store_locked       (NmsStore *store);
NmsCryptoSource nms_store_key_source (NmsStore *store); /* 0 for a plaintext store */
gboolean    nms_store_unlock       (NmsStore *store, const NmsCryptoSecret *passphrase, GError **error);
void        nms_store_lock         (NmsStore *store);

/* A sealed export's view of an encrypted origin (store-sealed.c), inside
 * a transaction of the caller's (nms_store_begin): the key record as
 * stored, the unlocked keys (NULL while locked), and each record that
 * opens and whose name starts with prefix, in name order, still sealed. */
/* index counts from 0 up to n_records - 1: the count is known from the
 * first call on. */
typedef gboolean (*NmsStoreSealedFunc) (const guint8 *token, const guint8 *sealed, gsize sealed_len,
                                        guint64 index, guint64 n_records, gpointer user_data, GError **error);

const char          *nms_store_crypt_envelope_json (NmsStore *store);
const NmsCryptoKeys *nms_store_crypt_keys          (NmsStore *store);
gboolean             nms_store_sealed_scan         (NmsStore *store, const char *prefix, NmsStoreSealedFunc visit,
                                                    gpointer user_data, GError **error);

/* Where a store's key-encryption key comes from, for encrypt and rewrap. */
typedef struct {
  NmsCryptoSource        source;
  const NmsCryptoSecret *passphrase; /* PASSPHRASE */
  const char            *key_file;   /* KEY_FILE; NULL: store.key beside the database */
  NmsCryptoPwhashLimits  limits;     /* PASSPHRASE */
} NmsStoreKeySource;

/* Each converts in one transaction, then rewrites the file so that no
 * earlier form survives in free pages or the WAL. passphrase is the
 * current one, for a passphrase store (NULL otherwise). They return TRUE
 * once the conversion has committed, even when the rewrite could not be
 * finished yet (other processes kept reading): see nms_store_scrub_note. */
gboolean    nms_store_encrypt      (NmsStore *store, const NmsStoreKeySource *to, GError **error);
gboolean    nms_store_decrypt      (NmsStore *store, GError **error);
gboolean    nms_store_rekey        (NmsStore *store, const NmsCryptoSecret *passphrase, GError **error);
gboolean    nms_store_rewrap       (NmsStore *store, const NmsCryptoSecret *passphrase,
                                    const NmsStoreKeySource *to, GError **error);
gboolean    nms_store_verify       (NmsStore *store, guint *n_good, guint *n_bad, GError **error);
gboolean    nms_store_scrub        (NmsStore *store, GError **error);
/* Whole-store work (encrypt, decrypt, rekey, verify, the scrub) reports
 * how far it has got to progress (NULL: to nobody). */
void        nms_store_set_progress (NmsStore *store, NmsProgressFunc progress, gpointer user_data);
/* For whole-store work outside the store module (the session check). */
void        nms_store_report_progress (NmsStore *store, guint64 done, guint64 total);
gboolean    nms_store_scrub_if_pending (NmsStore *store, GError **error);
/* After a conversion that succeeded: NULL when its file was rewritten at
 * once, else why the rewrite is still pending (it is finished by the next
 * process that opens the store). */
const char *nms_store_scrub_note   (NmsStore *store);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsStore, nms_store_free)

G_END_DECLS
