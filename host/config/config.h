/* SPDX-License-Identifier: MIT */
/* config.h: where the data lives and how it is kept.
 *
 * The data root is $NMSTORE_HOME, or $XDG_DATA_HOME/nmstore. An optional
 * $NMSTORE_HOME/nmstore.conf (a GKeyFile) tunes the store:
 *
 *   [store]
 *   durability = normal | full
 *   quota_bytes = 0            (0: unlimited)
 *
 *   [events]
 *   keep_changes = 10000       (change-log rows kept for slow subscribers)
 *   keep_seconds = 60          (and for at most this long)
 *   [crypto]                   (encrypted origins only)
 *   pad_block = 256            values are padded to a multiple of this
 *   pwhash_opslimit = 3        Argon2id cost for a new passphrase
 *   pwhash_memlimit = 268435456
 *
 *   [log]
 *   file = /path/to/nmstore.log
 */
#pragma once

#include <glib.h>

#include "crypto/crypto.h"
#include "store/store.h"
#include "base/origin.h"

G_BEGIN_DECLS

#define NMS_CONFIG_FILE_NAME "nmstore.conf"

typedef struct {
  char          *root;
  char          *file;        /* the config file's path, present or not */
  NmsDurability  durability;
  guint64        quota_bytes; /* 0: unlimited */
  guint          keep_changes; /* 0: the store's default */
  guint          keep_seconds; /* 0: the store's default */
  char          *log_file;    /* NULL: stderr only */
  gsize          pad_block;
  NmsCryptoPwhashLimits pwhash;
} NmsConfig;

char      *nms_config_default_root (void);
NmsConfig *nms_config_load         (const char *root, GError **error);
void       nms_config_free         (NmsConfig *config);
char      *nms_config_store_dir    (const NmsConfig *config, const NmsOrigin *origin);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsConfig, nms_config_free)

G_END_DECLS
