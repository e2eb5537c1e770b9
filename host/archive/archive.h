/* SPDX-License-Identifier: MIT */
/* archive.h: moving an origin's data in and out of its store.
 *
 * An export is a JSON object of every item (or every item under a prefix),
 * the shape chrome.storage.local.get(null) gives, with binary values as
 * {"$bytes":"<base64>"}; importing one is an ordinary atomic "set". A
 * backup is a consistent copy of the whole database, taken while hosts
 * keep running; restoring one swaps every item in one transaction.
 *
 * A sealed export is the export of an encrypted origin that stays
 * encrypted: the origin's key record (the wrapped data key) and each
 * record exactly as sealed, with a keyed MAC over the whole list, so that
 * it opens only with the origin's key source as it was when written, and
 * a record dropped, added, replayed or changed fails the whole import. */
#pragma once

#include <glib.h>
#include <stdio.h>

#include "store/store.h"

G_BEGIN_DECLS

/* Writes the export to out as it goes, flushing every megabyte or so. */
gboolean nms_archive_export  (NmsStore *store, const char *prefix, FILE *out, NmsProgressFunc progress,
                              gpointer progress_data, GError **error);
gboolean nms_archive_backup  (NmsStore *store, const char *path, GError **error);
/* backup --decrypt: an encrypted origin's backup, in the clear. */
gboolean nms_archive_backup_decrypted (NmsStore *store, const char *origin, const char *path, GError **error);
gboolean nms_archive_restore (NmsStore *store, const char *path, const char *origin_name,
                              guint64 *n_items, GError **error);
gboolean nms_archive_import_request (const char *text, gsize len, GString *request, guint *n_items,
                                     GError **error);
/* Whether the export in the file at path is a sealed one (FALSE: not one
 * JSON object at all); reads it through once, without holding it. */
gboolean nms_archive_file_is_sealed (const char *path, gboolean *sealed, GError **error);
/* Imports the plain export in the file at path, in one transaction, in
 * memory that does not grow with the file (archive-import.c). The file
 * must have passed nms_archive_file_is_sealed, which checks its UTF-8. */
gboolean nms_archive_import_file (NmsStore *store, const char *path, guint64 *n_items, NmsProgressFunc progress,
                                  gpointer progress_data, GError **error);
/* A value as a "set" request or an export gives it: its canonical text,
 * or bytes for exactly {"$bytes":"<base64>"}; *data is the caller's. */
gboolean nms_archive_value_from_json (const char *value, gsize value_len, NmsValueKind *kind, guint8 **data,
                                      gsize *data_len, GError **error);

/* Items read from the members of a JSON object: a "set" request's "items",
 * or an export file (from_file). */
typedef struct {
  GArray     *items;     /* NmsItem; keys point into seen, values into values */
  GHashTable *seen;      /* every key added: g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL) */
  GPtrArray  *values;    /* the values, owned: g_ptr_array_new_with_free_func (g_free) */
  gboolean    from_file; /* a mapped export: names checked again as UTF-8, errors say which key */
  /* The values come as canonical text already: a request's items, read
   * by nms_json_each_member_canonical, so they are not read again. */
  gboolean    canonical;
} NmsArchiveItems;

/* Adds one member (user_data: an NmsArchiveItems; a member function of
 * nms_json_each_member) as "set" and an import take it: its name checked
 * as a key and refused when it came before, its value read by
 * nms_archive_value_from_json. The one check of both, so that a request
 * and an import of the same object store the same items or fail alike. */
gboolean nms_archive_add_member (const char *name, gsize name_len, const char *value, gsize value_len,
                                 gpointer user_data, GError **error);

typedef struct _NmsArchiveSealed NmsArchiveSealed;

gboolean nms_archive_export_sealed (NmsStore *store, const char *origin, const char *prefix, FILE *out,
                                    NmsProgressFunc progress, gpointer progress_data, GError **error);
/* *sealed is NULL, and the result TRUE, when text is not a sealed export. */
gboolean nms_archive_sealed_parse  (const char *text, gsize len, NmsArchiveSealed **sealed, GError **error);
const NmsCryptoEnvelope *nms_archive_sealed_envelope (const NmsArchiveSealed *sealed);
const char *nms_archive_sealed_origin (const NmsArchiveSealed *sealed);
/* The "set" request of every item, in the clear: the caller wipes it. */
gboolean nms_archive_sealed_import_request (const NmsArchiveSealed *sealed, const NmsCryptoSecret *kek,
                                            GString *request, guint *n_items, GError **error);
void     nms_archive_sealed_free   (NmsArchiveSealed *sealed);

/* A sealed export in a file, read without holding it (archive-sealed-in.c):
 * its head is read by _open (the file must have passed
 * nms_archive_file_is_sealed); _import checks the MAC over every record,
 * then writes them all into store in one transaction. */
typedef struct _NmsArchiveSealedFile NmsArchiveSealedFile;

NmsArchiveSealedFile    *nms_archive_sealed_file_open     (const char *path, GError **error);
const NmsCryptoEnvelope *nms_archive_sealed_file_envelope (const NmsArchiveSealedFile *f);
const char              *nms_archive_sealed_file_origin   (const NmsArchiveSealedFile *f);
gboolean                 nms_archive_sealed_file_import   (NmsArchiveSealedFile *f, const NmsCryptoSecret *kek,
                                                           NmsStore *store, guint64 *n_items,
                                                           NmsProgressFunc progress, gpointer progress_data,
                                                           GError **error);
void                     nms_archive_sealed_file_free     (NmsArchiveSealedFile *f);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsArchiveSealed, nms_archive_sealed_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsArchiveSealedFile, nms_archive_sealed_file_free)

G_END_DECLS
