/* SPDX-License-Identifier: MIT */
/* sessioncheck.h: what the session suites (test_session.c and
 * test_session_upkeep.c) share: real .torrent files made by Debian's
 * mktorrent over generated data, read back with nmstore's own decoder, and
 * the engine's session keys and values written as NativeSessionStore
 * writes them. */
#pragma once

#include "harness.h"
#include "session/session.h"  /* g_autoptr(cJSON) */

typedef struct {
  char   *hash;
  GBytes *torrent;  /* the whole .torrent */
  GBytes *info;     /* its info dictionary's bytes */
  char   *name;
  guint64 size, pieces, files;
} NmtSessionTorrent;

void               nmt_session_torrent_free        (NmtSessionTorrent *t);
/* len bytes at path, from a generator seeded with seed. */
void               nmt_session_fill_file           (const char *path, gsize len, guint32 seed);
/* Runs mktorrent on target (a file or a folder), pieces of 2^piece_exp
 * bytes, and reads the result back. */
NmtSessionTorrent *nmt_session_make_torrent        (const char *target, int piece_exp);
/* The torrent of one new file of size bytes in work. */
NmtSessionTorrent *nmt_session_single_file_torrent (const char *work, guint seed, gsize size);
char              *nmt_session_b64                 (GBytes *bytes);
/* {"$bytes": base64(data)}, as NativeSessionStore sends bytes. */
cJSON             *nmt_session_bytes_json          (const void *data, gsize len);
/* The engine's TextEncoder(JSON.stringify(value)) as {"$bytes"}. */
cJSON             *nmt_session_json_as_bytes       (const cJSON *value);
void               nmt_session_call_ok             (NmtHost *host, cJSON *request);
/* The reply, which must be ok. */
cJSON             *nmt_session_call                (NmtHost *host, const char *text);
/* {"op":"set","items":{}} */
cJSON             *nmt_session_set_request         (void);
/* "session:torrent:<hash><suffix>" */
char              *nmt_session_key                 (const char *hash, const char *suffix);
/* A torrent's state as the engine saves it, for the i-th torrent. */
cJSON             *nmt_session_state_for           (guint i, guint64 pieces);
/* A member, or NULL. */
cJSON             *nmt_session_member              (const cJSON *o, const char *name);
void               nmt_session_assert_bytes_member (const cJSON *o, const char *name, GBytes *expected);
/* For a suite's main: FALSE, having said why the suite is skipped, when
 * mktorrent is not installed; otherwise runs only the test argv[1] names,
 * when it names one. */
gboolean           nmt_session_prepare             (const char *suite, int argc, char **argv);
/* The group's fixture: a scratch folder for data and .torrent files, which
 * each test gets as *state. */
int                nmt_session_setup               (void **state);
int                nmt_session_teardown            (void **state);
