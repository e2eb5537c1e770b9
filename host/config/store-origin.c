/* SPDX-License-Identifier: MIT */
/* store-origin.c: an origin's store as the data root's config says it is
 * kept. Every front (the protocol and each command) opens a store here,
 * so that a setting of nmstore.conf cannot reach some of them and not
 * others. It is also where they give the store its keys: the store
 * calls keysource only through the provider put in its options here. */
#include "config/store-origin.h"
#include "config/keysource.h"

void
nms_store_options_from_config (const NmsConfig *config, NmsStoreOptions *options)
{
  *options = (NmsStoreOptions) { 0 };
  options->durability = config->durability;
  options->quota_bytes = config->quota_bytes;
  options->changes_keep_rows = config->keep_changes;
  options->changes_keep_seconds = config->keep_seconds;
  options->pad_block = config->pad_block;
  /* busy_timeout_ms is not a setting of the config: the store's default. */
}

NmsStore *
nms_store_open_origin (const NmsConfig *config, const NmsOrigin *origin, GError **error)
{
  g_autofree char *dir = nms_config_store_dir (config, origin);
  NmsStoreOptions options;

  nms_store_options_from_config (config, &options);
  options.keys = nms_keysource_store_keys ();
  return nms_store_open (dir, origin->canonical, &options, error);
}
