/* SPDX-License-Identifier: MIT */
/* store-origin.h: an origin's store as the data root's config says it is
 * kept, with the fronts' key provider (store-origin.c). Every front, and
 * the protocol on their behalf, opens an origin's store here. */
#pragma once

#include "config/config.h"
#include "store/store.h"

G_BEGIN_DECLS

/* The options that the data root's config sets (durability, quota, the
 * change log's bounds, padding): the one place they are read from it. */
void        nms_store_options_from_config (const NmsConfig *config, NmsStoreOptions *options);
/* origin's store under the config's data root, with those options: how
 * the protocol and every command open an origin's store. */
NmsStore   *nms_store_open_origin  (const NmsConfig *config, const NmsOrigin *origin, GError **error);

G_END_DECLS
