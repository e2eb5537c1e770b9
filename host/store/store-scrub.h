/* SPDX-License-Identifier: MIT */
/* store-scrub.h: the rewrite of the file after a conversion
 * (store-scrub.c), for store-convert.c. Not installed. */
#pragma once

#include "store-private.h"

/* The rewrite after a committed conversion (a rewrite that cannot finish
 * yet is a note, not a failure), and an earlier conversion's unfinished
 * one, before a new conversion. */
gboolean _nms_store_scrub_after_commit   (NmsStore *store);
gboolean _nms_store_finish_earlier_scrub (NmsStore *store, GError **error);
