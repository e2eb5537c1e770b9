/* store.h: one origin's key-value store, kept in one SQLite database.
 *
 * Keys are UTF-8 strings without NUL, ordered by their bytes. A value is
 * either compact JSON text, kept exactly as it will be spliced into a
 * reply, or raw bytes that the protocol presents as {"$bytes":"<base64>"}.
 *
 * Every mutating call is atomic on its own. Calls made between
 * nms_store_begin() and nms_store_commit() also share one transaction, so
 * a batch of requests costs one commit; a failing call inside a batch is
 * rolled back alone and leaves the others in place. */
#pragma once

#include <glib.h>

#include "nmstore/config.h"

G_BEGIN_DECLS

#define NMS_STORE_FILE_NAME     "store.db"
#define NMS_STORE_MAX_KEY_BYTES 8192u
#define NMS_STORE_SCHEMA        1

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

typedef struct {
  NmsDurability durability;
  guint64       quota_bytes;     /* 0: unlimited */
  guint         busy_timeout_ms; /* 0: the default */
} NmsStoreOptions;

/* Called once per item found; returning FALSE stops the walk with *error. */
typedef gboolean (*NmsStoreVisitFunc) (const NmsItem *item, gpointer user_data, GError **error);

NmsStore   *nms_store_open         (const char *dir, const char *origin_name,
                                    const NmsStoreOptions *options, GError **error);
void        nms_store_free         (NmsStore *store);
const char *nms_store_path         (NmsStore *store);
gboolean    nms_store_has_moved    (NmsStore *store);

gboolean    nms_store_begin        (NmsStore *store, gboolean write, GError **error);
gboolean    nms_store_commit       (NmsStore *store, GError **error);
void        nms_store_rollback     (NmsStore *store);

gboolean    nms_store_check_key    (const char *key, gsize key_len, GError **error);
guint64     nms_store_item_bytes   (NmsValueKind kind, gsize key_len, gsize value_len);

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
gboolean    nms_store_check_integrity (NmsStore *store, GError **error);
const char *nms_store_engine_version (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsStore, nms_store_free)

G_END_DECLS
