/* SPDX-License-Identifier: MIT */
/* archive-private.h: what archive.c shares with archive-sealed.c and
 * archive-sealed-in.c. Not installed. */
#pragma once

#include "crypto/crypto.h"
#include "store/store.h"

/* The list MAC's parts before the records of a sealed export. */
void _nms_archive_sealed_mac_head (NmsCryptoListMac *mac, const char *origin, const char *prefix, guint64 n_records);
void _nms_archive_sealed_mac_record (NmsCryptoListMac *mac, const guint8 *token, const guint8 *sealed,
                                     gsize sealed_len);
/* One item as an export writes it, after a comma unless first. */
void _nms_archive_append_item (GString *out, gboolean first, const NmsItem *item);
