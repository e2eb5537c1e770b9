/* SPDX-License-Identifier: MIT */
/* archive-private.h: what archive.c shares with archive-sealed-in.c. Not
 * installed. */
#pragma once

#include "nmstore/crypto.h"

/* The list MAC's parts before the records of a sealed export. */
void _nms_archive_sealed_mac_head (NmsCryptoListMac *mac, const char *origin, const char *prefix, guint64 n_records);
