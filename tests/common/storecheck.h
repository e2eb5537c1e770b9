/* SPDX-License-Identifier: MIT */
/* storecheck.h: reading a store's file directly with SQLite, on a copy of
 * the database and its WAL so that the original stays as it was, the way
 * a test checks what a killed or racing host left behind without trusting
 * the host's own code to report it; and writing JSON values through the
 * store layer, for the store's unit tests. */
#pragma once

#include <glib.h>

#include "store/store.h"

/* One item as it lies in the file: kind 0 is compact JSON text, kind 1
 * raw bytes (what {"$bytes":...} decodes to). */
typedef struct {
  int     kind;
  GBytes *value;
} NmtStoredItem;

/* The path of origin's store.db under home (the only one there). */
char       *nmt_store_find_db     (const char *home);
/* Runs PRAGMA integrity_check and checks each item's size column against
 * its key and value, then returns every item, key -> NmtStoredItem. NULL
 * with *problem set when the file fails either check. */
GHashTable *nmt_store_snapshot    (const char *db_path, char **problem);
/* Only PRAGMA integrity_check, for files whose items the test cannot read
 * itself (an encrypted origin's tokens and sealed records). *n_rows gets
 * the number of rows in items (0 before the tables exist), so the caller
 * can tell when the host reports fewer items than the file holds. FALSE
 * with *problem set when the check fails. */
gboolean    nmt_store_check_integrity (const char *db_path, gint64 *n_rows, char **problem);
/* Runs sql on the database file itself, as someone with the disk could;
 * blob, when given, is bound as ?1. Fails the test if SQLite refuses. */
void        nmt_store_edit        (const char *db_path, const char *sql, const void *blob, gsize len);
gboolean    nmt_stored_item_equal (const NmtStoredItem *a, const NmtStoredItem *b);
NmtStoredItem *nmt_stored_item_new (int kind, const void *data, gsize len);
void        nmt_stored_item_free  (gpointer item);

/* A store in dir for NMT_ORIGIN, durability normal, with quota (0: none);
 * fails the test when it cannot be opened. */
NmsStore   *nmt_store_open        (const char *dir, guint64 quota);

/* The store unit suites' cmocka fixture: a new temporary home, and the
 * folder (not yet made) of one Chromium origin's store in it. setup puts
 * an NmtStoreHome in *state; teardown removes the home and frees it. */
typedef struct {
  char *home;
  char *dir;
} NmtStoreHome;

int nmt_store_home_setup    (void **state);
int nmt_store_home_teardown (void **state);
/* One JSON value written with nms_store_set; the _ok form fails the test
 * when the store refuses it. */
gboolean    nmt_store_set_json    (NmsStore *store, const char *key, const char *json, GError **error);
void        nmt_store_set_ok      (NmsStore *store, const char *key, const char *json);
/* getBytesInUse of keys (all when NULL) in a read transaction of its
 * own, as the command line asks. */
gboolean    nmt_store_read_bytes  (NmsStore *store, const char *const *keys, gsize n_keys,
                                   guint64 *bytes, GError **error);
/* getBytesInUse of every item, in a read transaction of its own or, for
 * the _in_batch form, in the caller's; fails the test if the store
 * cannot say. */
guint64     nmt_store_bytes_total (NmsStore *store);
guint64     nmt_store_bytes_in_batch (NmsStore *store);
/* A JSON string of exactly n bytes, quotes included (n >= 2), filled
 * with fill. */
char       *nmt_json_string_of    (gsize n, char fill);
/* remove of one key; the _ok form fails the test when it fails. */
gboolean    nmt_store_remove_one  (NmsStore *store, const char *key, GError **error);
void        nmt_store_remove_ok   (NmsStore *store, const char *key);
/* The value of key as its bytes, or as a string ("" for none), or NULL
 * when absent; fails the test when the get fails. assert_value: that key
 * holds the JSON text want, or is absent when want is NULL. */
GBytes     *nmt_store_raw_value   (NmsStore *store, const char *key, gsize key_len, NmsValueKind *kind);
char       *nmt_store_value       (NmsStore *store, const char *key, gsize key_len, NmsValueKind *kind);
void        nmt_store_assert_value (NmsStore *store, const char *key, const char *want);
/* An NmsStoreVisitFunc that counts the items it sees in the guint at
 * user_data: for checks that care how many, not which. */
gboolean    nmt_store_count_visit (const NmsItem *item, gpointer user_data, GError **error);
/* The keys under prefix (all when NULL), in the scan's order. */
GPtrArray  *nmt_store_scan_keys   (NmsStore *store, const char *prefix, gboolean with_values);
/* getKeys of prefix (all when NULL) through nms_store_scan, as "a,b,c";
 * fails the test if the scan fails. */
char       *nmt_store_keys        (NmsStore *store, const char *prefix);
