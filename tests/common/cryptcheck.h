/* SPDX-License-Identifier: MIT */
/* cryptcheck.h: what the encryption suites share: known names and values
 * that must never show in a file in the clear, the scan that looks for
 * them (plain and as base64) under a data root, and the data root, items
 * and command runner those suites start from. */
#pragma once

#include "harness.h"

G_BEGIN_DECLS

#define NMT_NAME_A   "session:torrent:NAMEMARKERALPHA:state"
#define NMT_NAME_B   "session:torrent:NAMEMARKERBRAVO:torrentfile"
#define NMT_NAME_C   "session:settings:NAMEMARKERCHARLIE"
#define NMT_VALUE_A  "{\"note\":\"VALUEMARKERALPHA is private\",\"uploaded\":12345}"
#define NMT_VALUE_A2 "{\"note\":\"VALUEMARKERDELTA replaced it\"}"
#define NMT_VALUE_C  "\"VALUEMARKERCHARLIE of the settings\""
/* Raw bytes, stored as bytes, that must not appear either. */
#define NMT_BYTES_B  "BYTESMARKERBRAVO\001\002\003 torrent body"

/* A data root whose config makes Argon2id cheap and pads to 64 bytes. */
char *nmt_crypt_make_home    (void);
char *nmt_crypt_store_path   (const char *home);
/* Runs the nmstore command line; prints its stderr when it fails. out and
 * err may be NULL. */
int   nmt_crypt_cli          (const char *home, const char *stdin_text, char **out, const char *first, ...)
                             G_GNUC_NULL_TERMINATED;
int   nmt_crypt_cli_err      (const char *home, const char *stdin_text, char **out, char **err, const char *first,
                              ...) G_GNUC_NULL_TERMINATED;

void  nmt_crypt_finish       (NmtHost *host);
/* Runs sql on the origin's store file itself (storecheck.h). */
void  nmt_crypt_tamper       (const char *home, const char *sql);
/* NMT_ORIGIN encrypted with a key file beside it, holding a, b and c. */
void  nmt_crypt_encrypted_abc (const char *home);
void  nmt_crypt_call_ok      (NmtHost *host, const char *json);
void  nmt_crypt_call_error   (NmtHost *host, const char *json, const char *code);
char *nmt_crypt_get_value    (NmtHost *host, const char *key);
void  nmt_crypt_write_known_items  (NmtHost *host);
void  nmt_crypt_assert_known_items (NmtHost *host);

/* The first marker form found in any file under dir, or NULL. */
char *nmt_crypt_find_marker     (const char *dir);
/* The same for one buffer. */
char *nmt_crypt_find_marker_in  (const guint8 *data, gsize len);
void  nmt_crypt_assert_no_marker (const char *dir);

G_END_DECLS
