/* SPDX-License-Identifier: MIT */
/* store-record.h: what differs between a plaintext origin's records and an
 * encrypted origin's sealed ones, as one table of calls, so that the items
 * (store-items.c) and the change log (store-changes.c) are written once
 * for both. Two implementations: store-plain.c and store-sealed.c. The
 * store is given both at open (store.c) and picks the one in use from its
 * key record (_nms_store_records). Not installed.
 *
 * Every call runs inside the caller's transaction; the ones that read or
 * write a record need the store ready (_nms_store_crypt_ready), which the
 * store's op_begin has checked. */
#pragma once

#include <sqlite3.h>

#include "store/store.h"

typedef struct {
  const char *name;
  /* Visits key's item, if there is one. */
  gboolean (*get)          (NmsStore *store, const char *key, gsize key_len,
                            NmsStoreVisitFunc visit, gpointer user_data, GError **error);
  /* Visits the items whose keys start with prefix (all when NULL or
   * empty), in byte order of the keys. */
  gboolean (*visit)        (NmsStore *store, const char *prefix, gboolean with_values,
                            NmsStoreVisitFunc visit, gpointer user_data, GError **error);
  /* Notes for the change log that key is about to become after; *changed
   * is FALSE when it already is. */
  gboolean (*note_change)  (NmsStore *store, const char *key, gsize key_len, const NmsValueRef *after,
                            gboolean *changed, GError **error);
  gboolean (*put)          (NmsStore *store, const NmsItem *item, GError **error);
  gboolean (*delete)       (NmsStore *store, const char *key, gsize key_len, GError **error);
  /* Removes the items under prefix (all when NULL or empty). */
  gboolean (*clear)        (NmsStore *store, const char *prefix, GError **error);
  /* Chrome's count over keys (each once), or the whole store when NULL. */
  gboolean (*bytes_in_use) (NmsStore *store, const char *const *keys, gsize n_keys,
                            guint64 *bytes, GError **error);
  /* A change-log row's body. Its sequence number is known only once the
   * row exists: bind_change gives the insert what the row starts with,
   * finish_change what it ends with, given seq; open_change reads a row
   * back into the body's bytes (*plain is owned by the caller, or NULL
   * when blob is the body as it is). */
  void     (*bind_change)   (sqlite3_stmt *insert, int column, const void *body, gsize body_len);
  gboolean (*finish_change) (NmsStore *store, gint64 seq, const void *body, gsize body_len, GError **error);
  gboolean (*open_change)   (NmsStore *store, guint64 seq, const void *blob, gsize len,
                             guint8 **plain, gsize *plain_len, GError **error);
  /* After a conversion to this form, outside any transaction: leaves no
   * earlier form of a record in the file's free space (store-scrub.c). */
  gboolean (*wipe_free_space) (NmsStore *store, GError **error);
} NmsStoreRecordClass;

extern const NmsStoreRecordClass nms_store_plain_records;
extern const NmsStoreRecordClass nms_store_sealed_records;

/* The implementation for the store's records as its key record is now
 * (store-crypt-state.c): the only place the items and the change log
 * learn whether the store is encrypted. */
const NmsStoreRecordClass *_nms_store_records (NmsStore *store);

/* store-plain.c, besides its records: plaintext items to their canonical
 * text and count, for an old file's upgrade (store.c) and a restore
 * (store-files.c). */
gboolean _nms_store_items_canonicalize (NmsStore *store, gboolean strict, GError **error);
